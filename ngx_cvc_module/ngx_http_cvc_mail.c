
/*
 * CVC gateway: an e-mail of the outbox, sent from a thread of the pool to
 * the SMTP relay of cvc_smtp with libcurl: text and HTML, a UTF-8 subject
 * (RFC 2047), every header line built with its length checked, and the
 * recipient checked again before it is sent.
 */


#include "ngx_http_cvc_outbox.h"


static struct curl_slist *ngx_http_cvc_mail_headers(
    ngx_http_cvc_delivery_t *d, const char *rcpt);
static void ngx_http_cvc_mail_subject(char *line, const char *subject);
static curl_mime *ngx_http_cvc_mail_body(ngx_http_cvc_delivery_t *d,
    CURL *curl);
static ngx_int_t ngx_http_cvc_mail_line(char *buf, size_t size,
    const char *a, const char *b, const char *c);
static ngx_int_t ngx_http_cvc_mail_address(const char *s);


/* an e-mail, text and HTML, to the SMTP relay */

void
ngx_http_cvc_mail_send(ngx_http_cvc_delivery_t *d, CURL *curl)
{
    char               *p, rcpt[NGX_HTTP_CVC_EMAIL_MAX + 3], from[512];
    CURLcode            rc;
    curl_mime          *mime;
    struct curl_slist  *rcpts, *headers;

    if (d->to == NULL || d->smtp[0] == '\0') {
        ngx_cpystrn((u_char *) d->error, (u_char *) "no relay or recipient",
                    sizeof(d->error));
        return;
    }

    /* every line is built with its length checked: a string cut short
     * would not be terminated */

    if (ngx_http_cvc_mail_address(d->to) != NGX_OK
        || ngx_http_cvc_mail_line(rcpt, sizeof(rcpt), "<", d->to, ">")
           != NGX_OK)
    {
        ngx_cpystrn((u_char *) d->error,
                    (u_char *) "the recipient is not a valid address",
                    sizeof(d->error));
        return;
    }

    p = ngx_strchr(d->from, '<');

    if (ngx_http_cvc_mail_line(from, sizeof(from), p ? "" : "<",
                               p ? p : d->from, p ? "" : ">")
        != NGX_OK)
    {
        ngx_cpystrn((u_char *) d->error,
                    (u_char *) "the sender's address is too long",
                    sizeof(d->error));
        return;
    }

    rcpts = curl_slist_append(NULL, rcpt);
    headers = ngx_http_cvc_mail_headers(d, rcpt);
    mime = ngx_http_cvc_mail_body(d, curl);

    curl_easy_setopt(curl, CURLOPT_URL, d->smtp);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);

    rc = curl_easy_perform(curl);

    d->ok = (rc == CURLE_OK);
    (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &d->status);

    if (!d->ok && d->error[0] == '\0') {
        ngx_cpystrn((u_char *) d->error, (u_char *) curl_easy_strerror(rc),
                    sizeof(d->error));
    }

    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_slist_free_all(rcpts);
}


/* From, To, Subject, Date and Message-ID */

static struct curl_slist *
ngx_http_cvc_mail_headers(ngx_http_cvc_delivery_t *d, const char *rcpt)
{
    char                header[512], subject[1200];
    time_t              now;
    struct tm           tm;
    struct curl_slist  *headers;

    headers = NULL;

    if (ngx_http_cvc_mail_line(header, sizeof(header), "From: ", d->from, "")
        == NGX_OK)
    {
        headers = curl_slist_append(headers, header);
    }

    (void) ngx_http_cvc_mail_line(header, sizeof(header), "To: ", rcpt, "");
    headers = curl_slist_append(headers, header);

    ngx_http_cvc_mail_subject(subject, d->subject ? d->subject : "");
    headers = curl_slist_append(headers, subject);

    now = time(NULL);
    (void) gmtime_r(&now, &tm);
    (void) strftime(header, sizeof(header),
                    "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
    headers = curl_slist_append(headers, header);

    (void) ngx_http_cvc_cstr((u_char *) header, sizeof(header),
                             "Message-ID: <outbox-%*s-%T@cvc-gateway>",
                             d->id_len, d->id, now);

    return curl_slist_append(headers, header);
}


/*
 * The Subject: line of a UTF-8 subject, RFC 2047, in line (1200 bytes):
 * encoded words of at most 75 characters (45 bytes each, never cut inside
 * a character), separated by spaces; at most the first 600 bytes of the
 * subject, whole characters.
 */

static void
ngx_http_cvc_mail_subject(char *line, const char *subject)
{
    char       *p;
    size_t      len, i, n;
    ngx_str_t   src, dst;

    len = ngx_strlen(subject);

    if (len > 600) {

        /* cut before a character, not inside one */

        for (len = 600; len > 0 && (subject[len] & 0xC0) == 0x80; len--) {
            /* void */
        }
    }

    p = (char *) ngx_cpymem(line, "Subject:", sizeof("Subject:") - 1);

    for (i = 0; i < len; i += n) {
        n = ngx_min(45, len - i);

        while (n > 1 && i + n < len && (subject[i + n] & 0xC0) == 0x80) {
            n--;
        }

        src.data = (u_char *) subject + i;
        src.len = n;
        dst.data = (u_char *) p + sizeof(" =?UTF-8?B?") - 1;

        ngx_encode_base64(&dst, &src);

        ngx_memcpy(p, " =?UTF-8?B?", sizeof(" =?UTF-8?B?") - 1);
        p += sizeof(" =?UTF-8?B?") - 1 + dst.len;
        p = (char *) ngx_cpymem(p, "?=", 2);
    }

    *p = '\0';
}


/* multipart/alternative: the text, then the HTML */

static curl_mime *
ngx_http_cvc_mail_body(ngx_http_cvc_delivery_t *d, CURL *curl)
{
    curl_mime      *mime, *alt;
    curl_mimepart  *part;

    mime = curl_mime_init(curl);
    alt = curl_mime_init(curl);

    part = curl_mime_addpart(alt);
    curl_mime_data(part, d->text ? d->text : "", CURL_ZERO_TERMINATED);
    curl_mime_type(part, "text/plain; charset=utf-8");
    curl_mime_encoder(part, "quoted-printable");

    part = curl_mime_addpart(alt);
    curl_mime_data(part, d->html ? d->html : "", CURL_ZERO_TERMINATED);
    curl_mime_type(part, "text/html; charset=utf-8");
    curl_mime_encoder(part, "quoted-printable");

    part = curl_mime_addpart(mime);
    curl_mime_subparts(part, alt);
    curl_mime_type(part, "multipart/alternative");

    return mime;
}


/* buf = a b c, NUL-terminated; NGX_ERROR (buf empty) when it can't hold it */

static ngx_int_t
ngx_http_cvc_mail_line(char *buf, size_t size, const char *a,
    const char *b, const char *c)
{
    size_t  la, lb, lc;

    la = ngx_strlen(a);
    lb = ngx_strlen(b);
    lc = ngx_strlen(c);

    if (la + lb + lc >= size) {
        buf[0] = '\0';
        return NGX_ERROR;
    }

    ngx_memcpy(buf, a, la);
    ngx_memcpy(buf + la, b, lb);
    ngx_memcpy(buf + la + lb, c, lc);
    buf[la + lb + lc] = '\0';

    return NGX_OK;
}


/*
 * A recipient as ngx_http_cvc_json_email() accepts it: printable ASCII,
 * no space, <, > or comma, at most NGX_HTTP_CVC_EMAIL_MAX bytes.  Checked
 * again here: a row written before that rule, or by hand, is not sent.
 */

static ngx_int_t
ngx_http_cvc_mail_address(const char *s)
{
    size_t  i;

    if (s == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; s[i] != '\0'; i++) {
        if ((u_char) s[i] <= ' ' || (u_char) s[i] >= 0x7f || s[i] == '<'
            || s[i] == '>' || s[i] == ',' || i == NGX_HTTP_CVC_EMAIL_MAX)
        {
            return NGX_ERROR;
        }
    }

    return (i >= 3) ? NGX_OK : NGX_ERROR;
}


/*
 * CVC gateway: the outbox's deliveries.  A due row is claimed in
 * PostgreSQL (with a lease, so a worker that dies gives it back), sent
 * from the thread pool with libcurl (SMTP to the relay of cvc_smtp, or an
 * HTTP POST to a webhook, signed), and its outcome recorded: sent, or
 * retried later with exponential back-off.  At least once, never on the
 * event loop.
 */


#include "ngx_http_cvc_module.h"

#include <curl/curl.h>
#include <openssl/hmac.h>


#define NGX_HTTP_CVC_WEBHOOK_ANSWER  65536


typedef struct {
    /* in */
    ngx_uint_t                  webhook;
    char                       *smtp;
    char                       *from;
    char                       *to;
    char                       *subject;
    char                       *text;
    char                       *html;
    char                       *url;
    char                       *body;
    char                       *secret;
    ngx_array_t                *allow;      /* cvc_webhook_allow */

    /* out */
    ngx_uint_t                  ok;
    ngx_uint_t                  timedout;
    long                        status;
    size_t                      answer;     /* bytes of the answer read */
    char                        refused[160];
    char                        error[CURL_ERROR_SIZE];

    u_char                      id[NGX_INT64_LEN + 1];
    size_t                      id_len;
} ngx_http_cvc_delivery_t;


typedef struct {
    ngx_http_cvc_pg_op_t       *op;
    u_char                      id[NGX_INT64_LEN + 1];
    size_t                      id_len;
} ngx_http_cvc_claim_t;


static void ngx_http_cvc_outbox_claimed(void *data, ngx_int_t rc,
    PGresult *res);
static void ngx_http_cvc_outbox_send(void *data);
static void ngx_http_cvc_outbox_mail(ngx_http_cvc_delivery_t *d, CURL *curl);
static void ngx_http_cvc_outbox_post(ngx_http_cvc_delivery_t *d, CURL *curl);
static curl_socket_t ngx_http_cvc_outbox_socket(void *data,
    curlsocktype purpose, struct curl_sockaddr *addr);
static size_t ngx_http_cvc_outbox_answer(char *buf, size_t size, size_t n,
    void *data);
static void ngx_http_cvc_outbox_sent(void *data, void *ctx);
static void ngx_http_cvc_outbox_count(ngx_http_cvc_delivery_t *d);
static void ngx_http_cvc_outbox_recorded(void *data, ngx_int_t rc,
    PGresult *res);
static char *ngx_http_cvc_outbox_copy(char **p, json_t *json,
    const char *name);
static ngx_int_t ngx_http_cvc_outbox_line(char *buf, size_t size,
    const char *a, const char *b, const char *c);
static ngx_int_t ngx_http_cvc_outbox_address(const char *s);


static ngx_log_t  *ngx_http_cvc_outbox_log;

/* told of the end of each delivery that ngx_http_cvc_outbox_deliver()
 * took (the timers' tick, which counts its jobs) */
static void       (*ngx_http_cvc_outbox_done)(void);


ngx_int_t
ngx_http_cvc_outbox_init_process(ngx_cycle_t *cycle, void (*done)(void))
{
    ngx_http_cvc_outbox_log = cycle->log;
    ngx_http_cvc_outbox_done = done;

    /* before any thread uses curl */

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "cvc: curl_global_init() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* outbox row id: claim, send, record; NGX_AGAIN: the timers hear the end */

ngx_int_t
ngx_http_cvc_outbox_deliver(u_char *id, size_t len)
{
    ngx_str_t              param;
    ngx_http_cvc_claim_t  *claim;

    if (len == 0 || len > NGX_INT64_LEN) {
        return NGX_ERROR;
    }

    claim = ngx_alloc(sizeof(ngx_http_cvc_claim_t), ngx_http_cvc_outbox_log);
    if (claim == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(claim->id, id, len);
    claim->id_len = len;

    param.data = claim->id;
    param.len = len;

    if (ngx_http_cvc_pg_query(&claim->op,
                              "select cvc.outbox_claim($1::bigint, "
                              "'5 minutes')", 1, &param,
                              ngx_http_cvc_outbox_claimed, claim)
        != NGX_AGAIN)
    {
        ngx_free(claim);
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_http_cvc_outbox_claimed(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_cvc_claim_t  *claim = data;

    char                      *p;
    json_t                    *msg;
    size_t                     size;
    const char                *key, *smtp, *from;
    json_t                    *value;
    ngx_http_cvc_task_t       *task;
    ngx_http_cvc_delivery_t   *d;
    ngx_http_cvc_main_conf_t  *mcf;

    msg = NULL;

    if (rc != NGX_OK || PQresultStatus(res) != PGRES_TUPLES_OK
        || PQgetisnull(res, 0, 0))
    {
        /* not due, taken by another worker, or waiting its turn */
        goto done;
    }

    msg = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (msg == NULL) {
        goto done;
    }

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cvc_module);

    smtp = (char *) mcf->smtp.data;
    from = (char *) mcf->mail_from.data;

    /* the thread gets copies of what it sends, in the task */

    size = sizeof(ngx_http_cvc_delivery_t) + mcf->smtp.len + 1
           + mcf->mail_from.len + 1;

    json_object_foreach(msg, key, value) {
        if (json_is_string(value)) {
            size += json_string_length(value) + 1;
        }
    }

    task = ngx_http_cvc_task_alloc(NGX_HTTP_CVC_TASK_MAIL, size);
    if (task == NULL) {
        goto done;
    }

    d = task->ctx;
    p = (char *) (d + 1);

    ngx_memcpy(d->id, claim->id, claim->id_len);
    d->id_len = claim->id_len;

    p = (char *) ngx_cpymem(p, smtp, mcf->smtp.len);
    *p++ = '\0';
    d->smtp = p - mcf->smtp.len - 1;
    p = (char *) ngx_cpymem(p, from, mcf->mail_from.len);
    *p++ = '\0';
    d->from = p - mcf->mail_from.len - 1;

    d->webhook = (ngx_strcmp(json_string_value(json_object_get(msg, "kind")),
                             "webhook") == 0);

    if (d->webhook) {
        task->kind = NGX_HTTP_CVC_TASK_WEBHOOK;
    }
    d->to = ngx_http_cvc_outbox_copy(&p, msg, "to");
    d->subject = ngx_http_cvc_outbox_copy(&p, msg, "subject");
    d->text = ngx_http_cvc_outbox_copy(&p, msg, "text");
    d->html = ngx_http_cvc_outbox_copy(&p, msg, "html");
    d->url = ngx_http_cvc_outbox_copy(&p, msg, "url");
    d->body = ngx_http_cvc_outbox_copy(&p, msg, "body");
    d->secret = ngx_http_cvc_outbox_copy(&p, msg, "secret");
    d->allow = mcf->webhook_allow;

    task->work = ngx_http_cvc_outbox_send;
    task->done = ngx_http_cvc_outbox_sent;
    task->data = NULL;

    if (ngx_http_cvc_task_post(task) != NGX_AGAIN) {
        goto done;
    }

    json_decref(msg);
    ngx_free(claim);
    return;

done:

    json_decref(msg);
    ngx_free(claim);
    ngx_http_cvc_outbox_done();
}


/* in a thread */

static void
ngx_http_cvc_outbox_send(void *data)
{
    ngx_http_cvc_delivery_t  *d = data;

    CURL  *curl;

    curl = curl_easy_init();
    if (curl == NULL) {
        ngx_cpystrn((u_char *) d->error, (u_char *) "curl_easy_init() failed",
                    sizeof(d->error));
        return;
    }

    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, d->error);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);

    if (d->webhook) {
        ngx_http_cvc_outbox_post(d, curl);

    } else {
        ngx_http_cvc_outbox_mail(d, curl);
    }

    curl_easy_cleanup(curl);
}


/* an e-mail, text and HTML, to the SMTP relay */

static void
ngx_http_cvc_outbox_mail(ngx_http_cvc_delivery_t *d, CURL *curl)
{
    char               *subject, *p, rcpt[NGX_HTTP_CVC_EMAIL_MAX + 3];
    char                header[512];
    size_t              len, i, n;
    time_t              now;
    struct tm           tm;
    CURLcode            rc;
    curl_mime          *mime, *alt;
    curl_mimepart      *part;
    struct curl_slist  *rcpts, *headers;
    ngx_str_t           src, dst;
    u_char              b64[1200];

    if (d->to == NULL || d->smtp[0] == '\0') {
        ngx_cpystrn((u_char *) d->error, (u_char *) "no relay or recipient",
                    sizeof(d->error));
        return;
    }

    /* every line is built with its length checked: a string cut short
     * would not be terminated */

    if (ngx_http_cvc_outbox_address(d->to) != NGX_OK
        || ngx_http_cvc_outbox_line(rcpt, sizeof(rcpt), "<", d->to, ">")
           != NGX_OK)
    {
        ngx_cpystrn((u_char *) d->error,
                    (u_char *) "the recipient is not a valid address",
                    sizeof(d->error));
        return;
    }

    p = ngx_strchr(d->from, '<');

    if (ngx_http_cvc_outbox_line(header, sizeof(header), p ? "" : "<",
                                 p ? p : d->from, p ? "" : ">")
        != NGX_OK)
    {
        ngx_cpystrn((u_char *) d->error,
                    (u_char *) "the sender's address is too long",
                    sizeof(d->error));
        return;
    }

    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, header);

    rcpts = curl_slist_append(NULL, rcpt);

    /* a UTF-8 subject, RFC 2047: encoded words of at most 75 characters
     * (45 bytes each, never cut inside a character), separated by spaces */

    subject = d->subject ? d->subject : "";
    len = ngx_min(ngx_strlen(subject), 600);

    p = (char *) b64;
    p = (char *) ngx_cpymem(p, "Subject:", sizeof("Subject:") - 1);

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

    headers = NULL;

    if (ngx_http_cvc_outbox_line(header, sizeof(header), "From: ", d->from,
                                 "")
        == NGX_OK)
    {
        headers = curl_slist_append(headers, header);
    }

    (void) ngx_http_cvc_outbox_line(header, sizeof(header), "To: ", rcpt, "");
    headers = curl_slist_append(headers, header);
    headers = curl_slist_append(headers, (char *) b64);

    now = time(NULL);
    (void) gmtime_r(&now, &tm);
    (void) strftime(header, sizeof(header),
                    "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
    headers = curl_slist_append(headers, header);

    (void) ngx_http_cvc_cstr((u_char *) header, sizeof(header),
                             "Message-ID: <outbox-%*s-%T@cvc-gateway>",
                             d->id_len, d->id, now);
    headers = curl_slist_append(headers, header);

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

    curl_easy_setopt(curl, CURLOPT_URL, d->smtp);
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


/*
 * A webhook event: POST the body, signed
 * Cvc-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 */

static void
ngx_http_cvc_outbox_post(ngx_http_cvc_delivery_t *d, CURL *curl)
{
    u_char              *p, *msg, mac[EVP_MAX_MD_SIZE];
    u_char               hex[2 * EVP_MAX_MD_SIZE + 1], header[256];
    size_t               len;
    time_t               now;
    CURLcode             rc;
    unsigned int         mac_len;
    struct curl_slist   *headers;

    if (d->url == NULL || d->body == NULL || d->secret == NULL) {
        ngx_cpystrn((u_char *) d->error,
                    (u_char *) "the webhook was removed", sizeof(d->error));
        return;
    }

    now = time(NULL);

    /* HMAC-SHA256(secret, "<t>.<body>") */

    len = ngx_strlen(d->body);
    msg = malloc(NGX_TIME_T_LEN + 1 + len);
    if (msg == NULL) {
        ngx_cpystrn((u_char *) d->error, (u_char *) "no memory",
                    sizeof(d->error));
        return;
    }

    p = ngx_sprintf(msg, "%T.", now);
    p = ngx_cpymem(p, d->body, len);

    if (HMAC(EVP_sha256(), d->secret, ngx_strlen(d->secret), msg, p - msg,
             mac, &mac_len)
        == NULL)
    {
        free(msg);
        ngx_cpystrn((u_char *) d->error, (u_char *) "HMAC failed",
                    sizeof(d->error));
        return;
    }

    free(msg);

    p = ngx_hex_dump(hex, mac, mac_len);
    *p = '\0';

    (void) ngx_http_cvc_cstr(header, sizeof(header),
                             "Cvc-Signature: t=%T,v1=%s", now, hex);

    headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, (char *) header);
    headers = curl_slist_append(headers, "User-Agent: cvc-gateway-webhooks");

    curl_easy_setopt(curl, CURLOPT_URL, d->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);

    /* no proxy from the environment, no redirect, every address checked
     * where it is connected to, at most 64 KB of the answer read */

    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION,
                     ngx_http_cvc_outbox_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, d);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ngx_http_cvc_outbox_answer);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, d);

    rc = curl_easy_perform(curl);

    (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &d->status);
    d->timedout = (rc == CURLE_OPERATION_TIMEDOUT);

    /* a 2xx is a delivery, even where the answer is cut at 64 KB */

    d->ok = ((rc == CURLE_OK
              || (rc == CURLE_WRITE_ERROR
                  && d->answer > NGX_HTTP_CVC_WEBHOOK_ANSWER))
             && d->status >= 200 && d->status < 300);

    if (!d->ok && d->refused[0] != '\0') {
        ngx_cpystrn((u_char *) d->error, (u_char *) d->refused,
                    sizeof(d->error));

    } else if (!d->ok && d->error[0] == '\0') {
        if (rc == CURLE_OK) {
            (void) ngx_http_cvc_cstr((u_char *) d->error, sizeof(d->error),
                                     "HTTP %l", d->status);

        } else {
            ngx_cpystrn((u_char *) d->error, (u_char *) curl_easy_strerror(rc),
                        sizeof(d->error));
        }
    }

    curl_slist_free_all(headers);
}


/* curl's socket: none to an address where webhooks may not go */

static curl_socket_t
ngx_http_cvc_outbox_socket(void *data, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
    ngx_http_cvc_delivery_t  *d = data;

    u_char      text[NGX_SOCKADDR_STRLEN];
    size_t      len;
    const char  *what;

    what = ngx_http_cvc_destination_refused(d->allow, &addr->addr);

    if (what != NULL) {
        len = ngx_sock_ntop(&addr->addr, addr->addrlen, text, sizeof(text),
                            0);
        (void) ngx_http_cvc_cstr((u_char *) d->refused, sizeof(d->refused),
                                 "refused: %*s is %s (cvc_webhook_allow)",
                                 len, text, what);
        return CURL_SOCKET_BAD;
    }

    return socket(addr->family, addr->socktype, addr->protocol);
}


/* the answer's body is not kept: counted, and cut after 64 KB */

static size_t
ngx_http_cvc_outbox_answer(char *buf, size_t size, size_t n, void *data)
{
    ngx_http_cvc_delivery_t  *d = data;

    d->answer += size * n;

    return (d->answer > NGX_HTTP_CVC_WEBHOOK_ANSWER) ? 0 : size * n;
}


/* the metrics of a delivery */

static void
ngx_http_cvc_outbox_count(ngx_http_cvc_delivery_t *d)
{
    if (!d->webhook) {
        ngx_http_cvc_metrics_count(d->ok ? NGX_HTTP_CVC_M_OUTBOX_SENT_EMAIL
                                         : NGX_HTTP_CVC_M_OUTBOX_FAILED_EMAIL,
                                   1);
        return;
    }

    ngx_http_cvc_metrics_count(d->ok ? NGX_HTTP_CVC_M_OUTBOX_SENT_WEBHOOK
                                     : NGX_HTTP_CVC_M_OUTBOX_FAILED_WEBHOOK,
                               1);

    ngx_http_cvc_metrics_count(d->ok ? NGX_HTTP_CVC_M_WEBHOOK_DELIVERED
                               : d->refused[0] ? NGX_HTTP_CVC_M_WEBHOOK_REFUSED
                               : d->timedout ? NGX_HTTP_CVC_M_WEBHOOK_TIMEOUT
                               : d->status > 0
                                 ? NGX_HTTP_CVC_M_WEBHOOK_HTTP_ERROR
                               : NGX_HTTP_CVC_M_WEBHOOK_ERROR, 1);
}


/* back on the event loop: the outcome goes to PostgreSQL */

static void
ngx_http_cvc_outbox_sent(void *data, void *ctx)
{
    ngx_http_cvc_delivery_t  *d = ctx;

    u_char                 status[NGX_INT_T_LEN];
    ngx_str_t              params[4];
    ngx_http_cvc_pg_op_t  *op;

    ngx_http_cvc_outbox_count(d);

    if (d->ok) {
        ngx_log_error(NGX_LOG_INFO, ngx_http_cvc_outbox_log, 0,
                      "cvc outbox: %*s delivered", d->id_len, d->id);

    } else {
        ngx_log_error(NGX_LOG_WARN, ngx_http_cvc_outbox_log, 0,
                      "cvc outbox: %*s not delivered: %s; retried later",
                      d->id_len, d->id, d->error);
    }

    params[0].data = d->id;
    params[0].len = d->id_len;
    ngx_str_set(&params[1], "false");

    if (d->ok) {
        ngx_str_set(&params[1], "true");
    }

    params[2].data = status;
    params[2].len = ngx_sprintf(status, "%l", d->status) - status;
    params[3].data = (u_char *) d->error;
    params[3].len = ngx_strlen(d->error);

    if (ngx_http_cvc_pg_query(&op,
                              "select cvc.outbox_done($1::bigint, "
                              "$2::boolean, $3::int, $4)", 4, params,
                              ngx_http_cvc_outbox_recorded, NULL)
        != NGX_AGAIN)
    {
        /* the lease ends, and the row is tried again */
        ngx_http_cvc_outbox_done();
    }
}


static void
ngx_http_cvc_outbox_recorded(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_cvc_outbox_done();
}


static char *
ngx_http_cvc_outbox_copy(char **p, json_t *json, const char *name)
{
    char    *copy;
    json_t  *v;

    v = json_object_get(json, name);

    if (!json_is_string(v)) {
        return NULL;
    }

    copy = *p;
    ngx_memcpy(copy, json_string_value(v), json_string_length(v));
    copy[json_string_length(v)] = '\0';
    *p += json_string_length(v) + 1;

    return copy;
}


/* buf = a b c, NUL-terminated; NGX_ERROR (buf empty) when it can't hold it */

static ngx_int_t
ngx_http_cvc_outbox_line(char *buf, size_t size, const char *a,
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
ngx_http_cvc_outbox_address(const char *s)
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

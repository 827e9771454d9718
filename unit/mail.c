
/*
 * CVC gateway unit tests: what the outbox checks again before it sends an
 * e-mail (ngx_http_cvc_mail.c): the recipient, as the API took it (a row
 * written by hand must not put a header into the message), the lines of
 * the message, built whole or not at all, and the UTF-8 subject's encoded
 * words (RFC 2047).
 */


#include "ngx_unit.h"

/* its checks are static */
#include "ngx_http_cvc_mail.c"


static const char *address(size_t len);
static const char *decoded(const char *line);


int
main(void)
{
    char         buf[16], line[1200], subject[801];
    ngx_uint_t   i, n;
    const char  *p;

    static const char  *good[] = { "a@b.fr", "first.last+tag@example.co.uk",
        "abc", NULL };

    static const char  *bad[] = { "", "ab", "a b@c.fr", "a@b.fr\r\nBcc: x@y.z",
        "a@b.fr\n", "<a@b.fr>", "a@b.fr,c@d.fr", "caf\xc3\xa9@b.fr",
        "a\x7f@b.fr", "a\t@b.fr", NULL };

    ngx_unit_init();

    for (i = 0; good[i] != NULL; i++) {
        is_int(ngx_http_cvc_mail_address(good[i]), NGX_OK, "recipient %s",
               good[i]);
    }

    for (i = 0; bad[i] != NULL; i++) {
        is_int(ngx_http_cvc_mail_address(bad[i]), NGX_ERROR,
               "not a recipient: \"%s\"", bad[i]);
    }

    is_int(ngx_http_cvc_mail_address(NULL), NGX_ERROR, "no recipient");
    is_int(ngx_http_cvc_mail_address(address(254)), NGX_OK,
           "a recipient of 254 bytes");
    is_int(ngx_http_cvc_mail_address(address(255)), NGX_ERROR,
           "255 bytes");

    /* a line: a b c whole, NUL-terminated, or an empty one and an error */

    is_int(ngx_http_cvc_mail_line(buf, sizeof(buf), "To: ", "<a@b.fr>", ""),
           NGX_OK, "a line");
    is_str(buf, "To: <a@b.fr>", "its text");
    is_int(ngx_http_cvc_mail_line(buf, sizeof(buf), "<", "abcdefghijklm",
                                    ">"),
           NGX_OK, "15 bytes and a NUL in 16");
    is_str(buf, "<abcdefghijklm>", "whole");
    is_int(ngx_http_cvc_mail_line(buf, sizeof(buf), "<", "abcdefghijklmn",
                                    ">"),
           NGX_ERROR, "16 bytes in 16: no room for the NUL");
    is_str(buf, "", "nothing of it then, not a line cut short");

    /* the subject: words of whole characters, cut at 600 bytes at most,
     * never inside a character */

    ngx_http_cvc_mail_subject(line, "Paiement re\xc3\xa7u : 40,00 \xe2\x82\xac");
    is_str(line, "Subject: =?UTF-8?B?UGFpZW1lbnQgcmXDp3UgOiA0MCwwMCDigqw=?=",
           "a short subject: one encoded word");

    for (i = 0; i < 400; i++) {
        ngx_memcpy(subject + 2 * i, "\xc3\xa9", 2);
    }

    subject[800] = '\0';
    ngx_http_cvc_mail_subject(line, subject);
    is_int(ngx_strlen(decoded(line)), 600, "400 \"\xc3\xa9\": the first 600 "
           "bytes");

    subject[0] = 'x';

    for (i = 0; i < 399; i++) {
        ngx_memcpy(subject + 1 + 2 * i, "\xc3\xa9", 2);
    }

    subject[799] = '\0';
    ngx_http_cvc_mail_subject(line, subject);
    p = decoded(line);
    is_int(ngx_strlen(p), 599, "x then 399 \"\xc3\xa9\": cut at 599 bytes, "
           "before the character that byte 600 is inside");

    for (i = 1, n = 0; i + 1 < ngx_strlen(p); i += 2) {
        n += (p[i] == '\xc3' && p[i + 1] == '\xa9');
    }

    is_int(n, 299, "every character whole, in every word");

    return done_testing();
}


/* an address of len bytes */

static const char *
address(size_t len)
{
    static char  buf[512];

    ngx_memset(buf, 'a', len);
    ngx_memcpy(buf + len - 6, "@b.com", 6);
    buf[len] = '\0';

    return buf;
}


/* the text of a Subject: line's encoded words, one after the other; a word
 * that does not decode to whole UTF-8 characters ends it with "?" */

static const char *
decoded(const char *line)
{
    u_char      *end;
    ngx_str_t    src, dst;
    const char  *p, *q;

    static u_char  out[1200];

    dst.data = out;
    end = out;

    for (p = line; (p = ngx_strstr(p, "=?UTF-8?B?")) != NULL; p = q + 2) {
        p += sizeof("=?UTF-8?B?") - 1;
        q = ngx_strstr(p, "?=");

        src.data = (u_char *) p;
        src.len = q - p;
        dst.data = end;

        if (ngx_decode_base64(&dst, &src) != NGX_OK
            || (dst.len > 0 && (dst.data[dst.len - 1] & 0xC0) == 0xC0))
        {
            *end++ = '?';
            break;
        }

        end += dst.len;
    }

    *end = '\0';

    return (char *) out;
}

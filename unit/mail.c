
/*
 * CVC gateway unit tests: what the outbox checks again before it sends an
 * e-mail (ngx_http_cvc_mail.c): the recipient, as the API took it (a row
 * written by hand must not put a header into the message), and the lines
 * of the message, built whole or not at all.
 */


#include "ngx_unit.h"

/* its checks are static */
#include "ngx_http_cvc_mail.c"


static const char *address(size_t len);


int
main(void)
{
    char        buf[16];
    ngx_uint_t  i;

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


/*
 * CVC gateway unit tests: where a webhook may go
 * (ngx_http_cvc_destination_refused()).  Loopback, private, link-local
 * and reserved addresses are refused, at the edges of each network, in
 * IPv4 and IPv6, IPv4 inside IPv6 too; cvc_webhook_allow lets a network
 * through.
 */


#include "ngx_unit.h"


static const char *refused(ngx_array_t *allow, const char *addr);


int
main(void)
{
    ngx_str_t         net;
    ngx_conf_t        cf;
    ngx_cidr_t       *cidr;
    ngx_uint_t        i;
    ngx_array_t      *allow;
    struct sockaddr   sa;

    static const struct {
        const char  *addr;
        const char  *what;
    } tests[] = {
        { "127.0.0.1", "a loopback address" },
        { "127.255.255.254", "a loopback address" },
        { "::1", "a loopback address" },
        { "169.254.169.254", "a link-local address" },  /* metadata */
        { "fe80::1", "a link-local address" },
        { "febf::1", "a link-local address" },
        { "fec0::1", NULL },
        { "10.0.0.1", "a private address" },
        { "9.255.255.255", NULL },
        { "11.0.0.0", NULL },
        { "172.15.255.255", NULL },
        { "172.16.0.0", "a private address" },
        { "172.31.255.255", "a private address" },
        { "172.32.0.0", NULL },
        { "192.168.1.1", "a private address" },
        { "192.169.0.1", NULL },
        { "100.64.0.1", "a private address" },          /* carrier NAT */
        { "100.127.255.255", "a private address" },
        { "100.128.0.0", NULL },
        { "fd00::1", "a private address" },
        { "fc00::1", "a private address" },
        { "0.0.0.0", "a reserved address" },
        { "0.1.2.3", "a reserved address" },
        { "192.0.2.1", "a reserved address" },
        { "198.51.100.7", "a reserved address" },
        { "203.0.113.9", "a reserved address" },
        { "198.18.0.1", "a reserved address" },
        { "224.0.0.1", "a reserved address" },          /* multicast */
        { "255.255.255.255", "a reserved address" },
        { "::", "a reserved address" },
        { "64:ff9b::7f00:1", "a reserved address" },    /* NAT64 */
        { "2001:db8::1", "a reserved address" },
        { "ff02::1", "a reserved address" },
        { "::ffff:127.0.0.1", "a loopback address" },   /* IPv4-mapped */
        { "::ffff:10.0.0.1", "a private address" },
        { "::ffff:169.254.169.254", "a link-local address" },
        { "::ffff:93.184.216.34", NULL },
        { "93.184.216.34", NULL },
        { "8.8.8.8", NULL },
        { "1.1.1.1", NULL },
        { "2606:4700:4700::1111", NULL },
        { "2a00:1450:4007:80e::200e", NULL },
    };

    ngx_unit_init();

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = ngx_unit_pool;
    cf.log = &ngx_unit_log;

    is_int(ngx_http_cvc_destination_init(&cf), NGX_OK,
           "the table of refused networks parses");

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        is_str(refused(NULL, tests[i].addr),
               tests[i].what ? tests[i].what : "(allowed)", "%s",
               tests[i].addr);
    }

    ngx_memzero(&sa, sizeof(struct sockaddr));
    sa.sa_family = AF_UNIX;
    is_str(ngx_http_cvc_destination_refused(NULL, &sa),
           "not an internet address", "a Unix socket");

    /* cvc_webhook_allow 10.1.0.0/16 fd12::/16: those alone */

    allow = ngx_array_create(ngx_unit_pool, 2, sizeof(ngx_cidr_t));
    cidr = ngx_array_push_n(allow, 2);

    ngx_str_set(&net, "10.1.0.0/16");
    is_int(ngx_ptocidr(&net, &cidr[0]), NGX_OK, "allow 10.1.0.0/16");
    ngx_str_set(&net, "fd12::/16");
    is_int(ngx_ptocidr(&net, &cidr[1]), NGX_OK, "allow fd12::/16");

    is_str(refused(allow, "10.1.2.3"), "(allowed)", "10.1.2.3, allowed");
    is_str(refused(allow, "::ffff:10.1.2.3"), "(allowed)",
           "::ffff:10.1.2.3, allowed");
    is_str(refused(allow, "10.2.0.1"), "a private address",
           "10.2.0.1, not in it");
    is_str(refused(allow, "fd12::1"), "(allowed)", "fd12::1, allowed");
    is_str(refused(allow, "fd13::1"), "a private address", "fd13::1, not");
    is_str(refused(allow, "127.0.0.1"), "a loopback address",
           "127.0.0.1, not");

    return done_testing();
}


/* what the address is where a webhook may not go to it, or "(allowed)" */

static const char *
refused(ngx_array_t *allow, const char *addr)
{
    const char           *what;
    struct sockaddr_in    sin;
    struct sockaddr_in6   sin6;

    ngx_memzero(&sin, sizeof(struct sockaddr_in));
    ngx_memzero(&sin6, sizeof(struct sockaddr_in6));

    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        what = ngx_http_cvc_destination_refused(allow,
                                                (struct sockaddr *) &sin);

    } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        what = ngx_http_cvc_destination_refused(allow,
                                                (struct sockaddr *) &sin6);

    } else {
        return "(not an address)";
    }

    return what ? what : "(allowed)";
}


/*
 * CVC gateway: where a webhook may go.  Not to this machine, nor to its
 * private networks, nor to link-local addresses (a cloud's metadata at
 * 169.254.169.254), nor to reserved ones, unless cvc_webhook_allow names
 * the network.  Checked when the URL is saved, on every address its host
 * resolves to (in the thread pool: getaddrinfo() blocks), and again on
 * the address curl connects to when it sends, so that a name that
 * resolves elsewhere by then (DNS rebinding) is refused too.
 */


#include "ngx_http_cvc_module.h"

#include <netdb.h>


typedef struct {
    const char                 *net;
    const char                 *what;
} ngx_http_cvc_net_t;


static const ngx_http_cvc_net_t  ngx_http_cvc_refused_nets[] = {
    { "127.0.0.0/8", "a loopback address" },
    { "::1/128", "a loopback address" },
    { "169.254.0.0/16", "a link-local address" },
    { "fe80::/10", "a link-local address" },
    { "10.0.0.0/8", "a private address" },
    { "172.16.0.0/12", "a private address" },
    { "192.168.0.0/16", "a private address" },
    { "100.64.0.0/10", "a private address" },
    { "fc00::/7", "a private address" },
    { "0.0.0.0/8", "a reserved address" },
    { "192.0.0.0/24", "a reserved address" },
    { "192.0.2.0/24", "a reserved address" },
    { "198.18.0.0/15", "a reserved address" },
    { "198.51.100.0/24", "a reserved address" },
    { "203.0.113.0/24", "a reserved address" },
    { "224.0.0.0/3", "a reserved address" },
    { "::/96", "a reserved address" },
    { "64:ff9b::/96", "a reserved address" },
    { "100::/64", "a reserved address" },
    { "2001:db8::/32", "a reserved address" },
    { "ff00::/8", "a reserved address" },
};

#define NGX_HTTP_CVC_REFUSED_NETS                                            \
    (sizeof(ngx_http_cvc_refused_nets) / sizeof(ngx_http_cvc_net_t))

static ngx_cidr_t  ngx_http_cvc_refused_cidrs[NGX_HTTP_CVC_REFUSED_NETS];


typedef struct {
    ngx_array_t                *allow;
    ngx_http_cvc_destination_pt handler;
    char                        host[256];
    char                        why[160];
    ngx_int_t                   rc;
} ngx_http_cvc_resolve_t;


static void ngx_http_cvc_resolve_work(void *ctx);
static void ngx_http_cvc_resolve_done(void *data, void *ctx);


/* at configuration: the table above, parsed */

ngx_int_t
ngx_http_cvc_destination_init(ngx_conf_t *cf)
{
    ngx_str_t   net;
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_CVC_REFUSED_NETS; i++) {
        net.data = (u_char *) ngx_http_cvc_refused_nets[i].net;
        net.len = ngx_strlen(net.data);

        if (ngx_ptocidr(&net, &ngx_http_cvc_refused_cidrs[i]) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cvc: a bad network in the code: \"%V\"", &net);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * NULL where a webhook may go to sa, else what sa is ("a loopback
 * address").  Any thread may call it: it reads configuration only.
 */

const char *
ngx_http_cvc_destination_refused(ngx_array_t *allow, struct sockaddr *sa)
{
    ngx_uint_t   i;
    ngx_array_t  one;

    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
        return "not an internet address";
    }

    if (allow != NULL && ngx_cidr_match(sa, allow) == NGX_OK) {
        return NULL;
    }

    ngx_memzero(&one, sizeof(ngx_array_t));
    one.nelts = 1;
    one.size = sizeof(ngx_cidr_t);

    for (i = 0; i < NGX_HTTP_CVC_REFUSED_NETS; i++) {
        one.elts = &ngx_http_cvc_refused_cidrs[i];

        if (ngx_cidr_match(sa, &one) == NGX_OK) {
            return ngx_http_cvc_refused_nets[i].what;
        }
    }

    return NULL;
}


/*
 * The host of a URL that is being saved, resolved in the thread pool:
 * handler(data, NGX_OK) where every address it has may be sent to, or
 * where it has none now (it is checked again at each delivery);
 * NGX_DECLINED and why where one may not.  NGX_AGAIN: the handler will
 * be called; NGX_ERROR: it will not.
 */

ngx_int_t
ngx_http_cvc_destination_check(ngx_http_cvc_task_t **taskp, ngx_str_t *host,
    ngx_http_cvc_destination_pt handler, void *data)
{
    ngx_http_cvc_task_t        *task;
    ngx_http_cvc_resolve_t     *rs;
    ngx_http_cvc_main_conf_t   *mcf;

    if (host->len == 0 || host->len >= sizeof(rs->host)) {
        return NGX_ERROR;
    }

    task = ngx_http_cvc_task_alloc(NGX_HTTP_CVC_TASK_RESOLVE,
                                 sizeof(ngx_http_cvc_resolve_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cvc_module);

    rs = task->ctx;
    rs->allow = mcf->webhook_allow;
    rs->handler = handler;
    ngx_memcpy(rs->host, host->data, host->len);

    task->work = ngx_http_cvc_resolve_work;
    task->done = ngx_http_cvc_resolve_done;
    task->data = data;

    if (ngx_http_cvc_task_post(task) != NGX_AGAIN) {
        return NGX_ERROR;
    }

    *taskp = task;

    return NGX_AGAIN;
}


static void
ngx_http_cvc_resolve_work(void *ctx)
{
    ngx_http_cvc_resolve_t  *rs = ctx;

    u_char            text[NGX_SOCKADDR_STRLEN];
    size_t            len;
    const char       *what;
    struct addrinfo   hints, *res, *ai;

    rs->rc = NGX_OK;

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    if (getaddrinfo(rs->host, NULL, &hints, &res) != 0) {
        return;
    }

    for (ai = res; ai != NULL; ai = ai->ai_next) {
        what = ngx_http_cvc_destination_refused(rs->allow, ai->ai_addr);

        if (what != NULL) {
            len = ngx_sock_ntop(ai->ai_addr, ai->ai_addrlen, text,
                                sizeof(text) - 1, 0);
            text[len] = '\0';

            if (ngx_strcmp(text, rs->host) == 0) {
                (void) ngx_http_cvc_cstr((u_char *) rs->why, sizeof(rs->why),
                                         "%s is %s", rs->host, what);

            } else {
                (void) ngx_http_cvc_cstr((u_char *) rs->why, sizeof(rs->why),
                                         "%s resolves to %s, %s", rs->host,
                                         text, what);
            }

            rs->rc = NGX_DECLINED;
            break;
        }
    }

    freeaddrinfo(res);
}


static void
ngx_http_cvc_resolve_done(void *data, void *ctx)
{
    ngx_http_cvc_resolve_t  *rs = ctx;

    rs->handler(data, rs->rc, rs->why);
}


/*
 * CVC gateway unit tests: a worker's little, a request without a client,
 * the module's answers kept (see ngx_unit.h).  TAP is ngx_unit_tap.c.
 */


#include "ngx_unit.h"


static void ngx_unit_log_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len);
static ngx_int_t ngx_unit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_unit_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


ngx_log_t                  ngx_unit_log;
ngx_pool_t                *ngx_unit_pool;
ngx_http_cvc_main_conf_t   ngx_unit_mcf;
ngx_unit_answer_t          ngx_unit_answer;

static ngx_cycle_t         ngx_unit_cycle;
static void               *ngx_unit_main_conf[1];


void
ngx_unit_init(void)
{
    /* the diagnostics on stderr must not overtake the results */
    setvbuf(stdout, NULL, _IOLBF, 0);

    ngx_pagesize = getpagesize();
    ngx_time_init();

    ngx_use_stderr = 0;
    ngx_unit_log.log_level = NGX_LOG_WARN;
    ngx_unit_log.writer = ngx_unit_log_writer;

    ngx_unit_pool = ngx_create_pool(16384, &ngx_unit_log);
    if (ngx_unit_pool == NULL) {
        printf("Bail out! no pool\n");
        exit(255);
    }

    ngx_unit_cycle.pool = ngx_unit_pool;
    ngx_unit_cycle.log = &ngx_unit_log;
    ngx_cycle = &ngx_unit_cycle;

    /* the module's main conf is the first and only of a request */
    ngx_http_cvc_module.ctx_index = 0;
    ngx_unit_main_conf[0] = &ngx_unit_mcf;

    /* what the module sends ends in ngx_unit_answer */
    ngx_http_top_header_filter = ngx_unit_header_filter;
    ngx_http_top_body_filter = ngx_unit_body_filter;
}


ngx_http_request_t *
ngx_unit_request(ngx_uint_t method, const char *uri)
{
    size_t               len;
    const char          *q;
    ngx_pool_t          *pool;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_cvc_ctx_t  *ctx;

    pool = ngx_create_pool(4096, &ngx_unit_log);
    if (pool == NULL) {
        return NULL;
    }

    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));
    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    ctx = ngx_pcalloc(pool, sizeof(ngx_http_cvc_ctx_t));
    r->ctx = ngx_pcalloc(pool, sizeof(void *));

    if (c == NULL || r == NULL || ctx == NULL || r->ctx == NULL
        || ngx_list_init(&r->headers_in.headers, pool, 4,
                         sizeof(ngx_table_elt_t)) != NGX_OK
        || ngx_list_init(&r->headers_out.headers, pool, 4,
                         sizeof(ngx_table_elt_t)) != NGX_OK
        || ngx_array_init(&r->headers_in.cookies, pool, 2,
                          sizeof(ngx_table_elt_t *)) != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    c->fd = (ngx_socket_t) -1;
    c->log = &ngx_unit_log;
    c->pool = pool;
    ngx_str_set(&c->addr_text, "192.0.2.1");

    r->pool = pool;
    r->connection = c;
    r->main = r;
    r->count = 1;
    r->method = method;
    r->main_conf = ngx_unit_main_conf;
    r->headers_in.content_length_n = -1;
    r->headers_out.content_length_n = -1;

    /* the path and the query string, each a copy of its own */

    len = ngx_strlen(uri);
    q = strchr(uri, '?');

    r->uri.len = (q != NULL) ? (size_t) (q - uri) : len;
    r->uri.data = ngx_pnalloc(pool, r->uri.len + 1);

    if (q != NULL) {
        r->args.len = len - r->uri.len - 1;
        r->args.data = ngx_pnalloc(pool, r->args.len + 1);
    }

    if (r->uri.data == NULL || (q != NULL && r->args.data == NULL)) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    ngx_memcpy(r->uri.data, uri, r->uri.len);

    if (q != NULL) {
        ngx_memcpy(r->args.data, q + 1, r->args.len);
    }

    ngx_http_set_ctx(r, ctx, ngx_http_cvc_module);
    ctx->request = r;
    ngx_str_set(&ctx->request_id, "unit");

    ngx_memzero(&ngx_unit_answer, sizeof(ngx_unit_answer_t));

    return r;
}


ngx_int_t
ngx_unit_header(ngx_http_request_t *r, const char *name, const char *value)
{
    ngx_table_elt_t  *h, **cookie;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key.len = ngx_strlen(name);
    h->key.data = (u_char *) name;
    h->value.len = ngx_strlen(value);
    h->value.data = (u_char *) value;
    h->lowcase_key = ngx_pnalloc(r->pool, h->key.len);
    if (h->lowcase_key == NULL) {
        return NGX_ERROR;
    }

    h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);

    /* the members of headers_in that the module reads */

    if (ngx_strcasecmp((u_char *) name, (u_char *) "Content-Type") == 0) {
        r->headers_in.content_type = h;

    } else if (ngx_strcasecmp((u_char *) name, (u_char *) "Authorization")
               == 0)
    {
        r->headers_in.authorization = h;

    } else if (ngx_strcasecmp((u_char *) name, (u_char *) "Cookie") == 0) {
        cookie = ngx_array_push(&r->headers_in.cookies);
        if (cookie == NULL) {
            return NGX_ERROR;
        }

        *cookie = h;
    }

    return NGX_OK;
}


ngx_http_cvc_ctx_t *
ngx_unit_ctx(ngx_http_request_t *r)
{
    return ngx_http_get_module_ctx(r, ngx_http_cvc_module);
}


const char *
ngx_unit_out_header(ngx_http_request_t *r, const char *name)
{
    u_char           *p;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].hash == 0 || h[i].key.len != ngx_strlen(name)
                || ngx_strncasecmp(h[i].key.data, (u_char *) name,
                                   h[i].key.len) != 0)
            {
                continue;
            }

            p = ngx_pnalloc(r->pool, h[i].value.len + 1);
            if (p == NULL) {
                return NULL;
            }

            ngx_memcpy(p, h[i].value.data, h[i].value.len);
            p[h[i].value.len] = '\0';

            return (char *) p;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_unit_header_filter(ngx_http_request_t *r)
{
    ngx_unit_answer.status = r->headers_out.status;
    ngx_unit_answer.headers++;
    r->header_sent = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_unit_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t              n;
    ngx_unit_answer_t  *a = &ngx_unit_answer;

    for ( /* void */ ; in; in = in->next) {
        n = ngx_min((size_t) (in->buf->last - in->buf->pos),
                    sizeof(a->body) - 1 - a->len);
        a->len = ngx_cpymem(a->body + a->len, in->buf->pos, n) - a->body;
    }

    a->body[a->len] = '\0';

    return NGX_OK;
}


void
ngx_unit_request_free(ngx_http_request_t *r)
{
    ngx_destroy_pool(r->pool);
}


/* what the module logs, as TAP comments: a test may look for it */

static void
ngx_unit_log_writer(ngx_log_t *log, ngx_uint_t level, u_char *buf,
    size_t len)
{
    while (len > 0 && (buf[len - 1] == LF || buf[len - 1] == CR)) {
        len--;
    }

    printf("# log: %.*s\n", (int) len, buf);
}

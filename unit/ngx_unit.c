
/*
 * CVC gateway unit tests: TAP, and a request without a client (see
 * ngx_unit.h).
 */


#include "ngx_unit.h"


static void ngx_unit_result(ngx_int_t pass, const char *file, int line,
    const char *fmt, va_list args);
static void ngx_unit_quote(FILE *out, const char *what, const char *s,
    size_t len);
static void ngx_unit_log_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len);
static ngx_int_t ngx_unit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_unit_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


ngx_log_t                  ngx_unit_log;
ngx_pool_t                *ngx_unit_pool;
ngx_http_cvc_main_conf_t   ngx_unit_mcf;
ngx_unit_answer_t          ngx_unit_answer;

static ngx_uint_t          ngx_unit_tests;
static ngx_uint_t          ngx_unit_failed;
static const char         *ngx_unit_todo;
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


/* TAP */

ngx_int_t
ngx_unit_ok(ngx_int_t pass, const char *file, int line, const char *fmt,
    ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_unit_result(pass, file, line, fmt, args);
    va_end(args);

    return pass;
}


ngx_int_t
ngx_unit_is_int(int64_t got, int64_t want, const char *file, int line,
    const char *fmt, ...)
{
    FILE     *out;
    va_list   args;

    va_start(args, fmt);
    ngx_unit_result(got == want, file, line, fmt, args);
    va_end(args);

    if (got != want) {
        out = ngx_unit_todo ? stdout : stderr;
        fprintf(out, "#          got: %lld\n#     expected: %lld\n",
                (long long) got, (long long) want);
    }

    return got == want;
}


/* len (size_t) -1: got is NUL-terminated; NULL is a string of no one */

ngx_int_t
ngx_unit_is_str(const char *got, size_t len, const char *want,
    const char *file, int line, const char *fmt, ...)
{
    FILE        *out;
    va_list      args;
    ngx_int_t    pass;

    if (got != NULL && len == (size_t) -1) {
        len = strlen(got);
    }

    if (got == NULL || want == NULL) {
        pass = (got == NULL && want == NULL);

    } else {
        pass = (len == strlen(want) && memcmp(got, want, len) == 0);
    }

    va_start(args, fmt);
    ngx_unit_result(pass, file, line, fmt, args);
    va_end(args);

    if (!pass) {
        out = ngx_unit_todo ? stdout : stderr;
        ngx_unit_quote(out, "         got", got, len);
        ngx_unit_quote(out, "    expected", want, want ? strlen(want) : 0);
    }

    return pass;
}


static void
ngx_unit_result(ngx_int_t pass, const char *file, int line, const char *fmt,
    va_list args)
{
    char  name[512], *p;

    ngx_unit_tests++;

    /* a "#" would start a directive, a line break a line of its own */

    vsnprintf(name, sizeof(name), fmt, args);

    printf("%sok %lu - ", pass ? "" : "not ", (unsigned long) ngx_unit_tests);

    for (p = name; *p != '\0'; p++) {
        if (*p == '#') {
            fputs("\\#", stdout);

        } else {
            fputc((*p == '\n' || *p == '\r') ? ' ' : *p, stdout);
        }
    }

    if (ngx_unit_todo != NULL) {
        printf(" # TODO %s\n", ngx_unit_todo);

    } else {
        printf("\n");
    }

    if (pass) {
        return;
    }

    if (ngx_unit_todo != NULL) {
        printf("#   Failed (TODO) test at %s line %d.\n", file, line);
        return;
    }

    ngx_unit_failed++;
    fflush(stdout);
    fprintf(stderr, "#   Failed test at %s line %d.\n", file, line);
}


/* 'text' with bytes outside printable ASCII as \xNN */

static void
ngx_unit_quote(FILE *out, const char *what, const char *s, size_t len)
{
    size_t  i;

    if (s == NULL) {
        fprintf(out, "# %s: NULL\n", what);
        return;
    }

    fprintf(out, "# %s: '", what);

    for (i = 0; i < len && i < 300; i++) {
        if ((u_char) s[i] < 0x20 || (u_char) s[i] > 0x7e || s[i] == '\\') {
            fprintf(out, "\\x%02x", (u_char) s[i]);

        } else {
            fputc(s[i], out);
        }
    }

    fprintf(out, "'%s (%lu bytes)\n", i < len ? "..." : "",
            (unsigned long) len);
}


void
todo(const char *reason)
{
    ngx_unit_todo = reason;
}


void
todo_end(void)
{
    ngx_unit_todo = NULL;
}


void
diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}


int
done_testing(void)
{
    printf("1..%lu\n", (unsigned long) ngx_unit_tests);

    if (ngx_unit_pool != NULL) {
        ngx_destroy_pool(ngx_unit_pool);
        ngx_unit_pool = NULL;
    }

    return (ngx_unit_failed > 254) ? 254 : (int) ngx_unit_failed;
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

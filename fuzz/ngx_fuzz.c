
/*
 * CVC gateway fuzzing: the worker without sockets (see ngx_fuzz.h).
 */


#include "ngx_fuzz.h"


#define NGX_FUZZ_CTX_CVC    0
#define NGX_FUZZ_CTX_CORE   1
#define NGX_FUZZ_NCTX       2


static ngx_int_t ngx_fuzz_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_fuzz_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_fuzz_log_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len);
static void ngx_fuzz_check_json(ngx_fuzz_req_t *fr);


ngx_http_cvc_main_conf_t  *ngx_fuzz_mcf;
ngx_http_cvc_loc_conf_t   *ngx_fuzz_lcf;
ngx_flag_t                 ngx_fuzz_alert_ok;

static ngx_log_t                  ngx_fuzz_log;
static ngx_cycle_t                ngx_fuzz_cycle;
static ngx_http_conf_ctx_t        ngx_fuzz_http_ctx;
static void                      *ngx_fuzz_conf_ctx[1];
static void                      *ngx_fuzz_main_conf[NGX_FUZZ_NCTX];
static void                      *ngx_fuzz_loc_conf[NGX_FUZZ_NCTX];
static ngx_http_core_loc_conf_t   ngx_fuzz_clcf;
static ngx_path_t                 ngx_fuzz_temp_path;

/* never used: tasks go to ngx_thread_task_post() below */
static ngx_uint_t                 ngx_fuzz_thread_pool;

/* the request being fuzzed: the stand-ins below report to it */
static ngx_fuzz_req_t            *ngx_fuzz_current;

/* NGX_FUZZ_VERBOSE=1: each answer on stderr */
static ngx_flag_t                 ngx_fuzz_verbose;


/*
 * The pool, as NGX_DEBUG_PALLOC would make it: each allocation of the
 * module is a block of its own, so that AddressSanitizer sees its end.
 * (nginx's own code, inside the library, keeps its allocator.)
 */

void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    return ngx_pmemalign(pool, size ? size : 1, NGX_POOL_ALIGNMENT);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);
    if (p != NULL) {
        ngx_memzero(p, size);
    }

    return p;
}


/* nginx's request lifetime, without a client */

void
ngx_http_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_fuzz_req_t  *fr = ngx_fuzz_current;

    /* each call drops a reference; NGX_DONE only that */

    if (r->main->count == 0) {
        ngx_fuzz_fail("finalized with %i after the request's end", rc);
    }

    r->main->count--;

    if (rc == NGX_DONE) {
        return;
    }

    fr->answer.finalized++;
    fr->answer.rc = rc;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE && !r->header_sent) {
        /* nginx would send its own page, not the contract's JSON */
        fr->answer.status = rc;
    }
}


void
ngx_http_run_posted_requests(ngx_connection_t *c)
{
}


ngx_int_t
ngx_http_read_client_request_body(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt post_handler)
{
    ngx_http_request_body_t  *rb;

    r->main->count++;

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rb->bufs = ngx_fuzz_current->body;
    r->request_body = rb;

    post_handler(r);

    return NGX_OK;
}


ngx_int_t
ngx_http_discard_request_body(ngx_http_request_t *r)
{
    r->discard_body = 1;
    return NGX_OK;
}


/* the thread pool refuses, as when its queue is full */

ngx_int_t
ngx_thread_task_post(ngx_thread_pool_t *tp, ngx_thread_task_t *task)
{
    return NGX_ERROR;
}


/* each input: the worker made once, then the input to read */

void
ngx_fuzz_start(ngx_fuzz_input_t *in, const uint8_t *data, size_t size)
{
    static ngx_uint_t  inited;

    if (!inited) {
        ngx_fuzz_init();
        inited = 1;
    }

    in->pos = (u_char *) data;
    in->last = (u_char *) data + size;
}


void
ngx_fuzz_init(void)
{
    ngx_conf_t          cf;
    ngx_pool_t         *pool;
    ngx_http_module_t  *m;

    static ngx_str_t  token = ngx_string("0123456789abcdef0123456789abcdef");

    ngx_fuzz_verbose = (getenv("NGX_FUZZ_VERBOSE") != NULL);
    ngx_pagesize = getpagesize();
    ngx_time_init();

    ngx_use_stderr = 0;     /* the writer below has the alerts */
    ngx_fuzz_log.log_level = NGX_LOG_ALERT;
    ngx_fuzz_log.writer = ngx_fuzz_log_writer;

    pool = ngx_create_pool(16384, &ngx_fuzz_log);
    ngx_fuzz_assert(pool != NULL);

    /* the module's configuration, made by its own handlers */

    ngx_http_cvc_module.ctx_index = NGX_FUZZ_CTX_CVC;
    ngx_http_core_module.ctx_index = NGX_FUZZ_CTX_CORE;
    ngx_http_module.index = 0;

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = pool;
    cf.temp_pool = pool;
    cf.log = &ngx_fuzz_log;
    cf.cycle = &ngx_fuzz_cycle;
    cf.ctx = &ngx_fuzz_http_ctx;

    ngx_fuzz_cycle.pool = pool;
    ngx_fuzz_cycle.log = &ngx_fuzz_log;
    ngx_fuzz_cycle.conf_ctx = (void ****) ngx_fuzz_conf_ctx;

    /* the metrics' zone is asked for, and never made: no counting here */
    ngx_fuzz_assert(ngx_list_init(&ngx_fuzz_cycle.shared_memory, pool, 1,
                                  sizeof(ngx_shm_zone_t)) == NGX_OK);
    ngx_fuzz_conf_ctx[0] = &ngx_fuzz_http_ctx;
    ngx_fuzz_http_ctx.main_conf = ngx_fuzz_main_conf;
    ngx_fuzz_http_ctx.loc_conf = ngx_fuzz_loc_conf;
    ngx_cycle = &ngx_fuzz_cycle;

    m = ngx_http_cvc_module.ctx;

    ngx_fuzz_mcf = m->create_main_conf(&cf);
    ngx_fuzz_assert(ngx_fuzz_mcf != NULL);

    /* what nginx.conf gives (no connection is ever made) */

    ngx_str_set(&ngx_fuzz_mcf->pg.conninfo, "dbname=cvc");
    ngx_str_set(&ngx_fuzz_mcf->redis.host, "127.0.0.1");
    ngx_fuzz_mcf->redis.port = 6379;
    ngx_str_set(&ngx_fuzz_mcf->payment_code_key,
                "a key of 32 bytes for the fuzzer");
    ngx_fuzz_mcf->thread_pool = (ngx_thread_pool_t *) &ngx_fuzz_thread_pool;

    ngx_fuzz_assert(m->init_main_conf(&cf, ngx_fuzz_mcf) == NGX_CONF_OK);
    ngx_fuzz_assert(ngx_fuzz_mcf->enabled);

    ngx_fuzz_lcf = m->create_loc_conf(&cf);
    ngx_fuzz_assert(ngx_fuzz_lcf != NULL);
    ngx_fuzz_lcf->api = 1;
    ngx_fuzz_lcf->ops = 0;
    ngx_fuzz_lcf->ops_token = token;

    ngx_str_set(&ngx_fuzz_temp_path.name, "/tmp");
    ngx_fuzz_clcf.client_body_temp_path = &ngx_fuzz_temp_path;

    ngx_fuzz_main_conf[NGX_FUZZ_CTX_CVC] = ngx_fuzz_mcf;
    ngx_fuzz_loc_conf[NGX_FUZZ_CTX_CVC] = ngx_fuzz_lcf;
    ngx_fuzz_loc_conf[NGX_FUZZ_CTX_CORE] = &ngx_fuzz_clcf;

    /* backends of no connection: every operation fails at once */

    ngx_fuzz_mcf->pg.size = 0;
    ngx_fuzz_mcf->redis.size = 0;

    ngx_fuzz_assert(ngx_http_cvc_pg_init_process(&ngx_fuzz_cycle,
                                                 ngx_fuzz_mcf) == NGX_OK);
    ngx_fuzz_assert(ngx_http_cvc_redis_init_process(&ngx_fuzz_cycle,
                                                    ngx_fuzz_mcf) == NGX_OK);
    ngx_fuzz_assert(ngx_http_cvc_outbox_init_process(&ngx_fuzz_cycle,
                                                 ngx_http_cvc_timers_job_done)
                    == NGX_OK);
    ngx_fuzz_assert(ngx_http_cvc_export_init_process(&ngx_fuzz_cycle,
                                                     ngx_fuzz_mcf) == NGX_OK);

    /* the timers' tick is set, and never comes: no event loop runs */

    ngx_fuzz_assert(ngx_event_timer_init(&ngx_fuzz_log) == NGX_OK);
    ngx_fuzz_assert(ngx_http_cvc_timers_init_process(&ngx_fuzz_cycle,
                                                     ngx_fuzz_mcf) == NGX_OK);

    ngx_http_top_header_filter = ngx_fuzz_header_filter;
    ngx_http_top_body_filter = ngx_fuzz_body_filter;
}


/* a request as nginx hands it to a content handler, uri "path?args" */

ngx_fuzz_req_t *
ngx_fuzz_request(ngx_uint_t method, u_char *uri, size_t len)
{
    u_char              *q;
    ngx_pool_t          *pool;
    ngx_fuzz_req_t      *fr;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_cvc_ctx_t  *ctx;

    pool = ngx_create_pool(4096, &ngx_fuzz_log);
    ngx_fuzz_assert(pool != NULL);

    fr = ngx_pcalloc(pool, sizeof(ngx_fuzz_req_t));
    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));
    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    ctx = ngx_pcalloc(pool, sizeof(ngx_http_cvc_ctx_t));
    ngx_fuzz_assert(fr != NULL && c != NULL && r != NULL && ctx != NULL);

    c->fd = (ngx_socket_t) -1;
    c->log = &ngx_fuzz_log;
    c->pool = pool;
    ngx_str_set(&c->addr_text, "192.0.2.1");

    r->pool = pool;
    r->connection = c;
    r->main = r;
    r->count = 1;
    r->method = method;
    r->main_conf = ngx_fuzz_main_conf;
    r->loc_conf = ngx_fuzz_loc_conf;
    r->headers_in.content_length_n = -1;
    r->headers_out.content_length_n = -1;

    r->ctx = ngx_pcalloc(pool, NGX_FUZZ_NCTX * sizeof(void *));
    ngx_fuzz_assert(r->ctx != NULL);

    ngx_fuzz_assert(ngx_list_init(&r->headers_in.headers, pool, 4,
                                  sizeof(ngx_table_elt_t)) == NGX_OK);
    ngx_fuzz_assert(ngx_list_init(&r->headers_out.headers, pool, 4,
                                  sizeof(ngx_table_elt_t)) == NGX_OK);
    ngx_fuzz_assert(ngx_array_init(&r->headers_in.cookies, pool, 2,
                                   sizeof(ngx_table_elt_t *)) == NGX_OK);

    /* each piece a block of its own, for AddressSanitizer */

    q = ngx_strlchr(uri, uri + len, '?');

    r->uri.len = (q ? q : uri + len) - uri;
    r->uri.data = ngx_pnalloc(pool, r->uri.len);
    ngx_fuzz_assert(r->uri.data != NULL);
    ngx_memcpy(r->uri.data, uri, r->uri.len);

    if (q != NULL) {
        r->args.len = uri + len - (q + 1);
        r->args.data = ngx_pnalloc(pool, r->args.len);
        ngx_fuzz_assert(r->args.data != NULL);
        ngx_memcpy(r->args.data, q + 1, r->args.len);
    }

    ngx_http_set_ctx(r, ctx, ngx_http_cvc_module);
    ctx->request = r;
    ctx->authenticated = ngx_http_cvc_proceed;
    ngx_str_set(&ctx->request_id, "fuzz");

    fr->r = r;
    fr->ctx = ctx;

    ngx_fuzz_current = fr;

    return fr;
}


/*
 * A request header as nginx's parser passes it: NGX_DECLINED where nginx
 * would have refused the request (400) or ignored the header.
 */

ngx_int_t
ngx_fuzz_header(ngx_fuzz_req_t *fr, u_char *name, size_t nlen,
    u_char *value, size_t vlen)
{
    size_t               i;
    ngx_table_elt_t     *h, **cookie;
    ngx_http_request_t  *r = fr->r;

    if (nlen == 0) {
        return NGX_DECLINED;
    }

    for (i = 0; i < nlen; i++) {
        if (!(isalnum(name[i]) || name[i] == '-')) {
            return NGX_DECLINED;
        }
    }

    for (i = 0; i < vlen; i++) {
        if (value[i] == '\0' || value[i] == CR || value[i] == LF) {
            return NGX_DECLINED;
        }
    }

    /* nginx drops the spaces around a value */

    while (vlen > 0 && *value == ' ') {
        value++;
        vlen--;
    }

    while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) {
        vlen--;
    }

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key.len = nlen;
    h->key.data = ngx_pnalloc(r->pool, nlen + 1);
    h->value.len = vlen;
    h->value.data = ngx_pnalloc(r->pool, vlen + 1);
    h->lowcase_key = ngx_pnalloc(r->pool, nlen);

    if (h->key.data == NULL || h->value.data == NULL
        || h->lowcase_key == NULL)
    {
        return NGX_ERROR;
    }

    ngx_cpystrn(h->key.data, name, nlen + 1);
    ngx_cpystrn(h->value.data, value, vlen + 1);
    h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, nlen);

    /* the members of headers_in that the module reads */

    if (nlen == 13 && ngx_strncasecmp(name, (u_char *) "Authorization", 13)
                      == 0)
    {
        if (r->headers_in.authorization != NULL) {
            return NGX_DECLINED;
        }

        r->headers_in.authorization = h;

    } else if (nlen == 12
               && ngx_strncasecmp(name, (u_char *) "Content-Type", 12) == 0)
    {
        if (r->headers_in.content_type == NULL) {
            r->headers_in.content_type = h;
        }

    } else if (nlen == 6
               && ngx_strncasecmp(name, (u_char *) "Cookie", 6) == 0)
    {
        cookie = ngx_array_push(&r->headers_in.cookies);
        if (cookie == NULL) {
            return NGX_ERROR;
        }

        *cookie = h;
    }

    return NGX_OK;
}


/* "Name: value" lines */

ngx_int_t
ngx_fuzz_headers(ngx_fuzz_req_t *fr, u_char *p, u_char *last)
{
    u_char  *eol, *colon;

    while (p < last) {
        eol = ngx_strlchr(p, last, LF);
        if (eol == NULL) {
            eol = last;
        }

        colon = ngx_strlchr(p, eol, ':');

        if (colon != NULL
            && ngx_fuzz_header(fr, p, colon - p, colon + 1, eol - colon - 1)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        p = eol + 1;
    }

    return NGX_OK;
}


/* a body of len bytes in up to pieces buffers, each one allocation */

ngx_int_t
ngx_fuzz_body(ngx_fuzz_req_t *fr, u_char *p, size_t len, ngx_uint_t pieces)
{
    size_t               n;
    ngx_buf_t           *b;
    ngx_chain_t         *cl, **ll;
    ngx_http_request_t  *r = fr->r;

    r->headers_in.content_length_n = len;

    ll = &fr->body;

    do {
        n = (pieces > 1) ? len / pieces : len;
        pieces = (pieces > 1) ? pieces - 1 : 1;

        b = ngx_calloc_buf(r->pool);
        cl = ngx_alloc_chain_link(r->pool);
        if (b == NULL || cl == NULL) {
            return NGX_ERROR;
        }

        b->start = ngx_pnalloc(r->pool, n);
        if (b->start == NULL) {
            return NGX_ERROR;
        }

        b->pos = b->start;
        b->last = ngx_cpymem(b->start, p, n);
        b->end = b->last;
        b->temporary = 1;

        cl->buf = b;
        cl->next = NULL;
        *ll = cl;
        ll = &cl->next;

        p += n;
        len -= n;

    } while (len > 0);

    return NGX_OK;
}


/* an authenticated caller of a kind: NGX_HTTP_CVC_ADMIN, ... */

ngx_int_t
ngx_fuzz_principal(ngx_fuzz_req_t *fr, ngx_uint_t kind)
{
    ngx_http_cvc_principal_t  *p = &fr->ctx->principal;

    p->kind = kind;

    switch (kind) {

    case NGX_HTTP_CVC_ADMIN:
        ngx_str_set(&p->kind_name, "admin");
        ngx_str_set(&p->id, "123456");
        ngx_str_set(&p->account, "admin:123456");
        p->convention = p->id;
        break;

    case NGX_HTTP_CVC_POS:
        ngx_str_set(&p->kind_name, "point_of_sale");
        ngx_str_set(&p->id, "123456000001");
        ngx_str_set(&p->account, "point_of_sale:123456000001");
        ngx_str_set(&p->convention, "123456");
        break;

    case NGX_HTTP_CVC_API_KEY:
        ngx_str_set(&p->kind_name, "api_key");
        ngx_str_set(&p->id, "42");
        ngx_str_set(&p->account, "api_key:42");
        ngx_str_set(&p->point_of_sale, "123456000001");
        break;

    default: /* NGX_HTTP_CVC_CUSTOMER */
        p->kind = NGX_HTTP_CVC_CUSTOMER;
        ngx_str_set(&p->kind_name, "customer");
        ngx_str_set(&p->id, "12345678901");
        ngx_str_set(&p->account, "customer:12345678901");
        break;
    }

    ngx_str_set(&p->session, "cvc:session:fuzz");
    ngx_str_set(&p->csrf, "fuzz-csrf");

    return NGX_OK;
}


/*
 * The content handler returned rc to nginx, which finalizes with it; then
 * the contract: the request was finalized once, with an answer of the
 * module's (never a page of nginx's), no reference to it is left, and
 * every error is the JSON of {"error": {"code", "message", "request_id"}}.
 */

void
ngx_fuzz_done(ngx_fuzz_req_t *fr, ngx_int_t rc)
{
    ngx_http_request_t  *r = fr->r;

    ngx_http_finalize_request(r, rc);

    if (r->count != 0) {
        ngx_fuzz_fail("%ui references left", (ngx_uint_t) r->count);
    }

    if (ngx_fuzz_verbose) {
        fprintf(stderr, "ngx_fuzz: %d %.*s\n", (int) fr->answer.status,
                (int) fr->answer.body.len, fr->answer.body.data);
    }

    if (fr->answer.finalized != 1) {
        ngx_fuzz_fail("finalized %ui times", fr->answer.finalized);
    }

    if (!r->header_sent) {
        ngx_fuzz_fail("no answer of the module's, finalized with %i",
                      fr->answer.rc);
    }

    switch (fr->answer.status) {

    case NGX_HTTP_OK:
    case NGX_HTTP_CREATED:
    case NGX_HTTP_ACCEPTED:
    case NGX_HTTP_NO_CONTENT:
    case NGX_HTTP_BAD_REQUEST:
    case NGX_HTTP_UNAUTHORIZED:
    case NGX_HTTP_FORBIDDEN:
    case NGX_HTTP_NOT_FOUND:
    case NGX_HTTP_NOT_ALLOWED:
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
    case 422:
    case 423:
    case NGX_HTTP_TOO_MANY_REQUESTS:
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        break;

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
        if (ngx_fuzz_alert_ok) {
            break;
        }

        /* fall through: no input of a client is an internal error */

    default:
        ngx_fuzz_fail("answered %ui: %V", fr->answer.status,
                      &fr->answer.body);
    }

    ngx_fuzz_check_json(fr);
}


static void
ngx_fuzz_check_json(ngx_fuzz_req_t *fr)
{
    json_t      *json, *error;
    const char  *id;

    if (fr->answer.body.len == 0) {
        if (fr->answer.status >= NGX_HTTP_BAD_REQUEST) {
            ngx_fuzz_fail("%ui without a body", fr->answer.status);
        }

        return;
    }

    json = json_loadb((char *) fr->answer.body.data, fr->answer.body.len, 0,
                      NULL);
    if (json == NULL) {
        ngx_fuzz_fail("not JSON: %V", &fr->answer.body);
    }

    /* the health check's 503 is {"status": "down", ...} */

    if (fr->answer.status >= NGX_HTTP_BAD_REQUEST
        && !(fr->ctx->route != NULL
             && fr->ctx->route->handler == ngx_http_cvc_health))
    {
        error = json_object_get(json, "error");
        id = json_string_value(json_object_get(error, "request_id"));

        if (!json_is_string(json_object_get(error, "code"))
            || !json_is_string(json_object_get(error, "message"))
            || id == NULL
            || ngx_strlen(id) != fr->ctx->request_id.len
            || ngx_strncmp(id, fr->ctx->request_id.data,
                           fr->ctx->request_id.len) != 0)
        {
            ngx_fuzz_fail("not the contract's error: %V", &fr->answer.body);
        }
    }

    json_decref(json);
}


/* what nginx's ngx_http_free_request() would run, then the pool */

void
ngx_fuzz_request_free(ngx_fuzz_req_t *fr)
{
    ngx_http_cleanup_t  *cln;
    ngx_http_request_t  *r = fr->r;

    for (cln = r->cleanup; cln; cln = cln->next) {
        if (cln->handler) {
            cln->handler(cln->data);
        }
    }

    if (fr->ctx->body != NULL) {
        json_decref(fr->ctx->body);
    }

    ngx_fuzz_current = NULL;

    ngx_destroy_pool(r->pool);
}


static ngx_int_t
ngx_fuzz_header_filter(ngx_http_request_t *r)
{
    ngx_fuzz_current->answer.status = r->headers_out.status;
    r->header_sent = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_fuzz_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    u_char          *p;
    size_t           len;
    ngx_chain_t     *cl;
    ngx_fuzz_req_t  *fr = ngx_fuzz_current;

    len = fr->answer.body.len;

    for (cl = in; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (fr->answer.body.len > 0) {
        ngx_memcpy(p, fr->answer.body.data, fr->answer.body.len);
    }

    fr->answer.body.data = p;
    p += fr->answer.body.len;

    for (cl = in; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    fr->answer.body.len = len;

    return NGX_OK;
}


/* an [alert] or [emerg] is a broken invariant, unless the data was */

static void
ngx_fuzz_log_writer(ngx_log_t *log, ngx_uint_t level, u_char *buf,
    size_t len)
{
    if (!ngx_fuzz_alert_ok) {
        ngx_fuzz_fail("logged: %*s", len, buf);
    }
}


ngx_uint_t
ngx_fuzz_byte(ngx_fuzz_input_t *in)
{
    return (in->pos < in->last) ? *in->pos++ : 0;
}


/* the next line, without its LF; NGX_DECLINED at the end */

ngx_int_t
ngx_fuzz_line(ngx_fuzz_input_t *in, ngx_str_t *line)
{
    u_char  *eol;

    if (in->pos >= in->last) {
        ngx_str_null(line);
        return NGX_DECLINED;
    }

    eol = ngx_strlchr(in->pos, in->last, LF);
    if (eol == NULL) {
        eol = in->last;
    }

    line->data = in->pos;
    line->len = eol - in->pos;

    in->pos = (eol < in->last) ? eol + 1 : eol;

    return NGX_OK;
}


void
ngx_fuzz_fail(const char *fmt, ...)
{
    u_char   buf[1024], *p;
    va_list  args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    fprintf(stderr, "ngx_fuzz: %s\n", buf);
    abort();
}

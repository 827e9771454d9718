
/*
 * CVC gateway: the content handler.  Request id, routing, the request
 * body, JSON answers and errors in the contract's format.
 */


#include "ngx_http_cvc_module.h"

#include <openssl/rand.h>


static ngx_int_t ngx_http_cvc_set_request_id(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static void ngx_http_cvc_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_cvc_parse_body(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t *rc);
static ngx_int_t ngx_http_cvc_json_content_type(ngx_http_request_t *r);
static void ngx_http_cvc_cleanup(void *data);


static ngx_str_t  ngx_http_cvc_json_type = ngx_string("application/json");


ngx_int_t
ngx_http_cvc_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 allow;
    ngx_http_cleanup_t       *cln;
    ngx_http_cvc_ctx_t       *ctx;
    ngx_http_cvc_loc_conf_t  *lcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_cvc_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_cvc_module);
    ctx->request = r;

    if (ngx_http_cvc_set_request_id(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_cvc_cleanup;
    cln->data = ctx;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cvc_module);

    /* the ops location tells nothing of its routes without the token */

    if (lcf->ops && ngx_http_cvc_ops_auth(r) != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_cvc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       "The ops token is missing or wrong.",
                                       NULL);
    }

    rc = lcf->metrics ? ngx_http_cvc_metrics_route(r, ctx, &allow)
                      : ngx_http_cvc_route(r, ctx, lcf->ops, &allow);

    if (rc != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (allow.len == 0) {
            return ngx_http_cvc_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                           "No such resource.", NULL);
        }

        if (ngx_http_cvc_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_cvc_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                       "method_not_allowed",
                                       "This method is not allowed here.",
                                       NULL);
    }

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {

        if (ngx_http_cvc_json_content_type(r) != NGX_OK) {
            if (ngx_http_discard_request_body(r) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_cvc_send_error(r,
                                      NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                      "unsupported_media_type",
                                      "The body must be application/json.",
                                      NULL);
        }

        if (r->headers_in.content_length_n > NGX_HTTP_CVC_MAX_BODY) {
            if (ngx_http_discard_request_body(r) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_cvc_send_error(r,
                                      NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "payload_too_large",
                                      "The body is larger than 64 KiB.",
                                      NULL);
        }

        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r, ngx_http_cvc_body_handler);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    ngx_http_cvc_body_handler(r);

    return NGX_DONE;
}


/* the body is in (or there is none): who calls? */

static void
ngx_http_cvc_body_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);

    rc = ngx_http_cvc_authenticate(r, ctx);

    if (rc == NGX_DECLINED) {
        ngx_http_cvc_proceed(r);
        return;
    }

    ngx_http_cvc_finalize(r, rc);
}


/* the caller is known: the JSON body, then the route's handler */

void
ngx_http_cvc_proceed(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);

    if (r->request_body != NULL && r->request_body->bufs != NULL) {
        if (ngx_http_cvc_parse_body(r, ctx, &rc) != NGX_OK) {
            ngx_http_cvc_finalize(r, rc);
            return;
        }

    } else {
        /* no body: an empty object, whose fields are all missing */

        ctx->body = json_object();
        if (ctx->body == NULL) {
            ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_http_cvc_finalize(r, ctx->route->handler(r, ctx));
}


/*
 * NGX_OK: ctx->body is the request's JSON object.  NGX_DECLINED: the
 * request was answered, with *rc to finalize it with.
 */

static ngx_int_t
ngx_http_cvc_parse_body(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_int_t *rc)
{
    u_char       *p;
    size_t        len;
    ngx_buf_t    *b;
    ngx_str_t     error;
    ngx_chain_t  *cl;

    if (r->request_body == NULL || r->request_body->temp_file != NULL) {
        /* the body went to a file: larger than client_body_buffer_size */
        *rc = ngx_http_cvc_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "payload_too_large",
                                      "The body is larger than 64 KiB.",
                                      NULL);
        return NGX_DECLINED;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            len = NGX_HTTP_CVC_MAX_BODY + 1;
            break;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    if (len > NGX_HTTP_CVC_MAX_BODY) {
        *rc = ngx_http_cvc_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "payload_too_large",
                                      "The body is larger than 64 KiB.",
                                      NULL);
        return NGX_DECLINED;
    }

    cl = r->request_body->bufs;

    if (cl != NULL && cl->next == NULL) {
        b = cl->buf;
        p = b->pos;

    } else {
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DECLINED;
        }

        len = 0;

        for ( /* void */ ; cl; cl = cl->next) {
            ngx_memcpy(p + len, cl->buf->pos, cl->buf->last - cl->buf->pos);
            len += cl->buf->last - cl->buf->pos;
        }
    }

    ctx->body = ngx_http_cvc_json_parse(p, len, &error, r->pool);

    if (ctx->body == NULL) {
        if (error.len == 0) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DECLINED;
        }

        *rc = ngx_http_cvc_send_error(r, NGX_HTTP_BAD_REQUEST, "invalid_json",
                                      (char *) error.data, NULL);
        return NGX_DECLINED;
    }

    if (!json_is_object(ctx->body)) {
        *rc = ngx_http_cvc_send_error(r, 422, "validation_failed",
                                      "The body must be a JSON object.",
                                      NULL);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cvc_json_content_type(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t   type;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    type = r->headers_in.content_type->value;
    last = type.data + type.len;

    for (p = type.data; p < last && *p != ';' && *p != ' '; p++) {
        /* void */
    }

    if ((size_t) (p - type.data) != ngx_http_cvc_json_type.len
        || ngx_strncasecmp(type.data, ngx_http_cvc_json_type.data,
                           ngx_http_cvc_json_type.len) != 0)
    {
        return NGX_DECLINED;
    }

    /* a charset, when given, is UTF-8 */

    for ( /* void */ ; p < last; p++) {
        if (*p == '=') {
            p++;

            if (last - p == 5 && ngx_strncasecmp(p, (u_char *) "utf-8", 5) == 0)
            {
                return NGX_OK;
            }

            if (last - p == 7
                && ngx_strncasecmp(p, (u_char *) "\"utf-8\"", 7) == 0)
            {
                return NGX_OK;
            }

            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * X-Request-Id: the caller's when sane (1..128 of [A-Za-z0-9._-]),
 * else 16 random bytes in hex.
 */

static ngx_int_t
ngx_http_cvc_set_request_id(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char     *p, rnd[16];
    ngx_str_t   id;

    if (ngx_http_cvc_header(r, "X-Request-Id", &id) == NGX_OK
        && id.len > 0 && id.len <= NGX_HTTP_CVC_REQUEST_ID_LEN)
    {
        for (p = id.data; p < id.data + id.len; p++) {
            if (!(isalnum(*p) || *p == '.' || *p == '_' || *p == '-')) {
                break;
            }
        }

        if (p == id.data + id.len) {
            ctx->request_id = id;
            return ngx_http_cvc_add_header(r, "X-Request-Id", &id);
        }
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "cvc: RAND_bytes() failed");
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, 2 * sizeof(rnd));
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->request_id.data = p;
    ctx->request_id.len = ngx_hex_dump(p, rnd, sizeof(rnd)) - p;

    return ngx_http_cvc_add_header(r, "X-Request-Id", &ctx->request_id);
}


/* $cvc_request_id, $cvc_account: a string of the request's ctx */

ngx_int_t
ngx_http_cvc_ctx_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t           *s;
    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_cvc_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_cvc_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


ngx_int_t
ngx_http_cvc_send_json(ngx_http_request_t *r, ngx_uint_t status, json_t *json)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   text;

    p = ngx_http_cvc_json_dump(r->pool, json, &len);

    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text.data = p;
    text.len = len;

    return ngx_http_cvc_send_raw(r, status, &text);
}


/* sends JSON text as it is (an answer built by PostgreSQL) */

ngx_int_t
ngx_http_cvc_send_raw(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *text)
{
    return ngx_http_cvc_send_body(r, status, &ngx_http_cvc_json_type, text);
}


/* an answer of that type, not to be stored */

ngx_int_t
ngx_http_cvc_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *text)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    static ngx_str_t  no_store = ngx_string("no-store");
    static ngx_str_t  nosniff = ngx_string("nosniff");

    if (ngx_http_cvc_add_header(r, "Cache-Control", &no_store) != NGX_OK
        || ngx_http_cvc_add_header(r, "X-Content-Type-Options", &nosniff)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = text->len;

    if (text->len == 0) {
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = text->data;
    b->last = text->data + text->len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


/*
 * {"error": {"code", "message", "request_id", ...extra}}: extra holds
 * "fields" or the members a code announces (attempts_left); it is stolen.
 */

ngx_int_t
ngx_http_cvc_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, json_t *extra)
{
    json_t              *error, *json;
    ngx_int_t            rc;
    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "cvc: %ui %s: %s", status, code, message);

    error = json_pack("{ssss}", "code", code, "message", message);

    if (error == NULL
        || (extra != NULL && json_object_update(error, extra) != 0)
        || json_object_set_new(error, "request_id",
                               json_stringn((char *) ctx->request_id.data,
                                            ctx->request_id.len))
           != 0)
    {
        json_decref(extra);
        json_decref(error);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_decref(extra);

    json = json_pack("{so}", "error", error);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_cvc_send_json(r, status, json);

    json_decref(json);

    return rc;
}


/* 503 unavailable, with Retry-After, when a backend failed or timed out */

ngx_int_t
ngx_http_cvc_send_unavailable(ngx_http_request_t *r, const char *what)
{
    u_char  message[64];

    static ngx_str_t  retry_after = ngx_string("5");

    if (ngx_http_cvc_add_header(r, "Retry-After", &retry_after) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_cvc_cstr(message, sizeof(message),
                             "%s is unavailable; retry later.", what);

    return ngx_http_cvc_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "unavailable", (char *) message, NULL);
}


/* a 500 of the module's own, in the contract's format when still possible */

ngx_int_t
ngx_http_cvc_internal_error(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc != NGX_HTTP_INTERNAL_SERVER_ERROR || r->header_sent) {
        return rc;
    }

    return ngx_http_cvc_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "internal_error",
                                   "An internal error occurred.", NULL);
}


/* 422 validation_failed with the fields at fault (stolen) */

ngx_int_t
ngx_http_cvc_send_invalid(ngx_http_request_t *r, json_t *fields)
{
    json_t  *extra;

    extra = json_pack("{so}", "fields", fields);
    if (extra == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_send_error(r, 422, "validation_failed",
                                   "Some fields are invalid.", extra);
}


/* 429 rate_limited, to be retried after retry_after seconds */

ngx_int_t
ngx_http_cvc_send_rate_limited(ngx_http_request_t *r, const char *message,
    ngx_uint_t retry_after)
{
    ngx_str_t  value;

    value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%ui", retry_after) - value.data;

    if (ngx_http_cvc_add_header(r, "Retry-After", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   "rate_limited", message, NULL);
}


ngx_int_t
ngx_http_cvc_send_no_content(ngx_http_request_t *r)
{
    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* the value of a request header */

ngx_int_t
ngx_http_cvc_header(ngx_http_request_t *r, const char *name, ngx_str_t *value)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_DECLINED;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            *value = h[i].value;
            return NGX_OK;
        }
    }
}


/* the client's address and the request id: the audit's last parameters */

void
ngx_http_cvc_client_params(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_str_t *params)
{
    params[0] = r->connection->addr_text;
    params[1] = ctx->request_id;
}


/* the caller, as the first two parameters of SQL functions */

void
ngx_http_cvc_principal_params(ngx_http_cvc_ctx_t *ctx, ngx_str_t *params)
{
    params[0] = ctx->principal.kind_name;
    params[1] = ctx->principal.id;
}


/* the token of "Authorization: Bearer <token>" */

ngx_int_t
ngx_http_cvc_bearer(ngx_http_request_t *r, ngx_str_t *token)
{
    ngx_str_t  value;

    if (r->headers_in.authorization == NULL) {
        return NGX_DECLINED;
    }

    value = r->headers_in.authorization->value;

    if (value.len <= sizeof("Bearer ") - 1
        || ngx_strncasecmp(value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) != 0)
    {
        return NGX_DECLINED;
    }

    token->data = value.data + sizeof("Bearer ") - 1;
    token->len = value.len - (sizeof("Bearer ") - 1);

    return NGX_OK;
}


/*
 * ends a request from a backend or thread callback; NGX_DONE: the request
 * goes on with another operation
 */

void
ngx_http_cvc_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    if (rc == NGX_DONE) {
        return;
    }

    c = r->connection;

    rc = ngx_http_cvc_internal_error(r, rc);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the request goes away: its backend operations finish without it */

static void
ngx_http_cvc_cleanup(void *data)
{
    ngx_http_cvc_ctx_t  *ctx = data;

    ngx_http_cvc_health_detach(ctx);

    if (ctx->pg_op != NULL) {
        ngx_http_cvc_pg_detach(ctx->pg_op);
        ctx->pg_op = NULL;
    }

    if (ctx->redis_cmd != NULL) {
        ngx_http_cvc_redis_detach(ctx->redis_cmd);
        ctx->redis_cmd = NULL;
    }

    if (ctx->task != NULL) {
        ngx_http_cvc_task_detach(ctx->task);
        ctx->task = NULL;
    }

    if (ctx->body != NULL) {
        json_decref(ctx->body);
        ctx->body = NULL;
    }
}


/*
 * CVC gateway: the answers: JSON bodies and downloads (never stored:
 * Cache-Control: no-store), errors in the contract's format with the
 * request id, and the end of a request that backends kept waiting
 * (ngx_http_cvc_finalize).
 */


#include "ngx_http_cvc_module.h"


ngx_str_t  ngx_http_cvc_json_type = ngx_string("application/json");


static ngx_int_t ngx_http_cvc_no_store(ngx_http_request_t *r);
static ngx_int_t ngx_http_cvc_send_buf(ngx_http_request_t *r, ngx_buf_t *b);


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


/* an answer not to be stored, nor its type guessed */

static ngx_int_t
ngx_http_cvc_no_store(ngx_http_request_t *r)
{
    static ngx_str_t  no_store = ngx_string("no-store");
    static ngx_str_t  nosniff = ngx_string("nosniff");

    if (ngx_http_cvc_add_header(r, "Cache-Control", &no_store) != NGX_OK
        || ngx_http_cvc_add_header(r, "X-Content-Type-Options", &nosniff)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* an answer of that type, not to be stored */

ngx_int_t
ngx_http_cvc_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *text)
{
    ngx_buf_t  *b;

    if (ngx_http_cvc_no_store(r) != NGX_OK) {
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

    return ngx_http_cvc_send_buf(r, b);
}


/*
 * An open file as a download, named filename.  The descriptor is the
 * request's from now on: closed with it, or here when it can't be.
 */

ngx_int_t
ngx_http_cvc_send_file(ngx_http_request_t *r, ngx_fd_t fd, off_t size,
    ngx_str_t *type, ngx_str_t *filename)
{
    ngx_str_t                 disposition;
    ngx_buf_t                *b;
    ngx_pool_cleanup_t       *cln;
    ngx_pool_cleanup_file_t  *clnf;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        ngx_close_file(fd);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    clnf = cln->data;
    clnf->fd = fd;
    clnf->name = filename->data;
    clnf->log = r->connection->log;
    cln->handler = ngx_pool_cleanup_file;

    disposition.len = sizeof("attachment; filename=\"\"") - 1
                      + filename->len;
    disposition.data = ngx_pnalloc(r->pool, disposition.len);
    if (disposition.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(disposition.data, "attachment; filename=\"%V\"", filename);

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cvc_add_header(r, "Content-Disposition", &disposition)
        != NGX_OK
        || ngx_http_cvc_no_store(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = size;

    b->file->fd = fd;
    b->file->name = *filename;
    b->file->log = r->connection->log;
    b->file_pos = 0;
    b->file_last = size;
    b->in_file = (size > 0);

    return ngx_http_cvc_send_buf(r, b);
}


/* the header, then b, the whole body */

static ngx_int_t
ngx_http_cvc_send_buf(ngx_http_request_t *r, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

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


/* 400 invalid_parameter, name at fault; a 500 where name is NULL (a
 * query that could not be read) */

ngx_int_t
ngx_http_cvc_bad_parameter(ngx_http_request_t *r, const char *name)
{
    u_char  msg[128];

    if (name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_cvc_cstr(msg, sizeof(msg),
                             "The query has %s%s that is not valid.",
                             (ngx_strncmp(name, "an ", 3) == 0)
                             ? "" : "a parameter ", name);

    return ngx_http_cvc_send_error(r, NGX_HTTP_BAD_REQUEST,
                                   "invalid_parameter", (char *) msg,
                                   json_pack("{ss}", "parameter", name));
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


/*
 * CVC gateway: what the module reads of a request: its JSON body, its
 * request id (X-Request-Id or a new one), its headers and bearer token,
 * and the parameters that the SQL functions take of every call (the
 * client's address, the request id, who calls).
 */


#include "ngx_http_cvc_module.h"

#include <openssl/rand.h>


/*
 * NGX_OK: ctx->body is the request's JSON object.  NGX_DECLINED: the
 * request was answered, with *rc to finalize it with.
 */

ngx_int_t
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


ngx_int_t
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

ngx_int_t
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

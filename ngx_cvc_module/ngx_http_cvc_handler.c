
/*
 * CVC gateway: the content handler, the life of a request of the API or
 * ops locations: its id and cleanup, its route, its body read, who calls
 * (ngx_http_cvc_auth.c), then the route's handler.  What it reads of the
 * request is in ngx_http_cvc_request.c, what it answers in
 * ngx_http_cvc_response.c.
 */


#include "ngx_http_cvc_module.h"


static ngx_int_t ngx_http_cvc_no_route(ngx_http_request_t *r,
    ngx_str_t *allow);
static ngx_int_t ngx_http_cvc_read_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_cvc_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);
static void ngx_http_cvc_body_handler(ngx_http_request_t *r);
static void ngx_http_cvc_cleanup(void *data);


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
    ctx->authenticated = ngx_http_cvc_proceed;

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
        return ngx_http_cvc_refuse(r, NGX_HTTP_UNAUTHORIZED,
                                   "unauthenticated",
                                   "The ops token is missing or wrong.");
    }

    rc = lcf->metrics ? ngx_http_cvc_metrics_route(r, ctx, &allow)
                      : ngx_http_cvc_route(r, ctx, lcf->ops, &allow);

    if (rc != NGX_OK) {
        return ngx_http_cvc_no_route(r, &allow);
    }

    if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
        return ngx_http_cvc_read_body(r);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    ngx_http_cvc_body_handler(r);

    return NGX_DONE;
}


/* no route: 404, or 405 with the path's methods in Allow */

static ngx_int_t
ngx_http_cvc_no_route(ngx_http_request_t *r, ngx_str_t *allow)
{
    if (allow->len == 0) {
        return ngx_http_cvc_refuse(r, NGX_HTTP_NOT_FOUND, "not_found",
                                   "No such resource.");
    }

    if (ngx_http_cvc_add_header(r, "Allow", allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_refuse(r, NGX_HTTP_NOT_ALLOWED, "method_not_allowed",
                               "This method is not allowed here.");
}


/* a JSON body of at most NGX_HTTP_CVC_MAX_BODY, read in one buffer */

static ngx_int_t
ngx_http_cvc_read_body(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (ngx_http_cvc_json_content_type(r) != NGX_OK) {
        return ngx_http_cvc_refuse(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                   "unsupported_media_type",
                                   "The body must be application/json.");
    }

    if (r->headers_in.content_length_n > NGX_HTTP_CVC_MAX_BODY) {
        return ngx_http_cvc_refuse(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                   "payload_too_large",
                                   "The body is larger than 64 KiB.");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_cvc_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* an error before the body is read: the body is discarded */

static ngx_int_t
ngx_http_cvc_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_send_error(r, status, code, message, NULL);

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

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "cvc: %s, caller \"%V\", request id %V",
                   ctx->route->pattern, &ctx->principal.account,
                   &ctx->request_id);

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



/*
 * CVC gateway: GET /api/v1/health, a real round trip to each backend,
 * both at once.
 */


#include "ngx_http_cvc_module.h"


static void ngx_http_cvc_health_pg(void *data, ngx_int_t rc, PGresult *res);
static void ngx_http_cvc_health_redis(void *data, ngx_int_t rc,
    redisReply *reply);
static ngx_int_t ngx_http_cvc_health_send(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);


ngx_int_t
ngx_http_cvc_health(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    static const char  *ping[] = { "PING" };
    static size_t       ping_len[] = { 4 };

    ctx->pg_rc = NGX_ERROR;
    ctx->redis_rc = NGX_ERROR;

    if (ngx_http_cvc_pg_query(&ctx->pg_op, "SELECT 1", 0, NULL,
                              ngx_http_cvc_health_pg, r)
        == NGX_AGAIN)
    {
        ctx->pending++;
    }

    if (ngx_http_cvc_redis_command(&ctx->redis_cmd, 1, ping, ping_len,
                                   ngx_http_cvc_health_redis, r)
        == NGX_AGAIN)
    {
        ctx->pending++;
    }

    if (ctx->pending > 0) {
        return NGX_DONE;
    }

    return ngx_http_cvc_health_send(r, ctx);
}


static void
ngx_http_cvc_health_pg(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_request_t  *r = data;

    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->pg_op = NULL;

    if (rc == NGX_OK && PQresultStatus(res) == PGRES_TUPLES_OK) {
        ctx->pg_rc = NGX_OK;
    }

    if (--ctx->pending == 0) {
        ngx_http_cvc_finalize(r, ngx_http_cvc_health_send(r, ctx));
    }
}


static void
ngx_http_cvc_health_redis(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_http_request_t  *r = data;

    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->redis_cmd = NULL;

    if (rc == NGX_OK && reply->type == REDIS_REPLY_STATUS) {
        ctx->redis_rc = NGX_OK;
    }

    if (--ctx->pending == 0) {
        ngx_http_cvc_finalize(r, ngx_http_cvc_health_send(r, ctx));
    }
}


static ngx_int_t
ngx_http_cvc_health_send(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *json;
    ngx_int_t    rc;
    ngx_uint_t   ok;

    static ngx_str_t  retry_after = ngx_string("5");

    ok = (ctx->pg_rc == NGX_OK && ctx->redis_rc == NGX_OK);

    json = json_pack("{ssssssss}",
                     "status", ok ? "ok" : "down",
                     "postgres", (ctx->pg_rc == NGX_OK) ? "ok" : "down",
                     "redis", (ctx->redis_rc == NGX_OK) ? "ok" : "down",
                     "version", NGX_HTTP_CVC_VERSION);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ok) {
        if (ngx_http_cvc_add_header(r, "Retry-After", &retry_after)
            != NGX_OK)
        {
            json_decref(json);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_cvc_send_json(r, ok ? NGX_HTTP_OK
                                      : NGX_HTTP_SERVICE_UNAVAILABLE, json);

    json_decref(json);

    return rc;
}

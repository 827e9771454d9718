
/*
 * CVC gateway: the merchant's and the customer's account resources: who
 * am I, the points of sale, API keys, the webhook, business days.  Each is
 * one SQL function that checks who may reach what.
 */


#include "ngx_http_cvc_module.h"

#include <curl/curl.h>


static ngx_int_t ngx_http_cvc_api_key_created(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_webhook_host(ngx_pool_t *pool, const char *url,
    ngx_str_t *host);
static void ngx_http_cvc_webhook_checked(void *data, ngx_int_t rc,
    const char *why);
static ngx_int_t ngx_http_cvc_webhook_save(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);


/* GET /api/v1/merchant/me */

ngx_int_t
ngx_http_cvc_merchant_me(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[2];

    ngx_http_cvc_principal_params(ctx, params);

    return ngx_http_cvc_call(r, ctx, "select cvc.merchant_me($1, $2)", 2,
                             params, NGX_HTTP_OK);
}


/* GET /api/v1/points-of-sale */

ngx_int_t
ngx_http_cvc_pos_list(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[2];

    ngx_http_cvc_principal_params(ctx, params);

    return ngx_http_cvc_call(r, ctx, "select cvc.points_of_sale_list($1, $2)",
                             2, params, NGX_HTTP_OK);
}


/*
 * POST /api/v1/points-of-sale/{pos}/api-keys {"name"}: the secret, 256
 * random bits, is shown this once; PostgreSQL keeps its SHA-256.
 */

ngx_int_t
ngx_http_cvc_api_key_create(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *errors;
    ngx_str_t    params[8], *secret;

    static const char  *fields[] = { "name", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_cvc_json_string(ctx->body, "name", 1, 100, 1, errors);

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    secret = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (secret == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = secret;

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];

    if (ngx_http_cvc_random(r->pool, 12, "ak_", 1, &params[3]) != NGX_OK
        || ngx_http_cvc_random(r->pool, 32, "cvc_sk_", 0, secret) != NGX_OK
        || ngx_http_cvc_sha256_hex(r->pool, secret, &params[5]) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_cvc_json_param(ctx->body, "name", &params[4]);
    ngx_http_cvc_client_params(r, ctx, &params[6]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.api_key_create($1, $2, $3, $4, "
                                "$5, $6, $7, $8)", 8, params,
                                ngx_http_cvc_api_key_created);
}


static ngx_int_t
ngx_http_cvc_api_key_created(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_str_t  *secret = ctx->data;

    /* shown once; the key has not been used yet */

    json_object_del(result, "last_used_at");

    if (result == NULL
        || json_object_set_new(result, "secret",
                               json_stringn((char *) secret->data,
                                            secret->len))
           != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_send_json(r, NGX_HTTP_CREATED, result);
}


/* GET /api/v1/points-of-sale/{pos}/api-keys */

ngx_int_t
ngx_http_cvc_api_keys_list(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[3];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];

    return ngx_http_cvc_call(r, ctx, "select cvc.api_keys_list($1, $2, $3)",
                             3, params, NGX_HTTP_OK);
}


/* DELETE /api/v1/points-of-sale/{pos}/api-keys/{id} */

ngx_int_t
ngx_http_cvc_api_key_revoke(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[6];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];
    params[3] = ctx->params[1];
    ngx_http_cvc_client_params(r, ctx, &params[4]);

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.api_key_revoke($1, $2, $3, $4, $5, "
                             "$6)", 6, params, NGX_HTTP_NO_CONTENT);
}


/*
 * PUT /api/v1/points-of-sale/{pos}/webhook {"url"}: an http(s) URL whose
 * host does not lead to this machine or its networks (checked in the
 * thread pool, ngx_http_cvc_destination.c), then saved.
 */

ngx_int_t
ngx_http_cvc_webhook_put(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *errors;
    ngx_str_t    host;
    const char  *url, *p;

    static const char  *fields[] = { "url", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    url = ngx_http_cvc_json_string(ctx->body, "url", 1, 2048, 1, errors);

    if (url != NULL) {
        p = (ngx_strncmp(url, "https://", 8) == 0) ? url + 8
            : (ngx_strncmp(url, "http://", 7) == 0) ? url + 7 : NULL;

        if (p != NULL && *p == '/') {
            p = NULL;                           /* no host: "http:///x" */
        }

        if (p != NULL) {
            for ( /* void */ ; *p > ' ' && *p != 0x7f; p++) { /* void */ }
        }

        if (p == NULL || *p != '\0' || p == url + 7 || p == url + 8
            || ngx_http_cvc_webhook_host(r->pool, url, &host) != NGX_OK)
        {
            json_object_set_new(errors, "url",
                                json_string("must be an http:// or https:// "
                                            "URL"));
        }
    }

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    if (ngx_http_cvc_destination_check(&ctx->task, &host,
                                       ngx_http_cvc_webhook_checked, r)
        != NGX_AGAIN)
    {
        return ngx_http_cvc_send_unavailable(r, "The thread pool");
    }

    return NGX_DONE;
}


/* the URL's host, without an IPv6 address's brackets */

static ngx_int_t
ngx_http_cvc_webhook_host(ngx_pool_t *pool, const char *url, ngx_str_t *host)
{
    char       *h;
    CURLU      *u;
    u_char     *p;
    size_t      len;
    ngx_int_t   rc;

    u = curl_url();
    if (u == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;
    h = NULL;

    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
    {
        p = (u_char *) h;
        len = ngx_strlen(p);

        if (len > 2 && p[0] == '[' && p[len - 1] == ']') {
            p++;
            len -= 2;

        } else if (len > 1 && p[len - 1] == '.') {
            len--;                              /* "localhost." */
        }

        host->len = len;
        host->data = ngx_pnalloc(pool, len);

        if (host->data != NULL) {
            ngx_memcpy(host->data, p, len);
        }

        rc = (host->data != NULL && len > 0) ? NGX_OK : NGX_ERROR;
    }

    curl_free(h);
    curl_url_cleanup(u);

    return rc;
}


static void
ngx_http_cvc_webhook_checked(void *data, ngx_int_t rc, const char *why)
{
    ngx_http_request_t  *r = data;

    json_t              *errors;
    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->task = NULL;

    if (rc == NGX_OK) {
        ngx_http_cvc_finalize(r, ngx_http_cvc_webhook_save(r, ctx));
        return;
    }

    errors = json_pack("{s:s+}", "url", "must not lead to this machine or "
                       "a private network: ", why);
    if (errors == NULL) {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_cvc_finalize(r, ngx_http_cvc_send_invalid(r, errors));
}


static ngx_int_t
ngx_http_cvc_webhook_save(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[7];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];
    ngx_http_cvc_json_param(ctx->body, "url", &params[3]);

    if (ngx_http_cvc_random(r->pool, 32, "whsec_", 1, &params[4]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_cvc_client_params(r, ctx, &params[5]);

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.webhook_set($1, $2, $3, $4, $5, $6, "
                             "$7)", 7, params, NGX_HTTP_OK);
}


/* GET /api/v1/points-of-sale/{pos}/webhook */

ngx_int_t
ngx_http_cvc_webhook_get(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[3];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];

    return ngx_http_cvc_call(r, ctx, "select cvc.webhook_get($1, $2, $3)", 3,
                             params, NGX_HTTP_OK);
}


/* DELETE /api/v1/points-of-sale/{pos}/webhook */

ngx_int_t
ngx_http_cvc_webhook_delete(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[5];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];
    ngx_http_cvc_client_params(r, ctx, &params[3]);

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.webhook_delete($1, $2, $3, $4, $5)",
                             5, params, NGX_HTTP_NO_CONTENT);
}


/* GET /api/v1/customer/me */

ngx_int_t
ngx_http_cvc_customer_me(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_call(r, ctx, "select cvc.customer_me($1)", 1,
                             &ctx->principal.id, NGX_HTTP_OK);
}


/* GET /api/v1/business-days?from=YYYY-MM-DD&add=N, N in 0..60 */

ngx_int_t
ngx_http_cvc_business_days(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_int_t  add;
    ngx_str_t  params[2];

    if (ngx_http_arg(r, (u_char *) "from", 4, &params[0]) != NGX_OK
        || !ngx_http_cvc_is_date(params[0].data, params[0].len))
    {
        return ngx_http_cvc_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_parameter",
                                       "from must be a date, YYYY-MM-DD.",
                                       NULL);
    }

    if (ngx_http_arg(r, (u_char *) "add", 3, &params[1]) != NGX_OK
        || params[1].len == 0 || params[1].len > 2
        || (add = ngx_atoi(params[1].data, params[1].len)) == NGX_ERROR
        || add > 60)
    {
        return ngx_http_cvc_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_parameter",
                                       "add must be a number of days, 0 to "
                                       "60.", NULL);
    }

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.business_days($1::date, $2::int)", 2,
                             params, NGX_HTTP_OK);
}

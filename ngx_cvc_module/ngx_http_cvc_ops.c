
/*
 * CVC gateway: the ops API (/ops/v1), on the locations where "cvc_ops" is
 * on, with the operator's bearer token: provisioning and the test clock.
 */


#include "ngx_http_cvc_module.h"

#include <openssl/crypto.h>


static void ngx_http_cvc_ops_convention_hashed(void *data, ngx_int_t rc,
    ngx_str_t *hash);


/* "Authorization: Bearer <cvc_ops_token>", compared in constant time */

ngx_int_t
ngx_http_cvc_ops_auth(ngx_http_request_t *r)
{
    ngx_str_t                 token;
    ngx_http_cvc_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cvc_module);

    if (ngx_http_cvc_bearer(r, &token) == NGX_OK
        && token.len == lcf->ops_token.len
        && CRYPTO_memcmp(token.data, lcf->ops_token.data, token.len) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* POST /ops/v1/conventions {"id"?, "name", "email", "password"} */

ngx_int_t
ngx_http_cvc_ops_convention(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *errors;
    ngx_int_t    rc;
    ngx_str_t    password;
    const char  *pw;

    static const char  *fields[] = { "id", "name", "email", "password", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_cvc_json_digits(ctx->body, "id", 6, 0, errors);
    (void) ngx_http_cvc_json_string(ctx->body, "name", 1, 255, 1, errors);
    (void) ngx_http_cvc_json_email(ctx->body, "email", 1, errors);
    pw = ngx_http_cvc_json_string(ctx->body, "password", 12, 128, 1, errors);

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    password.data = (u_char *) pw;
    password.len = ngx_strlen(pw);

    rc = ngx_http_cvc_hash_make(&ctx->task, &password,
                                ngx_http_cvc_ops_convention_hashed, r);

    if (rc == NGX_AGAIN) {
        return NGX_DONE;
    }

    return ngx_http_cvc_send_unavailable(r, "The thread pool");
}


static void
ngx_http_cvc_ops_convention_hashed(void *data, ngx_int_t rc, ngx_str_t *hash)
{
    ngx_http_request_t  *r = data;

    ngx_str_t            params[6];
    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->task = NULL;

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "cvc: password hashing failed");
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_cvc_json_param(ctx->body, "id", &params[0]);
    ngx_http_cvc_json_param(ctx->body, "name", &params[1]);
    ngx_http_cvc_json_param(ctx->body, "email", &params[2]);
    params[3] = *hash;
    params[4] = r->connection->addr_text;
    params[5] = ctx->request_id;

    ngx_http_cvc_finalize(r, ngx_http_cvc_call(r, ctx,
                             "select cvc.create_convention($1, $2, $3, $4, "
                             "$5, $6)", 6, params, NGX_HTTP_CREATED));
}

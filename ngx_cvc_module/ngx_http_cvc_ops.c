
/*
 * CVC gateway: the ops API (/ops/v1), on the locations where "cvc_ops" is
 * on, with the operator's bearer token: provisioning, the audit log and
 * the test clock.
 */


#include "ngx_http_cvc_module.h"

#include <openssl/crypto.h>


static ngx_int_t ngx_http_cvc_ops_convention_hashed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
static ngx_int_t ngx_http_cvc_ops_pos_hashed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
static ngx_int_t ngx_http_cvc_ops_beneficiary_hashed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
static ngx_int_t ngx_http_cvc_ops_beneficiary_coded(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
static ngx_int_t ngx_http_cvc_ops_unlocked(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_ops_clock_db(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_ops_clock_done(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_ops_clock_cleared(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_ops_no_content(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_ops_hash_password(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *errors, ngx_http_cvc_hash_next_pt next);


static const ngx_http_cvc_param_t  ngx_http_cvc_audit_filters[] = {
    { "account", NGX_HTTP_CVC_PARAM_TEXT, 1, 64, NULL, 0 },
    { "event", NGX_HTTP_CVC_PARAM_TEXT, 1, 64, NULL, 0 },
    { "payment_request", NGX_HTTP_CVC_PARAM_TEXT, 1, 64, NULL, 0 },
    { "from", NGX_HTTP_CVC_PARAM_DATE, 0, 0, NULL, 0 },
    { "to", NGX_HTTP_CVC_PARAM_DATE, 0, 0, NULL, 0 },
    { "limit", NGX_HTTP_CVC_PARAM_INT, 1, 100, NULL, 0 },
    { "cursor", NGX_HTTP_CVC_PARAM_TEXT, 1, 200, NULL, 0 },
    { NULL, 0, 0, 0, NULL, 0 }
};


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
    json_t  *errors;

    static const char  *fields[] = { "id", "name", "email", "password", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_cvc_json_digits(ctx->body, "id", 6, 0, errors);
    (void) ngx_http_cvc_json_string(ctx->body, "name", 1, 255, 1, errors);
    (void) ngx_http_cvc_json_email(ctx->body, "email", 1, errors);
    (void) ngx_http_cvc_json_string(ctx->body, "password", 12, 128, 1, errors);

    return ngx_http_cvc_ops_hash_password(r, ctx, errors,
                                          ngx_http_cvc_ops_convention_hashed);
}


static ngx_int_t
ngx_http_cvc_ops_convention_hashed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash)
{
    ngx_str_t  params[6];

    ngx_http_cvc_json_param(ctx->body, "id", &params[0]);
    ngx_http_cvc_json_param(ctx->body, "name", &params[1]);
    ngx_http_cvc_json_param(ctx->body, "email", &params[2]);
    params[3] = *hash;
    ngx_http_cvc_client_params(r, ctx, &params[4]);

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.create_convention($1, $2, $3, $4, "
                             "$5, $6)", 6, params, NGX_HTTP_CREATED);
}


/*
 * POST /ops/v1/points-of-sale
 * {"convention", "id"?, "name", "email", "password", "category"}
 */

ngx_int_t
ngx_http_cvc_ops_pos(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *errors;
    ngx_uint_t   i;
    const char  *category;

    static const char  *fields[] = { "convention", "id", "name", "email",
                                     "password", "category", NULL };

    static const char  *categories[] = { "accommodation",
        "stays_and_transport", "leisure_and_culture", "sports_leisure",
        "restaurants", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_cvc_json_digits(ctx->body, "convention", 6, 1, errors);
    (void) ngx_http_cvc_json_digits(ctx->body, "id", 12, 0, errors);
    (void) ngx_http_cvc_json_string(ctx->body, "name", 1, 255, 1, errors);
    (void) ngx_http_cvc_json_email(ctx->body, "email", 1, errors);
    (void) ngx_http_cvc_json_string(ctx->body, "password", 12, 128, 1, errors);
    category = ngx_http_cvc_json_string(ctx->body, "category", 1, 64, 1,
                                        errors);

    if (category != NULL) {
        for (i = 0; categories[i] != NULL; i++) {
            if (ngx_strcmp(category, categories[i]) == 0) {
                break;
            }
        }

        if (categories[i] == NULL) {
            json_object_set_new(errors, "category",
                                json_string("must be one of accommodation, "
                                            "stays_and_transport, "
                                            "leisure_and_culture, "
                                            "sports_leisure, restaurants"));
        }
    }

    return ngx_http_cvc_ops_hash_password(r, ctx, errors,
                                          ngx_http_cvc_ops_pos_hashed);
}


static ngx_int_t
ngx_http_cvc_ops_pos_hashed(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_int_t rc, ngx_str_t *hash)
{
    ngx_str_t  params[8];

    ngx_http_cvc_json_param(ctx->body, "convention", &params[0]);
    ngx_http_cvc_json_param(ctx->body, "id", &params[1]);
    ngx_http_cvc_json_param(ctx->body, "name", &params[2]);
    ngx_http_cvc_json_param(ctx->body, "email", &params[3]);
    ngx_http_cvc_json_param(ctx->body, "category", &params[4]);
    params[5] = *hash;
    ngx_http_cvc_client_params(r, ctx, &params[6]);

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.create_point_of_sale($1, $2, $3, $4, "
                             "$5, $6, $7, $8)", 8, params, NGX_HTTP_CREATED);
}


/*
 * POST /ops/v1/beneficiaries
 * {"id"?, "email", "password", "payment_code", "balance"?}
 */

ngx_int_t
ngx_http_cvc_ops_beneficiary(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *errors;
    json_int_t   balance;

    static const char  *fields[] = { "id", "email", "password",
                                     "payment_code", "balance", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_cvc_json_digits(ctx->body, "id", 11, 0, errors);
    (void) ngx_http_cvc_json_email(ctx->body, "email", 1, errors);
    (void) ngx_http_cvc_json_string(ctx->body, "password", 12, 128, 1, errors);
    (void) ngx_http_cvc_json_digits(ctx->body, "payment_code", 6, 1, errors);
    (void) ngx_http_cvc_json_int(ctx->body, "balance", 0,
                                 NGX_HTTP_CVC_MAX_AMOUNT, 0, errors, &balance);

    return ngx_http_cvc_ops_hash_password(r, ctx, errors,
                                          ngx_http_cvc_ops_beneficiary_hashed);
}


static ngx_int_t
ngx_http_cvc_ops_beneficiary_hashed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash)
{
    ngx_str_t                  code, code_hash, *copy;
    ngx_http_cvc_main_conf_t  *mcf;

    /* the password's hash waits for the payment code's */

    copy = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (copy == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *copy = *hash;
    ctx->data = copy;

    ngx_http_cvc_json_param(ctx->body, "payment_code", &code);

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    if (ngx_http_cvc_code_hash(r->pool, &mcf->payment_code_key, &code,
                               &code_hash)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_ops_beneficiary_coded(r, ctx, NGX_OK, &code_hash);
}


static ngx_int_t
ngx_http_cvc_ops_beneficiary_coded(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash)
{
    u_char     n[NGX_INT_T_LEN];
    json_t    *balance;
    ngx_str_t  params[7];

    ngx_http_cvc_json_param(ctx->body, "id", &params[0]);
    ngx_http_cvc_json_param(ctx->body, "email", &params[1]);
    params[2] = *(ngx_str_t *) ctx->data;
    params[3] = *hash;

    balance = json_object_get(ctx->body, "balance");

    if (json_is_integer(balance)) {
        params[4].data = n;
        params[4].len = ngx_sprintf(n, "%L",
                                    (int64_t) json_integer_value(balance))
                        - n;

    } else {
        ngx_str_null(&params[4]);
    }

    ngx_http_cvc_client_params(r, ctx, &params[5]);

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.create_beneficiary($1, $2, $3, $4, "
                             "$5::bigint, $6, $7)", 7, params,
                             NGX_HTTP_CREATED);
}


/*
 * POST /ops/v1/beneficiaries/{id}/credits {"amount"}, with an
 * Idempotency-Key: a credit whose answer was lost is sent again with its
 * key, and credited once
 */

ngx_int_t
ngx_http_cvc_ops_credit(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char       n[NGX_INT_T_LEN];
    json_t      *errors;
    ngx_int_t    rc;
    ngx_str_t    params[6], canonical;
    json_int_t   amount;

    static const char  *fields[] = { "amount", NULL };

    rc = ngx_http_cvc_idempotency(r, ctx, &params[2], &canonical,
                                  &params[3]);

    if (rc == NGX_DECLINED) {
        return ngx_http_cvc_send_bad_key(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_cvc_json_int(ctx->body, "amount", 1,
                                 NGX_HTTP_CVC_MAX_AMOUNT, 1, errors, &amount);

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    params[0] = ctx->params[0];
    params[1].data = n;
    params[1].len = ngx_sprintf(n, "%L", (int64_t) amount) - n;
    ngx_http_cvc_client_params(r, ctx, &params[4]);

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.credit_beneficiary($1, $2::bigint, "
                             "$3, $4, $5, $6)", 6, params, NGX_HTTP_CREATED);
}


/* POST /ops/v1/beneficiaries/{id}/unlock */

ngx_int_t
ngx_http_cvc_ops_unlock(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[3];

    params[0] = ctx->params[0];
    ngx_http_cvc_client_params(r, ctx, &params[1]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.unlock_beneficiary($1, $2, $3)",
                                3, params, ngx_http_cvc_ops_unlocked);
}


/* the count of wrong passwords starts again */

static ngx_int_t
ngx_http_cvc_ops_unlocked(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_str_t  key;

    if (ngx_http_cvc_key(r, &key, NGX_HTTP_CVC_KEY_STRIKES "customer:", &ctx->params[0],
                         NULL)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_strikes_clear(r, ctx, &key,
                                      ngx_http_cvc_ops_no_content);
}


/*
 * PUT /ops/v1/clock {"now"}: "now" for PostgreSQL (cvc.test_clock) and
 * for Redis (cvc:clock, the offset from Redis's own time), where the
 * configuration allows it, never by default.
 */

ngx_int_t
ngx_http_cvc_ops_clock_set(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *errors;
    ngx_str_t    params[3];
    const char  *now;

    static const char  *fields[] = { "now", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_http_cvc_json_string(ctx->body, "now", 20, 35, 1, errors);

    if (now != NULL && !ngx_http_cvc_is_time(now)) {
        json_object_set_new(errors, "now",
                            json_string("must be an RFC 3339 time"));
    }

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    ngx_http_cvc_json_param(ctx->body, "now", &params[0]);
    ngx_http_cvc_client_params(r, ctx, &params[1]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.clock_set($1::timestamptz, $2, "
                                "$3)", 3, params, ngx_http_cvc_ops_clock_db);
}


static ngx_int_t
ngx_http_cvc_ops_clock_db(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    u_char     n[NGX_INT_T_LEN];
    ngx_str_t  args[2];

    if (result == NULL || !json_is_integer(json_object_get(result, "ms"))) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = result;

    args[0] = ngx_http_cvc_clock_key;
    args[1].data = n;
    args[1].len = ngx_sprintf(n, "%L", (int64_t)
                      json_integer_value(json_object_get(result, "ms")))
                  - n;

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_clock_set, 1, args, 2,
                             ngx_http_cvc_ops_clock_done);
}


static ngx_int_t
ngx_http_cvc_ops_clock_done(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    json_t  *result = ctx->data;

    json_object_del(result, "ms");

    return ngx_http_cvc_send_json(r, NGX_HTTP_OK, result);
}


/*
 * GET /ops/v1/audit-events?account&event&payment_request&from&to&limit
 * &cursor: the audit log, newest first
 */

ngx_int_t
ngx_http_cvc_ops_audit(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *filters;
    ngx_str_t    params[3];
    const char  *bad;

    filters = ngx_http_cvc_query_params(r, ngx_http_cvc_audit_filters, &bad);
    if (filters == NULL) {
        return ngx_http_cvc_bad_parameter(r, bad);
    }

    ngx_http_cvc_page_params(r, filters, &params[1], &params[2]);

    params[0].data = ngx_http_cvc_json_dump(r->pool, filters, &params[0].len);
    if (params[0].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.audit_events($1::jsonb, $2, $3::int)",
                             3, params, NGX_HTTP_OK);
}


/* DELETE /ops/v1/clock */

ngx_int_t
ngx_http_cvc_ops_clock_clear(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[2];

    ngx_http_cvc_client_params(r, ctx, params);

    return ngx_http_cvc_pg_step(r, ctx, "select cvc.clock_clear($1, $2)", 2,
                                params, ngx_http_cvc_ops_clock_cleared);
}


static ngx_int_t
ngx_http_cvc_ops_clock_cleared(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result)
{
    const char  *argv[2];
    size_t       argvlen[2];

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) ngx_http_cvc_clock_key.data;
    argvlen[1] = ngx_http_cvc_clock_key.len;

    return ngx_http_cvc_redis_step(r, ctx, 2, argv, argvlen,
                                   ngx_http_cvc_ops_no_content);
}


static ngx_int_t
ngx_http_cvc_ops_no_content(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    return ngx_http_cvc_send_no_content(r);
}


/* validation errors, or the password hashed in the thread pool */

static ngx_int_t
ngx_http_cvc_ops_hash_password(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *errors, ngx_http_cvc_hash_next_pt next)
{
    ngx_str_t  password;

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    ngx_http_cvc_json_param(ctx->body, "password", &password);

    return ngx_http_cvc_hash_step(r, ctx, &password, NULL, 1, next);
}


/*
 * CVC gateway: password resets (a link of one use, an hour, the newest
 * only, under its SHA-256 in Redis; the new password ends every session)
 * and the customer's new payment code (its password checked against the
 * 3 strikes, as at login; the new code unlocks).
 */


#include "ngx_http_cvc_module.h"


static ngx_int_t ngx_http_cvc_reset_stored(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_accepted(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_bad_token(ngx_http_request_t *r);
static ngx_int_t ngx_http_cvc_reset_consumed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_reset_hashed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
static ngx_int_t ngx_http_cvc_reset_done(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_no_content(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_code_found(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_code_checked(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_code_stored(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);


/*
 * POST /api/v1/merchant/password-resets {"login"}: 202 whoever it is.
 * The token is kept in Redis under its SHA-256 only, for an hour.
 */

ngx_int_t
ngx_http_cvc_reset_request(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char                    *p;
    size_t                     len;
    json_t                    *errors;
    ngx_str_t                  args[4], hash;
    const char                *login;
    ngx_http_cvc_login_t      *lg;
    ngx_http_cvc_main_conf_t  *mcf;

    static const char  *fields[] = { "login", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    login = ngx_http_cvc_json_string(ctx->body, "login", 1, 12, 1, errors);

    if (login != NULL) {
        len = ngx_strlen(login);

        if (!ngx_http_cvc_is_digits(login, len, 6)
            && !ngx_http_cvc_is_digits(login, len, 12))
        {
            json_object_set_new(errors, "login",
                                json_string("must be a 6- or 12-digit id"));
        }
    }

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    lg = ngx_pcalloc(r->pool, sizeof(ngx_http_cvc_login_t));
    if (lg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = lg;
    lg->login.data = (u_char *) login;
    lg->login.len = ngx_strlen(login);

    if (ngx_http_cvc_random(r->pool, NGX_HTTP_CVC_TOKEN_BYTES, "", 0,
                            &lg->token)
           != NGX_OK
        || ngx_http_cvc_sha256_hex(r->pool, &lg->token, &hash) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the link of the e-mail */

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    len = mcf->public_url.len + sizeof("/reset-password?token=") - 1
          + lg->token.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lg->hash.data = p;
    lg->hash.len = ngx_sprintf(p, "%V/reset-password?token=%V",
                               &mcf->public_url, &lg->token) - p;

    args[0] = ngx_http_cvc_clock_key;
    args[3] = lg->login;

    if (ngx_http_cvc_key(r, &args[1], NGX_HTTP_CVC_KEY_RESET, &hash, NULL) == NULL
        || ngx_http_cvc_key(r, &args[2], NGX_HTTP_CVC_KEY_RESET_OF, &lg->login, NULL)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_reset_create, 3, args,
                             4, ngx_http_cvc_reset_stored);
}


static ngx_int_t
ngx_http_cvc_reset_stored(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    ngx_str_t              params[4];
    ngx_http_cvc_login_t  *lg = ctx->data;

    params[0] = lg->login;
    params[1] = lg->hash;

    ngx_http_cvc_client_params(r, ctx, &params[2]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.password_reset_requested($1, $2, "
                                "$3, $4)", 4, params, ngx_http_cvc_accepted);
}


static ngx_int_t
ngx_http_cvc_accepted(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_str_t  empty = ngx_string("{}");

    return ngx_http_cvc_send_raw(r, NGX_HTTP_ACCEPTED, &empty);
}


/* POST /api/v1/merchant/password-resets/confirm {"token", "password"} */

ngx_int_t
ngx_http_cvc_reset_confirm(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t                *errors;
    ngx_str_t              args[2], hash;
    const char            *token, *password;
    ngx_http_cvc_login_t  *lg;

    static const char  *fields[] = { "token", "password", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    token = ngx_http_cvc_json_string(ctx->body, "token", 1, 256, 1, errors);
    password = ngx_http_cvc_json_string(ctx->body, "password", 12, 128, 1,
                                        errors);

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    lg = ngx_pcalloc(r->pool, sizeof(ngx_http_cvc_login_t));
    if (lg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = lg;
    lg->token.data = (u_char *) token;
    lg->token.len = ngx_strlen(token);
    lg->password.data = (u_char *) password;
    lg->password.len = ngx_strlen(password);

    if (ngx_http_cvc_sha256_hex(r->pool, &lg->token, &hash) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0] = ngx_http_cvc_clock_key;

    if (ngx_http_cvc_key(r, &args[1], NGX_HTTP_CVC_KEY_RESET, &hash, NULL) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_reset_consume, 2, args,
                             2, ngx_http_cvc_reset_consumed);
}


static ngx_int_t
ngx_http_cvc_bad_token(ngx_http_request_t *r)
{
    return ngx_http_cvc_send_invalid(r, json_pack("{ss}", "token",
                                     "is unknown, used or expired"));
}


static ngx_int_t
ngx_http_cvc_reset_consumed(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    ngx_http_cvc_login_t  *lg = ctx->data;

    if (reply->type != REDIS_REPLY_STRING) {
        return ngx_http_cvc_bad_token(r);
    }

    lg->login.len = reply->len;
    lg->login.data = ngx_pnalloc(r->pool, reply->len);
    if (lg->login.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(lg->login.data, reply->str, reply->len);

    return ngx_http_cvc_hash_step(r, ctx, &lg->password, NULL, 1,
                                  ngx_http_cvc_reset_hashed);
}


static ngx_int_t
ngx_http_cvc_reset_hashed(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_int_t rc, ngx_str_t *hash)
{
    ngx_str_t              params[4];
    ngx_http_cvc_login_t  *lg = ctx->data;

    params[0] = lg->login;
    params[1] = *hash;

    ngx_http_cvc_client_params(r, ctx, &params[2]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.password_reset($1, $2, $3, $4)",
                                4, params, ngx_http_cvc_reset_done);
}


static ngx_int_t
ngx_http_cvc_reset_done(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_str_t              keys[2];
    ngx_http_cvc_login_t  *lg = ctx->data;

    if (result == NULL
        || ngx_http_cvc_json_member(r->pool, result, "kind", &lg->kind)
           != NGX_OK
        || ngx_http_cvc_json_member(r->pool, result, "id", &lg->id)
           != NGX_OK)
    {
        return ngx_http_cvc_bad_token(r);
    }

    /* every session of the account ends, and its strikes */

    if (ngx_http_cvc_key(r, &keys[0], NGX_HTTP_CVC_KEY_SESSIONS, &lg->kind, &lg->id)
           == NULL
        || ngx_http_cvc_key(r, &keys[1], NGX_HTTP_CVC_KEY_STRIKES, &lg->kind, &lg->id)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_end_sessions, 2, keys,
                             2, ngx_http_cvc_no_content);
}


static ngx_int_t
ngx_http_cvc_no_content(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    return ngx_http_cvc_send_no_content(r);
}


/*
 * PUT /api/v1/customer/payment-code {"password", "payment_code"}: the
 * password is checked (and counted) as at login; the new code unlocks.
 */

ngx_int_t
ngx_http_cvc_payment_code(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t                *errors;
    ngx_str_t              params[2];
    const char            *password, *code;
    ngx_http_cvc_login_t  *lg;

    static const char  *fields[] = { "password", "payment_code", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    password = ngx_http_cvc_json_string(ctx->body, "password", 1, 128, 1,
                                        errors);
    code = ngx_http_cvc_json_digits(ctx->body, "payment_code", 6, 1, errors);

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    lg = ngx_pcalloc(r->pool, sizeof(ngx_http_cvc_login_t));
    if (lg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = lg;
    lg->realm = "customer";
    lg->login = ctx->principal.id;
    lg->password.data = (u_char *) password;
    lg->password.len = ngx_strlen(password);
    lg->secret.data = (u_char *) code;
    lg->secret.len = 6;

    ngx_str_set(&params[0], "customer");
    params[1] = ctx->principal.id;

    return ngx_http_cvc_pg_step(r, ctx, "select cvc.login_find($1, $2)", 2,
                                params, ngx_http_cvc_code_found);
}


static ngx_int_t
ngx_http_cvc_code_found(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    if (result == NULL) {
        return ngx_http_cvc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       "This account is gone.", NULL);
    }

    return ngx_http_cvc_login_check(r, ctx, result,
                                    ngx_http_cvc_code_checked);
}


/* the password is right: the new code's keyed hash is stored */

static ngx_int_t
ngx_http_cvc_code_checked(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t                  params[4];
    ngx_http_cvc_login_t      *lg = ctx->data;
    ngx_http_cvc_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    if (ngx_http_cvc_code_hash(r->pool, &mcf->payment_code_key, &lg->secret,
                               &params[1])
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params[0] = ctx->principal.id;

    ngx_http_cvc_client_params(r, ctx, &params[2]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.payment_code_set($1, $2, $3, $4)",
                                4, params, ngx_http_cvc_code_stored);
}


/* the code is new: its count of wrong codes goes (the password's went when
 * it proved right) */

static ngx_int_t
ngx_http_cvc_code_stored(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_str_t  key;

    if (ngx_http_cvc_key(r, &key, NGX_HTTP_CVC_KEY_CODE_STRIKES,
                         &ctx->principal.id, NULL) == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_strikes_clear(r, ctx, &key, ngx_http_cvc_no_content);
}

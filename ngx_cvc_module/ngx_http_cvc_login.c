
/*
 * CVC gateway: logins and logouts of merchants and customers.  The account
 * is looked up in PostgreSQL, its password checked against the 3 strikes
 * (ngx_http_cvc_strike.c); a right one makes a session in Redis and its
 * cookie, a 3rd wrong one locks the account and ends its sessions.
 */


#include "ngx_http_cvc_module.h"


static ngx_int_t ngx_http_cvc_login(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, const char *realm);
static ngx_int_t ngx_http_cvc_login_found(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_lock_sessions(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_locked_ended(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_login_right(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_login_wrong(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_login_refused(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_login_recorded(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_session_created(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_logout_done(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_logout_recorded(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);


/* POST /api/v1/merchant/sessions, POST /api/v1/customer/sessions */

ngx_int_t
ngx_http_cvc_merchant_login(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_login(r, ctx, "merchant");
}


ngx_int_t
ngx_http_cvc_customer_login(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_login(r, ctx, "customer");
}


static ngx_int_t
ngx_http_cvc_login(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *realm)
{
    ngx_int_t              rc;
    ngx_str_t              params[2];
    ngx_http_cvc_login_t  *lg;

    lg = ngx_http_cvc_login_body(r, ctx, realm, &rc);
    if (lg == NULL) {
        return rc;
    }

    params[0].data = (u_char *) realm;
    params[0].len = ngx_strlen(realm);
    params[1] = lg->login;

    return ngx_http_cvc_pg_step(r, ctx, "select cvc.login_find($1, $2)", 2,
                                params, ngx_http_cvc_login_found);
}


/* {"login", "password"}: the login's shape is the realm's */

ngx_http_cvc_login_t *
ngx_http_cvc_login_body(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *realm, ngx_int_t *rc)
{
    size_t                 len;
    json_t                *errors;
    const char            *login, *password;
    ngx_http_cvc_login_t  *lg;

    static const char  *fields[] = { "login", "password", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NULL;
    }

    login = ngx_http_cvc_json_string(ctx->body, "login", 1, 254, 1, errors);
    password = ngx_http_cvc_json_string(ctx->body, "password", 1, 128, 1,
                                        errors);

    if (login != NULL) {
        len = ngx_strlen(login);

        if (realm[0] == 'm'
            ? !ngx_http_cvc_is_digits(login, len, 6)
              && !ngx_http_cvc_is_digits(login, len, 12)
            : !ngx_http_cvc_is_digits(login, len, 11)
              && ngx_strchr(login, '@') == NULL)
        {
            json_object_set_new(errors, "login", json_string(realm[0] == 'm'
                                ? "must be a 6- or 12-digit id"
                                : "must be an 11-digit id or an e-mail"));
        }
    }

    if (json_object_size(errors) > 0) {
        *rc = ngx_http_cvc_send_invalid(r, errors);
        return NULL;
    }

    json_decref(errors);

    lg = ngx_pcalloc(r->pool, sizeof(ngx_http_cvc_login_t));
    if (lg == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NULL;
    }

    lg->realm = realm;
    lg->login.data = (u_char *) login;
    lg->login.len = ngx_strlen(login);
    lg->password.data = (u_char *) password;
    lg->password.len = ngx_strlen(password);

    ctx->data = lg;

    return lg;
}


static ngx_int_t
ngx_http_cvc_login_found(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    return ngx_http_cvc_login_check(r, ctx, result, ngx_http_cvc_login_right);
}


/*
 * The account of a login (or none: an unknown login costs the same as a
 * wrong password): refused when locked, else its password checked against
 * the 3 strikes; right() goes on.
 */

ngx_int_t
ngx_http_cvc_login_check(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result, ngx_http_cvc_step_pt right)
{
    ngx_http_cvc_login_t   *lg = ctx->data;
    ngx_http_cvc_strike_t  *st = &lg->strike;

    if (result != NULL) {

        if (json_is_true(json_object_get(result, "locked"))) {
            return ngx_http_cvc_locked(r, ctx);
        }

        if (ngx_http_cvc_json_member(r->pool, result, "kind", &lg->kind)
               != NGX_OK
            || ngx_http_cvc_json_member(r->pool, result, "id", &lg->id)
               != NGX_OK
            || ngx_http_cvc_json_member(r->pool, result, "hash", &lg->hash)
               != NGX_OK
            || ngx_http_cvc_key(r, &st->key, NGX_HTTP_CVC_KEY_STRIKES, &lg->kind,
                                &lg->id)
               == NULL
            || ngx_http_cvc_key(r, &st->account, "", &lg->kind, &lg->id)
               == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    st->secret = lg->password;
    st->hash = lg->hash;
    st->right = right;
    st->wrong = ngx_http_cvc_login_wrong;
    st->locked = ngx_http_cvc_locked;

    return ngx_http_cvc_strike(r, ctx, st);
}


/* a lock ends every session of the account, then 423 */

static ngx_int_t
ngx_http_cvc_lock_sessions(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t              key;
    ngx_http_cvc_login_t  *lg = ctx->data;

    if (ngx_http_cvc_key(r, &key, NGX_HTTP_CVC_KEY_SESSIONS, &lg->kind, &lg->id)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_end_sessions, 1, &key,
                             1, ngx_http_cvc_locked_ended);
}


static ngx_int_t
ngx_http_cvc_locked_ended(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    return ngx_http_cvc_locked(r, ctx);
}


/* 423: a merchant unlocks with a password reset, a customer asks */

ngx_int_t
ngx_http_cvc_locked(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_http_cvc_login_t  *lg = ctx->data;

    return ngx_http_cvc_send_error(r, 423, "account_locked",
                                   lg->realm[0] == 'm'
                                   ? "This account is locked: reset its "
                                     "password (\"Mot de passe oubli\xc3\xa9\")."
                                   : "This account is locked: contact the "
                                     "Cheque-Vacances support to unlock it.",
                                   NULL);
}


static ngx_int_t
ngx_http_cvc_login_right(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t              params[4];
    ngx_http_cvc_login_t  *lg = ctx->data;

    params[0] = lg->kind;
    params[1] = lg->id;

    ngx_http_cvc_client_params(r, ctx, &params[2]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.login_succeeded($1, $2, $3, $4)",
                                4, params, ngx_http_cvc_login_recorded);
}


/* a wrong password (or an unknown login), recorded with its number */

static ngx_int_t
ngx_http_cvc_login_wrong(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char                 n[NGX_INT_T_LEN];
    ngx_str_t              params[7];
    ngx_http_cvc_login_t  *lg = ctx->data;

    params[0].data = (u_char *) lg->realm;
    params[0].len = ngx_strlen(lg->realm);
    params[1] = lg->login;
    params[2] = lg->kind;
    params[3] = lg->id;

    if (lg->id.len == 0) {
        ngx_str_null(&params[2]);
        ngx_str_null(&params[3]);
    }

    params[4].data = n;
    params[4].len = ngx_sprintf(n, "%i", lg->strike.tries) - n;

    ngx_http_cvc_client_params(r, ctx, &params[5]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.login_failed($1, $2, $3, $4, "
                                "$5::int, $6, $7)", 7, params,
                                ngx_http_cvc_login_refused);
}


static ngx_int_t
ngx_http_cvc_login_refused(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_int_t              left;
    ngx_http_cvc_login_t  *lg = ctx->data;

    left = ngx_http_cvc_attempts_left(result);

    if (left == 0) {
        return ngx_http_cvc_lock_sessions(r, ctx);
    }

    if (lg->secret.len > 0) {

        /* a password confirmed in a session: the caller is known */

        return ngx_http_cvc_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                       "The password is wrong.",
                                       json_pack("{sI}", "attempts_left",
                                                 (json_int_t) left));
    }

    return ngx_http_cvc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_credentials",
                                   "The login or the password is wrong.",
                                   json_pack("{sI}", "attempts_left",
                                             (json_int_t) left));
}


static ngx_int_t
ngx_http_cvc_login_recorded(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_str_t                  args[10], hash, convention;
    u_char                     idle[NGX_INT_T_LEN], max[NGX_INT_T_LEN];
    ngx_http_cvc_login_t      *lg = ctx->data;
    ngx_http_cvc_main_conf_t  *mcf;

    if (result == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lg->account = result;

    if (ngx_http_cvc_random(r->pool, NGX_HTTP_CVC_TOKEN_BYTES, "", 0,
                            &lg->token)
           != NGX_OK
        || ngx_http_cvc_random(r->pool, NGX_HTTP_CVC_TOKEN_BYTES, "", 0,
                               &lg->csrf)
           != NGX_OK
        || ngx_http_cvc_sha256_hex(r->pool, &lg->token, &hash) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cvc_json_member(r->pool, result, "convention", &convention)
        != NGX_OK)
    {
        ngx_str_null(&convention);
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    args[0] = ngx_http_cvc_clock_key;

    if (ngx_http_cvc_key(r, &args[1], NGX_HTTP_CVC_KEY_SESSION, &hash, NULL) == NULL
        || ngx_http_cvc_key(r, &args[2], NGX_HTTP_CVC_KEY_SESSIONS, &lg->kind, &lg->id)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[3] = lg->strike.key;
    args[4] = lg->kind;
    args[5] = lg->id;
    args[6] = convention;
    args[7] = lg->csrf;
    args[8].data = idle;
    args[8].len = ngx_sprintf(idle, "%M", mcf->session_idle) - idle;
    args[9].data = max;
    args[9].len = ngx_sprintf(max, "%M", mcf->session_max) - max;

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_session_create, 4, args,
                             10, ngx_http_cvc_session_created);
}


static ngx_int_t
ngx_http_cvc_session_created(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    json_t                *json;
    ngx_int_t              rc;
    u_char                 expires[32];
    ngx_http_cvc_login_t  *lg = ctx->data;

    if (reply->type == REDIS_REPLY_NIL) {
        return ngx_http_cvc_locked(r, ctx);
    }

    if (reply->type != REDIS_REPLY_INTEGER) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_cvc_time_json(expires, reply->integer);

    json = json_pack("{s:s%,s:s,s:s%,s:O}",
                     "token", (char *) lg->token.data, lg->token.len,
                     "expires_at", (char *) expires,
                     "csrf_token", (char *) lg->csrf.data, lg->csrf.len,
                     lg->realm[0] == 'm' ? "account" : "customer",
                     lg->account);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cvc_set_cookie(r, lg->realm[0] == 'c', &lg->token)
        != NGX_OK)
    {
        json_decref(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_cvc_send_json(r, NGX_HTTP_CREATED, json);

    json_decref(json);

    return rc;
}


/* DELETE /api/v1/{merchant,customer}/sessions/current */

ngx_int_t
ngx_http_cvc_logout(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    const char  *argv[2];
    size_t       argvlen[2];

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) ctx->principal.session.data;
    argvlen[1] = ctx->principal.session.len;

    return ngx_http_cvc_redis_step(r, ctx, 2, argv, argvlen,
                                   ngx_http_cvc_logout_done);
}


static ngx_int_t
ngx_http_cvc_logout_done(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    ngx_str_t  params[3];

    params[0] = ctx->principal.account;

    ngx_http_cvc_client_params(r, ctx, &params[1]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.session_ended($1, $2, $3)", 3,
                                params, ngx_http_cvc_logout_recorded);
}


static ngx_int_t
ngx_http_cvc_logout_recorded(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    if (ngx_http_cvc_set_cookie(r,
                                ctx->principal.kind == NGX_HTTP_CVC_CUSTOMER,
                                NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_send_no_content(r);
}

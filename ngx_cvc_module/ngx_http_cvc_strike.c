
/*
 * CVC gateway: the 3 strikes, one chain for every secret (login
 * passwords, the password of a payment-code change, payment codes).
 * Redis lets a try in only while the wrong tries and the tries being
 * checked are fewer than 3, the secret is checked (keyed hash on the event
 * loop, scrypt in the thread pool), and the try's end is counted; the SQL
 * of the caller's wrong() records it and answers attempts_left.
 */


#include "ngx_http_cvc_module.h"


static ngx_int_t ngx_http_cvc_strike_let(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_strike_verify(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_strike_checked(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
static ngx_int_t ngx_http_cvc_strike_ended(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);


/*
 * The 3 strikes: the try is let in (ngx_http_cvc_lua_strike), checked in
 * the thread pool, and its end recorded; then st->right(), st->wrong()
 * (st->tries: the wrong ones in a row, this one included) or
 * st->locked().  At most cvc_secret_rate checks a minute for one account.
 */

ngx_int_t
ngx_http_cvc_strike(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_http_cvc_strike_t *st)
{
    u_char                     strikes[NGX_INT_T_LEN], rate[NGX_INT_T_LEN];
    ngx_str_t                  args[5];
    ngx_http_cvc_main_conf_t  *mcf;

    ctx->strike = st;

    if (st->key.len == 0) {
        return ngx_http_cvc_strike_verify(r, ctx);
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    if (ngx_http_cvc_key(r, &st->trying, NGX_HTTP_CVC_KEY_TRYING,
                         &st->key, NULL) == NULL
        || ngx_http_cvc_key(r, &args[2], NGX_HTTP_CVC_KEY_CHECKS, &st->account, NULL)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args[0] = st->key;
    args[1] = st->trying;
    args[3].data = strikes;
    args[3].len = ngx_sprintf(strikes, "%d", NGX_HTTP_CVC_STRIKES) - strikes;
    args[4].data = rate;
    args[4].len = ngx_sprintf(rate, "%ui", mcf->secret_rate) - rate;

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_strike, 3, args, 5,
                             ngx_http_cvc_strike_let);
}


static ngx_int_t
ngx_http_cvc_strike_let(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    ngx_http_cvc_strike_t  *st = ctx->strike;

    if (reply->type != REDIS_REPLY_INTEGER) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (reply->integer) {

    case 1:
        return ngx_http_cvc_strike_verify(r, ctx);

    case -1:
        return st->locked(r, ctx);

    case -2:
        return ngx_http_cvc_send_rate_limited(r, "Too many tries for this "
                                              "account; retry in a minute.",
                                              60);

    default: /* -3 */
        return ngx_http_cvc_send_rate_limited(r, "Other tries are being "
                                              "checked; retry in a moment.",
                                              1);
    }
}


/*
 * A payment code's keyed hash is checked here, on the event loop; scrypt
 * (passwords, and codes hashed before cvc_payment_code_key) in the thread
 * pool.  A right scrypt code is to be hashed again with the key.
 */

static ngx_int_t
ngx_http_cvc_strike_verify(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_int_t               rc;
    ngx_http_cvc_strike_t  *st = ctx->strike;

    if (st->code_key != NULL && ngx_http_cvc_code_keyed(&st->hash)) {
        rc = ngx_http_cvc_code_verify(st->code_key, &st->secret, &st->hash);

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "cvc: the payment code hash of %V is not one of "
                          "the key of cvc_payment_code_key", &st->account);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_cvc_strike_checked(r, ctx, rc, NULL);
    }

    st->rehash = (st->code_key != NULL);

    return ngx_http_cvc_hash_step(r, ctx, &st->secret, &st->hash, 0,
                                  ngx_http_cvc_strike_checked);
}


static ngx_int_t
ngx_http_cvc_strike_checked(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_int_t rc, ngx_str_t *hash)
{
    ngx_str_t               args[3];
    ngx_http_cvc_strike_t  *st = ctx->strike;

    if (st->key.len == 0) {
        st->tries = 1;
        return st->wrong(r, ctx);
    }

    st->ok = (rc == NGX_OK);

    args[0] = st->key;
    args[1] = st->trying;

    if (st->ok) {
        ngx_str_set(&args[2], "1");

    } else {
        ngx_str_set(&args[2], "0");
    }

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_strike_end, 2, args, 3,
                             ngx_http_cvc_strike_ended);
}


static ngx_int_t
ngx_http_cvc_strike_ended(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    ngx_http_cvc_strike_t  *st = ctx->strike;

    if (reply->type != REDIS_REPLY_INTEGER) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (st->ok) {
        return st->right(r, ctx);
    }

    st->tries = reply->integer;

    return st->wrong(r, ctx);
}


/* the count of wrong tries starts again (a new secret, an unlock) */

ngx_int_t
ngx_http_cvc_strikes_clear(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_str_t *key, ngx_http_cvc_redis_next_pt next)
{
    size_t       argvlen[2];
    const char  *argv[2];

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) key->data;
    argvlen[1] = key->len;

    return ngx_http_cvc_redis_step(r, ctx, 2, argv, argvlen, next);
}


/*
 * The tries left that cvc.login_failed() or cvc.payment_code_failed()
 * answered, by the try's place in the count: the 2nd wrong try of three
 * checked at once is told 1 left, even where the 3rd's lock was recorded
 * first.  0: locked.
 */

ngx_int_t
ngx_http_cvc_attempts_left(json_t *result)
{
    json_t  *left;

    left = json_object_get(result, "attempts_left");

    return json_is_integer(left) ? (ngx_int_t) json_integer_value(left) : 0;
}

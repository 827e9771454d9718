
/*
 * CVC gateway: who calls.  Sessions (Redis, under the SHA-256 of their
 * token), API keys (PostgreSQL, under the SHA-256 of their secret), the
 * cookie and its CSRF token; logins with the 3-strike lockout, logout,
 * password resets and the customer's payment code.  Every secret that the
 * 3 strikes guard (passwords, payment codes) is checked by one chain,
 * ngx_http_cvc_strike().
 *
 * Time in Redis is the test clock's: Redis's TIME plus the offset kept in
 * cvc:clock (set by PUT /ops/v1/clock), so that sessions and reset links
 * expire by the same "now" as everything else.
 */


#include "ngx_http_cvc_module.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>


#define NGX_HTTP_CVC_TOKEN_BYTES     32
#define NGX_HTTP_CVC_STRIKES         3
#define NGX_HTTP_CVC_STRIKES_STR     "3"
#define NGX_HTTP_CVC_RESET_LIFE      "3600000"
#define NGX_HTTP_CVC_FAIL_LIFE       "2592000000"
#define NGX_HTTP_CVC_TRYING_LIFE     "60000"


typedef struct {
    const char                     *realm;      /* merchant, customer */
    ngx_str_t                       login;
    ngx_str_t                       password;
    ngx_str_t                       secret;     /* a new payment code */
    ngx_str_t                       kind;
    ngx_str_t                       id;
    ngx_str_t                       hash;
    ngx_str_t                       token;
    ngx_str_t                       csrf;
    json_t                         *account;
    ngx_http_cvc_strike_t           strike;
} ngx_http_cvc_login_t;


/* KEYS: clock, session, account's sessions, account's strikes;
 * ARGV: kind, id, convention, csrf, idle, max.  None for an account that
 * 3 wrong passwords locked since its password was checked. */
static const char  ngx_http_cvc_lua_session_create[] =
    NGX_HTTP_CVC_LUA_NOW
    "if tonumber(redis.call('GET', KEYS[4]) or '0') >= "
    NGX_HTTP_CVC_STRIKES_STR " then return nil end "
    "local t = now() "
    "redis.call('HSET', KEYS[2], 'kind', ARGV[1], 'id', ARGV[2], "
    "'convention', ARGV[3], 'csrf', ARGV[4], 'created', t, 'seen', t) "
    "redis.call('PEXPIRE', KEYS[2], ARGV[5]) "
    "redis.call('SADD', KEYS[3], KEYS[2]) "
    "redis.call('PEXPIRE', KEYS[3], ARGV[6]) "
    "return t + math.min(tonumber(ARGV[5]), tonumber(ARGV[6]))";


/* KEYS: clock, session; ARGV: idle, max */
static const char  ngx_http_cvc_lua_session_touch[] =
    NGX_HTTP_CVC_LUA_NOW
    "local s = redis.call('HMGET', KEYS[2], 'kind', 'id', 'convention', "
    "'csrf', 'created', 'seen') "
    "if not s[1] then return nil end "
    "local t = now() "
    "local idle, max = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "local created, seen = tonumber(s[5]), tonumber(s[6]) "
    "if t > seen + idle or t > created + max then "
    "redis.call('DEL', KEYS[2]) return nil end "
    "redis.call('HSET', KEYS[2], 'seen', t) "
    "redis.call('PEXPIRE', KEYS[2], ARGV[1]) "
    "return {s[1], s[2], s[3], s[4], "
    "string.format('%d', math.min(t + idle, created + max))}";


/*
 * The 3 strikes of a secret: cvc:strikes:<kind>:<id> counts the wrong
 * tries in a row (for a month), cvc:trying:<kind>:<id> the tries being
 * checked.  A try is let in only while wrong ones and ones in flight are
 * fewer than the strikes, so parallel tries can't get past them.
 *
 * KEYS: strikes, trying, checks this minute; ARGV: strikes, checks a
 * minute.  -1: no try left; -2: too many checks this minute; -3: the tries
 * left are being checked; 1: let in.
 */
static const char  ngx_http_cvc_lua_strike[] =
    "local s = tonumber(ARGV[1]) "
    "local n = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if n >= s then return -1 end "
    "if n + tonumber(redis.call('GET', KEYS[2]) or '0') >= s then "
    "return -3 end "
    "local m = redis.call('INCR', KEYS[3]) "
    "if m == 1 then redis.call('PEXPIRE', KEYS[3], 60000) end "
    "if m > tonumber(ARGV[2]) then return -2 end "
    "redis.call('INCR', KEYS[2]) "
    "redis.call('PEXPIRE', KEYS[2], " NGX_HTTP_CVC_TRYING_LIFE ") "
    "return 1";


/* KEYS: strikes, trying; ARGV: 1 right, 0 wrong: the wrong tries in a row */
static const char  ngx_http_cvc_lua_strike_end[] =
    "if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then "
    "redis.call('DECR', KEYS[2]) end "
    "if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) return 0 end "
    "local n = redis.call('INCR', KEYS[1]) "
    "redis.call('PEXPIRE', KEYS[1], " NGX_HTTP_CVC_FAIL_LIFE ") "
    "return n";


/*
 * One live reset link a login: cvc:reset-of:<login> names the newest
 * cvc:reset:<sha256>, and a new link ends the one before.
 * KEYS: clock, reset, the login's live reset; ARGV: login
 */
static const char  ngx_http_cvc_lua_reset_create[] =
    NGX_HTTP_CVC_LUA_NOW
    "local old = redis.call('GET', KEYS[3]) "
    "if old then redis.call('DEL', old) end "
    "redis.call('SET', KEYS[2], ARGV[1] .. '|' .. string.format('%d', now()), "
    "'PX', " NGX_HTTP_CVC_RESET_LIFE ") "
    "redis.call('SET', KEYS[3], KEYS[2], 'PX', " NGX_HTTP_CVC_RESET_LIFE ") "
    "return 1";


/* KEYS: clock, reset; the login, once, within the hour */
static const char  ngx_http_cvc_lua_reset_consume[] =
    NGX_HTTP_CVC_LUA_NOW
    "local v = redis.call('GET', KEYS[2]) "
    "if not v then return nil end "
    "redis.call('DEL', KEYS[2]) "
    "local sep = string.find(v, '|', 1, true) "
    "local live = 'cvc:reset-of:' .. string.sub(v, 1, sep - 1) "
    "if redis.call('GET', live) == KEYS[2] then redis.call('DEL', live) end "
    "if now() > tonumber(string.sub(v, sep + 1)) + "
    NGX_HTTP_CVC_RESET_LIFE " then return nil end "
    "return string.sub(v, 1, sep - 1)";


/* KEYS: account's sessions, and keys to delete with them (its strikes) */
static const char  ngx_http_cvc_lua_end_sessions[] =
    "local m = redis.call('SMEMBERS', KEYS[1]) "
    "for _, k in ipairs(m) do redis.call('DEL', k) end "
    "redis.call('DEL', unpack(KEYS)) "
    "return #m";


static ngx_int_t ngx_http_cvc_api_key_found(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_session_found(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_set_principal(ngx_http_request_t *r,
    ngx_http_cvc_principal_t *p, const char *kind, size_t kind_len,
    const char *id, size_t id_len);
static void ngx_http_cvc_cookie_name(ngx_http_request_t *r,
    ngx_uint_t customer, ngx_str_t *name);
static ngx_int_t ngx_http_cvc_session_cookie(ngx_http_request_t *r,
    ngx_uint_t callers, ngx_str_t *token);
static ngx_int_t ngx_http_cvc_set_cookie(ngx_http_request_t *r,
    ngx_uint_t customer, ngx_str_t *token);

static ngx_int_t ngx_http_cvc_login(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, const char *realm);
static ngx_http_cvc_login_t *ngx_http_cvc_login_body(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, const char *realm, ngx_int_t *rc);
static ngx_int_t ngx_http_cvc_login_found(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_login_check(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result, ngx_http_cvc_step_pt right);
static ngx_int_t ngx_http_cvc_lock_sessions(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_locked_ended(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_locked(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
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
static ngx_int_t ngx_http_cvc_reset_stored(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_accepted(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_reset_consumed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_reset_hashed(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
static ngx_int_t ngx_http_cvc_reset_done(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_no_content(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_bad_token(ngx_http_request_t *r);
static ngx_int_t ngx_http_cvc_code_found(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_code_checked(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_code_stored(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_strike_let(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
static ngx_int_t ngx_http_cvc_strike_verify(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_strike_checked(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
static ngx_int_t ngx_http_cvc_strike_ended(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);



static ngx_str_t  ngx_http_cvc_clock_key = ngx_string("cvc:clock");


/*
 * Who calls: NGX_DECLINED (nobody to check: proceed), NGX_DONE (a backend
 * will tell; the request proceeds from there), or the rc of an answer sent.
 */

ngx_int_t
ngx_http_cvc_authenticate(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char                    *p;
    ngx_str_t                  token, hash, key;
    ngx_uint_t                 callers;
    ngx_http_cvc_main_conf_t  *mcf;

    callers = ctx->route->callers;

    if (callers == NGX_HTTP_CVC_PUBLIC || (callers & NGX_HTTP_CVC_OPS)) {
        return NGX_DECLINED;
    }

    if (ngx_http_cvc_bearer(r, &token) != NGX_OK) {
        if (ngx_http_cvc_session_cookie(r, callers, &token) != NGX_OK) {
            return ngx_http_cvc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                           "unauthenticated",
                                           "A session or an API key is "
                                           "required.", NULL);
        }

        ctx->cookie = 1;
    }

    if (token.len == 0 || token.len > 256) {
        return ngx_http_cvc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       "The credential is not valid.", NULL);
    }

    if (ngx_http_cvc_sha256_hex(r->pool, &token, &hash) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (token.len > sizeof("cvc_sk_") - 1
        && ngx_strncmp(token.data, "cvc_sk_", sizeof("cvc_sk_") - 1) == 0)
    {
        if (!(callers & NGX_HTTP_CVC_API_KEY) || ctx->cookie) {
            return ngx_http_cvc_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                           "An API key can't do this: log "
                                           "in.", NULL);
        }

        return ngx_http_cvc_pg_step(r, ctx, "select cvc.api_key_auth($1)",
                                    1, &hash, ngx_http_cvc_api_key_found);
    }

    p = ngx_pnalloc(r->pool, sizeof("cvc:session:") - 1 + hash.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    key.data = p;
    key.len = ngx_cpymem(p, "cvc:session:", sizeof("cvc:session:") - 1)
              - p;
    key.len += ngx_cpymem(p + key.len, hash.data, hash.len) - (p + key.len);

    ctx->principal.session = key;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    {
        ngx_str_t  args[4];
        u_char     idle[NGX_INT_T_LEN], max[NGX_INT_T_LEN];

        args[0] = ngx_http_cvc_clock_key;
        args[1] = key;
        args[2].data = idle;
        args[2].len = ngx_sprintf(idle, "%M", mcf->session_idle) - idle;
        args[3].data = max;
        args[3].len = ngx_sprintf(max, "%M", mcf->session_max) - max;

        return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_session_touch, 2,
                                 args, 4, ngx_http_cvc_session_found);
    }
}


static ngx_int_t
ngx_http_cvc_api_key_found(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    const char  *id, *pos;

    id = json_string_value(json_object_get(result, "id"));
    pos = json_string_value(json_object_get(result, "point_of_sale"));

    if (id == NULL || pos == NULL) {
        return ngx_http_cvc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       "This API key is unknown or revoked.",
                                       NULL);
    }

    if (ngx_http_cvc_set_principal(r, &ctx->principal, "api_key",
                                   sizeof("api_key") - 1, id, strlen(id))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cvc_json_member(r->pool, result, "point_of_sale",
                                 &ctx->principal.point_of_sale)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->authenticated(r);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_cvc_session_found(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    size_t                     i;
    ngx_flag_t                 ok;
    redisReply                *kind, *id, *conv, *csrf;
    ngx_str_t                  sent;
    ngx_http_cvc_principal_t  *p;

    /* five strings: a field missing (nil) is no session, not an empty one */

    ok = (reply->type == REDIS_REPLY_ARRAY && reply->elements == 5);

    for (i = 0; ok && i < 5; i++) {
        ok = (reply->element[i]->type == REDIS_REPLY_STRING);
    }

    if (!ok) {
        return ngx_http_cvc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       "The session has ended; log in again.",
                                       NULL);
    }

    kind = reply->element[0];
    id = reply->element[1];
    conv = reply->element[2];
    csrf = reply->element[3];
    p = &ctx->principal;

    if (ngx_http_cvc_set_principal(r, p, kind->str, kind->len, id->str,
                                   id->len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p->convention.len = conv->len;
    p->convention.data = ngx_pnalloc(r->pool, conv->len + 1);
    p->csrf.len = csrf->len;
    p->csrf.data = ngx_pnalloc(r->pool, csrf->len + 1);
    p->expires.len = reply->element[4]->len;
    p->expires.data = ngx_pnalloc(r->pool, p->expires.len + 1);

    if (p->convention.data == NULL || p->csrf.data == NULL
        || p->expires.data == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p->convention.data, conv->str, conv->len);
    ngx_memcpy(p->csrf.data, csrf->str, csrf->len);
    ngx_memcpy(p->expires.data, reply->element[4]->str, p->expires.len);

    if (!(p->kind & ctx->route->callers)) {
        return ngx_http_cvc_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                       "This session can't do this.", NULL);
    }

    /* a cookie comes with every request to the site: a write needs more */

    if (ctx->cookie && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {

        if (ngx_http_cvc_header(r, "X-CSRF-Token", &sent) != NGX_OK
            || sent.len != p->csrf.len
            || CRYPTO_memcmp(sent.data, p->csrf.data, sent.len) != 0)
        {
            return ngx_http_cvc_send_error(r, NGX_HTTP_FORBIDDEN,
                                           "csrf_failed",
                                           "X-CSRF-Token is missing or "
                                           "wrong.", NULL);
        }
    }

    ctx->authenticated(r);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_cvc_set_principal(ngx_http_request_t *r, ngx_http_cvc_principal_t *p,
    const char *kind, size_t kind_len, const char *id, size_t id_len)
{
    u_char  *a;

    if (kind_len == 5 && ngx_strncmp(kind, "admin", 5) == 0) {
        p->kind = NGX_HTTP_CVC_ADMIN;

    } else if (kind_len == 13 && ngx_strncmp(kind, "point_of_sale", 13) == 0) {
        p->kind = NGX_HTTP_CVC_POS;

    } else if (kind_len == 8 && ngx_strncmp(kind, "customer", 8) == 0) {
        p->kind = NGX_HTTP_CVC_CUSTOMER;

    } else if (kind_len == 7 && ngx_strncmp(kind, "api_key", 7) == 0) {
        p->kind = NGX_HTTP_CVC_API_KEY;

    } else {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "cvc: a session of unknown kind \"%*s\"", kind_len, kind);
        return NGX_ERROR;
    }

    /* "kind:id", with kind and id pointing into it */

    a = ngx_pnalloc(r->pool, kind_len + 1 + id_len);
    if (a == NULL) {
        return NGX_ERROR;
    }

    p->account.data = a;
    p->account.len = kind_len + 1 + id_len;
    a = ngx_cpymem(a, kind, kind_len);
    *a++ = ':';
    ngx_memcpy(a, id, id_len);

    p->kind_name.data = p->account.data;
    p->kind_name.len = kind_len;
    p->id.data = a;
    p->id.len = id_len;

    if (p->kind == NGX_HTTP_CVC_ADMIN) {
        p->convention = p->id;
    }

    return NGX_OK;
}


/*
 * Merchant and customer sessions have cookies of their own, so that one
 * browser can hold both: __Host-cvc_session (the contract's) and
 * __Host-cvc_customer_session; without the prefix on plain http.
 */

static void
ngx_http_cvc_cookie_name(ngx_http_request_t *r, ngx_uint_t customer,
    ngx_str_t *name)
{
    ngx_http_cvc_main_conf_t  *mcf;

    static ngx_str_t  names[2][2] = {
        { ngx_string("cvc_session"), ngx_string("__Host-cvc_session") },
        { ngx_string("cvc_customer_session"),
          ngx_string("__Host-cvc_customer_session") }
    };

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    *name = names[customer ? 1 : 0][mcf->cookie_secure ? 1 : 0];
}


/* the cookie of the sessions that may call the route */

static ngx_int_t
ngx_http_cvc_session_cookie(ngx_http_request_t *r, ngx_uint_t callers,
    ngx_str_t *token)
{
    ngx_str_t  name;

    if (callers & NGX_HTTP_CVC_MERCHANT) {
        ngx_http_cvc_cookie_name(r, 0, &name);

        if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, &name,
                                              token)
            != NGX_DECLINED)
        {
            return NGX_OK;
        }
    }

    if (callers & NGX_HTTP_CVC_CUSTOMER) {
        ngx_http_cvc_cookie_name(r, 1, &name);

        if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, &name,
                                              token)
            != NGX_DECLINED)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* token == NULL: the cookie is cleared */

static ngx_int_t
ngx_http_cvc_set_cookie(ngx_http_request_t *r, ngx_uint_t customer,
    ngx_str_t *token)
{
    u_char                    *p;
    size_t                     len;
    ngx_str_t                  name, value;
    ngx_http_cvc_main_conf_t  *mcf;

    static ngx_str_t  empty = ngx_null_string;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    ngx_http_cvc_cookie_name(r, customer, &name);

    len = name.len + sizeof("=; Path=/; HttpOnly; SameSite=Strict"
                            "; Secure; Max-Age=0")
          + (token ? token->len : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;

    p = ngx_sprintf(p, "%V=%V; Path=/; HttpOnly; SameSite=Strict%s%s",
                    &name, token ? token : &empty,
                    mcf->cookie_secure ? "; Secure" : "",
                    token ? "" : "; Max-Age=0");

    value.len = p - value.data;

    return ngx_http_cvc_add_header(r, "Set-Cookie", &value);
}


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

static ngx_http_cvc_login_t *
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

static ngx_int_t
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
            || ngx_http_cvc_key(r, &st->key, "cvc:strikes:", &lg->kind,
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

    if (ngx_http_cvc_key(r, &key, "cvc:sessions:", &lg->kind, &lg->id)
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

static ngx_int_t
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

    if (ngx_http_cvc_key(r, &args[1], "cvc:session:", &hash, NULL) == NULL
        || ngx_http_cvc_key(r, &args[2], "cvc:sessions:", &lg->kind, &lg->id)
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

    if (ngx_http_cvc_key(r, &args[1], "cvc:reset:", &hash, NULL) == NULL
        || ngx_http_cvc_key(r, &args[2], "cvc:reset-of:", &lg->login, NULL)
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

    if (ngx_http_cvc_key(r, &args[1], "cvc:reset:", &hash, NULL) == NULL) {
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

    if (ngx_http_cvc_key(r, &keys[0], "cvc:sessions:", &lg->kind, &lg->id)
           == NULL
        || ngx_http_cvc_key(r, &keys[1], "cvc:strikes:", &lg->kind, &lg->id)
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

    if (ngx_http_cvc_key(r, &key, "cvc:strikes:payment_code:",
                         &ctx->principal.id, NULL) == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_strikes_clear(r, ctx, &key, ngx_http_cvc_no_content);
}


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

    if (ngx_http_cvc_key(r, &st->trying, "cvc:trying:",
                         &st->key, NULL) == NULL
        || ngx_http_cvc_key(r, &args[2], "cvc:checks:", &st->account, NULL)
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


/* EVAL script nkeys args... */

ngx_int_t
ngx_http_cvc_eval(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *script, ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_cvc_redis_next_pt next)
{
    u_char       n[NGX_INT_T_LEN];
    size_t       argvlen[16];
    ngx_uint_t   i;
    const char  *argv[16];

    if (nargs + 3 > 16) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = script;
    argvlen[1] = ngx_strlen(script);
    argv[2] = (char *) n;
    argvlen[2] = ngx_sprintf(n, "%ui", nkeys) - n;

    for (i = 0; i < nargs; i++) {
        argv[3 + i] = (char *) args[i].data;
        argvlen[3 + i] = args[i].len;
    }

    return ngx_http_cvc_redis_step(r, ctx, 3 + nargs, argv, argvlen, next);
}


/* prefix a[:b] */

ngx_str_t *
ngx_http_cvc_key(ngx_http_request_t *r, ngx_str_t *key, const char *prefix,
    ngx_str_t *a, ngx_str_t *b)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(prefix) + a->len + (b ? 1 + b->len : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    key->data = p;
    p = ngx_cpymem(p, prefix, ngx_strlen(prefix));
    p = ngx_cpymem(p, a->data, a->len);

    if (b != NULL) {
        *p++ = ':';
        p = ngx_cpymem(p, b->data, b->len);
    }

    key->len = p - key->data;

    return key;
}

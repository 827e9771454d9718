
/*
 * CVC gateway: who calls.  Sessions (Redis, under the SHA-256 of their
 * token), API keys (PostgreSQL, under the SHA-256 of their secret), the
 * cookie and its CSRF token; what the login sets (the cookie); logins
 * are in ngx_http_cvc_login.c, password resets and the payment code in
 * ngx_http_cvc_password.c.  Every secret that the
 * 3 strikes guard (passwords, payment codes) is checked by one chain,
 * ngx_http_cvc_strike() (ngx_http_cvc_strike.c).
 *
 * Time in Redis is the test clock's: Redis's TIME plus the offset kept in
 * cvc:clock (set by PUT /ops/v1/clock), so that sessions and reset links
 * expire by the same "now" as everything else.
 */


#include "ngx_http_cvc_module.h"

#include <openssl/crypto.h>


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


/*
 * Who calls: NGX_DECLINED (nobody to check: proceed), NGX_DONE (a backend
 * will tell; the request proceeds from there), or the rc of an answer sent.
 */

ngx_int_t
ngx_http_cvc_authenticate(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char                     idle[NGX_INT_T_LEN], max[NGX_INT_T_LEN];
    ngx_str_t                  token, hash, args[4];
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

    if (ngx_http_cvc_key(r, &ctx->principal.session, NGX_HTTP_CVC_KEY_SESSION,
                         &hash, NULL)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    args[0] = ngx_http_cvc_clock_key;
    args[1] = ctx->principal.session;
    args[2].data = idle;
    args[2].len = ngx_sprintf(idle, "%M", mcf->session_idle) - idle;
    args[3].data = max;
    args[3].len = ngx_sprintf(max, "%M", mcf->session_max) - max;

    return ngx_http_cvc_eval(r, ctx, ngx_http_cvc_lua_session_touch, 2, args,
                             4, ngx_http_cvc_session_found);
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

ngx_int_t
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


/*
 * CVC gateway fuzzing: credentials.  The input is a byte that picks a
 * route (and cvc_cookie_secure), a byte that picks the kind of session
 * Redis knows, header lines ("Authorization: Bearer ...", "Cookie: ...",
 * "X-CSRF-Token: ..."), an empty line, then the session's CSRF token as
 * Redis keeps it.  The request goes through ngx_http_cvc_authenticate();
 * where it asks Redis for a session, the same headers go again through
 * ngx_http_cvc_session_found() with that session.  A write with the
 * session cookie gets through only with the session's X-CSRF-Token.  The
 * ops token is checked by ngx_http_cvc_ops_auth() on the same headers.
 */


#include "ngx_fuzz.h"

/* ngx_http_cvc_session_found() is static */
#include "ngx_http_cvc_auth.c"
#include "ngx_http_cvc_login.c"
#include "ngx_http_cvc_password.c"
#include "ngx_http_cvc_strike.c"


typedef struct {
    ngx_uint_t      method;
    const char     *path;
} ngx_fuzz_route_t;


static const ngx_fuzz_route_t  routes[] = {
    { NGX_HTTP_GET, "/api/v1/merchant/me" },
    { NGX_HTTP_POST, "/api/v1/payment-requests" },
    { NGX_HTTP_GET, "/api/v1/payment-requests" },
    { NGX_HTTP_DELETE, "/api/v1/customer/sessions/current" },
    { NGX_HTTP_PUT, "/api/v1/customer/payment-code" },
    { NGX_HTTP_HEAD, "/api/v1/business-days" },
    { NGX_HTTP_POST, "/api/v1/points-of-sale/123456000001/api-keys" },
};

static const char  *kinds[] = {
    "admin", "point_of_sale", "customer", "api_key", "ops", ""
};


static ngx_fuzz_req_t *request(const ngx_fuzz_route_t *rt, u_char *headers,
    u_char *last);
static redisReply *session(const char *kind, u_char *csrf, size_t len);
static void session_free(redisReply *reply);
static void check_ops_auth(u_char *headers, u_char *last);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                  *headers, *end;
    ngx_int_t                rc;
    ngx_str_t                sent, line;
    ngx_uint_t               route, kind;
    redisReply              *reply;
    ngx_fuzz_req_t          *fr;
    ngx_fuzz_input_t         in;
    const ngx_fuzz_route_t  *rt;

    ngx_fuzz_start(&in, data, size);

    route = ngx_fuzz_byte(&in);
    kind = ngx_fuzz_byte(&in) % (sizeof(kinds) / sizeof(kinds[0]));

    rt = &routes[(route >> 1) % (sizeof(routes) / sizeof(routes[0]))];
    ngx_fuzz_mcf->cookie_secure = route & 1;

    /* the header lines, up to an empty one */

    headers = in.pos;
    end = in.pos;

    while (ngx_fuzz_line(&in, &line) == NGX_OK && line.len > 0) {
        end = line.data + line.len;
    }

    check_ops_auth(headers, end);

    /* who calls, as the handler asks */

    fr = request(rt, headers, end);
    if (fr == NULL) {
        return 0;
    }

    fr->r->main->count++;
    rc = ngx_http_cvc_authenticate(fr->r, fr->ctx);

    if (rc == NGX_DECLINED) {
        ngx_fuzz_fail("%s needs a caller", rt->path);
    }

    ngx_http_cvc_finalize(fr->r, rc);       /* as the body handler does */
    ngx_fuzz_done(fr, NGX_DONE);

    if (fr->ctx->principal.session.len == 0) {
        /* refused, or an API key: PostgreSQL was asked */
        ngx_fuzz_request_free(fr);
        return 0;
    }

    ngx_fuzz_request_free(fr);

    /* again, with the session Redis would have given */

    fr = request(rt, headers, end);
    ngx_fuzz_assert(fr != NULL);

    fr->r->main->count++;
    rc = ngx_http_cvc_authenticate(fr->r, fr->ctx);
    ngx_fuzz_assert(rc != NGX_DECLINED);

    /* Redis answers instead of being unreachable: that 503 is forgotten */

    fr->answer.finalized = 0;
    fr->answer.status = 0;
    fr->answer.body.len = 0;
    fr->r->header_sent = 0;
    fr->r->headers_out.status = 0;

    reply = session(kinds[kind], in.pos, in.last - in.pos);

    ngx_fuzz_alert_ok = (kind >= 4);    /* a session of no known kind */

    /* NGX_DONE: the route's handler was called */

    rc = ngx_http_cvc_session_found(fr->r, fr->ctx, reply);
    ngx_http_cvc_finalize(fr->r, rc);       /* as the Redis step does */
    ngx_fuzz_done(fr, NGX_DONE);

    ngx_fuzz_alert_ok = 0;

    /* through with the cookie on a write: only with the session's token */

    if (rc == NGX_DONE && fr->ctx->cookie
        && !(rt->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        ngx_fuzz_assert(ngx_http_cvc_header(fr->r, "X-CSRF-Token", &sent)
                        == NGX_OK);
        ngx_fuzz_assert(sent.len == (size_t) (in.last - in.pos)
                        && ngx_memcmp(sent.data, in.pos, sent.len) == 0);
    }

    session_free(reply);
    ngx_fuzz_request_free(fr);

    return 0;
}


/* NULL: nginx would have refused the headers */

static ngx_fuzz_req_t *
request(const ngx_fuzz_route_t *rt, u_char *headers, u_char *last)
{
    ngx_str_t        allow;
    ngx_fuzz_req_t  *fr;

    fr = ngx_fuzz_request(rt->method, (u_char *) rt->path,
                          ngx_strlen(rt->path));

    ngx_fuzz_assert(ngx_http_cvc_route(fr->r, fr->ctx, 0, &allow) == NGX_OK);

    if (ngx_fuzz_headers(fr, headers, last) != NGX_OK) {
        ngx_fuzz_request_free(fr);
        return NULL;
    }

    return fr;
}


/* the reply of ngx_http_cvc_lua_session_touch: kind, id, convention,
 * csrf, expires */

static redisReply *
session(const char *kind, u_char *csrf, size_t len)
{
    size_t       i;
    redisReply  *reply, *e;

    static const char  *values[] = { NULL, "123456000001", "123456", NULL,
                                     "1767225600000" };

    reply = calloc(1, sizeof(redisReply));
    ngx_fuzz_assert(reply != NULL);

    reply->type = REDIS_REPLY_ARRAY;
    reply->elements = 5;
    reply->element = calloc(5, sizeof(redisReply *));
    ngx_fuzz_assert(reply->element != NULL);

    for (i = 0; i < 5; i++) {
        e = calloc(1, sizeof(redisReply));
        ngx_fuzz_assert(e != NULL);

        e->type = REDIS_REPLY_STRING;

        if (i == 0) {
            e->len = ngx_strlen(kind);
            e->str = malloc(e->len + 1);
            ngx_fuzz_assert(e->str != NULL);
            ngx_memcpy(e->str, kind, e->len + 1);

        } else if (i == 3) {
            e->len = len;
            e->str = malloc(len + 1);
            ngx_fuzz_assert(e->str != NULL);
            ngx_memcpy(e->str, csrf, len);
            e->str[len] = '\0';

        } else {
            e->len = ngx_strlen(values[i]);
            e->str = strdup(values[i]);
            ngx_fuzz_assert(e->str != NULL);
        }

        reply->element[i] = e;
    }

    return reply;
}


static void
session_free(redisReply *reply)
{
    size_t  i;

    for (i = 0; i < reply->elements; i++) {
        free(reply->element[i]->str);
        free(reply->element[i]);
    }

    free(reply->element);
    free(reply);
}


/* the ops location: only "Bearer <cvc_ops_token>" exactly */

static void
check_ops_auth(u_char *headers, u_char *last)
{
    ngx_str_t        expect;
    ngx_fuzz_req_t  *fr;

    fr = ngx_fuzz_request(NGX_HTTP_POST, (u_char *) "/ops/v1/conventions",
                          sizeof("/ops/v1/conventions") - 1);

    if (ngx_fuzz_headers(fr, headers, last) != NGX_OK) {
        ngx_fuzz_request_free(fr);
        return;
    }

    if (ngx_http_cvc_ops_auth(fr->r) == NGX_OK) {
        ngx_fuzz_assert(fr->r->headers_in.authorization != NULL);

        expect = fr->r->headers_in.authorization->value;

        ngx_fuzz_assert(expect.len == 7 + ngx_fuzz_lcf->ops_token.len
                        && ngx_strncasecmp(expect.data, (u_char *) "Bearer ",
                                           7) == 0
                        && ngx_memcmp(expect.data + 7,
                                      ngx_fuzz_lcf->ops_token.data,
                                      ngx_fuzz_lcf->ops_token.len) == 0);
    }

    ngx_fuzz_request_free(fr);
}

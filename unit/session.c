
/*
 * CVC gateway unit tests: sessions (ngx_http_cvc_auth.c).  The cookie a
 * route takes (merchants' and customers' apart, __Host- where the cookie
 * is Secure), then Redis's reply of the session: five strings or no
 * session, the caller it makes, the kinds a route takes, and the CSRF
 * token that every write with a cookie must send.
 */


#include "ngx_unit.h"

/* the cookie's and the session's steps are static */
#include "ngx_http_cvc_auth.c"


#define MERCHANT  NGX_HTTP_CVC_MERCHANT
#define CUSTOMER  NGX_HTTP_CVC_CUSTOMER
#define COOKIE    1
#define BEARER    0

#define CSRF      "Zm9vYmFyYmF6cXV4"


static const char *cookie(ngx_uint_t callers, const char *header);
static const char *session(ngx_uint_t method, ngx_flag_t by_cookie,
    const char *csrf, ngx_uint_t callers, const char *const *fields);


static void authenticated_handler(ngx_http_request_t *r);


static ngx_uint_t                 authenticated;
static ngx_http_cvc_principal_t   principal;
static ngx_http_request_t        *last;


int
main(void)
{
    static const char  *pos[] = { "point_of_sale", "123456000001", "123456",
        CSRF, "1700000000000" };
    static const char  *admin[] = { "admin", "123456", "123456", CSRF,
        "1700000000000" };
    static const char  *customer[] = { "customer", "12345678901", "", CSRF,
        "1700000000000" };
    static const char  *root[] = { "root", "0", "", CSRF, "1" };
    static const char  *no_csrf[] = { "point_of_sale", "123456000001",
        "123456", NULL, "1700000000000" };

    ngx_unit_init();

    /* the cookie of the route's callers */

    ngx_unit_mcf.cookie_secure = 1;
    is_str(cookie(MERCHANT, "__Host-cvc_session=abc"), "abc",
           "a merchant's cookie");
    is_str(cookie(MERCHANT, "a=1; __Host-cvc_session=abc; b=2"), "abc",
           "among others");
    is_str(cookie(MERCHANT, "cvc_session=abc"), "(none)",
           "Secure: a cookie without __Host- is not taken");
    is_str(cookie(MERCHANT, "__Host-cvc_customer_session=abc"), "(none)",
           "a customer's is not a merchant's");
    is_str(cookie(CUSTOMER, "__Host-cvc_customer_session=def"), "def",
           "a customer's cookie");
    is_str(cookie(CUSTOMER, "__Host-cvc_session=abc"), "(none)",
           "a merchant's is not a customer's");
    is_str(cookie(NGX_HTTP_CVC_ANYONE, "__Host-cvc_customer_session=def; "
                  "__Host-cvc_session=abc"), "abc",
           "anyone's route: the merchant's first");
    is_str(cookie(MERCHANT, "x__Host-cvc_session=abc"), "(none)",
           "another name");

    ngx_unit_mcf.cookie_secure = 0;
    is_str(cookie(MERCHANT, "cvc_session=abc"), "abc",
           "on plain http, without the prefix");

    /* Redis's reply: five strings, or no session */

    is_str(session(NGX_HTTP_GET, BEARER, NULL, MERCHANT, NULL),
           "401 unauthenticated", "no session (nil)");
    is_str(session(NGX_HTTP_GET, BEARER, NULL, MERCHANT, no_csrf),
           "401 unauthenticated", "a field missing: no session");

    is_str(session(NGX_HTTP_GET, BEARER, NULL, MERCHANT, pos),
           "authenticated", "a point of sale's session");
    is_int(principal.kind, NGX_HTTP_CVC_POS, "its kind");
    is_nstr(principal.account.data, principal.account.len,
            "point_of_sale:123456000001", "its account");
    is_nstr(principal.kind_name.data, principal.kind_name.len,
            "point_of_sale", "its kind's name");
    is_nstr(principal.id.data, principal.id.len, "123456000001", "its id");
    is_nstr(principal.convention.data, principal.convention.len, "123456",
            "its convention");
    is_nstr(principal.csrf.data, principal.csrf.len, CSRF, "its CSRF token");
    is_nstr(principal.expires.data, principal.expires.len, "1700000000000",
            "its end");

    is_str(session(NGX_HTTP_GET, BEARER, NULL, MERCHANT, admin),
           "authenticated", "an admin's");
    is_nstr(principal.account.data, principal.account.len, "admin:123456",
            "admin:<convention>");

    is_str(session(NGX_HTTP_GET, BEARER, NULL, MERCHANT, customer),
           "403 forbidden", "a customer's session on a merchant's route");
    is_str(session(NGX_HTTP_GET, BEARER, NULL, CUSTOMER, pos),
           "403 forbidden", "a merchant's on a customer's route");
    is_str(session(NGX_HTTP_GET, BEARER, NULL, MERCHANT, root), "rc 500",
           "a session of no kind we know: 500 (and an alert)");

    /* CSRF: with the cookie, every write sends the session's token */

    is_str(session(NGX_HTTP_POST, COOKIE, NULL, MERCHANT, pos),
           "403 csrf_failed", "a cookie, POST, no X-CSRF-Token");
    is_str(session(NGX_HTTP_POST, COOKIE, "Zm9vYmFyYmF6cXV5", MERCHANT, pos),
           "403 csrf_failed", "another token of its length");
    is_str(session(NGX_HTTP_POST, COOKIE, "Zm9vYmFyYmF6cXV", MERCHANT, pos),
           "403 csrf_failed", "its prefix");
    is_str(session(NGX_HTTP_POST, COOKIE, CSRF "x", MERCHANT, pos),
           "403 csrf_failed", "more than it");
    is_str(session(NGX_HTTP_POST, COOKIE, "", MERCHANT, pos),
           "403 csrf_failed", "an empty one");
    is_str(session(NGX_HTTP_POST, COOKIE, CSRF, MERCHANT, pos),
           "authenticated", "the right token");
    is_str(session(NGX_HTTP_DELETE, COOKIE, NULL, MERCHANT, pos),
           "403 csrf_failed", "DELETE, no token");
    is_str(session(NGX_HTTP_PUT, COOKIE, CSRF, MERCHANT, pos),
           "authenticated", "PUT, the right token");
    is_str(session(NGX_HTTP_GET, COOKIE, NULL, MERCHANT, pos),
           "authenticated", "GET needs none");
    is_str(session(NGX_HTTP_HEAD, COOKIE, NULL, MERCHANT, pos),
           "authenticated", "HEAD needs none");
    is_str(session(NGX_HTTP_POST, BEARER, NULL, MERCHANT, pos),
           "authenticated", "Bearer: no CSRF token needed");

    ngx_unit_request_free(last);

    return done_testing();
}


static const char *
cookie(ngx_uint_t callers, const char *header)
{
    ngx_str_t            token;
    ngx_http_request_t  *r;

    static char  out[256];

    r = ngx_unit_request(NGX_HTTP_GET, "/api/v1/merchant/me");
    (void) ngx_unit_header(r, "Cookie", header);

    if (ngx_http_cvc_session_cookie(r, callers, &token) == NGX_OK) {
        snprintf(out, sizeof(out), "%.*s", (int) token.len, token.data);

    } else {
        snprintf(out, sizeof(out), "(none)");
    }

    ngx_unit_request_free(r);

    return out;
}


static void
authenticated_handler(ngx_http_request_t *r)
{
    authenticated++;
}


/*
 * What ngx_http_cvc_session_found() makes of the session's fields (kind,
 * id, convention, CSRF token, end; NULL: nil; fields NULL: no session) on
 * a route of those callers: "authenticated", "<status> <code>" of the
 * answer, or "rc <rc>".
 */

static const char *
session(ngx_uint_t method, ngx_flag_t by_cookie, const char *csrf,
    ngx_uint_t callers, const char *const *fields)
{
    char                  resp[1024], *p;
    void                 *reply;
    json_t               *answer;
    ngx_int_t             rc;
    ngx_uint_t            i;
    redisReader          *reader;
    ngx_http_cvc_ctx_t   *ctx;
    ngx_http_request_t   *r;
    ngx_http_cvc_route_t  route;

    static char  out[256];

    /* the reply, read from RESP as hiredis reads Redis's */

    p = resp;

    if (fields == NULL) {
        p += sprintf(p, "$-1\r\n");

    } else {
        p += sprintf(p, "*5\r\n");

        for (i = 0; i < 5; i++) {
            p += fields[i] ? sprintf(p, "$%lu\r\n%s\r\n",
                                     (unsigned long) ngx_strlen(fields[i]),
                                     fields[i])
                           : sprintf(p, "$-1\r\n");
        }
    }

    reader = redisReaderCreate();
    reply = NULL;

    if (redisReaderFeed(reader, resp, p - resp) != REDIS_OK
        || redisReaderGetReply(reader, &reply) != REDIS_OK || reply == NULL)
    {
        redisReaderFree(reader);
        return "(not RESP)";
    }

    redisReaderFree(reader);

    /* a request on a route of those callers, its credential sent so */

    r = ngx_unit_request(method, "/api/v1/merchant/me");
    ctx = ngx_unit_ctx(r);

    ngx_memzero(&route, sizeof(ngx_http_cvc_route_t));
    route.methods = method;
    route.pattern = "/api/v1/merchant/me";
    route.callers = callers;

    ctx->route = &route;
    ctx->cookie = by_cookie;
    ctx->authenticated = authenticated_handler;

    if (csrf != NULL) {
        (void) ngx_unit_header(r, "X-CSRF-Token", csrf);
    }

    authenticated = 0;
    rc = ngx_http_cvc_session_found(r, ctx, reply);

    if (rc == NGX_DONE && authenticated == 1 && ngx_unit_answer.status == 0) {
        snprintf(out, sizeof(out), "authenticated");

        /* what it made, in memory of its own */
        principal = ctx->principal;

    } else if (rc == NGX_OK && authenticated == 0
               && ngx_unit_answer.status != 0)
    {
        answer = json_loads((char *) ngx_unit_answer.body, 0, NULL);
        snprintf(out, sizeof(out), "%lu %s",
                 (unsigned long) ngx_unit_answer.status,
                 json_string_value(json_object_get(json_object_get(answer,
                                                       "error"), "code")));
        json_decref(answer);

    } else {
        snprintf(out, sizeof(out), "rc %ld", (long) rc);
    }

    freeReplyObject(reply);

    /* the principal's strings are in its pool: kept until the next one */

    if (last != NULL) {
        ngx_unit_request_free(last);
    }

    last = r;

    return out;
}


/*
 * CVC gateway unit tests: the router (ngx_http_cvc_router.c).  Which
 * route a method and a path reach and its captures, the 404s, the 405s
 * and their Allow header, the ops routes apart, the test clock's only
 * where it is on; and the table itself: every route reachable, an ops
 * route only under /ops/v1.
 */


#include "ngx_unit.h"


#define GET     NGX_HTTP_GET
#define HEAD    NGX_HTTP_HEAD
#define POST    NGX_HTTP_POST
#define PUT     NGX_HTTP_PUT
#define PATCH   NGX_HTTP_PATCH
#define DELETE  NGX_HTTP_DELETE
#define OPTIONS NGX_HTTP_OPTIONS

#define API     0
#define OPS     1


/* the number the router gave the last route it found */
static ngx_uint_t  number;

static const char *route(ngx_uint_t method, const char *path, ngx_flag_t ops);
static void path_of(const char *pattern, char *path);


int
main(void)
{
    char                         path[256], want[256];
    ngx_uint_t                   i, ops, methods;
    const char                  *s;
    const ngx_http_cvc_route_t  *rt;

    ngx_unit_init();

    /* literal paths, GET with HEAD */

    is_str(route(GET, "/api/v1/health", API), "/api/v1/health", "GET health");
    is_str(route(HEAD, "/api/v1/health", API), "/api/v1/health",
           "HEAD health");
    is_str(route(GET, "/api/v1/health/ready", API), "/api/v1/health/ready",
           "a longer literal path");
    is_str(route(POST, "/api/v1/health", API), "405 GET, HEAD",
           "POST health: 405, Allow: GET, HEAD");

    /* 404: the whole path must match, exactly */

    is_str(route(GET, "/api/v1/health/", API), "404", "a trailing slash");
    is_str(route(GET, "/api/v1/healthz", API), "404", "a longer segment");
    is_str(route(GET, "/api/v1/heal", API), "404", "a prefix");
    is_str(route(GET, "/API/V1/HEALTH", API), "404", "another case");
    is_str(route(GET, "/api/v1", API), "404", "the base path");
    is_str(route(GET, "/", API), "404", "/");
    is_str(route(GET, "", API), "404", "an empty path");

    /* captures: one non-empty segment each */

    is_str(route(GET, "/api/v1/payment-requests/pr_42", API),
           "/api/v1/payment-requests/{id} [pr_42]", "a capture");
    is_str(route(GET, "/api/v1/payment-requests/export", API),
           "/api/v1/payment-requests/export",
           "a literal listed before the capture wins");
    is_str(route(GET, "/api/v1/payment-requests/", API), "404",
           "an empty capture");
    is_str(route(POST, "/api/v1/payment-requests/42/confirm", API),
           "/api/v1/payment-requests/{id}/confirm [42]", "confirm");
    is_str(route(POST, "/api/v1/payment-requests//confirm", API), "404",
           "an empty segment");
    is_str(route(POST, "/api/v1/payment-requests/4/2/confirm", API), "404",
           "a capture is one segment");
    is_str(route(POST, "/api/v1/payment-requests/42/confirm/", API), "404",
           "a trailing slash after a capture");
    is_str(route(POST, "/api/v1/points-of-sale/123456000001/webhook/"
                 "deliveries/7/retry", API),
           "/api/v1/points-of-sale/{pos}/webhook/deliveries/{id}/retry "
           "[123456000001][7]", "two captures");
    is_str(route(DELETE, "/api/v1/points-of-sale/123456000001/api-keys/9",
                 API),
           "/api/v1/points-of-sale/{pos}/api-keys/{id} [123456000001][9]",
           "DELETE an API key");

    /* 405: Allow names every method of the path, in a fixed order */

    is_str(route(GET, "/api/v1/payment-requests/42/confirm", API),
           "405 POST", "GET confirm");
    is_str(route(PATCH, "/api/v1/points-of-sale/123456000001/webhook", API),
           "405 GET, HEAD, PUT, DELETE", "PATCH the webhook");
    is_str(route(OPTIONS, "/api/v1/payment-requests", API),
           "405 GET, HEAD, POST", "OPTIONS the payment requests");
    is_str(route(POST, "/api/v1/payment-requests/export", API),
           "405 GET, HEAD", "POST the export (its path and {id}'s)");
    is_str(route(DELETE, "/api/v1/merchant/sessions", API), "405 POST",
           "DELETE the sessions, not the current one");

    /* the ops routes, on the ops location only */

    is_str(route(POST, "/ops/v1/conventions", OPS), "/ops/v1/conventions",
           "an ops route on the ops location");
    is_str(route(POST, "/ops/v1/conventions", API), "404",
           "an ops route on the API location");
    is_str(route(GET, "/api/v1/health", OPS), "404",
           "an API route on the ops location");
    is_str(route(POST, "/ops/v1/beneficiaries/12345678901/credits", OPS),
           "/ops/v1/beneficiaries/{id}/credits [12345678901]", "a credit");

    /* the test clock: there only where cvc_test_clock is on */

    ngx_unit_mcf.test_clock = 0;
    is_str(route(PUT, "/ops/v1/clock", OPS), "404", "PUT clock, off");
    is_str(route(GET, "/ops/v1/clock", OPS), "404", "GET clock, off: no 405");

    ngx_unit_mcf.test_clock = 1;
    is_str(route(PUT, "/ops/v1/clock", OPS), "/ops/v1/clock", "PUT clock, on");
    is_str(route(DELETE, "/ops/v1/clock", OPS), "/ops/v1/clock",
           "DELETE clock, on");
    is_str(route(GET, "/ops/v1/clock", OPS), "405 PUT, DELETE",
           "GET clock, on");
    is_str(route(PUT, "/ops/v1/clock", API), "404", "never on the API");

    /* the table: each route reachable by its own method and a path of its
     * pattern; ops routes are those under /ops/v1 */

    for (i = 0; (rt = ngx_http_cvc_route_nth(i)) != NULL; i++) {
        ops = (rt->callers & NGX_HTTP_CVC_OPS) != 0;
        methods = rt->methods;

        path_of(rt->pattern, path);
        s = route(methods & ~(ngx_uint_t) HEAD, path, ops);
        snprintf(want, sizeof(want), "%s", rt->pattern);

        if (strchr(want, '{') != NULL) {
            ok(ngx_strncmp(s, want, ngx_strlen(want)) == 0
               && s[ngx_strlen(want)] == ' ', "%s %s reaches %s",
               ngx_http_cvc_route_method(rt), path, rt->pattern);

        } else {
            is_str(s, want, "%s %s reaches its route",
                   ngx_http_cvc_route_method(rt), path);
        }

        ok(ops == (ngx_strncmp(rt->pattern, "/ops/v1/", 8) == 0)
           && (ops || ngx_strncmp(rt->pattern, "/api/v1/", 8) == 0)
           && !(methods & GET) == !(methods & HEAD)
           && number == i,
           "%s: under %s, HEAD only with GET, number %lu", rt->pattern,
           ops ? "/ops/v1" : "/api/v1", (unsigned long) i);
    }

    ok(i > 0 && i <= NGX_HTTP_CVC_MAX_ROUTES, "%lu routes, room for them "
       "in the metrics", (unsigned long) i);

    return done_testing();
}


/*
 * "<pattern> [capture]..." of the route found, "404" where no route has
 * the path, "405 <Allow>" where none of them takes the method.
 */

static const char *
route(ngx_uint_t method, const char *path, ngx_flag_t ops)
{
    char                *p, *last;
    ngx_int_t            rc;
    ngx_str_t            allow;
    ngx_uint_t           i;
    ngx_http_cvc_ctx_t  *ctx;
    ngx_http_request_t  *r;

    static char  out[512];

    r = ngx_unit_request(method, path);
    if (r == NULL) {
        return "(no memory)";
    }

    ctx = ngx_unit_ctx(r);
    rc = ngx_http_cvc_route(r, ctx, ops, &allow);

    p = out;
    last = out + sizeof(out);

    if (rc == NGX_OK) {
        number = ctx->route_number;
        p += snprintf(p, last - p, "%s", ctx->route->pattern);

        for (i = 0; i < ctx->nparams && p < last; i++) {
            p += snprintf(p, last - p, "%s[%.*s]", i ? "" : " ",
                          (int) ctx->params[i].len, ctx->params[i].data);
        }

    } else if (allow.len == 0) {
        snprintf(out, sizeof(out), "404");

    } else {
        snprintf(out, sizeof(out), "405 %.*s", (int) allow.len, allow.data);
    }

    ngx_unit_request_free(r);

    return out;
}


/* a path of the pattern: "{name}" made "x1", "x2"... */

static void
path_of(const char *pattern, char *path)
{
    ngx_uint_t  n;

    n = 0;

    while (*pattern != '\0') {
        if (*pattern != '{') {
            *path++ = *pattern++;
            continue;
        }

        path += sprintf(path, "x%lu", (unsigned long) ++n);
        pattern = strchr(pattern, '}') + 1;
    }

    *path = '\0';
}

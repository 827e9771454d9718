
/*
 * CVC gateway fuzzing: request bodies.  The input's first byte picks a
 * route that takes a body (and its caller), the second how many buffers
 * the body comes in; the rest is the body.  The body goes the way of a
 * real one: ngx_http_cvc_proceed() parses it (jansson, 64 KiB, an object)
 * and the route's handler checks its fields; what passes them reaches a
 * backend, which fails (503).
 */


#include "ngx_fuzz.h"


typedef struct {
    ngx_uint_t      method;
    const char     *path;
    ngx_flag_t      ops;
    ngx_uint_t      kind;
} ngx_fuzz_route_t;


static const ngx_fuzz_route_t  routes[] = {
    { NGX_HTTP_POST, "/api/v1/merchant/sessions", 0, 0 },
    { NGX_HTTP_POST, "/api/v1/customer/sessions", 0, 0 },
    { NGX_HTTP_POST, "/api/v1/merchant/password-resets", 0, 0 },
    { NGX_HTTP_POST, "/api/v1/merchant/password-resets/confirm", 0, 0 },
    { NGX_HTTP_POST, "/api/v1/points-of-sale/123456000001/api-keys", 0,
      NGX_HTTP_CVC_ADMIN },
    { NGX_HTTP_PUT, "/api/v1/points-of-sale/123456000001/webhook", 0,
      NGX_HTTP_CVC_ADMIN },
    { NGX_HTTP_POST, "/api/v1/payment-requests", 0, NGX_HTTP_CVC_ADMIN },
    { NGX_HTTP_POST, "/api/v1/payment-requests", 0, NGX_HTTP_CVC_POS },
    { NGX_HTTP_POST, "/api/v1/payment-requests", 0, NGX_HTTP_CVC_API_KEY },
    { NGX_HTTP_POST, "/api/v1/payment-requests/9f0c/confirm", 0,
      NGX_HTTP_CVC_POS },
    { NGX_HTTP_POST, "/api/v1/payment-requests/9f0c/cancel", 0,
      NGX_HTTP_CVC_API_KEY },
    { NGX_HTTP_POST,
      "/api/v1/points-of-sale/123456000001/webhook/deliveries/7/retry", 0,
      NGX_HTTP_CVC_ADMIN },
    { NGX_HTTP_PUT, "/api/v1/customer/payment-code", 0,
      NGX_HTTP_CVC_CUSTOMER },
    { NGX_HTTP_POST, "/api/v1/customer/payment-requests/9f0c/pay", 0,
      NGX_HTTP_CVC_CUSTOMER },
    { NGX_HTTP_POST, "/api/v1/customer/payment-requests/9f0c/refuse", 0,
      NGX_HTTP_CVC_CUSTOMER },
    { NGX_HTTP_DELETE, "/api/v1/merchant/sessions/current", 0,
      NGX_HTTP_CVC_POS },
    { NGX_HTTP_POST, "/ops/v1/conventions", 1, 0 },
    { NGX_HTTP_POST, "/ops/v1/points-of-sale", 1, 0 },
    { NGX_HTTP_POST, "/ops/v1/beneficiaries", 1, 0 },
    { NGX_HTTP_POST, "/ops/v1/beneficiaries/12345678901/credits", 1, 0 },
    { NGX_HTTP_POST, "/ops/v1/beneficiaries/12345678901/unlock", 1, 0 },
    { NGX_HTTP_PUT, "/ops/v1/clock", 1, 0 },
    { NGX_HTTP_DELETE, "/ops/v1/clock", 1, 0 },
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t                allow;
    ngx_uint_t               pieces;
    ngx_fuzz_req_t          *fr;
    ngx_fuzz_input_t         in;
    const ngx_fuzz_route_t  *rt;

    ngx_fuzz_start(&in, data, size);
    ngx_fuzz_mcf->test_clock = 1;               /* the clock's routes too */

    rt = &routes[ngx_fuzz_byte(&in) % (sizeof(routes) / sizeof(routes[0]))];
    pieces = ngx_fuzz_byte(&in) % 4 + 1;

    fr = ngx_fuzz_request(rt->method, (u_char *) rt->path,
                          ngx_strlen(rt->path));

    ngx_fuzz_assert(ngx_http_cvc_route(fr->r, fr->ctx, rt->ops, &allow)
                    == NGX_OK);

    if (rt->kind != 0) {
        (void) ngx_fuzz_principal(fr, rt->kind);
    }

    if (in.pos < in.last) {
        ngx_fuzz_assert(ngx_fuzz_body(fr, in.pos, in.last - in.pos, pieces)
                        == NGX_OK);

        (void) ngx_http_read_client_request_body(fr->r,
                                                 ngx_http_cvc_proceed);

    } else {
        fr->r->main->count++;
        ngx_http_cvc_proceed(fr->r);
    }

    ngx_fuzz_done(fr, NGX_DONE);
    ngx_fuzz_request_free(fr);

    return 0;
}

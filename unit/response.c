
/*
 * CVC gateway unit tests: the answers (ngx_http_cvc_response.c) in the
 * contract's format: {"error": {"code", "message", ...extra,
 * "request_id"}}, fields of a 422 inside it, Retry-After on a 503 and a
 * 429, Cache-Control: no-store and nosniff on every JSON answer; the 400
 * of a bad query parameter.
 */


#include "ngx_unit.h"


static ngx_http_request_t *request(void);
static void headers(ngx_http_request_t *r, const char *what);


int
main(void)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    ngx_unit_init();

    r = request();
    rc = ngx_http_cvc_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                 "No such resource.", NULL);
    is_int(rc, NGX_OK, "an error sent");
    is_int(ngx_unit_answer.status, 404, "404");
    is_str(ngx_unit_answer.body, "{\"error\":{\"code\":\"not_found\","
           "\"message\":\"No such resource.\",\"request_id\":\"req-1\"}}",
           "{\"error\": {code, message, request_id}}");
    headers(r, "an error");
    ngx_unit_request_free(r);

    r = request();
    (void) ngx_http_cvc_send_invalid(r, json_pack("{ss}", "amount",
                                                  "must be an integer"));
    is_int(ngx_unit_answer.status, 422, "422");
    is_str(ngx_unit_answer.body, "{\"error\":{\"code\":\"validation_failed\","
           "\"message\":\"Some fields are invalid.\",\"fields\":{\"amount\":"
           "\"must be an integer\"},\"request_id\":\"req-1\"}}",
           "the fields at fault inside error");
    ngx_unit_request_free(r);

    r = request();
    (void) ngx_http_cvc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_credentials", "Wrong password.",
                                   json_pack("{si}", "attempts_left", 2));
    is_str(ngx_unit_answer.body, "{\"error\":{\"code\":"
           "\"invalid_credentials\",\"message\":\"Wrong password.\","
           "\"attempts_left\":2,\"request_id\":\"req-1\"}}",
           "an extra member a code announces, inside error");
    ngx_unit_request_free(r);

    r = request();
    (void) ngx_http_cvc_send_unavailable(r, "PostgreSQL");
    is_int(ngx_unit_answer.status, 503, "503");
    is_str(ngx_unit_answer.body, "{\"error\":{\"code\":\"unavailable\","
           "\"message\":\"PostgreSQL is unavailable; retry later.\","
           "\"request_id\":\"req-1\"}}", "unavailable");
    is_str(ngx_unit_out_header(r, "Retry-After"), "5", "Retry-After: 5");
    headers(r, "a 503");
    ngx_unit_request_free(r);

    r = request();
    (void) ngx_http_cvc_send_rate_limited(r, "Too many tries.", 42);
    is_int(ngx_unit_answer.status, 429, "429");
    is_str(ngx_unit_out_header(r, "Retry-After"), "42", "Retry-After: 42");
    ngx_unit_request_free(r);

    /* a 500 of the module's own, unless an answer went already */

    r = request();
    is_int(ngx_http_cvc_internal_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR),
           NGX_OK, "a 500 sent");
    is_str(ngx_unit_answer.body, "{\"error\":{\"code\":\"internal_error\","
           "\"message\":\"An internal error occurred.\","
           "\"request_id\":\"req-1\"}}", "in the contract's format");
    is_int(ngx_http_cvc_internal_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR),
           NGX_HTTP_INTERNAL_SERVER_ERROR, "not twice");
    is_int(ngx_unit_answer.headers, 1, "one header sent");
    is_int(ngx_http_cvc_internal_error(r, NGX_DONE), NGX_DONE,
           "NGX_DONE goes through");
    ngx_unit_request_free(r);

    /* a bad query parameter: 400 naming it */

    r = request();
    (void) ngx_http_cvc_bad_parameter(r, "limit");
    is_int(ngx_unit_answer.status, 400, "400");
    is_str(ngx_unit_answer.body, "{\"error\":{\"code\":\"invalid_parameter\","
           "\"message\":\"The query has a parameter limit that is not "
           "valid.\",\"parameter\":\"limit\",\"request_id\":\"req-1\"}}",
           "invalid_parameter, its name in parameter");
    ngx_unit_request_free(r);

    r = request();
    (void) ngx_http_cvc_bad_parameter(r, "an unknown parameter");
    is_str(ngx_unit_answer.body, "{\"error\":{\"code\":\"invalid_parameter\","
           "\"message\":\"The query has an unknown parameter that is not "
           "valid.\",\"parameter\":\"an unknown parameter\","
           "\"request_id\":\"req-1\"}}", "an unknown one");
    ngx_unit_request_free(r);

    /* 204: no body, no type */

    r = request();
    (void) ngx_http_cvc_send_no_content(r);
    ok(ngx_unit_answer.status == 204 && ngx_unit_answer.len == 0
       && r->header_only, "204, the header alone");
    ngx_unit_request_free(r);

    return done_testing();
}


static ngx_http_request_t *
request(void)
{
    ngx_http_request_t  *r;

    r = ngx_unit_request(NGX_HTTP_GET, "/api/v1/payment-requests/42");
    ngx_str_set(&ngx_unit_ctx(r)->request_id, "req-1");

    return r;
}


/* what every JSON answer carries */

static void
headers(ngx_http_request_t *r, const char *what)
{
    is_nstr(r->headers_out.content_type.data, r->headers_out.content_type.len,
            "application/json", "%s: application/json", what);
    is_int(r->headers_out.content_length_n, ngx_unit_answer.len,
           "%s: its Content-Length", what);
    is_str(ngx_unit_out_header(r, "Cache-Control"), "no-store",
           "%s: Cache-Control: no-store", what);
    is_str(ngx_unit_out_header(r, "X-Content-Type-Options"), "nosniff",
           "%s: X-Content-Type-Options: nosniff", what);
}


/*
 * CVC gateway fuzzing: the request's own headers.  The input is a byte
 * that picks a route, header lines, an empty line, then the body.  The
 * request goes through the content handler, ngx_http_cvc_handler(), as
 * nginx calls it: X-Request-Id (the caller's if sane, else 32 hex digits,
 * sent back once), the ops token, Content-Type and Content-Length, the
 * body.  Then Idempotency-Key is checked as POST /api/v1/payment-requests
 * does, on a valid body: a bad key is the only 400.
 */


#include "ngx_fuzz.h"

/* ngx_http_cvc_set_request_id() and ngx_http_cvc_idempotency_key() are
 * static */
#include "ngx_http_cvc_handler.c"
#include "ngx_http_cvc_payment_requests.c"


typedef struct {
    ngx_uint_t      method;
    const char     *path;
    ngx_flag_t      ops;
} ngx_fuzz_route_t;


static const ngx_fuzz_route_t  routes[] = {
    { NGX_HTTP_POST, "/api/v1/merchant/sessions", 0 },
    { NGX_HTTP_POST, "/api/v1/payment-requests", 0 },
    { NGX_HTTP_GET, "/api/v1/payment-requests?status=validated", 0 },
    { NGX_HTTP_PATCH, "/api/v1/payment-requests", 0 },
    { NGX_HTTP_GET, "/api/v1/nothing-here", 0 },
    { NGX_HTTP_POST, "/ops/v1/conventions", 1 },
    { NGX_HTTP_DELETE, "/ops/v1/clock", 1 },
};


static const char  pr_body[] = "{\"mode\":\"immediate\",\"amount\":1250,"
    "\"basket_number\":\"PANIER-1\",\"customer\":\"12345678901\"}";


static ngx_fuzz_req_t *request(const ngx_fuzz_route_t *rt, u_char *headers,
    u_char *last);
static void check_request_id(ngx_fuzz_req_t *fr);
static void check_idempotency_key(u_char *headers, u_char *last);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                  *headers, *end;
    ngx_int_t                rc;
    ngx_str_t                line;
    ngx_fuzz_req_t          *fr;
    ngx_fuzz_input_t         in;
    const ngx_fuzz_route_t  *rt;

    ngx_fuzz_start(&in, data, size);

    rt = &routes[ngx_fuzz_byte(&in) % (sizeof(routes) / sizeof(routes[0]))];

    headers = in.pos;
    end = in.pos;

    while (ngx_fuzz_line(&in, &line) == NGX_OK && line.len > 0) {
        end = line.data + line.len;
    }

    fr = request(rt, headers, end);
    if (fr == NULL) {
        return 0;
    }

    if (in.pos < in.last) {
        ngx_fuzz_assert(ngx_fuzz_body(fr, in.pos, in.last - in.pos, 1)
                        == NGX_OK);
    }

    /* as nginx's content phase calls a handler, and finalizes */

    ngx_fuzz_lcf->ops = rt->ops;
    ngx_fuzz_lcf->api = !rt->ops;

    rc = ngx_http_cvc_handler(fr->r);

    fr->ctx = ngx_http_get_module_ctx(fr->r, ngx_http_cvc_module);
    ngx_fuzz_assert(fr->ctx != NULL);

    ngx_fuzz_lcf->ops = 0;
    ngx_fuzz_lcf->api = 1;

    ngx_fuzz_done(fr, rc);
    check_request_id(fr);

    ngx_fuzz_request_free(fr);

    check_idempotency_key(headers, end);

    return 0;
}


/* NULL: nginx would have refused the headers */

static ngx_fuzz_req_t *
request(const ngx_fuzz_route_t *rt, u_char *headers, u_char *last)
{
    ngx_fuzz_req_t  *fr;

    fr = ngx_fuzz_request(rt->method, (u_char *) rt->path,
                          ngx_strlen(rt->path));

    /* the handler sets its own ctx and request id */

    ngx_http_set_ctx(fr->r, NULL, ngx_http_cvc_module);

    if (ngx_fuzz_headers(fr, headers, last) != NGX_OK) {
        ngx_fuzz_request_free(fr);
        return NULL;
    }

    return fr;
}


/* the caller's id when sane, else 32 hex digits; in the answer once */

static void
check_request_id(ngx_fuzz_req_t *fr)
{
    size_t               i;
    ngx_str_t            sent, *id;
    ngx_uint_t           n;
    ngx_list_part_t     *part;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r = fr->r;

    id = &fr->ctx->request_id;

    ngx_fuzz_assert(id->len > 0 && id->len <= NGX_HTTP_CVC_REQUEST_ID_LEN);

    for (i = 0; i < id->len; i++) {
        ngx_fuzz_assert(isalnum(id->data[i]) || id->data[i] == '.'
                        || id->data[i] == '_' || id->data[i] == '-');
    }

    if (ngx_http_cvc_header(r, "X-Request-Id", &sent) == NGX_OK
        && (sent.len != id->len
            || ngx_strncmp(sent.data, id->data, id->len) != 0))
    {
        ngx_fuzz_assert(id->len == 32);
    }

    n = 0;
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0 && h[i].key.len == 12
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Request-Id", 12)
               == 0)
        {
            ngx_fuzz_assert(h[i].value.len == id->len
                            && ngx_strncmp(h[i].value.data, id->data,
                                           id->len) == 0);
            n++;
        }
    }

    ngx_fuzz_assert(n == 1);
}


/* Idempotency-Key: none, or 1..255 of printable ASCII; else 400 */

static void
check_idempotency_key(u_char *headers, u_char *last)
{
    size_t               i;
    ngx_str_t            key, sent;
    ngx_int_t            rc;
    ngx_flag_t           good;
    ngx_fuzz_req_t      *fr;
    ngx_fuzz_route_t     rt = { NGX_HTTP_POST, "/api/v1/payment-requests",
                                0 };

    fr = request(&rt, headers, last);
    if (fr == NULL) {
        return;
    }

    ngx_http_set_ctx(fr->r, fr->ctx, ngx_http_cvc_module);
    ngx_fuzz_assert(ngx_http_cvc_route(fr->r, fr->ctx, 0, &sent) == NGX_OK);
    (void) ngx_fuzz_principal(fr, NGX_HTTP_CVC_POS);

    rc = ngx_http_cvc_idempotency_key(fr->r, &key);

    if (ngx_http_cvc_header(fr->r, "Idempotency-Key", &sent) != NGX_OK) {
        ngx_fuzz_assert(rc == NGX_OK && key.data == NULL);

    } else {
        good = (sent.len > 0 && sent.len <= 255);

        for (i = 0; good && i < sent.len; i++) {
            good = (sent.data[i] >= 0x20 && sent.data[i] <= 0x7e);
        }

        ngx_fuzz_assert((rc == NGX_OK) == good);
    }

    /* the request itself: 400 for the key, else it reaches PostgreSQL */

    ngx_fuzz_assert(ngx_fuzz_body(fr, (u_char *) pr_body,
                                  sizeof(pr_body) - 1, 1)
                    == NGX_OK);

    (void) ngx_http_read_client_request_body(fr->r, ngx_http_cvc_proceed);

    ngx_fuzz_done(fr, NGX_DONE);
    ngx_fuzz_assert(fr->answer.status == ((rc == NGX_OK)
                                          ? NGX_HTTP_SERVICE_UNAVAILABLE
                                          : NGX_HTTP_BAD_REQUEST));

    ngx_fuzz_request_free(fr);
}

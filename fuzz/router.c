
/*
 * CVC gateway fuzzing: the router.  The input is a method byte, a byte of
 * flags (ops location, test clock, the caller's kind), then "path?query".
 * A path that matches runs its route's handler with a caller it allows
 * and no body (the lists read their query strings); one that does not
 * gets 404, or 405 with an Allow header that lists the methods it has.
 */


#include "ngx_fuzz.h"


static const ngx_uint_t  methods[] = {
    NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_POST, NGX_HTTP_PUT,
    NGX_HTTP_DELETE, NGX_HTTP_PATCH, NGX_HTTP_OPTIONS, NGX_HTTP_TRACE
};

static const ngx_uint_t  kinds[] = {
    NGX_HTTP_CVC_ADMIN, NGX_HTTP_CVC_POS, NGX_HTTP_CVC_API_KEY,
    NGX_HTTP_CVC_CUSTOMER
};


static void check_allow(ngx_str_t *allow, ngx_uint_t method);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char            *p;
    ngx_int_t          rc;
    ngx_str_t          allow;
    ngx_uint_t         method, flags, kind, i, n;
    ngx_fuzz_req_t    *fr;
    ngx_fuzz_input_t   in;

    ngx_fuzz_start(&in, data, size);

    method = methods[ngx_fuzz_byte(&in) % 8];
    flags = ngx_fuzz_byte(&in);

    ngx_fuzz_mcf->test_clock = (flags & 2) != 0;

    fr = ngx_fuzz_request(method, in.pos, in.last - in.pos);

    rc = ngx_http_cvc_route(fr->r, fr->ctx, flags & 1, &allow);

    if (rc != NGX_OK) {
        check_allow(&allow, method);
        ngx_fuzz_request_free(fr);
        return 0;
    }

    /* the captures: non-empty segments of the path, in order */

    ngx_fuzz_assert(fr->ctx->route != NULL);
    ngx_fuzz_assert(fr->ctx->nparams <= NGX_HTTP_CVC_MAX_PARAMS);
    ngx_fuzz_assert(((fr->ctx->route->callers & NGX_HTTP_CVC_OPS) != 0)
                    == ((flags & 1) != 0));

    p = fr->r->uri.data;

    for (i = 0; i < fr->ctx->nparams; i++) {
        ngx_fuzz_assert(fr->ctx->params[i].len > 0);
        ngx_fuzz_assert(fr->ctx->params[i].data >= p);
        ngx_fuzz_assert(fr->ctx->params[i].data + fr->ctx->params[i].len
                        <= fr->r->uri.data + fr->r->uri.len);
        ngx_fuzz_assert(ngx_strlchr(fr->ctx->params[i].data,
                                    fr->ctx->params[i].data
                                    + fr->ctx->params[i].len, '/')
                        == NULL);
        p = fr->ctx->params[i].data + fr->ctx->params[i].len;
    }

    /* a caller the route takes */

    if (fr->ctx->route->callers != NGX_HTTP_CVC_PUBLIC
        && !(fr->ctx->route->callers & NGX_HTTP_CVC_OPS))
    {
        kind = 0;

        for (n = 0; n < 4; n++) {
            kind = kinds[(flags >> 2) % 4];

            if (kind & fr->ctx->route->callers) {
                break;
            }

            flags += 4;
        }

        (void) ngx_fuzz_principal(fr, kind);
    }

    fr->r->main->count++;
    ngx_http_cvc_proceed(fr->r);

    ngx_fuzz_done(fr, NGX_DONE);
    ngx_fuzz_request_free(fr);

    return 0;
}


/* "GET, HEAD, POST": names of methods, each once, not the one asked */

static void
check_allow(ngx_str_t *allow, ngx_uint_t method)
{
    u_char      *p, *last, *comma;
    ngx_uint_t   i, seen, m;

    static const struct {
        const char  *name;
        ngx_uint_t   method;
    } names[] = {
        { "GET", NGX_HTTP_GET }, { "HEAD", NGX_HTTP_HEAD },
        { "POST", NGX_HTTP_POST }, { "PUT", NGX_HTTP_PUT },
        { "PATCH", NGX_HTTP_PATCH }, { "DELETE", NGX_HTTP_DELETE },
        { NULL, 0 }
    };

    if (allow->len == 0) {
        return;
    }

    p = allow->data;
    last = p + allow->len;
    seen = 0;

    while (p < last) {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        m = 0;

        for (i = 0; names[i].name != NULL; i++) {
            if (ngx_strlen(names[i].name) == (size_t) (comma - p)
                && ngx_strncmp(names[i].name, p, comma - p) == 0)
            {
                m = names[i].method;
            }
        }

        if (m == 0 || (seen & m) || m == method) {
            ngx_fuzz_fail("Allow: \"%V\" for method %ui", allow, method);
        }

        seen |= m;

        if (comma == last) {
            break;
        }

        ngx_fuzz_assert(last - comma > 2 && comma[1] == ' ');
        p = comma + 2;
    }

    ngx_fuzz_assert(!(seen & NGX_HTTP_GET) == !(seen & NGX_HTTP_HEAD));
}


/*
 * CVC gateway fuzzing: query strings.  The input's first byte picks one of
 * the lists' parameter tables, the rest is the query string.  What
 * ngx_http_cvc_query() lets through must be what the table says, and
 * ngx_http_cvc_page_params() must make SQL parameters of it.
 */


#include "ngx_fuzz.h"

/* their tables are static */
#include "ngx_http_cvc_customer.c"
#include "ngx_http_cvc_payouts.c"


static const ngx_http_cvc_param_t  *specs[] = {
    ngx_http_cvc_pr_filters,
    ngx_http_cvc_customer_pr_params,
    ngx_http_cvc_page_only,
    ngx_http_cvc_payout_filters,
    ngx_http_cvc_format_only,
};


static void check_value(const ngx_http_cvc_param_t *s, json_t *v);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *p;
    json_t                      *params, *v, *e;
    size_t                       i, len;
    ngx_int_t                    rc;
    ngx_str_t                    cursor, limit;
    const char                  *bad, *key;
    ngx_fuzz_req_t              *fr;
    ngx_fuzz_input_t             in;
    const ngx_http_cvc_param_t  *spec, *s;

    static u_char      target[] = "/api/v1/payment-requests?";
    ngx_fuzz_start(&in, data, size);

    spec = specs[ngx_fuzz_byte(&in) % (sizeof(specs) / sizeof(specs[0]))];

    len = sizeof(target) - 1 + (in.last - in.pos);
    p = malloc(len);
    ngx_fuzz_assert(p != NULL);
    ngx_memcpy(ngx_cpymem(p, target, sizeof(target) - 1), in.pos,
               in.last - in.pos);

    fr = ngx_fuzz_request(NGX_HTTP_GET, p, len);
    free(p);

    params = json_object();
    ngx_fuzz_assert(params != NULL);

    bad = NULL;
    rc = ngx_http_cvc_query(fr->r, spec, params, &bad);

    if (rc != NGX_OK) {
        ngx_fuzz_assert(rc == NGX_DECLINED && bad != NULL);
        json_decref(params);
        ngx_fuzz_request_free(fr);
        return 0;
    }

    /* each parameter is the table's, and of its shape */

    json_object_foreach(params, key, v) {

        for (s = spec; s->name != NULL; s++) {
            if (ngx_strcmp(s->name, key) == 0) {
                break;
            }
        }

        if (s->name == NULL) {
            ngx_fuzz_fail("unknown parameter \"%s\" let through", key);
        }

        if (!s->repeat) {
            check_value(s, v);
            continue;
        }

        ngx_fuzz_assert(json_is_array(v) && json_array_size(v) > 0);

        json_array_foreach(v, i, e) {
            check_value(s, e);
        }
    }

    ngx_http_cvc_page_params(fr->r, params, &cursor, &limit);

    ngx_fuzz_assert(limit.len > 0 && limit.len <= 3
                    && ngx_atoi(limit.data, limit.len) >= 1
                    && ngx_atoi(limit.data, limit.len) <= 100);
    ngx_fuzz_assert(json_object_get(params, "limit") == NULL
                    && json_object_get(params, "cursor") == NULL);

    p = ngx_http_cvc_json_dump(fr->r->pool, params, &len);
    ngx_fuzz_assert(p != NULL);

    json_decref(params);
    ngx_fuzz_request_free(fr);

    return 0;
}


static void
check_value(const ngx_http_cvc_param_t *s, json_t *v)
{
    size_t              i, len;
    json_int_t          n;
    const char         *str;
    const char *const  *e;

    if (s->type == NGX_HTTP_CVC_PARAM_INT) {
        ngx_fuzz_assert(json_is_integer(v));
        n = json_integer_value(v);
        ngx_fuzz_assert(n >= (json_int_t) s->min && n <= (json_int_t) s->max);
        return;
    }

    ngx_fuzz_assert(json_is_string(v));

    str = json_string_value(v);
    len = json_string_length(v);

    switch (s->type) {

    case NGX_HTTP_CVC_PARAM_DIGITS:
        ngx_fuzz_assert(ngx_http_cvc_is_digits(str, len, s->max));
        break;

    case NGX_HTTP_CVC_PARAM_ENUM:
        for (e = s->values; *e != NULL; e++) {
            if (ngx_strcmp(*e, str) == 0 && ngx_strlen(*e) == len) {
                break;
            }
        }

        ngx_fuzz_assert(*e != NULL);
        break;

    case NGX_HTTP_CVC_PARAM_DATE:
        ngx_fuzz_assert(ngx_http_cvc_is_date((u_char *) str, len));
        break;

    default: /* NGX_HTTP_CVC_PARAM_TEXT */
        ngx_fuzz_assert(len >= s->min && len <= s->max);

        for (i = 0; i < len; i++) {
            ngx_fuzz_assert((u_char) str[i] >= 0x20
                            && (u_char) str[i] != 0x7f);
        }
    }
}

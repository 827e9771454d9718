
/*
 * CVC gateway: the router.  A route is a method set and a path pattern
 * whose "{name}" segments capture one path segment each; the first route
 * whose pattern matches wins, so literal segments are listed before the
 * captures they would shadow.
 */


#include "ngx_http_cvc_module.h"


#define NGX_HTTP_CVC_GET   (NGX_HTTP_GET|NGX_HTTP_HEAD)


#define NGX_HTTP_CVC_API  "/api/v1"
#define NGX_HTTP_CVC_POS_PATH  NGX_HTTP_CVC_API "/points-of-sale/{pos}"


static const ngx_http_cvc_route_t  ngx_http_cvc_routes[] = {

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/health",
      ngx_http_cvc_health, NGX_HTTP_CVC_PUBLIC, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/health/ready",
      ngx_http_cvc_ready, NGX_HTTP_CVC_PUBLIC, 0 },

    /* merchants */

    { NGX_HTTP_POST, NGX_HTTP_CVC_API "/merchant/sessions",
      ngx_http_cvc_merchant_login, NGX_HTTP_CVC_PUBLIC, 0 },

    { NGX_HTTP_DELETE, NGX_HTTP_CVC_API "/merchant/sessions/current",
      ngx_http_cvc_logout, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/merchant/me",
      ngx_http_cvc_merchant_me, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_POST, NGX_HTTP_CVC_API "/merchant/password-resets",
      ngx_http_cvc_reset_request, NGX_HTTP_CVC_PUBLIC, 0 },

    { NGX_HTTP_POST, NGX_HTTP_CVC_API "/merchant/password-resets/confirm",
      ngx_http_cvc_reset_confirm, NGX_HTTP_CVC_PUBLIC, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/points-of-sale",
      ngx_http_cvc_pos_list, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_POST, NGX_HTTP_CVC_POS_PATH "/api-keys",
      ngx_http_cvc_api_key_create, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_POS_PATH "/api-keys",
      ngx_http_cvc_api_keys_list, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_DELETE, NGX_HTTP_CVC_POS_PATH "/api-keys/{id}",
      ngx_http_cvc_api_key_revoke, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_PUT, NGX_HTTP_CVC_POS_PATH "/webhook",
      ngx_http_cvc_webhook_put, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_POS_PATH "/webhook",
      ngx_http_cvc_webhook_get, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_DELETE, NGX_HTTP_CVC_POS_PATH "/webhook",
      ngx_http_cvc_webhook_delete, NGX_HTTP_CVC_MERCHANT, 0 },

    /* payment requests */

    { NGX_HTTP_POST, NGX_HTTP_CVC_API "/payment-requests",
      ngx_http_cvc_pr_create, NGX_HTTP_CVC_PARTNER,
      NGX_HTTP_CVC_EVENT(PR_CREATED) },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/payment-requests",
      ngx_http_cvc_pr_list, NGX_HTTP_CVC_PARTNER, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/payment-requests/export",
      ngx_http_cvc_pr_export, NGX_HTTP_CVC_PARTNER, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/payment-requests/{id}",
      ngx_http_cvc_pr_get, NGX_HTTP_CVC_PARTNER, 0 },

    { NGX_HTTP_POST, NGX_HTTP_CVC_API "/payment-requests/{id}/confirm",
      ngx_http_cvc_pr_confirm, NGX_HTTP_CVC_PARTNER,
      NGX_HTTP_CVC_EVENT(PR_CONFIRMED) },

    { NGX_HTTP_POST, NGX_HTTP_CVC_API "/payment-requests/{id}/cancel",
      ngx_http_cvc_pr_cancel, NGX_HTTP_CVC_PARTNER,
      NGX_HTTP_CVC_EVENT(PR_CANCELLED) },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_POS_PATH "/webhook/deliveries",
      ngx_http_cvc_webhook_deliveries, NGX_HTTP_CVC_MERCHANT, 0 },

    { NGX_HTTP_POST, NGX_HTTP_CVC_POS_PATH "/webhook/deliveries/{id}/retry",
      ngx_http_cvc_webhook_retry, NGX_HTTP_CVC_MERCHANT, 0 },

    /* payouts */

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/payouts",
      ngx_http_cvc_payouts_list, NGX_HTTP_CVC_PARTNER, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/payouts/{id}",
      ngx_http_cvc_payout_get, NGX_HTTP_CVC_PARTNER, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/payouts/{id}/export",
      ngx_http_cvc_payout_export, NGX_HTTP_CVC_PARTNER, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/business-days",
      ngx_http_cvc_business_days, NGX_HTTP_CVC_ANYONE, 0 },

    /* customers */

    { NGX_HTTP_POST, NGX_HTTP_CVC_API "/customer/sessions",
      ngx_http_cvc_customer_login, NGX_HTTP_CVC_PUBLIC, 0 },

    { NGX_HTTP_DELETE, NGX_HTTP_CVC_API "/customer/sessions/current",
      ngx_http_cvc_logout, NGX_HTTP_CVC_CUSTOMER, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/customer/me",
      ngx_http_cvc_customer_me, NGX_HTTP_CVC_CUSTOMER, 0 },

    { NGX_HTTP_PUT, NGX_HTTP_CVC_API "/customer/payment-code",
      ngx_http_cvc_payment_code, NGX_HTTP_CVC_CUSTOMER, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/customer/payment-requests",
      ngx_http_cvc_customer_prs, NGX_HTTP_CVC_CUSTOMER, 0 },

    { NGX_HTTP_POST, NGX_HTTP_CVC_API "/customer/payment-requests/{id}/pay",
      ngx_http_cvc_customer_pay, NGX_HTTP_CVC_CUSTOMER,
      NGX_HTTP_CVC_EVENT(PR_PAID) },

    { NGX_HTTP_POST,
      NGX_HTTP_CVC_API "/customer/payment-requests/{id}/refuse",
      ngx_http_cvc_customer_refuse, NGX_HTTP_CVC_CUSTOMER,
      NGX_HTTP_CVC_EVENT(PR_REFUSED) },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/customer/transactions",
      ngx_http_cvc_customer_transactions, NGX_HTTP_CVC_CUSTOMER, 0 },

    { NGX_HTTP_CVC_GET, NGX_HTTP_CVC_API "/customer/notifications",
      ngx_http_cvc_customer_notifications, NGX_HTTP_CVC_CUSTOMER, 0 },

    /* the operator */

    { NGX_HTTP_POST, "/ops/v1/conventions",
      ngx_http_cvc_ops_convention, NGX_HTTP_CVC_OPS, 0 },

    { NGX_HTTP_POST, "/ops/v1/points-of-sale",
      ngx_http_cvc_ops_pos, NGX_HTTP_CVC_OPS, 0 },

    { NGX_HTTP_POST, "/ops/v1/beneficiaries",
      ngx_http_cvc_ops_beneficiary, NGX_HTTP_CVC_OPS, 0 },

    { NGX_HTTP_POST, "/ops/v1/beneficiaries/{id}/credits",
      ngx_http_cvc_ops_credit, NGX_HTTP_CVC_OPS, 0 },

    { NGX_HTTP_POST, "/ops/v1/beneficiaries/{id}/unlock",
      ngx_http_cvc_ops_unlock, NGX_HTTP_CVC_OPS, 0 },

    { NGX_HTTP_PUT, "/ops/v1/clock",
      ngx_http_cvc_ops_clock_set, NGX_HTTP_CVC_CLOCK, 0 },

    { NGX_HTTP_DELETE, "/ops/v1/clock",
      ngx_http_cvc_ops_clock_clear, NGX_HTTP_CVC_CLOCK, 0 },

    { NGX_HTTP_CVC_GET, "/ops/v1/audit-events",
      ngx_http_cvc_ops_audit, NGX_HTTP_CVC_OPS, 0 },

    { 0, NULL, NULL, 0, 0 }
};

#define NGX_HTTP_CVC_NROUTES                                                 \
    (sizeof(ngx_http_cvc_routes) / sizeof(ngx_http_cvc_route_t) - 1)


static ngx_int_t ngx_http_cvc_match(ngx_str_t *path, const char *pattern,
    ngx_str_t *params, ngx_uint_t *nparams);


/* the methods of the routes, as the Allow header names them */
typedef struct {
    ngx_uint_t                   method;
    ngx_str_t                    name;
} ngx_http_cvc_method_t;


static const ngx_http_cvc_method_t  ngx_http_cvc_methods[] = {
    { NGX_HTTP_GET, ngx_string("GET, HEAD, ") },
    { NGX_HTTP_POST, ngx_string("POST, ") },
    { NGX_HTTP_PUT, ngx_string("PUT, ") },
    { NGX_HTTP_PATCH, ngx_string("PATCH, ") },
    { NGX_HTTP_DELETE, ngx_string("DELETE, ") },
    { 0, ngx_null_string }
};


/*
 * Finds the route of the request and its captures.  NGX_DECLINED: no route
 * has this path (allow is empty) or none takes this method (allow lists
 * those that do).
 */

ngx_int_t
ngx_http_cvc_route(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_flag_t ops, ngx_str_t *allow)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   methods, nparams;
    const ngx_http_cvc_method_t *m;
    ngx_http_cvc_main_conf_t    *mcf;
    ngx_str_t                    params[NGX_HTTP_CVC_MAX_PARAMS];
    const ngx_http_cvc_route_t  *rt;

    methods = 0;
    ngx_str_null(allow);

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    for (rt = ngx_http_cvc_routes; rt->pattern != NULL; rt++) {

        if (((rt->callers & NGX_HTTP_CVC_OPS) != 0) != (ops != 0)) {
            continue;
        }

        /* the test clock is not there at all where it is off */

        if ((rt->callers & NGX_HTTP_CVC_CLOCK) == NGX_HTTP_CVC_CLOCK
            && !mcf->test_clock)
        {
            continue;
        }

        if (ngx_http_cvc_match(&r->uri, rt->pattern, params, &nparams)
            != NGX_OK)
        {
            continue;
        }

        if (!(rt->methods & r->method)) {
            methods |= rt->methods;
            continue;
        }

        ctx->route = rt;
        ctx->route_number = rt - ngx_http_cvc_routes;
        ctx->nparams = nparams;
        ngx_memcpy(ctx->params, params, nparams * sizeof(ngx_str_t));

        return NGX_OK;
    }

    if (methods == 0) {
        return NGX_DECLINED;
    }

    /* room for every name of the table, whatever the routes */

    len = 0;

    for (m = ngx_http_cvc_methods; m->name.len > 0; m++) {
        len += m->name.len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    allow->data = p;

    for (m = ngx_http_cvc_methods; m->name.len > 0; m++) {
        if (methods & m->method) {
            p = ngx_cpymem(p, m->name.data, m->name.len);
        }
    }

    allow->len = p - allow->data - 2;

    return NGX_DECLINED;
}


/* the routes for the metrics: the n-th (NULL past the last), its number,
 * the name of its method */

const ngx_http_cvc_route_t *
ngx_http_cvc_route_nth(ngx_uint_t n)
{
    return (n < NGX_HTTP_CVC_NROUTES && ngx_http_cvc_routes[n].pattern != NULL)
           ? &ngx_http_cvc_routes[n] : NULL;
}


const char *
ngx_http_cvc_route_method(const ngx_http_cvc_route_t *rt)
{
    return (rt->methods & NGX_HTTP_GET) ? "GET"
           : (rt->methods & NGX_HTTP_POST) ? "POST"
           : (rt->methods & NGX_HTTP_PUT) ? "PUT"
           : (rt->methods & NGX_HTTP_PATCH) ? "PATCH" : "DELETE";
}


static ngx_int_t
ngx_http_cvc_match(ngx_str_t *path, const char *pattern, ngx_str_t *params,
    ngx_uint_t *nparams)
{
    u_char      *p, *last, *start;
    const char  *s;

    p = path->data;
    last = path->data + path->len;
    s = pattern;
    *nparams = 0;

    while (*s != '\0') {

        if (*s != '{') {
            if (p == last || *p != (u_char) *s) {
                return NGX_DECLINED;
            }

            p++;
            s++;
            continue;
        }

        /* a capture: one non-empty path segment */

        while (*s != '}') {
            s++;
        }

        s++;

        start = p;

        while (p < last && *p != '/') {
            p++;
        }

        if (p == start || *nparams == NGX_HTTP_CVC_MAX_PARAMS) {
            return NGX_DECLINED;
        }

        params[*nparams].data = start;
        params[*nparams].len = p - start;
        (*nparams)++;
    }

    return (p == last) ? NGX_OK : NGX_DECLINED;
}

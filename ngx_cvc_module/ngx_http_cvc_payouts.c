
/*
 * CVC gateway: payouts ("Mes remboursements") and the webhook's
 * deliveries.  The payouts themselves are made by the SQL of validations
 * and paid by a timer (sql/functions/0009_payouts.sql).
 */


#include "ngx_http_cvc_module.h"


static const ngx_http_cvc_param_t  ngx_http_cvc_payout_filters[] = {
    { "point_of_sale", NGX_HTTP_CVC_PARAM_DIGITS, 12, 12, NULL, 0 },
    { "from", NGX_HTTP_CVC_PARAM_DATE, 0, 0, NULL, 0 },
    { "to", NGX_HTTP_CVC_PARAM_DATE, 0, 0, NULL, 0 },
    { NULL, 0, 0, 0, NULL, 0 }
};

static const ngx_http_cvc_param_t  ngx_http_cvc_format_only[] = {
    { "format", NGX_HTTP_CVC_PARAM_ENUM, 0, 0, ngx_http_cvc_formats, 0 },
    { NULL, 0, 0, 0, NULL, 0 }
};

/* the reconciliation file: one line per request, then the total */

static const ngx_http_cvc_column_t  ngx_http_cvc_payout_columns[] = {
    { "Date de validation", 0 },
    { "N° de panier", 0 },
    { "Type de paiement", 0 },
    { "Montant reçu", 1 },
    { "Client", 0 },
    { "Libellé", 0 },
    { "Identifiant de la demande", 0 },
    { NULL, 0 }
};


/* GET /api/v1/payouts?point_of_sale=&from=&to= */

ngx_int_t
ngx_http_cvc_payouts_list(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *filters;
    ngx_str_t    params[3];
    const char  *bad;

    filters = ngx_http_cvc_query_params(r, ngx_http_cvc_payout_filters, &bad);
    if (filters == NULL) {
        return ngx_http_cvc_bad_parameter(r, bad);
    }

    ngx_http_cvc_principal_params(ctx, params);

    params[2].data = ngx_http_cvc_json_dump(r->pool, filters, &params[2].len);
    if (params[2].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.payouts_list($1, $2, $3::jsonb)", 3,
                             params, NGX_HTTP_OK);
}


/* GET /api/v1/payouts/{id} */

ngx_int_t
ngx_http_cvc_payout_get(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[3];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];

    return ngx_http_cvc_call(r, ctx, "select cvc.payout_get($1, $2, $3)", 3,
                             params, NGX_HTTP_OK);
}


/* GET /api/v1/payouts/{id}/export?format=csv|xlsx */

ngx_int_t
ngx_http_cvc_payout_export(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *query;
    ngx_str_t    params[3], format;
    const char  *bad;

    query = ngx_http_cvc_query_params(r, ngx_http_cvc_format_only, &bad);
    if (query == NULL) {
        return ngx_http_cvc_bad_parameter(r, bad);
    }

    if (ngx_http_cvc_json_member(r->pool, query, "format", &format)
        != NGX_OK)
    {
        return ngx_http_cvc_bad_parameter(r, "format");
    }

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];

    return ngx_http_cvc_export(r, ctx,
                               "select * from cvc.payout_export($1, $2, $3)",
                               3, params, ngx_http_cvc_payout_columns,
                               format.data[0] == 'x', "remboursement");
}


/* GET /api/v1/points-of-sale/{pos}/webhook/deliveries */

ngx_int_t
ngx_http_cvc_webhook_deliveries(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[3];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.webhook_deliveries($1, $2, $3)", 3,
                             params, NGX_HTTP_OK);
}


/* POST /api/v1/points-of-sale/{pos}/webhook/deliveries/{id}/retry */

ngx_int_t
ngx_http_cvc_webhook_retry(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[4];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];
    params[3] = ctx->params[1];

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.webhook_retry($1, $2, $3, $4)", 4,
                             params, NGX_HTTP_OK);
}

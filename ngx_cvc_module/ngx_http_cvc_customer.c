
/*
 * CVC gateway: the customer's side of payment requests (the
 * Cheque-Vacances app): the requests addressed to it, paying with the
 * 6-digit payment code, refusing, the wallet's history, the notifications.
 */


#include "ngx_http_cvc_module.h"


typedef struct {
    ngx_str_t               amount;     /* SQL NULL: the requested amount */
    ngx_http_cvc_strike_t   strike;     /* the payment code's */
} ngx_http_cvc_pay_t;


static ngx_int_t ngx_http_cvc_customer_list(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, const ngx_http_cvc_param_t *spec,
    const char *sql, ngx_flag_t statuses);
static ngx_int_t ngx_http_cvc_pay_state(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_pay_right(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_pay_done(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_pay_wrong(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static ngx_int_t ngx_http_cvc_pay_refused(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
static ngx_int_t ngx_http_cvc_code_locked(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);


static const ngx_http_cvc_param_t  ngx_http_cvc_customer_pr_params[] = {
    { "status", NGX_HTTP_CVC_PARAM_ENUM, 0, 0, ngx_http_cvc_statuses, 1 },
    { "limit", NGX_HTTP_CVC_PARAM_INT, 1, 100, NULL, 0 },
    { "cursor", NGX_HTTP_CVC_PARAM_TEXT, 1, 200, NULL, 0 },
    { NULL, 0, 0, 0, NULL, 0 }
};

static const ngx_http_cvc_param_t  ngx_http_cvc_page_only[] = {
    { "limit", NGX_HTTP_CVC_PARAM_INT, 1, 100, NULL, 0 },
    { "cursor", NGX_HTTP_CVC_PARAM_TEXT, 1, 200, NULL, 0 },
    { NULL, 0, 0, 0, NULL, 0 }
};


/* GET /api/v1/customer/payment-requests?status= */

ngx_int_t
ngx_http_cvc_customer_prs(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_customer_list(r, ctx,
                                      ngx_http_cvc_customer_pr_params,
                                      "select cvc.customer_prs($1, $2::jsonb, "
                                      "$3, $4::int)", 1);
}


/* GET /api/v1/customer/transactions */

ngx_int_t
ngx_http_cvc_customer_transactions(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_customer_list(r, ctx, ngx_http_cvc_page_only,
                                      "select cvc.customer_transactions($1, "
                                      "$2, $3::int)", 0);
}


/* GET /api/v1/customer/notifications */

ngx_int_t
ngx_http_cvc_customer_notifications(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_customer_list(r, ctx, ngx_http_cvc_page_only,
                                      "select cvc.customer_notifications_list("
                                      "$1, $2, $3::int)", 0);
}


static ngx_int_t
ngx_http_cvc_customer_list(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const ngx_http_cvc_param_t *spec, const char *sql, ngx_flag_t statuses)
{
    json_t      *params;
    ngx_str_t    p[4], *page;
    const char  *bad;

    params = ngx_http_cvc_query_params(r, spec, &bad);
    if (params == NULL) {
        return ngx_http_cvc_bad_parameter(r, bad);
    }

    p[0] = ctx->principal.id;
    page = &p[1];

    if (statuses) {
        if (json_object_get(params, "status") != NULL) {
            p[1].data = ngx_http_cvc_json_dump(r->pool,
                                               json_object_get(params,
                                                               "status"),
                                               &p[1].len);
            if (p[1].data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

        } else {
            ngx_str_null(&p[1]);
        }

        page = &p[2];
    }

    ngx_http_cvc_page_params(r, params, &page[0], &page[1]);

    return ngx_http_cvc_call(r, ctx, sql, statuses ? 4 : 3, p, NGX_HTTP_OK);
}


/*
 * POST /api/v1/customer/payment-requests/{id}/pay {"payment_code",
 * "amount"?}: the code is checked against the 3 strikes (counted, then
 * its keyed hash checked; the 3rd wrong one locks it); then one
 * transaction re-checks the lock and debits the wallet.
 */

ngx_int_t
ngx_http_cvc_customer_pay(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char              *p;
    json_t              *errors;
    json_int_t           amount;
    const char          *code;
    ngx_http_cvc_pay_t  *pay;

    static const char  *fields[] = { "payment_code", "amount", NULL };

    errors = ngx_http_cvc_json_unknown_fields(ctx->body, fields);
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    code = ngx_http_cvc_json_digits(ctx->body, "payment_code", 6, 1, errors);

    if (json_object_size(errors) == 0
        && ngx_http_cvc_json_int(ctx->body, "amount", 1,
                                 NGX_HTTP_CVC_MAX_AMOUNT, 0, errors, &amount)
           != NGX_OK)
    {
        amount = -1;
    }

    if (json_object_size(errors) > 0) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    pay = ngx_pcalloc(r->pool, sizeof(ngx_http_cvc_pay_t));
    if (pay == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = pay;
    pay->strike.secret.data = (u_char *) code;
    pay->strike.secret.len = 6;
    pay->strike.account = ctx->principal.account;

    if (amount > 0) {
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        pay->amount.data = p;
        pay->amount.len = ngx_sprintf(p, "%L", (int64_t) amount) - p;
    }

    if (ngx_http_cvc_key(r, &pay->strike.key, NGX_HTTP_CVC_KEY_CODE_STRIKES,
                         &ctx->principal.id, NULL) == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_pg_step(r, ctx, "select cvc.payment_code_state($1)",
                                1, &ctx->principal.id,
                                ngx_http_cvc_pay_state);
}


static ngx_int_t
ngx_http_cvc_pay_state(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_http_cvc_pay_t        *pay = ctx->data;
    ngx_http_cvc_strike_t     *st = &pay->strike;
    ngx_http_cvc_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    if (result == NULL
        || ngx_http_cvc_json_member(r->pool, result, "hash", &st->hash)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json_is_true(json_object_get(result, "locked"))) {
        return ngx_http_cvc_code_locked(r, ctx);
    }

    st->right = ngx_http_cvc_pay_right;
    st->wrong = ngx_http_cvc_pay_wrong;
    st->locked = ngx_http_cvc_code_locked;
    st->code_key = &mcf->payment_code_key;

    return ngx_http_cvc_strike(r, ctx, st);
}


/* the right code: the payment (and the code's keyed hash, where it was
 * an scrypt one) */

static ngx_int_t
ngx_http_cvc_pay_right(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t                  params[6];
    ngx_http_cvc_pay_t        *pay = ctx->data;
    ngx_http_cvc_strike_t     *st = &pay->strike;

    params[0] = ctx->principal.id;
    params[1] = ctx->params[0];
    params[2] = pay->amount;
    ngx_http_cvc_client_params(r, ctx, &params[3]);
    ngx_str_null(&params[5]);

    if (st->rehash
        && ngx_http_cvc_code_hash(r->pool, st->code_key, &st->secret,
                                  &params[5])
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.pr_pay($1, $2, $3::bigint, $4, "
                                "$5, $6)", 6, params, ngx_http_cvc_pay_done);
}


/* paid: what was paid goes to the metrics */

static ngx_int_t
ngx_http_cvc_pay_done(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    json_t  *amount;

    if (result == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    amount = json_object_get(result, "amount_received");

    if (json_is_integer(amount)) {
        ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PAID_CENTS,
                                   (ngx_atomic_int_t)
                                   json_integer_value(amount));
    }

    return ngx_http_cvc_send_json(r, NGX_HTTP_OK, result);
}


static ngx_int_t
ngx_http_cvc_pay_wrong(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char               n[NGX_INT_T_LEN];
    ngx_str_t            params[4];
    ngx_http_cvc_pay_t  *pay = ctx->data;

    params[0] = ctx->principal.id;
    params[1].data = n;
    params[1].len = ngx_sprintf(n, "%i", pay->strike.tries) - n;
    ngx_http_cvc_client_params(r, ctx, &params[2]);

    return ngx_http_cvc_pg_step(r, ctx,
                                "select cvc.payment_code_failed($1, $2::int, "
                                "$3, $4)", 4, params,
                                ngx_http_cvc_pay_refused);
}


static ngx_int_t
ngx_http_cvc_pay_refused(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *result)
{
    ngx_int_t  left;

    left = ngx_http_cvc_attempts_left(result);

    if (left == 0) {
        return ngx_http_cvc_code_locked(r, ctx);
    }

    return ngx_http_cvc_send_error(r, NGX_HTTP_FORBIDDEN,
                                   "invalid_payment_code",
                                   "The payment code is wrong.",
                                   json_pack("{sI}", "attempts_left",
                                             (json_int_t) left));
}


static ngx_int_t
ngx_http_cvc_code_locked(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_send_error(r, 423, "payment_code_locked",
                                   "The payment code is locked after 3 wrong "
                                   "codes: set a new one.", NULL);
}


/* POST /api/v1/customer/payment-requests/{id}/refuse */

ngx_int_t
ngx_http_cvc_customer_refuse(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[4];

    static const char  *none[] = { NULL };

    if (json_object_size(ctx->body) > 0) {
        return ngx_http_cvc_send_invalid(r,
                   ngx_http_cvc_json_unknown_fields(ctx->body, none));
    }

    params[0] = ctx->principal.id;
    params[1] = ctx->params[0];
    ngx_http_cvc_client_params(r, ctx, &params[2]);

    return ngx_http_cvc_call(r, ctx, "select cvc.pr_refuse($1, $2, $3, $4)",
                             4, params, NGX_HTTP_OK);
}

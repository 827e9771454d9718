
/*
 * CVC gateway: payment requests, merchant side (a session or an API key):
 * create (with Idempotency-Key), read, confirm, cancel, the operations
 * list and its export.  The module checks the shape of what comes in; the SQL functions
 * (sql/functions/0007_payment_requests.sql) the rest, in one transaction.
 */


#include "ngx_http_cvc_module.h"


static ngx_int_t ngx_http_cvc_pr_body(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *errors);
static void ngx_http_cvc_pr_pay_by(json_t *body, const char *mode,
    json_t *errors);
static void ngx_http_cvc_pr_basket_customer(json_t *body, json_t *errors);
static ngx_int_t ngx_http_cvc_idempotency_key(ngx_http_request_t *r,
    ngx_str_t *key);
static ngx_int_t ngx_http_cvc_pr_transition(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, const char *sql);


static const char  *ngx_http_cvc_types[] = { "immediate_payment",
    "deferred_payment", "pre_reservation", NULL };


/* the filters of the operations list and of its export */

const ngx_http_cvc_param_t  ngx_http_cvc_pr_filters[] = {
    { "point_of_sale", NGX_HTTP_CVC_PARAM_DIGITS, 12, 12, NULL, 0 },
    { "status", NGX_HTTP_CVC_PARAM_ENUM, 0, 0, ngx_http_cvc_statuses, 1 },
    { "type", NGX_HTTP_CVC_PARAM_ENUM, 0, 0, ngx_http_cvc_types, 0 },
    { "basket_number", NGX_HTTP_CVC_PARAM_TEXT, 1, 64, NULL, 0 },
    { "from", NGX_HTTP_CVC_PARAM_DATE, 0, 0, NULL, 0 },
    { "to", NGX_HTTP_CVC_PARAM_DATE, 0, 0, NULL, 0 },
    { "min_amount", NGX_HTTP_CVC_PARAM_INT, 0, NGX_HTTP_CVC_MAX_AMOUNT, NULL,
      0 },
    { "max_amount", NGX_HTTP_CVC_PARAM_INT, 0, NGX_HTTP_CVC_MAX_AMOUNT, NULL,
      0 },
    { "limit", NGX_HTTP_CVC_PARAM_INT, 1, 100, NULL, 0 },
    { "cursor", NGX_HTTP_CVC_PARAM_TEXT, 1, 200, NULL, 0 },
    { "format", NGX_HTTP_CVC_PARAM_ENUM, 0, 0, ngx_http_cvc_formats, 0 },
    { NULL, 0, 0, 0, NULL, 0 }
};


/* POST /api/v1/payment-requests */

ngx_int_t
ngx_http_cvc_pr_create(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    u_char                    window[NGX_INT_T_LEN + 16];
    json_t                    *errors;
    ngx_int_t                  rc;
    ngx_str_t                  params[9];
    ngx_http_cvc_main_conf_t  *mcf;

    /* the body as SQL gets it, and as idempotency compares it */

    rc = ngx_http_cvc_idempotency(r, ctx, &params[3], &params[2],
                                  &params[4]);

    if (rc == NGX_DECLINED) {
        return ngx_http_cvc_send_bad_key(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    errors = json_object();
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_cvc_pr_body(r, ctx, errors) != NGX_OK) {
        return ngx_http_cvc_send_invalid(r, errors);
    }

    json_decref(errors);

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);

    ngx_http_cvc_principal_params(ctx, params);

    params[5].data = window;
    params[5].len = ngx_sprintf(window, "%M milliseconds", mcf->pay_window)
                    - window;

    if (mcf->validation_expiry) {
        ngx_str_set(&params[6], "validate");

    } else {
        ngx_str_set(&params[6], "cancel");
    }

    ngx_http_cvc_client_params(r, ctx, &params[7]);

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.pr_create($1, $2, $3::jsonb, $4, $5, "
                             "$6::interval, $7, $8, $9)", 9, params,
                             NGX_HTTP_CREATED);
}


/* the shape of a new request: each field's type, range and presence */

static ngx_int_t
ngx_http_cvc_pr_body(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    json_t *errors)
{
    json_t      *body, *v;
    json_int_t   n;
    const char  *mode;

    static const char  *fields[] = { "point_of_sale", "mode", "pay_by",
        "validation_delay_days", "amount", "allow_partial", "basket_number",
        "customer", "label", "customer_reference", "seller_id",
        "notify_email", "remember_notify_email", "on_validation_expiry",
        NULL };

    static const char  *modes[] = { "immediate", "deferred", NULL };
    static const char  *expiries[] = { "cancel", "validate", NULL };

    body = ctx->body;

    v = ngx_http_cvc_json_unknown_fields(body, fields);
    if (v == NULL || json_object_update(errors, v) != 0) {
        json_decref(v);
        return NGX_ERROR;
    }

    json_decref(v);

    (void) ngx_http_cvc_json_digits(body, "point_of_sale", 12,
                                    ctx->principal.kind == NGX_HTTP_CVC_ADMIN,
                                    errors);

    mode = ngx_http_cvc_json_enum(body, "mode", modes, 1, errors);

    ngx_http_cvc_pr_pay_by(body, mode, errors);

    (void) ngx_http_cvc_json_int(body, "validation_delay_days", 0, 6, 0,
                                 errors, &n);
    (void) ngx_http_cvc_json_int(body, "amount", 1, NGX_HTTP_CVC_MAX_AMOUNT,
                                 1, errors, &n);
    (void) ngx_http_cvc_json_bool(body, "allow_partial", errors);
    (void) ngx_http_cvc_json_bool(body, "remember_notify_email", errors);
    (void) ngx_http_cvc_json_enum(body, "on_validation_expiry", expiries, 0,
                                  errors);

    ngx_http_cvc_pr_basket_customer(body, errors);

    (void) ngx_http_cvc_json_string(body, "label", 0, 255, 0, errors);
    (void) ngx_http_cvc_json_string(body, "customer_reference", 0, 64, 0,
                                    errors);
    (void) ngx_http_cvc_json_string(body, "seller_id", 0, 64, 0, errors);
    (void) ngx_http_cvc_json_email(body, "notify_email", 0, errors);

    return (json_object_size(errors) == 0) ? NGX_OK : NGX_ERROR;
}


/* pay_by: a date for a deferred payment, none for an immediate one */

static void
ngx_http_cvc_pr_pay_by(json_t *body, const char *mode, json_t *errors)
{
    json_t      *v;
    const char  *s;

    v = json_object_get(body, "pay_by");

    if (mode != NULL && mode[0] == 'i') {
        if (v != NULL && !json_is_null(v)) {
            json_object_set_new(errors, "pay_by", json_string("must not be "
                                "given for an immediate payment"));
        }

    } else if (mode != NULL) {
        s = ngx_http_cvc_json_string(body, "pay_by", 10, 10, 1, errors);

        if (s != NULL && !ngx_http_cvc_is_date((u_char *) s, 10)) {
            json_object_set_new(errors, "pay_by",
                                json_string("must be a date, YYYY-MM-DD"));
        }
    }
}


/* basket_number: printable; customer: an 11-digit id or an e-mail */

static void
ngx_http_cvc_pr_basket_customer(json_t *body, json_t *errors)
{
    u_char      *c;
    const char  *s;

    s = ngx_http_cvc_json_string(body, "basket_number", 1, 64, 1, errors);

    if (s != NULL) {
        for (c = (u_char *) s; *c != '\0'; c++) {
            if (*c < 0x20 || *c == 0x7f) {
                json_object_set_new(errors, "basket_number",
                                    json_string("must be printable "
                                                "characters"));
                break;
            }
        }
    }

    s = ngx_http_cvc_json_string(body, "customer", 1, 254, 1, errors);

    if (s != NULL
        && !ngx_http_cvc_is_digits(s, ngx_strlen(s), 11)
        && ngx_strchr(s, '@') == NULL)
    {
        json_object_set_new(errors, "customer",
                            json_string("must be an 11-digit id or an "
                                        "e-mail"));
    }
}


/*
 * The Idempotency-Key of a POST that creates something (NULL without one),
 * its body in canonical form (members sorted, no spaces: what a key
 * compares, whatever the order or spacing sent) and, with a key, the
 * SHA-256 of that form (else NULL).  NGX_DECLINED: the key is not 1..255
 * printable ASCII characters (ngx_http_cvc_send_bad_key() answers it).
 */

ngx_int_t
ngx_http_cvc_idempotency(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_str_t *key, ngx_str_t *canonical, ngx_str_t *hash)
{
    char  *p;

    if (ngx_http_cvc_idempotency_key(r, key) != NGX_OK) {
        return NGX_DECLINED;
    }

    p = json_dumps(ctx->body, JSON_COMPACT|JSON_SORT_KEYS);
    if (p == NULL) {
        return NGX_ERROR;
    }

    canonical->len = ngx_strlen(p);
    canonical->data = ngx_pnalloc(r->pool, canonical->len);
    if (canonical->data == NULL) {
        free(p);
        return NGX_ERROR;
    }

    ngx_memcpy(canonical->data, p, canonical->len);
    free(p);

    if (key->data == NULL) {
        ngx_str_null(hash);
        return NGX_OK;
    }

    return ngx_http_cvc_sha256_hex(r->pool, canonical, hash);
}


/* Idempotency-Key: 1..255 printable ASCII characters, or none (NULL) */

static ngx_int_t
ngx_http_cvc_idempotency_key(ngx_http_request_t *r, ngx_str_t *key)
{
    size_t  i;

    if (ngx_http_cvc_header(r, "Idempotency-Key", key) != NGX_OK) {
        ngx_str_null(key);
        return NGX_OK;
    }

    for (i = 0; i < key->len; i++) {
        if (key->data[i] < 0x20 || key->data[i] > 0x7e) {
            break;
        }
    }

    return (key->len == 0 || key->len > 255 || i < key->len)
           ? NGX_ERROR : NGX_OK;
}


ngx_int_t
ngx_http_cvc_send_bad_key(ngx_http_request_t *r)
{
    return ngx_http_cvc_send_error(r, NGX_HTTP_BAD_REQUEST,
                                   "invalid_parameter",
                                   "Idempotency-Key must be 1 to 255 "
                                   "printable ASCII characters.",
                                   json_pack("{ss}", "parameter",
                                             "Idempotency-Key"));
}


/* GET /api/v1/payment-requests/{id} */

ngx_int_t
ngx_http_cvc_pr_get(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_str_t  params[3];

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];

    return ngx_http_cvc_call(r, ctx, "select cvc.pr_get($1, $2, $3)", 3,
                             params, NGX_HTTP_OK);
}


/* POST /api/v1/payment-requests/{id}/confirm, …/cancel */

ngx_int_t
ngx_http_cvc_pr_confirm(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_pr_transition(r, ctx,
                        "select cvc.pr_confirm($1, $2, $3, $4, $5)");
}


ngx_int_t
ngx_http_cvc_pr_cancel(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_pr_transition(r, ctx,
                        "select cvc.pr_cancel($1, $2, $3, $4, $5)");
}


static ngx_int_t
ngx_http_cvc_pr_transition(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql)
{
    ngx_str_t  params[5];

    static const char  *none[] = { NULL };

    /* no body, or an empty object */

    if (json_object_size(ctx->body) > 0) {
        return ngx_http_cvc_send_invalid(r,
                   ngx_http_cvc_json_unknown_fields(ctx->body, none));
    }

    ngx_http_cvc_principal_params(ctx, params);
    params[2] = ctx->params[0];
    ngx_http_cvc_client_params(r, ctx, &params[3]);

    return ngx_http_cvc_call(r, ctx, sql, 5, params, NGX_HTTP_OK);
}


/* GET /api/v1/payment-requests?filters&limit&cursor */

ngx_int_t
ngx_http_cvc_pr_list(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *filters;
    ngx_str_t    params[5];
    const char  *bad;

    filters = ngx_http_cvc_query_params(r, ngx_http_cvc_pr_filters, &bad);

    if (filters == NULL) {
        return ngx_http_cvc_bad_parameter(r, bad);
    }

    if (json_object_get(filters, "format") != NULL) {
        return ngx_http_cvc_bad_parameter(r, "format");
    }

    ngx_http_cvc_page_params(r, filters, &params[3], &params[4]);
    ngx_http_cvc_principal_params(ctx, params);

    params[2].data = ngx_http_cvc_json_dump(r->pool, filters, &params[2].len);
    if (params[2].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_call(r, ctx,
                             "select cvc.pr_list($1, $2, $3::jsonb, $4, "
                             "$5::int)", 5, params, NGX_HTTP_OK);
}


/* the columns of the operations list's export, in the merchant's words */

static const ngx_http_cvc_column_t  ngx_http_cvc_pr_columns[] = {
    { "Dernière action", 0 },
    { "N° de panier", 0 },
    { "Type de paiement", 0 },
    { "Statut", 0 },
    { "Montant demandé", 1 },
    { "Montant reçu", 1 },
    { "Montant remboursé", 1 },
    { "Client", 0 },
    { "Libellé", 0 },
    { "Référence client", 0 },
    { "Identifiant vendeur", 0 },
    { "Point d'accueil", 0 },
    { "Identifiant de la demande", 0 },
    { NULL, 0 }
};


/* GET /api/v1/payment-requests/export?format=csv|xlsx&<the list's filters> */

ngx_int_t
ngx_http_cvc_pr_export(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    json_t      *filters;
    ngx_str_t    params[3], format;
    const char  *bad;

    filters = ngx_http_cvc_query_params(r, ngx_http_cvc_pr_filters, &bad);

    if (filters == NULL) {
        return ngx_http_cvc_bad_parameter(r, bad);
    }

    if (ngx_http_cvc_json_member(r->pool, filters, "format", &format)
        != NGX_OK)
    {
        return ngx_http_cvc_bad_parameter(r, "format");
    }

    if (json_object_get(filters, "limit") || json_object_get(filters, "cursor"))
    {
        return ngx_http_cvc_bad_parameter(r, json_object_get(filters, "limit")
                                             ? "limit" : "cursor");
    }

    json_object_del(filters, "format");

    ngx_http_cvc_principal_params(ctx, params);

    params[2].data = ngx_http_cvc_json_dump(r->pool, filters, &params[2].len);
    if (params[2].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_export(r, ctx,
                               "select * from cvc.pr_export($1, $2, $3::jsonb)",
                               3, params, ngx_http_cvc_pr_columns,
                               format.data[0] == 'x', "operations");
}


/*
 * CVC gateway: calling a SQL function and answering with what it returns.
 * A function returns the JSON of the answer, or fails with SQLSTATE CVnnn
 * (see sql/functions/0001_clock.sql): the HTTP status nnn, the error code
 * as its message, the text as its detail, and extras as JSON in its hint.
 */


#include "ngx_http_cvc_module.h"


static void ngx_http_cvc_call_done(void *data, ngx_int_t rc, PGresult *res);


/* one round trip: sql's single JSON value is the answer, with status */

ngx_int_t
ngx_http_cvc_call(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql, ngx_uint_t nparams, ngx_str_t *params, ngx_uint_t status)
{
    ngx_int_t  rc;

    ctx->status = status;

    rc = ngx_http_cvc_pg_query(&ctx->pg_op, sql, nparams, params,
                               ngx_http_cvc_call_done, r);

    if (rc == NGX_AGAIN) {
        return NGX_DONE;
    }

    return ngx_http_cvc_send_unavailable(r, "PostgreSQL");
}


static void
ngx_http_cvc_call_done(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_request_t  *r = data;

    ngx_http_cvc_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->pg_op = NULL;

    ngx_http_cvc_finalize(r, ngx_http_cvc_pg_answer(r, rc, res, ctx->status));
}


ngx_int_t
ngx_http_cvc_pg_answer(ngx_http_request_t *r, ngx_int_t rc, PGresult *res,
    ngx_uint_t status)
{
    ngx_str_t  text;

    if (rc != NGX_OK) {
        return ngx_http_cvc_send_unavailable(r, "PostgreSQL");
    }

    switch (PQresultStatus(res)) {

    case PGRES_TUPLES_OK:
        break;

    case PGRES_FATAL_ERROR:
        return ngx_http_cvc_pg_error(r, res);

    default:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "cvc pg: unexpected result %s",
                      PQresStatus(PQresultStatus(res)));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        return ngx_http_cvc_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "No such resource.", NULL);
    }

    if (status == NGX_HTTP_NO_CONTENT) {
        return ngx_http_cvc_send_no_content(r);
    }

    text.len = PQgetlength(res, 0, 0);
    text.data = ngx_pnalloc(r->pool, text.len);
    if (text.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(text.data, PQgetvalue(res, 0, 0), text.len);

    return ngx_http_cvc_send_raw(r, status, &text);
}


/* an error result: the function's own (CVnnn), or PostgreSQL's */

ngx_int_t
ngx_http_cvc_pg_error(ngx_http_request_t *r, PGresult *res)
{
    char        *state, *code, *detail, *hint;
    json_t      *extra;
    ngx_int_t    status;

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    code = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

    if (state != NULL && state[0] == 'C' && state[1] == 'V' && code != NULL) {
        status = ngx_atoi((u_char *) state + 2, 3);

        if (status >= 400 && status < 600) {
            extra = NULL;

            if (hint != NULL && hint[0] != '\0') {
                extra = json_loads(hint, 0, NULL);
            }

            return ngx_http_cvc_send_error(r, status, code,
                                           detail ? detail : code, extra);
        }
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cvc pg: %s %s", state ? state : "",
                  PQresultErrorMessage(res));

    /*
     * a serialization failure or deadlock (40), too many connections
     * (53), the server shutting down (57): worth a retry
     */

    if (state != NULL
        && (ngx_strncmp(state, "40", 2) == 0
            || ngx_strncmp(state, "53", 2) == 0
            || ngx_strncmp(state, "57", 2) == 0))
    {
        return ngx_http_cvc_send_unavailable(r, "PostgreSQL");
    }

    return ngx_http_cvc_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "internal_error",
                                   "An internal error occurred.", NULL);
}

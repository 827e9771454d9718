
/*
 * CVC gateway: calling a SQL function and answering with what it returns.
 * A function returns the JSON of the answer, or fails with SQLSTATE CVnnn
 * (see sql/functions/0001_common.sql): the HTTP status nnn, the error code
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

    /* a value PostgreSQL could not take (a date that does not exist) */

    if (state != NULL && ngx_strncmp(state, "22", 2) == 0) {
        return ngx_http_cvc_send_error(r, 422, "validation_failed",
                                       "A value is invalid.", NULL);
    }

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


/*
 * Steps: a resource that needs several round trips chains them.  Each
 * step's handler gets only a usable answer; a backend that failed or a
 * SQL function's error is answered here, once.
 */

static void ngx_http_cvc_pg_step_done(void *data, ngx_int_t rc,
    PGresult *res);
static void ngx_http_cvc_redis_step_done(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_http_cvc_hash_step_done(void *data, ngx_int_t rc,
    ngx_str_t *hash);


/* next() gets the result of sql, a JSON value or SQL NULL */

ngx_int_t
ngx_http_cvc_pg_step(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql, ngx_uint_t nparams, ngx_str_t *params,
    ngx_http_cvc_pg_next_pt next)
{
    ctx->pg_next = next;

    if (ngx_http_cvc_pg_query(&ctx->pg_op, sql, nparams, params,
                              ngx_http_cvc_pg_step_done, r)
        == NGX_AGAIN)
    {
        return NGX_DONE;
    }

    return ngx_http_cvc_send_unavailable(r, "PostgreSQL");
}


static void
ngx_http_cvc_pg_step_done(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_request_t  *r = data;

    ngx_http_cvc_ctx_t       *ctx;
    ngx_http_cvc_pg_next_pt   next;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->pg_op = NULL;

    if (rc != NGX_OK) {
        ngx_http_cvc_finalize(r, ngx_http_cvc_send_unavailable(r,
                                                               "PostgreSQL"));
        return;
    }

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_http_cvc_finalize(r, ngx_http_cvc_pg_answer(r, rc, res, 0));
        return;
    }

    next = ctx->pg_next;

    ngx_http_cvc_finalize(r, next(r, ctx, ngx_http_cvc_pg_json(r, res)));
}


/* the first value of a result as JSON (NULL for SQL NULL), freed with r */

json_t *
ngx_http_cvc_pg_json(ngx_http_request_t *r, PGresult *res)
{
    json_t  *json;

    if (PQntuples(res) == 0 || PQnfields(res) == 0 || PQgetisnull(res, 0, 0))
    {
        return NULL;
    }

    json = json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0, NULL);

    if (json == NULL || ngx_http_cvc_json_pool(r->pool, json) != NGX_OK) {
        return NULL;
    }

    return json;
}


/* next() gets a reply that is not an error */

ngx_int_t
ngx_http_cvc_redis_step(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    int argc, const char **argv, const size_t *argvlen,
    ngx_http_cvc_redis_next_pt next)
{
    ctx->redis_next = next;

    if (ngx_http_cvc_redis_command(&ctx->redis_cmd, argc, argv, argvlen,
                                   ngx_http_cvc_redis_step_done, r)
        == NGX_AGAIN)
    {
        return NGX_DONE;
    }

    return ngx_http_cvc_send_unavailable(r, "Redis");
}


static void
ngx_http_cvc_redis_step_done(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_http_request_t  *r = data;

    ngx_http_cvc_ctx_t          *ctx;
    ngx_http_cvc_redis_next_pt   next;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->redis_cmd = NULL;

    if (rc != NGX_OK || reply->type == REDIS_REPLY_ERROR) {
        if (rc == NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "cvc redis: %*s", (size_t) reply->len, reply->str);
        }

        ngx_http_cvc_finalize(r, ngx_http_cvc_send_unavailable(r, "Redis"));
        return;
    }

    next = ctx->redis_next;

    ngx_http_cvc_finalize(r, next(r, ctx, reply));
}


/* make (hash == NULL: hashes secret) or verify; next() gets NGX_OK or
 * NGX_DECLINED (no match) and the hash made */

ngx_int_t
ngx_http_cvc_hash_step(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_str_t *secret, ngx_str_t *hash, ngx_flag_t make,
    ngx_http_cvc_hash_next_pt next)
{
    ngx_int_t  rc;

    ctx->hash_next = next;

    if (make) {
        rc = ngx_http_cvc_hash_make(&ctx->task, secret,
                                    ngx_http_cvc_hash_step_done, r);

    } else {
        rc = ngx_http_cvc_hash_verify(&ctx->task, secret, hash,
                                      ngx_http_cvc_hash_step_done, r);
    }

    if (rc == NGX_AGAIN) {
        return NGX_DONE;
    }

    return ngx_http_cvc_send_unavailable(r, "The thread pool");
}


static void
ngx_http_cvc_hash_step_done(void *data, ngx_int_t rc, ngx_str_t *hash)
{
    ngx_http_request_t  *r = data;

    ngx_str_t                   copy;
    ngx_http_cvc_ctx_t         *ctx;
    ngx_http_cvc_hash_next_pt   next;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->task = NULL;

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cvc: scrypt failed");
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the hash lives in the task, which goes after this */

    copy.len = hash->len;
    copy.data = ngx_pstrdup(r->pool, hash);
    if (copy.data == NULL && copy.len > 0) {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    next = ctx->hash_next;

    ngx_http_cvc_finalize(r, next(r, ctx, rc, &copy));
}


/* EVAL script nkeys args...; next() as ngx_http_cvc_redis_step()'s */

ngx_int_t
ngx_http_cvc_eval(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *script, ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_cvc_redis_next_pt next)
{
    ctx->redis_next = next;

    if (ngx_http_cvc_redis_eval(&ctx->redis_cmd, script, nkeys, args, nargs,
                                ngx_http_cvc_redis_step_done, r)
        == NGX_AGAIN)
    {
        return NGX_DONE;
    }

    return ngx_http_cvc_send_unavailable(r, "Redis");
}


/* prefix a[:b] */

ngx_str_t *
ngx_http_cvc_key(ngx_http_request_t *r, ngx_str_t *key, const char *prefix,
    ngx_str_t *a, ngx_str_t *b)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(prefix) + a->len + (b ? 1 + b->len : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    key->data = p;
    p = ngx_cpymem(p, prefix, ngx_strlen(prefix));
    p = ngx_cpymem(p, a->data, a->len);

    if (b != NULL) {
        *p++ = ':';
        p = ngx_cpymem(p, b->data, b->len);
    }

    key->len = p - key->data;

    return key;
}



/*
 * CVC gateway: one PostgreSQL connection, libpq in non-blocking mode on
 * nginx's event loop: it opens (PQconnectStartParams, then
 * PQconnectPoll on each event), sends a query, reads its results, and
 * closes.  Each step returns NGX_OK (done), NGX_AGAIN (an event will come:
 * call again) or NGX_ERROR (the connection is no good: close it), and logs
 * why it failed; the pool (ngx_http_cvc_pg.c) decides what follows.
 *
 * Every SQL text the module sends is a literal: a connection prepares it
 * the first time it meets it (PQsendPrepare, one more round trip, once)
 * and then runs the prepared statement, with no parse or plan a request.
 */


#include "ngx_http_cvc_pg.h"


static ngx_int_t ngx_http_cvc_pg_conn_moved(ngx_http_cvc_pg_conn_t *pc);
static ngx_int_t ngx_http_cvc_pg_conn_prepared(ngx_http_cvc_pg_conn_t *pc);
static ngx_int_t ngx_http_cvc_pg_conn_error(ngx_http_cvc_pg_conn_t *pc,
    const char *what);
static void ngx_http_cvc_pg_conn_notice(void *arg, const char *message);


/*
 * The connection's "options": those of cvc_postgres, then
 * "-c statement_timeout=<ms>", so that PostgreSQL gives up a statement
 * when the module does.  NULL on error.
 */

char *
ngx_http_cvc_pg_conn_options(ngx_cycle_t *cycle, char *conninfo,
    ngx_msec_t statement_timeout)
{
    char               *err, *given, *options;
    size_t              len;
    PQconninfoOption   *opts, *o;

    err = NULL;
    opts = PQconninfoParse(conninfo, &err);

    if (opts == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "cvc pg: cvc_postgres: %s", err ? err : "no memory");
        PQfreemem(err);
        return NULL;
    }

    given = NULL;

    for (o = opts; o->keyword != NULL; o++) {
        if (ngx_strcmp(o->keyword, "options") == 0 && o->val != NULL) {
            given = o->val;
        }
    }

    len = (given ? ngx_strlen(given) + 1 : 0)
          + sizeof("-c statement_timeout=") - 1 + NGX_INT_T_LEN + 1;

    options = ngx_pnalloc(cycle->pool, len);

    if (options != NULL) {
        (void) ngx_sprintf((u_char *) options,
                           "%s%s-c statement_timeout=%M%Z",
                           given ? given : "", given ? " " : "",
                           statement_timeout);
    }

    PQconninfoFree(opts);

    return options;
}


/* starts connecting; handler() gets the socket's events until it is open */

ngx_int_t
ngx_http_cvc_pg_conn_open(ngx_http_cvc_pg_conn_t *pc, char *conninfo,
    char *options, ngx_event_handler_pt handler, ngx_msec_t timeout)
{
    ngx_connection_t  *c;

    const char *const  keywords[] = { "dbname", "options", NULL };
    const char        *values[3];

    /* dbname is the whole conninfo, expanded; options come after it */

    values[0] = conninfo;
    values[1] = options;
    values[2] = NULL;

    pc->conn = PQconnectStartParams(keywords, values, 1);

    if (pc->conn == NULL) {
        ngx_log_error(NGX_LOG_ERR, pc->log, 0,
                      "cvc pg: PQconnectStart() failed");
        return NGX_ERROR;
    }

    if (PQstatus(pc->conn) == CONNECTION_BAD
        || PQsetnonblocking(pc->conn, 1) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, pc->log, 0, "cvc pg: connect failed: %s",
                      PQerrorMessage(pc->conn));
        PQfinish(pc->conn);
        pc->conn = NULL;
        return NGX_ERROR;
    }

    PQsetNoticeProcessor(pc->conn, ngx_http_cvc_pg_conn_notice, pc->log);

    c = ngx_http_cvc_conn_get(PQsocket(pc->conn), handler, pc, pc->log);
    if (c == NULL) {
        PQfinish(pc->conn);
        pc->conn = NULL;
        return NGX_ERROR;
    }

    pc->c = c;
    pc->state = NGX_HTTP_CVC_PG_CONNECTING;

    ngx_add_timer(c->read, timeout);

    /* libpq starts by waiting for the socket to be writable */

    if (ngx_http_cvc_conn_want(c, 1, 1) != NGX_OK) {
        ngx_http_cvc_pg_conn_close(pc);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a step of the connection; NGX_OK: open, its events go to handler() */

ngx_int_t
ngx_http_cvc_pg_conn_poll(ngx_http_cvc_pg_conn_t *pc,
    ngx_event_handler_pt handler)
{
    PostgresPollingStatusType  status;

    status = PQconnectPoll(pc->conn);

    if (status == PGRES_POLLING_FAILED) {
        ngx_log_error(NGX_LOG_ERR, pc->log, 0, "cvc pg: connect failed: %s",
                      PQerrorMessage(pc->conn));
        return NGX_ERROR;
    }

    if (ngx_http_cvc_pg_conn_moved(pc) != NGX_OK) {
        return NGX_ERROR;
    }

    switch (status) {

    case PGRES_POLLING_READING:
        return ngx_http_cvc_conn_want(pc->c, 1, 0) == NGX_OK
               ? NGX_AGAIN : NGX_ERROR;

    case PGRES_POLLING_WRITING:
        return ngx_http_cvc_conn_want(pc->c, 1, 1) == NGX_OK
               ? NGX_AGAIN : NGX_ERROR;

    case PGRES_POLLING_OK:
        break;

    default:
        return NGX_ERROR;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->log, 0, "cvc pg: connected");

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    pc->c->read->handler = handler;
    pc->c->write->handler = handler;

    return ngx_http_cvc_conn_want(pc->c, 1, 0);
}


/* libpq moved to another socket (another address, or an SSL retry) */

static ngx_int_t
ngx_http_cvc_pg_conn_moved(ngx_http_cvc_pg_conn_t *pc)
{
    ngx_msec_t             timer;
    ngx_connection_t      *c;
    ngx_event_handler_pt   handler;

    if (PQsocket(pc->conn) == pc->c->fd) {
        return NGX_OK;
    }

    timer = pc->c->read->timer_set ? pc->c->read->timer.key : 0;
    handler = pc->c->read->handler;

    ngx_http_cvc_conn_free(pc->c, 1);

    c = ngx_http_cvc_conn_get(PQsocket(pc->conn), handler, pc, pc->log);
    if (c == NULL) {
        pc->c = NULL;
        return NGX_ERROR;
    }

    pc->c = c;

    if (timer) {
        ngx_add_timer(c->read, (timer > ngx_current_msec)
                               ? timer - ngx_current_msec : 1);
    }

    return NGX_OK;
}


/* sends the query (the SQL text is a literal: its pointer names it) */

ngx_int_t
ngx_http_cvc_pg_conn_send(ngx_http_cvc_pg_conn_t *pc, const char *sql,
    int nparams, const char *const *values)
{
    int          ok;
    u_char       name[NGX_INT_T_LEN + 4];
    ngx_uint_t   i;

    pc->sql = sql;
    pc->nparams = nparams;
    pc->values = values;

    for (i = 0; i < pc->nprepared; i++) {
        if (pc->prepared[i] == sql) {
            return ngx_http_cvc_pg_conn_prepared(pc);
        }
    }

    if (pc->nprepared < NGX_HTTP_CVC_PG_STATEMENTS) {

        /* first met on this connection: prepared, then run (read()) */

        (void) ngx_sprintf(name, "cvc%ui%Z", pc->nprepared);

        pc->preparing = 1;
        ok = PQsendPrepare(pc->conn, (char *) name, sql, nparams, NULL);

    } else {
        ok = PQsendQueryParams(pc->conn, sql, nparams, NULL, values, NULL,
                               NULL, 0);
    }

    if (!ok) {
        return ngx_http_cvc_pg_conn_error(pc, "sending a query failed");
    }

    return ngx_http_cvc_pg_conn_flush(pc);
}


/* runs the statement prepared for pc->sql */

static ngx_int_t
ngx_http_cvc_pg_conn_prepared(ngx_http_cvc_pg_conn_t *pc)
{
    u_char      name[NGX_INT_T_LEN + 4];
    ngx_uint_t  i;

    for (i = 0; pc->prepared[i] != pc->sql; i++) { /* void */ }

    (void) ngx_sprintf(name, "cvc%ui%Z", i);

    if (!PQsendQueryPrepared(pc->conn, (char *) name, pc->nparams,
                             pc->values, NULL, NULL, 0))
    {
        return ngx_http_cvc_pg_conn_error(pc, "PQsendQueryPrepared() failed");
    }

    return ngx_http_cvc_pg_conn_flush(pc);
}


/* what libpq could not write yet: the write event says when it can */

ngx_int_t
ngx_http_cvc_pg_conn_flush(ngx_http_cvc_pg_conn_t *pc)
{
    int  rc;

    rc = PQflush(pc->conn);

    if (rc < 0) {
        return ngx_http_cvc_pg_conn_error(pc, "PQflush() failed");
    }

    if (ngx_http_cvc_conn_want(pc->c, 1, rc == 1) != NGX_OK) {
        return ngx_http_cvc_pg_conn_error(pc, "event");
    }

    return NGX_OK;
}


/*
 * The results of the query in flight.  NGX_OK: all read, pc->result is
 * the answer (of several, an error wins, then the last one); NGX_AGAIN:
 * more to come.
 */

ngx_int_t
ngx_http_cvc_pg_conn_read(ngx_http_cvc_pg_conn_t *pc)
{
    PGresult  *res;

    if (!PQconsumeInput(pc->conn)) {
        return ngx_http_cvc_pg_conn_error(pc, "PQconsumeInput() failed");
    }

    while (!PQisBusy(pc->conn)) {

        res = PQgetResult(pc->conn);

        if (res != NULL) {
            if (pc->result != NULL
                && PQresultStatus(pc->result) == PGRES_FATAL_ERROR)
            {
                PQclear(res);
                continue;
            }

            PQclear(pc->result);
            pc->result = res;
            continue;
        }

        if (!pc->preparing) {
            return NGX_OK;
        }

        pc->preparing = 0;

        if (pc->result == NULL
            || PQresultStatus(pc->result) != PGRES_COMMAND_OK)
        {
            /* an SQL text that can't be prepared answers as its query
             * would */
            return NGX_OK;
        }

        /* prepared: now the query itself */

        PQclear(pc->result);
        pc->result = NULL;
        pc->prepared[pc->nprepared++] = pc->sql;

        return (ngx_http_cvc_pg_conn_prepared(pc) == NGX_OK)
               ? NGX_AGAIN : NGX_ERROR;
    }

    if (PQstatus(pc->conn) == CONNECTION_BAD) {
        return ngx_http_cvc_pg_conn_error(pc, "connection lost");
    }

    return NGX_AGAIN;
}


/* an idle connection has nothing to say but that it ends: NGX_ERROR */

ngx_int_t
ngx_http_cvc_pg_conn_idle(ngx_http_cvc_pg_conn_t *pc)
{
    if (!PQconsumeInput(pc->conn) || PQstatus(pc->conn) == CONNECTION_BAD) {
        ngx_log_error(NGX_LOG_WARN, pc->log, 0,
                      "cvc pg: idle connection lost: %s",
                      PQerrorMessage(pc->conn));
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_cvc_pg_conn_close(ngx_http_cvc_pg_conn_t *pc)
{
    if (pc->result != NULL) {
        PQclear(pc->result);
        pc->result = NULL;
    }

    if (pc->c != NULL) {
        ngx_http_cvc_conn_free(pc->c, pc->conn == NULL
                                      || PQsocket(pc->conn) != pc->c->fd);
        pc->c = NULL;
    }

    if (pc->conn != NULL) {
        PQfinish(pc->conn);
        pc->conn = NULL;
    }

    /* a statement lives as long as its session */

    pc->nprepared = 0;
    pc->preparing = 0;
    pc->state = NGX_HTTP_CVC_PG_CLOSED;
}


static ngx_int_t
ngx_http_cvc_pg_conn_error(ngx_http_cvc_pg_conn_t *pc, const char *what)
{
    ngx_log_error(NGX_LOG_ERR, pc->log, 0, "cvc pg: %s: %s", what,
                  PQerrorMessage(pc->conn));

    return NGX_ERROR;
}


static void
ngx_http_cvc_pg_conn_notice(void *arg, const char *message)
{
    ngx_log_t  *log = arg;

    ngx_log_error(NGX_LOG_NOTICE, log, 0, "cvc pg: %s", message);
}

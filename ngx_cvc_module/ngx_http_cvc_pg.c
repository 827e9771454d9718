
/*
 * CVC gateway: the PostgreSQL client.  Each worker keeps a small pool of
 * libpq connections in non-blocking mode on its event loop, and a bounded
 * queue of operations waiting for one.  A connection is opened when work
 * needs it and none is idle, so a restarted PostgreSQL is reconnected to
 * by the next query.  Every operation has a timer from the moment it is
 * asked for: queued or in flight, it ends by then; and PostgreSQL ends
 * the statement by then too (statement_timeout, set at connect), so that
 * a query given up on does not go on running.
 *
 * Every SQL text the module sends is a literal: each connection prepares
 * it the first time it meets it (PQsendPrepare, one more round trip, once)
 * and then runs the prepared statement, with no parse or plan a request.
 */


#include "ngx_http_cvc_module.h"


typedef enum {
    NGX_HTTP_CVC_PG_CLOSED = 0,
    NGX_HTTP_CVC_PG_CONNECTING,
    NGX_HTTP_CVC_PG_IDLE,
    NGX_HTTP_CVC_PG_BUSY
} ngx_http_cvc_pg_state_e;


#define NGX_HTTP_CVC_PG_STATEMENTS  64


typedef struct {
    PGconn                     *conn;
    ngx_connection_t           *c;
    ngx_http_cvc_pg_state_e     state;
    ngx_http_cvc_pg_op_t       *op;
    PGresult                   *result;

    /* the SQL texts prepared on this connection: statement "cvc<i>" */
    const char                 *prepared[NGX_HTTP_CVC_PG_STATEMENTS];
    ngx_uint_t                  nprepared;
    unsigned                    preparing:1;
} ngx_http_cvc_pg_conn_t;


struct ngx_http_cvc_pg_op_s {
    ngx_queue_t                 queue;
    ngx_event_t                 timer;
    ngx_http_cvc_pg_handler_pt  handler;
    void                       *data;
    ngx_http_cvc_pg_conn_t     *pc;
    const char                 *sql;
    int                         nparams;
    const char                 *values[NGX_HTTP_CVC_MAX_PARAMS];
};


typedef struct {
    ngx_http_cvc_pg_conn_t     *conns;
    ngx_uint_t                  nconns;
    ngx_queue_t                 waiting;
    ngx_uint_t                  nwaiting;
    ngx_http_cvc_main_conf_t   *mcf;
    ngx_log_t                  *log;
    char                       *conninfo;
    char                       *options;    /* its own, and the timeout */
} ngx_http_cvc_pg_pool_t;


static ngx_int_t ngx_http_cvc_pg_options(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf);
static ngx_int_t ngx_http_cvc_pg_connect(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_connect_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_cvc_pg_poll(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_connect_failed(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_send(ngx_http_cvc_pg_conn_t *pc,
    ngx_http_cvc_pg_op_t *op);
static ngx_int_t ngx_http_cvc_pg_send_prepared(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_flush(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_handler(ngx_event_t *ev);
static void ngx_http_cvc_pg_read(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_complete(ngx_http_cvc_pg_conn_t *pc,
    ngx_int_t rc);
static void ngx_http_cvc_pg_next(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_fail(ngx_http_cvc_pg_conn_t *pc,
    const char *what);
static void ngx_http_cvc_pg_reopen(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_close(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_fail_waiting(void);
static void ngx_http_cvc_pg_timeout(ngx_event_t *ev);
static void ngx_http_cvc_pg_end(ngx_http_cvc_pg_op_t *op, ngx_int_t rc,
    PGresult *res);
static void ngx_http_cvc_pg_notice(void *arg, const char *message);


static ngx_http_cvc_pg_pool_t  ngx_http_cvc_pg;


ngx_int_t
ngx_http_cvc_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf)
{
    ngx_http_cvc_pg.conns = ngx_pcalloc(cycle->pool,
                                 mcf->pg.size * sizeof(ngx_http_cvc_pg_conn_t));
    if (ngx_http_cvc_pg.conns == NULL) {
        return NGX_ERROR;
    }

    ngx_http_cvc_pg.conninfo = ngx_pnalloc(cycle->pool,
                                           mcf->pg.conninfo.len + 1);
    if (ngx_http_cvc_pg.conninfo == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn((u_char *) ngx_http_cvc_pg.conninfo,
                       mcf->pg.conninfo.data, mcf->pg.conninfo.len + 1);

    if (ngx_http_cvc_pg_options(cycle, mcf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_cvc_pg.nconns = mcf->pg.size;
    ngx_queue_init(&ngx_http_cvc_pg.waiting);
    ngx_http_cvc_pg.mcf = mcf;
    ngx_http_cvc_pg.log = cycle->log;

    return NGX_OK;
}


void
ngx_http_cvc_pg_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_cvc_pg.nconns; i++) {
        if (ngx_http_cvc_pg.conns[i].state != NGX_HTTP_CVC_PG_CLOSED) {
            ngx_http_cvc_pg_close(&ngx_http_cvc_pg.conns[i]);
        }
    }
}


/*
 * Sends sql with its parameters (text; a param with a NULL data is SQL
 * NULL), copied.  NGX_AGAIN: the handler will be called.  NGX_BUSY: the
 * queue is full.  NGX_ERROR: PostgreSQL can't be reached now.
 */

ngx_int_t
ngx_http_cvc_pg_query(ngx_http_cvc_pg_op_t **opp, const char *sql,
    ngx_uint_t nparams, ngx_str_t *params, ngx_http_cvc_pg_handler_pt handler,
    void *data)
{
    u_char                  *p;
    size_t                   size;
    ngx_uint_t               i, live;
    ngx_http_cvc_pg_op_t    *op;
    ngx_http_cvc_pg_conn_t  *pc, *closed;

    if (nparams > NGX_HTTP_CVC_MAX_PARAMS) {
        return NGX_ERROR;
    }

    size = sizeof(ngx_http_cvc_pg_op_t);

    for (i = 0; i < nparams; i++) {
        size += params[i].len + 1;
    }

    op = ngx_calloc(size, ngx_http_cvc_pg.log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->sql = sql;
    op->nparams = nparams;
    op->handler = handler;
    op->data = data;

    p = (u_char *) (op + 1);

    for (i = 0; i < nparams; i++) {
        if (params[i].data == NULL) {
            op->values[i] = NULL;
            continue;
        }

        op->values[i] = (char *) p;
        p = ngx_cpymem(p, params[i].data, params[i].len);
        *p++ = '\0';
    }

    op->timer.handler = ngx_http_cvc_pg_timeout;
    op->timer.data = op;
    op->timer.log = ngx_http_cvc_pg.log;

    /* an idle connection, or one to open, or a place in the queue */

    closed = NULL;
    live = 0;

    for (i = 0; i < ngx_http_cvc_pg.nconns; i++) {
        pc = &ngx_http_cvc_pg.conns[i];

        if (pc->state == NGX_HTTP_CVC_PG_IDLE) {
            ngx_add_timer(&op->timer, ngx_http_cvc_pg.mcf->query_timeout);
            *opp = op;
            ngx_http_cvc_pg_send(pc, op);
            return NGX_AGAIN;
        }

        if (pc->state == NGX_HTTP_CVC_PG_CLOSED) {
            closed = pc;

        } else {
            live++;
        }
    }

    if (ngx_http_cvc_pg.nwaiting >= ngx_http_cvc_pg.mcf->pg.queue) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_cvc_pg.log, 0,
                      "cvc pg: the queue is full (%ui waiting)",
                      ngx_http_cvc_pg.nwaiting);
        ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_QUEUE_FULL, 1);
        ngx_free(op);
        return NGX_BUSY;
    }

    if (closed != NULL && ngx_http_cvc_pg_connect(closed) == NGX_OK) {
        live++;
    }

    if (live == 0) {
        ngx_free(op);
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&ngx_http_cvc_pg.waiting, &op->queue);
    ngx_http_cvc_pg.nwaiting++;
    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_WAITS, 1);

    ngx_add_timer(&op->timer, ngx_http_cvc_pg.mcf->query_timeout);
    *opp = op;

    return NGX_AGAIN;
}


/* the caller goes away: the operation completes and its answer is dropped */

void
ngx_http_cvc_pg_detach(ngx_http_cvc_pg_op_t *op)
{
    if (op->pc != NULL) {
        op->handler = NULL;
        return;
    }

    /* still waiting: it is never sent */

    ngx_queue_remove(&op->queue);
    ngx_http_cvc_pg.nwaiting--;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    ngx_free(op);
}


/*
 * The connection's "options": those of cvc_postgres, then
 * "-c statement_timeout=<cvc_query_timeout>", so that PostgreSQL gives up
 * a statement when the module does.
 */

static ngx_int_t
ngx_http_cvc_pg_options(ngx_cycle_t *cycle, ngx_http_cvc_main_conf_t *mcf)
{
    char               *err, *given;
    size_t              len;
    PQconninfoOption   *opts, *o;

    err = NULL;
    opts = PQconninfoParse(ngx_http_cvc_pg.conninfo, &err);

    if (opts == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "cvc pg: cvc_postgres: %s", err ? err : "no memory");
        PQfreemem(err);
        return NGX_ERROR;
    }

    given = NULL;

    for (o = opts; o->keyword != NULL; o++) {
        if (ngx_strcmp(o->keyword, "options") == 0 && o->val != NULL) {
            given = o->val;
        }
    }

    len = (given ? ngx_strlen(given) + 1 : 0)
          + sizeof("-c statement_timeout=") - 1 + NGX_INT_T_LEN + 1;

    ngx_http_cvc_pg.options = ngx_pnalloc(cycle->pool, len);
    if (ngx_http_cvc_pg.options == NULL) {
        PQconninfoFree(opts);
        return NGX_ERROR;
    }

    (void) ngx_sprintf((u_char *) ngx_http_cvc_pg.options,
                       "%s%s-c statement_timeout=%M%Z",
                       given ? given : "", given ? " " : "",
                       mcf->query_timeout);

    PQconninfoFree(opts);

    return NGX_OK;
}


static ngx_int_t
ngx_http_cvc_pg_connect(ngx_http_cvc_pg_conn_t *pc)
{
    ngx_connection_t  *c;

    const char *const  keywords[] = { "dbname", "options", NULL };
    const char        *values[3];

    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_CONNECTS, 1);

    /* dbname is the whole conninfo, expanded; options come after it */

    values[0] = ngx_http_cvc_pg.conninfo;
    values[1] = ngx_http_cvc_pg.options;
    values[2] = NULL;

    pc->conn = PQconnectStartParams(keywords, values, 1);

    if (pc->conn == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_pg.log, 0,
                      "cvc pg: PQconnectStart() failed");
        return NGX_ERROR;
    }

    if (PQstatus(pc->conn) == CONNECTION_BAD
        || PQsetnonblocking(pc->conn, 1) != 0)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_pg.log, 0,
                      "cvc pg: connect failed: %s", PQerrorMessage(pc->conn));
        PQfinish(pc->conn);
        pc->conn = NULL;
        return NGX_ERROR;
    }

    PQsetNoticeProcessor(pc->conn, ngx_http_cvc_pg_notice, NULL);

    c = ngx_http_cvc_conn_get(PQsocket(pc->conn),
                              ngx_http_cvc_pg_connect_handler, pc,
                              ngx_http_cvc_pg.log);
    if (c == NULL) {
        PQfinish(pc->conn);
        pc->conn = NULL;
        return NGX_ERROR;
    }

    pc->c = c;
    pc->state = NGX_HTTP_CVC_PG_CONNECTING;

    ngx_add_timer(c->read, ngx_http_cvc_pg.mcf->connect_timeout);

    /* libpq starts by waiting for the socket to be writable */

    if (ngx_http_cvc_conn_want(c, 1, 1) != NGX_OK) {
        ngx_http_cvc_pg_close(pc);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_cvc_pg_connect_handler(ngx_event_t *ev)
{
    ngx_connection_t        *c;
    ngx_http_cvc_pg_conn_t  *pc;

    c = ev->data;
    pc = c->data;

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_pg.log, NGX_ETIMEDOUT,
                      "cvc pg: connect timed out");
        ngx_http_cvc_pg_connect_failed(pc);
        return;
    }

    if (ngx_http_cvc_pg_poll(pc) != NGX_OK) {
        ngx_http_cvc_pg_connect_failed(pc);
    }
}


static ngx_int_t
ngx_http_cvc_pg_poll(ngx_http_cvc_pg_conn_t *pc)
{
    ngx_msec_t                 timer;
    ngx_connection_t          *c;
    PostgresPollingStatusType  status;

    status = PQconnectPoll(pc->conn);

    if (status == PGRES_POLLING_FAILED) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_pg.log, 0,
                      "cvc pg: connect failed: %s", PQerrorMessage(pc->conn));
        return NGX_ERROR;
    }

    if (PQsocket(pc->conn) != pc->c->fd) {

        /* libpq moved to another socket (another address, or SSL retry) */

        timer = pc->c->read->timer_set ? pc->c->read->timer.key : 0;

        ngx_http_cvc_conn_free(pc->c, 1);

        c = ngx_http_cvc_conn_get(PQsocket(pc->conn),
                                  ngx_http_cvc_pg_connect_handler, pc,
                                  ngx_http_cvc_pg.log);
        if (c == NULL) {
            pc->c = NULL;
            return NGX_ERROR;
        }

        pc->c = c;

        if (timer) {
            ngx_add_timer(c->read, (timer > ngx_current_msec)
                                   ? timer - ngx_current_msec : 1);
        }
    }

    switch (status) {

    case PGRES_POLLING_READING:
        return ngx_http_cvc_conn_want(pc->c, 1, 0);

    case PGRES_POLLING_WRITING:
        return ngx_http_cvc_conn_want(pc->c, 1, 1);

    case PGRES_POLLING_OK:
        break;

    default:
        return NGX_ERROR;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_http_cvc_pg.log, 0,
                   "cvc pg: connected");

    if (pc->c->read->timer_set) {
        ngx_del_timer(pc->c->read);
    }

    pc->c->read->handler = ngx_http_cvc_pg_handler;
    pc->c->write->handler = ngx_http_cvc_pg_handler;
    pc->state = NGX_HTTP_CVC_PG_IDLE;

    if (ngx_http_cvc_conn_want(pc->c, 1, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_cvc_pg_next(pc);

    return NGX_OK;
}


/* a connection could not be opened: the queue waits only for live ones */

static void
ngx_http_cvc_pg_connect_failed(ngx_http_cvc_pg_conn_t *pc)
{
    ngx_uint_t  i;

    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_CONNECT_FAILURES, 1);
    ngx_http_cvc_pg_close(pc);

    for (i = 0; i < ngx_http_cvc_pg.nconns; i++) {
        if (ngx_http_cvc_pg.conns[i].state != NGX_HTTP_CVC_PG_CLOSED) {
            return;
        }
    }

    ngx_http_cvc_pg_fail_waiting();
}


static void
ngx_http_cvc_pg_send(ngx_http_cvc_pg_conn_t *pc, ngx_http_cvc_pg_op_t *op)
{
    int          ok;
    u_char       name[NGX_INT_T_LEN + 4];
    ngx_uint_t   i;

    pc->state = NGX_HTTP_CVC_PG_BUSY;
    pc->op = op;
    op->pc = pc;

    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_QUERIES, 1);

    for (i = 0; i < pc->nprepared; i++) {
        if (pc->prepared[i] == op->sql) {
            break;
        }
    }

    if (i < pc->nprepared) {
        ok = (ngx_http_cvc_pg_send_prepared(pc) == NGX_OK);

    } else if (pc->nprepared < NGX_HTTP_CVC_PG_STATEMENTS) {

        /* first met on this connection: prepared, then run (read()) */

        (void) ngx_sprintf(name, "cvc%ui%Z", pc->nprepared);

        pc->preparing = 1;
        ok = PQsendPrepare(pc->conn, (char *) name, op->sql, op->nparams,
                           NULL);

    } else {
        ok = PQsendQueryParams(pc->conn, op->sql, op->nparams, NULL,
                               op->values, NULL, NULL, 0);
    }

    if (!ok) {
        ngx_http_cvc_pg_fail(pc, "sending a query failed");
        return;
    }

    ngx_http_cvc_pg_flush(pc);
}


/* runs the statement prepared for pc->op's SQL */

static ngx_int_t
ngx_http_cvc_pg_send_prepared(ngx_http_cvc_pg_conn_t *pc)
{
    u_char                 name[NGX_INT_T_LEN + 4];
    ngx_uint_t             i;
    ngx_http_cvc_pg_op_t  *op = pc->op;

    for (i = 0; pc->prepared[i] != op->sql; i++) { /* void */ }

    (void) ngx_sprintf(name, "cvc%ui%Z", i);

    if (!PQsendQueryPrepared(pc->conn, (char *) name, op->nparams,
                             op->values, NULL, NULL, 0))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_cvc_pg_flush(ngx_http_cvc_pg_conn_t *pc)
{
    int  rc;

    rc = PQflush(pc->conn);

    if (rc < 0) {
        ngx_http_cvc_pg_fail(pc, "PQflush() failed");
        return;
    }

    if (ngx_http_cvc_conn_want(pc->c, 1, rc == 1) != NGX_OK) {
        ngx_http_cvc_pg_fail(pc, "event");
    }
}


static void
ngx_http_cvc_pg_handler(ngx_event_t *ev)
{
    ngx_connection_t        *c;
    ngx_http_cvc_pg_conn_t  *pc;

    c = ev->data;
    pc = c->data;

    if (ev->write) {
        if (pc->state == NGX_HTTP_CVC_PG_BUSY) {
            ngx_http_cvc_pg_flush(pc);

        } else {
            (void) ngx_http_cvc_conn_want(c, 1, 0);
        }

        return;
    }

    ngx_http_cvc_pg_read(pc);
}


static void
ngx_http_cvc_pg_read(ngx_http_cvc_pg_conn_t *pc)
{
    PGresult  *res;

    if (pc->state != NGX_HTTP_CVC_PG_BUSY) {

        /* an idle connection has nothing to say but that it ends */

        if (!PQconsumeInput(pc->conn)
            || PQstatus(pc->conn) == CONNECTION_BAD)
        {
            ngx_log_error(NGX_LOG_WARN, ngx_http_cvc_pg.log, 0,
                          "cvc pg: idle connection lost: %s",
                          PQerrorMessage(pc->conn));
            ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_CONNECT_FAILURES,
                                       1);
            ngx_http_cvc_pg_close(pc);
        }

        return;
    }

    if (!PQconsumeInput(pc->conn)) {
        ngx_http_cvc_pg_fail(pc, "PQconsumeInput() failed");
        return;
    }

    while (!PQisBusy(pc->conn)) {

        res = PQgetResult(pc->conn);

        if (res == NULL) {
            ngx_http_cvc_pg_complete(pc, NGX_OK);
            return;
        }

        /* of several results, an error wins, then the last one */

        if (pc->result != NULL
            && PQresultStatus(pc->result) == PGRES_FATAL_ERROR)
        {
            PQclear(res);
            continue;
        }

        PQclear(pc->result);
        pc->result = res;
    }

    if (PQstatus(pc->conn) == CONNECTION_BAD) {
        ngx_http_cvc_pg_fail(pc, "connection lost");
    }
}


static void
ngx_http_cvc_pg_complete(ngx_http_cvc_pg_conn_t *pc, ngx_int_t rc)
{
    PGresult              *res;
    ngx_http_cvc_pg_op_t  *op;

    op = pc->op;
    res = pc->result;

    if (pc->preparing && op != NULL) {
        pc->preparing = 0;

        if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {

            /* prepared: now the query itself */

            PQclear(res);
            pc->result = NULL;
            pc->prepared[pc->nprepared++] = op->sql;

            if (ngx_http_cvc_pg_send_prepared(pc) != NGX_OK) {
                ngx_http_cvc_pg_fail(pc, "PQsendQueryPrepared() failed");
                return;
            }

            ngx_http_cvc_pg_flush(pc);
            return;
        }

        /* an SQL text that can't be prepared answers as its query would */
    }

    pc->op = NULL;
    pc->result = NULL;
    pc->state = NGX_HTTP_CVC_PG_IDLE;

    /* the next in the queue goes first, so a handler can't overtake it */

    ngx_http_cvc_pg_next(pc);

    ngx_http_cvc_pg_end(op, rc, res);

    PQclear(res);
}


static void
ngx_http_cvc_pg_next(ngx_http_cvc_pg_conn_t *pc)
{
    ngx_queue_t           *q;
    ngx_http_cvc_pg_op_t  *op;

    if (pc->state != NGX_HTTP_CVC_PG_IDLE
        || ngx_queue_empty(&ngx_http_cvc_pg.waiting))
    {
        return;
    }

    q = ngx_queue_head(&ngx_http_cvc_pg.waiting);
    ngx_queue_remove(q);
    ngx_http_cvc_pg.nwaiting--;

    op = ngx_queue_data(q, ngx_http_cvc_pg_op_t, queue);

    ngx_http_cvc_pg_send(pc, op);
}


/* the connection broke with an operation on it */

static void
ngx_http_cvc_pg_fail(ngx_http_cvc_pg_conn_t *pc, const char *what)
{
    ngx_http_cvc_pg_op_t  *op;

    ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_pg.log, 0, "cvc pg: %s: %s",
                  what, PQerrorMessage(pc->conn));

    op = pc->op;

    ngx_http_cvc_pg_close(pc);

    if (op != NULL) {
        ngx_http_cvc_pg_end(op, NGX_ERROR, NULL);
    }

    ngx_http_cvc_pg_reopen(pc);
}


/* a connection that went, reopened for the operations still waiting */

static void
ngx_http_cvc_pg_reopen(ngx_http_cvc_pg_conn_t *pc)
{
    if (ngx_http_cvc_pg.nwaiting > 0
        && pc->state == NGX_HTTP_CVC_PG_CLOSED
        && ngx_http_cvc_pg_connect(pc) != NGX_OK)
    {
        ngx_http_cvc_pg_connect_failed(pc);
    }
}


static void
ngx_http_cvc_pg_close(ngx_http_cvc_pg_conn_t *pc)
{
    if (pc->op != NULL) {
        pc->op->pc = NULL;
        pc->op = NULL;
    }

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


static void
ngx_http_cvc_pg_fail_waiting(void)
{
    ngx_queue_t            failed, *q;
    ngx_http_cvc_pg_op_t  *op;

    if (ngx_queue_empty(&ngx_http_cvc_pg.waiting)) {
        return;
    }

    /* handlers may queue new work: fail only what waits now */

    failed = ngx_http_cvc_pg.waiting;
    failed.next->prev = &failed;
    failed.prev->next = &failed;

    ngx_queue_init(&ngx_http_cvc_pg.waiting);
    ngx_http_cvc_pg.nwaiting = 0;

    while (!ngx_queue_empty(&failed)) {
        q = ngx_queue_head(&failed);
        ngx_queue_remove(q);

        op = ngx_queue_data(q, ngx_http_cvc_pg_op_t, queue);
        ngx_http_cvc_pg_end(op, NGX_ERROR, NULL);
    }
}


static void
ngx_http_cvc_pg_timeout(ngx_event_t *ev)
{
    ngx_http_cvc_pg_op_t    *op;
    ngx_http_cvc_pg_conn_t  *pc;

    op = ev->data;
    pc = op->pc;

    ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_pg.log, NGX_ETIMEDOUT,
                  "cvc pg: query timed out %s",
                  pc ? "in flight" : "waiting for a connection");

    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_TIMEOUTS, 1);

    if (pc != NULL) {

        /* the connection's state is unknown: it goes */

        ngx_http_cvc_pg_close(pc);

    } else {
        ngx_queue_remove(&op->queue);
        ngx_http_cvc_pg.nwaiting--;
    }

    ngx_http_cvc_pg_end(op, NGX_ERROR, NULL);

    if (pc != NULL) {
        ngx_http_cvc_pg_reopen(pc);
    }
}


/* calls the handler, if still attached, once, and frees the operation */

static void
ngx_http_cvc_pg_end(ngx_http_cvc_pg_op_t *op, ngx_int_t rc, PGresult *res)
{
    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    op->pc = NULL;

    if (op->handler != NULL) {
        op->handler(op->data, rc, res);
    }

    ngx_free(op);
}


static void
ngx_http_cvc_pg_notice(void *arg, const char *message)
{
    ngx_log_error(NGX_LOG_NOTICE, ngx_http_cvc_pg.log, 0, "cvc pg: %s",
                  message);
}


/* for the metrics: this worker's connections by state, and its queue */

void
ngx_http_cvc_pg_gauges(ngx_uint_t *busy, ngx_uint_t *idle,
    ngx_uint_t *connecting, ngx_uint_t *queue)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_cvc_pg.nconns; i++) {
        switch (ngx_http_cvc_pg.conns[i].state) {

        case NGX_HTTP_CVC_PG_BUSY:
            (*busy)++;
            break;

        case NGX_HTTP_CVC_PG_IDLE:
            (*idle)++;
            break;

        case NGX_HTTP_CVC_PG_CONNECTING:
            (*connecting)++;
            break;

        default:
            break;
        }
    }

    *queue = ngx_http_cvc_pg.nwaiting;
}

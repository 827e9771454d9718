
/*
 * CVC gateway: the PostgreSQL client's pool.  Each worker keeps a small
 * pool of connections (ngx_http_cvc_pg_conn.c: libpq in non-blocking mode
 * on its event loop) and a bounded queue of operations waiting for one.
 * A connection is opened when work needs it and none is idle, so a
 * restarted PostgreSQL is reconnected to by the next query.  Every
 * operation has a timer from the moment it is asked for: queued or in
 * flight, it ends by then; and PostgreSQL ends the statement by then too
 * (statement_timeout, set at connect), so that a query given up on does
 * not go on running.
 */


#include "ngx_http_cvc_pg.h"


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


static ngx_http_cvc_pg_op_t *ngx_http_cvc_pg_op(const char *sql,
    ngx_uint_t nparams, ngx_str_t *params, ngx_http_cvc_pg_handler_pt handler,
    void *data);
static ngx_int_t ngx_http_cvc_pg_connect(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_connect_handler(ngx_event_t *ev);
static void ngx_http_cvc_pg_connect_failed(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_send(ngx_http_cvc_pg_conn_t *pc,
    ngx_http_cvc_pg_op_t *op);
static void ngx_http_cvc_pg_handler(ngx_event_t *ev);
static void ngx_http_cvc_pg_complete(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_next(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_fail(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_reopen(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_close(ngx_http_cvc_pg_conn_t *pc);
static void ngx_http_cvc_pg_fail_waiting(void);
static void ngx_http_cvc_pg_timeout(ngx_event_t *ev);
static void ngx_http_cvc_pg_end(ngx_http_cvc_pg_op_t *op, ngx_int_t rc,
    PGresult *res);


static ngx_http_cvc_pg_pool_t  ngx_http_cvc_pg;


ngx_int_t
ngx_http_cvc_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf)
{
    ngx_uint_t  i;

    ngx_http_cvc_pg.conns = ngx_pcalloc(cycle->pool,
                                 mcf->pg.size * sizeof(ngx_http_cvc_pg_conn_t));
    if (ngx_http_cvc_pg.conns == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < mcf->pg.size; i++) {
        ngx_http_cvc_pg.conns[i].log = cycle->log;
    }

    ngx_http_cvc_pg.conninfo = ngx_pnalloc(cycle->pool,
                                           mcf->pg.conninfo.len + 1);
    if (ngx_http_cvc_pg.conninfo == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn((u_char *) ngx_http_cvc_pg.conninfo,
                       mcf->pg.conninfo.data, mcf->pg.conninfo.len + 1);

    ngx_http_cvc_pg.options = ngx_http_cvc_pg_conn_options(cycle,
                                                    ngx_http_cvc_pg.conninfo,
                                                    mcf->query_timeout);
    if (ngx_http_cvc_pg.options == NULL) {
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
    ngx_uint_t               i, live;
    ngx_http_cvc_pg_op_t    *op;
    ngx_http_cvc_pg_conn_t  *pc, *closed;

    op = ngx_http_cvc_pg_op(sql, nparams, params, handler, data);
    if (op == NULL) {
        return NGX_ERROR;
    }

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

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_cvc_pg.log, 0,
                   "cvc pg: queued, %ui waiting", ngx_http_cvc_pg.nwaiting);
    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_WAITS, 1);

    ngx_add_timer(&op->timer, ngx_http_cvc_pg.mcf->query_timeout);
    *opp = op;

    return NGX_AGAIN;
}


/* an operation, with copies of its parameters */

static ngx_http_cvc_pg_op_t *
ngx_http_cvc_pg_op(const char *sql, ngx_uint_t nparams, ngx_str_t *params,
    ngx_http_cvc_pg_handler_pt handler, void *data)
{
    u_char                *p;
    size_t                 size;
    ngx_uint_t             i;
    ngx_http_cvc_pg_op_t  *op;

    if (nparams > NGX_HTTP_CVC_MAX_PARAMS) {
        return NULL;
    }

    size = sizeof(ngx_http_cvc_pg_op_t);

    for (i = 0; i < nparams; i++) {
        size += params[i].len + 1;
    }

    op = ngx_calloc(size, ngx_http_cvc_pg.log);
    if (op == NULL) {
        return NULL;
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

    return op;
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


static ngx_int_t
ngx_http_cvc_pg_connect(ngx_http_cvc_pg_conn_t *pc)
{
    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_CONNECTS, 1);

    return ngx_http_cvc_pg_conn_open(pc, ngx_http_cvc_pg.conninfo,
                                     ngx_http_cvc_pg.options,
                                     ngx_http_cvc_pg_connect_handler,
                                     ngx_http_cvc_pg.mcf->connect_timeout);
}


static void
ngx_http_cvc_pg_connect_handler(ngx_event_t *ev)
{
    ngx_int_t                rc;
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

    rc = ngx_http_cvc_pg_conn_poll(pc, ngx_http_cvc_pg_handler);

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_cvc_pg_connect_failed(pc);
        return;
    }

    pc->state = NGX_HTTP_CVC_PG_IDLE;
    ngx_http_cvc_pg_next(pc);
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
    pc->state = NGX_HTTP_CVC_PG_BUSY;
    pc->op = op;
    op->pc = pc;

    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_QUERIES, 1);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_cvc_pg.log, 0,
                   "cvc pg: *%uA: %s", pc->c->number, op->sql);

    if (ngx_http_cvc_pg_conn_send(pc, op->sql, op->nparams,
                                  (const char *const *) op->values)
        != NGX_OK)
    {
        ngx_http_cvc_pg_fail(pc);
    }
}


static void
ngx_http_cvc_pg_handler(ngx_event_t *ev)
{
    ngx_int_t                rc;
    ngx_connection_t        *c;
    ngx_http_cvc_pg_conn_t  *pc;

    c = ev->data;
    pc = c->data;

    if (pc->state != NGX_HTTP_CVC_PG_BUSY) {
        if (ev->write) {
            (void) ngx_http_cvc_conn_want(c, 1, 0);

        } else if (ngx_http_cvc_pg_conn_idle(pc) != NGX_OK) {
            ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PG_CONNECT_FAILURES,
                                       1);
            ngx_http_cvc_pg_close(pc);
        }

        return;
    }

    rc = ev->write ? ngx_http_cvc_pg_conn_flush(pc)
                   : ngx_http_cvc_pg_conn_read(pc);

    if (rc == NGX_ERROR) {
        ngx_http_cvc_pg_fail(pc);

    } else if (rc == NGX_OK && !ev->write) {
        ngx_http_cvc_pg_complete(pc);
    }
}


/* the answer: the connection takes the next in the queue first, so that a
 * handler can't overtake it */

static void
ngx_http_cvc_pg_complete(ngx_http_cvc_pg_conn_t *pc)
{
    PGresult              *res;
    ngx_http_cvc_pg_op_t  *op;

    op = pc->op;
    res = pc->result;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_cvc_pg.log, 0,
                   "cvc pg: *%uA: %s", pc->c->number,
                   res ? PQresStatus(PQresultStatus(res)) : "no result");

    pc->op = NULL;
    pc->result = NULL;
    pc->state = NGX_HTTP_CVC_PG_IDLE;

    ngx_http_cvc_pg_next(pc);

    ngx_http_cvc_pg_end(op, NGX_OK, res);

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
ngx_http_cvc_pg_fail(ngx_http_cvc_pg_conn_t *pc)
{
    ngx_http_cvc_pg_op_t  *op;

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


/* the connection goes; its operation, if any, is no longer on it */

static void
ngx_http_cvc_pg_close(ngx_http_cvc_pg_conn_t *pc)
{
    if (pc->op != NULL) {
        pc->op->pc = NULL;
        pc->op = NULL;
    }

    ngx_http_cvc_pg_conn_close(pc);
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

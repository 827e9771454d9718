
/*
 * CVC gateway: what the two layers of the PostgreSQL client share.  A
 * connection (ngx_http_cvc_pg_conn.c) is one non-blocking libpq
 * connection on the event loop: it opens, sends a query, reads its
 * results and closes, and says how each step went by what it returns.
 * The pool (ngx_http_cvc_pg.c) owns the connections and the queue of
 * operations, and handles their events: it calls the connection, never
 * the other way round.
 */


#ifndef _NGX_HTTP_CVC_PG_H_INCLUDED_
#define _NGX_HTTP_CVC_PG_H_INCLUDED_


#include "ngx_http_cvc_module.h"


#define NGX_HTTP_CVC_PG_STATEMENTS  64


typedef enum {
    NGX_HTTP_CVC_PG_CLOSED = 0,
    NGX_HTTP_CVC_PG_CONNECTING,
    NGX_HTTP_CVC_PG_IDLE,
    NGX_HTTP_CVC_PG_BUSY
} ngx_http_cvc_pg_state_e;


typedef struct {
    PGconn                     *conn;
    ngx_connection_t           *c;
    ngx_http_cvc_pg_state_e     state;
    ngx_http_cvc_pg_op_t       *op;         /* the pool's, in flight */
    PGresult                   *result;
    ngx_log_t                  *log;

    /* the query in flight */
    const char                 *sql;
    int                         nparams;
    const char *const          *values;

    /* the SQL texts prepared on this connection: statement "cvc<i>" */
    const char                 *prepared[NGX_HTTP_CVC_PG_STATEMENTS];
    ngx_uint_t                  nprepared;
    unsigned                    preparing:1;
} ngx_http_cvc_pg_conn_t;


/* ngx_http_cvc_pg_conn.c */
char *ngx_http_cvc_pg_conn_options(ngx_cycle_t *cycle, char *conninfo,
    ngx_msec_t statement_timeout);
ngx_int_t ngx_http_cvc_pg_conn_open(ngx_http_cvc_pg_conn_t *pc,
    char *conninfo, char *options, ngx_event_handler_pt handler,
    ngx_msec_t timeout);
ngx_int_t ngx_http_cvc_pg_conn_poll(ngx_http_cvc_pg_conn_t *pc,
    ngx_event_handler_pt handler);
ngx_int_t ngx_http_cvc_pg_conn_send(ngx_http_cvc_pg_conn_t *pc,
    const char *sql, int nparams, const char *const *values);
ngx_int_t ngx_http_cvc_pg_conn_flush(ngx_http_cvc_pg_conn_t *pc);
ngx_int_t ngx_http_cvc_pg_conn_read(ngx_http_cvc_pg_conn_t *pc);
ngx_int_t ngx_http_cvc_pg_conn_idle(ngx_http_cvc_pg_conn_t *pc);
void ngx_http_cvc_pg_conn_close(ngx_http_cvc_pg_conn_t *pc);


#endif /* _NGX_HTTP_CVC_PG_H_INCLUDED_ */

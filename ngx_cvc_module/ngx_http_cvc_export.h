
/*
 * CVC gateway: what the two halves of an export share.  The event loop's
 * half (ngx_http_cvc_export.c) admits the request, holds the account's
 * lock and sends the file; the thread's half (ngx_http_cvc_export_file.c)
 * makes the file from PostgreSQL's rows, on a connection of the exports'
 * own that the event loop keeps between exports.
 */


#ifndef _NGX_HTTP_CVC_EXPORT_H_INCLUDED_
#define _NGX_HTTP_CVC_EXPORT_H_INCLUDED_


#include "ngx_http_cvc_module.h"


#define NGX_HTTP_CVC_EXPORT_PARAMS      4


typedef struct {
    /* in */
    char                           *conninfo;
    char                           *dir;
    const char                     *sql;
    const ngx_http_cvc_column_t    *columns;
    ngx_uint_t                      xlsx;
    int                             nparams;
    char                           *params[NGX_HTTP_CVC_EXPORT_PARAMS];

    /* in and out: a kept connection, or the one the thread opened */
    PGconn                         *conn;

    /* out */
    ngx_fd_t                        fd;
    off_t                           size;
    ngx_uint_t                      rows;
    ngx_int_t                       status;     /* an HTTP status */
    char                            error[256];
    char                            code[32];

    /* the event loop's alone */
    ngx_str_t                       key;        /* cvc:export:<account> */
    ngx_str_t                       token;      /* the lock's, this one's */
    ngx_event_t                     refresh;
    ngx_http_cvc_task_t            *task;
    ngx_queue_t                     queue;      /* waiting for a place */
    unsigned                        locked:1;
    unsigned                        counted:1;
    unsigned                        waiting:1;
} ngx_http_cvc_export_ctx_t;


/* ngx_http_cvc_export_file.c: the connections, on the event loop */
ngx_int_t ngx_http_cvc_export_conns_init(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf);
void ngx_http_cvc_export_conns_close(void);
PGconn *ngx_http_cvc_export_conn_take(void);
void ngx_http_cvc_export_conn_keep(PGconn *conn);

/* ngx_http_cvc_export_file.c: the task's work(), in a thread */
void ngx_http_cvc_export_work(void *data);


#endif /* _NGX_HTTP_CVC_EXPORT_H_INCLUDED_ */

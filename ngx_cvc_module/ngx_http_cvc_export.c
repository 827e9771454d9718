
/*
 * CVC gateway: downloads of whole tables (the operations list, a payout's
 * reconciliation), as CSV (UTF-8 with BOM, ";", 40,00: Excel opens it as
 * it is) or XLSX (libxlsxwriter, constant memory).
 *
 * The file is made in the thread pool: the thread reads the rows from
 * PostgreSQL in single-row mode, on a blocking connection of the exports'
 * own, and writes them to an unlinked temporary file; the event loop then
 * sends the file.  Memory does not grow with the number of rows, and the
 * event loop never waits for PostgreSQL or the disk.
 *
 * Each worker keeps up to cvc_export_connections idle export connections:
 * the event loop hands one to the task, and takes it back when the task
 * ends if it is still sound; with none idle, the thread connects itself.
 * A worker runs at most cvc_export_max exports at once, so that exports
 * leave threads to the logins' scrypt; and an account runs one export at
 * a time, across workers and nodes: a lock in Redis, cvc:export:<account>,
 * that the export refreshes while it runs and releases when it ends.
 *
 * Whatever the export holds (its file, its connection, its lock, its place
 * in the worker's count) is given back on the event loop when its task
 * ends, whether the client still waits for it or went away.
 */


#include "ngx_http_cvc_module.h"

#include <xlsxwriter.h>


#define NGX_HTTP_CVC_EXPORT_PARAMS      4

/* the account's lock expires unless refreshed: a worker that dies */
#define NGX_HTTP_CVC_EXPORT_LOCK_TTL    60000

#define NGX_HTTP_CVC_EXPORT_RETRY_AFTER "5"


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


/* per worker */
typedef struct {
    PGconn                        **idle;
    ngx_uint_t                      nidle;
    ngx_uint_t                      running;    /* exports counted */
    ngx_queue_t                     waiting;    /* locked, for a place */
    ngx_uint_t                      nwaiting;
    ngx_http_cvc_main_conf_t       *mcf;
    ngx_log_t                      *log;
} ngx_http_cvc_export_pool_t;


static ngx_int_t ngx_http_cvc_export_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);
static void ngx_http_cvc_export_locked(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_http_cvc_export_start(ngx_http_cvc_export_ctx_t *ex);
static void ngx_http_cvc_export_next(void);
static void ngx_http_cvc_export_refresh(ngx_event_t *ev);
static void ngx_http_cvc_export_script(ngx_http_cvc_export_ctx_t *ex,
    const char *script);
static void ngx_http_cvc_export_scripted(void *data, ngx_int_t rc,
    redisReply *reply);
static PGconn *ngx_http_cvc_export_take(void);
static void ngx_http_cvc_export_keep(PGconn *conn);
static void ngx_http_cvc_export_end(void *data);
static void ngx_http_cvc_export_work(void *data);
static int ngx_http_cvc_export_send(ngx_http_cvc_export_ctx_t *ex);
static void ngx_http_cvc_export_notice(void *arg, const char *message);
static ngx_int_t ngx_http_cvc_export_csv(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn, FILE *out);
static ngx_int_t ngx_http_cvc_export_xlsx(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn, const char *path);
static PGresult *ngx_http_cvc_export_row(ngx_http_cvc_export_ctx_t *ex,
    PGconn *conn);
static void ngx_http_cvc_export_csv_field(FILE *out, const char *s);
static void ngx_http_cvc_export_done(void *data, void *ctx);
static char *ngx_http_cvc_export_copy(char **p, ngx_str_t *s);


static ngx_http_cvc_export_pool_t  ngx_http_cvc_export_pool;


/* the lock is still this export's: it lives on */

static const char  ngx_http_cvc_export_lua_refresh[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return 0";


/* the lock is still this export's: it goes */

static const char  ngx_http_cvc_export_lua_release[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) end "
    "return 0";


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

    filters = ngx_http_cvc_list_filters(r, ctx, &bad);

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


ngx_int_t
ngx_http_cvc_export_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf)
{
    ngx_http_cvc_export_pool.mcf = mcf;
    ngx_http_cvc_export_pool.log = cycle->log;
    ngx_queue_init(&ngx_http_cvc_export_pool.waiting);

    if (mcf->export_connections == 0) {
        return NGX_OK;
    }

    ngx_http_cvc_export_pool.idle = ngx_pcalloc(cycle->pool,
                                   mcf->export_connections * sizeof(PGconn *));
    if (ngx_http_cvc_export_pool.idle == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the idle connections are closed; a running export's ends with the worker */

void
ngx_http_cvc_export_exit_process(ngx_cycle_t *cycle)
{
    while (ngx_http_cvc_export_pool.nidle > 0) {
        PQfinish(ngx_http_cvc_export_pool.idle
                 [--ngx_http_cvc_export_pool.nidle]);
    }
}


/*
 * Makes the file of sql's rows in the thread pool, then sends it: once the
 * worker has room for one more export and the account's lock is taken.
 */

ngx_int_t
ngx_http_cvc_export(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql, ngx_uint_t nparams, ngx_str_t *params,
    const ngx_http_cvc_column_t *columns, ngx_flag_t xlsx, const char *name)
{
    char                       *p;
    u_char                      ttl[NGX_INT_T_LEN];
    size_t                      size, argvlen[6];
    ngx_str_t                   token;
    ngx_uint_t                  i;
    const char                 *argv[6];
    ngx_http_cvc_task_t        *task;
    ngx_http_cvc_redis_cmd_t   *cmd;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_cvc_main_conf_t   *mcf;
    ngx_http_cvc_export_ctx_t  *ex;

    if (nparams > NGX_HTTP_CVC_EXPORT_PARAMS) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_cvc_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (ngx_http_cvc_export_pool.running >= mcf->export_max
        && ngx_http_cvc_export_pool.nwaiting >= mcf->export_queue)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "cvc export: %ui exports run in this worker and %ui "
                      "wait, one more is refused",
                      ngx_http_cvc_export_pool.running,
                      ngx_http_cvc_export_pool.nwaiting);

        return ngx_http_cvc_export_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "unavailable",
                                  "Too many exports are running; retry later.");
    }

    if (ngx_http_cvc_random(r->pool, 16, "", 1, &token) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the thread gets copies of all it reads, in the task itself */

    size = sizeof(ngx_http_cvc_export_ctx_t) + mcf->pg.conninfo.len + 1
           + clcf->client_body_temp_path->name.len + 1
           + sizeof("cvc:export:") - 1 + ctx->principal.account.len
           + token.len;

    for (i = 0; i < nparams; i++) {
        size += params[i].len + 1;
    }

    task = ngx_http_cvc_task_alloc(NGX_HTTP_CVC_TASK_EXPORT, size);
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ex = task->ctx;
    p = (char *) (ex + 1);

    ex->sql = sql;
    ex->columns = columns;
    ex->xlsx = xlsx;
    ex->nparams = nparams;
    ex->fd = NGX_INVALID_FILE;
    ex->conninfo = ngx_http_cvc_export_copy(&p, &mcf->pg.conninfo);
    ex->dir = ngx_http_cvc_export_copy(&p,
                                       &clcf->client_body_temp_path->name);

    for (i = 0; i < nparams; i++) {
        ex->params[i] = ngx_http_cvc_export_copy(&p, &params[i]);
    }

    ex->key.data = (u_char *) p;
    p = (char *) ngx_cpymem(p, "cvc:export:", sizeof("cvc:export:") - 1);
    p = (char *) ngx_cpymem(p, ctx->principal.account.data,
                            ctx->principal.account.len);
    ex->key.len = (u_char *) p - ex->key.data;

    ex->token.data = (u_char *) p;
    ex->token.len = token.len;
    ngx_memcpy(p, token.data, token.len);

    ex->refresh.handler = ngx_http_cvc_export_refresh;
    ex->refresh.data = ex;
    ex->refresh.log = ngx_cycle->log;
    ex->refresh.cancelable = 1;

    task->work = ngx_http_cvc_export_work;
    task->done = ngx_http_cvc_export_done;
    task->cleanup = ngx_http_cvc_export_end;
    task->data = r;
    ex->task = task;

    /* the account's lock: SET key token NX PX ttl */

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (char *) ex->key.data;
    argvlen[1] = ex->key.len;
    argv[2] = (char *) ex->token.data;
    argvlen[2] = ex->token.len;
    argv[3] = "NX";
    argvlen[3] = 2;
    argv[4] = "PX";
    argvlen[4] = 2;
    argv[5] = (char *) ttl;
    argvlen[5] = ngx_sprintf(ttl, "%ui", (ngx_uint_t)
                             NGX_HTTP_CVC_EXPORT_LOCK_TTL) - ttl;

    /*
     * The reply comes to the task, not to the request: a request that goes
     * away meanwhile detaches the task, and the reply still frees it (and
     * releases the lock if it was taken).
     */

    if (ngx_http_cvc_redis_command(&cmd, 6, argv, argvlen,
                                   ngx_http_cvc_export_locked, task)
        != NGX_AGAIN)
    {
        ngx_http_cvc_task_free(task);
        return ngx_http_cvc_send_unavailable(r, "Redis");
    }

    ctx->data = (void *) name;
    ctx->task = task;

    /* a client that goes away detaches its request from the export */

    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


/* 429 or 503, with Retry-After */

static ngx_int_t
ngx_http_cvc_export_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    static ngx_str_t  retry_after =
                          ngx_string(NGX_HTTP_CVC_EXPORT_RETRY_AFTER);

    if (ngx_http_cvc_add_header(r, "Retry-After", &retry_after) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_send_error(r, status, code, message, NULL);
}


/* the account's lock is taken (or not): the task goes to a thread */

static void
ngx_http_cvc_export_locked(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_http_cvc_task_t  *task = data;

    ngx_uint_t                  status;
    ngx_http_request_t         *r;
    ngx_http_cvc_ctx_t         *ctx;
    ngx_http_cvc_export_ctx_t  *ex;

    ex = task->ctx;

    if (rc == NGX_OK && reply->type == REDIS_REPLY_STATUS) {
        ex->locked = 1;
        status = NGX_HTTP_OK;

    } else if (rc == NGX_OK && reply->type == REDIS_REPLY_NIL) {
        status = NGX_HTTP_TOO_MANY_REQUESTS;

    } else {
        if (rc == NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_export_pool.log, 0,
                          "cvc redis: %*s", (size_t) reply->len,
                          reply->str);
        }

        status = NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (task->done == NULL) {

        /* the client went away meanwhile */

        ngx_http_cvc_task_free(task);
        return;
    }

    r = task->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);

    if (status == NGX_HTTP_OK) {
        ngx_add_timer(&ex->refresh, NGX_HTTP_CVC_EXPORT_LOCK_TTL / 3);

        if (ngx_http_cvc_export_pool.running
            >= ngx_http_cvc_export_pool.mcf->export_max)
        {
            /* it waits for a place, its lock kept alive meanwhile */

            ngx_queue_insert_tail(&ngx_http_cvc_export_pool.waiting,
                                  &ex->queue);
            ngx_http_cvc_export_pool.nwaiting++;
            ex->waiting = 1;
            return;
        }

        ngx_http_cvc_export_start(ex);
        return;
    }

    ctx->task = NULL;
    ngx_http_cvc_task_free(task);

    if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        ngx_http_cvc_finalize(r, ngx_http_cvc_export_refuse(r, status,
                              "rate_limited",
                              "An export of this account is running; "
                              "retry once it has ended."));
        return;
    }

    ngx_http_cvc_finalize(r, ngx_http_cvc_send_unavailable(r, "Redis"));
}


/* a place in the worker: the export goes to a thread */

static void
ngx_http_cvc_export_start(ngx_http_cvc_export_ctx_t *ex)
{
    ngx_http_request_t   *r;
    ngx_http_cvc_ctx_t   *ctx;
    ngx_http_cvc_task_t  *task = ex->task;

    ngx_http_cvc_export_pool.running++;
    ex->counted = 1;
    ex->conn = ngx_http_cvc_export_take();

    r = task->data;

    if (ngx_http_cvc_task_post(task) == NGX_AGAIN) {
        return;
    }

    /* freed, and what it held given back */

    if (r != NULL) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
        ctx->task = NULL;
        ngx_http_cvc_finalize(r, ngx_http_cvc_send_unavailable(r,
                                                     "The thread pool"));
    }
}


/* a place is free: the export that waited longest takes it */

static void
ngx_http_cvc_export_next(void)
{
    ngx_queue_t                *q;
    ngx_http_cvc_export_ctx_t  *ex;

    while (ngx_http_cvc_export_pool.running
               < ngx_http_cvc_export_pool.mcf->export_max
           && !ngx_queue_empty(&ngx_http_cvc_export_pool.waiting))
    {
        q = ngx_queue_head(&ngx_http_cvc_export_pool.waiting);
        ngx_queue_remove(q);
        ngx_http_cvc_export_pool.nwaiting--;

        ex = ngx_queue_data(q, ngx_http_cvc_export_ctx_t, queue);
        ex->waiting = 0;

        if (ex->task->done == NULL) {

            /* its client went away while it waited */

            ngx_http_cvc_task_free(ex->task);
            continue;
        }

        ngx_http_cvc_export_start(ex);
    }
}


/* while the export runs, its lock lives on */

static void
ngx_http_cvc_export_refresh(ngx_event_t *ev)
{
    ngx_http_cvc_export_ctx_t  *ex = ev->data;

    if (ex->waiting && ex->task->done == NULL) {

        /* its client went away while it waited: its lock goes with it */

        ngx_http_cvc_task_free(ex->task);
        return;
    }

    ngx_http_cvc_export_script(ex, ngx_http_cvc_export_lua_refresh);

    ngx_add_timer(ev, NGX_HTTP_CVC_EXPORT_LOCK_TTL / 3);
}


/* EVAL script 1 key token ttl, for nobody: its answer is only logged */

static void
ngx_http_cvc_export_script(ngx_http_cvc_export_ctx_t *ex, const char *script)
{
    u_char                     ttl[NGX_INT_T_LEN];
    size_t                     argvlen[6];
    const char                *argv[6];
    ngx_http_cvc_redis_cmd_t  *cmd;

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = script;
    argvlen[1] = ngx_strlen(script);
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (char *) ex->key.data;
    argvlen[3] = ex->key.len;
    argv[4] = (char *) ex->token.data;
    argvlen[4] = ex->token.len;
    argv[5] = (char *) ttl;
    argvlen[5] = ngx_sprintf(ttl, "%ui", (ngx_uint_t)
                             NGX_HTTP_CVC_EXPORT_LOCK_TTL) - ttl;

    if (ngx_http_cvc_redis_command(&cmd, 6, argv, argvlen,
                                   ngx_http_cvc_export_scripted, NULL)
        != NGX_AGAIN)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_http_cvc_export_pool.log, 0,
                      "cvc export: Redis is unavailable, the lock \"%V\" "
                      "will expire by itself", &ex->key);
    }
}


static void
ngx_http_cvc_export_scripted(void *data, ngx_int_t rc, redisReply *reply)
{
    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_cvc_export_pool.log, 0,
                      "cvc export: no answer from Redis, an export lock "
                      "will expire by itself");
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_export_pool.log, 0,
                      "cvc redis: %*s", (size_t) reply->len, reply->str);
    }
}


/* an idle connection, if one is still sound; NULL: the thread connects */

static PGconn *
ngx_http_cvc_export_take(void)
{
    PGconn  *conn;

    while (ngx_http_cvc_export_pool.nidle > 0) {
        conn = ngx_http_cvc_export_pool.idle[--ngx_http_cvc_export_pool.nidle];

        /*
         * What the server sent meanwhile, read without waiting: a closed
         * connection is dropped here when its end was read; else the
         * thread's empty query finds it.
         */

        if (PQconsumeInput(conn)
            && PQstatus(conn) == CONNECTION_OK
            && PQtransactionStatus(conn) == PQTRANS_IDLE)
        {
            return conn;
        }

        ngx_log_error(NGX_LOG_INFO, ngx_http_cvc_export_pool.log, 0,
                      "cvc export: an idle connection was lost: %s",
                      PQerrorMessage(conn));

        PQfinish(conn);
    }

    return NULL;
}


/* a connection back from a thread: kept if sound and there is room */

static void
ngx_http_cvc_export_keep(PGconn *conn)
{
    ngx_http_cvc_export_pool_t  *pool = &ngx_http_cvc_export_pool;

    if (PQstatus(conn) == CONNECTION_OK
        && PQtransactionStatus(conn) == PQTRANS_IDLE
        && pool->nidle < pool->mcf->export_connections)
    {
        pool->idle[pool->nidle++] = conn;
        return;
    }

    PQfinish(conn);
}


/*
 * The task's cleanup, on the event loop, also called by done() before it
 * answers: the file (unless the request took it), the connection, the
 * lock and the worker's count are given back, each once.
 */

static void
ngx_http_cvc_export_end(void *data)
{
    ngx_http_cvc_export_ctx_t  *ex = data;

    if (ex->fd != NGX_INVALID_FILE) {
        if (ngx_close_file(ex->fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, ngx_http_cvc_export_pool.log,
                          ngx_errno, "cvc export: " ngx_close_file_n
                          " failed");
        }

        ex->fd = NGX_INVALID_FILE;
    }

    if (ex->conn != NULL) {
        ngx_http_cvc_export_keep(ex->conn);
        ex->conn = NULL;
    }

    if (ex->refresh.timer_set) {
        ngx_del_timer(&ex->refresh);
    }

    if (ex->locked) {
        ex->locked = 0;
        ngx_http_cvc_export_script(ex, ngx_http_cvc_export_lua_release);
    }

    if (ex->waiting) {
        ex->waiting = 0;
        ngx_queue_remove(&ex->queue);
        ngx_http_cvc_export_pool.nwaiting--;
    }

    if (ex->counted) {
        ex->counted = 0;
        ngx_http_cvc_export_pool.running--;
        ngx_http_cvc_export_next();
    }
}


/* in a thread: rows in, a file out */

static void
ngx_http_cvc_export_work(void *data)
{
    ngx_http_cvc_export_ctx_t  *ex = data;

    int          fd;
    char         path[1024];
    FILE        *out;
    ngx_int_t    rc;
    const char  *values[3];

    static const char *const  keywords[] = {
        "dbname", "fallback_application_name", NULL
    };

    ex->status = NGX_HTTP_SERVICE_UNAVAILABLE;
    ngx_cpystrn((u_char *) ex->code, (u_char *) "unavailable",
                sizeof(ex->code));
    ngx_cpystrn((u_char *) ex->error,
                (u_char *) "PostgreSQL is unavailable; retry later.",
                sizeof(ex->error));

    /*
     * A kept connection that the server closed meanwhile fails an empty
     * query: a new one then.  (A server that stops sends a FATAL, then
     * closes: the event loop may have read only the first.)
     */

    if (ex->conn != NULL) {
        PQclear(PQexec(ex->conn, ""));

        if (PQstatus(ex->conn) != CONNECTION_OK
            || PQtransactionStatus(ex->conn) != PQTRANS_IDLE
            || !ngx_http_cvc_export_send(ex))
        {
            PQfinish(ex->conn);
            ex->conn = NULL;
        }
    }

    if (ex->conn == NULL) {

        /* cvc_postgres, expanded: an application_name there wins */

        values[0] = ex->conninfo;
        values[1] = "cvc export";
        values[2] = NULL;

        ex->conn = PQconnectdbParams(keywords, values, 1);

        if (ex->conn != NULL) {
            PQsetNoticeProcessor(ex->conn, ngx_http_cvc_export_notice, NULL);
        }

        if (PQstatus(ex->conn) != CONNECTION_OK
            || !ngx_http_cvc_export_send(ex))
        {
            ngx_cpystrn((u_char *) ex->error,
                        (u_char *) PQerrorMessage(ex->conn),
                        sizeof(ex->error));
            PQfinish(ex->conn);
            ex->conn = NULL;
            return;
        }
    }

    ex->status = 0;
    ex->code[0] = '\0';

    /* a folder too long for path cuts the XXXXXX: mkstemp() refuses it */

    (void) ngx_http_cvc_cstr((u_char *) path, sizeof(path),
                             "%s/cvc-export-XXXXXX", ex->dir);

    fd = mkstemp(path);

    if (fd == -1) {
        rc = NGX_ERROR;

    } else if (ex->xlsx) {

        /* libxlsxwriter writes the file by its name */

        rc = ngx_http_cvc_export_xlsx(ex, ex->conn, path);
        close(fd);
        fd = (rc == NGX_OK) ? open(path, O_RDONLY) : -1;
        unlink(path);

    } else {
        unlink(path);

        out = fdopen(dup(fd), "w");
        rc = (out != NULL) ? ngx_http_cvc_export_csv(ex, ex->conn, out)
                           : NGX_ERROR;

        if (out != NULL && fclose(out) != 0) {
            rc = NGX_ERROR;
        }
    }

    /*
     * The connection goes back to the event loop, which keeps it if all
     * its results were read; else (a file that failed) it is closed there.
     */

    if (rc != NGX_OK || fd == -1) {
        if (fd != -1) {
            close(fd);
        }

        if (ex->status == 0) {
            ex->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return;
    }

    ex->fd = fd;
    ex->size = lseek(fd, 0, SEEK_END);
    ex->status = NGX_HTTP_OK;
}


/* the query, its rows one by one: 0 when the connection failed */

static int
ngx_http_cvc_export_send(ngx_http_cvc_export_ctx_t *ex)
{
    return PQsendQueryParams(ex->conn, ex->sql, ex->nparams, NULL,
                             (const char *const *) ex->params, NULL, NULL, 0)
           && PQsetSingleRowMode(ex->conn);
}


static ngx_int_t
ngx_http_cvc_export_csv(ngx_http_cvc_export_ctx_t *ex, PGconn *conn,
    FILE *out)
{
    int                           i, ok;
    char                         *v;
    int64_t                       cents;
    PGresult                     *res;
    const ngx_http_cvc_column_t  *col;

    /* the BOM and the header line */

    fputs("\xEF\xBB\xBF", out);

    for (col = ex->columns; col->name != NULL; col++) {
        fputs(col->name, out);
        fputc(col[1].name != NULL ? ';' : '\r', out);
    }

    fputc('\n', out);

    ok = 1;

    /* every result is read, an error's too: the connection is kept then */

    while ((res = ngx_http_cvc_export_row(ex, conn)) != NULL) {

        if (PQresultStatus(res) != PGRES_SINGLE_TUPLE) {
            ok = ok && (PQresultStatus(res) == PGRES_TUPLES_OK);
            PQclear(res);
            continue;
        }

        for (i = 0, col = ex->columns; col->name != NULL; i++, col++) {

            if (!PQgetisnull(res, 0, i)) {
                v = PQgetvalue(res, 0, i);

                if (col->cents) {
                    cents = strtoll(v, NULL, 10);
                    fprintf(out, "%s%lld,%02lld", cents < 0 ? "-" : "",
                            (long long) (llabs(cents) / 100),
                            (long long) (llabs(cents) % 100));

                } else {
                    ngx_http_cvc_export_csv_field(out, v);
                }
            }

            fputc(col[1].name != NULL ? ';' : '\r', out);
        }

        fputc('\n', out);
        ex->rows++;

        PQclear(res);
    }

    return (ok && ex->status == 0 && !ferror(out)) ? NGX_OK : NGX_ERROR;
}


/*
 * A text field, quoted when it holds a ";", a quote or a line break.  One
 * that a spreadsheet would take for a formula (=, +, -, @, a tab or a CR
 * first: OWASP's CSV injection) gets a "'" before it, and is quoted.
 */

static void
ngx_http_cvc_export_csv_field(FILE *out, const char *s)
{
    ngx_uint_t  formula;

    formula = (*s != '\0' && strchr("=+-@\t\r", *s) != NULL);

    if (!formula && strpbrk(s, ";\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }

    fputc('"', out);

    if (formula) {
        fputc('\'', out);
    }

    for ( /* void */ ; *s != '\0'; s++) {
        if (*s == '"') {
            fputc('"', out);
        }

        fputc(*s, out);
    }

    fputc('"', out);
}


static ngx_int_t
ngx_http_cvc_export_xlsx(ngx_http_cvc_export_ctx_t *ex, PGconn *conn,
    const char *path)
{
    int                           i, ok;
    PGresult                     *res;
    lxw_row_t                     row;
    lxw_format                   *bold, *money;
    lxw_workbook                 *wb;
    lxw_worksheet                *ws;
    lxw_workbook_options          options;
    const ngx_http_cvc_column_t  *col;

    ngx_memzero(&options, sizeof(lxw_workbook_options));
    options.constant_memory = LXW_TRUE;
    options.tmpdir = ex->dir;

    wb = workbook_new_opt(path, &options);
    if (wb == NULL) {
        return NGX_ERROR;
    }

    ws = workbook_add_worksheet(wb, "Opérations");
    bold = workbook_add_format(wb);
    format_set_bold(bold);
    money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0.00");

    for (i = 0, col = ex->columns; col->name != NULL; i++, col++) {
        worksheet_write_string(ws, 0, i, col->name, bold);
        worksheet_set_column(ws, i, i, col->cents ? 14 : 22, NULL);
    }

    row = 1;
    ok = 1;

    while ((res = ngx_http_cvc_export_row(ex, conn)) != NULL) {

        if (PQresultStatus(res) != PGRES_SINGLE_TUPLE) {
            ok = ok && (PQresultStatus(res) == PGRES_TUPLES_OK);
            PQclear(res);
            continue;
        }

        for (i = 0, col = ex->columns; col->name != NULL; i++, col++) {
            if (PQgetisnull(res, 0, i)) {
                continue;
            }

            if (col->cents) {
                worksheet_write_number(ws, row, i,
                                       strtoll(PQgetvalue(res, 0, i), NULL, 10)
                                       / 100.0, money);

            } else {
                worksheet_write_string(ws, row, i, PQgetvalue(res, 0, i),
                                       NULL);
            }
        }

        row++;
        ex->rows++;

        PQclear(res);
    }

    if (workbook_close(wb) != LXW_NO_ERROR) {
        return NGX_ERROR;
    }

    return (ok && ex->status == 0) ? NGX_OK : NGX_ERROR;
}


/*
 * The next result of the query, NULL at the end; the error of the SQL
 * function is kept in ex->status, ex->code and ex->error.
 */

static PGresult *
ngx_http_cvc_export_row(ngx_http_cvc_export_ctx_t *ex, PGconn *conn)
{
    char      *state, *code, *detail;
    PGresult  *res;

    res = PQgetResult(conn);

    if (res == NULL || PQresultStatus(res) != PGRES_FATAL_ERROR) {
        return res;
    }

    /* the function's own error (CVnnn), or PostgreSQL's */

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    code = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

    if (state != NULL && state[0] == 'C' && state[1] == 'V' && code != NULL) {
        ex->status = ngx_atoi((u_char *) state + 2, 3);
        ngx_cpystrn((u_char *) ex->code, (u_char *) code, sizeof(ex->code));
        ngx_cpystrn((u_char *) ex->error, (u_char *) (detail ? detail : code),
                    sizeof(ex->error));

    } else {

        /* a connection lost midway is a PostgreSQL that is unavailable */

        ex->status = (PQstatus(conn) == CONNECTION_BAD)
                     ? NGX_HTTP_SERVICE_UNAVAILABLE
                     : NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_cpystrn((u_char *) ex->error,
                    (u_char *) PQresultErrorMessage(res), sizeof(ex->error));
    }

    return res;
}


/*
 * PostgreSQL's notices (a FATAL before it closes an idle connection), in
 * the error log rather than on stderr: from the thread or the event loop,
 * as nginx's own thread code logs
 */

static void
ngx_http_cvc_export_notice(void *arg, const char *message)
{
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "cvc export: %s",
                  message);
}


/* back on the event loop: the file, or the error */

static void
ngx_http_cvc_export_done(void *data, void *ctx)
{
    ngx_http_request_t         *r = data;
    ngx_http_cvc_export_ctx_t  *ex = ctx;

    u_char                     *p;
    ngx_fd_t                    fd;
    ngx_int_t                   rc;
    ngx_str_t                   value;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_http_cvc_ctx_t         *cctx;
    ngx_pool_cleanup_t         *cln;
    ngx_pool_cleanup_file_t    *clnf;
    ngx_tm_t                    tm;

    cctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    cctx->task = NULL;

    /*
     * The file is the request's from now on.  The rest goes back before
     * the answer, so that a caller who has its file may export again.
     */

    fd = ex->fd;
    ex->fd = NGX_INVALID_FILE;

    ngx_http_cvc_export_end(ex);

    if (fd == NGX_INVALID_FILE) {

        if (ex->status == NGX_HTTP_SERVICE_UNAVAILABLE) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "cvc export: PostgreSQL: %s", ex->error);
            ngx_http_cvc_finalize(r, ngx_http_cvc_send_unavailable(r,
                                                              "PostgreSQL"));
            return;
        }

        if (ex->code[0] != '\0') {
            ngx_http_cvc_finalize(r, ngx_http_cvc_send_error(r, ex->status,
                                  ex->code, ex->error, NULL));
            return;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cvc export: failed: %s", ex->error);
        ngx_http_cvc_finalize(r, ngx_http_cvc_send_error(r,
                              NGX_HTTP_INTERNAL_SERVER_ERROR,
                              "internal_error", "The export failed.", NULL));
        return;
    }

    /* the descriptor is closed with the request */

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        ngx_close_file(fd);
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    clnf = cln->data;
    clnf->fd = fd;
    clnf->name = (u_char *) "cvc export";
    clnf->log = r->connection->log;
    cln->handler = ngx_pool_cleanup_file;

    p = ngx_pnalloc(r->pool, 128);
    if (p == NULL) {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_gmtime(ngx_time(), &tm);

    value.data = p;
    value.len = ngx_sprintf(p, "attachment; filename=\"%s-%4d%02d%02d.%s\"",
                            (char *) cctx->data, tm.ngx_tm_year,
                            tm.ngx_tm_mon, tm.ngx_tm_mday,
                            ex->xlsx ? "xlsx" : "csv") - p;

    if (ngx_http_cvc_add_header(r, "Content-Disposition", &value) != NGX_OK)
    {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = ex->size;

    if (ex->xlsx) {
        ngx_str_set(&r->headers_out.content_type,
                    "application/vnd.openxmlformats-officedocument."
                    "spreadsheetml.sheet");

    } else {
        ngx_str_set(&r->headers_out.content_type, "text/csv; charset=utf-8");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->file->fd = fd;
    b->file->name.data = (u_char *) "cvc export";
    b->file->name.len = sizeof("cvc export") - 1;
    b->file->log = r->connection->log;
    b->file_pos = 0;
    b->file_last = ex->size;
    b->in_file = (ex->size > 0);
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_cvc_finalize(r, rc);
        return;
    }

    ngx_http_cvc_finalize(r, ngx_http_output_filter(r, &out));
}


/* copies s at *p, NUL-terminated, and moves *p past it */

static char *
ngx_http_cvc_export_copy(char **p, ngx_str_t *s)
{
    char  *copy;

    copy = *p;
    ngx_memcpy(copy, s->data, s->len);
    copy[s->len] = '\0';
    *p += s->len + 1;

    return copy;
}

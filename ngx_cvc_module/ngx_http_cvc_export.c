
/*
 * CVC gateway: downloads of whole tables (the operations list, a payout's
 * reconciliation), as CSV or XLSX.  This is the event loop's half: it
 * admits an export, hands it to the thread pool, where
 * ngx_http_cvc_export_file.c makes the file, and sends the file.
 *
 * A worker runs at most cvc_export_max exports at once, so that exports
 * leave threads to the logins' scrypt; up to cvc_export_queue more wait
 * for a place.  An account runs one export at a time, across workers and
 * nodes: a lock in Redis, cvc:export:<account>, that the export refreshes
 * while it runs and releases when it ends.
 *
 * Whatever the export holds (its file, its connection, its lock, its place
 * in the worker's count) is given back on the event loop when its task
 * ends, whether the client still waits for it or went away.
 */


#include "ngx_http_cvc_export.h"


/* the account's lock expires unless refreshed: a worker that dies */
#define NGX_HTTP_CVC_EXPORT_LOCK_TTL    60000

#define NGX_HTTP_CVC_EXPORT_RETRY_AFTER "5"


/* the exports of this worker */
typedef struct {
    ngx_uint_t                      running;    /* exports counted */
    ngx_queue_t                     waiting;    /* locked, for a place */
    ngx_uint_t                      nwaiting;
    ngx_http_cvc_main_conf_t       *mcf;
    ngx_log_t                      *log;
} ngx_http_cvc_export_pool_t;


static ngx_http_cvc_task_t *ngx_http_cvc_export_task(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, const char *sql, ngx_uint_t nparams,
    ngx_str_t *params);
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
static void ngx_http_cvc_export_end(void *data);
static void ngx_http_cvc_export_done(void *data, void *ctx);
static ngx_int_t ngx_http_cvc_export_failed(ngx_http_request_t *r,
    ngx_http_cvc_export_ctx_t *ex);
static char *ngx_http_cvc_export_copy(char **p, ngx_str_t *s);


static ngx_http_cvc_export_pool_t  ngx_http_cvc_export_pool;


/* the lock is still this export's: it lives on */

/* the lock is still this export's: it goes */

ngx_int_t
ngx_http_cvc_export_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf)
{
    ngx_http_cvc_export_pool.mcf = mcf;
    ngx_http_cvc_export_pool.log = cycle->log;
    ngx_queue_init(&ngx_http_cvc_export_pool.waiting);

    return ngx_http_cvc_export_conns_init(cycle, mcf);
}


void
ngx_http_cvc_export_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cvc_export_conns_close();
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
    ngx_http_cvc_task_t         *task;
    ngx_http_cvc_redis_cmd_t    *cmd;
    ngx_http_cvc_export_ctx_t   *ex;
    ngx_http_cvc_export_pool_t  *pool = &ngx_http_cvc_export_pool;

    if (pool->running >= pool->mcf->export_max
        && pool->nwaiting >= pool->mcf->export_queue)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "cvc export: %ui exports run in this worker and %ui "
                      "wait, one more is refused",
                      pool->running, pool->nwaiting);

        return ngx_http_cvc_export_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "unavailable",
                                  "Too many exports are running; retry later.");
    }

    task = ngx_http_cvc_export_task(r, ctx, sql, nparams, params);
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ex = task->ctx;
    ex->columns = columns;
    ex->xlsx = xlsx;

    /*
     * The account's lock.  The reply comes to the task, not to the
     * request: a request that goes away meanwhile detaches the task, and
     * the reply still frees it (and releases the lock if it was taken).
     */

    if (ngx_http_cvc_redis_lock(&cmd, &ex->key, &ex->token,
                                NGX_HTTP_CVC_EXPORT_LOCK_TTL,
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


/* the task, with copies of all the thread reads, and the lock's token */

static ngx_http_cvc_task_t *
ngx_http_cvc_export_task(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql, ngx_uint_t nparams, ngx_str_t *params)
{
    char                       *p;
    size_t                      size;
    ngx_str_t                   token, *dir, *conninfo;
    ngx_uint_t                  i;
    ngx_http_cvc_task_t        *task;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_cvc_export_ctx_t  *ex;

    if (nparams > NGX_HTTP_CVC_EXPORT_PARAMS
        || ngx_http_cvc_random(r->pool, 16, "", 1, &token) != NGX_OK)
    {
        return NULL;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    dir = &clcf->client_body_temp_path->name;
    conninfo = &ngx_http_cvc_export_pool.mcf->pg.conninfo;

    size = sizeof(ngx_http_cvc_export_ctx_t) + conninfo->len + 1
           + dir->len + 1 + sizeof(NGX_HTTP_CVC_KEY_EXPORT) - 1
           + ctx->principal.account.len + token.len;

    for (i = 0; i < nparams; i++) {
        size += params[i].len + 1;
    }

    task = ngx_http_cvc_task_alloc(NGX_HTTP_CVC_TASK_EXPORT, size);
    if (task == NULL) {
        return NULL;
    }

    ex = task->ctx;
    p = (char *) (ex + 1);

    ex->sql = sql;
    ex->nparams = nparams;
    ex->fd = NGX_INVALID_FILE;
    ex->conninfo = ngx_http_cvc_export_copy(&p, conninfo);
    ex->dir = ngx_http_cvc_export_copy(&p, dir);

    for (i = 0; i < nparams; i++) {
        ex->params[i] = ngx_http_cvc_export_copy(&p, &params[i]);
    }

    ex->key.data = (u_char *) p;
    p = (char *) ngx_cpymem(p, NGX_HTTP_CVC_KEY_EXPORT,
                            sizeof(NGX_HTTP_CVC_KEY_EXPORT) - 1);
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

    return task;
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
    ex->conn = ngx_http_cvc_export_conn_take();

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

    ngx_http_cvc_export_script(ex, ngx_http_cvc_lua_lock_refresh);

    ngx_add_timer(ev, NGX_HTTP_CVC_EXPORT_LOCK_TTL / 3);
}


/* EVAL script 1 key token ttl, for nobody: its answer is only logged */

static void
ngx_http_cvc_export_script(ngx_http_cvc_export_ctx_t *ex, const char *script)
{
    u_char                     ttl[NGX_INT_T_LEN];
    ngx_str_t                  args[3];
    ngx_http_cvc_redis_cmd_t  *cmd;

    args[0] = ex->key;
    args[1] = ex->token;
    args[2].data = ttl;
    args[2].len = ngx_sprintf(ttl, "%ui", (ngx_uint_t)
                              NGX_HTTP_CVC_EXPORT_LOCK_TTL) - ttl;

    if (ngx_http_cvc_redis_eval(&cmd, script, 1, args, 3,
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
        ngx_http_cvc_export_conn_keep(ex->conn);
        ex->conn = NULL;
    }

    if (ex->refresh.timer_set) {
        ngx_del_timer(&ex->refresh);
    }

    if (ex->locked) {
        ex->locked = 0;
        ngx_http_cvc_export_script(ex, ngx_http_cvc_lua_lock_release);
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


/* back on the event loop: the file, or the error */

static void
ngx_http_cvc_export_done(void *data, void *ctx)
{
    ngx_http_request_t         *r = data;
    ngx_http_cvc_export_ctx_t  *ex = ctx;

    char                *name;
    ngx_fd_t             fd;
    ngx_tm_t             tm;
    ngx_str_t            filename;
    ngx_http_cvc_ctx_t  *cctx;

    static ngx_str_t  csv = ngx_string("text/csv; charset=utf-8");
    static ngx_str_t  xlsx = ngx_string("application/vnd.openxmlformats-"
                                        "officedocument.spreadsheetml.sheet");

    cctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    cctx->task = NULL;
    name = cctx->data;

    /*
     * The file is the request's from now on.  The rest goes back before
     * the answer, so that a caller who has its file may export again.
     */

    fd = ex->fd;
    ex->fd = NGX_INVALID_FILE;

    ngx_http_cvc_export_end(ex);

    if (fd == NGX_INVALID_FILE) {
        ngx_http_cvc_finalize(r, ngx_http_cvc_export_failed(r, ex));
        return;
    }

    /* operations-20260624.csv */

    filename.data = ngx_pnalloc(r->pool, ngx_strlen(name)
                                         + sizeof("-YYYYMMDD.xlsx"));
    if (filename.data == NULL) {
        ngx_close_file(fd);
        ngx_http_cvc_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_gmtime(ngx_time(), &tm);

    filename.len = ngx_sprintf(filename.data, "%s-%4d%02d%02d.%s", name,
                               tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                               ex->xlsx ? "xlsx" : "csv")
                   - filename.data;

    ngx_http_cvc_finalize(r, ngx_http_cvc_send_file(r, fd, ex->size,
                                                    ex->xlsx ? &xlsx : &csv,
                                                    &filename));
}


/* no file: the error the thread found */

static ngx_int_t
ngx_http_cvc_export_failed(ngx_http_request_t *r,
    ngx_http_cvc_export_ctx_t *ex)
{
    if (ex->status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "cvc export: PostgreSQL: %s", ex->error);
        return ngx_http_cvc_send_unavailable(r, "PostgreSQL");
    }

    if (ex->code[0] != '\0') {
        return ngx_http_cvc_send_error(r, ex->status, ex->code, ex->error,
                                       NULL);
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cvc export: failed: %s", ex->error);

    return ngx_http_cvc_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "internal_error", "The export failed.",
                                   NULL);
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

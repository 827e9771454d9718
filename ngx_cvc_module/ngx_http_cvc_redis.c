
/*
 * CVC gateway: the Redis client.  hiredis's async API on nginx's event
 * loop through a small adapter (hiredis asks for read and write interest,
 * nginx calls back).  Each worker keeps a few pipelined connections, used
 * in turn, opened when needed.  hiredis 0.14 has no time-outs of its own:
 * each command has a timer, and a command that times out takes its
 * connection down with it (the others on it fail at once, not later).
 */


#include "ngx_http_cvc_module.h"

#include <hiredis/async.h>


/*
 * A slot of the pool.  Its context, while it has one, owns an nginx
 * connection: ac->ev.data is that connection, c->data the context.
 */

typedef struct {
    redisAsyncContext          *ac;
    ngx_event_t                 connect_timer;
} ngx_http_cvc_redis_conn_t;


struct ngx_http_cvc_redis_cmd_s {
    ngx_event_t                     timer;
    ngx_http_cvc_redis_handler_pt   handler;
    void                           *data;
    ngx_http_cvc_redis_conn_t      *rc;
    unsigned                        timedout:1;
};


typedef struct {
    ngx_http_cvc_redis_conn_t  *conns;
    ngx_uint_t                  nconns;
    ngx_uint_t                  next;
    ngx_http_cvc_main_conf_t   *mcf;
    ngx_log_t                  *log;
    ngx_uint_t                  inflight;   /* commands not answered yet */
    ngx_flag_t                  exiting;
} ngx_http_cvc_redis_pool_t;


static ngx_int_t ngx_http_cvc_redis_connect(ngx_http_cvc_redis_conn_t *rc);
static ngx_int_t ngx_http_cvc_redis_auth(ngx_http_cvc_redis_conn_t *rc);
static void ngx_http_cvc_redis_authed(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_cvc_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_cvc_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_cvc_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_cvc_redis_drop(ngx_http_cvc_redis_conn_t *rc);
static void ngx_http_cvc_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_cvc_redis_timeout(ngx_event_t *ev);
static void ngx_http_cvc_redis_event(ngx_event_t *ev);
static void ngx_http_cvc_redis_add_read(void *privdata);
static void ngx_http_cvc_redis_del_read(void *privdata);
static void ngx_http_cvc_redis_add_write(void *privdata);
static void ngx_http_cvc_redis_del_write(void *privdata);
static void ngx_http_cvc_redis_cleanup(void *privdata);


static ngx_http_cvc_redis_pool_t  ngx_http_cvc_redis;


ngx_int_t
ngx_http_cvc_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf)
{
    ngx_uint_t                  i;
    ngx_http_cvc_redis_conn_t  *rc;

    ngx_http_cvc_redis.conns = ngx_pcalloc(cycle->pool,
                           mcf->redis.size * sizeof(ngx_http_cvc_redis_conn_t));
    if (ngx_http_cvc_redis.conns == NULL) {
        return NGX_ERROR;
    }

    ngx_http_cvc_redis.nconns = mcf->redis.size;
    ngx_http_cvc_redis.mcf = mcf;
    ngx_http_cvc_redis.log = cycle->log;

    for (i = 0; i < mcf->redis.size; i++) {
        rc = &ngx_http_cvc_redis.conns[i];

        rc->connect_timer.handler = ngx_http_cvc_redis_connect_timeout;
        rc->connect_timer.data = rc;
        rc->connect_timer.log = cycle->log;
        rc->connect_timer.cancelable = 1;
    }

    return NGX_OK;
}


void
ngx_http_cvc_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    ngx_http_cvc_redis.exiting = 1;

    for (i = 0; i < ngx_http_cvc_redis.nconns; i++) {
        ngx_http_cvc_redis_drop(&ngx_http_cvc_redis.conns[i]);
    }
}


/*
 * Sends a command (binary-safe arguments, copied by hiredis).  NGX_AGAIN:
 * the handler will be called.  NGX_ERROR: Redis can't be reached now.
 */

ngx_int_t
ngx_http_cvc_redis_command(ngx_http_cvc_redis_cmd_t **cmdp, int argc,
    const char **argv, const size_t *argvlen,
    ngx_http_cvc_redis_handler_pt handler, void *data)
{
    ngx_uint_t                  i;
    ngx_http_cvc_redis_cmd_t   *cmd;
    ngx_http_cvc_redis_conn_t  *rc;

    rc = NULL;

    for (i = 0; i < ngx_http_cvc_redis.nconns; i++) {
        rc = &ngx_http_cvc_redis.conns[ngx_http_cvc_redis.next++
                                       % ngx_http_cvc_redis.nconns];

        if (rc->ac != NULL || ngx_http_cvc_redis_connect(rc) == NGX_OK) {
            break;
        }

        rc = NULL;
    }

    if (rc == NULL) {
        ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_REDIS_UNREACHABLE, 1);
        return NGX_ERROR;
    }

    cmd = ngx_calloc(sizeof(ngx_http_cvc_redis_cmd_t), ngx_http_cvc_redis.log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->rc = rc;
    cmd->timer.handler = ngx_http_cvc_redis_timeout;
    cmd->timer.data = cmd;
    cmd->timer.log = ngx_http_cvc_redis.log;

    if (redisAsyncCommandArgv(rc->ac, ngx_http_cvc_redis_reply, cmd, argc,
                              argv, argvlen)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_redis.log, 0,
                      "cvc redis: command failed: %s", rc->ac->errstr);
        ngx_free(cmd);
        return NGX_ERROR;
    }

    ngx_add_timer(&cmd->timer, ngx_http_cvc_redis.mcf->query_timeout);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_cvc_redis.log, 0,
                   "cvc redis: slot %ui: %*s",
                   (ngx_uint_t) (rc - ngx_http_cvc_redis.conns),
                   argvlen[0], argv[0]);

    ngx_http_cvc_redis.inflight++;
    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_REDIS_COMMANDS, 1);

    *cmdp = cmd;

    return NGX_AGAIN;
}


/*
 * EVAL script nkeys arg...: the keys first, then the script's other
 * arguments; as ngx_http_cvc_redis_command().
 */

ngx_int_t
ngx_http_cvc_redis_eval(ngx_http_cvc_redis_cmd_t **cmdp, const char *script,
    ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_cvc_redis_handler_pt handler, void *data)
{
    u_char       n[NGX_INT_T_LEN];
    size_t       lens[16], *argvlen;
    ngx_int_t    rc;
    ngx_uint_t   i;
    const char  *vals[16], **argv;

    argv = vals;
    argvlen = lens;

    if (3 + nargs > 16) {
        argv = ngx_alloc((3 + nargs) * (sizeof(char *) + sizeof(size_t)),
                         ngx_http_cvc_redis.log);
        if (argv == NULL) {
            return NGX_ERROR;
        }

        argvlen = (size_t *) (argv + 3 + nargs);
    }

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = script;
    argvlen[1] = ngx_strlen(script);
    argv[2] = (char *) n;
    argvlen[2] = ngx_sprintf(n, "%ui", nkeys) - n;

    for (i = 0; i < nargs; i++) {
        argv[3 + i] = (char *) args[i].data;
        argvlen[3 + i] = args[i].len;
    }

    rc = ngx_http_cvc_redis_command(cmdp, 3 + nargs, argv, argvlen, handler,
                                    data);

    /* hiredis copied the arguments */

    if (argv != vals) {
        ngx_free(argv);
    }

    return rc;
}


/* SET key value NX PX ttl: a lock of ttl ms, if no one has it */

ngx_int_t
ngx_http_cvc_redis_lock(ngx_http_cvc_redis_cmd_t **cmdp, ngx_str_t *key,
    ngx_str_t *value, ngx_msec_t ttl, ngx_http_cvc_redis_handler_pt handler,
    void *data)
{
    u_char       px[NGX_INT_T_LEN];
    size_t       argvlen[6];
    const char  *argv[6];

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (char *) key->data;
    argvlen[1] = key->len;
    argv[2] = (char *) value->data;
    argvlen[2] = value->len;
    argv[3] = "NX";
    argvlen[3] = 2;
    argv[4] = "PX";
    argvlen[4] = 2;
    argv[5] = (char *) px;
    argvlen[5] = ngx_sprintf(px, "%M", ttl) - px;

    return ngx_http_cvc_redis_command(cmdp, 6, argv, argvlen, handler, data);
}


/* the caller goes away: the reply, when it comes, is dropped */

void
ngx_http_cvc_redis_detach(ngx_http_cvc_redis_cmd_t *cmd)
{
    cmd->handler = NULL;
}


static ngx_int_t
ngx_http_cvc_redis_connect(ngx_http_cvc_redis_conn_t *rc)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_REDIS_CONNECTS, 1);

    ac = redisAsyncConnect((char *) ngx_http_cvc_redis.mcf->redis.host.data,
                           ngx_http_cvc_redis.mcf->redis.port);
    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_redis.log, 0,
                      "cvc redis: redisAsyncConnect() failed");
        return NGX_ERROR;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_redis.log, 0,
                      "cvc redis: connect failed: %s", ac->errstr);
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    c = ngx_http_cvc_conn_get(ac->c.fd, ngx_http_cvc_redis_event, ac,
                              ngx_http_cvc_redis.log);
    if (c == NULL) {
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    rc->ac = ac;

    ac->data = rc;
    ac->ev.data = c;
    ac->ev.addRead = ngx_http_cvc_redis_add_read;
    ac->ev.delRead = ngx_http_cvc_redis_del_read;
    ac->ev.addWrite = ngx_http_cvc_redis_add_write;
    ac->ev.delWrite = ngx_http_cvc_redis_del_write;
    ac->ev.cleanup = ngx_http_cvc_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_cvc_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_cvc_redis_disconnected);

    /* the connect completes on the first write event; AUTH goes first */

    ngx_http_cvc_redis_add_write(c);

    if (ngx_http_cvc_redis.mcf->redis.password.len > 0
        && ngx_http_cvc_redis_auth(rc) != NGX_OK)
    {
        ngx_http_cvc_redis_drop(rc);
        return NGX_ERROR;
    }

    ngx_add_timer(&rc->connect_timer, ngx_http_cvc_redis.mcf->connect_timeout);

    return NGX_OK;
}


/* cvc_redis_password_file: AUTH, queued before any command */

static ngx_int_t
ngx_http_cvc_redis_auth(ngx_http_cvc_redis_conn_t *rc)
{
    size_t       argvlen[2];
    const char  *argv[2];

    argv[0] = "AUTH";
    argvlen[0] = 4;
    argv[1] = (const char *) ngx_http_cvc_redis.mcf->redis.password.data;
    argvlen[1] = ngx_http_cvc_redis.mcf->redis.password.len;

    if (redisAsyncCommandArgv(rc->ac, ngx_http_cvc_redis_authed, rc, 2, argv,
                              argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_cvc_redis_authed(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_cvc_redis_conn_t  *rc = privdata;

    redisReply  *reply = r;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_redis.log, 0,
                  "cvc redis: AUTH refused: %*s (cvc_redis_password_file)",
                  (size_t) reply->len, reply->str);

    if (rc->ac == ac) {
        ngx_http_cvc_redis_drop(rc);
    }
}


static void
ngx_http_cvc_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_cvc_redis_conn_t  *rc = ac->data;

    if (rc->connect_timer.timer_set) {
        ngx_del_timer(&rc->connect_timer);
    }

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_redis.log, 0,
                      "cvc redis: connect failed: %s", ac->errstr);
        ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_REDIS_CONNECT_FAILURES, 1);

        /* hiredis frees the context after this */

        if (rc->ac == ac) {
            rc->ac = NULL;
        }

        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_http_cvc_redis.log, 0,
                   "cvc redis: connected");
}


static void
ngx_http_cvc_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_cvc_redis_conn_t  *rc = ac->data;

    if (status != REDIS_OK && !ngx_http_cvc_redis.exiting) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_cvc_redis.log, 0,
                      "cvc redis: connection lost: %s", ac->errstr);
        ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_REDIS_CONNECT_FAILURES, 1);
    }

    if (rc->ac == ac) {
        rc->ac = NULL;
    }
}


static void
ngx_http_cvc_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_cvc_redis_conn_t  *rc = ev->data;

    ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_redis.log, NGX_ETIMEDOUT,
                  "cvc redis: connect timed out");
    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_REDIS_CONNECT_FAILURES, 1);

    ngx_http_cvc_redis_drop(rc);
}


/* ends a connection: the commands on it are answered with an error */

static void
ngx_http_cvc_redis_drop(ngx_http_cvc_redis_conn_t *rc)
{
    redisAsyncContext  *ac;

    if (rc->connect_timer.timer_set) {
        ngx_del_timer(&rc->connect_timer);
    }

    ac = rc->ac;

    if (ac == NULL) {
        return;
    }

    rc->ac = NULL;

    redisAsyncFree(ac);
}


static void
ngx_http_cvc_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_cvc_redis_cmd_t  *cmd = privdata;

    redisReply  *reply = r;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    ngx_http_cvc_redis.inflight--;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_cvc_redis.log, 0,
                   "cvc redis: reply, type %d%s", reply ? reply->type : 0,
                   cmd->handler ? "" : ", nobody waits for it");

    if (cmd->handler != NULL && !cmd->timedout
        && !ngx_http_cvc_redis.exiting)
    {
        cmd->handler(cmd->data, (reply != NULL) ? NGX_OK : NGX_ERROR, reply);
    }

    ngx_free(cmd);
}


static void
ngx_http_cvc_redis_timeout(ngx_event_t *ev)
{
    ngx_http_cvc_redis_cmd_t  *cmd = ev->data;

    ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_redis.log, NGX_ETIMEDOUT,
                  "cvc redis: command timed out");
    ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_REDIS_TIMEOUTS, 1);

    cmd->timedout = 1;

    if (cmd->handler != NULL) {
        cmd->handler(cmd->data, NGX_ERROR, NULL);
        cmd->handler = NULL;
    }

    /* frees cmd too, through its reply callback */

    ngx_http_cvc_redis_drop(cmd->rc);
}


static void
ngx_http_cvc_redis_event(ngx_event_t *ev)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    c = ev->data;
    ac = c->data;

    if (ev->write) {
        redisAsyncHandleWrite(ac);

    } else {
        redisAsyncHandleRead(ac);
    }
}


/* hiredis's event hooks: privdata is the context's nginx connection */

static void
ngx_http_cvc_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    (void) ngx_http_cvc_conn_want(c, 1, c->write->active);
}


static void
ngx_http_cvc_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    (void) ngx_http_cvc_conn_want(c, 0, c->write->active);
}


static void
ngx_http_cvc_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    (void) ngx_http_cvc_conn_want(c, c->read->active, 1);
}


static void
ngx_http_cvc_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    (void) ngx_http_cvc_conn_want(c, c->read->active, 0);
}


/* hiredis frees the context and is about to close its socket */

static void
ngx_http_cvc_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_cvc_conn_free(c, 0);
}


/* for the metrics: this worker's connections, and its commands in flight */

void
ngx_http_cvc_redis_gauges(ngx_uint_t *open, ngx_uint_t *inflight)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_cvc_redis.nconns; i++) {
        if (ngx_http_cvc_redis.conns[i].ac != NULL) {
            (*open)++;
        }
    }

    *inflight = ngx_http_cvc_redis.inflight;
}


/*
 * CVC gateway: GET /api/v1/health (liveness), a real round trip to each
 * backend, and GET /api/v1/health/ready (readiness), which also looks at
 * the schema, the outbox and the timers, as the metrics do (both read
 * them through ngx_http_cvc_backends_read()).  One probe at a time per worker: the health checks that
 * come while a probe is in flight wait for it and get its answer, so that
 * a load of checks costs the backends one query and one PING at a time,
 * not one each, and never fills the PostgreSQL queue.  A check never gets
 * an answer older than its own arrival by more than one probe's time.
 */


#include "ngx_http_cvc_module.h"


typedef struct {
    ngx_queue_t                     waiting;    /* the ctx->health links */
    ngx_uint_t                      pending;    /* answers still to come */
    ngx_int_t                       pg_rc;
    ngx_int_t                       redis_rc;
    ngx_http_cvc_pg_op_t           *pg_op;
    ngx_http_cvc_redis_cmd_t       *redis_cmd;
} ngx_http_cvc_health_probe_t;


static void ngx_http_cvc_health_probe(void);
static void ngx_http_cvc_health_pg(void *data, ngx_int_t rc, PGresult *res);
static void ngx_http_cvc_health_redis(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_http_cvc_health_answer(void);
static ngx_int_t ngx_http_cvc_health_send(ngx_http_request_t *r,
    ngx_int_t pg_rc, ngx_int_t redis_rc);


static ngx_int_t ngx_http_cvc_ready_send(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_http_cvc_backends_t *rd);
static void ngx_http_cvc_backends_pg(void *data, ngx_int_t rc, PGresult *res);
static ngx_int_t ngx_http_cvc_backends_redis_send(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static void ngx_http_cvc_backends_redis(void *data, ngx_int_t rc,
    redisReply *reply);


static ngx_http_cvc_health_probe_t  ngx_http_cvc_health_state;


ngx_int_t
ngx_http_cvc_health(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    ngx_http_cvc_health_probe_t  *hp = &ngx_http_cvc_health_state;

    if (hp->waiting.next == NULL) {
        ngx_queue_init(&hp->waiting);
    }

    if (hp->pending == 0) {
        ngx_http_cvc_health_probe();

        if (hp->pending == 0) {
            /* both backends refused at once */
            return ngx_http_cvc_health_send(r, hp->pg_rc, hp->redis_rc);
        }
    }

    ngx_queue_insert_tail(&hp->waiting, &ctx->health);
    ctx->health_waiting = 1;

    return NGX_DONE;
}


/* a check that goes away before the probe ends */

void
ngx_http_cvc_health_detach(ngx_http_cvc_ctx_t *ctx)
{
    if (ctx->health_waiting) {
        ngx_queue_remove(&ctx->health);
        ctx->health_waiting = 0;
    }
}


static void
ngx_http_cvc_health_probe(void)
{
    ngx_http_cvc_health_probe_t  *hp = &ngx_http_cvc_health_state;

    static const char  *ping[] = { "PING" };
    static size_t       ping_len[] = { 4 };

    hp->pg_rc = NGX_ERROR;
    hp->redis_rc = NGX_ERROR;
    hp->pending = 2;

    if (ngx_http_cvc_pg_query(&hp->pg_op, "SELECT 1", 0, NULL,
                              ngx_http_cvc_health_pg, hp)
        != NGX_AGAIN)
    {
        hp->pending--;
    }

    if (ngx_http_cvc_redis_command(&hp->redis_cmd, 1, ping, ping_len,
                                   ngx_http_cvc_health_redis, hp)
        != NGX_AGAIN)
    {
        hp->pending--;
    }
}


static void
ngx_http_cvc_health_pg(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_cvc_health_probe_t  *hp = data;

    hp->pg_op = NULL;

    if (rc == NGX_OK && PQresultStatus(res) == PGRES_TUPLES_OK) {
        hp->pg_rc = NGX_OK;
    }

    if (--hp->pending == 0) {
        ngx_http_cvc_health_answer();
    }
}


static void
ngx_http_cvc_health_redis(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_http_cvc_health_probe_t  *hp = data;

    hp->redis_cmd = NULL;

    if (rc == NGX_OK && reply->type == REDIS_REPLY_STATUS) {
        hp->redis_rc = NGX_OK;
    }

    if (--hp->pending == 0) {
        ngx_http_cvc_health_answer();
    }
}


/* every check that waited gets the probe's answer */

static void
ngx_http_cvc_health_answer(void)
{
    ngx_queue_t                   answered, *q;
    ngx_http_cvc_ctx_t           *ctx;
    ngx_http_cvc_health_probe_t  *hp = &ngx_http_cvc_health_state;

    if (ngx_queue_empty(&hp->waiting)) {
        return;
    }

    /* those that come while these are answered wait for a new probe */

    answered = hp->waiting;
    answered.next->prev = &answered;
    answered.prev->next = &answered;
    ngx_queue_init(&hp->waiting);

    while (!ngx_queue_empty(&answered)) {
        q = ngx_queue_head(&answered);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_cvc_ctx_t, health);
        ctx->health_waiting = 0;

        ngx_http_cvc_finalize(ctx->request,
                              ngx_http_cvc_health_send(ctx->request,
                                                       hp->pg_rc,
                                                       hp->redis_rc));
    }
}


/* the four answers there are, written once */

#define NGX_HTTP_CVC_HEALTH(status, pg, redis)                               \
    ngx_string("{\"status\":\"" status "\",\"postgres\":\"" pg "\","          \
               "\"redis\":\"" redis "\",\"version\":\""                       \
               NGX_HTTP_CVC_VERSION "\"}")

static ngx_str_t  ngx_http_cvc_health_bodies[] = {
    NGX_HTTP_CVC_HEALTH("ok", "ok", "ok"),
    NGX_HTTP_CVC_HEALTH("down", "ok", "down"),
    NGX_HTTP_CVC_HEALTH("down", "down", "ok"),
    NGX_HTTP_CVC_HEALTH("down", "down", "down")
};


static ngx_int_t
ngx_http_cvc_health_send(ngx_http_request_t *r, ngx_int_t pg_rc,
    ngx_int_t redis_rc)
{
    ngx_uint_t  i;

    static ngx_str_t  retry_after = ngx_string("5");

    i = (pg_rc != NGX_OK) * 2 + (redis_rc != NGX_OK);

    if (i == 0) {
        return ngx_http_cvc_send_raw(r, NGX_HTTP_OK,
                                     &ngx_http_cvc_health_bodies[0]);
    }

    if (ngx_http_cvc_add_header(r, "Retry-After", &retry_after) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cvc_send_raw(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                 &ngx_http_cvc_health_bodies[i]);
}


/*
 * GET /api/v1/health/ready: "down" (503) where a backend does not answer
 * or the schema is older than this code needs; "degraded" (200: it
 * serves, someone should look) where the outbox has a backlog or the
 * timers are late; else "ok".
 */

#define NGX_HTTP_CVC_READY_OUTBOX      1000     /* messages not sent */
#define NGX_HTTP_CVC_READY_OUTBOX_AGE  600      /* s, the oldest of them */
#define NGX_HTTP_CVC_READY_TIMERS_LATE 60000    /* ms, the oldest due timer */

ngx_int_t
ngx_http_cvc_ready(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_backends_read(r, ctx, ngx_http_cvc_ready_send);
}


static ngx_int_t
ngx_http_cvc_ready_send(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_http_cvc_backends_t *rd)
{
    json_t       *json, *kind, *v;
    ngx_int_t     rc;
    ngx_uint_t    pending, down, degraded;
    const char   *schema, *name, *outbox, *timers, *schema_check;
    double        oldest;

    static ngx_str_t  retry_after = ngx_string("5");

    schema = json_string_value(json_object_get(rd->state, "schema"));

    schema_check = (rd->state == NULL) ? "unknown"
                   : (schema != NULL
                      && ngx_strncmp(schema, NGX_HTTP_CVC_SCHEMA,
                                     sizeof(NGX_HTTP_CVC_SCHEMA) - 1) >= 0)
                     ? "ok" : "behind";

    pending = 0;
    oldest = 0;

    json_object_foreach(json_object_get(rd->state, "outbox"), name, kind) {
        v = json_object_get(kind, "pending");
        pending += json_is_integer(v) ? json_integer_value(v) : 0;

        v = json_object_get(kind, "oldest_seconds");
        if (json_is_number(v) && json_number_value(v) > oldest) {
            oldest = json_number_value(v);
        }
    }

    outbox = (rd->state == NULL) ? "unknown"
             : (pending > NGX_HTTP_CVC_READY_OUTBOX
                || oldest > NGX_HTTP_CVC_READY_OUTBOX_AGE) ? "backlog" : "ok";

    timers = (rd->timers_rc != NGX_OK) ? "unknown"
             : (rd->timers_late_ms > NGX_HTTP_CVC_READY_TIMERS_LATE)
               ? "late" : "ok";

    down = (rd->state == NULL || rd->timers_rc != NGX_OK
            || schema_check[0] == 'b');
    degraded = (outbox[0] == 'b' || timers[0] == 'l');

    json = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s}}",
                     "status", down ? "down" : degraded ? "degraded" : "ok",
                     "postgres", rd->state != NULL ? "ok" : "down",
                     "redis", rd->timers_rc == NGX_OK ? "ok" : "down",
                     "version", NGX_HTTP_CVC_VERSION,
                     "checks", "schema", schema_check, "outbox", outbox,
                     "timers", timers);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (down
        && ngx_http_cvc_add_header(r, "Retry-After", &retry_after) != NGX_OK)
    {
        json_decref(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_cvc_send_json(r, down ? NGX_HTTP_SERVICE_UNAVAILABLE
                                        : NGX_HTTP_OK, json);

    json_decref(json);

    return rc;
}


/*
 * What only the backends know, for the metrics and the readiness: the
 * schema and the outbox (cvc.metrics_state()), the timers due (Redis).
 * A backend that does not answer leaves its part out (rd->state NULL,
 * rd->timers_rc NGX_ERROR); done() is called either way.
 */

ngx_int_t
ngx_http_cvc_backends_read(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_http_cvc_backends_pt done)
{
    ngx_http_cvc_backends_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_http_cvc_backends_t));
    if (rd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->timers_rc = NGX_ERROR;
    rd->done = done;
    ctx->data = rd;

    if (ngx_http_cvc_pg_query(&ctx->pg_op, "select cvc.metrics_state()", 0,
                              NULL, ngx_http_cvc_backends_pg, r)
        != NGX_AGAIN)
    {
        return ngx_http_cvc_backends_redis_send(r, ctx);
    }

    return NGX_DONE;
}


static void
ngx_http_cvc_backends_pg(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_request_t  *r = data;

    ngx_http_cvc_ctx_t       *ctx;
    ngx_http_cvc_backends_t  *rd;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->pg_op = NULL;
    rd = ctx->data;

    if (rc == NGX_OK && PQresultStatus(res) == PGRES_TUPLES_OK) {
        rd->state = ngx_http_cvc_pg_json(r, res);
    }

    if (rd->state == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "cvc metrics: no state from PostgreSQL: %s",
                      res ? PQresultErrorMessage(res) : "no answer");
    }

    ngx_http_cvc_finalize(r, ngx_http_cvc_backends_redis_send(r, ctx));
}


static ngx_int_t
ngx_http_cvc_backends_redis_send(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx)
{
    ngx_http_cvc_backends_t  *rd = ctx->data;

    ngx_str_t  args[2];

    args[0] = ngx_http_cvc_clock_key;
    args[1] = ngx_http_cvc_timers_key;

    if (ngx_http_cvc_redis_eval(&ctx->redis_cmd, ngx_http_cvc_lua_timers_due,
                                2, args, 2, ngx_http_cvc_backends_redis, r)
        == NGX_AGAIN)
    {
        return NGX_DONE;
    }

    return rd->done(r, ctx, rd);
}


static void
ngx_http_cvc_backends_redis(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_http_request_t  *r = data;

    ngx_http_cvc_ctx_t       *ctx;
    ngx_http_cvc_backends_t  *rd;

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);
    ctx->redis_cmd = NULL;
    rd = ctx->data;

    if (rc == NGX_OK && reply->type == REDIS_REPLY_ARRAY
        && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[1]->type == REDIS_REPLY_INTEGER)
    {
        rd->timers_due = reply->element[0]->integer;
        rd->timers_late_ms = reply->element[1]->integer;
        rd->timers_rc = NGX_OK;
    }

    ngx_http_cvc_finalize(r, rd->done(r, ctx, rd));
}


/*
 * CVC gateway: metrics in Prometheus's text format (0.0.4), at a location
 * with "cvc_metrics on".  Counters live in a shared memory zone, added to
 * with atomic operations by every worker (as ngx_http_stub_status_module
 * does), so they add up across workers and survive a reload; gauges (the
 * pools, the thread pool) are each worker's, in a slot of its own that it
 * refreshes every second, summed over the live workers when read.  What
 * only the backends know (timers due, the outbox) is read from them when
 * the metrics are asked for.
 */


#include "ngx_http_cvc_module.h"


#define NGX_HTTP_CVC_METRICS_SLOTS    64
#define NGX_HTTP_CVC_METRICS_REFRESH  1000
#define NGX_HTTP_CVC_NBUCKETS         13
#define NGX_HTTP_CVC_NCLASSES         5


/* the gauges of a worker */
#define NGX_HTTP_CVC_GAUGES(X)                                               \
    X(PG_BUSY, "cvc_postgres_connections", "state=\"busy\"",                 \
      "PostgreSQL connections of the pools, by state.")                      \
    X(PG_IDLE, "cvc_postgres_connections", "state=\"idle\"", "")             \
    X(PG_CONNECTING, "cvc_postgres_connections", "state=\"connecting\"", "") \
    X(PG_QUEUE, "cvc_postgres_queue_length", "",                             \
      "Queries waiting for a PostgreSQL connection.")                        \
    X(REDIS_OPEN, "cvc_redis_connections", "",                               \
      "Redis connections of the pools, open or opening.")                    \
    X(REDIS_INFLIGHT, "cvc_redis_commands_in_flight", "",                    \
      "Redis commands sent and not answered yet.")                           \
    X(TASKS_QUEUED_HASH, "cvc_thread_tasks", "kind=\"hash\",state=\"queued\"",\
      "Tasks of the thread pool, by kind and state.")                        \
    X(TASKS_QUEUED_EXPORT, "cvc_thread_tasks",                               \
      "kind=\"export\",state=\"queued\"", "")                                \
    X(TASKS_QUEUED_MAIL, "cvc_thread_tasks", "kind=\"mail\",state=\"queued\"",\
      "")                                                                    \
    X(TASKS_QUEUED_WEBHOOK, "cvc_thread_tasks",                              \
      "kind=\"webhook\",state=\"queued\"", "")                               \
    X(TASKS_QUEUED_RESOLVE, "cvc_thread_tasks",                              \
      "kind=\"resolve\",state=\"queued\"", "")                               \
    X(TASKS_RUNNING_HASH, "cvc_thread_tasks",                                \
      "kind=\"hash\",state=\"running\"", "")                                 \
    X(TASKS_RUNNING_EXPORT, "cvc_thread_tasks",                              \
      "kind=\"export\",state=\"running\"", "")                               \
    X(TASKS_RUNNING_MAIL, "cvc_thread_tasks",                                \
      "kind=\"mail\",state=\"running\"", "")                                 \
    X(TASKS_RUNNING_WEBHOOK, "cvc_thread_tasks",                             \
      "kind=\"webhook\",state=\"running\"", "")                              \
    X(TASKS_RUNNING_RESOLVE, "cvc_thread_tasks",                             \
      "kind=\"resolve\",state=\"running\"", "")


#define NGX_HTTP_CVC_ENUM(name, family, labels, help)  NGX_HTTP_CVC_G_##name,

enum {
    NGX_HTTP_CVC_GAUGES(NGX_HTTP_CVC_ENUM)
    NGX_HTTP_CVC_NGAUGES
};


typedef struct {
    const char                 *family;
    const char                 *labels;
    const char                 *help;
} ngx_http_cvc_metric_t;


#define NGX_HTTP_CVC_METRIC(name, family, labels, help)                      \
    { family, labels, help },

static const ngx_http_cvc_metric_t  ngx_http_cvc_counter_names[] = {
    NGX_HTTP_CVC_COUNTERS(NGX_HTTP_CVC_METRIC)
};

static const ngx_http_cvc_metric_t  ngx_http_cvc_gauge_names[] = {
    NGX_HTTP_CVC_GAUGES(NGX_HTTP_CVC_METRIC)
};


/* le of the latency buckets, in ms */
static const ngx_msec_t  ngx_http_cvc_buckets[NGX_HTTP_CVC_NBUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static const char  *ngx_http_cvc_bucket_names[NGX_HTTP_CVC_NBUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5", "10"
};


typedef struct {
    ngx_atomic_t                pid;
    ngx_atomic_t                gauges[NGX_HTTP_CVC_NGAUGES];
} ngx_http_cvc_metrics_slot_t;


/* the zone; the last route slot is for requests that reached no route */
typedef struct {
    ngx_atomic_t                requests[NGX_HTTP_CVC_MAX_ROUTES + 1]
                                        [NGX_HTTP_CVC_NCLASSES];
    ngx_atomic_t                latency[NGX_HTTP_CVC_MAX_ROUTES + 1]
                                       [NGX_HTTP_CVC_NBUCKETS + 1];
    ngx_atomic_t                latency_ms[NGX_HTTP_CVC_MAX_ROUTES + 1];
    ngx_atomic_t                counters[NGX_HTTP_CVC_NCOUNTERS];
    ngx_http_cvc_metrics_slot_t slots[NGX_HTTP_CVC_METRICS_SLOTS];
} ngx_http_cvc_metrics_sh_t;


static ngx_int_t ngx_http_cvc_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_cvc_metrics_refresh(ngx_event_t *ev);
static void ngx_http_cvc_metrics_gauges(void);
static void ngx_http_cvc_metrics_event(const ngx_http_cvc_route_t *rt);
static void ngx_http_cvc_backends_pg(void *data, ngx_int_t rc, PGresult *res);
static ngx_int_t ngx_http_cvc_backends_redis_send(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
static void ngx_http_cvc_backends_redis(void *data, ngx_int_t rc,
    redisReply *reply);
static ngx_int_t ngx_http_cvc_metrics_labels(ngx_uint_t i,
    const char **method, const char **route);
static ngx_int_t ngx_http_cvc_metrics_send(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_http_cvc_backends_t *rd);
static u_char *ngx_http_cvc_metrics_outbox(u_char *p, u_char *last,
    json_t *state);
static u_char *ngx_http_cvc_metrics_family(u_char *p, u_char *last,
    const char *family, const char *type, const char *help);


static ngx_http_cvc_metrics_sh_t    *ngx_http_cvc_metrics;
static ngx_http_cvc_metrics_slot_t  *ngx_http_cvc_metrics_slot;
static ngx_event_t                   ngx_http_cvc_metrics_timer;


/* at configuration, where the module is on: the zone */

ngx_int_t
ngx_http_cvc_metrics_conf(ngx_conf_t *cf, ngx_http_cvc_main_conf_t *mcf)
{
    size_t             size;
    ngx_shm_zone_t    *zone;

    static ngx_str_t  name = ngx_string("cvc_metrics");

    if (ngx_http_cvc_route_nth(NGX_HTTP_CVC_MAX_ROUTES) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cvc: more routes than NGX_HTTP_CVC_MAX_ROUTES");
        return NGX_ERROR;
    }

    size = ngx_align(sizeof(ngx_http_cvc_metrics_sh_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_cvc_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_cvc_metrics_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cvc_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data != NULL) {

        /* a reload: the counters go on */

        shm_zone->data = data;
        ngx_http_cvc_metrics = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ngx_http_cvc_metrics = ngx_slab_calloc(shpool,
                                           sizeof(ngx_http_cvc_metrics_sh_t));
    if (ngx_http_cvc_metrics == NULL) {
        return NGX_ERROR;
    }

    shm_zone->data = ngx_http_cvc_metrics;

    return NGX_OK;
}


/*
 * A worker takes a slot for its gauges: a free one, or the one of a
 * worker that is gone (killed: it could not give it back).
 */

void
ngx_http_cvc_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_atomic_uint_t             pid;
    ngx_http_cvc_metrics_slot_t  *slot;

    if (ngx_http_cvc_metrics == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_CVC_METRICS_SLOTS; i++) {
        slot = &ngx_http_cvc_metrics->slots[i];
        pid = slot->pid;

        if ((pid == 0 || (kill((pid_t) pid, 0) == -1 && errno == ESRCH))
            && ngx_atomic_cmp_set(&slot->pid, pid, (ngx_atomic_uint_t) ngx_pid))
        {
            ngx_memzero((void *) slot->gauges, sizeof(slot->gauges));
            ngx_http_cvc_metrics_slot = slot;
            break;
        }
    }

    if (ngx_http_cvc_metrics_slot == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "cvc metrics: no slot left for this worker's gauges");
        return;
    }

    ngx_http_cvc_metrics_timer.handler = ngx_http_cvc_metrics_refresh;
    ngx_http_cvc_metrics_timer.log = cycle->log;
    ngx_http_cvc_metrics_timer.cancelable = 1;
    ngx_add_timer(&ngx_http_cvc_metrics_timer, NGX_HTTP_CVC_METRICS_REFRESH);
}


void
ngx_http_cvc_metrics_exit_process(void)
{
    if (ngx_http_cvc_metrics_slot != NULL) {
        ngx_http_cvc_metrics_slot->pid = 0;
        ngx_http_cvc_metrics_slot = NULL;
    }
}


/* the worker's gauges, from its pools and its tasks */

static void
ngx_http_cvc_metrics_refresh(ngx_event_t *ev)
{
    ngx_http_cvc_metrics_gauges();

    if (!ngx_exiting) {
        ngx_add_timer(ev, NGX_HTTP_CVC_METRICS_REFRESH);
    }
}


static void
ngx_http_cvc_metrics_gauges(void)
{
    ngx_uint_t     k, g[NGX_HTTP_CVC_NGAUGES];
    ngx_atomic_t  *slot;

    if (ngx_http_cvc_metrics_slot == NULL) {
        return;
    }

    ngx_memzero(g, sizeof(g));

    ngx_http_cvc_pg_gauges(&g[NGX_HTTP_CVC_G_PG_BUSY],
                           &g[NGX_HTTP_CVC_G_PG_IDLE],
                           &g[NGX_HTTP_CVC_G_PG_CONNECTING],
                           &g[NGX_HTTP_CVC_G_PG_QUEUE]);
    ngx_http_cvc_redis_gauges(&g[NGX_HTTP_CVC_G_REDIS_OPEN],
                              &g[NGX_HTTP_CVC_G_REDIS_INFLIGHT]);
    ngx_http_cvc_task_gauges(&g[NGX_HTTP_CVC_G_TASKS_QUEUED_HASH],
                             &g[NGX_HTTP_CVC_G_TASKS_RUNNING_HASH]);

    slot = ngx_http_cvc_metrics_slot->gauges;

    for (k = 0; k < NGX_HTTP_CVC_NGAUGES; k++) {
        slot[k] = g[k];
    }
}


void
ngx_http_cvc_metrics_count(ngx_uint_t counter, ngx_atomic_int_t n)
{
    if (ngx_http_cvc_metrics != NULL && counter < NGX_HTTP_CVC_NCOUNTERS) {
        (void) ngx_atomic_fetch_add(&ngx_http_cvc_metrics->counters[counter],
                                    n);
    }
}


/* the log phase: a request of the API, by its route, status and time */

ngx_int_t
ngx_http_cvc_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                 route, class, b;
    ngx_msec_int_t             ms;
    ngx_time_t                *tp;
    ngx_http_cvc_ctx_t        *ctx;
    ngx_http_cvc_loc_conf_t   *lcf;

    if (ngx_http_cvc_metrics == NULL || r != r->main) {
        return NGX_OK;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_cvc_module);

    if (!lcf->api && !lcf->ops) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_cvc_module);

    route = (ctx != NULL && ctx->route != NULL)
            ? ngx_http_cvc_route_number(ctx->route) : NGX_HTTP_CVC_MAX_ROUTES;

    /* as nginx's $status */

    class = r->err_status ? r->err_status : r->headers_out.status;
    class = (class >= 100 && class < 600) ? class / 100 - 1 : 4;

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    for (b = 0; b < NGX_HTTP_CVC_NBUCKETS; b++) {
        if ((ngx_msec_t) ms <= ngx_http_cvc_buckets[b]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&ngx_http_cvc_metrics->requests[route][class],
                                1);

    if (class == 1 && route < NGX_HTTP_CVC_MAX_ROUTES) {
        ngx_http_cvc_metrics_event(ctx->route);
    }
    (void) ngx_atomic_fetch_add(&ngx_http_cvc_metrics->latency[route][b], 1);
    (void) ngx_atomic_fetch_add(&ngx_http_cvc_metrics->latency_ms[route], ms);

    return NGX_OK;
}


/* a payment request's transition, by the route that made it (a 2xx) */

static void
ngx_http_cvc_metrics_event(const ngx_http_cvc_route_t *rt)
{
    ngx_uint_t  i;

    static const struct {
        ngx_http_cvc_route_handler_pt  handler;
        ngx_uint_t                     counter;
    } events[] = {
        { ngx_http_cvc_pr_create, NGX_HTTP_CVC_M_PR_CREATED },
        { ngx_http_cvc_customer_pay, NGX_HTTP_CVC_M_PR_PAID },
        { ngx_http_cvc_customer_refuse, NGX_HTTP_CVC_M_PR_REFUSED },
        { ngx_http_cvc_pr_confirm, NGX_HTTP_CVC_M_PR_CONFIRMED },
        { ngx_http_cvc_pr_cancel, NGX_HTTP_CVC_M_PR_CANCELLED }
    };

    for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        if (rt->handler == events[i].handler) {
            ngx_http_cvc_metrics_count(events[i].counter, 1);
            return;
        }
    }
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


/* a "cvc_metrics on" location has one route, whatever its path */

static const ngx_http_cvc_route_t  ngx_http_cvc_metrics_only = {
    NGX_HTTP_GET|NGX_HTTP_HEAD, "", ngx_http_cvc_metrics_handler,
    NGX_HTTP_CVC_PUBLIC
};


ngx_int_t
ngx_http_cvc_metrics_route(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_str_t *allow)
{
    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_str_set(allow, "GET, HEAD");
        return NGX_DECLINED;
    }

    ctx->route = &ngx_http_cvc_metrics_only;

    return NGX_OK;
}


/* GET at a "cvc_metrics on" location */

ngx_int_t
ngx_http_cvc_metrics_handler(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    if (ngx_http_cvc_metrics == NULL) {
        return ngx_http_cvc_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "No metrics here.", NULL);
    }

    return ngx_http_cvc_backends_read(r, ctx, ngx_http_cvc_metrics_send);
}


/* the outbox's families, by kind of message, from cvc.metrics_state() */

static u_char *
ngx_http_cvc_metrics_outbox(u_char *p, u_char *last, json_t *state)
{
    json_t       *outbox, *kind, *v;
    const char   *name;
    ngx_uint_t    i;

    static const char  *families[][3] = {
        { "cvc_outbox_pending", "pending",
          "Messages of the outbox not sent yet, by kind." },
        { "cvc_outbox_retrying", "retrying",
          "Messages of the outbox that failed at least once and wait to be "
          "tried again." },
        { "cvc_outbox_oldest_seconds", "oldest_seconds",
          "Age of the oldest message not sent yet." }
    };

    outbox = json_object_get(state, "outbox");

    for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        p = ngx_http_cvc_metrics_family(p, last, families[i][0], "gauge",
                                        families[i][2]);

        json_object_foreach(outbox, name, kind) {
            v = json_object_get(kind, families[i][1]);

            if (json_is_number(v)) {
                p = ngx_slprintf(p, last, "%s{kind=\"%s\"} %.3f\n",
                                 families[i][0], name, json_number_value(v));
            }
        }
    }

    return p;
}


/* the labels of the i-th route slot (the last: requests of no route);
 * NGX_DECLINED where no route has that number */

static ngx_int_t
ngx_http_cvc_metrics_labels(ngx_uint_t i, const char **method,
    const char **route)
{
    const ngx_http_cvc_route_t  *rt;

    if (i == NGX_HTTP_CVC_MAX_ROUTES) {
        *method = "";
        *route = "none";
        return NGX_OK;
    }

    rt = ngx_http_cvc_route_nth(i);

    if (rt == NULL) {
        return NGX_DECLINED;
    }

    *method = ngx_http_cvc_route_method(rt);
    *route = rt->pattern;

    return NGX_OK;
}


static ngx_int_t
ngx_http_cvc_metrics_send(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_http_cvc_backends_t *rd)
{
    u_char                         *p, *last;
    size_t                          size;
    ngx_str_t                       text;
    ngx_uint_t                      i, k, b, c, n, total;
    ngx_atomic_uint_t               g, cum;
    const char                     *prev, *method, *route;
    ngx_http_cvc_metrics_sh_t      *m;
    const ngx_http_cvc_metric_t    *mt;
    ngx_http_cvc_metrics_slot_t    *slot;

    static const char  *classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };
    static ngx_str_t    type =
                            ngx_string("text/plain; version=0.0.4; charset=utf-8");

    m = ngx_http_cvc_metrics;

    size = 64 * 1024 + (NGX_HTTP_CVC_MAX_ROUTES + 1)
                       * (NGX_HTTP_CVC_NCLASSES + NGX_HTTP_CVC_NBUCKETS + 3)
                       * 160;

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text.data = p;
    last = p + size;

    /* requests: by route template and status class, and their time */

    p = ngx_http_cvc_metrics_family(p, last, "cvc_http_requests_total",
                                    "counter", "Requests of the API, by route "
                                    "and status class.");

    for (i = 0; i <= NGX_HTTP_CVC_MAX_ROUTES; i++) {
        if (ngx_http_cvc_metrics_labels(i, &method, &route) != NGX_OK) {
            continue;
        }

        for (c = 0; c < NGX_HTTP_CVC_NCLASSES; c++) {
            if (m->requests[i][c] > 0) {
                p = ngx_slprintf(p, last, "cvc_http_requests_total{method="
                                 "\"%s\",route=\"%s\",status=\"%s\"} %uA\n",
                                 method, route, classes[c],
                                 m->requests[i][c]);
            }
        }
    }

    p = ngx_http_cvc_metrics_family(p, last,
                                    "cvc_http_request_duration_seconds",
                                    "histogram", "Time to answer a request "
                                    "of the API, by route.");

    for (i = 0; i <= NGX_HTTP_CVC_MAX_ROUTES; i++) {
        if (ngx_http_cvc_metrics_labels(i, &method, &route) != NGX_OK) {
            continue;
        }

        for (total = 0, b = 0; b <= NGX_HTTP_CVC_NBUCKETS; b++) {
            total += m->latency[i][b];
        }

        if (total == 0) {
            continue;
        }

        for (cum = 0, b = 0; b <= NGX_HTTP_CVC_NBUCKETS; b++) {
            cum += m->latency[i][b];
            p = ngx_slprintf(p, last, "cvc_http_request_duration_seconds_"
                             "bucket{method=\"%s\",route=\"%s\",le=\"%s\"} "
                             "%uA\n", method, route,
                             b < NGX_HTTP_CVC_NBUCKETS
                             ? ngx_http_cvc_bucket_names[b] : "+Inf", cum);
        }

        p = ngx_slprintf(p, last, "cvc_http_request_duration_seconds_sum"
                         "{method=\"%s\",route=\"%s\"} %uA.%03uA\n"
                         "cvc_http_request_duration_seconds_count"
                         "{method=\"%s\",route=\"%s\"} %ui\n",
                         method, route, m->latency_ms[i] / 1000,
                         m->latency_ms[i] % 1000, method, route, total);
    }

    /* the counters, a family at a time */

    prev = NULL;

    for (k = 0; k < NGX_HTTP_CVC_NCOUNTERS; k++) {
        mt = &ngx_http_cvc_counter_names[k];

        if (prev == NULL || ngx_strcmp(prev, mt->family) != 0) {
            p = ngx_http_cvc_metrics_family(p, last, mt->family, "counter",
                                            mt->help);
            prev = mt->family;
        }

        p = ngx_slprintf(p, last, "%s%s%s%s %uA\n", mt->family,
                         mt->labels[0] ? "{" : "", mt->labels,
                         mt->labels[0] ? "}" : "", m->counters[k]);
    }

    /* the gauges, summed over the live workers (this one's of now) */

    ngx_http_cvc_metrics_gauges();

    prev = NULL;

    for (k = 0; k < NGX_HTTP_CVC_NGAUGES; k++) {
        mt = &ngx_http_cvc_gauge_names[k];

        for (g = 0, n = 0; n < NGX_HTTP_CVC_METRICS_SLOTS; n++) {
            slot = &m->slots[n];

            if (slot->pid != 0
                && (kill((pid_t) slot->pid, 0) == 0 || errno != ESRCH))
            {
                g += slot->gauges[k];
            }
        }

        if (prev == NULL || ngx_strcmp(prev, mt->family) != 0) {
            p = ngx_http_cvc_metrics_family(p, last, mt->family, "gauge",
                                            mt->help);
            prev = mt->family;
        }

        p = ngx_slprintf(p, last, "%s%s%s%s %uA\n", mt->family,
                         mt->labels[0] ? "{" : "", mt->labels,
                         mt->labels[0] ? "}" : "", g);
    }

    /* what the backends told */

    p = ngx_http_cvc_metrics_family(p, last, "cvc_backend_up", "gauge",
                                    "1 where the backend answered the "
                                    "metrics' query.");
    p = ngx_slprintf(p, last, "cvc_backend_up{backend=\"postgres\"} %d\n"
                     "cvc_backend_up{backend=\"redis\"} %d\n",
                     rd->state != NULL, rd->timers_rc == NGX_OK);

    if (rd->timers_rc == NGX_OK) {
        p = ngx_http_cvc_metrics_family(p, last, "cvc_timers_due", "gauge",
                                        "Timers due now and not fired yet.");
        p = ngx_slprintf(p, last, "cvc_timers_due %i\n", rd->timers_due);
        p = ngx_http_cvc_metrics_family(p, last, "cvc_timers_late_seconds",
                                        "gauge", "How long the oldest due "
                                        "timer has waited.");
        p = ngx_slprintf(p, last, "cvc_timers_late_seconds %i.%03i\n",
                         rd->timers_late_ms / 1000, rd->timers_late_ms % 1000);
    }

    if (rd->state != NULL) {
        p = ngx_http_cvc_metrics_outbox(p, last, rd->state);
    }

    if (p == last) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "cvc metrics: the answer did not fit");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text.len = p - text.data;

    return ngx_http_cvc_send_body(r, NGX_HTTP_OK, &type, &text);
}


static u_char *
ngx_http_cvc_metrics_family(u_char *p, u_char *last, const char *family,
    const char *type, const char *help)
{
    return ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n", family,
                        help, family, type);
}


/*
 * CVC gateway: the metrics in Prometheus's text format (0.0.4), at a
 * location with "cvc_metrics on": the counters of the shared zone
 * (ngx_http_cvc_metrics.c), the gauges of the live workers, each refreshed
 * by its worker every second from its pools and its thread tasks, and what
 * only the backends know (timers due, the outbox), read from them when the
 * metrics are asked for.
 */


#include "ngx_http_cvc_metrics.h"


#define NGX_HTTP_CVC_METRICS_REFRESH  1000


static void ngx_http_cvc_prometheus_refresh(ngx_event_t *ev);
static void ngx_http_cvc_prometheus_gauges(void);
static ngx_int_t ngx_http_cvc_prometheus_send(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_http_cvc_backends_t *rd);
static u_char *ngx_http_cvc_prometheus_requests(u_char *p, u_char *last,
    ngx_http_cvc_metrics_sh_t *m);
static u_char *ngx_http_cvc_prometheus_latency(u_char *p, u_char *last,
    ngx_http_cvc_metrics_sh_t *m);
static u_char *ngx_http_cvc_prometheus_counters(u_char *p, u_char *last,
    ngx_http_cvc_metrics_sh_t *m);
static u_char *ngx_http_cvc_prometheus_workers(u_char *p, u_char *last,
    ngx_http_cvc_metrics_sh_t *m);
static u_char *ngx_http_cvc_prometheus_backends(u_char *p, u_char *last,
    ngx_http_cvc_backends_t *rd);
static u_char *ngx_http_cvc_prometheus_outbox(u_char *p, u_char *last,
    json_t *state);
static ngx_int_t ngx_http_cvc_prometheus_labels(ngx_uint_t i,
    const char **method, const char **route);
static u_char *ngx_http_cvc_prometheus_sample(u_char *p, u_char *last,
    const ngx_http_cvc_metric_t *mt, const char *type, const char **prev,
    ngx_atomic_uint_t value);
static u_char *ngx_http_cvc_prometheus_family(u_char *p, u_char *last,
    const char *family, const char *type, const char *help);


/* le of the latency buckets, as ngx_http_cvc_metrics.c's in ms */
static const char  *ngx_http_cvc_bucket_names[NGX_HTTP_CVC_NBUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5", "10"
};


static ngx_event_t  ngx_http_cvc_prometheus_timer;


/* the worker's gauges are refreshed every second */

void
ngx_http_cvc_prometheus_init_process(ngx_cycle_t *cycle)
{
    if (ngx_http_cvc_metrics_zone() == NULL) {
        return;
    }

    ngx_http_cvc_prometheus_timer.handler = ngx_http_cvc_prometheus_refresh;
    ngx_http_cvc_prometheus_timer.log = cycle->log;
    ngx_http_cvc_prometheus_timer.cancelable = 1;
    ngx_add_timer(&ngx_http_cvc_prometheus_timer,
                  NGX_HTTP_CVC_METRICS_REFRESH);
}


static void
ngx_http_cvc_prometheus_refresh(ngx_event_t *ev)
{
    ngx_http_cvc_prometheus_gauges();

    if (!ngx_exiting) {
        ngx_add_timer(ev, NGX_HTTP_CVC_METRICS_REFRESH);
    }
}


/* this worker's gauges, from its pools and its tasks */

static void
ngx_http_cvc_prometheus_gauges(void)
{
    ngx_uint_t  g[NGX_HTTP_CVC_NGAUGES];

    ngx_memzero(g, sizeof(g));

    ngx_http_cvc_pg_gauges(&g[NGX_HTTP_CVC_G_PG_BUSY],
                           &g[NGX_HTTP_CVC_G_PG_IDLE],
                           &g[NGX_HTTP_CVC_G_PG_CONNECTING],
                           &g[NGX_HTTP_CVC_G_PG_QUEUE]);
    ngx_http_cvc_redis_gauges(&g[NGX_HTTP_CVC_G_REDIS_OPEN],
                              &g[NGX_HTTP_CVC_G_REDIS_INFLIGHT]);
    ngx_http_cvc_task_gauges(&g[NGX_HTTP_CVC_G_TASKS_QUEUED_HASH],
                             &g[NGX_HTTP_CVC_G_TASKS_RUNNING_HASH]);

    ngx_http_cvc_metrics_set_gauges(g);
}


/* a "cvc_metrics on" location has one route, whatever its path */

static const ngx_http_cvc_route_t  ngx_http_cvc_metrics_only = {
    NGX_HTTP_GET|NGX_HTTP_HEAD, "", ngx_http_cvc_metrics_handler,
    NGX_HTTP_CVC_PUBLIC, 0
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
    if (ngx_http_cvc_metrics_zone() == NULL) {
        return ngx_http_cvc_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "No metrics here.", NULL);
    }

    return ngx_http_cvc_backends_read(r, ctx, ngx_http_cvc_prometheus_send);
}


static ngx_int_t
ngx_http_cvc_prometheus_send(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_http_cvc_backends_t *rd)
{
    u_char                     *p, *last;
    size_t                      size;
    ngx_str_t                   text;
    ngx_http_cvc_metrics_sh_t  *m;

    static ngx_str_t  type =
                          ngx_string("text/plain; version=0.0.4; charset=utf-8");

    m = ngx_http_cvc_metrics_zone();

    size = 64 * 1024 + (NGX_HTTP_CVC_MAX_ROUTES + 1)
                       * (NGX_HTTP_CVC_NCLASSES + NGX_HTTP_CVC_NBUCKETS + 3)
                       * 160;

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text.data = p;
    last = p + size;

    p = ngx_http_cvc_prometheus_requests(p, last, m);
    p = ngx_http_cvc_prometheus_latency(p, last, m);
    p = ngx_http_cvc_prometheus_counters(p, last, m);
    p = ngx_http_cvc_prometheus_workers(p, last, m);
    p = ngx_http_cvc_prometheus_backends(p, last, rd);

    if (p == last) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "cvc metrics: the answer did not fit");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text.len = p - text.data;

    return ngx_http_cvc_send_body(r, NGX_HTTP_OK, &type, &text);
}


/* requests: by route template and status class */

static u_char *
ngx_http_cvc_prometheus_requests(u_char *p, u_char *last,
    ngx_http_cvc_metrics_sh_t *m)
{
    ngx_uint_t   i, c;
    const char  *method, *route;

    static const char  *classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

    p = ngx_http_cvc_prometheus_family(p, last, "cvc_http_requests_total",
                                       "counter", "Requests of the API, by "
                                       "route and status class.");

    for (i = 0; i <= NGX_HTTP_CVC_MAX_ROUTES; i++) {
        if (ngx_http_cvc_prometheus_labels(i, &method, &route) != NGX_OK) {
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

    return p;
}


/* the time to answer, by route: a histogram */

static u_char *
ngx_http_cvc_prometheus_latency(u_char *p, u_char *last,
    ngx_http_cvc_metrics_sh_t *m)
{
    ngx_uint_t          i, b, total;
    const char         *method, *route;
    ngx_atomic_uint_t   cum;

    p = ngx_http_cvc_prometheus_family(p, last,
                                       "cvc_http_request_duration_seconds",
                                       "histogram", "Time to answer a "
                                       "request of the API, by route.");

    for (i = 0; i <= NGX_HTTP_CVC_MAX_ROUTES; i++) {
        if (ngx_http_cvc_prometheus_labels(i, &method, &route) != NGX_OK) {
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

    return p;
}


/* the counters, a family at a time */

static u_char *
ngx_http_cvc_prometheus_counters(u_char *p, u_char *last,
    ngx_http_cvc_metrics_sh_t *m)
{
    ngx_uint_t                    k;
    const char                   *prev;
    const ngx_http_cvc_metric_t  *mt;

    prev = NULL;

    for (k = 0; k < NGX_HTTP_CVC_NCOUNTERS; k++) {
        mt = &ngx_http_cvc_counter_names[k];

        p = ngx_http_cvc_prometheus_sample(p, last, mt, "counter", &prev,
                                           m->counters[k]);
    }

    return p;
}


/* the gauges, summed over the live workers (this one's of now) */

static u_char *
ngx_http_cvc_prometheus_workers(u_char *p, u_char *last,
    ngx_http_cvc_metrics_sh_t *m)
{
    ngx_uint_t                    k, n;
    const char                   *prev;
    ngx_atomic_uint_t             g;
    const ngx_http_cvc_metric_t  *mt;
    ngx_http_cvc_metrics_slot_t  *slot;

    ngx_http_cvc_prometheus_gauges();

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

        p = ngx_http_cvc_prometheus_sample(p, last, mt, "gauge", &prev, g);
    }

    return p;
}


/* what the backends told */

static u_char *
ngx_http_cvc_prometheus_backends(u_char *p, u_char *last,
    ngx_http_cvc_backends_t *rd)
{
    p = ngx_http_cvc_prometheus_family(p, last, "cvc_backend_up", "gauge",
                                       "1 where the backend answered the "
                                       "metrics' query.");
    p = ngx_slprintf(p, last, "cvc_backend_up{backend=\"postgres\"} %d\n"
                     "cvc_backend_up{backend=\"redis\"} %d\n",
                     rd->state != NULL, rd->timers_rc == NGX_OK);

    if (rd->timers_rc == NGX_OK) {
        p = ngx_http_cvc_prometheus_family(p, last, "cvc_timers_due",
                                           "gauge", "Timers due now and not "
                                           "fired yet.");
        p = ngx_slprintf(p, last, "cvc_timers_due %i\n", rd->timers_due);
        p = ngx_http_cvc_prometheus_family(p, last,
                                           "cvc_timers_late_seconds", "gauge",
                                           "How long the oldest due timer "
                                           "has waited.");
        p = ngx_slprintf(p, last, "cvc_timers_late_seconds %i.%03i\n",
                         rd->timers_late_ms / 1000, rd->timers_late_ms % 1000);
    }

    if (rd->state != NULL) {
        p = ngx_http_cvc_prometheus_outbox(p, last, rd->state);
    }

    return p;
}


/* the outbox's families, by kind of message, from cvc.metrics_state() */

static u_char *
ngx_http_cvc_prometheus_outbox(u_char *p, u_char *last, json_t *state)
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
        p = ngx_http_cvc_prometheus_family(p, last, families[i][0], "gauge",
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
ngx_http_cvc_prometheus_labels(ngx_uint_t i, const char **method,
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


/* a sample of a family of the table, after the family's HELP and TYPE when
 * it is the first of it (*prev: the family before) */

static u_char *
ngx_http_cvc_prometheus_sample(u_char *p, u_char *last,
    const ngx_http_cvc_metric_t *mt, const char *type, const char **prev,
    ngx_atomic_uint_t value)
{
    if (*prev == NULL || ngx_strcmp(*prev, mt->family) != 0) {
        p = ngx_http_cvc_prometheus_family(p, last, mt->family, type,
                                           mt->help);
        *prev = mt->family;
    }

    return ngx_slprintf(p, last, "%s%s%s%s %uA\n", mt->family,
                        mt->labels[0] ? "{" : "", mt->labels,
                        mt->labels[0] ? "}" : "", value);
}


static u_char *
ngx_http_cvc_prometheus_family(u_char *p, u_char *last, const char *family,
    const char *type, const char *help)
{
    return ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n", family,
                        help, family, type);
}


/*
 * CVC gateway: the metrics' counts.  Counters live in a shared memory zone,
 * added to with atomic operations by every worker (as
 * ngx_http_stub_status_module does), so they add up across workers and
 * survive a reload; gauges (the pools, the thread pool) are each worker's,
 * in a slot of its own.  Every file counts here: this one calls none of
 * them.  ngx_http_cvc_prometheus.c refreshes the gauges and serves it all.
 */


#include "ngx_http_cvc_metrics.h"


static ngx_int_t ngx_http_cvc_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


#define NGX_HTTP_CVC_METRIC(name, family, labels, help)                      \
    { family, labels, help },

const ngx_http_cvc_metric_t  ngx_http_cvc_counter_names[] = {
    NGX_HTTP_CVC_COUNTERS(NGX_HTTP_CVC_METRIC)
};

const ngx_http_cvc_metric_t  ngx_http_cvc_gauge_names[] = {
    NGX_HTTP_CVC_GAUGES(NGX_HTTP_CVC_METRIC)
};


/* le of the latency buckets, in ms */
static const ngx_msec_t  ngx_http_cvc_buckets[NGX_HTTP_CVC_NBUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static ngx_http_cvc_metrics_sh_t    *ngx_http_cvc_metrics;
static ngx_http_cvc_metrics_slot_t  *ngx_http_cvc_metrics_slot;


/* at configuration, where the module is on: the zone */

ngx_int_t
ngx_http_cvc_metrics_conf(ngx_conf_t *cf, ngx_http_cvc_main_conf_t *mcf)
{
    size_t             size;
    ngx_shm_zone_t    *zone;

    static ngx_str_t  name = ngx_string("cvc_metrics");

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
}


void
ngx_http_cvc_metrics_exit_process(void)
{
    if (ngx_http_cvc_metrics_slot != NULL) {
        ngx_http_cvc_metrics_slot->pid = 0;
        ngx_http_cvc_metrics_slot = NULL;
    }
}


/* the zone, NULL where the module is off */

ngx_http_cvc_metrics_sh_t *
ngx_http_cvc_metrics_zone(void)
{
    return ngx_http_cvc_metrics;
}


/* this worker's gauges, NGX_HTTP_CVC_NGAUGES of them */

void
ngx_http_cvc_metrics_set_gauges(ngx_uint_t *g)
{
    ngx_uint_t     k;
    ngx_atomic_t  *slot;

    if (ngx_http_cvc_metrics_slot == NULL) {
        return;
    }

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
            ? ctx->route_number : NGX_HTTP_CVC_MAX_ROUTES;

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

    /* a payment request's transition, by the route that made it */

    if (class == 1 && route < NGX_HTTP_CVC_MAX_ROUTES && ctx->route->event) {
        ngx_http_cvc_metrics_count(ctx->route->event - 1, 1);
    }

    (void) ngx_atomic_fetch_add(&ngx_http_cvc_metrics->latency[route][b], 1);
    (void) ngx_atomic_fetch_add(&ngx_http_cvc_metrics->latency_ms[route], ms);

    return NGX_OK;
}


/*
 * CVC gateway: what the two halves of the metrics share: the zone of
 * shared memory that ngx_http_cvc_metrics.c counts into and
 * ngx_http_cvc_prometheus.c reads, and the names of what it holds.
 */


#ifndef _NGX_HTTP_CVC_METRICS_H_INCLUDED_
#define _NGX_HTTP_CVC_METRICS_H_INCLUDED_


#include "ngx_http_cvc_module.h"


#define NGX_HTTP_CVC_METRICS_SLOTS    64
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


/* ngx_http_cvc_metrics.c */
extern const ngx_http_cvc_metric_t  ngx_http_cvc_counter_names[];
extern const ngx_http_cvc_metric_t  ngx_http_cvc_gauge_names[];
ngx_http_cvc_metrics_sh_t *ngx_http_cvc_metrics_zone(void);
void ngx_http_cvc_metrics_set_gauges(ngx_uint_t *g);


#endif /* _NGX_HTTP_CVC_METRICS_H_INCLUDED_ */

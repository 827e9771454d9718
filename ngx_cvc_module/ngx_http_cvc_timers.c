
/*
 * CVC gateway: timers.  Due times wait in a Redis sorted set (cvc:timers,
 * member "<kind>:<id>", score the due time in ms on the test clock).  Every
 * worker of every nginx node looks at it on an nginx timer and claims what
 * is due with one script (ZRANGEBYSCORE + ZREM), so a timer is taken by one
 * worker only; firing calls the SQL function of the transition, which
 * re-checks state and time, so a late or repeated firing changes nothing.
 *
 * PostgreSQL is the truth: one worker at a time (a Redis lock) sweeps it
 * for the timers due soon and puts them in the set, at start and then
 * periodically, so a Redis that lost its data delays nothing by more than
 * a sweep.
 */


#include "ngx_http_cvc_module.h"


#define NGX_HTTP_CVC_CLAIM_MAX  "32"


typedef struct {
    ngx_event_t                 tick;
    ngx_msec_t                  last_sweep;
    ngx_uint_t                  busy;
    ngx_http_cvc_main_conf_t   *mcf;
    ngx_log_t                  *log;
} ngx_http_cvc_timers_t;


typedef struct {
    ngx_http_cvc_pg_op_t       *op;
    u_char                      member[64];
    size_t                      len;
} ngx_http_cvc_timer_job_t;


static void ngx_http_cvc_timers_tick(ngx_event_t *ev);
static void ngx_http_cvc_timers_locked(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_http_cvc_timers_swept(void *data, ngx_int_t rc,
    PGresult *res);
static void ngx_http_cvc_timers_added(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_http_cvc_timers_claimed(void *data, ngx_int_t rc,
    redisReply *reply);
static void ngx_http_cvc_timers_fired(void *data, ngx_int_t rc,
    PGresult *res);
static void ngx_http_cvc_timers_done(void);
static void ngx_http_cvc_timers_count(ngx_http_cvc_timer_job_t *job,
    PGresult *res);


static ngx_http_cvc_timers_t  ngx_http_cvc_timers;

/* what the event's debug log takes ev->data for: a connection with no fd */
static ngx_connection_t  ngx_http_cvc_timers_conn;


ngx_int_t
ngx_http_cvc_timers_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf)
{
    ngx_event_t  *ev;

    if (!mcf->timers) {
        return NGX_OK;
    }

    ngx_http_cvc_timers.mcf = mcf;
    ngx_http_cvc_timers.log = cycle->log;

    ev = &ngx_http_cvc_timers.tick;
    ngx_http_cvc_timers_conn.fd = (ngx_socket_t) -1;

    ev->handler = ngx_http_cvc_timers_tick;
    ev->data = &ngx_http_cvc_timers_conn;
    ev->log = cycle->log;
    ev->cancelable = 1;

    /* the first tick sweeps: timers are rebuilt from PostgreSQL at start */

    ngx_add_timer(ev, 1);

    return NGX_OK;
}


static void
ngx_http_cvc_timers_tick(ngx_event_t *ev)
{
    ngx_str_t                  args[3];
    ngx_http_cvc_redis_cmd_t  *cmd;
    ngx_http_cvc_main_conf_t  *mcf;

    static ngx_str_t  one = ngx_string("1");
    static ngx_str_t  claim_max = ngx_string(NGX_HTTP_CVC_CLAIM_MAX);

    mcf = ngx_http_cvc_timers.mcf;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_add_timer(ev, mcf->timer_interval);

    if (ngx_http_cvc_timers.busy > 0) {
        return;     /* the last tick's work goes on */
    }

    /* the sweep, by one worker of all for each interval */

    if (ngx_http_cvc_timers.last_sweep == 0
        || ngx_current_msec - ngx_http_cvc_timers.last_sweep
           >= mcf->sweep_interval)
    {
        ngx_http_cvc_timers.last_sweep = ngx_current_msec;

        if (ngx_http_cvc_redis_lock(&cmd, &ngx_http_cvc_sweep_key, &one,
                                    mcf->sweep_interval,
                                    ngx_http_cvc_timers_locked, NULL)
            == NGX_AGAIN)
        {
            ngx_http_cvc_timers.busy++;
        }
    }

    /* what is due now */

    args[0] = ngx_http_cvc_clock_key;
    args[1] = ngx_http_cvc_timers_key;
    args[2] = claim_max;

    if (ngx_http_cvc_redis_eval(&cmd, ngx_http_cvc_lua_claim, 2, args, 3,
                                ngx_http_cvc_timers_claimed, NULL)
        == NGX_AGAIN)
    {
        ngx_http_cvc_timers.busy++;
    }
}


/* this worker sweeps: the timers due soon, from PostgreSQL */

static void
ngx_http_cvc_timers_locked(void *data, ngx_int_t rc, redisReply *reply)
{
    u_char                 horizon[NGX_INT_T_LEN + 16];
    ngx_str_t              param;
    ngx_http_cvc_pg_op_t  *op;

    if (rc != NGX_OK || reply->type != REDIS_REPLY_STATUS) {
        ngx_http_cvc_timers_done();
        return;
    }

    param.data = horizon;
    param.len = ngx_sprintf(horizon, "%M milliseconds",
                            2 * ngx_http_cvc_timers.mcf->sweep_interval
                            + 1000)
                - horizon;

    if (ngx_http_cvc_pg_query(&op, "select cvc.timers_due($1::interval)", 1,
                              &param, ngx_http_cvc_timers_swept, NULL)
        != NGX_AGAIN)
    {
        ngx_http_cvc_timers_done();
    }
}


static void
ngx_http_cvc_timers_swept(void *data, ngx_int_t rc, PGresult *res)
{
    u_char                    *num;
    size_t                     i, n;
    json_t                    *result, *due, *t, *clock;
    ngx_str_t                 *args;
    ngx_pool_t                *pool;
    ngx_http_cvc_redis_cmd_t  *cmd;

    if (rc != NGX_OK || PQresultStatus(res) != PGRES_TUPLES_OK
        || PQntuples(res) != 1)
    {
        ngx_http_cvc_timers_done();
        return;
    }

    result = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    due = json_object_get(result, "due");
    clock = json_object_get(result, "clock");
    n = json_array_size(due);

    pool = ngx_create_pool(4096, ngx_http_cvc_timers.log);

    args = pool ? ngx_palloc(pool, (3 + 2 * n) * sizeof(ngx_str_t)) : NULL;
    num = pool ? ngx_pnalloc(pool, (1 + n) * NGX_INT64_LEN) : NULL;

    if (result == NULL || args == NULL || num == NULL) {
        goto done;
    }

    /* KEYS: clock, timers; ARGV: the clock's ms or "", then due, member */

    args[0] = ngx_http_cvc_clock_key;
    args[1] = ngx_http_cvc_timers_key;
    args[2].data = num;
    args[2].len = json_is_integer(clock)
                  ? (size_t) (ngx_sprintf(num, "%L",
                                  (int64_t) json_integer_value(clock)) - num)
                  : 0;

    num += NGX_INT64_LEN;

    for (i = 0; i < n; i++, num += NGX_INT64_LEN) {
        t = json_array_get(due, i);

        args[3 + 2 * i].data = num;
        args[3 + 2 * i].len = ngx_sprintf(num, "%L", (int64_t)
                                  json_integer_value(json_array_get(t, 1)))
                              - num;

        args[4 + 2 * i].data = (u_char *) json_string_value(
                                              json_array_get(t, 0));
        args[4 + 2 * i].len = json_string_length(json_array_get(t, 0));
    }

    if (ngx_http_cvc_redis_eval(&cmd, ngx_http_cvc_lua_sweep, 2, args,
                                3 + 2 * n, ngx_http_cvc_timers_added, NULL)
        == NGX_AGAIN)
    {
        /* hiredis copied the arguments */

        ngx_destroy_pool(pool);
        json_decref(result);
        return;
    }

done:

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

    json_decref(result);
    ngx_http_cvc_timers_done();
}


static void
ngx_http_cvc_timers_added(void *data, ngx_int_t rc, redisReply *reply)
{
    ngx_http_cvc_timers_done();
}


/* what this worker claimed: fire each */

static void
ngx_http_cvc_timers_claimed(void *data, ngx_int_t rc, redisReply *reply)
{
    size_t                     i;
    ngx_str_t                  param;
    redisReply                *m;
    ngx_http_cvc_timer_job_t  *job;

    if (rc == NGX_OK && reply->type == REDIS_REPLY_ARRAY) {

        for (i = 0; i < reply->elements; i++) {
            m = reply->element[i];

            if (m->type != REDIS_REPLY_STRING || m->len >= 64) {
                continue;
            }

            ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_TIMERS_CLAIMED, 1);

            if (m->len > 7 && ngx_strncmp(m->str, "outbox:", 7) == 0) {
                ngx_http_cvc_timers.busy++;

                if (ngx_http_cvc_outbox_deliver((u_char *) m->str + 7,
                                                m->len - 7)
                    != NGX_AGAIN)
                {
                    ngx_http_cvc_timers_done();
                }

                continue;
            }

            job = ngx_alloc(sizeof(ngx_http_cvc_timer_job_t),
                            ngx_http_cvc_timers.log);
            if (job == NULL) {
                break;
            }

            job->len = m->len;
            ngx_memcpy(job->member, m->str, m->len);

            param.data = job->member;
            param.len = job->len;

            ngx_http_cvc_timers.busy++;

            if (ngx_http_cvc_pg_query(&job->op, "select cvc.fire_timer($1)",
                                      1, &param, ngx_http_cvc_timers_fired,
                                      job)
                != NGX_AGAIN)
            {
                ngx_log_error(NGX_LOG_WARN, ngx_http_cvc_timers.log, 0,
                              "cvc timers: \"%*s\" not fired now; the next "
                              "sweep brings it back", job->len, job->member);
                ngx_free(job);
                ngx_http_cvc_timers_done();
            }
        }
    }

    ngx_http_cvc_timers_done();
}


static void
ngx_http_cvc_timers_fired(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_cvc_timer_job_t  *job = data;

    if (rc != NGX_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_cvc_timers.log, 0,
                      "cvc timers: \"%*s\" failed: %s; the next sweep brings "
                      "it back", job->len, job->member,
                      res ? PQresultErrorMessage(res) : "no answer");

    } else if (!PQgetisnull(res, 0, 0)) {
        ngx_log_error(NGX_LOG_INFO, ngx_http_cvc_timers.log, 0,
                      "cvc timers: \"%*s\" fired", job->len, job->member);
        ngx_http_cvc_timers_count(job, res);
    }

    ngx_free(job);
    ngx_http_cvc_timers_done();
}


/* the metrics of a timer that fired: its kind, and an expiry */

static void
ngx_http_cvc_timers_count(ngx_http_cvc_timer_job_t *job, PGresult *res)
{
    json_t      *pr;
    ngx_uint_t   counter, expiry;
    const char  *status;

    static const struct {
        ngx_str_t   prefix;
        ngx_uint_t  counter;
    } kinds[] = {
        { ngx_string("pay:"), NGX_HTTP_CVC_M_TIMERS_FIRED_PAY },
        { ngx_string("deadline:"), NGX_HTTP_CVC_M_TIMERS_FIRED_DEADLINE },
        { ngx_string("remind:"), NGX_HTTP_CVC_M_TIMERS_FIRED_REMIND },
        { ngx_string("payout:"), NGX_HTTP_CVC_M_TIMERS_FIRED_PAYOUT }
    };

    for (counter = 0; counter < sizeof(kinds) / sizeof(kinds[0]); counter++) {
        if (job->len > kinds[counter].prefix.len
            && ngx_strncmp(job->member, kinds[counter].prefix.data,
                           kinds[counter].prefix.len) == 0)
        {
            break;
        }
    }

    if (counter == sizeof(kinds) / sizeof(kinds[0])) {
        return;
    }

    ngx_http_cvc_metrics_count(kinds[counter].counter, 1);

    /* a payment window or a validation deadline: expired, or validated */

    expiry = (kinds[counter].counter == NGX_HTTP_CVC_M_TIMERS_FIRED_PAY
              || kinds[counter].counter
                 == NGX_HTTP_CVC_M_TIMERS_FIRED_DEADLINE);

    if (!expiry) {
        return;
    }

    pr = json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0, NULL);

    status = json_string_value(json_object_get(pr, "status"));

    if (status != NULL && ngx_strcmp(status, "expired") == 0) {
        ngx_http_cvc_metrics_count(NGX_HTTP_CVC_M_PR_EXPIRED, 1);
    }

    json_decref(pr);
}


/* an operation of the tick ended (outbox deliveries report here too) */

void
ngx_http_cvc_timers_job_done(void)
{
    ngx_http_cvc_timers_done();
}


static void
ngx_http_cvc_timers_done(void)
{
    if (ngx_http_cvc_timers.busy > 0) {
        ngx_http_cvc_timers.busy--;
    }
}

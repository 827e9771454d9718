
/*
 * CVC gateway: the outbox's deliveries.  A due row is claimed in
 * PostgreSQL (with a lease, so a worker that dies gives it back), sent
 * from the thread pool with libcurl (SMTP to the relay of cvc_smtp, or an
 * HTTP POST to a webhook, signed), and its outcome recorded: sent, or
 * retried later with exponential back-off.  At least once, never on the
 * event loop.
 */


#include "ngx_http_cvc_outbox.h"


typedef struct {
    ngx_http_cvc_pg_op_t       *op;
    u_char                      id[NGX_INT64_LEN + 1];
    size_t                      id_len;
} ngx_http_cvc_claim_t;


static void ngx_http_cvc_outbox_claimed(void *data, ngx_int_t rc,
    PGresult *res);
static ngx_http_cvc_task_t *ngx_http_cvc_outbox_task(
    ngx_http_cvc_claim_t *claim, json_t *msg);
static void ngx_http_cvc_outbox_send(void *data);
static void ngx_http_cvc_outbox_sent(void *data, void *ctx);
static void ngx_http_cvc_outbox_count(ngx_http_cvc_delivery_t *d);
static void ngx_http_cvc_outbox_recorded(void *data, ngx_int_t rc,
    PGresult *res);
static char *ngx_http_cvc_outbox_copy(char **p, json_t *json,
    const char *name);


static ngx_log_t  *ngx_http_cvc_outbox_log;

/* told of the end of each delivery that ngx_http_cvc_outbox_deliver()
 * took (the timers' tick, which counts its jobs) */
static void       (*ngx_http_cvc_outbox_done)(void);


ngx_int_t
ngx_http_cvc_outbox_init_process(ngx_cycle_t *cycle, void (*done)(void))
{
    ngx_http_cvc_outbox_log = cycle->log;
    ngx_http_cvc_outbox_done = done;

    /* before any thread uses curl */

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "cvc: curl_global_init() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* outbox row id: claim, send, record; NGX_AGAIN: the timers hear the end */

ngx_int_t
ngx_http_cvc_outbox_deliver(u_char *id, size_t len)
{
    ngx_str_t              param;
    ngx_http_cvc_claim_t  *claim;

    if (len == 0 || len > NGX_INT64_LEN) {
        return NGX_ERROR;
    }

    claim = ngx_alloc(sizeof(ngx_http_cvc_claim_t), ngx_http_cvc_outbox_log);
    if (claim == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(claim->id, id, len);
    claim->id_len = len;

    param.data = claim->id;
    param.len = len;

    if (ngx_http_cvc_pg_query(&claim->op,
                              "select cvc.outbox_claim($1::bigint, "
                              "'5 minutes')", 1, &param,
                              ngx_http_cvc_outbox_claimed, claim)
        != NGX_AGAIN)
    {
        ngx_free(claim);
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_http_cvc_outbox_claimed(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_cvc_claim_t  *claim = data;

    json_t               *msg;
    ngx_http_cvc_task_t  *task;

    msg = NULL;
    task = NULL;

    /* none: not due, taken by another worker, or waiting its turn */

    if (rc == NGX_OK && PQresultStatus(res) == PGRES_TUPLES_OK
        && !PQgetisnull(res, 0, 0))
    {
        msg = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    }

    if (msg != NULL) {
        task = ngx_http_cvc_outbox_task(claim, msg);
    }

    json_decref(msg);
    ngx_free(claim);

    if (task == NULL || ngx_http_cvc_task_post(task) != NGX_AGAIN) {
        ngx_http_cvc_outbox_done();
    }
}


/* the thread gets copies of what it sends, in the task */

static ngx_http_cvc_task_t *
ngx_http_cvc_outbox_task(ngx_http_cvc_claim_t *claim, json_t *msg)
{
    char                      *p;
    size_t                     size;
    json_t                    *value;
    const char                *key;
    ngx_http_cvc_task_t       *task;
    ngx_http_cvc_delivery_t   *d;
    ngx_http_cvc_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_cvc_module);

    size = sizeof(ngx_http_cvc_delivery_t) + mcf->smtp.len + 1
           + mcf->mail_from.len + 1;

    json_object_foreach(msg, key, value) {
        if (json_is_string(value)) {
            size += json_string_length(value) + 1;
        }
    }

    task = ngx_http_cvc_task_alloc(NGX_HTTP_CVC_TASK_MAIL, size);
    if (task == NULL) {
        return NULL;
    }

    d = task->ctx;
    p = (char *) (d + 1);

    ngx_memcpy(d->id, claim->id, claim->id_len);
    d->id_len = claim->id_len;

    d->smtp = p;
    p = (char *) ngx_cpymem(p, mcf->smtp.data, mcf->smtp.len);
    *p++ = '\0';
    d->from = p;
    p = (char *) ngx_cpymem(p, mcf->mail_from.data, mcf->mail_from.len);
    *p++ = '\0';

    d->webhook = (ngx_strcmp(json_string_value(json_object_get(msg, "kind")),
                             "webhook") == 0);

    if (d->webhook) {
        task->kind = NGX_HTTP_CVC_TASK_WEBHOOK;
    }

    d->to = ngx_http_cvc_outbox_copy(&p, msg, "to");
    d->subject = ngx_http_cvc_outbox_copy(&p, msg, "subject");
    d->text = ngx_http_cvc_outbox_copy(&p, msg, "text");
    d->html = ngx_http_cvc_outbox_copy(&p, msg, "html");
    d->url = ngx_http_cvc_outbox_copy(&p, msg, "url");
    d->body = ngx_http_cvc_outbox_copy(&p, msg, "body");
    d->secret = ngx_http_cvc_outbox_copy(&p, msg, "secret");
    d->allow = mcf->webhook_allow;

    task->work = ngx_http_cvc_outbox_send;
    task->done = ngx_http_cvc_outbox_sent;
    task->data = NULL;

    return task;
}


/* in a thread */

static void
ngx_http_cvc_outbox_send(void *data)
{
    ngx_http_cvc_delivery_t  *d = data;

    CURL  *curl;

    curl = curl_easy_init();
    if (curl == NULL) {
        ngx_cpystrn((u_char *) d->error, (u_char *) "curl_easy_init() failed",
                    sizeof(d->error));
        return;
    }

    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, d->error);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);

    if (d->webhook) {
        ngx_http_cvc_webhook_send(d, curl);

    } else {
        ngx_http_cvc_mail_send(d, curl);
    }

    curl_easy_cleanup(curl);
}


/* the metrics of a delivery */

static void
ngx_http_cvc_outbox_count(ngx_http_cvc_delivery_t *d)
{
    if (!d->webhook) {
        ngx_http_cvc_metrics_count(d->ok ? NGX_HTTP_CVC_M_OUTBOX_SENT_EMAIL
                                         : NGX_HTTP_CVC_M_OUTBOX_FAILED_EMAIL,
                                   1);
        return;
    }

    ngx_http_cvc_metrics_count(d->ok ? NGX_HTTP_CVC_M_OUTBOX_SENT_WEBHOOK
                                     : NGX_HTTP_CVC_M_OUTBOX_FAILED_WEBHOOK,
                               1);

    ngx_http_cvc_metrics_count(d->ok ? NGX_HTTP_CVC_M_WEBHOOK_DELIVERED
                               : d->refused[0] ? NGX_HTTP_CVC_M_WEBHOOK_REFUSED
                               : d->timedout ? NGX_HTTP_CVC_M_WEBHOOK_TIMEOUT
                               : d->status > 0
                                 ? NGX_HTTP_CVC_M_WEBHOOK_HTTP_ERROR
                               : NGX_HTTP_CVC_M_WEBHOOK_ERROR, 1);
}


/* back on the event loop: the outcome goes to PostgreSQL */

static void
ngx_http_cvc_outbox_sent(void *data, void *ctx)
{
    ngx_http_cvc_delivery_t  *d = ctx;

    u_char                 status[NGX_INT_T_LEN];
    ngx_str_t              params[4];
    ngx_http_cvc_pg_op_t  *op;

    ngx_http_cvc_outbox_count(d);

    if (d->ok) {
        ngx_log_error(NGX_LOG_INFO, ngx_http_cvc_outbox_log, 0,
                      "cvc outbox: %*s delivered", d->id_len, d->id);

    } else {
        ngx_log_error(NGX_LOG_WARN, ngx_http_cvc_outbox_log, 0,
                      "cvc outbox: %*s not delivered: %s; retried later",
                      d->id_len, d->id, d->error);
    }

    params[0].data = d->id;
    params[0].len = d->id_len;
    ngx_str_set(&params[1], "false");

    if (d->ok) {
        ngx_str_set(&params[1], "true");
    }

    params[2].data = status;
    params[2].len = ngx_sprintf(status, "%l", d->status) - status;
    params[3].data = (u_char *) d->error;
    params[3].len = ngx_strlen(d->error);

    if (ngx_http_cvc_pg_query(&op,
                              "select cvc.outbox_done($1::bigint, "
                              "$2::boolean, $3::int, $4)", 4, params,
                              ngx_http_cvc_outbox_recorded, NULL)
        != NGX_AGAIN)
    {
        /* the lease ends, and the row is tried again */
        ngx_http_cvc_outbox_done();
    }
}


static void
ngx_http_cvc_outbox_recorded(void *data, ngx_int_t rc, PGresult *res)
{
    ngx_http_cvc_outbox_done();
}


static char *
ngx_http_cvc_outbox_copy(char **p, json_t *json, const char *name)
{
    char    *copy;
    json_t  *v;

    v = json_object_get(json, name);

    if (!json_is_string(v)) {
        return NULL;
    }

    copy = *p;
    ngx_memcpy(copy, json_string_value(v), json_string_length(v));
    copy[json_string_length(v)] = '\0';
    *p += json_string_length(v) + 1;

    return copy;
}


/*
 * CVC gateway: the Cheque-Vacances Connect payment-request API inline in
 * nginx.  The one header shared by the module's files.
 */


#ifndef _NGX_HTTP_CVC_MODULE_H_INCLUDED_
#define _NGX_HTTP_CVC_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include <libpq-fe.h>
#include <hiredis/hiredis.h>
#include <jansson.h>


#define NGX_HTTP_CVC_VERSION            "0.1.0"
/* the newest migration (sql/migrations) this code needs; t/046 checks */
#define NGX_HTTP_CVC_SCHEMA             "0008"

#define NGX_HTTP_CVC_MAX_BODY           65536
#define NGX_HTTP_CVC_REQUEST_ID_LEN     128
#define NGX_HTTP_CVC_MAX_PARAMS         16
#define NGX_HTTP_CVC_MAX_AMOUNT         10000000
#define NGX_HTTP_CVC_EMAIL_MAX          254     /* bytes: RFC 5321 */


typedef struct ngx_http_cvc_pg_op_s     ngx_http_cvc_pg_op_t;
typedef struct ngx_http_cvc_redis_cmd_s ngx_http_cvc_redis_cmd_t;
typedef struct ngx_http_cvc_task_s      ngx_http_cvc_task_t;
typedef struct ngx_http_cvc_ctx_s       ngx_http_cvc_ctx_t;


/*
 * A backend operation calls its handler exactly once, unless the caller
 * detached it first.  rc is NGX_OK with a result, or NGX_ERROR when the
 * backend failed or timed out (res/reply is NULL then).
 */
typedef void (*ngx_http_cvc_pg_handler_pt)(void *data, ngx_int_t rc,
    PGresult *res);
typedef void (*ngx_http_cvc_redis_handler_pt)(void *data, ngx_int_t rc,
    redisReply *reply);


/*
 * Work for the thread pool: work() runs in a thread on ctx alone (copies of
 * its inputs, room for its outputs); done() runs back on the event loop
 * with the caller's data, unless the caller detached the task.  cleanup(),
 * where set, runs on the event loop whenever the task is freed, detached
 * or not (after done(), or when it could not be posted): it gives back
 * what ctx holds (descriptors, connections).
 */
typedef void (*ngx_http_cvc_task_work_pt)(void *ctx);
typedef void (*ngx_http_cvc_hash_handler_pt)(void *data, ngx_int_t rc,
    ngx_str_t *hash);
typedef void (*ngx_http_cvc_task_done_pt)(void *data, void *ctx);
typedef void (*ngx_http_cvc_task_cleanup_pt)(void *ctx);
typedef void (*ngx_http_cvc_destination_pt)(void *data, ngx_int_t rc,
    const char *why);

/* what a task does, for the metrics */
enum {
    NGX_HTTP_CVC_TASK_HASH = 0,
    NGX_HTTP_CVC_TASK_EXPORT,
    NGX_HTTP_CVC_TASK_MAIL,
    NGX_HTTP_CVC_TASK_WEBHOOK,
    NGX_HTTP_CVC_TASK_RESOLVE,
    NGX_HTTP_CVC_NTASKS
};

struct ngx_http_cvc_task_s {
    ngx_uint_t                     kind;
    ngx_http_cvc_task_work_pt      work;
    ngx_http_cvc_task_done_pt      done;
    ngx_http_cvc_task_cleanup_pt   cleanup;
    void                          *data;
    void                          *ctx;
    ngx_thread_task_t             *thread;
    ngx_event_t                    guard;   /* keeps an exiting worker */
};


typedef struct {
    ngx_str_t                   conninfo;
    ngx_uint_t                  size;
    ngx_uint_t                  queue;
} ngx_http_cvc_pg_conf_t;


typedef struct {
    ngx_str_t                   host;
    in_port_t                   port;
    ngx_uint_t                  size;
    ngx_str_t                   password;   /* cvc_redis_password_file */
} ngx_http_cvc_redis_conf_t;


typedef struct {
    ngx_http_cvc_pg_conf_t      pg;
    ngx_http_cvc_redis_conf_t   redis;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  query_timeout;
    ngx_str_t                   thread_pool_name;
    ngx_thread_pool_t          *thread_pool;
    ngx_uint_t                  export_connections;
    ngx_uint_t                  export_max;
    ngx_uint_t                  export_queue;
    ngx_msec_t                  session_idle;
    ngx_msec_t                  session_max;
    ngx_msec_t                  pay_window;
    ngx_uint_t                  secret_rate;    /* checks/min an account */
    ngx_str_t                   payment_code_key;
    ngx_flag_t                  timers;
    ngx_msec_t                  timer_interval;
    ngx_msec_t                  sweep_interval;
    ngx_str_t                   smtp;
    ngx_str_t                   mail_from;
    ngx_uint_t                  validation_expiry;
    ngx_flag_t                  cookie_secure;
    ngx_flag_t                  test_clock;
    ngx_str_t                   public_url;
    ngx_array_t                *webhook_allow;  /* of ngx_cidr_t, or NULL */
    ngx_flag_t                  enabled;
} ngx_http_cvc_main_conf_t;


typedef struct {
    ngx_flag_t                  api;
    ngx_flag_t                  ops;
    ngx_flag_t                  metrics;
    ngx_str_t                   ops_token;
} ngx_http_cvc_loc_conf_t;


typedef ngx_int_t (*ngx_http_cvc_route_handler_pt)(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
typedef ngx_int_t (*ngx_http_cvc_pg_next_pt)(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result);
typedef ngx_int_t (*ngx_http_cvc_redis_next_pt)(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, redisReply *reply);
typedef ngx_int_t (*ngx_http_cvc_hash_next_pt)(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t rc, ngx_str_t *hash);
typedef ngx_int_t (*ngx_http_cvc_step_pt)(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);


/*
 * A secret checked against the 3-strike rule (passwords, payment codes):
 * the try is let in by Redis only while fewer than 3 are wrong or being
 * checked, hashed, and its end counted; then right() goes on, wrong()
 * records the failure (tries: the wrong ones in a row) and answers,
 * locked() answers that no try is left.  An empty key: an unknown
 * account, hashed all the same and always wrong.
 */
typedef struct {
    ngx_str_t                       account;    /* "customer:1234..." */
    ngx_str_t                       key;        /* the count of wrong tries */
    ngx_str_t                       trying;     /* the tries being checked */
    ngx_str_t                       secret;
    ngx_str_t                       hash;
    ngx_str_t                      *code_key;   /* a payment code's */
    ngx_int_t                       tries;
    unsigned                        ok:1;
    unsigned                        rehash:1;   /* a right scrypt code */
    ngx_http_cvc_step_pt            right;
    ngx_http_cvc_step_pt            wrong;
    ngx_http_cvc_step_pt            locked;
} ngx_http_cvc_strike_t;


/* the 3 strikes (ngx_http_cvc_strike.c): wrong tries in a row are kept a
 * month, tries being checked a minute at most */
#define NGX_HTTP_CVC_STRIKES            3
#define NGX_HTTP_CVC_STRIKES_STR        "3"
#define NGX_HTTP_CVC_FAIL_LIFE          "2592000000"
#define NGX_HTTP_CVC_TRYING_LIFE        "60000"


/* a password-reset link lives an hour */
#define NGX_HTTP_CVC_RESET_LIFE         "3600000"


/* the prefixes of Redis's keys; ngx_http_cvc_keys.c says what each holds */
#define NGX_HTTP_CVC_KEY_SESSION        "cvc:session:"
#define NGX_HTTP_CVC_KEY_SESSIONS       "cvc:sessions:"
#define NGX_HTTP_CVC_KEY_STRIKES        "cvc:strikes:"
#define NGX_HTTP_CVC_KEY_CODE_STRIKES   "cvc:strikes:payment_code:"
#define NGX_HTTP_CVC_KEY_TRYING         "cvc:trying:"
#define NGX_HTTP_CVC_KEY_CHECKS         "cvc:checks:"
#define NGX_HTTP_CVC_KEY_RESET          "cvc:reset:"
#define NGX_HTTP_CVC_KEY_RESET_OF       "cvc:reset-of:"
#define NGX_HTTP_CVC_KEY_EXPORT         "cvc:export:"


/*
 * The counters of the metrics (ngx_http_cvc_metrics.c): a name, the family
 * it is a series of, its labels, the family's help (on its first series).
 */
#define NGX_HTTP_CVC_COUNTERS(X)                                             \
    X(PG_QUERIES, "cvc_postgres_queries_total", "",                          \
      "Queries sent to PostgreSQL.")                                         \
    X(PG_WAITS, "cvc_postgres_waits_total", "",                              \
      "Queries that waited in the queue for a connection.")                  \
    X(PG_TIMEOUTS, "cvc_postgres_timeouts_total", "",                        \
      "Queries that timed out (cvc_query_timeout).")                         \
    X(PG_QUEUE_FULL, "cvc_postgres_queue_full_total", "",                    \
      "Queries refused at once: the queue was full (cvc_postgres_queue).")   \
    X(PG_CONNECTS, "cvc_postgres_connects_total", "",                        \
      "Connections opened, reconnects included.")                            \
    X(PG_CONNECT_FAILURES, "cvc_postgres_connect_failures_total", "",        \
      "Connections that could not be opened, or were lost.")                 \
    X(REDIS_COMMANDS, "cvc_redis_commands_total", "",                        \
      "Commands sent to Redis.")                                             \
    X(REDIS_TIMEOUTS, "cvc_redis_timeouts_total", "",                        \
      "Commands that timed out (cvc_query_timeout).")                        \
    X(REDIS_UNREACHABLE, "cvc_redis_unreachable_total", "",                  \
      "Commands refused at once: no connection to Redis.")                   \
    X(REDIS_CONNECTS, "cvc_redis_connects_total", "",                        \
      "Connections opened, reconnects included.")                            \
    X(REDIS_CONNECT_FAILURES, "cvc_redis_connect_failures_total", "",        \
      "Connections that could not be opened, or were lost.")                 \
    X(TIMERS_CLAIMED, "cvc_timers_claimed_total", "",                        \
      "Due timers that this node took from Redis.")                          \
    X(TIMERS_FIRED_PAY, "cvc_timers_fired_total", "kind=\"pay\"",            \
      "Timers whose transition was made, by kind.")                          \
    X(TIMERS_FIRED_DEADLINE, "cvc_timers_fired_total", "kind=\"deadline\"", \
      "")                                                                    \
    X(TIMERS_FIRED_REMIND, "cvc_timers_fired_total", "kind=\"remind\"", "")  \
    X(TIMERS_FIRED_PAYOUT, "cvc_timers_fired_total", "kind=\"payout\"", "")  \
    X(OUTBOX_SENT_EMAIL, "cvc_outbox_sent_total", "kind=\"email\"",          \
      "Messages of the outbox delivered, by kind.")                          \
    X(OUTBOX_SENT_WEBHOOK, "cvc_outbox_sent_total", "kind=\"webhook\"", "")  \
    X(OUTBOX_FAILED_EMAIL, "cvc_outbox_failed_total", "kind=\"email\"",      \
      "Delivery attempts that failed, by kind; each is tried again later.")  \
    X(OUTBOX_FAILED_WEBHOOK, "cvc_outbox_failed_total", "kind=\"webhook\"",  \
      "")                                                                    \
    X(WEBHOOK_DELIVERED, "cvc_webhook_deliveries_total",                     \
      "result=\"delivered\"", "Webhook delivery attempts, by result.")      \
    X(WEBHOOK_HTTP_ERROR, "cvc_webhook_deliveries_total",                    \
      "result=\"http_error\"", "")                                          \
    X(WEBHOOK_REFUSED, "cvc_webhook_deliveries_total", "result=\"refused\"", \
      "")                                                                    \
    X(WEBHOOK_TIMEOUT, "cvc_webhook_deliveries_total", "result=\"timeout\"", \
      "")                                                                    \
    X(WEBHOOK_ERROR, "cvc_webhook_deliveries_total", "result=\"error\"", "") \
    X(PR_CREATED, "cvc_payment_requests_total", "event=\"created\"",         \
      "Payment requests created, paid, ... through this node, by event.")    \
    X(PR_PAID, "cvc_payment_requests_total", "event=\"paid\"", "")           \
    X(PR_REFUSED, "cvc_payment_requests_total", "event=\"refused\"", "")     \
    X(PR_CONFIRMED, "cvc_payment_requests_total", "event=\"confirmed\"", "") \
    X(PR_CANCELLED, "cvc_payment_requests_total", "event=\"cancelled\"", "") \
    X(PR_EXPIRED, "cvc_payment_requests_total", "event=\"expired\"", "")     \
    X(PAID_CENTS, "cvc_paid_cents_total", "",                                \
      "What customers paid through this node, in cents.")

#define NGX_HTTP_CVC_COUNTER_ENUM(name, family, labels, help)                \
    NGX_HTTP_CVC_M_##name,

enum {
    NGX_HTTP_CVC_COUNTERS(NGX_HTTP_CVC_COUNTER_ENUM)
    NGX_HTTP_CVC_NCOUNTERS
};

#define NGX_HTTP_CVC_MAX_ROUTES  96


/* who may call a route */
#define NGX_HTTP_CVC_PUBLIC     0x00
#define NGX_HTTP_CVC_ADMIN      0x01
#define NGX_HTTP_CVC_POS        0x02
#define NGX_HTTP_CVC_API_KEY    0x04
#define NGX_HTTP_CVC_CUSTOMER   0x08
#define NGX_HTTP_CVC_OPS        0x10
#define NGX_HTTP_CVC_CLOCK      0x30    /* ops, where cvc_test_clock is on */

#define NGX_HTTP_CVC_MERCHANT   (NGX_HTTP_CVC_ADMIN|NGX_HTTP_CVC_POS)
#define NGX_HTTP_CVC_PARTNER    (NGX_HTTP_CVC_MERCHANT|NGX_HTTP_CVC_API_KEY)
#define NGX_HTTP_CVC_ANYONE     (NGX_HTTP_CVC_PARTNER|NGX_HTTP_CVC_CUSTOMER)


/* the payment-request event a route's 2xx is, for the metrics (0: none) */
#define NGX_HTTP_CVC_EVENT(name)  (NGX_HTTP_CVC_M_##name + 1)

typedef struct {
    ngx_uint_t                      methods;
    const char                     *pattern;
    ngx_http_cvc_route_handler_pt   handler;
    ngx_uint_t                      callers;
    ngx_uint_t                      event;
} ngx_http_cvc_route_t;


/* a column of an export: its header, and whether it holds cents */
typedef struct {
    const char                     *name;
    ngx_uint_t                      cents;
} ngx_http_cvc_column_t;


/* a query-string parameter of a list */
#define NGX_HTTP_CVC_PARAM_TEXT     0
#define NGX_HTTP_CVC_PARAM_DIGITS   1
#define NGX_HTTP_CVC_PARAM_ENUM     2
#define NGX_HTTP_CVC_PARAM_DATE     3
#define NGX_HTTP_CVC_PARAM_INT      4

typedef struct {
    const char                     *name;
    ngx_uint_t                      type;
    size_t                          min;
    size_t                          max;
    const char *const              *values;
    unsigned                        repeat:1;
} ngx_http_cvc_param_t;


/* the authenticated caller */
typedef struct {
    ngx_uint_t                      kind;       /* NGX_HTTP_CVC_ADMIN, ... */
    ngx_str_t                       kind_name;  /* "admin", ... */
    ngx_str_t                       id;
    ngx_str_t                       convention;
    ngx_str_t                       point_of_sale;  /* of an API key */
    ngx_str_t                       account;    /* "admin:123456" */
    ngx_str_t                       session;    /* its Redis key */
    ngx_str_t                       csrf;
    ngx_str_t                       expires;    /* ms, of the session */
} ngx_http_cvc_principal_t;


/* per request */
struct ngx_http_cvc_ctx_s {
    ngx_http_request_t             *request;
    ngx_str_t                       request_id;
    const ngx_http_cvc_route_t     *route;
    ngx_uint_t                      route_number;   /* in the table */
    ngx_str_t                       params[NGX_HTTP_CVC_MAX_PARAMS];
    ngx_uint_t                      nparams;
    json_t                         *body;
    ngx_http_cvc_principal_t        principal;
    unsigned                        cookie:1;   /* the credential came so */

    /* the backend operations in flight, detached if the request goes */
    ngx_http_cvc_pg_op_t           *pg_op;
    ngx_http_cvc_redis_cmd_t       *redis_cmd;
    ngx_http_cvc_task_t            *task;
    ngx_http_cvc_strike_t          *strike;
    ngx_queue_t                     health;     /* waiting for a probe */
    unsigned                        health_waiting:1;

    /* the status of a call's answer (ngx_http_cvc_call()) */
    ngx_uint_t                      status;
    /* the step after a backend's, of the kind of that backend */
    ngx_http_cvc_pg_next_pt         pg_next;
    ngx_http_cvc_redis_next_pt      redis_next;
    ngx_http_cvc_hash_next_pt       hash_next;
    void                          (*authenticated)(ngx_http_request_t *r);
    void                           *data;
};


extern ngx_module_t  ngx_http_cvc_module;


/* ngx_http_cvc_handler.c */
ngx_int_t ngx_http_cvc_handler(ngx_http_request_t *r);
/* the caller is known: the body, then the route's handler */
void ngx_http_cvc_proceed(ngx_http_request_t *r);

/* ngx_http_cvc_request.c */
ngx_int_t ngx_http_cvc_ctx_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_cvc_parse_body(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_int_t *rc);
ngx_int_t ngx_http_cvc_json_content_type(ngx_http_request_t *r);
ngx_int_t ngx_http_cvc_set_request_id(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_bearer(ngx_http_request_t *r, ngx_str_t *token);
ngx_int_t ngx_http_cvc_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
void ngx_http_cvc_client_params(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_str_t *params);
void ngx_http_cvc_principal_params(ngx_http_cvc_ctx_t *ctx,
    ngx_str_t *params);

/* ngx_http_cvc_response.c */
extern ngx_str_t  ngx_http_cvc_json_type;
ngx_int_t ngx_http_cvc_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_cvc_send_json(ngx_http_request_t *r, ngx_uint_t status,
    json_t *json);
ngx_int_t ngx_http_cvc_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_str_t *text);
ngx_int_t ngx_http_cvc_send_file(ngx_http_request_t *r, ngx_fd_t fd,
    off_t size, ngx_str_t *type, ngx_str_t *filename);
ngx_int_t ngx_http_cvc_send_raw(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *text);
ngx_int_t ngx_http_cvc_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, json_t *extra);
ngx_int_t ngx_http_cvc_send_unavailable(ngx_http_request_t *r,
    const char *what);
ngx_int_t ngx_http_cvc_send_invalid(ngx_http_request_t *r, json_t *fields);
ngx_int_t ngx_http_cvc_send_rate_limited(ngx_http_request_t *r,
    const char *message, ngx_uint_t retry_after);
ngx_int_t ngx_http_cvc_send_no_content(ngx_http_request_t *r);
ngx_int_t ngx_http_cvc_bad_parameter(ngx_http_request_t *r, const char *name);
ngx_int_t ngx_http_cvc_internal_error(ngx_http_request_t *r, ngx_int_t rc);
void ngx_http_cvc_finalize(ngx_http_request_t *r, ngx_int_t rc);

/* ngx_http_cvc_router.c */
const ngx_http_cvc_route_t *ngx_http_cvc_route_nth(ngx_uint_t n);
const char *ngx_http_cvc_route_method(const ngx_http_cvc_route_t *rt);
ngx_int_t ngx_http_cvc_route(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_flag_t ops, ngx_str_t *allow);

/* ngx_http_cvc_json.c */
json_t *ngx_http_cvc_json_parse(u_char *data, size_t len, ngx_str_t *error,
    ngx_pool_t *pool);
u_char *ngx_http_cvc_json_dump(ngx_pool_t *pool, json_t *json, size_t *len);
json_t *ngx_http_cvc_json_unknown_fields(json_t *body,
    const char *const *allowed);
const char *ngx_http_cvc_json_string(json_t *body, const char *name,
    size_t min, size_t max, ngx_flag_t required, json_t *errors);
const char *ngx_http_cvc_json_digits(json_t *body, const char *name, size_t n,
    ngx_flag_t required, json_t *errors);
const char *ngx_http_cvc_json_email(json_t *body, const char *name,
    ngx_flag_t required, json_t *errors);
ngx_int_t ngx_http_cvc_json_int(json_t *body, const char *name,
    json_int_t min, json_int_t max, ngx_flag_t required, json_t *errors,
    json_int_t *value);
void ngx_http_cvc_json_param(json_t *body, const char *name,
    ngx_str_t *param);
ngx_int_t ngx_http_cvc_json_member(ngx_pool_t *pool, json_t *json,
    const char *name, ngx_str_t *value);
ngx_flag_t ngx_http_cvc_is_digits(const char *s, size_t len, size_t n);
u_char *ngx_http_cvc_time_json(u_char *buf, int64_t ms);
ngx_flag_t ngx_http_cvc_is_date(u_char *p, size_t len);
ngx_int_t ngx_http_cvc_json_pool(ngx_pool_t *pool, json_t *json);
ngx_int_t ngx_http_cvc_json_bool(json_t *body, const char *name,
    json_t *errors);
const char *ngx_http_cvc_json_enum(json_t *body, const char *name,
    const char *const *values, ngx_flag_t required, json_t *errors);
ngx_flag_t ngx_http_cvc_is_time(const char *s);
u_char *ngx_http_cvc_cstr(u_char *buf, size_t size, const char *fmt, ...);

/* ngx_http_cvc_query.c */
extern const char  *ngx_http_cvc_statuses[];
extern const char  *ngx_http_cvc_formats[];
json_t *ngx_http_cvc_query_params(ngx_http_request_t *r,
    const ngx_http_cvc_param_t *spec, const char **bad);
ngx_int_t ngx_http_cvc_query(ngx_http_request_t *r,
    const ngx_http_cvc_param_t *spec, json_t *params, const char **bad);
void ngx_http_cvc_page_params(ngx_http_request_t *r, json_t *params,
    ngx_str_t *cursor, ngx_str_t *limit);

/* ngx_http_cvc_event.c */
ngx_connection_t *ngx_http_cvc_conn_get(ngx_socket_t fd,
    ngx_event_handler_pt handler, void *data, ngx_log_t *log);
ngx_int_t ngx_http_cvc_conn_want(ngx_connection_t *c, ngx_flag_t read,
    ngx_flag_t write);
void ngx_http_cvc_conn_free(ngx_connection_t *c, ngx_flag_t closed);

/* ngx_http_cvc_pg.c */
ngx_int_t ngx_http_cvc_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf);
void ngx_http_cvc_pg_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_cvc_pg_query(ngx_http_cvc_pg_op_t **opp, const char *sql,
    ngx_uint_t nparams, ngx_str_t *params, ngx_http_cvc_pg_handler_pt handler,
    void *data);
void ngx_http_cvc_pg_detach(ngx_http_cvc_pg_op_t *op);

/* ngx_http_cvc_conf.c */
void *ngx_http_cvc_create_main_conf(ngx_conf_t *cf);
char *ngx_http_cvc_init_main_conf(ngx_conf_t *cf, void *conf);
void *ngx_http_cvc_create_loc_conf(ngx_conf_t *cf);
char *ngx_http_cvc_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
char *ngx_http_cvc_redis_address(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cvc_redis_password_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cvc_payment_code_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cvc_webhook_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cvc_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_cvc_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_http_cvc_redis.c */
ngx_int_t ngx_http_cvc_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf);
void ngx_http_cvc_redis_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_cvc_redis_command(ngx_http_cvc_redis_cmd_t **cmdp,
    int argc, const char **argv, const size_t *argvlen,
    ngx_http_cvc_redis_handler_pt handler, void *data);
ngx_int_t ngx_http_cvc_redis_eval(ngx_http_cvc_redis_cmd_t **cmdp,
    const char *script, ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_cvc_redis_handler_pt handler, void *data);
ngx_int_t ngx_http_cvc_redis_lock(ngx_http_cvc_redis_cmd_t **cmdp,
    ngx_str_t *key, ngx_str_t *value, ngx_msec_t ttl,
    ngx_http_cvc_redis_handler_pt handler, void *data);
void ngx_http_cvc_redis_detach(ngx_http_cvc_redis_cmd_t *cmd);

/* ngx_http_cvc_keys.c: Redis's keys and scripts */
extern ngx_str_t   ngx_http_cvc_clock_key;
extern ngx_str_t   ngx_http_cvc_timers_key;
extern ngx_str_t   ngx_http_cvc_sweep_key;
extern const char  ngx_http_cvc_lua_session_create[];
extern const char  ngx_http_cvc_lua_session_touch[];
extern const char  ngx_http_cvc_lua_end_sessions[];
extern const char  ngx_http_cvc_lua_strike[];
extern const char  ngx_http_cvc_lua_strike_end[];
extern const char  ngx_http_cvc_lua_reset_create[];
extern const char  ngx_http_cvc_lua_reset_consume[];
extern const char  ngx_http_cvc_lua_lock_refresh[];
extern const char  ngx_http_cvc_lua_lock_release[];
extern const char  ngx_http_cvc_lua_claim[];
extern const char  ngx_http_cvc_lua_sweep[];
extern const char  ngx_http_cvc_lua_timers_due[];
extern const char  ngx_http_cvc_lua_clock_set[];

/* ngx_http_cvc_thread.c */
/* ngx_http_cvc_login.c, ngx_http_cvc_password.c: a login, or a password
 * confirmed in a session (a payment-code change) */
#define NGX_HTTP_CVC_TOKEN_BYTES        32

typedef struct {
    const char                     *realm;      /* merchant, customer */
    ngx_str_t                       login;
    ngx_str_t                       password;
    ngx_str_t                       secret;     /* a new payment code */
    ngx_str_t                       kind;
    ngx_str_t                       id;
    ngx_str_t                       hash;
    ngx_str_t                       token;
    ngx_str_t                       csrf;
    json_t                         *account;
    ngx_http_cvc_strike_t           strike;
} ngx_http_cvc_login_t;

ngx_http_cvc_login_t *ngx_http_cvc_login_body(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, const char *realm, ngx_int_t *rc);
ngx_int_t ngx_http_cvc_login_check(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, json_t *result, ngx_http_cvc_step_pt right);
ngx_int_t ngx_http_cvc_locked(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_set_cookie(ngx_http_request_t *r, ngx_uint_t customer,
    ngx_str_t *token);

/* ngx_http_cvc_health.c: what the backends say of themselves, for the
 * readiness and the metrics */
typedef struct ngx_http_cvc_backends_s  ngx_http_cvc_backends_t;
typedef ngx_int_t (*ngx_http_cvc_backends_pt)(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_http_cvc_backends_t *rd);

/* cvc.metrics_state() (NULL where PostgreSQL did not answer), the timers
 * due (timers_rc NGX_ERROR where Redis did not) */
struct ngx_http_cvc_backends_s {
    json_t                         *state;
    ngx_int_t                       timers_due;
    ngx_int_t                       timers_late_ms;
    ngx_int_t                       timers_rc;
    ngx_http_cvc_backends_pt        done;
};

ngx_int_t ngx_http_cvc_backends_read(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_http_cvc_backends_pt done);

/* ngx_http_cvc_metrics.c */
ngx_int_t ngx_http_cvc_metrics_conf(ngx_conf_t *cf,
    ngx_http_cvc_main_conf_t *mcf);
void ngx_http_cvc_metrics_init_process(ngx_cycle_t *cycle);
void ngx_http_cvc_metrics_exit_process(void);
void ngx_http_cvc_metrics_count(ngx_uint_t counter, ngx_atomic_int_t n);
ngx_int_t ngx_http_cvc_metrics_log(ngx_http_request_t *r);

/* ngx_http_cvc_prometheus.c */
void ngx_http_cvc_prometheus_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_cvc_metrics_route(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_str_t *allow);
ngx_int_t ngx_http_cvc_metrics_handler(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);

/* ngx_http_cvc_destination.c */
ngx_int_t ngx_http_cvc_destination_init(ngx_conf_t *cf);
const char *ngx_http_cvc_destination_refused(ngx_array_t *allow,
    struct sockaddr *sa);
ngx_int_t ngx_http_cvc_destination_check(ngx_http_cvc_task_t **taskp,
    ngx_str_t *host, ngx_http_cvc_destination_pt handler, void *data);

ngx_http_cvc_task_t *ngx_http_cvc_task_alloc(ngx_uint_t kind, size_t size);
void ngx_http_cvc_task_gauges(ngx_uint_t *queued, ngx_uint_t *running);
void ngx_http_cvc_pg_gauges(ngx_uint_t *busy, ngx_uint_t *idle,
    ngx_uint_t *connecting, ngx_uint_t *queue);
void ngx_http_cvc_redis_gauges(ngx_uint_t *open, ngx_uint_t *inflight);
ngx_int_t ngx_http_cvc_task_post(ngx_http_cvc_task_t *task);
void ngx_http_cvc_task_detach(ngx_http_cvc_task_t *task);
void ngx_http_cvc_task_free(ngx_http_cvc_task_t *task);

/* ngx_http_cvc_hash.c */
ngx_int_t ngx_http_cvc_hash_make(ngx_http_cvc_task_t **taskp,
    ngx_str_t *secret, ngx_http_cvc_hash_handler_pt handler, void *data);
ngx_int_t ngx_http_cvc_hash_verify(ngx_http_cvc_task_t **taskp,
    ngx_str_t *secret, ngx_str_t *hash, ngx_http_cvc_hash_handler_pt handler,
    void *data);
ngx_flag_t ngx_http_cvc_code_keyed(ngx_str_t *hash);
ngx_int_t ngx_http_cvc_code_hash(ngx_pool_t *pool, ngx_str_t *key,
    ngx_str_t *code, ngx_str_t *hash);
ngx_int_t ngx_http_cvc_code_verify(ngx_str_t *key, ngx_str_t *code,
    ngx_str_t *hash);

/* ngx_http_cvc_call.c */
ngx_int_t ngx_http_cvc_call(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql, ngx_uint_t nparams, ngx_str_t *params,
    ngx_uint_t status);
ngx_int_t ngx_http_cvc_pg_answer(ngx_http_request_t *r, ngx_int_t rc,
    PGresult *res, ngx_uint_t status);
ngx_int_t ngx_http_cvc_pg_error(ngx_http_request_t *r, PGresult *res);
ngx_int_t ngx_http_cvc_pg_step(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql, ngx_uint_t nparams, ngx_str_t *params,
    ngx_http_cvc_pg_next_pt next);
json_t *ngx_http_cvc_pg_json(ngx_http_request_t *r, PGresult *res);
ngx_int_t ngx_http_cvc_redis_step(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, int argc, const char **argv,
    const size_t *argvlen, ngx_http_cvc_redis_next_pt next);
ngx_int_t ngx_http_cvc_hash_step(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_str_t *secret, ngx_str_t *hash,
    ngx_flag_t make, ngx_http_cvc_hash_next_pt next);

ngx_int_t ngx_http_cvc_random(ngx_pool_t *pool, size_t bytes,
    const char *prefix, ngx_flag_t hex, ngx_str_t *out);
ngx_int_t ngx_http_cvc_sha256_hex(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);

/* ngx_http_cvc_auth.c */
ngx_int_t ngx_http_cvc_authenticate(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_merchant_login(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_customer_login(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_logout(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_reset_request(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_reset_confirm(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_payment_code(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_eval(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *script, ngx_uint_t nkeys, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_cvc_redis_next_pt next);
ngx_str_t *ngx_http_cvc_key(ngx_http_request_t *r, ngx_str_t *key,
    const char *prefix, ngx_str_t *a, ngx_str_t *b);
ngx_int_t ngx_http_cvc_strike(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    ngx_http_cvc_strike_t *st);
ngx_int_t ngx_http_cvc_strikes_clear(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_str_t *key, ngx_http_cvc_redis_next_pt next);
ngx_int_t ngx_http_cvc_attempts_left(json_t *result);

/* ngx_http_cvc_payment_requests.c */
extern const ngx_http_cvc_param_t  ngx_http_cvc_pr_filters[];

ngx_int_t ngx_http_cvc_pr_create(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_pr_get(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_pr_confirm(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_pr_cancel(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_pr_list(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_idempotency(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx, ngx_str_t *key, ngx_str_t *canonical,
    ngx_str_t *hash);
ngx_int_t ngx_http_cvc_send_bad_key(ngx_http_request_t *r);

/* ngx_http_cvc_timers.c */
ngx_int_t ngx_http_cvc_timers_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf);
void ngx_http_cvc_timers_job_done(void);

/* ngx_http_cvc_outbox.c */
ngx_int_t ngx_http_cvc_outbox_init_process(ngx_cycle_t *cycle,
    void (*done)(void));
ngx_int_t ngx_http_cvc_outbox_deliver(u_char *id, size_t len);

/* ngx_http_cvc_export.c */
ngx_int_t ngx_http_cvc_export_init_process(ngx_cycle_t *cycle,
    ngx_http_cvc_main_conf_t *mcf);
void ngx_http_cvc_export_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_cvc_pr_export(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_export(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    const char *sql, ngx_uint_t nparams, ngx_str_t *params,
    const ngx_http_cvc_column_t *columns, ngx_flag_t xlsx, const char *name);

/* ngx_http_cvc_payouts.c */
ngx_int_t ngx_http_cvc_payouts_list(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_payout_get(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_payout_export(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_webhook_deliveries(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_webhook_retry(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);

/* ngx_http_cvc_customer.c */
ngx_int_t ngx_http_cvc_customer_prs(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_customer_pay(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_customer_refuse(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_customer_transactions(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_customer_notifications(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);

/* resources */
ngx_int_t ngx_http_cvc_merchant_me(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_pos_list(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_api_key_create(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_api_keys_list(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_api_key_revoke(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_webhook_put(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_webhook_get(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_webhook_delete(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_customer_me(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_business_days(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ops_pos(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ops_beneficiary(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ops_credit(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ops_unlock(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ops_clock_set(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ops_clock_clear(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ops_audit(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ready(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_health(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx);
void ngx_http_cvc_health_detach(ngx_http_cvc_ctx_t *ctx);
ngx_int_t ngx_http_cvc_ops_auth(ngx_http_request_t *r);
ngx_int_t ngx_http_cvc_ops_convention(ngx_http_request_t *r,
    ngx_http_cvc_ctx_t *ctx);


#endif /* _NGX_HTTP_CVC_MODULE_H_INCLUDED_ */


/*
 * CVC gateway: the module: its directives (their handlers and checks are
 * in ngx_http_cvc_conf.c), its variables, the log-phase handler of the
 * metrics, and a worker's start and exit, which start and stop each
 * backend's file in turn.
 */


#include "ngx_http_cvc_module.h"


static ngx_int_t ngx_http_cvc_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_cvc_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_cvc_init_process(ngx_cycle_t *cycle);
static void ngx_http_cvc_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_cvc_validation_expiry[] = {
    { ngx_string("cancel"), 0 },
    { ngx_string("validate"), 1 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_cvc_commands[] = {

    { ngx_string("cvc_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, pg.conninfo),
      NULL },

    { ngx_string("cvc_postgres_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, pg.size),
      NULL },

    { ngx_string("cvc_postgres_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, pg.queue),
      NULL },

    { ngx_string("cvc_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cvc_redis_address,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cvc_redis_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, redis.size),
      NULL },

    { ngx_string("cvc_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, connect_timeout),
      NULL },

    { ngx_string("cvc_query_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, query_timeout),
      NULL },

    { ngx_string("cvc_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cvc_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cvc_export_connections"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, export_connections),
      NULL },

    { ngx_string("cvc_export_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, export_queue),
      NULL },

    { ngx_string("cvc_export_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, export_max),
      NULL },

    { ngx_string("cvc_webhook_allow"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_cvc_webhook_allow,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cvc_session_idle"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, session_idle),
      NULL },

    { ngx_string("cvc_session_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, session_max),
      NULL },

    { ngx_string("cvc_immediate_payment_window"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, pay_window),
      NULL },

    { ngx_string("cvc_payment_code_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cvc_payment_code_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cvc_redis_password_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_cvc_redis_password_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("cvc_secret_rate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, secret_rate),
      NULL },

    { ngx_string("cvc_validation_expiry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, validation_expiry),
      &ngx_http_cvc_validation_expiry },

    { ngx_string("cvc_timers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, timers),
      NULL },

    { ngx_string("cvc_timer_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, timer_interval),
      NULL },

    { ngx_string("cvc_sweep_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, sweep_interval),
      NULL },

    { ngx_string("cvc_smtp"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, smtp),
      NULL },

    { ngx_string("cvc_mail_from"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, mail_from),
      NULL },

    { ngx_string("cvc_cookie_secure"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, cookie_secure),
      NULL },

    { ngx_string("cvc_test_clock"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, test_clock),
      NULL },

    { ngx_string("cvc_public_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_cvc_main_conf_t, public_url),
      NULL },

    { ngx_string("cvc_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_cvc_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cvc_loc_conf_t, api),
      NULL },

    { ngx_string("cvc_ops"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_cvc_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cvc_loc_conf_t, ops),
      NULL },

    { ngx_string("cvc_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_cvc_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cvc_loc_conf_t, metrics),
      NULL },

    { ngx_string("cvc_ops_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_cvc_loc_conf_t, ops_token),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_cvc_module_ctx = {
    ngx_http_cvc_add_variables,            /* preconfiguration */
    ngx_http_cvc_postconfiguration,        /* postconfiguration */

    ngx_http_cvc_create_main_conf,         /* create main configuration */
    ngx_http_cvc_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_cvc_create_loc_conf,          /* create location configuration */
    ngx_http_cvc_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_cvc_module = {
    NGX_MODULE_V1,
    &ngx_http_cvc_module_ctx,              /* module context */
    ngx_http_cvc_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_cvc_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_cvc_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_cvc_vars[] = {

    { ngx_string("cvc_request_id"), NULL,
      ngx_http_cvc_ctx_variable,
      offsetof(ngx_http_cvc_ctx_t, request_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("cvc_account"), NULL,
      ngx_http_cvc_ctx_variable,
      offsetof(ngx_http_cvc_ctx_t, principal.account),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_cvc_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_cvc_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cvc_init_process(ngx_cycle_t *cycle)
{
    ngx_http_cvc_main_conf_t  *mcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_cvc_module);

    if (mcf == NULL || !mcf->enabled) {
        return NGX_OK;
    }

    ngx_http_cvc_metrics_init_process(cycle);
    ngx_http_cvc_prometheus_init_process(cycle);

    if (ngx_http_cvc_pg_init_process(cycle, mcf) != NGX_OK
        || ngx_http_cvc_redis_init_process(cycle, mcf) != NGX_OK
        || ngx_http_cvc_outbox_init_process(cycle,
                                            ngx_http_cvc_timers_job_done)
           != NGX_OK
        || ngx_http_cvc_export_init_process(cycle, mcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_cvc_timers_init_process(cycle, mcf);
}


static void
ngx_http_cvc_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_cvc_export_exit_process(cycle);
    ngx_http_cvc_pg_exit_process(cycle);
    ngx_http_cvc_redis_exit_process(cycle);
    ngx_http_cvc_metrics_exit_process();
}


/* every request of the module's locations is counted as it ends */

static ngx_int_t
ngx_http_cvc_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_cvc_main_conf_t   *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cvc_module);

    if (!mcf->enabled) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_cvc_metrics_log;

    return NGX_OK;
}

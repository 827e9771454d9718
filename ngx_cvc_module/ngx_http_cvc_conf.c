
/*
 * CVC gateway: the configuration.  The main and location configurations,
 * their defaults and the checks nginx -t makes, and the handlers of the
 * directives that parse more than nginx's slots do: addresses, networks,
 * secret files and the thread pool.  docs/directives.md describes each
 * directive; ngx_http_cvc_module.c lists them.
 */


#include "ngx_http_cvc_module.h"


static char *ngx_http_cvc_init_backends(ngx_conf_t *cf,
    ngx_http_cvc_main_conf_t *mcf);
static ngx_int_t ngx_http_cvc_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    size_t min, size_t max, ngx_str_t *secret);
static ngx_uint_t ngx_http_cvc_secret_text(u_char *p, ssize_t n);


void *
ngx_http_cvc_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_cvc_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cvc_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->pg.conninfo = { 0, NULL };
     *     mcf->redis.host = { 0, NULL };
     *     mcf->thread_pool_name = { 0, NULL };
     */

    mcf->pg.size = NGX_CONF_UNSET_UINT;
    mcf->pg.queue = NGX_CONF_UNSET_UINT;
    mcf->redis.size = NGX_CONF_UNSET_UINT;
    mcf->connect_timeout = NGX_CONF_UNSET_MSEC;
    mcf->query_timeout = NGX_CONF_UNSET_MSEC;
    mcf->export_connections = NGX_CONF_UNSET_UINT;
    mcf->export_max = NGX_CONF_UNSET_UINT;
    mcf->export_queue = NGX_CONF_UNSET_UINT;
    mcf->session_idle = NGX_CONF_UNSET_MSEC;
    mcf->session_max = NGX_CONF_UNSET_MSEC;
    mcf->pay_window = NGX_CONF_UNSET_MSEC;
    mcf->secret_rate = NGX_CONF_UNSET_UINT;
    mcf->timers = NGX_CONF_UNSET;
    mcf->timer_interval = NGX_CONF_UNSET_MSEC;
    mcf->sweep_interval = NGX_CONF_UNSET_MSEC;
    mcf->validation_expiry = NGX_CONF_UNSET_UINT;
    mcf->cookie_secure = NGX_CONF_UNSET;
    mcf->test_clock = NGX_CONF_UNSET;

    return mcf;
}


char *
ngx_http_cvc_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_cvc_main_conf_t  *mcf = conf;

    ngx_conf_init_uint_value(mcf->pg.size, 4);
    ngx_conf_init_uint_value(mcf->pg.queue, 1024);
    ngx_conf_init_uint_value(mcf->redis.size, 2);
    ngx_conf_init_msec_value(mcf->connect_timeout, 2000);
    ngx_conf_init_msec_value(mcf->query_timeout, 5000);
    ngx_conf_init_uint_value(mcf->export_connections, 2);
    ngx_conf_init_uint_value(mcf->export_max, 2);
    ngx_conf_init_uint_value(mcf->export_queue, 256);
    ngx_conf_init_msec_value(mcf->session_idle, 15 * 60 * 1000);
    ngx_conf_init_msec_value(mcf->session_max, 12 * 60 * 60 * 1000);
    ngx_conf_init_msec_value(mcf->pay_window, 15 * 60 * 1000);
    ngx_conf_init_uint_value(mcf->secret_rate, 30);
    ngx_conf_init_value(mcf->timers, 1);
    ngx_conf_init_msec_value(mcf->timer_interval, 1000);
    ngx_conf_init_msec_value(mcf->sweep_interval, 5000);

    if (mcf->mail_from.len == 0) {
        ngx_str_set(&mcf->mail_from, "Cheque-Vacances Connect "
                    "<no-reply@cheque-vacances-connect.invalid>");
    }

    /* curl wants NUL-terminated strings: ngx_conf_set_str_slot's are;
     * the From: line of an e-mail holds 512 bytes */

    if (mcf->mail_from.len > 400
        || ngx_strlchr(mcf->mail_from.data,
                       mcf->mail_from.data + mcf->mail_from.len, '\n')
           != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cvc_mail_from must be one line of at most 400 "
                           "bytes");
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_uint_value(mcf->validation_expiry, 0);
    ngx_conf_init_value(mcf->cookie_secure, 1);
    ngx_conf_init_value(mcf->test_clock, 0);

    if (mcf->public_url.len == 0) {
        ngx_str_set(&mcf->public_url, "http://127.0.0.1:8080");
    }

    if (mcf->public_url.data[mcf->public_url.len - 1] == '/') {
        mcf->public_url.len--;
    }

    if (mcf->pg.size == 0 || mcf->redis.size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cvc_postgres_pool and cvc_redis_pool must be "
                           "at least 1");
        return NGX_CONF_ERROR;
    }

    if (mcf->export_max == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cvc_export_max must be at least 1");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cvc_destination_init(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mcf->enabled = (mcf->pg.conninfo.len > 0);

    if (!mcf->enabled) {
        return NGX_CONF_OK;
    }

    if (ngx_http_cvc_route_nth(NGX_HTTP_CVC_MAX_ROUTES) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cvc: more routes than NGX_HTTP_CVC_MAX_ROUTES");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_cvc_metrics_conf(cf, mcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_cvc_init_backends(cf, mcf);
}


/* cvc_postgres is set: what the module needs beside it */

static char *
ngx_http_cvc_init_backends(ngx_conf_t *cf, ngx_http_cvc_main_conf_t *mcf)
{
    static ngx_str_t  default_pool = ngx_string("default");

    if (mcf->redis.host.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cvc_postgres\" is set but \"cvc_redis\" is not");
        return NGX_CONF_ERROR;
    }

    if (mcf->payment_code_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cvc_postgres\" is set but "
                           "\"cvc_payment_code_key\" is not: name the file "
                           "of the key that protects payment codes (make one "
                           "with \"openssl rand -out FILE 32\")");
        return NGX_CONF_ERROR;
    }

    if (mcf->thread_pool == NULL) {
        mcf->thread_pool_name = default_pool;
        mcf->thread_pool = ngx_thread_pool_add(cf, &default_pool);
        if (mcf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* cvc_webhook_allow <network>...: where webhooks may go after all */

char *
ngx_http_cvc_webhook_allow(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cvc_main_conf_t  *mcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    if (mcf->webhook_allow == NULL) {
        mcf->webhook_allow = ngx_array_create(cf->pool, 4, sizeof(ngx_cidr_t));
        if (mcf->webhook_allow == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        cidr = ngx_array_push(mcf->webhook_allow);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_ptocidr(&value[i], cidr);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cvc_webhook_allow: \"%V\" is not a network "
                               "(an address, or address/bits)", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "cvc_webhook_allow: low address bits of "
                               "\"%V\" are meaningless", &value[i]);
        }
    }

    return NGX_CONF_OK;
}


/*
 * cvc_payment_code_key FILE: the key of the payment codes' HMAC, read once
 * by the master, 32 to 4096 bytes (a trailing newline is not part of it).
 */

char *
ngx_http_cvc_payment_code_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cvc_main_conf_t  *mcf = conf;

    ngx_int_t  rc;

    if (mcf->payment_code_key.data != NULL) {
        return "is duplicate";
    }

    rc = ngx_http_cvc_secret_file(cf, cmd, 32, 4096, &mcf->payment_code_key);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cvc_payment_code_key: the file must hold a key "
                           "of 32 to 4096 bytes (openssl rand -out FILE 32)");
    }

    return (rc == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* cvc_redis_password_file FILE: Redis's requirepass, on one line */

char *
ngx_http_cvc_redis_password_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_cvc_main_conf_t  *mcf = conf;

    ngx_int_t   rc;
    ngx_str_t  *pw;

    pw = &mcf->redis.password;

    if (pw->data != NULL) {
        return "is duplicate";
    }

    rc = ngx_http_cvc_secret_file(cf, cmd, 1, 512, pw);

    if (rc == NGX_OK
        && ngx_strlchr(pw->data, pw->data + pw->len, '\n') != NULL)
    {
        rc = NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cvc_redis_password_file: the file must hold the "
                           "password on one line of at most 512 bytes");
    }

    return (rc == NGX_OK) ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * A secret in the file that the directive names, read once by the master:
 * min to max bytes.  A text (printable ASCII: a password, a key in hex) is
 * taken without its trailing line breaks, as an editor or echo leaves
 * them; any other content is a binary key, taken as it is, whatever its
 * last byte.  NGX_DECLINED: not of that size (the caller says what it
 * wants); NGX_ERROR: said here.
 */

static ngx_int_t
ngx_http_cvc_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, size_t min,
    size_t max, ngx_str_t *secret)
{
    u_char           *buf;
    off_t             size;
    ssize_t           n;
    ngx_str_t        *value, name;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%V: can't open \"%V\"", &cmd->name, &name);
        return NGX_ERROR;
    }

    buf = NULL;
    n = -1;

    if (ngx_fd_info(file.fd, &fi) != NGX_FILE_ERROR) {
        size = ngx_file_size(&fi);

        if (size >= (off_t) min && size <= (off_t) max + 2) {
            buf = ngx_pnalloc(cf->pool, (size_t) size);
            if (buf != NULL) {
                n = ngx_read_file(&file, buf, (size_t) size, 0);
            }

            if (n != (ssize_t) size) {
                n = -1;
            }

        } else {
            n = 0;
        }

        if (fi.st_mode & S_IROTH) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "%V: \"%V\" can be read by every user of the "
                               "machine", &cmd->name, &name);
        }
    }

    (void) ngx_close_file(file.fd);

    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%V: can't read \"%V\"", &cmd->name, &name);
        return NGX_ERROR;
    }

    if (ngx_http_cvc_secret_text(buf, n)) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }
    }

    if (n < (ssize_t) min || n > (ssize_t) max) {
        return NGX_DECLINED;
    }

    secret->data = buf;
    secret->len = n;

    return NGX_OK;
}


/* printable ASCII, with line breaks at its end only */

static ngx_uint_t
ngx_http_cvc_secret_text(u_char *p, ssize_t n)
{
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) {
        n--;
    }

    while (n-- > 0) {
        if (*p < 0x20 || *p > 0x7e) {
            return 0;
        }

        p++;
    }

    return 1;
}


void *
ngx_http_cvc_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_cvc_loc_conf_t  *lcf;

    lcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_cvc_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    lcf->api = NGX_CONF_UNSET;
    lcf->ops = NGX_CONF_UNSET;
    lcf->metrics = NGX_CONF_UNSET;

    return lcf;
}


char *
ngx_http_cvc_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_cvc_loc_conf_t  *prev = parent;
    ngx_http_cvc_loc_conf_t  *conf = child;

    ngx_http_cvc_main_conf_t  *mcf;

    ngx_conf_merge_value(conf->api, prev->api, 0);
    ngx_conf_merge_value(conf->ops, prev->ops, 0);
    ngx_conf_merge_str_value(conf->ops_token, prev->ops_token, "");
    ngx_conf_merge_value(conf->metrics, prev->metrics, 0);

    if (!conf->api && !conf->ops && !conf->metrics) {
        return NGX_CONF_OK;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_cvc_module);

    if (!mcf->enabled) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cvc_api\", \"cvc_ops\" and \"cvc_metrics\" need "
                           "\"cvc_postgres\" and \"cvc_redis\" in the http "
                           "block");
        return NGX_CONF_ERROR;
    }

    if (conf->ops && conf->ops_token.len < 32) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"cvc_ops\" needs \"cvc_ops_token\" of at least "
                           "32 characters");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* cvc_redis 127.0.0.1:6379; a name is resolved here, never at run time */

char *
ngx_http_cvc_redis_address(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cvc_main_conf_t  *mcf = conf;

    u_char     *p;
    ngx_str_t  *value;
    ngx_url_t   u;

    if (mcf->redis.host.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\"",
                               u.err, &u.url);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0 || u.addrs[0].sockaddr->sa_family != AF_INET) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must resolve to an IPv4 address", &u.url);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, NGX_INET_ADDRSTRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->redis.host.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                        u.addrs[0].socklen, p,
                                        NGX_INET_ADDRSTRLEN, 0);
    p[mcf->redis.host.len] = '\0';
    mcf->redis.host.data = p;
    mcf->redis.port = u.port;

    return NGX_CONF_OK;
}


char *
ngx_http_cvc_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cvc_main_conf_t  *mcf = conf;

    ngx_str_t  *value;

    if (mcf->thread_pool != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mcf->thread_pool_name = value[1];
    mcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);

    if (mcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* cvc_api on; cvc_ops on; the location's content is the module's */

char *
ngx_http_cvc_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                      *rv;
    ngx_flag_t                *fp;
    ngx_http_core_loc_conf_t  *clcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    fp = (ngx_flag_t *) ((char *) conf + cmd->offset);

    if (*fp) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->handler = ngx_http_cvc_handler;
    }

    return NGX_CONF_OK;
}


/*
 * CVC gateway unit tests: a TAP producer of a few functions, and what the
 * module's pure code needs of nginx to run outside a worker: a log, a
 * pool, the module's main configuration and a request.  nginx itself is
 * Debian's /usr/sbin/nginx loaded as a library (fuzz/libngx).
 */


#ifndef _NGX_UNIT_H_INCLUDED_
#define _NGX_UNIT_H_INCLUDED_


#include "ngx_http_cvc_module.h"


/* a test's name is a printf() format (not nginx's) */
#define NGX_UNIT_PRINTF(n)  __attribute__((format(printf, n, n + 1)))


/* TAP: each check prints "ok N - name" or "not ok N - name" and why */

#define ok(pass, ...)                                                         \
    ngx_unit_ok((pass) != 0, __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                \
    ngx_unit_is_int((int64_t) (got), (int64_t) (want), __FILE__, __LINE__,    \
                    __VA_ARGS__)
#define is_str(got, want, ...)                                                \
    ngx_unit_is_str((const char *) (got), (size_t) -1, (want), __FILE__,      \
                    __LINE__, __VA_ARGS__)
/* an ngx_str_t (or any data, len) against a C string */
#define is_nstr(data, len, want, ...)                                         \
    ngx_unit_is_str((const char *) (data), (len), (want), __FILE__, __LINE__, \
                    __VA_ARGS__)

/* the checks until todo_end() show a known bug: they are meant to fail */
void todo(const char *reason);
void todo_end(void);
void diag(const char *fmt, ...) NGX_UNIT_PRINTF(1);
/* "1..N"; the exit status: the number of failures (not TODO), at most 254 */
int done_testing(void);

ngx_int_t ngx_unit_ok(ngx_int_t pass, const char *file, int line,
    const char *fmt, ...) NGX_UNIT_PRINTF(4);
ngx_int_t ngx_unit_is_int(int64_t got, int64_t want, const char *file,
    int line, const char *fmt, ...) NGX_UNIT_PRINTF(5);
ngx_int_t ngx_unit_is_str(const char *got, size_t len, const char *want,
    const char *file, int line, const char *fmt, ...) NGX_UNIT_PRINTF(6);


/* the worker's little that the module's pure code reads */

/* the last answer the module sent, as nginx's filters would have had it */
typedef struct {
    ngx_uint_t                    status;       /* 0: none sent */
    ngx_uint_t                    headers;      /* times sent: 1 */
    size_t                        len;
    u_char                        body[4096];   /* NUL-terminated */
} ngx_unit_answer_t;

extern ngx_unit_answer_t          ngx_unit_answer;

extern ngx_log_t                  ngx_unit_log;
extern ngx_pool_t                *ngx_unit_pool;
extern ngx_http_cvc_main_conf_t   ngx_unit_mcf;

void ngx_unit_init(void);
/* a request as nginx hands it to the module: uri is "path?args" */
ngx_http_request_t *ngx_unit_request(ngx_uint_t method, const char *uri);
/* a request header, as nginx's parser sets it */
ngx_int_t ngx_unit_header(ngx_http_request_t *r, const char *name,
    const char *value);
/* the request's ctx of the module */
ngx_http_cvc_ctx_t *ngx_unit_ctx(ngx_http_request_t *r);
/* the value of an answer's header, NUL-terminated, or NULL */
const char *ngx_unit_out_header(ngx_http_request_t *r, const char *name);
void ngx_unit_request_free(ngx_http_request_t *r);


#endif /* _NGX_UNIT_H_INCLUDED_ */

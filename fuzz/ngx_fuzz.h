
/*
 * CVC gateway fuzzing: a worker without sockets for the harnesses.  Debian's
 * nginx, loaded as a library (fuzz/libngx), does the work of nginx; this
 * file's ngx_fuzz.c gives it a cycle, the module's configuration and
 * requests built from bytes, and stands in for the few nginx functions that
 * would need a client or a thread: finalizing a request, reading or
 * discarding its body, posting a thread task.  The backends have no
 * connection, so each operation the module starts fails at once (503).
 */


#ifndef _NGX_FUZZ_H_INCLUDED_
#define _NGX_FUZZ_H_INCLUDED_


#include "ngx_http_cvc_module.h"


/* what the module answered, as the header and body filters saw it */
typedef struct {
    ngx_uint_t                  status;
    ngx_uint_t                  finalized;  /* ngx_http_finalize_request()s */
    ngx_int_t                   rc;         /* the last one's */
    ngx_str_t                   body;
} ngx_fuzz_answer_t;


typedef struct {
    ngx_http_request_t         *r;
    ngx_http_cvc_ctx_t         *ctx;
    ngx_fuzz_answer_t           answer;
    ngx_chain_t                *body;       /* read by the body "reader" */
} ngx_fuzz_req_t;


/* the input, taken a piece at a time */
typedef struct {
    u_char                     *pos;
    u_char                     *last;
} ngx_fuzz_input_t;


extern ngx_http_cvc_main_conf_t  *ngx_fuzz_mcf;
extern ngx_http_cvc_loc_conf_t   *ngx_fuzz_lcf;
/* bad data from a backend, not a client: [alert] and 500 are right */
extern ngx_flag_t                 ngx_fuzz_alert_ok;


void ngx_fuzz_init(void);
void ngx_fuzz_start(ngx_fuzz_input_t *in, const uint8_t *data, size_t size);
ngx_fuzz_req_t *ngx_fuzz_request(ngx_uint_t method, u_char *uri, size_t len);
ngx_int_t ngx_fuzz_header(ngx_fuzz_req_t *fr, u_char *name, size_t nlen,
    u_char *value, size_t vlen);
ngx_int_t ngx_fuzz_headers(ngx_fuzz_req_t *fr, u_char *p, u_char *last);
ngx_int_t ngx_fuzz_body(ngx_fuzz_req_t *fr, u_char *p, size_t len,
    ngx_uint_t pieces);
ngx_int_t ngx_fuzz_principal(ngx_fuzz_req_t *fr, ngx_uint_t kind);
void ngx_fuzz_done(ngx_fuzz_req_t *fr, ngx_int_t rc);
void ngx_fuzz_request_free(ngx_fuzz_req_t *fr);

ngx_uint_t ngx_fuzz_byte(ngx_fuzz_input_t *in);
ngx_int_t ngx_fuzz_line(ngx_fuzz_input_t *in, ngx_str_t *line);

void ngx_fuzz_fail(const char *fmt, ...);


#define ngx_fuzz_assert(expr)                                                 \
    if (!(expr)) {                                                            \
        ngx_fuzz_fail("%s:%d: %s", __FILE__, __LINE__, #expr);                \
    }


#endif /* _NGX_FUZZ_H_INCLUDED_ */


/*
 * CVC gateway fuzzing: Redis replies.  The input's first byte sets a few
 * flags, the rest is what a Redis server would send (RESP).  hiredis's
 * reader makes replies of it, as the async connection does, and each
 * reply goes to every reply handler of the module that needs no live
 * connection: the Redis step's (ngx_http_cvc_redis_step_done()), then the
 * steps after it (session, login, password reset, the 3 strikes) and the
 * timers' claim.  A reply of the wrong shape is bad data, not a client's:
 * there an [alert] and a 500 are right, a crash is not.
 */


#include "ngx_fuzz.h"

/* the reply handlers are static */
#include "ngx_http_cvc_auth.c"
#include "ngx_http_cvc_login.c"
#include "ngx_http_cvc_password.c"
#include "ngx_http_cvc_strike.c"
#include "ngx_http_cvc_call.c"
#include "ngx_http_cvc_timers.c"


typedef ngx_int_t (*ngx_fuzz_setup_pt)(ngx_fuzz_req_t *fr, ngx_uint_t flags);


static ngx_int_t setup_session(ngx_fuzz_req_t *fr, ngx_uint_t flags);
static ngx_int_t setup_login(ngx_fuzz_req_t *fr, ngx_uint_t flags);
static ngx_int_t setup_strike(ngx_fuzz_req_t *fr, ngx_uint_t flags);
static ngx_int_t answer_step(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx);
static ngx_int_t answer_next(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply);
static void run(redisReply *reply, ngx_uint_t flags);
static ngx_flag_t too_many_elements(u_char *p, u_char *last);


typedef struct {
    ngx_http_cvc_redis_next_pt      next;
    ngx_fuzz_setup_pt               setup;
} ngx_fuzz_step_t;


static const ngx_fuzz_step_t  steps[] = {
    { ngx_http_cvc_session_found, setup_session },
    { ngx_http_cvc_session_created, setup_login },
    { ngx_http_cvc_reset_consumed, setup_login },
    { ngx_http_cvc_strike_let, setup_strike },
    { ngx_http_cvc_strike_ended, setup_strike },
    { ngx_http_cvc_logout_done, setup_session },
    { answer_next, NULL },
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void             *reply;
    ngx_uint_t        flags, n;
    redisReader      *reader;
    ngx_fuzz_input_t  in;

    ngx_fuzz_start(&in, data, size);

    flags = ngx_fuzz_byte(&in);

    if (too_many_elements(in.pos, in.last)) {
        return 0;
    }

    reader = redisReaderCreate();
    ngx_fuzz_assert(reader != NULL);

    if (redisReaderFeed(reader, (const char *) in.pos, in.last - in.pos)
        != REDIS_OK)
    {
        redisReaderFree(reader);
        return 0;
    }

    /* as hiredis's async connection: each reply, until an error */

    for (n = 0; n < 8; n++) {
        reply = NULL;

        if (redisReaderGetReply(reader, &reply) != REDIS_OK
            || reply == NULL)
        {
            break;
        }

        run(reply, flags);

        freeReplyObject(reply);
    }

    redisReaderFree(reader);

    return 0;
}


static void
run(redisReply *reply, ngx_uint_t flags)
{
    ngx_uint_t              i;
    ngx_fuzz_req_t         *fr;
    const ngx_fuzz_step_t  *st;

    ngx_fuzz_alert_ok = 1;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        st = &steps[i];

        fr = ngx_fuzz_request(NGX_HTTP_POST, (u_char *) "/api/v1/fuzz",
                              sizeof("/api/v1/fuzz") - 1);

        if (st->setup != NULL) {
            ngx_fuzz_assert(st->setup(fr, flags) == NGX_OK);
        }

        /* as ngx_http_cvc_redis_step() left it, then the reply */

        fr->ctx->redis_next = st->next;
        fr->r->main->count++;

        ngx_http_cvc_redis_step_done(fr->r, NGX_OK, reply);

        ngx_fuzz_done(fr, NGX_DONE);
        ngx_fuzz_request_free(fr);
    }

    /* the timers' claim: what this worker fires (PostgreSQL fails) */

    ngx_http_cvc_timers_claimed(NULL, NGX_OK, reply);

    ngx_fuzz_alert_ok = 0;
}


/*
 * hiredis 0.14 allocates an array's elements when it reads their count
 * ("*345678901"): from a Redis server, which never claims more elements
 * than it sends bytes for, that is no risk; from the fuzzer it is an
 * out-of-memory that says nothing of the module.
 */

static ngx_flag_t
too_many_elements(u_char *p, u_char *last)
{
    size_t  n;

    for ( /* void */ ; p < last; p++) {
        if (*p != '*') {
            continue;
        }

        for (n = 0; p + 1 < last && p[1] >= '0' && p[1] <= '9'; p++) {
            n = n * 10 + (p[1] - '0');

            if (n > (size_t) (last - p)) {
                return 1;
            }
        }
    }

    return 0;
}


/* a session cookie on GET /api/v1/merchant/me, or a write */

static ngx_int_t
setup_session(ngx_fuzz_req_t *fr, ngx_uint_t flags)
{
    static ngx_http_cvc_route_t  route = {
        NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST, "/api/v1/fuzz",
        ngx_http_cvc_merchant_me, NGX_HTTP_CVC_ANYONE, 0
    };

    fr->ctx->route = &route;
    fr->ctx->cookie = flags & 1;
    fr->r->method = (flags & 2) ? NGX_HTTP_POST : NGX_HTTP_GET;

    ngx_str_set(&fr->ctx->principal.session, "cvc:session:fuzz");

    return NGX_OK;
}


/* a login under way: its account, its new token */

static ngx_int_t
setup_login(ngx_fuzz_req_t *fr, ngx_uint_t flags)
{
    ngx_http_cvc_login_t  *lg;

    lg = ngx_pcalloc(fr->r->pool, sizeof(ngx_http_cvc_login_t));
    if (lg == NULL) {
        return NGX_ERROR;
    }

    lg->realm = (flags & 4) ? "customer" : "merchant";
    ngx_str_set(&lg->login, "123456");
    ngx_str_set(&lg->password, "a password of the fuzz");
    ngx_str_set(&lg->kind, "admin");
    ngx_str_set(&lg->id, "123456");
    ngx_str_set(&lg->token, "0123456789abcdef");
    ngx_str_set(&lg->csrf, "fedcba9876543210");

    lg->account = json_pack("{ss}", "id", "123456");
    if (lg->account == NULL
        || ngx_http_cvc_json_pool(fr->r->pool, lg->account) != NGX_OK)
    {
        return NGX_ERROR;
    }

    fr->ctx->data = lg;

    return NGX_OK;
}


/* a secret checked against the 3 strikes */

static ngx_int_t
setup_strike(ngx_fuzz_req_t *fr, ngx_uint_t flags)
{
    ngx_http_cvc_strike_t  *st;

    st = ngx_pcalloc(fr->r->pool, sizeof(ngx_http_cvc_strike_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&st->account, "customer:12345678901");
    ngx_str_set(&st->key, "cvc:strikes:customer:12345678901");
    ngx_str_set(&st->trying, "cvc:trying:cvc:strikes:customer:12345678901");
    ngx_str_set(&st->secret, "135790");
    st->ok = flags & 8;
    st->right = answer_step;
    st->wrong = answer_step;
    st->locked = answer_step;

    fr->ctx->strike = st;

    return NGX_OK;
}


static ngx_int_t
answer_step(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx)
{
    return ngx_http_cvc_send_no_content(r);
}


static ngx_int_t
answer_next(ngx_http_request_t *r, ngx_http_cvc_ctx_t *ctx,
    redisReply *reply)
{
    return ngx_http_cvc_send_no_content(r);
}

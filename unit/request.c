
/*
 * CVC gateway unit tests: what is read of a request's headers and written
 * in the answer's (ngx_http_cvc_request.c, ngx_http_cvc_auth.c): the JSON
 * Content-Type and its charset, X-Request-Id kept when sane (1..128 of
 * [A-Za-z0-9._-]) or made, the Bearer token, the session cookies.
 */


#include "ngx_unit.h"


static ngx_int_t content_type(const char *value);
static const char *request_id(const char *value);
static const char *bearer(const char *value);
static const char *set_cookie(ngx_uint_t customer, const char *token);


int
main(void)
{
    char         id[130];
    ngx_uint_t   i;
    const char  *s;

    static const char  *json[] = { "application/json", "Application/JSON",
        "application/json; charset=utf-8", "application/json;charset=UTF-8",
        "application/json; charset=\"utf-8\"", NULL };

    static const char  *not_json[] = { "", "text/json", "application/jsonx",
        "application/json-patch+json", "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x", "application/json; charset=latin1",
        "application/json; charset=utf-16", "application/json; charset=utf-8x",
        "application/json; charset=", NULL };

    static const char  *not_sane[] = { "", "a b", "abc/def", "a:b", "a\"b",
        "caf\xc3\xa9", "<script>", NULL };

    ngx_unit_init();

    /* Content-Type */

    is_int(content_type(NULL), NGX_DECLINED, "no Content-Type");

    for (i = 0; json[i] != NULL; i++) {
        is_int(content_type(json[i]), NGX_OK, "JSON: %s", json[i]);
    }

    for (i = 0; not_json[i] != NULL; i++) {
        is_int(content_type(not_json[i]), NGX_DECLINED, "not JSON: \"%s\"",
               not_json[i]);
    }

    /* X-Request-Id: the caller's when sane, else 16 random bytes in hex */

    is_str(request_id("abc-123_X.y"), "abc-123_X.y", "a sane id is kept");

    ngx_memset(id, 'a', 128);
    id[128] = '\0';
    is_str(request_id(id), id, "128 characters are kept");

    for (i = 0; not_sane[i] != NULL; i++) {
        s = request_id(not_sane[i]);
        ok(ngx_strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32,
           "\"%s\": another one is made (%s)", not_sane[i], s);
    }

    id[128] = 'a';
    id[129] = '\0';
    s = request_id(id);
    ok(ngx_strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32,
       "129 characters: another one is made");

    s = request_id(NULL);
    ok(ngx_strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32,
       "none: one is made (%s)", s);
    ngx_cpystrn((u_char *) id, (u_char *) s, sizeof(id));
    ok(ngx_strcmp(id, request_id(NULL)) != 0, "each its own");

    /* Authorization: Bearer <token> */

    is_str(bearer("Bearer cvc_sk_abc"), "cvc_sk_abc", "a Bearer token");
    is_str(bearer("bearer abc"), "abc", "the scheme in any case");
    is_str(bearer("Bearer "), "(none)", "no token");
    is_str(bearer("Bearer"), "(none)", "the scheme alone");
    is_str(bearer("Bearerabc"), "(none)", "no space");
    is_str(bearer("Basic dXNlcjpwYXNz"), "(none)", "Basic");
    is_str(bearer(NULL), "(none)", "no Authorization");

    /* the session cookies: __Host- and Secure where cvc_cookie_secure */

    ngx_unit_mcf.cookie_secure = 1;
    is_str(set_cookie(0, "tok"), "__Host-cvc_session=tok; Path=/; HttpOnly; "
           "SameSite=Strict; Secure", "a merchant's session");
    is_str(set_cookie(1, "tok"), "__Host-cvc_customer_session=tok; Path=/; "
           "HttpOnly; SameSite=Strict; Secure", "a customer's, apart");
    is_str(set_cookie(0, NULL), "__Host-cvc_session=; Path=/; HttpOnly; "
           "SameSite=Strict; Secure; Max-Age=0", "cleared");

    ngx_unit_mcf.cookie_secure = 0;
    is_str(set_cookie(0, "tok"), "cvc_session=tok; Path=/; HttpOnly; "
           "SameSite=Strict", "on plain http: no prefix, no Secure");

    return done_testing();
}


static ngx_int_t
content_type(const char *value)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = ngx_unit_request(NGX_HTTP_POST, "/api/v1/payment-requests");

    if (value != NULL) {
        (void) ngx_unit_header(r, "Content-Type", value);
    }

    rc = ngx_http_cvc_json_content_type(r);

    ngx_unit_request_free(r);

    return rc;
}


/* the id of the request, which the answer's X-Request-Id must repeat */

static const char *
request_id(const char *value)
{
    const char          *h;
    ngx_http_cvc_ctx_t  *ctx;
    ngx_http_request_t  *r;

    static char  out[256];

    r = ngx_unit_request(NGX_HTTP_GET, "/api/v1/health");
    ctx = ngx_unit_ctx(r);
    ngx_str_null(&ctx->request_id);

    /* a header name is found in any case */

    if (value != NULL) {
        (void) ngx_unit_header(r, "Accept", "*/*");
        (void) ngx_unit_header(r, "x-request-id", value);
    }

    if (ngx_http_cvc_set_request_id(r, ctx) != NGX_OK) {
        snprintf(out, sizeof(out), "(error)");

    } else {
        h = ngx_unit_out_header(r, "X-Request-Id");

        if (h == NULL || ngx_strlen(h) != ctx->request_id.len
            || ngx_strncmp(h, ctx->request_id.data, ctx->request_id.len))
        {
            snprintf(out, sizeof(out), "(X-Request-Id: %s)", h ? h : "none");

        } else {
            snprintf(out, sizeof(out), "%s", h);
        }
    }

    ngx_unit_request_free(r);

    return out;
}


static const char *
bearer(const char *value)
{
    ngx_str_t            token;
    ngx_http_request_t  *r;

    static char  out[256];

    r = ngx_unit_request(NGX_HTTP_GET, "/api/v1/payment-requests");

    if (value != NULL) {
        (void) ngx_unit_header(r, "Authorization", value);
    }

    if (ngx_http_cvc_bearer(r, &token) == NGX_OK) {
        snprintf(out, sizeof(out), "%.*s", (int) token.len, token.data);

    } else {
        snprintf(out, sizeof(out), "(none)");
    }

    ngx_unit_request_free(r);

    return out;
}


static const char *
set_cookie(ngx_uint_t customer, const char *token)
{
    ngx_str_t            t;
    const char          *h;
    ngx_http_request_t  *r;

    static char  out[256];

    r = ngx_unit_request(NGX_HTTP_POST, "/api/v1/merchant/sessions");

    t.data = (u_char *) token;
    t.len = token ? ngx_strlen(token) : 0;

    if (ngx_http_cvc_set_cookie(r, customer, token ? &t : NULL) != NGX_OK) {
        snprintf(out, sizeof(out), "(error)");

    } else {
        h = ngx_unit_out_header(r, "Set-Cookie");
        snprintf(out, sizeof(out), "%s", h ? h : "(no Set-Cookie)");
    }

    ngx_unit_request_free(r);

    return out;
}

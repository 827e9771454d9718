
/*
 * CVC gateway unit tests: the body of POST /api/v1/payment-requests
 * (ngx_http_cvc_pr_body()) against the contract's table of fields, each
 * rule with one field at fault; its Idempotency-Key, 1..255 printable
 * ASCII, and the body's canonical form that a key compares.
 */


#include "ngx_unit.h"

/* the body's checks and the key's are static */
#include "ngx_http_cvc_payment_requests.c"


static const char *create(ngx_uint_t kind, const char *patch,
    const char *remove);
static const char *text(const char *name, const char *s, ngx_uint_t n);
static const char *key(const char *value);


int
main(void)
{
    char                 k[300];
    ngx_str_t            none, canonical, hash;
    ngx_uint_t           i;
    ngx_http_request_t  *r;

    /* a patch over a valid immediate request, a field it removes, then
     * the errors expected: "ok" for none */

    static const char  *tests[][4] = {
        { "{}", NULL, "ok", "a valid request" },
        { "{}", "mode", "{\"mode\":\"is required\"}", "no mode" },
        { "{\"mode\": \"later\"}", NULL,
          "{\"mode\":\"is not one of the values allowed\"}", "mode later" },
        { "{\"mode\": \"deferred\"}", NULL, "{\"pay_by\":\"is required\"}",
          "deferred, no pay_by" },
        { "{\"mode\": \"deferred\", \"pay_by\": \"2030-06-30\"}", NULL, "ok",
          "deferred, pay_by" },
        { "{\"mode\": \"deferred\", \"pay_by\": \"2030-02-29\"}", NULL,
          "{\"pay_by\":\"must be a date, YYYY-MM-DD\"}", "no such day" },
        { "{\"mode\": \"deferred\", \"pay_by\": \"2030-06-30T12:00:00Z\"}",
          NULL, "{\"pay_by\":\"must be 10 to 10 characters long\"}",
          "a time, not a date" },
        { "{\"mode\": \"deferred\", \"pay_by\": 20300630}", NULL,
          "{\"pay_by\":\"must be a string\"}", "a number" },
        { "{\"pay_by\": \"2030-06-30\"}", NULL,
          "{\"pay_by\":\"must not be given for an immediate payment\"}",
          "immediate, pay_by" },
        { "{\"pay_by\": null}", NULL, "ok", "immediate, pay_by null" },
        { "{}", "amount", "{\"amount\":\"is required\"}", "no amount" },
        { "{\"amount\": 1}", NULL, "ok", "1 cent" },
        { "{\"amount\": 10000000}", NULL, "ok", "100 000,00 EUR" },
        { "{\"amount\": 0}", NULL, "{\"amount\":\"must be 1 to 10000000\"}",
          "0 cents" },
        { "{\"amount\": 10000001}", NULL,
          "{\"amount\":\"must be 1 to 10000000\"}", "a cent too many" },
        { "{\"amount\": 40.5}", NULL, "{\"amount\":\"must be an integer\"}",
          "40.5" },
        { "{\"amount\": \"40\"}", NULL, "{\"amount\":\"must be an integer\"}",
          "\"40\"" },
        { "{\"validation_delay_days\": 0}", NULL, "ok", "no delay" },
        { "{\"validation_delay_days\": 6}", NULL, "ok", "6 days" },
        { "{\"validation_delay_days\": 7}", NULL,
          "{\"validation_delay_days\":\"must be 0 to 6\"}", "7 days" },
        { "{\"validation_delay_days\": -1}", NULL,
          "{\"validation_delay_days\":\"must be 0 to 6\"}", "-1 day" },
        { "{\"allow_partial\": true, \"remember_notify_email\": false}",
          NULL, "ok", "booleans" },
        { "{\"allow_partial\": \"yes\"}", NULL,
          "{\"allow_partial\":\"must be true or false\"}", "\"yes\"" },
        { "{\"remember_notify_email\": 1}", NULL,
          "{\"remember_notify_email\":\"must be true or false\"}", "1" },
        { "{}", "basket_number", "{\"basket_number\":\"is required\"}",
          "no basket_number" },
        { "{\"basket_number\": \"\"}", NULL,
          "{\"basket_number\":\"must be 1 to 64 characters long\"}",
          "an empty basket_number" },
        { "{\"basket_number\": \"B\\t1\"}", NULL,
          "{\"basket_number\":\"must be printable characters\"}", "a tab" },
        { "{\"basket_number\": \"B\\u007f\"}", NULL,
          "{\"basket_number\":\"must be printable characters\"}", "DEL" },
        { "{}", "customer", "{\"customer\":\"is required\"}", "no customer" },
        { "{\"customer\": \"client@example.fr\"}", NULL, "ok",
          "a customer's e-mail" },
        { "{\"customer\": \"1234567890\"}", NULL,
          "{\"customer\":\"must be an 11-digit id or an e-mail\"}",
          "10 digits" },
        { "{\"customer\": \"123456789012\"}", NULL,
          "{\"customer\":\"must be an 11-digit id or an e-mail\"}",
          "12 digits" },
        { "{\"seller_id\": \"\", \"label\": \"\"}", NULL, "ok",
          "empty optional strings" },
        { "{\"notify_email\": \"compta@example.fr\"}", NULL, "ok",
          "notify_email" },
        { "{\"notify_email\": null}", NULL, "ok", "notify_email null: none" },
        { "{\"notify_email\": \"compta\"}", NULL,
          "{\"notify_email\":\"must be an e-mail address, in ASCII (at most "
          "254 bytes)\"}", "not an e-mail" },
        { "{\"on_validation_expiry\": \"validate\"}", NULL, "ok",
          "on_validation_expiry validate" },
        { "{\"on_validation_expiry\": \"expire\"}", NULL,
          "{\"on_validation_expiry\":\"is not one of the values allowed\"}",
          "on_validation_expiry expire" },
        { "{\"currency\": \"EUR\"}", NULL, "{\"currency\":\"unknown field\"}",
          "currency is not a field of the body" },
        { "{\"amount\": 0, \"Amount\": 4000}", "mode",
          "{\"Amount\":\"unknown field\",\"amount\":\"must be 1 to 10000000\","
          "\"mode\":\"is required\"}", "three at fault, all named" },
        { NULL, NULL, NULL, NULL }
    };

    ngx_unit_init();

    for (i = 0; tests[i][0] != NULL; i++) {
        is_str(create(NGX_HTTP_CVC_POS, tests[i][0], tests[i][1]),
               tests[i][2], "%s", tests[i][3]);
    }

    /* lengths in characters */

    is_str(create(NGX_HTTP_CVC_POS, text("basket_number", "\xc3\xa9", 64),
                  NULL), "ok", "a basket_number of 64 characters");
    is_str(create(NGX_HTTP_CVC_POS, text("basket_number", "\xc3\xa9", 65),
                  NULL),
           "{\"basket_number\":\"must be 1 to 64 characters long\"}",
           "65 characters");
    is_str(create(NGX_HTTP_CVC_POS, text("label", "a", 255), NULL), "ok",
           "a label of 255");
    is_str(create(NGX_HTTP_CVC_POS, text("label", "a", 256), NULL),
           "{\"label\":\"must be 0 to 255 characters long\"}", "256");
    is_str(create(NGX_HTTP_CVC_POS, text("customer_reference", "a", 64),
                  NULL), "ok", "a customer_reference of 64");
    is_str(create(NGX_HTTP_CVC_POS, text("customer_reference", "a", 65),
                  NULL),
           "{\"customer_reference\":\"must be 0 to 64 characters long\"}",
           "65");
    is_str(create(NGX_HTTP_CVC_POS, text("seller_id", "a", 65), NULL),
           "{\"seller_id\":\"must be 0 to 64 characters long\"}",
           "a seller_id of 65");

    /* who: a point of sale or an API key is implied, an admin names one */

    is_str(create(NGX_HTTP_CVC_API_KEY, "{}", NULL), "ok", "an API key's");
    is_str(create(NGX_HTTP_CVC_ADMIN, "{}", NULL),
           "{\"point_of_sale\":\"is required\"}", "an admin's, no POS");
    is_str(create(NGX_HTTP_CVC_ADMIN, "{\"point_of_sale\": \"123456000001\"}",
                  NULL), "ok", "an admin's, its POS");
    is_str(create(NGX_HTTP_CVC_ADMIN, "{\"point_of_sale\": \"123456\"}", NULL),
           "{\"point_of_sale\":\"must be 12 digits\"}", "a convention's id");

    /* Idempotency-Key */

    is_str(key(NULL), "(none)", "no key");
    is_str(key("order-42"), "order-42", "a key");
    is_str(key("a b ~!"), "a b ~!", "spaces and symbols are printable");
    is_str(key(""), "(bad)", "an empty key");
    is_str(key("a\x01"), "(bad)", "a control character");
    is_str(key("a\x7f"), "(bad)", "DEL");
    is_str(key("caf\xc3\xa9"), "(bad)", "not ASCII");

    ngx_memset(k, 'k', 255);
    k[255] = '\0';
    is_str(key(k), k, "255 characters");
    k[255] = 'k';
    k[256] = '\0';
    is_str(key(k), "(bad)", "256 characters");

    /* the body a key compares: members sorted, no spaces */

    r = ngx_unit_request(NGX_HTTP_POST, "/api/v1/payment-requests");
    (void) ngx_unit_header(r, "Idempotency-Key", "k1");
    ngx_unit_ctx(r)->body = json_loads("{\"b\": 1, \"c\": {\"y\": 1, "
                                       "\"x\": 2}, \"a\": [2, 3]}", 0, NULL);

    is_int(ngx_http_cvc_idempotency(r, ngx_unit_ctx(r), &none, &canonical,
                                    &hash), NGX_OK, "a key and a body");
    is_nstr(canonical.data, canonical.len,
            "{\"a\":[2,3],\"b\":1,\"c\":{\"x\":2,\"y\":1}}",
            "the canonical body");
    is_nstr(hash.data, hash.len, "6d8e614dcdb77a3936fcfd801eb4c5e1"
            "450ec14b7efab24ab7ed25df48eb6470", "its SHA-256");

    json_decref(ngx_unit_ctx(r)->body);
    ngx_unit_request_free(r);

    r = ngx_unit_request(NGX_HTTP_POST, "/api/v1/payment-requests");
    ngx_unit_ctx(r)->body = json_loads("{\"a\":[2,3],\"c\":{\"x\":2,\"y\":1},"
                                       "\"b\":1}", 0, NULL);

    is_int(ngx_http_cvc_idempotency(r, ngx_unit_ctx(r), &none, &canonical,
                                    &hash), NGX_OK, "no key");
    is_nstr(canonical.data, canonical.len,
            "{\"a\":[2,3],\"b\":1,\"c\":{\"x\":2,\"y\":1}}",
            "the same body in another order: the same canonical form");
    ok(none.data == NULL && hash.data == NULL, "no key, no hash");

    json_decref(ngx_unit_ctx(r)->body);
    ngx_unit_request_free(r);

    return done_testing();
}


/*
 * The errors of a point of sale's (or kind's) new request, patch over a
 * valid one, remove taken out: "ok", or the errors sorted.
 */

static const char *
create(ngx_uint_t kind, const char *patch, const char *remove)
{
    char                *s;
    json_t              *body, *p, *errors;
    ngx_int_t            rc;
    ngx_http_cvc_ctx_t  *ctx;
    ngx_http_request_t  *r;

    static char  out[1024];

    body = json_loads("{\"mode\": \"immediate\", \"amount\": 4000, "
                      "\"basket_number\": \"B-1\", "
                      "\"customer\": \"12345678901\"}", 0, NULL);
    p = json_loads(patch, 0, NULL);
    errors = json_object();

    if (body == NULL || p == NULL || errors == NULL
        || json_object_update(body, p) != 0)
    {
        return "(not JSON)";
    }

    json_decref(p);

    if (remove != NULL) {
        json_object_del(body, remove);
    }

    r = ngx_unit_request(NGX_HTTP_POST, "/api/v1/payment-requests");
    ctx = ngx_unit_ctx(r);
    ctx->body = body;
    ctx->principal.kind = kind;

    rc = ngx_http_cvc_pr_body(r, ctx, errors);

    if (rc == NGX_OK && json_object_size(errors) == 0) {
        snprintf(out, sizeof(out), "ok");

    } else if (rc == NGX_OK || json_object_size(errors) == 0) {
        snprintf(out, sizeof(out), "(rc %ld, %lu errors)", (long) rc,
                 (unsigned long) json_object_size(errors));

    } else {
        s = json_dumps(errors, JSON_COMPACT|JSON_SORT_KEYS);
        snprintf(out, sizeof(out), "%s", s);
        free(s);
    }

    json_decref(errors);
    json_decref(body);
    ngx_unit_request_free(r);

    return out;
}


/* {"name": "<n times s>"} */

static const char *
text(const char *name, const char *s, ngx_uint_t n)
{
    char        *p;
    ngx_uint_t   i;

    static char  out[2048];

    p = out + snprintf(out, sizeof(out), "{\"%s\": \"", name);

    for (i = 0; i < n; i++) {
        p = (char *) ngx_cpymem(p, s, ngx_strlen(s));
    }

    ngx_memcpy(p, "\"}", sizeof("\"}"));

    return out;
}


/* the Idempotency-Key as taken, "(none)" or "(bad)" */

static const char *
key(const char *value)
{
    ngx_str_t            k;
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    static char  out[300];

    r = ngx_unit_request(NGX_HTTP_POST, "/api/v1/payment-requests");

    if (value != NULL) {
        (void) ngx_unit_header(r, "Idempotency-Key", value);
    }

    rc = ngx_http_cvc_idempotency_key(r, &k);

    if (rc != NGX_OK) {
        snprintf(out, sizeof(out), "(bad)");

    } else if (k.data == NULL) {
        snprintf(out, sizeof(out), "(none)");

    } else {
        snprintf(out, sizeof(out), "%.*s", (int) k.len, k.data);
    }

    ngx_unit_request_free(r);

    return out;
}


/*
 * CVC gateway unit tests: query strings (ngx_http_cvc_query.c) against
 * the payment requests' filters, the table the list and its export
 * share: %-decoding, repeated and repeatable parameters, each type's bad
 * values and limits; then ngx_http_cvc_page_params().
 */


#include "ngx_unit.h"


static const char *query(const char *args);


int
main(void)
{
    json_t              *params;
    ngx_str_t            cursor, limit;
    const char          *bad;
    ngx_http_request_t  *r;

    ngx_unit_init();

    /* no query string at all: args.data is NULL */

    r = ngx_unit_request(NGX_HTTP_GET, "/api/v1/payment-requests");
    params = json_object();
    is_int(ngx_http_cvc_query(r, ngx_http_cvc_pr_filters, params, &bad),
           NGX_OK, "no query string");
    is_int(json_object_size(params), 0, "no parameter");
    json_decref(params);
    ngx_unit_request_free(r);

    is_str(query(""), "{}", "an empty query string");
    is_str(query("&&limit=5&"), "{\"limit\":5}", "empty pieces are skipped");

    /* limit: an integer 1..100, once */

    is_str(query("limit=1"), "{\"limit\":1}", "limit=1");
    is_str(query("limit=100"), "{\"limit\":100}", "limit=100");
    is_str(query("limit=101"), "bad limit", "limit=101");
    is_str(query("limit=0"), "bad limit", "limit=0");
    is_str(query("limit=-1"), "bad limit", "limit=-1");
    is_str(query("limit=+5"), "bad limit", "limit=+5 (a space)");
    is_str(query("limit=5x"), "bad limit", "limit=5x");
    is_str(query("limit=5.0"), "bad limit", "limit=5.0");
    is_str(query("limit="), "bad limit", "limit=");
    is_str(query("limit"), "bad limit", "limit without =");
    is_str(query("limit=0005"), "{\"limit\":5}", "limit=0005");
    is_str(query("limit=0000000005"), "bad limit", "10 digits are too many");
    is_str(query("limit=%35"), "{\"limit\":5}", "limit=%%35 is decoded");
    is_str(query("limit=1&limit=2"), "bad limit", "limit twice");

    /* names: exact, not decoded */

    is_str(query("foo=1"), "bad an unknown parameter", "an unknown one");
    is_str(query("Limit=5"), "bad an unknown parameter", "another case");
    is_str(query("lim%69t=5"), "bad an unknown parameter",
           "a name is not decoded");
    is_str(query("=5"), "bad an unknown parameter", "no name");
    is_str(query("limit=5&foo=1"), "bad an unknown parameter",
           "an unknown one after a good one");

    /* status: repeatable, each value one of the statuses */

    is_str(query("status=validated"), "{\"status\":[\"validated\"]}",
           "status=validated");
    is_str(query("status=validated&status=cancelled"),
           "{\"status\":[\"validated\",\"cancelled\"]}", "status twice");
    is_str(query("status=validated,cancelled"),
           "{\"status\":[\"validated\",\"cancelled\"]}",
           "two, comma-separated");
    is_str(query("status=to_validate,validated&status=expired"),
           "{\"status\":[\"to_validate\",\"validated\",\"expired\"]}",
           "both ways");
    is_str(query("status=validated%2Ccancelled"),
           "{\"status\":[\"validated\",\"cancelled\"]}",
           "%%2C is a comma too (decoded first)");
    is_str(query("status=validated,"), "bad status", "an empty last value");
    is_str(query("status=,validated"), "bad status", "an empty first value");
    is_str(query("status="), "bad status", "status=");
    is_str(query("status=paid"), "bad status", "not a status");
    is_str(query("status=Validated"), "bad status", "another case");
    is_str(query("status=validated%00"), "bad status", "a NUL after it");

    /* the other filters, one of each type */

    is_str(query("point_of_sale=123456000001"),
           "{\"point_of_sale\":\"123456000001\"}", "12 digits");
    is_str(query("point_of_sale=12345600001"), "bad point_of_sale",
           "11 digits");
    is_str(query("point_of_sale=12345600000a"), "bad point_of_sale",
           "a letter");
    is_str(query("type=pre_reservation"), "{\"type\":\"pre_reservation\"}",
           "a type");
    is_str(query("type=immediate"), "bad type", "a mode is not a type");
    is_str(query("type=deferred_payment&type=immediate_payment"), "bad type",
           "type is not repeatable");
    is_str(query("from=2024-02-29&to=2024-03-31"),
           "{\"from\":\"2024-02-29\",\"to\":\"2024-03-31\"}", "two dates");
    is_str(query("from=2023-02-29"), "bad from", "a day that is not");
    is_str(query("to=2024-1-1"), "bad to", "not YYYY-MM-DD");
    is_str(query("min_amount=0&max_amount=10000000"),
           "{\"max_amount\":10000000,\"min_amount\":0}",
           "amounts 0 and 10 000 000 cents, as integers");
    is_str(query("max_amount=10000001"), "bad max_amount", "a cent too many");
    is_str(query("min_amount=40.00"), "bad min_amount", "not in cents");
    is_str(query("format=xlsx"), "{\"format\":\"xlsx\"}", "a format");
    is_str(query("format=pdf"), "bad format", "not a format");

    /* text: decoded ("+" is a space), printable, 1..64 */

    is_str(query("basket_number=A%20B+C"), "{\"basket_number\":\"A B C\"}",
           "%%20 and + are spaces");
    is_str(query("basket_number=%2B%26%3D"), "{\"basket_number\":\"+&=\"}",
           "%%2B, %%26, %%3D are data");
    is_str(query("basket_number=%E2%82%AC"),
           "{\"basket_number\":\"\xe2\x82\xac\"}", "UTF-8, decoded");
    is_str(query("basket_number=a%00b"), "bad basket_number", "a NUL");
    is_str(query("basket_number=a%0Ab"), "bad basket_number", "a line feed");
    is_str(query("basket_number=%7F"), "bad basket_number", "DEL");
    is_str(query("basket_number="), "bad basket_number", "empty");
    is_str(query("basket_number=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaa"),
           "{\"basket_number\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
           "aaaaaaaaaaaaaaaaaaaaa\"}", "64 bytes");
    is_str(query("basket_number=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                 "aaaaaaaaaaaaaaaaaaaa"),
           "bad basket_number", "65 bytes");

    /* 1..64 characters, as at creation (ngx_http_cvc_json_string()), not
     * bytes: a basket number of 33 "é" can be looked up */

    is_str(query("basket_number=%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
                 "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
                 "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
                 "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"),
           "{\"basket_number\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
           "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
           "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
           "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
           "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
           "33 characters of 2 bytes, as at creation");

    /* ngx_http_cvc_page_params(): limit 20 by default, both taken out */

    r = ngx_unit_request(NGX_HTTP_GET, "/api/v1/payment-requests");
    params = json_object();
    ngx_http_cvc_page_params(r, params, &cursor, &limit);
    is_nstr(limit.data, limit.len, "20", "limit: 20 by default");
    ok(cursor.data == NULL && cursor.len == 0, "no cursor: SQL NULL");
    json_decref(params);
    ngx_unit_request_free(r);

    r = ngx_unit_request(NGX_HTTP_GET, "/api/v1/payment-requests"
                         "?limit=100&cursor=eyJpZCI6NDJ9&status=expired");
    params = json_object();
    is_int(ngx_http_cvc_query(r, ngx_http_cvc_pr_filters, params, &bad),
           NGX_OK, "a page of a list");
    ngx_http_cvc_page_params(r, params, &cursor, &limit);
    is_nstr(limit.data, limit.len, "100", "limit=100");
    is_nstr(cursor.data, cursor.len, "eyJpZCI6NDJ9",
            "the cursor, still there once taken out of params");
    ok(json_object_get(params, "limit") == NULL
       && json_object_get(params, "cursor") == NULL
       && json_object_size(params) == 1, "params keep the filters alone");
    json_decref(params);
    ngx_unit_request_free(r);

    return done_testing();
}


/* params as JSON (keys sorted), or "bad <the parameter at fault>" */

static const char *
query(const char *args)
{
    char                *text;
    char                 uri[2048];
    json_t              *params;
    ngx_int_t            rc;
    const char          *bad;
    ngx_http_request_t  *r;

    static char  out[2048];

    snprintf(uri, sizeof(uri), "/api/v1/payment-requests?%s", args);

    r = ngx_unit_request(NGX_HTTP_GET, uri);
    params = json_object();

    if (r == NULL || params == NULL) {
        return "(no memory)";
    }

    bad = NULL;
    rc = ngx_http_cvc_query(r, ngx_http_cvc_pr_filters, params, &bad);

    if (rc == NGX_OK) {
        text = json_dumps(params, JSON_COMPACT|JSON_SORT_KEYS);
        snprintf(out, sizeof(out), "%s", text);
        free(text);

    } else if (rc == NGX_DECLINED) {
        snprintf(out, sizeof(out), "bad %s", bad ? bad : "(NULL)");

    } else {
        snprintf(out, sizeof(out), "(rc %ld)", (long) rc);
    }

    json_decref(params);
    ngx_unit_request_free(r);

    return out;
}

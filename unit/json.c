
/*
 * CVC gateway unit tests: the field checks behind 422 validation_failed
 * (ngx_http_cvc_json.c) against the contract: strings counted in
 * characters, ids of n digits, e-mail addresses in ASCII of at most 254
 * bytes, amounts in integer cents, booleans, enums; unknown fields, the
 * body's parse error, members as SQL parameters.
 */


#include "ngx_unit.h"


enum { STRING, DIGITS, EMAIL, INT, BOOL, ENUM };


#define EMAIL_ERR   "must be an e-mail address, in ASCII (at most 254 bytes)"


static const char *check(ngx_uint_t kind, const char *value, int64_t a,
    int64_t b, ngx_flag_t required);
static const char *cents(const char *value);
static const char *repeat(const char *s, ngx_uint_t n, const char *tail);
static const char *address(size_t len);


int
main(void)
{
    u_char      *p;
    json_t      *body, *errors;
    ngx_str_t    error, v;
    const char  *s;

    ngx_unit_init();

    /* a string of 1..64 characters (code points, not bytes) */

    is_str(check(STRING, "\"abc\"", 1, 64, 1), "abc", "string: a string");
    is_str(check(STRING, "\"\"", 1, 64, 1),
           "must be 1 to 64 characters long", "string: empty, 1 at least");
    is_str(check(STRING, "\"\"", 0, 64, 1), "", "string: empty, 0 at least");
    is_int(strlen(check(STRING, repeat("a", 64, ""), 1, 64, 1)), 64,
           "string: 64 ASCII characters");
    is_str(check(STRING, repeat("a", 65, ""), 1, 64, 1),
           "must be 1 to 64 characters long", "string: 65 ASCII characters");
    is_int(strlen(check(STRING, repeat("\xc3\xa9", 64, ""), 1, 64, 1)), 128,
           "string: 64 characters of 2 bytes: 128 bytes");
    is_str(check(STRING, repeat("\xc3\xa9", 65, ""), 1, 64, 1),
           "must be 1 to 64 characters long",
           "string: 65 characters of 2 bytes");
    is_int(strlen(check(STRING, repeat("\xf0\x9f\x98\x80", 64, ""), 1, 64,
                        1)),
           256, "string: 64 characters of 4 bytes (an emoji)");
    is_str(check(STRING, "42", 1, 64, 1), "must be a string",
           "string: a number");
    is_str(check(STRING, "[\"a\"]", 1, 64, 1), "must be a string",
           "string: an array");
    is_str(check(STRING, NULL, 1, 64, 1), "is required",
           "string: absent, required");
    is_str(check(STRING, "null", 1, 64, 1), "is required",
           "string: null, required");
    is_str(check(STRING, NULL, 1, 64, 0), "(absent)",
           "string: absent, optional");
    is_str(check(STRING, "null", 1, 64, 0), "(absent)",
           "string: null, optional");

    /* ids: exactly n ASCII digits, in a string */

    is_str(check(DIGITS, "\"123456\"", 6, 0, 1), "123456", "id: 6 digits");
    is_str(check(DIGITS, "\"12345\"", 6, 0, 1), "must be 6 digits",
           "id: 5 digits");
    is_str(check(DIGITS, "\"1234567\"", 6, 0, 1), "must be 6 digits",
           "id: 7 digits");
    is_str(check(DIGITS, "\"12345a\"", 6, 0, 1), "must be 6 digits",
           "id: a letter");
    is_str(check(DIGITS, "\" 12345\"", 6, 0, 1), "must be 6 digits",
           "id: a space");
    is_str(check(DIGITS, "\"\"", 6, 0, 1), "must be 6 digits", "id: empty");
    is_str(check(DIGITS, "\"\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5"
                 "\xd9\xa6\"", 6, 0, 1),
           "must be 6 digits", "id: 6 Arabic-Indic digits are not digits");
    is_str(check(DIGITS, "123456", 6, 0, 1), "must be a string",
           "id: a number is not an id");
    is_str(check(DIGITS, NULL, 11, 0, 1), "is required",
           "id: absent, required");

    /* e-mail addresses */

    is_str(check(EMAIL, "\"a@b.fr\"", 0, 0, 1), "a@b.fr", "e-mail: a@b.fr");
    is_str(check(EMAIL, "\"first.last+tag@mail.example.co.uk\"", 0, 0, 1),
           "first.last+tag@mail.example.co.uk", "e-mail: dots and a plus");
    s = check(EMAIL, address(254), 0, 0, 1);
    is_int(strlen(s), 254, "e-mail: 254 bytes, the most");
    is_str(check(EMAIL, address(255), 0, 0, 1),
           "must be 3 to 254 characters long", "e-mail: 255 bytes");
    is_str(check(EMAIL, "\"a@\"", 0, 0, 1),
           "must be 3 to 254 characters long", "e-mail: 2 bytes");
    is_str(check(EMAIL, "\"a@b\"", 0, 0, 1), EMAIL_ERR, "e-mail: no dot");
    is_str(check(EMAIL, "\"a.b@localhost\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: a dot only before the @");
    is_str(check(EMAIL, "\"@b.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: no local part");
    is_str(check(EMAIL, "\"ab.fr@\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: no domain");
    is_str(check(EMAIL, "\"a@b.fr.\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: a final dot");
    is_str(check(EMAIL, "\"ab.fr\"", 0, 0, 1), EMAIL_ERR, "e-mail: no @");
    is_str(check(EMAIL, "\"a@@b.fr\"", 0, 0, 1), EMAIL_ERR, "e-mail: two @");
    is_str(check(EMAIL, "\"a@b@c.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: two @, apart");
    is_str(check(EMAIL, "\"a b@c.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: a space");
    is_str(check(EMAIL, "\"a@b.fr\\n\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: a line feed");
    is_str(check(EMAIL, "\"a@b.fr\\r\\nBcc: x@y.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: a header after CR LF");
    is_str(check(EMAIL, "\"a\\u007f@b.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: DEL");
    is_str(check(EMAIL, "\"\xc3\xa9@b.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: not ASCII (no SMTPUTF8)");
    is_str(check(EMAIL, "\"\\\"a\\\"@b.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: quotes");
    is_str(check(EMAIL, "\"<a@b.fr>\"", 0, 0, 1), EMAIL_ERR, "e-mail: <>");
    is_str(check(EMAIL, "\"a@b.fr,c@d.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: two, with a comma");
    is_str(check(EMAIL, "\"a@b.fr;c@d.fr\"", 0, 0, 1), EMAIL_ERR,
           "e-mail: two, with a semicolon");
    is_str(check(EMAIL, "7", 0, 0, 1), "must be a string", "e-mail: a number");
    is_str(check(EMAIL, "null", 0, 0, 0), "(absent)",
           "e-mail: null, optional");

    /* amounts: integer cents, 1 .. 10 000 000 */

    is_str(cents("1"), "1", "cents: 1 cent");
    is_str(cents("4000"), "4000", "cents: 40,00 EUR");
    is_str(cents("10000000"), "10000000", "cents: 100 000,00 EUR");
    is_str(cents("10000001"), "must be 1 to 10000000",
           "cents: a cent too many");
    is_str(cents("0"), "must be 1 to 10000000", "cents: 0");
    is_str(cents("-0"), "must be 1 to 10000000", "cents: -0");
    is_str(cents("-4000"), "must be 1 to 10000000", "cents: negative");
    is_str(cents("9223372036854775807"), "must be 1 to 10000000",
           "cents: the largest integer");
    is_str(cents("40.5"), "must be an integer", "cents: 40.5");
    is_str(cents("40.0"), "must be an integer", "cents: 40.0");
    is_str(cents("4e3"), "must be an integer", "cents: 4e3");
    is_str(cents("\"40\""), "must be an integer", "cents: \"40\"");
    is_str(cents("true"), "must be an integer", "cents: true");
    is_str(cents(NULL), "is required", "cents: absent, required");
    is_str(check(INT, NULL, 0, 6, 0), "(absent)", "integer: absent, optional");

    /* booleans, enums */

    is_str(check(BOOL, "true", 0, 0, 0), "(boolean)", "boolean: true");
    is_str(check(BOOL, "false", 0, 0, 0), "(boolean)", "boolean: false");
    is_str(check(BOOL, "0", 0, 0, 0), "must be true or false", "boolean: 0");
    is_str(check(BOOL, "\"true\"", 0, 0, 0), "must be true or false",
           "boolean: \"true\"");
    is_str(check(BOOL, "null", 0, 0, 0), "(absent)", "boolean: null");

    is_str(check(ENUM, "\"deferred\"", 0, 0, 1), "deferred", "enum: a value");
    is_str(check(ENUM, "\"Deferred\"", 0, 0, 1),
           "is not one of the values allowed", "enum: another case");
    is_str(check(ENUM, "\"deferred \"", 0, 0, 1),
           "is not one of the values allowed", "enum: a space after");
    is_str(check(ENUM, "\"defer\"", 0, 0, 1),
           "is not one of the values allowed", "enum: a prefix");
    is_str(check(ENUM, "\"\"", 0, 0, 1), "must be 1 to 64 characters long",
           "enum: empty");
    is_str(check(ENUM, NULL, 0, 0, 1), "is required",
           "enum: absent, required");

    /* unknown fields: each one named */

    body = json_loads("{\"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4}", 0, NULL);
    errors = ngx_http_cvc_json_unknown_fields(body,
                 (const char *[]) { "a", "c", NULL });
    is_int(json_object_size(errors), 2, "2 unknown fields");
    is_str(json_string_value(json_object_get(errors, "b")), "unknown field",
           "b is");
    is_str(json_string_value(json_object_get(errors, "d")), "unknown field",
           "d is");
    json_decref(errors);

    /* the body's parse error: where, never what (it may be a password) */

    s = "{\"login\": \"123456\", \"password\": \"hunter2\"";
    ok(ngx_http_cvc_json_parse((u_char *) s, strlen(s), &error, ngx_unit_pool)
       == NULL, "a truncated body");
    is_nstr(error.data, error.len, "Malformed JSON at line 1, column 41.",
            "its line and column, not the password");

    s = "{\"amount\": 1, \"amount\": 2}";
    ok(ngx_http_cvc_json_parse((u_char *) s, strlen(s), &error, ngx_unit_pool)
       == NULL && error.len > 0, "a member twice");

    s = "{\"a\": [1, 2]}";
    json_decref(body);
    body = ngx_http_cvc_json_parse((u_char *) s, strlen(s), &error,
                                   ngx_unit_pool);
    ok(json_is_object(body) && error.len == 0, "an object, no error");

    /* members: copied NUL-terminated, or as SQL parameters */

    json_decref(body);
    body = json_loads("{\"s\": \"abc\", \"n\": 7, \"z\": null}", 0, NULL);

    is_int(ngx_http_cvc_json_member(ngx_unit_pool, body, "s", &v), NGX_OK,
           "a string member");
    ok(v.len == 3 && ngx_strcmp(v.data, "abc") == 0, "copied, NUL-ended");
    is_int(ngx_http_cvc_json_member(ngx_unit_pool, body, "n", &v),
           NGX_DECLINED, "a number is not a string member");
    is_int(ngx_http_cvc_json_member(ngx_unit_pool, body, "x", &v),
           NGX_DECLINED, "an absent member");

    ngx_http_cvc_json_param(body, "s", &v);
    is_nstr(v.data, v.len, "abc", "a parameter");
    ngx_http_cvc_json_param(body, "z", &v);
    ok(v.data == NULL && v.len == 0, "null: SQL NULL");
    ngx_http_cvc_json_param(body, "x", &v);
    ok(v.data == NULL && v.len == 0, "absent: SQL NULL");

    json_decref(body);

    /* answers are compact, in the members' order */

    body = json_pack("{sisssn}", "b", 1, "a", "\xc3\xa9", "c");
    p = ngx_http_cvc_json_dump(ngx_unit_pool, body, &v.len);
    is_nstr(p, v.len, "{\"b\":1,\"a\":\"\xc3\xa9\",\"c\":null}",
            "json_dump()");
    json_decref(body);

    return done_testing();
}


/*
 * What a check made of {"f": value} (value NULL: {}): the value it took,
 * the error it gave "f", or "(absent)"; "(boolean)" for a boolean.
 */

static const char *
check(ngx_uint_t kind, const char *value, int64_t a, int64_t b,
    ngx_flag_t required)
{
    char         text[1024];
    json_t      *body, *errors, *error;
    ngx_int_t    rc;
    json_int_t   n;
    const char  *s;

    static char         out[1024];
    static const char  *modes[] = { "immediate", "deferred", NULL };

    if (value != NULL) {
        snprintf(text, sizeof(text), "{\"f\": %s}", value);

    } else {
        snprintf(text, sizeof(text), "{}");
    }

    body = json_loads(text, 0, NULL);
    errors = json_object();

    if (body == NULL || errors == NULL) {
        return "(not JSON)";
    }

    s = NULL;

    switch (kind) {

    case STRING:
        s = ngx_http_cvc_json_string(body, "f", a, b, required, errors);
        break;

    case DIGITS:
        s = ngx_http_cvc_json_digits(body, "f", a, required, errors);
        break;

    case EMAIL:
        s = ngx_http_cvc_json_email(body, "f", required, errors);
        break;

    case ENUM:
        s = ngx_http_cvc_json_enum(body, "f", modes, required, errors);
        break;

    case INT:
        rc = ngx_http_cvc_json_int(body, "f", a, b, required, errors, &n);

        if (rc == NGX_OK) {
            snprintf(text, sizeof(text), "%lld", (long long) n);
            s = text;
        }

        break;

    default: /* BOOL */
        rc = ngx_http_cvc_json_bool(body, "f", errors);
        s = (rc == NGX_OK) ? "(boolean)" : NULL;
    }

    error = json_object_get(errors, "f");

    if (json_object_size(errors) > (error != NULL)) {
        snprintf(out, sizeof(out), "(an error on another field)");

    } else if (error != NULL && s != NULL) {
        snprintf(out, sizeof(out), "(a value and an error)");

    } else {
        snprintf(out, sizeof(out), "%s",
                 error ? json_string_value(error) : s ? s : "(absent)");
    }

    json_decref(body);
    json_decref(errors);

    return out;
}


/* an amount: integer cents, 1 .. 10 000 000, required */

static const char *
cents(const char *value)
{
    return check(INT, value, 1, NGX_HTTP_CVC_MAX_AMOUNT, 1);
}


/* a JSON string of n times s, then tail */

static const char *
repeat(const char *s, ngx_uint_t n, const char *tail)
{
    ngx_uint_t  i;

    static char  buf[1024];

    buf[0] = '"';
    buf[1] = '\0';

    for (i = 0; i < n; i++) {
        strcat(buf, s);
    }

    strcat(buf, tail);
    strcat(buf, "\"");

    return buf;
}


/* a JSON string: an e-mail address of len bytes, 64 of them before the @ */

static const char *
address(size_t len)
{
    char  tail[512];

    tail[0] = '@';
    ngx_memset(tail + 1, 'b', len - 68);
    ngx_memcpy(tail + 1 + len - 68, ".fr", sizeof(".fr"));

    return repeat("a", 64, tail);
}

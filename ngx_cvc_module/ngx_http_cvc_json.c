
/*
 * CVC gateway: JSON helpers over jansson.  Parsing the request body,
 * dumping answers into the request pool, and the field checks that give
 * 422 validation_failed its "fields".
 */


#include "ngx_http_cvc_module.h"


static void ngx_http_cvc_json_cleanup(void *data);


/* returns NULL with error set (or empty on memory failure) */

json_t *
ngx_http_cvc_json_parse(u_char *data, size_t len, ngx_str_t *error,
    ngx_pool_t *pool)
{
    u_char        *p;
    json_t        *json;
    json_error_t   err;

    ngx_str_null(error);

    json = json_loadb((char *) data, len,
                     JSON_REJECT_DUPLICATES|JSON_DECODE_ANY, &err);

    if (json != NULL) {
        return json;
    }

    p = ngx_pnalloc(pool, 256);
    if (p == NULL) {
        return NULL;
    }

    error->data = p;
    /* jansson's text may quote the body (a password): only where it broke */

    (void) ngx_http_cvc_cstr(p, 256, "Malformed JSON at line %d, column %d.",
                             err.line, err.column);
    error->len = ngx_strlen(p);

    return NULL;
}


u_char *
ngx_http_cvc_json_dump(ngx_pool_t *pool, json_t *json, size_t *len)
{
    u_char  *p;
    size_t   size;

    size = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (size == 0) {
        return NULL;
    }

    p = ngx_pnalloc(pool, size);
    if (p == NULL) {
        return NULL;
    }

    *len = json_dumpb(json, (char *) p, size, JSON_COMPACT);

    return (*len == size) ? p : NULL;
}


/*
 * Adds "unknown field" to errors for each member of body not in allowed
 * (a NULL-terminated list).  Returns errors, created when NULL.
 */

json_t *
ngx_http_cvc_json_unknown_fields(json_t *body, const char *const *allowed)
{
    json_t             *errors, *value;
    const char         *key;
    const char *const  *a;

    errors = json_object();
    if (errors == NULL) {
        return NULL;
    }

    json_object_foreach(body, key, value) {

        for (a = allowed; *a != NULL; a++) {
            if (ngx_strcmp(key, *a) == 0) {
                break;
            }
        }

        if (*a == NULL) {
            json_object_set_new(errors, key, json_string("unknown field"));
        }
    }

    return errors;
}


/*
 * A string member of min..max characters (UTF-8 code points): returns it,
 * or NULL when absent (an error if required) or wrong, with its error
 * added to errors.
 */

const char *
ngx_http_cvc_json_string(json_t *body, const char *name, size_t min,
    size_t max, ngx_flag_t required, json_t *errors)
{
    u_char      *p;
    size_t       n;
    json_t      *value;
    const char  *s;
    char         msg[64];

    value = json_object_get(body, name);

    if (value == NULL || json_is_null(value)) {
        if (required) {
            json_object_set_new(errors, name, json_string("is required"));
        }

        return NULL;
    }

    if (!json_is_string(value)) {
        json_object_set_new(errors, name, json_string("must be a string"));
        return NULL;
    }

    s = json_string_value(value);
    p = (u_char *) s;
    n = ngx_utf8_length(p, json_string_length(value));

    if (n < min || n > max) {
        (void) ngx_http_cvc_cstr((u_char *) msg, sizeof(msg),
                                 "must be %uz to %uz characters long",
                                 min, max);
        json_object_set_new(errors, name, json_string(msg));
        return NULL;
    }

    return s;
}


/* a string of exactly n digits */

const char *
ngx_http_cvc_json_digits(json_t *body, const char *name, size_t n,
    ngx_flag_t required, json_t *errors)
{
    size_t       i;
    const char  *s;
    char         msg[32];

    s = ngx_http_cvc_json_string(body, name, 0, (size_t) -1, required,
                                 errors);
    if (s == NULL) {
        return NULL;
    }

    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            break;
        }
    }

    if (s[i] != '\0' || i != n) {
        (void) ngx_http_cvc_cstr((u_char *) msg, sizeof(msg),
                                 "must be %uz digits", n);
        json_object_set_new(errors, name, json_string(msg));
        return NULL;
    }

    return s;
}


/*
 * An e-mail address: local@domain, 3..254 bytes of printable ASCII (RFC
 * 5321's limit is in octets; a non-ASCII address would need SMTPUTF8, which
 * the relay is not asked for), no space, a dot in the domain.
 * Deliverability is the mail's business.
 */

const char *
ngx_http_cvc_json_email(json_t *body, const char *name, ngx_flag_t required,
    json_t *errors)
{
    const char  *s, *p, *at;

    s = ngx_http_cvc_json_string(body, name, 3, NGX_HTTP_CVC_EMAIL_MAX,
                                 required, errors);
    if (s == NULL) {
        return NULL;
    }

    at = NULL;

    for (p = s; *p != '\0'; p++) {
        if ((u_char) *p <= ' ' || (u_char) *p >= 0x7f || *p == '"'
            || *p == '<' || *p == '>' || *p == ',' || *p == ';')
        {
            break;
        }

        if (*p == '@') {
            if (at != NULL) {
                break;
            }

            at = p;
        }
    }

    if (*p != '\0' || at == NULL || at == s || at[1] == '\0'
        || ngx_strchr(at, '.') == NULL || p[-1] == '.')
    {
        json_object_set_new(errors, name,
                            json_string("must be an e-mail address, in "
                                        "ASCII (at most 254 bytes)"));
        return NULL;
    }

    return s;
}


/* a member as a SQL text parameter: absent or null is SQL NULL */

void
ngx_http_cvc_json_param(json_t *body, const char *name, ngx_str_t *param)
{
    json_t  *value;

    value = json_object_get(body, name);

    if (value == NULL || !json_is_string(value)) {
        ngx_str_null(param);
        return;
    }

    param->data = (u_char *) json_string_value(value);
    param->len = json_string_length(value);
}


/* a string member, copied into the pool */

ngx_int_t
ngx_http_cvc_json_member(ngx_pool_t *pool, json_t *json, const char *name,
    ngx_str_t *value)
{
    json_t  *v;

    v = json_object_get(json, name);

    if (v == NULL || !json_is_string(v)) {
        return NGX_DECLINED;
    }

    value->len = json_string_length(v);
    value->data = ngx_pnalloc(pool, value->len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, json_string_value(v), value->len);
    value->data[value->len] = '\0';

    return NGX_OK;
}


ngx_flag_t
ngx_http_cvc_is_digits(const char *s, size_t len, size_t n)
{
    size_t  i;

    if (len != n) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* milliseconds since the epoch as RFC 3339 UTC, to the second; NUL-ended */

u_char *
ngx_http_cvc_time_json(u_char *buf, int64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02dZ%Z",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* an integer member (a JSON integer: 40.0 and "40" are errors) */

ngx_int_t
ngx_http_cvc_json_int(json_t *body, const char *name, json_int_t min,
    json_int_t max, ngx_flag_t required, json_t *errors, json_int_t *value)
{
    json_t  *v;
    char     msg[80];

    v = json_object_get(body, name);

    if (v == NULL || json_is_null(v)) {
        if (required) {
            json_object_set_new(errors, name, json_string("is required"));
        }

        return NGX_DECLINED;
    }

    if (!json_is_integer(v)) {
        json_object_set_new(errors, name, json_string("must be an integer"));
        return NGX_ERROR;
    }

    *value = json_integer_value(v);

    if (*value < min || *value > max) {
        (void) ngx_http_cvc_cstr((u_char *) msg, sizeof(msg), "must be %L to %L",
                     (int64_t) min, (int64_t) max);
        json_object_set_new(errors, name, json_string(msg));
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), with a day that
 * exists (years 2000 to 2999, as ngx_http_cvc_is_date()), an hour, minute
 * and second of a clock, a fraction of one digit at least, and an offset
 * of at most 23:59.
 */

ngx_flag_t
ngx_http_cvc_is_time(const char *s)
{
    const char  *p, *t;
    const char  *shape = "dddd-dd-ddTdd:dd:dd";

    t = s;

    for (p = shape; *p != '\0'; p++, s++) {
        if (*p == 'd' ? (*s < '0' || *s > '9') : *s != *p) {
            return 0;
        }
    }

    if (!ngx_http_cvc_is_date((u_char *) t, 10)
        || ngx_atoi((u_char *) t + 11, 2) > 23
        || ngx_atoi((u_char *) t + 14, 2) > 59
        || ngx_atoi((u_char *) t + 17, 2) > 59)
    {
        return 0;
    }

    if (*s == '.') {
        s++;

        if (*s < '0' || *s > '9') {
            return 0;
        }

        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }

    if (*s == 'Z') {
        return s[1] == '\0';
    }

    if (*s != '+' && *s != '-') {
        return 0;
    }

    s++;

    return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9'
           && s[2] == ':' && s[3] >= '0' && s[3] <= '9' && s[4] >= '0'
           && s[4] <= '9' && s[5] == '\0'
           && ngx_atoi((u_char *) s, 2) <= 23
           && ngx_atoi((u_char *) s + 3, 2) <= 59;
}


/* YYYY-MM-DD, a day that exists, years 2000 to 2999 */

ngx_flag_t
ngx_http_cvc_is_date(u_char *p, size_t len)
{
    ngx_int_t  y, m, d, days;

    static ngx_int_t  mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                  31 };

    if (len != 10 || p[4] != '-' || p[7] != '-') {
        return 0;
    }

    y = ngx_atoi(p, 4);
    m = ngx_atoi(p + 5, 2);
    d = ngx_atoi(p + 8, 2);

    if (y < 2000 || y > 2999 || m < 1 || m > 12 || d < 1) {
        return 0;
    }

    days = mdays[m - 1];

    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) {
        days = 29;
    }

    return d <= days;
}


/* a boolean member */

ngx_int_t
ngx_http_cvc_json_bool(json_t *body, const char *name, json_t *errors)
{
    json_t  *v;

    v = json_object_get(body, name);

    if (v == NULL || json_is_null(v)) {
        return NGX_DECLINED;
    }

    if (!json_is_boolean(v)) {
        json_object_set_new(errors, name, json_string("must be true or false"));
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* one of the strings of values (NULL-terminated) */

const char *
ngx_http_cvc_json_enum(json_t *body, const char *name,
    const char *const *values, ngx_flag_t required, json_t *errors)
{
    const char         *s;
    const char *const  *v;

    s = ngx_http_cvc_json_string(body, name, 1, 64, required, errors);
    if (s == NULL) {
        return NULL;
    }

    for (v = values; *v != NULL; v++) {
        if (ngx_strcmp(s, *v) == 0) {
            return s;
        }
    }

    json_object_set_new(errors, name, json_string("is not one of the values "
                                                  "allowed"));
    return NULL;
}


/* json is released with the pool */

ngx_int_t
ngx_http_cvc_json_pool(ngx_pool_t *pool, json_t *json)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        json_decref(json);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_cvc_json_cleanup;
    cln->data = json;

    return NGX_OK;
}


static void
ngx_http_cvc_json_cleanup(void *data)
{
    json_decref(data);
}


/*
 * printf into buf, always NUL-terminated: at most size - 1 bytes of text.
 * (ngx_snprintf() with a trailing %Z leaves no NUL when it cuts.)
 */

u_char *
ngx_http_cvc_cstr(u_char *buf, size_t size, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + size - 1, fmt, args);
    va_end(args);

    *p = '\0';

    return buf;
}

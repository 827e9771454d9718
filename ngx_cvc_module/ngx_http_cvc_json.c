
/*
 * CVC gateway: JSON helpers over jansson.  Parsing the request body,
 * dumping answers into the request pool, and the field checks that give
 * 422 validation_failed its "fields".
 */


#include "ngx_http_cvc_module.h"


/* returns NULL with error set (or empty on memory failure) */

json_t *
ngx_http_cvc_json_parse(u_char *data, size_t len, ngx_str_t *error,
    ngx_pool_t *pool)
{
    u_char        *p;
    json_t        *json;
    json_error_t   err;

    ngx_str_null(error);

    json = json_loadb((char *) data, len, JSON_REJECT_DUPLICATES, &err);

    if (json != NULL) {
        return json;
    }

    p = ngx_pnalloc(pool, 256);
    if (p == NULL) {
        return NULL;
    }

    error->data = p;
    error->len = ngx_snprintf(p, 255, "Malformed JSON at line %d, column %d:"
                              " %s%Z", err.line, err.column, err.text)
                 - p - 1;

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
        ngx_snprintf((u_char *) msg, sizeof(msg),
                     "must be %uz to %uz characters long%Z", min, max);
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
        ngx_snprintf((u_char *) msg, sizeof(msg), "must be %uz digits%Z", n);
        json_object_set_new(errors, name, json_string(msg));
        return NULL;
    }

    return s;
}


/*
 * An e-mail address: local@domain, 3..254 characters, no space or control
 * character, a dot in the domain.  Deliverability is the mail's business.
 */

const char *
ngx_http_cvc_json_email(json_t *body, const char *name, ngx_flag_t required,
    json_t *errors)
{
    const char  *s, *p, *at;

    s = ngx_http_cvc_json_string(body, name, 3, 254, required, errors);
    if (s == NULL) {
        return NULL;
    }

    at = NULL;

    for (p = s; *p != '\0'; p++) {
        if ((u_char) *p <= ' ' || *p == 0x7f || *p == '"' || *p == '<'
            || *p == '>' || *p == ',' || *p == ';')
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
                            json_string("must be an e-mail address"));
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


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

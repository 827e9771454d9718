
/*
 * CVC gateway: query strings.  A list's parameters are declared in a
 * table; the query string is checked against it (an unknown, repeated or
 * bad parameter: 400 invalid_parameter naming it) and handed to SQL as a
 * JSON object, repeatable ones as arrays.
 */


#include "ngx_http_cvc_module.h"


static u_char *ngx_http_cvc_query_decode(ngx_http_request_t *r, u_char *eq,
    u_char *amp, u_char **end);
static ngx_int_t ngx_http_cvc_query_list(const ngx_http_cvc_param_t *s,
    json_t *params, u_char *value, u_char *end);
static ngx_int_t ngx_http_cvc_query_one(const ngx_http_cvc_param_t *s,
    json_t *params, u_char *value, u_char *end);
static ngx_int_t ngx_http_cvc_query_value(const ngx_http_cvc_param_t *p,
    u_char *v, size_t len);


/* the values of the lists' parameters */

const char  *ngx_http_cvc_statuses[] = { "awaiting_payment",
    "to_validate", "validated", "cancelled", "expired", "refused", NULL };

const char  *ngx_http_cvc_formats[] = { "csv", "xlsx", NULL };


/*
 * The query string against spec, as a JSON object freed with the request.
 * NULL: *bad names what is at fault, or is NULL when memory ran out.
 */

json_t *
ngx_http_cvc_query_params(ngx_http_request_t *r,
    const ngx_http_cvc_param_t *spec, const char **bad)
{
    json_t     *params;
    ngx_int_t   rc;

    *bad = NULL;

    params = json_object();
    if (params == NULL || ngx_http_cvc_json_pool(r->pool, params) != NGX_OK) {
        return NULL;
    }

    rc = ngx_http_cvc_query(r, spec, params, bad);

    if (rc == NGX_ERROR) {
        *bad = NULL;
    }

    return (rc == NGX_OK) ? params : NULL;
}


/*
 * NGX_OK: *params holds the parameters given.  NGX_DECLINED: *bad names
 * the parameter at fault.
 */

ngx_int_t
ngx_http_cvc_query(ngx_http_request_t *r, const ngx_http_cvc_param_t *spec,
    json_t *params, const char **bad)
{
    u_char                      *p, *last, *amp, *eq, *value, *end;
    ngx_int_t                    rc;
    const ngx_http_cvc_param_t  *s;

    /* no query string: args.data is NULL, with no end to point at */

    if (r->args.len == 0) {
        return NGX_OK;
    }

    p = r->args.data;
    last = r->args.data + r->args.len;

    for ( /* void */ ; p < last; p = amp) {

        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        if (amp == p) {
            amp++;
            continue;
        }

        eq = ngx_strlchr(p, amp, '=');
        if (eq == NULL) {
            eq = amp;
        }

        for (s = spec; s->name != NULL; s++) {
            if (ngx_strlen(s->name) == (size_t) (eq - p)
                && ngx_strncmp(s->name, p, eq - p) == 0)
            {
                break;
            }
        }

        if (s->name == NULL) {
            *bad = "an unknown parameter";
            return NGX_DECLINED;
        }

        *bad = s->name;

        value = ngx_http_cvc_query_decode(r, eq, amp, &end);
        if (value == NULL) {
            return NGX_ERROR;
        }

        rc = s->repeat ? ngx_http_cvc_query_list(s, params, value, end)
                       : ngx_http_cvc_query_one(s, params, value, end);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* the value after eq, up to amp, %-decoded ("+" is a space in a query
 * string), in a copy that ends at *end */

static u_char *
ngx_http_cvc_query_decode(ngx_http_request_t *r, u_char *eq, u_char *amp,
    u_char **end)
{
    u_char  *value, *src;
    size_t   len, i;

    len = (eq < amp) ? (size_t) (amp - (eq + 1)) : 0;

    value = ngx_pnalloc(r->pool, len + 1);
    if (value == NULL) {
        return NULL;
    }

    for (i = 0; i < len; i++) {
        value[i] = (eq[1 + i] == '+') ? ' ' : eq[1 + i];
    }

    src = value;
    *end = value;
    ngx_unescape_uri(end, &src, len, 0);

    return value;
}


/* a repeatable parameter: each comma-separated value counts */

static ngx_int_t
ngx_http_cvc_query_list(const ngx_http_cvc_param_t *s, json_t *params,
    u_char *value, u_char *end)
{
    u_char  *item, *comma;
    json_t  *a;

    a = json_object_get(params, s->name);

    if (a == NULL) {
        a = json_array();
        if (a == NULL || json_object_set_new(params, s->name, a)) {
            return NGX_ERROR;
        }
    }

    for (item = value; item <= end; item = comma + 1) {
        comma = ngx_strlchr(item, end, ',');
        if (comma == NULL) {
            comma = end;
        }

        if (ngx_http_cvc_query_value(s, item, comma - item) != NGX_OK
            || json_array_append_new(a,
                   json_stringn((char *) item, comma - item)) != 0)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* a parameter given once */

static ngx_int_t
ngx_http_cvc_query_one(const ngx_http_cvc_param_t *s, json_t *params,
    u_char *value, u_char *end)
{
    json_t  *v;

    if (json_object_get(params, s->name) != NULL
        || ngx_http_cvc_query_value(s, value, end - value) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    v = (s->type == NGX_HTTP_CVC_PARAM_INT)
        ? json_integer(ngx_atoi(value, end - value))
        : json_stringn((char *) value, end - value);

    if (v == NULL || json_object_set_new(params, s->name, v) != 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_cvc_query_value(const ngx_http_cvc_param_t *p, u_char *v,
    size_t len)
{
    size_t              i, chars;
    ngx_int_t           n;
    const char *const  *e;

    switch (p->type) {

    case NGX_HTTP_CVC_PARAM_DIGITS:
        return ngx_http_cvc_is_digits((char *) v, len, p->max)
               ? NGX_OK : NGX_ERROR;

    case NGX_HTTP_CVC_PARAM_ENUM:
        for (e = p->values; *e != NULL; e++) {
            if (ngx_strlen(*e) == len && ngx_strncmp(*e, v, len) == 0) {
                return NGX_OK;
            }
        }

        return NGX_ERROR;

    case NGX_HTTP_CVC_PARAM_DATE:
        return ngx_http_cvc_is_date(v, len) ? NGX_OK : NGX_ERROR;

    case NGX_HTTP_CVC_PARAM_INT:
        if (len == 0 || len > 9) {
            return NGX_ERROR;
        }

        n = ngx_atoi(v, len);

        return (n != NGX_ERROR && n >= (ngx_int_t) p->min
                && n <= (ngx_int_t) p->max) ? NGX_OK : NGX_ERROR;

    default: /* NGX_HTTP_CVC_PARAM_TEXT */

        /* in UTF-8 characters, as the fields of a body */

        chars = ngx_utf8_length(v, len);

        if (chars < p->min || chars > p->max) {
            return NGX_ERROR;
        }

        for (i = 0; i < len; i++) {
            if (v[i] < 0x20 || v[i] == 0x7f) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }
}


/* limit (default 20) and cursor, from checked parameters, as SQL params */

void
ngx_http_cvc_page_params(ngx_http_request_t *r, json_t *params,
    ngx_str_t *cursor, ngx_str_t *limit)
{
    u_char  *p;

    /* copied: the parameter goes from params below */

    if (ngx_http_cvc_json_member(r->pool, params, "cursor", cursor)
        != NGX_OK)
    {
        ngx_str_null(cursor);
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        ngx_str_set(limit, "20");
        return;
    }

    limit->data = p;
    limit->len = ngx_sprintf(p, "%L", (int64_t) (json_is_integer(
                     json_object_get(params, "limit"))
                     ? json_integer_value(json_object_get(params, "limit"))
                     : 20)) - p;

    json_object_del(params, "limit");
    json_object_del(params, "cursor");
}

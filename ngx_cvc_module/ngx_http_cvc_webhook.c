
/*
 * CVC gateway: a webhook event of the outbox, POSTed from a thread of the
 * pool with libcurl, signed with the point of sale's secret; it goes to no
 * address that cvc_webhook_allow does not let it reach (checked where curl
 * connects, after DNS), follows no redirect, uses no proxy, and reads at
 * most 64 KB of the answer.
 */


#include "ngx_http_cvc_outbox.h"

#include <openssl/hmac.h>


#define NGX_HTTP_CVC_WEBHOOK_ANSWER  65536


static ngx_int_t ngx_http_cvc_webhook_sign(ngx_http_cvc_delivery_t *d,
    u_char *header, size_t size);
static curl_socket_t ngx_http_cvc_webhook_socket(void *data,
    curlsocktype purpose, struct curl_sockaddr *addr);
static size_t ngx_http_cvc_webhook_answer(char *buf, size_t size, size_t n,
    void *data);


/*
 * A webhook event: POST the body, signed
 * Cvc-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 */

void
ngx_http_cvc_webhook_send(ngx_http_cvc_delivery_t *d, CURL *curl)
{
    u_char              header[256];
    CURLcode            rc;
    struct curl_slist  *headers;

    if (d->url == NULL || d->body == NULL || d->secret == NULL) {
        ngx_cpystrn((u_char *) d->error,
                    (u_char *) "the webhook was removed", sizeof(d->error));
        return;
    }

    if (ngx_http_cvc_webhook_sign(d, header, sizeof(header)) != NGX_OK) {
        return;
    }

    headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, (char *) header);
    headers = curl_slist_append(headers, "User-Agent: cvc-gateway-webhooks");

    curl_easy_setopt(curl, CURLOPT_URL, d->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);

    /* no proxy from the environment, no redirect, every address checked
     * where it is connected to, at most 64 KB of the answer read */

    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION,
                     ngx_http_cvc_webhook_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, d);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ngx_http_cvc_webhook_answer);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, d);

    rc = curl_easy_perform(curl);

    (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &d->status);
    d->timedout = (rc == CURLE_OPERATION_TIMEDOUT);

    /* a 2xx is a delivery, even where the answer is cut at 64 KB */

    d->ok = ((rc == CURLE_OK
              || (rc == CURLE_WRITE_ERROR
                  && d->answer > NGX_HTTP_CVC_WEBHOOK_ANSWER))
             && d->status >= 200 && d->status < 300);

    if (!d->ok && d->refused[0] != '\0') {
        ngx_cpystrn((u_char *) d->error, (u_char *) d->refused,
                    sizeof(d->error));

    } else if (!d->ok && d->error[0] == '\0') {
        if (rc == CURLE_OK) {
            (void) ngx_http_cvc_cstr((u_char *) d->error, sizeof(d->error),
                                     "HTTP %l", d->status);

        } else {
            ngx_cpystrn((u_char *) d->error, (u_char *) curl_easy_strerror(rc),
                        sizeof(d->error));
        }
    }

    curl_slist_free_all(headers);
}


/* the Cvc-Signature: header line, of now */

static ngx_int_t
ngx_http_cvc_webhook_sign(ngx_http_cvc_delivery_t *d, u_char *header,
    size_t size)
{
    u_char        *p, *msg, mac[EVP_MAX_MD_SIZE], hex[2 * EVP_MAX_MD_SIZE + 1];
    size_t         len;
    time_t         now;
    unsigned int   mac_len;

    now = time(NULL);

    /* HMAC-SHA256(secret, "<t>.<body>") */

    len = ngx_strlen(d->body);
    msg = malloc(NGX_TIME_T_LEN + 1 + len);
    if (msg == NULL) {
        ngx_cpystrn((u_char *) d->error, (u_char *) "no memory",
                    sizeof(d->error));
        return NGX_ERROR;
    }

    p = ngx_sprintf(msg, "%T.", now);
    p = ngx_cpymem(p, d->body, len);

    if (HMAC(EVP_sha256(), d->secret, ngx_strlen(d->secret), msg, p - msg,
             mac, &mac_len)
        == NULL)
    {
        free(msg);
        ngx_cpystrn((u_char *) d->error, (u_char *) "HMAC failed",
                    sizeof(d->error));
        return NGX_ERROR;
    }

    free(msg);

    p = ngx_hex_dump(hex, mac, mac_len);
    *p = '\0';

    (void) ngx_http_cvc_cstr(header, size, "Cvc-Signature: t=%T,v1=%s", now,
                             hex);

    return NGX_OK;
}


/* curl's socket: none to an address where webhooks may not go */

static curl_socket_t
ngx_http_cvc_webhook_socket(void *data, curlsocktype purpose,
    struct curl_sockaddr *addr)
{
    ngx_http_cvc_delivery_t  *d = data;

    u_char      text[NGX_SOCKADDR_STRLEN];
    size_t      len;
    const char  *what;

    what = ngx_http_cvc_destination_refused(d->allow, &addr->addr);

    if (what != NULL) {
        len = ngx_sock_ntop(&addr->addr, addr->addrlen, text, sizeof(text),
                            0);
        (void) ngx_http_cvc_cstr((u_char *) d->refused, sizeof(d->refused),
                                 "refused: %*s is %s (cvc_webhook_allow)",
                                 len, text, what);
        return CURL_SOCKET_BAD;
    }

    return socket(addr->family, addr->socktype, addr->protocol);
}


/* the answer's body is not kept: counted, and cut after 64 KB */

static size_t
ngx_http_cvc_webhook_answer(char *buf, size_t size, size_t n, void *data)
{
    ngx_http_cvc_delivery_t  *d = data;

    d->answer += size * n;

    return (d->answer > NGX_HTTP_CVC_WEBHOOK_ANSWER) ? 0 : size * n;
}

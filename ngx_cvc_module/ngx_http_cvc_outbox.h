
/*
 * CVC gateway: what the outbox's files share: a delivery, as the event
 * loop (ngx_http_cvc_outbox.c) hands it to a thread of the pool and gets
 * it back, and the two ways a thread sends it: an e-mail
 * (ngx_http_cvc_mail.c) or a webhook event (ngx_http_cvc_webhook.c).
 */


#ifndef _NGX_HTTP_CVC_OUTBOX_H_INCLUDED_
#define _NGX_HTTP_CVC_OUTBOX_H_INCLUDED_


#include "ngx_http_cvc_module.h"

#include <curl/curl.h>


typedef struct {
    /* in */
    ngx_uint_t                  webhook;
    char                       *smtp;
    char                       *from;
    char                       *to;
    char                       *subject;
    char                       *text;
    char                       *html;
    char                       *url;
    char                       *body;
    char                       *secret;
    ngx_array_t                *allow;      /* cvc_webhook_allow */

    /* out */
    ngx_uint_t                  ok;
    ngx_uint_t                  timedout;
    long                        status;
    size_t                      answer;     /* bytes of the answer read */
    char                        refused[160];
    char                        error[CURL_ERROR_SIZE];

    u_char                      id[NGX_INT64_LEN + 1];
    size_t                      id_len;
} ngx_http_cvc_delivery_t;


/* in a thread: d->ok, d->status and d->error say how it went */
void ngx_http_cvc_mail_send(ngx_http_cvc_delivery_t *d, CURL *curl);
void ngx_http_cvc_webhook_send(ngx_http_cvc_delivery_t *d, CURL *curl);


#endif /* _NGX_HTTP_CVC_OUTBOX_H_INCLUDED_ */


/*
 * CVC gateway: a library's socket (libpq's, hiredis's) on nginx's event
 * loop.  The library owns the descriptor; nginx gets a connection around
 * it, with level-triggered events, so that a library that reads less than
 * what is ready is called again.
 */


#include "ngx_http_cvc_module.h"


ngx_connection_t *
ngx_http_cvc_conn_get(ngx_socket_t fd, ngx_event_handler_pt handler,
    void *data, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        return NULL;
    }

    c->data = data;
    c->log = log;
    c->log_error = NGX_ERROR_ERR;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = handler;
    c->write->handler = handler;

    /* a number of its own, as ngx_event_connect_peer() gives an upstream's */

    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, log, 0,
                   "cvc: connection *%uA on fd %d", c->number, fd);

    return c;
}


/* sets the events wanted; each call states both */

ngx_int_t
ngx_http_cvc_conn_want(ngx_connection_t *c, ngx_flag_t read, ngx_flag_t write)
{
    if (read && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!read && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (write && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!write && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Gives the connection back; the descriptor is its library's to close.
 * closed: the library closed it already (libpq does on a lost server), so
 * the kernel dropped its events and nothing must be asked of epoll.
 */

void
ngx_http_cvc_conn_free(ngx_connection_t *c, ngx_flag_t closed)
{
    if (closed) {
        c->read->active = 0;
        c->write->active = 0;

    } else {
        (void) ngx_http_cvc_conn_want(c, 0, 0);
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}

/*
 * libcore/src/http.c
 *      The operations endpoint: libmicrohttpd driven by the caller's libev loop.
 *
 * MHD runs without threads (no MHD_USE_INTERNAL_POLLING_THREAD) and with epoll: its epoll
 * descriptor becomes readable whenever a socket it manages has work, so one ev_io watcher on it
 * plus a timer for MHD's connection timeouts is all the integration there is. After every MHD_run
 * the timer is re-armed from MHD_get_timeout. Responses are copied into MHD (MUST_COPY), so the
 * body buffer is reused across requests.
 */
#include "cs/http.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "cs/log.h"

struct cs_http {
    struct ev_loop *loop;
    struct MHD_Daemon *d;
    ev_io io;
    ev_timer timer;
    cs_http_handler_fn fn;
    void *ud;
    cs_buf_t body;
    int port;
};

static void rearm(cs_http_t *h)
{
    MHD_UNSIGNED_LONG_LONG to = 0;
    ev_timer_stop(h->loop, &h->timer);
    if (MHD_get_timeout(h->d, &to) == MHD_YES) {
        ev_timer_set(&h->timer, (double)to / 1000.0, 0.);
        ev_timer_start(h->loop, &h->timer);
    }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    cs_http_t *h = w->data;
    MHD_run(h->d);
    rearm(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    cs_http_t *h = w->data;
    MHD_run(h->d);
    rearm(h);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version, (void)upload_data, (void)con_cls;
    cs_http_t *h = cls;
    struct MHD_Response *resp = NULL;
    enum MHD_Result ret;
    int status;
    const char *ctype = "text/plain; charset=utf-8";

    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* ignore request bodies */
        return MHD_YES;
    }
    cs_buf_reset(&h->body);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        cs_buf_puts(&h->body, "method not allowed\n");
    } else {
        status = h->fn(h->ud, url, &h->body, &ctype);
    }
    resp = MHD_create_response_from_buffer(h->body.len, h->body.len ? h->body.data : (void *)"",
                                           MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

cs_http_t *cs_http_new(struct ev_loop *loop, int port, cs_http_handler_fn fn, void *ud,
                       cs_err_t *err)
{
    cs_http_t *h = calloc(1, sizeof *h);
    const union MHD_DaemonInfo *info;

    if (!h)
        abort();
    h->loop = loop;
    h->fn = fn;
    h->ud = ud;
    cs_buf_init(&h->body);
    if (port < 0 || port > 65535) {
        cs_err_set_field(err, CS_ERR_FATAL, "metrics-port", "port %d is out of range", port);
        goto fail;
    }
    h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO, (uint16_t)port, NULL, NULL, on_request,
                            h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_END);
    if (!h->d) {
        cs_err_set_field(err, CS_ERR_FATAL, "metrics-port",
                         "cannot listen on port %d (in use or not permitted)", port);
        goto fail;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        cs_err_set(err, CS_ERR_FATAL, "libmicrohttpd has no epoll descriptor");
        goto fail;
    }
    ev_io_init(&h->io, on_io, info->epoll_fd, EV_READ);
    h->io.data = h;
    ev_io_start(loop, &h->io);
    ev_init(&h->timer, on_timer);
    h->timer.data = h;
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    rearm(h);
    return h;
fail:
    cs_http_destroy(h);
    return NULL;
}

int cs_http_port(const cs_http_t *h)
{
    return h->port;
}

void cs_http_destroy(cs_http_t *h)
{
    if (!h)
        return;
    if (h->d) {
        ev_io_stop(h->loop, &h->io);
        ev_timer_stop(h->loop, &h->timer);
        MHD_stop_daemon(h->d);
    }
    cs_buf_fini(&h->body);
    free(h);
}

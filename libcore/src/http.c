/*
 * libcore/src/http.c
 *      The operations endpoint: libmicrohttpd driven by the caller's libev loop.
 *
 * MHD runs without threads (no MHD_USE_INTERNAL_POLLING_THREAD) and with epoll: its epoll
 * descriptor becomes readable whenever a socket it manages has work, so one ev_io watcher on it
 * plus one timer is all the integration there is. Responses are copied into MHD (MUST_COPY), so
 * the body buffer is reused across requests.
 *
 * The endpoint must keep answering probes while slow or many clients hold connections (an
 * orchestrator restarts a worker whose liveness probe goes unanswered). Three rules do it:
 *
 *   - MHD runs again and again until a run neither accepts nor closes a connection (at most
 *     HTTP_RUNS times per wake-up, then once more on the next loop iteration). MHD (0.9.75) takes
 *     its listening socket out of its epoll set while it is at its connection limit and puts it
 *     back only at the start of a later MHD_run, once it is below the limit; connections are
 *     closed at the end of a run. When one run closed every connection at once (slow clients
 *     timing out or leaving together), nothing was left to wake MHD again: no socket in the set,
 *     no timeout to wait for, and the endpoint never accepted again while the kernel's listen
 *     queue filled. Running again puts the listening socket back. It also drains a burst: one run
 *     accepts at most 11 connections, and the loop may come round only every few hundred
 *     milliseconds while the worker prepares a batch.
 *   - Each request must arrive whole within HTTP_REQUEST_S of the connection's accept or of its
 *     previous request, however slowly its bytes trickle in (MHD's own timeout only counts
 *     silence, which one byte every few seconds resets). Connections wait in the order of that
 *     deadline (conn_t, oldest first); the timer closes those past it.
 *   - At most HTTP_KEEP_CONNS connections are kept: one more evicts the connection that has
 *     waited longest for its request. MHD would otherwise stop accepting at its limit and let
 *     probes queue behind the slow clients in the kernel until those time out; with eviction a
 *     newcomer always gets in, and a probe, which sends its request at once, is never the oldest.
 *     MHD's own limit (HTTP_MAX_CONNS) is higher, for evicted connections not yet closed.
 *
 * Closing ("evicting") is a shutdown() of the connection's socket: MHD sees the hang-up on its
 * next run and closes the connection itself, so no MHD state is touched from outside. There is no
 * per-address limit: probes may well share an address with other clients (a node, a NAT, a mesh
 * sidecar), and eviction already stops any one client from starving the others.
 */
#include "cs/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cs/log.h"
#include "cs/mem.h"

#define HTTP_KEEP_CONNS 32 /* connections kept; one more evicts the longest waiting */
#define HTTP_MAX_CONNS  64 /* MHD's limit: the kept ones plus evicted ones not yet closed */
#define HTTP_REQUEST_S  5  /* a request must arrive whole within this (accept or last request) */
#define HTTP_WARN_S     60 /* closing clients is logged at most this often */
#define HTTP_RUNS       32 /* MHD_run calls per wake-up at most */

/* A connection MHD holds, in h->waiting while it is neither evicted nor closed. */
typedef struct conn {
    struct conn *prev, *next;
    int fd;
    double since; /* accepted or last request at, monotonic seconds */
    bool linked;
} conn_t;

struct cs_http {
    struct ev_loop *loop;
    struct MHD_Daemon *d;
    ev_io io;
    ev_timer timer;
    cs_http_handler_fn fn;
    void *ud;
    cs_buf_t body;
    int port;
    conn_t *head, *tail; /* waiting connections, oldest deadline first */
    int nwaiting;
    long long nstarted, nclosed; /* connections MHD accepted and closed, ever */
    long long evicted, timed_out, last_warn_evicted, last_warn_timed_out;
    double last_warn;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void unlink_conn(cs_http_t *h, conn_t *c)
{
    if (!c->linked)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        h->tail = c->prev;
    c->prev = c->next = NULL;
    c->linked = false;
    h->nwaiting--;
}

/* (Re)starts c's wait for a request now: it goes last, as the one with the latest deadline. */
static void wait_from_now(cs_http_t *h, conn_t *c)
{
    unlink_conn(h, c);
    c->since = now_s();
    c->prev = h->tail;
    if (h->tail)
        h->tail->next = c;
    else
        h->head = c;
    h->tail = c;
    c->linked = true;
    h->nwaiting++;
}

/* Hangs up on c; MHD notices on its next run and closes it (then CLOSED frees c). */
static void evict(cs_http_t *h, conn_t *c)
{
    shutdown(c->fd, SHUT_RDWR);
    unlink_conn(h, c);
}

static void warn_closing(cs_http_t *h)
{
    double now = now_s();
    if (now - h->last_warn < HTTP_WARN_S)
        return;
    cs_log_warn("http: closing slow or surplus clients",
                CS_LI("timed_out", h->timed_out - h->last_warn_timed_out),
                CS_LI("evicted", h->evicted - h->last_warn_evicted),
                CS_LI("keep_conns", HTTP_KEEP_CONNS), CS_LI("request_timeout_s", HTTP_REQUEST_S));
    h->last_warn = now;
    h->last_warn_evicted = h->evicted;
    h->last_warn_timed_out = h->timed_out;
}

static void on_conn(void *cls, struct MHD_Connection *mc, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    cs_http_t *h = cls;
    conn_t *c = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (c) {
            unlink_conn(h, c);
            free(c);
            *socket_context = NULL;
        }
        h->nclosed++;
        return;
    }
    h->nstarted++;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return; /* not tracked: MHD's own timeout and limit still apply */
    c = cs_mem_calloc(1, sizeof *c);
    c->fd = info->connect_fd;
    *socket_context = c;
    wait_from_now(h, c);
    if (h->nwaiting > HTTP_KEEP_CONNS) {
        h->evicted++;
        evict(h, h->head);
        warn_closing(h);
    }
}

/* Hangs up on every connection whose request is overdue. */
static void sweep(cs_http_t *h)
{
    double now = now_s();
    while (h->head && h->head->since + HTTP_REQUEST_S <= now) {
        h->timed_out++;
        evict(h, h->head);
        warn_closing(h);
    }
}

/*
 * Runs MHD until a run neither accepts nor closes a connection (see the header: this puts the
 * listening socket back and drains bursts), then arms the timer for whichever comes first: MHD's
 * own timeout or the oldest waiting connection's deadline; right away if MHD was still busy after
 * HTTP_RUNS runs.
 */
static void run(cs_http_t *h)
{
    MHD_UNSIGNED_LONG_LONG to_ms = 0;
    long long moved;
    int runs = 0;
    double after = -1.;

    sweep(h);
    do {
        moved = h->nstarted + h->nclosed;
        MHD_run(h->d);
    } while (h->nstarted + h->nclosed != moved && ++runs < HTTP_RUNS);
    if (h->nstarted + h->nclosed != moved)
        after = 0.;
    else if (MHD_get_timeout(h->d, &to_ms) == MHD_YES)
        after = (double)to_ms / 1000.0;
    if (h->head) {
        double due = h->head->since + HTTP_REQUEST_S - now_s();
        if (due < 0.)
            due = 0.;
        if (after < 0. || due < after)
            after = due;
    }
    ev_timer_stop(h->loop, &h->timer);
    if (after >= 0.) {
        ev_timer_set(&h->timer, after, 0.);
        ev_timer_start(h->loop, &h->timer);
    }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    run(w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)revents;
    run(w->data);
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
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    /* The request is in: the connection's next one has its own HTTP_REQUEST_S. */
    if (info && info->socket_context && ((conn_t *)info->socket_context)->linked)
        wait_from_now(h, info->socket_context);
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

/* The socket address of addr (numeric IPv4 or IPv6) and port, in *ss; *ipv6 says which. */
static int listen_addr(const char *addr, int port, struct sockaddr_storage *ss, bool *ipv6,
                       cs_err_t *err)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (port < 0 || port > 65535)
        return cs_err_set_field(err, CS_ERR_FATAL, "metrics-port", "port %d is out of range", port);
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *ipv6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *ipv6 = true;
        return 0;
    }
    return cs_err_set_field(err, CS_ERR_FATAL, "metrics-addr",
                            "'%s' is not a numeric IPv4 or IPv6 address (e.g. 0.0.0.0, "
                            "127.0.0.1, ::1)",
                            addr);
}

/* Watches the daemon's epoll descriptor from loop, and its timer; the port it is bound to. */
static int attach_loop(cs_http_t *h, struct ev_loop *loop, int port, cs_err_t *err)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);

    if (!info)
        return cs_err_set(err, CS_ERR_FATAL, "libmicrohttpd has no epoll descriptor");
    ev_io_init(&h->io, on_io, info->epoll_fd, EV_READ);
    h->io.data = h;
    ev_io_start(loop, &h->io);
    ev_init(&h->timer, on_timer);
    h->timer.data = h;
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    return 0;
}

cs_http_t *cs_http_new(struct ev_loop *loop, const char *addr, int port, cs_http_handler_fn fn,
                       void *ud, cs_err_t *err)
{
    cs_http_t *h = cs_mem_calloc(1, sizeof *h);
    struct sockaddr_storage ss;
    bool ipv6 = false;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_TURBO;

    h->loop = loop;
    h->fn = fn;
    h->ud = ud;
    h->last_warn = -HTTP_WARN_S;
    cs_buf_init(&h->body);
    if (!addr)
        addr = "0.0.0.0";
    if (listen_addr(addr, port, &ss, &ipv6, err) < 0)
        goto fail;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                            (const struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)HTTP_REQUEST_S, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)HTTP_MAX_CONNS, MHD_OPTION_NOTIFY_CONNECTION, on_conn, h,
                            MHD_OPTION_END);
    if (!h->d) {
        cs_err_set_field(err, CS_ERR_FATAL, "metrics-port",
                         "cannot listen on %s port %d (in use, not a local address, or not "
                         "permitted)",
                         addr, port);
        goto fail;
    }
    if (attach_loop(h, loop, port, err) < 0)
        goto fail;
    run(h);
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
        MHD_stop_daemon(h->d); /* closes every connection: CLOSED frees each conn_t */
    }
    cs_buf_fini(&h->body);
    free(h);
}

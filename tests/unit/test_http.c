/*
 * tests/unit/test_http.c
 *      Check suite for cs/http.h: the operations endpoint served on a libev loop in this process.
 *
 * The server listens on 127.0.0.1, port 0 (an ephemeral port), and runs on the test's own loop in
 * the main thread; clients are plain blocking sockets in a second thread, so nothing leaves the
 * loopback interface and nothing is faked: these are the requests an orchestrator's probe sends.
 * Covered: the handler sees the path and sets the status, body and content type; HEAD and other
 * methods; the refusals of bad addresses and ports; a connection whose request does not arrive
 * whole within 5 s is closed, however slowly its bytes trickle in; one connection beyond the 32
 * kept hangs up the one that has waited longest, and a probe is still answered.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cs/http.h"

/* ---- the server side: a handler and the loop ---------------------------------------------- */

static int handled; /* requests the handler saw (loop thread only) */

static int handler(void *ud, const char *path, cs_buf_t *body, const char **content_type)
{
    (void)ud;
    handled++;
    if (strcmp(path, "/healthz") == 0) {
        cs_buf_puts(body, "ok\n");
        return 200;
    }
    if (strcmp(path, "/metrics") == 0) {
        cs_buf_puts(body, "cs_up 1\n");
        *content_type = "text/plain; version=0.0.4";
        return 200;
    }
    cs_buf_printf(body, "no %s\n", path);
    return 404;
}

/* A client thread's work, and whether it is done (read by the loop thread). */
typedef struct job {
    void (*fn)(struct job *);
    int port;
    const char *request;
    char reply[4096];
    int status; /* the reply's status code, -1 when none arrived */
    int extra;  /* fn-specific result */
    volatile int done;
} job_t;

static void *job_main(void *arg)
{
    job_t *j = arg;
    j->fn(j);
    __atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    job_t *j = w->data;
    if (__atomic_load_n(&j->done, __ATOMIC_SEQ_CST))
        ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop (serving the endpoint) while j runs in a thread; fails after timeout_s. */
static void serve_while(struct ev_loop *loop, job_t *j, double timeout_s)
{
    pthread_t t;
    ev_timer tick;
    double start = ev_time();
    ev_timer_init(&tick, on_tick, 0.01, 0.01);
    tick.data = j;
    ev_timer_start(loop, &tick);
    ck_assert_int_eq(pthread_create(&t, NULL, job_main, j), 0);
    while (!__atomic_load_n(&j->done, __ATOMIC_SEQ_CST) && ev_time() - start < timeout_s)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &tick);
    ck_assert_msg(j->done, "the client did not finish within %.0f s", timeout_s);
    pthread_join(t, NULL);
}

/* ---- the client side ----------------------------------------------------------------------- */

static int dial(int port, double recv_timeout_s)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = (time_t)recv_timeout_s,
                         .tv_usec = (suseconds_t)((recv_timeout_s - (time_t)recv_timeout_s) * 1e6)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Reads until the server closes (or the receive timeout); returns the bytes read or -1. */
static int read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r == 0)
            break;
        if (r < 0)
            return errno == EINTR ? (int)n : -1;
        n += (size_t)r;
        if (n + 1 >= cap)
            break;
    }
    buf[n] = '\0';
    return (int)n;
}

/* Sends j->request whole, reads the reply (the request says Connection: close). */
static void one_request(job_t *j)
{
    int fd = dial(j->port, 10.0);
    j->status = -1;
    if (fd < 0)
        return;
    send(fd, j->request, strlen(j->request), MSG_NOSIGNAL);
    if (read_all(fd, j->reply, sizeof j->reply) > 0)
        sscanf(j->reply, "HTTP/1.%*d %d", &j->status);
    close(fd);
}

static const char *header_end(const char *reply)
{
    const char *p = strstr(reply, "\r\n\r\n");
    return p ? p + 4 : NULL;
}

static struct ev_loop *loop;
static cs_http_t *srv;

static void setup(void)
{
    cs_err_t err = {0};
    handled = 0;
    loop = ev_loop_new(EVFLAG_AUTO);
    srv = cs_http_new(loop, "127.0.0.1", 0, handler, NULL, &err);
    ck_assert_msg(srv != NULL, "cs_http_new: %s", err.msg);
    ck_assert_int_gt(cs_http_port(srv), 0);
}

static void teardown(void)
{
    cs_http_destroy(srv);
    srv = NULL;
    ev_loop_destroy(loop);
}

static void request(job_t *j, const char *text)
{
    memset(j, 0, sizeof *j);
    j->fn = one_request;
    j->port = cs_http_port(srv);
    j->request = text;
    serve_while(loop, j, 20.0);
}

/* ---- routing and methods ------------------------------------------------------------------- */

START_TEST(routes)
{
    job_t j;
    request(&j, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(j.status, 200);
    ck_assert_ptr_nonnull(header_end(j.reply));
    ck_assert_str_eq(header_end(j.reply), "ok\n");
    ck_assert_ptr_nonnull(strstr(j.reply, "Content-Type: text/plain; charset=utf-8\r\n"));

    request(&j, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(j.status, 200);
    ck_assert_str_eq(header_end(j.reply), "cs_up 1\n");
    ck_assert_ptr_nonnull(strstr(j.reply, "Content-Type: text/plain; version=0.0.4\r\n"));

    request(&j, "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(j.status, 404);
    ck_assert_str_eq(header_end(j.reply), "no /nowhere\n");
    ck_assert_int_eq(handled, 3);
}
END_TEST

START_TEST(methods)
{
    job_t j;
    /* HEAD: the handler runs, the status and length are GET's, no body is sent. */
    request(&j, "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(j.status, 200);
    ck_assert_str_eq(header_end(j.reply), "");
    ck_assert_ptr_nonnull(strstr(j.reply, "Content-Length: 3\r\n"));
    ck_assert_int_eq(handled, 1);
    /* Anything else is refused without calling the handler, its body ignored. */
    request(&j, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Connection: close\r\n\r\nhello");
    ck_assert_int_eq(j.status, 405);
    ck_assert_str_eq(header_end(j.reply), "method not allowed\n");
    request(&j, "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(j.status, 405);
    ck_assert_int_eq(handled, 1);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------------------ */

START_TEST(refusals)
{
    cs_err_t err = {0};
    ck_assert_ptr_null(cs_http_new(loop, "localhost", 0, handler, NULL, &err));
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_str_eq(err.field, "metrics-addr");
    ck_assert_ptr_nonnull(strstr(err.msg, "'localhost' is not a numeric IPv4 or IPv6 address"));

    ck_assert_ptr_null(cs_http_new(loop, "127.0.0.1", 65536, handler, NULL, &err));
    ck_assert_str_eq(err.field, "metrics-port");
    ck_assert_ptr_nonnull(strstr(err.msg, "port 65536 is out of range"));
    ck_assert_ptr_null(cs_http_new(loop, "127.0.0.1", -1, handler, NULL, &err));
    ck_assert_str_eq(err.field, "metrics-port");

    /* The port the fixture's server holds is taken. */
    int port = cs_http_port(srv);
    ck_assert_ptr_null(cs_http_new(loop, "127.0.0.1", port, handler, NULL, &err));
    ck_assert_str_eq(err.field, "metrics-port");
    char want[64];
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1 port %d", port);
    ck_assert_ptr_nonnull(strstr(err.msg, want));

    /* An address of no local interface. */
    ck_assert_ptr_null(cs_http_new(loop, "192.0.2.1", 0, handler, NULL, &err));
    ck_assert_str_eq(err.field, "metrics-port");

    /* IPv6 loopback, where the host has it. */
    cs_http_t *h6 = cs_http_new(loop, "::1", 0, handler, NULL, &err);
    if (h6)
        ck_assert_int_gt(cs_http_port(h6), 0);
    cs_http_destroy(h6);
    cs_http_destroy(NULL);
}
END_TEST

/* ---- slow and many clients ----------------------------------------------------------------- */

/*
 * Sends half a request one byte per 0.5 s (never silent for MHD's own timeout) and measures how
 * long the server lets it: extra = ms until the server closed, -1 if it never did within 12 s.
 */
static void trickle(job_t *j)
{
    static const char part[] = "GET /healthz HTTP/1.1\r\nHost: slow-client\r\nX-Pad: aaaaaaaaa";
    int fd = dial(j->port, 0.5);
    double start = ev_time();
    char c;
    j->extra = -1;
    if (fd < 0)
        return;
    for (size_t i = 0; ev_time() - start < 12.0; i = (i + 1) % (sizeof part - 1)) {
        if (send(fd, &part[i], 1, MSG_NOSIGNAL) < 0)
            break;
        ssize_t r = recv(fd, &c, 1, 0); /* waits 0.5 s: the trickle's pace */
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            break;
    }
    if (ev_time() - start < 12.0)
        j->extra = (int)((ev_time() - start) * 1000);
    close(fd);
}

START_TEST(slow_client_closed)
{
    job_t j = {.fn = trickle, .port = cs_http_port(srv)};
    serve_while(loop, &j, 20.0);
    ck_assert_msg(j.extra >= 0, "a client trickling a request for 12 s was never closed");
    /* 5 s for the whole request; the trickle and the loop's tick add a little. */
    ck_assert_int_ge(j.extra, 4500);
    ck_assert_int_le(j.extra, 8000);
    ck_assert_int_eq(handled, 0);
}
END_TEST

/*
 * Opens 33 idle connections one after the other (33 is one more than are kept), then sends a
 * probe on a new one: extra = 1 when the first idle connection was hung up, the probe's status
 * in status, and the others still open.
 */
static void crowd(job_t *j)
{
    enum { IDLE = 33 };
    int fds[IDLE], open_after = 0;
    char c;
    j->status = -1;
    for (int i = 0; i < IDLE; i++) {
        fds[i] = dial(j->port, 2.0);
        if (fds[i] < 0)
            return;
        usleep(20000); /* accepted in this order */
    }
    job_t probe = {.port = j->port,
                   .request = "GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"};
    one_request(&probe);
    j->status = probe.status;
    /* The oldest was evicted: it reads the hang-up at once. */
    j->extra = recv(fds[0], &c, 1, 0) == 0;
    /* The newest idle connection is kept: no hang-up within 0.2 s. */
    struct timeval tv = {.tv_usec = 200000};
    setsockopt(fds[IDLE - 1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    open_after = recv(fds[IDLE - 1], &c, 1, 0) < 0;
    if (!open_after)
        j->extra = 0;
    for (int i = 0; i < IDLE; i++)
        close(fds[i]);
}

START_TEST(crowd_evicts_oldest)
{
    job_t j = {.fn = crowd, .port = cs_http_port(srv)};
    serve_while(loop, &j, 20.0);
    ck_assert_int_eq(j.status, 200);
    ck_assert_msg(j.extra == 1, "the oldest idle connection was not hung up, or the newest was");
    ck_assert_int_eq(handled, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("endpoint");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, routes);
    tcase_add_test(tc, methods);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, slow_client_closed);
    tcase_add_test(tc, crowd_evicts_oldest);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * tests/integration/0075-http_slowloris.c
 *      A worker's /healthz, /readyz and /metrics answer within a second while 64 slow clients
 *      hold connections past the HTTP timeouts, and after they are gone; --metrics-addr binds the
 *      endpoint to one address and refuses anything but a numeric IPv4 or IPv6 address.
 *
 * Each slow client connects, sends half a request line and waits. Two rounds: first the issue's
 * case, 64 clients that connect at once, hold past the HTTP timeouts and then leave together
 * (before the fix the endpoint stopped accepting for good once they timed out together); then
 * slowloris proper, where a client the server closes connects again (after 50 ms, so the test does
 * not burn the shared machine's CPU), so 64 are held all along. Every 250 ms a probe (a fresh
 * connection, a whole request, read to the end) must get its complete answer within PROBE_MS. The
 * test measures every probe and asserts at the end, so a failing run still prints the figures.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define NSLOW    64
#define PROBE_MS 1000
#define HOLD_MS  13000 /* past every HTTP timeout: the old 10 s one and today's */
#define AFTER_MS 3000
#define NEVENTS  10000

static char buf[1 << 20];

/* GET path with a deadline (rt_http_get_at) into buf. */
static int probe(const char *addr, int port, const char *path, int ms, int64_t *took_ms)
{
    return rt_http_get_at(addr, port, path, ms, buf, sizeof buf, took_ms);
}

/* The slow clients: a socket each (-1: closed; when reconnect, connect again at again_ms). */
typedef struct slow {
    int fd[NSLOW];
    int64_t again_ms[NSLOW];
    bool reconnect;
    long reconnects, closed_by_server;
} slow_t;

static void slow_open(slow_t *s, int i, int port)
{
    static const char partial[] = "GET /metr"; /* half a request line, never finished */
    s->fd[i] = rt_http_dial("127.0.0.1", port, 1000);
    if (s->fd[i] >= 0 && write(s->fd[i], partial, sizeof partial - 1) < 0) {
        close(s->fd[i]);
        s->fd[i] = -1;
    }
    if (s->fd[i] < 0)
        s->again_ms[i] = cs_test_now_ms() + 50;
}

/* Notices the connections the server closed and opens them again. */
static void slow_tend(slow_t *s, int port)
{
    int64_t now = cs_test_now_ms();
    for (int i = 0; i < NSLOW; i++) {
        if (s->fd[i] < 0) {
            if (s->reconnect && now >= s->again_ms[i]) {
                s->reconnects++;
                slow_open(s, i, port);
            }
            continue;
        }
        struct pollfd p = {.fd = s->fd[i], .events = POLLIN};
        char junk[512];
        if (poll(&p, 1, 0) != 1)
            continue;
        ssize_t r = read(s->fd[i], junk, sizeof junk);
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
            s->closed_by_server++;
            close(s->fd[i]);
            s->fd[i] = -1;
            s->again_ms[i] = now + 50;
        }
    }
}

static void slow_close(slow_t *s)
{
    for (int i = 0; i < NSLOW; i++)
        if (s->fd[i] >= 0)
            close(s->fd[i]);
}

static long slow_held(const slow_t *s)
{
    long n = 0;
    for (int i = 0; i < NSLOW; i++)
        n += s->fd[i] >= 0;
    return n;
}

typedef struct stats {
    int n, bad;
    int64_t max_ms, sum_ms;
    char first_bad[128];
} stats_t;

/* Probes the three paths in turn for ms, every 250 ms, tending the slow clients meanwhile. */
static void probe_for(int port, slow_t *s, int ms, stats_t *st)
{
    static const char *const paths[] = {"/healthz", "/readyz", "/metrics"};
    int64_t end = cs_test_now_ms() + ms;
    for (int k = 0; cs_test_now_ms() < end; k++) {
        int64_t took;
        const char *path = paths[k % 3];
        int code = probe("127.0.0.1", port, path, PROBE_MS * cs_test_timeout_mult(), &took);
        st->n++;
        st->sum_ms += took;
        if (took > st->max_ms)
            st->max_ms = took;
        if (code != 200 && st->bad++ == 0)
            snprintf(st->first_bad, sizeof st->first_bad, "%s: status %d after %lld ms", path, code,
                     (long long)took);
        int64_t next = cs_test_now_ms() + 250;
        while (cs_test_now_ms() < next) {
            if (s)
                slow_tend(s, port);
            rt_sleep_ms(10);
        }
    }
}

static void report(const char *round, const slow_t *s, long held, const stats_t *hold,
                   const stats_t *after)
{
    fprintf(stderr,
            "%s: %d slow clients (%ld closed by the server, %ld reconnects, %ld held at the end); "
            "while they hold: %d probes, %d failed, latency mean %.1f ms, max %lld ms; after: %d "
            "probes, %d failed, mean %.1f ms, max %lld ms\n",
            round, NSLOW, s->closed_by_server, s->reconnects, held, hold->n, hold->bad,
            (double)hold->sum_ms / hold->n, (long long)hold->max_ms, after->n, after->bad,
            (double)after->sum_ms / after->n, (long long)after->max_ms);
}

static void check(const char *round, const stats_t *hold, const stats_t *after)
{
    ck_assert_msg(hold->bad == 0, "%s: %d of %d probes failed while slow clients held (first: %s)",
                  round, hold->bad, hold->n, hold->first_bad);
    ck_assert_msg(after->bad == 0, "%s: %d of %d probes failed after they left (first: %s)", round,
                  after->bad, after->n, after->first_bad);
}

START_TEST(slow_clients)
{
    char dsn[1024], topic[128], logf[256], port_s[16];
    rt_db("slowloris", dsn, sizeof dsn);
    cs_test_topic("slowloris", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-slowloris-%d.log", (int)getpid());
    unlink(logf);
    int port = rt_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);
    int mult = cs_test_timeout_mult();

    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < NEVENTS; i++)
        rt_produce_text(p, topic, i, 50, 1);
    rt_producer_flush(p);

    const char *args[] = {
        "--format",           "text", "--topics",   topic, "--group",        "rt-slow",
        "--batch-size",       "50",   "--batch-ms", "20",  "--metrics-port", port_s,
        "--handler-delay-us", "1000", NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    int64_t took, end = cs_test_now_ms() + 30000 * mult;
    while (cs_test_now_ms() < end && probe("127.0.0.1", port, "/readyz", 1000, &took) != 200)
        rt_sleep_ms(100);
    ck_assert_msg(probe("127.0.0.1", port, "/readyz", 1000, &took) == 200,
                  "the worker did not get ready (see %s)", logf);

    /* the case: 64 slow clients hold past the timeouts, then leave together */
    slow_t s1 = {.reconnect = false};
    for (int i = 0; i < NSLOW; i++)
        slow_open(&s1, i, port);
    stats_t hold1 = {0}, after1 = {0}, hold2 = {0}, after2 = {0};
    probe_for(port, &s1, HOLD_MS, &hold1);
    long held1 = slow_held(&s1);
    slow_close(&s1);
    probe_for(port, NULL, AFTER_MS, &after1);
    report("hold", &s1, held1, &hold1, &after1);

    /* slowloris: whatever the server closes connects again, so 64 are held all along */
    slow_t s2 = {.reconnect = true};
    for (int i = 0; i < NSLOW; i++)
        slow_open(&s2, i, port);
    probe_for(port, &s2, HOLD_MS, &hold2);
    long held2 = slow_held(&s2);
    slow_close(&s2);
    probe_for(port, NULL, AFTER_MS, &after2);
    report("slowloris", &s2, held2, &hold2, &after2);

    /* events kept flowing meanwhile */
    int applied = rt_wait_committed(dsn, "rt-slow", NEVENTS, 60000 * mult);
    int st = cs_test_stop(pid, SIGTERM, 15000 * mult);
    ck_assert_msg(applied == 0, "the worker did not apply every event (see %s)", logf);
    ck_assert_msg(cs_test_exited(st, 0), "exit status %d", st);

    /* every slow client of the first round was closed by the server: 32 evicted as surplus, the
     * others at their request deadline */
    ck_assert_msg(s1.closed_by_server == NSLOW, "the server closed %ld of %d slow clients",
                  s1.closed_by_server, NSLOW);
    check("hold", &hold1, &after1);
    check("slowloris", &hold2, &after2);
    rt_producer_destroy(p);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

static int has_ipv6_loopback(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Runs the worker with --metrics-addr addr (NULL: from CS_METRICS_ADDR=env); its exit status. */
static int refused(const char *dsn, const char *topic, const char *addr, const char *env,
                   const char *logf)
{
    const char *args[] = {"--format", "text",           "--topics", topic,
                          "--group",  "rt-addr",        "--drain",  "--metrics-port",
                          "0",        "--metrics-addr", addr,       NULL};
    if (!addr)
        args[9] = NULL;
    if (env)
        setenv("CS_METRICS_ADDR", env, 1);
    pid_t pid = rt_spawn(dsn, logf, args);
    unsetenv("CS_METRICS_ADDR");
    int st = rt_wait(pid, 30000 * cs_test_timeout_mult());
    if (st == -1)
        kill(pid, SIGKILL);
    ck_assert_msg(st != -1, "no exit within 30 s for metrics-addr '%s'", addr ? addr : env);
    return st;
}

/* --metrics-addr binds to that address only; anything but a numeric address exits 2. */
START_TEST(bind_address)
{
    char dsn[1024], topic[128], logf[256], port_s[16];
    rt_db("bindaddr", dsn, sizeof dsn);
    cs_test_topic("bindaddr", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-bindaddr-%d.log", (int)getpid());
    unlink(logf);
    int mult = cs_test_timeout_mult();
    int64_t took;

    /* 127.0.0.1 only: 127.0.0.2 is the same loopback interface but another address */
    int port = rt_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);
    const char *args[] = {
        "--format",       "text", "--topics",       topic,       "--group", "rt-addr",
        "--metrics-port", port_s, "--metrics-addr", "127.0.0.1", NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    int up = rt_http_wait("127.0.0.1", port, "/healthz", 30000 * mult) == 0;
    int other = probe("127.0.0.2", port, "/healthz", 1000, &took);
    int st = cs_test_stop(pid, SIGTERM, 15000 * mult);
    ck_assert_msg(up, "no /healthz on 127.0.0.1:%d (see %s)", port, logf);
    ck_assert_msg(other == 0, "bound to 127.0.0.1 but 127.0.0.2 answered %d", other);
    ck_assert(rt_file_has(logf, "\"addr\":\"127.0.0.1\""));

    /* IPv6 loopback, when the host has it */
    if (has_ipv6_loopback()) {
        port = rt_free_port();
        snprintf(port_s, sizeof port_s, "%d", port);
        args[9] = "::1";
        pid = rt_spawn(dsn, logf, args);
        up = rt_http_wait("::1", port, "/healthz", 30000 * mult) == 0;
        other = probe("127.0.0.1", port, "/healthz", 1000, &took);
        st = cs_test_stop(pid, SIGTERM, 15000 * mult);
        ck_assert_msg(up, "no /healthz on [::1]:%d (see %s)", port, logf);
        ck_assert_msg(other == 0, "bound to ::1 but 127.0.0.1 answered %d", other);
        fprintf(stderr, "bind_address: ::1 served, 127.0.0.1 refused\n");
    } else {
        fprintf(stderr, "bind_address: no IPv6 loopback here, ::1 not tried\n");
    }

    /* a host name, garbage, an address with a port: exit 2, naming the option */
    static const char *const bad[] = {"localhost", "1.2.3", "127.0.0.1:80", "", "::1%lo0x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unlink(logf);
        st = refused(dsn, topic, bad[i], NULL, logf);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "'%s': status %d (see %s)", bad[i], st,
                      logf);
        /* an empty value is the configuration module's refusal, like every empty text option */
        const char *why = bad[i][0] ? "is not a numeric IPv4 or IPv6 address" : "empty value";
        ck_assert_msg(rt_file_has(logf, why) && rt_file_has(logf, "metrics-addr"),
                      "'%s': no clear error in %s", bad[i], logf);
    }
    /* the environment, by the config module's rule */
    unlink(logf);
    st = refused(dsn, topic, NULL, "my-pod", logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "CS_METRICS_ADDR: status %d", st);
    ck_assert(rt_file_has(logf, "'my-pod' is not a numeric IPv4 or IPv6 address"));
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_slowloris");
    TCase *tc = tcase_create("slowloris");
    tcase_set_timeout(tc, 240 * cs_test_timeout_mult());
    tcase_add_test(tc, slow_clients);
    tcase_add_test(tc, bind_address);
    suite_add_tcase(s, tc);
    return rt_run_suite(s);
}

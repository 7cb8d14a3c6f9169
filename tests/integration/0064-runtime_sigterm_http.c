/*
 * tests/integration/0064-runtime_sigterm_http.c
 *      /healthz, /readyz and /metrics while running; SIGTERM finishes the batch, commits, leaves
 *      the group and exits 0 within the bound; an empty-handed --drain also exits 0.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N 40000

static char buf[1 << 20];

START_TEST(http_and_sigterm)
{
    char dsn[1024], topic[128], logf[256], port_s[16], needle[256];
    rt_db("sigterm", dsn, sizeof dsn);
    cs_test_topic("sigterm", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-sigterm-%d.log", (int)getpid());
    unlink(logf);
    int port = rt_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);

    rt_produce_many(topic, N, 100);

    int mult = cs_test_timeout_mult();
    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-term",
                          "--batch-size",
                          "500",
                          "--batch-ms",
                          "20",
                          "--session-timeout-ms",
                          "6000",
                          "--metrics-port",
                          port_s,
                          "--handler-delay-us",
                          "200",
                          NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    int code = 0;
    int64_t end = cs_test_now_ms() + 30000 * mult;
    while (cs_test_now_ms() < end && (code = rt_http_get(port, "/healthz", buf, sizeof buf)) != 200)
        rt_sleep_ms(50);
    ck_assert_int_eq(code, 200);
    ck_assert_str_eq(buf, "ok\n");
    while (cs_test_now_ms() < end &&
           (code = rt_http_get(port, "/readyz", buf, sizeof buf)) != 200) {
        ck_assert_int_eq(code, 503); /* not ready yet: says why */
        rt_sleep_ms(50);
    }
    ck_assert_int_eq(code, 200);
    ck_assert_msg(rt_wait_committed(dsn, "rt-term", 2000, 30000 * mult) == 0, "no progress");
    ck_assert_int_eq(rt_http_get(port, "/metrics", buf, sizeof buf), 200);
    ck_assert_ptr_nonnull(strstr(buf, "# TYPE cs_events_applied_total counter"));
    ck_assert_ptr_nonnull(strstr(buf, "cs_events_applied_total{type=\"rt_add\"} "));
    ck_assert_ptr_nonnull(strstr(buf, "cs_batch_duration_seconds_bucket{le=\"+Inf\"} "));
    snprintf(needle, sizeof needle, "cs_partition_lag_messages{topic=\"%s\",partition=\"", topic);
    ck_assert_msg(strstr(buf, needle) != NULL, "no lag series in:\n%s", buf);
    ck_assert_int_eq(rt_http_get(port, "/nope", buf, sizeof buf), 404);

    /* SIGTERM mid-run: the current batch is committed, the group left, exit 0 quickly. */
    int64_t t0 = cs_test_now_ms();
    int st = cs_test_stop(pid, SIGTERM, 15000 * mult);
    int64_t took = cs_test_now_ms() - t0;
    ck_assert_msg(st != -1, "no exit within 15 s of SIGTERM (see %s)", logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d (see %s)", st, logf);
    fprintf(stderr, "sigterm: exited in %lld ms\n", (long long)took);
    long long committed = rt_committed(dsn, "rt-term");
    ck_assert_msg(committed < N, "the run finished before SIGTERM");
    /* what was committed is exactly what was applied */
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), committed);
    ck_assert(rt_file_has(logf, "leaving the consumer group"));

    /* the rest, with --drain, exits 0 at the end */
    const char *dargs[] = {"--format",
                           "text",
                           "--topics",
                           topic,
                           "--group",
                           "rt-term",
                           "--session-timeout-ms",
                           "6000",
                           "--metrics-port",
                           "-1",
                           "--drain",
                           NULL};
    st = rt_run(dsn, logf, dargs, 90000);
    ck_assert_msg(cs_test_exited(st, 0), "drain status %d", st);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), N);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    return rt_run_test("runtime_sigterm_http", "sigterm", http_and_sigterm,
                       240 * cs_test_timeout_mult());
}

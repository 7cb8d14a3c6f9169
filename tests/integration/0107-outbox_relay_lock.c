/*
 * tests/integration/0107-outbox_relay_lock.c
 *      The outbox relay of a consumer group publishes only while it holds the group's relay lock,
 *      the others stand by and take over when the holder's session ends; the gauges follow.
 *
 * A session of this test takes the group's relay lock (the session advisory lock every relay of
 * the group tries, libcore/src/worker_outbox.c) before cs-testworker --emit-topic consumes 3,000
 * events, so the worker's relay is the one standing by:
 *  - every batch commits (effects, offsets, one outbox row per event) and nothing is published:
 *    the derived topic stays empty, the 3,000 rows wait;
 *  - the standby still counts them: cs_outbox_pending is 3,000, cs_outbox_oldest_age_seconds
 *    grows, cs_outbox_published_total is 0;
 *  - the test's session ends (as a crashed relay's would): within outbox-poll-ms the worker's
 *    relay takes the lock and publishes every row once (no crash: the topic holds exactly 3,000,
 *    the distinct derived ids are the expected ones, computed here), the outbox is empty, the
 *    gauges say 0 pending and 3,000 published, and the worker's relay connection now holds the
 *    lock;
 *  - downstream, a deduplicating consumer applies exactly the expected derived ids.
 */
#include <check.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N     3000
#define NKEYS 211
#define GROUP "rt-ob107"

/* The worker under test, killed at exit if a failed check left it running. */
static pid_t worker = -1;

static double scrape(int port, const char *name)
{
    static char buf[1 << 16];
    ck_assert_int_eq(rt_http_get(port, "/metrics", buf, sizeof buf), 200);
    return rt_metric(buf, name);
}

/* Waits up to ms for metric name to equal want; returns its last value. */
static double wait_metric(int port, const char *name, double want, int ms)
{
    double v = -1;
    for (int waited = 0; waited <= ms; waited += 200) {
        v = scrape(port, name);
        if (v == want)
            break;
        rt_sleep_ms(200);
    }
    return v;
}

START_TEST(outbox_relay_lock)
{
    char dsn[1024], topic[128], derived[128], logf[256], port_s[16];
    int mult = cs_test_timeout_mult();
    rt_db("ob107", dsn, sizeof dsn);
    cs_test_topic("ob107", topic, sizeof topic);
    cs_test_topic("ob107d", derived, sizeof derived);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-ob107-%d.log", (int)getpid());
    int port = rt_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);

    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < N; i++)
        rt_produce_text(p, topic, i, NKEYS, i % 1000);
    rt_producer_flush(p);
    rt_producer_destroy(p);
    ck_assert_int_eq(rt_topic_end(topic), N);

    /* The lock's holder: a session of this test, as if another instance's relay had it. */
    PGconn *holder = rt_outbox_lock_take(dsn, GROUP);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          GROUP,
                          "--emit-topic",
                          derived,
                          "--batch-size",
                          "500",
                          "--batch-ms",
                          "20",
                          "--metrics-port",
                          port_s,
                          "--outbox-poll-ms",
                          "200",
                          "--log-level",
                          "warn",
                          "--session-timeout-ms",
                          "6000",
                          NULL};
    pid_t pid = worker = rt_spawn(dsn, logf, args);
    ck_assert_msg(rt_wait_committed(dsn, GROUP, N, 90000 * mult) == 0,
                  "the worker did not consume the input (see %s)", logf);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), N);
    /* Standing by: the gauges count what waits, nothing is published. */
    ck_assert_msg(wait_metric(port, "cs_outbox_pending", N, 10000 * mult) == N,
                  "cs_outbox_pending is not %d while the relay stands by", N);
    double age1 = scrape(port, "cs_outbox_oldest_age_seconds");
    rt_sleep_ms(1500);
    double age2 = scrape(port, "cs_outbox_oldest_age_seconds");
    ck_assert_msg(age1 > 0 && age2 > age1, "oldest age not growing: %g then %g", age1, age2);
    ck_assert_int_eq((long long)scrape(port, "cs_outbox_published_total"), 0);
    ck_assert_int_eq(rt_topic_end(derived), 0);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), N);

    /* The holder's session ends: the worker's relay takes over and publishes everything once. */
    PQfinish(holder);
    ck_assert_msg(wait_metric(port, "cs_outbox_published_total", N, 30000 * mult) == N,
                  "the relay did not take over (see %s)", logf);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), 0);
    ck_assert_msg(wait_metric(port, "cs_outbox_pending", 0, 5000 * mult) == 0,
                  "cs_outbox_pending not 0 after the drain");
    ck_assert_int_eq((long long)scrape(port, "cs_outbox_oldest_age_seconds"), 0);
    ck_assert_int_eq(rt_topic_end(derived), N);
    /* ... holding the lock on its connection. */
    ck_assert_int_eq(rt_outbox_lock_holders(dsn, GROUP), 1);

    int st = cs_test_stop(pid, SIGTERM, 20000 * mult);
    worker = -1;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d (see %s)", st,
                  logf);

    /* Downstream: exactly the expected derived ids, each once. */
    rt_expected_derived(dsn, N, NKEYS);
    const char *down[] = {
        "--topics", derived,       "--group", GROUP "-down",          "--drain", "--metrics-port",
        "-1",       "--log-level", "warn",    "--session-timeout-ms", "6000",    NULL};
    st = rt_run(dsn, logf, down, 120000 * mult);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the downstream consumer did not drain (status %d, see %s)", st, logf);
    ck_assert_int_eq(rt_committed(dsn, GROUP "-down"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events e JOIN t_expected x USING "
                                "(event_id)"),
                     N);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    rt_kill_at_exit(&worker);
    return rt_run_test("outbox_relay_lock", "outbox_relay_lock", outbox_relay_lock,
                       300 * cs_test_timeout_mult());
}

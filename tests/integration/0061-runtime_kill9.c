/*
 * tests/integration/0061-runtime_kill9.c
 *      Exactly-once under kill -9: a 100,000-event run with the worker killed at random points.
 *
 * 100,000 distinct events (plus 500 re-deliveries of earlier event ids, as a producer retry or a
 * replay would make) are consumed by cs-testworker, which is killed with SIGKILL four times at a
 * random moment after it has made progress (mid-batch, mid-transaction, mid-commit: wherever it
 * happens to be), then run to the end with --drain. The effects must equal the events: every
 * event id once in rt_events, counts summing to 100,000, no dead letter, offsets at the end.
 * Each run is the same static member (--group-instance-id), as a supervisor restarting one
 * instance would run it: the restart gets the partitions back at once, without waiting for the
 * killed member's session to time out.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N      100000
#define NDUP   500
#define NKILLS 4

START_TEST(kill9_exactly_once)
{
    char dsn[1024], topic[128], logf[256], sql[256];
    rt_db("kill9", dsn, sizeof dsn);
    cs_test_topic("kill9", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-kill9-%d.log", (int)getpid());
    unlink(logf);

    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < N; i++)
        rt_produce_text(p, topic, i, 997, 1);
    for (long long i = 0; i < NDUP; i++)
        rt_produce_text(p, topic, (i * 199) % N, 997, 1);
    rt_producer_flush(p);
    rt_producer_destroy(p);
    long long total = rt_topic_end(topic);
    ck_assert_int_eq(total, N + NDUP);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-kill9",
                          "--batch-size",
                          "1000",
                          "--batch-ms",
                          "20",
                          "--session-timeout-ms",
                          "6000",
                          "--group-instance-id",
                          "rt-kill9-1",
                          "--metrics-port",
                          "-1",
                          "--handler-delay-us",
                          "20",
                          "--log-level",
                          "warn",
                          NULL};
    /* kill somewhere in the next 1..15,000 events, then at a random instant */
    const rt_kills_t how = {.group = "rt-kill9",
                            .total = total,
                            .nkills = NKILLS,
                            .max_step = 15000,
                            .margin = 1000,
                            .max_delay_ms = 200};
    char why[256];
    int kills = rt_kill9_runs(dsn, logf, args, &how, why, sizeof why);
    ck_assert_msg(kills != -1, "%s", why);
    ck_assert_msg(kills >= 3, "only %d kills landed before the end", kills);

    const char *dargs[] = {"--format",
                           "text",
                           "--topics",
                           topic,
                           "--group",
                           "rt-kill9",
                           "--batch-size",
                           "1000",
                           "--batch-ms",
                           "20",
                           "--session-timeout-ms",
                           "6000",
                           "--group-instance-id",
                           "rt-kill9-1",
                           "--metrics-port",
                           "-1",
                           "--log-level",
                           "warn",
                           "--drain",
                           NULL};
    int st = rt_run(dsn, logf, dargs, 180000);
    ck_assert_msg(st != -1, "the draining worker did not finish (see %s)", logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "drain exit status %d (see %s)", st, logf);

    ck_assert_int_eq(rt_committed(dsn, "rt-kill9"), total);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(DISTINCT event_id) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(events) FROM rt_counts"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_counts"), 997);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 0);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events"), N);
    /* every key got exactly its share */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rt_counts c WHERE c.n <> (SELECT count(*) FROM rt_events e "
             "WHERE e.k = c.k)");
    ck_assert_int_eq(rt_ll(dsn, sql), 0);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    return rt_run_test("runtime_kill9", "kill9", kill9_exactly_once, 300 * cs_test_timeout_mult());
}

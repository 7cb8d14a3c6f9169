/*
 * tests/integration/0088-outbox_kill9.c
 *      The transactional outbox under kill -9: every derived event published at least once and
 *      applied once downstream.
 *
 * 20,000 events are consumed by cs-testworker --emit-topic, which derives one
 * readiness_score_changed from each (cs_batch_emit: a row of outbox_events in the batch's
 * transaction, published by the relay thread, deleted after Kafka's acknowledgement). The worker
 * is killed with SIGKILL four times at random moments after it made progress (mid-batch,
 * mid-commit, between an acknowledgement and the deletion: wherever it is), then drained. Then:
 *  - the outbox is empty (the restarted relays published what the killed ones left);
 *  - the derived topic holds at least one message per change (duplicates allowed: a row whose
 *    acknowledgement came just before a kill is published again, with the same event_id);
 *  - a crash between Kafka's acknowledgement and the row's deletion is made certain once: rows
 *    seen pending at the kills are put back into the outbox after the drain (the very bytes, as
 *    if their deletion had never committed) and a restarted worker publishes them again;
 *  - downstream, a deduplicating consumer (cs-testworker in avro mode, group rt-outbox9-down,
 *    whose rt_events has the event id as primary key) applies exactly the expected event ids
 *    (computed here with cs_batch_derived_id from the source events), each once: a
 *    re-publication is a duplicate its processed_events ledger skips;
 *  - cs-audit, draining the derived topic, logs every expected event id and one row per
 *    delivery: by design (workers/audit.c, no_dedupe) it logs a re-publication at another offset
 *    as a delivery of its own, so its rows equal the topic's messages, its distinct ids the
 *    changes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N      20000
#define NKEYS  997
#define NKILLS 4

/* After each kill: keep the rows then pending (t_replay), to put them back after the drain. */
static void keep_pending(const char *dsn, void *arg)
{
    (void)arg;
    rt_exec(dsn, "INSERT INTO t_replay SELECT * FROM outbox_events ON CONFLICT DO NOTHING");
    fprintf(stderr, "outbox9: %lld rows pending\n",
            rt_ll(dsn, "SELECT count(*) FROM outbox_events"));
}

START_TEST(outbox_kill9)
{
    char dsn[1024], topic[128], derived[128], anchor[128], logf[256];
    rt_db("outbox9", dsn, sizeof dsn);
    cs_test_topic("outbox9", topic, sizeof topic);
    cs_test_topic("outbox9d", derived, sizeof derived);
    cs_test_topic("outbox9a", anchor, sizeof anchor);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-outbox9-%d.log", (int)getpid());
    unlink(logf);

    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < N; i++)
        rt_produce_text(p, topic, i, NKEYS, i % 1000);
    rt_producer_flush(p);
    rt_producer_destroy(p);
    ck_assert_int_eq(rt_topic_end(topic), N);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-outbox9",
                          "--emit-topic",
                          derived,
                          "--batch-size",
                          "500",
                          "--batch-ms",
                          "20",
                          "--session-timeout-ms",
                          "6000",
                          "--group-instance-id",
                          "rt-outbox9-1",
                          "--metrics-port",
                          "-1",
                          "--handler-delay-us",
                          "200",
                          "--log-level",
                          "warn",
                          NULL};
    rt_exec(dsn, "CREATE TABLE t_replay (LIKE outbox_events); "
                 "ALTER TABLE t_replay ADD UNIQUE (event_id)");
    const rt_kills_t how = {.group = "rt-outbox9",
                            .total = N,
                            .nkills = NKILLS,
                            .max_step = 3000,
                            .margin = 500,
                            .max_delay_ms = 1500,
                            .after_kill = keep_pending};
    char why[256];
    int kills = rt_kill9_runs(dsn, logf, args, &how, why, sizeof why);
    ck_assert_msg(kills != -1, "%s", why);
    ck_assert_msg(kills >= 3, "only %d kills landed before the end", kills);

    const char *dargs[] = {"--format",
                           "text",
                           "--topics",
                           topic,
                           "--group",
                           "rt-outbox9",
                           "--emit-topic",
                           derived,
                           "--batch-size",
                           "500",
                           "--batch-ms",
                           "20",
                           "--session-timeout-ms",
                           "6000",
                           "--group-instance-id",
                           "rt-outbox9-1",
                           "--metrics-port",
                           "-1",
                           "--log-level",
                           "warn",
                           "--drain",
                           NULL};
    int st = rt_run(dsn, logf, dargs, 180000);
    ck_assert_msg(st != -1, "the draining worker did not finish (see %s)", logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "drain exit status %d (see %s)", st, logf);

    /* The effects: exactly once, as without an outbox. */
    ck_assert_int_eq(rt_committed(dsn, "rt-outbox9"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 0);
    /* The outbox: empty once the last run stopped (its relay publishes before exiting). */
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), 0);
    long long published = rt_topic_end(derived);
    fprintf(stderr, "outbox9: %lld derived messages for %d changes (%lld re-published)\n",
            published, N, published - N);
    ck_assert_int_ge(published, N);

    /* Rows whose deletion "never committed": put back, published again on the next start. */
    long long nreplay = rt_ll(dsn, "SELECT count(*) FROM t_replay");
    ck_assert_msg(nreplay > 0, "no row was pending at any kill");
    rt_exec(dsn, "INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, "
                 "payload, fingerprint, traceparent) SELECT consumer_group, event_id, event_type, "
                 "topic, msg_key, payload, fingerprint, traceparent FROM t_replay ORDER BY id");
    st = rt_run(dsn, logf, dargs, 60000);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the restarted worker did not finish (status %d, see %s)", st, logf);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), 0);
    ck_assert_int_eq(rt_topic_end(derived), published + nreplay);
    fprintf(stderr, "outbox9: %lld rows re-published after the restart\n", nreplay);

    /* The expected derived ids, computed from the source events as the worker states them. */
    rt_expected_derived(dsn, N, NKEYS);

    /* Downstream: a deduplicating consumer applies each change once. */
    const char *down[] = {
        "--topics", derived,       "--group", "rt-outbox9-down",      "--drain", "--metrics-port",
        "-1",       "--log-level", "warn",    "--session-timeout-ms", "6000",    NULL};
    st = rt_run(dsn, logf, down, 120000);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the downstream consumer did not drain (status %d, see %s)", st, logf);
    ck_assert_int_eq(rt_committed(dsn, "rt-outbox9-down"), published + nreplay);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events e JOIN t_expected x USING "
                                "(event_id)"),
                     N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), 2 * N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events WHERE consumer_group = "
                                "'rt-outbox9-down'"),
                     N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 0);

    /* cs-audit: every change logged, one row per delivery. */
    const char *audit[] = {CS_AUDIT_PATH,
                           "--topics",
                           derived,
                           "--group",
                           "cs-audit-0088",
                           "--anchor-topic",
                           anchor,
                           "--drain",
                           "--metrics-port",
                           "-1",
                           "--log-level",
                           "warn",
                           "--session-timeout-ms",
                           "6000",
                           NULL};
    st = cs_test_run(audit, dsn, logf, 1, 180000 * cs_test_timeout_mult());
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "cs-audit did not drain the derived topic (status %d, see %s)", st, logf);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM system_logs"), published + nreplay);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(DISTINCT event_id) FROM system_logs"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(DISTINCT event_id) FROM system_logs l JOIN "
                                "t_expected e USING (event_id) WHERE l.event_type = "
                                "'readiness_score_changed'"),
                     N);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    return rt_run_test("outbox_kill9", "outbox_kill9", outbox_kill9, 400 * cs_test_timeout_mult());
}

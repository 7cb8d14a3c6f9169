/*
 * tests/integration/0102-ledger_conflict.c
 *      The committer's effect-ledger insert (a plain INSERT of the ids the pre-check found new):
 *      an id that is already in processed_events, or that another transaction holds, makes the
 *      batch redo synchronously and apply nothing twice.
 *
 * concurrent_commit: another transaction (another group of the worker's effect scope, as a replay
 *      beside the live worker) has inserted the ledger row of one event of the stream and not
 *      committed. The worker's batch holding that event waits on the row (seen in
 *      pg_stat_activity); the other transaction commits: the batch must be redone (the log says
 *      so, and no batch is isolated as failing), the event must not be applied, every other event
 *      once, the ledger row staying the other group's.
 * concurrent_rollback: the same, the other transaction rolling back: the worker's insert goes
 *      through, every event is applied once and the row is the worker's.
 * replayed_stream: a second group of the same scope reads a stream the first one applied, every
 *      batch starting optimistic again after PRECHECK_BATCHES pre-checked ones: nothing applied
 *      twice, no dead letter, the redo in the log.
 * Each runs with the one-round-trip commit (--commit-pipeline, the default) and step by step.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define NKEYS  13
#define SCOPE  "cs-testworker" /* the test worker's effect scope (its name) */
#define HELD_I 250             /* the event whose ledger row the other transaction inserts */

static const char redo_msg[] = "redoing it in one transaction";
static const char isolate_msg[] = "isolating it";

static PGconn *pq_open(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    return c;
}

static void pq_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* Worker arguments for topic and group; commit_pipeline picks the commit's form. */
static void worker_args(const char **args, const char *topic, const char *group,
                        bool commit_pipeline)
{
    const char *a[] = {"--format",
                       "text",
                       "--topics",
                       topic,
                       "--group",
                       group,
                       "--batch-size",
                       "100",
                       "--session-timeout-ms",
                       "6000",
                       "--metrics-port",
                       "-1",
                       commit_pipeline ? "--commit-pipeline=true" : "--commit-pipeline=false",
                       "--drain",
                       NULL};
    memcpy(args, a, sizeof a);
}

/* Waits up to 60 s for the worker's connection to wait on a lock; 0, or -1. */
static int wait_lock_waiter(const char *dsn)
{
    for (int i = 0; i < 600 * cs_test_timeout_mult(); i++) {
        if (rt_ll(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND application_name = 'cs-testworker' AND wait_event_type = 'Lock'") > 0)
            return 0;
        rt_sleep_ms(100);
    }
    return -1;
}

static void concurrent_case(bool commit, bool commit_pipeline)
{
    enum { N = 400 };
    char dsn[1024], topic[128], logf[256], group[64], id[37], sql[512];
    const char *tag = commit ? "ledcommit" : "ledrollback";
    rt_db(tag, dsn, sizeof dsn);
    cs_test_topic(tag, topic, sizeof topic);
    snprintf(group, sizeof group, "rt-%s-%d", tag, (int)commit_pipeline);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-%s-%d-%d.log", tag, (int)getpid(),
             (int)commit_pipeline);
    unlink(logf);
    rt_event_id(HELD_I, id);

    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < N; i++)
        rt_produce_text_to(p, topic, 0, i, NKEYS, 1);
    rt_producer_flush(p);
    rt_producer_destroy(p);

    /* The other group's transaction holds event HELD_I's ledger row. */
    PGconn *other = pq_open(dsn);
    pq_ok(other, "BEGIN");
    snprintf(sql, sizeof sql,
             "INSERT INTO processed_events (effect_scope, consumer_group, event_id, topic, "
             "kafka_partition, kafka_offset) VALUES ('" SCOPE "', 'rt-other', '%s', 'x', 0, 0)",
             id);
    pq_ok(other, sql);

    const char *args[16];
    worker_args(args, topic, group, commit_pipeline);
    pid_t pid = rt_spawn(dsn, logf, args);
    ck_assert_msg(wait_lock_waiter(dsn) == 0, "the worker never waited on the held row (see %s)",
                  logf);
    /* Blocked: the batches before the held event's committed, none after. */
    ck_assert_int_lt(rt_committed(dsn, group), HELD_I + 1);
    pq_ok(other, commit ? "COMMIT" : "ROLLBACK");
    PQfinish(other);

    int st = rt_wait(pid, 90000 * cs_test_timeout_mult());
    ck_assert_msg(cs_test_exited(st, 0), "worker did not drain (status %d, see %s)", st, logf);
    ck_assert_int_eq(rt_committed(dsn, group), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 0);
    ck_assert_msg(!rt_file_has(logf, isolate_msg), "a batch was isolated (see %s)", logf);
    long long applied = commit ? N - 1 : N;
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), applied);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), applied);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(DISTINCT event_id) FROM processed_events"), N);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM rt_events WHERE event_id = '%s'", id);
    ck_assert_int_eq(rt_ll(dsn, sql), commit ? 0 : 1);
    snprintf(
        sql, sizeof sql,
        "SELECT count(*) FROM processed_events WHERE event_id = '%s' AND consumer_group = '%s'", id,
        commit ? "rt-other" : group);
    ck_assert_int_eq(rt_ll(dsn, sql), 1);
    if (commit)
        ck_assert_msg(rt_file_has(logf, redo_msg), "the batch was not redone (see %s)", logf);
    else
        ck_assert_msg(!rt_file_has(logf, redo_msg), "a batch was redone (see %s)", logf);
    cs_test_drop_db(dsn);
    unlink(logf);
}

START_TEST(concurrent_commit)
{
    concurrent_case(true, true);
    concurrent_case(true, false);
}
END_TEST

START_TEST(concurrent_rollback)
{
    concurrent_case(false, true);
    concurrent_case(false, false);
}
END_TEST

static void replayed_case(bool commit_pipeline)
{
    enum { N = 5000 };
    char dsn[1024], topic[128], logf[256], g1[64], g2[64];
    rt_db("ledreplay", dsn, sizeof dsn);
    cs_test_topic("ledreplay", topic, sizeof topic);
    snprintf(g1, sizeof g1, "rt-ledlive-%d", (int)commit_pipeline);
    snprintf(g2, sizeof g2, "rt-ledlive-%d-replay", (int)commit_pipeline);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-ledreplay-%d-%d.log", (int)getpid(),
             (int)commit_pipeline);
    unlink(logf);
    rt_produce_many(topic, N, NKEYS);

    const char *args[16];
    worker_args(args, topic, g1, commit_pipeline);
    int st = rt_run(dsn, logf, args, 120000);
    ck_assert_msg(cs_test_exited(st, 0), "first group (status %d, see %s)", st, logf);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_msg(!rt_file_has(logf, redo_msg), "the first group redid a batch (see %s)", logf);

    worker_args(args, topic, g2, commit_pipeline);
    st = rt_run(dsn, logf, args, 120000);
    ck_assert_msg(cs_test_exited(st, 0), "second group (status %d, see %s)", st, logf);
    ck_assert_msg(rt_file_has(logf, redo_msg), "no batch of the second group was redone (see %s)",
                  logf);
    ck_assert_msg(!rt_file_has(logf, isolate_msg), "a batch was isolated (see %s)", logf);
    ck_assert_int_eq(rt_committed(dsn, g2), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 0);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events"), N);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM processed_events WHERE consumer_group = '%s'",
             g1);
    ck_assert_int_eq(rt_ll(dsn, sql), N);
    cs_test_drop_db(dsn);
    unlink(logf);
}

START_TEST(replayed_stream)
{
    replayed_case(true);
    replayed_case(false);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ledger_conflict");
    TCase *tc = tcase_create("ledger");
    tcase_set_timeout(tc, 300 * cs_test_timeout_mult());
    tcase_add_test(tc, concurrent_commit);
    tcase_add_test(tc, concurrent_rollback);
    tcase_add_test(tc, replayed_stream);
    suite_add_tcase(s, tc);
    return rt_run_suite(s);
}

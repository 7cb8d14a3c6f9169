/*
 * tests/integration/0067-runtime_pipeline.c
 *      What the pipelined runtime adds: a batch that fails while the next one is prepared, an
 *      event id met again in the very next batch, and where a partition starts when PostgreSQL
 *      has no offset for it.
 *
 * failure_discards_prepared_batch: a backlog in one partition with database errors (an amount
 *      beyond the int column, 22003) every few hundred events, consumed by --chain workers (state
 *      across events, like cs-audit's chain heads). Each poison fails its batch on the committer
 *      while the next batch is prepared: the log must say the prepared batch was discarded, every
 *      good event must be applied exactly once, the poison dead-lettered, and each key's chain
 *      numbered 1..n without a gap or a repeat (a gap: the discarded batch's state survived, or
 *      the poison, numbered like every event, kept its number after isolation dead-lettered it).
 * duplicate_in_next_batch: events published a second time a batch or two later (same event id,
 *      another offset): the copy is in the batch prepared while the first is in flight, so the
 *      pre-check cannot see it; the tail statement must notice and the batch be redone, applying
 *      nothing twice.
 * linger_gathers_a_partial_batch: --batch-linger with --batch-ms 2000: events produced one at a
 *      time, 100 ms apart, wait for the batch timer and commit in one or two transactions, none
 *      earlier than 1.5 s after the first event was acknowledged; without --batch-linger the
 *      same events go as soon as PostgreSQL is free (group commit), in many small transactions.
 *      (A transaction is told by the xmin its rt_events rows share.)
 * fresh_database_starts_at_beginning: a group that committed everything to Kafka meets a fresh
 *      database: the worker must start from the beginning (PostgreSQL is the source of truth),
 *      not from Kafka's committed offsets.
 * The first two run with the pipeline on (the default) and again with --pipeline=false where the
 *      outcome must be the same.
 */
#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define NKEYS 37

static void failure_case(bool pipeline)
{
    enum { N = 6000, EVERY = 450 };
    char dsn[1024], topic[128], logf[256];
    rt_db(pipeline ? "pipefail" : "pipefail_serial", dsn, sizeof dsn);
    cs_test_topic("pipefail", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-pipefail-%d-%d.log", (int)getpid(), pipeline);
    unlink(logf);

    rt_producer_t *p = rt_producer_new();
    int npoison = 0;
    for (long long i = 0; i < N; i++) {
        bool poison = i % EVERY == EVERY - 1;
        rt_produce_text_to(p, topic, 0, i, NKEYS, poison ? 99999999999LL : 1);
        npoison += poison;
    }
    rt_producer_flush(p);
    rt_producer_destroy(p);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-pipefail",
                          "--batch-size",
                          "100",
                          "--session-timeout-ms",
                          "6000",
                          "--metrics-port",
                          "-1",
                          "--chain",
                          pipeline ? "--pipeline=true" : "--pipeline=false",
                          "--drain",
                          NULL};
    int st = rt_run(dsn, logf, args, 120000);
    ck_assert_msg(cs_test_exited(st, 0), "worker did not drain (status %d, see %s)", st, logf);
    /* the start-up's delay, logged once */
    ck_assert_msg(rt_file_count(logf, "\"msg\":\"first event received\",\"fields\":{"
                                      "\"after_start_s\":") == 1,
                  "see %s", logf);
    if (pipeline)
        ck_assert_msg(rt_file_has(logf, "the next one, already prepared, is discarded"),
                      "no batch failed with the next one prepared (see %s)", logf);
    else
        ck_assert(!rt_file_has(logf, "already prepared"));

    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N - npoison);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), N - npoison);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(events) FROM rt_counts"), N - npoison);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters WHERE error_class = 'database'"),
                     npoison);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), npoison);
    /* every applied event numbered once, each key's numbers contiguous from 1 */
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_chain"), N - npoison);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM (SELECT k FROM rt_chain GROUP BY k "
                                "HAVING max(seq) <> count(*)) g"),
                     0);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_chain c JOIN rt_events e "
                                "USING (event_id) WHERE e.k = c.k"),
                     N - npoison);
    ck_assert_int_eq(rt_committed(dsn, "rt-pipefail"), N);
    cs_test_drop_db(dsn);
    unlink(logf);
}

START_TEST(failure_discards_prepared_batch)
{
    failure_case(true);
}
END_TEST

START_TEST(failure_serial)
{
    failure_case(false);
}
END_TEST

static void duplicate_case(bool pipeline)
{
    enum { N = 6000, BATCH = 100 };
    char dsn[1024], topic[128], logf[256];
    rt_db(pipeline ? "pipedup" : "pipedup_serial", dsn, sizeof dsn);
    cs_test_topic("pipedup", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-pipedup-%d-%d.log", (int)getpid(), pipeline);
    unlink(logf);

    /* Event i again right after event i + BATCH + i % 50: in the next batch or the one after. */
    rt_producer_t *p = rt_producer_new();
    int ndup = 0;
    long long again[N];
    int nagain = 0;
    for (long long i = 0; i < N; i++) {
        rt_produce_text_to(p, topic, 0, i, NKEYS, 1);
        if (i % 20 == 0 && i + BATCH + i % 50 < N)
            again[nagain++] = i;
        for (int k = 0; k < nagain; k++) {
            if (again[k] >= 0 && again[k] + BATCH + again[k] % 50 == i) {
                rt_produce_text_to(p, topic, 0, again[k], NKEYS, 1);
                again[k] = -1;
                ndup++;
            }
        }
    }
    rt_producer_flush(p);
    rt_producer_destroy(p);
    ck_assert_int_eq(rt_topic_end(topic), N + ndup);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-pipedup",
                          "--batch-size",
                          "100",
                          "--session-timeout-ms",
                          "6000",
                          "--metrics-port",
                          "-1",
                          pipeline ? "--pipeline=true" : "--pipeline=false",
                          "--drain",
                          NULL};
    int st = rt_run(dsn, logf, args, 120000);
    ck_assert_msg(cs_test_exited(st, 0), "worker did not drain (status %d, see %s)", st, logf);
    if (pipeline)
        ck_assert_msg(rt_file_has(logf, "redoing it in one transaction"),
                      "no duplicate met the tail statement's check (see %s)", logf);
    /* rt_events' primary key would turn a second application into a dead letter */
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 0);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events "
                                "WHERE consumer_group = 'rt-pipedup' AND outcome = 'a'"),
                     N);
    /* the first delivery is the one recorded */
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events p JOIN rt_events e "
                                "USING (event_id) WHERE p.kafka_offset <> e.kafka_offset"),
                     0);
    ck_assert_int_eq(rt_committed(dsn, "rt-pipedup"), N + ndup);
    cs_test_drop_db(dsn);
    unlink(logf);
}

START_TEST(duplicate_in_next_batch)
{
    duplicate_case(true);
}
END_TEST

START_TEST(duplicate_serial)
{
    duplicate_case(false);
}
END_TEST

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs a worker (lingering or not), produces N events 100 ms apart once it is assigned; returns
 * the number of transactions that applied them, and the ms from the first event to the last
 * commit in *took_ms. */
static long long linger_case(bool linger, double *took_ms)
{
    enum { N = 10 };
    char dsn[1024], topic[128], logf[256], group[64];
    rt_db(linger ? "linger" : "linger_off", dsn, sizeof dsn);
    cs_test_topic(linger ? "linger" : "linger_off", topic, sizeof topic);
    snprintf(group, sizeof group, "rt-%s", linger ? "linger" : "linger-off");
    snprintf(logf, sizeof logf, "/tmp/cs-rt-linger-%d-%d.log", (int)getpid(), linger);
    unlink(logf);
    rt_topic_create(topic, 1, (const char *const[]){NULL});

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          group,
                          "--batch-size",
                          "1000",
                          "--batch-ms",
                          "2000",
                          "--metrics-port",
                          "-1",
                          linger ? "--batch-linger=true" : "--batch-linger=false",
                          NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    ck_assert_msg(rt_wait_file_has(logf, "partition assigned", 60000 * cs_test_timeout_mult()) == 0,
                  "the worker was not assigned its partition (see %s)", logf);
    rt_producer_t *p = rt_producer_new();
    double t0 = 0;
    for (long long i = 0; i < N; i++) {
        rt_produce_text_to(p, topic, 0, i, NKEYS, 1);
        rt_producer_flush(p);
        if (i == 0)
            t0 = mono_ms();
        rt_sleep_ms(100);
    }
    rt_producer_destroy(p);
    ck_assert_msg(rt_wait_committed(dsn, group, N, 30000 * cs_test_timeout_mult()) == 0,
                  "the events were not committed (see %s)", logf);
    *took_ms = mono_ms() - t0;
    kill(pid, SIGTERM);
    ck_assert(cs_test_exited(rt_wait(pid, 30000), 0));
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    long long txns = rt_ll(dsn, "SELECT count(DISTINCT xmin::text) FROM rt_events");
    cs_test_drop_db(dsn);
    unlink(logf);
    return txns;
}

START_TEST(linger_gathers_a_partial_batch)
{
    double took;
    long long txns = linger_case(true, &took);
    ck_assert_msg(txns <= 2, "lingering: %lld transactions for 10 events 100 ms apart", txns);
    ck_assert_msg(took >= 1500, "lingering: committed %.0f ms after the first event", took);
    txns = linger_case(false, &took);
    ck_assert_msg(txns >= 5, "not lingering: only %lld transactions for 10 events 100 ms apart",
                  txns);
}
END_TEST

START_TEST(fresh_database_starts_at_beginning)
{
    enum { N = 3000 };
    char dsn1[1024], dsn2[1024], topic[128], logf[256];
    rt_db("fresh1", dsn1, sizeof dsn1);
    rt_db("fresh2", dsn2, sizeof dsn2);
    cs_test_topic("fresh", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-fresh-%d.log", (int)getpid());
    unlink(logf);

    rt_produce_many(topic, N, NKEYS);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-fresh",
                          "--session-timeout-ms",
                          "6000",
                          "--metrics-port",
                          "-1",
                          "--drain",
                          NULL};
    int st = rt_run(dsn1, logf, args, 60000);
    ck_assert_msg(cs_test_exited(st, 0), "first run (see %s)", logf);
    ck_assert_int_eq(rt_ll(dsn1, "SELECT count(*) FROM rt_events"), N);
    /* The group's Kafka offsets are at the end (the runtime commits them after PostgreSQL):
     * without the rule, the second worker would start there and apply nothing. */
    long long kc = 0;
    for (int i = 0; i < 50 && (kc = rt_kafka_committed("rt-fresh", topic)) < N; i++)
        rt_sleep_ms(100);
    ck_assert_int_eq(kc, N);

    st = rt_run(dsn2, logf, args, 60000);
    ck_assert_msg(cs_test_exited(st, 0), "second run (see %s)", logf);
    ck_assert_int_eq(rt_ll(dsn2, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn2, "SELECT sum(n) FROM rt_counts"), N);
    ck_assert_int_eq(rt_committed(dsn2, "rt-fresh"), N);
    cs_test_drop_db(dsn1);
    cs_test_drop_db(dsn2);
    unlink(logf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 300 * cs_test_timeout_mult());
    tcase_add_test(tc, failure_discards_prepared_batch);
    tcase_add_test(tc, failure_serial);
    tcase_add_test(tc, duplicate_in_next_batch);
    tcase_add_test(tc, duplicate_serial);
    tcase_add_test(tc, linger_gathers_a_partial_batch);
    tcase_add_test(tc, fresh_database_starts_at_beginning);
    suite_add_tcase(s, tc);
    return rt_run_suite(s);
}

/*
 * tests/integration/0118-outbox_late_commit.c
 *      An outbox row that commits after the relay read past its id is still published.
 *
 * The relay (libcore/src/worker_outbox.c) reads on after the last id it published instead of from
 * the start of its group's rows; an id is taken when the row is written, so a transaction slower to
 * commit (another instance's batch) can commit a row below where the relay reads. Here two
 * sessions of this test each write an outbox row of the group before cs-testworker --emit-topic
 * starts (ids 1 and 2, the lowest of the group) and leave their transactions open while the
 * worker consumes 6,000 events and its relay publishes their derived events (ids above):
 *  - the first commits once the relay has published a third of them (mid-drain, the relay
 *    reading on from its cursor), the second once the relay has published everything and sits
 *    idle;
 *  - each late row is published within seconds (the derived topic ends at 6,001, then 6,002,
 *    cs_outbox_published_total says so) and the outbox is empty.
 * A relay that only ever read on from its last id would never publish them: the test fails.
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

#define N     6000
#define NKEYS 101
#define GROUP "rt-ob118"

/* The worker under test, killed at exit if a failed check left it running. */
static pid_t worker = -1;

/* cs_outbox_published_total (-1: the worker does not serve /metrics yet). */
static double published(int port)
{
    static char buf[1 << 16];
    if (rt_http_get(port, "/metrics", buf, sizeof buf) != 200)
        return -1;
    return rt_metric(buf, "cs_outbox_published_total");
}

/* Waits up to ms for cs_outbox_published_total to reach want; returns its last value. */
static double wait_published(int port, double want, int ms)
{
    double v = -1;
    for (int waited = 0; waited <= ms; waited += 100) {
        v = published(port);
        if (v >= want)
            break;
        rt_sleep_ms(100);
    }
    return v;
}

static void ok_cmd(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* A session with an open transaction that wrote one outbox row of GROUP for topic; its id. */
static PGconn *late_row(const char *dsn, const char *topic, const char *key, long long *id)
{
    char sql[1024];
    PGconn *c = PQconnectdb(dsn);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connecting: %s", PQerrorMessage(c));
    ok_cmd(c, "BEGIN");
    snprintf(sql, sizeof sql,
             "INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, "
             "payload, fingerprint) VALUES ('%s', gen_random_uuid(), 'rt_late', '%s', '%s', "
             "'\\x00', '0000000000000000') RETURNING id",
             GROUP, topic, key);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return c;
}

START_TEST(outbox_late_commit)
{
    char dsn[1024], topic[128], derived[128], logf[256], port_s[16];
    int mult = cs_test_timeout_mult();
    long long id1, id2;
    rt_db("ob118", dsn, sizeof dsn);
    cs_test_topic("ob118", topic, sizeof topic);
    cs_test_topic("ob118d", derived, sizeof derived);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-ob118-%d.log", (int)getpid());
    int port = rt_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);

    rt_produce_many(topic, N, NKEYS);
    ck_assert_int_eq(rt_topic_end(topic), N);

    /* Two rows written before any of the worker's, committed late. */
    PGconn *late1 = late_row(dsn, derived, "late-1", &id1);
    PGconn *late2 = late_row(dsn, derived, "late-2", &id2);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          GROUP,
                          "--emit-topic",
                          derived,
                          "--batch-size",
                          "100",
                          "--batch-ms",
                          "20",
                          "--outbox-batch-rows",
                          "100",
                          "--metrics-port",
                          port_s,
                          "--outbox-poll-ms",
                          "200",
                          "--log-level",
                          "warn",
                          "--session-timeout-ms",
                          "6000",
                          NULL};
    worker = rt_spawn(dsn, logf, args);

    /* Mid-drain: the relay has published rows above both late ids; the first commits. */
    ck_assert_msg(wait_published(port, N / 3, 90000 * mult) >= N / 3,
                  "the relay did not publish a third of the derived events (see %s)", logf);
    ck_assert_int_lt(id1, id2);
    ok_cmd(late1, "COMMIT");
    PQfinish(late1);
    ck_assert_msg(rt_wait_committed(dsn, GROUP, N, 90000 * mult) == 0,
                  "the worker did not consume the input (see %s)", logf);
    ck_assert_msg(wait_published(port, N + 1, 20000 * mult) == N + 1,
                  "the row committed late mid-drain was not published (see %s)", logf);
    ck_assert_int_eq(rt_topic_end(derived), N + 1);

    /* Idle: everything visible is published; the second commits. */
    rt_sleep_ms(1000);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), 0);
    ok_cmd(late2, "COMMIT");
    PQfinish(late2);
    ck_assert_msg(wait_published(port, N + 2, 10000 * mult) == N + 2,
                  "the row committed late while idle was not published (see %s)", logf);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), 0);
    ck_assert_int_eq(rt_topic_end(derived), N + 2);

    int st = cs_test_stop(worker, SIGTERM, 20000 * mult);
    worker = -1;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d (see %s)", st,
                  logf);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    rt_kill_at_exit(&worker);
    return rt_run_test("outbox_late_commit", "outbox_late_commit", outbox_late_commit,
                       300 * cs_test_timeout_mult());
}

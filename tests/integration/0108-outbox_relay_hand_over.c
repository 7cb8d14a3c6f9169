/*
 * tests/integration/0108-outbox_relay_hand_over.c
 *      A relay that holds its group's relay lock but cannot reach the brokers hands the lock over
 *      after a round that published nothing, so another instance's relay publishes the rows.
 *
 * The relay lock (libcore/src/worker_outbox.c) lets one relay of a consumer group publish at a
 * time; a holder that reaches PostgreSQL but not Kafka would otherwise keep it, and the group's
 * derived events would wait for as long as it runs. Here:
 *  - a session of this test holds the lock while cs-testworker --emit-topic (instance B) consumes
 *    400 events: 400 outbox rows wait; B stops;
 *  - instance A starts with an unreachable broker (127.0.0.1:1) and takes the lock once the
 *    test's session ends: its round reads the rows, delivers none, and after the round's wait it
 *    says it hands the lock over;
 *  - B starts again (reaching the broker): it takes the lock and publishes every row once (the
 *    derived topic holds exactly 400: A delivered nothing), the outbox is empty.
 * Before the hand-over existed, A kept the lock and the derived topic stayed empty: the test fails.
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

#define N     400
#define NKEYS 97
#define GROUP "rt-ob108"

/* The instances under test, killed at exit if a failed check left them running. */
static pid_t inst_a = -1, inst_b = -1;

static void kill_instances(void)
{
    if (inst_a > 0)
        kill(inst_a, SIGKILL);
    if (inst_b > 0)
        kill(inst_b, SIGKILL);
}

START_TEST(outbox_relay_hand_over)
{
    char dsn[1024], topic[128], derived[128], loga[256], logb[256], logb2[256];
    int mult = cs_test_timeout_mult();
    rt_db("ob108", dsn, sizeof dsn);
    cs_test_topic("ob108", topic, sizeof topic);
    cs_test_topic("ob108d", derived, sizeof derived);
    snprintf(loga, sizeof loga, "/tmp/cs-rt-ob108a-%d.log", (int)getpid());
    snprintf(logb, sizeof logb, "/tmp/cs-rt-ob108b-%d.log", (int)getpid());
    snprintf(logb2, sizeof logb2, "/tmp/cs-rt-ob108b2-%d.log", (int)getpid());

    rt_produce_many(topic, N, NKEYS);
    ck_assert_int_eq(rt_topic_end(topic), N);

    /* The lock's holder while B consumes: B's relay stands by, the rows wait. */
    PGconn *holder = rt_outbox_lock_take(dsn, GROUP);

    const char *args_b[] = {"--format",
                            "text",
                            "--topics",
                            topic,
                            "--group",
                            GROUP,
                            "--emit-topic",
                            derived,
                            "--batch-size",
                            "200",
                            "--batch-ms",
                            "20",
                            "--metrics-port",
                            "-1",
                            "--outbox-poll-ms",
                            "200",
                            "--log-level",
                            "info",
                            "--session-timeout-ms",
                            "6000",
                            NULL};
    inst_b = rt_spawn(dsn, logb, args_b);
    ck_assert_msg(rt_wait_committed(dsn, GROUP, N, 90000 * mult) == 0,
                  "B did not consume the input (see %s)", logb);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), N);
    int st = cs_test_stop(inst_b, SIGTERM, 20000 * mult);
    inst_b = -1;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "B exit status %d (see %s)", st, logb);
    ck_assert_int_eq(rt_topic_end(derived), 0);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), N);

    /* A cannot reach the broker; it takes the lock when the test's session lets it go. */
    const char *args_a[] = {"--format",
                            "text",
                            "--topics",
                            topic,
                            "--group",
                            GROUP,
                            "--emit-topic",
                            derived,
                            "--kafka-brokers",
                            "127.0.0.1:1",
                            "--metrics-port",
                            "-1",
                            "--outbox-poll-ms",
                            "200",
                            "--log-level",
                            "info",
                            NULL};
    inst_a = rt_spawn(dsn, loga, args_a);
    rt_sleep_ms(1000);
    PQfinish(holder);
    int waited = 0;
    while (rt_outbox_lock_holders(dsn, GROUP) != 1 && waited < 15000 * mult) {
        rt_sleep_ms(200);
        waited += 200;
    }
    ck_assert_msg(rt_outbox_lock_holders(dsn, GROUP) == 1,
                  "A's relay did not take the lock (see %s)", loga);

    /* B again, reaching the broker: it publishes once A has handed the lock over. */
    inst_b = rt_spawn(dsn, logb2, args_b);
    long long end = 0;
    for (waited = 0; waited < 90000 * mult; waited += 500) {
        end = rt_topic_end(derived);
        if (end >= N && rt_ll(dsn, "SELECT count(*) FROM outbox_events") == 0)
            break;
        rt_sleep_ms(500);
    }
    ck_assert_msg(end == N, "the derived topic holds %lld events, want %d (A: %s, B: %s)", end, N,
                  loga, logb2);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), 0);
    ck_assert_msg(rt_file_has(loga, "handing the group's relay lock over"),
                  "A did not say it handed the lock over (see %s)", loga);
    rt_sleep_ms(1000);
    ck_assert_int_eq(rt_topic_end(derived), N);

    kill(inst_a, SIGKILL);
    waitpid(inst_a, NULL, 0);
    inst_a = -1;
    st = cs_test_stop(inst_b, SIGTERM, 20000 * mult);
    inst_b = -1;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "B exit status %d (see %s)", st, logb2);
    cs_test_drop_db(dsn);
    unlink(loga);
    unlink(logb);
    unlink(logb2);
}
END_TEST

int main(void)
{
    atexit(kill_instances);
    return rt_run_test("outbox_relay_hand_over", "outbox_relay_hand_over", outbox_relay_hand_over,
                       300 * cs_test_timeout_mult());
}

/*
 * tests/integration/0062-runtime_rebalance.c
 *      Rebalance from 1 to 3 consumers and back, mid-run, without loss or double effects.
 *
 * One cs-testworker starts on 100,000 events (slowed down by a per-event handler delay so the
 * run outlasts the rebalances); when it has committed part of them two more members join the
 * group (cooperative-sticky moves partitions to them; the first member flushes and commits its
 * in-flight batch before releasing them); later both leave with SIGTERM (finish, commit, leave
 * the group, exit 0) and their partitions come back. The effects must equal the events.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N 100000

/* The run with members of the given --assignment-strategy, in group and database `name`. */
static void rebalance_1_3_1(const char *strategy, const char *name)
{
    char dsn[1024], topic[128], loga[256], logb[256], logc[256];
    rt_db(name, dsn, sizeof dsn);
    cs_test_topic(name, topic, sizeof topic);
    snprintf(loga, sizeof loga, "/tmp/cs-%s-a-%d.log", name, (int)getpid());
    snprintf(logb, sizeof logb, "/tmp/cs-%s-b-%d.log", name, (int)getpid());
    snprintf(logc, sizeof logc, "/tmp/cs-%s-c-%d.log", name, (int)getpid());
    unlink(loga), unlink(logb), unlink(logc);

    rt_produce_many(topic, N, 501);
    long long total = rt_topic_end(topic);
    ck_assert_int_eq(total, N);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          name,
                          "--assignment-strategy",
                          strategy,
                          "--batch-size",
                          "500",
                          "--batch-ms",
                          "20",
                          "--session-timeout-ms",
                          "6000",
                          "--metrics-port",
                          "-1",
                          "--handler-delay-us",
                          "120",
                          NULL};
    int mult = cs_test_timeout_mult();
    pid_t a = rt_spawn(dsn, loga, args);
    ck_assert_msg(rt_wait_committed(dsn, name, 10000, 60000 * mult) == 0,
                  "first member made no progress (see %s)", loga);
    long long at_join = rt_committed(dsn, name);
    pid_t b = rt_spawn(dsn, logb, args);
    pid_t c = rt_spawn(dsn, logc, args);
    /* wait until the newcomers have applied something themselves */
    int64_t end = cs_test_now_ms() + 60000 * mult;
    while (cs_test_now_ms() < end &&
           !(rt_file_has(logb, "partition assigned") && rt_file_has(logc, "partition assigned")))
        rt_sleep_ms(100);
    ck_assert_msg(rt_file_has(logb, "partition assigned") &&
                      rt_file_has(logc, "partition assigned"),
                  "the new members got no partitions (see %s, %s)", logb, logc);
    /* The broker's view of the group: its members agreed on the strategy given. */
    char assignor[64];
    ck_assert_int_eq(rt_group_assignor(name, assignor, sizeof assignor), 0);
    ck_assert_str_eq(assignor, strategy);
    long long mid = rt_committed(dsn, name);
    ck_assert_msg(rt_wait_committed(dsn, name, mid + 5000, 60000 * mult) == 0,
                  "no progress with three members");
    ck_assert_msg(rt_committed(dsn, name) < total, "the run ended before the members left");
    fprintf(stderr, "rebalance: joined at %lld, leaving at %lld of %lld\n", at_join,
            rt_committed(dsn, name), total);

    int64_t t_stop = cs_test_now_ms();
    kill(b, SIGTERM);
    kill(c, SIGTERM);
    int sb = rt_wait(b, 20000 * mult), sc = rt_wait(c, 20000 * mult);
    fprintf(stderr, "rebalance: both members stopped %lld ms after SIGTERM\n",
            (long long)(cs_test_now_ms() - t_stop));
    ck_assert_msg(cs_test_exited(sb, 0), "member b: status %d", sb);
    ck_assert_msg(cs_test_exited(sc, 0), "member c: status %d", sc);
    ck_assert(rt_file_has(logb, "leaving the consumer group"));
    /* Both left the group (stopping at once, they hand partitions to each other meanwhile). */
    ck_assert_msg(rt_file_has(logb, "left the consumer group") &&
                      rt_file_has(logc, "left the consumer group"),
                  "a member's leave was abandoned (see %s, %s)", logb, logc);

    ck_assert_msg(rt_wait_committed(dsn, name, total, 120000 * mult) == 0,
                  "the remaining member did not finish (see %s)", loga);
    int sa = cs_test_stop(a, SIGTERM, 20000 * mult);
    ck_assert_msg(cs_test_exited(sa, 0), "member a: status %d", sa);

    ck_assert_int_eq(rt_committed(dsn, name), total);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(events) FROM rt_counts"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 0);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events"), N);
    cs_test_drop_db(dsn);
    unlink(loga), unlink(logb), unlink(logc);
}

START_TEST(rebalance_cooperative)
{
    rebalance_1_3_1("cooperative-sticky", "rebal");
}
END_TEST

/* Eager: every member gives up every partition at each join and leave. */
START_TEST(rebalance_roundrobin)
{
    rebalance_1_3_1("roundrobin", "rebal_rr");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime_rebalance");
    TCase *tc = tcase_create("rebalance");
    tcase_set_timeout(tc, 360 * cs_test_timeout_mult());
    tcase_add_test(tc, rebalance_cooperative);
    tcase_add_test(tc, rebalance_roundrobin);
    suite_add_tcase(s, tc);
    return rt_run_suite(s);
}

/*
 * tests/integration/0065-runtime_rewind.c
 *      Offsets moved in PostgreSQL under a running worker (an operator's rewind, or a zombie's
 *      competitor): the compare-and-set fences the batch, the worker reloads the stored offsets,
 *      seeks there and replays; the replayed events are duplicates by event id, so nothing is
 *      applied twice. Also the regression test for a partition fenced before its first commit
 *      (no stored row): it must go back to its beginning, not skip what was dropped.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N 20000

START_TEST(rewind_replays_without_double_effects)
{
    char dsn[1024], topic[128], logf[256];
    rt_db("rewind", dsn, sizeof dsn);
    cs_test_topic("rewind", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-rewind-%d.log", (int)getpid());
    unlink(logf);

    rt_produce_many(topic, N, 200);
    ck_assert_int_eq(rt_topic_end(topic), N);

    int mult = cs_test_timeout_mult();
    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-rewind",
                          "--batch-size",
                          "500",
                          "--batch-ms",
                          "20",
                          "--session-timeout-ms",
                          "6000",
                          "--metrics-port",
                          "-1",
                          "--handler-delay-us",
                          "150",
                          "--drain",
                          NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    ck_assert_msg(rt_wait_committed(dsn, "rt-rewind", 5000, 60000 * mult) == 0,
                  "no progress (see %s)", logf);
    /* rewind every partition of the group to its beginning */
    rt_exec(dsn, "UPDATE consumer_offsets SET next_offset = 0 WHERE consumer_group = 'rt-rewind'");
    int st = rt_wait(pid, 120000 * mult);
    if (st == -1)
        kill(pid, SIGKILL);
    ck_assert_msg(cs_test_exited(st, 0), "exit status %d (see %s)", st, logf);
    ck_assert_msg(rt_file_has(logf, "reloading them"), "no fence logged (see %s)", logf);
    /* A partition already at its end when it was rewound is noticed at its next commit only:
     * a second run starts every partition from the stored (rewound) offsets and replays. */
    st = rt_run(dsn, logf, args, 120000);
    ck_assert_msg(cs_test_exited(st, 0), "second run: status %d", st);
    ck_assert_int_eq(rt_committed(dsn, "rt-rewind"), N);
    char why[256];
    ck_assert_msg(rt_effects(dsn, N, 0, why, sizeof why) == 0, "%s", why);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    return rt_run_test("runtime_rewind", "rewind", rewind_replays_without_double_effects,
                       240 * cs_test_timeout_mult());
}

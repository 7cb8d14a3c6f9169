/*
 * tests/integration/0093-runtime_sigterm_startup.c
 *      SIGTERM (and SIGINT) at any moment of start-up is a clean stop: exit 0, nothing applied
 *      that is not committed, the group left, the next run finishes the work exactly once.
 *
 * Start-up (options, PostgreSQL, the dead-letter producer, the consumer, the loop's watchers)
 * takes tens of milliseconds, longer on a busy machine; a signal that came before the worker
 * handled signals used to take the default action (exit status 143, "killed by SIGTERM", with
 * the consumer and the connections dropped on the floor). The worker is signalled 0, 1, 5, 10,
 * 20, 50, 100, 150, 200 and 300 ms after its start-up code is seen running (/proc/PID/status shows
 * SIGPIPE ignored, which the runtime does first thing); earlier than its own code the process is
 * the dynamic loader, where no program can choose what a signal does.
 */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N 3000

/* The hexadecimal signal mask a /proc/PID/status line gives ("SigBlk:\t0000000000004002"). */
static unsigned long long status_mask(pid_t pid, const char *key)
{
    char path[64], line[256];
    unsigned long long m = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)))
            m = strtoull(line + strlen(key), NULL, 16);
    fclose(f);
    return m;
}

/*
 * Waits (at most 10 s) until the worker's own start-up code runs: it ignores SIGPIPE (before it
 * reads its configuration's consequences, connects or starts a thread). 0, or -1 if it exited.
 */
static int wait_started(pid_t pid)
{
    unsigned long long bit = 1ULL << (SIGPIPE - 1);
    int64_t end = cs_test_now_ms() + 10000 * cs_test_timeout_mult();
    while (cs_test_now_ms() < end) {
        if (status_mask(pid, "SigIgn:") & bit)
            return 0;
        if (rt_wait(pid, 0) != -1)
            return -1;
        usleep(100);
    }
    return -1;
}

START_TEST(sigterm_during_startup)
{
    char dsn[1024], topic[128], logf[256];
    rt_db("sigstart", dsn, sizeof dsn);
    cs_test_topic("sigstart", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-sigstart-%d.log", (int)getpid());
    unlink(logf);

    rt_produce_many(topic, N, 50);

    int mult = cs_test_timeout_mult();
    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-sigstart",
                          "--batch-size",
                          "200",
                          "--batch-ms",
                          "10",
                          "--session-timeout-ms",
                          "6000",
                          "--metrics-port",
                          "0",
                          "--handler-delay-us",
                          "100",
                          NULL};
    static const struct {
        int delay_ms, sig;
    } runs[] = {{0, SIGTERM},   {1, SIGTERM},   {5, SIGTERM},   {10, SIGTERM},
                {20, SIGTERM},  {50, SIGTERM},  {100, SIGTERM}, {150, SIGTERM},
                {200, SIGTERM}, {300, SIGTERM}, {0, SIGINT},    {50, SIGINT}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        pid_t pid = rt_spawn(dsn, logf, args);
        ck_assert_msg(wait_started(pid) == 0, "the worker never started (see %s)", logf);
        if (runs[r].delay_ms)
            rt_sleep_ms(runs[r].delay_ms);
        int64_t t0 = cs_test_now_ms();
        int st = cs_test_stop(pid, runs[r].sig, 30000 * mult);
        ck_assert_msg(st != -1, "run %zu: no exit within 30 s of signal %d (see %s)", r,
                      runs[r].sig, logf);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "run %zu: signal %d %d ms into start-up: %s %d, not exit 0 (see %s)", r,
                      runs[r].sig, runs[r].delay_ms, WIFSIGNALED(st) ? "killed by signal" : "exit",
                      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), logf);
        long long committed = rt_committed(dsn, "rt-sigstart");
        fprintf(stderr, "sigstart: signal %d at %3d ms: exit 0 in %lld ms, %lld committed\n",
                runs[r].sig, runs[r].delay_ms, (long long)(cs_test_now_ms() - t0), committed);
        /* what was committed is exactly what was applied, whenever the signal came */
        ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), committed);
        ck_assert_int_eq(rt_ll(dsn, "SELECT coalesce(sum(n), 0) FROM rt_counts"), committed);
    }

    /* No member was left behind in the group: the rest drains at once, each event once. */
    const char *dargs[] = {"--format",
                           "text",
                           "--topics",
                           topic,
                           "--group",
                           "rt-sigstart",
                           "--session-timeout-ms",
                           "6000",
                           "--metrics-port",
                           "-1",
                           "--drain",
                           NULL};
    int st = rt_run(dsn, logf, dargs, 90000);
    ck_assert_msg(cs_test_exited(st, 0), "drain status %d", st);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events"), N);
    ck_assert_int_eq(rt_committed(dsn, "rt-sigstart"), N);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    return rt_run_test("runtime_sigterm_startup", "sigterm_startup", sigterm_during_startup,
                       240 * cs_test_timeout_mult());
}

/*
 * tests/integration/0126-outbox_relay_backlog.c
 *      A backlog in the outbox is read once, by the primary key, whatever its statistics say;
 *      the relay's thread is named cs-outbox.
 *
 * outbox_events is analyzed while empty (as autovacuum or a benchmark usually finds an outbox:
 * near empty), then 20,000 rows of the worker's group are written behind the planner's back
 * (autovacuum off for the table in this database), as a relay finds them after an outage or
 * when it fell behind. cs-testworker --emit-topic relays them in rounds of 100
 * (--outbox-batch-rows) beside 20 events of its own. Each round's SELECT (id order, LIMIT 100)
 * must read about the rows it returns, not every pending row: with the statistics of an empty
 * table the planner took a bitmap scan of all the group's pending rows and a top-N sort instead
 * (libcore/src/worker_outbox.c, relay_connected), 200 rounds reading ~2,000,000 index entries
 * in all. Checked: every row is published (the derived topic holds 20,020 messages) and deleted,
 * and the primary key's idx_tup_read (index entries the scans returned, the worker's backends'
 * statistics flushed at their exit) stays under 12 per row relayed: one each for the SELECT and
 * the DELETE, the dead entries a read from the start passes once, the pending count at most every
 * 5 s. While it runs, exactly one of the worker's threads is named cs-outbox, not the main one
 * (bench/readiness.sh reports the relay's CPU by that name).
 */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N       20
#define NKEYS   7
#define BACKLOG 20000
#define GROUP   "rt-ob126"

/* The worker under test, killed at exit if a failed check left it running. */
static pid_t worker = -1;

/* The name (comm) of thread tid of pid into out ("" when gone). */
static void thread_name(pid_t pid, const char *tid, char *out, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task/%s/comm", (int)pid, tid);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(out, (int)size, f))
        out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* How many of pid's threads are named name; *main_is: whether the main thread is one of them. */
static int threads_named(pid_t pid, const char *name, int *main_is)
{
    char dir[64], comm[64], main_tid[24];
    int n = 0;
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    snprintf(main_tid, sizeof main_tid, "%d", (int)pid);
    *main_is = 0;
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "no %s", dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        thread_name(pid, e->d_name, comm, sizeof comm);
        if (strcmp(comm, name) == 0) {
            n++;
            if (strcmp(e->d_name, main_tid) == 0)
                *main_is = 1;
        }
    }
    closedir(d);
    return n;
}

START_TEST(outbox_relay_backlog)
{
    char dsn[1024], topic[128], derived[128], logf[256], sql[1024];
    int mult = (int)cs_test_timeout_mult(), main_is = 0;
    rt_db("ob126", dsn, sizeof dsn);
    cs_test_topic("ob126", topic, sizeof topic);
    cs_test_topic("ob126d", derived, sizeof derived);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-ob126-%d.log", (int)getpid());
    rt_topic_create(derived, 4, NULL);
    rt_produce_many(topic, N, NKEYS);

    /* Statistics of an empty outbox, then a backlog they do not know of. */
    rt_exec(dsn, "ALTER TABLE outbox_events SET (autovacuum_enabled = false)");
    rt_exec(dsn, "ANALYZE outbox_events");
    snprintf(sql, sizeof sql,
             "INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, msg_key, "
             "payload, fingerprint) SELECT '%s', gen_random_uuid(), 'rt_backlog', '%s', "
             "'k-' || (i %% 97), decode(repeat(md5(i::text), 4), 'hex'), '0123456789abcdef' "
             "FROM generate_series(1, %d) i",
             GROUP, derived, BACKLOG);
    rt_exec(dsn, sql);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), BACKLOG);
    ck_assert_int_eq(rt_ll(dsn, "SELECT reltuples::bigint FROM pg_class "
                                "WHERE relname = 'outbox_events'"),
                     0);
    long long read0 = rt_ll(dsn, "SELECT idx_tup_read FROM pg_stat_user_indexes "
                                 "WHERE indexrelname = 'outbox_events_pkey'");

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          GROUP,
                          "--emit-topic",
                          derived,
                          "--outbox-batch-rows",
                          "100",
                          "--outbox-poll-ms",
                          "200",
                          "--metrics-port",
                          "-1",
                          "--log-level",
                          "warn",
                          "--session-timeout-ms",
                          "6000",
                          NULL};
    pid_t pid = worker = rt_spawn(dsn, logf, args);
    ck_assert_msg(rt_wait_committed(dsn, GROUP, N, 90000 * mult) == 0,
                  "the worker did not consume the input (see %s)", logf);
    long long left = -1;
    for (int waited = 0; waited < 180000 * mult; waited += 200) {
        left = rt_ll(dsn, "SELECT count(*) FROM outbox_events");
        if (left == 0)
            break;
        rt_sleep_ms(200);
    }
    ck_assert_msg(left == 0, "%lld outbox rows still pending (see %s)", left, logf);

    ck_assert_int_eq(threads_named(pid, "cs-outbox", &main_is), 1);
    ck_assert_msg(!main_is, "the main thread is named cs-outbox");

    int st = cs_test_stop(pid, SIGTERM, 20000 * mult);
    worker = -1;
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d (see %s)", st,
                  logf);
    ck_assert_int_eq(rt_topic_end(derived), BACKLOG + N);

    /* The worker's backends flush their statistics as they exit: wait until they are gone. */
    for (int waited = 0; waited < 20000 * mult; waited += 100) {
        if (rt_ll(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND backend_type = 'client backend'") == 0)
            break;
        rt_sleep_ms(100);
    }
    long long read = rt_ll(dsn, "SELECT idx_tup_read FROM pg_stat_user_indexes "
                                "WHERE indexrelname = 'outbox_events_pkey'") -
                     read0;
    fprintf(stderr, "0126: the outbox key returned %lld index entries relaying %d rows\n", read,
            BACKLOG + N);
    ck_assert_msg(read < 12LL * (BACKLOG + N),
                  "the relay read %lld index entries for %d rows: each round read the backlog",
                  read, BACKLOG + N);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    rt_kill_at_exit(&worker);
    return rt_run_test("outbox_relay_backlog", "outbox_relay_backlog", outbox_relay_backlog,
                       400 * cs_test_timeout_mult());
}

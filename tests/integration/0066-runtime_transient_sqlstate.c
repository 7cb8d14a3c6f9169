/*
 * tests/integration/0066-runtime_transient_sqlstate.c
 *      Serialization failures and deadlocks are retried, never dead-lettered.
 *
 * A statement trigger on rt_events raises SQLSTATE 40001 three times, then 40P01 twice (a
 * sequence counts the calls: nextval survives the rollbacks), then lets every batch through. The
 * worker must roll back, back off, retry the same batch and end with exact effects, no dead
 * letter, and the failures counted per SQLSTATE in /metrics.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N 5000

static char buf[1 << 20];

START_TEST(serialization_and_deadlock_are_retried)
{
    char dsn[1024], topic[128], logf[256], port_s[16];
    rt_db("transient", dsn, sizeof dsn);
    cs_test_topic("transient", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-transient-%d.log", (int)getpid());
    unlink(logf);
    rt_exec(dsn, "CREATE SEQUENCE rt_fail_seq;"
                 "CREATE FUNCTION rt_fail() RETURNS trigger LANGUAGE plpgsql AS $$ "
                 "DECLARE n bigint := nextval('rt_fail_seq'); BEGIN "
                 "IF n <= 3 THEN RAISE EXCEPTION 'injected serialization failure' "
                 "USING ERRCODE = '40001'; END IF; "
                 "IF n <= 5 THEN RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01'; "
                 "END IF; RETURN NULL; END $$;"
                 "CREATE TRIGGER rt_fail BEFORE INSERT ON rt_events "
                 "FOR EACH STATEMENT EXECUTE FUNCTION rt_fail()");

    rt_produce_many(topic, N, 50);

    int port = rt_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);
    int mult = cs_test_timeout_mult();
    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-transient",
                          "--batch-size",
                          "1000",
                          "--session-timeout-ms",
                          "6000",
                          "--metrics-port",
                          port_s,
                          "--retry-initial-ms",
                          "50",
                          "--retry-max-ms",
                          "400",
                          NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    ck_assert_msg(rt_wait_committed(dsn, "rt-transient", N, 60000 * mult) == 0,
                  "the worker did not get through (see %s)", logf);
    ck_assert_int_eq(rt_http_get(port, "/metrics", buf, sizeof buf), 200);
    ck_assert_msg(strstr(buf, "cs_db_errors_total{sqlstate=\"40001\"} 3\n") != NULL,
                  "40001 not counted three times:\n%s", buf);
    ck_assert_msg(strstr(buf, "cs_db_errors_total{sqlstate=\"40P01\"} 2\n") != NULL,
                  "40P01 not counted twice");
    ck_assert_ptr_nonnull(strstr(buf, "cs_retries_total 5\n"));
    int st = cs_test_stop(pid, SIGTERM, 20000 * mult);
    ck_assert_msg(cs_test_exited(st, 0), "exit status %d", st);

    ck_assert(rt_file_has(logf, "\"sqlstate\":\"40001\""));
    ck_assert(rt_file_has(logf, "\"sqlstate\":\"40P01\""));
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), N);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 0);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    return rt_run_test("runtime_transient_sqlstate", "transient",
                       serialization_and_deadlock_are_retried, 180 * cs_test_timeout_mult());
}

/*
 * tests/integration/0078-runtime_dead_letter_once_topics.c
 *      A batch redone after a failure tells of its dead letters once; a topic that does not exist
 *      is refused by --drain (exit 2, named) and waited for, with a warning, without it.
 *
 * once: the first recording of the batch's dead letter fails with a transient SQLSTATE (40001,
 *       raised once by a trigger on dead_letters), so the batch is rolled back and redone; the
 *       log has one "event dead-lettered" line and /metrics counts one dead letter.
 * drain_unknown_topic: --drain on a topic the broker does not have, auto-creation refused by the
 *       consumer (--kafka-props allow.auto.create.topics=false), and on a name the broker refuses
 *       to create (auto-creation on): exit 2 naming the topic, within the bounded wait. SIGTERM
 *       during the wait ends the worker cleanly (exit 0, no abort).
 * wait_unknown_topic: without --drain the worker warns and keeps waiting, and consumes the topic
 *       once it is created.
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

/* Lines of the file containing needle. */
static int file_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    int n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* The sum of a metric's samples in a /metrics body (-1 when absent). */
static double metric_sum(const char *body, const char *name)
{
    double sum = -1;
    size_t nl = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || (p[nl] != '{' && p[nl] != ' '))
            continue;
        const char *sp = strchr(p, ' ');
        const char *eol = strchr(p, '\n');
        if (p[nl] == '{') {
            const char *close = strchr(p, '}');
            sp = close ? strchr(close, ' ') : NULL;
        }
        if (sp && (!eol || sp < eol))
            sum = (sum < 0 ? 0 : sum) + atof(sp + 1);
    }
    return sum;
}

START_TEST(dead_letter_logged_once)
{
    char dsn[1024], topic[128], logf[256], port_s[16], body[65536];
    rt_db("dlq_once", dsn, sizeof dsn);
    cs_test_topic("dlqonce", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-dlq-once-%d.log", (int)getpid());
    unlink(logf);
    /* The first row recorded in dead_letters fails the transaction once, as a transient error. */
    rt_exec(dsn, "CREATE SEQUENCE rt_dl_fail;"
                 "CREATE FUNCTION rt_dl_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF nextval('rt_dl_fail') = 1 THEN RAISE EXCEPTION 'injected failure' USING "
                 "ERRCODE = '40001'; END IF; RETURN NEW; END $$;"
                 "CREATE TRIGGER rt_dl_fail BEFORE INSERT ON dead_letters FOR EACH ROW "
                 "EXECUTE FUNCTION rt_dl_fail()");

    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < 20; i++)
        rt_produce_text_to(p, topic, 0, i, 4, i == 7 ? -7 : 1); /* 7: a handler error */
    rt_producer_flush(p);
    rt_producer_destroy(p);

    int port = rt_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);
    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-dlq-once",
                          "--metrics-port",
                          port_s,
                          "--session-timeout-ms",
                          "6000",
                          "--retry-initial-ms",
                          "100",
                          NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    int rc = rt_wait_committed(dsn, "rt-dlq-once", 20, 90000 * cs_test_timeout_mult());
    int status = 0;
    for (int i = 0; i < 50 && status != 200; i++) {
        status = rt_http_get(port, "/metrics", body, sizeof body);
        if (status != 200)
            rt_sleep_ms(100);
    }
    int st = cs_test_stop(pid, SIGTERM, 30000 * cs_test_timeout_mult());
    ck_assert_msg(rc == 0, "the worker did not commit the 20 events (see %s)", logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d (see %s)", st, logf);
    /* the injected failure happened: the batch was redone */
    ck_assert_int_ge(rt_ll(dsn, "SELECT last_value FROM rt_dl_fail"), 2);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 1);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), 19);
    ck_assert_msg(file_count(logf, "injected failure") >= 1, "no retry in %s", logf);
    ck_assert_msg(file_count(logf, "\"event dead-lettered\"") == 1,
                  "%d \"event dead-lettered\" lines for one dead letter (see %s)",
                  file_count(logf, "\"event dead-lettered\""), logf);
    ck_assert_int_eq(status, 200);
    ck_assert_msg(metric_sum(body, "cs_events_dead_lettered_total") == 1.0,
                  "cs_events_dead_lettered_total = %g",
                  metric_sum(body, "cs_events_dead_lettered_total"));
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

/* Runs a --drain worker on topic; returns its wait status (-1: still running after timeout_ms). */
static int drain_on(const char *dsn, const char *logf, const char *topic, const char *props,
                    int timeout_ms, int term_after_ms)
{
    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-no-topic",
                          "--metrics-port",
                          "-1",
                          "--session-timeout-ms",
                          "6000",
                          "--drain",
                          props ? "--kafka-props" : NULL,
                          props,
                          NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    if (term_after_ms > 0) {
        /* once the worker runs its loop (its signal handlers are installed) */
        for (int i = 0; i < 300 && !rt_file_has(logf, "worker started"); i++)
            rt_sleep_ms(100);
        rt_sleep_ms(term_after_ms);
        kill(pid, SIGTERM);
    }
    int st = rt_wait(pid, timeout_ms);
    if (st == -1) {
        kill(pid, SIGKILL);
        rt_wait(pid, 10000);
    }
    return st;
}

START_TEST(drain_unknown_topic)
{
    char dsn[1024], topic[128], logf[256], want[300];
    rt_db("no_topic", dsn, sizeof dsn);
    cs_test_topic("notopic", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-no-topic-%d.log", (int)getpid());
    int bound = 45000 * cs_test_timeout_mult();

    /* a production broker's answer: no such topic, and no auto-creation */
    unlink(logf);
    int st = drain_on(dsn, logf, topic, "allow.auto.create.topics=false", bound, 0);
    ck_assert_msg(st != -1, "--drain on a missing topic still waits after %d ms (see %s)", bound,
                  logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "exit status %d (see %s)", st, logf);
    snprintf(want, sizeof want, "topic %s does not exist", topic);
    ck_assert_msg(rt_file_has(logf, want), "no \"%s\" in %s", want, logf);
    ck_assert_int_eq(rt_topic_end(topic), 0);

    /* a name the broker will not create, auto-creation allowed */
    unlink(logf);
    st = drain_on(dsn, logf, "cs-test-bad/name", NULL, bound, 0);
    ck_assert_msg(st != -1, "--drain on an invalid topic name still waits (see %s)", logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "exit status %d (see %s)", st, logf);
    ck_assert_msg(rt_file_has(logf, "topic cs-test-bad/name does not exist"), "see %s", logf);

    /* SIGTERM while waiting for the topic: a clean stop */
    for (int i = 0; i < 3; i++) {
        unlink(logf);
        st = drain_on(dsn, logf, topic, "allow.auto.create.topics=false", bound, 200 + 2500 * i);
        ck_assert_msg(st != -1, "SIGTERM did not stop the worker (see %s)", logf);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "exit status %d after SIGTERM (see %s)", st, logf);
    }
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

START_TEST(wait_unknown_topic)
{
    char dsn[1024], topic[128], logf[256];
    rt_db("wait_topic", dsn, sizeof dsn);
    cs_test_topic("waittopic", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-wait-topic-%d.log", (int)getpid());
    unlink(logf);
    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-wait-topic",
                          "--metrics-port",
                          "-1",
                          "--session-timeout-ms",
                          "6000",
                          "--kafka-props",
                          "allow.auto.create.topics=false",
                          NULL};
    pid_t pid = rt_spawn(dsn, logf, args);
    int warned = 0;
    for (int i = 0; i < 300 * cs_test_timeout_mult() && !warned; i++) {
        warned = rt_file_has(logf, "waiting for it to be created");
        if (!warned)
            rt_sleep_ms(100);
    }
    /* the topic appears (the test producer's broker creates it) and its events are consumed */
    rt_produce_many(topic, 10, 2);
    /* within seconds, not at librdkafka's 5-minute metadata refresh */
    int rc = rt_wait_committed(dsn, "rt-wait-topic", 10, 60000 * cs_test_timeout_mult());
    int st = cs_test_stop(pid, SIGTERM, 30000 * cs_test_timeout_mult());
    ck_assert_msg(warned, "no warning about the missing topic (see %s)", logf);
    ck_assert_msg(rc == 0, "the created topic was not consumed (see %s)", logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d (see %s)", st, logf);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime_dead_letter_once_topics");
    TCase *tc = tcase_create("once_topics");
    tcase_set_timeout(tc, 300 * cs_test_timeout_mult());
    tcase_add_test(tc, dead_letter_logged_once);
    tcase_add_test(tc, drain_unknown_topic);
    tcase_add_test(tc, wait_unknown_topic);
    suite_add_tcase(s, tc);
    return rt_run_suite(s);
}

/*
 * tests/integration/0103-progress_job_order.c
 *      cs-progress's job applications: the rows an application ends with, whatever the arrival
 *      order of its events and the batches they share, and the same rule for other writers.
 *
 * cs-progress folds an application's status history into its INSERT (workers/progress.c T_JOB,
 * migration 0078); the statement trigger of 0078 does the same for rows other writers insert.
 * One set of job events (statuses before and after their submission, an older status arriving
 * last, a resubmission, an application never submitted) is drained three times into three
 * databases: in the order written with every event in one batch (the fold sees history rows of
 * its own batch; through COPY and staging tables), the same with one event per batch (history
 * from earlier batches; through the array statements), and in reverse order one per batch. Every
 * database must hold the rows the rules give, written out below by hand: the newest status (by
 * occurred_at), the deepest interview round, the offer salary and rejection reason given; and the
 * three must hold the same rows. Then SQL inserts two applications directly: one whose status
 * history exists (it starts from it, and no second initial status is recorded) and one without (its
 * initial status is recorded).
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs/codec.h"
#include "cs/producer.h"
#include "harness.h"
#include "pg_text.h"

#define LEARNER(n) "00000000-0000-4000-8000-10000000000" #n
#define APP(n)     "00000000-0000-4000-8000-20000000000" #n
#define EVENT(n)   "00000000-0000-4000-9000-0000000000" #n

/* One event: its number (EVENT(nn)), type, learner, occurred_at and payload. */
typedef struct job_event {
    const char *id, *type, *learner, *at, *payload;
} job_event_t;

#define SUBMITTED(app)                                                                             \
    "{\"application_id\":\"" app "\",\"company_name\":\"Northwind\",\"job_title\":\"Analyst\","    \
    "\"target_industry\":\"fintech\",\"role_level\":\"junior\",\"channel\":\"direct\","            \
    "\"work_mode\":\"remote\",\"job_posting_url\":null,\"salary_expected\":52000,"                 \
    "\"salary_currency\":\"EUR\"}"
#define STATUS(app, status, round, salary, reason)                                                 \
    "{\"application_id\":\"" app "\",\"status\":\"" status "\",\"previous_status\":null,"          \
    "\"interview_round\":" round ",\"salary_offered\":" salary ",\"salary_currency\":"             \
    "\"EUR\",\"rejection_reason\":" reason "}"

/*
 * In the order written (the first drain): A's statuses before its submission, the offer first;
 * B's rejection before an older screening; C never submitted; D submitted twice (two rows, by
 * applied_at) around an interview, and an older withdrawal arriving last. History is kept per
 * application_id, so D's second submission (its 'applied' at 04-05) is the newest status of
 * both rows, and its interview's round counts for both.
 */
static const job_event_t events[] = {
    {"11", "application_status_changed", LEARNER(1), "2026-03-20T10:00:00.000Z",
     STATUS(APP(1), "offer", "null", "61000", "null")},
    {"12", "application_status_changed", LEARNER(1), "2026-03-10T10:00:00.000Z",
     STATUS(APP(1), "interview", "2", "null", "null")},
    {"13", "job_application_submitted", LEARNER(1), "2026-03-01T09:00:00.000Z", SUBMITTED(APP(1))},
    {"14", "application_status_changed", LEARNER(1), "2026-03-02T10:00:00.000Z",
     STATUS(APP(1), "screening", "null", "null", "null")},
    {"15", "job_application_submitted", LEARNER(1), "2026-03-05T09:00:00.000Z", SUBMITTED(APP(2))},
    {"16", "application_status_changed", LEARNER(1), "2026-03-08T10:00:00.000Z",
     STATUS(APP(2), "rejected", "null", "null", "\"position filled\"")},
    {"17", "application_status_changed", LEARNER(1), "2026-03-06T10:00:00.000Z",
     STATUS(APP(2), "screening", "null", "null", "null")},
    {"18", "application_status_changed", LEARNER(2), "2026-04-01T10:00:00.000Z",
     STATUS(APP(3), "interview", "1", "null", "null")},
    {"19", "job_application_submitted", LEARNER(2), "2026-04-02T09:00:00.000Z", SUBMITTED(APP(4))},
    {"20", "application_status_changed", LEARNER(2), "2026-04-03T10:00:00.000Z",
     STATUS(APP(4), "interview", "3", "null", "null")},
    {"21", "job_application_submitted", LEARNER(2), "2026-04-05T09:00:00.000Z", SUBMITTED(APP(4))},
    {"22", "application_status_changed", LEARNER(2), "2026-04-01T12:00:00.000Z",
     STATUS(APP(4), "withdrawn", "null", "null", "null")},
};
#define NEVENTS ((int)(sizeof events / sizeof events[0]))

/* Publishes the events, in order or reversed, to fresh topics; returns the prefix in out. */
static void publish(bool reversed, char *prefix, size_t size)
{
    cs_err_t err;
    cs_err_clear(&err);
    cs_test_topic("progjobs", prefix, size - 1);
    strcat(prefix, ".");
    cs_codec_t *codec = cs_codec_new(&err);
    ck_assert_ptr_nonnull(codec);
    cs_producer_t *p = cs_producer_new(cs_test_brokers(), "it-0103", &err);
    ck_assert_ptr_nonnull(p);
    cs_arena_t *arena = cs_arena_new(1 << 14);
    for (int i = 0; i < NEVENTS; i++) {
        const job_event_t *e = &events[reversed ? NEVENTS - 1 - i : i];
        char line[4096], topic[256];
        cs_event_t ev;
        snprintf(line, sizeof line,
                 "{\"event_type\":\"%s\",\"event_id\":\"00000000-0000-4000-9000-0000000000%s\","
                 "\"occurred_at\":\"%s\",\"user_id\":\"%s\",\"producer\":\"it-0103\","
                 "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
                 "\"payload\":%s}",
                 e->type, e->id, e->at, e->learner, e->payload);
        ck_assert_msg(cs_codec_from_json(codec, line, strlen(line), arena, &ev, &err) == 0,
                      "%s: %s: %s", line, err.field, err.msg);
        snprintf(topic, sizeof topic, "%s%s", prefix, cs_codec_type_topic(ev.type));
        ck_assert_msg(cs_producer_send_to(p, topic, &ev, NULL, &err) == 0, "send: %s", err.msg);
        cs_arena_reset(arena);
    }
    ck_assert_msg(cs_producer_flush(p, 30000, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cs_producer_delivered(p), NEVENTS);
    cs_producer_destroy(p);
    cs_codec_destroy(codec);
    cs_arena_destroy(arena);
}

/*
 * Drains the prefix's topics into dsn with cs-progress, batch_size events per batch; array_rows
 * is --batch-array-rows ("0": every table through COPY and its staging table, so both statement
 * forms of the fold's join are run).
 */
static void drain(const char *dsn, const char *prefix, const char *batch_size,
                  const char *array_rows)
{
    char topics[1024], log[128], group[160];
    snprintf(topics, sizeof topics,
             "%scs.learning,%scs.mentoring,%scs.jobsearch,%scs.portfolio,%scs.profile", prefix,
             prefix, prefix, prefix, prefix);
    snprintf(log, sizeof log, "/tmp/cs-it-0103-%d.log", (int)getpid());
    snprintf(group, sizeof group, "g.%s", prefix);
    const char *argv[] = {CS_PROGRESS_BIN,
                          "--drain",
                          "--topics",
                          topics,
                          "--group",
                          group,
                          "--log-level",
                          "warn",
                          "--batch-size",
                          batch_size,
                          "--batch-ms",
                          "100",
                          "--batch-array-rows",
                          array_rows,
                          NULL};
    int st = cs_test_run(argv, dsn, log, 0, 60000 * cs_test_timeout_mult());
    ck_assert_msg(st != -1, "cs-progress did not drain in time (log %s)", log);
    ck_assert_msg(cs_test_exited(st, 0), "cs-progress failed (log %s)", log);
    unlink(log);
}

/* Every application row, and every history row, as text (no generated ids or clock times). */
#define ROWS_SQL                                                                                   \
    "SELECT string_agg(concat_ws(' ', application_id, to_char(applied_at AT TIME ZONE 'UTC', "     \
    "'MM-DD'), status, to_char(status_changed_at AT TIME ZONE 'UTC', 'MM-DD HH24'), "              \
    "right(last_event_id::text, 2), interview_rounds, offer_salary::int, rejection_reason), "      \
    "'; ' ORDER BY application_id, applied_at) FROM job_applications"
#define HISTORY_SQL                                                                                \
    "SELECT string_agg(concat_ws(' ', right(application_id::text, 1), right(event_id::text, 2), "  \
    "coalesce(from_status, '-'), to_status, to_char(changed_at AT TIME ZONE 'UTC', 'MM-DD')), "    \
    "'; ' ORDER BY event_id) FROM job_application_status_history"

/* What the rules give (see the event list). */
/* clang-format off */
#define RULE_ROWS                                                                                  \
    APP(1) " 03-01 offer 03-20 10 11 2 61000; "                                                    \
    APP(2) " 03-05 rejected 03-08 10 16 0 position filled; "                                       \
    APP(4) " 04-02 applied 04-05 09 21 3; "                                                        \
    APP(4) " 04-05 applied 04-05 09 21 3"
/* clang-format on */
static void expect_rules(const char *dsn)
{
    expect_text(dsn, ROWS_SQL, RULE_ROWS);
    expect_text(dsn, HISTORY_SQL,
                "1 11 - offer 03-20; 1 12 - interviewing 03-10; 1 13 - applied 03-01; "
                "1 14 - screening 03-02; 2 15 - applied 03-05; 2 16 - rejected 03-08; "
                "2 17 - screening 03-06; 3 18 - interviewing 04-01; 4 19 - applied 04-02; "
                "4 20 - interviewing 04-03; 4 21 - applied 04-05; 4 22 - withdrawn 04-01");
}

/* Another writer's two applications (see the end of job_order). */
/* clang-format off */
#define OTHER_WRITER_SQL                                                                           \
    "INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, "  \
    "job_title, status, status_changed_at) VALUES "                                                \
    "('" APP(3) "', '2026-03-30T09:00:00Z', '" LEARNER(2) "', '" EVENT(31) "', 'Contoso', "       \
    "'Analyst', 'applied', '2026-03-30T09:00:00Z'), "                                              \
    "('" APP(5) "', '2026-03-31T09:00:00Z', '" LEARNER(2) "', '" EVENT(32) "', 'Contoso', "       \
    "'Engineer', 'applied', '2026-03-31T09:00:00Z')"
/* clang-format on */

START_TEST(job_order)
{
    char dsn[3][1024], prefix[2][128];
    const char *batch[3] = {"5000", "1", "1"};
    for (int i = 0; i < 3; i++)
        cs_test_fresh_db("progress_jobs", 1, dsn[i], sizeof dsn[i]);
    publish(false, prefix[0], sizeof prefix[0]);
    publish(true, prefix[1], sizeof prefix[1]);
    for (int i = 0; i < 3; i++) {
        drain(dsn[i], prefix[i == 2], batch[i], i == 0 ? "0" : "500");
        expect_rules(dsn[i]);
    }
    for (int i = 1; i < 3; i++) {
        char *a = db_text(dsn[0], ROWS_SQL), *b = db_text(dsn[i], ROWS_SQL);
        ck_assert_str_eq(a, b);
        free(a);
        free(b);
    }
    /* A replay of the whole stream changes nothing. */
    drain(dsn[1], prefix[1], "5000", "500");
    expect_rules(dsn[1]);

    /*
     * Another writer: application 3 has a status history (an interview, round 1, 04-01), so it
     * starts from it and its initial status is that history row; application 5 has none, so its
     * own initial status is recorded.
     */
    free(db_text(dsn[0], OTHER_WRITER_SQL));
    expect_text(dsn[0],
                "SELECT string_agg(concat_ws(' ', right(application_id::text, 1), status, "
                "to_char(status_changed_at AT TIME ZONE 'UTC', 'MM-DD'), "
                "right(last_event_id::text, 2), interview_rounds), '; ' ORDER BY application_id) "
                "FROM job_applications WHERE application_id IN ('" APP(3) "', '" APP(5) "')",
                "3 interviewing 04-01 18 1; 5 applied 03-31 0");
    expect_text(dsn[0],
                "SELECT string_agg(concat_ws(' ', right(application_id::text, 1), "
                "right(event_id::text, 2), coalesce(from_status, '-'), to_status), '; ' ORDER BY "
                "event_id) FROM job_application_status_history WHERE application_id IN ('" APP(
                    3) "', '" APP(5) "')",
                "3 18 - interviewing; 5 32 - applied");
    for (int i = 0; i < 3; i++)
        cs_test_drop_db(dsn[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("progress_job_order");
    TCase *tc = tcase_create("job_order");
    tcase_set_timeout(tc, 180 * cs_test_timeout_mult());
    tcase_add_test(tc, job_order);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * tests/integration/0101-progress_cases.c
 *      cs-progress on hand-written events: the cases a simulated stream does not produce.
 *
 * Each case is a few events in the documented JSON form, published with the producer API to
 * fresh topics in the order written here (which is deliberately not occurred_at order), drained
 * by build/bin/cs-progress as a subprocess, and checked row by row:
 *  - a status change of an application that was never submitted: history only;
 *  - a late submission after its offer, and an older status arriving last: no regression, the
 *    offer's salary and the deepest interview round kept;
 *  - a profile update without a stage, and an older one with a stage: the newest event's fields
 *    win, while the stage and the phase still move forward to what the older event stated;
 *  - goals with quotes, backslashes and a tab survive as text[] elements;
 *  - a session with a mentor the platform does not know is dead-lettered (23503) alone;
 *  - an http:// repository URL is not stored (the schema takes https:// only);
 *  - an assessment's proficiency follows its score; a completed module counts as a module;
 *  - folding: one learner's events in one batch, scrambled, give the rows the same events give
 *    one per batch in reverse order (and what the events state).
 */
#include <check.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cs/codec.h"
#include "cs/producer.h"
#include "harness.h"
#include "pg_text.h"

/* Ids: learner L, event E, others O, as fixed uuids. */
#define UID(kind, n) "00000000-0000-4000-8000-" kind #n
#define LEARNER(n)   UID("10000000000", n)
#define APP(n)       UID("20000000000", n)
#define MENTOR_KNOWN "00000000-0000-4000-8000-300000000001"

typedef struct sender {
    cs_codec_t *codec;
    cs_producer_t *p;
    cs_arena_t *arena;
    const char *prefix;
    int n;
} sender_t;

/* Publishes event number id of type for learner at time `at` with the payload's JSON. */
static void send_id(sender_t *s, int id, const char *type, const char *learner, const char *at,
                    const char *payload)
{
    char line[4096], topic[256];
    cs_event_t ev;
    cs_err_t err;
    cs_err_clear(&err);
    snprintf(line, sizeof line,
             "{\"event_type\":\"%s\",\"event_id\":\"00000000-0000-4000-9000-%012d\","
             "\"occurred_at\":\"%s\",\"user_id\":\"%s\",\"producer\":\"it-0101\","
             "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
             "\"payload\":%s}",
             type, id, at, learner, payload);
    ck_assert_msg(cs_codec_from_json(s->codec, line, strlen(line), s->arena, &ev, &err) == 0,
                  "%s: %s: %s", line, err.field, err.msg);
    snprintf(topic, sizeof topic, "%s%s", s->prefix, cs_codec_type_topic(ev.type));
    ck_assert_msg(cs_producer_send_to(s->p, topic, &ev, NULL, &err) == 0, "send: %s", err.msg);
    cs_arena_reset(s->arena);
}

/* The same, numbering events in the order sent. */
static void send(sender_t *s, const char *type, const char *learner, const char *at,
                 const char *payload)
{
    send_id(s, ++s->n, type, learner, at, payload);
}

/* Drains the prefix's topics into dsn with cs-progress, batching as told. */
static void drain(const char *dsn, const char *prefix, const char *batch_size, const char *batch_ms)
{
    char topics[1024], log[128], group[160];
    snprintf(topics, sizeof topics,
             "%scs.learning,%scs.mentoring,%scs.jobsearch,%scs.portfolio,%scs.profile", prefix,
             prefix, prefix, prefix, prefix);
    snprintf(log, sizeof log, "/tmp/cs-it-0101-%d.log", (int)getpid());
    snprintf(group, sizeof group, "g.%s", prefix); /* a fresh group: no old members to wait out */
    const char *argv[] = {CS_PROGRESS_BIN, "--drain",     "--topics", topics,         "--group",
                          group,           "--log-level", "warn",     "--batch-size", batch_size,
                          "--batch-ms",    batch_ms,      NULL};
    int st = cs_test_run(argv, dsn, log, 0, 60000 * cs_test_timeout_mult());
    ck_assert_msg(st != -1, "cs-progress did not drain in time (log %s)", log);
    ck_assert_msg(cs_test_exited(st, 0), "cs-progress failed (log %s)", log);
    unlink(log);
}

START_TEST(progress_cases)
{
    char dsn[1024], prefix[128];
    cs_err_t err;
    cs_err_clear(&err);
    cs_test_fresh_db("progress_cases", 1, dsn, sizeof dsn);
    free(db_text(dsn, "INSERT INTO mentor_profiles (mentor_id, display_name) VALUES ('" MENTOR_KNOWN
                      "', 'Known Mentor')"));
    cs_test_topic("progcases", prefix, sizeof prefix - 1);
    strcat(prefix, ".");

    sender_t s = {.prefix = prefix};
    s.codec = cs_codec_new(&err);
    ck_assert_ptr_nonnull(s.codec);
    s.p = cs_producer_new(cs_test_brokers(), "it-0101", &err);
    ck_assert_ptr_nonnull(s.p);
    s.arena = cs_arena_new(1 << 14);

    /* Learner 1: applications out of order. */
    send(&s, "application_status_changed", LEARNER(1), "2026-03-02T10:00:00.000Z",
         "{\"application_id\":\"" APP(1) "\",\"status\":\"screening\",\"previous_status\":"
                                         "\"submitted\",\"interview_round\":null,\"salary_"
                                         "offered\":null,\"salary_currency\":null,"
                                         "\"rejection_reason\":null}");
    send(&s, "application_status_changed", LEARNER(1), "2026-03-20T10:00:00.000Z",
         "{\"application_id\":\"" APP(
             2) "\",\"status\":\"offer\",\"previous_status\":\"interview\","
                "\"interview_round\":null,\"salary_offered\":61000,\"salary_currency\":\"EUR\","
                "\"rejection_reason\":null}");
    send(&s, "job_application_submitted", LEARNER(1), "2026-03-01T09:00:00.000Z",
         "{\"application_id\":\"" APP(
             2) "\",\"company_name\":\"Northwind\",\"job_title\":"
                "\"Junior Data Analyst\",\"target_industry\":\"fintech\",\"role_level\":\"junior\","
                "\"channel\":\"direct\",\"work_mode\":\"remote\",\"job_posting_url\":null,"
                "\"salary_expected\":52000,\"salary_currency\":\"EUR\"}");
    send(&s, "application_status_changed", LEARNER(1), "2026-03-10T10:00:00.000Z",
         "{\"application_id\":\"" APP(2) "\",\"status\":\"interview\",\"previous_status\":"
                                         "\"screening\",\"interview_round\":2,\"salary_offered\":"
                                         "null,\"salary_currency\":null,"
                                         "\"rejection_reason\":null}");

    /* Learner 2: profile updates, newest first; goals that need escaping; an unknown mentor. */
    send(&s, "learner_profile_updated", LEARNER(2), "2026-04-02T10:00:00.000Z",
         "{\"target_industry\":null,\"target_role\":\"Data Engineer\",\"current_industry\":null,"
         "\"career_stage\":null,\"available_study_hours_week\":12}");
    send(&s, "learner_profile_updated", LEARNER(2), "2026-04-01T10:00:00.000Z",
         "{\"target_industry\":null,\"target_role\":\"Analyst\",\"current_industry\":null,"
         "\"career_stage\":\"placed\",\"available_study_hours_week\":30}");
    send(&s, "coaching_session_logged", LEARNER(2), "2026-04-03T10:00:00.000Z",
         "{\"session_id\":\"00000000-0000-4000-8000-400000000001\",\"mentor_id\":\"" MENTOR_KNOWN
         "\",\"relationship_id\":null,\"session_type\":\"technical_mentoring\",\"started_at\":"
         "\"2026-04-03T09:00:00.000Z\",\"duration_minutes\":45,\"learner_rating\":5,"
         "\"mentor_rating\":null,\"goals_discussed\":[\"a \\\"quoted\\\" goal\",\"back\\\\slash\","
         "\"tab\\there\",\"{braces}, commas\"],\"notes\":null}");
    send(&s, "coaching_session_logged", LEARNER(2), "2026-04-04T10:00:00.000Z",
         "{\"session_id\":\"00000000-0000-4000-8000-400000000002\",\"mentor_id\":"
         "\"00000000-0000-4000-8000-3000000000ff\",\"relationship_id\":null,\"session_type\":"
         "\"general\",\"started_at\":\"2026-04-04T09:00:00.000Z\",\"duration_minutes\":30,"
         "\"learner_rating\":null,\"mentor_rating\":null,\"goals_discussed\":[],\"notes\":null}");

    /* Learner 3: an http:// repository, an assessment, a completed module. */
    send(&s, "portfolio_project_submitted", LEARNER(3), "2026-05-01T10:00:00.000Z",
         "{\"project_id\":\"00000000-0000-4000-8000-500000000001\",\"template_id\":null,\"title\":"
         "\"Dashboard\",\"repository_url\":\"http://git.example.com/x\",\"demo_url\":"
         "\"https://demo.example.com/x\",\"technologies\":[\"python\"],\"target_industry\":null,"
         "\"revision\":1}");
    send(&s, "assessment_completed", LEARNER(3), "2026-05-02T10:00:00.000Z",
         "{\"assessment_id\":\"00000000-0000-4000-8000-600000000001\",\"assessment_type\":\"quiz\","
         "\"skill_id\":\"00000000-0000-4000-8000-600000000002\",\"skill_name\":\"SQL\",\"score\":"
         "80,\"passing_score\":70,\"passed\":true,"
         "\"attempt\":1,\"duration_seconds\":600}");
    send(&s, "content_progress", LEARNER(3), "2026-05-03T10:00:00.000Z",
         "{\"content_id\":\"00000000-0000-4000-8000-700000000001\",\"content_kind\":\"module\","
         "\"module_id\":null,\"progress\":\"completed\",\"percent_complete\":100,"
         "\"time_spent_seconds\":60,\"session_id\":null,\"attempt\":1}");

    ck_assert_msg(cs_producer_flush(s.p, 30000, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cs_producer_delivered(s.p), s.n);
    cs_producer_destroy(s.p);
    cs_codec_destroy(s.codec);
    cs_arena_destroy(s.arena);

    drain(dsn, prefix, "5000", "100");

    /* Applications: APP1 was never submitted (history only); APP2 ends at its newest status. */
    expect_text(dsn, "SELECT count(*) FROM job_applications WHERE application_id = '" APP(1) "'",
                "0");
    expect_text(dsn,
                "SELECT string_agg(coalesce(from_status, '-') || '>' || to_status, ',' ORDER BY "
                "changed_at) FROM job_application_status_history",
                "->applied,applied>screening,screening>interviewing,interviewing>offer");
    expect_text(dsn,
                "SELECT status || ' ' || interview_rounds || ' ' || offer_salary::int || ' ' || "
                "to_char(status_changed_at AT TIME ZONE 'UTC', 'MM-DD') || ' ' || "
                "to_char(applied_at AT TIME ZONE 'UTC', 'MM-DD') || ' ' || company_name "
                "FROM job_applications WHERE application_id = '" APP(2) "'",
                "offer 2 61000 03-20 03-01 Northwind");
    expect_text(
        dsn,
        "SELECT applications_submitted || ' ' || interviews_received || ' ' || "
        "offers_received FROM career_transformation_progress WHERE user_id = '" LEARNER(1) "'",
        "1 0 1");

    /* Profiles: the newest event as a whole; the phase from the older stage-bearing one. */
    expect_text(
        dsn,
        "SELECT target_role || ' ' || career_stage || ' ' || available_study_hours_week::int "
        "FROM user_career_profiles WHERE user_id = '" LEARNER(2) "'",
        "Data Engineer transitioned 12");
    expect_text(
        dsn,
        "SELECT current_phase || ' ' || overall_progress_pct::int || ' ' || "
        "coaching_sessions_completed FROM career_transformation_progress WHERE user_id = '" LEARNER(
            2) "'",
        "placed 100 1");
    expect_text(dsn,
                "SELECT array_length(topics_covered, 1) || '|' || array_to_string(topics_covered, "
                "'|') || '|' || session_type FROM career_coaching_sessions",
                "4|a \"quoted\" goal|back\\slash|tab\there|{braces}, commas|technical_coaching");
    expect_text(dsn, "SELECT error_class || ' ' || sqlstate || ' ' || event_type FROM dead_letters",
                "database 23503 coaching_session_logged");
    expect_text(dsn, "SELECT count(*) FROM dead_letters", "1");

    /* Learner 3. */
    expect_text(dsn,
                "SELECT coalesce(repository_url, 'NULL') || ' ' || live_demo_url || ' ' || status "
                "FROM user_portfolio_projects",
                "NULL https://demo.example.com/x submitted");
    expect_text(dsn,
                "SELECT assessment_method || ' ' || proficiency_level || ' ' || passed || ' ' || "
                "attempt_number FROM user_skill_assessments",
                "quiz expert true 1");
    expect_text(dsn,
                "SELECT modules_completed || ' ' || content_completed || ' ' || projects_completed "
                "FROM career_transformation_progress WHERE user_id = '" LEARNER(3) "'",
                "1 0 1");
    expect_text(dsn,
                "SELECT (module_id = content_id) || ' ' || content_type || ' ' || status FROM "
                "user_progress WHERE user_id = '" LEARNER(3) "'",
                "true module completed");
    expect_text(dsn, "SELECT count(*) FROM user_career_profiles", "3");
    cs_test_drop_db(dsn);
}
END_TEST

/*
 * Folding: many events of one learner in one batch, in scrambled order, end exactly where the
 * same events end applied one per batch in the reverse order: the journey (newest activity with
 * an occurred_at tie broken by the event id, counters, the furthest phase from its earliest
 * statement) and the progress rows (newest status, summed time, earliest start and completion).
 */
#define CONTENT(n) UID("70000000000", n)
#define MODULE1    "00000000-0000-4000-8000-800000000001"
#define PROGRESS(content, kind, module, action, pct, secs, attempt)                                \
    "{\"content_id\":\"" content "\",\"content_kind\":\"" kind "\",\"module_id\":" module          \
    ",\"progress\":\"" action "\",\"percent_complete\":" #pct ",\"time_spent_seconds\":" #secs     \
    ",\"session_id\":null,\"attempt\":" #attempt "}"
#define MILESTONE(id, type, stage)                                                                 \
    "{\"milestone_id\":\"" id "\",\"milestone_type\":\"" type "\",\"title\":\"" type               \
    "\",\"career_stage\":\"" stage "\",\"readiness_points\":10}"

static const struct fold_ev {
    const char *type, *at, *payload;
} fold_evs[] = {
    {"content_progress", "2026-06-01T10:00:00.000Z",
     PROGRESS(CONTENT(1), "chunk", "\"" MODULE1 "\"", "started", 10, 100, 1)},
    {"content_progress", "2026-06-01T10:05:00.000Z",
     PROGRESS(CONTENT(1), "chunk", "null", "in_progress", 50, 200, 1)},
    {"content_progress", "2026-06-01T10:10:00.000Z",
     PROGRESS(CONTENT(1), "chunk", "\"" MODULE1 "\"", "completed", 100, 300, 2)},
    /* the same occurred_at as the completion: the greater event id is the newer */
    {"content_progress", "2026-06-01T10:10:00.000Z",
     PROGRESS(CONTENT(1), "chunk", "\"" MODULE1 "\"", "in_progress", 90, 50, 2)},
    {"content_progress", "2026-06-02T09:00:00.000Z",
     PROGRESS(CONTENT(2), "module", "null", "completed", 100, 60, 1)},
    {"content_progress", "2026-06-01T08:00:00.000Z",
     PROGRESS(CONTENT(2), "module", "null", "in_progress", 30, 40, 1)},
    {"career_milestone_reached", "2026-06-03T12:00:00.000Z",
     MILESTONE("00000000-0000-4000-8000-900000000001", "skill_mastered", "building_portfolio")},
    {"career_milestone_reached", "2026-06-03T11:00:00.000Z",
     MILESTONE("00000000-0000-4000-8000-900000000002", "portfolio_ready", "building_portfolio")},
    {"learner_profile_updated", "2026-06-01T07:00:00.000Z",
     "{\"target_industry\":null,\"target_role\":\"Analyst\",\"current_industry\":null,"
     "\"career_stage\":\"learning\",\"available_study_hours_week\":10}"},
    {"coaching_session_logged", "2026-06-04T10:00:00.000Z",
     "{\"session_id\":\"00000000-0000-4000-8000-400000000011\",\"mentor_id\":\"" MENTOR_KNOWN
     "\",\"relationship_id\":null,\"session_type\":\"general\",\"started_at\":"
     "\"2026-06-04T09:00:00.000Z\",\"duration_minutes\":30,\"learner_rating\":null,"
     "\"mentor_rating\":null,\"goals_discussed\":[],\"notes\":null}"},
    {"mentor_feedback_given", "2026-06-05T10:00:00.000Z",
     "{\"feedback_id\":\"00000000-0000-4000-8000-a00000000001\",\"mentor_id\":\"" MENTOR_KNOWN
     "\",\"relationship_id\":null,\"progress_rating\":4,\"engagement_rating\":5,"
     "\"readiness_estimate\":null,\"recommends_rematch\":false,\"comment\":null}"},
    {"content_progress", "2026-06-05T10:00:00.000Z",
     PROGRESS(CONTENT(3), "chunk", "null", "started", 5, 30, 1)},
};
#define NFOLD ((int)(sizeof fold_evs / sizeof fold_evs[0]))
static const int fold_order[NFOLD] = {11, 3, 7, 0, 9, 5, 2, 10, 6, 1, 8, 4};

/* The journey and progress rows of LEARNER(4), as text (all but created/updated stamps). */
#define FOLD_JOURNEY                                                                               \
    "SELECT concat_ws('|', last_event_id, current_phase, phase_started_at, "                       \
    "overall_progress_pct, content_completed, modules_completed, skills_mastered, "                \
    "coaching_sessions_completed, last_activity_at) FROM career_transformation_progress "          \
    "WHERE user_id = '" LEARNER(4) "'"
/* event_id is the row's first applied event: arrival order, by design (not compared). */
#define FOLD_PROGRESS                                                                              \
    "SELECT string_agg(concat_ws('|', content_id, last_event_id, last_event_at, module_id, "       \
    "content_type, status, progress_pct, started_at, completed_at, last_accessed_at, "             \
    "time_spent_seconds, attempts), E'\\n' ORDER BY content_id) FROM user_progress "               \
    "WHERE user_id = '" LEARNER(4) "'"

static void fold_publish(const char *prefix, int reverse)
{
    cs_err_t err;
    cs_err_clear(&err);
    sender_t s = {.prefix = prefix};
    s.codec = cs_codec_new(&err);
    ck_assert_ptr_nonnull(s.codec);
    s.p = cs_producer_new(cs_test_brokers(), "it-0101", &err);
    ck_assert_ptr_nonnull(s.p);
    s.arena = cs_arena_new(1 << 14);
    for (int k = 0; k < NFOLD; k++) {
        int i = fold_order[reverse ? NFOLD - 1 - k : k];
        send_id(&s, 101 + i, fold_evs[i].type, LEARNER(4), fold_evs[i].at, fold_evs[i].payload);
    }
    ck_assert_msg(cs_producer_flush(s.p, 30000, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cs_producer_delivered(s.p), NFOLD);
    cs_producer_destroy(s.p);
    cs_codec_destroy(s.codec);
    cs_arena_destroy(s.arena);
}

START_TEST(progress_fold)
{
    char dsn1[1024], dsn2[1024], prefix1[128], prefix2[128];
    cs_test_fresh_db("progress_fold1", 1, dsn1, sizeof dsn1);
    cs_test_fresh_db("progress_fold2", 1, dsn2, sizeof dsn2);
    const char *known =
        "INSERT INTO mentor_profiles (mentor_id, display_name) VALUES ('" MENTOR_KNOWN
        "', 'Known Mentor')";
    free(db_text(dsn1, known));
    free(db_text(dsn2, known));
    cs_test_topic("progfold", prefix1, sizeof prefix1 - 1);
    strcat(prefix1, ".");
    cs_test_topic("progfold", prefix2, sizeof prefix2 - 1);
    strcat(prefix2, ".");
    fold_publish(prefix1, 0);
    fold_publish(prefix2, 1);
    /* One batch: everything is published before the worker starts, and the batch waits 3 s. */
    drain(dsn1, prefix1, "5000", "3000");
    drain(dsn2, prefix2, "1", "1");

    /* What the events state, independently of order. */
    expect_text(
        dsn1,
        "SELECT concat_ws('|', right(last_event_id::text, 3), current_phase, "
        "to_char(phase_started_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), "
        "overall_progress_pct::int, content_completed, modules_completed, skills_mastered, "
        "coaching_sessions_completed, to_char(last_activity_at AT TIME ZONE 'UTC', "
        "'MM-DD HH24:MI')) FROM career_transformation_progress WHERE user_id = '" LEARNER(4) "'",
        "112|portfolio|06-03 11:00|40|1|1|1|1|06-05 10:00");
    expect_text(dsn1,
                "SELECT concat_ws('|', right(last_event_id::text, 3), status, progress_pct::int, "
                "time_spent_seconds, attempts, module_id = '" MODULE1 "', "
                "to_char(started_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), "
                "to_char(completed_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), "
                "to_char(last_accessed_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI')) "
                "FROM user_progress WHERE content_id = '" CONTENT(1) "'",
                "104|in_progress|90|650|2|t|06-01 10:00|06-01 10:10|06-01 10:10");
    expect_text(dsn1,
                "SELECT concat_ws('|', status, progress_pct::int, time_spent_seconds, "
                "module_id = content_id, completed_at IS NOT NULL) FROM user_progress "
                "WHERE content_id = '" CONTENT(2) "'",
                "completed|100|100|t|t");

    /* The same rows, whatever the order and batching. */
    char *j1 = db_text(dsn1, FOLD_JOURNEY), *j2 = db_text(dsn2, FOLD_JOURNEY);
    char *p1 = db_text(dsn1, FOLD_PROGRESS), *p2 = db_text(dsn2, FOLD_PROGRESS);
    ck_assert_msg(strcmp(j1, j2) == 0, "journey differs:\n  one batch %s\n  one by one %s", j1, j2);
    ck_assert_msg(strcmp(p1, p2) == 0, "progress differs:\n  one batch\n%s\n  one by one\n%s", p1,
                  p2);
    free(j1);
    free(j2);
    free(p1);
    free(p2);
    cs_test_drop_db(dsn1);
    cs_test_drop_db(dsn2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("progress_cases");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 120 * cs_test_timeout_mult());
    tcase_add_test(tc, progress_cases);
    tcase_add_test(tc, progress_fold);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

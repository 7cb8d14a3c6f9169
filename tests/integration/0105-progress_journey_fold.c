/*
 * tests/integration/0105-progress_journey_fold.c
 *      cs-progress folds its journey rows per learner in C (journey_fold): one batch of many
 *      events of two learners, one of them a poison event, ends where the events say.
 *
 * 700 content_progress events of learner A (every third a completed chunk, occurred_at one
 * minute apart in a scrambled order), 40 of learner B interleaved, and two coaching sessions of
 * A: one with a known mentor, one with a mentor the platform does not know (23503: the poison),
 * which is the newest event of all. Everything is published before cs-progress starts, so it
 * arrives in one batch (more than the array path's 500 rows: the COPY path folds; the poison
 * makes the runtime flush ranges of the batch apart, each folded alone, down to small ranges
 * on the array path). The journey rows must count every applied event once and the poison event
 * not at all: the counters, the newest activity and its event id (not the poison's, which is
 * newer), computed here from the events as published.
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

#define LEARNER_A    "00000000-0000-4000-8000-105000000001"
#define LEARNER_B    "00000000-0000-4000-8000-105000000002"
#define MENTOR_KNOWN "00000000-0000-4000-8000-105000000003"
#define MENTOR_NONE  "00000000-0000-4000-8000-105000000004"
#define NA           700
#define NB           40

typedef struct sender {
    cs_codec_t *codec;
    cs_producer_t *p;
    cs_arena_t *arena;
    const char *prefix;
} sender_t;

/* Publishes event number id of type for learner at minute `minute` of 2026-07-01. */
static void send_ev(sender_t *s, int id, const char *type, const char *learner, int minute,
                    const char *payload)
{
    char line[4096], topic[256];
    cs_event_t ev;
    cs_err_t err;
    cs_err_clear(&err);
    snprintf(line, sizeof line,
             "{\"event_type\":\"%s\",\"event_id\":\"00000000-0000-4000-9000-%012d\","
             "\"occurred_at\":%lld,\"user_id\":\"%s\",\"producer\":\"it-0105\","
             "\"traceparent\":null,\"payload\":%s}",
             type, id, 1782864000000LL + (long long)minute * 60000, learner, payload);
    ck_assert_msg(cs_codec_from_json(s->codec, line, strlen(line), s->arena, &ev, &err) == 0,
                  "%s: %s: %s", line, err.field, err.msg);
    snprintf(topic, sizeof topic, "%s%s", s->prefix, cs_codec_type_topic(ev.type));
    ck_assert_msg(cs_producer_send_to(s->p, topic, &ev, NULL, &err) == 0, "send: %s", err.msg);
    cs_arena_reset(s->arena);
}

static void send_progress(sender_t *s, int id, const char *learner, int minute, int done)
{
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"content_id\":\"00000000-0000-4000-8000-7%011d\",\"content_kind\":\"chunk\","
             "\"module_id\":null,\"progress\":\"%s\",\"percent_complete\":%d,"
             "\"time_spent_seconds\":60,\"session_id\":null,\"attempt\":1}",
             id, done ? "completed" : "in_progress", done ? 100 : 40);
    send_ev(s, id, "content_progress", learner, minute, payload);
}

static void send_session(sender_t *s, int id, int minute, const char *mentor)
{
    char payload[1024];
    snprintf(payload, sizeof payload,
             "{\"session_id\":\"00000000-0000-4000-8000-4%011d\",\"mentor_id\":\"%s\","
             "\"relationship_id\":null,\"session_type\":\"general\",\"started_at\":%lld,"
             "\"duration_minutes\":30,\"learner_rating\":null,\"mentor_rating\":null,"
             "\"goals_discussed\":[],\"notes\":null}",
             id, mentor, 1782864000000LL + (long long)(minute - 30) * 60000);
    send_ev(s, id, "coaching_session_logged", LEARNER_A, minute, payload);
}

/* Drains the prefix's topics into dsn with cs-progress: one batch of up to 5000 events. */
static void drain(const char *dsn, const char *prefix)
{
    char topics[1024], log[128], group[160];
    snprintf(topics, sizeof topics,
             "%scs.learning,%scs.mentoring,%scs.jobsearch,%scs.portfolio,%scs.profile", prefix,
             prefix, prefix, prefix, prefix);
    snprintf(log, sizeof log, "/tmp/cs-it-0105-%d.log", (int)getpid());
    snprintf(group, sizeof group, "g.%s", prefix);
    const char *argv[] = {CS_PROGRESS_BIN, "--drain",     "--topics", topics,         "--group",
                          group,           "--log-level", "warn",     "--batch-size", "5000",
                          "--batch-ms",    "3000",        NULL};
    int st = cs_test_run(argv, dsn, log, 0, 60000 * cs_test_timeout_mult());
    ck_assert_msg(st != -1, "cs-progress did not drain in time (log %s)", log);
    ck_assert_msg(cs_test_exited(st, 0), "cs-progress failed (log %s)", log);
    unlink(log);
}

START_TEST(journey_fold)
{
    char dsn[1024], prefix[128], want[512];
    cs_err_t err;
    cs_err_clear(&err);
    cs_test_fresh_db("progress_journey_fold", 1, dsn, sizeof dsn);
    free(db_text(dsn, "INSERT INTO mentor_profiles (mentor_id, display_name) VALUES ('" MENTOR_KNOWN
                      "', 'Known Mentor')"));
    cs_test_topic("jfold", prefix, sizeof prefix - 1);
    strcat(prefix, ".");
    sender_t s = {.prefix = prefix};
    s.codec = cs_codec_new(&err);
    s.p = cs_producer_new(cs_test_brokers(), "it-0105", &err);
    ck_assert_ptr_nonnull(s.p);
    s.arena = cs_arena_new(1 << 14);

    /* A's events at minutes 1..NA - 1 in a scrambled order (two share minute 1); B's
     * interleaved; A's sessions in the middle, the poison the newest event of all. */
    int done_a = 0, done_b = 0, newest_a = 0, newest_a_id = 0;
    for (int k = 0; k < NA; k++) {
        int minute = 1 + (k * 7) % (NA - 1), id = 1000 + k, done = k % 3 == 0;
        send_progress(&s, id, LEARNER_A, minute, done);
        done_a += done;
        if (minute > newest_a || (minute == newest_a && id > newest_a_id)) {
            newest_a = minute;
            newest_a_id = id;
        }
        if (k % (NA / NB) == 0 && k / (NA / NB) < NB) {
            send_progress(&s, 5000 + k, LEARNER_B, 2 * NA - k, k % 2 == 0);
            done_b += k % 2 == 0;
        }
        if (k == NA / 2) {
            send_session(&s, 8001, 100, MENTOR_KNOWN);
            send_session(&s, 8002, 5 * NA, MENTOR_NONE);
        }
    }
    ck_assert_msg(cs_producer_flush(s.p, 30000, &err) == 0, "%s", err.msg);
    cs_producer_destroy(s.p);
    cs_codec_destroy(s.codec);
    cs_arena_destroy(s.arena);
    drain(dsn, prefix);

    /* A: every progress event and the known session once; the poison's time and id nowhere. */
    snprintf(want, sizeof want, "%d|0|1|%d|%012d", done_a, newest_a, newest_a_id);
    expect_text(
        dsn,
        "SELECT concat_ws('|', content_completed, modules_completed, "
        "coaching_sessions_completed, extract(epoch FROM last_activity_at - "
        "'2026-07-01T00:00:00Z'::timestamptz)::bigint / 60, right(last_event_id::text, 12)) "
        "FROM career_transformation_progress WHERE user_id = '" LEARNER_A "'",
        want);
    snprintf(want, sizeof want, "%d|0|%d", done_b, 2 * NA);
    expect_text(
        dsn,
        "SELECT concat_ws('|', content_completed, coaching_sessions_completed, "
        "extract(epoch FROM last_activity_at - '2026-07-01T00:00:00Z'::timestamptz)::bigint / 60) "
        "FROM career_transformation_progress WHERE user_id = '" LEARNER_B "'",
        want);
    snprintf(want, sizeof want, "%d|%d|1", NA, NB);
    expect_text(dsn,
                "SELECT concat_ws('|', count(*) FILTER (WHERE user_id = '" LEARNER_A "'), "
                "count(*) FILTER (WHERE user_id = '" LEARNER_B "'), "
                "(SELECT count(*) FROM career_coaching_sessions)) FROM user_progress",
                want);
    cs_test_drop_db(dsn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("progress_journey_fold");
    TCase *tc = tcase_create("fold");
    tcase_set_timeout(tc, 120 * cs_test_timeout_mult());
    tcase_add_test(tc, journey_fold);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

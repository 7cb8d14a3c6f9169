/*
 * tests/integration/0040-event_contract.c
 *      Publishing through the event contract on the loopback broker: the C producer API and
 *      cs-produce put every event type on the wire keyed by user_id, with the contract's headers,
 *      in a form the codec decodes; bad events are refused with the field and the reason.
 *
 * Each test publishes to fresh topics (cs_producer_send_to / cs-produce --topic), then reads
 * them back with a plain librdkafka consumer, so what is checked is what a worker would see.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cs/codec.h"
#include "cs/producer.h"
#include "harness.h"

typedef struct reports {
    int ok[64];
    int failed;
    int calls;
} reports_t;

static void on_delivery(const cs_delivery_t *d, void *ctx)
{
    reports_t *r = ctx;
    int i = (int)(intptr_t)d->opaque;
    r->calls++;
    if (d->err)
        r->failed++;
    else if (i >= 0 && i < 64)
        r->ok[i]++;
}

/* Every event type through the C API; decoded back with its headers and key checked. */
START_TEST(producer_api_every_type)
{
    char topic[128];
    cs_err_t err;
    cs_codec_t *codec = cs_codec_new(&err);
    cs_arena_t *arena = cs_arena_new(65536);
    reports_t rep = {0};
    int n = cs_codec_ntypes();
    cs_event_t evs[64];

    cs_test_topic("contract", topic, sizeof topic);
    cs_producer_opts_t o = {.brokers = cs_test_brokers(),
                            .client_id = "it-contract",
                            .on_delivery = on_delivery,
                            .cb_ctx = &rep};
    cs_producer_t *p = cs_producer_new_opts(&o, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    for (int t = 0; t < n; t++) {
        const char *ex = cs_codec_type_example(t);
        ck_assert_int_eq(cs_codec_from_json(codec, ex, strlen(ex), arena, &evs[t], &err), 0);
        ck_assert_msg(cs_producer_send_to(p, topic, &evs[t], (void *)(intptr_t)t, &err) == 0, "%s",
                      err.msg);
    }

    /* An invalid event is refused at once, naming the field; its callback never comes. */
    cs_ev_content_progress_t bad =
        *(const cs_ev_content_progress_t *)evs[CS_EVENT_CONTENT_PROGRESS].payload;
    bad.percent_complete = 140;
    cs_event_t bev = evs[CS_EVENT_CONTENT_PROGRESS];
    bev.payload = &bad;
    ck_assert_int_eq(cs_producer_send_to(p, topic, &bev, (void *)(intptr_t)63, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_str_eq(err.field, "payload.percent_complete");

    ck_assert_msg(cs_producer_flush(p, 30000 * cs_test_timeout_mult(), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(rep.calls, n);
    ck_assert_int_eq(rep.failed, 0);
    for (int t = 0; t < n; t++)
        ck_assert_int_eq(rep.ok[t], 1);
    ck_assert_uint_eq(cs_producer_delivered(p), (uint64_t)n);
    ck_assert_uint_eq(cs_producer_outstanding(p), 0);
    cs_producer_destroy(p);

    cs_test_msg_t *g = cs_test_consume_n(topic, n);
    int64_t last_offset = -1;
    for (int i = 0; i < n; i++) {
        cs_event_t ev;
        char fp[17];
        ck_assert_msg(cs_codec_decode(codec, g[i].value, g[i].len, arena, &ev, &err) == 0, "%s: %s",
                      err.field, err.msg);
        ck_assert_str_eq(g[i].key, ev.user_id);
        ck_assert_str_eq(g[i].type, ev.type_name);
        cs_codec_fingerprint_hex(ev.fingerprint, fp);
        ck_assert_str_eq(g[i].fp, fp);
        ck_assert_str_eq(g[i].traceparent, ev.traceparent);
        /* One learner: one partition, in the order produced. */
        ck_assert_int_eq(g[i].partition, g[0].partition);
        ck_assert_int_gt(g[i].offset, last_offset);
        last_offset = g[i].offset;
        ck_assert_int_eq(ev.type, i);
    }
    cs_test_msgs_free(g, n);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);
}
END_TEST

/* Undeliverable messages are reported to the callback, classified; bad settings are refused. */
START_TEST(producer_reports_failures)
{
    cs_err_t err;
    cs_codec_t *codec = cs_codec_new(&err);
    cs_arena_t *arena = cs_arena_new(65536);
    reports_t rep = {0};
    cs_event_t ev;
    const char *ex = cs_codec_type_example(CS_EVENT_SKILL_ASSESSED);
    ck_assert_int_eq(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err), 0);

    static const char *const bad_props[] = {"message.timeout.ms", NULL};
    cs_producer_opts_t o = {.brokers = "127.0.0.1:1", .kafka_props = bad_props};
    ck_assert_ptr_null(cs_producer_new_opts(&o, &err));
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "not name=value"));
    static const char *const unknown[] = {"no.such.setting=1", NULL};
    o.kafka_props = unknown;
    ck_assert_ptr_null(cs_producer_new_opts(&o, &err));
    ck_assert_str_eq(err.field, "no.such.setting");
    o.brokers = NULL;
    ck_assert_ptr_null(cs_producer_new_opts(&o, &err));
    ck_assert_str_eq(err.field, "kafka-brokers");

    /* Nothing listens on port 1: the message times out and the callback says so, TRANSIENT. */
    static const char *const fast[] = {"message.timeout.ms=1500", NULL};
    cs_producer_opts_t o2 = {
        .brokers = "127.0.0.1:1", .kafka_props = fast, .on_delivery = on_delivery, .cb_ctx = &rep};
    cs_producer_t *p = cs_producer_new_opts(&o2, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_int_eq(cs_producer_send(p, &ev, (void *)(intptr_t)1, &err), 0);
    ck_assert_uint_eq(cs_producer_outstanding(p), 1);
    ck_assert_int_eq(cs_producer_flush(p, 10000 * cs_test_timeout_mult(), &err), 0);
    ck_assert_int_eq(rep.calls, 1);
    ck_assert_int_eq(rep.failed, 1);
    ck_assert_uint_eq(cs_producer_failed(p), 1);

    /* Closing with messages still queued reports them as failed rather than losing them. */
    static const char *const slow[] = {"message.timeout.ms=600000", NULL};
    o2.kafka_props = slow;
    o2.close_timeout_ms = 300;
    cs_producer_t *q = cs_producer_new_opts(&o2, &err);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(cs_producer_send(q, &ev, (void *)(intptr_t)2, &err), 0);
    ck_assert_int_eq(cs_producer_flush(q, 200, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_TRANSIENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "1 messages still undelivered"));
    cs_producer_destroy(q); /* flushes (300 ms: nothing can be delivered), then purges */
    ck_assert_int_eq(rep.calls, 2);
    ck_assert_int_eq(rep.failed, 2);

    cs_producer_destroy(p);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);
}
END_TEST

static int run_produce(char *const argv[], const char *stderr_path)
{
    int st = cs_test_run((const char *const *)argv, NULL, stderr_path, 0,
                         60000 * cs_test_timeout_mult());
    ck_assert_msg(st != -1 && WIFEXITED(st), "%s: wait status %d", argv[0], st);
    return WEXITSTATUS(st);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* cs-produce: publishes the good lines, reports each bad one by line, field and reason. */
START_TEST(cli_publishes_and_rejects)
{
    char topic[128], in[] = "/tmp/cs-it-produce-XXXXXX", errpath[64];
    int n = cs_codec_ntypes();
    cs_test_topic("produce", topic, sizeof topic);
    int fd = mkstemp(in);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    for (int t = 0; t < n; t++) {
        fprintf(f, "%s\n", cs_codec_type_example(t));
        if (t == 2) { /* line 4: an out-of-range score; line 5 blank; line 6: a bad uuid */
            fprintf(f, "{\"event_type\":\"assessment_completed\",\"event_id\":\"0b9f8a5e-3c1d-4f7a-"
                       "9e2b-6d4c8a1f5e31\","
                       "\"occurred_at\":1764063000000,\"user_id\":\"5f0c6d2e-8a4b-4c3d-9e1f-"
                       "2a7b6c5d4e3f\","
                       "\"producer\":\"quiz-app\",\"payload\":{\"assessment_id\":\"a1b2c3d4-e5f6-"
                       "4718-9a0b-1c2d3e4f5a6b\","
                       "\"assessment_type\":\"quiz\",\"skill_id\":\"b2c3d4e5-f6a7-4829-8b0c-"
                       "1d2e3f4a5b6c\","
                       "\"skill_name\":\"SQL\",\"score\":120,\"passing_score\":70,\"passed\":true,"
                       "\"attempt\":1,"
                       "\"duration_seconds\":60}}\n\n");
            fprintf(f, "{\"event_type\":\"user_erasure_requested\",\"event_id\":\"nope\"}\n");
        }
    }
    fclose(f);
    snprintf(errpath, sizeof errpath, "%s.err", in);

    char topic_arg[160], brokers_arg[512];
    snprintf(topic_arg, sizeof topic_arg, "--topic=%s", topic);
    snprintf(brokers_arg, sizeof brokers_arg, "--kafka-brokers=%s", cs_test_brokers());
    char *dry[] = {CS_PRODUCE_BIN, "--dry-run", "--allow-derived", in, NULL};
    ck_assert_int_eq(run_produce(dry, errpath), 1);
    char *real[] = {CS_PRODUCE_BIN,    brokers_arg, topic_arg, "--rate=2000",
                    "--allow-derived", in,          NULL};
    ck_assert_int_eq(run_produce(real, errpath), 1);
    const char *errtext = slurp(errpath);
    char want[512];
    snprintf(want, sizeof want, "%s:4: payload.score: 120 is out of range 0..100\n", in);
    ck_assert_msg(strstr(errtext, want) != NULL, "stderr was:\n%s", errtext);
    snprintf(want, sizeof want, "%s:6: event_id: 'nope' is not a uuid", in);
    ck_assert_msg(strstr(errtext, want) != NULL, "stderr was:\n%s", errtext);
    /* one example per event type and the two bad lines */
    snprintf(want, sizeof want, "%d events: %d valid, 2 rejected; %d published, 0 failed", n + 2, n,
             n);
    ck_assert_msg(strstr(errtext, want) != NULL, "stderr:\n%s", errtext);

    cs_test_msg_t *g = cs_test_consume_n(topic, n);
    cs_err_t err;
    cs_codec_t *codec = cs_codec_new(&err);
    cs_arena_t *arena = cs_arena_new(65536);
    for (int i = 0; i < n; i++) {
        cs_event_t ev;
        ck_assert_int_eq(cs_codec_decode(codec, g[i].value, g[i].len, arena, &ev, &err), 0);
        ck_assert_int_eq(ev.type, i);
    }
    cs_test_msgs_free(g, n);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);

    /* Only valid lines: exit 0. */
    FILE *ok = fopen(in, "w");
    fprintf(ok, "%s\n", cs_codec_type_example(0));
    fclose(ok);
    ck_assert_int_eq(run_produce(real, errpath), 0);
    unlink(in);
    unlink(errpath);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("event_contract");
    TCase *tc = tcase_create("event_contract");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120 * cs_test_timeout_mult());
    tcase_add_test(tc, producer_api_every_type);
    tcase_add_test(tc, cli_publishes_and_rejects);
    tcase_add_test(tc, producer_reports_failures);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

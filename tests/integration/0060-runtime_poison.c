/*
 * tests/integration/0060-runtime_poison.c
 *      Poison events land in the dead-letter topic and table with the right reason, while the
 *      good events around them are applied; duplicates and erased learners are skipped.
 *
 * avro: real events of the contract (cs_codec_encode) mixed with garbage bytes, an unknown
 *       writer fingerprint, an invalid field (a corrupted event_id) and an invalid payload field
 *       behind a valid envelope (whose event_id, type, user_id and traceparent the dead letter
 *       keeps), in one partition so the poison sits between good events of the same batch.
 * text: the runtime's own isolation: a handler error (negative amount) and a database error
 *       (an amount out of the int column's range, SQLSTATE 22003, found by bisection), plus a
 *       duplicate event id and an event of an erased learner.
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cs/codec.h"
#include "harness.h"
#include "rt_util.h"

#define TRACEPARENT "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

typedef struct dlq_msg {
    char cls[32], reason[512], offset[32], tp[128], worker[64], attempt[8];
    char event_id[64], event_type[64], user_id[64], version[8];
} dlq_msg_t;

static void hdr(rd_kafka_headers_t *h, const char *name, char *out, size_t size)
{
    const void *v;
    size_t n;
    out[0] = '\0';
    if (h && rd_kafka_header_get_last(h, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(out, size, "%.*s", (int)n, (const char *)v);
}

/* Reads every message of the dead-letter topic (4 partitions, auto-created). */
static int read_dlq(const char *topic, dlq_msg_t *out, int max)
{
    char errstr[512], dlq[200];
    snprintf(dlq, sizeof dlq, "%s.dlq", topic);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "rt-dlq-reader", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    ck_assert_ptr_nonnull(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int p = 0; p < 4; p++)
        rd_kafka_topic_partition_list_add(l, dlq, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int n = 0, eofs = 0;
    int64_t end = cs_test_now_ms() + 20000;
    while (eofs < 4 && cs_test_now_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err && n < max) {
            rd_kafka_headers_t *h = NULL;
            rd_kafka_message_headers(m, &h);
            hdr(h, "cs-error-class", out[n].cls, sizeof out[n].cls);
            hdr(h, "cs-error-reason", out[n].reason, sizeof out[n].reason);
            hdr(h, "cs-original-offset", out[n].offset, sizeof out[n].offset);
            hdr(h, "traceparent", out[n].tp, sizeof out[n].tp);
            hdr(h, "cs-worker", out[n].worker, sizeof out[n].worker);
            hdr(h, "cs-attempt", out[n].attempt, sizeof out[n].attempt);
            hdr(h, "cs-event-id", out[n].event_id, sizeof out[n].event_id);
            hdr(h, "cs-event-type", out[n].event_type, sizeof out[n].event_type);
            hdr(h, "cs-user-id", out[n].user_id, sizeof out[n].user_id);
            hdr(h, "cs-schema-version", out[n].version, sizeof out[n].version);
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

static int find_class(const dlq_msg_t *m, int n, const char *cls)
{
    for (int i = 0; i < n; i++)
        if (strcmp(m[i].cls, cls) == 0)
            return i;
    return -1;
}

static void run_drain(const char *dsn, const char *logf, const char *const *args)
{
    int st = rt_run(dsn, logf, args, 90000);
    ck_assert_msg(st != -1, "worker did not drain (see %s)", logf);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d (see %s)", st,
                  logf);
}

START_TEST(avro_poison)
{
    char dsn[1024], topic[128], logf[256], sql[512], s[512];
    cs_err_t err;
    cs_codec_t *codec = cs_codec_new(&err);
    cs_arena_t *arena = cs_arena_new(65536);
    ck_assert_ptr_nonnull(codec);
    rt_db("poison_avro", dsn, sizeof dsn);
    cs_test_topic("poison", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-poison-avro-%d.log", (int)getpid());
    unlink(logf);

    int t = cs_codec_type_by_name("skill_assessed");
    ck_assert_int_ge(t, 0);
    const char *ex = cs_codec_type_example(t);
    cs_event_t ev;
    ck_assert_int_eq(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err), 0);
    ev.traceparent = TRACEPARENT;

    rt_producer_t *p = rt_producer_new();
    cs_buf_t b = CS_BUF_INIT, keep = CS_BUF_INIT;
    for (int i = 0; i < 30; i++) {
        rt_event_id(1000 + i, ev.event_id);
        snprintf(ev.user_id, sizeof ev.user_id, "00000000-0000-4000-9000-%012d", i % 3);
        cs_buf_reset(&b);
        ck_assert_int_eq(cs_codec_encode(codec, &ev, &b, &err), 0);
        if (i == 0)
            cs_buf_append(&keep, b.data, b.len);
        rt_produce_raw(p, topic, 0, b.data, b.len, NULL);
        if (i == 10) /* garbage bytes */
            rt_produce_raw(p, topic, 0, "\x00\xffgarbage\x01", 10, TRACEPARENT);
        if (i == 15) { /* unknown writer fingerprint */
            cs_buf_t bad = CS_BUF_INIT;
            cs_buf_append(&bad, keep.data, keep.len);
            bad.data[2] ^= 0x5a;
            rt_produce_raw(p, topic, 0, bad.data, bad.len, TRACEPARENT);
            cs_buf_fini(&bad);
        }
        if (i == 20) { /* invalid field: the event_id is no longer a uuid */
            cs_buf_t bad = CS_BUF_INIT;
            char eid[37];
            rt_event_id(9999, eid);
            memcpy(ev.event_id, eid, 37);
            ck_assert_int_eq(cs_codec_encode(codec, &ev, &bad, &err), 0);
            char *at = memmem(bad.data, bad.len, eid, 36);
            ck_assert_ptr_nonnull(at);
            at[3] = 'Z';
            rt_produce_raw(p, topic, 0, bad.data, bad.len, TRACEPARENT);
            cs_buf_fini(&bad);
        }
        if (i == 25) {
            /*
             * A valid envelope (its user_id upper-case on the wire, its traceparent only inside
             * the event, not as a header) in front of an invalid payload.skill_id.
             */
            cs_buf_t bad = CS_BUF_INIT;
            char eid[37], sid[37];
            rt_event_id(8888, eid);
            memcpy(ev.event_id, eid, 37);
            snprintf(ev.user_id, sizeof ev.user_id, "%s", "abcdef00-0000-4000-9000-00000000abcd");
            ck_assert_int_eq(cs_codec_encode(codec, &ev, &bad, &err), 0);
            char *at = memmem(bad.data, bad.len, ev.user_id, 36);
            ck_assert_ptr_nonnull(at);
            for (int j = 0; j < 36; j++)
                at[j] = (char)toupper((unsigned char)at[j]);
            snprintf(sid, sizeof sid, "%s", "b2c3d4e5-f6a7-4829-8b0c-1d2e3f4a5b6c");
            at = memmem(bad.data, bad.len, sid, 36);
            ck_assert_ptr_nonnull(at);
            at[3] = 'Z';
            rt_produce_raw(p, topic, 0, bad.data, bad.len, NULL);
            cs_buf_fini(&bad);
        }
    }
    rt_producer_flush(p);
    rt_producer_destroy(p);
    ck_assert_int_eq(rt_topic_end(topic), 34);

    const char *args[] = {"--topics",
                          topic,
                          "--group",
                          "rt-poison",
                          "--metrics-port",
                          "-1",
                          "--session-timeout-ms",
                          "6000",
                          "--drain",
                          NULL};
    run_drain(dsn, logf, args);

    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), 30);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), 30);
    ck_assert_int_eq(rt_committed(dsn, "rt-poison"), 34);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 4);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters WHERE error_class = 'decode' "
                                "AND field = 'message' AND length(payload) = 10"),
                     1);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters WHERE error_class = 'decode' "
                                "AND field = 'fingerprint' AND reason LIKE '%fingerprint%'"),
                     1);
    rt_str(dsn,
           "SELECT reason FROM dead_letters WHERE error_class = 'validation' "
           "AND field = 'event_id'",
           s, sizeof s);
    ck_assert_msg(strstr(s, "uuid") != NULL, "validation reason: %s", s);
    /* the invalid payload behind a valid envelope: everything readable is kept */
    rt_str(dsn,
           "SELECT coalesce(event_id::text, 'NULL') || ' ' || coalesce(event_type, 'NULL') || ' ' "
           "|| coalesce(traceparent, 'NULL') || ' ' || field FROM dead_letters "
           "WHERE error_class = 'validation' AND field LIKE 'payload.%'",
           s, sizeof s);
    char want[256], eid8888[37];
    rt_event_id(8888, eid8888);
    snprintf(want, sizeof want, "%s skill_assessed %s payload.skill_id", eid8888, TRACEPARENT);
    ck_assert_str_eq(s, want);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM dead_letters WHERE traceparent = '%s' AND worker = "
             "'cs-testworker' AND topic = '%s' AND attempt = 1",
             TRACEPARENT, topic);
    ck_assert_int_eq(rt_ll(dsn, sql), 4);
    /* the decode failures know nothing of the event */
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters WHERE error_class = 'decode' "
                                "AND event_id IS NULL AND event_type IS NULL"),
                     2);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters WHERE field = 'event_id' "
                                "AND event_id IS NULL AND event_type IS NULL"),
                     1);
    /* the log line names the event too */
    snprintf(want, sizeof want, "\"event_id\":\"%s\"", eid8888);
    ck_assert_msg(rt_file_has(logf, want), "no dead-letter log line with %s (see %s)", want, logf);

    dlq_msg_t m[8];
    int n = read_dlq(topic, m, 8);
    ck_assert_int_eq(n, 4);
    int pv = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(m[i].event_id, eid8888) == 0)
            pv = i;
    ck_assert_int_ge(pv, 0);
    ck_assert_str_eq(m[pv].cls, "validation");
    ck_assert_str_eq(m[pv].event_id, eid8888);
    ck_assert_str_eq(m[pv].event_type, "skill_assessed");
    ck_assert_str_eq(m[pv].user_id, "abcdef00-0000-4000-9000-00000000abcd");
    ck_assert_str_eq(m[pv].tp, TRACEPARENT);
    ck_assert_int_ge(atoi(m[pv].version), 1);
    int g = find_class(m, n, "decode");
    ck_assert_int_ge(g, 0);
    ck_assert_str_eq(m[g].tp, TRACEPARENT);
    ck_assert_str_eq(m[g].worker, "cs-testworker");
    ck_assert_str_eq(m[g].attempt, "1");
    ck_assert_int_ge(find_class(m, n, "validation"), 0);

    cs_buf_fini(&b);
    cs_buf_fini(&keep);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

START_TEST(text_poison_duplicates_erased)
{
    char dsn[1024], topic[128], logf[256], s[512];
    rt_db("poison_text", dsn, sizeof dsn);
    cs_test_topic("poisontext", topic, sizeof topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-poison-text-%d.log", (int)getpid());
    unlink(logf);
    /* key k3's learner is erased: its events are skipped, not dead-lettered */
    rt_exec(dsn, "INSERT INTO erased_users (user_id, reason) "
                 "VALUES ('00000000-0000-4000-9000-000000000003', 'test')");

    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < 2000; i++) {
        rt_produce_text(p, topic, i, 10, 1);
        if (i == 500)
            rt_produce_text(p, topic, 100000, 10, -7); /* handler error */
        if (i == 900)
            rt_produce_text(p, topic, 100001, 10, 99999999999LL); /* 22003 at COPY */
        if (i == 1500)
            rt_produce_text(p, topic, 42, 10, 1); /* duplicate event id */
    }
    rt_producer_flush(p);
    rt_producer_destroy(p);
    ck_assert_int_eq(rt_topic_end(topic), 2003);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-poison-text",
                          "--metrics-port",
                          "-1",
                          "--session-timeout-ms",
                          "6000",
                          "--batch-size",
                          "700",
                          "--drain",
                          NULL};
    run_drain(dsn, logf, args);

    /* 2000 events, 200 of them for the erased learner (k3) */
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), 1800);
    ck_assert_int_eq(rt_ll(dsn, "SELECT sum(n) FROM rt_counts"), 1800);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_counts WHERE k = 'k3'"), 0);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events WHERE outcome = 's'"), 200);
    ck_assert_int_eq(rt_committed(dsn, "rt-poison-text"), 2003);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 2);
    rt_str(dsn, "SELECT reason FROM dead_letters WHERE error_class = 'handler'", s, sizeof s);
    ck_assert_msg(strstr(s, "negative amount -7") != NULL, "handler reason: %s", s);
    rt_str(dsn, "SELECT sqlstate FROM dead_letters WHERE error_class = 'database'", s, sizeof s);
    ck_assert_str_eq(s, "22003");
    /* dead-lettered event ids are not remembered as processed (a fixed worker may apply them) */
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM processed_events p JOIN dead_letters d "
                                "ON d.event_id = p.event_id"),
                     0);
    dlq_msg_t m[8];
    int n = read_dlq(topic, m, 8);
    ck_assert_int_eq(n, 2);
    ck_assert_int_ge(find_class(m, n, "handler"), 0);
    ck_assert_int_ge(find_class(m, n, "database"), 0);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

/*
 * The dead-letter topic refuses writes for a while (max.message.bytes below a dead letter's
 * size: MSG_SIZE_TOO_LARGE), then takes them: the worker waits for kafka without losing or
 * repeating anything, and its "dependency is back" line names the dead-letter topic, not the
 * postgresql the successful retry's transaction starts by naming. (min.insync.replicas above the
 * replication factor does not refuse anything: the broker caps it at the replication factor.)
 */
START_TEST(dead_letter_topic_unwritable)
{
    char dsn[1024], topic[128], dlq[160], logf[256], f[64];
    rt_db("poison_dlqwait", dsn, sizeof dsn);
    cs_test_topic("poisondlqwait", topic, sizeof topic);
    snprintf(dlq, sizeof dlq, "%s.dlq", topic);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-poison-dlqwait-%d.log", (int)getpid());
    unlink(logf);
    rt_topic_create(dlq, 4, (const char *const[]){"max.message.bytes", "64", NULL});

    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < 200; i++)
        rt_produce_text_to(p, topic, 0, i, 10, i == 100 ? -7 : 1); /* one handler error */
    rt_producer_flush(p);
    rt_producer_destroy(p);
    long long total = rt_topic_end(topic);

    const char *args[] = {"--format",
                          "text",
                          "--topics",
                          topic,
                          "--group",
                          "rt-poison-dlqwait",
                          "--metrics-port",
                          "-1",
                          "--session-timeout-ms",
                          "6000",
                          "--dlq-timeout-ms",
                          "500",
                          "--retry-initial-ms",
                          "100",
                          "--retry-max-ms",
                          "400",
                          NULL};
    int mult = cs_test_timeout_mult();
    pid_t pid = rt_spawn(dsn, logf, args);
    int waited = rt_wait_file_has(logf, "waiting for kafka", 60000 * mult);
    rt_sleep_ms(1500);
    long long dead = rt_ll(dsn, "SELECT count(*) FROM dead_letters");
    int alive = rt_wait(pid, 0) == -1;
    rt_topic_set_config(dlq, NULL); /* back to the broker's default */
    int done = alive && rt_wait_committed(dsn, "rt-poison-dlqwait", total, 60000 * mult) == 0;
    kill(pid, done ? SIGTERM : SIGKILL);
    ck_assert_msg(waited == 0, "no wait for the dead-letter topic (see %s)", logf);
    ck_assert_msg(alive, "the worker died while waiting (see %s)", logf);
    ck_assert_msg(dead == 0, "%lld dead letters recorded while the topic refused them", dead);
    ck_assert_msg(done, "not all applied once the topic takes writes (see %s)", logf);
    int st = rt_wait(pid, 20000 * mult);
    ck_assert_msg(cs_test_exited(st, 0), "exit status %d", st);

    const char *back = "dependency is back; consuming again";
    ck_assert_msg(rt_log_field(logf, back, "was_waiting_for", f, sizeof f) == 1,
                  "no resume logged (see %s)", logf);
    ck_assert_str_eq(f, "kafka (dead-letter topic)");
    ck_assert_int_eq(rt_log_field(logf, back, "waited_s", f, sizeof f), 1);
    ck_assert_msg(strtod(f, NULL) >= 1.5, "waited_s %s (see %s)", f, logf);
    ck_assert_int_eq(rt_log_field(logf, back, "retries", f, sizeof f), 1);
    ck_assert_msg(atoll(f) >= 1, "retries %s", f);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM rt_events"), 199);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM dead_letters"), 1);
    dlq_msg_t m[4];
    ck_assert_int_eq(read_dlq(topic, m, 4), 1);
    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime_poison");
    TCase *tc = tcase_create("poison");
    tcase_set_timeout(tc, 240 * cs_test_timeout_mult());
    tcase_add_test(tc, avro_poison);
    tcase_add_test(tc, text_poison_duplicates_erased);
    TCase *tc_wait = tcase_create("dlq_wait");
    tcase_set_timeout(tc_wait, 120 * cs_test_timeout_mult());
    tcase_add_test(tc_wait, dead_letter_topic_unwritable);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, tc_wait);
    return rt_run_suite(s);
}

/*
 * tests/unit/test_dlq.c
 *      Check suite for cs/dlq.h without a broker or a database.
 *
 * What a dead letter becomes: its .dlq topic name, its error class, the Kafka headers it carries
 * and the dead_letters COPY row it is recorded as (cs__dlq_headers, cs__dlq_copy_rows). Then the
 * in-flight rule against a producer whose broker does not answer (TEST_NO_BROKER, nothing
 * listens there): a wait that passes keeps the message in flight, a retry of the same dead
 * letter does not produce it again, and a delivery that fails (message.timeout.ms) is reported
 * and abandoned. Links the static libcore (cs__dlq_* is internal); integration tests
 * 0010/0078/0083 run the same code against the real broker.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs/buf.h"
#include "cs/dlq.h"
#include "internal.h"
#include "rk_unit.h"

static const cs_dead_letter_t full = {
    .topic = "cs.learning",
    .partition = 3,
    .offset = 1234567890123LL,
    .timestamp_ms = 1764063000123LL, /* 2025-11-25 09:30:00.123 UTC */
    .key = "user-1",
    .key_len = 6,
    .payload = "\x00\x01\xff",
    .len = 3,
    .error_class = "database",
    .reason = "value too long\tfor column\n\"title\" \\ x",
    .field = "payload.title",
    .sqlstate = "22001",
    .event_id = "0b6a2c52-0000-4000-8000-000000000001",
    .event_type = "content_progress",
    .user_id = "0b6a2c52-0000-4000-8000-0000000000aa",
    .schema_version = 2,
    .traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    .attempt = 4,
};

START_TEST(names)
{
    char buf[64];
    ck_assert_str_eq(cs_dlq_topic("cs.learning", buf, sizeof buf), "cs.learning.dlq");
    ck_assert_str_eq(cs_dlq_topic("abcdefgh", buf, 8), "abcdefg"); /* truncated, terminated */
    cs_err_t e = {0};
    static const char *const decode[] = {"",       "message", "fingerprint",
                                         "marker", "schema",  "encoding"};
    for (size_t i = 0; i < sizeof decode / sizeof *decode; i++) {
        cs_err_set_field(&e, CS_ERR_PERMANENT, decode[i], "x");
        ck_assert_str_eq(cs_dlq_codec_class(&e), "decode");
    }
    cs_err_set_field(&e, CS_ERR_PERMANENT, "payload.title", "x");
    ck_assert_str_eq(cs_dlq_codec_class(&e), "validation");
}
END_TEST

START_TEST(headers_full)
{
    static const char *const want[][2] = {
        {"cs-error-class", "database"},
        {"cs-error-reason", "value too long\tfor column\n\"title\" \\ x"},
        {"cs-error-field", "payload.title"},
        {"cs-error-sqlstate", "22001"},
        {"cs-original-topic", "cs.learning"},
        {"cs-original-partition", "3"},
        {"cs-original-offset", "1234567890123"},
        {"cs-original-timestamp", "1764063000123"},
        {"cs-worker", "progress"},
        {"cs-group", "cs-progress"},
        {"cs-attempt", "4"},
        {"cs-event-id", "0b6a2c52-0000-4000-8000-000000000001"},
        {"cs-event-type", "content_progress"},
        {"cs-user-id", "0b6a2c52-0000-4000-8000-0000000000aa"},
        {"cs-schema-version", "2"},
        {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    };
    rd_kafka_headers_t *h = cs__dlq_headers("progress", "cs-progress", &full);
    ck_assert_uint_eq(rd_kafka_header_cnt(h), sizeof want / sizeof *want);
    /* In this order: consumers of the .dlq topics read them as a list. */
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *name;
        const void *v;
        size_t n;
        ck_assert_int_eq(rd_kafka_header_get_all(h, i, &name, &v, &n), 0);
        ck_assert_str_eq(name, want[i][0]);
        ck_assert_uint_eq(n, strlen(want[i][1]));
        ck_assert_int_eq(memcmp(v, want[i][1], n), 0);
    }
    rd_kafka_headers_destroy(h);
}
END_TEST

START_TEST(headers_sparse)
{
    /* An undecodable message: what is unknown is left out, the numbers are always there. */
    cs_dead_letter_t d = {.topic = "cs.jobsearch",
                          .partition = 0,
                          .offset = 0,
                          .timestamp_ms = -1,
                          .error_class = "decode",
                          .reason = "bad marker",
                          .field = "",
                          .traceparent = "",
                          .attempt = 1};
    rd_kafka_headers_t *h = cs__dlq_headers("audit", "", &d);
    ck_assert_uint_eq(rd_kafka_header_cnt(h), 8);
    ck_assert_str_eq(test_rk_header(h, "cs-error-class"), "decode");
    ck_assert_str_eq(test_rk_header(h, "cs-original-timestamp"), "-1");
    ck_assert_str_eq(test_rk_header(h, "cs-original-offset"), "0");
    ck_assert_str_eq(test_rk_header(h, "cs-worker"), "audit");
    for (const char *const *n =
             (const char *const[]){"cs-error-field", "cs-error-sqlstate", "cs-group", "cs-event-id",
                                   "cs-event-type", "cs-user-id", "cs-schema-version",
                                   "traceparent", NULL};
         *n; n++)
        ck_assert_msg(test_rk_header(h, *n) == NULL, "header %s present", *n);
    rd_kafka_headers_destroy(h);
}
END_TEST

/* An erased learner's dead letter says so and names no learner (cs/dlq.h). */
START_TEST(headers_erased)
{
    cs_dead_letter_t d = full;
    d.erased = true;
    rd_kafka_headers_t *h = cs__dlq_headers("progress", "cs-progress", &d);
    ck_assert_str_eq(test_rk_header(h, "cs-erased"), "true");
    ck_assert_msg(test_rk_header(h, "cs-user-id") == NULL,
                  "an erased dead letter names its learner");
    rd_kafka_headers_destroy(h);
    h = cs__dlq_headers("progress", "cs-progress", &full);
    ck_assert_msg(test_rk_header(h, "cs-erased") == NULL,
                  "cs-erased on a live learner's dead letter");
    ck_assert_ptr_nonnull(test_rk_header(h, "cs-user-id"));
    rd_kafka_headers_destroy(h);
}
END_TEST

START_TEST(copy_rows)
{
    cs_dead_letter_t two[2] = {full,
                               {.topic = "cs.profile",
                                .partition = 1,
                                .offset = 7,
                                .timestamp_ms = -1,
                                .error_class = "decode",
                                .attempt = 1}};
    cs_buf_t b = CS_BUF_INIT;
    cs__dlq_copy_rows(&b, "cs-progress", "progress", two, NULL, 2);
    cs_buf_putc(&b, '\0');
    ck_assert_str_eq(
        b.data,
        "cs-progress\tprogress\tcs.learning\t3\t1234567890123\t2025-11-25 09:30:00.123+00\t"
        "cs.learning.dlq\tdatabase\tvalue too long\\tfor column\\n\"title\" \\\\ x\t"
        "payload.title\t22001\t0b6a2c52-0000-4000-8000-000000000001\tcontent_progress\t"
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\t4\t\\\\x757365722d31\t"
        "\\\\x0001ff\t0b6a2c52-0000-4000-8000-0000000000aa\t2\tf\n"
        /* no timestamp, reason, key, payload, learner or version: NULL, "unknown", NULL... */
        "cs-progress\tprogress\tcs.profile\t1\t7\t\\N\tcs.profile.dlq\tdecode\tunknown\t\\N\t\\N\t"
        "\\N\t\\N\t\\N\t1\t\\N\t\\N\t\\N\t\\N\tf\n");
    cs_buf_fini(&b);
}
END_TEST

/* ---- in flight, against a broker that does not answer ------------------------------------- */

START_TEST(in_flight)
{
    cs_err_t err = {0};
    /* Nothing listens on port 1; the message times out 1.5 s after it was produced. */
    cs_dlq_t *q = cs_dlq_new(TEST_NO_BROKER, "message.timeout.ms=1500,reconnect.backoff.max.ms=100",
                             "progress", "cs-progress", &err);
    ck_assert_msg(q != NULL, "%s", err.msg);
    cs_dead_letter_t d = full;
    ck_assert_int_eq(cs__dlq_in_flight(q, NULL), 0);

    /* The wait passes: transient, and the message stays in flight. */
    ck_assert_int_eq(cs_dlq_publish(q, &d, 1, 100, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_TRANSIENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not acknowledged within 100 ms (still in flight"));
    ck_assert_int_eq(cs__dlq_in_flight(q, NULL), 1);
    /* The batch's retry waits for the same message rather than producing another. */
    ck_assert_int_eq(cs_dlq_publish(q, &d, 1, 100, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "still in flight"));
    int queued = 0;
    ck_assert_int_eq(cs__dlq_in_flight(q, &queued), 1);
    ck_assert_int_eq(queued, 1);
    /* Another dead letter is a message of its own. */
    cs_dead_letter_t other = full;
    other.offset++;
    ck_assert_int_eq(cs_dlq_publish(q, &other, 1, 50, &err), -1);
    ck_assert_int_eq(cs__dlq_in_flight(q, &queued), 2);
    ck_assert_int_eq(queued, 2);

    /* Past message.timeout.ms the delivery fails: reported, and the producer starts afresh. */
    ck_assert_int_eq(cs_dlq_publish(q, &d, 1, 4000, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_TRANSIENT);
    ck_assert_msg(strstr(err.msg, "not delivered: ") != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "timed out"));
    ck_assert_int_eq(cs__dlq_in_flight(q, NULL), 0);
    /* The next attempt produces it again. */
    ck_assert_int_eq(cs_dlq_publish(q, &d, 1, 50, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "still in flight"));
    ck_assert_int_eq(cs__dlq_in_flight(q, NULL), 1);
    cs_dlq_destroy(q);
}
END_TEST

START_TEST(refusals)
{
    cs_err_t err = {0};
    ck_assert_ptr_null(cs_dlq_new("", NULL, "w", "g", &err));
    ck_assert_str_eq(err.field, "kafka-brokers");
    ck_assert_ptr_null(cs_dlq_new(TEST_NO_BROKER, "no.such.property=1", "w", "g", &err));
    ck_assert_str_eq(err.field, "kafka-props");
    ck_assert_ptr_nonnull(strstr(err.msg, "no.such.property"));
    cs_dlq_destroy(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dlq");
    TCase *tc = tcase_create("dead letters");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, names);
    tcase_add_test(tc, headers_full);
    tcase_add_test(tc, headers_sparse);
    tcase_add_test(tc, headers_erased);
    tcase_add_test(tc, copy_rows);
    tcase_add_test(tc, in_flight);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}

/*
 * tests/integration/0122-outbox_relay_bytes.c
 *      The outbox relay publishes each row as it is: its topic, key, payload bytes and headers.
 *
 * The relay (libcore/src/worker_outbox.c) reads its rows with binary results and hands the values'
 * bytes to the producer. Three rows of the worker's group are written into outbox_events before
 * cs-testworker --emit-topic starts, each unlike what cs_batch_emit writes:
 *  - topic A, a payload of every byte value 0..255 (NUL, backslash, bytes above 127), a
 *    traceparent;
 *  - topic B, a one-byte payload \x00, a UTF-8 key, no traceparent (NULL);
 *  - topic A, a 6,000-byte payload (stored compressed by PostgreSQL), an empty traceparent;
 * and the worker drains 50 events of its own (50 derived events to a third topic). Then the
 * outbox is empty, topic A holds exactly its two rows and topic B its one, each message with the
 * row's key and payload byte for byte, cs.event_type and cs.schema_fingerprint from the row, and a
 * traceparent header only where the row has a non-empty one; the third topic holds 50 messages.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define N     50
#define NKEYS 7
#define GROUP "rt-ob122"
#define TP    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* The payloads of the rows: every byte value; one NUL; 6,000 bytes of a pattern. */
static void payload_all(unsigned char *p)
{
    for (int i = 0; i < 256; i++)
        p[i] = (unsigned char)i;
}

static void payload_long(unsigned char *p)
{
    for (int i = 0; i < 6000; i++)
        p[i] = (unsigned char)((i % 1000) * 7 & 0xff); /* repeats: compressible */
}

/* A row of GROUP, its payload given as bytes (written as hex). */
static void outbox_row(const char *dsn, const char *topic, const char *key, const char *type,
                       const char *fp, const unsigned char *payload, size_t len, const char *tp)
{
    size_t cap = 2 * len + 1024;
    char *sql = malloc(cap);
    int k = snprintf(sql, cap,
                     "INSERT INTO outbox_events (consumer_group, event_id, event_type, topic, "
                     "msg_key, payload, fingerprint, traceparent) VALUES ('%s', "
                     "gen_random_uuid(), '%s', '%s', '%s', '\\x",
                     GROUP, type, topic, key);
    for (size_t i = 0; i < len; i++)
        k += snprintf(sql + k, cap - (size_t)k, "%02x", payload[i]);
    snprintf(sql + k, cap - (size_t)k, "', '%s', %s%s%s)", fp, tp ? "'" : "", tp ? tp : "NULL",
             tp ? "'" : "");
    rt_exec(dsn, sql);
    free(sql);
}

START_TEST(outbox_relay_bytes)
{
    char dsn[1024], topic[128], ta[128], tb[128], derived[128], logf[256];
    unsigned char all[256], nul[1] = {0}, lng[6000];
    rt_db("ob122", dsn, sizeof dsn);
    cs_test_topic("ob122", topic, sizeof topic);
    cs_test_topic("ob122a", ta, sizeof ta);
    cs_test_topic("ob122b", tb, sizeof tb);
    cs_test_topic("ob122d", derived, sizeof derived);
    snprintf(logf, sizeof logf, "/tmp/cs-rt-ob122-%d.log", (int)getpid());
    rt_topic_create(ta, 1, NULL);
    rt_topic_create(tb, 1, NULL);
    payload_all(all);
    payload_long(lng);

    outbox_row(dsn, ta, "k-1", "rt_type_a", "0123456789abcdef", all, sizeof all, TP);
    outbox_row(dsn, tb, "cl\xc3\xa9-2", "rt_type_b", "fedcba9876543210", nul, sizeof nul, NULL);
    outbox_row(dsn, ta, "k-3", "rt_type_a", "0123456789abcdef", lng, sizeof lng, "");
    ck_assert_int_gt(rt_ll(dsn, "SELECT count(*) FROM outbox_events WHERE pg_column_size(payload) "
                                "< length(payload)"),
                     0); /* the long payload is stored compressed */

    rt_produce_many(topic, N, NKEYS);
    const char *args[] = {"--format",       "text",
                          "--topics",       topic,
                          "--group",        GROUP,
                          "--emit-topic",   derived,
                          "--metrics-port", "-1",
                          "--log-level",    "warn",
                          "--drain",        "--session-timeout-ms",
                          "6000",           NULL};
    int st = rt_run(dsn, logf, args, 120000);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the worker did not drain (status %d, see %s)", st, logf);
    ck_assert_int_eq(rt_ll(dsn, "SELECT count(*) FROM outbox_events"), 0);
    ck_assert_int_eq(rt_topic_end(derived), N);

    cs_test_msg_t *a = cs_test_consume_n(ta, 2);
    ck_assert_str_eq(a[0].key, "k-1");
    ck_assert_str_eq(a[0].type, "rt_type_a");
    ck_assert_str_eq(a[0].fp, "0123456789abcdef");
    ck_assert(a[0].has_tp);
    ck_assert_str_eq(a[0].traceparent, TP);
    ck_assert_uint_eq(a[0].len, sizeof all);
    ck_assert(memcmp(a[0].value, all, sizeof all) == 0);
    ck_assert_str_eq(a[1].key, "k-3");
    ck_assert(!a[1].has_tp);
    ck_assert_uint_eq(a[1].len, sizeof lng);
    ck_assert(memcmp(a[1].value, lng, sizeof lng) == 0);
    cs_test_msgs_free(a, 2);

    cs_test_msg_t *b = cs_test_consume_n(tb, 1);
    ck_assert_str_eq(b[0].key, "cl\xc3\xa9-2");
    ck_assert_str_eq(b[0].type, "rt_type_b");
    ck_assert_str_eq(b[0].fp, "fedcba9876543210");
    ck_assert(!b[0].has_tp);
    ck_assert_uint_eq(b[0].len, 1);
    ck_assert_int_eq(b[0].value[0], 0);
    cs_test_msgs_free(b, 1);

    cs_test_drop_db(dsn);
    unlink(logf);
}
END_TEST

int main(void)
{
    return rt_run_test("outbox_relay_bytes", "outbox_relay_bytes", outbox_relay_bytes,
                       240 * cs_test_timeout_mult());
}

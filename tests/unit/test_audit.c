/*
 * tests/unit/test_audit.c
 *      Check suite for cs/audit.h and the jsonb rendering of payloads (cs_codec_payload_to_jsonb),
 *      without a server: the rendering straight from the decoded event must equal the jsonb text
 *      jsonb_render_text derives from the codec's JSON, for every event type and a few hundred
 *      mutations of each example; the row hash must keep its documented format (rows already
 *      written must still verify); SHA-256 must give the FIPS 180-2 vectors.
 *      tests/integration/0003-audit_jsonb.c compares the same renderings with PostgreSQL itself.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/audit.h"
#include "cs/codec.h"
#include "jsonb_render.h"
#include "mutate.h"

START_TEST(jsonb_from_event_equals_reparsed_json)
{
    test_each_rendering(NULL, NULL);
}
END_TEST

/* A payload jsonb cannot hold is refused, naming the field, and out is left as it was. */
START_TEST(jsonb_refuses_what_jsonb_cannot_hold)
{
    cs_err_t err;
    cs_codec_t *codec = cs_codec_new(&err);
    cs_event_t ev = {.type = -1};
    cs_buf_t out = CS_BUF_INIT;

    ck_assert_msg(codec != NULL, "%s", err.msg);
    cs_buf_puts(&out, "kept");
    ck_assert_int_eq(cs_codec_payload_to_jsonb(codec, &ev, &out, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_str_eq(out.data, "kept");
    cs_buf_fini(&out);
    cs_codec_destroy(codec);
}
END_TEST

/*
 * The canonical row, rebuilt here from its documentation with printf: the chain format must not
 * change, or rows already written would no longer verify.
 */
START_TEST(row_hash_matches_documented_format)
{
    cs_audit_row_t row = {"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30",
                          "content_progress",
                          2,
                          "5f0c6d2e-8a4b-4c3d-9e1f-2a7b6c5d4e3f",
                          1767607013753LL,
                          "cs.learning",
                          7,
                          1234,
                          "learning-app",
                          NULL,
                          {1, 2, 3},
                          "cs.learning/7",
                          99};
    unsigned char prev[32], ours[32], expected[32];
    char buf[1024];
    int n;

    for (int i = 0; i < 32; i++)
        prev[i] = (unsigned char)(200 + i);
    for (int variant = 0; variant < 3; variant++) {
        const unsigned char *pv = variant == 1 ? NULL : prev;
        static const unsigned char zero[32];

        if (variant == 2) {
            row.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
            row.user_id = NULL;
            row.schema_version = 12;
            row.source_offset = 1234567890123LL;
        }
        memcpy(buf, pv ? pv : zero, 32);
        n = 32;
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "cs-audit-v1%zu:%s%zu:%s%zu:%d",
                      strlen(row.event_id), row.event_id, strlen(row.event_type), row.event_type,
                      (size_t)snprintf(NULL, 0, "%d", row.schema_version), row.schema_version);
        if (row.user_id)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%zu:%s", strlen(row.user_id),
                          row.user_id);
        else
            buf[n++] = '-';
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%zu:%lld%zu:%s%zu:%d%zu:%lld%zu:%s",
                      (size_t)snprintf(NULL, 0, "%lld", (long long)row.occurred_at_ms),
                      (long long)row.occurred_at_ms, strlen(row.source_topic), row.source_topic,
                      (size_t)snprintf(NULL, 0, "%d", row.source_partition), row.source_partition,
                      (size_t)snprintf(NULL, 0, "%lld", (long long)row.source_offset),
                      (long long)row.source_offset, strlen(row.producer), row.producer);
        if (row.traceparent)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%zu:%s", strlen(row.traceparent),
                          row.traceparent);
        else
            buf[n++] = '-';
        memcpy(buf + n, row.payload_sha256, 32);
        n += 32;
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%zu:%s%zu:%lld", strlen(row.chain_key),
                      row.chain_key, (size_t)snprintf(NULL, 0, "%lld", (long long)row.chain_seq),
                      (long long)row.chain_seq);
        cs_audit_sha256(buf, (size_t)n, expected);
        cs_audit_row_hash(pv, &row, ours);
        ck_assert_msg(memcmp(ours, expected, 32) == 0, "variant %d", variant);
    }
}
END_TEST

/*
 * Version 2 (issue 14): the canonical row of cs/audit.h rebuilt with printf, and every column
 * version 1 left outside (logged_at, severity, occurred_at below the millisecond) now changes the
 * hash; version 1 rows (hash_version 0 or 1) still hash exactly as before, whatever those fields.
 */
START_TEST(row_hash_v2_covers_every_column)
{
    cs_audit_row_t row = {.event_id = "0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30",
                          .event_type = "content_progress",
                          .schema_version = 2,
                          .user_id = "5f0c6d2e-8a4b-4c3d-9e1f-2a7b6c5d4e3f",
                          .occurred_at_ms = 1767607013753LL,
                          .source_topic = "cs.learning",
                          .source_partition = 7,
                          .source_offset = 1234,
                          .producer = "learning-app",
                          .traceparent = NULL,
                          .payload_sha256 = {1, 2, 3},
                          .chain_key = "cs.learning/7",
                          .chain_seq = 99,
                          .hash_version = CS_AUDIT_HASH_V2,
                          .occurred_at_us = 1767607013753123LL,
                          .logged_at_us = 1767607014000456LL,
                          .severity = "info"};
    unsigned char prev[32], ours[32], expected[32], v1[32], other[32];
    char buf[1024];
    int n = 32;

    for (int i = 0; i < 32; i++)
        prev[i] = (unsigned char)(100 + i);
    memcpy(buf, prev, 32);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                  "cs-audit-v2%zu:%s%zu:%s1:2%zu:%s16:%lld16:%lld4:info11:cs.learning1:74:1234"
                  "12:learning-app-",
                  strlen(row.event_id), row.event_id, strlen(row.event_type), row.event_type,
                  strlen(row.user_id), row.user_id, (long long)row.occurred_at_us,
                  (long long)row.logged_at_us);
    memcpy(buf + n, row.payload_sha256, 32);
    n += 32;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "13:cs.learning/72:99");
    cs_audit_sha256(buf, (size_t)n, expected);
    cs_audit_row_hash(prev, &row, ours);
    ck_assert_msg(memcmp(ours, expected, 32) == 0, "version 2 differs from its documented format");

    /* Each column version 1 left out changes a version 2 hash. */
    row.logged_at_us += 1000000;
    cs_audit_row_hash(prev, &row, other);
    ck_assert_msg(memcmp(ours, other, 32) != 0, "logged_at outside the version 2 hash");
    row.logged_at_us -= 1000000;
    row.severity = "error";
    cs_audit_row_hash(prev, &row, other);
    ck_assert_msg(memcmp(ours, other, 32) != 0, "severity outside the version 2 hash");
    row.severity = "info";
    row.occurred_at_us += 1;
    cs_audit_row_hash(prev, &row, other);
    ck_assert_msg(memcmp(ours, other, 32) != 0, "occurred_at's microseconds outside the hash");
    row.occurred_at_us -= 1;

    /* The same columns as version 1: another hash (a row cannot be re-labelled 1 unseen), and
     * version 1 ignores the version 2 fields, so rows written before 0061 still verify. */
    row.hash_version = CS_AUDIT_HASH_V1;
    cs_audit_row_hash(prev, &row, v1);
    ck_assert_msg(memcmp(ours, v1, 32) != 0, "versions 1 and 2 hash alike");
    row.logged_at_us = 0;
    row.severity = "error";
    row.occurred_at_us = 0;
    row.hash_version = 0;
    cs_audit_row_hash(prev, &row, other);
    ck_assert_msg(memcmp(v1, other, 32) == 0, "version 1 depends on version 2 fields");
}
END_TEST

/* SHA-256 itself, on the FIPS 180-2 vectors, through the reused context. */
START_TEST(sha256_vectors)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };

    for (int rep = 0; rep < 2; rep++)
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
            unsigned char h[32];
            char hex[65];

            cs_audit_sha256(v[i].in, strlen(v[i].in), h);
            for (int k = 0; k < 32; k++)
                snprintf(hex + 2 * k, 3, "%02x", h[k]);
            ck_assert_str_eq(hex, v[i].hex);
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60.0);
    tcase_add_test(tc, jsonb_from_event_equals_reparsed_json);
    tcase_add_test(tc, jsonb_refuses_what_jsonb_cannot_hold);
    tcase_add_test(tc, row_hash_matches_documented_format);
    tcase_add_test(tc, row_hash_v2_covers_every_column);
    tcase_add_test(tc, sha256_vectors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * tests/unit/test_audit.c
 *      Check suite for cs/audit.h and the jsonb rendering of payloads (cs_codec_payload_to_jsonb),
 *      without a server: the rendering straight from the decoded event must equal the jsonb text
 *      cs_audit_jsonb_text derives from the codec's JSON, for every event type and a few hundred
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
    tcase_add_test(tc, sha256_vectors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * tests/integration/0003-audit_jsonb.c
 *      jsonb_render_text() must print exactly what PostgreSQL prints for the same jsonb, or the
 *      audit verifier would flag intact payloads. Each table row and a few thousand generated
 *      documents are compared with `SELECT $1::jsonb::text` on the real server. cs-audit itself
 *      renders that text straight from the decoded event (cs_codec_payload_to_jsonb): every event
 *      type, with mutations of its example full of escapes, UTF-8, doubles and nulls, is compared
 *      with the server too (tests/unit/test_audit.c checks the same renderings without a server,
 *      under the sanitizers, and the row hash against its documented format).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/audit.h"
#include "cs/codec.h"
#include "cs/db.h"
#include "harness.h"
#include "jsonb_render.h"
#include "mutate.h"

static char dsn[1024];
static cs_db_t *db;

static void setup(void)
{
    cs_err_t err;

    cs_test_fresh_db("jsonb", 0, dsn, sizeof(dsn));
    db = cs_db_connect(dsn, "cs-test", &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
}

static void teardown(void)
{
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}

/* Compares our text with the server's for one document. */
static void same_as_server(const char *json)
{
    cs_buf_t ours = CS_BUF_INIT;
    cs_err_t err;
    const char *params[] = {json};
    cs_db_res_t *r;

    ck_assert_msg(jsonb_render_text(json, strlen(json), &ours, &err) == 0, "%s: %s", json, err.msg);
    r = cs_db_query(db, "SELECT $1::jsonb::text", 1, params, &err);
    ck_assert_msg(r != NULL, "server refused %s: %s", json, err.msg);
    ck_assert_msg(strcmp(ours.data, cs_db_res_get(r, 0, 0)) == 0, "input  %s\nours   %s\nserver %s",
                  json, ours.data, cs_db_res_get(r, 0, 0));
    cs_db_res_free(r);
    cs_buf_fini(&ours);
}

static const char *const docs[] = {
    "{}",
    "[]",
    "{\"b\":1,\"a\":2,\"aa\":3,\"ab\":[1,2,{}],\"c\":null,\"d\":true,\"e\":false}",
    "{\"score\":85.5,\"zero\":0,\"negzero\":-0,\"negzerof\":-0.0,\"big\":10000000}",
    "{\"x\":1e-07,\"y\":1.5e+20,\"z\":1.25E-1,\"w\":-2.50e2,\"v\":0.10000000000000001}",
    "{\"s\":\"quote \\\" backslash \\\\ slash \\/ nl \\n tab \\t bs \\b ff \\f cr \\r\"}",
    "{\"u\":\"caf\\u00e9 \\ud83d\\ude00 \\u0001 raw caf\xc3\xa9\"}",
    "{\"nested\":{\"zz\":[\"a\",\"b\"],\"a\":{\"k\":[[],{}]}},\"n\":[1.0,2.00,3]}",
    "{\"goals_discussed\":[\"SQL\"],\"session_id\":\"8ecddad8-938d-44a2-a884-8c883d6e4610\","
    "\"started_at\":\"2026-01-05T10:56:53.753Z\",\"learner_rating\":null}",
    " { \"spaces\" : [ 1 , 2 ] } ",
};

START_TEST(table_matches_server)
{
    same_as_server(docs[_i]);
}
END_TEST

static const char *const bad[] = {
    "",     "{",          "{\"a\"}",          "{\"a\":}",
    "[1,]", "{\"a\":1}x", "\"\\u0000\"",      "\"\\ud800\"",
    "tru",  "01x",        "{\"a\":\"\x01\"}", "1e99999",
};

START_TEST(malformed_is_refused)
{
    cs_buf_t out = CS_BUF_INIT;
    cs_err_t err;

    ck_assert_msg(jsonb_render_text(bad[_i], strlen(bad[_i]), &out, &err) == -1, "accepted %s",
                  bad[_i]);
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_str_eq(err.field, "payload");
    ck_assert_int_eq(out.len, 0);
    cs_buf_fini(&out);
}
END_TEST

/* Deterministic generated documents: keys of mixed lengths, numbers in several notations. */

static void gen(cs_buf_t *b, int depth)
{
    static const char *const keys[] = {"a", "bb", "ab", "ba", "ccc", "id", "user_id", "é", "a b"};
    static const char *const nums[] = {
        "0",    "-1", "42", "3.14", "100.0", "1e3", "2.5E-3", "-0.001", "12345678901234567890",
        "7e-10"};
    unsigned k = depth > 3 ? test_rnd(4) : test_rnd(6);

    switch (k) {
    case 0:
        cs_buf_puts(b, nums[test_rnd(10)]);
        break;
    case 1:
        cs_buf_puts(b, test_rnd(2) ? "\"text \\\"q\\\" \\n\"" : "\"\"");
        break;
    case 2:
        cs_buf_puts(b, test_rnd(2) ? "true" : "null");
        break;
    case 3:
        cs_buf_puts(b, "\"\\u00fc\\t\"");
        break;
    case 4: {
        unsigned n = test_rnd(5);

        cs_buf_putc(b, '[');
        for (unsigned i = 0; i < n; i++) {
            if (i)
                cs_buf_putc(b, ',');
            gen(b, depth + 1);
        }
        cs_buf_putc(b, ']');
        break;
    }
    default: {
        unsigned n = test_rnd(6), used = 0;

        cs_buf_putc(b, '{');
        for (unsigned i = 0; i < n; i++) {
            unsigned ki = test_rnd(9);

            if (used & (1u << ki))
                continue; /* no duplicate keys */
            if (used)
                cs_buf_putc(b, ',');
            used |= 1u << ki;
            cs_buf_printf(b, "\"%s\":", keys[ki]);
            gen(b, depth + 1);
        }
        cs_buf_putc(b, '}');
    }
    }
}

START_TEST(generated_match_server)
{
    for (int i = 0; i < 3000; i++) {
        cs_buf_t b = CS_BUF_INIT;

        cs_buf_putc(&b, '{');
        cs_buf_puts(&b, "\"root\":");
        gen(&b, 0);
        cs_buf_putc(&b, '}');
        same_as_server(b.data);
        cs_buf_fini(&b);
    }
}
END_TEST

/* Changing any identifying column changes the row hash; the same row hashes the same. */
START_TEST(row_hash_covers_every_column)
{
    cs_audit_row_t base = {"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30",
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
    unsigned char h0[32], h1[32], prev[32] = {9};
    cs_audit_row_t r;

    cs_audit_row_hash(prev, &base, h0);
    cs_audit_row_hash(prev, &base, h1);
    ck_assert_int_eq(memcmp(h0, h1, 32), 0);
    for (int f = 0; f < 14; f++) {
        r = base;
        switch (f) {
        case 0:
            r.event_id = "0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e31";
            break;
        case 1:
            r.event_type = "content_progres";
            break;
        case 2:
            r.schema_version = 1;
            break;
        case 3:
            r.user_id = NULL;
            break;
        case 4:
            r.occurred_at_ms++;
            break;
        case 5:
            r.source_topic = "cs.learninG";
            break;
        case 6:
            r.source_partition = 8;
            break;
        case 7:
            r.source_offset = 1235;
            break;
        case 8:
            r.producer = "learning-ap";
            break;
        case 9:
            r.traceparent = "";
            break;
        case 10:
            r.payload_sha256[31] = 1;
            break;
        case 11:
            r.chain_key = "cs.learning/8";
            break;
        case 12:
            r.chain_seq = 100;
            break;
        case 13:
            prev[0] = 8;
            break;
        }
        cs_audit_row_hash(prev, &r, h1);
        ck_assert_msg(memcmp(h0, h1, 32) != 0, "field %d is not covered", f);
        prev[0] = 9;
    }
}
END_TEST

/* ---- every event type, rendered from the decoded event ------------------------------------- */

/*
 * For every event type: its example and a few hundred mutations of it (escapes, control
 * characters, UTF-8, doubles of every magnitude, nulls, arrays) that the codec accepts are
 * rendered by cs_codec_payload_to_jsonb and compared with what the server prints for the same
 * payload as jsonb, and with jsonb_render_text of the codec's JSON.
 */
struct seen {
    int escape, utf8, null, array, fraction;
};

static void matches_server(const char *type, const char *json, const char *jsonb, void *ud)
{
    struct seen *seen = ud;
    const char *params[] = {json};
    cs_err_t err;
    cs_db_res_t *r = cs_db_query(db, "SELECT $1::jsonb::text", 1, params, &err);

    ck_assert_msg(r != NULL, "server refused %s: %s", json, err.msg);
    ck_assert_msg(strcmp(jsonb, cs_db_res_get(r, 0, 0)) == 0, "%s\ninput  %s\nours   %s\nserver %s",
                  type, json, jsonb, cs_db_res_get(r, 0, 0));
    cs_db_res_free(r);
    seen->escape |= strchr(jsonb, '\\') != NULL;
    seen->utf8 |= strstr(jsonb, "\xf0\x9f\x98\x80") != NULL;
    seen->null |= strstr(jsonb, ": null") != NULL;
    seen->array |= strstr(jsonb, ": [\"") != NULL;
    seen->fraction |= strstr(jsonb, "0.0000001") != NULL;
}

START_TEST(every_event_type_matches_server)
{
    struct seen seen = {0};

    test_each_rendering(matches_server, &seen);
    ck_assert_msg(seen.escape && seen.utf8 && seen.null && seen.array && seen.fraction,
                  "a kind of value was never exercised: escape %d utf8 %d null %d array %d "
                  "fraction %d",
                  seen.escape, seen.utf8, seen.null, seen.array, seen.fraction);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("audit_jsonb");
    TCase *tc = tcase_create("audit_jsonb");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120.0 * cs_test_timeout_mult());
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, table_matches_server, 0, (int)(sizeof(docs) / sizeof(docs[0])));
    tcase_add_loop_test(tc, malformed_is_refused, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, generated_match_server);
    tcase_add_test(tc, row_hash_covers_every_column);
    tcase_add_test(tc, every_event_type_matches_server);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * tests/unit/test_batch.c
 *      Check suite for cs/batch.h without a server: COPY text fields to array elements, rows.
 *
 * A batch keeps its rows as COPY text (cs_batch_str escapes backslash, tab, newline and CR);
 * small batches send them as text[] literals instead, so every field is decoded from COPY text
 * and re-escaped for an array literal. Each value here goes through cs_batch_str into a row and
 * is compared with the exact element PostgreSQL's array_in needs to give the value back
 * (integration test 0069 sends the same kinds of values to a server). A table's fold in C
 * (cs_table_def_t.fold) is checked on the rows a flush of a range would send.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/batch.h"
#include "cs/codec.h"
#include "cs/db.h"
#include "internal.h"

static const struct {
    const char *value; /* NULL: SQL NULL */
    const char *elem;
} cases[] = {
    {NULL, "NULL"},
    {"", "\"\""},
    {"NULL", "\"NULL\""},
    {"null", "\"null\""},
    {"\\", "\"\\\\\""},
    {"\"", "\"\\\"\""},
    {"{", "\"{\""},
    {"}", "\"}\""},
    {",", "\",\""},
    {"{a,b}", "\"{a,b}\""},
    {"\t", "\"\t\""},
    {"\n", "\"\n\""},
    {"\r", "\"\r\""},
    {"a\tb\nc\rd", "\"a\tb\nc\rd\""},
    {" lead", "\" lead\""},
    {"trail ", "\"trail \""},
    {"  ", "\"  \""},
    {"h\xc3\xa9llo \xe2\x9c\x93", "\"h\xc3\xa9llo \xe2\x9c\x93\""},
    {"\\N", "\"\\\\N\""},
    {"a\\tb", "\"a\\\\tb\""},
    {"back\\slash\"quote", "\"back\\\\slash\\\"quote\""},
    {"'single' $1 $cs$", "\"'single' $1 $cs$\""},
};

/* One value as cs_batch_str puts it in a row (COPY text), then out as an array element. */
static char *through_row(const char *value)
{
    size_t n = value ? strlen(value) : 0;
    char *field = malloc(2 * n + 3);
    size_t fn = value ? cs_db_copy_escape(field, value, n) : 2;
    if (!value)
        memcpy(field, "\\N", 2);
    cs_buf_t out = CS_BUF_INIT;
    ck_assert_int_eq(cs_batch_array_elem(&out, field, fn), 0);
    cs_buf_putc(&out, '\0');
    free(field);
    return out.data;
}

START_TEST(elements)
{
    char *got = through_row(cases[_i].value);
    ck_assert_msg(!strcmp(got, cases[_i].elem), "case %d: want [%s] got [%s]", _i, cases[_i].elem,
                  got);
    free(got);
}
END_TEST

/* COPY escapes a row buffer may hold from cs_batch_raw: every form COPY text itself accepts. */
START_TEST(copy_escapes)
{
    static const struct {
        const char *field, *elem;
    } raw[] = {
        {"\\b\\f\\v", "\"\b\f\v\""},
        {"\\101\\60x", "\"A0x\""},        /* octal, one to three digits */
        {"\\x41\\x4a\\x4", "\"AJ\x04\""}, /* hex, one or two digits */
        {"\\q\\\\", "\"q\\\\\""},         /* any other escaped character stands for itself */
        {"\\xg", "\"xg\""},
        {"end\\", "\"end\\\\\""}, /* a lone trailing backslash stays */
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        cs_buf_t out = CS_BUF_INIT;
        ck_assert_int_eq(cs_batch_array_elem(&out, raw[i].field, strlen(raw[i].field)), 0);
        cs_buf_putc(&out, '\0');
        ck_assert_msg(!strcmp(out.data, raw[i].elem), "raw %zu: want [%s] got [%s]", i, raw[i].elem,
                      out.data);
        cs_buf_fini(&out);
    }
    /* A field that decodes to a NUL byte cannot be text. */
    const char *nul[] = {"a\\0b", "\\x00", "\\000"};
    for (size_t i = 0; i < 3; i++) {
        cs_buf_t out = CS_BUF_INIT;
        ck_assert_int_eq(cs_batch_array_elem(&out, nul[i], strlen(nul[i])), -1);
        cs_buf_fini(&out);
    }
}
END_TEST

/* Every byte value but NUL survives cs_batch_str's COPY escaping and the array escaping. */
START_TEST(all_bytes)
{
    char v[256];
    for (int i = 1; i < 256; i++)
        v[i - 1] = (char)i;
    v[255] = '\0';
    char *got = through_row(v);
    /* Undo the array escaping: inside quotes, a backslash escapes the next character. */
    size_t n = strlen(got);
    ck_assert_int_ge(n, 2);
    ck_assert_int_eq(got[0], '"');
    ck_assert_int_eq(got[n - 1], '"');
    char back[512];
    size_t k = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (got[i] == '\\')
            i++;
        back[k++] = got[i];
    }
    back[k] = '\0';
    ck_assert_str_eq(back, v);
    free(got);
}
END_TEST

/* ---- rows by column name (CS_COLUMNS, CS_ROW, CS_BATCH_PUT) ---- */

#define PAIR_COLUMNS(C) C(user_id) C(score) C(note)
#define AGG_STAGED(C)   C(user_id) C(at)
typedef CS_ROW(PAIR_COLUMNS) pair_row_t;
typedef CS_ROW(AGG_STAGED) agg_row_t;
enum { T_PAIR, T_AGG, T_THREE };
static const cs_table_def_t put_tables[] = {
    [T_PAIR] = {.table = "pair", .columns = CS_COLUMNS(PAIR_COLUMNS)},
    [T_AGG] = {.table = "agg",
               .columns = "user_id, first_at, last_at",
               .staged = CS_COLUMNS(AGG_STAGED),
               .conflict = "user_id",
               .merge = CS_MERGE_AGGREGATE,
               .aggregate = "user_id, min(at), max(at)"},
    [T_THREE] = {.table = "three", .columns = "a, b, c, d"},
};

START_TEST(columns_string)
{
    ck_assert_str_eq(CS_COLUMNS(PAIR_COLUMNS), "user_id, score, note");
    ck_assert_int_eq(sizeof(pair_row_t) / sizeof(cs_val_t), 3);
    /* The names and the array are the same storage, in the list's order. */
    pair_row_t r = {.score = cs_val_int(7)};
    ck_assert_int_eq(r.v[1].kind, CS_VAL_INT);
    ck_assert_int_eq(r.v[1].u.i, 7);
    ck_assert_int_eq(r.v[0].kind, CS_VAL_UNSET);
}
END_TEST

START_TEST(put_rows)
{
    cs_batch_t *b = cs_batch_new(put_tables, 3);
    cs_err_t err = {0};
    cs_batch_mark_event(b, 0);
    ck_assert_int_eq(CS_BATCH_PUT(b, T_PAIR, pair_row_t, &err, .user_id = cs_val_raw("u", 1),
                                  .score = cs_val_double(0.5), .note = cs_val_str(NULL)),
                     0);
    ck_assert_int_eq(CS_BATCH_PUT(b, T_PAIR, pair_row_t, &err, .note = cs_val_strn("a\tb", 3),
                                  .score = cs_val_int_if(false, 1), .user_id = cs_val_null()),
                     0);
    /* An aggregate table's rows give its staged columns. */
    ck_assert_int_eq(
        CS_BATCH_PUT(b, T_AGG, agg_row_t, &err, .user_id = cs_val_str("u"), .at = cs_val_ts_ms(0)),
        0);
    ck_assert_uint_eq(cs_batch_rows(b, T_PAIR), 2);
    ck_assert_uint_eq(cs_batch_rows(b, T_AGG), 1);
    cs_batch_destroy(b);
}
END_TEST

START_TEST(put_refusals)
{
    cs_batch_t *b = cs_batch_new(put_tables, 3);
    cs_err_t err = {0};
    cs_batch_mark_event(b, 0);
    /* A column not named: refused, naming it, and nothing appended. */
    ck_assert_int_eq(CS_BATCH_PUT(b, T_PAIR, pair_row_t, &err, .user_id = cs_val_str("u"),
                                  .note = cs_val_bool(1)),
                     -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_str_eq(err.field, "score");
    ck_assert_ptr_nonnull(strstr(err.msg, "pair gives no value for column score"));
    ck_assert_uint_eq(cs_batch_rows(b, T_PAIR), 0);
    /* A row type of another column list: the count differs. */
    ck_assert_int_eq(CS_BATCH_PUT(b, T_THREE, pair_row_t, &err, .user_id = cs_val_str("u"),
                                  .score = cs_val_int(1), .note = cs_val_str("n")),
                     -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "has 3 values, the table declares 4 columns"));
    ck_assert_uint_eq(cs_batch_rows(b, T_THREE), 0);
    /* The aggregate table counts its staged columns, not its declared ones. */
    ck_assert_int_eq(CS_BATCH_PUT(b, T_AGG, pair_row_t, &err, .user_id = cs_val_str("u"),
                                  .score = cs_val_int(1), .note = cs_val_str("n")),
                     -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "has 3 values, the table declares 2 columns"));
    ck_assert_int_eq(cs_batch_put(b, 9, NULL, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no table 9"));
    /* The batch still takes good rows after the refusals. */
    ck_assert_int_eq(
        CS_BATCH_PUT(b, T_AGG, agg_row_t, &err, .user_id = cs_val_str("u"), .at = cs_val_ts_ms(1)),
        0);
    ck_assert_uint_eq(cs_batch_rows(b, T_AGG), 1);
    cs_batch_destroy(b);
}
END_TEST

/*
 * Derived event ids are RFC 4122 version-5 UUIDs in careerstream's namespace; the expected values
 * come from Python's uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL,
 * "https://careerstream/derived-event"), what), an implementation independent of ours.
 */
START_TEST(derived_ids)
{
    char id[37], again[37], other[37];
    const char *what = "readiness_score_changed|u|e|67.50|job_searching";
    cs_batch_derived_id(what, strlen(what), id);
    ck_assert_str_eq(id, "730c621b-3c03-5975-b431-41f032bc42d1");
    cs_batch_derived_id("", 0, id);
    ck_assert_str_eq(id, "13e8fefc-fa75-52f9-835a-a4a78460f12b");
    /* same statement, same id; one character more, another id */
    cs_batch_derived_id(what, strlen(what), again);
    cs_batch_derived_id(what, strlen(what) - 1, other);
    ck_assert_str_eq(again, "730c621b-3c03-5975-b431-41f032bc42d1");
    ck_assert_str_ne(other, again);
}
END_TEST

/* A batch that is not a worker's with an outbox refuses to emit (FATAL: a programming error). */
START_TEST(emit_without_outbox)
{
    cs_table_def_t t[] = {{.table = "x", .columns = "a"}, {NULL}};
    cs_batch_t *b = cs_batch_new(t, 1);
    cs_event_t ev = {0};
    cs_err_t err;
    cs_err_clear(&err);
    ck_assert_int_eq(cs_batch_emit(b, NULL, NULL, &ev, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "no outbox"));
    cs_batch_destroy(b);
}
END_TEST

/*
 * The fold: a key of two columns (one of them NULL for some rows), a sum and a count folded
 * by a callback that also records the order it sees rows in. Each flushed range folds alone.
 */
#define FOLD_COLUMNS(C) C(k1) C(k2) C(n) C(seen)
typedef CS_ROW(FOLD_COLUMNS) fold_row_t;
static char fold_log[256];

static void sum_fold(cs_field_t *acc, const cs_field_t *row, cs_arena_t *scratch)
{
    char *s = cs_arena_alloc(scratch, 64);
    long long n = strtoll(acc[2].s, NULL, 10) + strtoll(row[2].s, NULL, 10);
    acc[2] = (cs_field_t){s, (size_t)snprintf(s, 64, "%lld", n)};
    /* seen: the acc's then the row's, so the text shows the order the fold ran in */
    char *t = cs_arena_alloc(scratch, acc[3].n + row[3].n + 2);
    memcpy(t, acc[3].s, acc[3].n);
    t[acc[3].n] = '+';
    memcpy(t + acc[3].n + 1, row[3].s, row[3].n);
    acc[3] = (cs_field_t){t, acc[3].n + 1 + row[3].n};
    if (strlen(fold_log) + row[3].n < sizeof fold_log)
        strncat(fold_log, row[3].s, row[3].n);
}

static const cs_table_def_t fold_tables[] = {{.table = "f",
                                              .columns = CS_COLUMNS(FOLD_COLUMNS),
                                              .conflict = "k1, k2",
                                              .merge = CS_MERGE_AGGREGATE,
                                              .aggregate = "k1, k2, sum(n), max(seen)",
                                              .fold = sum_fold},
                                             /* the same without a fold: rows go as appended */
                                             {.table = "f",
                                              .columns = CS_COLUMNS(FOLD_COLUMNS),
                                              .conflict = "k1, k2",
                                              .merge = CS_MERGE_AGGREGATE,
                                              .aggregate = "k1, k2, sum(n), max(seen)"},
                                             {NULL}};

static void fold_put(cs_batch_t *b, int table, const char *k1, const char *k2, int n,
                     const char *seen)
{
    cs_err_t err = {0};
    ck_assert_int_eq(CS_BATCH_PUT(b, table, fold_row_t, &err, .k1 = cs_val_str(k1),
                                  .k2 = cs_val_str(k2), .n = cs_val_int(n),
                                  .seen = cs_val_str(seen)),
                     0);
}

static void expect_text(cs_batch_t *b, int table, int from, int to, const char *want)
{
    size_t len;
    const char *got = cs__batch_range_text(b, table, from, to, &len);
    ck_assert_msg(len == strlen(want) && memcmp(got, want, len) == 0, "got [%.*s], want [%s]",
                  (int)len, got, want);
}

START_TEST(fold_rows)
{
    cs_batch_t *b = cs_batch_new(fold_tables, 2);
    /* events 0..4; keys (a,x) (a,NULL) (b,x); the tab in k1 of event 4 is part of its key */
    const char *k1[] = {"a", "a", "b", "a", "a\tx"}, *k2[] = {"x", NULL, "x", "x", NULL};
    for (int e = 0; e < 5; e++) {
        char seen[8];
        snprintf(seen, sizeof seen, "e%d", e);
        cs_batch_mark_event(b, e);
        fold_put(b, 0, k1[e], k2[e], 10 * (e + 1), seen);
        fold_put(b, 1, k1[e], k2[e], 10 * (e + 1), seen);
        if (e == 1) /* a second row of (a,NULL) within the same event */
            fold_put(b, 0, "a", NULL, 5, "e1b");
    }
    cs_batch_seal(b, 5);
    fold_log[0] = '\0';
    /* the whole batch: one row per key, in first-appearance order, folded in append order */
    expect_text(b, 0, 0, 5,
                "a\tx\t50\te0+e3\n"
                "a\t\\N\t25\te1+e1b\n"
                "b\tx\t30\te2\n"
                "a\\tx\t\\N\t50\te4\n");
    ck_assert_str_eq(fold_log, "e1be3");
    /* ranges fold apart (poison isolation flushes halves): no row crosses into another range */
    expect_text(b, 0, 0, 2, "a\tx\t10\te0\na\t\\N\t25\te1+e1b\n");
    expect_text(b, 0, 2, 5, "b\tx\t30\te2\na\tx\t40\te3\na\\tx\t\\N\t50\te4\n");
    /* again, the same: the fold starts from the rows as appended every time */
    expect_text(b, 0, 0, 5,
                "a\tx\t50\te0+e3\n"
                "a\t\\N\t25\te1+e1b\n"
                "b\tx\t30\te2\n"
                "a\\tx\t\\N\t50\te4\n");
    /* without a fold: the rows as appended */
    expect_text(b, 1, 0, 5,
                "a\tx\t10\te0\na\t\\N\t20\te1\nb\tx\t30\te2\na\tx\t40\te3\n"
                "a\\tx\t\\N\t50\te4\n");
    /* an undone event's rows never reach the fold */
    cs_batch_clear(b);
    cs_batch_mark_event(b, 0);
    fold_put(b, 0, "a", "x", 1, "e0");
    cs_batch_mark_event(b, 1);
    fold_put(b, 0, "a", "x", 100, "bad");
    cs_batch_undo_event(b);
    cs_batch_mark_event(b, 2);
    fold_put(b, 0, "a", "x", 2, "e2");
    cs_batch_seal(b, 3);
    expect_text(b, 0, 0, 3, "a\tx\t3\te0+e2\n");
    cs_batch_destroy(b);
}
END_TEST

/* Many keys: the fold's hash table grows past its first size and loses no key. */
START_TEST(fold_many_keys)
{
    cs_batch_t *b = cs_batch_new(fold_tables, 2);
    char k[16];
    for (int e = 0; e < 3000; e++) {
        cs_batch_mark_event(b, e);
        snprintf(k, sizeof k, "k%d", e % 1000);
        fold_put(b, 0, k, "x", e, "s");
    }
    cs_batch_seal(b, 3000);
    size_t len;
    const char *text = cs__batch_range_text(b, 0, 0, 3000, &len);
    int rows = 0;
    for (size_t i = 0; i < len; i++)
        rows += text[i] == '\n';
    ck_assert_int_eq(rows, 1000);
    /* key k7: events 7, 1007, 2007 -> 3021, its row the eighth */
    const char *p = text;
    for (int r = 0; r < 7; r++)
        p = strchr(p, '\n') + 1;
    const char *want = "k7\tx\t3021\ts+s+s\n";
    ck_assert_int_eq(strncmp(p, want, strlen(want)), 0);
    cs_batch_destroy(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("array");
    tcase_add_loop_test(tc, elements, 0, (int)(sizeof cases / sizeof *cases));
    tcase_add_test(tc, copy_escapes);
    tcase_add_test(tc, all_bytes);
    tcase_add_test(tc, derived_ids);
    tcase_add_test(tc, emit_without_outbox);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("put");
    tcase_add_test(tp, columns_string);
    tcase_add_test(tp, put_rows);
    tcase_add_test(tp, put_refusals);
    suite_add_tcase(s, tp);
    TCase *tf = tcase_create("fold");
    tcase_add_test(tf, fold_rows);
    tcase_add_test(tf, fold_many_keys);
    suite_add_tcase(s, tf);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

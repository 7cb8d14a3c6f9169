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
#include "batch_int.h"
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

/* ---- binary COPY (batch_binary.c) ---- */

/* One field: type, text (n bytes, or strlen when n == 0), the bytes expected in hex (NULL:
 * the encoder declines, the range goes as text). */
static const struct {
    cs__bin_type_t type;
    const char *text;
    size_t n;
    const char *hex;
} bin_cases[] = {
    {CS__BIN_INT2, "-2", 0, "00000002fffe"},
    {CS__BIN_INT2, "32767", 0, "000000027fff"},
    {CS__BIN_INT2, "-32768", 0, "000000028000"},
    {CS__BIN_INT2, "32768", 0, NULL},
    {CS__BIN_INT4, "0", 0, "0000000400000000"},
    {CS__BIN_INT4, "+7", 0, "0000000400000007"},
    {CS__BIN_INT4, "-2147483648", 0, "0000000480000000"},
    {CS__BIN_INT4, "2147483648", 0, NULL},
    {CS__BIN_INT4, " 7", 0, NULL},
    {CS__BIN_INT4, "", 0, NULL},
    {CS__BIN_INT4, "-", 0, NULL},
    {CS__BIN_INT4, "1.0", 0, NULL},
    {CS__BIN_INT8, "-1", 0, "00000008ffffffffffffffff"},
    {CS__BIN_INT8, "-9223372036854775808", 0, "000000088000000000000000"},
    {CS__BIN_INT8, "9223372036854775807", 0, "000000087fffffffffffffff"},
    {CS__BIN_INT8, "9223372036854775808", 0, NULL},
    {CS__BIN_INT8, "99999999999999999999", 0, NULL},
    {CS__BIN_BOOL, "t", 0, "0000000101"},
    {CS__BIN_BOOL, "true", 0, "0000000101"},
    {CS__BIN_BOOL, "f", 0, "0000000100"},
    {CS__BIN_BOOL, "false", 0, "0000000100"},
    {CS__BIN_BOOL, "yes", 0, NULL},
    {CS__BIN_BOOL, "T", 0, NULL},
    {CS__BIN_FLOAT8, "1", 0, "000000083ff0000000000000"},
    {CS__BIN_FLOAT8, "-2.5", 0, "00000008c004000000000000"},
    {CS__BIN_FLOAT8, "0.1", 0, "000000083fb999999999999a"},
    {CS__BIN_FLOAT8, ".5e1", 0, "000000084014000000000000"},
    {CS__BIN_FLOAT8, "-0", 0, "000000088000000000000000"},
    {CS__BIN_FLOAT8, "NaN", 0, "000000087ff8000000000000"},
    {CS__BIN_FLOAT8, "Infinity", 0, "000000087ff0000000000000"},
    {CS__BIN_FLOAT8, "-Infinity", 0, "00000008fff0000000000000"},
    {CS__BIN_FLOAT8, "1e400", 0, NULL},
    {CS__BIN_FLOAT8, "1e-400", 0, NULL},
    {CS__BIN_FLOAT8, "4.9406564584124654e-324", 0, "000000080000000000000001"},
    {CS__BIN_FLOAT8, "0x10", 0, NULL},
    {CS__BIN_FLOAT8, "inf", 0, NULL},
    {CS__BIN_FLOAT8, "1e", 0, NULL},
    {CS__BIN_FLOAT8, ".", 0, NULL},
    {CS__BIN_FLOAT4, "1.5", 0, "000000043fc00000"},
    {CS__BIN_FLOAT4, "NaN", 0, "000000047fc00000"},
    {CS__BIN_FLOAT4, "1e39", 0, NULL},
    {CS__BIN_FLOAT4, "1e-45", 0, "0000000400000001"},
    {CS__BIN_FLOAT4, "1e-50", 0, NULL},
    {CS__BIN_NUMERIC, "0", 0, "000000080000000000000000"},
    {CS__BIN_NUMERIC, "-0.00", 0, "000000080000000000000002"},
    {CS__BIN_NUMERIC, "1.50", 0, "0000000c000200000000000200011388"},
    {CS__BIN_NUMERIC, "-12345.678", 0, "0000000e0003000140000003000109291a7c"},
    {CS__BIN_NUMERIC, "0.0001", 0, "0000000a0001ffff000000040001"},
    {CS__BIN_NUMERIC, "1e3", 0, "0000000a000100000000000003e8"},
    {CS__BIN_NUMERIC, "2.5e-3", 0, "0000000a0001ffff000000040019"},
    {CS__BIN_NUMERIC, "10000", 0,
     "0000000a0001000100000000"
     "0001"},
    {CS__BIN_NUMERIC, "+007.", 0,
     "0000000a000100000000"
     "00000007"},
    {CS__BIN_NUMERIC, "NaN", 0, "0000000800000000c0000000"},
    {CS__BIN_NUMERIC, "Infinity", 0, NULL},
    {CS__BIN_NUMERIC, "1e1001", 0, NULL},
    {CS__BIN_NUMERIC, "1.2.3", 0, NULL},
    {CS__BIN_NUMERIC, "", 0, NULL},
    {CS__BIN_NUMERIC, "-", 0, NULL},
    {CS__BIN_NUMERIC, " 1", 0, NULL},
    {CS__BIN_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0,
     "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {CS__BIN_UUID, "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}", 0,
     "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {CS__BIN_UUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11", 0,
     "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {CS__BIN_UUID, "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", 0,
     "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {CS__BIN_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", 0, NULL},
    {CS__BIN_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", 0, NULL},
    {CS__BIN_UUID, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0, NULL},
    {CS__BIN_UUID, "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", 0, NULL},
    {CS__BIN_UUID, "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "2000-01-01 00:00:00+00", 0, "000000080000000000000000"},
    {CS__BIN_TIMESTAMPTZ, "2000-01-01 00:00:00.000001+00", 0, "000000080000000000000001"},
    {CS__BIN_TIMESTAMPTZ, "1999-12-31 23:59:59.999999Z", 0, "00000008ffffffffffffffff"},
    {CS__BIN_TIMESTAMPTZ, "2000-01-01 01:00:00+01", 0, "000000080000000000000000"},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03T21:57:43.123Z", 0, "00000008000304c09e1de438"},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03 21:57:43.123+00", 0, "00000008000304c09e1de438"},
    {CS__BIN_TIMESTAMPTZ, "2000-01-01 00:00:00-05:30", 0, "00000008000000049c2c0600"},
    {CS__BIN_TIMESTAMPTZ, "2000-01-01 00:00:00-0530", 0, "00000008000000049c2c0600"},
    {CS__BIN_TIMESTAMPTZ, "1970-01-01 00:00:00+00", 0, "00000008fffca2fec4c82000"},
    {CS__BIN_TIMESTAMPTZ, "0001-01-01 00:00:00+00", 0, "00000008ff1fe2ffc59c6000"},
    {CS__BIN_TIMESTAMPTZ, "9999-12-31 23:59:59.999999+15:59", 0, "000000080380e6fe2b94c6ff"},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03 21:57:43", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03 21:57:43.1234567+00", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03 21:57:43.+00", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03 24:00:00+00", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03 23:59:60+00", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "2026-02-29 00:00:00+00", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03 21:57:43+16", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "2026-12-03 21:57:43 UTC", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "0000-01-01 00:00:00+00", 0, NULL},
    {CS__BIN_TIMESTAMPTZ, "infinity", 0, NULL},
    {CS__BIN_DATE, "2000-01-01", 0, "0000000400000000"},
    {CS__BIN_DATE, "1999-12-31", 0, "00000004ffffffff"},
    {CS__BIN_DATE, "2024-02-29", 0, "0000000400002279"},
    {CS__BIN_DATE, "0001-01-01", 0, "00000004fff4dbf9"},
    {CS__BIN_DATE, "2023-02-29", 0, NULL},
    {CS__BIN_DATE, "2023-13-01", 0, NULL},
    {CS__BIN_DATE, "2023-1-01", 0, NULL},
    {CS__BIN_BYTES, "", 0, "00000000"},
    {CS__BIN_BYTES, "h\xc3\xa9\t\\", 0, "0000000568c3a9095c"},
    {CS__BIN_BYTES, "a\0b", 3, NULL},
    {CS__BIN_JSONB, "{}", 0, "00000003017b7d"},
    {CS__BIN_JSONB, "\"a\0\"", 4, NULL},
    {CS__BIN_BYTEA, "\\x00ff", 0, "0000000200ff"},
    {CS__BIN_BYTEA, "\\x", 0, "00000000"},
    {CS__BIN_BYTEA, "\\x0", 0, NULL},
    {CS__BIN_BYTEA, "\\x0g", 0, NULL},
    {CS__BIN_BYTEA, "abc", 0, NULL},
    {CS__BIN_NONE, "x", 0, NULL},
};

static void to_hex(char *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)p[i]);
    out[2 * n] = '\0';
}

START_TEST(bin_fields)
{
    cs_buf_t out = CS_BUF_INIT;
    char hex[256];
    const char *text = bin_cases[_i].text;
    size_t n = bin_cases[_i].n ? bin_cases[_i].n : strlen(text);

    cs_buf_puts(&out, "..");
    int rc = cs__bin_field(&out, bin_cases[_i].type, text, n);
    if (!bin_cases[_i].hex) {
        ck_assert_msg(rc == -1, "type %d '%s': encoded, should decline", bin_cases[_i].type, text);
        ck_assert_uint_eq(out.len, 2); /* nothing appended */
    } else {
        ck_assert_msg(rc == 0, "type %d '%s': declined", bin_cases[_i].type, text);
        to_hex(hex, out.data + 2, out.len - 2);
        ck_assert_str_eq(hex, bin_cases[_i].hex);
    }
    cs_buf_fini(&out);
}
END_TEST

START_TEST(bin_null_and_types)
{
    cs_buf_t out = CS_BUF_INIT;
    char hex[64];

    ck_assert_int_eq(cs__bin_field(&out, CS__BIN_UUID, NULL, 0), 0);
    to_hex(hex, out.data, out.len);
    ck_assert_str_eq(hex, "ffffffff");
    cs_buf_fini(&out);
    ck_assert_int_eq(cs__bin_type_of("int4", 'b', true), CS__BIN_INT4);
    ck_assert_int_eq(cs__bin_type_of("timestamptz", 'b', true), CS__BIN_TIMESTAMPTZ);
    ck_assert_int_eq(cs__bin_type_of("varchar", 'b', true), CS__BIN_BYTES);
    ck_assert_int_eq(cs__bin_type_of("mood", 'e', false), CS__BIN_BYTES);
    ck_assert_int_eq(cs__bin_type_of("cs_jsonb_object", 'd', false), CS__BIN_NONE);
    ck_assert_int_eq(cs__bin_type_of("_text", 'b', true), CS__BIN_NONE);
    ck_assert_int_eq(cs__bin_type_of("int4", 'b', false), CS__BIN_NONE);
    ck_assert_int_eq(cs__bin_type_of("timestamp", 'b', true), CS__BIN_NONE);
    ck_assert_int_eq(cs__bin_type_of("interval", 'b', true), CS__BIN_NONE);
}
END_TEST

/*
 * Arrays (array_send's form): element type and oid, the literal (escapes of COPY undone), the
 * bytes expected in hex (NULL: declined). Header: length, ndim, has-null, element oid, then for
 * one dimension its length and lower bound 1, then the elements as fields.
 */
static const struct {
    cs__bin_type_t elem;
    uint32_t oid;
    const char *text;
    const char *hex;
} arr_cases[] = {
    {CS__BIN_INT4, 23, "{}",
     "0000000c"
     "00000000"
     "00000000"
     "00000017"},
    {CS__BIN_INT4, 23, "{1,-2}",
     "00000024"
     "00000001"
     "00000000"
     "00000017"
     "00000002"
     "00000001"
     "0000000400000001"
     "00000004fffffffe"},
    {CS__BIN_INT4, 23, "{1,NULL}",
     "00000020"
     "00000001"
     "00000001"
     "00000017"
     "00000002"
     "00000001"
     "0000000400000001"
     "ffffffff"},
    {CS__BIN_INT4, 23, "{nUlL}",
     "00000018"
     "00000001"
     "00000001"
     "00000017"
     "00000001"
     "00000001"
     "ffffffff"},
    {CS__BIN_INT4, 23, "{\"7\"}",
     "0000001c"
     "00000001"
     "00000000"
     "00000017"
     "00000001"
     "00000001"
     "0000000400000007"},
    {CS__BIN_BYTES, 25, "{\"a,b\",\"\",\"q\\\"\\\\x\"}",
     "00000027"
     "00000001"
     "00000000"
     "00000019"
     "00000003"
     "00000001"
     "00000003612c62"
     "00000000"
     "0000000471225c78"},
    {CS__BIN_BYTES, 25, "{\"NULL\"}",
     "0000001c"
     "00000001"
     "00000000"
     "00000019"
     "00000001"
     "00000001"
     "000000044e554c4c"},
    {CS__BIN_BYTES, 25, "{abc,h\xc3\xa9}",
     "00000022"
     "00000001"
     "00000000"
     "00000019"
     "00000002"
     "00000001"
     "00000003616263"
     "0000000368c3a9"},
    {CS__BIN_UUID, 2950, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
     "00000028"
     "00000001"
     "00000000"
     "00000b86"
     "00000001"
     "00000001"
     "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {CS__BIN_INT4, 23, "{ 1}", NULL}, /* whitespace outside quotes */
    {CS__BIN_INT4, 23, "{1 }", NULL},
    {CS__BIN_BYTES, 25, "{\"a\" }", NULL},
    {CS__BIN_BYTES, 25, " {a}", NULL},
    {CS__BIN_BYTES, 25, "{a}\n", NULL},
    {CS__BIN_INT4, 23, "{1,,2}", NULL}, /* empty elements: array_in's error */
    {CS__BIN_INT4, 23, "{,1}", NULL},
    {CS__BIN_INT4, 23, "{1,}", NULL},
    {CS__BIN_INT4, 23, "{{1},{2}}", NULL}, /* two dimensions */
    {CS__BIN_INT4, 23, "[1:1]={1}", NULL}, /* dimension decoration */
    {CS__BIN_BYTES, 25, "{\"a\"b}", NULL}, /* a quote inside an element */
    {CS__BIN_BYTES, 25, "{a\"b\"}", NULL},
    {CS__BIN_BYTES, 25, "{\"a}", NULL}, /* no closing quote */
    {CS__BIN_BYTES, 25, "{\"a\\\"}", NULL},
    {CS__BIN_BYTES, 25, "{a\\,b}", NULL}, /* a backslash outside quotes */
    {CS__BIN_INT4, 23, "{1,x}", NULL},    /* the element's encoder declines */
    {CS__BIN_INT4, 23, "{\" 1\"}", NULL},
    {CS__BIN_INT2, 21, "{70000}", NULL},
    {CS__BIN_INT4, 23, "{", NULL},
    {CS__BIN_INT4, 23, "1,2", NULL},
    {CS__BIN_INT4, 23, "", NULL},
    {CS__BIN_NONE, 1186, "{x}", NULL},
};

START_TEST(bin_arrays)
{
    cs_buf_t out = CS_BUF_INIT, scratch = CS_BUF_INIT;
    char hex[512];
    const char *text = arr_cases[_i].text;

    cs_buf_puts(&out, "..");
    int rc =
        cs__bin_array(&out, arr_cases[_i].elem, arr_cases[_i].oid, text, strlen(text), &scratch);
    if (!arr_cases[_i].hex) {
        ck_assert_msg(rc == -1, "'%s': encoded, should decline", text);
        ck_assert_uint_eq(out.len, 2); /* nothing appended */
    } else {
        ck_assert_msg(rc == 0, "'%s': declined", text);
        to_hex(hex, out.data + 2, out.len - 2);
        ck_assert_str_eq(hex, arr_cases[_i].hex);
    }
    cs_buf_fini(&out);
    cs_buf_fini(&scratch);
}
END_TEST

/*
 * Fields with escapes anywhere (first, last, in a row, \\x and octal ones), through cs__bin_rows,
 * against the field encoded from its text unescaped by hand; an outbox payload's bytea ("\\x" and
 * hexadecimal digits, escaped by cs_db_copy_escape as "\\\\x...").
 */
START_TEST(bin_rows_escapes)
{
    static const struct {
        const char *copy, *text; /* the COPY text field, what it stands for */
        cs__bin_type_t type;
    } esc_cases[] = {
        {"\\tab first", "\tab first", CS__BIN_BYTES},
        {"last\\n", "last\n", CS__BIN_BYTES},
        {"\\\\\\t\\r\\\\", "\\\t\r\\", CS__BIN_BYTES},
        {"a\\x41b\\101c\\qd", "aAbAcqd", CS__BIN_BYTES},
        {"{\"why\": \"a\\\\\"b\"}", "{\"why\": \"a\\\"b\"}", CS__BIN_BYTES},
        {"\\\\x00ff10Ab", "\\x00ff10Ab", CS__BIN_BYTEA},
    };
    static const cs__bin_col_t cols[] = {{CS__BIN_INT4, false, 0}, {CS__BIN_BYTES, false, 0}};
    cs_buf_t out = CS_BUF_INIT, want = CS_BUF_INIT, scratch[2] = {CS_BUF_INIT, CS_BUF_INIT};
    int bad = -1;

    for (size_t i = 0; i < sizeof esc_cases / sizeof *esc_cases; i++) {
        cs__bin_col_t c[2] = {cols[0], {esc_cases[i].type, false, 0}};
        char row[256];
        int n = snprintf(row, sizeof row, "7\t%s\n", esc_cases[i].copy);
        ck_assert_int_eq(cs__bin_rows(&out, c, 2, row, row + n, scratch, &bad), 0);
        cs_buf_reset(&want);
        ck_assert_int_eq(
            cs__bin_field(&want, esc_cases[i].type, esc_cases[i].text, strlen(esc_cases[i].text)),
            0);
        /* header 19 bytes, field count 2, the int4 (8 bytes), then the field, then the trailer */
        ck_assert_uint_eq(out.len, 19 + 2 + 8 + want.len + 2);
        ck_assert_msg(!memcmp(out.data + 29, want.data, want.len), "case %zu: %s", i,
                      esc_cases[i].copy);
    }
    cs_buf_fini(&out);
    cs_buf_fini(&want);
    cs_buf_fini(&scratch[0]);
    cs_buf_fini(&scratch[1]);
}
END_TEST

/* A whole stream from COPY text rows: escapes undone, NULLs, header and trailer. */
START_TEST(bin_rows)
{
    static const cs__bin_col_t types[] = {{CS__BIN_BYTES, false, 0}, {CS__BIN_INT4, false, 0}};
    const char *rows = "a\\tb\t\\N\n\\\\N\t-1\n";
    cs_buf_t out = CS_BUF_INIT, scratch[2] = {CS_BUF_INIT, CS_BUF_INIT};
    char hex[256];
    int bad = -1;

    ck_assert_int_eq(cs__bin_rows(&out, types, 2, rows, rows + strlen(rows), scratch, &bad), 0);
    to_hex(hex, out.data, out.len);
    ck_assert_str_eq(hex, "5047434f50590aff0d0a00"
                          "00000000"
                          "00000000"
                          "0002"
                          "00000003610962"
                          "ffffffff"
                          "0002"
                          "000000025c4e"
                          "00000004ffffffff"
                          "ffff");
    /* too few fields, too many, a value declined, a lone backslash: the column, -1 */
    const char *few = "x\n", *many = "x\t1\t2\n", *bad_int = "x\t1\ny\tz\n", *lone = "x\\\t1\n";
    ck_assert_int_eq(cs__bin_rows(&out, types, 2, few, few + strlen(few), scratch, &bad), -1);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(cs__bin_rows(&out, types, 2, many, many + strlen(many), scratch, &bad), -1);
    ck_assert_int_eq(bad, 1);
    ck_assert_int_eq(
        cs__bin_rows(&out, types, 2, bad_int, bad_int + strlen(bad_int), scratch, &bad), -1);
    ck_assert_int_eq(bad, 1);
    ck_assert_int_eq(cs__bin_rows(&out, types, 2, lone, lone + strlen(lone), scratch, &bad), -1);
    ck_assert_int_eq(bad, 0);
    /* an array column: COPY's escapes, then the literal's (a\\b is a, backslash, b), a NULL
     * array, an array declined */
    static const cs__bin_col_t arr[] = {{CS__BIN_BYTES, true, 25}};
    const char *arows = "{\"a\\\\\\\\b\",NULL}\n\\N\n", *abad = "{a b}\n";
    ck_assert_int_eq(cs__bin_rows(&out, arr, 1, arows, arows + strlen(arows), scratch, &bad), 0);
    to_hex(hex, out.data, out.len);
    ck_assert_str_eq(hex, "5047434f50590aff0d0a00"
                          "00000000"
                          "00000000"
                          "0001"
                          "0000001f"
                          "00000001"
                          "00000001"
                          "00000019"
                          "00000002"
                          "00000001"
                          "00000003615c62"
                          "ffffffff"
                          "0001"
                          "ffffffff"
                          "ffff");
    ck_assert_int_eq(cs__bin_rows(&out, arr, 1, abad, abad + strlen(abad), scratch, &bad), -1);
    ck_assert_int_eq(bad, 0);
    cs_buf_fini(&out);
    cs_buf_fini(&scratch[0]);
    cs_buf_fini(&scratch[1]);
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
    TCase *tb = tcase_create("binary");
    tcase_add_loop_test(tb, bin_fields, 0, (int)(sizeof bin_cases / sizeof *bin_cases));
    tcase_add_test(tb, bin_null_and_types);
    tcase_add_loop_test(tb, bin_arrays, 0, (int)(sizeof arr_cases / sizeof *arr_cases));
    tcase_add_test(tb, bin_rows);
    tcase_add_test(tb, bin_rows_escapes);
    suite_add_tcase(s, tb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

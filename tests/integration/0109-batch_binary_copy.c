/*
 * tests/integration/0109-batch_binary_copy.c
 *      COPY in binary format stores the same rows as COPY in text, and refuses what text refuses.
 *
 * cs_batch_flush sends COPY in binary format for a table whose every staged column has a type the
 * runtime encodes (batch_binary.c), and text otherwise or when an encoder declines a value. This
 * test writes rows covering every supported type (uuid, text, varchar, char, an enum, json,
 * jsonb, domains over json and int4, bool, int2/4/8, float4/8, numeric with and without a
 * modifier, timestamptz, date, bytea), NULLs in every column, edge values (negative numerics and
 * zeros, NaN and infinities, times before 2000 and 1970, the year 1, escapes), to a plain COPY
 * table and to a staged upsert with repeated keys, once with binary COPY switched off and once on,
 * into two schemas, and checks that both hold exactly the same rows (as text, so the numeric scales
 * and the float bits count), that the binary run did send binary, and a few values by hand. A
 * second batch uses spellings PostgreSQL takes but the encoders decline (" 42 ", "yes", a time
 * without offset): it goes as text, and still agrees. Finally, a value that does not fit its column
 * fails the flush PERMANENT with the same SQLSTATE both ways, whether PostgreSQL's receive function
 * judges it (varchar(n), numeric(p,s), UTF-8, enum labels, jsonb, a domain's check) or the encoder
 * declines it to the text path (a bad uuid, an int2 overflow, a month 13), and the event's
 * neighbour still flushes alone (poison isolation).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/batch.h"
#include "cs/db.h"
#include "db_check.h"
#include "harness.h"

enum { T_ALL, T_UP, T__COUNT };

#define ALL_COLS                                                                                   \
    "id, u, t, vc, bc, e, js, jb, b, i2, i4, f4, f8, n, nn, ts, d, by, ta, ua, ia, na, va, ea"
#define NCOLS 24

static const cs_table_def_t tables[] = {
    [T_ALL] = {.table = "t_all", .columns = ALL_COLS},
    [T_UP] = {.table = "t_up",
              .columns = "k, n, at, c, s, tg",
              .conflict = "k",
              .update = "n = t.n + EXCLUDED.n, at = greatest(t.at, EXCLUDED.at), "
                        "c = t.c + EXCLUDED.c, s = t.s || EXCLUDED.s, tg = t.tg || EXCLUDED.tg"},
    {NULL},
};

static const char *const schema_sql =
    "CREATE TYPE mood AS ENUM ('calm', 'busy');"
    "CREATE DOMAIN jdoc AS json CHECK (json_typeof(VALUE) <> 'string');"
    "CREATE DOMAIN nonneg AS int4 CHECK (VALUE >= 0);"
    "CREATE TABLE t_all (id int8 PRIMARY KEY, u uuid, t text, vc varchar(12), bc char(3), "
    "e mood, js jdoc, jb jsonb, b bool, i2 int2, i4 int4, f4 float4, f8 float8, "
    "n numeric(14,4), nn numeric, ts timestamptz, d date, by bytea, ta text[], ua uuid[], "
    "ia int8[], na numeric[], va varchar(5)[], ea mood[]);"
    "CREATE TABLE t_up (k uuid PRIMARY KEY, n numeric NOT NULL, at timestamptz, c nonneg, s text, "
    "tg uuid[]);";

#define N(a) ((int)(sizeof(a) / sizeof *(a)))

static const char *const uuids[] = {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                                    "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12}",
                                    "00000000000000000000000000000000", NULL};
static const char *const texts[] = {
    "",     "\\",  "\t",    "\n",    "x\ty\nz\r", "h\xc3\xa9llo \xe2\x9c\x93",
    "NULL", "\\N", "a\\tb", "\"q\"", NULL};
static const char *const vcs[] = {"", "twelve chars", "ab", NULL};
static const char *const bcs[] = {"EU", "USD", "", NULL};
static const char *const moods[] = {"calm", "busy", NULL};
static const char *const jsons[] = {"{\"a\": [1, 2.50, \"x\\ty\"], \"b\": \"\\\\\"}", "[]", "null",
                                    "{\"k\": \"\\u00e9\", \"n\": 1e2}", NULL};
static const long long i2s[] = {-32768, 32767, 0, -1};
static const long long i4s[] = {-2147483648LL, 2147483647, -1, 0};
static const char *const f4s[] = {"1.5", "-0", "NaN", "3.4028235e38", "1e-30", "Infinity", NULL};
static const double f8s[] = {0.1, -2.5e-300, 1e300, -0.0, 123456789.125, 5e-324};
static const char *const nums[] = {"0",       "-0.00", "1.5",     "-12345.67891", "9999999999.9999",
                                   "0.00005", "1e3",   "-2.5e-3", "NaN",          NULL};
static const char *const nns[] = {"123456789012345678901234567890.000000000000000000001",
                                  "-0.000001",
                                  "1e-20",
                                  "10000",
                                  "1e100",
                                  "-7.10",
                                  "NaN",
                                  NULL};
static const long long tss[] = {
    0LL, -1LL, 946684799999LL, 946684800000LL, 1764000000123LL, -62135596800000LL};
static const char *const ts_texts[] = {"2026-12-03T21:57:43.123456Z", "2000-01-01 00:00:00-05:30",
                                       "1999-12-31 23:59:59.999999+01", NULL};
static const char *const dates[] = {"2000-01-01", "1999-12-31", "2024-02-29", "0001-01-01", NULL};
static const char *const byteas[] = {"\\x", "\\x00ff10", "\\xDEADbeef", NULL};
/* Arrays: quoted and unquoted elements, escapes, NULL elements, "NULL" strings, empty arrays. */
static const char *const tas[] = {"{}",
                                  "{\"a,b\",\"\",\"q\\\"\\\\x\"}",
                                  "{abc,NULL,\"NULL\",null}",
                                  "{\"h\xc3\xa9 llo\",\"tab\there\",\"{}\",\"new\nline\"}",
                                  NULL,
                                  "{\"\\\\N\",\"x\\ty\"}"};
static const char *const uas[] = {"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}", "{}",
                                  "{\"{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12}\"}", NULL};
static const char *const ias[] = {"{1,-9223372036854775808,NULL}", "{0}", NULL,
                                  "{9223372036854775807,\"-7\"}"};
static const char *const nas[] = {"{1.50,-0.001,NaN,1e3}", "{}", "{NULL,0}", NULL};
static const char *const vas[] = {"{ab,\"cd e\"}", "{}", "{\"\",NULL}", NULL, "{abcde}"};
static const char *const eas[] = {"{calm,busy}", "{NULL}", NULL, "{busy}"};

/* Row i of t_all with every kind of value (typed appenders where the runtime has them). */
static void all_row(cs_batch_t *b, int i)
{
    cs_err_t err;
    cs_batch_row_begin(b, T_ALL);
    cs_batch_int(b, i);
    cs_batch_str(b, uuids[i % N(uuids)]);
    cs_batch_str(b, texts[i % N(texts)]);
    cs_batch_str(b, vcs[i % N(vcs)]);
    cs_batch_str(b, bcs[i % N(bcs)]);
    cs_batch_str(b, moods[i % N(moods)]);
    cs_batch_str(b, jsons[i % N(jsons)]);
    cs_batch_str(b, jsons[(i + 1) % N(jsons)]);
    if (i % 3 == 2)
        cs_batch_null(b);
    else
        cs_batch_bool(b, i % 3 == 0);
    if (i % 5 == 4)
        cs_batch_null(b);
    else
        cs_batch_int(b, i2s[i % N(i2s)]);
    cs_batch_int(b, i4s[i % N(i4s)]);
    cs_batch_str(b, f4s[i % N(f4s)]);
    switch (i % 9) {
    case 6:
        cs_batch_double(b, NAN);
        break;
    case 7:
        cs_batch_double(b, i % 2 ? INFINITY : -INFINITY);
        break;
    case 8:
        cs_batch_null(b);
        break;
    default:
        cs_batch_double(b, f8s[i % N(f8s)]);
    }
    cs_batch_str(b, nums[i % N(nums)]);
    cs_batch_str(b, nns[i % N(nns)]);
    if (i % 4 == 3)
        cs_batch_str(b, ts_texts[(i / 4) % N(ts_texts)]);
    else
        cs_batch_ts_ms(b, tss[i % N(tss)]);
    cs_batch_str(b, dates[i % N(dates)]);
    cs_batch_str(b, byteas[i % N(byteas)]);
    cs_batch_str(b, tas[i % N(tas)]);
    cs_batch_str(b, uas[i % N(uas)]);
    cs_batch_str(b, ias[i % N(ias)]);
    cs_batch_str(b, nas[i % N(nas)]);
    cs_batch_str(b, vas[i % N(vas)]);
    cs_batch_str(b, eas[i % N(eas)]);
    ck_assert_int_eq(cs_batch_row_end(b, &err), 0);
}

/* Row i of t_up: eight keys, so keys repeat (sequential ranks). */
static void up_row(cs_batch_t *b, int i)
{
    cs_err_t err;
    char k[40], n[24];
    snprintf(k, sizeof k, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd3800%02d", i % 8);
    snprintf(n, sizeof n, "%d.%02d", i % 7 - 3, i % 100);
    cs_batch_row_begin(b, T_UP);
    cs_batch_str(b, k);
    cs_batch_str(b, n);
    cs_batch_ts_ms(b, 946684800000LL + 3600000LL * (i % 13) - 86400000LL * 400);
    cs_batch_int(b, i);
    cs_batch_str(b, texts[i % (N(texts) - 1)]);
    cs_batch_str(b, i % 3 ? uas[i % N(uas)] : "{}");
    ck_assert_int_eq(cs_batch_row_end(b, &err), 0);
}

#define NROWS 120

static cs_db_t *connect_schema(const char *dsn, const char *schema)
{
    char full[1024];
    cs_err_t err;
    snprintf(full, sizeof full, "%s options='-csearch_path=%s,public -cTimeZone=UTC'", dsn, schema);
    cs_db_t *db = cs_db_connect(full, "0109", &err);
    ck_assert_msg(db != NULL, "connect: %s", err.msg);
    return db;
}

/* Flushes events [0, nev) of b in one transaction. */
static void flush_ok(cs_batch_t *b, cs_db_t *db, int nev)
{
    cs_err_t err;
    exec_ok(db, "BEGIN");
    ck_assert_msg(cs_batch_flush(b, db, 0, nev, false, &err) == 0, "flush: %s", err.msg);
    exec_ok(db, "COMMIT");
}

/*
 * Writes the two batches into schema with COPY (array path off), binary on or off; returns
 * the COPYs sent in binary and declined to text in *bin, *declined.
 */
static void write_schema(const char *dsn, const char *schema, bool binary, size_t *bin,
                         size_t *declined)
{
    cs_err_t err;
    cs_db_t *db = connect_schema(dsn, schema);
    cs_batch_t *b = cs_batch_new(tables, T__COUNT);
    cs_batch_set_array_max(b, 0);
    cs_batch_set_copy_binary(b, binary);
    ck_assert_msg(cs_batch_prepare(b, db, &err) == 0, "prepare: %s", err.msg);
    for (int i = 0; i < NROWS; i++) {
        cs_batch_mark_event(b, i);
        all_row(b, i);
        up_row(b, i);
    }
    cs_batch_seal(b, NROWS);
    flush_ok(b, db, NROWS);
    cs_batch_copy_counts(b, bin, declined);
    if (binary)
        ck_assert_msg(*bin == 2 && *declined == 0, "batch 1: %zu binary, %zu declined", *bin,
                      *declined);
    /* Spellings PostgreSQL takes and the encoders leave to it: the range goes as text. */
    cs_batch_clear(b);
    const char *odd[][NCOLS] = {
        {"1000",        "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
         "x",           "y",
         "EU",          "calm",
         "1",           " 2",
         "yes",         " 42 ",
         "+7",          "inf",
         "-inf",        " 1.5 ",
         "Infinity",    "2026-12-03 10:00:00",
         "20240229",    "abc",
         "{ a , b }",   "{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}}",
         "[0:1]={1,2}", "{ 1.5 }",
         "{a\\,b}",     "{\"calm\" }"},
        {"1001",
         NULL,
         NULL,
         NULL,
         NULL,
         NULL,
         NULL,
         NULL,
         "on",
         "-0",
         "007",
         "1E3",
         "0x10",
         "-0",
         "-Infinity",
         "2026-12-03 10:00:00.1234567+02",
         "2024-2-9",
         "\\\\x00",
         "{ \"a\" }",
         "{}",
         "{{1},{2}}",
         "{NaN, 1e3}",
         "{ab,  NULL  }",
         "{ NULL }"},
    };
    for (int e = 0; e < 2; e++) {
        cs_batch_mark_event(b, e);
        ck_assert_int_eq(cs_batch_row(b, T_ALL, NCOLS, odd[e], &err), 0);
        up_row(b, 7 + e);
    }
    cs_batch_seal(b, 2);
    flush_ok(b, db, 2);
    cs_batch_copy_counts(b, bin, declined);
    cs_batch_destroy(b);
    cs_db_destroy(db);
}

static void same_rows(cs_db_t *db, const char *table)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ((SELECT x::text FROM s_text.%s x EXCEPT ALL "
             "SELECT x::text FROM s_bin.%s x) UNION ALL (SELECT x::text FROM s_bin.%s x "
             "EXCEPT ALL SELECT x::text FROM s_text.%s x)) d",
             table, table, table, table);
    ck_assert_msg(one(db, sql) == 0, "%s differs between text and binary COPY", table);
}

START_TEST(binary_rows_as_text)
{
    char dsn[512];
    size_t bin, declined;
    cs_test_fresh_db("batch_binary", 1, dsn, sizeof dsn);
    cs_db_t *db = connect_schema(dsn, "public");
    const char *schemas[] = {"s_text", "s_bin"};
    for (int i = 0; i < 2; i++) {
        char sql[2048];
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s; SET search_path = %s; %s RESET search_path",
                 schemas[i], schemas[i], schema_sql);
        exec_ok(db, sql);
    }
    write_schema(dsn, "s_text", false, &bin, &declined);
    ck_assert_msg(bin == 0 && declined == 0, "text: %zu binary, %zu declined", bin, declined);
    write_schema(dsn, "s_bin", true, &bin, &declined);
    /* batch 2: t_all declined (odd spellings), t_up binary */
    ck_assert_msg(bin == 3 && declined == 1, "binary: %zu binary, %zu declined", bin, declined);

    ck_assert_int_eq(one(db, "SELECT count(*) FROM s_bin.t_all"), NROWS + 2);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM s_bin.t_up"), 8);
    same_rows(db, "t_all");
    same_rows(db, "t_up");
    /* A few values by hand, so that agreeing is not agreeing on something wrong. */
    exec_ok(db, "SET search_path = s_bin");
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE id = 13 AND "
                             "n::text = '-12345.6789' AND ts = '1969-12-31 23:59:59.999+00' AND "
                             "nn::text = '-7.10' AND d = '0001-01-01' AND by = '\\x00ff10' AND "
                             "u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12' AND e = 'busy' AND "
                             "i4 = 2147483647 AND t = E'\\t' AND b = false"),
                     1);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE n::text = '0.0001' AND id < 1000"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 10 = 5"));
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE n::text = '0.0000' AND "
                             "id % 10 = 1 AND id < 1000"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 10 = 1 AND id < 1000"));
    ck_assert_int_eq(
        one(db, "SELECT count(*) FROM t_all WHERE f8 = 'NaN' AND id % 9 = 6 AND id < 1000"),
        one(db, "SELECT count(*) FROM t_all WHERE id % 9 = 6 AND id < 1000"));
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE ts = '0001-01-01 00:00:00+00'"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 6 = 5 AND id % 4 <> 3 "
                             "AND id < 1000"));
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE t = E'x\\ty\\nz\\r'"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 11 = 4 AND id < 1000"));
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE ts = "
                             "'2026-12-03 21:57:43.123456+00'"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 4 = 3 AND (id / 4) % 4 = 0 "
                             "AND id < 1000"));
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE ta = ARRAY['a,b', '', E'q\"\\\\x'] "
                             "AND id < 1000"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 6 = 1 AND id < 1000"));
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE ta::text = "
                             "'{abc,NULL,\"NULL\",NULL}' AND ta[2] IS NULL AND ta[3] = 'NULL'"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 6 = 2 AND id < 1000"));
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE "
                             "ia::text = '{1,-9223372036854775808,NULL}' AND "
                             "ua::text = '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}' AND "
                             "na::text = '{1.50,-0.001,NaN,1000}' AND array_ndims(na) = 1"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 4 = 0 AND id < 1000"));
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE cardinality(ta) = 0 AND "
                             "array_ndims(ta) IS NULL AND id < 1000"),
                     one(db, "SELECT count(*) FROM t_all WHERE id % 6 = 0 AND id < 1000"));
    long long want = 0;
    for (int i = 0; i < NROWS; i++)
        want += i % 8 == 5 ? i : 0;
    ck_assert_int_eq(one(db, "SELECT c FROM t_up WHERE k = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380005'"),
                     want);
    exec_ok(db, "RESET search_path");
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

/* One column's bad value, the SQLSTATE PostgreSQL gives it, and whether the encoder sends it. */
static const struct {
    int col;
    const char *value;
    const char *sqlstate;
} bad[] = {
    {3, "thirteen char", "22001"},           /* varchar(12): varchar_recv judges it */
    {13, "1e20", "22003"},                   /* numeric(14,4): numeric_recv's typmod */
    {2, "caf\xff", "22021"},                 /* not UTF-8: text_recv verifies it */
    {5, "sleepy", "22P02"},                  /* not a label: enum_recv */
    {7, "{bad", "22P02"},                    /* jsonb_recv parses its text */
    {1, "not-a-uuid", "22P02"},              /* declined: uuid_in's error */
    {9, "70000", "22003"},                   /* declined: int2's range */
    {15, "2026-13-01 00:00:00+00", "22008"}, /* declined: the month */
    {6, "\"str\"", "23514"},                 /* a domain's check, after json_recv */
    {22, "{ab,abcdef}", "22001"},            /* varchar(5)[]: the element's varchar_recv */
    {23, "{calm,sleepy}", "22P02"},          /* mood[]: the element's enum_recv */
    {18, "{\"caf\xff\"}", "22021"},          /* text[]: the element's text_recv */
    {20, "{1,x}", "22P02"},                  /* declined: int8in's error, in array_in */
    {19, "{a b", "22P02"},                   /* declined: a malformed array literal */
    {21, "{1,{2}}", "22P02"},                /* declined: nested braces */
};

static const char *const col_names[NCOLS] = {"id", "u",  "t",  "vc", "bc", "e",  "js", "jb",
                                             "b",  "i2", "i4", "f4", "f8", "n",  "nn", "ts",
                                             "d",  "by", "ta", "ua", "ia", "na", "va", "ea"};

/*
 * The error names the table's column (cs-error-field "t_all.<column>") and the COPY's line in its
 * message, both ways; a bad encoding in text is the whole line's (PostgreSQL names no column).
 */
static void names_column(const cs_err_t *err, int k, bool binary, int line)
{
    char field[80], where[80];
    bool whole_line = !binary && !strcmp(bad[k].sqlstate, "22021");
    snprintf(field, sizeof field, "t_all.%s", col_names[bad[k].col]);
    if (whole_line)
        snprintf(where, sizeof where, " (line %d)", line);
    else
        snprintf(where, sizeof where, " (line %d, column %s)", line, col_names[bad[k].col]);
    ck_assert_msg(!strcmp(err->field, whole_line ? "" : field), "case %d (%s): field '%s': %s", k,
                  binary ? "binary" : "text", err->field, err->msg);
    ck_assert_msg(strstr(err->msg, where) != NULL, "case %d (%s): '%s' not in %s", k,
                  binary ? "binary" : "text", where, err->msg);
}

/* Flushes a good event then a bad one: the pair fails PERMANENT, each alone as it should. */
static void refuse(cs_db_t *db, int k, bool binary)
{
    cs_err_t err;
    cs_batch_t *b = cs_batch_new(tables, T__COUNT);
    cs_batch_set_array_max(b, 0);
    cs_batch_set_copy_binary(b, binary);
    ck_assert_msg(cs_batch_prepare(b, db, &err) == 0, "prepare: %s", err.msg);
    const char *vals[NCOLS] = {NULL};
    for (int e = 0; e < 2; e++) {
        char id[16];
        snprintf(id, sizeof id, "%d", 5000 + e);
        vals[0] = id;
        vals[bad[k].col] = e == 1 ? bad[k].value : NULL;
        cs_batch_mark_event(b, e);
        ck_assert_int_eq(cs_batch_row(b, T_ALL, NCOLS, vals, &err), 0);
    }
    cs_batch_seal(b, 2);
    exec_ok(db, "BEGIN");
    ck_assert_int_eq(cs_batch_flush(b, db, 0, 2, false, &err), -1);
    ck_assert_msg(err.kind == CS_ERR_PERMANENT, "case %d (%s): kind %d: %s", k,
                  binary ? "binary" : "text", err.kind, err.msg);
    ck_assert_msg(!strcmp(err.sqlstate, bad[k].sqlstate), "case %d (%s): %s, not %s: %s", k,
                  binary ? "binary" : "text", err.sqlstate, bad[k].sqlstate, err.msg);
    ck_assert_msg(strstr(err.msg, "t_all") != NULL, "%s", err.msg);
    names_column(&err, k, binary, 2);
    exec_ok(db, "ROLLBACK");
    /* isolation: the good event alone flushes, the bad one alone fails the same way */
    exec_ok(db, "BEGIN");
    ck_assert_msg(cs_batch_flush(b, db, 0, 1, true, &err) == 0, "%s", err.msg);
    exec_ok(db, "SAVEPOINT p");
    ck_assert_int_eq(cs_batch_flush(b, db, 1, 2, true, &err), -1);
    ck_assert_str_eq(err.sqlstate, bad[k].sqlstate);
    names_column(&err, k, binary, 1);
    exec_ok(db, "ROLLBACK TO SAVEPOINT p");
    exec_ok(db, "COMMIT");
    ck_assert_int_eq(one(db, "SELECT count(*) FROM t_all WHERE id = 5000"), 1);
    exec_ok(db, "DELETE FROM t_all");
    size_t nbin, ndecl;
    cs_batch_copy_counts(b, &nbin, &ndecl);
    if (binary)
        ck_assert_msg(nbin + ndecl == 3, "case %d: %zu binary, %zu declined", k, nbin, ndecl);
    cs_batch_destroy(b);
}

START_TEST(refused_values)
{
    char dsn[512];
    cs_test_fresh_db("batch_binary_refused", 1, dsn, sizeof dsn);
    cs_db_t *db = connect_schema(dsn, "public");
    exec_ok(db, schema_sql);
    for (int k = 0; k < N(bad); k++) {
        refuse(db, k, false);
        refuse(db, k, true);
    }
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

/* A staged table's bad value: the field names the target's column, not the staging table's. */
START_TEST(staged_names_target)
{
    char dsn[512];
    cs_test_fresh_db("batch_binary_staged", 1, dsn, sizeof dsn);
    cs_db_t *db = connect_schema(dsn, "public");
    exec_ok(db, schema_sql);
    for (int binary = 0; binary < 2; binary++) {
        cs_err_t err;
        cs_batch_t *b = cs_batch_new(tables, T__COUNT);
        cs_batch_set_array_max(b, 0);
        cs_batch_set_copy_binary(b, binary);
        ck_assert_msg(cs_batch_prepare(b, db, &err) == 0, "prepare: %s", err.msg);
        cs_batch_mark_event(b, 0);
        cs_batch_row_begin(b, T_UP);
        cs_batch_str(b, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380001");
        cs_batch_str(b, "1.5x"); /* n numeric: 22P02 */
        cs_batch_str(b, NULL);
        cs_batch_int(b, 1);
        cs_batch_str(b, "s");
        cs_batch_str(b, "{}");
        ck_assert_int_eq(cs_batch_row_end(b, &err), 0);
        cs_batch_seal(b, 1);
        exec_ok(db, "BEGIN");
        ck_assert_int_eq(cs_batch_flush(b, db, 0, 1, false, &err), -1);
        ck_assert_str_eq(err.sqlstate, "22P02");
        ck_assert_msg(!strcmp(err.field, "t_up.n"), "%s: field '%s': %s",
                      binary ? "binary" : "text", err.field, err.msg);
        exec_ok(db, "ROLLBACK");
        cs_batch_destroy(b);
    }
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch_binary_copy");
    TCase *tc = tcase_create("binary");
    tcase_set_timeout(tc, 120 * cs_test_timeout_mult());
    tcase_add_test(tc, binary_rows_as_text);
    tcase_add_test(tc, refused_values);
    tcase_add_test(tc, staged_names_target);
    suite_add_tcase(s, tc);
    return db_check_run(s);
}

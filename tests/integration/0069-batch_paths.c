/*
 * tests/integration/0069-batch_paths.c
 *      The two ways a batch writes a table (array statements, COPY + staging) give the same rows.
 *
 * cs_batch_flush writes a table's rows with one statement from text[] parameters when the range
 * is small (cs_batch_set_array_max) and with COPY into a staging table (or the table itself)
 * otherwise. This test appends the same rows, tricky strings included, for every merge mode
 * (plain append, DO NOTHING, sequential with repeated keys, last, aggregate with presort, window,
 * staged columns and a parent table) to two identical schemas, one written each way, then checks
 * the expected values in each and that the two schemas hold exactly the same rows. It also checks
 * the range flushes of poison isolation, the pipelined flush (one round trip, checks on the
 * server) and a value the column refuses (a PERMANENT error naming the table, not a value cut to
 * fit).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/batch.h"
#include "cs/db.h"
#include "db_check.h"
#include "harness.h"

enum { T_APP, T_NOTHING, T_SEQ, T_LAST, T_AGG, T__COUNT };

static const cs_table_def_t tables[] = {
    [T_APP] = {.table = "b_app", .columns = "id, s, j, c, tags, at"},
    [T_NOTHING] = {.table = "b_nothing", .columns = "k, v", .conflict = "k"},
    [T_SEQ] = {.table = "b_seq",
               .columns = "k, n, v",
               .conflict = "k",
               .update = "n = t.n + EXCLUDED.n, v = t.v || EXCLUDED.v"},
    [T_LAST] = {.table = "b_last",
                .columns = "k, v",
                .conflict = "k",
                .update = "v = EXCLUDED.v",
                .merge = CS_MERGE_LAST},
    [T_AGG] = {.table = "b_agg",
               .columns = "k, n, first_v, newest_v, since",
               .staged = "k, n, newest_v, since",
               .conflict = "k",
               .merge = CS_MERGE_AGGREGATE,
               .presort = "since DESC",
               .window = "min(_cs_seq) OVER w AS _cs_first",
               .aggregate =
                   "k, sum(n), (array_agg(newest_v) FILTER (WHERE _cs_seq = _cs_first))[1], "
                   "(array_agg(newest_v))[1], min(since)",
               .update = "n = t.n + EXCLUDED.n, newest_v = EXCLUDED.newest_v",
               .parent_table = "b_parent",
               .parent_key = "k"},
    {NULL},
};

static const char *const tricky[] = {
    "",
    "\\",
    "\"",
    "{",
    "}",
    ",",
    "a,b",
    "{a,b}",
    "\t",
    "\n",
    "\r",
    "x\ty\nz\r",
    "h\xc3\xa9llo \xe2\x9c\x93",
    " lead",
    "trail ",
    "  both  ",
    "NULL",
    "null",
    "\\N",
    "a\\tb",
    "\"quoted\"",
    "back\\slash\"quote",
    "'single'",
    "$1 $cs$",
};
#define NTRICKY ((int)(sizeof tricky / sizeof *tricky))

static const char *const schema_sql =
    "CREATE TABLE b_app (id int PRIMARY KEY, s text, j jsonb, c char(3), tags text[], "
    "at timestamptz);"
    "CREATE TABLE b_nothing (k text PRIMARY KEY, v text);"
    "CREATE TABLE b_seq (k text PRIMARY KEY, n int NOT NULL, v text NOT NULL);"
    "CREATE TABLE b_last (k text PRIMARY KEY, v text);"
    "CREATE TABLE b_parent (k text PRIMARY KEY);"
    "CREATE TABLE b_agg (k text PRIMARY KEY REFERENCES b_parent, n int, first_v text, "
    "newest_v text, since timestamptz);";

/* Appends every test row to b: one event per row group. */
static void fill(cs_batch_t *b, int round)
{
    cs_err_t err;
    int ev = 0;
    for (int i = 0; i < NTRICKY; i++) {
        cs_batch_mark_event(b, ev++);
        cs_batch_row_begin(b, T_APP);
        cs_batch_int(b, round * 1000 + i);
        cs_batch_str(b, tricky[i]);
        /* jsonb, char(3) and text[] values given as text */
        char json[64];
        snprintf(json, sizeof json, "{\"i\": %d, \"s\": \"a\\\\b\"}", i);
        cs_batch_str(b, json);
        cs_batch_str(b, i % 2 ? "EU" : "USD");
        cs_batch_str(b, "{\"x,y\",NULL,\"\\\\\"}");
        cs_batch_ts_ms(b, 1764000000000LL + i);
        ck_assert_int_eq(cs_batch_row_end(b, &err), 0);
        const char *kv[] = {tricky[i], tricky[(i + 1) % NTRICKY]};
        ck_assert_int_eq(cs_batch_row(b, T_NOTHING, 2, kv, &err), 0);
        ck_assert_int_eq(cs_batch_row(b, T_LAST, 2, kv, &err), 0);
        /* three keys, each appended many times: sequential ranks, folds, last wins */
        char k[8];
        snprintf(k, sizeof k, "k%d", i % 3);
        cs_batch_row_begin(b, T_SEQ);
        cs_batch_str(b, k);
        cs_batch_int(b, i + 1);
        cs_batch_str(b, tricky[i]);
        ck_assert_int_eq(cs_batch_row_end(b, &err), 0);
        cs_batch_row_begin(b, T_AGG);
        cs_batch_str(b, k);
        cs_batch_int(b, 1);
        cs_batch_str(b, tricky[i]);
        cs_batch_ts_ms(b, 1764000000000LL + 1000LL * ((i * 7) % NTRICKY));
        ck_assert_int_eq(cs_batch_row_end(b, &err), 0);
        /* a row of the same key twice in one event for the DO NOTHING table */
        ck_assert_int_eq(cs_batch_row(b, T_NOTHING, 2, kv, &err), 0);
    }
    cs_batch_seal(b, ev);
}

static cs_db_t *connect_schema(const char *dsn, const char *schema)
{
    char full[1024];
    cs_err_t err;
    snprintf(full, sizeof full, "%s options='-csearch_path=%s,public'", dsn, schema);
    cs_db_t *db = cs_db_connect(full, "0069", &err);
    ck_assert_msg(db != NULL, "connect: %s", err.msg);
    return db;
}

/*
 * Writes two rounds (the second updates what the first inserted) into schema with array_max:
 * mode 0 one flush, 1 ranges of five events (poison isolation), 2 pipelined (one round trip).
 */
static void write_schema(const char *dsn, const char *schema, size_t array_max, int mode)
{
    cs_err_t err;
    cs_db_t *db = connect_schema(dsn, schema);
    cs_batch_t *b = cs_batch_new(tables, T__COUNT);
    cs_batch_set_array_max(b, array_max);
    ck_assert_msg(cs_batch_prepare(b, db, &err) == 0, "prepare: %s", err.msg);
    for (int round = 0; round < 2; round++) {
        cs_batch_clear(b);
        fill(b, round);
        if (mode == 2) {
            ck_assert(cs_batch_arrays_only(b, 0, NTRICKY));
            ck_assert_int_eq(cs_db_pipeline_begin(db, &err), 0);
            ck_assert_int_eq(cs_db_pipeline_send(db, "BEGIN", false, 0, NULL, &err), 0);
            ck_assert_msg(cs_batch_flush_send(b, db, 0, NTRICKY, &err) == 0, "%s", err.msg);
            ck_assert_int_eq(cs_db_pipeline_send(db, "COMMIT", false, 0, NULL, &err), 0);
            ck_assert_msg(cs_db_pipeline_end(db, &err) == 0, "pipeline: %s", err.msg);
            continue;
        }
        exec_ok(db, "BEGIN");
        if (mode == 1) {
            /* poison isolation flushes ranges of events in one transaction */
            for (int a = 0; a < NTRICKY; a += 5) {
                int z = a + 5 < NTRICKY ? a + 5 : NTRICKY;
                ck_assert_msg(cs_batch_flush(b, db, a, z, true, &err) == 0, "flush: %s", err.msg);
            }
        } else {
            ck_assert_msg(cs_batch_flush(b, db, 0, NTRICKY, false, &err) == 0, "flush: %s",
                          err.msg);
        }
        exec_ok(db, "COMMIT");
    }
    cs_batch_destroy(b);
    cs_db_destroy(db);
}

static void check_schema(const char *dsn, const char *schema)
{
    cs_err_t err;
    cs_db_t *db = connect_schema(dsn, schema);
    /* Every tricky string came back as it was given. */
    for (int i = 0; i < NTRICKY; i++) {
        const char *params[] = {tricky[i]};
        cs_db_res_t *r =
            cs_db_query(db, "SELECT count(*) FROM b_app WHERE s = $1", 1, params, &err);
        ck_assert_msg(r != NULL, "%s", err.msg);
        ck_assert_msg(!strcmp(cs_db_res_get(r, 0, 0), "2"), "%s: string %d did not round-trip",
                      schema, i);
        cs_db_res_free(r);
    }
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_app"), 2 * NTRICKY);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_app WHERE c = 'EU ' AND tags[1] = 'x,y' "
                             "AND tags[2] IS NULL AND tags[3] = '\\' AND j->>'s' = 'a\\b'"),
                     NTRICKY); /* odd rows of two rounds */
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_nothing"), NTRICKY);
    /* Sequential: every row of a key applied in order, over both rounds. */
    long long want = 0;
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < NTRICKY; i += 3)
            want += i + 1;
    ck_assert_int_eq(one(db, "SELECT n FROM b_seq WHERE k = 'k0'"), want);
    {
        char sql[64];
        cs_buf_t v = CS_BUF_INIT;
        for (int r = 0; r < 2; r++)
            for (int i = 1; i < NTRICKY; i += 3)
                cs_buf_puts(&v, tricky[i]);
        const char *params[] = {v.data};
        snprintf(sql, sizeof sql, "SELECT count(*) FROM b_seq WHERE k = 'k1' AND v = $1");
        cs_db_res_t *res = cs_db_query(db, sql, 1, params, &err);
        ck_assert_msg(res != NULL, "%s", err.msg);
        ck_assert_msg(!strcmp(cs_db_res_get(res, 0, 0), "1"), "%s: sequential order lost", schema);
        cs_db_res_free(res);
        cs_buf_fini(&v);
    }
    /* Last: the last row per key. */
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_last WHERE k = '' AND v = '\\'"), 1);
    /* Aggregate: sums over both rounds, the first appended value kept, parents made. */
    ck_assert_int_eq(one(db, "SELECT sum(n) FROM b_agg"), 2 * NTRICKY);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_agg WHERE k = 'k0' AND first_v = ''"), 1);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_parent"), 3);
    cs_db_destroy(db);
}

static void same_rows(cs_db_t *db, const char *table, const char *cols, const char *schema)
{
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ((SELECT %s FROM s_copy.%s EXCEPT ALL SELECT %s FROM %s.%s) "
             "UNION ALL (SELECT %s FROM %s.%s EXCEPT ALL SELECT %s FROM s_copy.%s)) d",
             cols, table, cols, schema, table, cols, schema, table, cols, table);
    ck_assert_msg(one(db, sql) == 0, "%s differs between %s and the COPY path", table, schema);
}

START_TEST(paths_agree)
{
    char dsn[512];
    cs_test_fresh_db("batch_paths", 1, dsn, sizeof dsn);
    cs_db_t *db = connect_schema(dsn, "public");
    const char *schemas[] = {"s_copy", "s_arr", "s_ranges", "s_pipe"};
    for (int i = 0; i < 4; i++) {
        const char *s = schemas[i];
        char sql[2048];
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s; SET search_path = %s; %s RESET search_path", s,
                 s, schema_sql);
        exec_ok(db, sql);
    }
    write_schema(dsn, "s_copy", 0, 0);
    write_schema(dsn, "s_arr", 1000, 0);
    write_schema(dsn, "s_ranges", 1000, 1);
    write_schema(dsn, "s_pipe", 1000, 2);
    for (int i = 0; i < 4; i++)
        check_schema(dsn, schemas[i]);
    const char *names[] = {"b_app", "b_nothing", "b_seq", "b_last", "b_agg", "b_parent"};
    for (int k = 1; k < 4; k++)
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            /*
             * Ranges fold each range's rows on its own: the aggregate table's newest value and
             * start follow the range (this definition's update does not reconcile them), while
             * the sums and the first value (set once, by the first range's insert) must agree.
             */
            bool part = k == 2 && !strcmp(names[i], "b_agg");
            same_rows(db, names[i], part ? "k, n, first_v" : "*", schemas[k]);
        }
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

/* A value its column refuses fails the flush with a PERMANENT error naming the table. */
START_TEST(refused_value)
{
    char dsn[512];
    cs_err_t err;
    cs_test_fresh_db("batch_refused", 1, dsn, sizeof dsn);
    cs_db_t *db = connect_schema(dsn, "public");
    exec_ok(db, schema_sql);
    cs_batch_t *b = cs_batch_new(tables, T__COUNT);
    ck_assert_int_eq(cs_batch_prepare(b, db, &err), 0);
    const char *bad[][3] = {{"k", "not a number", "v"}, {"k", "1", NULL}};
    for (int c = 0; c < 2; c++) {
        cs_batch_clear(b);
        cs_batch_mark_event(b, 0);
        ck_assert_int_eq(cs_batch_row(b, T_SEQ, 3, bad[c], &err), 0);
        cs_batch_seal(b, 1);
        exec_ok(db, "BEGIN");
        ck_assert_int_eq(cs_batch_flush(b, db, 0, 1, false, &err), -1);
        ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
        ck_assert_msg(strstr(err.msg, "b_seq") != NULL, "%s", err.msg);
        ck_assert_str_eq(err.sqlstate, c == 0 ? "22P02" : "23502");
        exec_ok(db, "ROLLBACK");
    }
    /* char(3): a longer value fails as COPY's would, it is not cut */
    cs_batch_clear(b);
    cs_batch_mark_event(b, 0);
    cs_batch_row_begin(b, T_APP);
    cs_batch_int(b, 1);
    cs_batch_null(b);
    cs_batch_null(b);
    cs_batch_str(b, "EURO");
    cs_batch_null(b);
    cs_batch_null(b);
    ck_assert_int_eq(cs_batch_row_end(b, &err), 0);
    cs_batch_seal(b, 1);
    exec_ok(db, "BEGIN");
    ck_assert_int_eq(cs_batch_flush(b, db, 0, 1, false, &err), -1);
    ck_assert_str_eq(err.sqlstate, "22001");
    exec_ok(db, "ROLLBACK");
    cs_batch_destroy(b);
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

/*
 * The pipelined flush's checks run on the server. A sequential upsert whose keys are equal as
 * uuids but spelled differently has more rows per key than the client counted from the texts:
 * pipelined, the statement fails with CSR01 and nothing is applied; the step-by-step flush asks
 * the server how many ranks there are and applies every row. A failed cs_require in a pipeline
 * skips the statements after it and leaves the transaction for the caller's ROLLBACK.
 */
static const cs_table_def_t useq[] = {
    {.table = "b_useq", .columns = "k, n", .conflict = "k", .update = "n = t.n * 10 + EXCLUDED.n"},
    {NULL},
};

START_TEST(pipelined_checks)
{
    char dsn[512];
    cs_err_t err;
    cs_test_fresh_db("batch_pipe", 1, dsn, sizeof dsn);
    cs_db_t *db = connect_schema(dsn, "public");
    exec_ok(db, "CREATE TABLE b_useq (k uuid PRIMARY KEY, n int NOT NULL)");
    cs_batch_t *b = cs_batch_new(useq, 1);
    ck_assert_int_eq(cs_batch_prepare(b, db, &err), 0);
    const char *k[] = {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                       "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"};
    for (int i = 0; i < 2; i++) {
        cs_batch_mark_event(b, i);
        char n[8];
        snprintf(n, sizeof n, "%d", i + 1);
        const char *v[] = {k[i], n};
        ck_assert_int_eq(cs_batch_row(b, 0, 2, v, &err), 0);
    }
    cs_batch_seal(b, 2);

    ck_assert_int_eq(cs_db_pipeline_begin(db, &err), 0);
    ck_assert_int_eq(cs_db_pipeline_send(db, "BEGIN", false, 0, NULL, &err), 0);
    ck_assert_int_eq(cs_batch_flush_send(b, db, 0, 2, &err), 0);
    ck_assert_int_eq(cs_db_pipeline_send(db, "COMMIT", false, 0, NULL, &err), 0);
    ck_assert_int_eq(cs_db_pipeline_end(db, &err), -1);
    ck_assert_str_eq(err.sqlstate, "CSR01");
    exec_ok(db, "ROLLBACK");
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_useq"), 0);

    exec_ok(db, "BEGIN");
    ck_assert_msg(cs_batch_flush(b, db, 0, 2, false, &err) == 0, "%s", err.msg);
    exec_ok(db, "COMMIT");
    ck_assert_int_eq(one(db, "SELECT n FROM b_useq"), 12); /* 1, then 1 * 10 + 2 */

    /* A check that fails mid-pipeline: the insert after it never runs. */
    ck_assert_int_eq(cs_db_pipeline_begin(db, &err), 0);
    ck_assert_int_eq(cs_db_pipeline_send(db, "BEGIN", false, 0, NULL, &err), 0);
    ck_assert_int_eq(cs_db_pipeline_send(db, "UPDATE b_useq SET n = 0", false, 0, NULL, &err), 0);
    ck_assert_int_eq(cs_db_pipeline_send(db, "SELECT cs_require(false, 'CSF01', 'fenced')", false,
                                         0, NULL, &err),
                     0);
    ck_assert_int_eq(cs_db_pipeline_send(db, "INSERT INTO b_useq VALUES (gen_random_uuid(), 5)",
                                         false, 0, NULL, &err),
                     0);
    ck_assert_int_eq(cs_db_pipeline_send(db, "COMMIT", false, 0, NULL, &err), 0);
    ck_assert_int_eq(cs_db_pipeline_end(db, &err), -1);
    ck_assert_str_eq(err.sqlstate, "CSF01");
    ck_assert_msg(strstr(err.msg, "fenced") != NULL, "%s", err.msg);
    exec_ok(db, "ROLLBACK");
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_useq WHERE n = 12"), 1);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM b_useq"), 1);
    /* cs_require passes true and NULL */
    ck_assert_int_eq(one(db, "SELECT count(*) FROM (SELECT cs_require(true, 'CSR01', 'x'), "
                             "cs_require(NULL, 'CSR01', 'x')) s"),
                     1);
    cs_batch_destroy(b);
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch_paths");
    TCase *tc = tcase_create("paths");
    tcase_set_timeout(tc, 120 * cs_test_timeout_mult());
    tcase_add_test(tc, paths_agree);
    tcase_add_test(tc, refused_value);
    tcase_add_test(tc, pipelined_checks);
    suite_add_tcase(s, tc);
    return db_check_run(s);
}

/*
 * tests/integration/0113-batch_staging.c
 *      The staging tables' lifecycle: emptied by every flush, never by the commit, bounded.
 *
 * An upsert table's rows go through the session's temporary table cs_stage_<i> (COPY, then the
 * merge). The staging tables are not ON COMMIT DELETE ROWS (PostgreSQL would truncate all of them
 * at every commit): each flush deletes what it staged in its own transaction, and one in a while
 * truncates the table instead, so dead rows do not pile up (batch.c, "Staging"). These tests use
 * the COPY path only (array_max 0) on one accumulating upsert (n = t.n + EXCLUDED.n: a row merged
 * twice, or a row of another batch merged, shows in the sums) and check that:
 *  - after a committed batch the staging table holds no live row but keeps its pages (the commit
 *    truncated nothing);
 *  - a batch rolled back after its merge, and a range rolled back to its savepoint after a failed
 *    merge (poison isolation), leave nothing behind for the next batch's merge;
 *  - over many batches the staging table's size stays bounded, and every batch's rows are merged
 *    exactly once across its truncations;
 *  - an insert_first table stores rows of new keys with its plain INSERT, and falls back to the
 *    upsert when a key is stored after all, appended twice, or replayed (DO NOTHING), with the
 *    rows the upsert alone stores; another error is not taken for a conflict.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/batch.h"
#include "cs/db.h"
#include "db_check.h"
#include "harness.h"

static const cs_table_def_t tables[] = {
    {.table = "st_sum", .columns = "k, n, pad", .conflict = "k", .update = "n = t.n + EXCLUDED.n"},
    {NULL},
};

/* The target refuses n < 0: a merge that fails after its rows were staged. */
static const char *const schema_sql =
    "CREATE TABLE st_sum (k text PRIMARY KEY, n int NOT NULL CHECK (n >= 0), pad text)";

#define NKEYS 7

/* A batch of nev events; event e appends one row of key k<e % NKEYS> with n (per event). */
static void fill(cs_batch_t *b, int nev, const int *n, size_t padlen)
{
    cs_err_t err;
    char *pad = malloc(padlen + 1);
    memset(pad, 'p', padlen);
    pad[padlen] = '\0';
    cs_batch_clear(b);
    for (int e = 0; e < nev; e++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", e % NKEYS);
        snprintf(v, sizeof v, "%d", n[e]);
        const char *row[] = {k, v, pad};
        cs_batch_mark_event(b, e);
        ck_assert_int_eq(cs_batch_row(b, 0, 3, row, &err), 0);
    }
    cs_batch_seal(b, nev);
    free(pad);
}

static void flush_ok(cs_batch_t *b, cs_db_t *db, int from, int to, bool isolate)
{
    cs_err_t err;
    ck_assert_msg(cs_batch_flush(b, db, from, to, isolate, &err) == 0, "flush: %s", err.msg);
}

static cs_db_t *setup(char *dsn, size_t size, const char *tag, cs_batch_t **b)
{
    cs_err_t err;
    cs_test_fresh_db(tag, 1, dsn, size);
    cs_db_t *db = cs_db_connect(dsn, "0113", &err);
    ck_assert_msg(db != NULL, "connect: %s", err.msg);
    exec_ok(db, schema_sql);
    *b = cs_batch_new(tables, 1);
    cs_batch_set_array_max(*b, 0); /* always COPY through staging */
    ck_assert_msg(cs_batch_prepare(*b, db, &err) == 0, "prepare: %s", err.msg);
    return db;
}

static long long sum_n(cs_db_t *db)
{
    return one(db, "SELECT coalesce(sum(n), 0) FROM st_sum");
}

/* A committed batch: its rows merged once, the staging table empty but not truncated. */
START_TEST(commit_keeps_pages)
{
    char dsn[512];
    cs_batch_t *b;
    cs_db_t *db = setup(dsn, sizeof dsn, "stage_commit", &b);
    int n[40];
    for (int i = 0; i < 40; i++)
        n[i] = 1;
    for (int round = 1; round <= 3; round++) {
        fill(b, 40, n, 20);
        exec_ok(db, "BEGIN");
        flush_ok(b, db, 0, 40, false);
        exec_ok(db, "COMMIT");
        ck_assert_int_eq(sum_n(db), 40 * round);
        ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);
        /* ON COMMIT DELETE ROWS would have truncated the table to 0 bytes at the commit. */
        ck_assert_msg(one(db, "SELECT pg_relation_size('cs_stage_0')") > 0,
                      "the commit truncated the staging table");
    }
    ck_assert_int_eq(one(db, "SELECT count(*) FROM st_sum WHERE n = 3 * (CASE WHEN k IN ('k0', "
                             "'k1', 'k2', 'k3', 'k4') THEN 6 ELSE 5 END)"),
                     NKEYS);
    cs_batch_destroy(b);
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

/*
 * A batch rolled back after its merge (a later step of the transaction failed), then a range of
 * a batch rolled back to its savepoint after its merge failed: the next merges see only their
 * own rows.
 */
START_TEST(rollbacks_leave_nothing)
{
    char dsn[512];
    cs_err_t err;
    cs_batch_t *b;
    cs_db_t *db = setup(dsn, sizeof dsn, "stage_rollback", &b);
    int n[20];

    for (int i = 0; i < 20; i++)
        n[i] = 1;
    fill(b, 20, n, 10);
    exec_ok(db, "BEGIN");
    flush_ok(b, db, 0, 20, false);
    exec_ok(db, "COMMIT");
    ck_assert_int_eq(sum_n(db), 20);

    /* Merged, then rolled back. */
    for (int i = 0; i < 20; i++)
        n[i] = 10;
    fill(b, 20, n, 10);
    exec_ok(db, "BEGIN");
    flush_ok(b, db, 0, 20, false);
    ck_assert_int_eq(sum_n(db), 20 + 200);
    exec_ok(db, "ROLLBACK");
    ck_assert_int_eq(sum_n(db), 20);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);

    /*
     * Poison isolation: events 10..19 carry a value the target refuses, so the merge of the range
     * [10, 20) fails after COPY staged it; the range is rolled back to its savepoint and [0, 10)
     * and [20, 30) commit. A staged row of the failed range merged later would fail the sums or the
     * merge.
     */
    int m[30];
    for (int i = 0; i < 30; i++)
        m[i] = i >= 10 && i < 20 ? -1000000 : 100;
    fill(b, 30, m, 10);
    exec_ok(db, "BEGIN");
    exec_ok(db, "SAVEPOINT s");
    flush_ok(b, db, 0, 10, true);
    exec_ok(db, "RELEASE SAVEPOINT s");
    exec_ok(db, "SAVEPOINT s");
    ck_assert_int_eq(cs_batch_flush(b, db, 10, 20, true, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_str_eq(err.sqlstate, "23514");
    ck_assert_msg(strstr(err.msg, "st_sum") != NULL, "%s", err.msg);
    exec_ok(db, "ROLLBACK TO SAVEPOINT s");
    exec_ok(db, "RELEASE SAVEPOINT s");
    exec_ok(db, "SAVEPOINT s");
    flush_ok(b, db, 20, 30, true);
    exec_ok(db, "RELEASE SAVEPOINT s");
    exec_ok(db, "COMMIT");
    ck_assert_int_eq(sum_n(db), 20 + 20 * 100);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);

    /* And the next batch alone. */
    for (int i = 0; i < 20; i++)
        n[i] = 1;
    fill(b, 20, n, 10);
    exec_ok(db, "BEGIN");
    flush_ok(b, db, 0, 20, false);
    exec_ok(db, "COMMIT");
    ck_assert_int_eq(sum_n(db), 20 + 20 * 100 + 20);
    cs_batch_destroy(b);
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

/*
 * 80 batches of 1,000 rows (about 170 kB of heap each: 13 MB in all) through one staging table:
 * its dead rows are truncated away every few batches (batch.c's threshold is 2 MiB), so it never
 * grows past a few MiB, and the sums say every row was merged exactly once.
 */
START_TEST(bounded_growth)
{
    char dsn[512];
    cs_batch_t *b;
    cs_db_t *db = setup(dsn, sizeof dsn, "stage_growth", &b);
    enum { NEV = 1000, NBATCH = 80 };
    static int n[NEV];
    long long max_size = 0, shrunk = 0, prev = 0;

    for (int i = 0; i < NEV; i++)
        n[i] = 1;
    for (int k = 1; k <= NBATCH; k++) {
        fill(b, NEV, n, 120);
        exec_ok(db, "BEGIN");
        flush_ok(b, db, 0, NEV, false);
        exec_ok(db, "COMMIT");
        long long size = one(db, "SELECT pg_relation_size('cs_stage_0')");
        if (size > max_size)
            max_size = size;
        if (size < prev)
            shrunk++;
        prev = size;
        ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);
    }
    ck_assert_int_eq(sum_n(db), (long long)NEV * NBATCH);
    ck_assert_msg(max_size <= 4 << 20, "the staging table grew to %lld bytes", max_size);
    ck_assert_msg(shrunk >= 3, "the staging table was truncated %lld times", shrunk);
    cs_batch_destroy(b);
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

/* insert_first: an overwriting upsert and an append-only log with ON CONFLICT DO NOTHING. */
static const cs_table_def_t first_tables[] = {
    {.table = "st_new",
     .columns = "k, n, pad",
     .conflict = "k",
     .update = "n = EXCLUDED.n",
     .merge = CS_MERGE_LAST,
     .insert_first = true},
    {.table = "st_log", .columns = "k, e", .conflict = "k, e", .insert_first = true},
    {NULL},
};

/* Rows k<keys[i]> = n[i] into st_new and (k<keys[i]>, e<i>) into st_log, one event each. */
static void fill_first(cs_batch_t *b, int nev, const int *keys, const int *n)
{
    cs_err_t err;
    cs_batch_clear(b);
    for (int e = 0; e < nev; e++) {
        char k[16], v[16], ev[16];
        snprintf(k, sizeof k, "k%d", keys[e]);
        snprintf(v, sizeof v, "%d", n[e]);
        snprintf(ev, sizeof ev, "e%d", e);
        const char *row[] = {k, v, "x"};
        const char *log[] = {k, ev};
        cs_batch_mark_event(b, e);
        ck_assert_int_eq(cs_batch_row(b, 0, 3, row, &err), 0);
        ck_assert_int_eq(cs_batch_row(b, 1, 2, log, &err), 0);
    }
    cs_batch_seal(b, nev);
}

static void first_counts(cs_batch_t *b, size_t inserted, size_t fell_back)
{
    size_t i, f;
    cs_batch_insert_first_counts(b, &i, &f);
    ck_assert_msg(i == inserted && f == fell_back, "insert_first: %zu inserted, %zu fell back", i,
                  f);
}

START_TEST(insert_first)
{
    char dsn[512];
    cs_err_t err;
    cs_test_fresh_db("stage_first", 1, dsn, sizeof dsn);
    cs_db_t *db = cs_db_connect(dsn, "0113", &err);
    ck_assert_msg(db != NULL, "connect: %s", err.msg);
    exec_ok(db,
            "CREATE TABLE st_new (k text PRIMARY KEY, n int NOT NULL CHECK (n >= 0), pad text); "
            "CREATE TABLE st_log (k text, e text, PRIMARY KEY (k, e))");
    cs_batch_t *b = cs_batch_new(first_tables, 2);
    cs_batch_set_array_max(b, 0);
    ck_assert_msg(cs_batch_prepare(b, db, &err) == 0, "prepare: %s", err.msg);

    /* New keys: both tables by their plain INSERT. */
    int keys1[] = {1, 2, 3}, n1[] = {10, 20, 30};
    fill_first(b, 3, keys1, n1);
    exec_ok(db, "BEGIN");
    flush_ok(b, db, 0, 3, false);
    exec_ok(db, "COMMIT");
    first_counts(b, 2, 0);
    ck_assert_int_eq(one(db, "SELECT sum(n) FROM st_new"), 60);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM st_log"), 3);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_1"), 0);

    /*
     * k2 stored after all (st_new falls back: k2 updated, k4 inserted), and k2's event e1
     * replayed into st_log (stored: falls back, DO NOTHING keeps the row; (k4, e0) is new). The
     * transaction goes on after the fallbacks.
     */
    int keys2[] = {4, 2}, n2[] = {40, 21};
    fill_first(b, 2, keys2, n2);
    exec_ok(db, "BEGIN");
    flush_ok(b, db, 0, 2, false);
    first_counts(b, 2, 2);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM st_new"), 4);
    exec_ok(db, "COMMIT");
    ck_assert_int_eq(one(db, "SELECT n FROM st_new WHERE k = 'k2'"), 21);
    ck_assert_int_eq(one(db, "SELECT n FROM st_new WHERE k = 'k4'"), 40);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM st_log"), 4);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);

    /* A key twice in one range: the upsert's last row wins (CS_MERGE_LAST). */
    int keys3[] = {5, 5}, n3[] = {50, 51};
    fill_first(b, 2, keys3, n3);
    exec_ok(db, "BEGIN");
    flush_ok(b, db, 0, 2, false);
    exec_ok(db, "COMMIT");
    first_counts(b, 3, 3); /* st_log's (k5, e0), (k5, e1) are new */
    ck_assert_int_eq(one(db, "SELECT n FROM st_new WHERE k = 'k5'"), 51);

    /* Another error is the flush's error, not a fallback. */
    int keys4[] = {6}, n4[] = {-1};
    fill_first(b, 1, keys4, n4);
    exec_ok(db, "BEGIN");
    ck_assert_int_eq(cs_batch_flush(b, db, 0, 1, false, &err), -1);
    ck_assert_str_eq(err.sqlstate, "23514");
    ck_assert_msg(strstr(err.msg, "st_new") != NULL, "%s", err.msg);
    exec_ok(db, "ROLLBACK");
    first_counts(b, 3, 3);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM st_new"), 5);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);
    cs_batch_destroy(b);
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch_staging");
    TCase *tc = tcase_create("staging");
    tcase_set_timeout(tc, 120 * cs_test_timeout_mult());
    tcase_add_test(tc, commit_keeps_pages);
    tcase_add_test(tc, rollbacks_leave_nothing);
    tcase_add_test(tc, bounded_growth);
    tcase_add_test(tc, insert_first);
    suite_add_tcase(s, tc);
    return db_check_run(s);
}

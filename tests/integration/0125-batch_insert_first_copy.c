/*
 * tests/integration/0125-batch_insert_first_copy.c
 *      insert_first tables: rows believed new are COPYd straight into the target, not staged.
 *
 * A table declared insert_first (batch.h) takes, for a range on the COPY path, one COPY into the
 * target under the savepoint cs_first; a unique violation rolls back to it and takes the staged
 * upsert. These tests (COPY path only: array_max 0; binary and text COPY alike) check that:
 *  - new keys are stored by that COPY: the staging table is never written (its file stays empty),
 *    and the target's statement trigger with a transition table sees the rows;
 *  - a key stored already, and a key twice in one range, fall back: the rows are the upsert's
 *    (CS_MERGE_LAST: the range's last row of a key wins; DO NOTHING: the stored row stays), the
 *    transaction goes on, and nothing stays staged;
 *  - a bad value fails the flush naming table.column, a CHECK naming the table, with nothing
 *    stored; a transaction rolled back after a direct COPY leaves nothing; poison isolation
 *    (savepoint per range) keeps the good ranges;
 *  - where the target's row-level security applies to the session's role (a worker role on a
 *    FORCE ROW LEVEL SECURITY table), whose COPY FROM PostgreSQL refuses, the rows are staged and
 *    inserted as before, also when row-level security is turned on after prepare.
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
    {.table = "fc_new",
     .columns = "k, n, pad",
     .conflict = "k",
     .update = "n = EXCLUDED.n, pad = EXCLUDED.pad",
     .merge = CS_MERGE_LAST,
     .insert_first = true},
    {.table = "fc_log", .columns = "k, e", .conflict = "k, e", .insert_first = true},
    {NULL},
};

/*
 * fc_seen counts the rows each INSERT or COPY into fc_new hands its statement trigger (a
 * transition table, as migration 0106's learner check reads).
 */
static const char *const schema_sql =
    "CREATE TABLE fc_new (k text PRIMARY KEY, n int NOT NULL CHECK (n >= 0), pad text); "
    "CREATE TABLE fc_log (k text, e text, PRIMARY KEY (k, e)); "
    "CREATE TABLE fc_seen (rows bigint NOT NULL); "
    "CREATE FUNCTION fc_seen_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO fc_seen SELECT count(*) FROM new_rows; RETURN NULL; END $$; "
    "CREATE TRIGGER fc_new_seen AFTER INSERT ON fc_new REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION fc_seen_rows()";

/* Event e appends fc_new (k<keys[e]>, n[e] as text, p<e>) and fc_log (k<keys[e]>, e<e>). */
static void fill(cs_batch_t *b, int nev, const int *keys, const char *const *n)
{
    cs_err_t err;
    cs_batch_clear(b);
    for (int e = 0; e < nev; e++) {
        char k[16], pad[16], ev[16];
        snprintf(k, sizeof k, "k%d", keys[e]);
        snprintf(pad, sizeof pad, "p%d", e);
        snprintf(ev, sizeof ev, "e%d", e);
        const char *row[] = {k, n[e], pad};
        const char *log[] = {k, ev};
        cs_batch_mark_event(b, e);
        ck_assert_int_eq(cs_batch_row(b, 0, 3, row, &err), 0);
        ck_assert_int_eq(cs_batch_row(b, 1, 2, log, &err), 0);
    }
    cs_batch_seal(b, nev);
}

static void flush_ok(cs_batch_t *b, cs_db_t *db, int from, int to)
{
    cs_err_t err;
    ck_assert_msg(cs_batch_flush(b, db, from, to, false, &err) == 0, "flush: %s", err.msg);
}

/* flush_ok in a transaction of its own. */
static void flush_committed(cs_batch_t *b, cs_db_t *db, int from, int to)
{
    exec_ok(db, "BEGIN");
    flush_ok(b, db, from, to);
    exec_ok(db, "COMMIT");
}

/* The flush of [from, to) fails with sqlstate; *err says how. */
static void flush_refused(cs_batch_t *b, cs_db_t *db, int from, int to, const char *sqlstate,
                          cs_err_t *err)
{
    ck_assert_int_eq(cs_batch_flush(b, db, from, to, false, err), -1);
    ck_assert_str_eq(err->sqlstate, sqlstate);
}

static void counts(cs_batch_t *b, size_t inserted, size_t fell_back)
{
    size_t i, f;
    cs_batch_insert_first_counts(b, &i, &f);
    ck_assert_msg(i == inserted && f == fell_back, "insert_first: %zu direct, %zu fell back", i, f);
}

static cs_db_t *setup(char *dsn, size_t size, const char *tag, bool binary, cs_batch_t **b)
{
    cs_err_t err;
    cs_test_fresh_db(tag, 1, dsn, size);
    cs_db_t *db = cs_db_connect(dsn, "0125", &err);
    ck_assert_msg(db != NULL, "connect: %s", err.msg);
    exec_ok(db, schema_sql);
    *b = cs_batch_new(tables, 2);
    cs_batch_set_array_max(*b, 0);
    cs_batch_set_copy_binary(*b, binary);
    ck_assert_msg(cs_batch_prepare(*b, db, &err) == 0, "prepare: %s", err.msg);
    return db;
}

/* The role of rls_staged (roles are the cluster's: made once, kept). */
#define RLS_ROLE "cs_test_0125"

static void teardown(char *dsn, cs_db_t *db, cs_batch_t *b)
{
    cs_batch_destroy(b);
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}

/* Nothing live is staged, and (new keys only so far) nothing was ever staged. */
static void staging_empty(cs_db_t *db, bool never_written)
{
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_1"), 0);
    if (never_written) {
        ck_assert_msg(one(db, "SELECT pg_relation_size('cs_stage_0') + "
                              "pg_relation_size('cs_stage_1')") == 0,
                      "rows believed new went through the staging tables");
    }
}

START_TEST(new_keys_direct)
{
    char dsn[512];
    cs_batch_t *b;
    bool binary = _i;
    cs_db_t *db =
        setup(dsn, sizeof dsn, binary ? "first_copy_new_b" : "first_copy_new_t", binary, &b);
    int keys[] = {1, 2, 3};
    const char *n[] = {"10", "20", "30"};
    fill(b, 3, keys, n);
    flush_committed(b, db, 0, 3);
    counts(b, 2, 0);
    ck_assert_int_eq(one(db, "SELECT sum(n) FROM fc_new"), 60);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_new WHERE pad = 'p' || "
                             "(substr(k, 2)::int - 1)"),
                     3);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_log"), 3);
    /* One statement handed its trigger the three rows. */
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_seen"), 1);
    ck_assert_int_eq(one(db, "SELECT sum(rows) FROM fc_seen"), 3);
    staging_empty(db, true);
    size_t bin, declined;
    cs_batch_copy_counts(b, &bin, &declined);
    ck_assert_int_eq(bin, binary ? 2 : 0);
    ck_assert_int_eq(declined, 0);

    /* Another batch of new keys in the same session: direct again. */
    int keys2[] = {4, 5};
    const char *n2[] = {"40", "50"};
    fill(b, 2, keys2, n2);
    flush_committed(b, db, 0, 2);
    counts(b, 4, 0);
    ck_assert_int_eq(one(db, "SELECT sum(n) FROM fc_new"), 150);
    staging_empty(db, true);
    teardown(dsn, db, b);
}
END_TEST

START_TEST(stored_and_repeated_keys_fall_back)
{
    char dsn[512];
    cs_batch_t *b;
    bool binary = _i;
    cs_db_t *db =
        setup(dsn, sizeof dsn, binary ? "first_copy_fb_b" : "first_copy_fb_t", binary, &b);
    exec_ok(db, "INSERT INTO fc_new VALUES ('k2', 2, 'stored'); "
                "INSERT INTO fc_log VALUES ('k2', 'e1'); TRUNCATE fc_seen");

    /*
     * k2 is stored: fc_new falls back (k2 updated, k4 inserted); (k2, e1) is stored: fc_log falls
     * back, DO NOTHING keeps it, (k4, e0) is inserted. The transaction goes on afterwards.
     */
    int keys[] = {4, 2};
    const char *n[] = {"40", "21"};
    fill(b, 2, keys, n);
    exec_ok(db, "BEGIN");
    flush_ok(b, db, 0, 2);
    counts(b, 0, 2);
    exec_ok(db, "INSERT INTO fc_log VALUES ('k9', 'after')");
    exec_ok(db, "COMMIT");
    ck_assert_int_eq(one(db, "SELECT n FROM fc_new WHERE k = 'k2' AND pad = 'p1'"), 21);
    ck_assert_int_eq(one(db, "SELECT n FROM fc_new WHERE k = 'k4' AND pad = 'p0'"), 40);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_new"), 2);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_log"), 3);
    /* The failed COPY's rows went with its savepoint: the trigger saw only the upsert's k4. */
    ck_assert_int_eq(one(db, "SELECT coalesce(sum(rows), 0) FROM fc_seen"), 1);
    staging_empty(db, false);

    /* A key twice in one range: the last row wins (CS_MERGE_LAST); the log's rows are new. */
    int keys2[] = {5, 6, 5, 5};
    const char *n2[] = {"50", "60", "51", "52"};
    fill(b, 4, keys2, n2);
    flush_committed(b, db, 0, 4);
    counts(b, 1, 3);
    ck_assert_int_eq(one(db, "SELECT n FROM fc_new WHERE k = 'k5' AND pad = 'p3'"), 52);
    ck_assert_int_eq(one(db, "SELECT n FROM fc_new WHERE k = 'k6' AND pad = 'p1'"), 60);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_log WHERE k = 'k5'"), 3);
    staging_empty(db, false);
    teardown(dsn, db, b);
}
END_TEST

START_TEST(errors_and_rollbacks)
{
    char dsn[512];
    cs_err_t err;
    cs_batch_t *b;
    bool binary = _i;
    cs_db_t *db =
        setup(dsn, sizeof dsn, binary ? "first_copy_err_b" : "first_copy_err_t", binary, &b);

    /* A value its column's type refuses: 22P02 naming fc_new.n, not a fallback. */
    int keys[] = {1, 2};
    const char *bad[] = {"1", "x1"};
    fill(b, 2, keys, bad);
    exec_ok(db, "BEGIN");
    flush_refused(b, db, 0, 2, "22P02", &err);
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_msg(!strcmp(err.field, "fc_new.n"), "field '%s': %s", err.field, err.msg);
    exec_ok(db, "ROLLBACK");
    counts(b, 0, 0);

    /* A CHECK the row breaks: 23514 naming the table, not a fallback. */
    const char *neg[] = {"1", "-1"};
    fill(b, 2, keys, neg);
    exec_ok(db, "BEGIN");
    flush_refused(b, db, 0, 2, "23514", &err);
    ck_assert_msg(strstr(err.msg, "fc_new") != NULL, "%s", err.msg);
    exec_ok(db, "ROLLBACK");
    counts(b, 0, 0);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_new"), 0);

    /* Stored by the direct COPY, then the transaction rolled back: nothing is left. */
    const char *ok[] = {"1", "2"};
    fill(b, 2, keys, ok);
    exec_ok(db, "BEGIN");
    flush_ok(b, db, 0, 2);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_new"), 2);
    /* The COPY's query released its savepoint: none is left open. */
    ck_assert_int_eq(cs_db_exec(db, "RELEASE SAVEPOINT cs_first", &err), -1);
    ck_assert_str_eq(err.sqlstate, "3B001");
    exec_ok(db, "ROLLBACK");
    counts(b, 2, 0);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_new"), 0);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_log"), 0);

    /*
     * Poison isolation: the range [1, 2) breaks the CHECK; rolled back to its savepoint, [0, 1)
     * and [2, 4) commit ([2, 4) repeats k0, stored by [0, 1): falls back).
     */
    int keys2[] = {0, 1, 2, 0};
    const char *n2[] = {"1", "-5", "3", "4"};
    fill(b, 4, keys2, n2);
    exec_ok(db, "BEGIN");
    exec_ok(db, "SAVEPOINT s");
    flush_ok(b, db, 0, 1);
    exec_ok(db, "RELEASE SAVEPOINT s");
    exec_ok(db, "SAVEPOINT s");
    flush_refused(b, db, 1, 2, "23514", &err);
    exec_ok(db, "ROLLBACK TO SAVEPOINT s");
    exec_ok(db, "RELEASE SAVEPOINT s");
    exec_ok(db, "SAVEPOINT s");
    flush_ok(b, db, 2, 4);
    exec_ok(db, "RELEASE SAVEPOINT s");
    exec_ok(db, "COMMIT");
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_new"), 2);
    ck_assert_int_eq(one(db, "SELECT n FROM fc_new WHERE k = 'k0'"), 4);
    ck_assert_int_eq(one(db, "SELECT n FROM fc_new WHERE k = 'k2'"), 3);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_log"), 3);
    staging_empty(db, false);
    teardown(dsn, db, b);
}
END_TEST

/* fc_new under row-level security for RLS_ROLE; fc_log without, until switched on later. */
START_TEST(rls_staged)
{
    char dsn[512];
    cs_err_t err;
    bool binary = _i;
    cs_test_fresh_db(binary ? "first_copy_rls_b" : "first_copy_rls_t", 1, dsn, sizeof dsn);
    cs_db_t *db = cs_db_connect(dsn, "0125", &err);
    ck_assert_msg(db != NULL, "connect: %s", err.msg);
    exec_ok(db, schema_sql);
    exec_ok(db, "DO $$ BEGIN CREATE ROLE " RLS_ROLE " NOLOGIN; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    exec_ok(db, "GRANT USAGE ON SCHEMA public TO " RLS_ROLE "; "
                "GRANT SELECT, INSERT, UPDATE ON fc_new, fc_log, fc_seen TO " RLS_ROLE "; "
                "ALTER TABLE fc_new ENABLE ROW LEVEL SECURITY; "
                "ALTER TABLE fc_new FORCE ROW LEVEL SECURITY; "
                "CREATE POLICY fc_all ON fc_new FOR ALL TO " RLS_ROLE
                " USING (true) WITH CHECK (n < 1000)");
    exec_ok(db, "SET ROLE " RLS_ROLE);
    cs_batch_t *b = cs_batch_new(tables, 2);
    cs_batch_set_array_max(b, 0);
    cs_batch_set_copy_binary(b, binary);
    ck_assert_msg(cs_batch_prepare(b, db, &err) == 0, "prepare: %s", err.msg);

    /* New keys: fc_new staged and inserted (no direct COPY under its policy), fc_log direct. */
    int keys[] = {1, 2};
    const char *n[] = {"10", "20"};
    fill(b, 2, keys, n);
    flush_committed(b, db, 0, 2);
    counts(b, 2, 0);
    ck_assert_int_eq(one(db, "SELECT sum(n) FROM fc_new"), 30);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM cs_stage_0"), 0);
    ck_assert_int_eq(one(db, "SELECT pg_relation_size('cs_stage_1')"), 0);

    /* The policy's check still applies (42501), and a stored key still falls back. */
    const char *big[] = {"1000", "3"};
    fill(b, 2, keys, big);
    exec_ok(db, "BEGIN");
    flush_refused(b, db, 0, 2, "42501", &err);
    exec_ok(db, "ROLLBACK");
    int keys2[] = {2, 3};
    const char *n2[] = {"21", "30"};
    fill(b, 2, keys2, n2);
    flush_committed(b, db, 0, 2);
    counts(b, 3, 1);
    ck_assert_int_eq(one(db, "SELECT n FROM fc_new WHERE k = 'k2'"), 21);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_log"), 4);

    /* Row-level security on fc_log after prepare: its COPY is refused (0A000), then staged. */
    exec_ok(db, "RESET ROLE");
    exec_ok(db, "ALTER TABLE fc_log ENABLE ROW LEVEL SECURITY; "
                "ALTER TABLE fc_log FORCE ROW LEVEL SECURITY; "
                "CREATE POLICY fc_all ON fc_log FOR ALL TO " RLS_ROLE " USING (true)");
    exec_ok(db, "SET ROLE " RLS_ROLE);
    int keys3[] = {4, 5};
    const char *n3[] = {"40", "50"};
    for (int round = 0; round < 2; round++) {
        fill(b, 2, keys3, n3);
        exec_ok(db, "BEGIN");
        flush_ok(b, db, 0, 2);
        exec_ok(db, round ? "COMMIT" : "ROLLBACK");
    }
    counts(b, 7, 1);
    ck_assert_int_eq(one(db, "SELECT count(*) FROM fc_log"), 6);
    ck_assert_int_eq(one(db, "SELECT sum(n) FROM fc_new"), 10 + 21 + 30 + 40 + 50);
    exec_ok(db, "RESET ROLE");
    cs_batch_destroy(b);
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch_insert_first_copy");
    TCase *tc = tcase_create("insert_first");
    tcase_set_timeout(tc, 120 * cs_test_timeout_mult());
    /* _i: 0 text COPY, 1 binary COPY */
    tcase_add_loop_test(tc, new_keys_direct, 0, 2);
    tcase_add_loop_test(tc, stored_and_repeated_keys_fall_back, 0, 2);
    tcase_add_loop_test(tc, errors_and_rollbacks, 0, 2);
    tcase_add_loop_test(tc, rls_staged, 0, 2);
    suite_add_tcase(s, tc);
    return db_check_run(s);
}

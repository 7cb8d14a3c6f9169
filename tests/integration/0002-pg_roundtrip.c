/*
 * tests/integration/0002-pg_roundtrip.c
 *      cs/db.h against the real throwaway PostgreSQL: a row round-trips through parameters and
 *      COPY with awkward text intact, failures are classified the way the dispatcher needs, a
 *      query can run while the caller works, and a session (new or reset) runs without JIT.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/db.h"
#include "harness.h"

static char dsn[1024];
static cs_db_t *db;
static cs_err_t err;

static void setup(void)
{
    cs_test_fresh_db("pg", 0, dsn, sizeof(dsn));
    db = cs_db_connect(dsn, "cs-test", &err);
    ck_assert_msg(db != NULL, "%s", err.msg);
    ck_assert(cs_db_ok(db));
    ck_assert_int_ge(cs_db_server_version(db), 150000);
    /* our sessions run without JIT (cs_db_connect: per-batch statements, estimates from young
     * statistics) */
    cs_db_res_t *jit = cs_db_query(db, "SHOW jit", 0, NULL, &err);
    ck_assert_msg(jit != NULL, "%s", err.msg);
    ck_assert_str_eq(cs_db_res_get(jit, 0, 0), "off");
    cs_db_res_free(jit);
    ck_assert_int_eq(cs_db_exec(db,
                                "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, "
                                "note text, amount numeric CHECK (amount >= 0))",
                                &err),
                     0);
}

static void teardown(void)
{
    cs_db_destroy(db);
    cs_test_drop_db(dsn);
}

START_TEST(params_roundtrip)
{
    const char *ins[] = {"1", "Zoë \"quoted\" \\ tab\there\nnewline", NULL, "12.50"};
    const char *sel[] = {"1"};
    cs_db_res_t *r;

    ck_assert_int_eq(cs_db_execp(db, "INSERT INTO t VALUES ($1, $2, $3, $4)", 4, ins, &err), 1);
    r = cs_db_query(db, "SELECT id, name, note, amount FROM t WHERE id = $1", 1, sel, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_int_eq(cs_db_res_rows(r), 1);
    ck_assert_int_eq(cs_db_res_cols(r), 4);
    ck_assert_str_eq(cs_db_res_get(r, 0, 1), ins[1]);
    ck_assert_ptr_null(cs_db_res_get(r, 0, 2));
    ck_assert_str_eq(cs_db_res_get(r, 0, 3), "12.50");
    ck_assert_ptr_null(cs_db_res_get(r, 5, 0)); /* out of range is NULL, not a crash */
    cs_db_res_free(r);
}
END_TEST

/*
 * Binary results: bytea and text as their bytes (every byte value, NULs included), int8 decoded
 * (both ends of its range), NULL with length -1; a length that does not fit int8 is refused.
 */
START_TEST(binary_results)
{
    cs_db_res_t *b = cs_db_query_binary(
        db,
        "SELECT 9007199254740993::int8, '\\x00ff10'::bytea, 'Zoë'::text, NULL::int8, "
        "(-9223372036854775807 - 1)::int8, 9223372036854775807::int8, "
        "(SELECT string_agg(lpad(to_hex(i), 2, '0'), '') FROM generate_series(0, 255) i)::text",
        0, NULL, &err);
    ck_assert_msg(b != NULL, "%s", err.msg);
    long long i8 = 0;
    ck_assert_int_eq(cs_db_bin_int8(cs_db_res_get(b, 0, 0), cs_db_res_len(b, 0, 0), &i8), 0);
    ck_assert(i8 == 9007199254740993LL);
    ck_assert_int_eq(cs_db_res_len(b, 0, 1), 3);
    ck_assert(!memcmp(cs_db_res_get(b, 0, 1), "\x00\xff\x10", 3));
    ck_assert_int_eq(cs_db_res_len(b, 0, 2), (int)strlen("Zoë"));
    ck_assert(!memcmp(cs_db_res_get(b, 0, 2), "Zoë", strlen("Zoë")));
    ck_assert_int_eq(cs_db_res_len(b, 0, 3), -1);
    ck_assert_ptr_null(cs_db_res_get(b, 0, 3));
    ck_assert_int_eq(cs_db_bin_int8(cs_db_res_get(b, 0, 3), cs_db_res_len(b, 0, 3), &i8), -1);
    ck_assert_int_eq(cs_db_bin_int8(cs_db_res_get(b, 0, 4), cs_db_res_len(b, 0, 4), &i8), 0);
    ck_assert(i8 == INT64_MIN);
    ck_assert_int_eq(cs_db_bin_int8(cs_db_res_get(b, 0, 5), cs_db_res_len(b, 0, 5), &i8), 0);
    ck_assert(i8 == INT64_MAX);
    ck_assert_int_eq(cs_db_res_len(b, 0, 6), 512);
    ck_assert_int_eq(cs_db_res_len(b, 0, 99), -1); /* out of range */
    /* a length that does not fit the type is refused, not read past */
    ck_assert_int_eq(cs_db_bin_int8(cs_db_res_get(b, 0, 1), cs_db_res_len(b, 0, 1), &i8), -1);
    cs_db_res_free(b);
}
END_TEST

START_TEST(copy_roundtrip)
{
    const char *name = "back\\slash\ttab\nnl\rcr";
    char line[256];
    size_t n = 0;
    cs_db_res_t *r;

    n += (size_t)snprintf(line, sizeof(line), "7\t");
    n += cs_db_copy_escape(line + n, name, strlen(name));
    n += (size_t)snprintf(line + n, sizeof(line) - n, "\t\\N\t3\n");
    ck_assert_int_eq(cs_db_copy_begin(db, "COPY t (id, name, note, amount) FROM STDIN", &err), 0);
    ck_assert_int_eq(cs_db_copy_put(db, line, n, &err), 0);
    ck_assert_int_eq(cs_db_copy_end(db, &err), 1);
    r = cs_db_query(db, "SELECT name, note IS NULL FROM t WHERE id = 7", 0, NULL, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(cs_db_res_get(r, 0, 0), name);
    ck_assert_str_eq(cs_db_res_get(r, 0, 1), "t");
    cs_db_res_free(r);
}
END_TEST

START_TEST(copy_failure_is_reported)
{
    const char *bad = "8\tx\t\\N\t-1\n"; /* violates the CHECK */

    ck_assert_int_eq(cs_db_copy_begin(db, "COPY t (id, name, note, amount) FROM STDIN", &err), 0);
    ck_assert_int_eq(cs_db_copy_put(db, bad, strlen(bad), &err), 0);
    ck_assert_int_eq(cs_db_copy_end(db, &err), -1);
    ck_assert_str_eq(err.sqlstate, "23514");
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert(cs_db_ok(db)); /* the connection stays usable */
    ck_assert_int_eq(cs_db_exec(db, "SELECT 1", &err), 0);
}
END_TEST

/* Each failing statement and the class the dispatcher must see. */
static const struct {
    const char *sql;
    const char *sqlstate;
    cs_err_kind_t kind;
} failures[] = {
    {"INSERT INTO t VALUES (1, 'a', NULL, 1), (1, 'b', NULL, 1)", "23505", CS_ERR_PERMANENT},
    {"INSERT INTO t VALUES (2, NULL, NULL, 1)", "23502", CS_ERR_PERMANENT},
    {"SELECT 'x'::int", "22P02", CS_ERR_PERMANENT},
    {"SELECT * FROM no_such_table", "42P01", CS_ERR_FATAL},
    {"SELEKT 1", "42601", CS_ERR_FATAL},
    {"SET statement_timeout = 10; SELECT pg_sleep(1)", "57014", CS_ERR_TRANSIENT},
};

START_TEST(failures_are_classified)
{
    ck_assert_int_eq(cs_db_exec(db, failures[_i].sql, &err), -1);
    ck_assert_str_eq(err.sqlstate, failures[_i].sqlstate);
    ck_assert_msg(err.kind == failures[_i].kind, "%s: %s", failures[_i].sql,
                  cs_err_kind_name(err.kind));
    ck_assert_int_gt(strlen(err.msg), 0);
}
END_TEST

START_TEST(lost_connection_is_transient)
{
    cs_db_t *victim = cs_db_connect(dsn, "cs-victim", &err);
    cs_db_res_t *r;
    char pid[32];
    const char *params[] = {pid};

    ck_assert_ptr_nonnull(victim);
    r = cs_db_query(victim, "SELECT pg_backend_pid()::text", 0, NULL, &err);
    ck_assert_ptr_nonnull(r);
    snprintf(pid, sizeof(pid), "%s", cs_db_res_get(r, 0, 0));
    cs_db_res_free(r);
    ck_assert_int_eq(cs_db_execp(db, "SELECT pg_terminate_backend($1::int)", 1, params, &err), 1);
    ck_assert_int_eq(cs_db_exec(victim, "SELECT 1", &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_TRANSIENT);
    ck_assert_int_eq(cs_db_reset(victim, &err), 0);
    ck_assert_int_eq(cs_db_exec(victim, "SELECT 1", &err), 0);
    /* the new session is set up like the first: without JIT */
    r = cs_db_query(victim, "SHOW jit", 0, NULL, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(cs_db_res_get(r, 0, 0), "off");
    cs_db_res_free(r);
    cs_db_destroy(victim);
}
END_TEST

/*
 * A query sent without waiting (cs_db_send_query): busy until its result is collected, not ready
 * while the server still works on it, then its rows; a failed one reports its SQLSTATE through
 * cs_db_get_result and leaves the connection usable.
 */
START_TEST(sent_query)
{
    const char *params[] = {"0.3", "7"};
    ck_assert(!cs_db_busy(db));
    ck_assert(cs_db_result_ready(db)); /* nothing sent */
    ck_assert_int_eq(
        cs_db_send_query(db, "SELECT $2::int AS v FROM pg_sleep($1::float8)", 2, params, &err), 0);
    ck_assert(cs_db_busy(db));
    ck_assert(!cs_db_result_ready(db)); /* the server sleeps 0.3 s */
    int polls = 0;
    while (!cs_db_result_ready(db) && polls < 3000) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        polls++;
    }
    ck_assert_int_gt(polls, 0);
    ck_assert(cs_db_result_ready(db));
    cs_db_res_t *r = cs_db_get_result(db, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert(!cs_db_busy(db));
    ck_assert_int_eq(cs_db_res_rows(r), 1);
    ck_assert_str_eq(cs_db_res_get(r, 0, 0), "7");
    cs_db_res_free(r);
    /* a failure comes with the result */
    ck_assert_int_eq(cs_db_send_query(db, "SELECT 1/0", 0, NULL, &err), 0);
    ck_assert_ptr_null(cs_db_get_result(db, &err));
    ck_assert_str_eq(err.sqlstate, "22012");
    ck_assert(!cs_db_busy(db));
    ck_assert_int_eq(cs_db_exec(db, "SELECT 1", &err), 0);
}
END_TEST

START_TEST(bad_dsn)
{
    cs_db_t *d;

    d = cs_db_connect("this is = not a dsn '", "x", &err);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid PostgreSQL DSN"));
    d = cs_db_connect("", "x", &err);
    ck_assert_ptr_null(d);
    ck_assert_str_eq(err.field, "pg-dsn");
    /* Nothing listens on port 1: the server may come later, so it is transient. */
    d = cs_db_connect("host=127.0.0.1 port=1 dbname=x connect_timeout=2", "x", &err);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(err.kind, CS_ERR_TRANSIENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot connect to PostgreSQL"));
    /* A database that does not exist will not appear by retrying. */
    {
        char missing[1100];

        snprintf(missing, sizeof(missing), "%s", dsn);
        char *p = strstr(missing, "dbname='");
        ck_assert_ptr_nonnull(p);
        snprintf(p, sizeof(missing) - (size_t)(p - missing), "dbname='no_such_db_cs'");
        d = cs_db_connect(missing, "x", &err);
        ck_assert_ptr_null(d);
        ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_roundtrip");
    TCase *tc = tcase_create("pg_roundtrip");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60.0 * cs_test_timeout_mult());
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, params_roundtrip);
    tcase_add_test(tc, binary_results);
    tcase_add_test(tc, copy_roundtrip);
    tcase_add_test(tc, copy_failure_is_reported);
    tcase_add_loop_test(tc, failures_are_classified, 0,
                        (int)(sizeof(failures) / sizeof(failures[0])));
    tcase_add_test(tc, lost_connection_is_transient);
    tcase_add_test(tc, sent_query);
    tcase_add_test(tc, bad_dsn);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * tests/integration/db_check.h
 *      Helpers of the batch tests (0069, 0109, 0113) on a cs_db_t connection, with Check
 *      assertions: a statement's one integer, a statement that must succeed, and the suite's
 *      runner (Check's default, forking: each test in its own process).
 */
#ifndef CS_DB_CHECK_H
#define CS_DB_CHECK_H
#include <check.h>
#include <stdlib.h>

#include "cs/db.h"

/* The first column of the first row of sql as an integer; -1 when it is NULL. */
static inline long long one(cs_db_t *db, const char *sql)
{
    cs_err_t err;
    cs_db_res_t *r = cs_db_query(db, sql, 0, NULL, &err);
    ck_assert_msg(r != NULL, "%s: %s", sql, err.msg);
    long long v = cs_db_res_get(r, 0, 0) ? strtoll(cs_db_res_get(r, 0, 0), NULL, 10) : -1;
    cs_db_res_free(r);
    return v;
}

static inline void exec_ok(cs_db_t *db, const char *sql)
{
    cs_err_t err;
    ck_assert_msg(cs_db_exec(db, sql, &err) == 0, "%s: %s", sql, err.msg);
}

/* Runs suite s with Check's default (forking) runner: the exit status of main. */
static inline int db_check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* CS_DB_CHECK_H */

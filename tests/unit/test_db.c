/*
 * tests/unit/test_db.c
 *      Check suite for cs_db_connect's refusals: configuration errors are FATAL, and no error
 *      message shows a password from the DSN.
 *
 * No server is needed: every DSN here is refused before a connection is made (parse errors,
 * impossible ports, option values libpq rejects up front), or points at a closed loopback port
 * (connection refused: TRANSIENT, the one case that may fix itself).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/db.h"

/* One row per DSN: the kind it must be refused with, what the message must say. */
static const struct row {
    const char *dsn;
    cs_err_kind_t kind;
    const char *needle;
} rows[] = {
    /* Ports that cannot be: configuration, not an outage to retry forever. */
    {"postgresql://u:hunter2@127.0.0.1:99999/db", CS_ERR_FATAL, "port '99999' is not a TCP port"},
    {"host=127.0.0.1 port=99999 password=hunter2", CS_ERR_FATAL, "port '99999'"},
    {"host=127.0.0.1 port=0 password=hunter2", CS_ERR_FATAL, "port '0'"},
    {"host=127.0.0.1 port=-1 password=hunter2", CS_ERR_FATAL, "port '-1'"},
    {"postgresql://u:hunter2@127.0.0.1:12x/db", CS_ERR_FATAL, "port '12x'"},
    {"postgresql://u:hunter2@h1:5432,h2:99999/db", CS_ERR_FATAL, "port '99999'"},
    /* Values libpq refuses when connecting, before any traffic. */
    {"postgresql://u:hunter2@127.0.0.1:1/db?sslmode=bogus", CS_ERR_FATAL, "invalid sslmode value"},
    {"host=127.0.0.1 port=1 password=hunter2 target_session_attrs=any-old", CS_ERR_FATAL,
     "invalid target_session_attrs value"},
    /* Malformed: libpq would quote the URI, password and all. */
    {"postgresql://u:hunter2@[::1/db", CS_ERR_FATAL,
     "invalid PostgreSQL DSN: end of string reached when looking for matching \"]\""},
    {"postgresql://u:hunter2@h/db?password=hunter2&bad", CS_ERR_FATAL,
     "missing key/value separator"},
    {"postgres://u:hunter2@h/db?sslpassword=hunter2&x=1", CS_ERR_FATAL,
     "invalid URI query parameter: \"x\""},
    {"postgresql://u:hun@ter2@[::1/db", CS_ERR_FATAL, "invalid PostgreSQL DSN"},
    {"host=h password=hunter2 bogus", CS_ERR_FATAL, "missing \"=\" after \"bogus\""},
    {"host='h password=hunter2", CS_ERR_FATAL, "unterminated quoted string"},
    {"host=h password='hunter2", CS_ERR_FATAL, "invalid PostgreSQL DSN"},
    {"host=h password = 'hunter2 \\' x' nonsense", CS_ERR_FATAL,
     "missing \"=\" after \"nonsense\""},
    /* Nobody listening: an outage, retried; still no password in the message. A port list and
     * blanks around a port are what libpq accepts. */
    {"postgresql://u:hunter2@127.0.0.1:1/db", CS_ERR_TRANSIENT, "cannot connect to PostgreSQL"},
    {"host=127.0.0.1,127.0.0.1 port=' 1 ,1' password=hunter2", CS_ERR_TRANSIENT,
     "Connection refused"},
};

START_TEST(refusals)
{
    const struct row *r = &rows[_i];
    cs_err_t err;
    cs_db_t *db;

    memset(&err, 0, sizeof err);
    db = cs_db_connect(r->dsn, "test_db", &err);
    ck_assert_ptr_null(db);
    ck_assert_msg(err.kind == r->kind, "%s: kind %d, want %d (%s)", r->dsn, err.kind, r->kind,
                  err.msg);
    ck_assert_str_eq(err.field, "pg-dsn");
    ck_assert_msg(strstr(err.msg, r->needle), "%s: message '%s' lacks '%s'", r->dsn, err.msg,
                  r->needle);
    ck_assert_msg(!strstr(err.msg, "hunter2") && !strstr(err.msg, "ter2"),
                  "%s: the message shows the password: %s", r->dsn, err.msg);
    ck_assert_msg(!strchr(err.msg, '\n'), "%s: a multi-line message: %s", r->dsn, err.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("db");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, refusals, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

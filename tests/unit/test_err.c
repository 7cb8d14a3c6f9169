/*
 * tests/unit/test_err.c
 *      Check suite for cs/err.h: setting, wrapping, and the SQLSTATE classification table.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cs/err.h"

static const struct {
    const char *sqlstate;
    cs_err_kind_t kind;
} rows[] = {
    {"08006", CS_ERR_TRANSIENT}, {"08001", CS_ERR_TRANSIENT}, {"40001", CS_ERR_TRANSIENT},
    {"40P01", CS_ERR_TRANSIENT}, {"53300", CS_ERR_TRANSIENT}, {"57P01", CS_ERR_TRANSIENT},
    {"57P03", CS_ERR_TRANSIENT}, {"55P03", CS_ERR_TRANSIENT}, {"57014", CS_ERR_TRANSIENT},
    {"22P02", CS_ERR_PERMANENT}, {"23505", CS_ERR_PERMANENT}, {"23503", CS_ERR_PERMANENT},
    {"P0001", CS_ERR_PERMANENT}, {"42P01", CS_ERR_FATAL},     {"42501", CS_ERR_FATAL},
    {"28P01", CS_ERR_FATAL},     {"3D000", CS_ERR_FATAL},     {"", CS_ERR_TRANSIENT},
    {NULL, CS_ERR_TRANSIENT},
};

START_TEST(classify)
{
    ck_assert_msg(cs_err_classify_sqlstate(rows[_i].sqlstate) == rows[_i].kind, "%s -> %s",
                  rows[_i].sqlstate ? rows[_i].sqlstate : "(null)",
                  cs_err_kind_name(cs_err_classify_sqlstate(rows[_i].sqlstate)));
}
END_TEST

START_TEST(set_and_wrap)
{
    cs_err_t err;

    cs_err_clear(&err);
    ck_assert_int_eq(err.kind, CS_ERR_NONE);
    ck_assert_int_eq(cs_err_set(&err, CS_ERR_PERMANENT, "invalid user_id '%s'", "x"), -1);
    ck_assert_str_eq(err.msg, "invalid user_id 'x'");
    ck_assert_int_eq(cs_err_set_field(&err, CS_ERR_PERMANENT, "payload.rating", "%d > 5", 7), -1);
    ck_assert_str_eq(err.field, "payload.rating");
    ck_assert_int_eq(cs_err_wrap(&err, "line %d", 12), -1);
    ck_assert_str_eq(err.msg, "line 12: 7 > 5");
    ck_assert_str_eq(err.field, "payload.rating");
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_int_eq(cs_err_set(NULL, CS_ERR_FATAL, "ignored"), -1);
    ck_assert_str_eq(cs_err_kind_name(CS_ERR_FATAL), "fatal");
}
END_TEST

START_TEST(truncates_long_messages)
{
    cs_err_t err;
    char big[2000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cs_err_set(&err, CS_ERR_FATAL, "%s", big);
    ck_assert_int_eq(strlen(err.msg), CS_ERR_MSG_SIZE - 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("err");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, classify, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, set_and_wrap);
    tcase_add_test(tc, truncates_long_messages);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

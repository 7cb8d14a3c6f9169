/*
 * tests/unit/test_log.c
 *      Check suite for cs/log.h: every line is one valid JSON object with the documented keys,
 *      levels filter before arguments are evaluated, and awkward values stay valid JSON.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/log.h"

static char *out;
static size_t outlen;
static FILE *mem;

static void setup(void)
{
    mem = open_memstream(&out, &outlen);
    cs_log_init("cs-test", CS_LOG_INFO, mem);
}

static void teardown(void)
{
    cs_log_init("cs-test", CS_LOG_INFO, NULL);
    fclose(mem);
    free(out);
}

/* Parses the only line written so far. */
static json_t *only_line(void)
{
    json_error_t jerr;
    json_t *j;

    fflush(mem);
    ck_assert_int_gt(outlen, 0);
    ck_assert_int_eq(out[outlen - 1], '\n');
    ck_assert_ptr_null(memchr(out, '\n', outlen - 1));
    j = json_loadb(out, outlen, 0, &jerr);
    ck_assert_msg(j != NULL, "invalid JSON line: %s (%s)", out, jerr.text);
    return j;
}

START_TEST(line_shape)
{
    json_t *j, *f;

    cs_log_info("batch committed", CS_LS("topic", "cs.learning"), CS_LI("events", 5000),
                CS_LD("seconds", 0.25), CS_LJ("parts", "[1,2]"));
    j = only_line();
    ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
    ck_assert_str_eq(json_string_value(json_object_get(j, "program")), "cs-test");
    ck_assert_str_eq(json_string_value(json_object_get(j, "msg")), "batch committed");
    ck_assert_int_eq(strlen(json_string_value(json_object_get(j, "ts"))), 24);
    f = json_object_get(j, "fields");
    ck_assert_str_eq(json_string_value(json_object_get(f, "topic")), "cs.learning");
    ck_assert_int_eq(json_integer_value(json_object_get(f, "events")), 5000);
    ck_assert_double_eq(json_real_value(json_object_get(f, "seconds")), 0.25);
    ck_assert_int_eq(json_array_size(json_object_get(f, "parts")), 2);
    json_decref(j);
}
END_TEST

START_TEST(no_fields)
{
    json_t *j;

    cs_log_warn("started");
    j = only_line();
    ck_assert_ptr_null(json_object_get(j, "fields"));
    ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
    json_decref(j);
}
END_TEST

static int evaluated;
static const char *expensive(void)
{
    evaluated++;
    return "x";
}

START_TEST(level_filters_before_evaluation)
{
    cs_log_debug("hidden", CS_LS("v", expensive()));
    fflush(mem);
    ck_assert_int_eq(outlen, 0);
    ck_assert_int_eq(evaluated, 0);
    cs_log_init("cs-test", CS_LOG_DEBUG, mem);
    cs_log_debug("shown", CS_LS("v", expensive()));
    ck_assert_int_eq(evaluated, 1);
    json_decref(only_line());
}
END_TEST

START_TEST(escaping)
{
    json_t *j, *f;

    cs_log_error("quote \" backslash \\ newline \n tab \t bell \a",
                 CS_LS("sql", "select '\"x\"'\n"), CS_LS("nul", NULL), CS_LD("inf", INFINITY),
                 CS_LS("utf8", "caf\xc3\xa9"));
    j = only_line();
    ck_assert_str_eq(json_string_value(json_object_get(j, "msg")),
                     "quote \" backslash \\ newline \n tab \t bell \a");
    f = json_object_get(j, "fields");
    ck_assert_str_eq(json_string_value(json_object_get(f, "sql")), "select '\"x\"'\n");
    ck_assert(json_is_null(json_object_get(f, "nul")));
    ck_assert(json_is_null(json_object_get(f, "inf")));
    ck_assert_str_eq(json_string_value(json_object_get(f, "utf8")), "caf\xc3\xa9");
    json_decref(j);
}
END_TEST

START_TEST(level_names)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    cs_log_level_t l;

    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(cs_log_level_parse(names[i], &l), 0);
        ck_assert_int_eq(l, i);
        ck_assert_str_eq(cs_log_level_name(l), names[i]);
    }
    ck_assert_int_eq(cs_log_level_parse("WARN", &l), 0);
    ck_assert_int_eq(l, CS_LOG_WARN);
    ck_assert_int_eq(cs_log_level_parse("loud", &l), -1);
    ck_assert_int_eq(cs_log_level_parse(NULL, &l), -1);
}
END_TEST

START_TEST(long_line)
{
    char big[10000];
    json_t *j;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cs_log_info("big", CS_LS("payload", big));
    j = only_line();
    ck_assert_int_eq(
        strlen(json_string_value(json_object_get(json_object_get(j, "fields"), "payload"))),
        sizeof(big) - 1);
    json_decref(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, line_shape);
    tcase_add_test(tc, no_fields);
    tcase_add_test(tc, level_filters_before_evaluation);
    tcase_add_test(tc, escaping);
    tcase_add_test(tc, level_names);
    tcase_add_test(tc, long_line);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * tests/unit/test_config.c
 *      Check suite for cs/config.h: precedence, validation messages, file loading, usage.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs/config.h"

static const char *const modes[] = {"fast", "safe", NULL};

static const cs_opt_t own[] = {
    {"batch-size", CS_OPT_INT, "5000", "events per batch", 1, 100000},
    {"ratio", CS_OPT_DOUBLE, "0.5", "a ratio", 0, 1},
    {"drain", CS_OPT_BOOL, "false", "exit at end of partitions"},
    {"mode", CS_OPT_ENUM, "safe", "mode", 0, 0, modes},
    {"group", CS_OPT_STRING, NULL, "consumer group", 0, 0, NULL, CS_OPT_REQUIRED},
    {NULL},
};

static cs_config_t *cfg;
static cs_err_t err;

static void setup(void)
{
    cfg = cs_config_new("t", "", cs_config_common_opts, own, &err);
    ck_assert_ptr_nonnull(cfg);
}

static void teardown(void)
{
    cs_config_destroy(cfg);
    cfg = NULL;
}

#define LOAD(envp, ...)                                                                            \
    ({                                                                                             \
        char *argv_[] = {"t", __VA_ARGS__, NULL};                                                  \
        cs_config_load(cfg, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, envp, &err);       \
    })

START_TEST(defaults_and_required)
{
    char *env[] = {"CS_GROUP=g1", NULL};

    cs_config_accept_args(cfg, CS_CONFIG_ARGS_ANY);
    ck_assert_int_eq(LOAD(env, "x"), 0);
    ck_assert_int_eq(cs_config_int(cfg, "batch-size"), 5000);
    ck_assert_double_eq(cs_config_double(cfg, "ratio"), 0.5);
    ck_assert(!cs_config_bool(cfg, "drain"));
    ck_assert_str_eq(cs_config_str(cfg, "mode"), "safe");
    ck_assert_str_eq(cs_config_str(cfg, "log-level"), "info");
    ck_assert_ptr_null(cs_config_str(cfg, "pg-dsn"));
    ck_assert(!cs_config_is_set(cfg, "batch-size"));
    ck_assert(cs_config_is_set(cfg, "group"));
    ck_assert_int_eq(cs_config_argc(cfg), 1);
    ck_assert_str_eq(cs_config_arg(cfg, 0), "x");
}
END_TEST

START_TEST(missing_required)
{
    char *env[] = {NULL};

    ck_assert_int_eq(LOAD(env, "--drain"), -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_str_eq(err.field, "group");
    ck_assert_ptr_nonnull(strstr(err.msg, "CS_GROUP"));
}
END_TEST

START_TEST(flags_beat_env)
{
    char *env[] = {"CS_GROUP=g1", "CS_BATCH_SIZE=10", "CS_LOG_LEVEL=debug", NULL};

    cs_config_accept_args(cfg, 1);
    ck_assert_int_eq(LOAD(env, "--batch-size=20", "--group", "g2", "--drain", "--", "--x"), 0);
    ck_assert_int_eq(cs_config_int(cfg, "batch-size"), 20);
    ck_assert_str_eq(cs_config_str(cfg, "group"), "g2");
    ck_assert_str_eq(cs_config_str(cfg, "log-level"), "debug");
    ck_assert(cs_config_bool(cfg, "drain"));
    ck_assert_int_eq(cs_config_argc(cfg), 1);
    ck_assert_str_eq(cs_config_arg(cfg, 0), "--x");
}
END_TEST

/* One row per malformed value: where it came from, and what the message must say. */
static const struct bad {
    const char *env;
    const char *flag;
    const char *field;
    const char *needle;
} bad[] = {
    {"CS_LOG_LEVEL=loud", NULL, "log-level", "CS_LOG_LEVEL: 'loud' is not one of debug, info"},
    {"CS_BATCH_SIZE=12abc", NULL, "batch-size", "CS_BATCH_SIZE: '12abc' is not an integer"},
    {"CS_BATCH_SIZE=", NULL, "batch-size", "is not an integer"},
    {NULL, "--batch-size=0", "batch-size", "--batch-size: 0 is out of range (allowed 1..100000)"},
    {NULL, "--batch-size=99999999999999999999", "batch-size", "is not an integer"},
    {NULL, "--ratio=1.5", "ratio", "--ratio: 1.5 is out of range"},
    {NULL, "--ratio=1.0000001", "ratio", "--ratio: 1.0000001 is out of range (allowed 0..1)"},
    {NULL, "--ratio=nan", "ratio", "--ratio: 'nan' is not a finite number"},
    {NULL, "--ratio=-inf", "ratio", "--ratio: '-inf' is not a finite number"},
    /* strtod's ERANGE: overflow and underflow to 0 are refused, each saying which. */
    {NULL, "--ratio=1e999", "ratio",
     "--ratio: '1e999' is too large for a number (the largest "
     "is 1.79769e+308)"},
    {"CS_RATIO=-1e999", NULL, "ratio", "CS_RATIO: '-1e999' is too large for a number"},
    {NULL, "--ratio=1e-400", "ratio",
     "--ratio: '1e-400' is too small for a number: it would be "
     "read as 0 (the smallest above 0 is 4.94066e-324)"},
    {NULL, "--ratio=0.5x", "ratio", "--ratio: '0.5x' is not a number"},
    {NULL, "--ratio=e5", "ratio", "--ratio: 'e5' is not a number"},
    /* A subnormal is a number; out of range is said as for any other. */
    {NULL, "--ratio=-1e-320", "ratio", "--ratio: -1e-320 is out of range (allowed 0..1)"},
    {"CS_DRAIN=maybe", NULL, "drain", "CS_DRAIN: 'maybe' is not a boolean"},
    {NULL, "--mode=turbo", "mode", "--mode: 'turbo' is not one of fast, safe"},
    {NULL, "--nope=1", "nope", "unknown option '--nope'"},
    {NULL, "--group", "group", "--group: a value is required"},
    /* An empty text value would silently mean the default. */
    {NULL, "--group=", "group", "--group: an empty value is not allowed"},
    {"CS_GROUP=", NULL, "group", "CS_GROUP: an empty value is not allowed"},
    {NULL, "--kafka-brokers=", "kafka-brokers", "--kafka-brokers: an empty value is not allowed"},
    {NULL, "--drain=", "drain", "--drain: '' is not a boolean"},
    {NULL, "--mode=", "mode", "--mode: '' is not one of fast, safe"},
    {NULL, "--ratio=", "ratio", "--ratio: '' is not a number"},
    /* Unknown short flags are not positional arguments. */
    {NULL, "-x", "-x", "unknown option '-x'"},
    {NULL, "-group=g", "-group=g", "unknown option '-group=g'"},
};

START_TEST(malformed_values)
{
    const struct bad *b = &bad[_i];
    char *env[] = {(char *)(b->env && !strncmp(b->env, "CS_GROUP=", 9) ? b->env : "CS_GROUP=g"),
                   (char *)b->env, NULL};
    char *argv[] = {"t", (char *)b->flag, NULL};
    int rc = cs_config_load(cfg, b->flag ? 2 : 1, argv, env, &err);

    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_str_eq(err.field, b->field);
    ck_assert_msg(strstr(err.msg, b->needle), "message '%s' lacks '%s'", err.msg, b->needle);
}
END_TEST

/* A program that takes no positional argument refuses a stray one by name. */
START_TEST(stray_arguments)
{
    char *env[] = {"CS_GROUP=g", NULL};

    ck_assert_int_eq(LOAD(env, "--drain", "verfy"), -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "unexpected argument 'verfy'"));

    /* Up to the declared number; "-" (stdin) is an argument, "--" ends the options. */
    teardown();
    setup();
    cs_config_accept_args(cfg, 2);
    ck_assert_int_eq(LOAD(env, "a.jsonl", "--", "-"), 0);
    ck_assert_int_eq(cs_config_argc(cfg), 2);
    ck_assert_str_eq(cs_config_arg(cfg, 1), "-");
    teardown();
    setup();
    cs_config_accept_args(cfg, 2);
    ck_assert_int_eq(LOAD(env, "a", "b", "c"), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "unexpected argument 'c'"));
    teardown();
    setup();
    cs_config_accept_args(cfg, CS_CONFIG_ARGS_ANY);
    ck_assert_int_eq(LOAD(env, "a", "-", "c"), 0);
    ck_assert_int_eq(cs_config_argc(cfg), 3);
}
END_TEST

/* Empty is an ordinary value where the option says so: --config= (no file), a "" default. */
START_TEST(empty_where_meaningful)
{
    static const cs_opt_t pre[] = {{"prefix", CS_OPT_STRING, "", "topic prefix"}, {NULL}};
    char *env[] = {"CS_CONFIG=", NULL};
    char *argv[] = {"t", "--prefix=", "--config=", NULL};
    cs_config_t *c = cs_config_new("t", "", cs_config_common_opts, pre, &err);

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cs_config_load(c, 3, argv, env, &err), 0);
    ck_assert_str_eq(cs_config_str(c, "prefix"), "");
    ck_assert(cs_config_is_set(c, "prefix"));
    cs_config_destroy(c);
}
END_TEST

/* A secret's value never appears in a refusal, whatever its type. */
START_TEST(secret_values_not_shown)
{
    static const cs_opt_t sec[] = {
        {"pin", CS_OPT_INT, NULL, "a secret number", 1, 9999, NULL, CS_OPT_SECRET},
        {"key-mode", CS_OPT_ENUM, NULL, "a secret word", 0, 0, modes, CS_OPT_SECRET},
        {NULL},
    };
    static const char *const flags[] = {"--pin=hunter2", "--pin=123456", "--key-mode=hunter2"};

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char *argv[] = {"t", (char *)flags[i], NULL};
        cs_config_t *c = cs_config_new("t", "", cs_config_common_opts, sec, &err);

        ck_assert_int_eq(cs_config_load(c, 2, argv, NULL, &err), -1);
        ck_assert_msg(!strstr(err.msg, "hunter2") && !strstr(err.msg, "123456"),
                      "'%s' shows the secret: %s", flags[i], err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, "***"));
        cs_config_destroy(c);
    }
}
END_TEST

/* cs_config_start: exit status 2 for an empty --group= and for a stray argument. */
START_TEST(start_exit_codes)
{
    char *empty[] = {"t", "--group=", NULL};
    char *stray[] = {"t", "--group=g", "extra", NULL};
    char *shortf[] = {"t", "--group=g", "-q", NULL};
    int code = -1;

    ck_assert_ptr_null(cs_config_start("t", "", own, 2, empty, &code));
    ck_assert_int_eq(code, 2);
    code = -1;
    ck_assert_ptr_null(cs_config_start("t", "", own, 3, stray, &code));
    ck_assert_int_eq(code, 2);
    code = -1;
    ck_assert_ptr_null(cs_config_start_args("t", "", own, CS_CONFIG_ARGS_ANY, 3, shortf, &code));
    ck_assert_int_eq(code, 2);
    code = -1;
    cs_config_t *c = cs_config_start_args("t", "", own, CS_CONFIG_ARGS_ANY, 3, stray, &code);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(code, 0);
    ck_assert_str_eq(cs_config_arg(c, 0), "extra");
    cs_config_destroy(c);
}
END_TEST

static char *write_tmp(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/cs_test_config_XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(json_file)
{
    char *path = write_tmp("{\"batch_size\": 77, \"group\": \"fromfile\", \"drain\": true, "
                           "\"ratio\": 0.25}");
    char flag[128];
    char *env[] = {"CS_GROUP=fromenv", NULL};

    snprintf(flag, sizeof(flag), "--config=%s", path);
    ck_assert_int_eq(LOAD(env, flag), 0);
    ck_assert_int_eq(cs_config_int(cfg, "batch-size"), 77);
    ck_assert_str_eq(cs_config_str(cfg, "group"), "fromenv"); /* env beats file */
    ck_assert(cs_config_bool(cfg, "drain"));
    ck_assert_double_eq(cs_config_double(cfg, "ratio"), 0.25);
    unlink(path);
}
END_TEST

/* strtod sets ERANGE for a subnormal result (glibc): such a number was refused as "not a
 * number". It is kept exactly as read, from every source. */
START_TEST(subnormal_numbers)
{
    char *path = write_tmp("{\"ratio\": 2.5e-320}");
    char file_flag[128];
    char *env[] = {"CS_GROUP=g", "CS_RATIO=1e-320", NULL};
    char *env_file[] = {"CS_GROUP=g", NULL};

    ck_assert_int_eq(LOAD(env, "--ratio=4.9406564584124654e-324"), 0); /* the smallest */
    ck_assert_double_eq(cs_config_double(cfg, "ratio"), 4.9406564584124654e-324);
    teardown();
    setup();
    ck_assert_int_eq(cs_config_load(cfg, 1, (char *[]){"t", NULL}, env, &err), 0);
    ck_assert_double_eq(cs_config_double(cfg, "ratio"), 1e-320);
    ck_assert(cs_config_double(cfg, "ratio") > 0);
    teardown();
    setup();
    snprintf(file_flag, sizeof(file_flag), "--config=%s", path);
    ck_assert_int_eq(LOAD(env_file, file_flag), 0);
    ck_assert_double_eq(cs_config_double(cfg, "ratio"), 2.5e-320);
    unlink(path);
}
END_TEST

START_TEST(json_file_errors)
{
    static const char *const texts[] = {"{\"batch_size\": \"many\"}", "{\"unknown_key\": 1}",
                                        "[1,2]", "{\"batch_size\": 1,", "{\"group\": [1]}"};
    static const char *const needles[] = {"key 'batch_size': 'many' is not an integer",
                                          "unknown key 'unknown_key'", "not a JSON object",
                                          "config file", "must be a string, number or boolean"};

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char *path = write_tmp(texts[i]);
        char *env[] = {"CS_GROUP=g", NULL};
        char var[128];

        snprintf(var, sizeof(var), "CS_CONFIG=%s", path);
        env[0] = var;
        cs_config_destroy(cfg);
        cfg = cs_config_new("t", "", cs_config_common_opts, own, &err);
        ck_assert_int_eq(LOAD(env, "--group=g"), -1);
        ck_assert_msg(strstr(err.msg, needles[i]), "row %zu: '%s' lacks '%s'", i, err.msg,
                      needles[i]);
        unlink(path);
    }
    {
        char *env[] = {NULL};

        cs_config_destroy(cfg);
        cfg = cs_config_new("t", "", cs_config_common_opts, own, &err);
        ck_assert_int_eq(LOAD(env, "--config=/nonexistent/x.json", "--group=g"), -1);
        ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.json"));
    }
}
END_TEST

START_TEST(no_bool_and_help)
{
    char *env[] = {"CS_GROUP=g", "CS_DRAIN=true", NULL};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    ck_assert_int_eq(LOAD(env, "--no-drain"), 0);
    ck_assert(!cs_config_bool(cfg, "drain"));
    cs_config_usage(cfg, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "--batch-size=INT"));
    ck_assert_ptr_nonnull(strstr(out, "CS_BATCH_SIZE"));
    ck_assert_ptr_nonnull(strstr(out, "(default: 5000)"));
    ck_assert_ptr_nonnull(strstr(out, "debug|info|warn|error|off"));
    ck_assert_ptr_nonnull(strstr(out, "(required)"));
    free(out);
}
END_TEST

START_TEST(duplicate_declaration)
{
    static const cs_opt_t dup[] = {{"log-level", CS_OPT_STRING, NULL, "again"}, {NULL}};
    cs_config_t *c = cs_config_new("t", "", cs_config_common_opts, dup, &err);

    ck_assert_ptr_null(c);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "declared twice"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults_and_required);
    tcase_add_test(tc, missing_required);
    tcase_add_test(tc, flags_beat_env);
    tcase_add_loop_test(tc, malformed_values, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, stray_arguments);
    tcase_add_test(tc, empty_where_meaningful);
    tcase_add_test(tc, start_exit_codes);
    tcase_add_test(tc, secret_values_not_shown);
    tcase_add_test(tc, json_file);
    tcase_add_test(tc, json_file_errors);
    tcase_add_test(tc, subnormal_numbers);
    tcase_add_test(tc, no_bool_and_help);
    tcase_add_test(tc, duplicate_declaration);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * tests/unit/test_config_secrets.c
 *      Check suite for the secrets part of cs/config.h: the properties-file parser, the secrets
 *      file permission policy, --pg-dsn-file and --kafka-props-file precedence, and redaction.
 *
 * Every message is checked for the secret it must not show (SECRET below). Files are made in a
 * fresh temporary directory per test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs/config.h"

#define SECRET "Hunter2,xyz"

static char dir[64];
static cs_err_t err;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cs-secrets-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes text to dir/name with mode; returns the path (static buffer per call site). */
static const char *put_file(const char *name, const char *text, mode_t mode, char *path,
                            size_t size)
{
    FILE *f;

    snprintf(path, size, "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static void assert_no_secret(const char *msg)
{
    ck_assert_msg(!strstr(msg, "Hunter2"), "secret shown in: %s", msg);
}

START_TEST(props_good)
{
    char **p = cs_config_props_parse("# the client side of the SASL_SSL listener\n"
                                     "\n"
                                     "   ! another comment\n"
                                     "security.protocol=SASL_SSL\n"
                                     "sasl.mechanisms = SCRAM-SHA-512\r\n"
                                     "sasl.username=cs-audit\n"
                                     "sasl.password=" SECRET " #not a comment \n"
                                     "ssl.ca.location=/etc/cs/ca.pem",
                                     "k.properties", &err);

    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p[0], "security.protocol=SASL_SSL");
    ck_assert_str_eq(p[1], "sasl.mechanisms=SCRAM-SHA-512");
    ck_assert_str_eq(p[2], "sasl.username=cs-audit");
    /* The value is the rest of the line: ',', '#' and trailing blanks included. */
    ck_assert_str_eq(p[3], "sasl.password=" SECRET " #not a comment ");
    ck_assert_str_eq(p[4], "ssl.ca.location=/etc/cs/ca.pem");
    ck_assert_ptr_null(p[5]);
    cs_config_props_free(p);

    p = cs_config_props_parse("", "empty", &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(p[0]);
    cs_config_props_free(p);
}
END_TEST

static const struct {
    const char *text;
    const char *msg;
} bad_props[] = {
    {"security.protocol=SSL\nsasl.password " SECRET "\n", "f.properties:2: expected name=value"},
    {"sasl.password:" SECRET "\n", "f.properties:1: expected name=value"},
    {"# c\n=" SECRET "\n", "f.properties:2: expected name=value"},
    {"\n\n" SECRET "\n", "f.properties:3: expected name=value"}, /* a password on its own */
    {"sasl.password=" SECRET "\\\n  more\n", "f.properties:1: a line ending in '\\'"},
    {"sasl.username=a\nsasl.username=b\n",
     "f.properties:2: 'sasl.username' is set twice (first on line 1)"},
    {"sasl.password=a\nsasl.password=" SECRET "\n", "f.properties:2: 'sasl.password' is set twice"},
    {"security.protocol=SASL_SSLL\n", "f.properties:1: librdkafka refuses 'security.protocol': "},
    {"sasl.pasword=" SECRET "\n", "f.properties:1: librdkafka refuses 'sasl.pasword': "},
    {"ssl.key.password=\n", NULL}, /* empty is a value librdkafka takes: accepted */
};

START_TEST(props_bad)
{
    char **p = cs_config_props_parse(bad_props[_i].text, "f.properties", &err);

    if (!bad_props[_i].msg) {
        ck_assert_ptr_nonnull(p);
        cs_config_props_free(p);
        return;
    }
    ck_assert_ptr_null(p);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_str_eq(err.field, "kafka-props-file");
    ck_assert_msg(strstr(err.msg, bad_props[_i].msg), "got '%s', expected '%s'", err.msg,
                  bad_props[_i].msg);
    assert_no_secret(err.msg);
}
END_TEST

START_TEST(secret_names)
{
    ck_assert(cs_config_prop_is_secret("sasl.password"));
    ck_assert(cs_config_prop_is_secret("ssl.key.password"));
    ck_assert(cs_config_prop_is_secret("ssl.keystore.password"));
    ck_assert(cs_config_prop_is_secret("sasl.oauthbearer.client.secret"));
    ck_assert(cs_config_prop_is_secret("ssl.key.pem"));
    ck_assert(cs_config_prop_is_secret("sasl.oauthbearer.config"));
    ck_assert(cs_config_prop_is_secret("PASSWORD"));
    ck_assert(!cs_config_prop_is_secret("sasl.username"));
    ck_assert(!cs_config_prop_is_secret("ssl.ca.location"));
    ck_assert(!cs_config_prop_is_secret("security.protocol"));
}
END_TEST

static const struct {
    const char *in, *out;
} redactions[] = {
    {"security.protocol=SASL_SSL,sasl.password=" SECRET, /* ',' ends an inline value */
     "security.protocol=SASL_SSL,sasl.password=***,xyz"},
    {"sasl.username=u\nsasl.password=" SECRET " x\nssl.key.password=k\nssl.ca.location=/ca",
     "sasl.username=u\nsasl.password=***\nssl.key.password=***\nssl.ca.location=/ca"},
    {"host=db user=cs password=Hunter2 sslmode=verify-full",
     "host=db user=cs password=*** sslmode=verify-full"},
    {"host=db password = 'Hunter2 \\' x' dbname=c", "host=db password =*** dbname=c"},
    {"postgresql://cs:Hunter2@db.example:5432/c?sslmode=verify-full",
     "postgresql://cs:***@db.example:5432/c?sslmode=verify-full"},
    {"postgresql://cs:Hunt@r2@db/c", "postgresql://cs:***@db/c"},
    {"postgresql://cs@db/c?sslmode=require&password=Hunter2&x=1",
     "postgresql://cs@db/c?sslmode=require&password=***&x=1"},
    {"postgresql://db/c", "postgresql://db/c"},
    {"user=password_owner dbname=password", "user=password_owner dbname=password"},
};

START_TEST(redact)
{
    char out[256];

    ck_assert_str_eq(cs_config_redact(redactions[_i].in, out, sizeof(out)), redactions[_i].out);
    assert_no_secret(out);
    /* A short buffer truncates, NUL-terminated. */
    cs_config_redact(redactions[_i].in, out, 5);
    ck_assert_int_eq((int)strlen(out), 4);
}
END_TEST

START_TEST(file_policy)
{
    char path[256];
    char *text = NULL;

    put_file("dsn", "host=db password=" SECRET "\n", 0600, path, sizeof(path));
    ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), 0);
    ck_assert_str_eq(text, "host=db password=" SECRET "\n");
    free(text);
    ck_assert_int_eq(chmod(path, 0640), 0); /* a group of readers */
    ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), 0);
    free(text);
    ck_assert_int_eq(chmod(path, 0400), 0);
    ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), 0);
    free(text);

    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), -1);
    ck_assert_ptr_null(text);
    ck_assert_str_eq(err.field, "--pg-dsn-file");
    ck_assert_msg(strstr(err.msg, "mode 0644 lets other users read or change it; chmod 600"), "%s",
                  err.msg);
    assert_no_secret(err.msg);
    ck_assert_int_eq(chmod(path, 0660), 0);
    ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), -1);
    ck_assert_msg(strstr(err.msg, "mode 0660 lets its group change it"), "%s", err.msg);

    snprintf(path, sizeof(path), "%s/missing", dir);
    ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), -1);
    ck_assert_msg(strstr(err.msg, "missing: cannot open: No such file"), "%s", err.msg);
    ck_assert_int_eq(cs_config_secret_file_read(dir, "--pg-dsn-file", &text, &err), -1);
    ck_assert_msg(strstr(err.msg, "is a directory"), "%s", err.msg);
    {
        FILE *f;

        snprintf(path, sizeof(path), "%s/nul", dir);
        f = fopen(path, "w");
        fwrite("a\0b", 1, 3, f);
        fclose(f);
        chmod(path, 0600);
        ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), -1);
        ck_assert_msg(strstr(err.msg, "holds a NUL byte"), "%s", err.msg);
        f = fopen(path, "w");
        for (int i = 0; i < CS_CONFIG_SECRET_FILE_MAX + 1; i++)
            fputc('x', f);
        fclose(f);
        ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), -1);
        ck_assert_msg(strstr(err.msg, "larger than 65536 bytes"), "%s", err.msg);
    }
}
END_TEST

/* A pipe (bash's <(...)) has no file mode to check: read as is. */
START_TEST(file_from_pipe)
{
    int fds[2];
    char path[64];
    char *text = NULL;

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], "host=db\n", 8), 8);
    close(fds[1]);
    snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
    ck_assert_int_eq(cs_config_secret_file_read(path, "--pg-dsn-file", &text, &err), 0);
    ck_assert_str_eq(text, "host=db\n");
    free(text);
    close(fds[0]);
}
END_TEST

static const cs_opt_t worker_like[] = {
    {"kafka-props", CS_OPT_STRING, NULL, "props", 0, 0, NULL, CS_OPT_SECRET},
    {NULL},
};

#define LOAD(cfg, envp, ...)                                                                       \
    ({                                                                                             \
        char *argv_[] = {"t", __VA_ARGS__, NULL};                                                  \
        cs_config_load(cfg, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, envp, &err);       \
    })

static cs_config_t *fresh(cs_config_t *old)
{
    cs_config_t *cfg;

    cs_config_destroy(old);
    cfg = cs_config_new("t", "", cs_config_common_opts, NULL, &err);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

START_TEST(dsn_file_precedence)
{
    char dsn_path[256], flag[300], envv[300];
    cs_config_t *cfg = NULL;

    put_file("dsn", "host=filehost password=" SECRET "\r\n", 0600, dsn_path, sizeof(dsn_path));
    snprintf(flag, sizeof(flag), "--pg-dsn-file=%s", dsn_path);
    snprintf(envv, sizeof(envv), "CS_PG_DSN_FILE=%s", dsn_path);

    /* The flag beats CS_PG_DSN; the file's trailing line end is dropped. */
    {
        char *env[] = {"CS_PG_DSN=host=envhost", NULL};

        cfg = fresh(cfg);
        ck_assert_int_eq(LOAD(cfg, env, flag), 0);
        ck_assert_str_eq(cs_config_str(cfg, "pg-dsn"), "host=filehost password=" SECRET);
        ck_assert(cs_config_is_set(cfg, "pg-dsn"));
    }
    /* --pg-dsn beats CS_PG_DSN_FILE (the file is not even read). */
    {
        char *env[] = {envv, NULL};

        ck_assert_int_eq(chmod(dsn_path, 0644), 0);
        cfg = fresh(cfg);
        ck_assert_int_eq(LOAD(cfg, env, "--pg-dsn=host=flaghost"), 0);
        ck_assert_str_eq(cs_config_str(cfg, "pg-dsn"), "host=flaghost");
        /* ... but read when it is the one in force, and refused for its mode. */
        cfg = fresh(cfg);
        ck_assert_int_eq(LOAD(cfg, env, "--log-level=info"), -1);
        ck_assert_msg(strstr(err.msg, "mode 0644"), "%s", err.msg);
        ck_assert_int_eq(chmod(dsn_path, 0600), 0);
    }
    /* Both from the same source: refused. */
    {
        char *env[] = {envv, "CS_PG_DSN=host=envhost", NULL};

        cfg = fresh(cfg);
        ck_assert_int_eq(LOAD(cfg, env, "--log-level=info"), -1);
        ck_assert_msg(strstr(err.msg, "pg-dsn and pg-dsn-file are both set"), "%s", err.msg);
    }
    /* More than one line, or an empty file. */
    {
        char *env[] = {NULL};
        char p2[256], f2[300];

        put_file("two", "host=a\nhost=b\n", 0600, p2, sizeof(p2));
        snprintf(f2, sizeof(f2), "--pg-dsn-file=%s", p2);
        cfg = fresh(cfg);
        ck_assert_int_eq(LOAD(cfg, env, f2), -1);
        ck_assert_msg(strstr(err.msg, "holds more than one line"), "%s", err.msg);
        put_file("empty", "\n", 0600, p2, sizeof(p2));
        snprintf(f2, sizeof(f2), "--pg-dsn-file=%s", p2);
        cfg = fresh(cfg);
        ck_assert_int_eq(LOAD(cfg, env, f2), -1);
        ck_assert_msg(strstr(err.msg, "an empty value is not allowed"), "%s", err.msg);
        assert_no_secret(err.msg);
    }
    cs_config_destroy(cfg);
}
END_TEST

START_TEST(props_file_merge)
{
    char path[256], flag[300];
    char *env[] = {NULL};
    cs_config_t *cfg = cs_config_new("t", "", cs_config_common_opts, worker_like, &err);
    const char *const *kp;

    put_file("k.properties",
             "security.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nsasl.password=" SECRET
             "\n",
             0600, path, sizeof(path));
    snprintf(flag, sizeof(flag), "--kafka-props-file=%s", path);

    /* Without a file: the inline list, split on ','. */
    ck_assert_int_eq(LOAD(cfg, env, "--kafka-props=a.b=1,c.d=2"), 0);
    kp = cs_config_kafka_props(cfg);
    ck_assert_str_eq(kp[0], "a.b=1");
    ck_assert_str_eq(kp[1], "c.d=2");
    ck_assert_ptr_null(kp[2]);
    ck_assert_str_eq(cs_config_str(cfg, "kafka-props"), "a.b=1,c.d=2");

    /* The file's entries first, then --kafka-props' (which win in librdkafka); the text joins
     * them with newlines so the password's ',' survives. */
    cs_config_destroy(cfg);
    cfg = cs_config_new("t", "", cs_config_common_opts, worker_like, &err);
    ck_assert_int_eq(LOAD(cfg, env, flag, "--kafka-props=debug=security"), 0);
    kp = cs_config_kafka_props(cfg);
    ck_assert_str_eq(kp[0], "security.protocol=SASL_SSL");
    ck_assert_str_eq(kp[2], "sasl.password=" SECRET);
    ck_assert_str_eq(kp[3], "debug=security");
    ck_assert_ptr_null(kp[4]);
    ck_assert_str_eq(
        cs_config_str(cfg, "kafka-props"),
        "security.protocol=SASL_SSL\nsasl.mechanisms=SCRAM-SHA-512\nsasl.password=" SECRET
        "\ndebug=security");

    /* A bad line is named by file and line, its value never shown. */
    put_file("k.properties", "security.protocol=SASL_SSL\nsasl.password " SECRET "\n", 0600, path,
             sizeof(path));
    ck_assert_int_eq(LOAD(cfg, env, flag), -1);
    ck_assert_msg(strstr(err.msg, "k.properties:2: expected name=value"), "%s", err.msg);
    assert_no_secret(err.msg);
    cs_config_destroy(cfg);

    /* A program without --kafka-props (a producer tool) still gets the file's entries. */
    cfg = cs_config_new("t", "", cs_config_common_opts, NULL, &err);
    put_file("k.properties", "security.protocol=SSL\n", 0600, path, sizeof(path));
    ck_assert_int_eq(LOAD(cfg, env, flag), 0);
    kp = cs_config_kafka_props(cfg);
    ck_assert_str_eq(kp[0], "security.protocol=SSL");
    ck_assert_ptr_null(kp[1]);
    cs_config_destroy(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_secrets");
    TCase *tc = tcase_create("config_secrets");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, props_good);
    tcase_add_loop_test(tc, props_bad, 0, (int)(sizeof(bad_props) / sizeof(bad_props[0])));
    tcase_add_test(tc, secret_names);
    tcase_add_loop_test(tc, redact, 0, (int)(sizeof(redactions) / sizeof(redactions[0])));
    tcase_add_test(tc, file_policy);
    tcase_add_test(tc, file_from_pipe);
    tcase_add_test(tc, dsn_file_precedence);
    tcase_add_test(tc, props_file_merge);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

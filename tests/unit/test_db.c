/*
 * tests/unit/test_db.c
 *      Check suite for cs_db_connect's refusals: configuration errors are FATAL, and no error
 *      message shows a password from the DSN.
 *
 * No server is needed: every DSN here is refused before a connection is made (parse errors,
 * impossible ports, option values libpq rejects up front), or points at a closed loopback port
 * (connection refused: TRANSIENT, the one case that may fix itself).
 * Also cs_db_copy_escape, against the byte-at-a-time escaping COPY's text format defines.
 */
#include <check.h>
#include <stdint.h>
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

/* COPY text format's escaping, one byte at a time: what cs_db_copy_escape must write. */
static size_t escape_ref(char *out, const char *s, size_t len)
{
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        const char *e = s[i] == '\\'   ? "\\\\"
                        : s[i] == '\t' ? "\\t"
                        : s[i] == '\n' ? "\\n"
                        : s[i] == '\r' ? "\\r"
                                       : NULL;
        if (e) {
            *o++ = e[0];
            *o++ = e[1];
        } else {
            *o++ = s[i];
        }
    }
    return (size_t)(o - out);
}

static void check_escape(const char *s, size_t len)
{
    char want[1024], got[1024 + 16];
    size_t wn = escape_ref(want, s, len);

    memset(got, 0x5a, sizeof got);
    size_t gn = cs_db_copy_escape(got, s, len);
    /* One assertion per call: Check records every assertion it passes (a write to its pipe). */
    size_t past = gn;
    while (past < sizeof got && got[past] == 0x5a)
        past++;
    ck_assert_msg(gn == wn && !memcmp(got, want, wn) && past == sizeof got,
                  "escaping %zu bytes: %zu written, want %zu%s%s", len, gn, wn,
                  gn == wn && memcmp(got, want, wn) ? ", other bytes" : "",
                  past < sizeof got ? ", and past its result" : ""); /* 2 * len is room */
}

START_TEST(copy_escape_cases)
{
    static const char *const cases[] = {
        "",
        "a",
        "plain text of more than eight bytes, nothing to escape",
        "\\",
        "\t\n\r\\",
        "{\"why\":\"a \\\"quoted\\\" skill\"}",
        "tab\tat 3, newline at the end\n",
        "1234567\t",  /* the last byte of the first word */
        "12345678\n", /* the first byte of the second word */
        "\x01\x02\x0b\x0c\x0e\x1f control bytes below 0x0e that stay as they are",
        "caf\xc3\xa9 \xe2\x80\x94 UTF-8 \xff bytes \x80 with the high bit\\",
        "\x5b\x5d\x5c\x9c\xdc neighbours of the backslash",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_escape(cases[i], strlen(cases[i]));
    check_escape("a\0b\tc", 5); /* a NUL byte is not COPY's to escape: copied */
}
END_TEST

/* Every length up to 40 at every alignment, with each byte to escape (and its neighbours) at
 * every position, over a pseudo-random alphabet mostly of plain bytes. */
START_TEST(copy_escape_random)
{
    static const char alphabet[] = "ab{}\":,.09 \\\t\n\r\x01\x0d\x0e\x5b\x5d\x80\xff";
    char buf[64];
    uint32_t x = 2463534242u;

    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 41), at = (size_t)(round % 7);
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[at + k] =
                (x % 4) ? (char)('a' + x % 26) : alphabet[(x >> 8) % (sizeof alphabet - 1)];
        }
        check_escape(buf + at, len);
    }
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
    tcase_add_test(tc, copy_escape_cases);
    tcase_add_test(tc, copy_escape_random);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

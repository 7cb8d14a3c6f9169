/*
 * tests/unit/test_text.c
 *      Check suite for cs/text.h: JSON string escaping, integer text and timestamp text.
 *
 * Every control byte is checked in both escaping styles against the texts written out here by
 * hand (RFC 8259 for CS_TEXT_JSON, PostgreSQL's escape_json for CS_TEXT_JSONB); integers against
 * printf over the extremes and a sweep; timestamps at the calendar's edges and, over a sweep of
 * years 1..9999, against gmtime_r + printf, the text cs_batch_ts_ms and the codec wrote before.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/text.h"

static const char *json(const char *s, size_t n, cs_text_json_t style, cs_buf_t *b)
{
    cs_buf_reset(b);
    cs_text_json_str(b, s, n, style);
    return b->data;
}

/* The escape of each byte below 0x20, per style. */
static const char *const ctl_json[32] = {
    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
    "\\u0008", "\\t",     "\\n",     "\\u000b", "\\u000c", "\\r",     "\\u000e", "\\u000f",
    "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
    "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
};
static const char *const ctl_jsonb[32] = {
    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
    "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
    "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
    "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
};

START_TEST(json_every_byte)
{
    cs_buf_t b = CS_BUF_INIT;
    char want[16], c = (char)_i;

    for (int style = CS_TEXT_JSON; style <= CS_TEXT_JSONB; style++) {
        if (_i < 0x20)
            snprintf(want, sizeof want, "\"%s\"",
                     (style == CS_TEXT_JSON ? ctl_json : ctl_jsonb)[_i]);
        else if (_i == '"' || _i == '\\')
            snprintf(want, sizeof want, "\"\\%c\"", c);
        else
            snprintf(want, sizeof want, "\"%c\"", c); /* 0x7f and every byte >= 0x80: verbatim */
        json(&c, 1, (cs_text_json_t)style, &b);
        ck_assert_uint_eq(b.len, strlen(want));
        ck_assert_msg(memcmp(b.data, want, b.len) == 0, "byte 0x%02x style %d: got %s want %s", _i,
                      style, b.data, want);
    }
    cs_buf_fini(&b);
}
END_TEST

START_TEST(json_strings)
{
    cs_buf_t b = CS_BUF_INIT;
    const char utf8[] = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe4\xb8\xad"; /* café ✓ 😀 中 */
    char want[64];

    ck_assert_str_eq(json("", 0, CS_TEXT_JSON, &b), "\"\"");
    ck_assert_str_eq(json("", 0, CS_TEXT_JSONB, &b), "\"\"");
    snprintf(want, sizeof want, "\"%s\"", utf8);
    ck_assert_str_eq(json(utf8, strlen(utf8), CS_TEXT_JSON, &b), want);
    ck_assert_str_eq(json(utf8, strlen(utf8), CS_TEXT_JSONB, &b), want);
    /* Invalid UTF-8 is not the escaper's business: bytes pass through as they are. */
    ck_assert_str_eq(json("\xff\xfe", 2, CS_TEXT_JSON, &b), "\"\xff\xfe\"");
    ck_assert_str_eq(json("a\0b", 3, CS_TEXT_JSON, &b), "\"a\\u0000b\"");
    ck_assert_str_eq(json("say \"hi\"\\\n/", 11, CS_TEXT_JSONB, &b), "\"say \\\"hi\\\"\\\\\\n/\"");
    ck_assert_str_eq(json("\b\f", 2, CS_TEXT_JSON, &b), "\"\\u0008\\u000c\"");
    ck_assert_str_eq(json("\b\f", 2, CS_TEXT_JSONB, &b), "\"\\b\\f\"");
    /* Appends: what the buffer held stays. */
    cs_buf_reset(&b);
    cs_buf_puts(&b, "{\"k\":");
    cs_text_json_str(&b, "v", 1, CS_TEXT_JSON);
    ck_assert_str_eq(b.data, "{\"k\":\"v\"");
    /* A long string of the worst case: every byte grows to six. */
    char ctl[3000];
    memset(ctl, 1, sizeof ctl);
    json(ctl, sizeof ctl, CS_TEXT_JSONB, &b);
    ck_assert_uint_eq(b.len, 6 * sizeof ctl + 2);
    ck_assert_int_eq(b.data[b.len], '\0');
    cs_buf_fini(&b);
}
END_TEST

static void check_i64(int64_t v)
{
    char got[CS_TEXT_INT_BYTES], want[32];
    size_t n = cs_text_i64(got, v);

    snprintf(want, sizeof want, "%" PRId64, v);
    ck_assert_msg(strcmp(got, want) == 0, "%s != %s", got, want);
    ck_assert_uint_eq(n, strlen(want));
}

/* cs_text_hundredths against printf: "%.2f" of h / 100, and that with its zeros trimmed. */
static void check_hundredths(int64_t h)
{
    char got[CS_TEXT_DEC2_BYTES], want[64];
    int64_t a = h < 0 ? -h : h;

    snprintf(want, sizeof want, "%s%" PRId64 ".%02d", h < 0 ? "-" : "", a / 100, (int)(a % 100));
    ck_assert_uint_eq(cs_text_hundredths(got, h, false), strlen(want));
    ck_assert_msg(strcmp(got, want) == 0, "%s != %s", got, want);
    size_t n = strlen(want);
    while (want[n - 1] == '0')
        want[--n] = '\0';
    if (want[n - 1] == '.')
        want[--n] = '\0';
    ck_assert_uint_eq(cs_text_hundredths(got, h, true), n);
    ck_assert_msg(strcmp(got, want) == 0, "trimmed %s != %s", got, want);
}

START_TEST(hundredths)
{
    char out[CS_TEXT_DEC2_BYTES];

    for (int64_t h = -12000; h <= 12000; h++)
        check_hundredths(h);
    check_hundredths(INT64_MAX);
    check_hundredths(INT64_MIN + 1);
    ck_assert_uint_eq(cs_text_hundredths(out, INT64_MIN, false), 21);
    ck_assert_str_eq(out, "-92233720368547758.08");
    ck_assert_uint_eq(cs_text_hundredths(out, -5, true), 5);
    ck_assert_str_eq(out, "-0.05");
    ck_assert_uint_eq(cs_text_hundredths(out, 1050, true), 4);
    ck_assert_str_eq(out, "10.5");
    ck_assert_uint_eq(cs_text_hundredths(out, 0, true), 1);
    ck_assert_str_eq(out, "0");
}
END_TEST

START_TEST(integers)
{
    char out[CS_TEXT_INT_BYTES];

    ck_assert_uint_eq(cs_text_i64(out, INT64_MIN), 20);
    ck_assert_str_eq(out, "-9223372036854775808");
    ck_assert_uint_eq(cs_text_i64(out, INT64_MAX), 19);
    ck_assert_str_eq(out, "9223372036854775807");
    ck_assert_uint_eq(cs_text_i64(out, 0), 1);
    ck_assert_str_eq(out, "0");
    check_i64(-1);
    check_i64(INT32_MIN);
    check_i64(INT32_MAX);
    check_i64(INT64_MIN + 1);
    check_i64(INT64_MAX - 1);
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
        check_i64(p - 1);
        check_i64(p);
        check_i64(p + 1);
        check_i64(-p);
        check_i64(-p - 1);
    }
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        check_i64((int64_t)x);
        check_i64((int64_t)(x >> (i % 64)));
    }
}
END_TEST

static const struct {
    int64_t ms;
    const char *rfc3339; /* the PostgreSQL text is the same with ' ' and "+00" */
} times[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {1, "1970-01-01T00:00:00.001Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {-1000, "1969-12-31T23:59:59.000Z"},
    {-86400000, "1969-12-31T00:00:00.000Z"},
    {-86400001, "1969-12-30T23:59:59.999Z"},
    {946684800000, "2000-01-01T00:00:00.000Z"},
    {951782400000, "2000-02-29T00:00:00.000Z"}, /* divisible by 400: leap */
    {951868800000, "2000-03-01T00:00:00.000Z"},
    {-2203891200000, "1900-03-01T00:00:00.000Z"}, /* 1900: not leap, Feb 28 + 1 day */
    {-2203977600000, "1900-02-28T00:00:00.000Z"},
    {1709208000000, "2024-02-29T12:00:00.000Z"},
    {1740787199999, "2025-02-28T23:59:59.999Z"},
    {1764063000000, "2025-11-25T09:30:00.000Z"},
    {4107456000000, "2100-02-28T00:00:00.000Z"},
    {4107542400000, "2100-03-01T00:00:00.000Z"}, /* 2100: not leap */
    {4102444799999, "2099-12-31T23:59:59.999Z"},
    {253402300799999, "9999-12-31T23:59:59.999Z"},
    {253402300800000, "10000-01-01T00:00:00.000Z"},
    {-62135596800000, "0001-01-01T00:00:00.000Z"},
    {-62167219200000, "0000-01-01T00:00:00.000Z"},
    {-62167219200001, "-001-12-31T23:59:59.999Z"},
    {INT64_MAX, "292278994-08-17T07:12:55.807Z"},
    {INT64_MIN, "-292275055-05-16T16:47:04.192Z"},
};

START_TEST(timestamps_ms)
{
    char got[CS_TEXT_TIME_BYTES], want[CS_TEXT_TIME_BYTES];
    const char *r = times[_i].rfc3339;
    size_t n = cs_text_time_ms(got, times[_i].ms, CS_TEXT_RFC3339);

    ck_assert_str_eq(got, r);
    ck_assert_uint_eq(n, strlen(r));
    /* PostgreSQL's form: the same date and time, ' ' for 'T' and "+00" for 'Z'. */
    size_t t = strchr(r, 'T') - r;
    snprintf(want, sizeof want, "%.*s %.*s+00", (int)t, r, (int)(strlen(r) - t - 2), r + t + 1);
    n = cs_text_time_ms(got, times[_i].ms, CS_TEXT_PG);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(n, strlen(want));
}
END_TEST

START_TEST(timestamps_us)
{
    char got[CS_TEXT_TIME_BYTES];

    cs_text_time_us(got, 0, CS_TEXT_RFC3339);
    ck_assert_str_eq(got, "1970-01-01T00:00:00.000000Z");
    cs_text_time_us(got, -1, CS_TEXT_RFC3339);
    ck_assert_str_eq(got, "1969-12-31T23:59:59.999999Z");
    ck_assert_uint_eq(cs_text_time_us(got, 1764063000123456, CS_TEXT_PG), 29);
    ck_assert_str_eq(got, "2025-11-25 09:30:00.123456+00");
    cs_text_time_us(got, 951782400000001, CS_TEXT_RFC3339);
    ck_assert_str_eq(got, "2000-02-29T00:00:00.000001Z");
    cs_text_time_us(got, 253402300799999999, CS_TEXT_RFC3339);
    ck_assert_str_eq(got, "9999-12-31T23:59:59.999999Z");
    cs_text_time_us(got, INT64_MIN, CS_TEXT_RFC3339);
    ck_assert_str_eq(got, "-290308-12-21T19:59:05.224192Z");
    cs_text_time_us(got, INT64_MAX, CS_TEXT_PG);
    ck_assert_str_eq(got, "294247-01-10 04:00:54.775807+00");
    /* Every millisecond value reads the same in microseconds, with three more zeros. */
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char ms[CS_TEXT_TIME_BYTES], want[CS_TEXT_TIME_BYTES];
        if (times[i].ms > INT64_MAX / 1000 || times[i].ms < INT64_MIN / 1000)
            continue;
        size_t n = cs_text_time_ms(ms, times[i].ms, CS_TEXT_RFC3339);
        snprintf(want, sizeof want, "%.*s000Z", (int)n - 1, ms);
        cs_text_time_us(got, times[i].ms * 1000, CS_TEXT_RFC3339);
        ck_assert_str_eq(got, want);
    }
}
END_TEST

/* Years 1..9999 against gmtime_r + printf: what cs_batch_ts_ms and the codec printed before. */
START_TEST(timestamps_sweep)
{
    const int64_t lo = -62135596800000, hi = 253402300800000;
    uint64_t x = 0x2545f4914f6cdd1du;

    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t ms = lo + (int64_t)(x % (uint64_t)(hi - lo));
        int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
        time_t t = (time_t)secs;
        struct tm tm;
        char want[64], got[CS_TEXT_TIME_BYTES];

        gmtime_r(&t, &tm);
        snprintf(want, sizeof want, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms - secs * 1000));
        cs_text_time_ms(got, ms, CS_TEXT_PG);
        ck_assert_msg(strcmp(got, want) == 0, "%lld: %s != %s", (long long)ms, got, want);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, json_every_byte, 0, 256);
    tcase_add_test(tc, json_strings);
    tcase_add_test(tc, integers);
    tcase_add_test(tc, hundredths);
    tcase_add_loop_test(tc, timestamps_ms, 0, (int)(sizeof times / sizeof times[0]));
    tcase_add_test(tc, timestamps_us);
    tcase_add_test(tc, timestamps_sweep);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

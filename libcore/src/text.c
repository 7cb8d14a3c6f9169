/*
 * libcore/src/text.c
 *      JSON string literals, integer text and timestamp text (see cs/text.h).
 *
 * These run per field of every event the audit worker logs and every row a batch COPYs, so none
 * of them calls printf on the common path: escaping is table-driven over one reserved block,
 * integers are written digit by digit, and a timestamp is split into its civil date with Howard
 * Hinnant's civil_from_days (exact for every int64_t day count) and written two digits at a time.
 * Only a year outside 0..9999 falls back to snprintf, so its text stays what %04lld prints.
 */
#include "cs/text.h"

#include <stdio.h>
#include <stdbool.h>
#include <string.h>

/* ---- JSON string literals ------------------------------------------------------------------- */

/*
 * What follows the backslash for each byte, per style: 0 copies the byte verbatim, 'u' writes
 * \u00XX, anything else is the escape letter.
 */
/* clang-format off */
static const char json_esc[2][256] = {
    [CS_TEXT_JSON] = {
        'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x00 */
        'u', 't', 'n', 'u', 'u', 'r', 'u', 'u', /* 0x08 */
        'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x10 */
        'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x18 */
        ['"'] = '"', ['\\'] = '\\',
    },
    [CS_TEXT_JSONB] = {
        'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x00 */
        'b', 't', 'n', 'u', 'f', 'r', 'u', 'u', /* 0x08 */
        'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x10 */
        'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x18 */
        ['"'] = '"', ['\\'] = '\\',
    },
};
/* clang-format on */

void cs_text_json_str(cs_buf_t *b, const char *s, size_t n, cs_text_json_t style)
{
    static const char hex[] = "0123456789abcdef";
    const char *esc = json_esc[style == CS_TEXT_JSONB];
    /* Worst case every byte becomes \u00XX (6 bytes), plus the quotes. */
    char *out = cs_buf_reserve(b, n * 6 + 2), *o = out;

    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e = esc[c];

        if (!e) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        *o++ = e;
        if (e == 'u') {
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    cs_buf_advance(b, (size_t)(o - out));
}

/* ---- integers ------------------------------------------------------------------------------- */

size_t cs_text_i64(char out[CS_TEXT_INT_BYTES], int64_t v)
{
    char tmp[CS_TEXT_INT_BYTES], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    size_t n;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    n = (size_t)(tmp + sizeof tmp - p);
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

size_t cs_text_hundredths(char out[CS_TEXT_DEC2_BYTES], int64_t h, bool trim)
{
    uint64_t u = h < 0 ? 0 - (uint64_t)h : (uint64_t)h;
    unsigned frac = (unsigned)(u % 100);
    size_t n = 0;

    if (h < 0)
        out[n++] = '-';
    n += cs_text_i64(out + n, (int64_t)(u / 100));
    if (!trim || frac) {
        out[n++] = '.';
        out[n++] = (char)('0' + frac / 10);
        if (!trim || frac % 10)
            out[n++] = (char)('0' + frac % 10);
    }
    out[n] = '\0';
    return n;
}

/* ---- timestamps ----------------------------------------------------------------------------- */

/* The proleptic Gregorian date of day z since 1970-01-01 (Howard Hinnant's civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static char *put2(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

/* t in units of 1/per_sec seconds, written with fdigits fraction digits (per_sec = 10^fdigits). */
static size_t format_time(char *out, int64_t t, int64_t per_sec, int fdigits, cs_text_time_t style)
{
    int64_t secs = t / per_sec, frac = t % per_sec;
    if (frac < 0) {
        frac += per_sec;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    bool pg = style == CS_TEXT_PG;
    if (y < 0 || y > 9999) {
        int n =
            snprintf(out, CS_TEXT_TIME_BYTES, "%04lld-%02d-%02d%c%02d:%02d:%02d.%0*lld%s",
                     (long long)y, m, d, pg ? ' ' : 'T', (int)(sod / 3600), (int)(sod / 60 % 60),
                     (int)(sod % 60), fdigits, (long long)frac, pg ? "+00" : "Z");
        return n < 0 ? 0 : (size_t)n;
    }
    char *o = out;
    o = put2(o, (int)(y / 100));
    o = put2(o, (int)(y % 100));
    *o++ = '-';
    o = put2(o, m);
    *o++ = '-';
    o = put2(o, d);
    *o++ = pg ? ' ' : 'T';
    o = put2(o, (int)(sod / 3600));
    *o++ = ':';
    o = put2(o, (int)(sod / 60 % 60));
    *o++ = ':';
    o = put2(o, (int)(sod % 60));
    *o++ = '.';
    for (int i = fdigits - 1; i >= 0; i--, frac /= 10)
        o[i] = (char)('0' + frac % 10);
    o += fdigits;
    if (pg) {
        memcpy(o, "+00", 3);
        o += 3;
    } else {
        *o++ = 'Z';
    }
    *o = '\0';
    return (size_t)(o - out);
}

size_t cs_text_time_ms(char out[CS_TEXT_TIME_BYTES], int64_t ms, cs_text_time_t style)
{
    return format_time(out, ms, 1000, 3, style);
}

size_t cs_text_time_us(char out[CS_TEXT_TIME_BYTES], int64_t us, cs_text_time_t style)
{
    return format_time(out, us, 1000000, 6, style);
}

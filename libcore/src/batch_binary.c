/*
 * libcore/src/batch_binary.c
 *      Binary COPY encoding of a batch's COPY text rows (see batch_int.h).
 *
 * PostgreSQL spends most of a worker's COPY parsing text: timestamptz_in, numeric_in, uuid_in,
 * int8in for every field of every row (measured on a drain's rows, session 11: the backend CPU
 * of COPY into the staging shapes of cs-progress's tables is 2.5 to 4 times that of the same rows
 * in binary, system_logs' 1.5 times). In binary format the server calls the types' receive
 * functions, which copy fixed-size values. The encoding here runs in the worker, in C, once per
 * flushed field.
 *
 * Binary COPY (PostgreSQL's "COPY" reference, "Binary Format"): the 11-byte signature
 * "PGCOPY\n\377\r\n\0", an int32 flags field (0) and an int32 header extension length (0); then per
 * row an int16 field count and per field an int32 length (-1: NULL) and that many bytes in the
 * type's send/recv representation; then an int16 -1. Integers are big-endian.
 *
 * An array column (one dimension) is sent as array_send sends it: a header (ndim, a has-null flag,
 * the element type's oid, the dimension's length and lower bound), then its elements as fields.
 *
 * Each encoder accepts only text whose value it computes exactly as the type's input function
 * does and declines the rest (returns -1): then the caller sends the whole range as text, so
 * PostgreSQL's input functions judge what is odd, with their own errors.
 */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch_int.h"

static const char signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

/*
 * Room for n more bytes, written directly: the encoders put a few bytes at a time (a numeric is
 * six or more puts; a uuid and a text field two), each a call to cs_buf_append before.
 * The bytes after out->len are committed by put_end (which keeps cs_buf's NUL terminator).
 */
static inline unsigned char *put_begin(cs_buf_t *out, size_t n)
{
    if (out->len + n + 1 > out->cap)
        cs_buf_reserve(out, n);
    return (unsigned char *)out->data + out->len;
}

static inline void put_end(cs_buf_t *out, size_t n)
{
    out->len += n;
    out->data[out->len] = '\0';
}

static inline void be16(unsigned char *b, uint16_t v)
{
    b[0] = (unsigned char)(v >> 8);
    b[1] = (unsigned char)v;
}

static inline void be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

static inline void put16(cs_buf_t *out, uint16_t v)
{
    be16(put_begin(out, 2), v);
    put_end(out, 2);
}

static inline void put32(cs_buf_t *out, uint32_t v)
{
    be32(put_begin(out, 4), v);
    put_end(out, 4);
}

static inline void put64(cs_buf_t *out, uint64_t v)
{
    unsigned char *b = put_begin(out, 8);
    be32(b, (uint32_t)(v >> 32));
    be32(b + 4, (uint32_t)v);
    put_end(out, 8);
}

/* A field's length, then its n bytes. */
static inline void put_field(cs_buf_t *out, const void *p, size_t n)
{
    unsigned char *b = put_begin(out, 4 + n);
    be32(b, (uint32_t)n);
    memcpy(b + 4, p, n);
    put_end(out, 4 + n);
}

cs__bin_type_t cs__bin_type_of(const char *typname, char typtype, bool in_catalog)
{
    static const struct {
        const char *name;
        cs__bin_type_t type;
    } map[] = {
        {"text", CS__BIN_BYTES},    {"varchar", CS__BIN_BYTES},
        {"bpchar", CS__BIN_BYTES},  {"json", CS__BIN_BYTES},
        {"jsonb", CS__BIN_JSONB},   {"bool", CS__BIN_BOOL},
        {"int2", CS__BIN_INT2},     {"int4", CS__BIN_INT4},
        {"int8", CS__BIN_INT8},     {"float4", CS__BIN_FLOAT4},
        {"float8", CS__BIN_FLOAT8}, {"numeric", CS__BIN_NUMERIC},
        {"uuid", CS__BIN_UUID},     {"timestamptz", CS__BIN_TIMESTAMPTZ},
        {"date", CS__BIN_DATE},     {"bytea", CS__BIN_BYTEA},
    };
    if (typtype == 'e')
        return CS__BIN_BYTES; /* an enum's binary form is its label */
    if (!in_catalog || typtype != 'b' || !typname)
        return CS__BIN_NONE; /* a domain over a domain, composites, others' types; an array
                              * is encoded by its element's type (cs__bin_array) */
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(map[i].name, typname))
            return map[i].type;
    return CS__BIN_NONE;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [+-]?[0-9]+ into *v, declining overflow of int64. */
static int parse_i64(const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    bool neg = false;
    uint64_t acc = 0, lim;

    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (lim - d) / 10)
            return -1;
        acc = acc * 10 + d;
    }
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/*
 * A float's text as float8in/float4in take it through strtod/strtof: [+-]digits[.digits][e[+-]
 * digits] (or .digits), NaN, Infinity, -Infinity. Declines other spellings strtod would also take
 * (hexadecimal, "inf", spaces) and out-of-range values (PostgreSQL's error; a denormal is
 * kept, as PostgreSQL keeps it).
 */
static int parse_float(const char *s, size_t n, bool single, double *v)
{
    char tmp[80];
    size_t i = 0, digits = 0;

    if (n == 3 && !memcmp(s, "NaN", 3)) {
        *v = NAN;
        return 0;
    }
    if ((n == 8 && !memcmp(s, "Infinity", 8)) || (n == 9 && !memcmp(s, "-Infinity", 9))) {
        *v = s[0] == '-' ? -INFINITY : INFINITY;
        return 0;
    }
    if (n == 0 || n >= sizeof tmp)
        return -1;
    if (s[i] == '+' || s[i] == '-')
        i++;
    for (; i < n && is_digit(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && is_digit(s[i]); i++)
            digits++;
    if (!digits)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i == n || !is_digit(s[i]))
            return -1;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i != n)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    char *end;
    if (single) {
        float f = strtof(tmp, &end);
        *v = f;
    } else {
        *v = strtod(tmp, &end);
    }
    if (end != tmp + n)
        return -1;
    /* ERANGE: float8in/float4in refuse a result of 0 or infinity, keep a denormal's value */
    if (errno && (errno != ERANGE || *v == 0 || isinf(*v)))
        return -1;
    return 0;
}

/* PostgreSQL's numeric limits that matter here (numeric.c). */
#define NUMERIC_POS      0x0000
#define NUMERIC_NEG      0x4000
#define NUMERIC_NAN      0xC000
#define MAX_DEC_DIGITS   1000
#define MAX_DEC_EXPONENT 1000

/* A decimal number's text, read as numeric_in reads it. */
typedef struct dec {
    unsigned char d[MAX_DEC_DIGITS]; /* its digits, leading and trailing zeros included */
    int nd, ipart, fpart;            /* digits, of which before and after the point */
    long exp;                        /* the exponent after e */
    bool neg;
} dec_t;

/* [+-]digits[.digits][e[+-]digits] (or .digits) into x; -1 for anything else. */
static int parse_dec(const char *s, size_t n, dec_t *x)
{
    size_t i = 0;
    bool point = false;

    x->nd = x->ipart = x->fpart = 0;
    x->exp = 0;
    x->neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        x->neg = s[i++] == '-';
    for (; i < n && (is_digit(s[i]) || (s[i] == '.' && !point)); i++) {
        if (s[i] == '.') {
            point = true;
            continue;
        }
        if (x->nd == MAX_DEC_DIGITS)
            return -1;
        x->d[x->nd++] = (unsigned char)(s[i] - '0');
        *(point ? &x->fpart : &x->ipart) += 1;
    }
    if (x->nd == 0)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i == n)
            return -1;
        for (; i < n && is_digit(s[i]); i++)
            if ((x->exp = x->exp * 10 + (s[i] - '0')) > MAX_DEC_EXPONENT)
                return -1;
        if (eneg)
            x->exp = -x->exp;
    }
    return i == n ? 0 : -1;
}

/* numeric_send's header: ndigits, weight, sign, dscale (after the field's length). */
static void put_numeric_head(cs_buf_t *out, int ndigits, long weight, uint16_t sign, long dscale)
{
    unsigned char *b = put_begin(out, 12);
    be32(b, (uint32_t)(8 + 2 * ndigits));
    be16(b + 4, (uint16_t)ndigits);
    be16(b + 6, (uint16_t)(int16_t)weight);
    be16(b + 8, sign);
    be16(b + 10, (uint16_t)dscale);
    put_end(out, 12);
}

/*
 * numeric: [+-]digits[.digits][e[+-]digits] (or .digits), or NaN, as numeric_in reads it: the
 * display scale is the digits after the point less the exponent (at least 0); the value goes in
 * base-10000 digits from the most significant, weight the power of 10000 of the first, no
 * leading or trailing zero digits (zero: no digits, weight 0, positive), as numeric_send sends
 * it. numeric(p,s) rounds and checks the precision in numeric_recv as in numeric_in.
 */
static int enc_numeric(cs_buf_t *out, const char *s, size_t n)
{
    dec_t x;

    if (n == 3 && !memcmp(s, "NaN", 3)) {
        put_numeric_head(out, 0, 0, NUMERIC_NAN, 0);
        return 0;
    }
    if (parse_dec(s, n, &x) < 0)
        return -1;
    long dscale = x.fpart - x.exp < 0 ? 0 : x.fpart - x.exp;
    long dweight = x.ipart - 1 + x.exp; /* the power of ten of d[first] */
    int first = 0, last = x.nd;
    while (first < last && x.d[first] == 0) {
        first++;
        dweight--;
    }
    while (last > first && x.d[last - 1] == 0)
        last--;
    if (first == last) { /* zero, of any sign */
        put_numeric_head(out, 0, 0, NUMERIC_POS, dscale);
        return 0;
    }
    long weight = dweight >= 0 ? dweight / 4 : -((-dweight - 1) / 4 + 1);
    long offset = (weight + 1) * 4 - (dweight + 1); /* zeros before d[first] in its group */
    int ngroups = (int)((offset + (last - first) + 3) / 4);
    put_numeric_head(out, ngroups, weight, x.neg ? NUMERIC_NEG : NUMERIC_POS, dscale);
    for (int g = 0; g < ngroups; g++) {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
            long pos = (long)g * 4 + k - offset + first;
            v = v * 10 + (pos >= first && pos < last ? x.d[pos] : 0);
        }
        put16(out, (uint16_t)v);
    }
    return 0;
}

/* A hexadecimal digit's value, -1 for any other byte (cs__hexval by table: 32 per uuid). */
static const signed char hexv[256] = {
    ['0'] = 0 + 1,  ['1'] = 1 + 1,  ['2'] = 2 + 1,  ['3'] = 3 + 1,  ['4'] = 4 + 1,  ['5'] = 5 + 1,
    ['6'] = 6 + 1,  ['7'] = 7 + 1,  ['8'] = 8 + 1,  ['9'] = 9 + 1,  ['a'] = 10 + 1, ['b'] = 11 + 1,
    ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1, ['f'] = 15 + 1, ['A'] = 10 + 1, ['B'] = 11 + 1,
    ['C'] = 12 + 1, ['D'] = 13 + 1, ['E'] = 14 + 1, ['F'] = 15 + 1,
};

static inline int hexval(char c)
{
    return hexv[(unsigned char)c] - 1; /* the table holds value + 1, so that 0 means none */
}

/* uuid, as string_to_uuid reads it: optional braces, a hyphen allowed after each 4 digits. */
static int enc_uuid(cs_buf_t *out, const char *s, size_t n)
{
    unsigned char u[16];
    size_t i = 0;
    bool braces = false;

    if (i < n && s[i] == '{') {
        braces = true;
        i++;
    }
    for (int k = 0; k < 16; k++) {
        if (i + 2 > n)
            return -1;
        int h = hexval(s[i]), l = hexval(s[i + 1]);
        if (h < 0 || l < 0)
            return -1;
        u[k] = (unsigned char)(h * 16 + l);
        i += 2;
        if (i < n && s[i] == '-' && k % 2 == 1 && k < 15)
            i++;
    }
    if (braces) {
        if (i >= n || s[i] != '}')
            return -1;
        i++;
    }
    if (i != n)
        return -1;
    put_field(out, u, 16);
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

#define PG_EPOCH_DAYS 10957 /* 2000-01-01 - 1970-01-01 */

/* n decimal digits at s into *v. */
static bool digits_n(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* YYYY-MM-DD (years 1 to 9999) at s (10 bytes): days since 2000-01-01. */
static int parse_date(const char *s, int64_t *days)
{
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (!digits_n(s, 4, &y) || s[4] != '-' || !digits_n(s + 5, 2, &m) || s[7] != '-' ||
        !digits_n(s + 8, 2, &d))
        return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        return -1;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d) - PG_EPOCH_DAYS;
    return 0;
}

/*
 * timestamptz with an explicit offset: YYYY-MM-DD(' '|T)HH:MM:SS[.f{1,6}](Z|(+|-)HH[[:]MM]),
 * years 1 to 9999, what cs_batch_ts_ms and RFC 3339 write. Text without an offset depends on the
 * session's TimeZone, and more than 6 fraction digits are rounded: both are declined.
 */
static int enc_timestamptz(cs_buf_t *out, const char *s, size_t n)
{
    int64_t days;
    int hh, mi, ss, oh = 0, om = 0, frac = 0;
    size_t i = 19;

    if (n < 20 || parse_date(s, &days) < 0 || (s[10] != ' ' && s[10] != 'T') ||
        !digits_n(s + 11, 2, &hh) || s[13] != ':' || !digits_n(s + 14, 2, &mi) || s[16] != ':' ||
        !digits_n(s + 17, 2, &ss) || hh > 23 || mi > 59 || ss > 59)
        return -1;
    if (s[i] == '.') {
        int nf = 0;
        for (i++; i < n && is_digit(s[i]); i++) {
            if (++nf > 6)
                return -1;
            frac = frac * 10 + (s[i] - '0');
        }
        if (nf == 0)
            return -1;
        for (; nf < 6; nf++)
            frac *= 10;
    }
    if (i < n && s[i] == 'Z') {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        if (i + 3 > n || !digits_n(s + i + 1, 2, &oh))
            return -1;
        i += 3;
        if (i < n && s[i] == ':')
            i++;
        if (i < n) {
            if (i + 2 > n || !digits_n(s + i, 2, &om))
                return -1;
            i += 2;
        }
        if (oh > 15 || om > 59)
            return -1;
        oh *= sign;
        om *= sign;
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    int64_t secs = days * 86400 + hh * 3600 + mi * 60 + ss - (oh * 3600 + om * 60);
    put32(out, 8);
    put64(out, (uint64_t)(secs * 1000000 + frac));
    return 0;
}

/* bytea in hex format ("\x" then pairs of hex digits), as the COPY field's unescaped text. */
static int enc_bytea(cs_buf_t *out, const char *s, size_t n)
{
    if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2)
        return -1;
    size_t len = (n - 2) / 2;
    size_t at = out->len;
    put32(out, (uint32_t)len);
    unsigned char *o = (unsigned char *)cs_buf_reserve(out, len);
    for (size_t k = 0; k < len; k++) {
        int h = hexval(s[2 + 2 * k]), l = hexval(s[3 + 2 * k]);
        if (h < 0 || l < 0) {
            out->len = at;
            return -1;
        }
        o[k] = (unsigned char)(h * 16 + l);
    }
    cs_buf_advance(out, len);
    return 0;
}

/* Text types: the bytes; jsonb: its version byte, then the bytes. */
static int enc_text(cs_buf_t *out, bool jsonb, const char *s, size_t n)
{
    if (memchr(s, '\0', n) || n > 0x3ffffff0)
        return -1; /* no text holds a NUL byte: PostgreSQL's error, from the text path */
    if (!jsonb) {
        put_field(out, s, n);
        return 0;
    }
    unsigned char *b = put_begin(out, 5 + n);
    be32(b, (uint32_t)(n + 1));
    b[4] = 1; /* jsonb_recv's version byte; the text follows */
    memcpy(b + 5, s, n);
    put_end(out, 5 + n);
    return 0;
}

/* bool (t, true, f, false), int2, int4, int8. */
static int enc_int(cs_buf_t *out, cs__bin_type_t type, const char *s, size_t n)
{
    int64_t v;

    if (type == CS__BIN_BOOL) {
        bool t = (n == 1 && s[0] == 't') || (n == 4 && !memcmp(s, "true", 4));
        bool f = (n == 1 && s[0] == 'f') || (n == 5 && !memcmp(s, "false", 5));
        if (!t && !f)
            return -1;
        put32(out, 1);
        cs_buf_putc(out, t ? 1 : 0);
        return 0;
    }
    if (parse_i64(s, n, &v) < 0)
        return -1;
    if (type == CS__BIN_INT2 && v >= INT16_MIN && v <= INT16_MAX) {
        put32(out, 2);
        put16(out, (uint16_t)(int16_t)v);
    } else if (type == CS__BIN_INT4 && v >= INT32_MIN && v <= INT32_MAX) {
        put32(out, 4);
        put32(out, (uint32_t)(int32_t)v);
    } else if (type == CS__BIN_INT8) {
        put32(out, 8);
        put64(out, (uint64_t)v);
    } else {
        return -1; /* out of the column's range */
    }
    return 0;
}

/* float4, float8: the IEEE 754 bits. */
static int enc_float(cs_buf_t *out, bool single, const char *s, size_t n)
{
    double f;

    if (parse_float(s, n, single, &f) < 0)
        return -1;
    if (single) {
        float x = (float)f;
        uint32_t u;
        memcpy(&u, &x, 4);
        put32(out, 4);
        put32(out, u);
    } else {
        uint64_t u;
        memcpy(&u, &f, 8);
        put32(out, 8);
        put64(out, u);
    }
    return 0;
}

int cs__bin_field(cs_buf_t *out, cs__bin_type_t type, const char *s, size_t n)
{
    int64_t v;

    if (!s) {
        put32(out, 0xffffffffu);
        return 0;
    }
    switch (type) {
    case CS__BIN_BYTES:
    case CS__BIN_JSONB:
        return enc_text(out, type == CS__BIN_JSONB, s, n);
    case CS__BIN_BOOL:
    case CS__BIN_INT2:
    case CS__BIN_INT4:
    case CS__BIN_INT8:
        return enc_int(out, type, s, n);
    case CS__BIN_FLOAT4:
    case CS__BIN_FLOAT8:
        return enc_float(out, type == CS__BIN_FLOAT4, s, n);
    case CS__BIN_NUMERIC:
        return enc_numeric(out, s, n);
    case CS__BIN_UUID:
        return enc_uuid(out, s, n);
    case CS__BIN_TIMESTAMPTZ:
        return enc_timestamptz(out, s, n);
    case CS__BIN_DATE:
        if (n != 10 || parse_date(s, &v) < 0)
            return -1;
        put32(out, 4);
        put32(out, (uint32_t)(int32_t)v);
        return 0;
    case CS__BIN_BYTEA:
        return enc_bytea(out, s, n);
    case CS__BIN_NONE:
        break;
    }
    return -1;
}

/* array_in's whitespace (scanner_isspace), declined outside quotes. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * The array element starting at s[*i] (inside the braces, which end at s[n - 1]) appended as a
 * field of elem; *i is left after it, *null set for a NULL element. -1 (out unchanged) declines.
 */
static int array_elem(cs_buf_t *out, cs__bin_type_t elem, const char *s, size_t n, size_t *i,
                      bool *null, cs_buf_t *scratch)
{
    size_t j = *i;

    if (s[j] != '"') { /* unquoted: no whitespace, quote, backslash or brace; NULL is NULL */
        for (; j < n - 1 && s[j] != ','; j++)
            if (s[j] == '"' || s[j] == '\\' || s[j] == '{' || s[j] == '}' || is_space(s[j]))
                return -1;
        size_t en = j - *i;
        if (en == 0)
            return -1; /* {a,,b}, {,a}: array_in's error */
        *null = en == 4 && !strncasecmp(s + *i, "NULL", 4);
        if (*null)
            put32(out, 0xffffffffu);
        else if (cs__bin_field(out, elem, s + *i, en) < 0)
            return -1;
        *i = j;
        return 0;
    }
    bool esc = false; /* quoted: a backslash escapes the next character */
    for (j++; j < n - 1 && s[j] != '"'; j++)
        if (s[j] == '\\') {
            esc = true;
            j++;
        }
    if (j >= n - 1)
        return -1; /* no closing quote before the closing brace */
    const char *e = s + *i + 1;
    size_t en = j - *i - 1;
    if (esc) {
        cs_buf_reset(scratch);
        char *o = cs_buf_reserve(scratch, en);
        size_t k = 0;
        for (size_t q = 0; q < en; q++)
            o[k++] = e[q] == '\\' ? e[++q] : e[q];
        cs_buf_advance(scratch, k);
        e = scratch->data;
        en = k;
    }
    *null = false;
    if (cs__bin_field(out, elem, e, en) < 0)
        return -1;
    *i = j + 1;
    return 0;
}

int cs__bin_array(cs_buf_t *out, cs__bin_type_t elem, uint32_t elem_oid, const char *s, size_t n,
                  cs_buf_t *scratch)
{
    size_t at = out->len, i = 1;
    uint32_t nitems = 0;
    bool hasnull = false, null;

    if (n < 2 || s[0] != '{' || s[n - 1] != '}' || elem == CS__BIN_NONE)
        return -1;
    if (n == 2) { /* {}: no dimension */
        put32(out, 12);
        put32(out, 0); /* ndim */
        put32(out, 0); /* has-null flag */
        put32(out, elem_oid);
        return 0;
    }
    for (int k = 0; k < 6; k++)
        put32(out, 0); /* length, ndim, flag, oid, the dimension's length and lower bound: below */
    for (;;) {
        if (array_elem(out, elem, s, n, &i, &null, scratch) < 0)
            goto decline;
        nitems++;
        hasnull |= null;
        if (i == n - 1)
            break; /* the closing brace */
        if (s[i] != ',' || i + 1 == n - 1)
            goto decline; /* "a"b, or a trailing comma */
        i++;
    }
    uint32_t len = (uint32_t)(out->len - at - 4);
    unsigned char *h = (unsigned char *)out->data + at;
    uint32_t fields[] = {len, 1, hasnull, elem_oid, nitems, 1};
    for (int f = 0; f < 6; f++)
        for (int k = 0; k < 4; k++)
            h[4 * f + k] = (unsigned char)(fields[f] >> (24 - 8 * k));
    return 0;
decline:
    out->len = at;
    return -1;
}

/*
 * The COPY text field p (n bytes, its first backslash at bs) unescaped into scratch, the runs
 * between escapes copied whole (an outbox payload's bytea is "\\x" and hundreds of hexadecimal
 * digits). -1 for a lone backslash at its end.
 */
static int unescape(cs_buf_t *scratch, const char *p, size_t n, const char *bs)
{
    cs_buf_reset(scratch);
    char *o = cs_buf_reserve(scratch, n);
    size_t k = 0, i = 0;
    for (;;) {
        size_t run = bs ? (size_t)(bs - (p + i)) : n - i;
        memcpy(o + k, p + i, run);
        k += run;
        i += run;
        if (!bs)
            break;
        if (i + 1 == n)
            return -1;
        o[k++] = (char)cs__copy_unescape(p, n, &i);
        i++;
        bs = i < n ? memchr(p + i, '\\', n - i) : NULL;
    }
    cs_buf_advance(scratch, k);
    return 0;
}

int cs__bin_rows(cs_buf_t *out, const cs__bin_col_t *cols, int ncols, const char *p,
                 const char *end, cs_buf_t scratch[2], int *bad_col)
{
    cs_buf_reset(out);
    memcpy(put_begin(out, sizeof signature), signature, sizeof signature);
    put_end(out, sizeof signature);
    put32(out, 0); /* flags */
    put32(out, 0); /* header extension length */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        put16(out, (uint16_t)ncols);
        for (int c = 0; c < ncols; c++) {
            const char *tab = memchr(p, '\t', (size_t)(nl - p));
            if ((c + 1 < ncols) != (tab != NULL)) {
                *bad_col = c; /* too few or too many fields: COPY's own error, in text */
                return -1;
            }
            const char *fe = tab ? tab : nl;
            size_t n = (size_t)(fe - p);
            const char *s = p, *bs;
            if (n == 2 && p[0] == '\\' && p[1] == 'N') {
                s = NULL;
            } else if ((bs = memchr(p, '\\', n)) != NULL) {
                if (unescape(&scratch[0], p, n, bs) < 0) {
                    *bad_col = c; /* a lone backslash ends the field: let COPY judge it */
                    return -1;
                }
                s = scratch[0].data;
                n = scratch[0].len;
            }
            if (s && cols[c].array
                    ? cs__bin_array(out, cols[c].type, cols[c].elem_oid, s, n, &scratch[1]) < 0
                    : cs__bin_field(out, cols[c].type, s, n) < 0) {
                *bad_col = c;
                return -1;
            }
            p = tab ? tab + 1 : nl;
        }
        p = nl + 1;
    }
    put16(out, 0xffffu);
    return 0;
}

/*
 * libcore/src/codec.c
 *      Decode, validate and encode careerstream events: Avro single-object encoding, table-driven.
 *
 * Every consumer runs untrusted bytes through cs_codec_decode(), so this file reads the Avro
 * binary encoding itself, over the tables schemagen generates from schemas/ (codec_tables.h),
 * rather than through avro-c 1.11.1, whose readers allocate wire-declared lengths before checking
 * them, leave enum indexes unchecked and are not fuzzed (shared/reference/reliability.md).
 * The order of checks is the defence: the size cap, the C3 01 marker, the fingerprint allowlist
 * (which also selects the writer schema), then each field read with its bounds checked against
 * the bytes that remain before anything is copied; every allocation comes from the caller's arena
 * and is bounded by the message size. Once the struct is filled, one validation pass
 * (validate_event) applies the limits of the reader schema: the same pass runs before encoding
 * and after parsing JSON, so the three entry points accept exactly the same events.
 *
 * Schema evolution: cs_codec_new() builds a resolution plan for every known writer version of
 * every event against its current (reader) version: writer fields are matched by name, fields the
 * reader lacks are skipped, fields the writer lacks take the reader's default, ints are promoted.
 * Decoding an old version then costs the same as decoding the current one.
 */
#include "cs/codec.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec_tables.h"
#include "schema.h"

/* ---- resolution plans --------------------------------------------------------------------- */

enum { CONV_SAME = 0, CONV_INT_LONG, CONV_INT_DOUBLE, CONV_LONG_DOUBLE };

typedef struct step {
    int reader;          /* reader field index, or -1 when the reader has no such field (skip) */
    int conv;            /* CONV_* */
    const int *enum_map; /* writer symbol index -> reader symbol index or -1; NULL when identity */
} step_t;

typedef struct plan {
    int type;                        /* event type index */
    const cs__event_desc_t *ev;      /* reader (current) description */
    const cs__version_desc_t *wv;    /* writer version */
    const cs__field_desc_t *rfields; /* reader fields (normally ev->fields) */
    int nrfields;
    step_t *steps; /* one per writer field */
    int nmissing;
    int *missing; /* reader fields the writer lacks: take the default */
    int *maps;    /* the enum maps of the steps, one block */
} plan_t;

static int plan_init(plan_t *pl, const cs__version_desc_t *wv, const cs__field_desc_t *r, int rn,
                     char *why, size_t whylen);
static void plan_fini(plan_t *pl);

typedef struct fp_entry {
    uint64_t fp;
    plan_t *plan;
} fp_entry_t;

struct cs_codec {
    int nplans;
    plan_t *plans;
    fp_entry_t *by_fp; /* sorted by fp */
    int *jsonb_first;  /* per type, where its fields start in jsonb_order; [ntypes] = total */
    int *jsonb_order;  /* per type, its payload field indexes in jsonb key order */
};

static int jsonb_order_build(cs_codec_t *c);

/* ---- small helpers ------------------------------------------------------------------------ */

static int perr(cs_err_t *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(cs_err_t *err, const char *field, const char *fmt, ...)
{
    char msg[CS_ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cs_err_set_field(err, CS_ERR_PERMANENT, field, "%s", msg);
}

/* Quotes untrusted text for an error message: at most 40 bytes, non-printables as \xNN. */
static const char *quote(char *out, size_t outlen, const char *s, size_t n)
{
    size_t o = 0;
    out[o++] = '\'';
    for (size_t i = 0; i < n && o + 6 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 40) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

#define QUOTE(s, n) quote((char[64]){0}, 64, (s), (n))

static void *field_ptr(void *payload, const cs__field_desc_t *f)
{
    return (char *)payload + f->offset;
}
static const void *field_cptr(const void *payload, const cs__field_desc_t *f)
{
    return (const char *)payload + f->offset;
}

static bool field_present(const void *payload, const cs__field_desc_t *f)
{
    if (!f->optional)
        return true;
    if (f->type == CS__F_STRING)
        return *(const char *const *)field_cptr(payload, f) != NULL;
    return *(const bool *)((const char *)payload + f->has_offset);
}

static void set_present(void *payload, const cs__field_desc_t *f)
{
    if (f->optional && f->has_offset != UINT32_MAX)
        *(bool *)((char *)payload + f->has_offset) = true;
}

/* Returns the byte offset of the first invalid UTF-8 sequence, or -1 when s is valid. */
static long utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) { /* ASCII fast path, 8 bytes at a time */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return (long)i;
        }
        if (i + len > n)
            return (long)i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return (long)i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return (long)i;
        i += len;
    }
    return -1;
}

static const uint8_t hex_digit[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
};

static inline unsigned is_hex(unsigned char c)
{
    return hex_digit[c];
}

/* Every consumer checks several uuids per event: keep this loop branch-light. */
static bool is_uuid(const char *s, size_t n)
{
    if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return false;
    unsigned ok = 1;
    for (size_t i = 0; i < 8; i++)
        ok &= is_hex((unsigned char)s[i]);
    for (size_t i = 24; i < 36; i++)
        ok &= is_hex((unsigned char)s[i]);
    ok &=
        is_hex((unsigned char)s[9]) & is_hex((unsigned char)s[10]) & is_hex((unsigned char)s[11]) &
        is_hex((unsigned char)s[12]) & is_hex((unsigned char)s[14]) & is_hex((unsigned char)s[15]) &
        is_hex((unsigned char)s[16]) & is_hex((unsigned char)s[17]) & is_hex((unsigned char)s[19]) &
        is_hex((unsigned char)s[20]) & is_hex((unsigned char)s[21]) & is_hex((unsigned char)s[22]);
    return ok != 0;
}

static bool is_lower_hex(const char *s, size_t n, bool not_all_zero)
{
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
        nonzero = nonzero || s[i] != '0';
    }
    return nonzero || !not_all_zero;
}

static bool is_traceparent(const char *s, size_t n)
{
    return n == 55 && s[2] == '-' && s[35] == '-' && s[52] == '-' && is_lower_hex(s, 2, false) &&
           !(s[0] == 'f' && s[1] == 'f') && is_lower_hex(s + 3, 32, true) &&
           is_lower_hex(s + 36, 16, true) && is_lower_hex(s + 53, 2, false);
}

static bool is_identifier(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool is_url(const char *s, size_t n)
{
    size_t skip;
    if (n > 7 && strncmp(s, "http://", 7) == 0)
        skip = 7;
    else if (n > 8 && strncmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    if (s[skip] == '/')
        return false; /* no host */
    for (size_t i = skip; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

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

/* Formats ms since the epoch as 2026-11-25T09:30:00.000Z (buf of at least 32 bytes). */
static const char *format_time(char *buf, size_t len, int64_t ms)
{
    int64_t secs = ms / 1000, msr = ms % 1000;
    if (msr < 0) {
        msr += 1000;
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
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)msr);
    return buf;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses RFC 3339 (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)) to ms; -1 on bad syntax. */
static int parse_time(const char *s, size_t n, int64_t *out)
{
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
        se > 59)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return -1;
    size_t i = 19;
    int64_t ms = 0;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        size_t nd = i - start;
        if (nd == 0 || nd > 9)
            return -1;
        for (size_t k = 0; k < nd; k++) {
            if (k < 3)
                ms = ms * 10 + (s[start + k] - '0');
            else if (s[start + k] != '0')
                return -2; /* sub-millisecond precision */
        }
        for (size_t k = nd; k < 3; k++)
            ms *= 10;
    }
    int64_t offset_min = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset_min = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
        i += 6;
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
    *out = secs * 1000 + ms;
    return 0;
}

/* ---- validation: one pass over a filled event, shared by decode, from_json and encode ----- */

static int check_string(const cs__field_desc_t *f, const char *path, const char *s, cs_err_t *err)
{
    size_t n = strlen(s);
    if (f->format == CS__FMT_UUID) {
        if (!is_uuid(s, n))
            return perr(err, path, "%s is not a uuid (8-4-4-4-12 hexadecimal digits)", QUOTE(s, n));
        return 0;
    }
    if (n > f->max_len)
        return perr(err, path, "is %zu bytes long, at most %u allowed", n, f->max_len);
    if (n < f->min_len)
        return n == 0 ? perr(err, path, "must not be empty")
                      : perr(err, path, "is %zu bytes long, at least %u required", n, f->min_len);
    long bad = utf8_invalid_at((const unsigned char *)s, n);
    if (bad >= 0)
        return perr(err, path, "is not valid UTF-8 (at byte %ld)", bad);
    switch (f->format) {
    case CS__FMT_IDENTIFIER:
        if (!is_identifier(s, n))
            return perr(err, path, "%s is not an identifier (lower-case [a-z0-9][a-z0-9._-]*)",
                        QUOTE(s, n));
        break;
    case CS__FMT_CURRENCY:
        if (n != 3 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]) ||
            !isupper((unsigned char)s[2]))
            return perr(err, path, "%s is not an ISO 4217 currency code (three upper-case letters)",
                        QUOTE(s, n));
        break;
    case CS__FMT_URL:
        if (!is_url(s, n))
            return perr(err, path, "%s is not an http:// or https:// URL without spaces",
                        QUOTE(s, n));
        break;
    case CS__FMT_TRACEPARENT:
        if (!is_traceparent(s, n))
            return perr(err, path,
                        "%s is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>, lower-case)",
                        QUOTE(s, n));
        break;
    default:
        break;
    }
    return 0;
}

static int check_time(const char *path, int64_t v, cs_err_t *err)
{
    if (v < CS_CODEC_MIN_TIME_MS || v >= CS_CODEC_MAX_TIME_MS) {
        char buf[48];
        if (v > INT64_C(-62135596800000) && v < INT64_C(253402300800000))
            format_time(buf, sizeof buf, v);
        else
            snprintf(buf, sizeof buf, "out of any calendar");
        return perr(
            err, path,
            "%lld (%s) is outside the accepted range 2000-01-01T00:00:00Z .. 2100-01-01T00:00:00Z",
            (long long)v, buf);
    }
    return 0;
}

/*
 * A double for a message: the shortest %.15g..%.17g text that reads back as the same value, so
 * a message shows the value it refuses, never one rounded into the range it broke (100.0000001
 * printed with %g is "100"). Messages only: the JSON and jsonb writers have their own rule.
 */
static const char *fmt_double(double d, char buf[32])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return buf;
}

static int check_value(const cs__field_desc_t *f, const void *payload, cs_err_t *err)
{
    const void *p = field_cptr(payload, f);
    switch (f->type) {
    case CS__F_BOOL:
        return 0;
    case CS__F_INT:
    case CS__F_LONG: {
        int64_t v = f->type == CS__F_INT ? *(const int32_t *)p : *(const int64_t *)p;
        if (f->format == CS__FMT_TIMESTAMP && check_time(f->path, v, err) < 0)
            return -1;
        if ((f->has_min && v < f->imin) || (f->has_max && v > f->imax))
            return perr(err, f->path, "%lld is out of range %lld..%lld", (long long)v,
                        (long long)f->imin, (long long)f->imax);
        return 0;
    }
    case CS__F_DOUBLE: {
        double v = *(const double *)p;
        if (!isfinite(v))
            return perr(err, f->path, "is not a finite number");
        if ((f->has_min && v < f->dmin) || (f->has_max && v > f->dmax)) {
            char vb[32], lo[32], hi[32];
            return perr(err, f->path, "%s is out of range %s..%s", fmt_double(v, vb),
                        fmt_double(f->dmin, lo), fmt_double(f->dmax, hi));
        }
        return 0;
    }
    case CS__F_STRING: {
        const char *s = *(const char *const *)p;
        if (!s)
            return perr(err, f->path, "is required but missing");
        return check_string(f, f->path, s, err);
    }
    case CS__F_ENUM: {
        int v = *(const int *)p;
        if (v < 0 || v >= f->enm->nsymbols)
            return perr(err, f->path, "enum value %d is not a symbol of %s", v, f->enm->name);
        return 0;
    }
    case CS__F_STRV: {
        const cs_strv_t *sv = p;
        if (sv->count > f->max_items)
            return perr(err, f->path, "has %zu items, at most %u allowed", sv->count, f->max_items);
        if (sv->count && !sv->items)
            return perr(err, f->path, "has %zu items but no item array", sv->count);
        for (size_t i = 0; i < sv->count; i++) {
            if (!sv->items[i] || check_string(f, f->path, sv->items[i], err) < 0) {
                char path[80]; /* formatted only on failure: this loop is hot */
                snprintf(path, sizeof path, "%s[%zu]", f->path, i);
                if (!sv->items[i])
                    return perr(err, path, "is NULL");
                snprintf(err->field, sizeof err->field, "%s", path);
                return -1;
            }
        }
        return 0;
    }
    }
    return perr(err, f->path, "has an unknown type");
}

static int validate_payload(const cs__event_desc_t *ed, const void *payload, cs_err_t *err)
{
    bool any = false;
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[i];
        bool present = field_present(payload, f);
        if (f->optional && !present) {
            if (f->req_field >= 0) {
                const cs__field_desc_t *c = &ed->fields[f->req_field];
                if (field_present(payload, c)) {
                    if (f->req_present)
                        return perr(err, f->path, "is required when %s is set", c->path);
                    int sym = *(const int *)field_cptr(payload, c);
                    if (sym >= 0 && sym < 64 && (f->req_mask >> sym & 1))
                        return perr(err, f->path, "is required when %s is %s", c->path,
                                    c->enm->symbols[sym]);
                }
            }
            continue;
        }
        any = any || f->optional;
        if (check_value(f, payload, err) < 0)
            return -1;
    }
    if (ed->at_least_one && !any)
        return perr(err, "payload", "sets no field; %s needs at least one", ed->name);
    return 0;
}

/* A char[37] id of the envelope: NUL-terminated within its array, and a uuid. */
static bool id_ok(const char id[37])
{
    return memchr(id, '\0', 37) != NULL && is_uuid(id, strlen(id));
}

/*
 * The envelope without its payload. ids_checked: the decoder has already validated event_id and
 * user_id on the wire.
 */
static int validate_envelope_fields(const cs_event_t *ev, bool ids_checked, cs_err_t *err)
{
    const cs__field_desc_t *env = cs__envelope_fields;
    if (ev->type < 0 || ev->type >= cs__nevents)
        return perr(err, "event_type", "event type index %d is unknown", ev->type);
    if (!ids_checked && !id_ok(ev->event_id))
        return perr(err, "event_id", "%s is not a uuid (8-4-4-4-12 hexadecimal digits)",
                    QUOTE(ev->event_id, strnlen(ev->event_id, sizeof ev->event_id)));
    if (!ids_checked && !id_ok(ev->user_id))
        return perr(err, "user_id", "%s is not a uuid (8-4-4-4-12 hexadecimal digits)",
                    QUOTE(ev->user_id, strnlen(ev->user_id, sizeof ev->user_id)));
    if (check_time("occurred_at", ev->occurred_at_ms, err) < 0)
        return -1;
    if (!ev->producer)
        return perr(err, "producer", "is required but missing");
    if (check_string(&env[CS__ENV_PRODUCER], "producer", ev->producer, err) < 0)
        return -1;
    if (ev->traceparent && ev->traceparent[0] &&
        check_string(&env[CS__ENV_TRACEPARENT], "traceparent", ev->traceparent, err) < 0)
        return -1;
    return 0;
}

/* The envelope and the presence of its payload. */
static int validate_envelope(const cs_event_t *ev, bool ids_checked, cs_err_t *err)
{
    if (validate_envelope_fields(ev, ids_checked, err) < 0)
        return -1;
    if (!ev->payload)
        return perr(err, "payload", "is required but missing");
    return 0;
}

/* ---- Avro binary reading ------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
    cs_arena_t *arena;
} rd_t;

static int truncated(cs_err_t *err, const char *path)
{
    return perr(err, path, "truncated: the message ends inside this field");
}

static int rd_long(rd_t *r, int64_t *out, const char *path, cs_err_t *err)
{
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        if (r->p >= r->end)
            return truncated(err, path);
        uint8_t b = *r->p++;
        if (shift == 63 && (b & 0xfe))
            return perr(err, path, "malformed varint: longer than 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        if (shift == 63)
            return perr(err, path, "malformed varint: longer than 10 bytes");
    }
    *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
    return 0;
}

static int rd_int(rd_t *r, int32_t *out, const char *path, cs_err_t *err)
{
    int64_t v = 0;
    if (rd_long(r, &v, path, err) < 0)
        return -1;
    if (v < INT32_MIN || v > INT32_MAX)
        return perr(err, path, "int %lld does not fit in 32 bits", (long long)v);
    *out = (int32_t)v;
    return 0;
}

/* Reads a string's length and checks the bytes are there; s points into the message. */
static int rd_bytes(rd_t *r, const char **s, size_t *n, const char *path, cs_err_t *err)
{
    int64_t len = 0;
    if (rd_long(r, &len, path, err) < 0)
        return -1;
    if (len < 0)
        return perr(err, path, "negative string length %lld", (long long)len);
    if ((uint64_t)len > (uint64_t)(r->end - r->p))
        return perr(err, path, "truncated: string of %lld bytes, only %zu left in the message",
                    (long long)len, (size_t)(r->end - r->p));
    *s = (const char *)r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

/* Copies a wire string into the arena: no NUL inside; uuids lower-cased. */
static int rd_string(rd_t *r, const cs__field_desc_t *f, const char *path, const char **out,
                     cs_err_t *err)
{
    const char *s = NULL;
    size_t n = 0;
    if (rd_bytes(r, &s, &n, path, err) < 0)
        return -1;
    if (memchr(s, '\0', n))
        return perr(err, path, "contains a NUL byte");
    if (n > f->max_len) /* before copying: a string never costs more than its limit */
        return perr(err, path, "is %zu bytes long, at most %u allowed", n, f->max_len);
    if (!out)
        return 0;
    char *c = cs_arena_strndup(r->arena, s, n);
    if (f->format == CS__FMT_UUID)
        for (size_t i = 0; i < n; i++)
            c[i] = (char)(c[i] | ((c[i] >= 'A' && c[i] <= 'Z') ? 0x20 : 0));
    *out = c;
    return 0;
}

/* Reads a uuid string into out (lower-cased, NUL-terminated) without touching the arena. */
static int rd_uuid(rd_t *r, const char *path, char out[37], cs_err_t *err)
{
    const char *s = NULL;
    size_t n = 0;
    if (rd_bytes(r, &s, &n, path, err) < 0)
        return -1;
    if (memchr(s, '\0', n))
        return perr(err, path, "contains a NUL byte");
    if (n > 36)
        return perr(err, path, "is %zu bytes long, at most 36 allowed", n);
    if (!is_uuid(s, n))
        return perr(err, path, "%s is not a uuid (8-4-4-4-12 hexadecimal digits)", QUOTE(s, n));
    for (size_t i = 0; i < 36; i++)
        out[i] = (char)(s[i] | ((s[i] >= 'A' && s[i] <= 'F') ? 0x20 : 0));
    out[36] = '\0';
    return 0;
}

static int rd_double(rd_t *r, double *out, const char *path, cs_err_t *err)
{
    if (r->end - r->p < 8)
        return truncated(err, path);
    uint64_t bits = 0;
    for (int i = 7; i >= 0; i--)
        bits = (bits << 8) | r->p[i];
    r->p += 8;
    memcpy(out, &bits, sizeof *out);
    return 0;
}

/* Reads an array of strings; out NULL skips it. Bounded by max_items and the bytes left. */
static int rd_strv(rd_t *r, const cs__field_desc_t *f, const char *path, cs_strv_t *out,
                   cs_err_t *err)
{
    const char **items = NULL;
    size_t n = 0;
    for (;;) {
        int64_t count = 0;
        if (rd_long(r, &count, path, err) < 0)
            return -1;
        if (count == 0)
            break;
        if (count < 0) {
            int64_t bytes = 0;
            if (count == INT64_MIN)
                return perr(err, path, "malformed array block count");
            count = -count;
            if (rd_long(r, &bytes, path, err) < 0)
                return -1;
            if (bytes < 0 || bytes > r->end - r->p)
                return perr(err, path, "array block size %lld does not fit the message",
                            (long long)bytes);
        }
        if ((uint64_t)count > f->max_items - n)
            return perr(err, path, "has more than %u items", f->max_items);
        if (count > r->end - r->p) /* every item takes at least one byte */
            return truncated(err, path);
        if (out && !items)
            items = cs_arena_alloc(r->arena, f->max_items * sizeof *items);
        for (int64_t i = 0; i < count; i++) {
            if (rd_string(r, f, path, out ? &items[n] : NULL, err) < 0) {
                char ipath[80]; /* formatted only on failure */
                snprintf(ipath, sizeof ipath, "%s[%zu]", path, n);
                snprintf(err->field, sizeof err->field, "%s", ipath);
                return -1;
            }
            n++;
        }
    }
    if (out) {
        out->items = items;
        out->count = n;
    }
    return 0;
}

/* A value read off the wire, before it is stored in the reader's struct. */
typedef struct wval {
    bool is_null;
    int64_t i;
    double d;
    const char *s;
} wval_t;

/* Reads one writer field. Strings and arrays go straight to *dst_str / *dst_strv (NULL: skip). */
static int rd_field(rd_t *r, const cs__field_desc_t *wf, const char *path, wval_t *v,
                    const char **dst_str, cs_strv_t *dst_strv, cs_err_t *err)
{
    v->is_null = false;
    if (wf->optional) {
        int64_t branch = 0;
        if (rd_long(r, &branch, path, err) < 0)
            return -1;
        if (branch != 0 && branch != 1)
            return perr(err, path, "union branch %lld does not exist (the union has 2)",
                        (long long)branch);
        if (branch == wf->null_index) {
            v->is_null = true;
            return 0;
        }
    }
    switch (wf->type) {
    case CS__F_BOOL:
        if (r->p >= r->end)
            return truncated(err, path);
        if (*r->p > 1)
            return perr(err, path, "boolean byte 0x%02x is neither 0 nor 1", *r->p);
        v->i = *r->p++;
        return 0;
    case CS__F_INT: {
        int32_t x = 0;
        if (rd_int(r, &x, path, err) < 0)
            return -1;
        v->i = x;
        return 0;
    }
    case CS__F_LONG:
        return rd_long(r, &v->i, path, err);
    case CS__F_DOUBLE:
        return rd_double(r, &v->d, path, err);
    case CS__F_STRING:
        return rd_string(r, wf, path, dst_str, err);
    case CS__F_ENUM:
        if (rd_long(r, &v->i, path, err) < 0)
            return -1;
        if (v->i < 0 || v->i >= wf->enm->nsymbols)
            return perr(err, path, "enum index %lld is out of range (%s has %d symbols)",
                        (long long)v->i, wf->enm->name, wf->enm->nsymbols);
        return 0;
    case CS__F_STRV:
        return rd_strv(r, wf, path, dst_strv, err);
    }
    return perr(err, path, "has an unknown type");
}

static void store_default(void *payload, const cs__field_desc_t *f)
{
    void *p = field_ptr(payload, f);
    if (!f->has_default || f->default_null)
        return; /* zeroed: absent */
    set_present(payload, f);
    switch (f->type) {
    case CS__F_BOOL:
        *(bool *)p = f->default_i != 0;
        break;
    case CS__F_INT:
        *(int32_t *)p = (int32_t)f->default_i;
        break;
    case CS__F_LONG:
        *(int64_t *)p = f->default_i;
        break;
    case CS__F_DOUBLE:
        *(double *)p = f->default_d;
        break;
    case CS__F_STRING:
        *(const char **)p = f->default_s;
        break;
    case CS__F_ENUM:
        *(int *)p = (int)f->default_i;
        break;
    case CS__F_STRV:
        break; /* the only allowed default is [] */
    }
}

static int decode_payload(rd_t *r, const plan_t *pl, void *payload, cs_err_t *err)
{
    const cs__version_desc_t *wv = pl->wv;
    const cs__field_desc_t *rfields = pl->rfields;
    for (int i = 0; i < wv->nfields; i++) {
        const cs__field_desc_t *wf = &wv->fields[i];
        const step_t *st = &pl->steps[i];
        const cs__field_desc_t *rf = st->reader >= 0 ? &rfields[st->reader] : NULL;
        wval_t v;
        const char *s = NULL;
        cs_strv_t sv = {0};
        if (rd_field(r, wf, wf->path, &v, rf ? &s : NULL, rf ? &sv : NULL, err) < 0)
            return -1;
        if (!rf)
            continue;
        void *p = field_ptr(payload, rf);
        if (v.is_null) {
            if (!rf->optional)
                return perr(err, rf->path, "is null but required");
            continue;
        }
        set_present(payload, rf);
        switch (rf->type) {
        case CS__F_BOOL:
            *(bool *)p = v.i != 0;
            break;
        case CS__F_INT:
            *(int32_t *)p = (int32_t)v.i;
            break;
        case CS__F_LONG:
            *(int64_t *)p = v.i;
            break;
        case CS__F_DOUBLE:
            *(double *)p = st->conv == CONV_SAME ? v.d : (double)v.i;
            break;
        case CS__F_STRING:
            *(const char **)p = s;
            break;
        case CS__F_ENUM: {
            int sym = st->enum_map ? st->enum_map[v.i] : (int)v.i;
            if (sym < 0)
                return perr(err, rf->path,
                            "symbol '%s' of writer version %d is unknown to this reader",
                            wf->enm->symbols[v.i], wv->version);
            *(int *)p = sym;
            break;
        }
        case CS__F_STRV:
            *(cs_strv_t *)p = sv;
            break;
        }
    }
    for (int i = 0; i < pl->nmissing; i++)
        store_default(payload, &rfields[pl->missing[i]]);
    return 0;
}

static int fp_cmp(const void *a, const void *b)
{
    uint64_t x = ((const fp_entry_t *)a)->fp, y = ((const fp_entry_t *)b)->fp;
    return x < y ? -1 : x > y;
}

static const plan_t *plan_for(const cs_codec_t *c, uint64_t fp)
{
    size_t lo = 0, hi = (size_t)c->nplans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->by_fp[mid].fp < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < (size_t)c->nplans && c->by_fp[lo].fp == fp ? c->by_fp[lo].plan : NULL;
}

/*
 * The body of cs_codec_decode. *env_read is set once the whole envelope (up to traceparent) has
 * been read; a failure after that point is in the payload or in the envelope's validation.
 */
static int decode_event(cs_codec_t *codec, const void *data, size_t len, cs_arena_t *arena,
                        cs_event_t *ev, bool *env_read, cs_err_t *err)
{
    const uint8_t *b = data;
    const cs__field_desc_t *env = cs__envelope_fields;
    memset(ev, 0, sizeof *ev);
    ev->type = -1;
    if (len > CS_CODEC_MAX_MESSAGE_BYTES)
        return perr(err, "message", "%zu bytes exceeds the limit of %d bytes", len,
                    CS_CODEC_MAX_MESSAGE_BYTES);
    if (len < CS_CODEC_HEADER_BYTES || !b)
        return perr(err, "message", "truncated: %zu bytes, the single-object header alone is %d",
                    len, CS_CODEC_HEADER_BYTES);
    if (b[0] != 0xc3 || b[1] != 0x01)
        return perr(err, "message",
                    "not Avro single-object encoding: starts 0x%02x 0x%02x, expected 0xc3 0x01",
                    b[0], b[1]);
    uint64_t fp = 0;
    for (int i = 9; i >= 2; i--)
        fp = (fp << 8) | b[i];
    const plan_t *pl = plan_for(codec, fp);
    if (!pl) {
        char hex[17];
        cs_codec_fingerprint_hex(fp, hex);
        return perr(err, "fingerprint",
                    "unknown writer schema fingerprint %s: not a careerstream event schema "
                    "this build knows",
                    hex);
    }

    rd_t r = {b + CS_CODEC_HEADER_BYTES, b + len, arena};
    wval_t v;
    const char *s = NULL;
    ev->type = pl->type;
    ev->type_name = pl->ev->name;
    ev->fingerprint = fp;

    if (rd_uuid(&r, "event_id", ev->event_id, err) < 0)
        return -1;
    size_t n = 0;
    if (rd_bytes(&r, &s, &n, "event_type", err) < 0)
        return -1;
    if (n != strlen(pl->ev->name) || memcmp(s, pl->ev->name, n) != 0)
        return perr(err, "event_type", "%s does not match the writer schema's event %s",
                    QUOTE(s, n), pl->ev->name);
    if (rd_field(&r, &env[CS__ENV_OCCURRED_AT], "occurred_at", &v, NULL, NULL, err) < 0)
        return -1;
    ev->occurred_at_ms = v.i;
    if (rd_uuid(&r, "user_id", ev->user_id, err) < 0)
        return -1;
    if (rd_field(&r, &env[CS__ENV_PRODUCER], "producer", &v, &ev->producer, NULL, err) < 0)
        return -1;
    if (rd_field(&r, &env[CS__ENV_SCHEMA_VERSION], "schema_version", &v, NULL, NULL, err) < 0)
        return -1;
    if (v.i != pl->wv->version)
        return perr(err, "schema_version", "%lld does not match the writer schema's version %d",
                    (long long)v.i, pl->wv->version);
    ev->schema_version = pl->wv->version;
    ev->traceparent = "";
    if (rd_field(&r, &env[CS__ENV_TRACEPARENT], "traceparent", &v, &ev->traceparent, NULL, err) < 0)
        return -1;
    if (!ev->traceparent)
        ev->traceparent = "";
    *env_read = true;

    void *payload = cs_arena_alloc(arena, pl->ev->payload_size);
    memset(payload, 0, pl->ev->payload_size);
    if (decode_payload(&r, pl, payload, err) < 0)
        return -1;
    if (r.p != r.end)
        return perr(err, "message", "%zu unexpected bytes after the event", (size_t)(r.end - r.p));
    ev->payload = payload;
    if (validate_envelope(ev, true, err) < 0 || validate_payload(pl->ev, payload, err) < 0)
        return -1;
    return 0;
}

int cs_codec_decode(cs_codec_t *codec, const void *data, size_t len, cs_arena_t *arena,
                    cs_event_t *ev, cs_err_t *err)
{
    bool env_read = false;
    if (decode_event(codec, data, len, arena, ev, &env_read, err) == 0)
        return 0;
    /*
     * What was readable is kept for the dead letter: the envelope, when it was read whole and is
     * valid by itself (a payload that fails does not make its event_id or traceparent untrue).
     * Anything less is not trusted field by field: the event is then left blank.
     */
    ev->payload = NULL;
    cs_err_t scratch;
    cs_err_clear(&scratch);
    if (!env_read || validate_envelope_fields(ev, true, &scratch) < 0) {
        memset(ev, 0, sizeof *ev);
        ev->type = -1;
    }
    return -1;
}

int cs__codec_decode_as(cs_codec_t *codec, const void *data, size_t len, const cs__field_desc_t *r,
                        int rn, cs_arena_t *arena, void *payload, cs_err_t *err)
{
    const uint8_t *b = data;
    plan_t pl = {0};
    char why[256];
    int rc = -1;
    if (len > CS_CODEC_MAX_MESSAGE_BYTES || len < CS_CODEC_HEADER_BYTES || b[0] != 0xc3 ||
        b[1] != 0x01)
        return perr(err, "message", "not a single-object encoded event of acceptable size");
    uint64_t fp = 0;
    for (int i = 9; i >= 2; i--)
        fp = (fp << 8) | b[i];
    const plan_t *known = plan_for(codec, fp);
    if (!known)
        return perr(err, "fingerprint", "unknown writer schema fingerprint");
    if (plan_init(&pl, known->wv, r, rn, why, sizeof why) < 0) {
        perr(err, "fingerprint", "%s v%d cannot be read by this reader: %s", known->ev->name,
             known->wv->version, why);
        goto out;
    }
    rd_t rr = {b + CS_CODEC_HEADER_BYTES, b + len, arena};
    for (int i = 0; i < cs__nenvelope_fields; i++) {
        wval_t v;
        if (rd_field(&rr, &cs__envelope_fields[i], cs__envelope_fields[i].path, &v, NULL, NULL,
                     err) < 0)
            goto out;
    }
    if (decode_payload(&rr, &pl, payload, err) < 0)
        goto out;
    if (rr.p != rr.end) {
        perr(err, "message", "%zu unexpected bytes after the event", (size_t)(rr.end - rr.p));
        goto out;
    }
    cs__event_desc_t reader = *known->ev;
    reader.fields = r;
    reader.nfields = rn;
    rc = validate_payload(&reader, payload, err);
out:
    plan_fini(&pl);
    return rc;
}

/* ---- Avro binary writing ------------------------------------------------------------------- */

static void w_long(cs_buf_t *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    char *p = cs_buf_reserve(b, 10);
    size_t n = 0;
    while (z > 0x7f) {
        p[n++] = (char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    p[n++] = (char)z;
    cs_buf_advance(b, n);
}

static void w_str(cs_buf_t *b, const char *s, bool lower)
{
    size_t n = strlen(s);
    w_long(b, (int64_t)n);
    char *p = cs_buf_reserve(b, n);
    memcpy(p, s, n);
    if (lower)
        for (size_t i = 0; i < n; i++)
            p[i] = (char)tolower((unsigned char)p[i]);
    cs_buf_advance(b, n);
}

static void w_double(cs_buf_t *b, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    char *p = cs_buf_reserve(b, 8);
    for (int i = 0; i < 8; i++)
        p[i] = (char)(bits >> (8 * i));
    cs_buf_advance(b, 8);
}

static void w_union(cs_buf_t *b, const cs__field_desc_t *f, bool present)
{
    if (f->optional)
        w_long(b, present ? 1 - f->null_index : f->null_index);
}

static void encode_payload(const cs__event_desc_t *ed, const void *payload, cs_buf_t *out)
{
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[i];
        bool present = field_present(payload, f);
        const void *p = field_cptr(payload, f);
        w_union(out, f, present);
        if (!present)
            continue;
        switch (f->type) {
        case CS__F_BOOL:
            cs_buf_putc(out, *(const bool *)p ? 1 : 0);
            break;
        case CS__F_INT:
            w_long(out, *(const int32_t *)p);
            break;
        case CS__F_LONG:
            w_long(out, *(const int64_t *)p);
            break;
        case CS__F_DOUBLE:
            w_double(out, *(const double *)p);
            break;
        case CS__F_STRING:
            w_str(out, *(const char *const *)p, f->format == CS__FMT_UUID);
            break;
        case CS__F_ENUM:
            w_long(out, *(const int *)p);
            break;
        case CS__F_STRV: {
            const cs_strv_t *sv = p;
            if (sv->count) {
                w_long(out, (int64_t)sv->count);
                for (size_t k = 0; k < sv->count; k++)
                    w_str(out, sv->items[k], false);
            }
            w_long(out, 0);
            break;
        }
        }
    }
}

int cs_codec_encode(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out, cs_err_t *err)
{
    (void)codec;
    if (validate_envelope(ev, false, err) < 0)
        return -1;
    const cs__event_desc_t *ed = &cs__events[ev->type];
    const cs__version_desc_t *cur = &ed->versions[ed->nversions - 1];
    if (validate_payload(ed, ev->payload, err) < 0)
        return -1;

    size_t start = out->len;
    char *h = cs_buf_reserve(out, CS_CODEC_HEADER_BYTES);
    h[0] = (char)0xc3;
    h[1] = 0x01;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (char)(cur->fingerprint >> (8 * i));
    cs_buf_advance(out, CS_CODEC_HEADER_BYTES);
    w_str(out, ev->event_id, true);
    w_str(out, ed->name, false);
    w_long(out, ev->occurred_at_ms);
    w_str(out, ev->user_id, true);
    w_str(out, ev->producer, false);
    w_long(out, cur->version);
    bool tp = ev->traceparent && ev->traceparent[0];
    w_union(out, &cs__envelope_fields[CS__ENV_TRACEPARENT], tp);
    if (tp)
        w_str(out, ev->traceparent, false);
    encode_payload(ed, ev->payload, out);
    if (out->len - start > CS_CODEC_MAX_MESSAGE_BYTES) {
        size_t n = out->len - start;
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return perr(err, "message", "the encoded event is %zu bytes, more than the limit of %d", n,
                    CS_CODEC_MAX_MESSAGE_BYTES);
    }
    return 0;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void json_double(cs_buf_t *b, double d)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", d);
    if (strtod(tmp, NULL) != d)
        snprintf(tmp, sizeof tmp, "%.17g", d);
    cs_buf_puts(b, tmp);
}

static void json_value(cs_buf_t *b, const cs__field_desc_t *f, const void *payload)
{
    const void *p = field_cptr(payload, f);
    if (!field_present(payload, f)) {
        cs_buf_puts(b, "null");
        return;
    }
    switch (f->type) {
    case CS__F_BOOL:
        cs_buf_puts(b, *(const bool *)p ? "true" : "false");
        break;
    case CS__F_INT:
        cs_buf_printf(b, "%d", (int)*(const int32_t *)p);
        break;
    case CS__F_LONG:
        if (f->format == CS__FMT_TIMESTAMP) {
            char t[48];
            cs_buf_printf(b, "\"%s\"", format_time(t, sizeof t, *(const int64_t *)p));
        } else {
            cs_buf_printf(b, "%lld", (long long)*(const int64_t *)p);
        }
        break;
    case CS__F_DOUBLE:
        json_double(b, *(const double *)p);
        break;
    case CS__F_STRING: {
        const char *s = *(const char *const *)p;
        cs_buf_json_str(b, s, strlen(s));
        break;
    }
    case CS__F_ENUM: {
        int v = *(const int *)p;
        const char *sym = v >= 0 && v < f->enm->nsymbols ? f->enm->symbols[v] : "";
        cs_buf_json_str(b, sym, strlen(sym));
        break;
    }
    case CS__F_STRV: {
        const cs_strv_t *sv = p;
        cs_buf_putc(b, '[');
        for (size_t i = 0; i < sv->count; i++) {
            if (i)
                cs_buf_putc(b, ',');
            cs_buf_json_str(b, sv->items[i], strlen(sv->items[i]));
        }
        cs_buf_putc(b, ']');
        break;
    }
    }
}

int cs_codec_payload_to_json(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out, cs_err_t *err)
{
    (void)codec;
    if (ev->type < 0 || ev->type >= cs__nevents || !ev->payload)
        return perr(err, "payload", "no decoded event to write");
    const cs__event_desc_t *ed = &cs__events[ev->type];
    cs_buf_putc(out, '{');
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[i];
        if (i)
            cs_buf_putc(out, ',');
        cs_buf_json_str(out, f->name, strlen(f->name));
        cs_buf_putc(out, ':');
        json_value(out, f, ev->payload);
    }
    cs_buf_putc(out, '}');
    return 0;
}

/* ---- jsonb text ----------------------------------------------------------------------------- */

/*
 * The payload exactly as PostgreSQL's jsonb output function prints it, rendered straight from the
 * decoded struct: the audit log hashes this text (cs/audit.h) and stores it as the jsonb column,
 * so it must be byte-identical to `payload::text` on the server. jsonb's rules, as PostgreSQL 15
 * implements them (jsonb.c JsonbToCString, json.c escape_json, numeric.c get_str_from_var):
 *  - object keys ordered by length, then bytewise; duplicates cannot occur (one field, one key);
 *  - ", " between members and elements, ": " after keys;
 *  - strings escaped with \b \f \n \r \t \" \\ and \u00XX for the other bytes below 0x20,
 *    everything else (UTF-8 included) verbatim;
 *  - numbers printed as numeric prints them: no exponent, no leading zeros, exactly the fraction
 *    digits the input text had after removing the exponent, no sign on zero.
 * tests/integration/0003-audit_jsonb.c compares this with the server for every event type.
 */

/* Whether key a sorts before key b in a jsonb object: shorter first, then bytewise. */
static bool jsonb_key_before(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? la < lb : memcmp(a, b, la) < 0;
}

/* Builds the key order of every type once, in cs_codec_new. */
static int jsonb_order_build(cs_codec_t *c)
{
    int total = 0;
    c->jsonb_first = calloc((size_t)cs__nevents + 1, sizeof *c->jsonb_first);
    if (!c->jsonb_first)
        return -1;
    for (int t = 0; t < cs__nevents; t++) {
        c->jsonb_first[t] = total;
        total += cs__events[t].nfields;
    }
    c->jsonb_first[cs__nevents] = total;
    c->jsonb_order = calloc((size_t)(total ? total : 1), sizeof *c->jsonb_order);
    if (!c->jsonb_order)
        return -1;
    for (int t = 0; t < cs__nevents; t++) {
        const cs__field_desc_t *fs = cs__events[t].fields;
        int *o = c->jsonb_order + c->jsonb_first[t];
        for (int i = 0; i < cs__events[t].nfields; i++) { /* insertion sort: a few fields */
            int j = i;
            for (; j > 0 && jsonb_key_before(fs[i].name, fs[o[j - 1]].name); j--)
                o[j] = o[j - 1];
            o[j] = i;
        }
    }
    return 0;
}

/* Bytes escape_json() does not copy verbatim: below 0x20, '"' and '\\'. */
static const uint8_t jsonb_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, ['\\'] = 1,
};

static void jsonb_str(cs_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *out = cs_buf_reserve(b, n * 6 + 2), *o = out;

    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!jsonb_esc[c]) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    cs_buf_advance(b, (size_t)(o - out));
}

/* Decimal digits of v at the end of a 24-byte buffer; returns the start. */
static char *jsonb_i64(char end[static 24], int64_t v)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char *p = end + 24;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

static void put2(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

/* A timestamp-millis field: the same text as format_time(), without printf. */
static void jsonb_time(cs_buf_t *b, int64_t ms)
{
    int64_t secs = ms / 1000, msr = ms % 1000;
    if (msr < 0) {
        msr += 1000;
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
    if (y < 0 || y > 9999) { /* outside what validation allows; keep format_time's text */
        char t[48];
        cs_buf_putc(b, '"');
        cs_buf_puts(b, format_time(t, sizeof t, ms));
        cs_buf_putc(b, '"');
        return;
    }
    char *o = cs_buf_reserve(b, 26);
    o[0] = '"';
    put2(o + 1, (int)(y / 100));
    put2(o + 3, (int)(y % 100));
    o[5] = '-';
    put2(o + 6, m);
    o[8] = '-';
    put2(o + 9, d);
    o[11] = 'T';
    put2(o + 12, (int)(sod / 3600));
    o[14] = ':';
    put2(o + 15, (int)(sod / 60 % 60));
    o[17] = ':';
    put2(o + 18, (int)(sod % 60));
    o[20] = '.';
    o[21] = (char)('0' + msr / 100);
    put2(o + 22, (int)(msr % 100));
    o[24] = 'Z';
    o[25] = '"';
    cs_buf_advance(b, 26);
}

/*
 * A double: the JSON text json_double() writes (%.15g, or %.17g when that is needed to read back
 * the same value), then reprinted as numeric prints that text: digits with
 * dscale = max(0, fraction digits - exponent) fraction digits and no exponent.
 */
static int jsonb_double(cs_buf_t *b, const cs__field_desc_t *f, double d, cs_err_t *err)
{
    char tmp[40], digs[40];
    int nd = 0, intlen = 0, fraclen = 0, neg = 0, zero = 1;
    long exp10 = 0;
    const char *p = tmp;

    if (!isfinite(d))
        return perr(err, f->path, "%g cannot be stored in jsonb", d);
    snprintf(tmp, sizeof tmp, "%.15g", d);
    if (strtod(tmp, NULL) != d)
        snprintf(tmp, sizeof tmp, "%.17g", d);
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p >= '0' && *p <= '9'; p++, intlen++)
        digs[nd++] = *p;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, fraclen++)
            digs[nd++] = *p;
    if (*p == 'e' || *p == 'E') {
        p++;
        exp10 = strtol(p, NULL, 10);
    }
    for (int i = 0; i < nd; i++)
        zero &= digs[i] == '0';
    long point = intlen + exp10; /* digits before the decimal point */
    long dscale = fraclen - exp10 > 0 ? fraclen - exp10 : 0;
    long first = 0;
    /* Skip leading zeros of the integer part (keep one when it is all zeros). */
    while (first < point - 1 && first < nd && digs[first] == '0')
        first++;
    char *o = cs_buf_reserve(b, (size_t)(2 + (point > 0 ? point : 1) + 1 + dscale));
    char *s = o;
    if (neg && !zero)
        *o++ = '-';
    if (point <= 0)
        *o++ = '0';
    else
        for (long i = first; i < point; i++)
            *o++ = i < nd ? digs[i] : '0';
    if (dscale > 0) {
        *o++ = '.';
        for (long i = point; i < point + dscale; i++)
            *o++ = i >= 0 && i < nd ? digs[i] : '0';
    }
    cs_buf_advance(b, (size_t)(o - s));
    return 0;
}

static int jsonb_value(cs_buf_t *b, const cs__field_desc_t *f, const void *payload, cs_err_t *err)
{
    const void *p = field_cptr(payload, f);
    char num[24];

    if (!field_present(payload, f)) {
        cs_buf_append(b, "null", 4);
        return 0;
    }
    switch (f->type) {
    case CS__F_BOOL:
        if (*(const bool *)p)
            cs_buf_append(b, "true", 4);
        else
            cs_buf_append(b, "false", 5);
        break;
    case CS__F_INT:
    case CS__F_LONG: {
        int64_t v = f->type == CS__F_INT ? *(const int32_t *)p : *(const int64_t *)p;
        if (f->format == CS__FMT_TIMESTAMP) {
            jsonb_time(b, v);
        } else {
            char *s = jsonb_i64(num, v);
            cs_buf_append(b, s, (size_t)(num + sizeof num - s));
        }
        break;
    }
    case CS__F_DOUBLE:
        return jsonb_double(b, f, *(const double *)p, err);
    case CS__F_STRING: {
        const char *s = *(const char *const *)p;
        jsonb_str(b, s, strlen(s));
        break;
    }
    case CS__F_ENUM: {
        int v = *(const int *)p;
        const char *sym = v >= 0 && v < f->enm->nsymbols ? f->enm->symbols[v] : "";
        jsonb_str(b, sym, strlen(sym));
        break;
    }
    case CS__F_STRV: {
        const cs_strv_t *sv = p;
        cs_buf_putc(b, '[');
        for (size_t i = 0; i < sv->count; i++) {
            if (i)
                cs_buf_append(b, ", ", 2);
            jsonb_str(b, sv->items[i], strlen(sv->items[i]));
        }
        cs_buf_putc(b, ']');
        break;
    }
    }
    return 0;
}

int cs_codec_payload_to_jsonb(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out, cs_err_t *err)
{
    if (ev->type < 0 || ev->type >= cs__nevents || !ev->payload)
        return perr(err, "payload", "no decoded event to write");
    const cs__event_desc_t *ed = &cs__events[ev->type];
    const int *order = codec->jsonb_order + codec->jsonb_first[ev->type];
    size_t start = out->len;
    cs_buf_putc(out, '{');
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[order[i]];
        if (i)
            cs_buf_append(out, ", ", 2);
        jsonb_str(out, f->name, strlen(f->name));
        cs_buf_append(out, ": ", 2);
        if (jsonb_value(out, f, ev->payload, err) < 0) {
            out->len = start;
            if (out->data)
                out->data[start] = '\0';
            return -1;
        }
    }
    cs_buf_putc(out, '}');
    return 0;
}

int cs_codec_to_json(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out, cs_err_t *err)
{
    if (ev->type < 0 || ev->type >= cs__nevents || !ev->payload)
        return perr(err, "payload", "no decoded event to write");
    char t[48];
    cs_buf_puts(out, "{\"event_type\":");
    cs_buf_json_str(out, cs__events[ev->type].name, strlen(cs__events[ev->type].name));
    cs_buf_printf(out,
                  ",\"event_id\":\"%s\",\"occurred_at\":\"%s\",\"user_id\":\"%s\",\"producer\":",
                  ev->event_id, format_time(t, sizeof t, ev->occurred_at_ms), ev->user_id);
    cs_buf_json_str(out, ev->producer ? ev->producer : "", ev->producer ? strlen(ev->producer) : 0);
    cs_buf_printf(out, ",\"schema_version\":%d,\"traceparent\":", ev->schema_version);
    if (ev->traceparent && ev->traceparent[0])
        cs_buf_json_str(out, ev->traceparent, strlen(ev->traceparent));
    else
        cs_buf_puts(out, "null");
    cs_buf_puts(out, ",\"payload\":");
    if (cs_codec_payload_to_json(codec, ev, out, err) < 0)
        return -1;
    cs_buf_putc(out, '}');
    return 0;
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

static int json_string_arg(const json_t *j, const char *path, const char **s, size_t *n,
                           cs_err_t *err)
{
    if (!json_is_string(j))
        return perr(err, path, "expected a string, got %s", json_type_name(j));
    *s = json_string_value(j);
    *n = json_string_length(j);
    if (memchr(*s, '\0', *n))
        return perr(err, path, "contains a NUL character");
    return 0;
}

static int json_time(const json_t *j, const char *path, int64_t *out, cs_err_t *err)
{
    if (json_is_integer(j)) {
        *out = json_integer_value(j);
        return 0;
    }
    if (!json_is_string(j))
        return perr(err, path,
                    "expected an RFC 3339 timestamp string or integer milliseconds, got %s",
                    json_type_name(j));
    int rc = parse_time(json_string_value(j), json_string_length(j), out);
    if (rc == -2)
        return perr(err, path, "%s has sub-millisecond digits; timestamps are milliseconds",
                    QUOTE(json_string_value(j), json_string_length(j)));
    if (rc < 0)
        return perr(err, path, "%s is not an RFC 3339 timestamp like 2026-11-25T09:30:00.000Z",
                    QUOTE(json_string_value(j), json_string_length(j)));
    return 0;
}

static int json_field(const cs__field_desc_t *f, const json_t *j, void *payload, cs_arena_t *arena,
                      cs_err_t *err)
{
    void *p = field_ptr(payload, f);
    const char *s;
    size_t n;
    if (json_is_null(j)) {
        if (!f->optional)
            return perr(err, f->path, "is null but required");
        return 0;
    }
    switch (f->type) {
    case CS__F_BOOL:
        if (!json_is_boolean(j))
            return perr(err, f->path, "expected true or false, got %s", json_type_name(j));
        *(bool *)p = json_is_true(j);
        break;
    case CS__F_INT:
        if (!json_is_integer(j))
            return perr(err, f->path, "expected an integer, got %s", json_type_name(j));
        if (json_integer_value(j) < INT32_MIN || json_integer_value(j) > INT32_MAX)
            return perr(err, f->path, "%lld does not fit in a 32-bit int",
                        (long long)json_integer_value(j));
        *(int32_t *)p = (int32_t)json_integer_value(j);
        break;
    case CS__F_LONG:
        if (f->format == CS__FMT_TIMESTAMP) {
            if (json_time(j, f->path, (int64_t *)p, err) < 0)
                return -1;
        } else {
            if (!json_is_integer(j))
                return perr(err, f->path, "expected an integer, got %s", json_type_name(j));
            *(int64_t *)p = json_integer_value(j);
        }
        break;
    case CS__F_DOUBLE:
        if (!json_is_number(j))
            return perr(err, f->path, "expected a number, got %s", json_type_name(j));
        *(double *)p = json_number_value(j);
        break;
    case CS__F_STRING: {
        if (json_string_arg(j, f->path, &s, &n, err) < 0)
            return -1;
        char *c = cs_arena_strndup(arena, s, n);
        if (f->format == CS__FMT_UUID)
            for (size_t i = 0; i < n; i++)
                c[i] = (char)tolower((unsigned char)c[i]);
        *(const char **)p = c;
        break;
    }
    case CS__F_ENUM: {
        if (json_string_arg(j, f->path, &s, &n, err) < 0)
            return -1;
        int sym = -1;
        for (int i = 0; i < f->enm->nsymbols && sym < 0; i++)
            if (strcmp(f->enm->symbols[i], s) == 0)
                sym = i;
        if (sym < 0) {
            char list[256] = "";
            size_t o = 0;
            for (int i = 0; i < f->enm->nsymbols && o < sizeof list; i++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "",
                                      f->enm->symbols[i]);
            return perr(err, f->path, "%s is not one of %s", QUOTE(s, n), list);
        }
        *(int *)p = sym;
        break;
    }
    case CS__F_STRV: {
        if (!json_is_array(j))
            return perr(err, f->path, "expected an array of strings, got %s", json_type_name(j));
        size_t count = json_array_size(j);
        if (count > f->max_items)
            return perr(err, f->path, "has %zu items, at most %u allowed", count, f->max_items);
        const char **items = cs_arena_alloc(arena, (count ? count : 1) * sizeof *items);
        for (size_t i = 0; i < count; i++) {
            char ipath[80];
            snprintf(ipath, sizeof ipath, "%s[%zu]", f->path, i);
            if (json_string_arg(json_array_get(j, i), ipath, &s, &n, err) < 0)
                return -1;
            items[i] = cs_arena_strndup(arena, s, n);
        }
        ((cs_strv_t *)p)->items = items;
        ((cs_strv_t *)p)->count = count;
        break;
    }
    }
    set_present(payload, f);
    return 0;
}

static int json_uuid(const json_t *j, const char *path, char out[37], cs_err_t *err)
{
    const char *s;
    size_t n;
    if (!j)
        return perr(err, path, "is required but missing");
    if (json_string_arg(j, path, &s, &n, err) < 0)
        return -1;
    if (!is_uuid(s, n))
        return perr(err, path, "%s is not a uuid (8-4-4-4-12 hexadecimal digits)", QUOTE(s, n));
    for (size_t i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = '\0';
    return 0;
}

static int from_json(json_t *root, cs_arena_t *arena, cs_event_t *ev, cs_err_t *err)
{
    static const char *const env_keys[] = {"event_type",  "event_id", "occurred_at",
                                           "user_id",     "producer", "schema_version",
                                           "traceparent", "payload",  NULL};
    const char *key, *s;
    size_t n;
    json_t *val;
    if (!json_is_object(root))
        return perr(err, "json", "an event must be a JSON object, got %s", json_type_name(root));
    json_object_foreach(root, key, val)
    {
        bool known = false;
        for (int i = 0; env_keys[i] && !known; i++)
            known = strcmp(env_keys[i], key) == 0;
        if (!known)
            return perr(err, *key ? key : "json",
                        "unknown field %s (an event has event_type, event_id, occurred_at, "
                        "user_id, producer, schema_version, traceparent, payload)",
                        QUOTE(key, strlen(key)));
    }
    json_t *jt = json_object_get(root, "event_type");
    if (!jt)
        return perr(err, "event_type", "is required but missing");
    if (json_string_arg(jt, "event_type", &s, &n, err) < 0)
        return -1;
    ev->type = cs_codec_type_by_name(s);
    if (ev->type < 0)
        return perr(err, "event_type", "%s is not a careerstream event type", QUOTE(s, n));
    const cs__event_desc_t *ed = &cs__events[ev->type];
    ev->type_name = ed->name;
    ev->schema_version = ed->versions[ed->nversions - 1].version;
    ev->fingerprint = ed->versions[ed->nversions - 1].fingerprint;
    if (json_uuid(json_object_get(root, "event_id"), "event_id", ev->event_id, err) < 0 ||
        json_uuid(json_object_get(root, "user_id"), "user_id", ev->user_id, err) < 0)
        return -1;
    val = json_object_get(root, "occurred_at");
    if (!val)
        return perr(err, "occurred_at", "is required but missing");
    if (json_time(val, "occurred_at", &ev->occurred_at_ms, err) < 0)
        return -1;
    val = json_object_get(root, "producer");
    if (!val)
        return perr(err, "producer", "is required but missing");
    if (json_string_arg(val, "producer", &s, &n, err) < 0)
        return -1;
    ev->producer = cs_arena_strndup(arena, s, n);
    val = json_object_get(root, "schema_version");
    if (val && !json_is_null(val)) {
        json_int_t sv = json_integer_value(val);
        if (!json_is_integer(val))
            return perr(err, "schema_version", "expected an integer, got %s", json_type_name(val));
        if (sv < 1 || sv > ed->nversions)
            return perr(err, "schema_version", "must be a known version of %s, 1..%d", ed->name,
                        ed->nversions);
    }
    ev->traceparent = "";
    val = json_object_get(root, "traceparent");
    if (val && !json_is_null(val)) {
        if (json_string_arg(val, "traceparent", &s, &n, err) < 0)
            return -1;
        ev->traceparent = cs_arena_strndup(arena, s, n);
    }

    json_t *jp = json_object_get(root, "payload");
    if (!jp)
        return perr(err, "payload", "is required but missing");
    if (!json_is_object(jp))
        return perr(err, "payload", "expected an object, got %s", json_type_name(jp));
    void *payload = cs_arena_alloc(arena, ed->payload_size);
    memset(payload, 0, ed->payload_size);
    json_object_foreach(jp, key, val)
    {
        int i;
        for (i = 0; i < ed->nfields; i++)
            if (strcmp(ed->fields[i].name, key) == 0)
                break;
        if (i == ed->nfields) {
            char path[80];
            snprintf(path, sizeof path, "payload.%s", key);
            return perr(err, path, "unknown field of %s", ed->name);
        }
    }
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[i];
        val = json_object_get(jp, f->name);
        if (!val) {
            if (f->has_default)
                store_default(payload, f);
            else if (f->type == CS__F_STRV || !f->optional)
                return perr(err, f->path, "is required but missing");
            continue;
        }
        if (json_field(f, val, payload, arena, err) < 0)
            return -1;
    }
    ev->payload = payload;
    if (validate_envelope(ev, false, err) < 0 || validate_payload(ed, payload, err) < 0)
        return -1;
    return 0;
}

int cs_codec_from_json(cs_codec_t *codec, const char *json, size_t len, cs_arena_t *arena,
                       cs_event_t *ev, cs_err_t *err)
{
    (void)codec;
    memset(ev, 0, sizeof *ev);
    ev->type = -1;
    if (len > 4 * CS_CODEC_MAX_MESSAGE_BYTES)
        return perr(err, "json", "%zu bytes of JSON exceeds the limit of %d", len,
                    4 * CS_CODEC_MAX_MESSAGE_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return perr(err, "json", "invalid JSON at column %d: %s", jerr.column, jerr.text);
    int rc = from_json(root, arena, ev, err);
    json_decref(root);
    return rc;
}

/* ---- the codec and its tables --------------------------------------------------------------- */

int cs__codec_check_compat(const cs__field_desc_t *w, int wn, const cs__field_desc_t *r, int rn,
                           char *why, size_t whylen)
{
    for (int i = 0; i < rn; i++) {
        const cs__field_desc_t *rf = &r[i];
        const cs__field_desc_t *wf = NULL;
        for (int k = 0; k < wn && !wf; k++)
            if (strcmp(w[k].name, rf->name) == 0)
                wf = &w[k];
        if (!wf) {
            if (!rf->has_default) {
                snprintf(why, whylen,
                         "%s: the reader has it, the writer does not, and it has no default",
                         rf->path);
                return -1;
            }
            continue;
        }
        bool promo =
            (wf->type == CS__F_INT && (rf->type == CS__F_LONG || rf->type == CS__F_DOUBLE)) ||
            (wf->type == CS__F_LONG && rf->type == CS__F_DOUBLE);
        if (wf->type != rf->type && !promo) {
            snprintf(why, whylen, "%s: the writer's type cannot be read as the reader's", rf->path);
            return -1;
        }
        if (wf->optional && !rf->optional) {
            snprintf(why, whylen, "%s: optional in the writer but required in the reader",
                     rf->path);
            return -1;
        }
        if (rf->type == CS__F_ENUM) {
            for (int s = 0; s < wf->enm->nsymbols; s++) {
                bool found = false;
                for (int t = 0; t < rf->enm->nsymbols && !found; t++)
                    found = strcmp(wf->enm->symbols[s], rf->enm->symbols[t]) == 0;
                if (!found) {
                    snprintf(why, whylen, "%s: the writer's symbol %s is unknown to the reader",
                             rf->path, wf->enm->symbols[s]);
                    return -1;
                }
            }
        }
    }
    return 0;
}

static void plan_fini(plan_t *pl)
{
    free(pl->steps);
    free(pl->missing);
    free(pl->maps);
    pl->steps = NULL;
    pl->missing = pl->maps = NULL;
}

/* Resolves writer version wv against reader fields r[0..rn). -1 with the reason in why. */
static int plan_init(plan_t *pl, const cs__version_desc_t *wv, const cs__field_desc_t *r, int rn,
                     char *why, size_t whylen)
{
    size_t nmap = 0, used = 0;
    pl->wv = wv;
    pl->rfields = r;
    pl->nrfields = rn;
    if (cs__codec_check_compat(wv->fields, wv->nfields, r, rn, why, whylen) < 0)
        return -1;
    for (int i = 0; i < wv->nfields; i++)
        if (wv->fields[i].enm)
            nmap += (size_t)wv->fields[i].enm->nsymbols;
    pl->steps = calloc((size_t)wv->nfields + 1, sizeof *pl->steps);
    pl->missing = calloc((size_t)rn + 1, sizeof *pl->missing);
    pl->maps = calloc(nmap + 1, sizeof *pl->maps);
    if (!pl->steps || !pl->missing || !pl->maps) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    for (int i = 0; i < wv->nfields; i++) {
        const cs__field_desc_t *wf = &wv->fields[i];
        step_t *st = &pl->steps[i];
        st->reader = -1;
        for (int k = 0; k < rn; k++)
            if (strcmp(r[k].name, wf->name) == 0)
                st->reader = k;
        if (st->reader < 0)
            continue;
        const cs__field_desc_t *rf = &r[st->reader];
        if (wf->type == CS__F_INT && rf->type == CS__F_LONG)
            st->conv = CONV_INT_LONG;
        else if (wf->type == CS__F_INT && rf->type == CS__F_DOUBLE)
            st->conv = CONV_INT_DOUBLE;
        else if (wf->type == CS__F_LONG && rf->type == CS__F_DOUBLE)
            st->conv = CONV_LONG_DOUBLE;
        if (rf->type == CS__F_ENUM && wf->enm != rf->enm) {
            int *map = pl->maps + used;
            used += (size_t)wf->enm->nsymbols;
            for (int sym = 0; sym < wf->enm->nsymbols; sym++) {
                map[sym] = -1;
                for (int t = 0; t < rf->enm->nsymbols; t++)
                    if (strcmp(wf->enm->symbols[sym], rf->enm->symbols[t]) == 0)
                        map[sym] = t;
            }
            st->enum_map = map;
        }
    }
    for (int k = 0; k < rn; k++) {
        bool in_writer = false;
        for (int i = 0; i < wv->nfields && !in_writer; i++)
            in_writer = pl->steps[i].reader == k;
        if (!in_writer)
            pl->missing[pl->nmissing++] = k;
    }
    return 0;
}

static int build_plan(plan_t *pl, int type, int vi, cs_err_t *err)
{
    const cs__event_desc_t *ed = &cs__events[type];
    const cs__version_desc_t *wv = &ed->versions[vi];
    char why[256];
    pl->type = type;
    pl->ev = ed;
    if (plan_init(pl, wv, ed->fields, ed->nfields, why, sizeof why) < 0)
        return cs_err_set(err, CS_ERR_FATAL, "schema %s v%d cannot be read by v%d: %s", ed->name,
                          wv->version, ed->versions[ed->nversions - 1].version, why);
    return 0;
}

cs_codec_t *cs_codec_new(cs_err_t *err)
{
    cs_codec_t *c = calloc(1, sizeof *c);
    int total = 0;
    if (!c) {
        cs_err_set(err, CS_ERR_FATAL, "out of memory");
        return NULL;
    }
    for (int t = 0; t < cs__nevents; t++)
        total += cs__events[t].nversions;
    c->plans = calloc((size_t)total, sizeof *c->plans);
    c->by_fp = calloc((size_t)total, sizeof *c->by_fp);
    if (!c->plans || !c->by_fp) {
        cs_err_set(err, CS_ERR_FATAL, "out of memory");
        goto fail;
    }
    for (int t = 0; t < cs__nevents; t++) {
        const cs__event_desc_t *ed = &cs__events[t];
        for (int v = 0; v < ed->nversions; v++) {
            const cs__version_desc_t *vd = &ed->versions[v];
            /* The fingerprints compiled in must be those of the canonical forms compiled in. */
            if (cs__schema_crc64(vd->canonical, strlen(vd->canonical)) != vd->fingerprint) {
                cs_err_set(err, CS_ERR_FATAL,
                           "schema %s v%d: compiled-in fingerprint does not match its "
                           "canonical form",
                           ed->name, vd->version);
                goto fail;
            }
            plan_t *pl = &c->plans[c->nplans];
            if (build_plan(pl, t, v, err) < 0) {
                c->nplans++; /* so that fail frees its steps */
                goto fail;
            }
            c->by_fp[c->nplans].fp = vd->fingerprint;
            c->by_fp[c->nplans].plan = pl;
            c->nplans++;
        }
    }
    qsort(c->by_fp, (size_t)c->nplans, sizeof *c->by_fp, fp_cmp);
    if (jsonb_order_build(c) < 0) {
        cs_err_set(err, CS_ERR_FATAL, "out of memory");
        goto fail;
    }
    for (int i = 1; i < c->nplans; i++)
        if (c->by_fp[i].fp == c->by_fp[i - 1].fp) {
            cs_err_set(err, CS_ERR_FATAL, "schemas %s and %s share a fingerprint",
                       c->by_fp[i].plan->ev->name, c->by_fp[i - 1].plan->ev->name);
            goto fail;
        }
    return c;
fail:
    cs_codec_destroy(c);
    return NULL;
}

void cs_codec_destroy(cs_codec_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nplans; i++)
        plan_fini(&c->plans[i]);
    free(c->plans);
    free(c->by_fp);
    free(c->jsonb_first);
    free(c->jsonb_order);
    free(c);
}

int cs_codec_ntypes(void)
{
    return cs__nevents;
}

int cs_codec_type_by_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < cs__nevents; i++)
        if (strcmp(cs__events[i].name, name) == 0)
            return i;
    return -1;
}

const char *cs_codec_type_name(int type)
{
    return type >= 0 && type < cs__nevents ? cs__events[type].name : NULL;
}

const char *cs_codec_type_topic(int type)
{
    return type >= 0 && type < cs__nevents ? cs__events[type].topic : NULL;
}

int cs_codec_type_version(int type)
{
    if (type < 0 || type >= cs__nevents)
        return -1;
    return cs__events[type].versions[cs__events[type].nversions - 1].version;
}

static const cs__version_desc_t *version_of(int type, int version)
{
    if (type < 0 || type >= cs__nevents)
        return NULL;
    const cs__event_desc_t *ed = &cs__events[type];
    if (version == 0)
        return &ed->versions[ed->nversions - 1];
    for (int i = 0; i < ed->nversions; i++)
        if (ed->versions[i].version == version)
            return &ed->versions[i];
    return NULL;
}

uint64_t cs_codec_type_fingerprint(int type, int version)
{
    const cs__version_desc_t *v = version_of(type, version);
    return v ? v->fingerprint : 0;
}

const char *cs_codec_type_schema(int type, int version)
{
    const cs__version_desc_t *v = version_of(type, version);
    return v ? v->schema_json : NULL;
}

const char *cs_codec_type_canonical(int type, int version)
{
    const cs__version_desc_t *v = version_of(type, version);
    return v ? v->canonical : NULL;
}

const char *cs_codec_type_example(int type)
{
    return type >= 0 && type < cs__nevents ? cs__events[type].example : NULL;
}

uint64_t cs_codec_fingerprint(const void *canonical, size_t n)
{
    return cs__schema_crc64(canonical, n);
}

void cs_codec_fingerprint_hex(uint64_t fp, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        unsigned b = (unsigned)(fp >> (8 * i)) & 0xff;
        out[2 * i] = hex[b >> 4];
        out[2 * i + 1] = hex[b & 15];
    }
    out[16] = '\0';
}

/*
 * libcore/src/codec_validate.c
 *      The codec's one validation pass, and the format checks it applies.
 *
 * Decoding, encoding and reading JSON all end in the same pass over a filled cs_event_t
 * (cs__codec_validate_envelope, cs__codec_validate_payload), so the three entry points accept
 * exactly the same events. Limits come from the reader schema's tables (codec_tables.h): string
 * lengths, UTF-8, uuid / identifier / currency / URL / traceparent formats, integer and double
 * ranges, the timestamp range of cs/codec.h, array sizes, "cs.required_if" and
 * "cs.at_least_one". Every failure is a PERMANENT error naming the field, with the refused value
 * quoted (cs__codec_quote) so that untrusted bytes never reach a log line unescaped.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "cs/text.h"

int cs__codec_perr(cs_err_t *err, const char *field, const char *fmt, ...)
{
    char msg[CS_ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cs_err_set_field(err, CS_ERR_PERMANENT, field, "%s", msg);
}

const char *cs__codec_quote(char *out, size_t outlen, const char *s, size_t n)
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
bool cs__codec_is_uuid(const char *s, size_t n)
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

/* ---- validation: one pass over a filled event, shared by decode, from_json and encode ----- */

static int check_string(const cs__field_desc_t *f, const char *path, const char *s, cs_err_t *err)
{
    size_t n = strlen(s);
    if (f->format == CS__FMT_UUID) {
        if (!cs__codec_is_uuid(s, n))
            return cs__codec_perr(err, path, "%s is not a uuid (8-4-4-4-12 hexadecimal digits)",
                                  QUOTE(s, n));
        return 0;
    }
    if (n > f->max_len)
        return cs__codec_perr(err, path, "is %zu bytes long, at most %u allowed", n, f->max_len);
    if (n < f->min_len)
        return n == 0 ? cs__codec_perr(err, path, "must not be empty")
                      : cs__codec_perr(err, path, "is %zu bytes long, at least %u required", n,
                                       f->min_len);
    long bad = utf8_invalid_at((const unsigned char *)s, n);
    if (bad >= 0)
        return cs__codec_perr(err, path, "is not valid UTF-8 (at byte %ld)", bad);
    switch (f->format) {
    case CS__FMT_IDENTIFIER:
        if (!is_identifier(s, n))
            return cs__codec_perr(err, path,
                                  "%s is not an identifier (lower-case [a-z0-9][a-z0-9._-]*)",
                                  QUOTE(s, n));
        break;
    case CS__FMT_CURRENCY:
        if (n != 3 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1]) ||
            !isupper((unsigned char)s[2]))
            return cs__codec_perr(err, path,
                                  "%s is not an ISO 4217 currency code (three upper-case letters)",
                                  QUOTE(s, n));
        break;
    case CS__FMT_URL:
        if (!is_url(s, n))
            return cs__codec_perr(err, path, "%s is not an http:// or https:// URL without spaces",
                                  QUOTE(s, n));
        break;
    case CS__FMT_TRACEPARENT:
        if (!is_traceparent(s, n))
            return cs__codec_perr(
                err, path, "%s is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>, lower-case)",
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
        char buf[CS_TEXT_TIME_BYTES];
        if (v > INT64_C(-62135596800000) && v < INT64_C(253402300800000))
            cs_text_time_ms(buf, v, CS_TEXT_RFC3339);
        else
            snprintf(buf, sizeof buf, "out of any calendar");
        return cs__codec_perr(
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

/* An int or long: a timestamp in the accepted years, within the field's range. */
static inline int check_integer(const cs__field_desc_t *f, int64_t v, cs_err_t *err)
{
    if (f->format == CS__FMT_TIMESTAMP && check_time(f->path, v, err) < 0)
        return -1;
    if ((f->has_min && v < f->imin) || (f->has_max && v > f->imax))
        return cs__codec_perr(err, f->path, "%lld is out of range %lld..%lld", (long long)v,
                              (long long)f->imin, (long long)f->imax);
    return 0;
}

/* A double: finite, within the field's range. */
static inline int check_double(const cs__field_desc_t *f, double v, cs_err_t *err)
{
    if (!isfinite(v))
        return cs__codec_perr(err, f->path, "is not a finite number");
    if ((f->has_min && v < f->dmin) || (f->has_max && v > f->dmax)) {
        char vb[32], lo[32], hi[32];
        return cs__codec_perr(err, f->path, "%s is out of range %s..%s", fmt_double(v, vb),
                              fmt_double(f->dmin, lo), fmt_double(f->dmax, hi));
    }
    return 0;
}

/* An array of strings: at most max_items, each a valid string of the field. */
static inline int check_strv(const cs__field_desc_t *f, const cs_strv_t *sv, cs_err_t *err)
{
    if (sv->count > f->max_items)
        return cs__codec_perr(err, f->path, "has %zu items, at most %u allowed", sv->count,
                              f->max_items);
    if (sv->count && !sv->items)
        return cs__codec_perr(err, f->path, "has %zu items but no item array", sv->count);
    for (size_t i = 0; i < sv->count; i++) {
        if (!sv->items[i] || check_string(f, f->path, sv->items[i], err) < 0) {
            char path[80]; /* formatted only on failure: this loop is hot */
            snprintf(path, sizeof path, "%s[%zu]", f->path, i);
            if (!sv->items[i])
                return cs__codec_perr(err, path, "is NULL");
            snprintf(err->field, sizeof err->field, "%s", path);
            return -1;
        }
    }
    return 0;
}

static int check_value(const cs__field_desc_t *f, const void *payload, cs_err_t *err)
{
    const void *p = field_cptr(payload, f);
    switch (f->type) {
    case CS__F_BOOL:
        return 0;
    case CS__F_INT:
        return check_integer(f, *(const int32_t *)p, err);
    case CS__F_LONG:
        return check_integer(f, *(const int64_t *)p, err);
    case CS__F_DOUBLE:
        return check_double(f, *(const double *)p, err);
    case CS__F_STRING: {
        const char *s = *(const char *const *)p;
        if (!s)
            return cs__codec_perr(err, f->path, "is required but missing");
        return check_string(f, f->path, s, err);
    }
    case CS__F_ENUM: {
        int v = *(const int *)p;
        if (v < 0 || v >= f->enm->nsymbols)
            return cs__codec_perr(err, f->path, "enum value %d is not a symbol of %s", v,
                                  f->enm->name);
        return 0;
    }
    case CS__F_STRV:
        return check_strv(f, p, err);
    }
    return cs__codec_perr(err, f->path, "has an unknown type");
}

int cs__codec_validate_payload(const cs__event_desc_t *ed, const void *payload, cs_err_t *err)
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
                        return cs__codec_perr(err, f->path, "is required when %s is set", c->path);
                    int sym = *(const int *)field_cptr(payload, c);
                    if (sym >= 0 && sym < 64 && (f->req_mask >> sym & 1))
                        return cs__codec_perr(err, f->path, "is required when %s is %s", c->path,
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
        return cs__codec_perr(err, "payload", "sets no field; %s needs at least one", ed->name);
    return 0;
}

/* A char[37] id of the envelope: NUL-terminated within its array, and a uuid. */
static bool id_ok(const char id[37])
{
    return memchr(id, '\0', 37) != NULL && cs__codec_is_uuid(id, strlen(id));
}

/* The envelope without its payload (see codec_int.h). */
int cs__codec_validate_envelope_fields(const cs_event_t *ev, bool ids_checked, cs_err_t *err)
{
    const cs__field_desc_t *env = cs__envelope_fields;
    if (ev->type < 0 || ev->type >= cs__nevents)
        return cs__codec_perr(err, "event_type", "event type index %d is unknown", ev->type);
    if (!ids_checked && !id_ok(ev->event_id))
        return cs__codec_perr(err, "event_id", "%s is not a uuid (8-4-4-4-12 hexadecimal digits)",
                              QUOTE(ev->event_id, strnlen(ev->event_id, sizeof ev->event_id)));
    if (!ids_checked && !id_ok(ev->user_id))
        return cs__codec_perr(err, "user_id", "%s is not a uuid (8-4-4-4-12 hexadecimal digits)",
                              QUOTE(ev->user_id, strnlen(ev->user_id, sizeof ev->user_id)));
    if (check_time("occurred_at", ev->occurred_at_ms, err) < 0)
        return -1;
    if (!ev->producer)
        return cs__codec_perr(err, "producer", "is required but missing");
    if (check_string(&env[CS__ENV_PRODUCER], "producer", ev->producer, err) < 0)
        return -1;
    if (ev->traceparent && ev->traceparent[0] &&
        check_string(&env[CS__ENV_TRACEPARENT], "traceparent", ev->traceparent, err) < 0)
        return -1;
    return 0;
}

int cs__codec_validate_envelope(const cs_event_t *ev, bool ids_checked, cs_err_t *err)
{
    if (cs__codec_validate_envelope_fields(ev, ids_checked, err) < 0)
        return -1;
    if (!ev->payload)
        return cs__codec_perr(err, "payload", "is required but missing");
    return 0;
}

/*
 * libcore/src/codec_json.c
 *      The documented JSON form of an event: the writer, and the reader cs-produce feeds.
 *
 * The form is schemas/README.md's: the envelope's fields, timestamps as RFC 3339 text in UTC with
 * milliseconds, enums as their symbols, and the payload as an object keyed by field name in
 * schema order. The writer prints it compactly through cs/text.h (the same escaping and
 * timestamp text as every other careerstream JSON). The reader parses with jansson (duplicate
 * keys refused), refuses unknown fields by name, accepts a timestamp as RFC 3339 text or integer
 * milliseconds, fills the payload struct in the caller's arena and ends in the same validation
 * pass as the decoder (codec_validate.c), so a JSON event is accepted exactly when its binary
 * form would be.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec_int.h"
#include "cs/text.h"

/* ---- the writer ---------------------------------------------------------------------------- */

void cs__codec_json_number(char out[CS__CODEC_NUMBER_BYTES], double d)
{
    snprintf(out, CS__CODEC_NUMBER_BYTES, "%.15g", d);
    if (strtod(out, NULL) != d)
        snprintf(out, CS__CODEC_NUMBER_BYTES, "%.17g", d);
}

static void json_int(cs_buf_t *b, int64_t v)
{
    char num[CS_TEXT_INT_BYTES];
    cs_buf_append(b, num, cs_text_i64(num, v));
}

/* A timestamp as a JSON string: "2026-11-25T09:30:00.000Z". */
static void json_time_ms(cs_buf_t *b, int64_t ms)
{
    char t[CS_TEXT_TIME_BYTES];
    size_t n = cs_text_time_ms(t, ms, CS_TEXT_RFC3339);
    cs_buf_putc(b, '"');
    cs_buf_append(b, t, n);
    cs_buf_putc(b, '"');
}

static void json_str(cs_buf_t *b, const char *s)
{
    cs_text_json_str(b, s, strlen(s), CS_TEXT_JSON);
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
        json_int(b, *(const int32_t *)p);
        break;
    case CS__F_LONG:
        if (f->format == CS__FMT_TIMESTAMP)
            json_time_ms(b, *(const int64_t *)p);
        else
            json_int(b, *(const int64_t *)p);
        break;
    case CS__F_DOUBLE: {
        char num[CS__CODEC_NUMBER_BYTES];
        cs__codec_json_number(num, *(const double *)p);
        cs_buf_puts(b, num);
        break;
    }
    case CS__F_STRING: {
        const char *s = *(const char *const *)p;
        json_str(b, s);
        break;
    }
    case CS__F_ENUM: {
        int v = *(const int *)p;
        const char *sym = v >= 0 && v < f->enm->nsymbols ? f->enm->symbols[v] : "";
        json_str(b, sym);
        break;
    }
    case CS__F_STRV: {
        const cs_strv_t *sv = p;
        cs_buf_putc(b, '[');
        for (size_t i = 0; i < sv->count; i++) {
            if (i)
                cs_buf_putc(b, ',');
            json_str(b, sv->items[i]);
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
        return cs__codec_perr(err, "payload", "no decoded event to write");
    const cs__event_desc_t *ed = &cs__events[ev->type];
    cs_buf_putc(out, '{');
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[i];
        if (i)
            cs_buf_putc(out, ',');
        json_str(out, f->name);
        cs_buf_putc(out, ':');
        json_value(out, f, ev->payload);
    }
    cs_buf_putc(out, '}');
    return 0;
}

int cs_codec_to_json(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out, cs_err_t *err)
{
    if (ev->type < 0 || ev->type >= cs__nevents || !ev->payload)
        return cs__codec_perr(err, "payload", "no decoded event to write");
    cs_buf_puts(out, "{\"event_type\":");
    json_str(out, cs__events[ev->type].name);
    cs_buf_printf(out, ",\"event_id\":\"%s\",\"occurred_at\":", ev->event_id);
    json_time_ms(out, ev->occurred_at_ms);
    cs_buf_printf(out, ",\"user_id\":\"%s\",\"producer\":", ev->user_id);
    json_str(out, ev->producer ? ev->producer : "");
    cs_buf_puts(out, ",\"schema_version\":");
    json_int(out, ev->schema_version);
    cs_buf_puts(out, ",\"traceparent\":");
    if (ev->traceparent && ev->traceparent[0])
        json_str(out, ev->traceparent);
    else
        cs_buf_puts(out, "null");
    cs_buf_puts(out, ",\"payload\":");
    if (cs_codec_payload_to_json(codec, ev, out, err) < 0)
        return -1;
    cs_buf_putc(out, '}');
    return 0;
}

/* ---- the reader ---------------------------------------------------------------------------- */

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
        return cs__codec_perr(err, path, "expected a string, got %s", json_type_name(j));
    *s = json_string_value(j);
    *n = json_string_length(j);
    if (memchr(*s, '\0', *n))
        return cs__codec_perr(err, path, "contains a NUL character");
    return 0;
}

static int json_time(const json_t *j, const char *path, int64_t *out, cs_err_t *err)
{
    if (json_is_integer(j)) {
        *out = json_integer_value(j);
        return 0;
    }
    if (!json_is_string(j))
        return cs__codec_perr(
            err, path, "expected an RFC 3339 timestamp string or integer milliseconds, got %s",
            json_type_name(j));
    int rc = parse_time(json_string_value(j), json_string_length(j), out);
    if (rc == -2)
        return cs__codec_perr(err, path,
                              "%s has sub-millisecond digits; timestamps are milliseconds",
                              QUOTE(json_string_value(j), json_string_length(j)));
    if (rc < 0)
        return cs__codec_perr(err, path,
                              "%s is not an RFC 3339 timestamp like 2026-11-25T09:30:00.000Z",
                              QUOTE(json_string_value(j), json_string_length(j)));
    return 0;
}

/* An int field: a JSON integer that fits in 32 bits. */
static int json_int32(const cs__field_desc_t *f, const json_t *j, int32_t *out, cs_err_t *err)
{
    if (!json_is_integer(j))
        return cs__codec_perr(err, f->path, "expected an integer, got %s", json_type_name(j));
    if (json_integer_value(j) < INT32_MIN || json_integer_value(j) > INT32_MAX)
        return cs__codec_perr(err, f->path, "%lld does not fit in a 32-bit int",
                              (long long)json_integer_value(j));
    *out = (int32_t)json_integer_value(j);
    return 0;
}

/* A string field, kept in the arena; a uuid is lowered. */
static int json_string_field(const cs__field_desc_t *f, const json_t *j, const char **out,
                             cs_arena_t *arena, cs_err_t *err)
{
    const char *s;
    size_t n;

    if (json_string_arg(j, f->path, &s, &n, err) < 0)
        return -1;
    char *c = cs_arena_strndup(arena, s, n);
    if (f->format == CS__FMT_UUID)
        for (size_t i = 0; i < n; i++)
            c[i] = (char)tolower((unsigned char)c[i]);
    *out = c;
    return 0;
}

/* An enum field: one of its symbols (the message lists them), stored as the symbol's index. */
static int json_enum(const cs__field_desc_t *f, const json_t *j, int *out, cs_err_t *err)
{
    const char *s;
    size_t n;
    char list[256] = "";
    size_t o = 0;

    if (json_string_arg(j, f->path, &s, &n, err) < 0)
        return -1;
    for (int i = 0; i < f->enm->nsymbols; i++)
        if (strcmp(f->enm->symbols[i], s) == 0) {
            *out = i;
            return 0;
        }
    for (int i = 0; i < f->enm->nsymbols && o < sizeof list; i++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", f->enm->symbols[i]);
    return cs__codec_perr(err, f->path, "%s is not one of %s", QUOTE(s, n), list);
}

/* An array-of-strings field: at most max_items strings, kept in the arena. */
static int json_strv(const cs__field_desc_t *f, const json_t *j, cs_strv_t *out, cs_arena_t *arena,
                     cs_err_t *err)
{
    const char *s;
    size_t n;

    if (!json_is_array(j))
        return cs__codec_perr(err, f->path, "expected an array of strings, got %s",
                              json_type_name(j));
    size_t count = json_array_size(j);
    if (count > f->max_items)
        return cs__codec_perr(err, f->path, "has %zu items, at most %u allowed", count,
                              f->max_items);
    const char **items = cs_arena_alloc(arena, (count ? count : 1) * sizeof *items);
    for (size_t i = 0; i < count; i++) {
        char ipath[80];
        snprintf(ipath, sizeof ipath, "%s[%zu]", f->path, i);
        if (json_string_arg(json_array_get(j, i), ipath, &s, &n, err) < 0)
            return -1;
        items[i] = cs_arena_strndup(arena, s, n);
    }
    out->items = items;
    out->count = count;
    return 0;
}

/* One payload field from its JSON value j (null: absent, when the field is optional). */
static int json_field(const cs__field_desc_t *f, const json_t *j, void *payload, cs_arena_t *arena,
                      cs_err_t *err)
{
    void *p = field_ptr(payload, f);
    int rc = 0;

    if (json_is_null(j)) {
        if (!f->optional)
            return cs__codec_perr(err, f->path, "is null but required");
        return 0;
    }
    switch (f->type) {
    case CS__F_BOOL:
        if (!json_is_boolean(j))
            return cs__codec_perr(err, f->path, "expected true or false, got %s",
                                  json_type_name(j));
        *(bool *)p = json_is_true(j);
        break;
    case CS__F_INT:
        rc = json_int32(f, j, (int32_t *)p, err);
        break;
    case CS__F_LONG:
        if (f->format == CS__FMT_TIMESTAMP)
            rc = json_time(j, f->path, (int64_t *)p, err);
        else if (!json_is_integer(j))
            return cs__codec_perr(err, f->path, "expected an integer, got %s", json_type_name(j));
        else
            *(int64_t *)p = json_integer_value(j);
        break;
    case CS__F_DOUBLE:
        if (!json_is_number(j))
            return cs__codec_perr(err, f->path, "expected a number, got %s", json_type_name(j));
        *(double *)p = json_number_value(j);
        break;
    case CS__F_STRING:
        rc = json_string_field(f, j, (const char **)p, arena, err);
        break;
    case CS__F_ENUM:
        rc = json_enum(f, j, (int *)p, err);
        break;
    case CS__F_STRV:
        rc = json_strv(f, j, (cs_strv_t *)p, arena, err);
        break;
    }
    if (rc < 0)
        return -1;
    set_present(payload, f);
    return 0;
}

static int json_uuid(const json_t *j, const char *path, char out[37], cs_err_t *err)
{
    const char *s;
    size_t n;
    if (!j)
        return cs__codec_perr(err, path, "is required but missing");
    if (json_string_arg(j, path, &s, &n, err) < 0)
        return -1;
    if (!cs__codec_is_uuid(s, n))
        return cs__codec_perr(err, path, "%s is not a uuid (8-4-4-4-12 hexadecimal digits)",
                              QUOTE(s, n));
    for (size_t i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = '\0';
    return 0;
}

/* An event object holds the envelope's keys and payload, nothing else. */
static int json_known_keys(json_t *root, cs_err_t *err)
{
    static const char *const env_keys[] = {"event_type",  "event_id", "occurred_at",
                                           "user_id",     "producer", "schema_version",
                                           "traceparent", "payload",  NULL};
    const char *key;
    json_t *val;

    json_object_foreach(root, key, val)
    {
        bool known = false;
        for (int i = 0; env_keys[i] && !known; i++)
            known = strcmp(env_keys[i], key) == 0;
        if (!known)
            return cs__codec_perr(
                err, *key ? key : "json",
                "unknown field %s (an event has event_type, event_id, occurred_at, "
                "user_id, producer, schema_version, traceparent, payload)",
                QUOTE(key, strlen(key)));
    }
    return 0;
}

/* The event type, named by event_type; sets ev's type, name, newest version and fingerprint. */
static int json_event_type(json_t *root, cs_event_t *ev, cs_err_t *err)
{
    const char *s;
    size_t n;
    json_t *jt = json_object_get(root, "event_type");

    if (!jt)
        return cs__codec_perr(err, "event_type", "is required but missing");
    if (json_string_arg(jt, "event_type", &s, &n, err) < 0)
        return -1;
    ev->type = cs_codec_type_by_name(s);
    if (ev->type < 0)
        return cs__codec_perr(err, "event_type", "%s is not a careerstream event type",
                              QUOTE(s, n));
    const cs__event_desc_t *ed = &cs__events[ev->type];
    ev->type_name = ed->name;
    ev->schema_version = ed->versions[ed->nversions - 1].version;
    ev->fingerprint = ed->versions[ed->nversions - 1].fingerprint;
    return 0;
}

/* The rest of the envelope: ids, occurred_at, producer, an optional schema_version (a known
 * version of ed) and traceparent. */
static int json_envelope(json_t *root, const cs__event_desc_t *ed, cs_arena_t *arena,
                         cs_event_t *ev, cs_err_t *err)
{
    const char *s;
    size_t n;
    json_t *val;

    if (json_uuid(json_object_get(root, "event_id"), "event_id", ev->event_id, err) < 0 ||
        json_uuid(json_object_get(root, "user_id"), "user_id", ev->user_id, err) < 0)
        return -1;
    val = json_object_get(root, "occurred_at");
    if (!val)
        return cs__codec_perr(err, "occurred_at", "is required but missing");
    if (json_time(val, "occurred_at", &ev->occurred_at_ms, err) < 0)
        return -1;
    val = json_object_get(root, "producer");
    if (!val)
        return cs__codec_perr(err, "producer", "is required but missing");
    if (json_string_arg(val, "producer", &s, &n, err) < 0)
        return -1;
    ev->producer = cs_arena_strndup(arena, s, n);
    val = json_object_get(root, "schema_version");
    if (val && !json_is_null(val)) {
        json_int_t sv = json_integer_value(val);
        if (!json_is_integer(val))
            return cs__codec_perr(err, "schema_version", "expected an integer, got %s",
                                  json_type_name(val));
        if (sv < 1 || sv > ed->nversions)
            return cs__codec_perr(err, "schema_version", "must be a known version of %s, 1..%d",
                                  ed->name, ed->nversions);
    }
    ev->traceparent = "";
    val = json_object_get(root, "traceparent");
    if (val && !json_is_null(val)) {
        if (json_string_arg(val, "traceparent", &s, &n, err) < 0)
            return -1;
        ev->traceparent = cs_arena_strndup(arena, s, n);
    }
    return 0;
}

/* The payload object of an event of type ed: no unknown field, every field read or defaulted. */
static int json_payload(json_t *root, const cs__event_desc_t *ed, cs_arena_t *arena, void **out,
                        cs_err_t *err)
{
    const char *key;
    json_t *val;
    json_t *jp = json_object_get(root, "payload");

    if (!jp)
        return cs__codec_perr(err, "payload", "is required but missing");
    if (!json_is_object(jp))
        return cs__codec_perr(err, "payload", "expected an object, got %s", json_type_name(jp));
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
            return cs__codec_perr(err, path, "unknown field of %s", ed->name);
        }
    }
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[i];
        val = json_object_get(jp, f->name);
        if (!val) {
            if (f->has_default)
                cs__codec_store_default(payload, f);
            else if (f->type == CS__F_STRV || !f->optional)
                return cs__codec_perr(err, f->path, "is required but missing");
            continue;
        }
        if (json_field(f, val, payload, arena, err) < 0)
            return -1;
    }
    *out = payload;
    return 0;
}

static int from_json(json_t *root, cs_arena_t *arena, cs_event_t *ev, cs_err_t *err)
{
    const cs__event_desc_t *ed;
    void *payload = NULL;

    if (!json_is_object(root))
        return cs__codec_perr(err, "json", "an event must be a JSON object, got %s",
                              json_type_name(root));
    if (json_known_keys(root, err) < 0 || json_event_type(root, ev, err) < 0)
        return -1;
    ed = &cs__events[ev->type];
    if (json_envelope(root, ed, arena, ev, err) < 0 ||
        json_payload(root, ed, arena, &payload, err) < 0)
        return -1;
    ev->payload = payload;
    if (cs__codec_validate_envelope(ev, false, err) < 0 ||
        cs__codec_validate_payload(ed, payload, err) < 0)
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
        return cs__codec_perr(err, "json", "%zu bytes of JSON exceeds the limit of %d", len,
                              4 * CS_CODEC_MAX_MESSAGE_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return cs__codec_perr(err, "json", "invalid JSON at column %d: %s", jerr.column, jerr.text);
    int rc = from_json(root, arena, ev, err);
    json_decref(root);
    return rc;
}

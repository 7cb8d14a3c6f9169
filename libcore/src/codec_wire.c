/*
 * libcore/src/codec_wire.c
 *      Avro single-object encoding: the bounded binary reader and the writer of careerstream
 * events.
 *
 * Every consumer runs untrusted bytes through cs_codec_decode(), so this file reads the Avro
 * binary encoding itself, over the tables schemagen generates from schemas/ (codec_tables.h),
 * rather than through avro-c 1.11.1, whose readers allocate wire-declared lengths before checking
 * them, leave enum indexes unchecked and are not fuzzed (shared/reference/reliability.md).
 * The order of checks is the defence: the size cap, the C3 01 marker, the fingerprint allowlist
 * (which also selects the writer schema and its resolution plan, codec.c), then each field read
 * with its bounds checked against the bytes that remain before anything is copied; every
 * allocation comes from the caller's arena and is bounded by the message size. Once the struct is
 * filled, the one validation pass (codec_validate.c) applies the reader schema's limits; the
 * writer runs the same pass before it writes a byte.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

/* ---- Avro binary reading ------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
    cs_arena_t *arena;
} rd_t;

static int truncated(cs_err_t *err, const char *path)
{
    return cs__codec_perr(err, path, "truncated: the message ends inside this field");
}

static int rd_long(rd_t *r, int64_t *out, const char *path, cs_err_t *err)
{
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        if (r->p >= r->end)
            return truncated(err, path);
        uint8_t b = *r->p++;
        if (shift == 63 && (b & 0xfe))
            return cs__codec_perr(err, path, "malformed varint: longer than 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        if (shift == 63)
            return cs__codec_perr(err, path, "malformed varint: longer than 10 bytes");
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
        return cs__codec_perr(err, path, "int %lld does not fit in 32 bits", (long long)v);
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
        return cs__codec_perr(err, path, "negative string length %lld", (long long)len);
    if ((uint64_t)len > (uint64_t)(r->end - r->p))
        return cs__codec_perr(err, path,
                              "truncated: string of %lld bytes, only %zu left in the message",
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
        return cs__codec_perr(err, path, "contains a NUL byte");
    if (n > f->max_len) /* before copying: a string never costs more than its limit */
        return cs__codec_perr(err, path, "is %zu bytes long, at most %u allowed", n, f->max_len);
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
        return cs__codec_perr(err, path, "contains a NUL byte");
    if (n > 36)
        return cs__codec_perr(err, path, "is %zu bytes long, at most 36 allowed", n);
    if (!cs__codec_is_uuid(s, n))
        return cs__codec_perr(err, path, "%s is not a uuid (8-4-4-4-12 hexadecimal digits)",
                              QUOTE(s, n));
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
                return cs__codec_perr(err, path, "malformed array block count");
            count = -count;
            if (rd_long(r, &bytes, path, err) < 0)
                return -1;
            if (bytes < 0 || bytes > r->end - r->p)
                return cs__codec_perr(err, path, "array block size %lld does not fit the message",
                                      (long long)bytes);
        }
        if ((uint64_t)count > f->max_items - n)
            return cs__codec_perr(err, path, "has more than %u items", f->max_items);
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
            return cs__codec_perr(err, path, "union branch %lld does not exist (the union has 2)",
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
            return cs__codec_perr(err, path, "boolean byte 0x%02x is neither 0 nor 1", *r->p);
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
            return cs__codec_perr(err, path, "enum index %lld is out of range (%s has %d symbols)",
                                  (long long)v->i, wf->enm->name, wf->enm->nsymbols);
        return 0;
    case CS__F_STRV:
        return rd_strv(r, wf, path, dst_strv, err);
    }
    return cs__codec_perr(err, path, "has an unknown type");
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
                return cs__codec_perr(err, rf->path, "is null but required");
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
                return cs__codec_perr(err, rf->path,
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
        cs__codec_store_default(payload, &rfields[pl->missing[i]]);
    return 0;
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
 * The single-object header of a message of len bytes: its size within limits, the magic bytes,
 * and a writer schema fingerprint this build knows. *pl is that schema's reading plan.
 */
static inline int decode_header(const cs_codec_t *codec, const uint8_t *b, size_t len,
                                const plan_t **pl, uint64_t *fp_out, cs_err_t *err)
{
    if (len > CS_CODEC_MAX_MESSAGE_BYTES)
        return cs__codec_perr(err, "message", "%zu bytes exceeds the limit of %d bytes", len,
                              CS_CODEC_MAX_MESSAGE_BYTES);
    if (len < CS_CODEC_HEADER_BYTES || !b)
        return cs__codec_perr(err, "message",
                              "truncated: %zu bytes, the single-object header alone is %d", len,
                              CS_CODEC_HEADER_BYTES);
    if (b[0] != 0xc3 || b[1] != 0x01)
        return cs__codec_perr(
            err, "message",
            "not Avro single-object encoding: starts 0x%02x 0x%02x, expected 0xc3 0x01", b[0],
            b[1]);
    uint64_t fp = 0;
    for (int i = 9; i >= 2; i--)
        fp = (fp << 8) | b[i];
    *pl = plan_for(codec, fp);
    if (!*pl) {
        char hex[17];
        cs_codec_fingerprint_hex(fp, hex);
        return cs__codec_perr(
            err, "fingerprint",
            "unknown writer schema fingerprint %s: not a careerstream event schema "
            "this build knows",
            hex);
    }
    *fp_out = fp;
    return 0;
}

/*
 * The envelope, in the writer schema's order (event_id, event_type, occurred_at, user_id,
 * producer, schema_version, traceparent); event_type and schema_version must be the plan's.
 */
static inline int decode_envelope(rd_t *r, const plan_t *pl, cs_event_t *ev, cs_err_t *err)
{
    const cs__field_desc_t *env = cs__envelope_fields;
    wval_t v;
    const char *s = NULL;
    size_t n = 0;

    if (rd_uuid(r, "event_id", ev->event_id, err) < 0)
        return -1;
    if (rd_bytes(r, &s, &n, "event_type", err) < 0)
        return -1;
    if (n != strlen(pl->ev->name) || memcmp(s, pl->ev->name, n) != 0)
        return cs__codec_perr(err, "event_type", "%s does not match the writer schema's event %s",
                              QUOTE(s, n), pl->ev->name);
    if (rd_field(r, &env[CS__ENV_OCCURRED_AT], "occurred_at", &v, NULL, NULL, err) < 0)
        return -1;
    ev->occurred_at_ms = v.i;
    if (rd_uuid(r, "user_id", ev->user_id, err) < 0)
        return -1;
    if (rd_field(r, &env[CS__ENV_PRODUCER], "producer", &v, &ev->producer, NULL, err) < 0)
        return -1;
    if (rd_field(r, &env[CS__ENV_SCHEMA_VERSION], "schema_version", &v, NULL, NULL, err) < 0)
        return -1;
    if (v.i != pl->wv->version)
        return cs__codec_perr(err, "schema_version",
                              "%lld does not match the writer schema's version %d", (long long)v.i,
                              pl->wv->version);
    ev->schema_version = pl->wv->version;
    ev->traceparent = "";
    if (rd_field(r, &env[CS__ENV_TRACEPARENT], "traceparent", &v, &ev->traceparent, NULL, err) < 0)
        return -1;
    if (!ev->traceparent)
        ev->traceparent = "";
    return 0;
}

/*
 * The body of cs_codec_decode. *env_read is set once the whole envelope (up to traceparent) has
 * been read; a failure after that point is in the payload or in the envelope's validation.
 */
static int decode_event(cs_codec_t *codec, const void *data, size_t len, cs_arena_t *arena,
                        cs_event_t *ev, bool *env_read, cs_err_t *err)
{
    const uint8_t *b = data;
    const plan_t *pl = NULL;
    uint64_t fp = 0;

    memset(ev, 0, sizeof *ev);
    ev->type = -1;
    if (decode_header(codec, b, len, &pl, &fp, err) < 0)
        return -1;

    rd_t r = {b + CS_CODEC_HEADER_BYTES, b + len, arena};
    ev->type = pl->type;
    ev->type_name = pl->ev->name;
    ev->fingerprint = fp;
    if (decode_envelope(&r, pl, ev, err) < 0)
        return -1;
    *env_read = true;

    void *payload = cs_arena_alloc(arena, pl->ev->payload_size);
    memset(payload, 0, pl->ev->payload_size);
    if (decode_payload(&r, pl, payload, err) < 0)
        return -1;
    if (r.p != r.end)
        return cs__codec_perr(err, "message", "%zu unexpected bytes after the event",
                              (size_t)(r.end - r.p));
    ev->payload = payload;
    if (cs__codec_validate_envelope(ev, true, err) < 0 ||
        cs__codec_validate_payload(pl->ev, payload, err) < 0)
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
    if (!env_read || cs__codec_validate_envelope_fields(ev, true, &scratch) < 0) {
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
        return cs__codec_perr(err, "message",
                              "not a single-object encoded event of acceptable size");
    uint64_t fp = 0;
    for (int i = 9; i >= 2; i--)
        fp = (fp << 8) | b[i];
    const plan_t *known = plan_for(codec, fp);
    if (!known)
        return cs__codec_perr(err, "fingerprint", "unknown writer schema fingerprint");
    if (cs__codec_plan_init(&pl, known->wv, r, rn, why, sizeof why) < 0) {
        cs__codec_perr(err, "fingerprint", "%s v%d cannot be read by this reader: %s",
                       known->ev->name, known->wv->version, why);
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
        cs__codec_perr(err, "message", "%zu unexpected bytes after the event",
                       (size_t)(rr.end - rr.p));
        goto out;
    }
    cs__event_desc_t reader = *known->ev;
    reader.fields = r;
    reader.nfields = rn;
    rc = cs__codec_validate_payload(&reader, payload, err);
out:
    cs__codec_plan_fini(&pl);
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
    if (cs__codec_validate_envelope(ev, false, err) < 0)
        return -1;
    const cs__event_desc_t *ed = &cs__events[ev->type];
    const cs__version_desc_t *cur = &ed->versions[ed->nversions - 1];
    if (cs__codec_validate_payload(ed, ev->payload, err) < 0)
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
        return cs__codec_perr(err, "message",
                              "the encoded event is %zu bytes, more than the limit of %d", n,
                              CS_CODEC_MAX_MESSAGE_BYTES);
    }
    return 0;
}

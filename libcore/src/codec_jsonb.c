/*
 * libcore/src/codec_jsonb.c
 *      The payload as PostgreSQL's jsonb output function prints it, straight from the struct.
 *
 * The audit log hashes this text (cs/audit.h) and stores it as the jsonb column,
 * so it must be byte-identical to `payload::text` on the server. jsonb's rules, as PostgreSQL 15
 * implements them (jsonb.c JsonbToCString, json.c escape_json, numeric.c get_str_from_var):
 *  - object keys ordered by length, then bytewise; duplicates cannot occur (one field, one key);
 *  - ", " between members and elements, ": " after keys;
 *  - strings escaped with \b \f \n \r \t \" \\ and \u00XX for the other bytes below 0x20,
 *    everything else (UTF-8 included) verbatim;
 *  - numbers printed as numeric prints them: no exponent, no leading zeros, exactly the fraction
 *    digits the input text had after removing the exponent, no sign on zero.
 * tests/integration/0003-audit_jsonb.c compares this with the server for every event type.
 * Strings, integers and timestamps are written by cs/text.h (CS_TEXT_JSONB, CS_TEXT_RFC3339),
 * doubles start from the JSON writer's text (cs__codec_json_number).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "cs/mem.h"
#include "cs/text.h"

/* Whether key a sorts before key b in a jsonb object: shorter first, then bytewise. */
static bool jsonb_key_before(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? la < lb : memcmp(a, b, la) < 0;
}

void cs__codec_jsonb_order_build(cs_codec_t *c)
{
    int total = 0;
    c->jsonb_first = cs_mem_calloc((size_t)cs__nevents + 1, sizeof *c->jsonb_first);
    for (int t = 0; t < cs__nevents; t++) {
        c->jsonb_first[t] = total;
        total += cs__events[t].nfields;
    }
    c->jsonb_first[cs__nevents] = total;
    c->jsonb_order = cs_mem_calloc((size_t)(total ? total : 1), sizeof *c->jsonb_order);
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
}

static void jsonb_str(cs_buf_t *b, const char *s)
{
    cs_text_json_str(b, s, strlen(s), CS_TEXT_JSONB);
}

/*
 * A double: the JSON text the JSON writer writes (%.15g, or %.17g when that is needed to read back
 * the same value), then reprinted as numeric prints that text: digits with
 * dscale = max(0, fraction digits - exponent) fraction digits and no exponent.
 */
static int jsonb_double(cs_buf_t *b, const cs__field_desc_t *f, double d, cs_err_t *err)
{
    char tmp[CS__CODEC_NUMBER_BYTES], digs[CS__CODEC_NUMBER_BYTES];
    int nd = 0, intlen = 0, fraclen = 0, neg = 0, zero = 1;
    long exp10 = 0;
    const char *p = tmp;

    if (!isfinite(d))
        return cs__codec_perr(err, f->path, "%g cannot be stored in jsonb", d);
    cs__codec_json_number(tmp, d);
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
    char num[CS_TEXT_TIME_BYTES];

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
            size_t n = cs_text_time_ms(num, v, CS_TEXT_RFC3339);
            cs_buf_putc(b, '"');
            cs_buf_append(b, num, n);
            cs_buf_putc(b, '"');
        } else {
            cs_buf_append(b, num, cs_text_i64(num, v));
        }
        break;
    }
    case CS__F_DOUBLE:
        return jsonb_double(b, f, *(const double *)p, err);
    case CS__F_STRING: {
        const char *s = *(const char *const *)p;
        jsonb_str(b, s);
        break;
    }
    case CS__F_ENUM: {
        int v = *(const int *)p;
        const char *sym = v >= 0 && v < f->enm->nsymbols ? f->enm->symbols[v] : "";
        jsonb_str(b, sym);
        break;
    }
    case CS__F_STRV: {
        const cs_strv_t *sv = p;
        cs_buf_putc(b, '[');
        for (size_t i = 0; i < sv->count; i++) {
            if (i)
                cs_buf_append(b, ", ", 2);
            jsonb_str(b, sv->items[i]);
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
        return cs__codec_perr(err, "payload", "no decoded event to write");
    const cs__event_desc_t *ed = &cs__events[ev->type];
    const int *order = codec->jsonb_order + codec->jsonb_first[ev->type];
    size_t start = out->len;
    cs_buf_putc(out, '{');
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[order[i]];
        if (i)
            cs_buf_append(out, ", ", 2);
        jsonb_str(out, f->name);
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

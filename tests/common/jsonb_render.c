/*
 * tests/common/jsonb_render.c
 *      An independent jsonb text renderer: JSON text in, what PostgreSQL's jsonb prints out.
 *
 * The tests' second opinion on cs_codec_payload_to_jsonb(), which renders straight from the
 * decoded struct: this one parses the compact JSON the codec writes (cs_codec_payload_to_json)
 * and prints it by jsonb's rules, as PostgreSQL 15 implements them (jsonb.c JsonbToCString, json.c
 * escape_json, numeric.c get_str_from_var): object keys sorted by length then bytes, ", " and ": "
 * separators, strings re-escaped as jsonb escapes them, numbers printed as numeric prints them.
 * tests/unit/test_audit.c and tests/common/mutate.c compare the two renderers; 0003-audit_jsonb
 * compares both with the server. Test-only: no program links it.
 */
#include "jsonb_render.h"

#include <stdlib.h>
#include <string.h>

#include "cs/mem.h"

#define MAX_DEPTH 64

struct parser {
    const char *p;
    const char *end;
    int depth;
    cs_err_t *err;
    cs_buf_t *scratch; /* decoded string values, reused */
};

static int perr(struct parser *ps, const char *what)
{
    return cs_err_set_field(ps->err, CS_ERR_PERMANENT, "payload", "invalid JSON at byte %zu: %s",
                            (size_t)(ps->end - ps->p), what);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];

        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            *v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    return 0;
}

static void put_utf8(cs_buf_t *b, unsigned cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    cs_buf_append(b, u, n);
}

/* Parses a JSON string at ps->p (on the opening quote) and appends its decoded bytes to out. */
static int parse_string(struct parser *ps, cs_buf_t *out)
{
    ps->p++;
    while (ps->p < ps->end) {
        const char *run = ps->p;

        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20)
            ps->p++;
        cs_buf_append(out, run, (size_t)(ps->p - run));
        if (ps->p >= ps->end)
            break;
        if (*ps->p == '"') {
            ps->p++;
            return 0;
        }
        if ((unsigned char)*ps->p < 0x20)
            return perr(ps, "control character in string");
        /* an escape */
        if (ps->end - ps->p < 2)
            break;
        ps->p++;
        switch (*ps->p++) {
        case '"':
            cs_buf_putc(out, '"');
            break;
        case '\\':
            cs_buf_putc(out, '\\');
            break;
        case '/':
            cs_buf_putc(out, '/');
            break;
        case 'b':
            cs_buf_putc(out, '\b');
            break;
        case 'f':
            cs_buf_putc(out, '\f');
            break;
        case 'n':
            cs_buf_putc(out, '\n');
            break;
        case 'r':
            cs_buf_putc(out, '\r');
            break;
        case 't':
            cs_buf_putc(out, '\t');
            break;
        case 'u': {
            unsigned cp, lo;

            if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
                return perr(ps, "bad \\u escape");
            ps->p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    hex4(ps->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return perr(ps, "unpaired surrogate");
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return perr(ps, "unpaired surrogate");
            }
            if (cp == 0)
                return perr(ps, "\\u0000 cannot be stored in jsonb");
            put_utf8(out, cp);
            break;
        }
        default:
            return perr(ps, "bad escape");
        }
    }
    return perr(ps, "unterminated string");
}

/* Appends s escaped the way jsonb's output (escape_json) does: written apart from cs/text.h on
 * purpose, so that the two renderers do not share a mistake. */
static void put_jsonb_string(cs_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    cs_buf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue; /* the common case: part of the current run */
        switch (c) {
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        default:
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        }
        cs_buf_append(out, s + run, i - run);
        cs_buf_puts(out, esc);
        run = i + 1;
    }
    cs_buf_append(out, s + run, n - run);
    cs_buf_putc(out, '"');
}

/*
 * Parses a JSON number and appends it as PostgreSQL's numeric prints it: the value's digits with
 * exactly dscale fraction digits, where dscale = max(0, fraction digits - exponent), no exponent,
 * no leading zeros, and no sign on zero.
 */
static int put_number(struct parser *ps, cs_buf_t *out)
{
    char digits[512];
    int nd = 0, intlen = 0, fraclen = 0, neg = 0;
    long exp10 = 0;
    const char *p = ps->p;

    if (p < ps->end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= ps->end || *p < '0' || *p > '9')
        return perr(ps, "bad number");
    while (p < ps->end && *p >= '0' && *p <= '9') {
        if (nd >= (int)sizeof(digits))
            return perr(ps, "number too long");
        digits[nd++] = *p++;
        intlen++;
    }
    if (p < ps->end && *p == '.') {
        p++;
        if (p >= ps->end || *p < '0' || *p > '9')
            return perr(ps, "bad number");
        while (p < ps->end && *p >= '0' && *p <= '9') {
            if (nd >= (int)sizeof(digits))
                return perr(ps, "number too long");
            digits[nd++] = *p++;
            fraclen++;
        }
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;

        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= ps->end || *p < '0' || *p > '9')
            return perr(ps, "bad number");
        while (p < ps->end && *p >= '0' && *p <= '9') {
            exp10 = exp10 * 10 + (*p++ - '0');
            if (exp10 > 1000)
                return perr(ps, "exponent out of range");
        }
        if (eneg)
            exp10 = -exp10;
    }
    ps->p = p;

    {
        long point = intlen + exp10; /* digits before the decimal point */
        long dscale = fraclen - exp10 > 0 ? fraclen - exp10 : 0;
        int first = 0, zero = 1;
        cs_buf_t num = CS_BUF_INIT;

        for (int i = 0; i < nd; i++)
            if (digits[i] != '0')
                zero = 0;
        /* integer part */
        if (point <= 0) {
            cs_buf_putc(&num, '0');
        } else {
            for (long i = 0; i < point; i++)
                cs_buf_putc(&num, i < nd ? digits[i] : '0');
            while (first < (int)num.len - 1 && num.data[first] == '0')
                first++;
        }
        if (dscale > 0) {
            cs_buf_putc(&num, '.');
            for (long i = point; i < point + dscale; i++)
                cs_buf_putc(&num, i >= 0 && i < nd ? digits[i] : '0');
        }
        if (neg && !zero)
            cs_buf_putc(out, '-');
        cs_buf_append(out, num.data + first, num.len - (size_t)first);
        cs_buf_fini(&num);
    }
    return 0;
}

static int emit_value(struct parser *ps, cs_buf_t *out);

struct member {
    size_t key_off, key_len; /* decoded key in the keys buffer */
    size_t val_off, val_len; /* the value's jsonb text in the values buffer */
};

/* The decoded keys of the object being sorted (qsort has no context argument in C11). */
static const char *sort_keys;

static int cmp_member(const void *a, const void *b)
{
    const struct member *x = a, *y = b;

    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return memcmp(sort_keys + x->key_off, sort_keys + y->key_off, x->key_len);
}

/* Emits each member's value once into a side buffer, then writes the members in jsonb order. */
static int emit_object(struct parser *ps, cs_buf_t *out)
{
    struct member stack_m[32], *m = stack_m;
    size_t n = 0, cap = 32;
    cs_buf_t keys = CS_BUF_INIT, vals = CS_BUF_INIT;
    int rc = -1;

    ps->p++; /* { */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        cs_buf_puts(out, "{}");
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            perr(ps, "expected a key");
            goto out;
        }
        if (n == cap) {
            struct member *g = cs_mem_reallocarray(NULL, 2 * cap, sizeof(*g));

            memcpy(g, m, n * sizeof(*m));
            if (m != stack_m)
                free(m);
            m = g;
            cap *= 2;
        }
        m[n].key_off = keys.len;
        if (parse_string(ps, &keys) < 0)
            goto out;
        m[n].key_len = keys.len - m[n].key_off;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            perr(ps, "expected ':'");
            goto out;
        }
        ps->p++;
        m[n].val_off = vals.len;
        if (emit_value(ps, &vals) < 0)
            goto out;
        m[n].val_len = vals.len - m[n].val_off;
        n++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            break;
        }
        perr(ps, "expected ',' or '}'");
        goto out;
    }
    /* jsonb keeps the last of duplicate keys; our producers never write duplicates, and the
     * codec rejects them, so sorting is enough here. */
    sort_keys = keys.data;
    qsort(m, n, sizeof(*m), cmp_member);
    cs_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            cs_buf_puts(out, ", ");
        put_jsonb_string(out, keys.data + m[i].key_off, m[i].key_len);
        cs_buf_puts(out, ": ");
        cs_buf_append(out, vals.data + m[i].val_off, m[i].val_len);
    }
    cs_buf_putc(out, '}');
    rc = 0;
out:
    if (m != stack_m)
        free(m);
    cs_buf_fini(&keys);
    cs_buf_fini(&vals);
    return rc;
}

static int emit_array(struct parser *ps, cs_buf_t *out)
{
    int first = 1;

    ps->p++; /* [ */
    skip_ws(ps);
    cs_buf_putc(out, '[');
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        cs_buf_putc(out, ']');
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (!first)
            cs_buf_puts(out, ", ");
        first = 0;
        if (emit_value(ps, out) < 0)
            return -1;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            cs_buf_putc(out, ']');
            return 0;
        }
        return perr(ps, "expected ',' or ']'");
    }
}

static int literal(struct parser *ps, const char *word, cs_buf_t *out)
{
    size_t n = strlen(word);

    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return perr(ps, "unexpected character");
    ps->p += n;
    cs_buf_append(out, word, n);
    return 0;
}

static int emit_value(struct parser *ps, cs_buf_t *out)
{
    int rc;

    skip_ws(ps);
    if (ps->p >= ps->end)
        return perr(ps, "unexpected end");
    if (++ps->depth > MAX_DEPTH)
        return perr(ps, "nested too deeply");
    switch (*ps->p) {
    case '{':
        rc = emit_object(ps, out);
        break;
    case '[':
        rc = emit_array(ps, out);
        break;
    case '"':
        cs_buf_reset(ps->scratch);
        rc = parse_string(ps, ps->scratch);
        if (rc == 0)
            put_jsonb_string(out, ps->scratch->data ? ps->scratch->data : "", ps->scratch->len);
        break;
    case 't':
        rc = literal(ps, "true", out);
        break;
    case 'f':
        rc = literal(ps, "false", out);
        break;
    case 'n':
        rc = literal(ps, "null", out);
        break;
    default:
        rc = put_number(ps, out);
    }
    ps->depth--;
    return rc;
}

int jsonb_render_text(const char *json, size_t len, cs_buf_t *out, cs_err_t *err)
{
    static _Thread_local cs_buf_t scratch = CS_BUF_INIT;
    struct parser ps = {json, json + len, 0, err, &scratch};
    size_t start = out->len;

    if (emit_value(&ps, out) < 0)
        goto fail;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        perr(&ps, "trailing characters");
        goto fail;
    }
    return 0;
fail:
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return -1;
}

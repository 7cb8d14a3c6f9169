/*
 * libcore/src/audit.c
 *      The audit log's hashing rules and its verifier (see cs/audit.h).
 *
 * Two things must agree byte for byte between the writer (cs-audit, in C) and the verifier (C
 * reading rows back): the canonical row, defined once here in cs_audit_row_hash(), and the payload
 * text, which is defined by PostgreSQL itself (jsonb's output function) so that the verifier can
 * hash the stored jsonb in SQL. cs_audit_jsonb_text() reproduces that output from the compact JSON
 * the codec writes: object keys sorted by length then bytes, ", " and ": " separators, strings
 * re-escaped as jsonb escapes them, numbers printed as numeric prints them.
 */
#include "cs/audit.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- jsonb text ------------------------------------------------------------------------------ */

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

/* Appends s escaped the way jsonb's output (escape_json) does. */
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
            struct member *g = malloc(2 * cap * sizeof(*g));

            if (!g)
                abort();
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

int cs_audit_jsonb_text(const char *json, size_t len, cs_buf_t *out, cs_err_t *err)
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

/* ---- hashing --------------------------------------------------------------------------------- */

/*
 * One SHA-256 context per thread, reused: EVP_Digest() allocates a context and looks the
 * algorithm up in the provider on every call, which costs as much as hashing a short row.
 * Left to process exit (one per thread that ever hashed).
 */
static _Thread_local EVP_MD_CTX *sha_ctx;
static _Thread_local EVP_MD *sha_md;

void cs_audit_sha256(const void *data, size_t len, unsigned char out[CS_AUDIT_HASH_BYTES])
{
    unsigned int n = 0;

    if (!sha_ctx) {
        sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
        sha_ctx = sha_md ? EVP_MD_CTX_new() : NULL;
    }
    if (!sha_ctx || EVP_DigestInit_ex2(sha_ctx, sha_md, NULL) != 1 ||
        EVP_DigestUpdate(sha_ctx, data, len) != 1 || EVP_DigestFinal_ex(sha_ctx, out, &n) != 1)
        EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

/* Decimal text of v at the end of a 24-byte buffer; returns where it starts. */
static char *dec(char end[static 24], long long v)
{
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    char *p = end + 24;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

/* Length-prefixed field: "<len>:<bytes>", or "-" for NULL; unambiguous whatever the bytes. */
static char *field(char *o, const char *s, size_t n)
{
    char num[24], *d;

    if (!s) {
        *o++ = '-';
        return o;
    }
    d = dec(num, (long long)n);
    memcpy(o, d, (size_t)(num + sizeof num - d));
    o += num + sizeof num - d;
    *o++ = ':';
    memcpy(o, s, n);
    return o + n;
}

static char *num_field(char *o, long long v)
{
    char num[24], *d = dec(num, v);

    return field(o, d, (size_t)(num + sizeof num - d));
}

void cs_audit_row_hash(const unsigned char *prev, const cs_audit_row_t *r,
                       unsigned char out[CS_AUDIT_HASH_BYTES])
{
    static const unsigned char zero[CS_AUDIT_HASH_BYTES];
    static _Thread_local cs_buf_t b = CS_BUF_INIT;
    const char *strs[] = {r->event_id, r->event_type,  r->user_id,  r->source_topic,
                          r->producer, r->traceparent, r->chain_key};
    size_t lens[7], need = 2 * CS_AUDIT_HASH_BYTES + 11 + 6 * 24;
    char *o, *start;

    for (int i = 0; i < 7; i++) {
        lens[i] = strs[i] ? strlen(strs[i]) : 0;
        need += lens[i] + 24;
    }
    cs_buf_reset(&b);
    o = start = cs_buf_reserve(&b, need);
    memcpy(o, prev ? prev : zero, CS_AUDIT_HASH_BYTES);
    o += CS_AUDIT_HASH_BYTES;
    memcpy(o, "cs-audit-v1", 11);
    o += 11;
    o = field(o, r->event_id, lens[0]);
    o = field(o, r->event_type, lens[1]);
    o = num_field(o, r->schema_version);
    o = field(o, r->user_id, lens[2]);
    o = num_field(o, r->occurred_at_ms);
    o = field(o, r->source_topic, lens[3]);
    o = num_field(o, r->source_partition);
    o = num_field(o, r->source_offset);
    o = field(o, r->producer, lens[4]);
    o = field(o, r->traceparent, lens[5]);
    memcpy(o, r->payload_sha256, CS_AUDIT_HASH_BYTES);
    o += CS_AUDIT_HASH_BYTES;
    o = field(o, r->chain_key, lens[6]);
    o = num_field(o, r->chain_seq);
    cs_audit_sha256(start, (size_t)(o - start), out);
}

/* ---- verification ---------------------------------------------------------------------------- */

static int unhex(const char *s, unsigned char *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;

        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static void broken(cs_audit_report_t *rep, const char *chain, long long seq, long long log_id,
                   const char *reason)
{
    rep->ok = false;
    snprintf(rep->chain_key, sizeof(rep->chain_key), "%s", chain);
    rep->chain_seq = seq;
    rep->log_id = log_id;
    snprintf(rep->reason, sizeof(rep->reason), "%s", reason);
}

/* The row_hash of (chain, seq), or -1 when that row does not exist. */
static int predecessor(cs_db_t *db, const char *chain, long long seq, unsigned char *hash,
                       cs_err_t *err)
{
    char s[32];
    const char *params[] = {chain, s};
    cs_db_res_t *r;
    int rc;

    snprintf(s, sizeof(s), "%lld", seq);
    r = cs_db_query(db,
                    "SELECT encode(row_hash, 'hex') FROM system_logs "
                    "WHERE chain_key = $1 AND chain_seq = $2",
                    2, params, err);
    if (!r)
        return -2;
    rc = cs_db_res_rows(r) == 1 && unhex(cs_db_res_get(r, 0, 0), hash, 32) == 0 ? 0 : -1;
    cs_db_res_free(r);
    return rc;
}

int cs_audit_verify(cs_db_t *db, int64_t from_ms, int64_t to_ms, cs_audit_report_t *rep,
                    cs_err_t *err)
{
    char from[32], to[32];
    const char *params[] = {from, to};
    char prev_chain[128] = "";
    unsigned char prev_hash[32];
    long long prev_seq = 0;
    int rc = -1, in_tx = 0;
    cs_db_res_t *r = NULL;

    memset(rep, 0, sizeof(*rep));
    rep->ok = true;
    snprintf(from, sizeof(from), "%lld", (long long)from_ms);
    snprintf(to, sizeof(to), "%lld", (long long)to_ms);
    /* A repeatable-read snapshot so rows appended meanwhile cannot make the walk inconsistent;
     * a cursor so a range of millions of rows does not sit in memory at once. */
    if (cs_db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) < 0)
        return -1;
    in_tx = 1;
    if (cs_db_execp(db,
                    "DECLARE audit_walk NO SCROLL CURSOR FOR "
                    "SELECT chain_key, chain_seq, log_id, event_id, event_type, schema_version, "
                    "user_id, (extract(epoch FROM occurred_at) * 1000)::bigint, source_topic, "
                    "source_partition, source_offset, producer, traceparent, "
                    "encode(payload_sha256, 'hex'), encode(prev_hash, 'hex'), "
                    "encode(row_hash, 'hex'), payload = cs_audit_redaction_marker(), "
                    "sha256(convert_to(payload::text, 'UTF8')) = payload_sha256 "
                    "FROM system_logs "
                    "WHERE logged_at >= to_timestamp($1::bigint / 1000.0) "
                    "AND logged_at < to_timestamp($2::bigint / 1000.0) "
                    "ORDER BY chain_key, chain_seq",
                    2, params, err) < 0)
        goto out;
    for (;;) {
        int n;

        cs_db_res_free(r);
        r = cs_db_query(db, "FETCH 5000 FROM audit_walk", 0, NULL, err);
        if (!r)
            goto out;
        n = cs_db_res_rows(r);
        if (n == 0)
            break;
        for (int i = 0; i < n && rep->ok; i++) {
            const char *chain = cs_db_res_get(r, i, 0);
            long long seq = atoll(cs_db_res_get(r, i, 1));
            long long log_id = atoll(cs_db_res_get(r, i, 2));
            cs_audit_row_t row = {0};
            unsigned char stored_prev[32], stored_hash[32], computed[32];
            const char *sp = cs_db_res_get(r, i, 14);
            int has_prev = sp != NULL;
            int redacted = cs_db_res_get(r, i, 16) && cs_db_res_get(r, i, 16)[0] == 't';
            int payload_ok = cs_db_res_get(r, i, 17) && cs_db_res_get(r, i, 17)[0] == 't';

            rep->rows++;
            if (strcmp(chain, prev_chain) != 0) {
                /* First row of a chain in the range: link it to the row before the range. */
                rep->chains++;
                snprintf(prev_chain, sizeof(prev_chain), "%s", chain);
                if (seq == 1) {
                    memset(prev_hash, 0, sizeof(prev_hash));
                } else {
                    int pr = predecessor(db, chain, seq - 1, prev_hash, err);

                    if (pr == -2)
                        goto out;
                    if (pr < 0) {
                        broken(rep, chain, seq, log_id, "the previous row of the chain is missing");
                        break;
                    }
                }
                prev_seq = seq - 1;
            }
            if (seq != prev_seq + 1) {
                char why[128];

                snprintf(why, sizeof(why), "rows %lld..%lld of the chain are missing", prev_seq + 1,
                         seq - 1);
                broken(rep, chain, seq, log_id, why);
                break;
            }
            if (unhex(cs_db_res_get(r, i, 15), stored_hash, 32) < 0 ||
                unhex(cs_db_res_get(r, i, 13), row.payload_sha256, 32) < 0 ||
                (has_prev && unhex(sp, stored_prev, 32) < 0)) {
                broken(rep, chain, seq, log_id, "a hash column is malformed");
                break;
            }
            if (seq == 1 ? has_prev : (!has_prev || memcmp(stored_prev, prev_hash, 32) != 0)) {
                broken(rep, chain, seq, log_id, "prev_hash does not match the previous row's hash");
                break;
            }
            row.chain_key = chain;
            row.chain_seq = seq;
            row.event_id = cs_db_res_get(r, i, 3);
            row.event_type = cs_db_res_get(r, i, 4);
            row.schema_version = cs_db_res_get(r, i, 5) ? atoi(cs_db_res_get(r, i, 5)) : 0;
            row.user_id = cs_db_res_get(r, i, 6);
            row.occurred_at_ms = atoll(cs_db_res_get(r, i, 7));
            row.source_topic = cs_db_res_get(r, i, 8);
            row.source_partition = atoi(cs_db_res_get(r, i, 9));
            row.source_offset = atoll(cs_db_res_get(r, i, 10));
            row.producer = cs_db_res_get(r, i, 11);
            row.traceparent = cs_db_res_get(r, i, 12);
            cs_audit_row_hash(seq == 1 ? NULL : prev_hash, &row, computed);
            if (memcmp(computed, stored_hash, 32) != 0) {
                broken(rep, chain, seq, log_id, "the row's columns do not match its row_hash");
                break;
            }
            if (redacted) {
                rep->redacted++;
            } else if (!payload_ok) {
                broken(rep, chain, seq, log_id, "the payload does not match its payload_sha256");
                break;
            }
            memcpy(prev_hash, stored_hash, 32);
            prev_seq = seq;
        }
        if (!rep->ok)
            break;
    }
    rc = 0;
out:
    cs_db_res_free(r);
    if (in_tx) {
        cs_err_t ignore;

        cs_db_exec(db, "ROLLBACK", &ignore);
    }
    return rc;
}

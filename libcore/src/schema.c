/*
 * libcore/src/schema.c
 *      Parsing Canonical Form and CRC-64-AVRO fingerprints of Avro schemas.
 *
 * The single-object encoding names the writer schema by the CRC-64-AVRO fingerprint of its
 * Parsing Canonical Form (PCF). Avro C 1.11.1 implements neither, so we do, straight from the
 * specification: [PRIMITIVES] {"type":"int"} becomes "int"; [FULLNAMES] names become full names;
 * [STRIP] only name, type, fields, symbols, items, values and size survive; [ORDER] in that order;
 * [STRINGS], [INTEGERS], [WHITESPACE] as JSON without insignificant characters.
 * The code generator runs this at build time; the codec runs only the CRC at start-up, to
 * re-check the fingerprints compiled into it.
 */
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t crc_table[256];
static int crc_table_ready;

static void crc_table_init(void)
{
    for (int i = 0; i < 256; i++) {
        uint64_t fp = (uint64_t)i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (CS_SCHEMA_CRC64_EMPTY & (0 - (fp & 1)));
        crc_table[i] = fp;
    }
    crc_table_ready = 1;
}

uint64_t cs__schema_crc64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t fp = CS_SCHEMA_CRC64_EMPTY;

    if (!crc_table_ready)
        crc_table_init(); /* idempotent: a race writes the same values */
    for (size_t i = 0; i < n; i++)
        fp = (fp >> 8) ^ crc_table[(fp ^ b[i]) & 0xff];
    return fp;
}

/* A minimal growable string; schema.c must not depend on the rest of libcore. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* A JSON string literal; names and symbols are ASCII identifiers, but escape defensively. */
static void sb_str(sbuf_t *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_add(b, esc, 2);
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_add(b, esc, 6);
        } else {
            sb_add(b, (const char *)&c, 1);
        }
    }
    sb_add(b, "\"", 1);
}

static const char *const primitives[] = {"null",   "boolean", "int",    "long", "float",
                                         "double", "bytes",   "string", NULL};

static int is_primitive(const char *s)
{
    for (int i = 0; primitives[i]; i++)
        if (strcmp(s, primitives[i]) == 0)
            return 1;
    return 0;
}

static int fail(char *errbuf, size_t errlen, const char *msg, const char *what)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s%s%s", msg, what ? ": " : "", what ? what : "");
    return -1;
}

/* Writes the full name of name in namespace ns; returns the namespace the name defines. */
static void full_name(sbuf_t *b, const char *name, const char *ns, char *defined_ns, size_t dlen)
{
    const char *dot = strrchr(name, '.');
    if (dot) {
        size_t n = (size_t)(dot - name);
        snprintf(defined_ns, dlen, "%.*s", (int)n, name);
        sb_str(b, name);
    } else if (ns && *ns) {
        char full[512];
        snprintf(full, sizeof full, "%s.%s", ns, name);
        snprintf(defined_ns, dlen, "%s", ns);
        sb_str(b, full);
    } else {
        defined_ns[0] = '\0';
        sb_str(b, name);
    }
}

/*
 * pcf writes a schema's Parsing Canonical Form into b: the Avro specification's PCF, with names
 * made full and attributes other than name, type, fields, symbols, items, values and size dropped.
 * ns is the enclosing namespace; depth bounds the recursion.
 */
static int pcf(sbuf_t *b, const json_t *s, const char *ns, char *errbuf, size_t errlen, int depth);

/* A union: its branches in order. */
static int pcf_union(sbuf_t *b, const json_t *s, const char *ns, char *errbuf, size_t errlen,
                     int depth)
{
    size_t i;
    const json_t *branch;

    sb_add(b, "[", 1);
    json_array_foreach(s, i, branch)
    {
        if (i)
            sb_add(b, ",", 1);
        if (pcf(b, branch, ns, errbuf, errlen, depth + 1) < 0)
            return -1;
    }
    sb_add(b, "]", 1);
    return 0;
}

/* An enum's ",\"symbols\":[...]"; name is the enum's, for messages. */
static int pcf_symbols(sbuf_t *b, const json_t *s, const char *name, char *errbuf, size_t errlen)
{
    const json_t *syms = json_object_get(s, "symbols");
    size_t i;
    const json_t *sym;

    if (!json_is_array(syms))
        return fail(errbuf, errlen, "enum without \"symbols\"", name);
    sb_puts(b, ",\"symbols\":[");
    json_array_foreach(syms, i, sym)
    {
        if (!json_is_string(sym))
            return fail(errbuf, errlen, "enum symbol is not a string", name);
        if (i)
            sb_add(b, ",", 1);
        sb_str(b, json_string_value(sym));
    }
    sb_add(b, "]", 1);
    return 0;
}

/* A fixed's ",\"size\":N". */
static int pcf_size(sbuf_t *b, const json_t *s, const char *name, char *errbuf, size_t errlen)
{
    const json_t *size = json_object_get(s, "size");
    char num[32];

    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return fail(errbuf, errlen, "fixed without a valid \"size\"", name);
    snprintf(num, sizeof num, ",\"size\":%lld", (long long)json_integer_value(size));
    sb_puts(b, num);
    return 0;
}

/* A record's ",\"fields\":[...]"; defined is the record's namespace, which its fields inherit. */
static int pcf_fields(sbuf_t *b, const json_t *s, const char *name, const char *defined,
                      char *errbuf, size_t errlen, int depth)
{
    const json_t *fields = json_object_get(s, "fields");
    size_t i;
    const json_t *f;

    if (!json_is_array(fields))
        return fail(errbuf, errlen, "record without \"fields\"", name);
    sb_puts(b, ",\"fields\":[");
    json_array_foreach(fields, i, f)
    {
        const json_t *fname = json_object_get(f, "name");
        const json_t *ftype = json_object_get(f, "type");

        if (!json_is_string(fname) || !ftype)
            return fail(errbuf, errlen, "record field without name or type", name);
        if (i)
            sb_add(b, ",", 1);
        sb_puts(b, "{\"name\":");
        sb_str(b, json_string_value(fname));
        sb_puts(b, ",\"type\":");
        if (pcf(b, ftype, defined, errbuf, errlen, depth + 1) < 0)
            return -1;
        sb_add(b, "}", 1);
    }
    sb_add(b, "]", 1);
    return 0;
}

/* A named type t (record, error, enum, fixed): its full name, type and own attributes. */
static int pcf_named(sbuf_t *b, const json_t *s, const char *t, const char *ns, char *errbuf,
                     size_t errlen, int depth)
{
    const json_t *name = json_object_get(s, "name");
    const json_t *nsj = json_object_get(s, "namespace");
    char defined[512];
    const char *own_ns;
    const char *n;
    int rc;

    if (!json_is_string(name))
        return fail(errbuf, errlen, "named type without a string \"name\"", t);
    n = json_string_value(name);
    if (nsj && !json_is_string(nsj) && !json_is_null(nsj))
        return fail(errbuf, errlen, "\"namespace\" must be a string", n);
    own_ns = json_is_string(nsj) ? json_string_value(nsj) : ns;
    sb_puts(b, "{\"name\":");
    full_name(b, n, own_ns, defined, sizeof defined);
    sb_puts(b, ",\"type\":");
    sb_str(b, t);
    if (strcmp(t, "enum") == 0)
        rc = pcf_symbols(b, s, n, errbuf, errlen);
    else if (strcmp(t, "fixed") == 0)
        rc = pcf_size(b, s, n, errbuf, errlen);
    else
        rc = pcf_fields(b, s, n, defined, errbuf, errlen, depth);
    if (rc < 0)
        return -1;
    sb_add(b, "}", 1);
    return 0;
}

/* An array (its items) or a map (its values). */
static int pcf_container(sbuf_t *b, const json_t *s, const char *t, const char *ns, char *errbuf,
                         size_t errlen, int depth)
{
    const char *key = t[0] == 'a' ? "items" : "values";
    const json_t *inner = json_object_get(s, key);

    if (!inner)
        return fail(errbuf, errlen, "array or map without items or values", t);
    sb_puts(b, "{\"type\":");
    sb_str(b, t);
    sb_puts(b, ",\"");
    sb_puts(b, key);
    sb_puts(b, "\":");
    if (pcf(b, inner, ns, errbuf, errlen, depth + 1) < 0)
        return -1;
    sb_add(b, "}", 1);
    return 0;
}

static int pcf(sbuf_t *b, const json_t *s, const char *ns, char *errbuf, size_t errlen, int depth)
{
    char defined[512];

    if (depth > 64)
        return fail(errbuf, errlen, "schema nested too deeply", NULL);
    if (json_is_string(s)) {
        const char *name = json_string_value(s);

        if (is_primitive(name))
            sb_str(b, name);
        else
            full_name(b, name, ns, defined, sizeof defined);
        return 0;
    }
    if (json_is_array(s))
        return pcf_union(b, s, ns, errbuf, errlen, depth);
    if (!json_is_object(s))
        return fail(errbuf, errlen, "a schema must be a string, an array or an object", NULL);

    const json_t *type = json_object_get(s, "type");
    if (!type)
        return fail(errbuf, errlen, "schema object without \"type\"", NULL);
    if (!json_is_string(type)) /* {"type": {...}} or {"type": [...]}: the inner schema */
        return pcf(b, type, ns, errbuf, errlen, depth + 1);
    const char *t = json_string_value(type);
    if (is_primitive(t)) {
        sb_str(b, t);
        return 0;
    }
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0 || strcmp(t, "enum") == 0 ||
        strcmp(t, "fixed") == 0)
        return pcf_named(b, s, t, ns, errbuf, errlen, depth);
    if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0)
        return pcf_container(b, s, t, ns, errbuf, errlen, depth);
    /* A reference to a named type written as {"type": "Name"}. */
    full_name(b, t, ns, defined, sizeof defined);
    return 0;
}

char *cs__schema_canonical(const json_t *schema, char *errbuf, size_t errlen)
{
    sbuf_t b = {0};
    if (pcf(&b, schema, "", errbuf, errlen, 0) < 0) {
        free(b.p);
        return NULL;
    }
    if (b.oom || !b.p) {
        free(b.p);
        fail(errbuf, errlen, "out of memory", NULL);
        return NULL;
    }
    return b.p;
}

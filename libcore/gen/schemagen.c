/*
 * libcore/gen/schemagen.c
 *      cs-schemagen: turns the event contract in schemas/ into C tables and documentation.
 *
 * schemas/ is the one source of truth for events: envelope.avsc (the shared envelope),
 * events/<event>/v<N>.avsc (each version of each payload, with limits as "cs.*" attributes) and
 * topics.json (which topic carries which event). CMake builds this program first and runs it
 * to write, into the build tree:
 *      cs/events.h     the public payload structs, enums and cs_event_type_t
 *      events_gen.c    the field, version and fingerprint tables codec.c walks
 *      events.md       the per-event reference that schemas/README.md embeds
 * and checks schemas/fingerprints.lock, so a released version can never change.
 * It refuses a contract the codec could not honour (an unsupported type, a string without a
 * maximum length, an undocumented field, a gap in the versions, a duplicate fingerprint) with a
 * message naming the file and field, so a bad schema fails the build rather than production.
 * Compatibility between versions is checked by the codec at start-up and by the unit tests.
 *
 * Usage: cs-schemagen SCHEMAS_DIR OUT_DIR FILE.avsc...
 *        cs-schemagen SCHEMAS_DIR --lock FILE.avsc...   (print fingerprints.lock lines)
 * Runs at build time only; it exits on the first error and frees nothing on purpose.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../src/codec_tables.h"
#include "../src/schema.h"

#define MAX_EVENTS   64
#define MAX_VERSIONS 32
#define MAX_FIELDS   64
#define MAX_ENUMS    256

static const char *cur_file = "";

static void die(const char *field, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void die(const char *field, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cs-schemagen: %s%s%s: ", cur_file, field ? ": " : "", field ? field : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        die(NULL, "out of memory");
    return p;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = malloc((size_t)n + 1);
    if (!p)
        die(NULL, "out of memory");
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ---- the model ------------------------------------------------------------------------- */

typedef struct genum {
    char *name;
    int nsymbols;
    char **symbols;
    int id; /* index in the emitted enum descriptor table */
} genum_t;

typedef struct gfield {
    char *name;
    int type; /* enum cs__ftype */
    bool optional;
    int null_index;
    int format;
    bool has_min, has_max;
    double min, max;
    long long min_len, max_len, max_items;
    genum_t *enm;
    bool has_default, default_null;
    long long default_i;
    double default_d;
    char *default_s;
    char *req_field_name;
    bool req_present;
    json_t *req_in;
    char *doc;
    char *example; /* JSON text */
} gfield_t;

typedef struct gversion {
    int version;
    char *file;
    json_t *payload; /* the payload record as written */
    int nfields;
    gfield_t fields[MAX_FIELDS];
    char *schema_json;
    char *canonical;
    uint64_t fingerprint;
} gversion_t;

typedef struct gevent {
    char *name;
    char *camel;
    char *topic;
    char *doc;
    bool at_least_one;
    int nversions;
    gversion_t *versions[MAX_VERSIONS];
    char *example;
} gevent_t;

static gevent_t events[MAX_EVENTS];
static int nevents;
static genum_t *enums[MAX_ENUMS]; /* every distinct (name, symbols), for the descriptor tables */
static int nenums;
static gversion_t envelope; /* its fields, without payload */
static json_t *envelope_json;

/* ---- helpers ---------------------------------------------------------------------------- */

static bool is_snake(const char *s)
{
    if (!s || !islower((unsigned char)s[0]))
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static char *camel_of(const char *snake)
{
    char *out = malloc(strlen(snake) + 1);
    char *o = out;
    bool up = true;
    for (const char *s = snake; *s; s++) {
        if (*s == '_') {
            up = true;
            continue;
        }
        *o++ = up ? (char)toupper((unsigned char)*s) : *s;
        up = false;
    }
    *o = '\0';
    return out;
}

static char *snake_of(const char *camel)
{
    char *out = malloc(2 * strlen(camel) + 1);
    char *o = out;
    for (const char *s = camel; *s; s++) {
        if (isupper((unsigned char)*s)) {
            if (s != camel)
                *o++ = '_';
            *o++ = (char)tolower((unsigned char)*s);
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

static char *upper_of(const char *s)
{
    char *out = xstrdup(s);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return out;
}

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        cur_file = path;
        die(NULL, "line %d: %s", jerr.line, jerr.text);
    }
    return j;
}

static const char *str_attr(json_t *o, const char *key, const char *field, bool required)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            die(field, "missing \"%s\"", key);
        return NULL;
    }
    if (!json_is_string(v))
        die(field, "\"%s\" must be a string", key);
    return json_string_value(v);
}

static const char *const ctypes[] = {
    [CS__F_BOOL] = "bool",      [CS__F_INT] = "int32_t",         [CS__F_LONG] = "int64_t",
    [CS__F_DOUBLE] = "double",  [CS__F_STRING] = "const char *", [CS__F_ENUM] = "int",
    [CS__F_STRV] = "cs_strv_t",
};

static const char *const tnames[] = {
    [CS__F_BOOL] = "boolean",       [CS__F_INT] = "int",       [CS__F_LONG] = "long",
    [CS__F_DOUBLE] = "double",      [CS__F_STRING] = "string", [CS__F_ENUM] = "enum",
    [CS__F_STRV] = "array<string>",
};

static const char *const fmt_names[] = {
    [CS__FMT_NONE] = "",
    [CS__FMT_UUID] = "uuid",
    [CS__FMT_TIMESTAMP] = "timestamp-millis",
    [CS__FMT_IDENTIFIER] = "identifier",
    [CS__FMT_CURRENCY] = "currency",
    [CS__FMT_URL] = "url",
    [CS__FMT_TRACEPARENT] = "traceparent",
};

static const char *const fmt_macros[] = {
    "CS__FMT_NONE",     "CS__FMT_UUID", "CS__FMT_TIMESTAMP",   "CS__FMT_IDENTIFIER",
    "CS__FMT_CURRENCY", "CS__FMT_URL",  "CS__FMT_TRACEPARENT",
};

static const char *const type_macros[] = {
    "0",          "CS__F_BOOL", "CS__F_INT", "CS__F_LONG", "CS__F_DOUBLE", "CS__F_STRING",
    "CS__F_ENUM", "CS__F_STRV",
};

/* Finds or registers an enum: named enums are identical wherever one name is used. */
static genum_t *register_enum(json_t *def, const char *field, genum_t **local, int *nlocal)
{
    const char *name = str_attr(def, "name", field, true);
    json_t *syms = json_object_get(def, "symbols");
    if (!json_is_array(syms) || json_array_size(syms) == 0 || json_array_size(syms) > 64)
        die(field, "enum %s needs 1 to 64 symbols", name);
    if (!isupper((unsigned char)name[0]) || strchr(name, '.'))
        die(field, "enum name %s must be a CamelCase short name", name);
    for (int i = 0; i < *nlocal; i++)
        if (strcmp(local[i]->name, name) == 0)
            die(field, "enum %s defined twice in one schema; refer to it by name", name);
    genum_t *e = calloc(1, sizeof *e);
    e->name = xstrdup(name);
    e->nsymbols = (int)json_array_size(syms);
    e->symbols = calloc((size_t)e->nsymbols, sizeof(char *));
    for (int i = 0; i < e->nsymbols; i++) {
        json_t *s = json_array_get(syms, (size_t)i);
        if (!json_is_string(s) || !is_snake(json_string_value(s)))
            die(field, "enum %s: symbols must be lower_snake_case strings", name);
        e->symbols[i] = xstrdup(json_string_value(s));
        for (int k = 0; k < i; k++)
            if (strcmp(e->symbols[k], e->symbols[i]) == 0)
                die(field, "enum %s: duplicate symbol %s", name, e->symbols[i]);
    }
    /* Share the descriptor with an identical definition elsewhere. */
    genum_t *found = NULL;
    for (int i = 0; i < nenums && !found; i++) {
        genum_t *o = enums[i];
        if (strcmp(o->name, e->name) != 0 || o->nsymbols != e->nsymbols)
            continue;
        bool same = true;
        for (int k = 0; k < o->nsymbols; k++)
            same = same && strcmp(o->symbols[k], e->symbols[k]) == 0;
        if (same)
            found = o;
    }
    if (!found) {
        if (nenums == MAX_ENUMS)
            die(field, "too many enums");
        e->id = nenums;
        enums[nenums++] = e;
        found = e;
    }
    local[(*nlocal)++] = found;
    return found;
}

static void parse_base_type(json_t *t, gfield_t *f, const char *path, genum_t **local, int *nlocal)
{
    if (json_is_string(t)) {
        const char *n = json_string_value(t);
        if (strcmp(n, "boolean") == 0)
            f->type = CS__F_BOOL;
        else if (strcmp(n, "int") == 0)
            f->type = CS__F_INT;
        else if (strcmp(n, "long") == 0)
            f->type = CS__F_LONG;
        else if (strcmp(n, "double") == 0)
            f->type = CS__F_DOUBLE;
        else if (strcmp(n, "string") == 0)
            f->type = CS__F_STRING;
        else {
            for (int i = 0; i < *nlocal; i++)
                if (strcmp(local[i]->name, n) == 0) {
                    f->type = CS__F_ENUM;
                    f->enm = local[i];
                    return;
                }
            die(path,
                "unsupported type or undefined enum \"%s\" (supported: boolean, int, long, "
                "double, string, enum, uuid, timestamp-millis, array of string, union with null)",
                n);
        }
        return;
    }
    if (!json_is_object(t))
        die(path, "unsupported type");
    const char *tt = str_attr(t, "type", path, true);
    const char *logical = str_attr(t, "logicalType", path, false);
    if (strcmp(tt, "enum") == 0) {
        f->type = CS__F_ENUM;
        f->enm = register_enum(t, path, local, nlocal);
    } else if (strcmp(tt, "array") == 0) {
        json_t *items = json_object_get(t, "items");
        if (!json_is_string(items) || strcmp(json_string_value(items), "string") != 0)
            die(path, "only arrays of string are supported");
        f->type = CS__F_STRV;
    } else if (logical && strcmp(tt, "string") == 0 && strcmp(logical, "uuid") == 0) {
        f->type = CS__F_STRING;
        f->format = CS__FMT_UUID;
    } else if (logical && strcmp(tt, "long") == 0 && strcmp(logical, "timestamp-millis") == 0) {
        f->type = CS__F_LONG;
        f->format = CS__FMT_TIMESTAMP;
    } else if (logical) {
        die(path, "unsupported logical type %s on %s", logical, tt);
    } else {
        parse_base_type(json_object_get(t, "type"), f, path, local, nlocal);
    }
}

static double num_attr(json_t *o, const char *key, const char *path)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        die(path, "\"%s\" must be a number", key);
    return json_number_value(v);
}

/* Known attributes only: a typo in a limit must not silently disable it. */
static void check_field_attrs(json_t *fj, const char *path)
{
    const char *key;
    json_t *val;
    json_object_foreach(fj, key, val)
    {
        static const char *const known[] = {"name",
                                            "type",
                                            "doc",
                                            "default",
                                            "cs.format",
                                            "cs.min",
                                            "cs.max",
                                            "cs.min_length",
                                            "cs.max_length",
                                            "cs.max_items",
                                            "cs.example",
                                            "cs.required_if",
                                            NULL};
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = strcmp(known[i], key) == 0;
        if (!ok)
            die(path, "unknown attribute \"%s\"", key);
        (void)val;
    }
}

/* "type": a base type, or the optional union ["null", T] / [T, "null"]. */
static void parse_field_type(json_t *fj, gfield_t *f, const char *path, genum_t **local,
                             int *nlocal)
{
    json_t *t = json_object_get(fj, "type");
    if (json_is_array(t)) {
        if (json_array_size(t) != 2)
            die(path, "unions must be [\"null\", T] or [T, \"null\"]");
        json_t *a = json_array_get(t, 0), *b = json_array_get(t, 1);
        bool a_null = json_is_string(a) && strcmp(json_string_value(a), "null") == 0;
        bool b_null = json_is_string(b) && strcmp(json_string_value(b), "null") == 0;
        if (a_null == b_null)
            die(path, "unions must be [\"null\", T] or [T, \"null\"]");
        f->optional = true;
        f->null_index = a_null ? 0 : 1;
        parse_base_type(a_null ? b : a, f, path, local, nlocal);
        if (f->type == CS__F_STRV)
            die(path, "arrays cannot be optional; use an empty array");
    } else {
        parse_base_type(t, f, path, local, nlocal);
    }
}

/* "cs.format": a string format, which must agree with the logical type. */
static void parse_field_format(json_t *fj, gfield_t *f, const char *path)
{
    const char *fmt = str_attr(fj, "cs.format", path, false);
    if (fmt) {
        int want = -1;
        for (int i = 1; i < (int)(sizeof fmt_names / sizeof *fmt_names); i++)
            if (strcmp(fmt_names[i], fmt) == 0)
                want = i;
        if (want < 0 || want == CS__FMT_TIMESTAMP)
            die(path, "unknown cs.format \"%s\"", fmt);
        if (f->format && f->format != want)
            die(path, "cs.format %s contradicts the logical type", fmt);
        if (f->type != CS__F_STRING)
            die(path, "cs.format applies to strings only");
        f->format = want;
    }
}

/* "cs.min"/"cs.max": numeric bounds, integers within the range of int and long. */
static void parse_field_bounds(json_t *fj, gfield_t *f, const char *path)
{
    if (json_object_get(fj, "cs.min")) {
        f->has_min = true;
        f->min = num_attr(fj, "cs.min", path);
    }
    if (json_object_get(fj, "cs.max")) {
        f->has_max = true;
        f->max = num_attr(fj, "cs.max", path);
    }
    if ((f->has_min || f->has_max) && f->type != CS__F_INT && f->type != CS__F_LONG &&
        f->type != CS__F_DOUBLE)
        die(path, "cs.min/cs.max apply to int, long and double only");
    if (f->has_min && f->has_max && f->min > f->max)
        die(path, "cs.min is above cs.max");
    if (f->type == CS__F_INT || f->type == CS__F_LONG) {
        if ((f->has_min && f->min != floor(f->min)) || (f->has_max && f->max != floor(f->max)))
            die(path, "integer bounds must be integers");
        double lo = f->type == CS__F_INT ? INT32_MIN : -9.2e18,
               hi = f->type == CS__F_INT ? INT32_MAX : 9.2e18;
        if ((f->has_min && (f->min < lo || f->min > hi)) ||
            (f->has_max && (f->max < lo || f->max > hi)))
            die(path, "bounds outside the range of %s", tnames[f->type]);
    }
}

/* "cs.min_length"/"cs.max_length" of strings and "cs.max_items" of arrays. */
static void parse_field_sizes(json_t *fj, gfield_t *f, const char *path)
{
    if (f->format == CS__FMT_UUID) {
        f->min_len = f->max_len = 36;
    } else if (f->type == CS__F_STRING || f->type == CS__F_STRV) {
        if (!json_object_get(fj, "cs.max_length"))
            die(path, "every string needs \"cs.max_length\" (bytes)");
        f->max_len = (long long)num_attr(fj, "cs.max_length", path);
        f->min_len = json_object_get(fj, "cs.min_length")
                         ? (long long)num_attr(fj, "cs.min_length", path)
                         : 0;
        if (f->max_len < 1 || f->max_len > 16384 || f->min_len < 0 || f->min_len > f->max_len)
            die(path, "cs.max_length must be 1..16384 and cs.min_length 0..cs.max_length");
        if (f->format == CS__FMT_CURRENCY)
            f->min_len = 3;
    } else if (json_object_get(fj, "cs.max_length") || json_object_get(fj, "cs.min_length")) {
        die(path, "cs.min_length/cs.max_length apply to strings only");
    }
    if (f->type == CS__F_STRV) {
        if (!json_object_get(fj, "cs.max_items"))
            die(path, "every array needs \"cs.max_items\"");
        f->max_items = (long long)num_attr(fj, "cs.max_items", path);
        if (f->max_items < 1 || f->max_items > 1000)
            die(path, "cs.max_items must be 1..1000");
    } else if (json_object_get(fj, "cs.max_items")) {
        die(path, "cs.max_items applies to arrays only");
    }
}

/* "default": must match the type (null for ["null", T]) and the bounds. */
static void parse_field_default(json_t *fj, gfield_t *f, const char *path)
{
    json_t *def = json_object_get(fj, "default");
    if (def) {
        f->has_default = true;
        if (f->optional && f->null_index == 0) {
            if (!json_is_null(def))
                die(path, "the default of a [\"null\", T] union must be null");
            f->default_null = true;
        } else if (f->type == CS__F_BOOL && json_is_boolean(def)) {
            f->default_i = json_is_true(def);
        } else if ((f->type == CS__F_INT || f->type == CS__F_LONG) && json_is_integer(def)) {
            f->default_i = json_integer_value(def);
            if ((f->has_min && f->default_i < f->min) || (f->has_max && f->default_i > f->max))
                die(path, "the default is outside cs.min..cs.max");
        } else if (f->type == CS__F_DOUBLE && json_is_number(def)) {
            f->default_d = json_number_value(def);
        } else if (f->type == CS__F_STRING && json_is_string(def)) {
            f->default_s = xstrdup(json_string_value(def));
        } else if (f->type == CS__F_ENUM && json_is_string(def)) {
            f->default_i = -1;
            for (int i = 0; i < f->enm->nsymbols; i++)
                if (strcmp(f->enm->symbols[i], json_string_value(def)) == 0)
                    f->default_i = i;
            if (f->default_i < 0)
                die(path, "the default is not a symbol of %s", f->enm->name);
        } else if (f->type == CS__F_STRV && json_is_array(def) && json_array_size(def) == 0) {
            /* the empty array */
        } else {
            die(path, "the default does not match the type");
        }
    }
}

/* "cs.required_if": when an optional field becomes required. */
static void parse_field_required_if(json_t *fj, gfield_t *f, const char *path)
{
    json_t *req = json_object_get(fj, "cs.required_if");
    if (req) {
        if (!f->optional)
            die(path, "cs.required_if applies to optional fields only");
        f->req_field_name = xstrdup(str_attr(req, "field", path, true));
        f->req_present = json_is_true(json_object_get(req, "present"));
        f->req_in = json_object_get(req, "in");
        if (!f->req_present && !json_is_array(f->req_in))
            die(path, "cs.required_if needs \"present\": true or \"in\": [symbols]");
    }
}

static void parse_field(json_t *fj, gfield_t *f, const char *prefix, genum_t **local, int *nlocal)
{
    const char *name = str_attr(fj, "name", prefix, true);
    char *path = xasprintf("%s%s", prefix, name);
    if (!is_snake(name) || strlen(name) > 48)
        die(path, "field names must be lower_snake_case identifiers of at most 48 bytes");
    f->name = xstrdup(name);
    f->doc = xstrdup(str_attr(fj, "doc", path, true));

    check_field_attrs(fj, path);
    parse_field_type(fj, f, path, local, nlocal);
    parse_field_format(fj, f, path);
    parse_field_bounds(fj, f, path);
    parse_field_sizes(fj, f, path);
    parse_field_default(fj, f, path);
    parse_field_required_if(fj, f, path);

    json_t *ex = json_object_get(fj, "cs.example");
    if (ex)
        f->example = json_dumps(ex, JSON_COMPACT | JSON_ENCODE_ANY);
    else if (!f->optional && f->type != CS__F_STRV && !f->has_default)
        die(path, "required fields need a \"cs.example\"");
    free(path);
}

/* Resolves required_if references once all fields of a record are known. */
static void link_required_if(gversion_t *v, const char *prefix)
{
    for (int i = 0; i < v->nfields; i++) {
        gfield_t *f = &v->fields[i];
        if (!f->req_field_name)
            continue;
        char *path = xasprintf("%s%s", prefix, f->name);
        int k;
        for (k = 0; k < v->nfields; k++)
            if (strcmp(v->fields[k].name, f->req_field_name) == 0)
                break;
        if (k == v->nfields || k == i)
            die(path, "cs.required_if names unknown field %s", f->req_field_name);
        if (f->req_in) {
            if (v->fields[k].type != CS__F_ENUM)
                die(path, "cs.required_if \"in\" needs an enum field");
            size_t j;
            json_t *s;
            json_array_foreach(f->req_in, j, s)
            {
                int found = 0;
                for (int m = 0; m < v->fields[k].enm->nsymbols; m++)
                    found |= json_is_string(s) &&
                             strcmp(v->fields[k].enm->symbols[m], json_string_value(s)) == 0;
                if (!found)
                    die(path, "cs.required_if: not a symbol of %s", v->fields[k].enm->name);
            }
        }
        free(path);
    }
}

static int field_index(const gversion_t *v, const char *name)
{
    for (int i = 0; i < v->nfields; i++)
        if (strcmp(v->fields[i].name, name) == 0)
            return i;
    return -1;
}

static uint64_t req_mask(const gversion_t *v, const gfield_t *f)
{
    uint64_t m = 0;
    if (!f->req_in)
        return 0;
    const gfield_t *ctl = &v->fields[field_index(v, f->req_field_name)];
    size_t j;
    json_t *s;
    json_array_foreach(f->req_in, j,
                       s) for (int k = 0; k < ctl->enm->nsymbols;
                               k++) if (strcmp(ctl->enm->symbols[k], json_string_value(s)) == 0)
        m |= UINT64_C(1) << k;
    return m;
}

/* ---- loading ---------------------------------------------------------------------------- */

static void load_envelope(const char *dir)
{
    static const char *const expect[] = {"event_id", "event_type",     "occurred_at", "user_id",
                                         "producer", "schema_version", "traceparent", "payload"};
    char *path = xasprintf("%s/envelope.avsc", dir);
    envelope_json = load_json(path);
    cur_file = path;
    json_t *fields = json_object_get(envelope_json, "fields");
    if (!json_is_array(fields) || json_array_size(fields) != 8)
        die(NULL, "the envelope must have exactly the fields the codec knows (%s, ..., payload)",
            expect[0]);
    genum_t *local[MAX_ENUMS];
    int nlocal = 0;
    for (int i = 0; i < 8; i++) {
        json_t *fj = json_array_get(fields, (size_t)i);
        const char *name = str_attr(fj, "name", "fields", true);
        if (strcmp(name, expect[i]) != 0)
            die(name, "envelope field %d must be %s", i, expect[i]);
        if (i == 7) {
            json_t *t = json_object_get(fj, "type");
            if (!json_is_string(t) || strcmp(json_string_value(t), "PAYLOAD") != 0)
                die(name, "the payload field's type must be the placeholder \"PAYLOAD\"");
            break;
        }
        parse_field(fj, &envelope.fields[envelope.nfields++], "", local, &nlocal);
    }
    /* The codec stores these in fixed places of cs_event_t; the types must be exactly these. */
    const int types[] = {CS__F_STRING, CS__F_STRING, CS__F_LONG,  CS__F_STRING,
                         CS__F_STRING, CS__F_INT,    CS__F_STRING};
    for (int i = 0; i < 7; i++)
        if (envelope.fields[i].type != types[i] ||
            envelope.fields[i].optional != (i == CS__ENV_TRACEPARENT))
            die(expect[i], "the envelope field must be %s%s",
                i == CS__ENV_TRACEPARENT ? "optional " : "", tnames[types[i]]);
    if (envelope.fields[CS__ENV_EVENT_ID].format != CS__FMT_UUID ||
        envelope.fields[CS__ENV_USER_ID].format != CS__FMT_UUID ||
        envelope.fields[CS__ENV_OCCURRED_AT].format != CS__FMT_TIMESTAMP)
        die(NULL, "event_id and user_id must be uuids, occurred_at a timestamp-millis");
}

static gevent_t *event_named(const char *name)
{
    for (int i = 0; i < nevents; i++)
        if (strcmp(events[i].name, name) == 0)
            return &events[i];
    return NULL;
}

static json_t *topics_json;

static void load_topics(const char *dir)
{
    char *path = xasprintf("%s/topics.json", dir);
    json_t *t = load_json(path);
    topics_json = t;
    cur_file = path;
    json_t *topics = json_object_get(t, "topics");
    size_t i, j;
    json_t *topic, *ev;
    if (!json_is_array(topics))
        die(NULL, "missing \"topics\"");
    json_array_foreach(topics, i, topic)
    {
        const char *tname = str_attr(topic, "name", "topics", true);
        json_t *evs = json_object_get(topic, "events");
        json_t *dlq = json_object_get(topic, "dead_letter");
        if (!json_is_integer(json_object_get(topic, "partitions")) ||
            json_integer_value(json_object_get(topic, "partitions")) < 1 ||
            !json_is_integer(json_object_get(topic, "retention_ms")) || !json_is_object(dlq) ||
            !json_is_string(json_object_get(dlq, "name")) ||
            !json_is_integer(json_object_get(dlq, "partitions")))
            die(tname,
                "each topic needs partitions, retention_ms and dead_letter {name, partitions}");
        if (!json_is_array(evs))
            die(tname, "missing \"events\" list");
        json_array_foreach(evs, j, ev)
        {
            if (!json_is_string(ev) || !is_snake(json_string_value(ev)))
                die(tname, "event names must be lower_snake_case strings");
            if (event_named(json_string_value(ev)))
                die(tname, "event %s is listed under two topics", json_string_value(ev));
            if (nevents == MAX_EVENTS)
                die(tname, "too many events");
            gevent_t *e = &events[nevents++];
            e->name = xstrdup(json_string_value(ev));
            e->camel = camel_of(e->name);
            e->topic = xstrdup(tname);
        }
    }
}

static json_t *compose(const gevent_t *e, json_t *payload)
{
    json_t *full = json_pack("{s:s, s:s, s:s, s:s}", "type", "record", "name", "", "namespace",
                             "careerstream.events", "doc", e->doc);
    char *name = xasprintf("%sEvent", e->camel);
    json_object_set_new(full, "name", json_string(name));
    free(name);
    json_t *fields = json_deep_copy(json_object_get(envelope_json, "fields"));
    json_object_set(json_array_get(fields, 7), "type", payload);
    json_object_set_new(full, "fields", fields);
    return full;
}

/* The event and version a path .../events/<event>/v<N>.avsc names; dies on any other path. */
static gevent_t *version_path(const char *file, int *version)
{
    const char *base = strrchr(file, '/');
    if (!base || base == file)
        die(NULL, "expected a path ending in <event>/v<N>.avsc");
    const char *dirstart = base - 1;
    while (dirstart > file && dirstart[-1] != '/')
        dirstart--;
    char *ename = xasprintf("%.*s", (int)(base - dirstart), dirstart);
    char tail[16];
    *version = 0;
    if (sscanf(base + 1, "v%d%15s", version, tail) != 2 || strcmp(tail, ".avsc") != 0 ||
        *version < 1 || *version > MAX_VERSIONS)
        die(NULL, "expected a path ending in <event>/v<N>.avsc with N in 1..%d", MAX_VERSIONS);
    gevent_t *e = event_named(ename);
    if (!e)
        die(NULL, "event %s is not listed under any topic in topics.json", ename);
    if (e->versions[*version - 1])
        die(NULL, "version %d given twice", *version);
    return e;
}

/* The payload record p of event e: a record named <Event> in careerstream.events, with no
 * attribute schemagen does not know; returns its doc. */
static const char *check_record(const gevent_t *e, json_t *p)
{
    const char *type = str_attr(p, "type", NULL, true);
    const char *name = str_attr(p, "name", NULL, true);
    const char *ns = str_attr(p, "namespace", NULL, false);
    if (strcmp(type, "record") != 0 || strcmp(name, e->camel) != 0 || !ns ||
        strcmp(ns, "careerstream.events") != 0)
        die(NULL, "the payload must be a record named %s in namespace careerstream.events",
            e->camel);
    const char *doc = str_attr(p, "doc", NULL, true);
    const char *rkey;
    json_t *rval;
    json_object_foreach(p, rkey, rval)
    {
        static const char *const known[] = {
            "type", "name", "namespace", "doc", "fields", "cs.at_least_one", NULL};
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = strcmp(known[i], rkey) == 0;
        if (!ok)
            die(NULL, "unknown record attribute \"%s\"", rkey);
        (void)rval;
    }
    return doc;
}

/* The payload's fields into v: 1..MAX_FIELDS, no name twice. */
static void load_fields(gversion_t *v, json_t *p)
{
    json_t *fields = json_object_get(p, "fields");
    if (!json_is_array(fields) || json_array_size(fields) == 0 ||
        json_array_size(fields) > MAX_FIELDS)
        die(NULL, "the payload needs 1 to %d fields", MAX_FIELDS);
    genum_t *local[MAX_ENUMS];
    int nlocal = 0;
    size_t i;
    json_t *fj;
    json_array_foreach(fields, i, fj)
    {
        gfield_t *f = &v->fields[v->nfields++];
        parse_field(fj, f, "payload.", local, &nlocal);
        for (int k = 0; k < v->nfields - 1; k++)
            if (strcmp(v->fields[k].name, f->name) == 0)
                die(f->name, "duplicate field");
    }
    link_required_if(v, "payload.");
}

/* The full writer schema of v (envelope and payload): its JSON, canonical form and fingerprint. */
static void fingerprint_version(const gevent_t *e, gversion_t *v)
{
    json_t *full = compose(e, v->payload);
    v->schema_json = json_dumps(full, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char errbuf[256];
    v->canonical = cs__schema_canonical(full, errbuf, sizeof errbuf);
    if (!v->canonical)
        die(NULL, "%s", errbuf);
    v->fingerprint = cs__schema_crc64(v->canonical, strlen(v->canonical));
    json_decref(full);
}

static void load_version(const char *file)
{
    int version;

    cur_file = file;
    gevent_t *e = version_path(file, &version);
    gversion_t *v = calloc(1, sizeof *v);
    v->version = version;
    v->file = xstrdup(file);
    v->payload = load_json(file);
    cur_file = file;
    const char *doc = check_record(e, v->payload);
    load_fields(v, v->payload);
    if (version > e->nversions)
        e->nversions = version;
    e->versions[version - 1] = v;
    /* The current (highest) version's documentation describes the event. */
    if (version == e->nversions) {
        e->doc = xstrdup(doc);
        e->at_least_one = json_is_true(json_object_get(v->payload, "cs.at_least_one"));
    }
    fingerprint_version(e, v);
}

/* Builds the example event of the current version in the documented JSON form. */
static char *example_of(const gevent_t *e)
{
    const gversion_t *v = e->versions[e->nversions - 1];
    json_t *ev = json_object();
    json_error_t jerr;
    json_object_set_new(ev, "event_type", json_string(e->name));
    for (int i = 0; i < envelope.nfields; i++) {
        const gfield_t *f = &envelope.fields[i];
        if (i == CS__ENV_EVENT_TYPE || i == CS__ENV_SCHEMA_VERSION || !f->example)
            continue;
        json_object_set_new(ev, f->name, json_loads(f->example, JSON_DECODE_ANY, &jerr));
    }
    json_t *payload = json_object();
    for (int i = 0; i < v->nfields; i++) {
        const gfield_t *f = &v->fields[i];
        if (!f->example) {
            cur_file = v->file;
            die(f->name, "fields need a \"cs.example\" for the documentation");
        }
        json_object_set_new(payload, f->name, json_loads(f->example, JSON_DECODE_ANY, &jerr));
    }
    json_object_set_new(ev, "payload", payload);
    char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(ev);
    return s;
}

/* ---- output ----------------------------------------------------------------------------- */

static void c_string(FILE *o, const char *s)
{
    if (!s) {
        fputs("NULL", o);
        return;
    }
    fputc('"', o);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(o, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", o);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(o, "\\%03o", c);
        else
            fputc(c, o);
    }
    fputc('"', o);
}

static FILE *open_out(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *o = fopen(path, "w");
    if (!o) {
        cur_file = path;
        die(NULL, "cannot write: %s", strerror(errno));
    }
    return o;
}

static void close_out(FILE *o)
{
    if (fflush(o) != 0 || ferror(o) || fclose(o) != 0)
        die(NULL, "write failed: %s", strerror(errno));
}

/* One C enum per Avro enum name, from the current versions (schemagen checked they agree). */
static void emit_c_enums(FILE *o)
{
    const char *done[MAX_ENUMS];
    int ndone = 0;
    for (int i = 0; i < nevents; i++) {
        gversion_t *v = events[i].versions[events[i].nversions - 1];
        for (int k = 0; k < v->nfields; k++) {
            genum_t *en = v->fields[k].enm;
            if (!en)
                continue;
            bool seen = false;
            for (int d = 0; d < ndone; d++)
                seen = seen || strcmp(done[d], en->name) == 0;
            if (seen)
                continue;
            done[ndone++] = en->name;
            char *sn = snake_of(en->name), *up = upper_of(sn);
            fprintf(o, "typedef enum cs_%s {\n", sn);
            for (int s = 0; s < en->nsymbols; s++) {
                char *su = upper_of(en->symbols[s]);
                fprintf(o, "    CS_%s_%s = %d,\n", up, su, s);
                free(su);
            }
            fprintf(o, "    CS_%s__COUNT = %d\n} cs_%s_t;\n\n", up, en->nsymbols, sn);
            free(sn);
            free(up);
        }
    }
}

/* One struct per event type, the fields of its current version. */
static void emit_event_structs(FILE *o)
{
    for (int i = 0; i < nevents; i++) {
        gevent_t *e = &events[i];
        gversion_t *v = e->versions[e->nversions - 1];
        fprintf(o, "/* %s (topic %s, schema version %d) */\ntypedef struct cs_ev_%s {\n", e->name,
                e->topic, e->nversions, e->name);
        for (int k = 0; k < v->nfields; k++) {
            gfield_t *f = &v->fields[k];
            if (f->optional && f->type != CS__F_STRING)
                fprintf(o, "    bool has_%s;\n", f->name);
            if (f->type == CS__F_ENUM) {
                char *sn = snake_of(f->enm->name);
                fprintf(o, "    cs_%s_t %s;\n", sn, f->name);
                free(sn);
            } else {
                const char *ct = ctypes[f->type];
                fprintf(o, "    %s%s%s;%s\n", ct, ct[strlen(ct) - 1] == '*' ? "" : " ", f->name,
                        f->format == CS__FMT_TIMESTAMP ? " /* ms since the epoch, UTC */" : "");
            }
        }
        fprintf(o, "} cs_ev_%s_t;\n\n", e->name);
    }
}

static void emit_header(const char *outdir)
{
    FILE *o = open_out(outdir, "cs/events.h");
    fprintf(
        o,
        "/*\n * cs/events.h (generated by cs-schemagen from schemas/; do not edit)\n"
        " *      The typed payload of every careerstream event, and the event type enum.\n"
        " *\n * cs_event_t.payload points to the struct of its type: (const cs_ev_<event>_t *).\n"
        " * Strings are NUL-terminated UTF-8; an optional string is NULL when absent; an optional\n"
        " * number, boolean or enum has a has_<field> flag. Timestamps are milliseconds since the\n"
        " * Unix epoch (UTC). Ranges and lengths are those documented in schemas/README.md and "
        "are\n"
        " * validated by the codec before a struct is handed out or encoded.\n */\n"
        "#ifndef CS_EVENTS_H\n#define CS_EVENTS_H\n\n#include <stdbool.h>\n#include <stddef.h>\n"
        "#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
        "/* An array of strings (the items live in the same arena as the event). */\n"
        "typedef struct cs_strv {\n    const char *const *items;\n    size_t count;\n} "
        "cs_strv_t;\n\n");
    fprintf(o, "typedef enum cs_event_type {\n");
    for (int i = 0; i < nevents; i++) {
        char *up = upper_of(events[i].name);
        fprintf(o, "    CS_EVENT_%s = %d, /* %s */\n", up, i, events[i].topic);
        free(up);
    }
    fprintf(o, "    CS_EVENT__COUNT = %d\n} cs_event_type_t;\n\n", nevents);

    emit_c_enums(o);
    emit_event_structs(o);
    fprintf(o, "#ifdef __cplusplus\n}\n#endif\n\n#endif /* CS_EVENTS_H */\n");
    close_out(o);
}

static void emit_field(FILE *o, const gevent_t *e, const gversion_t *v, const gfield_t *f,
                       bool current, const char *prefix)
{
    fprintf(o, "    {");
    c_string(o, f->name);
    fprintf(o, ", \"%s%s\", %s, %d, %d, %s, %d, %d, ", prefix, f->name, type_macros[f->type],
            f->optional, f->null_index, fmt_macros[f->format], f->has_min, f->has_max);
    if (f->type == CS__F_DOUBLE)
        fprintf(o, "0, 0, %.17g, %.17g, ", f->has_min ? f->min : 0.0, f->has_max ? f->max : 0.0);
    else
        fprintf(o, "INT64_C(%lld), INT64_C(%lld), 0, 0, ", f->has_min ? (long long)f->min : 0LL,
                f->has_max ? (long long)f->max : 0LL);
    fprintf(o, "%lld, %lld, %lld, ", f->min_len, f->max_len, f->max_items);
    if (f->enm)
        fprintf(o, "&enum_descs[%d], ", f->enm->id);
    else
        fprintf(o, "NULL, ");
    if (current && e) {
        fprintf(o, "offsetof(cs_ev_%s_t, %s), ", e->name, f->name);
        if (f->optional && f->type != CS__F_STRING)
            fprintf(o, "offsetof(cs_ev_%s_t, has_%s), ", e->name, f->name);
        else
            fprintf(o, "UINT32_MAX, ");
    } else {
        fprintf(o, "0, UINT32_MAX, ");
    }
    fprintf(o, "%d, %d, INT64_C(%lld), %.17g, ", f->has_default, f->default_null, f->default_i,
            f->default_d);
    c_string(o, f->default_s);
    int rf = f->req_field_name ? field_index(v, f->req_field_name) : -1;
    fprintf(o, ", %d, %d, UINT64_C(0x%" PRIx64 "), ", rf, f->req_present, req_mask(v, f));
    c_string(o, f->doc);
    fprintf(o, ", ");
    c_string(o, f->example);
    fprintf(o, "},\n");
}

/* The Avro enums' symbol arrays and descriptors (enum_descs, indexed by genum_t.id). */
static void emit_enum_descs(FILE *o)
{
    for (int i = 0; i < nenums; i++) {
        fprintf(o, "static const char *const enum_syms_%d[] = {", i);
        for (int s = 0; s < enums[i]->nsymbols; s++) {
            c_string(o, enums[i]->symbols[s]);
            fputs(", ", o);
        }
        fprintf(o, "};\n");
    }
    fprintf(o, "\nstatic const cs__enum_desc_t enum_descs[] = {\n");
    for (int i = 0; i < nenums; i++)
        fprintf(o, "    {\"%s\", %d, enum_syms_%d},\n", enums[i]->name, enums[i]->nsymbols, i);
    fprintf(o, "    {NULL, 0, NULL}\n};\n\n");
}

/* One event type's field descriptors, one array per schema version, and its versions' array. */
static void emit_event_descs(FILE *o, const gevent_t *e)
{
    for (int n = 0; n < e->nversions; n++) {
        gversion_t *v = e->versions[n];
        bool current = n == e->nversions - 1;
        fprintf(o, "static const cs__field_desc_t fields_%s_v%d[] = {\n", e->name, v->version);
        for (int k = 0; k < v->nfields; k++) {
            if (current && v->fields[k].type == CS__F_ENUM) {
                char *sn = snake_of(v->fields[k].enm->name);
                fprintf(o, "    /* cs_%s_t */\n", sn);
                free(sn);
            }
            emit_field(o, e, v, &v->fields[k], current, "payload.");
        }
        fprintf(o, "};\n");
    }
    fprintf(o, "static const cs__version_desc_t versions_%s[] = {\n", e->name);
    for (int n = 0; n < e->nversions; n++) {
        gversion_t *v = e->versions[n];
        fprintf(o, "    {%d, UINT64_C(0x%016" PRIx64 "),\n     ", v->version, v->fingerprint);
        c_string(o, v->canonical);
        fprintf(o, ",\n     ");
        c_string(o, v->schema_json);
        fprintf(o, ",\n     %d, fields_%s_v%d},\n", v->nfields, e->name, v->version);
    }
    fprintf(o, "};\n\n");
}

static void emit_source(const char *outdir)
{
    FILE *o = open_out(outdir, "events_gen.c");
    fprintf(o, "/*\n * events_gen.c (generated by cs-schemagen from schemas/; do not edit)\n"
               " *      The event tables libcore/src/codec.c walks; see codec_tables.h.\n */\n"
               "#include <stddef.h>\n#include <stdint.h>\n\n#include \"codec_tables.h\"\n#include "
               "\"cs/events.h\"\n\n");
    emit_enum_descs(o);
    /* The C enums are int-sized; the codec stores enum values through int pointers. */
    fprintf(o,
            "_Static_assert(sizeof(cs_event_type_t) == sizeof(int), \"enums are int-sized\");\n\n");

    fprintf(o, "const cs__field_desc_t cs__envelope_fields[] = {\n");
    for (int i = 0; i < envelope.nfields; i++)
        emit_field(o, NULL, &envelope, &envelope.fields[i], false, "");
    fprintf(o, "};\nconst int cs__nenvelope_fields = %d;\n\n", envelope.nfields);

    for (int i = 0; i < nevents; i++)
        emit_event_descs(o, &events[i]);
    fprintf(o, "const cs__event_desc_t cs__events[] = {\n");
    for (int i = 0; i < nevents; i++) {
        gevent_t *e = &events[i];
        gversion_t *v = e->versions[e->nversions - 1];
        fprintf(o, "    {\"%s\", \"%s\", ", e->name, e->topic);
        c_string(o, e->doc);
        fprintf(o, ",\n     sizeof(cs_ev_%s_t), %d, fields_%s_v%d, %d, versions_%s, %d,\n     ",
                e->name, v->nfields, e->name, v->version, e->nversions, e->name, e->at_least_one);
        c_string(o, e->example);
        fprintf(o, "},\n");
    }
    fprintf(o, "};\nconst int cs__nevents = %d;\n", nevents);
    close_out(o);
}

static void md_escape(FILE *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", o);
        else
            fputc(*s, o);
    }
}

static void md_field(FILE *o, const gfield_t *f)
{
    fprintf(o, "| `%s` | ", f->name);
    if (f->type == CS__F_ENUM) {
        fprintf(o, "enum %s: ", f->enm->name);
        for (int s = 0; s < f->enm->nsymbols; s++)
            fprintf(o, "%s`%s`", s ? ", " : "", f->enm->symbols[s]);
    } else {
        fprintf(o, "%s",
                f->format == CS__FMT_UUID        ? "uuid"
                : f->format == CS__FMT_TIMESTAMP ? "timestamp-millis"
                                                 : tnames[f->type]);
    }
    fprintf(o, " | %s | ", f->optional ? "no (null)" : f->has_default ? "no (default)" : "yes");
    bool sep = false;
#define SEP() (sep ? ", " : (sep = true, ""))
    if (f->has_min && f->has_max)
        fprintf(o, "%s%g..%g", SEP(), f->min, f->max);
    else if (f->has_min)
        fprintf(o, "%s>= %g", SEP(), f->min);
    else if (f->has_max)
        fprintf(o, "%s<= %g", SEP(), f->max);
    if ((f->type == CS__F_STRING || f->type == CS__F_STRV) && f->format != CS__FMT_UUID)
        fprintf(o, "%s%lld..%lld bytes", SEP(), f->min_len, f->max_len);
    if (f->type == CS__F_STRV)
        fprintf(o, "%sat most %lld items", SEP(), f->max_items);
    if (f->format && f->format != CS__FMT_UUID && f->format != CS__FMT_TIMESTAMP)
        fprintf(o, "%s%s", SEP(), fmt_names[f->format]);
    if (f->has_default && !f->default_null) {
        if (f->type == CS__F_ENUM)
            fprintf(o, "%sdefault `%s`", SEP(), f->enm->symbols[f->default_i]);
        else if (f->type == CS__F_STRV)
            fprintf(o, "%sdefault `[]`", SEP());
        else if (f->type == CS__F_DOUBLE)
            fprintf(o, "%sdefault `%g`", SEP(), f->default_d);
        else if (f->type == CS__F_STRING)
            fprintf(o, "%sdefault `\"%s\"`", SEP(), f->default_s);
        else if (f->type == CS__F_BOOL)
            fprintf(o, "%sdefault `%s`", SEP(), f->default_i ? "true" : "false");
        else
            fprintf(o, "%sdefault `%lld`", SEP(), f->default_i);
    }
    if (f->req_field_name) {
        if (f->req_present)
            fprintf(o, "%srequired when `%s` is set", SEP(), f->req_field_name);
        else {
            fprintf(o, "%srequired when `%s` is ", SEP(), f->req_field_name);
            size_t j;
            json_t *s;
            json_array_foreach(f->req_in, j, s)
                fprintf(o, "%s`%s`", j ? " or " : "", json_string_value(s));
        }
    }
#undef SEP
    fputs(" | ", o);
    md_escape(o, f->doc);
    fputs(" |\n", o);
}

/* The table of topics, from topics.json. */
static void md_topics(FILE *o)
{
    size_t ti;
    json_t *topic;
    json_array_foreach(json_object_get(topics_json, "topics"), ti, topic)
    {
        json_t *dlq = json_object_get(topic, "dead_letter");
        long long ms = json_integer_value(json_object_get(topic, "retention_ms"));
        fprintf(o, "| `%s` | %lld | ", json_string_value(json_object_get(topic, "name")),
                (long long)json_integer_value(json_object_get(topic, "partitions")));
        if (ms > 0 && ms % 86400000 == 0)
            fprintf(o, "%lld days", ms / 86400000);
        else if (ms > 0)
            fprintf(o, "%lld ms", ms);
        else
            fprintf(o, "unlimited");
        fprintf(o, " | `%s` (%lld) | ", json_string_value(json_object_get(dlq, "name")),
                (long long)json_integer_value(json_object_get(dlq, "partitions")));
        size_t ei;
        json_t *ev;
        json_array_foreach(json_object_get(topic, "events"), ei, ev)
            fprintf(o, "%s`%s`", ei ? ", " : "", json_string_value(ev));
        fprintf(o, " |\n");
    }
}

/* One event type's section: doc, topic, fingerprints, the current version's fields, example. */
static void md_event(FILE *o, const gevent_t *e)
{
    gversion_t *v = e->versions[e->nversions - 1];
    fprintf(o, "### `%s`\n\n", e->name);
    md_escape(o, e->doc);
    fprintf(o,
            "\n\nTopic `%s`, key `user_id`, current version %d. Fingerprints (CRC-64-AVRO, as "
            "written after `C3 01`, hex of the little-endian bytes):",
            e->topic, e->nversions);
    for (int n = 0; n < e->nversions; n++) {
        uint64_t fp = e->versions[n]->fingerprint;
        fprintf(o, " v%d `", e->versions[n]->version);
        for (int b = 0; b < 8; b++)
            fprintf(o, "%02x", (unsigned)((fp >> (8 * b)) & 0xff));
        fputc('`', o);
    }
    fprintf(o, ".\n\n| field | type | required | constraints | description "
               "|\n|---|---|---|---|---|\n");
    for (int k = 0; k < v->nfields; k++)
        md_field(o, &v->fields[k]);
    fprintf(o, "\n```json\n%s\n```\n\n", e->example);
}

static void emit_markdown(const char *outdir)
{
    FILE *o = open_out(outdir, "events.md");
    fprintf(o, "<!-- generated by cs-schemagen from schemas/: edit the .avsc files, then run "
               "schemas/update-readme.sh -->\n\n");
    fprintf(o, "### Topics\n\nFrom `topics.json`; every event's key is `user_id`.\n\n"
               "| topic | partitions | retention | dead-letter topic (partitions) | events |\n"
               "|---|---|---|---|---|\n");
    md_topics(o);
    fprintf(o, "\n");
    fprintf(o,
            "### The envelope\n\nEvery event is one record with these fields, then `payload`.\n\n"
            "| field | type | required | constraints | description |\n|---|---|---|---|---|\n");
    for (int i = 0; i < envelope.nfields; i++)
        md_field(o, &envelope.fields[i]);
    fputs("\n", o);
    for (int i = 0; i < nevents; i++)
        md_event(o, &events[i]);
    close_out(o);
}

static void fp_hex(uint64_t fp, char out[17])
{
    for (int b = 0; b < 8; b++)
        snprintf(out + 2 * b, 3, "%02x", (unsigned)((fp >> (8 * b)) & 0xff));
}

/*
 * schemas/fingerprints.lock pins the fingerprint of every released version: editing a released
 * .avsc in a way that changes its parsing form (and so breaks every message written with it), or
 * dropping a version, fails the build. A new version must be pinned explicitly; the message
 * gives the line to add.
 */
static void check_lock(const char *dir)
{
    char *path = xasprintf("%s/fingerprints.lock", dir);
    FILE *f = fopen(path, "r");
    char line[512];
    int lineno = 0;
    bool pinned[MAX_EVENTS][MAX_VERSIONS] = {{false}};
    cur_file = path;
    if (!f)
        die(NULL, "cannot read the pinned fingerprints: %s", strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char ename[128], hex[64];
        int version;
        lineno++;
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
            continue;
        char where[32];
        snprintf(where, sizeof where, "line %d", lineno);
        if (sscanf(line, "%127s v%d %63s", ename, &version, hex) != 3)
            die(where, "expected '<event> v<N> <16 hex digits>'");
        gevent_t *e = event_named(ename);
        if (!e || version < 1 || version > e->nversions || !e->versions[version - 1])
            die(where, "%s v%d is pinned but its schema is gone; released versions must stay",
                ename, version);
        char have[17];
        fp_hex(e->versions[version - 1]->fingerprint, have);
        if (strcmp(have, hex) != 0)
            die(where,
                "%s v%d was released with fingerprint %s but its schema now has %s: a released "
                "version must "
                "not change; restore it and add v%d instead",
                ename, version, hex, have, e->nversions + 1);
        pinned[e - events][version - 1] = true;
    }
    fclose(f);
    for (int i = 0; i < nevents; i++)
        for (int n = 0; n < events[i].nversions; n++)
            if (!pinned[i][n]) {
                char have[17];
                fp_hex(events[i].versions[n]->fingerprint, have);
                die(NULL, "%s v%d is not pinned; once it is final, add the line: %s v%d %s",
                    events[i].name, n + 1, events[i].name, n + 1, have);
            }
}

static const char usage[] =
    "usage: cs-schemagen SCHEMAS_DIR OUT_DIR FILE.avsc...\n"
    "       cs-schemagen SCHEMAS_DIR --lock FILE.avsc...\n"
    "\n"
    "Turns the event contract in SCHEMAS_DIR (envelope.avsc, topics.json, the FILE.avsc payload\n"
    "versions, paths relative to SCHEMAS_DIR) into OUT_DIR/cs/events.h, OUT_DIR/events_gen.c and\n"
    "OUT_DIR/events.md, after checking SCHEMAS_DIR/fingerprints.lock. With --lock it prints the\n"
    "fingerprint lines of a lock file instead. The build runs it; exit status 0, or 1 with a\n"
    "message naming the file and field it refuses, 2 on bad usage.\n";

/* Event e (index i) has versions 1..N without gaps, and each of its enums means what an earlier
 * event's enum of the same name means (one C enum per Avro enum name). */
static void check_event(int i)
{
    gevent_t *e = &events[i];
    cur_file = "topics.json";
    if (e->nversions == 0)
        die(e->name, "listed in topics.json but has no schema file (events/%s/v1.avsc)", e->name);
    for (int n = 0; n < e->nversions; n++)
        if (!e->versions[n])
            die(e->name, "version %d is missing; versions must be 1..%d without gaps", n + 1,
                e->nversions);
    gversion_t *v = e->versions[e->nversions - 1];
    for (int k = 0; k < v->nfields; k++) {
        if (!v->fields[k].enm)
            continue;
        for (int j = 0; j < i; j++) {
            gversion_t *w = events[j].versions[events[j].nversions - 1];
            for (int m = 0; m < w->nfields; m++)
                if (w->fields[m].enm &&
                    strcmp(w->fields[m].enm->name, v->fields[k].enm->name) == 0 &&
                    w->fields[m].enm != v->fields[k].enm) {
                    cur_file = v->file;
                    die(v->fields[k].name, "enum %s differs from its definition in %s",
                        v->fields[k].enm->name, events[j].name);
                }
        }
    }
}

/* Fingerprints must tell every writer schema apart. */
static void check_fingerprints_distinct(void)
{
    for (int i = 0; i < nevents; i++)
        for (int n = 0; n < events[i].nversions; n++)
            for (int j = 0; j < nevents; j++)
                for (int m = 0; m < events[j].nversions; m++)
                    if ((i != j || n != m) &&
                        events[i].versions[n]->fingerprint == events[j].versions[m]->fingerprint) {
                        cur_file = events[i].versions[n]->file;
                        die(NULL,
                            "same canonical form and fingerprint as %s; a new version must change "
                            "the schema's parsing form (field names or types), not only docs or "
                            "defaults",
                            events[j].versions[m]->file);
                    }
}

/* --lock: the pins of what was loaded, to start a lock file. */
static void print_lock(void)
{
    for (int i = 0; i < nevents; i++)
        for (int n = 0; n < events[i].nversions; n++) {
            char hex[17];
            fp_hex(events[i].versions[n]->fingerprint, hex);
            printf("%s v%d %s\n", events[i].name, n + 1, hex);
        }
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 4) {
        fputs(usage, stderr);
        return 2;
    }
    const char *dir = argv[1], *outdir = argv[2];
    load_topics(dir);
    load_envelope(dir);
    for (int i = 3; i < argc; i++)
        load_version(argv[i]);
    for (int i = 0; i < nevents; i++) {
        check_event(i);
        events[i].example = example_of(&events[i]);
    }
    check_fingerprints_distinct();
    if (strcmp(outdir, "--lock") == 0) {
        print_lock();
        return 0;
    }
    check_lock(dir);
    emit_header(outdir);
    emit_source(outdir);
    emit_markdown(outdir);
    return 0;
}

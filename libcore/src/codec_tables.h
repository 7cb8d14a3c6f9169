/*
 * libcore/src/codec_tables.h
 *      The shape of the event tables that libcore/gen/schemagen.c generates from schemas/.
 *
 * Everything that differs per event type (fields, types, limits, defaults, topics, versions,
 * fingerprints) reaches C through these tables, in the generated events_gen.c; the codec
 * (codec_int.h) walks them and holds no per-event code. Internal to libcore: the public face of the
 * same data is cs/events.h (payload structs and enums) and cs/codec.h.
 */
#ifndef CS_CODEC_TABLES_H
#define CS_CODEC_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* Field value types. Optional fields are unions of null and one of these. */
enum cs__ftype {
    CS__F_BOOL = 1, /* bool */
    CS__F_INT,      /* int32_t */
    CS__F_LONG,     /* int64_t (timestamp-millis too, see format) */
    CS__F_DOUBLE,   /* double */
    CS__F_STRING,   /* const char *, NUL-terminated, UTF-8, no NUL inside */
    CS__F_ENUM,     /* the C enum of the Avro enum (int-sized) */
    CS__F_STRV      /* array of strings: cs_strv_t */
};

/* Validation formats ("cs.format" and logical types). */
enum cs__fmt {
    CS__FMT_NONE = 0,
    CS__FMT_UUID,       /* canonical 8-4-4-4-12 hex uuid; stored lower-case */
    CS__FMT_TIMESTAMP,  /* timestamp-millis within [CS_CODEC_MIN_TIME_MS, CS_CODEC_MAX_TIME_MS] */
    CS__FMT_IDENTIFIER, /* [a-z0-9][a-z0-9._-]* */
    CS__FMT_CURRENCY,   /* ISO 4217 alphabetic code: three upper-case letters */
    CS__FMT_URL,        /* http:// or https:// followed by printable non-space characters */
    CS__FMT_TRACEPARENT /* W3C traceparent: 2-32-16-2 lower-case hex, ids not all zero */
};

typedef struct cs__enum_desc {
    const char *name; /* Avro name, e.g. "ApplicationStatus" */
    int nsymbols;
    const char *const *symbols;
} cs__enum_desc_t;

typedef struct cs__field_desc {
    const char *name;   /* "rating" */
    const char *path;   /* "payload.rating": what errors name */
    uint8_t type;       /* enum cs__ftype */
    uint8_t optional;   /* a union of null and type */
    uint8_t null_index; /* union branch of null (0 or 1) when optional */
    uint8_t format;     /* enum cs__fmt */
    uint8_t has_min, has_max;
    int64_t imin, imax;        /* integer bounds (INT, LONG) when has_min / has_max */
    double dmin, dmax;         /* DOUBLE bounds when has_min / has_max */
    uint32_t min_len, max_len; /* string bytes (STRING, and each STRV item) */
    uint32_t max_items;        /* STRV */
    const cs__enum_desc_t *enm;
    /* Where the value lives in the payload struct (current version only). */
    uint32_t offset;
    uint32_t has_offset; /* offset of `bool has_<name>`, or UINT32_MAX */
    /* The default, used when an older writer lacks the field. */
    uint8_t has_default;
    uint8_t default_null;
    int64_t default_i; /* BOOL, INT, LONG, ENUM (symbol index) */
    double default_d;
    const char *default_s;
    /* "cs.required_if": this optional field is required when another field (index) is present
     * (req_present) or, for an enum, holds one of the symbols in req_mask. -1 when none. */
    int req_field;
    uint8_t req_present;
    uint64_t req_mask;
    const char *doc;
    const char *example; /* JSON text of the example value, or NULL */
} cs__field_desc_t;

typedef struct cs__version_desc {
    int version;
    uint64_t fingerprint;    /* CRC-64-AVRO of canonical */
    const char *canonical;   /* Parsing Canonical Form of the full event schema */
    const char *schema_json; /* the full event schema (envelope + payload), compact JSON */
    int nfields;             /* payload fields of this version, in writer order */
    const cs__field_desc_t *fields;
} cs__version_desc_t;

typedef struct cs__event_desc {
    const char *name;  /* "job_application_submitted" */
    const char *topic; /* "cs.jobsearch" */
    const char *doc;
    size_t payload_size; /* sizeof the payload struct */
    int nfields;         /* current version's payload fields */
    const cs__field_desc_t *fields;
    int nversions; /* versions[nversions - 1] is current */
    const cs__version_desc_t *versions;
    uint8_t at_least_one; /* "cs.at_least_one": some optional field must be set */
    const char *example;  /* one example event in the documented JSON form */
} cs__event_desc_t;

/* Generated in events_gen.c. */
extern const cs__event_desc_t cs__events[];
extern const int cs__nevents;
/* The envelope's fields, in wire order, without the final "payload" field. */
extern const cs__field_desc_t cs__envelope_fields[];
extern const int cs__nenvelope_fields;

/* Envelope field positions the codec relies on; schemagen checks envelope.avsc matches. */
enum {
    CS__ENV_EVENT_ID = 0,
    CS__ENV_EVENT_TYPE,
    CS__ENV_OCCURRED_AT,
    CS__ENV_USER_ID,
    CS__ENV_PRODUCER,
    CS__ENV_SCHEMA_VERSION,
    CS__ENV_TRACEPARENT,
    CS__ENV_NFIELDS
};

/*
 * Implemented in codec.c. Whether a reader with fields r[0..rn) can read data written with fields
 * w[0..wn) (Avro schema resolution, restricted to what careerstream allows: fields matched by
 * name; a reader field the writer lacks needs a default; types equal, or int promoted to long or
 * double, long to double; a required reader field never comes from an optional writer field;
 * every writer enum symbol exists in the reader's enum). Returns 0, or -1 with the reason in why.
 */
int cs__codec_check_compat(const cs__field_desc_t *w, int wn, const cs__field_desc_t *r, int rn,
                           char *why, size_t whylen);

/*
 * Implemented in codec_wire.c. Decodes a message as cs_codec_decode does, but into a payload laid
 * out by arbitrary reader fields r[0..rn) (with their offsets), resolving the writer schema named
 * by the fingerprint against that reader: how an older reader sees newer data. The envelope is
 * skipped. Returns 0, or -1 with a PERMANENT err (also when the versions are incompatible).
 */
struct cs_codec;
struct cs_arena;
struct cs_err;
int cs__codec_decode_as(struct cs_codec *codec, const void *data, size_t len,
                        const cs__field_desc_t *r, int rn, struct cs_arena *arena, void *payload,
                        struct cs_err *err);

#endif /* CS_CODEC_TABLES_H */

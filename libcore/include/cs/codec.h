/*
 * libcore/include/cs/codec.h
 *      The event contract in C: decode, validate and encode careerstream events.
 *
 * Wire format: Avro single-object encoding (C3 01, the writer schema's 8-byte little-endian
 * CRC-64-AVRO fingerprint, the binary datum). The codec knows every version of every schema in
 * schemas/ (compiled in at build time), resolves an older writer version to the current reader
 * version, and validates everything a consumer relies on before handing the event out.
 * The per-event-type C structs and tables are generated at build time from schemas/ into
 * cs/events.h; nothing per event type is written here by hand.
 *
 * Memory: decoded strings and the payload struct live in the caller's arena and stay valid until
 * the arena is reset. The codec itself is immutable after cs_codec_new() except for internal
 * scratch, so one codec serves one thread.
 *
 * Errors: every decode/validation failure is CS_ERR_PERMANENT with err->field naming the field
 * ("payload.rating", "event_id", "fingerprint", "message") and err->msg the reason.
 */
#ifndef CS_CODEC_H
#define CS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "cs/api.h"
#include "cs/buf.h"
#include "cs/err.h"
#include "cs/events.h" /* generated from schemas/: payload structs, cs_event_type_t */

#ifdef __cplusplus
extern "C" {
#endif

/* The largest message the codec accepts, checked before anything else is read. */
#define CS_CODEC_MAX_MESSAGE_BYTES (64 * 1024)

/*
 * The sane range of every timestamp (occurred_at and timestamp-millis payload fields):
 * 2000-01-01T00:00:00Z inclusive to 2100-01-01T00:00:00Z exclusive. The upper bound is far in
 * the future on purpose: the load generator and backfills simulate days ahead of the wall clock,
 * and a consumer must never dead-letter an event for the host's clock being behind.
 */
#define CS_CODEC_MIN_TIME_MS INT64_C(946684800000)
#define CS_CODEC_MAX_TIME_MS INT64_C(4102444800000)

/* The single-object encoding header: C3 01 and the 8-byte little-endian fingerprint. */
#define CS_CODEC_HEADER_BYTES 10

typedef struct cs_codec cs_codec_t;

/* The envelope every event shares, decoded and validated. */
typedef struct cs_event {
    int type;                /* event type index, 0 .. cs_codec_ntypes()-1 (cs_event_type_t) */
    const char *type_name;   /* "job_application_submitted"; static storage */
    int schema_version;      /* the writer's schema version */
    uint64_t fingerprint;    /* the writer schema's CRC-64-AVRO fingerprint */
    char event_id[37];       /* canonical lower-case uuid */
    char user_id[37];        /* the learner; also the Kafka key */
    int64_t occurred_at_ms;  /* milliseconds since the Unix epoch, UTC */
    const char *producer;    /* app name, never NULL */
    const char *traceparent; /* W3C traceparent, "" when absent */
    const void *payload;     /* the typed payload struct of `type` (cs/events.h) */
} cs_event_t;

/* Builds a codec with every known schema. Returns NULL and sets err (FATAL) on failure. */
CS_API cs_codec_t *cs_codec_new(cs_err_t *err);
/* Accepts NULL. */
CS_API void cs_codec_destroy(cs_codec_t *codec);

/*
 * Decodes and validates one message. On success fills *ev (strings and payload in arena) and
 * returns 0; on failure returns -1 with a PERMANENT err naming the field. Never crashes, never
 * leaks, whatever the bytes; allocations are bounded by CS_CODEC_MAX_MESSAGE_BYTES-derived limits.
 *
 * On failure ev->payload is NULL and *ev keeps what was readable, for the dead letter: when the
 * envelope was read whole and is valid by itself (the failure is in the payload), every envelope
 * field is filled as on success (type, type_name, schema_version, event_id, user_id lower-cased,
 * occurred_at_ms, producer, traceparent); otherwise *ev is zeroed with type -1 and type_name NULL.
 */
CS_API int cs_codec_decode(cs_codec_t *codec, const void *data, size_t len, cs_arena_t *arena,
                           cs_event_t *ev, cs_err_t *err);

/*
 * Validates *ev and appends its single-object encoding (current schema version) to out.
 * Returns -1 with a PERMANENT err naming the field when ev is invalid (out is left unchanged).
 */
CS_API int cs_codec_encode(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out, cs_err_t *err);

/* Appends the documented JSON form of the whole event to out. */
CS_API int cs_codec_to_json(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out, cs_err_t *err);
/* Appends only the payload as a JSON object (used for jsonb columns). */
CS_API int cs_codec_payload_to_json(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out,
                                    cs_err_t *err);
/*
 * Appends the payload exactly as PostgreSQL's jsonb output function prints it (keys ordered by
 * length then bytes, ", " and ": " separators, numbers as numeric prints them): the same value
 * as cs_codec_payload_to_json, in the text `payload::text` gives back for a jsonb column, which
 * the audit log hashes (cs/audit.h). Returns -1 with a PERMANENT err naming the field for a value
 * jsonb cannot hold (a non-finite double); out is then left unchanged.
 */
CS_API int cs_codec_payload_to_jsonb(cs_codec_t *codec, const cs_event_t *ev, cs_buf_t *out,
                                     cs_err_t *err);

/*
 * Parses one event from its documented JSON form (one line of JSON Lines) and validates it like
 * decode does. Strings and payload go into arena. PERMANENT err naming the field on failure.
 */
CS_API int cs_codec_from_json(cs_codec_t *codec, const char *json, size_t len, cs_arena_t *arena,
                              cs_event_t *ev, cs_err_t *err);

/* The event type table. */
CS_API int cs_codec_ntypes(void);
/* Index of the event type called name, or -1. */
CS_API int cs_codec_type_by_name(const char *name);
/* Name and topic of a type index; NULL when out of range. */
CS_API const char *cs_codec_type_name(int type);
CS_API const char *cs_codec_type_topic(int type);
/* The current (encoding) schema version of a type, or -1 when out of range. */
CS_API int cs_codec_type_version(int type);
/* The CRC-64-AVRO fingerprint of a type's schema version (0: current); 0 when unknown. */
CS_API uint64_t cs_codec_type_fingerprint(int type, int version);
/* The full Avro schema (envelope and payload, JSON) of a version (0: current); NULL if unknown. */
CS_API const char *cs_codec_type_schema(int type, int version);
/* The Parsing Canonical Form of a version (0: current); NULL if unknown. */
CS_API const char *cs_codec_type_canonical(int type, int version);
/* One valid example event of the type in the documented JSON form (one line); NULL if unknown. */
CS_API const char *cs_codec_type_example(int type);

/* CRC-64-AVRO fingerprint of n bytes (of a schema's Parsing Canonical Form). */
CS_API uint64_t cs_codec_fingerprint(const void *canonical, size_t n);
/* Writes the fingerprint as 16 lower-case hex digits of its little-endian wire bytes + NUL. */
CS_API void cs_codec_fingerprint_hex(uint64_t fingerprint, char out[17]);

#ifdef __cplusplus
}
#endif

#endif /* CS_CODEC_H */

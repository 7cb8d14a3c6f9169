/*
 * libcore/include/cs/audit.h
 *      The tamper-evident audit log: canonical payloads, the row hash chain, and its verifier.
 *
 * cs-audit appends every event to system_logs. Rows form chains, one per source partition
 * (chain_key "topic/partition"), numbered by chain_seq from 1. Each row stores
 *      payload_sha256 = SHA-256(jsonb text of the payload)
 *      row_hash       = SHA-256(prev_hash || canonical row)
 * where prev_hash is the previous row's row_hash (32 zero bytes for the first row) and the
 * canonical row is every column that identifies the event, length-prefixed (cs_audit_row_hash).
 * The row hash covers payload_sha256, not the payload itself, so the documented redaction path
 * (audit_redact_user() in SQL) can replace a payload with the redaction marker while the chain
 * stays verifiable. The payload hash is taken over exactly the text PostgreSQL prints for the
 * stored jsonb (cs_audit_jsonb_text), so the verifier can recompute it inside the database.
 *
 * A superuser can still rewrite the whole chain consistently; export the chain heads
 * (audit_chain_heads) outside the database to anchor them.
 */
#ifndef CS_AUDIT_H
#define CS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/buf.h"
#include "cs/db.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CS_AUDIT_HASH_BYTES 32

/*
 * Appends to out the text PostgreSQL's jsonb output function prints for the JSON document json
 * (keys ordered by length then bytes, ", " and ": " separators, numbers as numeric prints them,
 * strings re-escaped the way jsonb does). Returns -1 with a PERMANENT err on malformed JSON or a
 * value jsonb refuses (\u0000).
 */
int cs_audit_jsonb_text(const char *json, size_t len, cs_buf_t *out, cs_err_t *err);

/* One audit row's identifying columns; strings may be NULL (SQL NULL). */
typedef struct cs_audit_row {
    const char *event_id;
    const char *event_type;
    int schema_version;
    const char *user_id;
    int64_t occurred_at_ms;
    const char *source_topic;
    int source_partition;
    int64_t source_offset;
    const char *producer;
    const char *traceparent;
    unsigned char payload_sha256[CS_AUDIT_HASH_BYTES];
    const char *chain_key;
    int64_t chain_seq;
} cs_audit_row_t;

/* SHA-256 of data. */
void cs_audit_sha256(const void *data, size_t len, unsigned char out[CS_AUDIT_HASH_BYTES]);

/* row_hash = SHA-256(prev || canonical row); prev NULL means 32 zero bytes (first row). */
void cs_audit_row_hash(const unsigned char *prev, const cs_audit_row_t *row,
                       unsigned char out[CS_AUDIT_HASH_BYTES]);

/* The result of a verification walk. */
typedef struct cs_audit_report {
    long long rows;     /* rows checked */
    long long chains;   /* chains seen */
    long long redacted; /* rows whose payload was redacted through the documented path */
    bool ok;            /* no broken link found */
    /* The first broken link, when !ok. */
    char chain_key[128];
    long long chain_seq;
    long long log_id;
    char reason[256];
} cs_audit_report_t;

/*
 * Walks system_logs rows with logged_at in [from_ms, to_ms) chain by chain, in chain_seq order,
 * and checks every link: contiguous chain_seq, prev_hash equal to the previous row's row_hash
 * (the row before the range is looked up), row_hash recomputed from the stored columns, and the
 * payload hash recomputed from the stored jsonb unless the payload was redacted. Stops at the
 * first broken link and describes it in rep. Returns 0 when the walk completed (rep->ok says
 * whether the log is intact), -1 with err when it could not be done (database errors).
 */
int cs_audit_verify(cs_db_t *db, int64_t from_ms, int64_t to_ms, cs_audit_report_t *rep,
                    cs_err_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CS_AUDIT_H */

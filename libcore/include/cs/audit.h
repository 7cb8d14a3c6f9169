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
 * stays verifiable. The payload hash is taken over exactly the text PostgreSQL's jsonb output
 * prints for the payload (cs_codec_payload_to_jsonb), which system_logs.payload (json since
 * migration 0101) stores byte for byte, so the verifier can recompute it inside the database.
 *
 * Hash versions (system_logs.hash_version): version 1 (rows written before migration 0061)
 * leaves logged_at, severity and occurred_at below the millisecond outside the hash; version 2,
 * what cs-audit writes now, covers every column of the row but log_id (a surrogate key the
 * database assigns at insert; the order of a chain is chain_seq). A chain never goes back from
 * version 2 to 1: the verifier reports it.
 *
 * The chain heads (audit_chain_heads) only move forward, along rows of the log (migration 0061's
 * trigger). A superuser can still rewrite a chain and its head consistently; cs-audit therefore
 * publishes checkpoints of the heads (anchors) to a Kafka topic the database cannot touch, and
 * the verifier checks the log against the latest anchor of every chain (cs_audit_verify_anchors).
 */
#ifndef CS_AUDIT_H
#define CS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/api.h"
#include "cs/buf.h"
#include "cs/db.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CS_AUDIT_HASH_BYTES 32

#define CS_AUDIT_HASH_V1 1 /* legacy: logged_at, severity, sub-ms occurred_at outside */
#define CS_AUDIT_HASH_V2 2 /* every column but log_id */

/* One audit row's columns; strings may be NULL (SQL NULL). */
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
    /* Version 2 only (hash_version 0 or 1 means version 1 and ignores them). */
    int hash_version;
    int64_t occurred_at_us; /* occurred_at in microseconds since the epoch */
    int64_t logged_at_us;   /* logged_at in microseconds since the epoch */
    const char *severity;
} cs_audit_row_t;

/* SHA-256 of data. */
CS_API void cs_audit_sha256(const void *data, size_t len, unsigned char out[CS_AUDIT_HASH_BYTES]);

/*
 * row_hash = SHA-256(prev || canonical row); prev NULL means 32 zero bytes (first row). The
 * canonical row of row->hash_version (see the top of this file).
 */
CS_API void cs_audit_row_hash(const unsigned char *prev, const cs_audit_row_t *row,
                              unsigned char out[CS_AUDIT_HASH_BYTES]);

#define CS_AUDIT_MAX_PROBLEMS 32

/* The result of a verification walk. */
typedef struct cs_audit_report {
    long long rows;     /* rows checked */
    long long chains;   /* chains seen */
    long long redacted; /* rows whose payload was redacted through the documented path */
    long long legacy;   /* rows of hash version 1 */
    long long heads;    /* chain heads compared with the log */
    long long anchors;  /* anchors compared with the log (cs_audit_verify_anchors) */
    bool ok;            /* no problem found */
    /* The first problem, when !ok. */
    char chain_key[128];
    long long chain_seq;
    long long log_id;
    char reason[256];
    /* Every problem, one per chain ("chain <key>: <what>"), the first CS_AUDIT_MAX_PROBLEMS. */
    long long nproblems;
    char problems[CS_AUDIT_MAX_PROBLEMS][400];
} cs_audit_report_t;

/*
 * Walks system_logs rows with logged_at in [from_ms, to_ms) chain by chain, in chain_seq order,
 * and checks every link: contiguous chain_seq, prev_hash equal to the previous row's row_hash
 * (the row before the range is looked up), row_hash recomputed from the stored columns, and the
 * payload hash recomputed from the stored payload text unless the payload was redacted. A chain's
 * first broken link is its problem; the walk goes on with the next chain. At the end of each chain
 * in the range, the row after it (if the chain's head is further) must link, hash and be logged at
 * or after to_ms (a row moved out of the range by editing logged_at is caught). Then every chain
 * head in audit_chain_heads is compared with the log, whatever the range: a chain without rows
 * (missing), ending before its head (truncated), running past it, or whose row at the head's seq
 * has another hash is a problem, and so is a chain of the range without a head. Returns 0 when
 * the walk completed (rep->ok says whether the log is intact), -1 with err when it could not be
 * done (database errors).
 */
CS_API int cs_audit_verify(cs_db_t *db, int64_t from_ms, int64_t to_ms, cs_audit_report_t *rep,
                           cs_err_t *err);

/* ---- anchors ----------------------------------------------------------------------------------
 *
 * An anchor is a checkpoint of one chain's head published outside the database: a record on a
 * Kafka topic (default CS_AUDIT_ANCHOR_TOPIC, log-compacted, one partition) keyed by chain_key,
 * whose value is {"chain_key": ..., "chain_seq": N, "row_hash": "<64 hex>", "last_offset": N,
 * "anchored_at_ms": N}. Compaction keeps at least the latest record of every chain forever: the
 * anchor of a chain idle for months is never deleted by time retention. Only cs-audit's Kafka
 * principal may write the topic (ACLs); a database superuser holds no Kafka credentials.
 */
#define CS_AUDIT_ANCHOR_TOPIC "cs.audit.anchors"

typedef struct cs_audit_anchor {
    char chain_key[128];
    long long chain_seq;
    unsigned char row_hash[CS_AUDIT_HASH_BYTES];
    long long last_offset;
    long long anchored_at_ms;
} cs_audit_anchor_t;

typedef struct cs_audit_anchorer cs_audit_anchorer_t;

/*
 * Creates a publisher of anchors to topic on brokers (kafka_props: extra librdkafka properties
 * "name=value,...", may be NULL; topic NULL: CS_AUDIT_ANCHOR_TOPIC). The first publish creates the
 * topic when it does not exist (compacted, one partition, the broker's replication factor).
 * Returns NULL with a FATAL err when the configuration is refused.
 */
CS_API cs_audit_anchorer_t *cs_audit_anchorer_new(const char *brokers, const char *kafka_props,
                                                  const char *topic, cs_err_t *err);

/*
 * Reads the committed heads of the chains chain_keys[0..n) from audit_chain_heads (db: a
 * connection outside any batch's transaction) and queues an anchor for each one that moved since
 * the last anchor this anchorer queued for it. Returns the number queued, or -1 with err
 * (TRANSIENT: the topic could not be created within 30 s or the local queue is full; database
 * errors as cs_db_query classifies them).
 */
CS_API int cs_audit_anchorer_publish(cs_audit_anchorer_t *an, cs_db_t *db,
                                     const char *const *chain_keys, int n, cs_err_t *err);

/* Waits up to timeout_ms until every queued anchor is acknowledged (acks=all). 0, or -1 with err.
 */
CS_API int cs_audit_anchorer_flush(cs_audit_anchorer_t *an, int timeout_ms, cs_err_t *err);

/* Anchors acknowledged and failed so far. */
CS_API long long cs_audit_anchorer_delivered(const cs_audit_anchorer_t *an);
CS_API long long cs_audit_anchorer_failed(const cs_audit_anchorer_t *an);

/* Flushes for up to 10 s and frees. Accepts NULL. */
CS_API void cs_audit_anchorer_destroy(cs_audit_anchorer_t *an);

/*
 * Reads topic from its beginning to its end (the high watermarks at the start) and returns in
 * *anchors (malloc'ed, the caller frees) the latest anchor of every chain: the one with the
 * highest chain_seq. Returns 0; 1 when the topic does not exist (*n = 0); -1 with err when the
 * broker did not answer within timeout_ms (TRANSIENT) or a record is malformed (PERMANENT).
 */
CS_API int cs_audit_anchors_read(const char *brokers, const char *kafka_props, const char *topic,
                                 int timeout_ms, cs_audit_anchor_t **anchors, size_t *n,
                                 cs_err_t *err);

/*
 * Checks the log against anchors[0..n): every anchored chain must still have its row at the
 * anchored seq with the anchored row_hash, and a head at or past it. Each failure is a problem
 * in rep (which must come from cs_audit_verify, or be zeroed with rep->ok = true). Returns 0, or
 * -1 with err (database errors).
 */
CS_API int cs_audit_verify_anchors(cs_db_t *db, const cs_audit_anchor_t *anchors, size_t n,
                                   cs_audit_report_t *rep, cs_err_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CS_AUDIT_H */

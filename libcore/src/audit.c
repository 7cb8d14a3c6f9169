/*
 * libcore/src/audit.c
 *      The audit log's hashing rules and its verifier (see cs/audit.h).
 *
 * Two things must agree byte for byte between the writer (cs-audit, in C) and the verifier (C
 * reading rows back): the canonical row, defined once here in cs_audit_row_hash(), and the payload
 * text, which is defined by PostgreSQL itself (jsonb's output function); the writer renders it
 * with cs_codec_payload_to_jsonb() and the json column (migration 0101) stores it byte for byte,
 * so that the verifier can hash payload::text in SQL.
 */
#include "cs/audit.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/log.h"
#include "cs/mem.h"
#include "cs/text.h"
#include "internal.h"

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

/* Length-prefixed field: "<len>:<bytes>", or "-" for NULL; unambiguous whatever the bytes. */
static char *field(char *o, const char *s, size_t n)
{
    char num[CS_TEXT_INT_BYTES];
    size_t nl;

    if (!s) {
        *o++ = '-';
        return o;
    }
    nl = cs_text_i64(num, (int64_t)n);
    memcpy(o, num, nl);
    o += nl;
    *o++ = ':';
    memcpy(o, s, n);
    return o + n;
}

static char *num_field(char *o, long long v)
{
    char num[CS_TEXT_INT_BYTES];

    return field(o, num, cs_text_i64(num, v));
}

void cs_audit_row_hash(const unsigned char *prev, const cs_audit_row_t *r,
                       unsigned char out[CS_AUDIT_HASH_BYTES])
{
    static const unsigned char zero[CS_AUDIT_HASH_BYTES];
    static _Thread_local cs_buf_t b = CS_BUF_INIT;
    const char *strs[] = {r->event_id, r->event_type,  r->user_id,   r->source_topic,
                          r->producer, r->traceparent, r->chain_key, r->severity};
    bool v2 = r->hash_version >= CS_AUDIT_HASH_V2;
    size_t lens[8], need = 2 * CS_AUDIT_HASH_BYTES + 11 + 8 * 24;
    char *o, *start;

    for (int i = 0; i < 8; i++) {
        lens[i] = strs[i] ? strlen(strs[i]) : 0;
        need += lens[i] + 24;
    }
    cs_buf_reset(&b);
    o = start = cs_buf_reserve(&b, need);
    memcpy(o, prev ? prev : zero, CS_AUDIT_HASH_BYTES);
    o += CS_AUDIT_HASH_BYTES;
    memcpy(o, v2 ? "cs-audit-v2" : "cs-audit-v1", 11);
    o += 11;
    o = field(o, r->event_id, lens[0]);
    o = field(o, r->event_type, lens[1]);
    o = num_field(o, r->schema_version);
    o = field(o, r->user_id, lens[2]);
    if (v2) {
        /* Version 2: times to the microsecond, and the two columns version 1 left out. */
        o = num_field(o, r->occurred_at_us);
        o = num_field(o, r->logged_at_us);
        o = field(o, r->severity, lens[7]);
    } else {
        o = num_field(o, r->occurred_at_ms);
    }
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

static void tohex(const unsigned char *h, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Whether a problem of chain was already recorded (one per chain is enough to name it). */
static bool has_problem(const cs_audit_report_t *rep, const char *chain)
{
    size_t n = strlen(chain);
    long long k = rep->nproblems < CS_AUDIT_MAX_PROBLEMS ? rep->nproblems : CS_AUDIT_MAX_PROBLEMS;

    for (long long i = 0; i < k; i++)
        if (!strncmp(rep->problems[i] + 6, chain, n) && rep->problems[i][6 + n] == ':')
            return true;
    return false;
}

/* Records "chain <chain>: <reason>" unless the chain already has a problem. */
static void broken(cs_audit_report_t *rep, const char *chain, long long seq, long long log_id,
                   const char *reason)
{
    if (has_problem(rep, chain))
        return;
    if (rep->ok) {
        rep->ok = false;
        snprintf(rep->chain_key, sizeof(rep->chain_key), "%s", chain);
        rep->chain_seq = seq;
        rep->log_id = log_id;
        snprintf(rep->reason, sizeof(rep->reason), "%s", reason);
    }
    if (rep->nproblems < CS_AUDIT_MAX_PROBLEMS)
        snprintf(rep->problems[rep->nproblems], sizeof(rep->problems[0]), "chain %s: %s", chain,
                 reason);
    rep->nproblems++;
}

/*
 * The columns a row is checked from, in this order (check_row reads them from column c0 on):
 * 0 chain_key, 1 chain_seq, 2 log_id, 3..12 the identifying columns, 13 payload_sha256,
 * 14 prev_hash, 15 row_hash, 16 redacted, 17 payload hash ok, 18 hash_version, 19 occurred_at
 * in us, 20 logged_at in us, 21 severity.
 */
#define ROW_COLS                                                                                   \
    "chain_key, chain_seq, log_id, event_id, event_type, schema_version, user_id, "                \
    "(extract(epoch FROM occurred_at) * 1000)::bigint, source_topic, source_partition, "           \
    "source_offset, producer, traceparent, encode(payload_sha256, 'hex'), "                        \
    "encode(prev_hash, 'hex'), encode(row_hash, 'hex'), "                                          \
    "payload::text = cs_audit_redaction_marker()::text, "                                          \
    "sha256(convert_to(payload::text, 'UTF8')) = payload_sha256, hash_version, "                   \
    "(extract(epoch FROM occurred_at) * 1000000)::bigint, "                                        \
    "(extract(epoch FROM logged_at) * 1000000)::bigint, severity"

/*
 * Checks the row at (r, i) whose columns start at c0: its prev_hash links to prev (NULL: trust the
 * stored prev_hash, only the row itself is checked), its row_hash is recomputed from its columns,
 * its payload matches payload_sha256 unless redacted. Returns 0 with the row's hash in hash, or
 * -1 with why.
 */
static int check_row(const cs_db_res_t *r, int i, int c0, const unsigned char *prev,
                     unsigned char hash[CS_AUDIT_HASH_BYTES], bool *redacted, const char **why)
{
#define COL(k) cs_db_res_get(r, i, c0 + (k))
    long long seq = atoll(COL(1));
    const char *sp = COL(14);
    unsigned char stored_prev[CS_AUDIT_HASH_BYTES], computed[CS_AUDIT_HASH_BYTES];
    cs_audit_row_t row = {0};

    *redacted = COL(16) && COL(16)[0] == 't';
    if (unhex(COL(15), hash, 32) < 0 || unhex(COL(13), row.payload_sha256, 32) < 0 ||
        (sp && unhex(sp, stored_prev, 32) < 0)) {
        *why = "a hash column is malformed";
        return -1;
    }
    if (seq == 1 ? sp != NULL : (!sp || (prev && memcmp(stored_prev, prev, 32) != 0))) {
        *why = "prev_hash does not match the previous row's hash";
        return -1;
    }
    row.chain_key = COL(0);
    row.chain_seq = seq;
    row.event_id = COL(3);
    row.event_type = COL(4);
    row.schema_version = COL(5) ? atoi(COL(5)) : 0;
    row.user_id = COL(6);
    row.occurred_at_ms = atoll(COL(7));
    row.source_topic = COL(8);
    row.source_partition = atoi(COL(9));
    row.source_offset = atoll(COL(10));
    row.producer = COL(11);
    row.traceparent = COL(12);
    row.hash_version = atoi(COL(18));
    row.occurred_at_us = atoll(COL(19));
    row.logged_at_us = atoll(COL(20));
    row.severity = COL(21);
    cs_audit_row_hash(seq == 1 ? NULL : stored_prev, &row, computed);
    if (memcmp(computed, hash, 32) != 0) {
        *why = "the row's columns do not match its row_hash";
        return -1;
    }
    if (!*redacted && !(COL(17) && COL(17)[0] == 't')) {
        *why = "the payload does not match its payload_sha256";
        return -1;
    }
    return 0;
#undef COL
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

/*
 * Every head against the log, whatever the range: the chain has rows, ends exactly at its head,
 * and its row at the head's seq has the head's hash and is itself intact (its logged_at, say,
 * was not moved out of the range the walk checks).
 */
static int check_heads(cs_db_t *db, cs_audit_report_t *rep, cs_err_t *err)
{
    cs_db_res_t *r = cs_db_query(
        db,
        "SELECT h.chain_key, h.chain_seq, encode(h.row_hash, 'hex'), "
        "(SELECT max(m.chain_seq) FROM system_logs m WHERE m.chain_key = h.chain_key), l.* "
        "FROM audit_chain_heads h LEFT JOIN LATERAL (SELECT " ROW_COLS " FROM system_logs s "
        "WHERE s.chain_key = h.chain_key AND s.chain_seq = h.chain_seq LIMIT 1) l ON true "
        "ORDER BY h.chain_key",
        0, NULL, err);

    if (!r)
        return -1;
    for (int i = 0; i < cs_db_res_rows(r); i++) {
        const char *chain = cs_db_res_get(r, i, 0);
        long long head = atoll(cs_db_res_get(r, i, 1));
        const char *max = cs_db_res_get(r, i, 3);
        char why[256];

        rep->heads++;
        if (!max) {
            snprintf(why, sizeof why, "is missing: no row in the log, its head is at seq %lld",
                     head);
            broken(rep, chain, head, 0, why);
        } else if (atoll(max) < head) {
            snprintf(why, sizeof why,
                     "is truncated: the log ends at seq %s, its head is at seq %lld", max, head);
            broken(rep, chain, atoll(max) + 1, 0, why);
        } else if (atoll(max) > head) {
            snprintf(why, sizeof why,
                     "runs past its head: the log ends at seq %s, its head is at "
                     "seq %lld",
                     max, head);
            broken(rep, chain, head + 1, 0, why);
        } else if (!cs_db_res_get(r, i, 4)) {
            snprintf(why, sizeof why, "row %lld (its head) is missing", head);
            broken(rep, chain, head, 0, why);
        } else {
            unsigned char hash[32], want[32];
            bool redacted;
            const char *reason = NULL;

            if (unhex(cs_db_res_get(r, i, 2), want, 32) < 0 ||
                check_row(r, i, 4, NULL, hash, &redacted, &reason) < 0 ||
                memcmp(hash, want, 32) != 0) {
                snprintf(why, sizeof why, "its head row %lld: %s", head,
                         reason ? reason : "row_hash differs from the head's");
                broken(rep, chain, head, atoll(cs_db_res_get(r, i, 6)), why);
            }
        }
    }
    cs_db_res_free(r);
    return 0;
}

/*
 * The end of chain's rows in the range (last_seq, last_hash): the chain has a head, and when the
 * head is further the next row exists, links, is intact and was logged at or after to_ms.
 */
static int chain_end(cs_db_t *db, const char *chain, long long last_seq,
                     const unsigned char *last_hash, int64_t to_ms, cs_audit_report_t *rep,
                     cs_err_t *err)
{
    char s[32], why[256];
    const char *params[] = {chain, s};
    cs_db_res_t *r;
    long long head;

    snprintf(s, sizeof(s), "%lld", last_seq + 1);
    r = cs_db_query(db, "SELECT chain_seq FROM audit_chain_heads WHERE chain_key = $1", 1, params,
                    err);
    if (!r)
        return -1;
    head = cs_db_res_rows(r) == 1 ? atoll(cs_db_res_get(r, 0, 0)) : -1;
    cs_db_res_free(r);
    if (head < 0) {
        broken(rep, chain, last_seq, 0, "has rows but no head in audit_chain_heads");
        return 0;
    }
    if (head <= last_seq)
        return 0; /* check_heads() compares the rest */
    r = cs_db_query(db,
                    "SELECT " ROW_COLS " FROM system_logs WHERE chain_key = $1 AND chain_seq = $2",
                    2, params, err);
    if (!r)
        return -1;
    if (cs_db_res_rows(r) == 0) {
        snprintf(why, sizeof why, "row %lld is missing (its head is at seq %lld)", last_seq + 1,
                 head);
        broken(rep, chain, last_seq + 1, 0, why);
    } else {
        unsigned char hash[32];
        bool redacted;
        const char *reason = NULL;
        long long log_id = atoll(cs_db_res_get(r, 0, 2));

        if (check_row(r, 0, 0, last_hash, hash, &redacted, &reason) < 0) {
            snprintf(why, sizeof why, "row %lld, just after the range: %s", last_seq + 1, reason);
            broken(rep, chain, last_seq + 1, log_id, why);
        } else if (atoll(cs_db_res_get(r, 0, 20)) < to_ms * 1000) {
            snprintf(why, sizeof why,
                     "row %lld is logged before the end of the range but "
                     "outside it (logged_at out of order)",
                     last_seq + 1);
            broken(rep, chain, last_seq + 1, log_id, why);
        }
    }
    cs_db_res_free(r);
    return 0;
}

/* Where the walk over the range's rows is: the chain it is in and that chain's last good row. */
typedef struct walk {
    char chain[128];
    unsigned char prev_hash[32];
    long long prev_seq;
    int version;   /* the chain's hash version so far: it never goes back */
    bool in_chain; /* a chain has begun */
    bool skip;     /* the chain's first problem is recorded: its other rows are not checked */
} walk_t;

/*
 * The first row in the range of chain key, at seq: ends the previous chain, then links this one
 * to its row before the range. Returns -1 with err on a database failure.
 */
static int walk_chain_start(cs_db_t *db, walk_t *w, const char *key, long long seq,
                            long long log_id, int64_t to_ms, cs_audit_report_t *rep, cs_err_t *err)
{
    if (w->in_chain && !w->skip &&
        chain_end(db, w->chain, w->prev_seq, w->prev_hash, to_ms, rep, err) < 0)
        return -1;
    w->in_chain = true;
    w->skip = false;
    w->version = 0;
    rep->chains++;
    snprintf(w->chain, sizeof(w->chain), "%s", key);
    if (seq == 1) {
        memset(w->prev_hash, 0, sizeof(w->prev_hash));
    } else {
        int pr = predecessor(db, w->chain, seq - 1, w->prev_hash, err);

        if (pr == -2)
            return -1;
        if (pr < 0) {
            broken(rep, w->chain, seq, log_id, "the previous row of the chain is missing");
            w->skip = true;
        }
    }
    w->prev_seq = seq - 1;
    return 0;
}

/* Checks row i of r against the chain's previous row (sequence, hash version, hashes). */
static void walk_check(walk_t *w, cs_db_res_t *r, int i, long long seq, long long log_id, int v,
                       cs_audit_report_t *rep)
{
    unsigned char hash[32];
    bool redacted;
    const char *why = NULL;

    if (seq != w->prev_seq + 1) {
        char gap[128];

        snprintf(gap, sizeof(gap), "rows %lld..%lld of the chain are missing", w->prev_seq + 1,
                 seq - 1);
        broken(rep, w->chain, seq, log_id, gap);
        w->skip = true;
        return;
    }
    if (v < w->version) {
        broken(rep, w->chain, seq, log_id, "its hash version goes back to 1");
        w->skip = true;
        return;
    }
    w->version = v;
    if (check_row(r, i, 0, w->prev_hash, hash, &redacted, &why) < 0) {
        broken(rep, w->chain, seq, log_id, why);
        w->skip = true;
        return;
    }
    if (redacted)
        rep->redacted++;
    memcpy(w->prev_hash, hash, 32);
    w->prev_seq = seq;
}

/* Walks the rows of cursor audit_walk, 5000 at a time. Returns -1 with err on a db failure. */
static int walk_rows(cs_db_t *db, walk_t *w, int64_t to_ms, cs_audit_report_t *rep, cs_err_t *err)
{
    for (;;) {
        cs_db_res_t *r = cs_db_query(db, "FETCH 5000 FROM audit_walk", 0, NULL, err);
        int n;

        if (!r)
            return -1;
        n = cs_db_res_rows(r);
        if (n == 0) {
            cs_db_res_free(r);
            return 0;
        }
        for (int i = 0; i < n; i++) {
            const char *key = cs_db_res_get(r, i, 0);
            long long seq = atoll(cs_db_res_get(r, i, 1));
            long long log_id = atoll(cs_db_res_get(r, i, 2));
            int v = atoi(cs_db_res_get(r, i, 18));

            rep->rows++;
            if (v < CS_AUDIT_HASH_V2)
                rep->legacy++;
            if ((!w->in_chain || strcmp(key, w->chain) != 0) &&
                walk_chain_start(db, w, key, seq, log_id, to_ms, rep, err) < 0) {
                cs_db_res_free(r);
                return -1;
            }
            if (!w->skip)
                walk_check(w, r, i, seq, log_id, v, rep);
        }
        cs_db_res_free(r);
    }
}

int cs_audit_verify(cs_db_t *db, int64_t from_ms, int64_t to_ms, cs_audit_report_t *rep,
                    cs_err_t *err)
{
    char from[32], to[32];
    const char *params[] = {from, to};
    walk_t w = {.in_chain = false};
    int rc = -1;
    cs_err_t ignore;

    memset(rep, 0, sizeof(*rep));
    rep->ok = true;
    snprintf(from, sizeof(from), "%lld", (long long)from_ms);
    snprintf(to, sizeof(to), "%lld", (long long)to_ms);
    /* A repeatable-read snapshot so rows appended meanwhile cannot make the walk inconsistent;
     * a cursor so a range of millions of rows does not sit in memory at once. */
    if (cs_db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) < 0)
        return -1;
    if (check_heads(db, rep, err) < 0)
        goto out;
    if (cs_db_execp(db,
                    "DECLARE audit_walk NO SCROLL CURSOR FOR SELECT " ROW_COLS " FROM system_logs "
                    "WHERE logged_at >= to_timestamp($1::bigint / 1000.0) "
                    "AND logged_at < to_timestamp($2::bigint / 1000.0) "
                    "ORDER BY chain_key, chain_seq",
                    2, params, err) < 0)
        goto out;
    if (walk_rows(db, &w, to_ms, rep, err) < 0)
        goto out;
    if (w.in_chain && !w.skip &&
        chain_end(db, w.chain, w.prev_seq, w.prev_hash, to_ms, rep, err) < 0)
        goto out;
    rc = 0;
out:
    cs_db_exec(db, "ROLLBACK", &ignore);
    return rc;
}

int cs_audit_verify_anchors(cs_db_t *db, const cs_audit_anchor_t *anchors, size_t n,
                            cs_audit_report_t *rep, cs_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        const cs_audit_anchor_t *a = &anchors[i];
        char s[32], why[256], want[65];
        const char *params[] = {a->chain_key, s};
        const char *head, *hash, *max;
        cs_db_res_t *r;

        snprintf(s, sizeof s, "%lld", a->chain_seq);
        r = cs_db_query(db,
                        "SELECT (SELECT chain_seq FROM audit_chain_heads WHERE chain_key = $1), "
                        "(SELECT encode(row_hash, 'hex') FROM system_logs "
                        "WHERE chain_key = $1 AND chain_seq = $2::bigint LIMIT 1), "
                        "(SELECT max(chain_seq) FROM system_logs WHERE chain_key = $1)",
                        2, params, err);
        if (!r)
            return -1;
        rep->anchors++;
        head = cs_db_res_get(r, 0, 0);
        hash = cs_db_res_get(r, 0, 1);
        max = cs_db_res_get(r, 0, 2);
        tohex(a->row_hash, 32, want);
        if (!hash && !max && !head) {
            snprintf(why, sizeof why, "is missing: anchored at seq %lld, no row and no head left",
                     a->chain_seq);
            broken(rep, a->chain_key, a->chain_seq, 0, why);
        } else if (!hash) {
            snprintf(why, sizeof why, "lost its anchored row %lld: the log ends at seq %s",
                     a->chain_seq, max ? max : "0");
            broken(rep, a->chain_key, a->chain_seq, 0, why);
        } else if (strcmp(hash, want) != 0) {
            snprintf(why, sizeof why, "row %lld differs from its anchor (rewritten)", a->chain_seq);
            broken(rep, a->chain_key, a->chain_seq, 0, why);
        } else if (!head || atoll(head) < a->chain_seq) {
            snprintf(why, sizeof why, "its head (seq %s) is behind its anchor at seq %lld",
                     head ? head : "none", a->chain_seq);
            broken(rep, a->chain_key, a->chain_seq, 0, why);
        }
        cs_db_res_free(r);
    }
    return 0;
}

/* ---- anchors on Kafka ------------------------------------------------------------------------ */

struct anchored {
    char *key;
    long long seq; /* the last seq queued for the chain */
};

struct cs_audit_anchorer {
    rd_kafka_t *rk;
    char *topic;
    struct anchored *sent;
    size_t nsent, capsent;
    long long delivered, failed;
    bool ready; /* the topic exists */
};

static void anchor_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    cs_audit_anchorer_t *an = opaque;

    (void)rk;
    if (m->err) {
        an->failed++;
        cs_log_warn("audit anchor not delivered", CS_LS("error", rd_kafka_err2str(m->err)));
    } else {
        an->delivered++;
    }
}

/* A Kafka client on brokers with kafka_props, of type; NULL with err. */
static rd_kafka_t *kafka_new(rd_kafka_type_t type, const char *brokers, const char *kafka_props,
                             const char *const (*kv)[2], size_t nkv, void *opaque, cs_err_t *err)
{
    rd_kafka_conf_t *conf = cs__kafka_conf_new(brokers, kv, nkv, kafka_props, err);
    rd_kafka_t *rk;
    char errstr[512];

    if (!conf)
        return NULL;
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, anchor_dr_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        cs_err_set(err, CS_ERR_FATAL, "kafka client: %s", errstr);
    }
    return rk;
}

/* Creates topic (compacted, one partition) unless it exists. */
static int anchor_topic_ensure(rd_kafka_t *rk, const char *topic, cs_err_t *err)
{
    char errstr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, -1, errstr, sizeof errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    int rc = -1;

    if (!nt) {
        cs_err_set(err, CS_ERR_FATAL, "anchor topic '%s': %s", topic, errstr);
        goto out;
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_AdminOptions_set_operation_timeout(o, 30000, NULL, 0);
    rd_kafka_AdminOptions_set_request_timeout(o, 30000, NULL, 0);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    ev = rd_kafka_queue_poll(q, 35000);
    if (!ev) {
        cs_err_set(err, CS_ERR_TRANSIENT, "creating anchor topic '%s': no answer", topic);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        cs_err_set(err, CS_ERR_TRANSIENT, "creating anchor topic '%s': %s", topic,
                   rd_kafka_event_error_string(ev));
        goto out;
    }
    {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(res[0]) : 0;

        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            cs_err_set(err, CS_ERR_TRANSIENT, "creating anchor topic '%s': %s", topic,
                       rd_kafka_topic_result_error_string(res[0]));
            goto out;
        }
    }
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    return rc;
}

cs_audit_anchorer_t *cs_audit_anchorer_new(const char *brokers, const char *kafka_props,
                                           const char *topic, cs_err_t *err)
{
    static const char *const kv[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "5"},
        {"message.timeout.ms", "30000"},
        {"client.id", "careerstream-audit-anchor"}, /* names it in librdkafka's log lines */
    };
    cs_audit_anchorer_t *an = cs_mem_calloc(1, sizeof *an);

    an->topic = cs_mem_strdup(topic && *topic ? topic : CS_AUDIT_ANCHOR_TOPIC);
    an->rk =
        kafka_new(RD_KAFKA_PRODUCER, brokers, kafka_props, kv, sizeof kv / sizeof kv[0], an, err);
    if (!an->rk) {
        cs_audit_anchorer_destroy(an);
        return NULL;
    }
    return an;
}

static struct anchored *anchored_get(cs_audit_anchorer_t *an, const char *key)
{
    for (size_t i = 0; i < an->nsent; i++)
        if (!strcmp(an->sent[i].key, key))
            return &an->sent[i];
    if (an->nsent == an->capsent) {
        an->capsent = an->capsent ? 2 * an->capsent : 64;
        an->sent = cs_mem_reallocarray(an->sent, an->capsent, sizeof *an->sent);
    }
    an->sent[an->nsent].key = cs_mem_strdup(key);
    an->sent[an->nsent].seq = 0;
    return &an->sent[an->nsent++];
}

/* A text[] literal of the n keys into arr (NUL-terminated); chain keys are topic/partition: no
 * quotes or backslashes, but they are quoted anyway. */
static void keys_literal(cs_buf_t *arr, const char *const *keys, int n)
{
    cs_buf_putc(arr, '{');
    for (int i = 0; i < n; i++) {
        if (i)
            cs_buf_putc(arr, ',');
        cs_buf_putc(arr, '"');
        for (const char *c = keys[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                cs_buf_putc(arr, '\\');
            cs_buf_putc(arr, *c);
        }
        cs_buf_putc(arr, '"');
    }
    cs_buf_putc(arr, '}');
    cs_buf_putc(arr, '\0');
}

/* Queues the anchor of a chain's head (chain key, seq, row hash in hex, last offset), keyed by
 * the chain. */
static int anchor_queue(cs_audit_anchorer_t *an, const char *key, long long seq, const char *hash,
                        long long last_offset, long long now_ms, cs_err_t *err)
{
    json_t *v = json_pack("{s:s, s:I, s:s, s:I, s:I}", "chain_key", key, "chain_seq",
                          (json_int_t)seq, "row_hash", hash, "last_offset", (json_int_t)last_offset,
                          "anchored_at_ms", (json_int_t)now_ms);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    rd_kafka_resp_err_t e;

    json_decref(v);
    if (!text)
        cs_mem_fail(0); /* the values are ours and valid: only memory can be missing */
    e = rd_kafka_producev(an->rk, RD_KAFKA_V_TOPIC(an->topic), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE(text, strlen(text)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    free(text);
    if (e)
        return cs_err_set(err, CS_ERR_TRANSIENT, "queueing an audit anchor: %s",
                          rd_kafka_err2str(e));
    return 0;
}

int cs_audit_anchorer_publish(cs_audit_anchorer_t *an, cs_db_t *db, const char *const *chain_keys,
                              int n, cs_err_t *err)
{
    cs_buf_t arr = CS_BUF_INIT;
    const char *params[1];
    cs_db_res_t *r;
    struct timespec ts;
    long long now_ms;
    int queued = 0;

    if (n <= 0)
        return 0;
    if (!an->ready) {
        if (anchor_topic_ensure(an->rk, an->topic, err) < 0)
            return -1;
        an->ready = true;
    }
    keys_literal(&arr, chain_keys, n);
    params[0] = arr.data;
    if (!cs_db_ok(db) && cs_db_reset(db, err) < 0) {
        cs_buf_fini(&arr);
        return -1;
    }
    r = cs_db_query(db,
                    "SELECT chain_key, chain_seq, encode(row_hash, 'hex'), last_offset "
                    "FROM audit_chain_heads WHERE chain_key = ANY($1::text[]) ORDER BY chain_key",
                    1, params, err);
    cs_buf_fini(&arr);
    if (!r)
        return -1;
    clock_gettime(CLOCK_REALTIME, &ts);
    now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* A head already anchored at its seq is not sent again. */
    for (int i = 0; i < cs_db_res_rows(r); i++) {
        const char *key = cs_db_res_get(r, i, 0);
        long long seq = atoll(cs_db_res_get(r, i, 1));
        struct anchored *a = anchored_get(an, key);

        if (seq <= a->seq)
            continue;
        if (anchor_queue(an, key, seq, cs_db_res_get(r, i, 2), atoll(cs_db_res_get(r, i, 3)),
                         now_ms, err) < 0) {
            cs_db_res_free(r);
            return -1;
        }
        a->seq = seq;
        queued++;
    }
    cs_db_res_free(r);
    rd_kafka_poll(an->rk, 0);
    return queued;
}

int cs_audit_anchorer_flush(cs_audit_anchorer_t *an, int timeout_ms, cs_err_t *err)
{
    if (rd_kafka_flush(an->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return cs_err_set(err, CS_ERR_TRANSIENT, "%d audit anchors still undelivered",
                          rd_kafka_outq_len(an->rk));
    return 0;
}

long long cs_audit_anchorer_delivered(const cs_audit_anchorer_t *an)
{
    return an->delivered;
}

long long cs_audit_anchorer_failed(const cs_audit_anchorer_t *an)
{
    return an->failed;
}

void cs_audit_anchorer_destroy(cs_audit_anchorer_t *an)
{
    if (!an)
        return;
    if (an->rk) {
        rd_kafka_flush(an->rk, 10000);
        rd_kafka_destroy(an->rk);
    }
    for (size_t i = 0; i < an->nsent; i++)
        free(an->sent[i].key);
    free(an->sent);
    free(an->topic);
    free(an);
}

/* Parses one anchor record; -1 when it is not one. */
static int anchor_parse(const void *data, size_t len, cs_audit_anchor_t *a)
{
    json_error_t je;
    json_t *v = json_loadb(data, len, 0, &je);
    const char *key = NULL, *hash = NULL;
    json_int_t seq = 0, off = 0, at = 0;
    int rc = -1;

    if (v &&
        json_unpack(v, "{s:s, s:I, s:s, s:I, s:I}", "chain_key", &key, "chain_seq", &seq,
                    "row_hash", &hash, "last_offset", &off, "anchored_at_ms", &at) == 0 &&
        strlen(key) < sizeof a->chain_key && seq > 0 && unhex(hash, a->row_hash, 32) == 0) {
        snprintf(a->chain_key, sizeof a->chain_key, "%s", key);
        a->chain_seq = seq;
        a->last_offset = off;
        a->anchored_at_ms = at;
        rc = 0;
    }
    json_decref(v);
    return rc;
}

/* The latest anchor of each chain, as read so far. */
struct anchor_set {
    cs_audit_anchor_t *v;
    size_t n, cap;
};

/* Keeps a in set unless its chain already has a later anchor: heads only move forward, so a
 * chain's latest anchor is its highest seq. */
static void anchor_keep_latest(struct anchor_set *set, const cs_audit_anchor_t *a)
{
    size_t i;

    for (i = 0; i < set->n && strcmp(set->v[i].chain_key, a->chain_key) != 0; i++)
        ;
    if (i == set->n) {
        if (set->n == set->cap) {
            set->cap = set->cap ? 2 * set->cap : 64;
            set->v = cs_mem_reallocarray(set->v, set->cap, sizeof *set->v);
        }
        set->v[set->n++] = *a;
    } else if (a->chain_seq >= set->v[i].chain_seq) {
        set->v[i] = *a;
    }
}

/*
 * Assigns rk every non-empty partition of topic from its beginning; *left is how many. 1 when
 * the topic does not exist.
 */
static int anchors_assign(rd_kafka_t *rk, const char *topic, int timeout_ms, int *left,
                          cs_err_t *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int rc = -1;

    *left = 0;
    if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1) {
        cs_err_set(err, CS_ERR_TRANSIENT, "anchor topic '%s': no metadata from the broker", topic);
        goto out;
    }
    if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        rc = 1;
        goto out;
    }
    if (md->topics[0].err) {
        cs_err_set(err, CS_ERR_TRANSIENT, "anchor topic '%s': %s", topic,
                   rd_kafka_err2str(md->topics[0].err));
        goto out;
    }
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int p = 0; p < md->topics[0].partition_cnt; p++) {
        int64_t lo = 0, hi = 0;

        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, timeout_ms)) {
            cs_err_set(err, CS_ERR_TRANSIENT, "anchor topic '%s': no watermarks", topic);
            goto out;
        }
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
            (*left)++;
        }
    }
    if (*left && rd_kafka_assign(rk, parts)) {
        cs_err_set(err, CS_ERR_TRANSIENT, "anchor topic '%s': cannot assign", topic);
        goto out;
    }
    rc = 0;
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

/* Reads the left assigned partitions up to their ends (the partition EOF event says each is
 * reached) into set, within timeout_ms. */
static int anchors_consume(rd_kafka_t *rk, const char *topic, int left, int timeout_ms,
                           struct anchor_set *set, cs_err_t *err)
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (left > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        cs_audit_anchor_t a;

        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms) {
            if (m)
                rd_kafka_message_destroy(m);
            return cs_err_set(err, CS_ERR_TRANSIENT,
                              "anchor topic '%s': not read to its end in %d ms", topic, timeout_ms);
        }
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            left--;
        } else if (m->err) {
            cs_log_warn("reading audit anchors", CS_LS("error", rd_kafka_message_errstr(m)));
        } else if (anchor_parse(m->payload, m->len, &a) < 0) {
            cs_err_set(err, CS_ERR_PERMANENT,
                       "anchor topic '%s': the record at partition %d offset %lld is not an "
                       "anchor",
                       topic, (int)m->partition, (long long)m->offset);
            rd_kafka_message_destroy(m);
            return -1;
        } else {
            anchor_keep_latest(set, &a);
        }
        rd_kafka_message_destroy(m);
    }
    return 0;
}

int cs_audit_anchors_read(const char *brokers, const char *kafka_props, const char *topic,
                          int timeout_ms, cs_audit_anchor_t **anchors, size_t *n, cs_err_t *err)
{
    static const char *const kv[][2] = {
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"group.id", "cs-audit-verify"}, /* never joins: partitions are assigned, not subscribed */
        {"client.id", "careerstream-audit-verify"},
    };
    struct anchor_set set = {0};
    rd_kafka_t *rk;
    int rc, left = 0;

    *anchors = NULL;
    *n = 0;
    topic = topic && *topic ? topic : CS_AUDIT_ANCHOR_TOPIC;
    rk =
        kafka_new(RD_KAFKA_CONSUMER, brokers, kafka_props, kv, sizeof kv / sizeof kv[0], NULL, err);
    if (!rk)
        return -1;
    rc = anchors_assign(rk, topic, timeout_ms, &left, err);
    if (rc == 0)
        rc = anchors_consume(rk, topic, left, timeout_ms, &set, err);
    if (rc == 0) {
        *anchors = set.v;
        *n = set.n;
        set.v = NULL;
    }
    free(set.v);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

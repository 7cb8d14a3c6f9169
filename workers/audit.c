/*
 * workers/audit.c
 *      cs-audit - append every event of every topic to system_logs, hash-chained; and verify it.
 *
 *      cs-audit [options]             the worker (consumer group cs-audit, all source topics)
 *      cs-audit verify [--from --to]  walk a time range of the log, compare every chain with its
 *                                     head and with its latest anchor on Kafka, report problems
 *
 * The runtime batches events and COPYs the rows of a batch into system_logs inside the batch's
 * transaction, together with the consumed offsets. Each row carries who (the learner's
 * pseudonymous id), what (type, version, payload as json in jsonb's text form), when (occurred_at;
 * logged_at, the time the handler logged it, written by us so the hash covers it), where from
 * (topic/partition/offset, producer, traceparent), severity, the hash version (2) and its place in
 * the hash chain of its source partition: row_hash = SHA-256(prev_hash || canonical row), see
 * cs/audit.h. The chain heads move in audit_chain_heads in the same transaction (forward only:
 * migration 0061's trigger). After commits (at most every --anchor-ms) and at the end, the
 * committed heads of the chains we moved are published to --anchor-topic on Kafka (anchors), so
 * that `verify` can catch a superuser who rewrites rows and heads together.
 *
 * Exactly-once is by offset, not by event id: the runtime's consumer_offsets, and the chain head's
 * last_offset, so that replaying a partition from an earlier offset appends nothing twice. A
 * duplicate of an event published again at another offset is a separate delivery and is logged
 * as such (same event_id, two rows), so the worker sets no_dedupe and costs one COPY per batch
 * plus one small upsert of the chain heads (one row per chain and batch, not per event).
 *
 * Per event the worker renders the payload once, as the text jsonb's output prints
 * (cs_codec_payload_to_jsonb: no JSON round trip; the json column stores it as it is), hashes it
 * and the canonical row, and appends values to the COPY buffer verbatim where COPY text needs no
 * escaping (uuids, numbers, hex).
 *
 * Chain heads live in memory between batches. When a batch is rolled back or partitions move,
 * the runtime calls forget() and the heads are read again from audit_chain_heads and the log
 * (committed state) the next time a chain is used; handlers never see a head from an uncommitted
 * batch.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/audit.h"
#include "cs/codec.h"
#include "cs/config.h"
#include "cs/db.h"
#include "cs/log.h"
#include "cs/mem.h"
#include "cs/worker.h"

enum { T_LOGS, T_HEADS, T_ERASURE };

/* The columns each table's rows give, in order, named once (CS_COLUMNS and CS_ROW, cs/batch.h). */
/* clang-format off */
#define LOGS_COLUMNS(C)                                                                            \
    C(event_id) C(event_type) C(schema_version) C(user_id) C(occurred_at) C(source_topic)          \
    C(source_partition) C(source_offset) C(producer) C(traceparent) C(payload) C(payload_sha256)   \
    C(chain_key) C(chain_seq) C(prev_hash) C(row_hash) C(logged_at) C(severity) C(hash_version)
#define HEADS_COLUMNS(C)                                                                           \
    C(chain_key) C(chain_seq) C(row_hash) C(last_offset)
/* clang-format on */

typedef CS_ROW(LOGS_COLUMNS) logs_row_t;
typedef CS_ROW(HEADS_COLUMNS) heads_row_t;

/*
 * The heads' rows of one flushed range, folded in C to the last row of each chain (what
 * CS_MERGE_LAST applies anyway): a chain without a head row, or every chain of a batch redone
 * after forget(), writes one row per event (see put_head_row), and PostgreSQL then receives one
 * row per chain instead of parsing, staging and sorting one per event. Few rows per range take
 * the batch's array path: one prepared statement, no staging table.
 */
static void fold_last(cs_field_t *acc, const cs_field_t *row, cs_arena_t *scratch)
{
    (void)scratch;
    memcpy(acc, row, sizeof(heads_row_t) / sizeof(cs_val_t) * sizeof *row);
}

static const cs_table_def_t tables[] = {
    [T_LOGS] = {.table = "system_logs", .columns = CS_COLUMNS(LOGS_COLUMNS)},
    /*
     * One row per chain and batch, not per event: the row only names the chain (and, for a
     * chain without a head yet, carries its values), and the head is read back from the rows
     * this transaction appended: the chain's last row from the batch's first seq on (one index
     * probe per partition). The heads' trigger (migration 0061) checks that a head only moves
     * forward along rows of the log.
     */
    [T_HEADS] = {.table = "audit_chain_heads",
                 .columns = CS_COLUMNS(HEADS_COLUMNS),
                 .conflict = "chain_key",
                 .update =
                     "(chain_seq, row_hash, last_offset, updated_at) = "
                     "(SELECT l.chain_seq, l.row_hash, l.source_offset, now() "
                     "FROM system_logs l WHERE l.chain_key = EXCLUDED.chain_key "
                     "AND l.chain_seq >= EXCLUDED.chain_seq ORDER BY l.chain_seq DESC LIMIT 1)",
                 .update_where = "EXCLUDED.chain_seq > t.chain_seq",
                 .merge = CS_MERGE_LAST,
                 .fold = fold_last},
    /* After the log: the trigger's gdpr_erase_user redacts the rows just appended too. */
    [T_ERASURE] = {.table = "erasures_applied",
                   .columns = "worker, request_event_id, user_id, request_id, reason",
                   .conflict = "worker, request_event_id",
                   .merge = CS_MERGE_LAST},
    {NULL},
};

/* A bytea in COPY text: \\x and 64 hex digits (the backslash doubled for COPY). */
#define HEX_COPY_LEN (3 + 2 * CS_AUDIT_HASH_BYTES)

struct chain {
    char *key;        /* "topic/partition"; NULL marks an empty slot */
    size_t topic_len; /* the topic is key[0 .. topic_len) */
    int partition;
    long long seq;
    long long last_offset; /* -1 when the chain is new */
    unsigned char hash[CS_AUDIT_HASH_BYTES];
    char hash_copy[HEX_COPY_LEN]; /* hash as COPY text, once the chain has a row */
    bool headless;     /* no audit_chain_heads row committed yet: every event writes one */
    unsigned head_gen; /* the batch generation that last wrote this chain's head row */
    bool wrote_head;   /* a head row was written since the head was loaded */
};

struct audit {
    cs_db_t *db; /* reads chain heads; never writes */
    cs_codec_t *codec;
    struct chain *chains;
    size_t nslots; /* power of two */
    size_t nused;
    unsigned gen;           /* batch generation, moves when a handler sees an empty batch */
    bool every_event_heads; /* after forget(), until a commit: one head row per event */
    cs_buf_t canon;         /* the payload as jsonb prints it */
    char *dsn;
    /* Anchors (cs/audit.h): the chains committed since the last anchor, published at most every
     * anchor_ms after a commit, and at the end. */
    cs_audit_anchorer_t *anchorer;
    char **dirty;
    int ndirty, capdirty;
    long long anchor_ms;
    int64_t last_anchor_ms;
};

/* FNV-1a over the topic name and the partition: the chain key without formatting it. */
static size_t hash_tp(const char *topic, size_t topic_len, int partition)
{
    size_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < topic_len; i++)
        h = (h ^ (unsigned char)topic[i]) * 1099511628211ULL;
    return (h ^ (size_t)(unsigned)partition) * 1099511628211ULL;
}

static void hex_copy(const unsigned char *h, char out[HEX_COPY_LEN])
{
    static const char digits[] = "0123456789abcdef";

    out[0] = '\\';
    out[1] = '\\';
    out[2] = 'x';
    for (int i = 0; i < CS_AUDIT_HASH_BYTES; i++) {
        out[3 + 2 * i] = digits[h[i] >> 4];
        out[4 + 2 * i] = digits[h[i] & 15];
    }
}

/* Whether s needs no COPY text escaping (no backslash, tab, newline or carriage return). */
static bool copy_plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\\' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
            return false;
    return true;
}

/* A text column: verbatim when it needs no escaping (the usual case), escaped otherwise. */
static cs_val_t text(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return s && copy_plain(s, n) ? cs_val_raw(s, n) : cs_val_strn(s, n);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void forget(void *ud)
{
    struct audit *a = ud;

    for (size_t i = 0; i < a->nslots; i++) {
        free(a->chains[i].key);
        a->chains[i].key = NULL;
    }
    a->nused = 0;
    /* The batch is redone next, maybe flushed in parts (isolating a poison event): until the
     * next commit every event writes its head row, so each part moves the heads it touches. */
    a->every_event_heads = true;
}

/*
 * Reads the committed head of chain key (seq 0 when the chain is new): the later of its
 * audit_chain_heads row and its last row in system_logs. The log itself is the truth; the heads
 * table is the anchor and what remains once old partitions are dropped. The two agree after
 * every commit (see audit_append); reading both means a head that ever trailed the log (a bug,
 * an operator's hand) cannot fork a chain.
 */
static int load_head(struct audit *a, struct chain *c, cs_err_t *err)
{
    const char *params[] = {c->key};
    cs_db_res_t *r;

    if (!cs_db_ok(a->db) && cs_db_reset(a->db, err) < 0)
        return -1;
    r = cs_db_query(a->db,
                    "SELECT chain_seq, encode(row_hash, 'hex'), last_offset, head FROM ("
                    "SELECT chain_seq, row_hash, last_offset, true AS head FROM audit_chain_heads "
                    "WHERE chain_key = $1 UNION ALL "
                    "(SELECT chain_seq, row_hash, source_offset, false FROM system_logs "
                    "WHERE chain_key = $1 ORDER BY chain_seq DESC LIMIT 1)) h "
                    "ORDER BY chain_seq DESC, head DESC",
                    1, params, err);
    if (!r)
        return -1;
    c->seq = 0;
    c->last_offset = -1;
    memset(c->hash, 0, sizeof(c->hash));
    c->headless = true;
    c->wrote_head = false;
    c->head_gen = a->gen - 1;
    for (int row = 0; row < cs_db_res_rows(r); row++)
        if (cs_db_res_get(r, row, 3)[0] == 't')
            c->headless = false;
    if (cs_db_res_rows(r) > 0) {
        const char *h = cs_db_res_get(r, 0, 1);

        c->seq = atoll(cs_db_res_get(r, 0, 0));
        c->last_offset = atoll(cs_db_res_get(r, 0, 2));
        for (int i = 0; i < CS_AUDIT_HASH_BYTES; i++) {
            unsigned v = 0;

            sscanf(h + 2 * i, "%2x", &v);
            c->hash[i] = (unsigned char)v;
        }
        hex_copy(c->hash, c->hash_copy);
    }
    cs_db_res_free(r);
    return 0;
}

static struct chain *chain_get(struct audit *a, const char *topic, int partition, cs_err_t *err)
{
    size_t i, tlen = strlen(topic);
    struct chain *c;

    if (a->nused * 2 >= a->nslots) {
        /* Grow and rehash; the heads (possibly from the batch in flight) move along. */
        size_t n = a->nslots * 2;
        struct chain *t = cs_mem_calloc(n, sizeof(*t));

        for (size_t j = 0; j < a->nslots; j++) {
            c = &a->chains[j];
            if (!c->key)
                continue;
            for (i = hash_tp(c->key, c->topic_len, c->partition) & (n - 1); t[i].key;
                 i = (i + 1) & (n - 1))
                ;
            t[i] = *c;
        }
        free(a->chains);
        a->chains = t;
        a->nslots = n;
    }
    for (i = hash_tp(topic, tlen, partition) & (a->nslots - 1); a->chains[i].key;
         i = (i + 1) & (a->nslots - 1)) {
        c = &a->chains[i];
        if (c->partition == partition && c->topic_len == tlen && !memcmp(c->key, topic, tlen))
            return c;
    }
    c = &a->chains[i];
    c->key = cs_mem_alloc(tlen + 16);
    snprintf(c->key, tlen + 16, "%s/%d", topic, partition);
    c->topic_len = tlen;
    c->partition = partition;
    if (load_head(a, c, err) < 0) {
        free(c->key);
        c->key = NULL;
        err->kind = err->kind == CS_ERR_FATAL ? CS_ERR_FATAL : CS_ERR_TRANSIENT;
        return NULL;
    }
    a->nused++;
    return c;
}

/* The audit row of ev, the next link of chain c, logged at logged_ms. */
static cs_audit_row_t audit_row_of(const cs_event_t *ev, const cs_msg_meta_t *meta,
                                   const struct chain *c, int64_t logged_ms)
{
    return (cs_audit_row_t){
        .event_id = ev->event_id,
        .event_type = ev->type_name,
        .schema_version = ev->schema_version,
        .user_id = ev->user_id,
        .occurred_at_ms = ev->occurred_at_ms,
        .source_topic = meta->topic,
        .source_partition = meta->partition,
        .source_offset = meta->offset,
        .producer = ev->producer,
        .traceparent = ev->traceparent && *ev->traceparent ? ev->traceparent : NULL,
        .chain_key = c->key,
        .chain_seq = c->seq + 1,
        .hash_version = CS_AUDIT_HASH_V2,
        .occurred_at_us = ev->occurred_at_ms * 1000,
        .severity = "info",
        .logged_at_us = logged_ms * 1000,
    };
}

/* Appends row to system_logs: its payload is a->canon, its hashes in COPY hex hx_payload and
 * hx_row; c's current head is its prev_hash. */
static int put_log_row(cs_batch_t *b, const struct audit *a, const struct chain *c,
                       const cs_audit_row_t *row, const char *hx_payload, const char *hx_row,
                       int64_t logged_ms, cs_err_t *err)
{
    /* Values go in as COPY text: what is already safe verbatim, the rest escaped. */
    return CS_BATCH_PUT(
        b, T_LOGS, logs_row_t, err,
        /* The codec hands out canonical lower-case uuids: COPY text as they are. */
        .event_id = cs_val_raw(row->event_id, strlen(row->event_id)),
        .event_type = text(row->event_type), .schema_version = cs_val_int(row->schema_version),
        .user_id = cs_val_raw(row->user_id, strlen(row->user_id)),
        .occurred_at = cs_val_ts_ms(row->occurred_at_ms), .source_topic = text(row->source_topic),
        .source_partition = cs_val_int(row->source_partition),
        .source_offset = cs_val_int(row->source_offset), .producer = text(row->producer),
        .traceparent = text(row->traceparent),
        /* jsonb text escapes every control character, so only its backslashes need COPY's. */
        .payload = memchr(a->canon.data, '\\', a->canon.len)
                       ? cs_val_strn(a->canon.data, a->canon.len)
                       : cs_val_raw(a->canon.data, a->canon.len),
        .payload_sha256 = cs_val_raw(hx_payload, HEX_COPY_LEN), .chain_key = text(row->chain_key),
        .chain_seq = cs_val_int(row->chain_seq),
        .prev_hash = c->seq ? cs_val_raw(c->hash_copy, HEX_COPY_LEN) : cs_val_null(),
        .row_hash = cs_val_raw(hx_row, HEX_COPY_LEN), .logged_at = cs_val_ts_ms(logged_ms),
        .severity = cs_val_raw("info", 4), .hash_version = cs_val_int(CS_AUDIT_HASH_V2));
}

/*
 * The chain's head row: once per chain and batch (the first of its events in the batch),
 * since the upsert reads the head back from the rows the batch appended. A chain without a
 * committed head row writes one per event instead, so that the insert of its first head
 * carries the batch's last values; so does every event of a batch redone after forget(),
 * because the runtime may then flush it in parts (isolating a poison event) and each part
 * must move the heads of the rows it writes. The table's fold (fold_last) sends PostgreSQL only
 * each chain's last row of a flushed range, whichever way the rows were written.
 */
static int put_head_row(cs_batch_t *b, const struct audit *a, struct chain *c,
                        const cs_audit_row_t *row, const char *hx_row, int64_t offset,
                        cs_err_t *err)
{
    if (!c->headless && !a->every_event_heads && c->head_gen == a->gen)
        return 0;
    if (CS_BATCH_PUT(b, T_HEADS, heads_row_t, err, .chain_key = text(row->chain_key),
                     .chain_seq = cs_val_int(row->chain_seq),
                     .row_hash = cs_val_raw(hx_row, HEX_COPY_LEN),
                     .last_offset = cs_val_int(offset)) < 0)
        return -1;
    c->head_gen = a->gen;
    c->wrote_head = true;
    return 0;
}

static int audit_append(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                        cs_err_t *err)
{
    struct audit *a = meta->ud;
    struct chain *c;
    cs_audit_row_t row;
    unsigned char hash[CS_AUDIT_HASH_BYTES];
    char hx_payload[HEX_COPY_LEN], hx_row[HEX_COPY_LEN];
    int64_t logged_ms;

    /* A handler that finds the batch empty starts a new batch generation (see put_head_row). */
    if (cs_batch_rows(b, T_LOGS) == 0)
        a->gen++;
    c = chain_get(a, meta->topic, meta->partition, err);
    if (!c)
        return -1;
    /* A replay of offsets already logged (offsets reset, cs-replay) appends nothing. */
    if (meta->offset <= c->last_offset)
        return 0;
    /* The payload as jsonb prints it, rendered from the decoded event in one pass. */
    cs_buf_reset(&a->canon);
    if (cs_codec_payload_to_jsonb(a->codec, ev, &a->canon, err) < 0)
        return -1;
    /* logged_at is written by us, not defaulted by the server, so that the hash covers it. */
    logged_ms = now_ms();
    row = audit_row_of(ev, meta, c, logged_ms);
    cs_audit_sha256(a->canon.data, a->canon.len, row.payload_sha256);
    cs_audit_row_hash(c->seq ? c->hash : NULL, &row, hash);
    hex_copy(row.payload_sha256, hx_payload);
    hex_copy(hash, hx_row);
    if (put_log_row(b, a, c, &row, hx_payload, hx_row, logged_ms, err) < 0 ||
        put_head_row(b, a, c, &row, hx_row, meta->offset, err) < 0)
        return -1;

    /* The head moves in memory now; forget() puts it back if this batch does not commit. */
    c->seq = row.chain_seq;
    c->last_offset = meta->offset;
    memcpy(c->hash, hash, sizeof(hash));
    memcpy(c->hash_copy, hx_row, HEX_COPY_LEN);
    return 0;
}

/*
 * After a commit, a chain that wrote a head row has one in the table: later batches write it
 * once per batch. (Were that early, the head would only trail the log until the chain's next
 * batch, which load_head() tolerates.)
 */
static void mark_dirty(struct audit *a, const char *key)
{
    for (int i = 0; i < a->ndirty; i++)
        if (!strcmp(a->dirty[i], key))
            return;
    if (a->ndirty == a->capdirty) {
        a->capdirty = a->capdirty ? 2 * a->capdirty : 64;
        a->dirty = cs_mem_realloc(a->dirty, (size_t)a->capdirty * sizeof *a->dirty);
    }
    a->dirty[a->ndirty] = cs_mem_strdup(key);
    a->ndirty++;
}

/*
 * Publishes the committed heads of the chains marked dirty. The heads are read back from
 * audit_chain_heads on our own connection, not taken from memory: with the pipeline the handlers
 * of the next batch have already moved the in-memory heads, and that batch may still roll back.
 * A failure is logged and the chains stay dirty for the next try.
 */
static void anchor(struct audit *a)
{
    cs_err_t err;
    int n;

    if (!a->anchorer || a->ndirty == 0)
        return;
    cs_err_clear(&err);
    n = cs_audit_anchorer_publish(a->anchorer, a->db, (const char *const *)a->dirty, a->ndirty,
                                  &err);
    if (n < 0) {
        cs_log_warn("audit anchors not published; will retry", CS_LS("reason", err.msg));
        return;
    }
    for (int i = 0; i < a->ndirty; i++)
        free(a->dirty[i]);
    a->ndirty = 0;
    a->last_anchor_ms = now_ms();
    if (n > 0)
        cs_log_debug("audit anchors queued", CS_LI("chains", n));
}

/*
 * After a commit, a chain that wrote a head row has one in the table: later batches write it
 * once per batch. (Were that early, the head would only trail the log until the chain's next
 * batch, which load_head() tolerates.) The chains known now are anchored once anchor-ms has
 * passed since the last anchor.
 */
static void committed(void *ud, int nevents)
{
    struct audit *a = ud;

    (void)nevents;
    a->every_event_heads = false;
    for (size_t i = 0; i < a->nslots; i++) {
        if (a->chains[i].key && a->chains[i].wrote_head)
            a->chains[i].headless = false;
        if (a->chains[i].key && a->anchorer)
            mark_dirty(a, a->chains[i].key);
    }
    if (now_ms() - a->last_anchor_ms >= a->anchor_ms)
        anchor(a);
}

/* Between commits: a burst followed by silence is anchored within anchor-ms, not at the next
 * commit or at shutdown. */
static void tick(void *ud)
{
    struct audit *a = ud;

    if (a && now_ms() - a->last_anchor_ms >= a->anchor_ms)
        anchor(a);
}

/*
 * user_erasure_requested (logged by audit_append first, like every event): the learner's audit
 * rows are redacted in this transaction, by erasures_applied's trigger (gdpr_erase_user, whose
 * audit_redact_user replaces payloads with the redaction marker; the chain covers payload_sha256,
 * so it still verifies). cs-progress applies the same request; whichever worker comes first
 * erases, and cs-audit redacting itself covers the rows it logged before the erasure was
 * committed elsewhere. When the learner is already erased (cs-progress came first) the runtime
 * skips the event, as every event of an erased learner.
 */
static int audit_erasure(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                         cs_err_t *err)
{
    (void)meta;
    /* erased_users.reason: the contract's ErasureReason symbols (schemas/), as cs-progress. */
    static const char *const reasons[CS_ERASURE_REASON__COUNT] = {"user_request", "account_closed",
                                                                  "legal_obligation"};
    const cs_ev_user_erasure_requested_t *p = ev->payload;
    if ((unsigned)p->reason >= CS_ERASURE_REASON__COUNT)
        return cs_err_set(err, CS_ERR_PERMANENT, "payload.reason: unknown value %d",
                          (int)p->reason);
    cs_batch_row_begin(b, T_ERASURE);
    cs_batch_str(b, "audit");
    cs_batch_str(b, ev->event_id);
    cs_batch_str(b, ev->user_id);
    cs_batch_str(b, p->request_id);
    cs_batch_str(b, reasons[p->reason]);
    return cs_batch_row_end(b, err);
}

static const cs_handler_t handlers[] = {
    {CS_EVENT_ANY, audit_append, CS_HANDLER_ALWAYS},
    {"user_erasure_requested", audit_erasure, CS_HANDLER_ALWAYS},
    {NULL},
};

static int audit_init(const cs_config_t *cfg, void **ud, cs_err_t *err)
{
    struct audit *a = cs_mem_calloc(1, sizeof(*a));

    a->nslots = 512;
    a->chains = cs_mem_calloc(a->nslots, sizeof(*a->chains));
    a->db = cs_db_connect(cs_config_str(cfg, "pg-dsn"), "cs-audit-heads", err);
    if (!a->db)
        goto fail;
    a->codec = cs_codec_new(err);
    if (!a->codec)
        goto fail;
    a->anchor_ms = cs_config_int(cfg, "anchor-ms");
    if (cs_config_bool(cfg, "anchors")) {
        a->anchorer = cs_audit_anchorer_new(cs_config_str(cfg, "kafka-brokers"),
                                            cs_config_str(cfg, "kafka-props"),
                                            cs_config_str(cfg, "anchor-topic"), err);
        if (!a->anchorer)
            goto fail;
    }
    *ud = a;
    return 0;
fail:
    cs_codec_destroy(a->codec);
    cs_db_destroy(a->db);
    free(a->chains);
    free(a);
    return -1;
}

static void audit_fini(void *ud)
{
    struct audit *a = ud;

    if (!a)
        return;
    /* The last anchor: whatever was committed since the previous one. */
    anchor(a);
    if (a->anchorer) {
        cs_err_t err;

        if (cs_audit_anchorer_flush(a->anchorer, 10000, &err) < 0)
            cs_log_warn("audit anchors not delivered", CS_LS("reason", err.msg));
        cs_log_info("audit anchors", CS_LI("delivered", cs_audit_anchorer_delivered(a->anchorer)),
                    CS_LI("failed", cs_audit_anchorer_failed(a->anchorer)));
    }
    for (int i = 0; i < a->ndirty; i++)
        free(a->dirty[i]);
    free(a->dirty);
    cs_audit_anchorer_destroy(a->anchorer);
    forget(a);
    free(a->chains);
    cs_db_destroy(a->db);
    cs_codec_destroy(a->codec);
    cs_buf_fini(&a->canon);
    free(a);
}

static const cs_opt_t audit_opts[] = {
    {"anchors", CS_OPT_BOOL, "true",
     "publish checkpoints of the chain heads (anchors) to --anchor-topic after commits"},
    {"anchor-topic", CS_OPT_STRING, CS_AUDIT_ANCHOR_TOPIC,
     "Kafka topic of the anchors (compacted; created when missing); one per audit database"},
    {"anchor-ms", CS_OPT_INT, "1000",
     "publish anchors after a commit at most every this many ms (0: after every commit)", 0,
     3600000},
    {NULL},
};

/* ---- cs-audit verify ------------------------------------------------------------------------ */

static const char *const anchor_modes[] = {"auto", "yes", "no", NULL};

static const cs_opt_t verify_opts[] = {
    {"from", CS_OPT_STRING, "1970-01-01",
     "start of the logged_at range (YYYY-MM-DD[THH:MM:SS], UTC)"},
    {"to", CS_OPT_STRING, "2100-01-01", "end of the logged_at range, exclusive"},
    {"anchors", CS_OPT_ENUM, "auto",
     "check the log against the latest anchors on Kafka: auto (when --kafka-brokers is set), yes "
     "(and fail without them), no",
     0, 0, anchor_modes},
    {"anchor-topic", CS_OPT_STRING, CS_AUDIT_ANCHOR_TOPIC, "Kafka topic of the anchors"},
    {"kafka-props", CS_OPT_STRING, NULL, "extra librdkafka properties name=value,... (security)", 0,
     0, NULL, CS_OPT_SECRET},
    {"anchor-timeout-ms", CS_OPT_INT, "30000", "how long reading the anchors may take", 1000,
     600000},
    {NULL},
};

static int parse_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3)
        return -1;
    if (s[used] == 'T' || s[used] == ' ') {
        int used2 = 0;

        if (sscanf(s + used + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &used2) != 3)
            return -1;
        used += 1 + used2;
        if (s[used] == 'Z')
            used++;
    }
    if (s[used] || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

/*
 * The anchors, read before the walk starts (what was anchored before it must be in the log),
 * when --anchors says so: yes, or auto with --kafka-brokers. -1 (printed) when they cannot be
 * read, or with --anchors yes when the topic does not exist.
 */
static int verify_read_anchors(cs_config_t *cfg, cs_audit_anchor_t **anchors, size_t *n)
{
    const char *mode = cs_config_str(cfg, "anchors");
    const char *topic = cs_config_str(cfg, "anchor-topic");
    cs_err_t err;
    int arc;

    if (strcmp(mode, "yes") && !(!strcmp(mode, "auto") && cs_config_is_set(cfg, "kafka-brokers")))
        return 0;
    arc = cs_audit_anchors_read(cs_config_str(cfg, "kafka-brokers"),
                                cs_config_str(cfg, "kafka-props"), topic,
                                (int)cs_config_int(cfg, "anchor-timeout-ms"), anchors, n, &err);
    if (arc < 0) {
        fprintf(stderr, "cs-audit verify: %s\n", err.msg);
        return -1;
    }
    if (arc == 1 && !strcmp(mode, "yes")) {
        fprintf(stderr, "cs-audit verify: anchor topic '%s' does not exist\n", topic);
        return -1;
    }
    if (arc == 1)
        printf("no anchor topic '%s': heads not checked against anchors\n", topic);
    return 0;
}

/* Prints the verdict; the exit status: 0 intact, 1 broken. */
static int verify_report(const cs_audit_report_t *rep)
{
    if (rep->ok) {
        printf("audit log intact: %lld rows in %lld chains verified (%lld redacted payloads); "
               "%lld heads and %lld anchors match; %lld rows of hash version 1\n",
               rep->rows, rep->chains, rep->redacted, rep->heads, rep->anchors, rep->legacy);
        return 0;
    }
    printf("audit log BROKEN at chain %s seq %lld (log_id %lld): %s\n", rep->chain_key,
           rep->chain_seq, rep->log_id, rep->reason);
    for (long long i = 0; i < rep->nproblems && i < CS_AUDIT_MAX_PROBLEMS; i++)
        printf("  %s\n", rep->problems[i]);
    if (rep->nproblems > CS_AUDIT_MAX_PROBLEMS)
        printf("  ... and %lld more chains\n", rep->nproblems - CS_AUDIT_MAX_PROBLEMS);
    printf("%lld rows, %lld heads and %lld anchors checked; %lld chains with problems\n", rep->rows,
           rep->heads, rep->anchors, rep->nproblems);
    return 1;
}

static int verify_main(int argc, char **argv)
{
    int code;
    cs_config_t *cfg = cs_config_start(
        "cs-audit verify",
        "Walk system_logs rows logged in [--from, --to) chain by chain, compare every chain with "
        "its head (audit_chain_heads) and, with --kafka-brokers, with its latest anchor on "
        "--anchor-topic, and name every chain with a problem (README.md, \"cs-audit\", says what "
        "this proves).\nExit status: 0 intact, 1 broken, 2 bad usage, 3 could not verify.",
        verify_opts, argc, argv, &code);
    cs_audit_report_t rep;
    cs_audit_anchor_t *anchors = NULL;
    size_t nanchors = 0;
    cs_db_t *db = NULL;
    cs_err_t err;
    int64_t from, to;

    if (!cfg)
        return code;
    code = 2;
    if (parse_time(cs_config_str(cfg, "from"), &from) < 0 ||
        parse_time(cs_config_str(cfg, "to"), &to) < 0) {
        fprintf(stderr, "cs-audit verify: --from/--to must look like 2026-11-25 or "
                        "2026-11-25T08:00:00\n");
        goto out;
    }
    code = 3;
    if (verify_read_anchors(cfg, &anchors, &nanchors) < 0)
        goto out;
    db = cs_db_connect(cs_config_str(cfg, "pg-dsn"), "cs-audit-verify", &err);
    if (!db || cs_audit_verify(db, from, to, &rep, &err) < 0 ||
        cs_audit_verify_anchors(db, anchors, nanchors, &rep, &err) < 0) {
        fprintf(stderr, "cs-audit verify: %s\n", err.msg);
        goto out;
    }
    code = verify_report(&rep);
out:
    free(anchors);
    cs_db_destroy(db);
    cs_config_destroy(cfg);
    return code;
}

/* ---- main -------------------------------------------------------------------------------------
 */

int main(int argc, char **argv)
{
    /* Every source topic of the contract, derived from the codec's event table. */
    const char *topics[64];
    int ntopics = 0, code;
    cs_worker_def_t def = {
        .name = "audit",
        .group = "cs-audit",
        .topics = topics,
        .handlers = handlers,
        .tables = tables,
        .usage = "Append every event of every topic to system_logs, hash-chained per partition.\n"
                 "`cs-audit verify --help` describes the verifier.",
        .init = audit_init,
        .fini = audit_fini,
        .forget = forget,
        .committed = committed,
        .tick = tick,
        .tick_ms = 1000,
        .opts = audit_opts,
        .no_dedupe = true,
    };

    if (argc > 1 && !strcmp(argv[1], "verify"))
        return verify_main(argc - 1, argv + 1);
    for (int t = 0; t < cs_codec_ntypes() && ntopics < 63; t++) {
        const char *topic = cs_codec_type_topic(t);
        int seen = 0;

        for (int i = 0; i < ntopics; i++)
            seen |= !strcmp(topics[i], topic);
        if (!seen)
            topics[ntopics++] = topic;
    }
    topics[ntopics] = NULL;
    code = cs_worker_main(&def, argc, argv);
    return code;
}

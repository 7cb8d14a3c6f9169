/*
 * libcore/src/worker_outbox.c
 *      The transactional outbox: derived events written with the batch, published by a relay.
 *
 * A worker whose cs_worker_def_t sets .outbox has one more table in its batches, after its own:
 * outbox_events (migration 0065). cs_batch_emit encodes a derived event with the codec (the
 * contract's wire format) and appends it there as a row of the handler's event, so the runtime's
 * one transaction per batch (worker_txn.c, all three forms: the rows go with the tables) commits
 * the derived events with the effects, processed ids and offsets, or none of them; a handler
 * that fails, an event isolated as poison, a rolled-back attempt drop their derived events too.
 *
 * The relay is a thread of its own (named cs-outbox: its CPU in /proc, top -H) with its own
 * PostgreSQL connection and its own idempotent producer (cs/producer.h); the loop never waits
 * for it. Its session reads the outbox by the primary key alone (bitmap and sequential scans
 * off, relay_connected): a round reads the rows it publishes, not every pending row of the
 * group, as the planner chose with the statistics of a near-empty outbox (test 0126). One relay
 * of a consumer group publishes
 * at a time: the one whose connection holds the group's relay lock (a session advisory lock,
 * pg_try_advisory_lock on 'careerstream:outbox-relay:<group>'); the relays of the group's other
 * instances stand by, try the lock every outbox-poll-ms and take over when the holder's connection
 * ends (stop, crash, kill -9, a network failure: PostgreSQL releases the lock with the session).
 * Until then the rows their own batches commit wait for the holder's next round (its wake-up after
 * its own batches, or its outbox-poll-ms). One round, by the holder, without a transaction:
 *     SELECT the group's oldest rows (outbox-batch-rows) above its cursor in id order, no locks,
 *     binary results (the payload's bytes as stored);
 *     produce each (key, headers cs.event_type, cs.schema_fingerprint, traceparent);
 *     wait for every delivery report; DELETE the rows Kafka acknowledged (by the range of the
 *     ids read, the acknowledged ids a filter: one pass over the primary key, migration 0100).
 * A round reads on after the last id the round before read, when that round published every row it
 * read (the index entries of the rows already published and deleted stay in the index until
 * vacuum, and a read from the start walks them all). Ids are taken when a row is written, not
 * when it commits: a batch of another instance of the group (or any transaction slower to commit)
 * can commit a row below that cursor after a round passed it. So a round reads from the start
 * again when RESCAN_EVERY_S (1 s) passed since the last one that did, after a failed round, when
 * the relay takes the lock (a start, a take-over, a reconnection), and on stop. A row committed
 * late is thus read by the first round from the start after its commit, RESCAN_EVERY_S later at
 * most (plus outbox-poll-ms when idle): that round reads the group's oldest pending rows, and the
 * rounds after it read on from there without skipping a row it could see (each reads above the
 * last id its predecessor read, all of which are deleted), so every committed row is published.
 * A row is deleted only after its acknowledgement, so a crash anywhere leaves it pending: it is
 * published again when a relay of the group runs next (at once on start), with the same bytes and
 * the same event_id, a duplicate that every consumer's processed_events ledger skips. The lock is
 * what saves work, not what makes this safe: two relays publishing one row (the lock's holder lost
 * its connection in mid-round and another took over, or a relay of an older release still taking
 * rows FOR UPDATE SKIP LOCKED) publish it twice, the same duplicate. Rows whose delivery failed
 * stay and are tried again after the back-off (200 ms to 5 s).
 * The loop kicks the relay after every batch that committed derived events; the relay also looks
 * every outbox-poll-ms (rows left by a crashed instance, a failed round). On stop it relays
 * until the outbox is empty or the shutdown deadline passes (a relay standing by stops at once).
 *
 * Metrics (cs_outbox_pending, cs_outbox_oldest_age_seconds, cs_outbox_published_total) are kept
 * by the relay and copied into the registry on the loop (a collect hook): the registry is the
 * loop's (cs/metrics.h). The pending count and the oldest row's age come from a count of the
 * group's rows (which reads the whole table), made at most every 5 s (measure_after; the oldest
 * age grows on between counts): a round that saw fewer rows than outbox-batch-rows and published
 * them all leaves 0 without a query.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cs/producer.h"
#include "internal.h"
#include "worker_int.h"

/* The table every outbox batch ends with; its index is the worker's table count. */
static const char outbox_columns[] =
    "consumer_group, event_id, event_type, topic, msg_key, payload, fingerprint, traceparent";

struct cs__worker_outbox {
    /* the loop's side: what cs_batch_emit needs (loop thread only) */
    cs_codec_t *codec;
    cs_buf_t enc, hex;
    int table;
    char *group;

    /* the relay thread */
    char *dsn, *app_name, *brokers, *kafka_props;
    long long batch_rows, poll_ms, stop_timeout_ms;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool kicked, stopping;

    /* measured by the relay, read by the loop's collect hook */
    atomic_llong pending, published, oldest_ms;
    atomic_llong oldest_at_ms; /* mono_s() * 1000 when oldest_ms was counted */
    atomic_bool measured;
    long long published_seen; /* loop: what the counter already shows */
    cs_metric_t *m_pending, *m_oldest, *m_published;
};

/* ---- the derived event's id ---- */

void cs_batch_derived_id(const void *what, size_t len, char out[37])
{
    /* careerstream's namespace: uuid5(NAMESPACE_URL, "https://careerstream/derived-event"),
     * b9fbbf09-dced-53ee-abdb-7e6194bc96c6 */
    static const unsigned char ns[16] = {0xb9, 0xfb, 0xbf, 0x09, 0xdc, 0xed, 0x53, 0xee,
                                         0xab, 0xdb, 0x7e, 0x61, 0x94, 0xbc, 0x96, 0xc6};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, ns, sizeof ns) != 1 || EVP_DigestUpdate(ctx, what, len) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &n) != 1 || n < 16)
        cs_mem_fail(sizeof *md); /* SHA-1 never fails but for want of memory */
    EVP_MD_CTX_free(ctx);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50); /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hx[] = "0123456789abcdef";
    int k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hx[md[i] >> 4];
        out[k++] = hx[md[i] & 15];
    }
    out[k] = '\0';
}

/* ---- emitting (loop thread, inside a handler) ---- */

int cs_batch_emit(cs_batch_t *b, const char *topic, const char *key, const cs_event_t *ev,
                  cs_err_t *err)
{
    cs__worker_outbox_t *o = b ? cs__batch_emitter(b) : NULL;
    char fp[17], lkey[37];
    if (!o)
        return cs_err_set(err, CS_ERR_FATAL,
                          "cs_batch_emit: this worker has no outbox (set .outbox in its "
                          "cs_worker_def_t)");
    cs_buf_reset(&o->enc);
    if (cs_codec_encode(o->codec, ev, &o->enc, err) < 0)
        return -1;
    if (!topic)
        topic = cs_codec_type_topic(ev->type);
    if (!key) {
        for (int i = 0; i < 36; i++) {
            char c = ev->user_id[i];
            lkey[i] = (char)(c >= 'A' && c <= 'F' ? c + ('a' - 'A') : c);
        }
        lkey[36] = '\0';
        key = lkey;
    }
    if (!*key)
        return cs_err_set_field(err, CS_ERR_PERMANENT, "key", "a derived event needs a key");
    /* bytea in its hex text form, \x and two digits per byte, written as COPY text: the
     * backslash doubled, the digits need no escaping. */
    static const char hx[] = "0123456789abcdef";
    cs_buf_reset(&o->hex);
    const unsigned char *p = (const unsigned char *)o->enc.data;
    char *h = cs_buf_reserve(&o->hex, 3 + 2 * o->enc.len); /* one reservation, not one a digit */
    h[0] = h[1] = '\\';
    h[2] = 'x';
    for (size_t i = 0; i < o->enc.len; i++) {
        h[3 + 2 * i] = hx[p[i] >> 4];
        h[4 + 2 * i] = hx[p[i] & 15];
    }
    cs_buf_advance(&o->hex, 3 + 2 * o->enc.len);
    cs_codec_fingerprint_hex(cs_codec_type_fingerprint(ev->type, 0), fp);
    cs_batch_row_begin(b, o->table);
    cs_batch_str(b, o->group);
    cs_batch_str(b, ev->event_id);
    cs_batch_str(b, cs_codec_type_name(ev->type));
    cs_batch_str(b, topic);
    cs_batch_str(b, key);
    cs_batch_raw(b, o->hex.data, o->hex.len);
    cs_batch_str(b, fp);
    cs_batch_str(b, ev->traceparent && ev->traceparent[0] ? ev->traceparent : NULL);
    return cs_batch_row_end(b, err);
}

/* ---- the relay (its own thread) ---- */

typedef struct round {
    cs__worker_outbox_t *o;
    cs_db_t *db;
    bool owner;           /* this connection holds the group's relay lock */
    double standby_until; /* mono_s() before which it does not take the lock (after a hand-off) */
    int published;        /* rows the last round published */
    double measured_at;   /* mono_s() of the last count of the group's rows (0: none yet) */
    long long after;      /* the next round reads ids above this (0: from the start) */
    double full_at;       /* mono_s() of the last round that read from the start */
    cs_producer_t *prod;
    char *acked;   /* per row of the round: delivered */
    long long *id; /* per row of the round: its id */
    int cap;       /* the rows acked and id have room for */
    uint64_t nth;  /* this round's number: its deliveries carry it (see tag()) */
    int nfailed;
    cs_err_t fail; /* the first delivery failure */
    cs_buf_t ids;
} round_t;

/*
 * A delivery's opaque: its round's number and its row in the round. A round that gave up waiting
 * (ROUND_DELIVERY_WAIT_MS) leaves messages in the producer, whose reports can arrive during a later
 * round: they must not mark that round's row of the same number as delivered (the row would be
 * deleted unpublished). A late report is ignored: its row, still pending, is published again.
 */
#define ROUND_ROWS_MAX (1u << 24)
static void *tag(const round_t *r, int i)
{
    return (void *)(uintptr_t)((r->nth % ((UINTPTR_MAX >> 24) + 1)) << 24 | (uint64_t)(i + 1));
}

static void on_delivery(const cs_delivery_t *d, void *ctx)
{
    round_t *r = ctx;
    uintptr_t v = (uintptr_t)d->opaque;
    if (v >> 24 != (uintptr_t)(r->nth % ((UINTPTR_MAX >> 24) + 1)))
        return; /* an earlier round's */
    intptr_t i = (intptr_t)(v & (ROUND_ROWS_MAX - 1)) - 1;
    if (!d->err) {
        r->acked[i] = 1;
    } else if (r->nfailed++ == 0) {
        r->fail = *d->err;
    }
}

static bool stopping(cs__worker_outbox_t *o)
{
    pthread_mutex_lock(&o->mu);
    bool s = o->stopping;
    pthread_mutex_unlock(&o->mu);
    return s;
}

/* How long one round waits for its delivery reports before it gives up on the rest. */
#define ROUND_DELIVERY_WAIT_MS 30000

/*
 * Takes the ids of the round's n rows (res, binary: id as int8 first) into r->id, and makes room
 * for their delivery flags. -1 with err when an id is not an int8 (not the relay's query).
 */
static int round_ids(round_t *r, cs_db_res_t *res, int n, cs_err_t *err)
{
    if (n > r->cap) {
        r->acked = cs_mem_realloc(r->acked, (size_t)n);
        r->id = cs_mem_realloc(r->id, (size_t)n * sizeof *r->id);
        r->cap = n;
    }
    for (int i = 0; i < n; i++)
        if (cs_db_bin_int8(cs_db_res_get(res, i, 0), cs_db_res_len(res, i, 0), &r->id[i]) < 0)
            return cs_err_set(err, CS_ERR_FATAL, "outbox row %d of the round: id is not an int8",
                              i);
    return 0;
}

/*
 * Queues the round's n rows (res, binary: id, topic, msg_key, payload, event_type, fingerprint,
 * traceparent or NULL) to the producer, each with its row number + 1 as the delivery's opaque: the
 * payload's bytes as they are, text values as their bytes (libpq ends every value with a NUL, the
 * topic's too). Returns the rows queued: fewer than n with err when a row could not be (what was
 * queued is still waited for).
 */
static int round_send(round_t *r, cs_db_res_t *res, int n, cs_err_t *err)
{
    int queued = 0;

    memset(r->acked, 0, n > 0 ? (size_t)n : 0);
    r->nfailed = 0;
    r->nth++;
    for (int i = 0; i < n; i++) {
        const char *type = cs_db_res_get(res, i, 4), *fp = cs_db_res_get(res, i, 5);
        int tplen = cs_db_res_len(res, i, 6);
        cs_header_t h[3] = {
            {"cs.event_type", type, (size_t)cs_db_res_len(res, i, 4)},
            {"cs.schema_fingerprint", fp, (size_t)cs_db_res_len(res, i, 5)},
            {"traceparent", cs_db_res_get(res, i, 6), tplen > 0 ? (size_t)tplen : 0}};
        if (cs_producer_send_raw(r->prod, cs_db_res_get(res, i, 1), cs_db_res_get(res, i, 2),
                                 (size_t)cs_db_res_len(res, i, 2), cs_db_res_get(res, i, 3),
                                 (size_t)cs_db_res_len(res, i, 3), h, tplen > 0 ? 3 : 2, tag(r, i),
                                 err) < 0)
            break;
        queued++;
    }
    return queued;
}

/* Waits for every queued message's report, or the deadline (a broker away for longer). */
static void round_await(round_t *r)
{
    for (int waited = 0; cs_producer_outstanding(r->prod) > 0 && waited < ROUND_DELIVERY_WAIT_MS;
         waited += 200) {
        cs_err_t e;
        cs_producer_flush(r->prod, 200, &e);
    }
}

/* Writes into r->ids the array of the ids of the acknowledged rows among the first queued; returns
 * how many. */
static int round_acked_ids(round_t *r, int queued)
{
    int published = 0;
    char num[24];

    arr_begin(&r->ids);
    for (int i = 0; i < queued; i++)
        if (r->acked[i]) {
            arr_sep(&r->ids);
            cs_buf_append(&r->ids, num, (size_t)snprintf(num, sizeof num, "%lld", r->id[i]));
            published++;
        }
    arr_end(&r->ids);
    return published;
}

/* A round that published fewer than its n rows: the rest (queued and unacknowledged, failed, or
 * never queued) stay pending, tried again later. Sets err (unless set when queuing) and returns -1.
 */
static int round_shortfall(round_t *r, int n, int queued, int published, cs_err_t *err)
{
    if (queued == n && r->nfailed)
        *err = r->fail;
    else if (queued == n)
        cs_err_set(err, CS_ERR_TRANSIENT, "%d derived events not acknowledged within %d ms",
                   n - published, ROUND_DELIVERY_WAIT_MS);
    return -1;
}

/* The longest a round reads on from the last id it published instead of from the start. */
#define RESCAN_EVERY_S 1.0

/*
 * One round (see the top of the file), by the holder of the group's relay lock. Returns the rows
 * published and deleted, or -1 with err (the rows not deleted stay pending). *nread: the rows read.
 * It reads from the start when r->after is 0 or RESCAN_EVERY_S passed since the last that did.
 */
static int relay_round(round_t *r, int *nread, cs_err_t *err)
{
    cs__worker_outbox_t *o = r->o;
    char lim[24], after[24], first[24], last[24];
    int published = 0, rc = -1;
    r->published = 0;
    if (r->after == 0 || mono_s() - r->full_at >= RESCAN_EVERY_S) {
        r->after = 0;
        r->full_at = mono_s();
    }
    snprintf(lim, sizeof lim, "%lld", o->batch_rows);
    snprintf(after, sizeof after, "%lld", r->after);
    const char *params[] = {o->group, lim, after};
    /* No row locks and no transaction: the relay lock keeps the other relays of the group out,
     * and a row is deleted only after its acknowledgement whatever happens in between. Binary
     * results: the payload comes as its bytes (not as hex text twice its size, which the server
     * would format and the relay decode), the id as 8 bytes. */
    cs_db_res_t *res = cs_db_query_binary(r->db,
                                          "SELECT id, topic, msg_key, payload, event_type, "
                                          "fingerprint, traceparent FROM outbox_events "
                                          "WHERE consumer_group = $1 AND id > $3::bigint "
                                          "ORDER BY id LIMIT $2::int",
                                          3, params, err);
    if (!res)
        return -1;
    int n = *nread = cs_db_res_rows(res);
    if (n == 0) {
        rc = 0;
        goto out;
    }
    if (round_ids(r, res, n, err) < 0) {
        n = 0; /* nothing queued: read from the start next time */
        goto out;
    }
    int queued = round_send(r, res, n, err);
    round_await(r);
    published = round_acked_ids(r, queued);
    if (published > 0) {
        /* The rows' ids lie between the first and the last read: the range bounds the index
         * scan to one pass over them (id + 0: the list filters, it is not n descents). */
        snprintf(first, sizeof first, "%lld", r->id[0]);
        snprintf(last, sizeof last, "%lld", r->id[n - 1]);
        const char *dp[] = {o->group, first, last, r->ids.data};
        if (cs_db_execp(r->db,
                        "DELETE FROM outbox_events WHERE consumer_group = $1 "
                        "AND id BETWEEN $2::bigint AND $3::bigint AND id + 0 = ANY ($4::bigint[])",
                        4, dp, err) < 0)
            goto out; /* they stay pending: published again, duplicates the consumers skip */
        atomic_fetch_add(&o->published, published);
        r->published = published;
    }
    rc = published < n ? round_shortfall(r, n, queued, published, err) : published;
out:
    /* Read on after the last row when every row read is gone; from the start after a failure. */
    r->after = rc >= 0 ? (n > 0 ? r->id[n - 1] : r->after) : 0;
    cs_db_res_free(res);
    return rc;
}

/*
 * Whether this relay holds the group's relay lock, trying to take it when it does not: a session
 * advisory lock on its connection, so one relay of a group publishes at a time and another takes
 * over when the holder's connection ends (a stop, a crash, kill -9: PostgreSQL releases it).
 * -1 with err when the query failed.
 */
static int relay_owns(round_t *r, cs_err_t *err)
{
    if (r->owner)
        return 1;
    if (mono_s() < r->standby_until)
        return 0; /* it just handed the lock over */
    const char *params[] = {r->o->group};
    cs_db_res_t *res = cs_db_query(r->db,
                                   "SELECT pg_try_advisory_lock(hashtextextended("
                                   "'careerstream:outbox-relay:' || $1, 0))",
                                   1, params, err);
    if (!res)
        return -1;
    r->owner = strcmp(cs_db_res_get(res, 0, 0), "t") == 0;
    r->after = 0; /* a new holder reads from the start */
    cs_db_res_free(res);
    return r->owner;
}

/* Counts the group's pending rows and the age of the oldest, for the metrics. */
static void measure(round_t *r)
{
    cs_err_t err;
    const char *params[] = {r->o->group};
    r->measured_at = mono_s();
    cs_db_res_t *res = cs_db_query(
        r->db,
        "SELECT count(*), coalesce((extract(epoch FROM clock_timestamp() - min(created_at)) * "
        "1000)::bigint, 0) FROM outbox_events WHERE consumer_group = $1",
        1, params, &err);
    if (!res)
        return;
    atomic_store(&r->o->pending, strtoll(cs_db_res_get(res, 0, 0), NULL, 10));
    atomic_store(&r->o->oldest_at_ms, (long long)(mono_s() * 1000.0));
    atomic_store(&r->o->oldest_ms, strtoll(cs_db_res_get(res, 0, 1), NULL, 10));
    atomic_store(&r->o->measured, true);
    cs_db_res_free(res);
}

/* The shortest time between two counts of the group's rows (each reads the whole table). */
#define MEASURE_EVERY_S 5.0

/*
 * The gauges after a round that read nread rows and returned n (published, or -1): a round that
 * read fewer than outbox-batch-rows and published them all left none of what it could see, so
 * they are 0 without a query (a row committed late below where a round read on from is not seen
 * until the next round from the start, at most RESCAN_EVERY_S later, which publishes it);
 * otherwise they are counted, at most every MEASURE_EVERY_S, and in between the published rows
 * are taken off the last count.
 */
static void measure_after(round_t *r, int nread, int n)
{
    cs__worker_outbox_t *o = r->o;
    if (n >= 0 && n == nread && nread < o->batch_rows) {
        atomic_store(&o->pending, 0);
        atomic_store(&o->oldest_ms, 0);
        atomic_store(&o->measured, true);
    } else if (r->measured_at == 0 || mono_s() - r->measured_at >= MEASURE_EVERY_S) {
        measure(r);
    } else if (n > 0) {
        long long left = atomic_load(&o->pending) - n;
        atomic_store(&o->pending, left > 0 ? left : 0);
    }
}

/* Waits until kicked, stopped or ms elapsed. */
static void relay_wait(cs__worker_outbox_t *o, long long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&o->mu);
    while (!o->kicked && !o->stopping)
        if (pthread_cond_timedwait(&o->cv, &o->mu, &ts) == ETIMEDOUT)
            break;
    o->kicked = false;
    pthread_mutex_unlock(&o->mu);
}

static char **split_props(const char *s)
{
    char **v = cs_mem_calloc(1, sizeof *v);
    int n = 0;
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len) {
            v = cs_mem_realloc(v, (size_t)(n + 2) * sizeof *v);
            v[n++] = cs_mem_strndup(s, len);
            v[n] = NULL;
        }
        s = e ? e + 1 : NULL;
    }
    return v;
}

/* The relay's own producer, its delivery reports going to the round r. */
static cs_producer_t *relay_producer_new(round_t *r, char **props, cs_err_t *err)
{
    cs__worker_outbox_t *o = r->o;
    cs_producer_opts_t po = {.brokers = o->brokers,
                             .client_id = o->app_name,
                             .linger_ms = 5,
                             .kafka_props = (const char *const *)props,
                             .close_timeout_ms = 2000,
                             .on_delivery = on_delivery,
                             .cb_ctx = r};
    return cs_producer_new_opts(&po, err);
}

/*
 * The relay's session reads outbox_events by its primary key only (see relay_connected): the
 * round's SELECT in id order stops after outbox-batch-rows entries, the DELETE's range and the
 * count are index scans too.
 */
static const char relay_session_sql[] = "SET enable_bitmapscan = off; SET enable_seqscan = off";

/*
 * Whether r has a working connection to PostgreSQL, (re)connecting when it has none. A new session
 * gets relay_session_sql: the outbox is usually near empty when its statistics are taken (by
 * autovacuum's ANALYZE, or a bench's), and with those the planner takes the round's SELECT for a
 * few rows and reads every pending row of the group (a bitmap scan, then a top-N sort) to return
 * outbox-batch-rows of them: with a backlog (a relay behind its batches, a start after an outage)
 * each round would cost the whole backlog, quadratic in it. An index scan reads what it returns.
 */
static bool relay_connected(round_t *r, cs_err_t *err)
{
    if (r->db && cs_db_ok(r->db))
        return true;
    cs_db_destroy(r->db);
    r->owner = false; /* the lock went with the connection */
    r->db = cs_db_connect(r->o->dsn, r->o->app_name, err);
    if (r->db && cs_db_exec(r->db, relay_session_sql, err) < 0) {
        cs_db_destroy(r->db);
        r->db = NULL;
    }
    return r->db != NULL;
}

/* After a failure: waits the back-off (200 ms once stopping), then doubles it up to 5 s. */
static void relay_back_off(cs__worker_outbox_t *o, bool stop, long long *backoff_ms)
{
    relay_wait(o, stop ? 200 : *backoff_ms);
    *backoff_ms = *backoff_ms * 2 > 5000 ? 5000 : *backoff_ms * 2;
}

/*
 * After a round that read rows and published none of them (the brokers out of this instance's
 * reach, for ROUND_DELIVERY_WAIT_MS): lets the group's relay lock go, so that a relay of another
 * instance that can reach them publishes, and stands by for two polls before trying it again
 * (alone in its group, it takes it back then). Its undelivered messages may still be delivered
 * later: duplicates of rows another relay publishes, which consumers skip; their reports are
 * ignored (tag()).
 */
static void relay_hand_over(round_t *r, const cs_err_t *why)
{
    cs__worker_outbox_t *o = r->o;
    const char *params[] = {o->group};
    cs_err_t err;
    cs_err_clear(&err);
    cs_db_res_t *res = cs_db_query(r->db,
                                   "SELECT pg_advisory_unlock(hashtextextended("
                                   "'careerstream:outbox-relay:' || $1, 0))",
                                   1, params, &err);
    if (!res)
        return; /* the connection is gone, and the lock with it (relay_connected) */
    cs_db_res_free(res);
    r->owner = false;
    long long wait_ms = 2 * o->poll_ms < 1000 ? 1000 : 2 * o->poll_ms;
    r->standby_until = mono_s() + (double)wait_ms / 1000.0;
    cs_log_warn("outbox relay published nothing; handing the group's relay lock over",
                CS_LS("group", o->group), CS_LS("reason", why->msg), CS_LI("standby_ms", wait_ms));
}

/*
 * One turn of the relay on a connected r: a round if it holds the group's relay lock (or takes
 * it), else standing by. Returns false when the relay is done (stopping with nothing left of its
 * own to publish).
 */
static bool relay_turn(round_t *r, bool stop, long long *backoff_ms)
{
    cs__worker_outbox_t *o = r->o;
    cs_err_t err;
    cs_err_clear(&err);
    int owns = relay_owns(r, &err);
    if (owns == 0) {
        /* Another relay of the group publishes; this one counts for the gauges and waits. */
        if (stop)
            return false;
        measure_after(r, -1, -1);
        relay_wait(o, o->poll_ms);
        return true;
    }
    int nread = 0;
    if (stop)
        r->after = 0; /* stopping: every round from the start, to see that nothing is left */
    int n = owns < 0 ? -1 : relay_round(r, &nread, &err);
    measure_after(r, nread, n);
    if (n < 0) {
        cs_log_warn("outbox relay round failed; rows stay pending",
                    CS_LS("kind", cs_err_kind_name(err.kind)), CS_LS("reason", err.msg),
                    CS_LS("sqlstate", err.sqlstate));
        if (owns > 0 && nread > 0 && r->published == 0 && !stop)
            relay_hand_over(r, &err);
        relay_back_off(o, stop, backoff_ms);
        return true;
    }
    *backoff_ms = 200;
    if (n > 0)
        cs_log_debug("outbox relayed", CS_LI("events", n));
    if (n >= o->batch_rows)
        return true; /* more are waiting */
    if (stop && atomic_load(&o->pending) == 0)
        return false;
    relay_wait(o, stop ? 50 : o->poll_ms);
    return true;
}

static void *relay_main(void *arg)
{
    cs__worker_outbox_t *o = arg;
    round_t r = {.o = o};
    char **props = split_props(o->kafka_props);
    cs_err_t err;
    double deadline = 0;
    long long backoff_ms = 200;
#ifdef __linux__
    prctl(PR_SET_NAME, "cs-outbox"); /* the thread's name in /proc and top -H */
#endif
    cs_buf_init(&r.ids);
    cs_err_clear(&err);
    r.prod = relay_producer_new(&r, props, &err);
    if (!r.prod) {
        /* The worker's own producer (dead letters) took the same settings: not expected. */
        cs_log_error("outbox relay cannot create its producer; derived events stay pending",
                     CS_LS("reason", err.msg));
        goto out;
    }
    for (;;) {
        bool stop = stopping(o);
        if (stop && deadline == 0)
            deadline = mono_s() + (double)o->stop_timeout_ms / 1000.0;
        if (stop && mono_s() >= deadline) {
            cs_log_warn("outbox relay stopping with rows pending; the next start publishes them",
                        CS_LI("pending", (long long)atomic_load(&o->pending)));
            break;
        }
        if (!relay_connected(&r, &err)) {
            cs_log_debug("outbox relay waiting for postgresql", CS_LS("reason", err.msg));
            relay_back_off(o, stop, &backoff_ms);
            continue;
        }
        if (!relay_turn(&r, stop, &backoff_ms))
            break;
    }
out:
    cs_producer_destroy(r.prod);
    cs_db_destroy(r.db);
    free(r.acked);
    free(r.id);
    cs_buf_fini(&r.ids);
    for (int i = 0; props[i]; i++)
        free(props[i]);
    free(props);
    return NULL;
}

/* ---- the loop's side ---- */

static void collect(cs_metrics_t *m, void *ud)
{
    (void)m;
    cs__worker_outbox_t *o = ud;
    if (!atomic_load(&o->measured))
        return;
    cs_metric_set(o->m_pending, NULL, (double)atomic_load(&o->pending));
    long long age = atomic_load(&o->oldest_ms);
    if (age > 0) /* live between counts: the age counted plus the time since */
        age += (long long)(mono_s() * 1000.0) - atomic_load(&o->oldest_at_ms);
    cs_metric_set(o->m_oldest, NULL, (double)age / 1000.0);
    long long p = atomic_load(&o->published);
    cs_metric_inc(o->m_published, NULL, (double)(p - o->published_seen));
    o->published_seen = p;
}

void cs__worker_outbox_metrics(cs_worker_t *w)
{
    /* Registered by every worker, so dashboards find the families; only an outbox fills them. */
    cs_metric_t *pending = cs_metrics_gauge(w->metrics, "cs_outbox_pending",
                                            "derived events committed but not yet published", NULL);
    cs_metric_t *oldest =
        cs_metrics_gauge(w->metrics, "cs_outbox_oldest_age_seconds",
                         "age of the oldest derived event waiting in the outbox (0: none)", NULL);
    cs_metric_t *published =
        cs_metrics_counter(w->metrics, "cs_outbox_published_total",
                           "derived events the relay published and removed from the outbox", NULL);
    if (!w->outbox)
        return;
    w->outbox->m_pending = pending;
    w->outbox->m_oldest = oldest;
    w->outbox->m_published = published;
    cs_metrics_on_collect(w->metrics, collect, w->outbox);
}

cs_table_def_t *cs__worker_outbox_tables(const cs_worker_def_t *def, int ntables)
{
    cs_table_def_t *t = cs_mem_calloc((size_t)ntables + 2, sizeof *t);
    for (int i = 0; i < ntables; i++)
        t[i] = def->tables[i];
    t[ntables] = (cs_table_def_t){.table = "outbox_events", .columns = outbox_columns};
    return t;
}

int cs__worker_outbox_new(cs_worker_t *w, cs_err_t *err)
{
    cs__worker_outbox_t *o = cs_mem_calloc(1, sizeof *o);
    char app[128];
    o->codec = cs_codec_new(err);
    if (!o->codec) {
        free(o);
        return -1;
    }
    cs_buf_init(&o->enc);
    cs_buf_init(&o->hex);
    o->table = w->ntables;
    o->group = cs_mem_strdup(w->group);
    snprintf(app, sizeof app, "%s-outbox", w->def->name);
    o->app_name = cs_mem_strdup(app);
    o->dsn = cs_mem_strdup(cs__worker_dsn_of(w));
    o->brokers = cs_mem_strdup(cs_config_str(w->cfg, "kafka-brokers"));
    const char *props = cs_config_str(w->cfg, "kafka-props");
    o->kafka_props = props ? cs_mem_strdup(props) : NULL;
    o->batch_rows = cs_config_int(w->cfg, "outbox-batch-rows");
    o->poll_ms = cs_config_int(w->cfg, "outbox-poll-ms");
    o->stop_timeout_ms = w->shutdown_timeout_ms;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    w->outbox = o;
    for (int i = 0; i < w->nstages; i++)
        if (w->st[i].batch)
            cs__batch_set_emitter(w->st[i].batch, o);
    return 0;
}

int cs__worker_outbox_start(cs_worker_t *w, cs_err_t *err)
{
    cs__worker_outbox_t *o = w->outbox;
    if (!o)
        return 0;
    int rc = pthread_create(&o->thread, NULL, relay_main, o);
    if (rc != 0)
        return cs_err_set(err, CS_ERR_FATAL, "cannot start the outbox relay: %s", strerror(rc));
    o->started = true;
    return 0;
}

void cs__worker_outbox_kick(cs_worker_t *w)
{
    cs__worker_outbox_t *o = w->outbox;
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->kicked = true;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

bool cs__worker_outbox_rows(const cs_worker_t *w, const stage_t *s)
{
    return w->outbox && cs_batch_rows(s->batch, w->outbox->table) > 0;
}

void cs__worker_outbox_stop(cs_worker_t *w)
{
    cs__worker_outbox_t *o = w->outbox;
    if (!o || !o->started)
        return;
    pthread_mutex_lock(&o->mu);
    o->stopping = true;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL);
    o->started = false;
}

void cs__worker_outbox_destroy(cs_worker_t *w)
{
    cs__worker_outbox_t *o = w->outbox;
    if (!o)
        return;
    cs__worker_outbox_stop(w);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    cs_codec_destroy(o->codec);
    cs_buf_fini(&o->enc);
    cs_buf_fini(&o->hex);
    free(o->group);
    free(o->app_name);
    free(o->dsn);
    free(o->brokers);
    free(o->kafka_props);
    free(o);
    w->outbox = NULL;
}

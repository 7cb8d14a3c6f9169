/*
 * libcore/src/worker.c
 *      The dispatcher: poll -> batch -> decode -> dedupe -> handlers -> flush -> commit | retry |
 *      dead-letter, on one libev loop.
 *
 * One loop thread runs everything but the database part of a pipelined batch. Watchers: the
 * consumer queue's io-event pipe (messages and rebalances), the batch timer (batch-ms after the
 * first message of a batch), the retry timer (backoff while a dependency is down), a watermark
 * timer (lag of paused partitions), the committer's completion (ev_async), SIGTERM/SIGINT, and the
 * HTTP endpoint. Every callback runs to completion.
 *
 * Messages wait in `pending` (kept in offset order per partition) until a batch is applied. A batch
 * is at most batch-size pending messages. The synchronous path (--pipeline=false, and the slow
 * path of the pipeline) applies it in one transaction on the loop thread:
 *   BEGIN; mark event ids processed / find erased learners (one statement); run handlers;
 *   COPY/upsert each table; record dead letters; compare-and-set the partitions' offsets;
 *   publish the dead letters to Kafka; COMMIT.
 * Failures are classified once, here: TRANSIENT -> roll back, pause every partition, retry the
 * same batch after an exponential backoff with jitter (while PostgreSQL cannot be reached at all,
 * the wait is spent probing it every ~200-250 ms, and the retry comes as soon as a probe
 * connects: see enter_backoff); PERMANENT while writing tables -> roll back
 * and redo the batch isolating the culprit by bisection under savepoints, dead-lettering it in the
 * same transaction; FATAL -> stop with exit code 1. A compare-and-set that updates fewer rows than
 * expected means another consumer committed those partitions: roll back, reload the offsets from
 * PostgreSQL, seek there and drop what was pending for them.
 *
 * The pipeline (the default) overlaps PostgreSQL with the loop. Two stages (batch buffers, arena,
 * items, parameters) alternate. The loop prepares batch N+1 (decode; a read-only pre-check on a
 * second connection R: erased learners and, for dedupe workers, the event ids already processed;
 * handlers; dead letters; the parameters of the tail statement) while a committer thread runs batch
 * N on the main connection M: BEGIN; COPY/merges; dead letters; one tail statement that
 * compare-and-sets the offsets (expecting N-1's next offsets), inserts the processed ids and
 * re-reads erased_users; dead-letter publish; COMMIT. The committer touches only M, the stage it
 * commits and the dlq; everything else (metrics, partitions, Kafka commit, pending, the
 * `committed` hook) stays on the loop, which learns of the completion through an ev_async watcher.
 * A tail that finds an id already processed (the batch before it, or another consumer, applied it
 * after the pre-check) or a learner erased since, rolls back and the batch is redone on the
 * synchronous path, which decides both inside its transaction. Any failure of N discards N+1
 * (def->forget) and handles N exactly as the synchronous path does (the retry after a transient
 * failure is synchronous too). Revocation, assignment, stop and drain wait for the committer first.
 * Group commit: with nothing in flight, what is pending is applied as soon as the consumer queue is
 * empty; while a batch is in flight, messages accumulate and go as one batch when it completes;
 * batch-ms stays the upper bound.
 *
 * Per-partition positions: `committed` is the next offset stored in PostgreSQL (-1: no row yet:
 * the partition is read from its beginning, whatever Kafka's committed offset says),
 * `flight_next` the next offset once the batch in flight commits, `recv_pos` the next offset
 * expected from Kafka; anything older is a duplicate delivery and is dropped before it reaches a
 * batch.
 */
#include "cs/worker.h"

#include <errno.h>
#include <ev.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cs/buf.h"
#include "cs/consumer.h"
#include "cs/db.h"
#include "cs/dlq.h"
#include "cs/http.h"
#include "cs/log.h"
#include "cs/metrics.h"

/* ---- options ---- */

const cs_opt_t cs_worker_opts[] = {
    {"group", CS_OPT_STRING, NULL, "consumer group (default: the worker's own)"},
    {"topics", CS_OPT_STRING, NULL, "comma-separated topics to consume (default: the worker's)"},
    {"batch-size", CS_OPT_INT, "5000", "events per batch at most", 1, 1000000},
    {"batch-ms", CS_OPT_INT, "100", "milliseconds a batch waits to fill before it is applied", 1,
     600000},
    {"batch-bytes", CS_OPT_INT, "16777216", "payload bytes per batch at most", 1024, 1073741824},
    {"drain", CS_OPT_BOOL, "false",
     "process until the end of every assigned partition, then exit 0"},
    {"retry-initial-ms", CS_OPT_INT, "200", "first backoff after a transient failure", 1, 600000},
    {"retry-max-ms", CS_OPT_INT, "30000", "longest backoff between retries", 1, 3600000},
    {"shutdown-timeout-ms", CS_OPT_INT, "30000",
     "how long SIGTERM may wait for the last batch to commit", 100, 3600000},
    /*
     * Group timing (consumer.c derives the heartbeat: a tenth of the session, at most 3 s). The
     * session timeout is how long the coordinator keeps a silent member: a member that dies
     * (kill -9, a lost host) holds its partitions that long before the group rebalances, and a
     * static member (--group-instance-id) that restarts within it gets them back with no
     * rebalance at all. 10 s: a crash is handed over in seconds, a worker restarts well within
     * it (it starts in under a second), and the heartbeats (1 s) run on librdkafka's own thread,
     * so a long batch never misses one; only the network and the coordinator must answer within
     * 10 s (brokers refuse less than their group.min.session.timeout.ms, 6 s by default). Kafka's
     * own default, 45 s, is for clients whose restarts or networks are slower; raise it for a
     * static member whose restart takes longer (a pod rescheduled elsewhere).
     */
    {"session-timeout-ms", CS_OPT_INT, "10000",
     "Kafka consumer group session timeout: how long a dead member keeps its partitions", 1000,
     3600000},
    {"group-instance-id", CS_OPT_STRING, NULL,
     "static group membership (KIP-345): a name unique in the group and stable across restarts "
     "of this instance (e.g. the host or pod name); a restart within the session timeout gets "
     "the same partitions back with no rebalance; empty: dynamic membership"},
    {"max-poll-interval-ms", CS_OPT_INT, "300000", "Kafka max.poll.interval.ms", 1000, 86400000},
    /*
     * A dead letter not acknowledged in time stays in flight (cs/dlq.h): the batch is rolled back
     * and its retry waits for the same message, so a short wait costs a retry, not a duplicate.
     * The committer thread waits this long; the event loop (a retried batch) at most
     * DLQ_LOOP_WAIT_MS, and the loop waits for the committer only in a rebalance or a stop.
     */
    {"dlq-timeout-ms", CS_OPT_INT, "2000",
     "how long one attempt of a batch waits for its dead letters to be acknowledged before it "
     "is rolled back and retried (the dead letters stay in flight; a retry on the event loop "
     "waits at most 250 ms)",
     100, 600000},
    {"pipeline", CS_OPT_BOOL, "true",
     "overlap PostgreSQL with preparing the next batch (false: one batch at a time, serially)"},
    {"batch-array-rows", CS_OPT_INT, "500",
     "rows per table up to which a batch writes it with one statement from array parameters "
     "instead of COPY and a staging table (0: always COPY)",
     0, 1000000},
    {"commit-pipeline", CS_OPT_BOOL, "true",
     "send a small batch's whole transaction in one round trip (libpq pipeline mode)"},
    {"fetch-wait-ms", CS_OPT_INT, "5",
     "longest a Kafka fetch waits for data (bounds latency on the embedded broker)", 1, 10000},
    {"prefetch-reservoir-kb", CS_OPT_INT, "2048",
     "KiB of message copies the consumer reads ahead while two batches are taken (0: none)", 0,
     1048576},
    {"kafka-props", CS_OPT_STRING, NULL,
     "extra librdkafka consumer properties, name=value[,name=value] (e.g. security.protocol)", 0, 0,
     NULL, CS_OPT_SECRET},
    {"metrics-port", CS_OPT_INT, "0",
     "port of /healthz, /readyz and /metrics (0: any free port, -1: disabled)", -1, 65535},
    {"metrics-addr", CS_OPT_STRING, "0.0.0.0",
     "numeric IPv4 or IPv6 address the metrics port listens on (0.0.0.0: all IPv4, so that "
     "orchestrator probes reach it; 127.0.0.1: this host only)"},
    {NULL},
};

/* ---- state ---- */

enum item_state {
    IT_DECODED = 0,
    IT_NEW,    /* first delivery of its event id: every handler runs */
    IT_DUP,    /* event id already applied: CS_HANDLER_ALWAYS handlers only */
    IT_ERASED, /* learner erased: skipped */
    IT_DEAD    /* dead-lettered (decode, validation, handler or database) */
};

typedef struct part {
    char *topic;
    int partition;
    char pstr[12];
    int64_t committed;   /* next offset in consumer_offsets; -1: no row */
    int64_t recv_pos;    /* next offset expected from Kafka; -1: any */
    int64_t hi_queried;  /* high watermark asked for while paused; -1 unknown */
    int64_t last_ts_ms;  /* timestamp of the last committed message */
    int64_t flight_next; /* next offset once the batch in flight commits; -1: not in it */
    bool active;
    bool need_offset; /* assigned while PostgreSQL was unreachable: waiting to seek */
    bool eof;
    /* per-batch scratch */
    int64_t b_last;
    bool b_in;
} part_t;

typedef struct item {
    cs_msg_t *msg;
    part_t *part;
    cs_event_t ev;
    int state;
    bool was_new;           /* marked processed in this transaction */
    const char *dead_class; /* IT_DEAD */
    cs_err_t *err;          /* IT_DEAD, from the arena */
} item_t;

/* APPLY_RERUN: isolation found events the database refuses; run the batch again without them. */
enum { APPLY_OK = 0, APPLY_FAILED = -1, APPLY_FENCED = -2, APPLY_REDO = -3, APPLY_RERUN = -4 };

/* After a pipelined batch had to be redone, this many batches are pre-checked on R. */
#define PRECHECK_BATCHES 32

/*
 * One batch's buffers. The synchronous path uses one stage; the pipeline alternates two: while the
 * committer thread commits one (and reads only it), the loop prepares the other.
 */
typedef struct stage {
    cs_batch_t *batch;
    cs_arena_t *arena; /* decoded events, dead-letter errors */
    item_t *items;
    int capitems;
    cs_dead_letter_t *dls;
    int capdls;
    int n;     /* events: pending[0..n) when in flight */
    int ndead; /* dead letters built for it */
    /* its partitions and the last offset of each */
    part_t **bparts;
    int64_t *blast;
    int nbparts, capbparts;
    /* the tail statement's parameters (built by the loop) */
    cs_buf_t p[10];
    int nnew;  /* distinct new event ids the transaction must insert */
    int nmark; /* event ids it marks processed (new and erased) */
    /* set by the committer */
    int rc;
    cs_err_t err;
    const char *waiting; /* what rc != OK was waiting for */
    double t0;
    double t_phase[6];
    /* events of this batch the database refused, found by isolation (synchronous path only) */
    struct refused {
        bool on;
        cs_err_t err;
    } * refused;
    int caprefused;
} stage_t;

typedef struct hlist {
    const char *name; /* the type name the list was built for (static storage) */
    int n;
    int idx[8];
    bool built;
} hlist_t;

#define MAX_TYPES 256

struct cs_worker {
    const cs_worker_def_t *def;
    cs_config_t *cfg;
    cs_opt_t *opts;
    struct ev_loop *loop;
    void *ud;
    char *group;
    char **topics;
    int ntopics;

    cs_consumer_t *consumer;
    cs_db_t *db;
    bool db_prepared;
    cs_dlq_t *dlq;
    cs_codec_t *codec;
    cs_http_t *http;
    cs_db_t *rdb; /* pipeline pre-checks: autocommit, read-only */
    int ntables;

    /* stages: st[0] and st[1]; the synchronous path uses whichever is free */
    stage_t st[2];
    bool pipeline;
    bool commit_pipeline;   /* commit small batches in one round trip (commit_pipelined) */
    stage_t *inflight;      /* handed to the committer; its events are pending[0..inflight->n) */
    stage_t *ready;         /* prepared, waiting for the committer; pending[nflight..+ready->n) */
    stage_t *inflight_done; /* being completed (logs say whether a batch was pipelined) */
    bool throttled;         /* stopped reading the consumer queue until the committer is free */
    int precheck_left;      /* batches still to pre-check on R (after a redo) */
    pthread_t committer;
    bool committer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    stage_t *job;  /* mu: handed over, not yet done */
    stage_t *done; /* mu: done, not yet completed on the loop */
    bool quit;     /* mu */
    ev_async done_async;

    /* handler dispatch, built lazily per type index */
    hlist_t types[MAX_TYPES];

    /* partitions */
    part_t **parts;
    int nparts, capparts;
    part_t *last_part;
    bool got_assignment;

    /* pending messages */
    cs_msg_t **pending;
    int npending, cappending;
    size_t pending_bytes;

    /* config */
    long long batch_size, batch_ms, batch_bytes;
    long long retry_initial_ms, retry_max_ms, shutdown_timeout_ms, dlq_timeout_ms;
    bool drain;

    /* retry */
    int attempt; /* retries of the current batch */
    bool backoff;
    bool paused_all;
    double backoff_s;
    bool probing;     /* PostgreSQL unreachable: the retry timer probes it (probe_pg) */
    double retry_at;  /* ev_now when the backoff step ends: the retry is due then regardless */
    double probe_t0;  /* ev_now of the first probe of this outage; 0: not probing */
    long long probes; /* probes that found PostgreSQL still away in this outage */
    char waiting_for[64];

    /* lifecycle */
    bool stopping;
    bool closed;
    int exit_code;

    ev_io consumer_io;
    ev_idle consumer_idle;
    ev_timer batch_timer;
    ev_timer retry_timer;
    ev_timer wm_timer;
    ev_timer tick_timer; /* def->tick, when the worker has one */
    ev_timer deadline_timer;
    ev_timer topic_timer; /* start-up: until every topic exists (on_topic_timer) */
    double topic_missing_since, topic_warned_at;
    ev_signal sigterm, sigint;

    /* metrics */
    cs_metrics_t *metrics;
    cs_metric_t *m_received, *m_consumed, *m_applied, *m_dead, *m_skipped;
    cs_metric_t *m_batch_size, *m_batch_seconds, *m_batches, *m_db_errors, *m_retries;
    cs_metric_t *m_e2e; /* produce time (message timestamp) to commit, per event */
    cs_metric_t *m_lag_msgs, *m_lag_secs, *m_assigned, *m_ready, *m_fenced;
    double type_counts[4][MAX_TYPES + 1];

    cs_buf_t a1, a2, a3, a4, a5; /* array parameters */
};

static void stop_now(cs_worker_t *w, int code);
static void schedule_flush(cs_worker_t *w);
static void flush_ready(cs_worker_t *w, bool all);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- partitions ---- */

static part_t *part_find(cs_worker_t *w, const char *topic, int partition)
{
    part_t *p = w->last_part;
    if (p && p->partition == partition && strcmp(p->topic, topic) == 0)
        return p;
    for (int i = 0; i < w->nparts; i++) {
        p = w->parts[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return w->last_part = p;
    }
    return NULL;
}

static part_t *part_get(cs_worker_t *w, const char *topic, int partition)
{
    part_t *p = part_find(w, topic, partition);
    if (p)
        return p;
    if (w->nparts == w->capparts) {
        w->capparts = w->capparts ? 2 * w->capparts : 16;
        w->parts = realloc(w->parts, (size_t)w->capparts * sizeof *w->parts);
        if (!w->parts)
            abort();
    }
    p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->topic = strdup(topic);
    p->partition = partition;
    snprintf(p->pstr, sizeof p->pstr, "%d", partition);
    p->committed = p->recv_pos = p->hi_queried = p->flight_next = -1;
    p->last_ts_ms = -1;
    w->parts[w->nparts++] = p;
    return p;
}

static int nactive(const cs_worker_t *w)
{
    int n = 0;
    for (int i = 0; i < w->nparts; i++)
        n += w->parts[i]->active;
    return n;
}

/* ---- database ---- */

static const char *dsn_of(cs_worker_t *w)
{
    return cs_config_str(w->cfg, "pg-dsn");
}

static void set_waiting(cs_worker_t *w, const char *what)
{
    snprintf(w->waiting_for, sizeof w->waiting_for, "%s", what);
}

#define TAIL_CHECK_STMT      "cs_tail_check_v1"
#define PROCESSED_CHECK_STMT "cs_processed_check_v1"
#define PROCESSED_STMT       "cs_processed_v1"
#define TAIL_STMT            "cs_tail_v1"
#define OFFSETS_CAS_STMT     "cs_offsets_cas_v1"
static int prepare_commit_statements(cs_worker_t *w, cs_err_t *err);

/* Connects or reconnects; prepares the session (staging tables, prepared statements). */
static int db_ensure(cs_worker_t *w, cs_err_t *err)
{
    if (w->db && cs_db_ok(w->db) && w->db_prepared)
        return 0;
    set_waiting(w, "postgresql");
    if (!w->db) {
        w->db = cs_db_connect(dsn_of(w), w->def->name, err);
        if (!w->db)
            return -1;
    } else if (!cs_db_ok(w->db)) {
        if (cs_db_reset(w->db, err) < 0)
            return -1;
    }
    w->db_prepared = false;
    /* Both stages' batches have the same tables, hence the same staging tables and statements
     * (the second round finds them and only reads the column types again). */
    for (int i = 0; i < 2; i++)
        if (cs_batch_prepare(w->st[i].batch, w->db, err) < 0)
            return -1;
    /* The commit's own statements, parsed and planned once per session (sent unnamed, parsing
     * and planning them was the largest share of a small batch's server time). */
    if (prepare_commit_statements(w, err) < 0)
        return -1;
    w->db_prepared = true;
    cs_log_info("connected to postgresql");
    return 0;
}

static void db_rollback(cs_worker_t *w)
{
    cs_err_t e;
    if (w->db && cs_db_ok(w->db))
        cs_db_exec(w->db, "ROLLBACK", &e);
    /* Whatever the handlers derived from this attempt is gone with it. */
    if (w->def->forget)
        w->def->forget(w->ud);
}

/* A text[] / int[] / bigint[] literal builder: {a,b,c} with strings double-quoted. */
static void arr_begin(cs_buf_t *b)
{
    cs_buf_reset(b);
    cs_buf_putc(b, '{');
}

static void arr_sep(cs_buf_t *b)
{
    if (b->len > 1)
        cs_buf_putc(b, ',');
}

static void arr_str(cs_buf_t *b, const char *s)
{
    arr_sep(b);
    cs_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            cs_buf_putc(b, '\\');
        cs_buf_putc(b, *s);
    }
    cs_buf_putc(b, '"');
}

static void arr_int(cs_buf_t *b, long long v)
{
    arr_sep(b);
    cs_buf_printf(b, "%lld", v);
}

static void arr_end(cs_buf_t *b)
{
    cs_buf_putc(b, '}');
}

/*
 * Reads the stored next offsets of parts[0..n) into part->committed (-1 when no row).
 */
static int load_offsets(cs_worker_t *w, part_t **ps, int n, cs_err_t *err)
{
    if (n == 0)
        return 0;
    if (db_ensure(w, err) < 0)
        return -1;
    arr_begin(&w->a1);
    arr_begin(&w->a2);
    for (int i = 0; i < n; i++) {
        arr_str(&w->a1, ps[i]->topic);
        arr_int(&w->a2, ps[i]->partition);
    }
    arr_end(&w->a1);
    arr_end(&w->a2);
    const char *params[] = {w->group, w->a1.data, w->a2.data};
    cs_db_res_t *res =
        cs_db_query(w->db,
                    "SELECT o.topic, o.kafka_partition, o.next_offset FROM consumer_offsets o "
                    "JOIN unnest($2::text[], $3::int[]) AS v(topic, kp) "
                    "ON o.topic = v.topic AND o.kafka_partition = v.kp WHERE o.consumer_group = $1",
                    3, params, err);
    if (!res)
        return -1;
    for (int i = 0; i < n; i++)
        ps[i]->committed = -1;
    for (int r = 0; r < cs_db_res_rows(res); r++) {
        part_t *p = part_find(w, cs_db_res_get(res, r, 0), atoi(cs_db_res_get(res, r, 1)));
        if (p)
            p->committed = strtoll(cs_db_res_get(res, r, 2), NULL, 10);
    }
    cs_db_res_free(res);
    return 0;
}

/* ---- pending messages ---- */

static void pending_push(cs_worker_t *w, cs_msg_t *m)
{
    if (w->npending == w->cappending) {
        w->cappending = w->cappending ? 2 * w->cappending : 1024;
        w->pending = realloc(w->pending, (size_t)w->cappending * sizeof *w->pending);
        if (!w->pending)
            abort();
    }
    w->pending[w->npending++] = m;
    w->pending_bytes += m->len;
}

/* Frees the first n pending messages. */
static void pending_consume(cs_worker_t *w, int n)
{
    for (int i = 0; i < n; i++) {
        w->pending_bytes -= w->pending[i]->len;
        cs_consumer_msg_free(w->pending[i]);
    }
    memmove(w->pending, w->pending + n, (size_t)(w->npending - n) * sizeof *w->pending);
    w->npending -= n;
}

/* Drops pending messages of partitions for which drop(part) is true. */
static int pending_drop(cs_worker_t *w, bool (*drop)(const part_t *p, const void *ctx),
                        const void *ctx)
{
    int j = 0, dropped = 0;
    for (int i = 0; i < w->npending; i++) {
        cs_msg_t *m = w->pending[i];
        part_t *p = part_find(w, m->topic, m->partition);
        if (!p || drop(p, ctx)) {
            w->pending_bytes -= m->len;
            cs_consumer_msg_free(m);
            dropped++;
        } else {
            w->pending[j++] = m;
        }
    }
    w->npending = j;
    return dropped;
}

/* ---- pause / resume ---- */

static int collect_tps(cs_worker_t *w, cs_tp_t **out, bool (*pick)(const part_t *p))
{
    cs_tp_t *tps = calloc((size_t)(w->nparts ? w->nparts : 1), sizeof *tps);
    int n = 0;
    if (!tps)
        abort();
    for (int i = 0; i < w->nparts; i++) {
        part_t *p = w->parts[i];
        if (p->active && pick(p)) {
            tps[n].topic = p->topic;
            tps[n].partition = p->partition;
            tps[n].offset = p->committed;
            n++;
        }
    }
    *out = tps;
    return n;
}

static bool pick_all(const part_t *p)
{
    (void)p;
    return true;
}

static bool pick_ready(const part_t *p)
{
    return !p->need_offset;
}

static void pause_all(cs_worker_t *w)
{
    cs_tp_t *tps;
    cs_err_t err;
    if (w->paused_all)
        return;
    int n = collect_tps(w, &tps, pick_all);
    if (n && cs_consumer_pause(w->consumer, tps, n, &err) < 0)
        cs_log_warn("pausing partitions failed", CS_LS("error", err.msg));
    free(tps);
    w->paused_all = true;
}

static void resume_ready(cs_worker_t *w)
{
    cs_tp_t *tps;
    cs_err_t err;
    int n = collect_tps(w, &tps, pick_ready);
    if (n && cs_consumer_resume(w->consumer, tps, n, &err) < 0)
        cs_log_warn("resuming partitions failed", CS_LS("error", err.msg));
    free(tps);
    w->paused_all = false;
}

static bool drop_need_offset(const part_t *p, const void *ctx)
{
    (void)ctx;
    return p->need_offset;
}

/*
 * librdkafka's logical offset "the beginning of the partition" (RD_KAFKA_OFFSET_BEGINNING): where a
 * partition starts when PostgreSQL, the source of truth, has no offset for it, whatever Kafka's
 * committed offset for the group says (a fresh database must not skip what an old group read).
 */
#define OFFSET_BEGINNING (-2)

/*
 * Moves the fetch position of partitions whose pending messages were dropped back to the first
 * event not applied: the stored offset, or, when PostgreSQL has no row yet, the beginning.
 */
static void reposition(cs_worker_t *w, part_t **ps, int n)
{
    cs_tp_t *tps = calloc((size_t)(n ? n : 1), sizeof *tps);
    int ns = 0;
    cs_err_t err;
    if (!tps)
        abort();
    for (int i = 0; i < n; i++) {
        int64_t target = ps[i]->committed >= 0 ? ps[i]->committed : OFFSET_BEGINNING;
        ps[i]->recv_pos = ps[i]->committed; /* -1: any */
        ps[i]->eof = false;                 /* sought: the end must be reached again */
        tps[ns++] = (cs_tp_t){ps[i]->topic, ps[i]->partition, target, false};
    }
    if (ns && cs_consumer_seek(w->consumer, tps, ns, &err) < 0)
        cs_log_warn("seek failed", CS_LS("error", err.msg));
    free(tps);
}

/*
 * Loads the stored offsets of partitions assigned while PostgreSQL was unreachable, seeks them
 * there and lets them fetch. Returns -1 with err when PostgreSQL is still unreachable.
 */
static int settle_offsets(cs_worker_t *w, cs_err_t *err)
{
    part_t **ps = calloc((size_t)(w->nparts ? w->nparts : 1), sizeof *ps);
    int n = 0, rc = 0;
    if (!ps)
        abort();
    for (int i = 0; i < w->nparts; i++)
        if (w->parts[i]->active && w->parts[i]->need_offset)
            ps[n++] = w->parts[i];
    if (n == 0)
        goto out;
    if (load_offsets(w, ps, n, err) < 0) {
        rc = -1;
        goto out;
    }
    pending_drop(w, drop_need_offset, NULL);
    for (int i = 0; i < n; i++) {
        ps[i]->need_offset = false;
        cs_log_info("partition offset loaded", CS_LS("topic", ps[i]->topic),
                    CS_LI("partition", ps[i]->partition), CS_LI("offset", ps[i]->committed));
    }
    reposition(w, ps, n);
    cs_err_t e;
    if (!w->backoff) {
        /* resume the partitions that were paused for want of an offset */
        cs_tp_t *rt = calloc((size_t)n, sizeof *rt);
        if (!rt)
            abort();
        for (int i = 0; i < n; i++)
            rt[i] = (cs_tp_t){ps[i]->topic, ps[i]->partition, 0, false};
        if (cs_consumer_resume(w->consumer, rt, n, &e) < 0)
            cs_log_warn("resume failed", CS_LS("error", e.msg));
        free(rt);
    }
out:
    free(ps);
    return rc;
}

/* ---- handlers ---- */

static hlist_t *handlers_for(cs_worker_t *w, const cs_event_t *ev, hlist_t *tmp)
{
    hlist_t *h = (ev->type >= 0 && ev->type < MAX_TYPES) ? &w->types[ev->type] : tmp;
    if (h->built && h->name == ev->type_name)
        return h;
    memset(h, 0, sizeof *h);
    for (int i = 0; w->def->handlers[i].event_type && h->n < 8; i++) {
        const char *t = w->def->handlers[i].event_type;
        if (strcmp(t, CS_EVENT_ANY) == 0 || (ev->type_name && strcmp(t, ev->type_name) == 0))
            h->idx[h->n++] = i;
    }
    h->name = ev->type_name;
    h->built = true;
    return h;
}

/* ---- batch application ---- */

static void item_dead(stage_t *s, item_t *it, const char *cls, const cs_err_t *err)
{
    it->state = IT_DEAD;
    it->dead_class = cls;
    it->err = cs_arena_alloc(s->arena, sizeof *it->err);
    *it->err = *err;
}

static const char *item_traceparent(const item_t *it, char *buf, size_t size)
{
    if (it->ev.traceparent && *it->ev.traceparent)
        return it->ev.traceparent;
    size_t n = 0;
    const void *v = cs_consumer_msg_header(it->msg, "traceparent", &n);
    if (!v)
        return "";
    if (n >= size)
        n = size - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

/*
 * Whether the event's envelope is known: decoded, or a payload that failed behind a valid
 * envelope (cs_codec_decode keeps the envelope then; any other decode failure leaves ev zeroed).
 */
static bool ev_decoded(const item_t *it)
{
    return it->ev.type_name != NULL;
}

/*
 * Step 1: decode pending[base .. base + n) into the stage's items; failures become dead letters
 * right away.
 */
static void decode_items(cs_worker_t *w, stage_t *s, int base, int n)
{
    if (s->capitems < n) {
        s->capitems = n;
        s->items = realloc(s->items, (size_t)n * sizeof *s->items);
        if (!s->items)
            abort();
    }
    s->n = n;
    s->ndead = 0;
    for (int i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        cs_err_t err;
        memset(it, 0, sizeof *it);
        it->msg = w->pending[base + i];
        it->part = part_find(w, it->msg->topic, it->msg->partition);
        cs_err_clear(&err);
        int rc;
        if (w->def->decode)
            rc = w->def->decode(w->ud, it->msg->payload, it->msg->len, s->arena, &it->ev, &err);
        else
            rc = cs_codec_decode(w->codec, it->msg->payload, it->msg->len, s->arena, &it->ev, &err);
        if (rc < 0) {
            /* Keep the envelope the decoder vouches for (cs/codec.h), nothing less. */
            it->ev.payload = NULL;
            if (!it->ev.type_name || !memchr(it->ev.event_id, '\0', sizeof it->ev.event_id) ||
                strlen(it->ev.event_id) != 36 || strlen(it->ev.user_id) != 36) {
                memset(&it->ev, 0, sizeof it->ev);
                it->ev.type = -1;
            }
            if (err.kind == CS_ERR_NONE)
                err.kind = CS_ERR_PERMANENT;
            item_dead(s, it, cs_dlq_codec_class(&err), &err);
        } else {
            it->state = IT_DECODED;
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted set of uuids (text) in the stage's arena. */
typedef struct idset {
    const char **v;
    int n;
} idset_t;

/* The rows (kind, uuid) of res as two sets: kind k into *a, any other kind into *b. Frees res. */
static void res_sets(stage_t *s, cs_db_res_t *res, char k, idset_t *a, idset_t *b)
{
    int rows = cs_db_res_rows(res);
    a->v = cs_arena_alloc(s->arena, (size_t)(rows + 1) * sizeof *a->v);
    b->v = cs_arena_alloc(s->arena, (size_t)(rows + 1) * sizeof *b->v);
    a->n = b->n = 0;
    for (int r = 0; r < rows; r++) {
        const char *v = cs_arena_strndup(s->arena, cs_db_res_get(res, r, 1), 36);
        if (cs_db_res_get(res, r, 0)[0] == k)
            a->v[a->n++] = v;
        else
            b->v[b->n++] = v;
    }
    cs_db_res_free(res);
    qsort(a->v, (size_t)a->n, sizeof *a->v, cmp_str);
    qsort(b->v, (size_t)b->n, sizeof *b->v, cmp_str);
}

/* Where id is in set, or NULL. */
static const char **idset_find(const idset_t *set, const char *id)
{
    return set->n ? bsearch(&id, set->v, (size_t)set->n, sizeof *set->v, cmp_str) : NULL;
}

/* Step 2 (synchronous path): one statement marks the event ids processed and finds erased learners.
 */
static int dedupe_items(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    int nd = 0, n = s->n;
    arr_begin(&w->a1);
    arr_begin(&w->a2);
    arr_begin(&w->a3);
    arr_begin(&w->a4);
    arr_begin(&w->a5);
    bool ids = !w->def->no_dedupe; /* without dedupe only the learners are needed */
    for (int i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        arr_str(&w->a2, it->ev.user_id);
        if (ids) {
            arr_str(&w->a1, it->ev.event_id);
            arr_str(&w->a3, it->msg->topic);
            arr_int(&w->a4, it->msg->partition);
            arr_int(&w->a5, it->msg->offset);
        }
        nd++;
    }
    arr_end(&w->a1);
    arr_end(&w->a2);
    arr_end(&w->a3);
    arr_end(&w->a4);
    arr_end(&w->a5);
    if (nd == 0)
        return 0;
    const char *params[] = {w->group, w->a1.data, w->a2.data, w->a3.data, w->a4.data, w->a5.data};
    const char *sql_dedupe =
        "WITH ev AS (SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::int[], "
        "$6::bigint[]) AS e(event_id, user_id, topic, kp, ko)), "
        "er AS (SELECT DISTINCT e.user_id FROM ev e JOIN erased_users u ON u.user_id = e.user_id), "
        "ins AS (INSERT INTO processed_events (consumer_group, event_id, outcome, topic, "
        "kafka_partition, kafka_offset) SELECT DISTINCT ON (event_id) $1, event_id, "
        "CASE WHEN user_id IN (SELECT user_id FROM er) THEN 's' ELSE 'a' END, topic, kp, ko "
        "FROM ev ORDER BY event_id, ko ON CONFLICT DO NOTHING RETURNING event_id) "
        "SELECT 'n', event_id::text FROM ins UNION ALL SELECT 'e', user_id::text FROM er";
    const char *sql_erased = "SELECT DISTINCT 'e', u.user_id::text FROM erased_users u "
                             "WHERE u.user_id = ANY($1::uuid[])";
    const char *erased_params[] = {w->a2.data};
    cs_db_res_t *res = ids ? cs_db_query(w->db, sql_dedupe, 6, params, err)
                           : cs_db_query(w->db, sql_erased, 1, erased_params, err);
    if (!res)
        return cs_err_wrap(err, "marking events processed");

    idset_t news, erased; /* event ids this transaction marked, erased learners */
    res_sets(s, res, 'n', &news, &erased);
    bool *taken = cs_arena_alloc(s->arena, (size_t)(news.n + 1) * sizeof *taken);
    memset(taken, 0, (size_t)(news.n + 1) * sizeof *taken);
    for (int i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        if (idset_find(&erased, it->ev.user_id)) {
            it->state = IT_ERASED;
            continue;
        }
        if (w->def->no_dedupe) {
            it->state = IT_NEW;
            continue;
        }
        const char **hit = idset_find(&news, it->ev.event_id);
        if (hit && !taken[hit - news.v]) {
            taken[hit - news.v] = true; /* the first delivery within the batch applies */
            it->state = IT_NEW;
            it->was_new = true;
        } else {
            it->state = IT_DUP;
        }
    }
    return 0;
}

/* Step 3: handlers append rows. Returns -1 (TRANSIENT/FATAL) to abandon the attempt. */
static int run_handlers(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    hlist_t tmp;
    cs_msg_meta_t meta;
    for (int i = 0; i < s->n; i++) {
        item_t *it = &s->items[i];
        cs_batch_mark_event(s->batch, i);
        if (it->state != IT_NEW && it->state != IT_DUP)
            continue;
        hlist_t *h = handlers_for(w, &it->ev, &tmp);
        meta = (cs_msg_meta_t){it->msg->topic,        it->msg->partition, it->msg->offset,
                               it->msg->timestamp_ms, it->msg->key,       it->msg->key_len,
                               it->state == IT_DUP,   w->attempt + 1,     w->ud};
        for (int k = 0; k < h->n; k++) {
            const cs_handler_t *hd = &w->def->handlers[h->idx[k]];
            if (it->state == IT_DUP && !(hd->flags & CS_HANDLER_ALWAYS))
                continue;
            cs_err_t herr;
            cs_err_clear(&herr);
            if (hd->fn(s->batch, &it->ev, &meta, &herr) == 0)
                continue;
            if (herr.kind == CS_ERR_NONE)
                herr.kind = CS_ERR_PERMANENT;
            if (herr.kind != CS_ERR_PERMANENT) {
                *err = herr;
                return cs_err_wrap(err, "handler for %s", it->ev.type_name);
            }
            cs_batch_undo_event(s->batch);
            item_dead(s, it, "handler", &herr);
            break;
        }
        if (cs_log_level_ <= CS_LOG_DEBUG && it->state != IT_DEAD) {
            char tp[64];
            cs_log_debug("event applied", CS_LS("event_id", it->ev.event_id),
                         CS_LS("type", it->ev.type_name), CS_LS("topic", it->msg->topic),
                         CS_LI("partition", it->msg->partition), CS_LI("offset", it->msg->offset),
                         CS_LS("traceparent", item_traceparent(it, tp, sizeof tp)),
                         CS_LI("duplicate", it->state == IT_DUP));
        }
    }
    cs_batch_seal(s->batch, s->n);
    return 0;
}

/*
 * Step 4 in isolation mode: flush [a, b) under a savepoint; on a PERMANENT failure roll back
 * and split, until the single events that fail are found and dead-lettered.
 */
static int flush_bisect(cs_worker_t *w, stage_t *s, int a, int b, cs_err_t *err)
{
    if (cs_db_exec(w->db, "SAVEPOINT cs_isolate", err) < 0)
        return -1;
    if (cs_batch_flush(s->batch, w->db, a, b, true, err) == 0)
        return cs_db_exec(w->db, "RELEASE SAVEPOINT cs_isolate", err);
    if (err->kind != CS_ERR_PERMANENT)
        return -1;
    cs_err_t ferr = *err;
    if (cs_db_exec(w->db, "ROLLBACK TO SAVEPOINT cs_isolate; RELEASE SAVEPOINT cs_isolate", err) <
        0)
        return -1;
    if (b - a == 1) {
        item_dead(s, &s->items[a], "database", &ferr);
        return 0;
    }
    int mid = a + (b - a) / 2;
    if (flush_bisect(w, s, a, mid, err) < 0)
        return -1;
    return flush_bisect(w, s, mid, b, err);
}

/*
 * The offsets compare-and-set of a batch ($1 group; arrays $2 topics, $3 partitions, $4 the
 * expected next offsets (-1: no row yet), $5 the new ones): its first column is the number of
 * partitions moved, which is fewer than given when another consumer moved one (fenced).
 */
#define OFFSETS_CAS_WITH                                                                           \
    "WITH v AS (SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) "          \
    "AS v(topic, kp, expected, next)), "                                                           \
    "u AS (UPDATE consumer_offsets o SET next_offset = v.next, updated_at = now() FROM v "         \
    "WHERE v.expected >= 0 AND o.consumer_group = $1 AND o.topic = v.topic "                       \
    "AND o.kafka_partition = v.kp AND o.next_offset = v.expected RETURNING 1), "                   \
    "i AS (INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition, next_offset) "    \
    "SELECT $1, topic, kp, next FROM v WHERE expected < 0 ON CONFLICT DO NOTHING RETURNING 1) "
#define OFFSETS_CAS_SQL                                                                            \
    OFFSETS_CAS_WITH "SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i)"

/*
 * The pipelined commit's checks run on the server (cs_require, migration 0060): a failed one
 * aborts the transaction with SQLSTATE CSR01 (redo the batch synchronously) or CSF01 (fenced),
 * and the statements queued after it are skipped.
 */
#define SQLSTATE_REDO   "CSR01"
#define SQLSTATE_FENCED "CSF01"
/* $7: the number of partitions of the batch. */
static const char TAIL_CHECK_SQL[] = OFFSETS_CAS_WITH
    "SELECT cs_require((SELECT count(*) FROM u) + (SELECT count(*) FROM i) = $7::bigint, "
    "'" SQLSTATE_FENCED "', 'another consumer moved an offset of the batch'), "
    "cs_require(NOT EXISTS (SELECT 1 FROM erased_users WHERE user_id = ANY($6::uuid[])), "
    "'" SQLSTATE_REDO "', 'a learner of the batch was erased since its pre-check')";

/* The batch's new event ids ($2..$6) marked processed; RETURNING the outcome of each new one. */
#define PROCESSED_WITH                                                                             \
    "WITH pe AS (INSERT INTO processed_events (consumer_group, event_id, outcome, topic, "         \
    "kafka_partition, kafka_offset) SELECT $1, e, o::\"char\", t, kp, ko FROM "                    \
    "unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[]) "                         \
    "AS x(e, o, t, kp, ko) ON CONFLICT DO NOTHING RETURNING outcome) "
/* $7: the number of applied ids the pre-check found new. */
static const char PROCESSED_CHECK_SQL[] =
    PROCESSED_WITH "SELECT cs_require(count(*) = $7::bigint, '" SQLSTATE_REDO "', "
                   "'an event of the batch was applied since its pre-check') "
                   "FROM pe WHERE outcome = 'a'";

/* The step-by-step commit's: the same statements returning counts that the client checks. */
static const char PROCESSED_SQL[] = PROCESSED_WITH "SELECT count(*) FROM pe WHERE outcome = 'a'";
static const char TAIL_SQL[] =
    OFFSETS_CAS_SQL ", (SELECT count(*) FROM erased_users WHERE user_id = ANY($6::uuid[]))";

static int prepare_commit_statements(cs_worker_t *w, cs_err_t *err)
{
    if (cs_db_prepare(w->db, TAIL_CHECK_STMT, TAIL_CHECK_SQL, err) < 0 ||
        cs_db_prepare(w->db, PROCESSED_CHECK_STMT, PROCESSED_CHECK_SQL, err) < 0 ||
        cs_db_prepare(w->db, PROCESSED_STMT, PROCESSED_SQL, err) < 0 ||
        cs_db_prepare(w->db, TAIL_STMT, TAIL_SQL, err) < 0 ||
        cs_db_prepare(w->db, OFFSETS_CAS_STMT, OFFSETS_CAS_SQL, err) < 0)
        return cs_err_wrap(err, "preparing the commit's statements");
    return 0;
}

/* Where the stored offset of p must be when the next batch's compare-and-set runs. */
static int64_t part_expected(const part_t *p)
{
    return p->flight_next >= 0 ? p->flight_next : p->committed;
}

/* The stage's partitions and the last offset of each (items are in offset order per partition). */
static void stage_parts(cs_worker_t *w, stage_t *s)
{
    for (int i = 0; i < w->nparts; i++)
        w->parts[i]->b_in = false;
    for (int i = 0; i < s->n; i++) {
        part_t *p = s->items[i].part;
        p->b_in = true;
        p->b_last = s->items[i].msg->offset;
    }
    if (s->capbparts < w->nparts) {
        s->capbparts = w->nparts;
        s->bparts = realloc(s->bparts, (size_t)s->capbparts * sizeof *s->bparts);
        s->blast = realloc(s->blast, (size_t)s->capbparts * sizeof *s->blast);
        if (!s->bparts || !s->blast)
            abort();
    }
    s->nbparts = 0;
    for (int i = 0; i < w->nparts; i++) {
        part_t *p = w->parts[i];
        if (p->b_in) {
            s->bparts[s->nbparts] = p;
            s->blast[s->nbparts++] = p->b_last;
        }
    }
}

/* Marks the stage's partitions (b_in, b_last) for batch_committed() and after_fence(). */
static void stage_mark(cs_worker_t *w, const stage_t *s)
{
    for (int i = 0; i < w->nparts; i++)
        w->parts[i]->b_in = false;
    for (int k = 0; k < s->nbparts; k++) {
        s->bparts[k]->b_in = true;
        s->bparts[k]->b_last = s->blast[k];
    }
}

/* Offsets compare-and-set for the partitions of the batch. Returns rows updated, -1 on error. */
static long long store_offsets(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    stage_parts(w, s);
    arr_begin(&w->a1);
    arr_begin(&w->a2);
    arr_begin(&w->a3);
    arr_begin(&w->a4);
    for (int k = 0; k < s->nbparts; k++) {
        part_t *p = s->bparts[k];
        arr_str(&w->a1, p->topic);
        arr_int(&w->a2, p->partition);
        arr_int(&w->a3, part_expected(p));
        arr_int(&w->a4, s->blast[k] + 1);
    }
    arr_end(&w->a1);
    arr_end(&w->a2);
    arr_end(&w->a3);
    arr_end(&w->a4);
    const char *params[] = {w->group, w->a1.data, w->a2.data, w->a3.data, w->a4.data};
    cs_db_res_t *res = cs_db_query_prepared(w->db, OFFSETS_CAS_STMT, 5, params, err);
    if (!res)
        return cs_err_wrap(err, "storing offsets");
    long long rows = strtoll(cs_db_res_get(res, 0, 0), NULL, 10);
    cs_db_res_free(res);
    return rows;
}

static int forget_dead_ids(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    int k = 0;
    arr_begin(&w->a1);
    for (int i = 0; i < s->n; i++) {
        item_t *it = &s->items[i];
        if (it->state == IT_DEAD && it->was_new) {
            arr_str(&w->a1, it->ev.event_id);
            k++;
        }
    }
    arr_end(&w->a1);
    if (k == 0 || w->def->no_dedupe)
        return 0;
    const char *params[] = {w->group, w->a1.data};
    if (cs_db_execp(w->db,
                    "DELETE FROM processed_events WHERE consumer_group = $1 "
                    "AND event_id = ANY($2::uuid[])",
                    2, params, err) < 0)
        return cs_err_wrap(err, "forgetting dead-lettered event ids");
    return 0;
}

static void build_dead_letters(cs_worker_t *w, stage_t *s)
{
    int k = 0, n = s->n;
    if (s->capdls < n) {
        s->capdls = n;
        s->dls = realloc(s->dls, (size_t)n * sizeof *s->dls);
        if (!s->dls)
            abort();
    }
    for (int i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DEAD)
            continue;
        char *tp = cs_arena_alloc(s->arena, 64);
        bool dec = ev_decoded(it);
        s->dls[k++] = (cs_dead_letter_t){
            .topic = it->msg->topic,
            .partition = it->msg->partition,
            .offset = it->msg->offset,
            .timestamp_ms = it->msg->timestamp_ms,
            .key = it->msg->key,
            .key_len = it->msg->key_len,
            .payload = it->msg->payload ? it->msg->payload : "",
            .len = it->msg->len,
            .error_class = it->dead_class,
            .reason = it->err->msg,
            .field = it->err->field,
            .sqlstate = it->err->sqlstate,
            .event_id = dec ? it->ev.event_id : NULL,
            .event_type = dec ? it->ev.type_name : NULL,
            .user_id = dec ? it->ev.user_id : NULL,
            .schema_version = dec ? it->ev.schema_version : 0,
            .traceparent = item_traceparent(it, tp, 64),
            .attempt = w->attempt + 1,
        };
    }
    s->ndead = k;
}

/*
 * Logs the stage's dead letters once they are committed: a batch built, failed and redone builds
 * its dead letters again each time, but each event is dead-lettered (and told) once.
 */
static void log_dead_letters(const stage_t *s)
{
    for (int i = 0; i < s->ndead; i++) {
        const cs_dead_letter_t *d = &s->dls[i];
        cs_log_warn("event dead-lettered", CS_LS("class", d->error_class),
                    CS_LS("reason", d->reason), CS_LS("field", d->field),
                    CS_LS("sqlstate", d->sqlstate), CS_LS("topic", d->topic),
                    CS_LI("partition", d->partition), CS_LI("offset", d->offset),
                    CS_LS("event_id", d->event_id ? d->event_id : ""),
                    CS_LS("event_type", d->event_type ? d->event_type : ""),
                    CS_LI("attempt", d->attempt), CS_LS("traceparent", d->traceparent));
    }
}

/* Longest the event loop waits for a dead letter's acknowledgement in one attempt. */
#define DLQ_LOOP_WAIT_MS 250

/*
 * One synchronous attempt at applying the first n pending messages with stage s. On APPLY_FAILED
 * err says why (the transaction is rolled back); on APPLY_FENCED the caller reloads offsets.
 */
static int apply_once(cs_worker_t *w, stage_t *s, int n, bool isolate, cs_err_t *err)
{
    cs_arena_reset(s->arena);
    double t = mono_s(), t2;
    cs_batch_clear(s->batch);
    decode_items(w, s, 0, n);
    for (int i = 0; i < n; i++)
        if (s->refused[i].on && s->items[i].state == IT_DECODED)
            item_dead(s, &s->items[i], "database", &s->refused[i].err);
    s->t_phase[0] = (t2 = mono_s()) - t, t = t2;
    if (db_ensure(w, err) < 0)
        return APPLY_FAILED;
    set_waiting(w, "postgresql");
    if (cs_db_exec(w->db, "BEGIN", err) < 0)
        return APPLY_FAILED;
    if (dedupe_items(w, s, err) < 0)
        goto fail;
    s->t_phase[1] = (t2 = mono_s()) - t, t = t2;
    if (run_handlers(w, s, err) < 0)
        goto fail;
    s->t_phase[2] = (t2 = mono_s()) - t, t = t2;
    if (isolate) {
        if (flush_bisect(w, s, 0, n, err) < 0)
            goto fail;
        /*
         * Handlers that keep state across events (cs-audit's hash chain) derived the later events
         * from the refused ones: their rows would link to rows that are never written. Such a
         * batch is run again from scratch, the refused events dead before the handlers run.
         */
        int found = 0;
        for (int i = 0; i < n && w->def->forget; i++) {
            item_t *it = &s->items[i];
            if (it->state == IT_DEAD && !s->refused[i].on && !strcmp(it->dead_class, "database")) {
                s->refused[i].on = true;
                s->refused[i].err = *it->err;
                found++;
            }
        }
        if (found) {
            db_rollback(w); /* calls forget() */
            return APPLY_RERUN;
        }
    } else if (cs_batch_flush(s->batch, w->db, 0, n, false, err) < 0) {
        goto fail;
    }
    s->t_phase[3] = (t2 = mono_s()) - t, t = t2;
    if (forget_dead_ids(w, s, err) < 0)
        goto fail;
    build_dead_letters(w, s);
    if (cs_dlq_record(w->dlq, w->db, s->dls, s->ndead, err) < 0)
        goto fail;
    long long rows = store_offsets(w, s, err);
    if (rows < 0)
        goto fail;
    if (rows != s->nbparts) {
        db_rollback(w);
        return APPLY_FENCED;
    }
    if (s->ndead) {
        /* On the event loop: a bounded wait (the dead letters stay in flight for the retry). */
        int wait_ms =
            w->dlq_timeout_ms < DLQ_LOOP_WAIT_MS ? (int)w->dlq_timeout_ms : DLQ_LOOP_WAIT_MS;
        set_waiting(w, "kafka (dead-letter topic)");
        if (cs_dlq_publish(w->dlq, s->dls, s->ndead, wait_ms, err) < 0)
            goto fail;
        set_waiting(w, "postgresql");
    }
    s->t_phase[4] = (t2 = mono_s()) - t, t = t2;
    if (cs_db_exec(w->db, "COMMIT", err) < 0)
        goto fail;
    s->t_phase[5] = mono_s() - t;
    return APPLY_OK;
fail:
    db_rollback(w);
    return APPLY_FAILED;
}

static bool drop_fenced(const part_t *p, const void *ctx)
{
    (void)ctx;
    return p->b_in;
}

/* After a fenced batch (its partitions are marked b_in). Nothing may be in flight. */
static void after_fence(cs_worker_t *w)
{
    part_t **ps = calloc((size_t)(w->nparts ? w->nparts : 1), sizeof *ps);
    int n = 0;
    cs_err_t err;
    if (!ps)
        abort();
    for (int i = 0; i < w->nparts; i++)
        if (w->parts[i]->b_in)
            ps[n++] = w->parts[i];
    cs_metric_inc(w->m_fenced, NULL, 1);
    cs_log_warn("stored offsets moved under us (another consumer or an operator "
                "committed these partitions); reloading them",
                CS_LI("partitions", n));
    pending_drop(w, drop_fenced, NULL);
    if (load_offsets(w, ps, n, &err) < 0) {
        /* Could not read them: like partitions assigned while PostgreSQL is down, they stay
         * paused until settle_offsets() can load their offsets. */
        cs_tp_t *tps = calloc((size_t)(n ? n : 1), sizeof *tps);
        if (!tps)
            abort();
        for (int i = 0; i < n; i++) {
            ps[i]->need_offset = true;
            tps[i] = (cs_tp_t){ps[i]->topic, ps[i]->partition, 0, false};
        }
        if (cs_consumer_pause(w->consumer, tps, n, &err) < 0)
            cs_log_warn("pausing partitions failed", CS_LS("error", err.msg));
        free(tps);
    } else {
        reposition(w, ps, n);
    }
    free(ps);
}

/* ---- the batch driver ---- */

static void count_batch(cs_worker_t *w, const stage_t *s)
{
    /* type_counts[outcome][type]; the last column is "unknown" (not decoded) */
    enum { O_APPLIED, O_DUP, O_ERASED, O_DEAD };
    const char *names[MAX_TYPES + 1];
    memset(w->type_counts, 0, sizeof w->type_counts);
    for (int t = 0; t <= MAX_TYPES; t++)
        names[t] = NULL;
    for (int i = 0; i < s->n; i++) {
        const item_t *it = &s->items[i];
        int t = it->ev.type_name && it->ev.type >= 0 && it->ev.type < MAX_TYPES ? it->ev.type
                                                                                : MAX_TYPES;
        names[t] = t == MAX_TYPES ? "unknown" : it->ev.type_name;
        int o = it->state == IT_NEW      ? O_APPLIED
                : it->state == IT_DUP    ? O_DUP
                : it->state == IT_ERASED ? O_ERASED
                                         : O_DEAD;
        w->type_counts[o][t] += 1;
        if (o == O_DEAD) {
            const char *lv[] = {names[t], it->dead_class};
            cs_metric_inc(w->m_dead, lv, 1);
        }
    }
    for (int t = 0; t <= MAX_TYPES; t++) {
        if (!names[t])
            continue;
        const char *lv[] = {names[t]};
        double applied = w->type_counts[O_APPLIED][t], dup = w->type_counts[O_DUP][t];
        double erased = w->type_counts[O_ERASED][t], dead = w->type_counts[O_DEAD][t];
        cs_metric_inc(w->m_consumed, lv, applied + dup + erased + dead);
        if (applied)
            cs_metric_inc(w->m_applied, lv, applied);
        if (dup) {
            const char *l2[] = {names[t], "duplicate"};
            cs_metric_inc(w->m_skipped, l2, dup);
        }
        if (erased) {
            const char *l2[] = {names[t], "erased"};
            cs_metric_inc(w->m_skipped, l2, erased);
        }
    }
}

/* The stage's batch is committed: move the partitions on, account, free its messages. */
static void batch_committed(cs_worker_t *w, stage_t *s)
{
    cs_tp_t *tps = calloc((size_t)(s->nbparts ? s->nbparts : 1), sizeof *tps);
    int k = 0, n = s->n;
    cs_err_t err;
    if (!tps)
        abort();
    for (int i = 0; i < n; i++)
        s->items[i].part->last_ts_ms = s->items[i].msg->timestamp_ms;
    for (int j = 0; j < s->nbparts; j++) {
        part_t *p = s->bparts[j];
        p->committed = s->blast[j] + 1;
        tps[k++] = (cs_tp_t){p->topic, p->partition, p->committed, false};
    }
    /* Kafka follows PostgreSQL, asynchronously, for lag tools; a failure here costs nothing. */
    if (k && cs_consumer_commit(w->consumer, tps, k, &err) < 0)
        cs_log_debug("kafka commit failed", CS_LS("error", err.msg));
    free(tps);
    double dt = mono_s() - s->t0;
    {
        /* End-to-end latency: from the message's timestamp (set by the producer) to now, just
         * after the commit that made the event's effects visible. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        for (int i = 0; i < n; i++) {
            int64_t ts = s->items[i].msg->timestamp_ms;
            if (ts > 0 && now_ms >= ts)
                cs_metric_observe(w->m_e2e, NULL, (double)(now_ms - ts) / 1000.0);
        }
    }
    log_dead_letters(s);
    count_batch(w, s);
    cs_metric_observe(w->m_batch_size, NULL, n);
    cs_metric_observe(w->m_batch_seconds, NULL, dt);
    const char *ok[] = {"committed"};
    cs_metric_inc(w->m_batches, ok, 1);
    cs_log_debug("batch committed", CS_LI("events", n), CS_LI("dead_letters", s->ndead),
                 CS_LD("seconds", dt), CS_LI("attempt", w->attempt + 1),
                 CS_LI("pipelined", s == w->inflight_done), CS_LD("decode_s", s->t_phase[0]),
                 CS_LD("dedupe_s", s->t_phase[1]), CS_LD("handlers_s", s->t_phase[2]),
                 CS_LD("tables_s", s->t_phase[3]), CS_LD("offsets_s", s->t_phase[4]),
                 CS_LD("commit_s", s->t_phase[5]));
    if (w->def->committed)
        w->def->committed(w->ud, n);
    pending_consume(w, n);
    w->attempt = 0;
}

static void discard_ready(cs_worker_t *w);

/* Probing an unreachable PostgreSQL: every PROBE_MS plus up to PROBE_JITTER_MS; one probe waits
 * at most PROBE_TIMEOUT_MS on the loop (a stopped server refuses at once; the bound matters only
 * for a host that does not answer, where a real connection attempt would wait connect_timeout). */
#define PROBE_MS         200
#define PROBE_JITTER_MS  50
#define PROBE_TIMEOUT_MS 500

/*
 * Whether err says PostgreSQL cannot be reached (a connection that cannot be made or was lost:
 * SQLSTATE 08*, 57P0*, or a connection failure libpq gives no SQLSTATE for), as opposed to a
 * transient failure of a live server (40001, 40P01, 53*, 57014 ...), which keeps the backoff.
 */
static bool pg_unreachable(const cs_worker_t *w, const cs_err_t *err)
{
    if (strncmp(w->waiting_for, "postgresql", 10) != 0)
        return false;
    if (strncmp(err->sqlstate, "08", 2) == 0 || strncmp(err->sqlstate, "57P0", 4) == 0)
        return true;
    /* "sorry, too many clients already" comes from a live server, without a SQLSTATE here */
    return err->sqlstate[0] == '\0' && !strstr(err->msg, "too many clients");
}

static void arm_retry_timer(cs_worker_t *w, double after_s)
{
    ev_timer_stop(w->loop, &w->retry_timer);
    ev_timer_set(&w->retry_timer, after_s, 0.);
    ev_timer_start(w->loop, &w->retry_timer);
}

static double probe_interval_s(void)
{
    return (PROBE_MS + PROBE_JITTER_MS * ((double)rand() / RAND_MAX)) / 1000.0;
}

/*
 * Backs off after a transient failure. The step grows exponentially with the attempts, with
 * jitter, up to retry-max-ms: right for a live server that refused this batch (a serialization
 * failure, a deadlock, too many connections). When PostgreSQL cannot be reached at all the retry
 * timer probes it instead (probe_pg) and the retry comes the moment a probe connects, so a worker
 * resumes within a probe interval of the server's return rather than after the rest of a step of
 * up to retry-max-ms; the step still bounds the wait, so probing never retries later than the
 * backoff alone would.
 */
static void enter_backoff(cs_worker_t *w, const cs_err_t *err)
{
    /* Backoff retries synchronously: nothing prepared survives it. */
    discard_ready(w);
    double d = (double)w->retry_initial_ms;
    for (int i = 0; i < w->attempt && d < (double)w->retry_max_ms; i++)
        d *= 2;
    if (d > (double)w->retry_max_ms)
        d = (double)w->retry_max_ms;
    d = d * (0.5 + 0.5 * ((double)rand() / RAND_MAX)); /* jitter */
    w->attempt++;
    w->backoff = true;
    pause_all(w);
    const char *cls[] = {err->sqlstate[0] ? err->sqlstate : "connection"};
    if (strncmp(w->waiting_for, "postgresql", 10) == 0)
        cs_metric_inc(w->m_db_errors, cls, 1);
    cs_metric_inc(w->m_retries, NULL, 1);
    bool probe = pg_unreachable(w, err) && d / 1000.0 > PROBE_MS / 1000.0;
    if (probe && w->probe_t0 == 0) {
        w->probe_t0 = ev_now(w->loop);
        w->probes = 0;
    }
    w->probing = probe;
    w->retry_at = ev_now(w->loop) + d / 1000.0;
    cs_log_warn(
        strncmp(w->waiting_for, "kafka", 5) == 0 ? "waiting for kafka" : "waiting for postgresql",
        CS_LS("waiting_for", w->waiting_for), CS_LS("reason", err->msg),
        CS_LS("sqlstate", err->sqlstate), CS_LI("attempt", w->attempt),
        CS_LI("retry_in_ms", (long long)d), CS_LI("pending", w->npending), CS_LI("probing", probe));
    arm_retry_timer(w, probe ? probe_interval_s() : d / 1000.0);
}

/*
 * The retry timer while PostgreSQL is unreachable: one bounded connection attempt. Returns true
 * when the retry should run now (a probe connected, or the backoff step is over); false when the
 * server is still away, with the next probe armed. A probe that cannot tell within its bound
 * counts as away: retrying for real there would block the loop for the whole connect_timeout,
 * so such a server is retried when the step ends, as without probing. Logs only the change.
 */
static bool probe_pg(cs_worker_t *w)
{
    if (ev_now(w->loop) >= w->retry_at) {
        w->probing = false;
        return true;
    }
    int up = cs_db_probe(dsn_of(w), w->def->name, PROBE_TIMEOUT_MS);
    ev_now_update(w->loop);
    if (up <= 0) {
        w->probes++;
        arm_retry_timer(w, probe_interval_s());
        return false;
    }
    cs_log_info("postgresql accepts connections again; retrying now",
                CS_LI("probes_away", w->probes), CS_LD("probing_s", ev_now(w->loop) - w->probe_t0));
    w->probing = false;
    w->probe_t0 = 0;
    return true;
}

/* After a failed attempt: the class decides (transient: back off; else stop). */
static void attempt_failed(cs_worker_t *w, const cs_err_t *err)
{
    if (err->kind == CS_ERR_TRANSIENT) {
        enter_backoff(w, err);
    } else {
        cs_log_error("batch failed; stopping", CS_LS("kind", cs_err_kind_name(err->kind)),
                     CS_LS("reason", err->msg), CS_LS("sqlstate", err->sqlstate),
                     CS_LS("field", err->field));
        stop_now(w, 1);
    }
}

/*
 * Applies the first n pending messages synchronously with stage s (nothing may be in flight).
 * isolate: start in isolation mode (the batch already failed on an event's rows).
 * Returns APPLY_*; on failure the right state is set.
 */
static int apply_batch(cs_worker_t *w, stage_t *s, int n, bool isolate)
{
    cs_err_t err;
    s->t0 = mono_s();
    if (s->caprefused < n) {
        s->caprefused = n;
        s->refused = realloc(s->refused, (size_t)n * sizeof *s->refused);
        if (!s->refused)
            abort();
    }
    memset(s->refused, 0, (size_t)n * sizeof *s->refused);
    cs_err_clear(&err);
    int rc = apply_once(w, s, n, isolate, &err);
    /* Every rerun has one more refused event than the last: at most n rounds. */
    for (;;) {
        if (rc == APPLY_FAILED && err.kind == CS_ERR_PERMANENT && !isolate) {
            cs_log_warn("batch failed on an event's rows; isolating it", CS_LS("reason", err.msg),
                        CS_LS("sqlstate", err.sqlstate), CS_LI("events", n));
            isolate = true;
        } else if (rc == APPLY_RERUN) {
            cs_log_info("running the batch again without the events the database refused (state "
                        "kept across events is derived again)",
                        CS_LI("events", n));
            isolate = false;
        } else {
            break;
        }
        cs_err_clear(&err);
        rc = apply_once(w, s, n, isolate, &err);
    }
    if (rc == APPLY_OK) {
        batch_committed(w, s);
        return rc;
    }
    if (rc == APPLY_FENCED) {
        after_fence(w);
        w->attempt = 0;
        return rc;
    }
    attempt_failed(w, &err);
    return rc;
}

/* How many pending messages from base make the next batch; *full when it cannot grow. */
static int next_batch_len(cs_worker_t *w, int base, bool *full)
{
    int n = 0;
    size_t bytes = 0;
    *full = false;
    while (base + n < w->npending && n < w->batch_size) {
        bytes += w->pending[base + n]->len;
        n++;
        if ((long long)bytes >= w->batch_bytes) {
            *full = true;
            break;
        }
    }
    if (n >= w->batch_size)
        *full = true;
    return n;
}

static void finish_stop(cs_worker_t *w);

static void check_drain(cs_worker_t *w)
{
    if (!w->drain || w->stopping || !w->got_assignment || w->npending || w->backoff ||
        w->inflight || w->ready)
        return;
    for (int i = 0; i < w->nparts; i++) {
        part_t *p = w->parts[i];
        if (p->active && (!p->eof || p->need_offset))
            return;
    }
    cs_log_info("drained: every assigned partition is consumed to its end",
                CS_LI("partitions", nactive(w)));
    w->stopping = true;
    finish_stop(w);
}

/* The synchronous driver: applies full batches (or everything pending when all). */
static void flush_sync(cs_worker_t *w, bool all)
{
    while (w->npending > 0 && !w->backoff && w->exit_code == 0) {
        bool full;
        int n = next_batch_len(w, 0, &full);
        if (!all && !full)
            break;
        if (apply_batch(w, &w->st[0], n, false) == APPLY_FAILED)
            break;
    }
    if (w->npending == 0 || w->backoff)
        ev_timer_stop(w->loop, &w->batch_timer);
    else
        schedule_flush(w);
    if (w->stopping && w->npending == 0 && !w->backoff)
        finish_stop(w);
    else
        check_drain(w);
}

/* ---- the pipeline ---- */

/*
 * Runs a read-only query on the pre-check connection R, (re)connecting it as needed; a connection
 * found broken is re-established and the query tried once more.
 */
static cs_db_res_t *rdb_query(cs_worker_t *w, const char *sql, int nparams,
                              const char *const *params, cs_err_t *err)
{
    for (int tries = 0;; tries++) {
        bool fresh = false;
        if (!w->rdb) {
            w->rdb = cs_db_connect(dsn_of(w), w->def->name, err);
            if (!w->rdb)
                return NULL;
            fresh = true;
        } else if (!cs_db_ok(w->rdb)) {
            if (cs_db_reset(w->rdb, err) < 0)
                return NULL;
            fresh = true;
        }
        if (fresh && cs_db_exec(w->rdb, "SET default_transaction_read_only = on", err) < 0)
            return NULL;
        cs_db_res_t *res = cs_db_query(w->rdb, sql, nparams, params, err);
        if (res || tries > 0 || cs_db_ok(w->rdb))
            return res;
    }
}

typedef struct id_ref {
    const char *id;
    int idx;
} id_ref_t;

static int cmp_id_ref(const void *a, const void *b)
{
    const id_ref_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * Step 2 of the pipeline: the events' states. Optimistic by default: every event is new (the first
 * of its id within the batch) and no learner erased; the committer's transaction verifies both
 * (processed ids inserted first, erased_users read again in the tail) and a batch that was wrong
 * is redone synchronously. After such a redo (a replay, duplicates, erasures under way), the
 * next batches ask first, outside any transaction, on R: the erased learners and (with dedupe)
 * the event ids this group already applied.
 */
static int precheck_items(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    int nd = 0, n = s->n;
    bool ids = !w->def->no_dedupe;
    if (w->precheck_left <= 0) {
        id_ref_t *refs = cs_arena_alloc(s->arena, (size_t)(n + 1) * sizeof *refs);
        int nr = 0;
        for (int i = 0; i < n; i++) {
            item_t *it = &s->items[i];
            if (it->state != IT_DECODED)
                continue;
            if (!ids)
                it->state = IT_NEW;
            else
                refs[nr++] = (id_ref_t){it->ev.event_id, i};
        }
        qsort(refs, (size_t)nr, sizeof *refs, cmp_id_ref);
        for (int r = 0; r < nr; r++) {
            item_t *it = &s->items[refs[r].idx];
            bool again = r > 0 && strcmp(refs[r].id, refs[r - 1].id) == 0;
            it->state = again ? IT_DUP : IT_NEW;
            it->was_new = !again;
        }
        return 0;
    }
    w->precheck_left--;
    arr_begin(&w->a1);
    arr_begin(&w->a2);
    for (int i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        arr_str(&w->a1, it->ev.user_id);
        if (ids)
            arr_str(&w->a2, it->ev.event_id);
        nd++;
    }
    arr_end(&w->a1);
    arr_end(&w->a2);
    if (nd == 0)
        return 0;
    const char *params[] = {w->a1.data, w->group, w->a2.data};
    cs_db_res_t *res =
        ids ? rdb_query(w,
                        "SELECT 'e', u.user_id::text FROM erased_users u "
                        "WHERE u.user_id = ANY($1::uuid[]) UNION ALL "
                        "SELECT 'd', p.event_id::text FROM processed_events p "
                        "WHERE p.consumer_group = $2 AND p.event_id = ANY($3::uuid[])",
                        3, params, err)
            : rdb_query(w,
                        "SELECT 'e', u.user_id::text FROM erased_users u "
                        "WHERE u.user_id = ANY($1::uuid[])",
                        1, params, err);
    if (!res)
        return cs_err_wrap(err, "checking erased learners and processed events");
    idset_t done, erased; /* event ids this group applied, erased learners */
    res_sets(s, res, 'd', &done, &erased);
    /* Candidates in (id, position) order: the first delivery of an id within the batch applies. */
    id_ref_t *refs = cs_arena_alloc(s->arena, (size_t)(nd + 1) * sizeof *refs);
    int nr = 0;
    for (int i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        if (idset_find(&erased, it->ev.user_id)) {
            it->state = IT_ERASED;
            continue;
        }
        if (!ids) {
            it->state = IT_NEW;
            continue;
        }
        if (idset_find(&done, it->ev.event_id)) {
            it->state = IT_DUP;
            continue;
        }
        refs[nr++] = (id_ref_t){it->ev.event_id, i};
    }
    qsort(refs, (size_t)nr, sizeof *refs, cmp_id_ref);
    for (int r = 0; r < nr; r++) {
        item_t *it = &s->items[refs[r].idx];
        if (r > 0 && strcmp(refs[r].id, refs[r - 1].id) == 0) {
            it->state = IT_DUP;
        } else {
            it->state = IT_NEW;
            it->was_new = true;
        }
    }
    return 0;
}

enum {
    TP_TOPIC,
    TP_KP,
    TP_EXPECTED,
    TP_NEXT,
    TP_EID,
    TP_OUTCOME,
    TP_ETOPIC,
    TP_EKP,
    TP_EKO,
    TP_LEARNERS
};

/* The tail statement's parameters: offsets, processed ids, learners whose events are applied. */
static void tail_params(cs_worker_t *w, stage_t *s)
{
    cs_buf_t *p = s->p;
    for (int i = 0; i < 10; i++)
        arr_begin(&p[i]);
    for (int k = 0; k < s->nbparts; k++) {
        arr_str(&p[TP_TOPIC], s->bparts[k]->topic);
        arr_int(&p[TP_KP], s->bparts[k]->partition);
        arr_int(&p[TP_EXPECTED], part_expected(s->bparts[k]));
        arr_int(&p[TP_NEXT], s->blast[k] + 1);
    }
    s->nnew = s->nmark = 0;
    for (int i = 0; i < s->n; i++) {
        const item_t *it = &s->items[i];
        bool mark =
            !w->def->no_dedupe && ((it->state == IT_NEW && it->was_new) || it->state == IT_ERASED);
        if (mark) {
            arr_str(&p[TP_EID], it->ev.event_id);
            arr_str(&p[TP_OUTCOME], it->state == IT_ERASED ? "s" : "a");
            arr_str(&p[TP_ETOPIC], it->msg->topic);
            arr_int(&p[TP_EKP], it->msg->partition);
            arr_int(&p[TP_EKO], it->msg->offset);
            s->nnew += it->state == IT_NEW;
            s->nmark++;
        }
        if (it->state == IT_NEW || it->state == IT_DUP)
            arr_str(&p[TP_LEARNERS], it->ev.user_id);
    }
    for (int i = 0; i < 10; i++)
        arr_end(&p[i]);
}

/*
 * commit_stage in one round trip (libpq pipeline mode): BEGIN, the processed ids, every table's
 * array statements, the tail, COMMIT, one sync. The checks between statements of the
 * step-by-step form run on the server instead (PROCESSED_CHECK_SQL, TAIL_CHECK_SQL, the ranks of
 * a sequential upsert): a failed one aborts the transaction with its own SQLSTATE, which maps back
 * to APPLY_REDO or APPLY_FENCED. Only for batches without dead letters (they are published to
 * Kafka between the tail and COMMIT, so that a failed publish rolls back) whose tables all fit
 * the array path (COPY cannot run in a pipeline).
 */
static void commit_pipelined(cs_worker_t *w, stage_t *s)
{
    cs_err_t *err = &s->err, end_err;
    double t = mono_s(), t2;
    char nnew[24], nparts[24];
    snprintf(nnew, sizeof nnew, "%d", s->nnew);
    snprintf(nparts, sizeof nparts, "%d", s->nbparts);
    if (cs_db_pipeline_begin(w->db, err) < 0)
        return;
    bool sent = cs_db_pipeline_send(w->db, "BEGIN", false, 0, NULL, err) == 0;
    if (sent && s->nmark > 0) {
        const char *pp[] = {w->group,
                            s->p[TP_EID].data,
                            s->p[TP_OUTCOME].data,
                            s->p[TP_ETOPIC].data,
                            s->p[TP_EKP].data,
                            s->p[TP_EKO].data,
                            nnew};
        sent = cs_db_pipeline_send(w->db, PROCESSED_CHECK_STMT, true, 7, pp, err) == 0;
    }
    if (sent)
        sent = cs_batch_flush_send(s->batch, w->db, 0, s->n, err) == 0;
    if (sent) {
        const char *tp[] = {w->group,
                            s->p[TP_TOPIC].data,
                            s->p[TP_KP].data,
                            s->p[TP_EXPECTED].data,
                            s->p[TP_NEXT].data,
                            s->p[TP_LEARNERS].data,
                            nparts};
        sent = cs_db_pipeline_send(w->db, TAIL_CHECK_STMT, true, 7, tp, err) == 0;
    }
    if (sent)
        sent = cs_db_pipeline_send(w->db, "COMMIT", false, 0, NULL, err) == 0;
    s->t_phase[3] = (t2 = mono_s()) - t, t = t2;
    /* After a failed send, err already says why; the statements sent still run to the sync. */
    if (cs_db_pipeline_end(w->db, sent ? err : &end_err) < 0 || !sent) {
        if (!strcmp(err->sqlstate, SQLSTATE_REDO))
            s->rc = APPLY_REDO;
        else if (!strcmp(err->sqlstate, SQLSTATE_FENCED))
            s->rc = APPLY_FENCED;
        else if (sent)
            cs_err_wrap(err, "committing the batch (pipelined)");
        if (cs_db_ok(w->db)) {
            cs_err_t e;
            cs_db_exec(w->db, "ROLLBACK", &e);
        }
        return;
    }
    s->t_phase[5] = mono_s() - t;
    s->rc = APPLY_OK;
}

/*
 * The committer thread's part of a pipelined batch, on the main connection. Touches only w->db,
 * the stage, the dlq and immutable configuration; sets s->rc, s->err and s->waiting.
 */
static void commit_stage(cs_worker_t *w, stage_t *s)
{
    cs_err_t *err = &s->err;
    double t = mono_s(), t2;
    cs_err_clear(err);
    s->rc = APPLY_FAILED;
    s->waiting = "postgresql";
    if (w->commit_pipeline && s->ndead == 0 && cs_batch_arrays_only(s->batch, 0, s->n)) {
        commit_pipelined(w, s);
        return;
    }
    if (cs_db_exec(w->db, "BEGIN", err) < 0)
        return;
    if (s->nmark > 0) {
        /* First, before any row: an id applied since the pre-check (by the batch before, or by
         * another consumer) must not reach the tables, where it could even fail a unique key. */
        const char *pp[] = {
            w->group,          s->p[TP_EID].data, s->p[TP_OUTCOME].data, s->p[TP_ETOPIC].data,
            s->p[TP_EKP].data, s->p[TP_EKO].data};
        cs_db_res_t *r = cs_db_query_prepared(w->db, PROCESSED_STMT, 6, pp, err);
        if (!r) {
            cs_err_wrap(err, "marking events processed");
            goto fail;
        }
        long long inserted = strtoll(cs_db_res_get(r, 0, 0), NULL, 10);
        cs_db_res_free(r);
        if (inserted != s->nnew) {
            s->rc = APPLY_REDO;
            goto fail;
        }
    }
    s->t_phase[1] += (t2 = mono_s()) - t, t = t2;
    if (cs_batch_flush(s->batch, w->db, 0, s->n, false, err) < 0)
        goto fail;
    s->t_phase[3] = (t2 = mono_s()) - t, t = t2;
    if (cs_dlq_record(w->dlq, w->db, s->dls, s->ndead, err) < 0)
        goto fail;
    /* The tail: offsets compare-and-set (expecting the batch before's next offsets), and the
     * learners of the applied events read again from erased_users. */
    const char *params[] = {w->group,           s->p[TP_TOPIC].data,
                            s->p[TP_KP].data,   s->p[TP_EXPECTED].data,
                            s->p[TP_NEXT].data, s->p[TP_LEARNERS].data};
    cs_db_res_t *res = cs_db_query_prepared(w->db, TAIL_STMT, 6, params, err);
    if (!res) {
        cs_err_wrap(err, "storing offsets");
        goto fail;
    }
    long long rows = strtoll(cs_db_res_get(res, 0, 0), NULL, 10);
    long long erased = strtoll(cs_db_res_get(res, 0, 1), NULL, 10);
    cs_db_res_free(res);
    if (rows != s->nbparts) {
        s->rc = APPLY_FENCED;
        goto fail;
    }
    if (erased > 0) {
        /* A learner was erased after the pre-check: redo synchronously (which skips them). */
        s->rc = APPLY_REDO;
        goto fail;
    }
    if (s->ndead) {
        s->waiting = "kafka (dead-letter topic)";
        if (cs_dlq_publish(w->dlq, s->dls, s->ndead, (int)w->dlq_timeout_ms, err) < 0)
            goto fail;
        s->waiting = "postgresql";
    }
    s->t_phase[4] = (t2 = mono_s()) - t, t = t2;
    if (cs_db_exec(w->db, "COMMIT", err) < 0)
        goto fail;
    s->t_phase[5] = mono_s() - t;
    s->rc = APPLY_OK;
    return;
fail:
    if (cs_db_ok(w->db)) {
        cs_err_t e;
        cs_db_exec(w->db, "ROLLBACK", &e);
    }
}

static void *committer_main(void *arg)
{
    cs_worker_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        stage_t *s = w->job;
        pthread_mutex_unlock(&w->mu);
        commit_stage(w, s);
        pthread_mutex_lock(&w->mu);
        w->job = NULL;
        w->done = s;
        pthread_cond_broadcast(&w->cv);
        ev_async_send(w->loop, &w->done_async);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static stage_t *free_stage(cs_worker_t *w)
{
    return (w->inflight == &w->st[0] || w->ready == &w->st[0]) ? &w->st[1] : &w->st[0];
}

/* Drops the prepared batch and whatever handlers derived from it. Nothing may be in flight. */
static void discard_ready(cs_worker_t *w)
{
    if (!w->ready)
        return;
    cs_batch_clear(w->ready->batch);
    w->ready = NULL;
    if (w->def->forget)
        w->def->forget(w->ud);
}

/* Blocks until the committer has finished the batch in flight; returns it (NULL: none). */
static stage_t *committer_join(cs_worker_t *w)
{
    stage_t *s;
    if (!w->inflight)
        return NULL;
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    s = w->done;
    w->done = NULL;
    pthread_mutex_unlock(&w->mu);
    w->inflight = NULL;
    for (int k = 0; k < s->nbparts; k++)
        s->bparts[k]->flight_next = -1;
    return s;
}

/*
 * Completes the batch in flight on the loop thread, waiting for the committer if needed. On
 * success the batch is accounted; on failure the prepared batch is discarded and the failed one
 * handled as the synchronous path would: redone, isolated, retried after a backoff, or fenced.
 */
static void pipe_wait(cs_worker_t *w)
{
    stage_t *s = committer_join(w);
    if (!s)
        return;
    w->inflight_done = s;
    if (s->rc == APPLY_OK) {
        batch_committed(w, s);
        w->inflight_done = NULL;
        return;
    }
    w->inflight_done = NULL;
    if (w->ready) {
        cs_log_info("a pipelined batch failed; the next one, already prepared, is discarded",
                    CS_LI("events", s->n), CS_LI("discarded_events", w->ready->n));
        cs_batch_clear(w->ready->batch);
        w->ready = NULL;
    }
    if (w->def->forget)
        w->def->forget(w->ud);
    set_waiting(w, s->waiting);
    switch (s->rc) {
    case APPLY_FENCED:
        stage_mark(w, s);
        after_fence(w);
        w->attempt = 0;
        break;
    case APPLY_REDO:
        w->precheck_left = PRECHECK_BATCHES;
        cs_log_info("a pipelined batch met an event id applied or a learner erased after its "
                    "pre-check; redoing it in one transaction",
                    CS_LI("events", s->n));
        apply_batch(w, s, s->n, false);
        break;
    default:
        if (s->err.kind == CS_ERR_PERMANENT) {
            cs_log_warn("batch failed on an event's rows; isolating it",
                        CS_LS("reason", s->err.msg), CS_LS("sqlstate", s->err.sqlstate),
                        CS_LI("events", s->n));
            apply_batch(w, s, s->n, true);
        } else {
            cs_err_t err = s->err;
            attempt_failed(w, &err);
        }
        break;
    }
}

/* Hands a prepared batch to the committer (which must be idle). */
static void handover(cs_worker_t *w, stage_t *s)
{
    cs_err_t err;
    if (db_ensure(w, &err) < 0) {
        discard_ready(w);
        attempt_failed(w, &err);
        return;
    }
    w->ready = NULL;
    for (int k = 0; k < s->nbparts; k++)
        s->bparts[k]->flight_next = s->blast[k] + 1;
    set_waiting(w, "postgresql");
    w->inflight = s;
    pthread_mutex_lock(&w->mu);
    w->job = s;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/*
 * Prepares the next n pending messages (after the batch in flight) into the free stage, which
 * becomes w->ready. On failure nothing is prepared and the right state is set.
 */
static void prepare(cs_worker_t *w, int n)
{
    stage_t *s = free_stage(w);
    int base = w->inflight ? w->inflight->n : 0;
    cs_err_t err;
    cs_err_clear(&err);
    s->t0 = mono_s();
    double t = s->t0, t2;
    cs_arena_reset(s->arena);
    cs_batch_clear(s->batch);
    memset(s->t_phase, 0, sizeof s->t_phase);
    decode_items(w, s, base, n);
    s->t_phase[0] = (t2 = mono_s()) - t, t = t2;
    set_waiting(w, "postgresql");
    if (precheck_items(w, s, &err) < 0)
        goto fail;
    s->t_phase[1] = (t2 = mono_s()) - t, t = t2;
    if (run_handlers(w, s, &err) < 0)
        goto fail;
    s->t_phase[2] = mono_s() - t;
    build_dead_letters(w, s);
    stage_parts(w, s);
    tail_params(w, s);
    w->ready = s;
    return;
fail:
    cs_batch_clear(s->batch);
    /* The batch in flight first: handler state may only be dropped once it is settled. */
    pipe_wait(w);
    if (w->def->forget)
        w->def->forget(w->ud);
    if (w->exit_code || w->backoff)
        return;
    attempt_failed(w, &err);
}

/* Pending messages after the batch in flight and the prepared one. */
static int navail(const cs_worker_t *w)
{
    return w->npending - (w->inflight ? w->inflight->n : 0) - (w->ready ? w->ready->n : 0);
}

/*
 * The pipeline's driver: hands the prepared batch over when the committer is free, prepares the
 * next one when it is full (or, with all, whatever is pending once the committer is free).
 */
static void flush_ready(cs_worker_t *w, bool all)
{
    if (!w->pipeline) {
        flush_sync(w, all);
        return;
    }
    while (!w->backoff && w->exit_code == 0 && !w->closed) {
        bool full;
        if (w->inflight) {
            if (w->ready)
                break;
            int n = next_batch_len(w, w->inflight->n, &full);
            if (n == 0 || !full)
                break;
            prepare(w, n);
            continue;
        }
        if (w->ready) {
            handover(w, w->ready);
            continue;
        }
        int n = next_batch_len(w, 0, &full);
        if (n == 0 || (!all && !full))
            break;
        if (w->attempt > 0)
            apply_batch(w, &w->st[0], n, false); /* retry after a failure: synchronous */
        else
            prepare(w, n);
    }
    if (navail(w) == 0 || w->backoff)
        ev_timer_stop(w->loop, &w->batch_timer);
    else
        schedule_flush(w);
    if (w->stopping && w->npending == 0 && !w->inflight && !w->backoff)
        finish_stop(w);
    else
        check_drain(w);
}

/* Waits for the batch in flight and commits the prepared one too (revocation). */
static void pipe_settle(cs_worker_t *w)
{
    pipe_wait(w);
    if (w->ready && !w->backoff && w->exit_code == 0) {
        handover(w, w->ready);
        pipe_wait(w);
    }
    discard_ready(w);
}

static void schedule_flush(cs_worker_t *w)
{
    if (!ev_is_active(&w->batch_timer)) {
        ev_timer_set(&w->batch_timer, (double)w->batch_ms / 1000.0, 0.);
        ev_timer_start(w->loop, &w->batch_timer);
    }
}

/* ---- consumer events ---- */

static void handle_msg(cs_worker_t *w, cs_msg_t *m)
{
    if (m->event == CS_MSG_EOF) {
        part_t *p = part_find(w, m->topic, m->partition);
        if (p && p->active && (p->recv_pos < 0 || m->offset >= p->recv_pos))
            p->eof = true;
        cs_consumer_msg_free(m);
        check_drain(w);
        return;
    }
    if (m->event == CS_MSG_ERROR) {
        if (m->err.kind == CS_ERR_FATAL) {
            cs_log_error("kafka consumer failed; stopping", CS_LS("reason", m->err.msg));
            stop_now(w, 1);
        } else {
            cs_log_warn("kafka consumer error", CS_LS("reason", m->err.msg),
                        CS_LS("topic", m->topic), CS_LI("partition", m->partition));
        }
        cs_consumer_msg_free(m);
        return;
    }
    part_t *p = part_find(w, m->topic, m->partition);
    if (!p || !p->active || p->need_offset || w->stopping) {
        cs_consumer_msg_free(m);
        return;
    }
    if (p->recv_pos >= 0 && m->offset < p->recv_pos) {
        /* Delivered again (librdkafka 2.0.2 can): already pending or committed. */
        cs_log_debug("duplicate delivery dropped", CS_LS("topic", m->topic),
                     CS_LI("partition", m->partition), CS_LI("offset", m->offset));
        cs_consumer_msg_free(m);
        return;
    }
    p->recv_pos = m->offset + 1;
    p->eof = false;
    const char *lv[] = {m->topic};
    cs_metric_inc(w->m_received, lv, 1);
    pending_push(w, m);
    if (w->backoff)
        return;
    if (navail(w) >= w->batch_size || (long long)w->pending_bytes >= w->batch_bytes)
        flush_ready(w, false);
    else
        schedule_flush(w);
}

#define POLL_BUDGET 10000

static void drain_queue(cs_worker_t *w)
{
    cs_msg_t *m;
    int k = 0;
    w->throttled = false;
    while (!w->closed) {
        if (w->inflight && w->ready) {
            /* Two batches taken: read on into the consumer's reservoir of compact copies (so
             * librdkafka's small queue keeps fetching) until the committer is free
             * (on_committed takes the rest). A revocation served in there settles both. */
            cs_consumer_prefetch(w->consumer);
            if (!(w->inflight && w->ready) && !w->closed)
                continue;
            w->throttled = true;
            ev_idle_stop(w->loop, &w->consumer_idle);
            return;
        }
        if ((m = cs_consumer_poll(w->consumer)) == NULL)
            break;
        handle_msg(w, m);
        if (++k >= POLL_BUDGET) {
            /* Let timers and HTTP run; the idle watcher comes back for the rest. */
            ev_idle_start(w->loop, &w->consumer_idle);
            return;
        }
    }
    ev_idle_stop(w->loop, &w->consumer_idle);
    /* The queue is empty: with the committer free, what is pending goes now (group commit;
     * batch-ms only bounds the wait while a batch is in flight). */
    if (w->pipeline && !w->closed && !w->inflight && !w->backoff && w->npending)
        flush_ready(w, true);
}

/* The committer is done: complete its batch, hand over the next, read on. */
static void on_committed(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = a->data;
    if (w->closed)
        return;
    pipe_wait(w); /* returns at once: the batch is done (or was completed already) */
    if (w->closed)
        return;
    flush_ready(w, true);
    if (w->throttled && !w->closed)
        drain_queue(w);
}

static void on_consumer_io(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = io->data;
    cs_consumer_ack_fd(w->consumer);
    drain_queue(w);
}

static void on_consumer_idle(struct ev_loop *loop, ev_idle *idle, int revents)
{
    (void)loop, (void)revents;
    drain_queue(idle->data);
}

static void on_batch_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    flush_ready(t->data, true);
}

static void on_retry_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    cs_err_t err;
    if (w->probing && !probe_pg(w))
        return;
    w->backoff = false;
    if (settle_offsets(w, &err) < 0) {
        enter_backoff(w, &err);
        return;
    }
    flush_ready(w, true);
    if (!w->backoff)
        w->probe_t0 = 0; /* the outage, if any, is over */
    if (!w->backoff && w->paused_all && !w->closed) {
        cs_log_info("dependency is back; consuming again",
                    CS_LS("was_waiting_for", w->waiting_for));
        resume_ready(w);
    }
}

/* ---- rebalance ---- */

static void on_assign(void *ud, cs_tp_t *tps, int n)
{
    cs_worker_t *w = ud;
    part_t **ps = calloc((size_t)n, sizeof *ps);
    cs_err_t err;
    if (!ps)
        abort();
    /* The main connection reads the offsets: the committer must be done with it. */
    pipe_wait(w);
    w->got_assignment = true;
    for (int i = 0; i < n; i++) {
        part_t *p = part_get(w, tps[i].topic, tps[i].partition);
        p->active = true;
        p->eof = false;
        p->need_offset = false;
        p->hi_queried = -1;
        ps[i] = p;
    }
    if (load_offsets(w, ps, n, &err) == 0) {
        for (int i = 0; i < n; i++) {
            ps[i]->recv_pos = ps[i]->committed;
            /* No row in PostgreSQL: from the beginning, never from Kafka's committed offset. */
            tps[i].offset = ps[i]->committed >= 0 ? ps[i]->committed : OFFSET_BEGINNING;
            tps[i].pause = w->paused_all;
            cs_log_info("partition assigned", CS_LS("topic", ps[i]->topic),
                        CS_LI("partition", ps[i]->partition), CS_LI("offset", ps[i]->committed));
        }
    } else {
        cs_log_warn("partitions assigned but their offsets cannot be read yet; they stay paused",
                    CS_LS("reason", err.msg), CS_LI("partitions", n));
        for (int i = 0; i < n; i++) {
            ps[i]->need_offset = true;
            ps[i]->recv_pos = -1;
            tps[i].offset = CS_OFFSET_DEFAULT;
            tps[i].pause = true;
        }
        if (!w->backoff)
            enter_backoff(w, &err);
    }
    cs_metric_set(w->m_assigned, NULL, nactive(w));
    free(ps);
}

static bool drop_revoked(const part_t *p, const void *ctx)
{
    (void)ctx;
    return !p->active;
}

static void on_revoke(void *ud, const cs_tp_t *tps, int n, bool lost)
{
    cs_worker_t *w = ud;
    part_t **ps = calloc((size_t)n, sizeof *ps);
    int k = 0;
    if (!ps)
        abort();
    for (int i = 0; i < n; i++) {
        part_t *p = part_find(w, tps[i].topic, tps[i].partition);
        if (p && p->active)
            ps[k++] = p;
    }
    if (lost) {
        /* Another member may own them already: commit nothing more for them (the batch in
         * flight finishes; its compare-and-set fences it if they moved). */
        pipe_wait(w);
        discard_ready(w);
        for (int i = 0; i < k; i++)
            ps[i]->active = false;
        int d = pending_drop(w, drop_revoked, NULL);
        cs_log_warn("partitions lost; their uncommitted events are left to the new owner",
                    CS_LI("partitions", k), CS_LI("dropped", d));
    } else {
        /* Finish and commit the in-flight batch before the partitions go. */
        pipe_settle(w);
        if (w->npending && !w->backoff)
            flush_sync(w, true);
        for (int i = 0; i < k; i++)
            ps[i]->active = false;
        int d = pending_drop(w, drop_revoked, NULL);
        if (d)
            cs_log_warn("partitions revoked during an outage; their uncommitted events are left "
                        "to the new owner",
                        CS_LI("dropped", d), CS_LS("waiting_for", w->waiting_for));
    }
    for (int i = 0; i < k; i++) {
        const char *lv[] = {ps[i]->topic, ps[i]->pstr};
        cs_metric_remove(w->m_lag_msgs, lv);
        cs_metric_remove(w->m_lag_secs, lv);
        cs_log_info("partition revoked", CS_LS("topic", ps[i]->topic),
                    CS_LI("partition", ps[i]->partition), CS_LI("offset", ps[i]->committed),
                    CS_LI("lost", lost));
    }
    cs_metric_set(w->m_assigned, NULL, nactive(w));
    free(ps);
    /* The partitions may come back later with rows another member wrote meanwhile. */
    if (w->def->forget)
        w->def->forget(w->ud);
}

/* ---- lag, health, metrics ---- */

static void on_wm_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    /* A consumer poll, even an empty one, resets librdkafka's max.poll.interval.ms clock: without
     * one, a worker whose topics stay quiet for that long would be taken for stuck, lose its
     * partitions and rejoin. */
    if (!w->closed)
        drain_queue(w);
    /* Paused partitions are not fetched, so their cached watermarks go stale: ask the leader. */
    for (int i = 0; i < w->nparts; i++) {
        part_t *p = w->parts[i];
        if (!p->active)
            continue;
        if (!w->paused_all && !p->need_offset) {
            p->hi_queried = -1;
            continue;
        }
        int64_t lo, hi;
        if (cs_consumer_query_watermarks(w->consumer, p->topic, p->partition, 500, &lo, &hi) < 0)
            break; /* the broker is down too; try again next tick */
        p->hi_queried = hi;
    }
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    if (!w->closed)
        w->def->tick(w->ud);
}

static void collect(cs_metrics_t *m, void *ud)
{
    (void)m;
    cs_worker_t *w = ud;
    double now = now_s();
    for (int i = 0; i < w->nparts; i++) {
        part_t *p = w->parts[i];
        if (!p->active)
            continue;
        int64_t lo, hi;
        cs_consumer_watermarks(w->consumer, p->topic, p->partition, &lo, &hi);
        if (p->hi_queried > hi)
            hi = p->hi_queried;
        int64_t pos = p->committed >= 0 ? p->committed : lo;
        if (hi < 0 || pos < 0)
            continue;
        double lag = hi > pos ? (double)(hi - pos) : 0;
        double secs = 0;
        if (lag > 0) {
            /* Age of the oldest event not yet applied: pending ones are known exactly. */
            int64_t oldest = -1;
            for (int j = 0; j < w->npending; j++) {
                cs_msg_t *msg = w->pending[j];
                if (msg->partition == p->partition && strcmp(msg->topic, p->topic) == 0) {
                    oldest = msg->timestamp_ms;
                    break;
                }
            }
            if (oldest < 0)
                oldest = p->last_ts_ms;
            if (oldest >= 0)
                secs = now - (double)oldest / 1000.0;
            if (secs < 0)
                secs = 0;
        }
        const char *lv[] = {p->topic, p->pstr};
        cs_metric_set(w->m_lag_msgs, lv, lag);
        cs_metric_set(w->m_lag_secs, lv, secs);
    }
    cs_metric_set(w->m_assigned, NULL, nactive(w));
}

static bool is_ready(cs_worker_t *w, const char **why)
{
    if (!w->got_assignment)
        return *why = "no partition assignment yet", false;
    /* While the committer owns the main connection its state is its own business. */
    if (!w->inflight && (!w->db || !cs_db_ok(w->db)))
        return *why = "postgresql not connected", false;
    if (w->backoff)
        return *why = w->waiting_for, false;
    if (!cs_consumer_connected(w->consumer))
        return *why = "kafka brokers down", false;
    return *why = "ready", true;
}

static int on_http(void *ud, const char *path, cs_buf_t *body, const char **ctype)
{
    cs_worker_t *w = ud;
    const char *why;
    if (strcmp(path, "/healthz") == 0) {
        cs_buf_puts(body, "ok\n");
        return 200;
    }
    if (strcmp(path, "/readyz") == 0) {
        bool ok = is_ready(w, &why);
        cs_buf_printf(body, "%s\n", ok ? "ready" : why);
        return ok ? 200 : 503;
    }
    if (strcmp(path, "/metrics") == 0) {
        cs_metric_set(w->m_ready, NULL, is_ready(w, &why));
        cs_metrics_render(w->metrics, body);
        *ctype = "text/plain; version=0.0.4; charset=utf-8";
        return 200;
    }
    cs_buf_puts(body, "not found: try /healthz, /readyz or /metrics\n");
    return 404;
}

static void metrics_init(cs_worker_t *w)
{
    static const double size_buckets[] = {1, 10, 100, 500, 1000, 2500, 5000, 10000, 50000};
    static const double sec_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10};
    cs_metrics_t *m = w->metrics = cs_metrics_new();
    w->m_received = cs_metrics_counter(m, "cs_messages_received_total",
                                       "Kafka messages received, by topic", "topic");
    w->m_consumed = cs_metrics_counter(m, "cs_events_consumed_total",
                                       "events in committed batches, by event type", "type");
    w->m_applied = cs_metrics_counter(m, "cs_events_applied_total",
                                      "events whose effects were applied, by event type", "type");
    w->m_dead = cs_metrics_counter(m, "cs_events_dead_lettered_total",
                                   "events sent to a dead-letter topic, by type and error class",
                                   "type,class");
    w->m_skipped = cs_metrics_counter(
        m, "cs_events_skipped_total",
        "events not applied: duplicate event id or erased learner, by type", "type,reason");
    w->m_batch_size = cs_metrics_histogram(m, "cs_batch_events", "events per committed batch", NULL,
                                           size_buckets, 9);
    w->m_batch_seconds = cs_metrics_histogram(
        m, "cs_batch_duration_seconds", "time to apply and commit a batch", NULL, sec_buckets, 13);
    static const double e2e_buckets[] = {0.001,  0.002, 0.003,  0.004, 0.005, 0.0075, 0.01,
                                         0.0125, 0.015, 0.0175, 0.02,  0.025, 0.03,   0.04,
                                         0.05,   0.075, 0.1,    0.15,  0.2,   0.3,    0.5,
                                         1,      2,     5,      10,    30,    60};
    w->m_e2e = cs_metrics_histogram(m, "cs_event_e2e_latency_seconds",
                                    "from the message's produce timestamp to the commit of its "
                                    "effects, per event",
                                    NULL, e2e_buckets, 27);
    w->m_batches = cs_metrics_counter(m, "cs_batches_total", "batches, by result", "result");
    w->m_db_errors = cs_metrics_counter(m, "cs_db_errors_total",
                                        "transient PostgreSQL failures, by SQLSTATE", "sqlstate");
    w->m_retries = cs_metrics_counter(m, "cs_retries_total",
                                      "batch retries after a transient "
                                      "failure",
                                      NULL);
    w->m_fenced = cs_metrics_counter(m, "cs_offset_fences_total",
                                     "batches rolled back because another consumer committed "
                                     "their partitions",
                                     NULL);
    w->m_lag_msgs = cs_metrics_gauge(m, "cs_consumer_lag_messages",
                                     "messages not yet applied, per partition", "topic,partition");
    w->m_lag_secs = cs_metrics_gauge(m, "cs_consumer_lag_seconds",
                                     "age of the oldest event not yet applied, per partition",
                                     "topic,partition");
    w->m_assigned = cs_metrics_gauge(m, "cs_partitions_assigned", "partitions assigned", NULL);
    w->m_ready = cs_metrics_gauge(m, "cs_ready", "1 when assigned and connected", NULL);
    cs_metrics_on_collect(m, collect, w);
    cs_metric_set(w->m_assigned, NULL, 0);
    cs_metric_inc(w->m_retries, NULL, 0);
    cs_metric_inc(w->m_fenced, NULL, 0);
}

/* ---- lifecycle ---- */

static void finish_stop(cs_worker_t *w)
{
    cs_err_t err;
    if (w->closed)
        return;
    w->closed = true;
    ev_timer_stop(w->loop, &w->batch_timer);
    ev_timer_stop(w->loop, &w->retry_timer);
    cs_log_info("leaving the consumer group");
    /* Everything is committed by now: a leave that hangs must not hold the exit hostage. */
    if (cs_consumer_close(w->consumer, 5000, &err) < 0)
        cs_log_warn("leaving the consumer group failed", CS_LS("reason", err.msg));
    ev_break(w->loop, EVBREAK_ALL);
}

static void stop_now(cs_worker_t *w, int code)
{
    if (w->inflight) {
        /* The committer reads pending messages: cancel its statement and let it finish first.
         * Whether that batch committed or not, PostgreSQL's offsets say where to resume. */
        cs_db_cancel(w->db);
        committer_join(w);
    }
    w->ready = NULL;
    w->exit_code = code;
    w->stopping = true;
    pending_consume(w, 0);
    for (int i = 0; i < w->npending; i++)
        cs_consumer_msg_free(w->pending[i]);
    w->npending = 0;
    w->pending_bytes = 0;
    finish_stop(w);
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    cs_log_warn("shutdown deadline reached; uncommitted events are left to the next owner",
                CS_LI("pending", w->npending), CS_LS("waiting_for", w->waiting_for));
    stop_now(w, 1);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = s->data;
    if (w->stopping) {
        cs_log_warn("second signal: stopping now", CS_LI("signal", s->signum));
        stop_now(w, 1);
        return;
    }
    cs_log_info("stopping: finishing the current batch", CS_LI("signal", s->signum),
                CS_LI("pending", w->npending), CS_LI("in_flight", w->inflight != NULL));
    w->stopping = true;
    ev_timer_set(&w->deadline_timer, (double)w->shutdown_timeout_ms / 1000.0, 0.);
    ev_timer_start(w->loop, &w->deadline_timer);
    flush_ready(w, true);
}

/*
 * Start-up: every topic to consume must exist. The consumer's subscription creates a missing
 * topic where the broker and the consumer allow it (auto.create.topics.enable on the broker,
 * allow.auto.create.topics here unless --kafka-props says otherwise), so a missing topic is given
 * TOPIC_WAIT_DRAIN_S to appear. With --drain a topic still missing then is a mistake, not a
 * stream that has not started: the worker stops with exit code 2 naming it (a drain would
 * otherwise wait for ever). Without --drain a topic may be created later: the worker warns every
 * TOPIC_WARN_S and keeps waiting; it consumes the topics that exist meanwhile.
 */
#define TOPIC_WAIT_DRAIN_S 10.0
#define TOPIC_WARN_S       30.0

static void on_topic_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    char name[256];
    cs_err_t err;
    if (w->stopping)
        return;
    cs_err_clear(&err);
    int n = cs_consumer_missing_topics(w->consumer, (const char *const *)w->topics, 2000, name,
                                       sizeof name, &err);
    double now = mono_s();
    if (n == 0) {
        if (w->topic_warned_at > 0)
            cs_log_info("every topic exists now", CS_LI("topics", w->ntopics));
        return;
    }
    if (n > 0) {
        if (w->topic_missing_since == 0)
            w->topic_missing_since = now;
        double waited = now - w->topic_missing_since;
        if (w->drain && waited >= TOPIC_WAIT_DRAIN_S) {
            cs_log_error("topic does not exist; nothing to drain", CS_LS("topic", name),
                         CS_LI("missing", n), CS_LD("waited_s", waited));
            fprintf(stderr, "%s: topic %s does not exist\n", w->def->name, name);
            stop_now(w, 2);
            return;
        }
        if (!w->drain && (w->topic_warned_at == 0 || now - w->topic_warned_at >= TOPIC_WARN_S) &&
            waited >= TOPIC_WAIT_DRAIN_S) {
            cs_log_warn("topic does not exist; waiting for it to be created", CS_LS("topic", name),
                        CS_LI("missing", n), CS_LD("waited_s", waited));
            w->topic_warned_at = now;
        }
    } else {
        cs_log_debug("topic check failed; trying again", CS_LS("reason", err.msg));
    }
    ev_timer_set(t, w->drain || n < 0 ? 1.0 : 5.0, 0.);
    ev_timer_start(w->loop, t);
}

static char **split_topics(const char *s, int *n)
{
    char **v = NULL;
    int k = 0;
    const char *p = s;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' '))
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (len) {
            v = realloc(v, (size_t)(k + 2) * sizeof *v);
            if (!v)
                abort();
            v[k++] = strndup(p, len);
            v[k] = NULL;
        }
        if (!e)
            break;
        p = e + 1;
    }
    *n = k;
    return v;
}

static bool common_has(const char *name)
{
    for (int i = 0; cs_config_common_opts[i].name; i++)
        if (strcmp(cs_config_common_opts[i].name, name) == 0)
            return true;
    return false;
}

static cs_opt_t *merge_opts(const cs_opt_t *own)
{
    int n = 0, k = 0;
    for (int i = 0; cs_worker_opts[i].name; i++)
        n++;
    for (int i = 0; own && own[i].name; i++)
        n++;
    cs_opt_t *v = calloc((size_t)n + 1, sizeof *v);
    if (!v)
        abort();
    for (int i = 0; cs_worker_opts[i].name; i++)
        if (!common_has(cs_worker_opts[i].name))
            v[k++] = cs_worker_opts[i];
    for (int i = 0; own && own[i].name; i++)
        v[k++] = own[i];
    return v;
}

static void committer_stop(cs_worker_t *w)
{
    if (!w->committer_started)
        return;
    if (w->inflight) {
        cs_db_cancel(w->db);
        committer_join(w);
    }
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->committer, NULL);
    w->committer_started = false;
}

static void worker_free(cs_worker_t *w)
{
    committer_stop(w);
    if (w->def->fini && w->ud)
        w->def->fini(w->ud);
    cs_http_destroy(w->http);
    for (int i = 0; i < w->npending; i++)
        cs_consumer_msg_free(w->pending[i]);
    free(w->pending);
    cs_consumer_destroy(w->consumer);
    cs_dlq_destroy(w->dlq);
    cs_db_destroy(w->db);
    cs_db_destroy(w->rdb);
    for (int i = 0; i < 2; i++) {
        stage_t *s = &w->st[i];
        cs_batch_destroy(s->batch);
        cs_arena_destroy(s->arena);
        free(s->items);
        free(s->dls);
        free(s->refused);
        free(s->bparts);
        free(s->blast);
        for (int k = 0; k < 10; k++)
            cs_buf_fini(&s->p[k]);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    cs_codec_destroy(w->codec);
    cs_metrics_destroy(w->metrics);
    for (int i = 0; i < w->nparts; i++) {
        free(w->parts[i]->topic);
        free(w->parts[i]);
    }
    free(w->parts);
    for (int i = 0; i < w->ntopics; i++)
        free(w->topics[i]);
    free(w->topics);
    free(w->group);
    cs_buf_fini(&w->a1);
    cs_buf_fini(&w->a2);
    cs_buf_fini(&w->a3);
    cs_buf_fini(&w->a4);
    cs_buf_fini(&w->a5);
    cs_config_destroy(w->cfg);
    free(w->opts);
    free(w);
}

int cs_worker_main(const cs_worker_def_t *def, int argc, char **argv)
{
    cs_worker_t *w = calloc(1, sizeof *w);
    cs_err_t err;
    int code = 0;
    char client_id[128];

    if (!w)
        abort();
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    cs_err_clear(&err);
    w->def = def;
    w->ud = def->ud;
    w->opts = merge_opts(def->opts);
    w->cfg = cs_config_start(def->name, def->usage ? def->usage : "a careerstream worker", w->opts,
                             argc, argv, &code);
    if (!w->cfg) {
        free(w->opts);
        free(w);
        return code;
    }
    signal(SIGPIPE, SIG_IGN);
    /* librdkafka allocates messages on its threads and we free them on ours: without a cap
     * glibc keeps an arena per thread and the RSS creeps far above what is in use. */
    mallopt(M_ARENA_MAX, 2);
    srand((unsigned)(getpid() ^ (unsigned)time(NULL)));

    const char *group = cs_config_str(w->cfg, "group");
    w->group = strdup(group && *group ? group : (def->group ? def->group : def->name));
    const char *topics = cs_config_str(w->cfg, "topics");
    if (topics && *topics) {
        w->topics = split_topics(topics, &w->ntopics);
    } else {
        for (int i = 0; def->topics && def->topics[i]; i++) {
            w->topics = realloc(w->topics, (size_t)(i + 2) * sizeof *w->topics);
            if (!w->topics)
                abort();
            w->topics[i] = strdup(def->topics[i]);
            w->topics[i + 1] = NULL;
            w->ntopics = i + 1;
        }
    }
    w->batch_size = cs_config_int(w->cfg, "batch-size");
    w->batch_ms = cs_config_int(w->cfg, "batch-ms");
    w->batch_bytes = cs_config_int(w->cfg, "batch-bytes");
    w->drain = cs_config_bool(w->cfg, "drain");
    w->retry_initial_ms = cs_config_int(w->cfg, "retry-initial-ms");
    w->retry_max_ms = cs_config_int(w->cfg, "retry-max-ms");
    w->shutdown_timeout_ms = cs_config_int(w->cfg, "shutdown-timeout-ms");
    w->dlq_timeout_ms = cs_config_int(w->cfg, "dlq-timeout-ms");

    if (w->ntopics == 0) {
        fprintf(stderr, "%s: no topics to consume (set --topics or CS_TOPICS)\n", def->name);
        code = 2;
        goto out;
    }
    if (!cs_config_str(w->cfg, "pg-dsn") || !*cs_config_str(w->cfg, "pg-dsn")) {
        fprintf(stderr, "%s: --pg-dsn (CS_PG_DSN) is required\n", def->name);
        code = 2;
        goto out;
    }
    if (!cs_config_str(w->cfg, "kafka-brokers") || !*cs_config_str(w->cfg, "kafka-brokers")) {
        fprintf(stderr, "%s: --kafka-brokers (CS_KAFKA_BROKERS) is required\n", def->name);
        code = 2;
        goto out;
    }
    if (!def->decode) {
        w->codec = cs_codec_new(&err);
        if (!w->codec)
            goto fatal;
        for (int i = 0; def->handlers[i].event_type; i++) {
            const char *t = def->handlers[i].event_type;
            if (strcmp(t, CS_EVENT_ANY) != 0 && cs_codec_type_by_name(t) < 0) {
                cs_err_set_field(&err, CS_ERR_FATAL, "handlers",
                                 "handler for unknown event type '%s'", t);
                goto fatal;
            }
        }
    }
    if (def->init && def->init(w->cfg, &w->ud, &err) < 0)
        goto fatal;

    for (w->ntables = 0; def->tables && def->tables[w->ntables].table; w->ntables++)
        ;
    for (int i = 0; i < 2; i++) {
        w->st[i].batch = cs_batch_new(def->tables, w->ntables);
        cs_batch_set_array_max(w->st[i].batch, (size_t)cs_config_int(w->cfg, "batch-array-rows"));
        w->st[i].arena = cs_arena_new(256 * 1024);
        for (int k = 0; k < 10; k++)
            cs_buf_init(&w->st[i].p[k]);
    }
    w->pipeline = cs_config_bool(w->cfg, "pipeline");
    w->commit_pipeline = cs_config_bool(w->cfg, "commit-pipeline");
    metrics_init(w);
    w->loop = ev_default_loop(EVFLAG_AUTO);

    w->dlq = cs_dlq_new(cs_config_str(w->cfg, "kafka-brokers"),
                        cs_config_str(w->cfg, "kafka-props"), def->name, w->group, &err);
    if (!w->dlq)
        goto fatal;
    snprintf(client_id, sizeof client_id, "%s-%d", def->name, (int)getpid());
    cs_consumer_conf_t cc = {
        .brokers = cs_config_str(w->cfg, "kafka-brokers"),
        .group = w->group,
        .topics = (const char *const *)w->topics,
        .client_id = client_id,
        .group_instance_id = cs_config_str(w->cfg, "group-instance-id"),
        .session_timeout_ms = (int)cs_config_int(w->cfg, "session-timeout-ms"),
        .max_poll_interval_ms = (int)cs_config_int(w->cfg, "max-poll-interval-ms"),
        .partition_eof = w->drain,
        .fetch_wait_max_ms = (int)cs_config_int(w->cfg, "fetch-wait-ms"),
        .kafka_props = cs_config_str(w->cfg, "kafka-props"),
        .reservoir_kbytes = cs_config_int(w->cfg, "prefetch-reservoir-kb") > 0
                                ? (int)cs_config_int(w->cfg, "prefetch-reservoir-kb")
                                : -1,
    };
    cs_consumer_cbs_t cbs = {on_assign, on_revoke, w};
    if (cs_consumer_conf_check(&cc, &err) < 0)
        goto fatal; /* a bad --group-instance-id, before anything connects */

    /* PostgreSQL first: a wrong DSN or schema stops here; an unreachable server is retried. */
    if (db_ensure(w, &err) < 0) {
        if (err.kind != CS_ERR_TRANSIENT)
            goto fatal;
        cs_log_warn("waiting for postgresql", CS_LS("reason", err.msg));
    }
    w->consumer = cs_consumer_new(&cc, &cbs, &err);
    if (!w->consumer)
        goto fatal;

    long long port = cs_config_int(w->cfg, "metrics-port");
    if (port >= 0) {
        w->http = cs_http_new(w->loop, cs_config_str(w->cfg, "metrics-addr"), (int)port, on_http, w,
                              &err);
        if (!w->http)
            goto fatal;
        cs_log_info("serving /healthz, /readyz, /metrics",
                    CS_LS("addr", cs_config_str(w->cfg, "metrics-addr")),
                    CS_LI("port", cs_http_port(w->http)));
    }

    ev_io_init(&w->consumer_io, on_consumer_io, cs_consumer_fd(w->consumer), EV_READ);
    w->consumer_io.data = w;
    ev_io_start(w->loop, &w->consumer_io);
    ev_idle_init(&w->consumer_idle, on_consumer_idle);
    w->consumer_idle.data = w;
    ev_init(&w->batch_timer, on_batch_timer);
    w->batch_timer.data = w;
    ev_init(&w->retry_timer, on_retry_timer);
    w->retry_timer.data = w;
    ev_async_init(&w->done_async, on_committed);
    w->done_async.data = w;
    ev_async_start(w->loop, &w->done_async);
    if (w->pipeline) {
        int prc = pthread_create(&w->committer, NULL, committer_main, w);
        if (prc != 0) {
            cs_err_set(&err, CS_ERR_FATAL, "cannot start the committer thread: %s", strerror(prc));
            goto fatal;
        }
        w->committer_started = true;
    }
    ev_init(&w->deadline_timer, on_deadline);
    w->deadline_timer.data = w;
    ev_timer_init(&w->topic_timer, on_topic_timer, 0., 0.);
    w->topic_timer.data = w;
    ev_timer_start(w->loop, &w->topic_timer);
    ev_timer_init(&w->wm_timer, on_wm_timer, 5., 5.);
    w->wm_timer.data = w;
    ev_timer_start(w->loop, &w->wm_timer);
    if (w->def->tick && w->def->tick_ms > 0) {
        ev_timer_init(&w->tick_timer, on_tick, w->def->tick_ms / 1000., w->def->tick_ms / 1000.);
        w->tick_timer.data = w;
        ev_timer_start(w->loop, &w->tick_timer);
    }
    ev_signal_init(&w->sigterm, on_signal, SIGTERM);
    w->sigterm.data = w;
    ev_signal_start(w->loop, &w->sigterm);
    ev_signal_init(&w->sigint, on_signal, SIGINT);
    w->sigint.data = w;
    ev_signal_start(w->loop, &w->sigint);

    cs_log_info("worker started", CS_LS("group", w->group), CS_LS("topics", topics ? topics : ""),
                CS_LI("batch_size", w->batch_size), CS_LI("batch_ms", w->batch_ms),
                CS_LI("drain", w->drain), CS_LI("pipeline", w->pipeline));
    /* The queue may have filled before the watcher existed: look once. */
    drain_queue(w);
    if (!w->closed)
        ev_run(w->loop, 0);

    ev_io_stop(w->loop, &w->consumer_io);
    ev_idle_stop(w->loop, &w->consumer_idle);
    ev_timer_stop(w->loop, &w->batch_timer);
    ev_timer_stop(w->loop, &w->retry_timer);
    ev_timer_stop(w->loop, &w->deadline_timer);
    ev_timer_stop(w->loop, &w->topic_timer);
    ev_timer_stop(w->loop, &w->wm_timer);
    ev_timer_stop(w->loop, &w->tick_timer);
    ev_signal_stop(w->loop, &w->sigterm);
    ev_signal_stop(w->loop, &w->sigint);
    committer_stop(w);
    ev_async_stop(w->loop, &w->done_async);
    code = w->exit_code;
    cs_log_info("worker stopped", CS_LI("exit_code", code));
    goto out;
fatal:
    cs_log_error("worker cannot start", CS_LS("kind", cs_err_kind_name(err.kind)),
                 CS_LS("reason", err.msg), CS_LS("field", err.field),
                 CS_LS("sqlstate", err.sqlstate));
    code = err.kind == CS_ERR_FATAL && err.field[0] ? 2 : 1;
out:
    if (w->loop && w->http) {
        cs_http_destroy(w->http);
        w->http = NULL;
    }
    worker_free(w);
    return code;
}

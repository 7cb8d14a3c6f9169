/*
 * libcore/src/worker_int.h
 *      The worker runtime's private map: its state, its structs and the cs__worker_* functions
 *      its files share.
 *
 * The runtime (cs_worker_main, cs/worker.h) is split by concern, the way librdkafka splits its
 * consumer (rdkafka_cgrp.c, rdkafka_assignment.c, rdkafka_offset.c over rdkafka_int.h) and Redis
 * keeps its background work behind a job struct (bio.c):
 *
 *   worker.c            options, start-up, signals, stop: the lifecycle and cs_worker_main
 *   worker_loop.c       the loop's handlers for the consumer queue and the batch drivers
 *   worker_retry.c      backoff after a transient failure, probing an unreachable PostgreSQL
 *   worker_parts.c      partitions, pending messages, pause/resume, seeks, fences
 *   worker_rebalance.c  partitions assigned and revoked (the consumer's callbacks)
 *   worker_offsets.c    the runtime's SQL: the session, stored offsets, dedupe and pre-checks
 *   worker_items.c      a batch's events: decode, handlers, dead letters, the commit's parameters
 *   worker_txn.c        the batch transaction, written once, and its two senders
 *   worker_committer.c  the committer thread: takes a job, runs its transaction, hands it back
 *   worker_pipeline.c   the loop's side of the pipeline: prepare, hand over, complete
 *   worker_metrics.c    metrics, lag, /healthz, /readyz, /metrics
 *   worker_outbox.c     the transactional outbox: cs_batch_emit and the relay thread
 *   worker_redrive.c    `<worker> redrive`: dead letters through the synchronous path again
 *
 * Everything here runs on the loop thread except the committer (worker_committer.c), which sees
 * a job (cs__worker_job_t) and the stage it commits, never the cs_worker_t.
 *
 * How the runtime works:
 *
 * One loop thread runs everything but the database part of a pipelined batch. Watchers: the
 * consumer queue's io-event pipe (messages and rebalances), the batch timer (batch-ms after the
 * first message of a batch), the retry timer (backoff while a dependency is down), the upkeep
 * timer (watermarks for lag, group membership while holding back, Kafka's copy of the stored
 * offsets), the committer's completion (ev_async), SIGTERM/SIGINT, and the HTTP endpoint. Every
 * callback runs to completion.
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
 * Read-ahead (def->batch_read): while a batch is in flight, the loop decodes the messages of the
 * next batch to prepare into a third stage as they arrive, a chunk at a time, and hands each
 * chunk's events to batch_read, which starts the worker's set-based read for them without
 * waiting: the reads run on PostgreSQL while the loop waits for messages or for the committer, and
 * the batch's batch_begin collects them (and reads what they missed). The stage keeps its items
 * and arena; it takes a batch buffer only when it is prepared (two exist). Whatever discards the
 * prepared batch discards the one read ahead with it.
 * Group commit: with nothing in flight, what is pending is applied as soon as the consumer queue is
 * empty; while a batch is in flight, messages accumulate and go as one batch when it completes;
 * batch-ms stays the upper bound.
 *
 * Per-partition positions: `committed` is the next offset stored in PostgreSQL (-1: no row yet:
 * the partition is read from its beginning, whatever Kafka's committed offset says),
 * `flight_next` the next offset once the batch in flight commits, `recv_pos` the next offset
 * expected from Kafka; anything older is a duplicate delivery and is dropped before it reaches a
 */
#ifndef CS_WORKER_INT_H
#define CS_WORKER_INT_H

#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cs/buf.h"
#include "cs/consumer.h"
#include "cs/db.h"
#include "cs/dlq.h"
#include "cs/http.h"
#include "cs/log.h"
#include "cs/mem.h"
#include "cs/metrics.h"
#include "cs/text.h"
#include "cs/worker.h"

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
    int64_t committed;  /* next offset in consumer_offsets; -1: no row */
    int64_t recv_pos;   /* next offset expected from Kafka; -1: any */
    int64_t last_ts_ms; /* timestamp of the last message committed since assigned; -1: none */
    /* lag in seconds (worker_metrics.c) */
    int64_t head_ts_ms;   /* scratch: timestamp of the oldest message held; -1: none held */
    double lag_seen_at;   /* wall time lag was first seen at lag_seen_pos, nothing held; 0 */
    int64_t lag_seen_pos; /* the stored offset then */
    int64_t flight_next;  /* next offset once the batch in flight commits; -1: not in it */
    bool active;
    bool need_offset; /* assigned while PostgreSQL was unreachable: waiting to seek */
    bool eof;
    bool stop_dropped; /* a message of it was dropped after the stop began: its end events no
                        * longer mean that everything before them was taken */
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

/* Longest the event loop waits for a dead letter's acknowledgement in one attempt. */
#define CS__WORKER_DLQ_LOOP_WAIT_MS 250

/* After a pipelined batch had to be redone, this many batches are pre-checked on R. */
#define PRECHECK_BATCHES 32

/* The commit's parameters, in stage_t.p (cs__worker_tail_params). */
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
    TP_LEARNERS,
    TP_FORGET, /* synchronous path: dead-lettered ids its dedupe marked processed */
    TP_COUNT
};

typedef struct stage stage_t;
/* The pipeline's stages: in flight, prepared, and decoded ahead (def->batch_read). */
#define CS__WORKER_STAGES 3
typedef struct cs__worker_committer cs__worker_committer_t;
typedef struct cs__worker_outbox cs__worker_outbox_t;
typedef struct cs__worker_redrive cs__worker_redrive_t;

/*
 * One batch's transaction as its senders see it (worker_txn.c): the stage to commit, the main
 * connection, the dead-letter producer and the settings it needs, and the outcome. Nothing of the
 * cs_worker_t: the committer thread gets one of these as its job (worker_committer.c). The loop
 * fills the first part and leaves the stage and the connection alone until the job is done.
 */
typedef struct cs__worker_job {
    stage_t *stage;
    const char *replay_job; /* a replay's job id: its counters move in the transaction; or NULL */
    bool dry_run;           /* a replay's --dry-run: ROLLBACK, no offsets, nothing published */
    cs_db_t *db;
    cs_dlq_t *dlq;
    const char *group;
    const char *scope; /* the effect ledger's (processed_events.effect_scope) */
    int dlq_timeout_ms;
    bool commit_pipeline; /* a small batch may go in one round trip (libpq pipeline mode) */
    /* re-drive mode (worker_redrive.c): no dead letters, no offsets; the rows' outcome instead */
    cs__worker_redrive_t *redrive;
    /* the outcome, set by whoever ran the transaction */
    int rc; /* APPLY_* */
    cs_err_t err;
    const char *waiting; /* what rc != APPLY_OK was waiting for */
} cs__worker_job_t;

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
    /* the commit's parameters (built by the loop) */
    cs_buf_t p[TP_COUNT];
    int nmark;   /* event ids it marks processed (new and erased) */
    int nforget; /* TP_FORGET's ids */
    /* its transaction, when the committer runs it */
    cs__worker_job_t job;
    double t0;
    double t_phase[6];
    /* where a pipelined batch's time goes (debug "batch timing"): when it was handed over, when
     * the committer finished (monotonic), and its oldest event's age when preparing began (ms) */
    double t_hand, t_done;
    double age0_ms;
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

/*
 * A mode of the runtime (worker_replay.c): the program runs the same loop and handlers with its
 * own options, a prepare step after the configuration is read (it may fix the group, the
 * partitions, their ends), a hook once the loop is made and a last word on the exit code.
 */
typedef struct cs__worker_mode {
    const char *program; /* for --help and errors: "progress replay" */
    const char *usage;
    const cs_opt_t *opts;
    /* 0 to run (or to end at once with w->mode_done), or an exit code */
    int (*prepare)(cs_worker_t *w);
    void (*started)(cs_worker_t *w);
    int (*finish)(cs_worker_t *w, int code);
    /* after each batch's transaction ended well (committed, or rolled back by --dry-run) */
    void (*batch_done)(cs_worker_t *w, const stage_t *s);
} cs__worker_mode_t;

struct cs_worker {
    const cs_worker_def_t *def;
    const cs__worker_mode_t *mode; /* NULL: the live worker */
    void *mode_ud;                 /* the mode's state */
    bool mode_done;                /* prepare had nothing to run */
    char *replay_job;              /* a replay's job id (its counters, worker_txn.c) */
    bool dry_run;                  /* a replay's --dry-run (worker_txn.c rolls back) */
    cs_tp_t *assign;               /* a mode's fixed partitions (assign mode, cs/consumer.h) */
    int64_t *assign_end;           /* their frozen ends */
    int nassign;
    cs_config_t *cfg;
    cs_opt_t *opts;
    struct ev_loop *loop;
    void *ud;
    char *group;
    char *scope; /* effect scope: def->effect_scope, else def->name (processed_events) */
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
    cs_table_def_t *outbox_tables; /* the worker's tables and outbox_events (def->outbox) */
    cs__worker_outbox_t *outbox;   /* def->outbox: cs_batch_emit's context and the relay */
    /* Re-drive mode (worker_redrive.c): pending holds dead letters, not consumed messages; the
     * synchronous path's transaction locks their rows, records their outcome and moves no
     * offsets. NULL in the live loop. */
    cs__worker_redrive_t *redrive;

    /* stages: st[0..CS__WORKER_STAGES); the synchronous path uses st[0] */
    stage_t st[CS__WORKER_STAGES];
    int nstages;     /* stages made: 3 with read-ahead, else 2 */
    bool read_ahead; /* def->batch_read and --read-ahead */
    bool pipeline;
    bool batch_linger;    /* --batch-linger: no group commit, a partial batch waits batch_ms */
    bool commit_pipeline; /* commit small batches in one round trip (worker_txn.c) */
    stage_t *inflight;    /* handed to the committer; its events are pending[0..inflight->n) */
    stage_t *ready;       /* prepared, waiting for the committer; pending[nflight..+ready->n) */
    stage_t *ahead;  /* the next batch to prepare, read ahead as it arrives (def->batch_read) */
    bool ahead_full; /* ahead holds the whole batch: it cannot grow */
    stage_t *inflight_done; /* being completed (logs say whether a batch was pipelined) */
    bool throttled;         /* stopped reading the consumer queue until the committer is free */
    int precheck_left;      /* batches still to pre-check on R (after a redo) */
    cs__worker_committer_t *committer; /* the pipeline's thread (NULL: --pipeline=false) */
    ev_async done_async;               /* the committer finished a job */

    /* handler dispatch, built lazily per type index */
    hlist_t types[MAX_TYPES];

    /* partitions */
    part_t **parts;
    int nparts, capparts;
    part_t *last_part;
    bool got_assignment;
    double last_rebalance_at; /* ev_now of the last assign or revoke callback */

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
    /* waiting_for: what the current attempt waits for (each transaction step names it afresh).
     * The outage the retries are in: what the last failed attempt waited for, since when (ev_now
     * of its first failure; 0: none) and how many retries it took; for "dependency is back". */
    char outage_for[64];
    double outage_t0;
    long long outage_retries;

    /* lifecycle */
    double started_at; /* mono_s when the loop started */
    bool got_message;  /* the first message was received (logged, with its delay) */
    bool stopping;
    bool closed;
    int exit_code;

    ev_io consumer_io;
    ev_idle consumer_idle;
    ev_timer batch_timer;
    ev_timer retry_timer;
    ev_timer wm_timer;    /* lag and membership upkeep: cs__worker_on_wm_timer */
    int wm_period_ms;     /* its period: 5 s, or a third of max.poll.interval.ms */
    double kafka_sync_at; /* ev_now when the stored offsets are next committed to Kafka again */
    ev_timer tick_timer;  /* def->tick, when the worker has one */
    ev_timer deadline_timer;
    ev_timer topic_timer; /* start-up: until every topic exists (on_topic_timer) */
    ev_timer drain_timer; /* --drain: checks an empty assignment again once it has settled */
    double topic_missing_since, topic_warned_at;
    ev_signal sigterm, sigint;

    /* metrics */
    cs_metrics_t *metrics;
    cs_metric_t *m_received, *m_consumed, *m_applied, *m_dead, *m_skipped;
    cs_metric_t *m_batch_size, *m_batch_seconds, *m_batches, *m_db_errors, *m_retries;
    cs_metric_t *m_e2e; /* produce time (message timestamp) to commit, per event */
    cs_metric_t *m_lag_msgs, *m_lag_secs, *m_stored, *m_high, *m_assigned, *m_ready, *m_fenced;
    cs_metric_t *m_rebalances;
    double type_counts[4][MAX_TYPES + 1];

    cs_buf_t a1, a2, a3, a4, a5; /* array parameters */
};

/* The prepared statements of a batch's commit (worker_offsets.c prepares them per session). */
#define TAIL_CHECK_STMT  "cs_tail_check_v1"
#define PROCESSED_STMT   "cs_processed_v2"
#define TAIL_STMT        "cs_tail_v1"
#define OFFSETS_CAS_STMT "cs_offsets_cas_v1"

/*
 * The pipelined commit's checks run on the server (cs_require, migration 0060): a failed one
 * aborts the transaction with SQLSTATE CSR01 (redo the batch synchronously) or CSF01 (fenced),
 * and the statements queued after it are skipped.
 */
#define SQLSTATE_REDO   "CSR01"
#define SQLSTATE_FENCED "CSF01"

/*
 * librdkafka's logical offset "the beginning of the partition" (RD_KAFKA_OFFSET_BEGINNING): where a
 * partition starts when PostgreSQL, the source of truth, has no offset for it, whatever Kafka's
 * committed offset for the group says (a fresh database must not skip what an old group read).
 */
#define OFFSET_BEGINNING (-2)

/* ---- small helpers every file uses ---- */

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A text[] / int[] / bigint[] literal builder: {a,b,c} with strings double-quoted. */
static inline void arr_begin(cs_buf_t *b)
{
    cs_buf_reset(b);
    cs_buf_putc(b, '{');
}

static inline void arr_sep(cs_buf_t *b)
{
    if (b->len > 1)
        cs_buf_putc(b, ',');
}

/* One reservation per element, not a capacity check per character (the batch's commit builds an
 * element per event: ids, topics, learners). */
static inline void arr_str(cs_buf_t *b, const char *s)
{
    size_t n = strlen(s), k = 0;
    arr_sep(b);
    char *d = cs_buf_reserve(b, 2 * n + 2);
    d[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            d[k++] = '\\';
        d[k++] = s[i];
    }
    d[k++] = '"';
    cs_buf_advance(b, k);
}

static inline void arr_int(cs_buf_t *b, long long v)
{
    arr_sep(b);
    cs_buf_advance(b, cs_text_i64(cs_buf_reserve(b, CS_TEXT_INT_BYTES), v));
}

static inline void arr_end(cs_buf_t *b)
{
    cs_buf_putc(b, '}');
}

/* ---- worker.c: lifecycle ---- */

/* cs_worker_main with a mode (NULL: the live worker). */
int cs__worker_main_mode(const cs_worker_def_t *def, int argc, char **argv,
                         const cs__worker_mode_t *mode);

/* ---- worker_replay.c: `<worker> replay` ---- */

int cs__worker_replay_main(const cs_worker_def_t *def, int argc, char **argv);

/* ---- worker_replay_range.c: a replay's range ---- */

/* One partition of a replay's topics and its range. */
typedef struct cs__replay_part {
    char *topic;
    int partition;
    bool selected;       /* in the replay (--partitions, or all) */
    int64_t lo, hi;      /* watermarks when the job started */
    int64_t from_off;    /* --from-offset; -1: not given */
    int64_t to_off;      /* --to-offset; -1: not given */
    int64_t from_ts_off; /* first offset at or after --from (hi: none); -1: not asked */
    int64_t to_ts_off;   /* first offset at or after --to (hi: none); -1: not asked */
    int64_t start, end;  /* the range: [start, end) */
    int64_t next;        /* the position stored for the replay's group (resume), else start */
} cs__replay_part_t;

/* What the options ask for (borrowed strings; NULL or "": not given). */
typedef struct cs__replay_spec {
    const char *brokers, *kafka_props;
    char **topics;
    int ntopics;
    const char *partitions;  /* "0,2" or "topic:p,..." */
    const char *from_offset; /* "123" or "topic:p=123,..." */
    const char *to_offset;
    int64_t from_ms, to_ms; /* -1: not given */
} cs__replay_spec_t;

/* 2026-11-01, 2026-11-01T00:00Z, 2026-11-01T00:00:00.5+01:00 (no zone: UTC); -1 if not. */
int cs__replay_parse_time(const char *s, int64_t *ms);
/* Marks the partitions spec names (NULL or "": all); -1 with err naming an unknown one. */
int cs__replay_select(cs__replay_part_t *parts, int n, const char *spec, cs_err_t *err);
/* Sets from_off (to: to_off) of the partitions spec names (one number: all). */
int cs__replay_offsets(cs__replay_part_t *parts, int n, const char *spec, bool to, cs_err_t *err);
/* Computes [start, end) of each selected partition; -1 with err when --from-offset > --to-offset.
 */
int cs__replay_ranges(cs__replay_part_t *parts, int n, cs_err_t *err);
/* Asks the broker: the partitions, their watermarks and time lookups, then the ranges. */
int cs__replay_resolve(const cs__replay_spec_t *spec, cs__replay_part_t **parts, int *n,
                       cs_err_t *err);
void cs__replay_parts_free(cs__replay_part_t *parts, int n);

void cs__worker_finish_stop(cs_worker_t *w);
void cs__worker_stop_now(cs_worker_t *w, int code);
/* A mode without the consumer loop, named by its word (cs-x WORD): options (the runtime's, the
 * worker's, then extra), config and the numbers read from it; NULL with *code (0 after --help, 2
 * on a bad option). */
cs_worker_t *cs__worker_configure(const cs_worker_def_t *def, const char *word,
                                  const cs_opt_t *extra, const char *usage, int argc, char **argv,
                                  int *code);
/* Its codec, the worker's init, the stages and the outbox (no Kafka consumer, no loop). */
int cs__worker_open_offline(cs_worker_t *w, cs_err_t *err);
void cs__worker_free(cs_worker_t *w);

/* ---- worker_loop.c: the consumer queue and the batch drivers ---- */

void cs__worker_flush_sync(cs_worker_t *w, bool all);
void cs__worker_flush_ready(cs_worker_t *w, bool all);
void cs__worker_drain_queue(cs_worker_t *w);
/* Takes one message or consumer event from the consumer (its queue or a test); frees it or keeps
 * it in `pending`. */
void cs__worker_handle_msg(cs_worker_t *w, cs_msg_t *m);
void cs__worker_on_consumer_io(struct ev_loop *loop, ev_io *io, int revents);
void cs__worker_on_consumer_idle(struct ev_loop *loop, ev_idle *idle, int revents);
void cs__worker_on_batch_timer(struct ev_loop *loop, ev_timer *t, int revents);

/* ---- worker_retry.c: backoff and probing ---- */

void cs__worker_set_waiting(cs_worker_t *w, const char *what);
void cs__worker_enter_backoff(cs_worker_t *w, const cs_err_t *err);
void cs__worker_attempt_failed(cs_worker_t *w, const cs_err_t *err);
void cs__worker_on_retry_timer(struct ev_loop *loop, ev_timer *t, int revents);

/* ---- worker_parts.c: partitions, pending messages, pause/resume ---- */

part_t *cs__worker_part_find(cs_worker_t *w, const char *topic, int partition);
part_t *cs__worker_part_get(cs_worker_t *w, const char *topic, int partition);
int cs__worker_nactive(const cs_worker_t *w);
void cs__worker_pending_push(cs_worker_t *w, cs_msg_t *m);
void cs__worker_pending_consume(cs_worker_t *w, int n);
int cs__worker_pending_drop(cs_worker_t *w, bool (*drop)(const part_t *p, const void *ctx),
                            const void *ctx);
void cs__worker_pause_all(cs_worker_t *w);
void cs__worker_resume_ready(cs_worker_t *w);
int cs__worker_settle_offsets(cs_worker_t *w, cs_err_t *err);
void cs__worker_after_fence(cs_worker_t *w);

/* ---- worker_rebalance.c: the consumer's rebalance callbacks ---- */

void cs__worker_on_assign(void *ud, cs_tp_t *tps, int n);
void cs__worker_on_revoke(void *ud, const cs_tp_t *tps, int n, bool lost);

/* ---- worker_offsets.c: the runtime's SQL ---- */

const char *cs__worker_dsn_of(cs_worker_t *w);
int cs__worker_db_ensure(cs_worker_t *w, cs_err_t *err);
void cs__worker_db_rollback(cs_worker_t *w);
int cs__worker_load_offsets(cs_worker_t *w, part_t **ps, int n, cs_err_t *err);
extern const char cs__worker_forget_sql[];
int cs__worker_dedupe_items(cs_worker_t *w, stage_t *s, cs_err_t *err);
int cs__worker_precheck_items(cs_worker_t *w, stage_t *s, cs_err_t *err);
/* True when err is the committer's ledger insert meeting an id applied since the pre-check. */
bool cs__worker_ledger_conflict(const cs_err_t *err);

/* ---- worker_items.c: a batch's events ---- */

void cs__worker_item_dead(stage_t *s, item_t *it, const char *cls, const cs_err_t *err);
void cs__worker_decode_items(cs_worker_t *w, stage_t *s, int base, int n);
void cs__worker_decode_more(cs_worker_t *w, stage_t *s, int base, int n);
int cs__worker_run_handlers(cs_worker_t *w, stage_t *s, cs_err_t *err);
int64_t cs__worker_part_expected(const part_t *p);
void cs__worker_stage_parts(cs_worker_t *w, stage_t *s);
void cs__worker_stage_mark(cs_worker_t *w, const stage_t *s);
void cs__worker_build_dead_letters(cs_worker_t *w, stage_t *s);
void cs__worker_log_dead_letters(const stage_t *s);
void cs__worker_tail_params(cs_worker_t *w, stage_t *s);

/* ---- worker_txn.c: the batch transaction ---- */

int cs__worker_apply_batch(cs_worker_t *w, stage_t *s, int n, bool isolate);
int cs__worker_apply_isolating(cs_worker_t *w, stage_t *s, int n, bool isolate, cs_err_t *err);
void cs__worker_batch_committed(cs_worker_t *w, stage_t *s);
int cs__worker_txn_commit(cs__worker_job_t *job);

/* ---- worker_committer.c: the committer thread ---- */

/* Starts the thread; it wakes done_async on loop whenever a job is done. NULL with err on failure.
 */
cs__worker_committer_t *cs__worker_committer_start(struct ev_loop *loop, ev_async *done_async,
                                                   cs_err_t *err);
/* Hands the thread a job; it must be idle (the last job taken back). The job is borrowed. */
void cs__worker_committer_submit(cs__worker_committer_t *c, cs__worker_job_t *job);
/* Blocks until the job submitted is done and returns it. */
cs__worker_job_t *cs__worker_committer_wait(cs__worker_committer_t *c);
/* Ends the thread and frees c (NULL: nothing); no job may be out. */
void cs__worker_committer_stop(cs__worker_committer_t *c);

/* ---- worker_pipeline.c: the loop's side of the pipeline ---- */

void cs__worker_discard_ready(cs_worker_t *w);
stage_t *cs__worker_pipe_join(cs_worker_t *w);
void cs__worker_pipe_wait(cs_worker_t *w);
void cs__worker_handover(cs_worker_t *w, stage_t *s);
void cs__worker_prepare(cs_worker_t *w, int n);
void cs__worker_read_ahead(cs_worker_t *w);
bool cs__worker_reads_ahead(const cs_worker_t *w);
stage_t *cs__worker_sync_stage(cs_worker_t *w);
int cs__worker_next_batch_len(cs_worker_t *w, int base, bool *full);
void cs__worker_discard_ahead(cs_worker_t *w);
void cs__worker_pipe_settle(cs_worker_t *w);
void cs__worker_on_committed(struct ev_loop *loop, ev_async *a, int revents);

/* ---- worker_metrics.c: metrics and health ---- */

void cs__worker_count_batch(cs_worker_t *w, const stage_t *s);
void cs__worker_kafka_commit(cs_worker_t *w, part_t **ps, int n);
void cs__worker_part_forget(cs_worker_t *w, part_t *p);
void cs__worker_on_wm_timer(struct ev_loop *loop, ev_timer *t, int revents);
void cs__worker_on_drain_timer(struct ev_loop *loop, ev_timer *t, int revents);
int cs__worker_on_http(void *ud, const char *path, cs_buf_t *body, const char **ctype);
void cs__worker_metrics_init(cs_worker_t *w);

/* ---- worker_outbox.c: the transactional outbox ---- */

/* The worker's table definitions followed by outbox_events; the caller frees the array. */
cs_table_def_t *cs__worker_outbox_tables(const cs_worker_def_t *def, int ntables);
/* After stages_init and read_config: the emit context on both stages' batches (w->outbox). */
int cs__worker_outbox_new(cs_worker_t *w, cs_err_t *err);
/* Registers the outbox metrics (every worker) and, with an outbox, their collect hook. */
void cs__worker_outbox_metrics(cs_worker_t *w);
/* Starts the relay thread (no outbox: nothing). */
int cs__worker_outbox_start(cs_worker_t *w, cs_err_t *err);
/* Wakes the relay: a batch with derived events committed. */
void cs__worker_outbox_kick(cs_worker_t *w);
/* Whether stage s holds derived events. */
bool cs__worker_outbox_rows(const cs_worker_t *w, const stage_t *s);
/* Relays what is pending (up to the shutdown timeout) and ends the thread. */
void cs__worker_outbox_stop(cs_worker_t *w);
/* Stops the relay if it runs and frees the outbox; accepts a worker without one. */
void cs__worker_outbox_destroy(cs_worker_t *w);

/* ---- worker_redrive.c: dead-letter re-drive, `<worker> redrive` ---- */

int cs__worker_redrive_main(const cs_worker_def_t *def, int argc, char **argv);
/* Which dead letters: the options' values (borrowed), ids from --id. */
typedef struct cs__worker_redrive_filter {
    const char *error_class, *topic, *event_type, *since, *until;
    int64_t *ids; /* --id, owned */
    int nids;
    long long limit, max_attempts;
    bool force;
} cs__worker_redrive_filter_t;
/* --id's list N[,M...] (each > 0) into a new array; -1 with a FATAL err naming --id. */
int cs__worker_redrive_parse_ids(const char *s, int64_t **ids, int *n, cs_err_t *err);
/* Parses ids (NULL: none) into f and checks the options together; -1 with err naming one. */
int cs__worker_redrive_check(cs__worker_redrive_filter_t *f, const char *ids, cs_err_t *err);
/* The selection's SQL into sql; values[0..3) are the caller's, the filters' are set from 3 on
 * (ids holds --id's array text). Returns the number of parameters. */
int cs__worker_redrive_select_sql(const cs__worker_redrive_filter_t *f, cs_buf_t *sql,
                                  cs_buf_t *ids, const char **values);
/* After BEGIN (synchronous path): locks the stage's rows; those it cannot take are set aside. */
int cs__worker_redrive_lock(cs_worker_t *w, stage_t *s, cs_err_t *err);
/* In the transaction, instead of dead letters and offsets: each row's outcome. */
int cs__worker_redrive_settle(cs__worker_redrive_t *r, cs_db_t *db, const stage_t *s,
                              cs_err_t *err);

#endif

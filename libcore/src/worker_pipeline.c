/*
 * libcore/src/worker_pipeline.c
 *      The loop's side of the pipeline: prepare, hand over, complete.
 *
 * Two stages alternate: while the committer commits one, the loop prepares the other (decode,
 * pre-check, handlers, dead letters, the tail's parameters). When the committer is done the loop
 * completes the batch (accounting, Kafka commit, the `committed` hook) or, after a failure,
 * handles it as the synchronous path would. Loop thread only.
 */
#include <stdlib.h>
#include <time.h>

#include "worker_int.h"

static double real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The age (ms) of the oldest of pending[base..base+n) when its batch is prepared; -1: none. */
static double oldest_age_ms(const cs_worker_t *w, int base, int n)
{
    int64_t oldest = -1;
    for (int i = base; i < base + n; i++) {
        int64_t ts = w->pending[i]->timestamp_ms;
        if (ts > 0 && (oldest < 0 || ts < oldest))
            oldest = ts;
    }
    return oldest > 0 ? real_ms() - (double)oldest : -1;
}

/*
 * Debug: where a pipelined batch's time went, from its oldest event's age when preparing began
 * (Kafka delivery, then waiting in `pending`) through preparing, waiting for the committer, the
 * transaction, and the hop back to the loop.
 */
static void log_timing(const stage_t *s)
{
    double prep = s->t_phase[0] + s->t_phase[1] + s->t_phase[2];
    cs_log_debug("batch timing", CS_LI("events", s->n), CS_LD("age_at_prepare_ms", s->age0_ms),
                 CS_LD("prepare_s", prep), CS_LD("ready_wait_s", s->t_hand - s->t0 - prep),
                 CS_LD("commit_s", s->t_done - s->t_hand),
                 CS_LD("to_loop_s", mono_s() - s->t_done));
}

static stage_t *free_stage(cs_worker_t *w)
{
    for (int i = 0; i < w->nstages; i++) {
        stage_t *s = &w->st[i];
        if (s != w->inflight && s != w->ready && s != w->ahead)
            return s;
    }
    return NULL; /* not reached: the callers leave a stage free */
}

/* Drops the batch decoded ahead (the worker's read for it is left to batch_begin or forget). */
void cs__worker_discard_ahead(cs_worker_t *w)
{
    w->ahead = NULL;
    w->ahead_full = false;
}

/* Drops the prepared batch, the one decoded after it, and whatever handlers derived from them.
 * Nothing may be in flight. */
void cs__worker_discard_ready(cs_worker_t *w)
{
    bool had = w->ready || w->ahead;
    cs__worker_discard_ahead(w);
    if (!w->ready) {
        if (had && w->def->forget)
            w->def->forget(w->ud);
        return;
    }
    cs_batch_clear(w->ready->batch);
    w->ready = NULL;
    if (w->def->forget)
        w->def->forget(w->ud);
}

/* Blocks until the committer has finished the batch in flight; returns it (NULL: none). */
stage_t *cs__worker_pipe_join(cs_worker_t *w)
{
    if (!w->inflight)
        return NULL;
    stage_t *s = cs__worker_committer_wait(w->committer)->stage;
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
void cs__worker_pipe_wait(cs_worker_t *w)
{
    stage_t *s = cs__worker_pipe_join(w);
    if (!s)
        return;
    w->inflight_done = s;
    if (s->job.rc == APPLY_OK) {
        if (cs_log_level_ <= CS_LOG_DEBUG)
            log_timing(s);
        cs__worker_batch_committed(w, s);
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
    cs__worker_discard_ahead(w);
    if (w->def->forget)
        w->def->forget(w->ud);
    cs__worker_set_waiting(w, s->job.waiting);
    switch (s->job.rc) {
    case APPLY_FENCED:
        cs__worker_stage_mark(w, s);
        cs__worker_after_fence(w);
        w->attempt = 0;
        break;
    case APPLY_REDO:
        w->precheck_left = PRECHECK_BATCHES;
        cs_log_info("a pipelined batch met an event id applied or a learner erased after its "
                    "pre-check; redoing it in one transaction",
                    CS_LI("events", s->n));
        cs__worker_apply_batch(w, s, s->n, false);
        break;
    default:
        if (s->job.err.kind == CS_ERR_PERMANENT) {
            cs_log_warn("batch failed on an event's rows; isolating it",
                        CS_LS("reason", s->job.err.msg), CS_LS("sqlstate", s->job.err.sqlstate),
                        CS_LI("events", s->n));
            cs__worker_apply_batch(w, s, s->n, true);
        } else {
            cs_err_t err = s->job.err;
            cs__worker_attempt_failed(w, &err);
        }
        break;
    }
}

/* Hands a prepared batch to the committer (which must be idle). */
void cs__worker_handover(cs_worker_t *w, stage_t *s)
{
    cs_err_t err;
    if (cs__worker_db_ensure(w, &err) < 0) {
        cs__worker_discard_ready(w);
        cs__worker_attempt_failed(w, &err);
        return;
    }
    w->ready = NULL;
    s->t_hand = mono_s();
    for (int k = 0; k < s->nbparts; k++)
        s->bparts[k]->flight_next = s->blast[k] + 1;
    cs__worker_set_waiting(w, "postgresql");
    w->inflight = s;
    s->job = (cs__worker_job_t){.stage = s,
                                .db = w->db,
                                .dlq = w->dlq,
                                .group = w->group,
                                .scope = w->scope,
                                .replay_job = w->replay_job,
                                .dry_run = w->dry_run,
                                .dlq_timeout_ms = (int)w->dlq_timeout_ms,
                                .commit_pipeline = w->commit_pipeline,
                                .rc = APPLY_FAILED};
    cs__worker_committer_submit(w->committer, &s->job);
}

/* Gives s a batch buffer when it has none, from a stage neither in flight nor prepared. */
static void stage_batch(cs_worker_t *w, stage_t *s)
{
    for (int i = 0; i < w->nstages && !s->batch; i++) {
        stage_t *t = &w->st[i];
        if (t != s && t != w->inflight && t != w->ready && t->batch) {
            s->batch = t->batch; /* a committed batch's rows, or none */
            t->batch = NULL;
            cs_batch_clear(s->batch);
        }
    }
}

/* The stage of the synchronous path (nothing in flight or prepared), with its batch buffer. */
stage_t *cs__worker_sync_stage(cs_worker_t *w)
{
    cs__worker_discard_ahead(w); /* st[0] may hold it */
    stage_batch(w, &w->st[0]);
    return &w->st[0];
}

/* Starts decoding pending[base..) into s, a free stage. */
static void stage_start(cs_worker_t *w, stage_t *s, int base, int n)
{
    s->t0 = mono_s();
    cs_arena_reset(s->arena);
    if (s->batch)
        cs_batch_clear(s->batch);
    memset(s->t_phase, 0, sizeof s->t_phase);
    s->age0_ms = cs_log_level_ <= CS_LOG_DEBUG ? oldest_age_ms(w, base, n) : -1;
    s->n = 0;
    s->ndead = 0;
}

bool cs__worker_reads_ahead(const cs_worker_t *w)
{
    return w->read_ahead && w->pipeline && !w->redrive;
}

/* Messages the read-ahead decodes and hands to batch_read at a time (or the batch's rest). */
#define AHEAD_CHUNK_DIV 4

/*
 * Read-ahead: while a batch is in flight, decodes what has arrived of the next batch to prepare
 * (after the prepared one, if any) into the free stage, w->ahead, a chunk at a time, and hands
 * each chunk's events to def->batch_read. cs__worker_prepare takes the stage as it is and
 * decodes the rest.
 */
void cs__worker_read_ahead(cs_worker_t *w)
{
    if (!cs__worker_reads_ahead(w) || !w->inflight || w->backoff || w->attempt > 0 || w->closed ||
        w->stopping || w->exit_code)
        return;
    int base = w->inflight->n + (w->ready ? w->ready->n : 0);
    stage_t *s = w->ahead;
    int have = s ? s->n : 0;
    int chunk = w->batch_size / AHEAD_CHUNK_DIV > 0 ? w->batch_size / AHEAD_CHUNK_DIV : 1;
    int avail = w->npending - base;
    /* Cheap first (this runs after every round of polling): a chunk more, or the batch's end.
     * A batch cut short by batch-bytes is read ahead only in chunks: prepare reads the rest. */
    if (w->ahead_full || (avail - have < chunk && avail < w->batch_size))
        return;
    bool full;
    int n = cs__worker_next_batch_len(w, base, &full);
    if (s && (s->n > n || s->items[0].msg != w->pending[base])) {
        cs__worker_discard_ahead(w); /* not reached: batches are cut from base */
        s = NULL;
        have = 0;
    }
    if (n <= have || (n - have < chunk && !full))
        return;
    if (!s) {
        s = free_stage(w);
        stage_start(w, s, base, n);
        w->ahead = s;
    }
    cs__worker_decode_more(w, s, base, n);
    w->ahead_full = full;
    const cs_event_t **evs = cs_arena_alloc(s->arena, (size_t)(n - have + 1) * sizeof *evs);
    int k = 0;
    for (int i = have; i < n; i++)
        if (s->items[i].state == IT_DECODED)
            evs[k++] = &s->items[i].ev;
    if (k > 0)
        w->def->batch_read(w->ud, evs, k);
}

/*
 * Prepares the next n pending messages (after the batch in flight) into the free stage, which
 * becomes w->ready. On failure nothing is prepared and the right state is set.
 */
void cs__worker_prepare(cs_worker_t *w, int n)
{
    int base = w->inflight ? w->inflight->n : 0;
    cs_err_t err;
    cs_err_clear(&err);
    /* The batch read ahead: the first of these very messages (both were cut from the same base
     * by the same rule, and pending only grows after it). */
    stage_t *s = w->ahead;
    cs__worker_discard_ahead(w);
    if (!s || s->n > n || s->items[0].msg != w->pending[base]) {
        s = free_stage(w);
        stage_start(w, s, base, n);
    }
    double t0 = mono_s();
    cs__worker_decode_more(w, s, base, n);
    stage_batch(w, s);
    s->t_phase[0] += mono_s() - t0;
    double t = mono_s(), t2;
    cs__worker_set_waiting(w, "postgresql");
    if (cs__worker_precheck_items(w, s, &err) < 0)
        goto fail;
    s->t_phase[1] = (t2 = mono_s()) - t, t = t2;
    if (cs__worker_run_handlers(w, s, &err) < 0)
        goto fail;
    s->t_phase[2] = mono_s() - t;
    cs__worker_build_dead_letters(w, s);
    cs__worker_stage_parts(w, s);
    cs__worker_tail_params(w, s);
    w->ready = s;
    return;
fail:
    cs_batch_clear(s->batch);
    /* The batch in flight first: handler state may only be dropped once it is settled. */
    cs__worker_pipe_wait(w);
    if (w->def->forget)
        w->def->forget(w->ud);
    if (w->exit_code || w->backoff)
        return;
    cs__worker_attempt_failed(w, &err);
}

/* Waits for the batch in flight and commits the prepared one too (revocation). */
void cs__worker_pipe_settle(cs_worker_t *w)
{
    cs__worker_pipe_wait(w);
    if (w->ready && !w->backoff && w->exit_code == 0) {
        cs__worker_handover(w, w->ready);
        cs__worker_pipe_wait(w);
    }
    cs__worker_discard_ready(w);
}

/* The committer is done: complete its batch, hand over the next, read on. */
void cs__worker_on_committed(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = a->data;
    if (w->closed)
        return;
    cs__worker_pipe_wait(w); /* returns at once: the batch is done (or was completed already) */
    if (w->closed)
        return;
    /* A lingering worker leaves a partial batch to the batch timer (which is armed). */
    cs__worker_flush_ready(w, !w->batch_linger || w->stopping);
    if (w->throttled && !w->closed)
        cs__worker_drain_queue(w);
}

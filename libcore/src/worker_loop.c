/*
 * libcore/src/worker_loop.c
 *      The loop's handlers for the consumer queue, and the batch drivers.
 *
 * Messages come from the consumer queue (its io-event pipe, and an idle watcher when one round
 * hit the poll budget) into `pending`; the drivers cut batches out of it: flush_sync applies them
 * one at a time on the loop (--pipeline=false, and after a failure), flush_ready keeps the
 * pipeline full (worker_pipeline.c). Both end in a stop or a drain once nothing is left. Loop
 * thread only.
 */
#include <stdlib.h>

#include "worker_int.h"

static void schedule_flush(cs_worker_t *w)
{
    if (!ev_is_active(&w->batch_timer)) {
        ev_timer_set(&w->batch_timer, (double)w->batch_ms / 1000.0, 0.);
        ev_timer_start(w->loop, &w->batch_timer);
    }
}

/* How many pending messages from base make the next batch; *full when it cannot grow. */
int cs__worker_next_batch_len(cs_worker_t *w, int base, bool *full)
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

/*
 * --drain with no partition assigned: done only once no rebalance has happened for this long. An
 * eager rebalance (roundrobin, range) revokes every member's partitions before it assigns them
 * again; a member that took that moment for the end of its work left, and when every member of
 * the group did, the rest of the stream was left to nobody (two cs-readiness members of one group
 * both stopped with most of the stream unread). A member that stays without partitions (more
 * members than partitions, or the others took them) stops after it.
 */
#define DRAIN_EMPTY_SETTLE_S 3.0

static void check_drain(cs_worker_t *w)
{
    if (!w->drain || w->stopping || !w->got_assignment || w->npending || w->backoff ||
        w->inflight || w->ready)
        return;
    double quiet = ev_now(w->loop) - w->last_rebalance_at;
    if (cs__worker_nactive(w) == 0 && quiet < DRAIN_EMPTY_SETTLE_S) {
        ev_timer_stop(w->loop, &w->drain_timer);
        ev_timer_set(&w->drain_timer, DRAIN_EMPTY_SETTLE_S - quiet + 0.01, 0.);
        ev_timer_start(w->loop, &w->drain_timer);
        return;
    }
    for (int i = 0; i < w->nparts; i++) {
        part_t *p = w->parts[i];
        if (p->active && (!p->eof || p->need_offset))
            return;
    }
    cs_log_info("drained: every assigned partition is consumed to its end",
                CS_LI("partitions", cs__worker_nactive(w)));
    w->stopping = true;
    cs__worker_finish_stop(w);
}

void cs__worker_on_drain_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    cs_worker_t *w = t->data;
    if (!w->closed)
        check_drain(w);
}

/* The synchronous driver: applies full batches (or everything pending when all). */
void cs__worker_flush_sync(cs_worker_t *w, bool all)
{
    while (w->npending > 0 && !w->backoff && w->exit_code == 0) {
        bool full;
        int n = cs__worker_next_batch_len(w, 0, &full);
        if (!all && !full)
            break;
        if (cs__worker_apply_batch(w, cs__worker_sync_stage(w), n, false) == APPLY_FAILED)
            break;
    }
    if (w->npending == 0 || w->backoff)
        ev_timer_stop(w->loop, &w->batch_timer);
    else
        schedule_flush(w);
    if (w->stopping && w->npending == 0 && !w->backoff)
        cs__worker_finish_stop(w);
    else
        check_drain(w);
}

/* Pending messages after the batch in flight and the prepared one (the one being read ahead
 * included: it is the next to cut). */
static int navail(const cs_worker_t *w)
{
    return w->npending - (w->inflight ? w->inflight->n : 0) - (w->ready ? w->ready->n : 0);
}

/* Whether the loop has taken all the batches it can hold until the committer is free: two, and
 * with read-ahead a third once it is full. */
static bool pipe_full(const cs_worker_t *w)
{
    return w->inflight && w->ready && (!cs__worker_reads_ahead(w) || w->ahead_full);
}

/*
 * The pipeline's driver: hands the prepared batch over when the committer is free, prepares the
 * next one when it is full (or, with all, whatever is pending once the committer is free).
 */
void cs__worker_flush_ready(cs_worker_t *w, bool all)
{
    if (!w->pipeline) {
        cs__worker_flush_sync(w, all);
        return;
    }
    while (!w->backoff && w->exit_code == 0 && !w->closed) {
        bool full;
        if (w->inflight) {
            if (w->ready)
                break;
            int n = cs__worker_next_batch_len(w, w->inflight->n, &full);
            if (n == 0 || !full)
                break;
            cs__worker_prepare(w, n);
            continue;
        }
        if (w->ready) {
            cs__worker_handover(w, w->ready);
            continue;
        }
        int n = cs__worker_next_batch_len(w, 0, &full);
        if (n == 0 || (!all && !full))
            break;
        if (w->attempt > 0) /* retry after a failure: synchronous */
            cs__worker_apply_batch(w, cs__worker_sync_stage(w), n, false);
        else
            cs__worker_prepare(w, n);
    }
    cs__worker_read_ahead(w);
    if (navail(w) == 0 || w->backoff)
        ev_timer_stop(w->loop, &w->batch_timer);
    else
        schedule_flush(w);
    if (w->stopping && w->npending == 0 && !w->inflight && !w->backoff)
        cs__worker_finish_stop(w);
    else
        check_drain(w);
}

/* ---- consumer events ---- */

void cs__worker_handle_msg(cs_worker_t *w, cs_msg_t *m)
{
    if (m->event == CS_MSG_EOF) {
        /* At its end once everything before the end was taken: not when the stop dropped some
         * (recv_pos stays before them, and the end event would still be at or after it). */
        part_t *p = cs__worker_part_find(w, m->topic, m->partition);
        if (p && p->active && !p->stop_dropped && (p->recv_pos < 0 || m->offset >= p->recv_pos))
            p->eof = true;
        cs_consumer_msg_free(m);
        check_drain(w);
        return;
    }
    if (m->event == CS_MSG_ERROR) {
        if (m->err.kind == CS_ERR_FATAL) {
            cs_log_error("kafka consumer failed; stopping", CS_LS("reason", m->err.msg));
            cs__worker_stop_now(w, 1);
        } else {
            cs_log_warn("kafka consumer error", CS_LS("reason", m->err.msg),
                        CS_LS("topic", m->topic), CS_LI("partition", m->partition));
        }
        cs_consumer_msg_free(m);
        return;
    }
    part_t *p = cs__worker_part_find(w, m->topic, m->partition);
    if (!p || !p->active || p->need_offset || w->stopping) {
        if (p && p->active && !p->need_offset && w->stopping &&
            (p->recv_pos < 0 || m->offset >= p->recv_pos)) {
            p->stop_dropped = true; /* not taken: the partition is not at its end */
            p->eof = false;
        }
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
    if (!w->got_message) { /* start-up: group join, offsets, the first fetch */
        w->got_message = true;
        cs_log_info("first event received", CS_LD("after_start_s", mono_s() - w->started_at));
    }
    const char *lv[] = {m->topic};
    cs_metric_inc(w->m_received, lv, 1);
    cs__worker_pending_push(w, m);
    if (w->backoff)
        return;
    if (navail(w) >= w->batch_size || (long long)w->pending_bytes >= w->batch_bytes)
        cs__worker_flush_ready(w, false);
    else
        schedule_flush(w);
}

#define POLL_BUDGET 10000

void cs__worker_drain_queue(cs_worker_t *w)
{
    cs_msg_t *m;
    int k = 0;
    w->throttled = false;
    while (!w->closed) {
        if (pipe_full(w)) {
            /* Two batches taken (three with read-ahead): read on into the consumer's reservoir of
             * compact copies (so librdkafka's small queue keeps fetching) until the committer is
             * free (on_committed takes the rest). A revocation served in there settles them. */
            cs_consumer_prefetch(w->consumer);
            if (!pipe_full(w) && !w->closed)
                continue;
            w->throttled = true;
            ev_idle_stop(w->loop, &w->consumer_idle);
            return;
        }
        if ((m = cs_consumer_poll(w->consumer)) == NULL)
            break;
        cs__worker_handle_msg(w, m);
        if (++k >= POLL_BUDGET) {
            /* Let timers and HTTP run; the idle watcher comes back for the rest. */
            ev_idle_start(w->loop, &w->consumer_idle);
            cs__worker_read_ahead(w);
            return;
        }
    }
    cs__worker_read_ahead(w); /* what arrived, while the loop waits for more */
    ev_idle_stop(w->loop, &w->consumer_idle);
    /* The queue is empty: with the committer free, what is pending goes now (group commit;
     * batch-ms only bounds the wait while a batch is in flight), unless the worker lingers. */
    if (w->pipeline && !w->batch_linger && !w->closed && !w->inflight && !w->backoff && w->npending)
        cs__worker_flush_ready(w, true);
}

void cs__worker_on_consumer_io(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = io->data;
    cs_consumer_ack_fd(w->consumer);
    cs__worker_drain_queue(w);
}

void cs__worker_on_consumer_idle(struct ev_loop *loop, ev_idle *idle, int revents)
{
    (void)loop, (void)revents;
    cs__worker_drain_queue(idle->data);
}

void cs__worker_on_batch_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs__worker_flush_ready(t->data, true);
}

/*
 * libcore/src/worker_rebalance.c
 *      The consumer's rebalance callbacks: partitions assigned and revoked.
 *
 * consumer.c calls these from inside a consumer poll, on the loop thread. An assignment reads the
 * partitions' offsets from PostgreSQL (the source of truth) and starts them there (consumer.c
 * then commits those offsets to Kafka too, for lag tools); a revocation
 * commits what is in flight first (or, when the partitions are lost, commits nothing more for
 * them) and drops what is pending for them. Both wait for the committer, which owns the main
 * connection while a batch is in flight.
 */
#include <stdlib.h>

#include "worker_int.h"

/* ---- rebalance ---- */

void cs__worker_on_assign(void *ud, cs_tp_t *tps, int n)
{
    cs_worker_t *w = ud;
    part_t **ps = cs_mem_calloc((size_t)n, sizeof *ps);
    cs_err_t err;
    /* The main connection reads the offsets: the committer must be done with it. */
    cs__worker_pipe_wait(w);
    w->got_assignment = true;
    w->last_rebalance_at = ev_now(w->loop);
    for (int i = 0; i < n; i++) {
        part_t *p = cs__worker_part_get(w, tps[i].topic, tps[i].partition);
        p->active = true;
        p->eof = false;
        p->need_offset = false;
        p->last_ts_ms = -1; /* another member may have committed it meanwhile */
        p->lag_seen_at = 0;
        ps[i] = p;
    }
    static const char *const kind[] = {"assign"};
    cs_metric_inc(w->m_rebalances, kind, 1);
    if (cs__worker_load_offsets(w, ps, n, &err) == 0) {
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
            cs__worker_enter_backoff(w, &err);
    }
    cs_metric_set(w->m_assigned, NULL, cs__worker_nactive(w));
    free(ps);
}

static bool drop_revoked(const part_t *p, const void *ctx)
{
    (void)ctx;
    return !p->active;
}

void cs__worker_on_revoke(void *ud, const cs_tp_t *tps, int n, bool lost)
{
    cs_worker_t *w = ud;
    part_t **ps = cs_mem_calloc((size_t)n, sizeof *ps);
    int k = 0;
    for (int i = 0; i < n; i++) {
        part_t *p = cs__worker_part_find(w, tps[i].topic, tps[i].partition);
        if (p && p->active)
            ps[k++] = p;
    }
    if (lost) {
        /* Another member may own them already: commit nothing more for them (the batch in
         * flight finishes; its compare-and-set fences it if they moved). */
        cs__worker_pipe_wait(w);
        cs__worker_discard_ready(w);
        for (int i = 0; i < k; i++)
            ps[i]->active = false;
        int d = cs__worker_pending_drop(w, drop_revoked, NULL);
        cs_log_warn("partitions lost; their uncommitted events are left to the new owner",
                    CS_LI("partitions", k), CS_LI("dropped", d));
    } else {
        /* Finish and commit the in-flight batch before the partitions go. */
        cs__worker_pipe_settle(w);
        if (w->npending && !w->backoff)
            cs__worker_flush_sync(w, true);
        for (int i = 0; i < k; i++)
            ps[i]->active = false;
        int d = cs__worker_pending_drop(w, drop_revoked, NULL);
        if (d)
            cs_log_warn("partitions revoked during an outage; their uncommitted events are left "
                        "to the new owner",
                        CS_LI("dropped", d), CS_LS("waiting_for", w->waiting_for));
    }
    w->last_rebalance_at = ev_now(w->loop);
    const char *kind[] = {lost ? "lost" : "revoke"};
    cs_metric_inc(w->m_rebalances, kind, 1);
    for (int i = 0; i < k; i++) {
        cs__worker_part_forget(w, ps[i]);
        cs_log_info("partition revoked", CS_LS("topic", ps[i]->topic),
                    CS_LI("partition", ps[i]->partition), CS_LI("offset", ps[i]->committed),
                    CS_LI("lost", lost));
    }
    cs_metric_set(w->m_assigned, NULL, cs__worker_nactive(w));
    free(ps);
    /* The partitions may come back later with rows another member wrote meanwhile. */
    if (w->def->forget)
        w->def->forget(w->ud);
}

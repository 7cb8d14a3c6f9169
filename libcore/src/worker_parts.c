/*
 * libcore/src/worker_parts.c
 *      Partitions, pending messages, pause/resume and seeks.
 *
 * The worker keeps one part_t per partition it was ever assigned (active or not) and the messages
 * not yet committed in `pending`, in offset order per partition. This file moves them: it finds
 * and adds partitions, queues and drops pending messages, pauses and resumes fetching, seeks back
 * to the stored offset, and recovers from a fence (another consumer moved our offsets). Loop
 * thread only.
 */
#include <stdlib.h>

#include "worker_int.h"

/* ---- partitions ---- */

part_t *cs__worker_part_find(cs_worker_t *w, const char *topic, int partition)
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

part_t *cs__worker_part_get(cs_worker_t *w, const char *topic, int partition)
{
    part_t *p = cs__worker_part_find(w, topic, partition);
    if (p)
        return p;
    if (w->nparts == w->capparts) {
        w->capparts = w->capparts ? 2 * w->capparts : 16;
        w->parts = cs_mem_realloc(w->parts, (size_t)w->capparts * sizeof *w->parts);
    }
    p = cs_mem_calloc(1, sizeof *p);
    p->topic = cs_mem_strdup(topic);
    p->partition = partition;
    snprintf(p->pstr, sizeof p->pstr, "%d", partition);
    p->committed = p->recv_pos = p->flight_next = -1;
    p->last_ts_ms = p->head_ts_ms = -1;
    w->parts[w->nparts++] = p;
    return p;
}

int cs__worker_nactive(const cs_worker_t *w)
{
    int n = 0;
    for (int i = 0; i < w->nparts; i++)
        n += w->parts[i]->active;
    return n;
}

/* ---- pending messages ---- */

void cs__worker_pending_push(cs_worker_t *w, cs_msg_t *m)
{
    if (w->npending == w->cappending) {
        w->cappending = w->cappending ? 2 * w->cappending : 1024;
        w->pending = cs_mem_realloc(w->pending, (size_t)w->cappending * sizeof *w->pending);
    }
    w->pending[w->npending++] = m;
    w->pending_bytes += m->len;
}

/* Frees the first n pending messages. */
void cs__worker_pending_consume(cs_worker_t *w, int n)
{
    for (int i = 0; i < n; i++) {
        w->pending_bytes -= w->pending[i]->len;
        cs_consumer_msg_free(w->pending[i]);
    }
    memmove(w->pending, w->pending + n, (size_t)(w->npending - n) * sizeof *w->pending);
    w->npending -= n;
}

/* Drops pending messages of partitions for which drop(part) is true. */
int cs__worker_pending_drop(cs_worker_t *w, bool (*drop)(const part_t *p, const void *ctx),
                            const void *ctx)
{
    int j = 0, dropped = 0;
    for (int i = 0; i < w->npending; i++) {
        cs_msg_t *m = w->pending[i];
        part_t *p = cs__worker_part_find(w, m->topic, m->partition);
        if (!p || drop(p, ctx)) {
            w->pending_bytes -= m->len;
            cs_consumer_msg_free(m);
            dropped++;
        } else {
            w->pending[j++] = m;
        }
    }
    w->npending = j;
    if (dropped)
        cs__worker_discard_ahead(w); /* it may name dropped messages */
    return dropped;
}

/* ---- pause / resume ---- */

static int collect_tps(cs_worker_t *w, cs_tp_t **out, bool (*pick)(const part_t *p))
{
    cs_tp_t *tps = cs_mem_calloc((size_t)(w->nparts ? w->nparts : 1), sizeof *tps);
    int n = 0;
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

void cs__worker_pause_all(cs_worker_t *w)
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

void cs__worker_resume_ready(cs_worker_t *w)
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
 * Moves the fetch position of partitions whose pending messages were dropped back to the first
 * event not applied: the stored offset, or, when PostgreSQL has no row yet, the beginning.
 */
static void reposition(cs_worker_t *w, part_t **ps, int n)
{
    cs_tp_t *tps = cs_mem_calloc((size_t)(n ? n : 1), sizeof *tps);
    int ns = 0;
    cs_err_t err;
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
int cs__worker_settle_offsets(cs_worker_t *w, cs_err_t *err)
{
    part_t **ps = cs_mem_calloc((size_t)(w->nparts ? w->nparts : 1), sizeof *ps);
    int n = 0, rc = 0;
    for (int i = 0; i < w->nparts; i++)
        if (w->parts[i]->active && w->parts[i]->need_offset)
            ps[n++] = w->parts[i];
    if (n == 0)
        goto out;
    if (cs__worker_load_offsets(w, ps, n, err) < 0) {
        rc = -1;
        goto out;
    }
    cs__worker_pending_drop(w, drop_need_offset, NULL);
    for (int i = 0; i < n; i++) {
        ps[i]->need_offset = false;
        cs_log_info("partition offset loaded", CS_LS("topic", ps[i]->topic),
                    CS_LI("partition", ps[i]->partition), CS_LI("offset", ps[i]->committed));
    }
    reposition(w, ps, n);
    cs__worker_kafka_commit(w, ps, n); /* Kafka follows the offsets just loaded */
    cs_err_t e;
    if (!w->backoff) {
        /* resume the partitions that were paused for want of an offset */
        cs_tp_t *rt = cs_mem_calloc((size_t)n, sizeof *rt);
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

static bool drop_fenced(const part_t *p, const void *ctx)
{
    (void)ctx;
    return p->b_in;
}

/* After a fenced batch (its partitions are marked b_in). Nothing may be in flight. */
void cs__worker_after_fence(cs_worker_t *w)
{
    part_t **ps = cs_mem_calloc((size_t)(w->nparts ? w->nparts : 1), sizeof *ps);
    int n = 0;
    cs_err_t err;
    for (int i = 0; i < w->nparts; i++)
        if (w->parts[i]->b_in)
            ps[n++] = w->parts[i];
    cs_metric_inc(w->m_fenced, NULL, 1);
    cs_log_warn("stored offsets moved under us (another consumer or an operator "
                "committed these partitions); reloading them",
                CS_LI("partitions", n));
    cs__worker_pending_drop(w, drop_fenced, NULL);
    if (cs__worker_load_offsets(w, ps, n, &err) < 0) {
        /* Could not read them: like partitions assigned while PostgreSQL is down, they stay
         * paused until cs__worker_settle_offsets() can load their offsets. */
        cs_tp_t *tps = cs_mem_calloc((size_t)(n ? n : 1), sizeof *tps);
        for (int i = 0; i < n; i++) {
            ps[i]->need_offset = true;
            tps[i] = (cs_tp_t){ps[i]->topic, ps[i]->partition, 0, false};
        }
        if (cs_consumer_pause(w->consumer, tps, n, &err) < 0)
            cs_log_warn("pausing partitions failed", CS_LS("error", err.msg));
        free(tps);
    } else {
        reposition(w, ps, n);
        for (int i = 0; i < n; i++)
            ps[i]->last_ts_ms = -1; /* committed by someone else since */
        cs__worker_kafka_commit(w, ps, n);
    }
    free(ps);
}

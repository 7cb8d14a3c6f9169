/*
 * libcore/src/worker_metrics.c
 *      The runtime's metrics, lag and health endpoints.
 *
 * Defines every cs_* metric the runtime exports, counts committed batches by event type and
 * outcome, computes each assigned partition's stored offset, high watermark and lag (messages
 * and seconds) when /metrics is scraped, runs the upkeep timer (background watermark refreshes,
 * group membership while holding back, Kafka's copy of the stored offsets), and answers
 * /healthz and /readyz. Loop thread only.
 */
#include <stdlib.h>

#include "worker_int.h"

/* ---- counting a committed batch ---- */

void cs__worker_count_batch(cs_worker_t *w, const stage_t *s)
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

/* ---- Kafka's copy of the stored offsets ---- */

/*
 * Commits the stored offsets of ps to Kafka, for lag tools (kafka-consumer-groups, Burrow,
 * KMinion) that read Kafka's committed offsets: asynchronously, and a failure costs nothing but
 * a stale figure there until the next commit. Partitions without a stored offset are skipped.
 */
void cs__worker_kafka_commit(cs_worker_t *w, part_t **ps, int n)
{
    cs_tp_t *tps = cs_mem_calloc((size_t)(n ? n : 1), sizeof *tps);
    cs_err_t err;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (ps[i]->active && !ps[i]->need_offset && ps[i]->committed >= 0)
            tps[k++] = (cs_tp_t){ps[i]->topic, ps[i]->partition, ps[i]->committed, false};
    if (k && cs_consumer_commit(w->consumer, tps, k, &err) < 0)
        cs_log_debug("kafka commit failed", CS_LS("error", err.msg));
    free(tps);
}

/* A partition leaves this worker (revoked or lost): its series go, and what lag knew of it. */
void cs__worker_part_forget(cs_worker_t *w, part_t *p)
{
    const char *lv[] = {p->topic, p->pstr};
    cs_metric_remove(w->m_lag_msgs, lv);
    cs_metric_remove(w->m_lag_secs, lv);
    cs_metric_remove(w->m_stored, lv);
    cs_metric_remove(w->m_high, lv);
    p->last_ts_ms = -1;
    p->lag_seen_at = 0;
}

/* Stored offsets are committed to Kafka again this often, whatever happened to earlier commits. */
#define KAFKA_SYNC_S 30.0

/*
 * The upkeep timer (every wm_period_ms: 5 s, or a third of max.poll.interval.ms if that is
 * shorter). It never blocks the loop, so lag stays live whatever the worker waits for:
 *   - a consumer poll, even an empty one, resets librdkafka's max.poll.interval.ms clock: without
 *     one, a worker whose topics stay quiet for that long would be taken for stuck; and while two
 *     batches are taken and the reservoir is full (a batch waiting on a lock, a slow commit),
 *     cs_consumer_keepalive polls librdkafka once, or the worker would leave the group;
 *   - the high watermarks of every assigned partition are asked for in the background: paused
 *     partitions (a database outage) and partitions whose fetchers wait for the queue to drain
 *     are not fetched, so fetches alone would leave them stale;
 *   - every KAFKA_SYNC_S the stored offsets are committed to Kafka again: an asynchronous commit
 *     lost to a rebalance or a coordinator move would otherwise leave Kafka's lag stale until the
 *     partition's next batch, for ever on a quiet partition.
 */
void cs__worker_on_wm_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    cs_worker_t *w = t->data;
    if (w->closed)
        return;
    cs__worker_drain_queue(w);
    if (w->closed)
        return;
    cs_consumer_keepalive(w->consumer, w->wm_period_ms);
    cs_consumer_refresh_watermarks(w->consumer);
    if (ev_now(loop) >= w->kafka_sync_at) {
        w->kafka_sync_at = ev_now(loop) + KAFKA_SYNC_S;
        cs__worker_kafka_commit(w, w->parts, w->nparts);
    }
}

/* ---- lag ---- */

/* The oldest timestamp of each partition's messages held, pending first (they are older). */
static void note_head(void *ud, const cs_msg_t *m)
{
    cs_worker_t *w = ud;
    if (m->event != CS_MSG_DATA || m->timestamp_ms < 0)
        return;
    part_t *p = cs__worker_part_find(w, m->topic, m->partition);
    if (p && p->head_ts_ms < 0 && (p->committed < 0 || m->offset >= p->committed))
        p->head_ts_ms = m->timestamp_ms;
}

/*
 * Lag in seconds: the age of the oldest message not yet applied (the one at the stored offset),
 * 0 when caught up. Exact when the worker holds that message (pending, in flight, or in the
 * consumer's reservoir). When it holds none of the partition's unapplied messages (just assigned,
 * paused since before they were fetched, or still in librdkafka's queue):
 *   - the age of the last message it committed from the partition since it was assigned: an
 *     upper bound, as the oldest unapplied message was produced after it;
 *   - else the time since the worker first saw lag at this stored offset: a lower bound (that
 *     message existed then and is still not applied).
 */
static double lag_seconds(part_t *p, int64_t pos, double now)
{
    double secs;
    if (p->head_ts_ms >= 0) {
        secs = now - (double)p->head_ts_ms / 1000.0;
    } else if (p->last_ts_ms >= 0) {
        secs = now - (double)p->last_ts_ms / 1000.0;
    } else {
        if (p->lag_seen_at == 0 || p->lag_seen_pos != pos) {
            p->lag_seen_at = now;
            p->lag_seen_pos = pos;
        }
        secs = now - p->lag_seen_at;
    }
    return secs > 0 ? secs : 0;
}

static void collect(cs_metrics_t *m, void *ud)
{
    (void)m;
    cs_worker_t *w = ud;
    double now = now_s();
    for (int i = 0; i < w->nparts; i++)
        w->parts[i]->head_ts_ms = -1;
    for (int j = 0; j < w->npending; j++)
        note_head(w, w->pending[j]);
    cs_consumer_reservoir_each(w->consumer, note_head, w);
    for (int i = 0; i < w->nparts; i++) {
        part_t *p = w->parts[i];
        if (!p->active)
            continue;
        int64_t lo, hi;
        cs_consumer_watermarks(w->consumer, p->topic, p->partition, &lo, &hi);
        /* No row in PostgreSQL: the partition is read from its beginning. */
        int64_t pos = p->committed >= 0 ? p->committed : lo;
        if (hi < 0 || pos < 0)
            continue;
        int64_t lag = hi > pos ? hi - pos : 0;
        double secs = 0;
        if (lag > 0)
            secs = lag_seconds(p, pos, now);
        else
            p->lag_seen_at = 0;
        const char *lv[] = {p->topic, p->pstr};
        cs_metric_set(w->m_stored, lv, (double)pos);
        cs_metric_set(w->m_high, lv, (double)hi);
        cs_metric_set(w->m_lag_msgs, lv, (double)lag);
        cs_metric_set(w->m_lag_secs, lv, secs);
    }
    cs_metric_set(w->m_assigned, NULL, cs__worker_nactive(w));
}

/* ---- health, metrics ---- */

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

int cs__worker_on_http(void *ud, const char *path, cs_buf_t *body, const char **ctype)
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

/* The events' counters: received, consumed, applied, dead-lettered, skipped. */
static void metrics_add_events(cs_worker_t *w, cs_metrics_t *m)
{
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
}

/* The batches' histograms and counters, and the events' end-to-end latency. */
static void metrics_add_batches(cs_worker_t *w, cs_metrics_t *m)
{
    static const double size_buckets[] = {1, 10, 100, 500, 1000, 2500, 5000, 10000, 50000};
    static const double sec_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10};
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
}

/* The partitions' gauges (per assigned partition, worker_metrics.c, collect, computed when /metrics
 * is read), the rebalances and readiness. */
static void metrics_add_partitions(cs_worker_t *w, cs_metrics_t *m)
{
    w->m_stored = cs_metrics_gauge(m, "cs_partition_stored_offset",
                                   "next offset to apply, as stored in PostgreSQL (the low "
                                   "watermark while PostgreSQL has no row), per assigned partition",
                                   "topic,partition");
    w->m_high = cs_metrics_gauge(m, "cs_partition_high_watermark",
                                 "offset the partition's next message will get, per assigned "
                                 "partition",
                                 "topic,partition");
    w->m_lag_msgs = cs_metrics_gauge(m, "cs_partition_lag_messages",
                                     "messages not yet applied (high watermark minus stored "
                                     "offset), per assigned partition",
                                     "topic,partition");
    w->m_lag_secs = cs_metrics_gauge(m, "cs_partition_lag_seconds",
                                     "age of the oldest message not yet applied, 0 when caught "
                                     "up, per assigned partition",
                                     "topic,partition");
    w->m_rebalances = cs_metrics_counter(m, "cs_rebalances_total",
                                         "rebalance callbacks: partitions assigned, revoked, or "
                                         "lost (another member may own them already)",
                                         "kind");
    w->m_assigned = cs_metrics_gauge(m, "cs_partitions_assigned", "partitions assigned", NULL);
    w->m_ready = cs_metrics_gauge(m, "cs_ready", "1 when assigned and connected", NULL);
}

void cs__worker_metrics_init(cs_worker_t *w)
{
    cs_metrics_t *m = w->metrics = cs_metrics_new();
    metrics_add_events(w, m);
    metrics_add_batches(w, m);
    metrics_add_partitions(w, m);
    cs_metrics_on_collect(m, collect, w);
    cs_metric_set(w->m_assigned, NULL, 0);
    cs_metric_inc(w->m_retries, NULL, 0);
    cs_metric_inc(w->m_fenced, NULL, 0);
    static const char *const kinds[] = {"assign", "revoke", "lost"};
    for (int i = 0; i < 3; i++)
        cs_metric_inc(w->m_rebalances, &kinds[i], 0);
}

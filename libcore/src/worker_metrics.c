/*
 * libcore/src/worker_metrics.c
 *      The runtime's metrics, lag and health endpoints.
 *
 * Defines every cs_* metric the runtime exports, counts committed batches by event type and
 * outcome, computes lag per partition when /metrics is scraped (asking the leader for paused
 * partitions' watermarks every 5 s), and answers /healthz and /readyz. Loop thread only.
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

/* ---- lag, health, metrics ---- */

void cs__worker_on_wm_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    /* A consumer poll, even an empty one, resets librdkafka's max.poll.interval.ms clock: without
     * one, a worker whose topics stay quiet for that long would be taken for stuck, lose its
     * partitions and rejoin. */
    if (!w->closed)
        cs__worker_drain_queue(w);
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
    cs_metric_set(w->m_assigned, NULL, cs__worker_nactive(w));
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

void cs__worker_metrics_init(cs_worker_t *w)
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

/*
 * libcore/src/consumer.c
 *      librdkafka high-level consumer set up for offsets stored in PostgreSQL.
 *
 * The main queue is forwarded to the consumer queue (rd_kafka_poll_set_consumer), so messages,
 * rebalance callbacks, errors and logs are all served by rd_kafka_consumer_poll() on the caller's
 * loop thread. The queue writes one byte to a non-blocking pipe when it turns non-empty; the
 * caller's libev watcher on the read end wakes the loop: no busy polling, no sleeping.
 *
 * Prefetch memory is bounded (queued.min.messages, queued.max.messages.kbytes, fetch.max.bytes)
 * and messages are copied out as they are polled, so a worker stays under its RSS budget (48 MiB)
 * whatever the backlog and however many partitions it has.
 * librdkafka 2.0.2's batch consume APIs are avoided on purpose (known to misbehave across
 * rebalances); one message per rd_kafka_consumer_poll() call.
 */
#include "cs/mem.h"
#include "cs/consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cs/log.h"
#include "internal.h"

/* Prefetch defaults: see cs_consumer_new. */
#define CS_CONSUMER_QUEUED_MSGS 1000
#define CS_CONSUMER_FETCH_BYTES (256 * 1024)

/*
 * Waking the fetchers. librdkafka 2.0.2 decides whether to fetch a partition in its broker
 * thread, and a partition whose consumer queue is above queued.min.messages (or
 * queued.max.messages.kbytes) becomes "not fetchable" without a retry time: the broker thread
 * looks again only when something wakes it (an op on its queue, a fetch response, or its 1 s
 * timeout). The thresholds apply to the one consumer queue, so all partitions stop together and
 * nothing is in flight to wake them: without help the queue runs dry and the worker waits up to
 * a second. So the queue would have to hold a second of work (30,000 messages, ~50 MiB with
 * librdkafka's per-message ops and decompressed message sets) to keep the loop fed.
 *
 * Instead a small waker thread sends every partition leader a ListOffsets request (a request
 * for a broker is an op on that broker thread's queue, which wakes it and makes it decide
 * again) as soon as the queue, after being full, has drained below 90%: the fetchers stop only
 * while the queue is really full, and the queue can be small. Fetchers must run nearly all the
 * time: a fetch from the loopback broker brings one message set per partition, so a queue that
 * idles the fetchers until it is half empty (tried first) starved the worker for 14 s of a 40 s
 * drain. dry_s (logged at exit) is the time the caller found the queue empty between messages.
 */
/* A partition's high watermark as the last watermark refresh found it (cs_consumer_watermarks). */
typedef struct wm_entry {
    char *topic;
    int partition;
    int64_t hi;
} wm_entry_t;

typedef struct waker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, pending, stop;
    bool refresh;    /* cs_consumer_refresh_watermarks asked for the watermarks */
    bool fetch_wake; /* the queue thresholds are known: waker_check wakes the fetchers */
    /* what the thread's ListOffsets requests answered, under mu */
    wm_entry_t *wm;
    int nwm, capwm;
    /* poll side (the caller's thread only) */
    bool armed;        /* the queue was full since the last wake */
    int queued_min;    /* queued.min.messages */
    double queued_max; /* queued.max.messages.kbytes, in bytes */
    double avg_bytes;  /* moving average of a message's queued size */
    unsigned long long wakes;
    double dry_since; /* monotonic seconds when a poll found the queue empty; 0: not dry */
    double dry_s;     /* total time between an empty poll and the next message */
    bool took_any;    /* a message was handed out (dry time counts from then on) */
} waker_t;

typedef struct msg_copy msg_copy_t;

/*
 * The reservoir (consumer.h): a FIFO ring of message copies taken out of librdkafka's queue while
 * the caller holds back. Only the caller's thread touches it (cs_consumer_prefetch, _poll, _seek
 * and the rebalance callback, which librdkafka runs inside those).
 */
typedef struct reservoir {
    msg_copy_t **ring;
    size_t cap; /* a power of two; 0 until first used */
    size_t head, n;
    size_t bytes, bound;
    size_t peak_bytes;
} reservoir_t;

struct cs_consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int pipefd[2];
    cs_consumer_cbs_t cbs;
    bool cooperative;
    bool all_down;
    bool close_abandoned; /* destroy without leaving the group again */
    bool static_member;   /* group.instance.id is set (KIP-345) */
    bool closing;         /* cs_consumer_close has begun */
    /* Kafka commits held across a cooperative rejoin (see "Holding Kafka commits") */
    int hold_assigns;                      /* assign callbacks to come before they go again */
    double hold_until;                     /* monotonic seconds: the hold ends then anyway */
    rd_kafka_topic_partition_list_t *held; /* the latest offset of each partition held */
    waker_t wk;
    reservoir_t rv;
    double polled_at; /* monotonic seconds of the last rd_kafka_consumer_poll (keepalive) */
    /* assign mode (consumer.h): the partitions, their frozen ends, whether each reached it */
    struct fixed_tp {
        char *topic;
        int partition;
        int64_t start; /* where it starts when the callback leaves it at the beginning; -1 */
        int64_t end;
        bool ended;
    } * fixed;
    int nfixed;
    bool assign_pending;     /* the assign callback is still to run (at the first poll) */
    rd_kafka_topic_t **rkts; /* handles of the topics consumed, held from the start (topics_hold) */
    int nrkts;
};

static void reservoir_drop(cs_consumer_t *c, const rd_kafka_topic_partition_list_t *parts);
static struct fixed_tp *fixed_find(cs_consumer_t *c, const char *topic, int partition);

/* Records a partition's high watermark as a ListOffsets request answered it; under wk->mu. */
static void wm_store(waker_t *wk, const char *topic, int partition, int64_t hi)
{
    for (int i = 0; i < wk->nwm; i++) {
        if (wk->wm[i].partition == partition && strcmp(wk->wm[i].topic, topic) == 0) {
            wk->wm[i].hi = hi;
            return;
        }
    }
    if (wk->nwm == wk->capwm) {
        wk->capwm = wk->capwm ? 2 * wk->capwm : 16;
        wk->wm = cs_mem_realloc(wk->wm, (size_t)wk->capwm * sizeof *wk->wm);
    }
    wk->wm[wk->nwm++] = (wm_entry_t){cs_mem_strdup(topic), partition, hi};
}

/*
 * The waker thread: asks each leader of the assigned partitions for their end offsets, when the
 * fetchers need waking (waker_check) or the caller wants fresh watermarks
 * (cs_consumer_refresh_watermarks), and keeps the answers for cs_consumer_watermarks. The same
 * request serves both: any request wakes a broker thread, and its answer is the high watermark.
 */
static void *waker_main(void *arg)
{
    cs_consumer_t *c = arg;
    waker_t *wk = &c->wk;

    pthread_mutex_lock(&wk->mu);
    for (;;) {
        while (!wk->pending && !wk->refresh && !wk->stop)
            pthread_cond_wait(&wk->cv, &wk->mu);
        if (wk->stop)
            break;
        wk->pending = wk->refresh = false;
        pthread_mutex_unlock(&wk->mu);

        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__STATE;
        if (rd_kafka_assignment(c->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0) {
            for (int i = 0; i < parts->cnt; i++)
                parts->elems[i].offset = RD_KAFKA_OFFSET_END; /* "latest": cheap everywhere */
            /* One request per leader; waits for the answers (short: the loopback broker and
             * real brokers answer from memory; at most a second against a broker that does
             * not answer), so requests never pile up, and nobody else waits for them. */
            e = rd_kafka_offsets_for_times(c->rk, parts, 1000);
        }
        pthread_mutex_lock(&wk->mu);
        for (int i = 0; !e && parts && i < parts->cnt; i++)
            if (!parts->elems[i].err && parts->elems[i].offset >= 0)
                wm_store(wk, parts->elems[i].topic, parts->elems[i].partition,
                         parts->elems[i].offset);
        if (parts)
            rd_kafka_topic_partition_list_destroy(parts);
    }
    pthread_mutex_unlock(&wk->mu);
    return NULL;
}

static void waker_start(cs_consumer_t *c, int queued_min, int queued_max_kbytes)
{
    waker_t *wk = &c->wk;
    pthread_mutex_init(&wk->mu, NULL);
    pthread_cond_init(&wk->cv, NULL);
    wk->queued_min = queued_min;
    wk->queued_max = (double)queued_max_kbytes * 1024.0;
    wk->fetch_wake = queued_min > 0 && queued_max_kbytes > 0;
    wk->avg_bytes = 256;
    int rc = pthread_create(&wk->thread, NULL, waker_main, c);
    if (rc == 0)
        wk->started = true;
    else
        cs_log_warn("cannot start the kafka fetch waker; prefetching may stall and watermarks "
                    "come from fetches only",
                    CS_LS("reason", strerror(rc)));
}

static void waker_stop(cs_consumer_t *c)
{
    waker_t *wk = &c->wk;
    if (!wk->started)
        return;
    pthread_mutex_lock(&wk->mu);
    wk->stop = true;
    pthread_cond_signal(&wk->cv);
    pthread_mutex_unlock(&wk->mu);
    pthread_join(wk->thread, NULL);
    wk->started = false;
    pthread_cond_destroy(&wk->cv);
    pthread_mutex_destroy(&wk->mu);
    for (int i = 0; i < wk->nwm; i++)
        free(wk->wm[i].topic);
    free(wk->wm);
    wk->wm = NULL;
    wk->nwm = wk->capwm = 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Dry time: from a cs_consumer_poll that found nothing (reservoir and queue empty) to the next
 * one that found something, once a first message was handed out.
 */
static void dry_note(cs_consumer_t *c, bool took)
{
    waker_t *wk = &c->wk;
    if (!took && wk->dry_since == 0 && wk->took_any)
        wk->dry_since = mono_s();
    else if (took && wk->dry_since != 0) {
        wk->dry_s += mono_s() - wk->dry_since;
        wk->dry_since = 0;
    }
    wk->took_any |= took;
}

/*
 * Called after each rd_kafka_consumer_poll with the size of what it returned (0: the queue was
 * empty). Fills are fractions of librdkafka's thresholds (messages, or bytes estimated from the
 * average message size): armed at 95% (librdkafka stops fetching at 100%), wakes the fetchers
 * at 90% or when the queue is empty.
 */
static void waker_check(cs_consumer_t *c, size_t took_bytes)
{
    waker_t *wk = &c->wk;
    if (!wk->started || !wk->fetch_wake)
        return;
    if (took_bytes)
        wk->avg_bytes += ((double)took_bytes - wk->avg_bytes) / 64.0;
    double n = (double)rd_kafka_queue_length(c->q);
    double fill = n / wk->queued_min;
    double fill_bytes = n * wk->avg_bytes / wk->queued_max;
    if (fill_bytes > fill)
        fill = fill_bytes;
    if (fill >= 0.95) {
        wk->armed = true;
    } else if (wk->armed && (fill <= 0.9 || took_bytes == 0)) {
        wk->armed = false;
        wk->wakes++;
        pthread_mutex_lock(&wk->mu);
        wk->pending = true;
        pthread_cond_signal(&wk->cv);
        pthread_mutex_unlock(&wk->mu);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    cs_consumer_t *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        if (!c->all_down)
            cs_log_warn("waiting for kafka: all brokers are down", CS_LS("reason", reason));
        c->all_down = true;
        return;
    }
    cs_log_warn("kafka consumer error", CS_LS("error", rd_kafka_err2name(err)),
                CS_LS("reason", reason));
}

static cs_tp_t *tps_from(const rd_kafka_topic_partition_list_t *parts)
{
    cs_tp_t *tps = cs_mem_calloc((size_t)(parts->cnt ? parts->cnt : 1), sizeof *tps);
    for (int i = 0; i < parts->cnt; i++) {
        tps[i].topic = parts->elems[i].topic;
        tps[i].partition = parts->elems[i].partition;
        tps[i].offset = CS_OFFSET_DEFAULT;
    }
    return tps;
}

/*
 * Holding Kafka commits across a cooperative rejoin. After a cooperative rebalance that took
 * partitions from this member, librdkafka calls the revoke callback, then the assign callback of
 * the same generation (possibly empty), then rejoins; its JoinGroup waits at the coordinator
 * until every other member has rejoined too, which they do at their next heartbeat. A broker
 * serves one request of a connection at a time, so OffsetCommits sent meanwhile queue behind
 * that JoinGroup; they carry the old generation and are refused with ILLEGAL_GENERATION once the
 * join completes, and librdkafka 2.0.2 treats that as a lost assignment: every partition revoked
 * as lost and one more rebalance (measured: joins took 6 s instead of 1.5). The commits are only
 * for lag tools (the offsets that count are in PostgreSQL), so from such a revoke until the
 * assign callback of the next generation (the second one after the revoke; HOLD_MAX_S at most)
 * they are kept here, the latest per partition, and sent then for the partitions still owned.
 * Not covered: a rejoin this member did not start (another member joined or left, and it learns
 * so from a heartbeat) can still meet a commit in flight; in 0072 about one join in four costs
 * one extra rebalance that way (about a second).
 */
#define HOLD_MAX_S 30.0

static void held_merge(cs_consumer_t *c, const rd_kafka_topic_partition_list_t *l)
{
    if (!c->held)
        c->held = rd_kafka_topic_partition_list_new(l->cnt);
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(c->held, l->elems[i].topic, l->elems[i].partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(c->held, l->elems[i].topic,
                                                  l->elems[i].partition);
        p->offset = l->elems[i].offset;
    }
}

/* Ends the hold: commits what was held for the partitions assigned now (send: false drops it). */
static void held_release(cs_consumer_t *c, bool send)
{
    rd_kafka_topic_partition_list_t *held = c->held, *mine = NULL;
    c->held = NULL;
    c->hold_assigns = 0;
    if (!held)
        return;
    if (send && rd_kafka_assignment(c->rk, &mine) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(held->cnt);
        for (int i = 0; i < held->cnt; i++)
            if (rd_kafka_topic_partition_list_find(mine, held->elems[i].topic,
                                                   held->elems[i].partition))
                rd_kafka_topic_partition_list_add(l, held->elems[i].topic, held->elems[i].partition)
                    ->offset = held->elems[i].offset;
        if (l->cnt)
            rd_kafka_commit(c->rk, l, 1);
        rd_kafka_topic_partition_list_destroy(l);
    }
    if (mine)
        rd_kafka_topic_partition_list_destroy(mine);
    rd_kafka_topic_partition_list_destroy(held);
}

/*
 * A partition's pause belongs to its assignment. librdkafka 2.0.2 keeps a partition's application
 * pause flag on its partition object across revocation and reassignment (the flag is only
 * cleared by a resume; the assignment code resets the library's own pause flag, not the
 * application's), while callers track pauses for the partitions they hold: a partition paused
 * when it was lost or revoked (a worker backing off) and assigned again later came back paused,
 * and nothing ever resumed it: assigned, never fetched, nothing logged (the stuck member after a
 * coordinator failover, test 0083). So every partition leaving the assignment is resumed first.
 * Only there: a resume bumps the partition's version barrier, which drops what librdkafka
 * fetched and queued of it and moves its fetch position past that (librdkafka#4686, fixed in
 * 2.4), harmless only for a partition whose messages are being dropped anyway; and assigning
 * the partition again starts its fetcher afresh at the offset given.
 */
static void clear_pause(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    if (parts->cnt > 0)
        rd_kafka_resume_partitions(rk, parts);
}

/*
 * Kafka's committed offsets follow the caller's from the start: the offsets an assignment starts
 * at (the caller's stored ones) are committed to Kafka too, so that lag tools reading Kafka
 * (kafka-consumer-groups, Burrow, KMinion) agree with the caller as soon as it owns a partition,
 * not only after its next commit: the caller's store may be ahead of Kafka (a commit to Kafka
 * lost to a crash or a rebalance) or behind it (a new store for an old group). Partitions
 * without an explicit start offset are left alone. Through cs_consumer_commit, so a hold
 * ("Holding Kafka commits") applies.
 */
static void commit_start_offsets(cs_consumer_t *c, const cs_tp_t *tps, int n)
{
    cs_tp_t *l = cs_mem_calloc((size_t)(n ? n : 1), sizeof *l);
    cs_err_t err;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (tps[i].offset >= 0)
            l[k++] = tps[i];
    if (k && cs_consumer_commit(c, l, k, &err) < 0)
        cs_log_debug("kafka commit of the start offsets failed", CS_LS("error", err.msg));
    free(l);
}

/* Logs a failed (incremental) assign or unassign; takes error. */
static void assign_result(rd_kafka_error_t *error, rd_kafka_resp_err_t rerr)
{
    if (error) {
        cs_log_error("kafka assignment failed", CS_LS("error", rd_kafka_error_string(error)));
        rd_kafka_error_destroy(error);
    }
    if (rerr)
        cs_log_error("kafka assignment failed", CS_LS("error", rd_kafka_err2str(rerr)));
}

/* Partitions assigned: the caller gives their start offsets (and which wait paused for one). */
static void on_assign(cs_consumer_t *c, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                      cs_tp_t *tps)
{
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (c->cbs.assign && parts->cnt > 0)
        c->cbs.assign(c->cbs.ud, tps, parts->cnt);
    /* Assign mode: a partition the caller starts at its beginning starts at its fixed start. */
    for (int i = 0; i < parts->cnt && c->nfixed > 0; i++) {
        struct fixed_tp *f = fixed_find(c, tps[i].topic, tps[i].partition);
        if (f && f->start >= 0 && tps[i].offset == RD_KAFKA_OFFSET_BEGINNING)
            tps[i].offset = f->start;
    }
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset =
            tps[i].offset == CS_OFFSET_DEFAULT ? RD_KAFKA_OFFSET_INVALID : tps[i].offset;
    if (c->cooperative)
        error = rd_kafka_incremental_assign(rk, parts);
    else
        rerr = rd_kafka_assign(rk, parts);
    /* Partitions whose start offset is not known yet stay paused until it is. */
    rd_kafka_topic_partition_list_t *p = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        if (tps[i].pause)
            rd_kafka_topic_partition_list_add(p, tps[i].topic, tps[i].partition);
    if (p->cnt)
        rd_kafka_pause_partitions(rk, p);
    rd_kafka_topic_partition_list_destroy(p);
    commit_start_offsets(c, tps, parts->cnt);
    if (c->hold_assigns > 0 && --c->hold_assigns == 0)
        held_release(c, true);
    assign_result(error, rerr);
}

/* Partitions revoked (or lost): the caller lets them go, then the reservoir and the pauses. */
static void on_revoke(cs_consumer_t *c, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                      cs_tp_t *tps)
{
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    bool lost = rd_kafka_assignment_lost(rk) != 0;

    if (c->cbs.revoke && parts->cnt > 0)
        c->cbs.revoke(c->cbs.ud, tps, parts->cnt, lost);
    if (lost || c->closing || !c->cooperative) {
        held_release(c, false);
    } else {
        c->hold_assigns = 2; /* this generation's assign, then the next one's */
        c->hold_until = mono_s() + HOLD_MAX_S;
    }
    /* Never handed out after the revoke: what the reservoir read of them goes now. */
    reservoir_drop(c, parts);
    clear_pause(rk, parts);
    if (c->cooperative)
        error = rd_kafka_incremental_unassign(rk, parts);
    else
        rerr = rd_kafka_assign(rk, NULL);
    assign_result(error, rerr);
}

/* The rebalance failed: everything held is let go as lost. */
static void on_rebalance_error(cs_consumer_t *c, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, cs_tp_t *tps)
{
    cs_log_error("kafka rebalance failed", CS_LS("error", rd_kafka_err2name(err)));
    if (c->cbs.revoke && parts && parts->cnt > 0)
        c->cbs.revoke(c->cbs.ud, tps, parts->cnt, true);
    reservoir_drop(c, NULL);
    held_release(c, false);
    if (parts)
        clear_pause(rk, parts);
    assign_result(NULL, rd_kafka_assign(rk, NULL));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    cs_consumer_t *c = opaque;
    cs_tp_t *tps = tps_from(parts);

    c->cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(c, rk, parts, tps);
    else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        on_revoke(c, rk, parts, tps);
    else
        on_rebalance_error(c, rk, err, parts, tps);
    free(tps);
}

/*
 * Assign mode: the fixed partitions are assigned once, from the first poll (so the callback runs
 * where a rebalance's would, on the caller's thread, with the consumer fully made), eagerly.
 */
static void assign_fixed(cs_consumer_t *c)
{
    c->assign_pending = false;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(c->nfixed);
    for (int i = 0; i < c->nfixed; i++)
        rd_kafka_topic_partition_list_add(parts, c->fixed[i].topic, c->fixed[i].partition);
    cs_tp_t *tps = tps_from(parts);
    c->cooperative = false;
    on_assign(c, c->rk, parts, tps);
    free(tps);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Assign mode's close: the callback lets the partitions go, then they are unassigned. */
static void unassign_fixed(cs_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0) {
        cs_tp_t *tps = tps_from(parts);
        if (c->cbs.revoke)
            c->cbs.revoke(c->cbs.ud, tps, parts->cnt, false);
        free(tps);
        reservoir_drop(c, parts);
        clear_pause(c->rk, parts);
    }
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    assign_result(NULL, rd_kafka_assign(c->rk, NULL));
}

/* What the broker accepts as a group.instance.id (Kafka's JoinGroupRequest validation). */
#define CS_GROUP_INSTANCE_ID_MAX 249

static int check_instance_id(const char *id, cs_err_t *err)
{
    size_t n = strlen(id);
    if (n > CS_GROUP_INSTANCE_ID_MAX)
        return cs_err_set_field(err, CS_ERR_FATAL, "group-instance-id",
                                "group instance id is %zu characters long; at most %d", n,
                                CS_GROUP_INSTANCE_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return cs_err_set_field(err, CS_ERR_FATAL, "group-instance-id",
                                    "group instance id has a character other than letters, "
                                    "digits, '.', '_' and '-' at position %zu",
                                    i + 1);
    }
    return 0;
}

int cs_consumer_conf_check(const cs_consumer_conf_t *cf, cs_err_t *err)
{
    if (cf->group_instance_id && *cf->group_instance_id)
        return check_instance_id(cf->group_instance_id, err);
    return 0;
}

/*
 * How often a member heartbeats, from the session timeout. The heartbeat is also how a member
 * learns that the group is rebalancing (a member joined or left): the coordinator answers it
 * with REBALANCE_IN_PROGRESS, and the member rejoins. So it bounds the time a join or a leave
 * takes to hand partitions over, and a tenth of the session (1 s for the runtime's 10 s) keeps
 * that to about a second while nine heartbeats in a row may be lost before the session expires.
 * Never more than 3 s (librdkafka's default), never less than 100 ms. heartbeat.interval.ms in
 * kafka_props, applied later, overrides it.
 */
static int heartbeat_ms(int session_timeout_ms)
{
    int hb = session_timeout_ms / 10;
    return hb < 100 ? 100 : hb > 3000 ? 3000 : hb;
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, cs_err_t *err)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return cs_err_set_field(err, CS_ERR_FATAL, k, "kafka setting %s=%s: %s", k, v, errstr);
    return 0;
}

static int seti(rd_kafka_conf_t *conf, const char *k, long long v, cs_err_t *err)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    return set(conf, k, s, err);
}

/* The consumer's fixed settings: where, who, no auto-commit, and the prefetch bounds. */
static int conf_base(rd_kafka_conf_t *conf, const cs_consumer_conf_t *cf, cs_err_t *err)
{
    int fetch_max = cf->fetch_max_bytes > 0 ? cf->fetch_max_bytes : CS_CONSUMER_FETCH_BYTES;
    if (set(conf, "bootstrap.servers", cf->brokers, err) < 0 ||
        set(conf, "group.id", cf->group, err) < 0 ||
        set(conf, "client.id", cf->client_id ? cf->client_id : "careerstream", err) < 0 ||
        set(conf, "enable.auto.commit", "false", err) < 0 ||
        set(conf, "enable.auto.offset.store", "false", err) < 0 ||
        set(conf, "auto.offset.reset", "earliest", err) < 0 ||
        set(conf, "partition.assignment.strategy",
            cf->assignment_strategy ? cf->assignment_strategy : "cooperative-sticky", err) < 0 ||
        set(conf, "enable.partition.eof", cf->partition_eof ? "true" : "false", err) < 0 ||
        /*
         * The prefetch bounds. Each queued message costs librdkafka far more than its payload:
         * a ~400-byte op and its share of the decompressed message set (librdkafka sizes an
         * LZ4 output buffer at 4x the compressed input), ~1.6 KiB per 265-byte event in the
         * benchmark. A small queue is enough because the fetch waker (above) restarts fetching
         * as soon as it is not full, and a caller that holds back moves the queue into the
         * reservoir (compact copies): 1,000 messages here and a 2-3 MiB reservoir drain as fast
         * as 5,000 here alone, 3-4 MiB of peak RSS less (bench/README.md, "Memory").
         */
        seti(conf, "queued.min.messages", CS_CONSUMER_QUEUED_MSGS, err) < 0 ||
        seti(conf, "queued.max.messages.kbytes",
             cf->queued_max_kbytes > 0 ? cf->queued_max_kbytes : 4096, err) < 0 ||
        /*
         * Each broker adds up to one fetch response to the queue beyond those bounds: small
         * fetches keep that overshoot small on real brokers (a full 1 MiB response is ~4,000
         * events, about 6 MiB of RSS, per broker). A single record batch larger than this is still
         * returned whole (KIP-74). message.max.bytes only has to be below fetch.max.bytes here; for
         * a consumer it merely seeds decompression buffer sizes, which grow as needed.
         */
        seti(conf, "fetch.max.bytes", fetch_max, err) < 0 ||
        seti(conf, "message.max.bytes", fetch_max, err) < 0 ||
        seti(conf, "max.partition.fetch.bytes", fetch_max, err) < 0 ||
        seti(conf, "receive.message.max.bytes",
             fetch_max + 512 > (2 << 20) ? fetch_max + 512 : 2 << 20, err) < 0 ||
        set(conf, "allow.auto.create.topics", "true", err) < 0)
        return -1;
    return 0;
}

/* The caller's settings: group timing and membership, debug, fetch wait, extra properties. */
static int conf_tuning(rd_kafka_conf_t *conf, const cs_consumer_conf_t *cf, cs_err_t *err)
{
    if (cf->session_timeout_ms > 0 &&
        (seti(conf, "session.timeout.ms", cf->session_timeout_ms, err) < 0 ||
         seti(conf, "heartbeat.interval.ms", heartbeat_ms(cf->session_timeout_ms), err) < 0))
        return -1;
    if (cs_consumer_conf_check(cf, err) < 0)
        return -1;
    if (cf->group_instance_id && *cf->group_instance_id &&
        set(conf, "group.instance.id", cf->group_instance_id, err) < 0)
        return -1;
    if (cf->max_poll_interval_ms > 0 &&
        seti(conf, "max.poll.interval.ms", cf->max_poll_interval_ms, err) < 0)
        return -1;
    /* librdkafka debug contexts for troubleshooting (e.g. CS_KAFKA_DEBUG=cgrp,fetch). */
    const char *dbg = getenv("CS_KAFKA_DEBUG");
    if (dbg && *dbg && set(conf, "debug", dbg, err) < 0)
        return -1;
    /* The embedded mock broker does not wake a waiting fetch when data arrives, so the wait
     * bounds end-to-end latency there; real Kafka answers as soon as data is there either way. */
    if (seti(conf, "fetch.wait.max.ms", cf->fetch_wait_max_ms > 0 ? cf->fetch_wait_max_ms : 10,
             err) < 0)
        return -1;
    return cs__kafka_conf_props(conf, cf->kafka_props, err);
}

/*
 * What the configuration ended up saying (kafka_props may have changed it): whether the member is
 * static, and the queue thresholds in effect, for the fetch waker.
 */
static void conf_effective(cs_consumer_t *c, const rd_kafka_conf_t *conf, int *queued_min,
                           int *queued_kbytes)
{
    char gi[CS_GROUP_INSTANCE_ID_MAX + 2];
    size_t gn = sizeof gi;
    /* Static or not: kafka_props may have set group.instance.id too (unset: INVALID). */
    c->static_member =
        rd_kafka_conf_get(conf, "group.instance.id", gi, &gn) == RD_KAFKA_CONF_OK && gi[0] != '\0';
    char qv[32];
    size_t qn = sizeof qv;
    *queued_min = *queued_kbytes = 0;
    if (rd_kafka_conf_get(conf, "queued.min.messages", qv, &qn) == RD_KAFKA_CONF_OK)
        *queued_min = atoi(qv);
    qn = sizeof qv;
    if (rd_kafka_conf_get(conf, "queued.max.messages.kbytes", qv, &qn) == RD_KAFKA_CONF_OK)
        *queued_kbytes = atoi(qv);
}

/* The consumer queue, with an io-event pipe the caller's loop watches (cs_consumer_fd). */
static int open_queue(cs_consumer_t *c, cs_err_t *err)
{
    rd_kafka_poll_set_consumer(c->rk);
    c->q = rd_kafka_queue_get_consumer(c->rk);
    if (pipe(c->pipefd) < 0)
        return cs_err_set(err, CS_ERR_FATAL, "pipe: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
        fcntl(c->pipefd[i], F_SETFL, fcntl(c->pipefd[i], F_GETFL) | O_NONBLOCK);
        fcntl(c->pipefd[i], F_SETFD, FD_CLOEXEC);
    }
    rd_kafka_queue_io_event_enable(c->q, c->pipefd[1], "1", 1);
    return 0;
}

static void hold_topic(cs_consumer_t *c, const char *topic)
{
    if (topic[0] == '^') /* a pattern: its topics are not known yet */
        return;
    for (int i = 0; i < c->nrkts; i++)
        if (strcmp(rd_kafka_topic_name(c->rkts[i]), topic) == 0)
            return;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    if (rkt)
        c->rkts[c->nrkts++] = rkt;
}

/*
 * A handle on each topic subscribed to, made before subscribing. librdkafka 2.0.2
 * starts an assigned partition's fetch by asking its leader for the start offset, and when the
 * partition is not yet delegated to its leader's broker thread it retries that only 500 ms later
 * ("no current leader for partition", rd_kafka_toppar_offset_request). Without a handle, the
 * partitions of a topic are made, and sent to their leader, only at the assignment, racing the
 * fetch start: a worker lost that race in some drains and received nothing for its first 0.5 s
 * (a sixth of the readiness benchmark's drain). With the handle, the topic's metadata (asked for
 * now, and again by the group's join) has made every partition and delegated it before the group
 * assigns any.
 */
static void topics_hold(cs_consumer_t *c, const cs_consumer_conf_t *cf)
{
    int nt = 0;
    while (cf->topics && cf->topics[nt])
        nt++;
    c->rkts = cs_mem_calloc((size_t)nt + 1, sizeof *c->rkts);
    for (int i = 0; i < nt; i++)
        hold_topic(c, cf->topics[i]);
}

static int subscribe(cs_consumer_t *c, const cs_consumer_conf_t *cf, cs_err_t *err)
{
    int nt = 0;
    while (cf->topics && cf->topics[nt])
        nt++;
    if (nt == 0)
        return cs_err_set_field(err, CS_ERR_FATAL, "topics", "no topics to consume");
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(nt);
    for (int i = 0; i < nt; i++)
        rd_kafka_topic_partition_list_add(sub, cf->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t rerr = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (rerr)
        return cs_err_set(err, CS_ERR_FATAL, "kafka subscribe: %s", rd_kafka_err2str(rerr));
    return 0;
}

cs_consumer_t *cs_consumer_new(const cs_consumer_conf_t *cf, const cs_consumer_cbs_t *cbs,
                               cs_err_t *err)
{
    cs_consumer_t *c = cs_mem_calloc(1, sizeof *c);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    int queued_min, queued_kbytes;

    /* A fixed mmap threshold: glibc otherwise raises it to the size of any mmapped block freed
     * (up to 32 MiB), after which fetch responses and big batch buffers come from the heap and
     * are not returned to the system: about 1 MiB of peak RSS in the benchmark. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    c->pipefd[0] = c->pipefd[1] = -1;
    {
        long kb = cf->reservoir_kbytes > 0 ? cf->reservoir_kbytes : CS_CONSUMER_RESERVOIR_KB;
        c->rv.bound = cf->reservoir_kbytes < 0 || kb < 0 ? 0 : (size_t)kb * 1024;
    }
    if (cbs)
        c->cbs = *cbs;
    if (!cf->brokers || !*cf->brokers) {
        cs_err_set_field(err, CS_ERR_FATAL, "kafka-brokers", "no kafka brokers configured");
        goto fail;
    }
    if (conf_base(conf, cf, err) < 0 || conf_tuning(conf, cf, err) < 0)
        goto fail;
    conf_effective(c, conf, &queued_min, &queued_kbytes);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c);

    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        cs_err_set(err, CS_ERR_FATAL, "kafka consumer: %s", errstr);
        goto fail;
    }
    conf = NULL; /* owned by rk */
    if (open_queue(c, err) < 0)
        goto fail;
    waker_start(c, queued_min, queued_kbytes);
    if (cf->nassign > 0) {
        c->fixed = cs_mem_calloc((size_t)cf->nassign, sizeof *c->fixed);
        for (int i = 0; i < cf->nassign; i++)
            c->fixed[i] = (struct fixed_tp){cs_mem_strdup(cf->assign[i].topic),
                                            cf->assign[i].partition, cf->assign[i].offset,
                                            cf->assign_end ? cf->assign_end[i] : -1, false};
        c->nfixed = cf->nassign;
        c->assign_pending = true;
        return c;
    }
    topics_hold(c, cf);
    if (subscribe(c, cf, err) < 0)
        goto fail;
    return c;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    cs_consumer_destroy(c);
    return NULL;
}

void cs_consumer_destroy(cs_consumer_t *c)
{
    if (!c)
        return;
    waker_stop(c);
    cs_log_info("kafka fetch waker", CS_LI("wakes", (long long)c->wk.wakes),
                CS_LD("dry_s", c->wk.dry_s),
                CS_LI("reservoir_peak_kib", (long long)(c->rv.peak_bytes / 1024)));
    reservoir_drop(c, NULL);
    free(c->rv.ring);
    if (c->held)
        rd_kafka_topic_partition_list_destroy(c->held);
    if (c->q) {
        rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
        rd_kafka_queue_destroy(c->q);
    }
    for (int i = 0; i < c->nrkts; i++)
        rd_kafka_topic_destroy(c->rkts[i]);
    free(c->rkts);
    if (c->rk) {
        /* After an abandoned leave, librdkafka's destroy can wait (or spin) on the very
         * rebalance that hung; the caller is exiting, so the handle is left to process exit. */
        if (!c->close_abandoned)
            rd_kafka_destroy(c->rk);
    }
    for (int i = 0; i < 2; i++)
        if (c->pipefd[i] >= 0)
            close(c->pipefd[i]);
    for (int i = 0; i < c->nfixed; i++)
        free(c->fixed[i].topic);
    free(c->fixed);
    free(c);
}

int cs_consumer_fd(const cs_consumer_t *c)
{
    return c->pipefd[0];
}

void cs_consumer_ack_fd(cs_consumer_t *c)
{
    char buf[256];
    while (read(c->pipefd[0], buf, sizeof buf) > 0)
        ;
}

/*
 * A polled message copied out of librdkafka, in one allocation: the cs_msg_t, its headers'
 * index, then the topic name, payload, key and header names and values. The rd_kafka_message_t
 * is destroyed as soon as it is copied, so the op that carried it and (once its last message
 * is copied) the fetched message set it points into go back to librdkafka at once: a message
 * the caller keeps pending costs its own size, not a share of a whole fetch buffer.
 */
typedef struct msg_hdr {
    const char *name;
    const void *val; /* NULL for a header without a value */
    size_t len;
} msg_hdr_t;

struct msg_copy {
    cs_msg_t m;  /* first: a cs_msg_t * is a msg_copy_t * */
    size_t size; /* of the allocation (the reservoir counts it) */
    size_t nhdrs;
    msg_hdr_t hdrs[];
};

static msg_copy_t *msg_copy(const rd_kafka_message_t *rkm, const rd_kafka_headers_t *hdrs,
                            int64_t timestamp_ms, const char *errmsg)
{
    const char *topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "";
    size_t topic_len = strlen(topic), err_len = strlen(errmsg), nhdrs = 0, size;
    const char *name;
    const void *val;
    size_t len;

    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs)
        nhdrs = rd_kafka_header_cnt(hdrs);
    size = sizeof(msg_copy_t) + nhdrs * sizeof(msg_hdr_t) + topic_len + 1 + err_len + 1;
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        size += rkm->len + rkm->key_len;
    for (size_t i = 0; i < nhdrs; i++)
        if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len) == RD_KAFKA_RESP_ERR_NO_ERROR)
            size += strlen(name) + 1 + len;

    msg_copy_t *mc = cs_mem_alloc(size);
    memset(mc, 0, sizeof *mc);
    mc->size = size;
    char *p = (char *)&mc->hdrs[nhdrs];
    cs_msg_t *m = &mc->m;

    m->topic = memcpy(p, topic, topic_len + 1);
    p += topic_len + 1;
    m->err.msg = memcpy(p, errmsg, err_len + 1);
    p += err_len + 1;
    m->partition = rkm->partition;
    m->offset = rkm->offset;
    m->timestamp_ms = timestamp_ms;
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (rkm->payload) {
            m->payload = memcpy(p, rkm->payload, rkm->len);
            m->len = rkm->len;
            p += rkm->len;
        }
        if (rkm->key) {
            m->key = memcpy(p, rkm->key, rkm->key_len);
            m->key_len = rkm->key_len;
            p += rkm->key_len;
        }
    }
    for (size_t i = 0; i < nhdrs; i++) {
        if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        size_t nlen = strlen(name) + 1;
        msg_hdr_t *h = &mc->hdrs[mc->nhdrs++];
        h->name = memcpy(p, name, nlen);
        p += nlen;
        h->val = val ? memcpy(p, val, len) : NULL;
        h->len = val ? len : 0;
        p += val ? len : 0;
    }
    return mc;
}

/* The compact copy of rkm, with its event and error kind (internal.h). */
cs_msg_t *cs__consumer_msg_copy(const rd_kafka_message_t *rkm, const rd_kafka_headers_t *hdrs,
                                int64_t timestamp_ms)
{
    char errmsg[CS_ERR_MSG_SIZE] = "";
    if (rkm->err && rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        snprintf(errmsg, sizeof errmsg, "%s: %s", rd_kafka_err2name(rkm->err),
                 rd_kafka_message_errstr(rkm));
    msg_copy_t *mc = msg_copy(rkm, hdrs, timestamp_ms, errmsg);
    cs_msg_t *m = &mc->m;
    m->err.kind = CS_ERR_NONE;
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        m->event = CS_MSG_EOF;
    } else if (rkm->err) {
        m->event = CS_MSG_ERROR;
        m->err.kind = CS_ERR_TRANSIENT;
        if (rkm->err == RD_KAFKA_RESP_ERR__FATAL ||
            rkm->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
            rkm->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
            m->err.kind = CS_ERR_FATAL;
    }
    return m;
}

static struct fixed_tp *fixed_find(cs_consumer_t *c, const char *topic, int partition)
{
    for (int i = 0; i < c->nfixed; i++)
        if (c->fixed[i].partition == partition && strcmp(c->fixed[i].topic, topic) == 0)
            return &c->fixed[i];
    return NULL;
}

/*
 * Assign mode: a message at or beyond its partition's frozen end. The first becomes the
 * partition's end event (CS_MSG_EOF at the end offset) and pauses it; later ones (fetched before
 * the pause took effect) are dropped: returns NULL then. Takes rkm.
 */
static msg_copy_t *take_beyond_end(cs_consumer_t *c, rd_kafka_message_t *rkm, struct fixed_tp *f)
{
    if (f->ended) {
        rd_kafka_message_destroy(rkm);
        return NULL;
    }
    f->ended = true;
    msg_copy_t *mc = (msg_copy_t *)cs__consumer_msg_copy(rkm, NULL, -1);
    mc->m.event = CS_MSG_EOF;
    mc->m.offset = f->end;
    mc->m.payload = mc->m.key = NULL;
    mc->m.len = mc->m.key_len = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, f->topic, f->partition);
    rd_kafka_pause_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_message_destroy(rkm);
    return mc;
}

/* Copies what rd_kafka_consumer_poll returned and gives librdkafka's message back. */
static msg_copy_t *take(cs_consumer_t *c, rd_kafka_message_t *rkm)
{
    if (c->nfixed > 0 && rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR && rkm->rkt) {
        struct fixed_tp *f = fixed_find(c, rd_kafka_topic_name(rkm->rkt), rkm->partition);
        if (f && f->end >= 0 && rkm->offset >= f->end)
            return take_beyond_end(c, rkm, f);
    }
    rd_kafka_headers_t *hdrs = NULL;
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_message_headers(rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        hdrs = NULL;
    msg_copy_t *mc =
        (msg_copy_t *)cs__consumer_msg_copy(rkm, hdrs, rd_kafka_message_timestamp(rkm, NULL));
    if (!rkm->err)
        c->all_down = false; /* a message arrived: at least one broker is up */
    rd_kafka_message_destroy(rkm);
    return mc;
}

/* The next message from librdkafka's queue, copied out; NULL when it is empty. */
static msg_copy_t *poll_rk(cs_consumer_t *c)
{
    if (c->assign_pending)
        assign_fixed(c);
    for (;;) {
        c->polled_at = mono_s();
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, 0);
        if (!rkm) {
            waker_check(c, 0);
            return NULL;
        }
        waker_check(c, rkm->len + rkm->key_len + 1);
        msg_copy_t *mc = take(c, rkm);
        if (mc)
            return mc; /* else: beyond a frozen end, dropped */
    }
}

/* ---- the reservoir ---- */

static void reservoir_push(reservoir_t *rv, msg_copy_t *mc)
{
    if (rv->n == rv->cap) {
        size_t ncap = rv->cap ? 2 * rv->cap : 1024;
        msg_copy_t **r = cs_mem_alloc(ncap * sizeof *r);
        for (size_t i = 0; i < rv->n; i++)
            r[i] = rv->ring[(rv->head + i) & (rv->cap - 1)];
        free(rv->ring);
        rv->ring = r;
        rv->cap = ncap;
        rv->head = 0;
    }
    rv->ring[(rv->head + rv->n) & (rv->cap - 1)] = mc;
    rv->n++;
    rv->bytes += mc->size;
    if (rv->bytes > rv->peak_bytes)
        rv->peak_bytes = rv->bytes;
}

static msg_copy_t *reservoir_pop(reservoir_t *rv)
{
    if (rv->n == 0)
        return NULL;
    msg_copy_t *mc = rv->ring[rv->head];
    rv->head = (rv->head + 1) & (rv->cap - 1);
    rv->n--;
    rv->bytes -= mc->size;
    return mc;
}

/* Drops the reservoir's messages and events of parts (NULL: all), keeping the others' order. */
static void reservoir_drop(cs_consumer_t *c, const rd_kafka_topic_partition_list_t *parts)
{
    reservoir_t *rv = &c->rv;
    size_t kept = 0, n = rv->n;
    for (size_t i = 0; i < n; i++) {
        msg_copy_t *mc = rv->ring[(rv->head + i) & (rv->cap - 1)];
        bool drop = parts == NULL;
        for (int k = 0; !drop && k < parts->cnt; k++)
            drop = parts->elems[k].partition == mc->m.partition &&
                   strcmp(parts->elems[k].topic, mc->m.topic) == 0;
        if (drop) {
            rv->bytes -= mc->size;
            free(mc);
        } else {
            rv->ring[(rv->head + kept) & (rv->cap - 1)] = mc;
            kept++;
        }
    }
    rv->n = kept;
}

int cs_consumer_prefetch(cs_consumer_t *c)
{
    int moved = 0;
    msg_copy_t *mc;
    /* Rebalance callbacks run in poll_rk and may drop part of the reservoir: the bound is
     * checked again before each message. */
    while (c->rv.bytes < c->rv.bound && (mc = poll_rk(c)) != NULL) {
        reservoir_push(&c->rv, mc);
        moved++;
    }
    return moved;
}

void cs_consumer_reservoir(const cs_consumer_t *c, size_t *msgs, size_t *bytes, size_t *bound)
{
    if (msgs)
        *msgs = c->rv.n;
    if (bytes)
        *bytes = c->rv.bytes;
    if (bound)
        *bound = c->rv.bound;
}

void cs_consumer_reservoir_each(const cs_consumer_t *c, void (*fn)(void *ud, const cs_msg_t *m),
                                void *ud)
{
    const reservoir_t *rv = &c->rv;
    for (size_t i = 0; i < rv->n; i++)
        fn(ud, &rv->ring[(rv->head + i) & (rv->cap - 1)]->m);
}

/*
 * librdkafka counts max.poll.interval.ms from the application's last rd_kafka_consumer_poll, and
 * a consumer that exceeds it leaves the group (its partitions are revoked as lost, and it rejoins
 * at its next poll). A caller that holds back with a full reservoir polls nothing: a worker whose
 * batch waits on PostgreSQL (a lock, a slow commit) for longer than that lost its membership
 * (test 0087). So when nothing was polled for idle_ms, one poll goes to librdkafka, and what it
 * returns joins the reservoir beyond its bound: at most one message per call.
 */
int cs_consumer_keepalive(cs_consumer_t *c, int idle_ms)
{
    if (mono_s() - c->polled_at < idle_ms / 1000.0)
        return 0;
    msg_copy_t *mc = poll_rk(c); /* rebalance callbacks may run in here */
    if (mc)
        reservoir_push(&c->rv, mc);
    return 1;
}

cs_msg_t *cs_consumer_poll(cs_consumer_t *c)
{
    msg_copy_t *mc = reservoir_pop(&c->rv);
    if (!mc)
        mc = poll_rk(c);
    dry_note(c, mc != NULL);
    return mc ? &mc->m : NULL;
}

void cs_consumer_msg_free(cs_msg_t *m)
{
    free(m); /* the whole msg_copy_t */
}

const void *cs_consumer_msg_header(const cs_msg_t *m, const char *name, size_t *len)
{
    const msg_copy_t *mc = (const msg_copy_t *)m;
    for (size_t i = mc->nhdrs; i-- > 0;) {
        if (strcmp(mc->hdrs[i].name, name) == 0) {
            if (len)
                *len = mc->hdrs[i].len;
            return mc->hdrs[i].val;
        }
    }
    return NULL;
}

static rd_kafka_topic_partition_list_t *list_from(const cs_tp_t *tps, int n, bool offsets)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n ? n : 1);
    for (int i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_add(l, tps[i].topic, tps[i].partition);
        if (offsets)
            p->offset = tps[i].offset;
    }
    return l;
}

int cs_consumer_pause(cs_consumer_t *c, const cs_tp_t *tps, int n, cs_err_t *err)
{
    rd_kafka_topic_partition_list_t *l = list_from(tps, n, false);
    rd_kafka_resp_err_t e = rd_kafka_pause_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return cs_err_set(err, CS_ERR_TRANSIENT, "kafka pause: %s", rd_kafka_err2str(e));
    return 0;
}

int cs_consumer_resume(cs_consumer_t *c, const cs_tp_t *tps, int n, cs_err_t *err)
{
    rd_kafka_topic_partition_list_t *l = list_from(tps, n, false);
    rd_kafka_resp_err_t e = rd_kafka_resume_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return cs_err_set(err, CS_ERR_TRANSIENT, "kafka resume: %s", rd_kafka_err2str(e));
    return 0;
}

int cs_consumer_seek(cs_consumer_t *c, const cs_tp_t *tps, int n, cs_err_t *err)
{
    rd_kafka_topic_partition_list_t *l = list_from(tps, n, true);
    /* The seek raises librdkafka's version barrier of each partition (what its queue holds of
     * them is never handed out); the reservoir's copies of them are dropped here. */
    rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 0);
    reservoir_drop(c, l);
    for (int i = 0; i < n && c->nfixed > 0; i++) {
        struct fixed_tp *f = fixed_find(c, tps[i].topic, tps[i].partition);
        if (f && f->ended && tps[i].offset >= 0 && tps[i].offset < f->end) {
            f->ended = false; /* its end is ahead again: the pause at the end is lifted */
            rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(one, f->topic, f->partition);
            rd_kafka_resume_partitions(c->rk, one);
            rd_kafka_topic_partition_list_destroy(one);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        cs_err_set(err, CS_ERR_TRANSIENT, "kafka seek: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    return 0;
}

int cs_consumer_commit(cs_consumer_t *c, const cs_tp_t *tps, int n, cs_err_t *err)
{
    if (n == 0)
        return 0;
    rd_kafka_topic_partition_list_t *l = list_from(tps, n, true);
    if (c->hold_assigns > 0 && mono_s() < c->hold_until) {
        held_merge(c, l); /* see "Holding Kafka commits" */
        rd_kafka_topic_partition_list_destroy(l);
        return 0;
    }
    if (c->held) {
        held_merge(c, l); /* the hold timed out: what it kept goes with these */
        rd_kafka_topic_partition_list_destroy(l);
        l = c->held;
        c->held = NULL;
        c->hold_assigns = 0;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        return cs_err_set(err, CS_ERR_TRANSIENT, "kafka commit: %s", rd_kafka_err2str(e));
    return 0;
}

void cs_consumer_watermarks(cs_consumer_t *c, const char *topic, int partition, int64_t *lo,
                            int64_t *hi)
{
    int64_t l = -1, h = -1;
    if (rd_kafka_get_watermark_offsets(c->rk, topic, partition, &l, &h) != 0)
        l = h = -1;
    /* Fetches keep librdkafka's copy current; a paused partition (or one whose fetcher waits for
     * the queue to drain) is not fetched, and then the last refresh knows better. High
     * watermarks only grow: the larger is the newer. */
    waker_t *wk = &c->wk;
    if (wk->started) {
        pthread_mutex_lock(&wk->mu);
        for (int i = 0; i < wk->nwm; i++)
            if (wk->wm[i].partition == partition && strcmp(wk->wm[i].topic, topic) == 0 &&
                wk->wm[i].hi > h)
                h = wk->wm[i].hi;
        pthread_mutex_unlock(&wk->mu);
    }
    *lo = l;
    *hi = h;
}

void cs_consumer_refresh_watermarks(cs_consumer_t *c)
{
    waker_t *wk = &c->wk;
    if (!wk->started)
        return;
    pthread_mutex_lock(&wk->mu);
    wk->refresh = true;
    pthread_cond_signal(&wk->cv);
    pthread_mutex_unlock(&wk->mu);
}

int cs_consumer_query_watermarks(cs_consumer_t *c, const char *topic, int partition, int timeout_ms,
                                 int64_t *lo, int64_t *hi)
{
    /*
     * Not rd_kafka_query_watermark_offsets: in librdkafka 2.0.2 it bounds only the leader
     * lookup by timeout_ms and then waits for the ListOffsets reply until the request itself
     * times out (socket.timeout.ms, 60 s). Against a broker that accepts but does not answer
     * (stopped, overloaded, failing over) that held the worker's event loop 5-37 s in the lag
     * timer, which queries exactly while partitions are paused (tests 0080, 0083).
     * rd_kafka_offsets_for_times with the logical END offset asks the leader the same question
     * (the end offset) and stops waiting at timeout_ms. The low watermark is the cached one.
     */
    int64_t l = -1, h = -1;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(c->rk, parts, timeout_ms);
    if (!e)
        e = parts->elems[0].err;
    h = parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    if (e || h < 0)
        return -1;
    int64_t cl, ch;
    if (rd_kafka_get_watermark_offsets(c->rk, topic, partition, &cl, &ch) == 0)
        l = cl;
    *lo = l;
    *hi = h;
    return 0;
}

bool cs_consumer_connected(const cs_consumer_t *c)
{
    return !c->all_down;
}

/* The member id librdkafka holds now: "" before joining and once it has sent LeaveGroup. */
int cs_consumer_missing_topics(cs_consumer_t *c, const char *const *topics, int timeout_ms,
                               char *missing, size_t size, cs_err_t *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(c->rk, 1, NULL, &md, timeout_ms);
    if (e)
        return cs_err_set(err, CS_ERR_TRANSIENT, "kafka metadata: %s", rd_kafka_err2str(e));
    int n = 0;
    if (size)
        missing[0] = '\0';
    for (int i = 0; topics && topics[i]; i++) {
        bool found = false;
        for (int t = 0; t < md->topic_cnt && !found; t++)
            found = md->topics[t].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    strcmp(md->topics[t].topic, topics[i]) == 0;
        if (!found && n++ == 0 && size)
            snprintf(missing, size, "%s", topics[i]);
    }
    rd_kafka_metadata_destroy(md);
    return n;
}

static bool has_member_id(cs_consumer_t *c)
{
    char *id = rd_kafka_memberid(c->rk);
    bool has = id && *id;
    if (id)
        rd_kafka_mem_free(c->rk, id);
    return has;
}

static bool has_assignment(cs_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    bool has = rd_kafka_assignment(c->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0;
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    return has;
}

/*
 * The first half of a close: unsubscribe, serve the revocation (through rebalance_cb, from
 * rd_kafka_consumer_poll) and wait until librdkafka has sent LeaveGroup (it forgets the member id
 * when it does) and holds no partition. Returns false at the deadline.
 *
 * Why not rd_kafka_consumer_close() alone: (1) it never sends LeaveGroup for a static member
 * (rd_kafka_cgrp_leave_maybe skips it while terminating, per KIP-345), whereas an unsubscribe
 * does, static or not; (2) with cooperative-sticky, a close that receives an incremental
 * assignment meanwhile (two members stopping at once hand partitions to each other) hangs in
 * librdkafka 2.0.2 (librdkafka#4527, fixed by #4528 years later); after an unsubscribe it is
 * served like any other and revoked again, and the close that follows has nothing left to do.
 * Messages polled meanwhile are dropped: the caller has committed what it wanted to.
 */
static bool leave_group(cs_consumer_t *c, double deadline)
{
    rd_kafka_resp_err_t e = rd_kafka_unsubscribe(c->rk);
    if (e) {
        cs_log_warn("kafka unsubscribe failed", CS_LS("error", rd_kafka_err2name(e)));
        return true; /* the close does what it can */
    }
    for (;;) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, 20);
        if (rkm)
            rd_kafka_message_destroy(rkm); /* a revocation may wait behind messages */
        else if (!has_member_id(c) && !has_assignment(c))
            return true;
        if (mono_s() >= deadline)
            return false;
    }
}

int cs_consumer_close(cs_consumer_t *c, int timeout_ms, cs_err_t *err)
{
    double t0 = mono_s(), deadline = t0 + timeout_ms / 1000.0;
    c->closing = true;
    if (c->nfixed > 0)
        unassign_fixed(c); /* never a member: nothing to leave */
    bool left = c->nfixed > 0 || leave_group(c, deadline);

    cs_log_info(left ? "left the consumer group" : "leaving the consumer group is taking long",
                CS_LI("static", c->static_member), CS_LD("leave_s", mono_s() - t0));
    /* rd_kafka_consumer_close() may block for the whole session timeout; close through a queue
     * of our own instead, serving it (rebalance callbacks run from here) until the deadline. */
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(c->rk, q);
    int rc = 0;

    if (e) {
        rc =
            cs_err_set(err, CS_ERR_TRANSIENT, "kafka consumer close: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_queue_destroy(q);
        return rc;
    }
    while (!rd_kafka_consumer_closed(c->rk)) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 50);
        if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
            /* Served as an event on this queue, not through the callback: handle it the same
             * way, or the close never completes. */
            rebalance_cb(c->rk, rd_kafka_event_error(ev),
                         (rd_kafka_topic_partition_list_t *)rd_kafka_event_topic_partition_list(ev),
                         c);
        }
        if (ev)
            rd_kafka_event_destroy(ev);
        if (mono_s() >= deadline) {
            c->close_abandoned = true;
            rc = cs_err_set(err, CS_ERR_TRANSIENT,
                            "leaving the consumer group took more than %d ms; abandoned (the "
                            "group rebalances when the session times out)",
                            timeout_ms);
            break;
        }
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

/* ---- for the unit tests (internal.h) ---- */

void cs__consumer_reservoir_push(cs_consumer_t *c, cs_msg_t *m)
{
    reservoir_push(&c->rv, (msg_copy_t *)m);
}

void cs__consumer_reservoir_drop(cs_consumer_t *c, const rd_kafka_topic_partition_list_t *parts)
{
    reservoir_drop(c, parts);
}

cs_tp_t *cs__consumer_tps_from(const rd_kafka_topic_partition_list_t *parts)
{
    return tps_from(parts);
}

rd_kafka_topic_partition_list_t *cs__consumer_list_from(const cs_tp_t *tps, int n, bool offsets)
{
    return list_from(tps, n, offsets);
}

rd_kafka_t *cs__consumer_rk(cs_consumer_t *c)
{
    return c->rk;
}

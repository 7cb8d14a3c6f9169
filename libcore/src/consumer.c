/*
 * libcore/src/consumer.c
 *      librdkafka high-level consumer set up for offsets stored in PostgreSQL.
 *
 * The main queue is forwarded to the consumer queue (rd_kafka_poll_set_consumer), so messages,
 * rebalance callbacks, errors and logs are all served by rd_kafka_consumer_poll() on the caller's
 * loop thread. The queue writes one byte to a non-blocking pipe when it turns non-empty; the
 * caller's libev watcher on the read end wakes the loop: no busy polling, no sleeping.
 *
 * Prefetch memory is bounded (queued.max.messages.kbytes, fetch.max.bytes,
 * max.partition.fetch.bytes) so a worker stays well under its RSS budget whatever the backlog.
 * librdkafka 2.0.2's batch consume APIs are avoided on purpose (known to misbehave across
 * rebalances); one message per rd_kafka_consumer_poll() call.
 */
#include "cs/consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cs/log.h"

struct cs_consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int pipefd[2];
    cs_consumer_cbs_t cbs;
    bool cooperative;
    bool all_down;
    bool close_abandoned; /* destroy without leaving the group again */
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        cs_log_error("librdkafka", CS_LS("facility", fac), CS_LS("detail", buf));
    else if (level <= 4)
        cs_log_warn("librdkafka", CS_LS("facility", fac), CS_LS("detail", buf));
    else if (level <= 6)
        cs_log_info("librdkafka", CS_LS("facility", fac), CS_LS("detail", buf));
    else
        cs_log_debug("librdkafka", CS_LS("facility", fac), CS_LS("detail", buf));
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

int cs__kafka_conf_props(void *rkconf, const char *kafka_props, cs_err_t *err)
{
    rd_kafka_conf_t *conf = rkconf;
    char *props, *save = NULL;
    int rc = 0;

    if (!kafka_props || !*kafka_props)
        return 0;
    props = strdup(kafka_props);
    if (!props)
        abort();
    for (char *kv = strtok_r(props, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');

        if (!eq || eq == kv) {
            rc = cs_err_set_field(err, CS_ERR_FATAL, "kafka-props",
                                  "kafka-props: '%.64s' is not name=value", kv);
            break;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(conf, kv, eq + 1, NULL, 0) != RD_KAFKA_CONF_OK) {
            /* The value may be a secret: name the property only. */
            rc = cs_err_set_field(err, CS_ERR_FATAL, "kafka-props",
                                  "kafka-props: librdkafka refuses property '%.64s' or its value",
                                  kv);
            break;
        }
    }
    free(props);
    return rc;
}

static cs_tp_t *tps_from(const rd_kafka_topic_partition_list_t *parts)
{
    cs_tp_t *tps = calloc((size_t)(parts->cnt ? parts->cnt : 1), sizeof *tps);
    if (!tps)
        abort();
    for (int i = 0; i < parts->cnt; i++) {
        tps[i].topic = parts->elems[i].topic;
        tps[i].partition = parts->elems[i].partition;
        tps[i].offset = CS_OFFSET_DEFAULT;
    }
    return tps;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    cs_consumer_t *c = opaque;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    cs_tp_t *tps = tps_from(parts);

    c->cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (c->cbs.assign && parts->cnt > 0)
            c->cbs.assign(c->cbs.ud, tps, parts->cnt);
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
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        bool lost = rd_kafka_assignment_lost(rk) != 0;
        if (c->cbs.revoke && parts->cnt > 0)
            c->cbs.revoke(c->cbs.ud, tps, parts->cnt, lost);
        if (c->cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            rerr = rd_kafka_assign(rk, NULL);
    } else {
        cs_log_error("kafka rebalance failed", CS_LS("error", rd_kafka_err2name(err)));
        if (c->cbs.revoke && parts && parts->cnt > 0)
            c->cbs.revoke(c->cbs.ud, tps, parts->cnt, true);
        rerr = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        cs_log_error("kafka assignment failed", CS_LS("error", rd_kafka_error_string(error)));
        rd_kafka_error_destroy(error);
    }
    if (rerr)
        cs_log_error("kafka assignment failed", CS_LS("error", rd_kafka_err2str(rerr)));
    free(tps);
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

cs_consumer_t *cs_consumer_new(const cs_consumer_conf_t *cf, const cs_consumer_cbs_t *cbs,
                               cs_err_t *err)
{
    cs_consumer_t *c = calloc(1, sizeof *c);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *sub = NULL;
    char errstr[512];

    if (!c)
        abort();
    c->pipefd[0] = c->pipefd[1] = -1;
    if (cbs)
        c->cbs = *cbs;
    if (!cf->brokers || !*cf->brokers) {
        cs_err_set_field(err, CS_ERR_FATAL, "kafka-brokers", "no kafka brokers configured");
        goto fail;
    }
    if (set(conf, "bootstrap.servers", cf->brokers, err) < 0 ||
        set(conf, "group.id", cf->group, err) < 0 ||
        set(conf, "client.id", cf->client_id ? cf->client_id : "careerstream", err) < 0 ||
        set(conf, "enable.auto.commit", "false", err) < 0 ||
        set(conf, "enable.auto.offset.store", "false", err) < 0 ||
        set(conf, "auto.offset.reset", "earliest", err) < 0 ||
        set(conf, "partition.assignment.strategy",
            cf->assignment_strategy ? cf->assignment_strategy : "cooperative-sticky", err) < 0 ||
        set(conf, "enable.partition.eof", cf->partition_eof ? "true" : "false", err) < 0 ||
        seti(conf, "queued.max.messages.kbytes",
             cf->queued_max_kbytes > 0 ? cf->queued_max_kbytes : 8192, err) < 0 ||
        /*
         * The prefetch bound, in messages (librdkafka keeps ~300 bytes of bookkeeping per message
         * besides the payload). 2.0.2 looks at a full queue again only about once a second, so
         * the queue must hold around a second of work or the loop starves: 30,000 messages keep
         * 50,000 events/s fed and a worker under 48 MiB RSS (measured: bench/README.md).
         */
        seti(conf, "queued.min.messages", 30000, err) < 0 ||
        seti(conf, "fetch.max.bytes", cf->fetch_max_bytes > 0 ? cf->fetch_max_bytes : 1 << 20,
             err) < 0 ||
        seti(conf, "max.partition.fetch.bytes", 512 * 1024, err) < 0 ||
        seti(conf, "receive.message.max.bytes", 2 << 20, err) < 0 ||
        set(conf, "allow.auto.create.topics", "true", err) < 0)
        goto fail;
    if (cf->session_timeout_ms > 0 &&
        (seti(conf, "session.timeout.ms", cf->session_timeout_ms, err) < 0 ||
         seti(conf, "heartbeat.interval.ms",
              cf->session_timeout_ms / 3 < 3000 ? cf->session_timeout_ms / 3 : 3000, err) < 0))
        goto fail;
    if (cf->max_poll_interval_ms > 0 &&
        seti(conf, "max.poll.interval.ms", cf->max_poll_interval_ms, err) < 0)
        goto fail;
    /* librdkafka debug contexts for troubleshooting (e.g. CS_KAFKA_DEBUG=cgrp,fetch). */
    const char *dbg = getenv("CS_KAFKA_DEBUG");
    if (dbg && *dbg && set(conf, "debug", dbg, err) < 0)
        goto fail;
    /* The embedded mock broker does not wake a waiting fetch when data arrives, so the wait
     * bounds end-to-end latency there; real Kafka answers as soon as data is there either way. */
    if (seti(conf, "fetch.wait.max.ms", cf->fetch_wait_max_ms > 0 ? cf->fetch_wait_max_ms : 10,
             err) < 0)
        goto fail;
    if (cs__kafka_conf_props(conf, cf->kafka_props, err) < 0)
        goto fail;
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c);

    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        cs_err_set(err, CS_ERR_FATAL, "kafka consumer: %s", errstr);
        goto fail;
    }
    conf = NULL; /* owned by rk */
    rd_kafka_poll_set_consumer(c->rk);
    c->q = rd_kafka_queue_get_consumer(c->rk);
    if (pipe(c->pipefd) < 0) {
        cs_err_set(err, CS_ERR_FATAL, "pipe: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(c->pipefd[i], F_SETFL, fcntl(c->pipefd[i], F_GETFL) | O_NONBLOCK);
        fcntl(c->pipefd[i], F_SETFD, FD_CLOEXEC);
    }
    rd_kafka_queue_io_event_enable(c->q, c->pipefd[1], "1", 1);

    int nt = 0;
    while (cf->topics && cf->topics[nt])
        nt++;
    if (nt == 0) {
        cs_err_set_field(err, CS_ERR_FATAL, "topics", "no topics to consume");
        goto fail;
    }
    sub = rd_kafka_topic_partition_list_new(nt);
    for (int i = 0; i < nt; i++)
        rd_kafka_topic_partition_list_add(sub, cf->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t rerr = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (rerr) {
        cs_err_set(err, CS_ERR_FATAL, "kafka subscribe: %s", rd_kafka_err2str(rerr));
        goto fail;
    }
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
    if (c->q) {
        rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
        rd_kafka_queue_destroy(c->q);
    }
    if (c->rk) {
        /* After an abandoned leave, librdkafka's destroy can wait (or spin) on the very
         * rebalance that hung; the caller is exiting, so the handle is left to process exit. */
        if (!c->close_abandoned)
            rd_kafka_destroy(c->rk);
    }
    for (int i = 0; i < 2; i++)
        if (c->pipefd[i] >= 0)
            close(c->pipefd[i]);
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

cs_msg_t *cs_consumer_poll(cs_consumer_t *c)
{
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, 0);
    if (!rkm)
        return NULL;
    cs_msg_t *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    m->rkmsg_ = rkm;
    m->topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "";
    m->partition = rkm->partition;
    m->offset = rkm->offset;
    m->payload = rkm->payload;
    m->len = rkm->len;
    m->key = rkm->key;
    m->key_len = rkm->key_len;
    m->timestamp_ms = rd_kafka_message_timestamp(rkm, NULL);
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        m->event = CS_MSG_EOF;
    } else if (rkm->err) {
        m->event = CS_MSG_ERROR;
        cs_err_kind_t kind = CS_ERR_TRANSIENT;
        if (rkm->err == RD_KAFKA_RESP_ERR__FATAL ||
            rkm->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
            rkm->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
            kind = CS_ERR_FATAL;
        cs_err_set(&m->err, kind, "%s: %s", rd_kafka_err2name(rkm->err),
                   rd_kafka_message_errstr(rkm));
    } else {
        c->all_down = false; /* a message arrived: at least one broker is up */
    }
    return m;
}

void cs_consumer_msg_free(cs_msg_t *m)
{
    if (!m)
        return;
    rd_kafka_message_destroy(m->rkmsg_);
    free(m);
}

const void *cs_consumer_msg_header(const cs_msg_t *m, const char *name, size_t *len)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m->rkmsg_, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (rd_kafka_header_get_last(hdrs, name, &val, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (len)
        *len = n;
    return val;
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
    rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 0);
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
    *lo = l;
    *hi = h;
}

int cs_consumer_query_watermarks(cs_consumer_t *c, const char *topic, int partition, int timeout_ms,
                                 int64_t *lo, int64_t *hi)
{
    int64_t l = -1, h = -1;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(c->rk, topic, partition, &l, &h, timeout_ms);
    if (e)
        return -1;
    *lo = l;
    *hi = h;
    return 0;
}

bool cs_consumer_connected(const cs_consumer_t *c)
{
    return !c->all_down;
}

int cs_consumer_close(cs_consumer_t *c, int timeout_ms, cs_err_t *err)
{
    /* rd_kafka_consumer_close() may block for the whole session timeout; close through a queue
     * of our own instead, serving it (rebalance callbacks run from here) until a deadline. */
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_error_t *e = rd_kafka_consumer_close_queue(c->rk, q);
    struct timespec ts;
    int rc = 0;

    if (e) {
        rc =
            cs_err_set(err, CS_ERR_TRANSIENT, "kafka consumer close: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_queue_destroy(q);
        return rc;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double deadline = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + timeout_ms / 1000.0;
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
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 >= deadline) {
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

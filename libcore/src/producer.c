/*
 * libcore/src/producer.c
 *      The careerstream producer: codec + librdkafka idempotent producer, keyed by user_id.
 *
 * One rd_kafka_t per cs_producer_t. The user's opaque travels as librdkafka's per-message
 * opaque, so delivery reports cost no allocation; the delivery-report callback runs inside
 * rd_kafka_poll()/rd_kafka_flush(), i.e. inside cs_producer_poll/flush/destroy on the caller's
 * thread, and turns librdkafka's error into a classified cs_err_t. librdkafka's error callback
 * only records fatal errors (an idempotent producer can hit one, e.g. after an unrecoverable
 * sequence gap); after that every send fails FATAL.
 */
#include "cs/producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "cs/log.h"
#include "cs/mem.h"
#include "internal.h"

struct cs_producer {
    rd_kafka_t *rk;
    cs_codec_t *codec;
    cs_buf_t buf; /* the encoding of the message being sent, reused */
    int queue_full_wait_ms;
    int close_timeout_ms;
    cs_producer_delivery_cb_t on_delivery;
    void *cb_ctx;
    uint64_t queued, delivered, failed;
    int fatal;
    char fatal_msg[256];
};

/* librdkafka's delivery errors, classified for the caller. */
static cs_err_kind_t classify(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return CS_ERR_PERMANENT;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return CS_ERR_FATAL;
    default:
        return CS_ERR_TRANSIENT; /* timed out, purged, broker down: the event may be sent again */
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    cs_producer_t *p = opaque;
    cs_delivery_t d = {m->_private, rd_kafka_topic_name(m->rkt), m->partition, m->offset, NULL};
    cs_err_t err;
    (void)rk;
    if (m->err) {
        cs_err_set(&err, classify(m->err), "delivery to %s failed: %s", d.topic,
                   rd_kafka_err2str(m->err));
        d.err = &err;
        p->failed++;
    } else {
        p->delivered++;
    }
    if (p->on_delivery)
        p->on_delivery(&d, p->cb_ctx);
}

static void error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    cs_producer_t *p = opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        snprintf(p->fatal_msg, sizeof p->fatal_msg, "%s", buf);
        p->fatal = 1;
        cs_log_error("producer fatal error", CS_LS("reason", buf));
    } else {
        /* Transport errors recover by themselves; librdkafka retries. */
        cs_log_debug("producer error", CS_LS("error", rd_kafka_err2name((rd_kafka_resp_err_t)code)),
                     CS_LS("reason", reason));
    }
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value, cs_err_t *err)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return cs_err_set_field(err, CS_ERR_FATAL, name, "producer setting %s refused: %s", name,
                                errstr);
    return 0;
}

/*
 * The producer's settings: idempotent with acks=all, lz4 unless o says otherwise, murmur2 keys
 * as the Java client, then o's name=value properties, which override.
 */
static int producer_conf(rd_kafka_conf_t *conf, const cs_producer_opts_t *o, cs_err_t *err)
{
    char num[32];

    snprintf(num, sizeof num, "%d", o->linger_ms == 0 ? 10 : o->linger_ms < 0 ? 0 : o->linger_ms);
    if (set(conf, "bootstrap.servers", o->brokers, err) < 0 ||
        set(conf, "client.id", o->client_id && *o->client_id ? o->client_id : "careerstream", err) <
            0 ||
        set(conf, "enable.idempotence", "true", err) < 0 || set(conf, "acks", "all", err) < 0 ||
        set(conf, "linger.ms", num, err) < 0 ||
        set(conf, "compression.type", o->compression && *o->compression ? o->compression : "lz4",
            err) < 0 ||
        set(conf, "partitioner", "murmur2_random", err) < 0 ||
        set(conf, "batch.num.messages", "10000", err) < 0 ||
        set(conf, "queue.buffering.max.messages", "500000", err) < 0)
        return -1;
    for (const char *const *kv = o->kafka_props; kv && *kv; kv++) {
        const char *eq = strchr(*kv, '=');
        char name[128];
        if (!eq || eq == *kv || (size_t)(eq - *kv) >= sizeof name)
            return cs_err_set(err, CS_ERR_FATAL, "producer property '%.40s' is not name=value",
                              *kv);
        snprintf(name, sizeof name, "%.*s", (int)(eq - *kv), *kv);
        if (set(conf, name, eq + 1, err) < 0)
            return -1;
    }
    return 0;
}

cs_producer_t *cs_producer_new_opts(const cs_producer_opts_t *o, cs_err_t *err)
{
    cs_producer_t *p = NULL;
    rd_kafka_conf_t *conf = NULL;
    char errstr[512];

    if (!o || !o->brokers || !*o->brokers) {
        cs_err_set_field(err, CS_ERR_FATAL, "kafka-brokers", "no Kafka brokers configured");
        return NULL;
    }
    p = cs_mem_calloc(1, sizeof *p);
    cs_buf_init(&p->buf);
    p->queue_full_wait_ms = o->queue_full_wait_ms > 0 ? o->queue_full_wait_ms : 1000;
    p->close_timeout_ms = o->close_timeout_ms > 0 ? o->close_timeout_ms : 30000;
    p->on_delivery = o->on_delivery;
    p->cb_ctx = o->cb_ctx;
    p->codec = cs_codec_new(err);
    if (!p->codec)
        goto fail;

    conf = rd_kafka_conf_new();
    if (producer_conf(conf, o, err) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    /* librdkafka's own log lines, as careerstream's (it would print raw text). */
    rd_kafka_conf_set_log_cb(conf, cs__kafka_log_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p->rk) {
        cs_err_set(err, CS_ERR_FATAL, "cannot create the Kafka producer: %s", errstr);
        goto fail;
    }
    conf = NULL; /* owned by rk */
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    cs_codec_destroy(p->codec);
    cs_buf_fini(&p->buf);
    free(p);
    return NULL;
}

cs_producer_t *cs_producer_new(const char *brokers, const char *client_id, cs_err_t *err)
{
    cs_producer_opts_t o = {.brokers = brokers, .client_id = client_id};
    return cs_producer_new_opts(&o, err);
}

void cs_producer_on_delivery(cs_producer_t *p, cs_producer_delivery_cb_t cb, void *ctx)
{
    p->on_delivery = cb;
    p->cb_ctx = ctx;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Produces one message; headers are owned by this function from here on. */
static int produce(cs_producer_t *p, const char *topic, const void *key, size_t key_len,
                   const void *value, size_t len, rd_kafka_headers_t *hdrs, void *opaque,
                   cs_err_t *err)
{
    int64_t deadline = 0;
    if (p->fatal) {
        rd_kafka_headers_destroy(hdrs);
        return cs_err_set(err, CS_ERR_FATAL, "the producer has failed: %s", p->fatal_msg);
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (!e) {
            p->queued++;
            return 0; /* hdrs now owned by the message */
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_headers_destroy(hdrs);
            return cs_err_set(err, classify(e), "cannot queue a message for %s: %s", topic,
                              rd_kafka_err2str(e));
        }
        if (!deadline)
            deadline = now_ms() + p->queue_full_wait_ms;
        if (now_ms() >= deadline) {
            rd_kafka_headers_destroy(hdrs);
            return cs_err_set(err, CS_ERR_TRANSIENT,
                              "the producer queue stayed full for %d ms (%d messages queued)",
                              p->queue_full_wait_ms, rd_kafka_outq_len(p->rk));
        }
        rd_kafka_poll(p->rk, 10); /* deliveries make room */
    }
}

/*
 * The Kafka key of an event: its user_id as canonical lower-case uuid text, the very bytes the
 * encoder writes into the envelope. A key spelled the way the caller happened to (upper-case
 * hex) would hash to another partition, so one learner's events would lose their order.
 * user_id has been validated as a uuid (36 ASCII characters) by the encoder.
 */
static void event_key(const cs_event_t *ev, char key[37])
{
    for (int i = 0; i < 36; i++) {
        char c = ev->user_id[i];
        key[i] = (char)(c >= 'A' && c <= 'F' ? c + ('a' - 'A') : c);
    }
    key[36] = '\0';
}

int cs_producer_send_to(cs_producer_t *p, const char *topic, const cs_event_t *ev, void *opaque,
                        cs_err_t *err)
{
    char fp[17], key[37];
    cs_buf_reset(&p->buf);
    if (cs_codec_encode(p->codec, ev, &p->buf, err) < 0)
        return -1;
    event_key(ev, key);
    if (!topic)
        topic = cs_codec_type_topic(ev->type);
    cs_codec_fingerprint_hex(cs_codec_type_fingerprint(ev->type, 0), fp);
    rd_kafka_headers_t *h = rd_kafka_headers_new(3);
    rd_kafka_header_add(h, "cs.event_type", -1, cs_codec_type_name(ev->type), -1);
    rd_kafka_header_add(h, "cs.schema_fingerprint", -1, fp, 16);
    if (ev->traceparent && ev->traceparent[0])
        rd_kafka_header_add(h, "traceparent", -1, ev->traceparent, -1);
    return produce(p, topic, key, 36, p->buf.data, p->buf.len, h, opaque, err);
}

int cs_producer_send(cs_producer_t *p, const cs_event_t *ev, void *opaque, cs_err_t *err)
{
    return cs_producer_send_to(p, NULL, ev, opaque, err);
}

int cs_producer_send_raw(cs_producer_t *p, const char *topic, const void *key, size_t key_len,
                         const void *value, size_t len, const cs_header_t *headers, int nheaders,
                         void *opaque, cs_err_t *err)
{
    if (!topic || !*topic)
        return cs_err_set_field(err, CS_ERR_PERMANENT, "topic", "no topic given");
    rd_kafka_headers_t *h = rd_kafka_headers_new((size_t)(nheaders > 0 ? nheaders : 1));
    for (int i = 0; i < nheaders; i++)
        rd_kafka_header_add(h, headers[i].name, -1, headers[i].value, (ssize_t)headers[i].len);
    return produce(p, topic, key, key_len, value, len, h, opaque, err);
}

int cs_producer_poll(cs_producer_t *p, int timeout_ms)
{
    return rd_kafka_poll(p->rk, timeout_ms);
}

int cs_producer_flush(cs_producer_t *p, int timeout_ms, cs_err_t *err)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    if (e)
        return cs_err_set(err, CS_ERR_TRANSIENT, "%zu messages still undelivered after %d ms",
                          cs_producer_outstanding(p), timeout_ms);
    return 0;
}

size_t cs_producer_outstanding(const cs_producer_t *p)
{
    /* Our own count: rd_kafka_outq_len() also counts internal requests and events. */
    return (size_t)(p->queued - p->delivered - p->failed);
}

uint64_t cs_producer_delivered(const cs_producer_t *p)
{
    return p->delivered;
}
uint64_t cs_producer_failed(const cs_producer_t *p)
{
    return p->failed;
}

void cs_producer_destroy(cs_producer_t *p)
{
    if (!p)
        return;
    if (rd_kafka_flush(p->rk, p->close_timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cs_log_warn("producer closing with undelivered messages",
                    CS_LI("messages", cs_producer_outstanding(p)));
        /* Report the rest as failed rather than lose them silently. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0);
    }
    rd_kafka_destroy(p->rk);
    cs_codec_destroy(p->codec);
    cs_buf_fini(&p->buf);
    free(p);
}

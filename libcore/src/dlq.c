/*
 * libcore/src/dlq.c
 *      The dead-letter publisher and recorder behind cs/dlq.h.
 *
 * Publishing is synchronous from the caller's point of view: produce every dead letter of the
 * batch, then rd_kafka_flush() until all are acknowledged or the timeout passes. On timeout the
 * queued messages are purged so a later retry of the batch does not pile duplicates behind a
 * broker outage. Delivery results come back through the delivery report callback, which runs
 * inside rd_kafka_flush() on the caller's thread and counts failures in the publisher.
 */
#include "cs/dlq.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/buf.h"
#include "cs/db.h"
#include "cs/log.h"
#include "cs/mem.h"
#include "internal.h"

struct cs_dlq {
    rd_kafka_t *rk;
    rd_kafka_conf_t *conf; /* a copy, to create the producer again (reset_producer) */
    char *worker;
    char *group;
    int failed; /* delivery failures of the current publish */
    char last_error[256];
    cs_buf_t copy; /* COPY rows for cs_dlq_record */
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    cs_dlq_t *q = opaque;
    if (m->err) {
        q->failed++;
        snprintf(q->last_error, sizeof q->last_error, "%s", rd_kafka_err2str(m->err));
    }
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        cs_log_warn("librdkafka dead-letter producer", CS_LS("facility", fac),
                    CS_LS("detail", buf));
    else
        cs_log_debug("librdkafka dead-letter producer", CS_LS("facility", fac),
                     CS_LS("detail", buf));
}

cs_dlq_t *cs_dlq_new(const char *brokers, const char *kafka_props, const char *worker,
                     const char *group, cs_err_t *err)
{
    cs_dlq_t *q = cs_mem_calloc(1, sizeof *q);
    rd_kafka_conf_t *conf = NULL;
    char errstr[512];
    static const char *const kv[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "5"},
        {"message.timeout.ms", "30000"},
        {"queue.buffering.max.kbytes", "8192"},
    };

    q->worker = cs_mem_strdup(worker);
    q->group = cs_mem_strdup(group);
    cs_buf_init(&q->copy);
    conf = cs__kafka_conf_new(brokers, kv, sizeof kv / sizeof kv[0], kafka_props, err);
    if (!conf)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_opaque(conf, q);
    q->conf = rd_kafka_conf_dup(conf);
    q->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!q->rk) {
        cs_err_set(err, CS_ERR_FATAL, "kafka producer: %s", errstr);
        goto fail;
    }
    return q;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    cs_dlq_destroy(q);
    return NULL;
}

void cs_dlq_destroy(cs_dlq_t *q)
{
    if (!q)
        return;
    if (q->rk) {
        rd_kafka_flush(q->rk, 5000);
        rd_kafka_destroy(q->rk);
    }
    if (q->conf)
        rd_kafka_conf_destroy(q->conf);
    cs_buf_fini(&q->copy);
    free(q->worker);
    free(q->group);
    free(q);
}

const char *cs_dlq_topic(const char *topic, char *buf, size_t size)
{
    snprintf(buf, size, "%s.dlq", topic);
    return buf;
}

const char *cs_dlq_codec_class(const cs_err_t *err)
{
    static const char *const decode_fields[] = {"",       "message",  "fingerprint", "marker",
                                                "schema", "encoding", NULL};
    for (int i = 0; decode_fields[i]; i++)
        if (strcmp(err->field, decode_fields[i]) == 0)
            return "decode";
    return "validation";
}

/*
 * Abandons whatever the producer still holds and starts a new one. An idempotent producer must not
 * skip sequence numbers: purging messages the partition leader never stored (librdkafka 2.0.2
 * moves the epoch's base only for aborted transactions) makes the next request to that
 * partition fail OUT_OF_ORDER_SEQUENCE_NUMBER, a fatal error after which every send fails. A new
 * producer has a new producer id and starts its sequences at 0.
 */
static int reset_producer(cs_dlq_t *q, cs_err_t *err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(q->conf);

    rd_kafka_purge(q->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(q->rk, 0);
    rd_kafka_destroy(q->rk);
    q->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!q->rk) {
        rd_kafka_conf_destroy(conf);
        return cs_err_set(err, CS_ERR_FATAL, "kafka producer: %s", errstr);
    }
    return 0;
}

static void hdr(rd_kafka_headers_t *h, const char *name, const char *v)
{
    if (v && *v)
        rd_kafka_header_add(h, name, -1, v, -1);
}

static void hdri(rd_kafka_headers_t *h, const char *name, long long v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    rd_kafka_header_add(h, name, -1, s, -1);
}

int cs_dlq_publish(cs_dlq_t *q, const cs_dead_letter_t *dl, int n, int timeout_ms, cs_err_t *err)
{
    char topic[300];
    q->failed = 0;
    q->last_error[0] = '\0';
    for (int i = 0; i < n; i++) {
        const cs_dead_letter_t *d = &dl[i];
        rd_kafka_headers_t *h = rd_kafka_headers_new(16);
        hdr(h, "cs-error-class", d->error_class);
        hdr(h, "cs-error-reason", d->reason);
        hdr(h, "cs-error-field", d->field);
        hdr(h, "cs-error-sqlstate", d->sqlstate);
        hdr(h, "cs-original-topic", d->topic);
        hdri(h, "cs-original-partition", d->partition);
        hdri(h, "cs-original-offset", d->offset);
        hdri(h, "cs-original-timestamp", d->timestamp_ms);
        hdr(h, "cs-worker", q->worker);
        hdr(h, "cs-group", q->group);
        hdri(h, "cs-attempt", d->attempt);
        hdr(h, "cs-event-id", d->event_id);
        hdr(h, "cs-event-type", d->event_type);
        hdr(h, "cs-user-id", d->user_id);
        if (d->schema_version > 0)
            hdri(h, "cs-schema-version", d->schema_version);
        hdr(h, "traceparent", d->traceparent);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            q->rk, RD_KAFKA_V_TOPIC(cs_dlq_topic(d->topic, topic, sizeof topic)),
            RD_KAFKA_V_KEY((void *)d->key, d->key_len),
            RD_KAFKA_V_VALUE((void *)d->payload, d->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e) {
            rd_kafka_headers_destroy(h);
            if (reset_producer(q, err) < 0)
                return -1;
            return cs_err_set(err, CS_ERR_TRANSIENT, "dead-letter publish to %s: %s", topic,
                              rd_kafka_err2str(e));
        }
        /* h is owned by the message now */
    }
    rd_kafka_resp_err_t fe = rd_kafka_flush(q->rk, timeout_ms);
    if (fe == RD_KAFKA_RESP_ERR__TIMED_OUT || q->failed) {
        char why[300];

        if (fe == RD_KAFKA_RESP_ERR__TIMED_OUT)
            snprintf(why, sizeof why, "not acknowledged within %d ms", timeout_ms);
        else
            snprintf(why, sizeof why, "%d not delivered: %s", q->failed, q->last_error);
        if (reset_producer(q, err) < 0)
            return -1;
        return cs_err_set(err, CS_ERR_TRANSIENT, "dead-letter publish: %s", why);
    }
    return 0;
}

static void put_text(cs_buf_t *b, const char *s)
{
    if (!s || !*s) {
        cs_buf_puts(b, "\\N");
        return;
    }
    size_t n = strlen(s);
    char *p = cs_buf_reserve(b, 2 * n + 1);
    cs_buf_advance(b, cs_db_copy_escape(p, s, n));
}

static void put_bytea(cs_buf_t *b, const void *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!data) {
        cs_buf_puts(b, "\\N");
        return;
    }
    const unsigned char *p = data;
    char *o = cs_buf_reserve(b, 3 + 2 * len);
    o[0] = '\\', o[1] = '\\', o[2] = 'x';
    for (size_t i = 0; i < len; i++) {
        o[3 + 2 * i] = hex[p[i] >> 4];
        o[4 + 2 * i] = hex[p[i] & 15];
    }
    cs_buf_advance(b, 3 + 2 * len);
}

static void put_ts(cs_buf_t *b, int64_t ms)
{
    if (ms < 0) {
        cs_buf_puts(b, "\\N");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    cs_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int cs_dlq_record(cs_dlq_t *q, cs_db_t *db, const cs_dead_letter_t *dl, int n, cs_err_t *err)
{
    char topic[300];
    cs_buf_t *b = &q->copy;
    if (n == 0)
        return 0;
    cs_buf_reset(b);
    for (int i = 0; i < n; i++) {
        const cs_dead_letter_t *d = &dl[i];
        put_text(b, q->group);
        cs_buf_putc(b, '\t');
        put_text(b, q->worker);
        cs_buf_putc(b, '\t');
        put_text(b, d->topic);
        cs_buf_printf(b, "\t%d\t%lld\t", d->partition, (long long)d->offset);
        put_ts(b, d->timestamp_ms);
        cs_buf_putc(b, '\t');
        put_text(b, cs_dlq_topic(d->topic, topic, sizeof topic));
        cs_buf_putc(b, '\t');
        put_text(b, d->error_class);
        cs_buf_putc(b, '\t');
        put_text(b, d->reason ? d->reason : "unknown");
        cs_buf_putc(b, '\t');
        put_text(b, d->field);
        cs_buf_putc(b, '\t');
        put_text(b, d->sqlstate);
        cs_buf_putc(b, '\t');
        put_text(b, d->event_id);
        cs_buf_putc(b, '\t');
        put_text(b, d->event_type);
        cs_buf_putc(b, '\t');
        put_text(b, d->traceparent);
        cs_buf_printf(b, "\t%d\t", d->attempt);
        put_bytea(b, d->key, d->key_len);
        cs_buf_putc(b, '\t');
        put_bytea(b, d->payload, d->len);
        cs_buf_putc(b, '\n');
    }
    if (cs_db_copy_begin(db,
                         "COPY dead_letters (consumer_group, worker, topic, kafka_partition, "
                         "kafka_offset, msg_timestamp, dlq_topic, error_class, reason, field, "
                         "sqlstate, event_id, event_type, traceparent, attempt, msg_key, payload) "
                         "FROM STDIN",
                         err) < 0)
        return cs_err_wrap(err, "recording dead letters");
    int put_failed = cs_db_copy_put(db, b->data, b->len, err) < 0;
    cs_err_t e2;
    cs_err_clear(&e2);
    if (cs_db_copy_end(db, put_failed ? &e2 : err) < 0 || put_failed)
        return cs_err_wrap(err, "recording dead letters");
    return 0;
}

/*
 * libcore/src/dlq.c
 *      The dead-letter publisher and recorder behind cs/dlq.h.
 *
 * Publishing waits, from the caller's point of view: produce every dead letter of the batch,
 * then serve the producer (rd_kafka_flush) until all are acknowledged or the caller's wait
 * passes. Delivery results come back through the delivery report callback, which runs inside
 * rd_kafka_flush() on the caller's thread.
 *
 * A wait that passes does not abandon the messages: each dead letter sent is remembered by its
 * original message (topic, partition, offset) until it is acknowledged and a publish call has
 * seen so, and a later call for the same dead letter (the batch retried after its rollback)
 * waits for the message already in flight instead of producing it again. So a caller can wait
 * briefly (the event loop must not sit in a flush while a broker is away) and retry, with no
 * duplicate piled up per retry. Only a delivery that failed (message.timeout.ms passed, or an
 * error) abandons what the producer holds and starts a new producer (reset_producer); the
 * batch's next attempt publishes again.
 *
 * Recording reads the erasure ledger first, in the caller's transaction, and scrubs the dead
 * letters of erased learners (cs/dlq.h): the same transaction commits the row without payload
 * and the offsets past the event, and the publish that follows sends no payload either.
 */
#include "cs/dlq.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/buf.h"
#include "cs/db.h"
#include "cs/log.h"
#include "cs/mem.h"
#include "cs/text.h"
#include "internal.h"

/* A dead letter produced and not yet known acknowledged by a publish call (see the top). */
enum { SENT_FLIGHT, SENT_OK, SENT_FAILED };
typedef struct sent {
    char *topic; /* the original message's */
    int partition;
    int64_t offset;
    int state; /* SENT_*, set by dr_cb */
} sent_t;

struct cs_dlq {
    rd_kafka_t *rk;
    sent_t **sent; /* the message's opaque points to its entry: entries never move */
    int nsent, capsent;
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
    sent_t *s = m->_private;
    if (s)
        s->state = m->err ? SENT_FAILED : SENT_OK;
    if (m->err) {
        q->failed++;
        snprintf(q->last_error, sizeof q->last_error, "%s", rd_kafka_err2str(m->err));
    }
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
        {"client.id", "careerstream-dead-letters"}, /* names it in librdkafka's log lines */
    };

    q->worker = cs_mem_strdup(worker);
    q->group = cs_mem_strdup(group);
    cs_buf_init(&q->copy);
    conf = cs__kafka_conf_new(brokers, kv, sizeof kv / sizeof kv[0], kafka_props, err);
    if (!conf)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
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

/* Forgets entry i (its message is acknowledged, failed, or the producer that held it is gone). */
static void sent_remove(cs_dlq_t *q, int i)
{
    free(q->sent[i]->topic);
    free(q->sent[i]);
    q->sent[i] = q->sent[--q->nsent];
}

static sent_t *sent_find(cs_dlq_t *q, const cs_dead_letter_t *d)
{
    for (int i = 0; i < q->nsent; i++) {
        sent_t *s = q->sent[i];
        if (s->partition == d->partition && s->offset == d->offset && !strcmp(s->topic, d->topic))
            return s;
    }
    return NULL;
}

static sent_t *sent_add(cs_dlq_t *q, const cs_dead_letter_t *d)
{
    if (q->nsent == q->capsent) {
        q->capsent = q->capsent ? 2 * q->capsent : 16;
        q->sent = cs_mem_realloc(q->sent, (size_t)q->capsent * sizeof *q->sent);
    }
    sent_t *s = cs_mem_calloc(1, sizeof *s);
    s->topic = cs_mem_strdup(d->topic);
    s->partition = d->partition;
    s->offset = d->offset;
    s->state = SENT_FLIGHT;
    q->sent[q->nsent++] = s;
    return s;
}

void cs_dlq_destroy(cs_dlq_t *q)
{
    if (!q)
        return;
    if (q->rk) {
        rd_kafka_flush(q->rk, 5000);
        rd_kafka_destroy(q->rk);
    }
    /* No delivery report can come any more. */
    while (q->nsent)
        sent_remove(q, 0);
    free(q->sent);
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
    /* Its messages are gone with it (no delivery report can come any more): sent again. */
    while (q->nsent)
        sent_remove(q, 0);
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

rd_kafka_headers_t *cs__dlq_headers(const char *worker, const char *group,
                                    const cs_dead_letter_t *d)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(16);
    if (d->erased)
        hdr(h, "cs-erased", "true");
    hdr(h, "cs-error-class", d->error_class);
    hdr(h, "cs-error-reason", d->reason);
    hdr(h, "cs-error-field", d->field);
    hdr(h, "cs-error-sqlstate", d->sqlstate);
    hdr(h, "cs-original-topic", d->topic);
    hdri(h, "cs-original-partition", d->partition);
    hdri(h, "cs-original-offset", d->offset);
    hdri(h, "cs-original-timestamp", d->timestamp_ms);
    hdr(h, "cs-worker", worker);
    hdr(h, "cs-group", group);
    hdri(h, "cs-attempt", d->attempt);
    hdr(h, "cs-event-id", d->event_id);
    hdr(h, "cs-event-type", d->event_type);
    if (!d->erased)
        hdr(h, "cs-user-id", d->user_id);
    if (d->schema_version > 0)
        hdri(h, "cs-schema-version", d->schema_version);
    hdr(h, "traceparent", d->traceparent);
    return h;
}

int cs__dlq_in_flight(const cs_dlq_t *q, int *queued)
{
    if (queued)
        *queued = rd_kafka_outq_len(q->rk);
    return q->nsent;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Whether the entries of dl[0..n) are all acknowledged (1), one failed (-1), or not yet (0). */
static int batch_state(cs_dlq_t *q, const cs_dead_letter_t *dl, int n)
{
    int rc = 1;
    for (int i = 0; i < n; i++) {
        sent_t *s = sent_find(q, &dl[i]);
        if (!s || s->state == SENT_FAILED)
            return -1;
        if (s->state == SENT_FLIGHT)
            rc = 0;
    }
    return rc;
}

/* Forgets the entries of batches dropped meanwhile (partitions lost) that are settled now: every
 * entry not in flight that is not one of dl[0..n). */
static void forget_settled_others(cs_dlq_t *q, const cs_dead_letter_t *dl, int n)
{
    for (int i = q->nsent; i-- > 0;)
        if (q->sent[i]->state != SENT_FLIGHT) {
            bool mine = false;
            for (int k = 0; k < n && !mine; k++)
                mine = q->sent[i]->partition == dl[k].partition &&
                       q->sent[i]->offset == dl[k].offset &&
                       !strcmp(q->sent[i]->topic, dl[k].topic);
            if (!mine)
                sent_remove(q, i);
        }
}

/* Produces each dead letter of dl[0..n) not in flight or acknowledged already (new, or failed). */
static int send_unsent(cs_dlq_t *q, const cs_dead_letter_t *dl, int n, cs_err_t *err)
{
    char topic[300];

    for (int i = 0; i < n; i++) {
        const cs_dead_letter_t *d = &dl[i];
        sent_t *s = sent_find(q, d);
        if (s && s->state != SENT_FAILED)
            continue; /* in flight or acknowledged already: an earlier attempt sent it */
        if (!s)
            s = sent_add(q, d);
        s->state = SENT_FLIGHT;
        rd_kafka_headers_t *h = cs__dlq_headers(q->worker, q->group, d);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            q->rk, RD_KAFKA_V_TOPIC(cs_dlq_topic(d->topic, topic, sizeof topic)),
            RD_KAFKA_V_KEY(d->erased ? NULL : (void *)d->key, d->erased ? 0 : d->key_len),
            RD_KAFKA_V_VALUE(d->erased ? NULL : (void *)d->payload, d->erased ? 0 : d->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(s),
            RD_KAFKA_V_END);
        if (e) {
            rd_kafka_headers_destroy(h);
            if (reset_producer(q, err) < 0)
                return -1;
            return cs_err_set(err, CS_ERR_TRANSIENT, "dead-letter publish to %s: %s", topic,
                              rd_kafka_err2str(e));
        }
        /* h is owned by the message now */
    }
    return 0;
}

/* Serves the producer until dl[0..n) are settled or timeout_ms passes (a flush also sends at once
 * what linger.ms would hold back); the batch's state as batch_state says. */
static int await_settled(cs_dlq_t *q, const cs_dead_letter_t *dl, int n, int timeout_ms)
{
    double end = mono_ms() + timeout_ms;
    int st;
    while ((st = batch_state(q, dl, n)) == 0) {
        double left = end - mono_ms();
        if (left <= 0)
            break;
        rd_kafka_flush(q->rk, left < 50 ? (int)left + 1 : 50);
    }
    return st;
}

/* Forgets the entries of dl[0..n), all acknowledged. */
static void forget_batch(cs_dlq_t *q, const cs_dead_letter_t *dl, int n)
{
    for (int i = 0; i < n; i++) {
        sent_t *s = sent_find(q, &dl[i]);
        for (int k = 0; s && k < q->nsent; k++)
            if (q->sent[k] == s) {
                sent_remove(q, k);
                break;
            }
    }
}

int cs_dlq_publish(cs_dlq_t *q, const cs_dead_letter_t *dl, int n, int timeout_ms, cs_err_t *err)
{
    /* A delivery that failed after an earlier call's wait: start afresh, as below. */
    for (int i = 0; i < q->nsent; i++)
        if (q->sent[i]->state == SENT_FAILED) {
            if (reset_producer(q, err) < 0)
                return -1;
            break;
        }
    q->failed = 0;
    q->last_error[0] = '\0';
    forget_settled_others(q, dl, n);
    if (send_unsent(q, dl, n, err) < 0)
        return -1;
    int st = await_settled(q, dl, n, timeout_ms);
    if (st == 1) {
        forget_batch(q, dl, n);
        return 0;
    }
    if (st < 0) {
        char why[300];
        snprintf(why, sizeof why, "%d not delivered: %s", q->failed ? q->failed : 1,
                 q->last_error[0] ? q->last_error : "delivery failed");
        if (reset_producer(q, err) < 0)
            return -1;
        return cs_err_set(err, CS_ERR_TRANSIENT, "dead-letter publish: %s", why);
    }
    return cs_err_set(err, CS_ERR_TRANSIENT,
                      "dead-letter publish: not acknowledged within %d ms (still in flight; the "
                      "retry waits for the same messages)",
                      timeout_ms);
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

/* A timestamptz, or NULL for a message without a timestamp (-1). */
static void put_ts(cs_buf_t *b, int64_t ms)
{
    char t[CS_TEXT_TIME_BYTES];
    if (ms < 0)
        cs_buf_puts(b, "\\N");
    else
        cs_buf_append(b, t, cs_text_time_ms(t, ms, CS_TEXT_PG));
}

/* Whether s[0..n) is a uuid in text form (8-4-4-4-12 hex digits). */
static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/*
 * The dead letter's learner into out (lower-case uuid): the envelope's, else the key when it is
 * a uuid (every careerstream event is keyed by its learner). "" when unknown.
 */
static const char *dl_user(const cs_dead_letter_t *d, char out[37])
{
    const char *u = d->user_id;
    size_t n = u ? strlen(u) : 0;
    if (!is_uuid(u, n)) {
        u = d->key;
        n = d->key_len;
    }
    out[0] = '\0';
    if (!u || !is_uuid(u, n))
        return out;
    for (size_t i = 0; i < 36; i++)
        out[i] = (char)(u[i] >= 'A' && u[i] <= 'F' ? u[i] - 'A' + 'a' : u[i]);
    out[36] = '\0';
    return out;
}

/*
 * Reads erased_users for the dead letters' learners (users[i], from dl_user: the key is gone
 * once scrubbed) and scrubs those erased (cs/dlq.h).
 */
static int scrub_erased(cs_dlq_t *q, cs_db_t *db, cs_dead_letter_t *dl, char (*users)[37], int n,
                        cs_err_t *err)
{
    cs_buf_t *b = &q->copy;
    int known = 0;
    cs_buf_reset(b);
    cs_buf_putc(b, '{');
    for (int i = 0; i < n; i++)
        if (users[i][0])
            cs_buf_printf(b, "%s%s", known++ ? "," : "", users[i]);
    cs_buf_putc(b, '}');
    if (known == 0)
        return 0;
    const char *params[] = {b->data};
    cs_db_res_t *res = cs_db_query(db,
                                   "SELECT user_id::text FROM erased_users "
                                   "WHERE user_id = ANY($1::uuid[])",
                                   1, params, err);
    if (!res)
        return cs_err_wrap(err, "checking the dead letters' learners against erased_users");
    for (int r = 0; r < cs_db_res_rows(res); r++) {
        const char *e = cs_db_res_get(res, r, 0);
        for (int i = 0; i < n; i++) {
            cs_dead_letter_t *d = &dl[i];
            if (d->erased || strcmp(users[i], e) != 0)
                continue;
            d->erased = true;
            d->key = NULL, d->key_len = 0;
            d->payload = NULL, d->len = 0;
            d->reason = CS_DLQ_ERASED_REASON;
        }
    }
    cs_db_res_free(res);
    return 0;
}

void cs__dlq_copy_rows(cs_buf_t *b, const char *group, const char *worker,
                       const cs_dead_letter_t *dl, const char (*users)[37], int n)
{
    char topic[300];
    for (int i = 0; i < n; i++) {
        const cs_dead_letter_t *d = &dl[i];
        put_text(b, group);
        cs_buf_putc(b, '\t');
        put_text(b, worker);
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
        cs_buf_putc(b, '\t');
        char user[37];
        put_text(b, users ? users[i] : dl_user(d, user));
        cs_buf_putc(b, '\t');
        if (d->schema_version > 0)
            cs_buf_printf(b, "%d", d->schema_version);
        else
            cs_buf_puts(b, "\\N");
        cs_buf_puts(b, d->erased ? "\tt\n" : "\tf\n");
    }
}

int cs_dlq_record(cs_dlq_t *q, cs_db_t *db, cs_dead_letter_t *dl, int n, cs_err_t *err)
{
    cs_buf_t *b = &q->copy;
    if (n == 0)
        return 0;
    char(*users)[37] = cs_mem_alloc((size_t)n * sizeof *users);
    for (int i = 0; i < n; i++)
        dl_user(&dl[i], users[i]);
    int rc = scrub_erased(q, db, dl, users, n, err);
    if (rc == 0) {
        cs_buf_reset(b);
        cs__dlq_copy_rows(b, q->group, q->worker, dl, (const char(*)[37])users, n);
    }
    free(users);
    if (rc < 0)
        return -1;
    if (cs_db_copy_begin(db,
                         "COPY dead_letters (consumer_group, worker, topic, kafka_partition, "
                         "kafka_offset, msg_timestamp, dlq_topic, error_class, reason, field, "
                         "sqlstate, event_id, event_type, traceparent, attempt, msg_key, payload, "
                         "user_id, schema_version, erased) "
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

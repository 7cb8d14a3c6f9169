/*
 * libcore/include/cs/producer.h
 *      Publish careerstream events to Kafka: encoded, keyed by learner, idempotent.
 *
 * cs_producer_send() validates and encodes an event with the codec (Avro single-object
 * encoding, current schema version), and produces it to the event's topic (cs_codec_type_topic)
 * with the learner's user_id as the key, so each learner's events stay in order in one
 * partition. Partitioning is murmur2, as in the Java client, so apps in other languages that key
 * by user_id land in the same partition. Each message carries three headers:
 *      cs.event_type          the event type name ("job_application_submitted")
 *      cs.schema_fingerprint  16 hex digits: the writer schema's fingerprint bytes as on the wire
 *      traceparent            the W3C traceparent, when the event has one
 * The producer is idempotent (enable.idempotence=true, acks=all): retries never duplicate or
 * reorder a partition's messages. Messages are batched (linger.ms 10, lz4) for throughput.
 *
 * Delivery: sending only queues the message. The outcome of every queued message is reported
 * exactly once to the delivery callback, from inside cs_producer_poll(), cs_producer_flush() or
 * cs_producer_destroy() on the caller's thread; call cs_producer_poll() regularly. When a send
 * function fails, the message was not queued and the callback will never be called for it.
 *
 * A producer is used by one thread. Public types hide librdkafka.
 */
#ifndef CS_PRODUCER_H
#define CS_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "cs/api.h"
#include "cs/codec.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_producer cs_producer_t;

/* The outcome of one message, as the delivery callback sees it. Valid during the callback only. */
typedef struct cs_delivery {
    void *opaque;      /* what the send function was given */
    const char *topic; /* the topic it was produced to */
    int32_t partition; /* on success: where it was stored */
    int64_t offset;
    const cs_err_t *err; /* NULL on success; else why it was not delivered (kind decides: TRANSIENT
                            may be resent, PERMANENT will never succeed, FATAL: stop producing) */
} cs_delivery_t;

typedef void (*cs_producer_delivery_cb_t)(const cs_delivery_t *delivery, void *ctx);

typedef struct cs_producer_opts {
    const char *brokers;     /* required: bootstrap servers, "host:port,..." */
    const char *client_id;   /* default "careerstream" */
    int linger_ms;           /* batching delay; default 10; -1 means 0 */
    const char *compression; /* "none", "lz4" (default), "zstd", "snappy", "gzip" */
    int queue_full_wait_ms;  /* how long a send waits for room in a full local queue,
                                serving delivery reports meanwhile; default 1000 */
    int close_timeout_ms;    /* how long cs_producer_destroy waits for deliveries; default 30000 */
    const char *const
        *kafka_props; /* extra librdkafka properties "name=value" (e.g. security.protocol,
                         sasl.*), NULL-terminated; may be NULL. Never logged. */
    cs_producer_delivery_cb_t on_delivery; /* may be NULL: outcomes are then only counted */
    void *cb_ctx;
} cs_producer_opts_t;

/* A header for cs_producer_send_raw(). */
typedef struct cs_header {
    const char *name;
    const void *value;
    size_t len;
} cs_header_t;

/*
 * Creates a producer with defaults (see cs_producer_opts_t). Returns NULL and sets err (FATAL)
 * when the configuration is refused. Connecting happens in the background.
 */
CS_API cs_producer_t *cs_producer_new(const char *brokers, const char *client_id, cs_err_t *err);
CS_API cs_producer_t *cs_producer_new_opts(const cs_producer_opts_t *opts, cs_err_t *err);

/* Sets the delivery callback (replacing the one from the options). */
CS_API void cs_producer_on_delivery(cs_producer_t *p, cs_producer_delivery_cb_t cb, void *ctx);

/*
 * Validates, encodes and queues ev for its event type's topic, keyed by ev->user_id.
 * Returns 0, or -1 with err: PERMANENT (the event is invalid; err->field names the field),
 * TRANSIENT (the local queue stayed full for queue_full_wait_ms), FATAL (the producer failed).
 */
CS_API int cs_producer_send(cs_producer_t *p, const cs_event_t *ev, void *opaque, cs_err_t *err);

/* Like cs_producer_send, to an explicit topic (tests, staging, replays). topic NULL: the event's.
 */
CS_API int cs_producer_send_to(cs_producer_t *p, const char *topic, const cs_event_t *ev,
                               void *opaque, cs_err_t *err);

/* Queues already-encoded bytes (e.g. a dead-letter record) with the given key and headers. */
CS_API int cs_producer_send_raw(cs_producer_t *p, const char *topic, const void *key,
                                size_t key_len, const void *value, size_t len,
                                const cs_header_t *headers, int nheaders, void *opaque,
                                cs_err_t *err);

/* Serves delivery reports, waiting up to timeout_ms for the first. Returns how many were served. */
CS_API int cs_producer_poll(cs_producer_t *p, int timeout_ms);

/*
 * Waits until every queued message is delivered or failed (serving delivery reports), up to
 * timeout_ms. Returns 0, or -1 with a TRANSIENT err saying how many are still outstanding.
 */
CS_API int cs_producer_flush(cs_producer_t *p, int timeout_ms, cs_err_t *err);

/* Messages queued or in flight whose delivery has not been reported yet. */
CS_API size_t cs_producer_outstanding(const cs_producer_t *p);

/* Counters since creation: reported as delivered, reported as failed. */
CS_API uint64_t cs_producer_delivered(const cs_producer_t *p);
CS_API uint64_t cs_producer_failed(const cs_producer_t *p);

/*
 * Flushes for up to close_timeout_ms (default 30 s), then reports whatever is still undelivered
 * to the callback as failed (TRANSIENT: purged), and frees the producer. Accepts NULL.
 */
CS_API void cs_producer_destroy(cs_producer_t *p);

#ifdef __cplusplus
}
#endif

#endif /* CS_PRODUCER_H */

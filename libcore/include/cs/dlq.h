/*
 * libcore/include/cs/dlq.h
 *      Dead letters: events a worker cannot apply, published with their reason and recorded.
 *
 * An event that fails decoding, validation, a handler (PERMANENT error) or the database
 * (PERMANENT SQLSTATE, isolated to that event) is never dropped: its original bytes go to the
 * dead-letter topic of its source topic (<topic> + ".dlq", as in schemas/topics.json) with
 * headers saying why, and a row goes to the dead_letters table in the same transaction as the
 * offsets that move past it. The topic is published first and the transaction committed after
 * (Kafka Connect's KIP-610 order): a crash in between can publish a dead letter twice, never lose
 * one; the table holds exactly one row per (group, topic, partition, offset).
 *
 * Headers: cs-error-class (decode | validation | handler | database), cs-error-reason,
 * cs-error-field, cs-error-sqlstate, cs-original-topic, cs-original-partition,
 * cs-original-offset, cs-original-timestamp (ms), cs-worker, cs-group, cs-attempt,
 * cs-event-id, cs-event-type, cs-user-id, cs-schema-version, traceparent (W3C). The event's
 * headers are set whenever its envelope was readable and valid, even when its payload failed
 * validation (cs/codec.h), and left out when unknown. The key is the original key.
 */
#ifndef CS_DLQ_H
#define CS_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include "cs/api.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_dead_letter {
    const char *topic; /* source topic */
    int partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 when unknown */
    const void *key;
    size_t key_len;
    const void *payload;
    size_t len;
    const char *error_class; /* "decode", "validation", "handler", "database" */
    const char *reason;
    const char *field;       /* "" or NULL when none */
    const char *sqlstate;    /* "" or NULL when none */
    const char *event_id;    /* NULL when the event could not be decoded */
    const char *event_type;  /* NULL when unknown */
    const char *user_id;     /* the envelope's, lower-case; NULL when unknown */
    int schema_version;      /* the writer's schema version; 0 when unknown */
    const char *traceparent; /* NULL or "" when unknown */
    int attempt;             /* 1 for the first try of the batch, +1 per retry */
} cs_dead_letter_t;

typedef struct cs_dlq cs_dlq_t;

/*
 * A dead-letter publisher (an idempotent librdkafka producer, acks=all) for worker/group.
 * kafka_props ("name=value[,...]", may be NULL) are the same extra librdkafka properties the
 * consumer gets (security.protocol, sasl.*, ssl.*).
 * Returns NULL with a FATAL err when the configuration is refused.
 */
CS_API cs_dlq_t *cs_dlq_new(const char *brokers, const char *kafka_props, const char *worker,
                            const char *group, cs_err_t *err);
/* Accepts NULL. Waits up to 5 s for messages still in flight. */
CS_API void cs_dlq_destroy(cs_dlq_t *q);

/* The dead-letter topic of a source topic, into buf. Returns buf. */
CS_API const char *cs_dlq_topic(const char *topic, char *buf, size_t size);

/* The error class of a codec error: "validation" when it names an event field, else "decode". */
CS_API const char *cs_dlq_codec_class(const cs_err_t *err);

/*
 * Publishes n dead letters and waits until every one is acknowledged by the broker, up to
 * timeout_ms. Returns -1 with a TRANSIENT err when any was not delivered (broker unavailable):
 * the caller retries the batch later; nothing was recorded. Dead letters still in flight when the
 * wait ends stay in flight: a later call for the same dead letters (same original topic,
 * partition and offset: the batch retried) waits for those messages instead of producing them
 * again, so a short wait adds no duplicate. A failed delivery (message.timeout.ms, 30 s, passed,
 * or an error) drops everything in flight and starts a new producer: the next call sends again.
 */
CS_API int cs_dlq_publish(cs_dlq_t *q, const cs_dead_letter_t *dl, int n, int timeout_ms,
                          cs_err_t *err);

struct cs_db;
/* Records n dead letters in the dead_letters table inside the caller's transaction (COPY). */
CS_API int cs_dlq_record(cs_dlq_t *q, struct cs_db *db, const cs_dead_letter_t *dl, int n,
                         cs_err_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CS_DLQ_H */

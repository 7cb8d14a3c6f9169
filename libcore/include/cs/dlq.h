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
 *
 * Erased learners: nothing of a learner in the erasure ledger (erased_users) is kept or sent
 * again, even when a replay brings their events back. cs_dlq_record reads the ledger in the
 * caller's transaction for the dead letters' learners (the envelope's user_id, else the key
 * when it is a uuid: every careerstream event is keyed by its learner) and scrubs those dead
 * letters in place (erased set; no key, no payload, the reason replaced, since a reason may
 * quote the payload): the row keeps where the event was and why it was not applied, the
 * learner's id (as the ledger does) and erased = true. cs_dlq_publish then sends such a dead
 * letter as a record without key and value, headers cs-erased: true and the reason, without
 * cs-user-id: the dead-letter topic keeps one record per dead letter (monitoring and
 * reconciliation with the table still add up) and nothing of the learner.
 */
#ifndef CS_DLQ_H
#define CS_DLQ_H

#include <stdbool.h>
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
    bool erased;             /* set by cs_dlq_record: the learner is erased (scrubbed) */
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
/*
 * Records n dead letters in the dead_letters table inside the caller's transaction (COPY), after
 * reading erased_users there for their learners: the dead letters of erased learners are
 * scrubbed in place (see the top) before they are recorded, so publish them after this call.
 */
CS_API int cs_dlq_record(cs_dlq_t *q, struct cs_db *db, cs_dead_letter_t *dl, int n, cs_err_t *err);

/* The reason an erased learner's dead letter carries instead of its own. */
#define CS_DLQ_ERASED_REASON "learner erased: payload, key and reason not kept"

#ifdef __cplusplus
}
#endif

#endif /* CS_DLQ_H */

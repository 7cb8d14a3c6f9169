/*
 * libcore/src/internal.h
 *      The cs__ helpers libcore's modules share, which no program sees.
 *
 * libcore is compiled with hidden visibility (cs/api.h), so nothing declared here leaves the
 * shared library; unit tests reach internals through the static variant, cscore_static. What a
 * program may also call is public instead: allocation (cs/mem.h) and the text careerstream
 * writes byte for byte (cs/text.h). A module too big for one file has its own private map
 * (codec_int.h); this header holds what crosses modules:
 *
 *   kafka.c  librdkafka configuration shared by every client libcore makes (the consumer, the
 *            dead-letter producer, the audit anchorer): the operator's --kafka-props, and a
 *            configuration with bootstrap servers and a client's fixed settings.
 *   dlq.c    a dead letter's Kafka headers and its dead_letters COPY rows, and the count of
 *            dead letters in flight: apart from the broker and the database, for test_dlq.
 *
 * librdkafka's types stay out of this header too (its functions take the configuration as a
 * struct rd_kafka_conf_s *, librdkafka's own tag), so a module that does not talk to Kafka need
 * not include rdkafka.h.
 */
#ifndef CS_INTERNAL_H
#define CS_INTERNAL_H

#include <stddef.h>

#include "cs/err.h"

struct rd_kafka_conf_s;

/*
 * Applies the operator's "name=value[,name=value]" librdkafka properties (--kafka-props) to
 * conf; NULL or "" applies none. Returns -1 with a FATAL err in field "kafka-props" naming the
 * property (never its value, which may be a secret) when one is malformed or refused.
 */
int cs__kafka_conf_props(struct rd_kafka_conf_s *conf, const char *kafka_props, cs_err_t *err);

/*
 * A new librdkafka configuration with bootstrap.servers = brokers, then the client's fixed
 * settings kv[0..nkv) (name, value pairs), then the operator's kafka_props, which may override
 * them. Returns NULL with a FATAL err when brokers is empty ("no kafka brokers configured", field
 * "kafka-brokers") or a setting is refused; the caller owns the configuration it returns.
 */
struct rd_kafka_conf_s *cs__kafka_conf_new(const char *brokers, const char *const (*kv)[2],
                                           size_t nkv, const char *kafka_props, cs_err_t *err);
/*
 * librdkafka's log lines as careerstream's (it would print raw text on stderr): message
 * "librdkafka", fields client (the client's name: its client.id and type), facility and detail,
 * at the level matching librdkafka's syslog level. Every configuration cs__kafka_conf_new makes
 * has it; a client configured otherwise sets it with rd_kafka_conf_set_log_cb.
 */
struct rd_kafka_s;
void cs__kafka_log_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf);

/* ---- dlq.c ---- */
struct rd_kafka_headers_s;
struct cs_dead_letter;
struct cs_dlq;
struct cs_buf;
/* The headers dead letter d carries to its .dlq topic (a new list: the message takes it). */
struct rd_kafka_headers_s *cs__dlq_headers(const char *worker, const char *group,
                                           const struct cs_dead_letter *d);
/*
 * Appends the dead_letters COPY text rows (columns as cs_dlq_record copies them) of dl[0..n);
 * users[i], when users is not NULL, is the learner of dl[i] (as read before scrubbing: an erased
 * dead letter keeps no key); NULL: each learner from its dead letter.
 */
void cs__dlq_copy_rows(struct cs_buf *b, const char *group, const char *worker,
                       const struct cs_dead_letter *dl, const char (*users)[37], int n);
/*
 * Dead letters produced and not yet known acknowledged by a publish call; *queued (when not
 * NULL): the messages and requests the producer still holds (rd_kafka_outq_len).
 */
int cs__dlq_in_flight(const struct cs_dlq *q, int *queued);

/*
 * batch.c: the context cs_batch_emit (worker_outbox.c) appends a batch's derived events with,
 * set by the runtime on each stage's batch of a worker that has an outbox; NULL otherwise.
 */
struct cs_batch;
void cs__batch_set_emitter(struct cs_batch *b, void *emitter);
void *cs__batch_emitter(const struct cs_batch *b);

#endif /* CS_INTERNAL_H */

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
 * batch.c: the context cs_batch_emit (worker_outbox.c) appends a batch's derived events with,
 * set by the runtime on each stage's batch of a worker that has an outbox; NULL otherwise.
 */
struct cs_batch;
void cs__batch_set_emitter(struct cs_batch *b, void *emitter);
void *cs__batch_emitter(const struct cs_batch *b);

#endif /* CS_INTERNAL_H */

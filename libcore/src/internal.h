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
 *   consumer.c  the consumer's logic that runs without a broker, for test_consumer: the compact
 *            copy of a polled message, the reservoir, cs_tp_t <-> partition list conversions,
 *            and the librdkafka handle (to read the configuration cs_consumer_new made).
 *   dlq.c    a dead letter's Kafka headers and its dead_letters COPY rows, and the count of
 *            dead letters in flight: apart from the broker and the database, for test_dlq.
 *
 * librdkafka's types stay out of this header too (its functions take the configuration as a
 * struct rd_kafka_conf_s *, librdkafka's own tag), so a module that does not talk to Kafka need
 * not include rdkafka.h.
 */
#ifndef CS_INTERNAL_H
#define CS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- consumer.c ---- */
struct rd_kafka_message_s;
struct rd_kafka_headers_s;
struct rd_kafka_topic_partition_list_s;
struct cs_consumer;
struct cs_msg;
struct cs_tp;
/*
 * The compact copy of a polled message (one allocation, freed with cs_consumer_msg_free): topic,
 * payload, key and hdrs (NULL: none; ignored for an error message) copied, timestamp_ms as given,
 * the event (message, EOF, error) and error kind (FATAL or TRANSIENT) from rkm->err. rkm is not
 * destroyed.
 */
struct cs_msg *cs__consumer_msg_copy(const struct rd_kafka_message_s *rkm,
                                     const struct rd_kafka_headers_s *hdrs, int64_t timestamp_ms);
/* Appends m (from cs__consumer_msg_copy; the reservoir takes it) to c's reservoir. */
void cs__consumer_reservoir_push(struct cs_consumer *c, struct cs_msg *m);
/* Drops the reservoir's messages of parts (NULL: all), keeping the others' order. */
void cs__consumer_reservoir_drop(struct cs_consumer *c,
                                 const struct rd_kafka_topic_partition_list_s *parts);
/* The partitions of parts as cs_tp_t (topics borrowed, offsets CS_OFFSET_DEFAULT); free() it. */
struct cs_tp *cs__consumer_tps_from(const struct rd_kafka_topic_partition_list_s *parts);
/* A new partition list of tps[0..n), with their offsets when offsets is true. */
struct rd_kafka_topic_partition_list_s *cs__consumer_list_from(const struct cs_tp *tps, int n,
                                                               bool offsets);
/* c's librdkafka handle. */
struct rd_kafka_s *cs__consumer_rk(struct cs_consumer *c);

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
/*
 * The COPY text rows a flush of events [from, to) would send of table `table` (its fold's rows
 * for a table with one, cs_table_def_t.fold), *len bytes; valid until the next flush or fold.
 */
const char *cs__batch_range_text(struct cs_batch *b, int table, int from, int to, size_t *len);

#endif /* CS_INTERNAL_H */

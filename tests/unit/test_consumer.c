/*
 * tests/unit/test_consumer.c
 *      Check suite for cs/consumer.h: the consumer's logic that runs without a broker.
 *
 * The compact copy a polled message becomes (cs__consumer_msg_copy: payload, key, headers and
 * topic copied into one allocation, the event and error kind from librdkafka's error code), the
 * reservoir (FIFO across its ring's growth, bytes counted, dropping a partition's messages), the
 * options -> librdkafka configuration mapping cs_consumer_new makes (read back from the handle),
 * its refusals, and the cs_tp_t <-> partition list conversions. The consumers' bootstrap address
 * is TEST_NO_BROKER, where nothing listens (tests/common/rk_unit.h). Links the static libcore
 * (cs__consumer_* is internal); the integration tests run the same code against the real broker.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "cs/consumer.h"
#include "internal.h"
#include "rk_unit.h"

static const char *const topics[] = {"cs.learning", NULL};

static cs_consumer_t *consumer(cs_consumer_conf_t *cf)
{
    cs_err_t err = {0};
    if (!cf->brokers)
        cf->brokers = TEST_NO_BROKER;
    if (!cf->group)
        cf->group = "test-consumer";
    if (!cf->topics)
        cf->topics = topics;
    cs_consumer_t *c = cs_consumer_new(cf, NULL, &err);
    ck_assert_msg(c != NULL, "cs_consumer_new: %s", err.msg);
    return c;
}

/* A configuration value of c's librdkafka handle ("" when unset). */
#define conf_get(c, name) test_rk_conf(cs__consumer_rk(c), name)

START_TEST(msg_copy_message)
{
    cs_consumer_t *c = consumer(&(cs_consumer_conf_t){0});
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(cs__consumer_rk(c), "cs.learning", NULL);
    char payload[] = "\x00\x01payload\xff", key[] = "user-1";
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
    rd_kafka_header_add(hdrs, "traceparent", -1, "00-abc-01", -1);
    rd_kafka_header_add(hdrs, "empty", -1, NULL, 0);
    rd_kafka_header_add(hdrs, "dup", -1, "first", -1);
    rd_kafka_header_add(hdrs, "dup", -1, "second", -1);
    rd_kafka_message_t rkm = {.rkt = rkt,
                              .partition = 7,
                              .payload = payload,
                              .len = sizeof payload - 1,
                              .key = key,
                              .key_len = 6,
                              .offset = 1234567890123LL};

    cs_msg_t *m = cs__consumer_msg_copy(&rkm, hdrs, 1764063000123LL);
    /* the copy owns its bytes: the source may go away */
    memset(payload, 'x', sizeof payload);
    memset(key, 'y', sizeof key);
    rd_kafka_headers_destroy(hdrs);

    ck_assert_str_eq(m->topic, "cs.learning");
    ck_assert_int_eq(m->partition, 7);
    ck_assert_int_eq(m->offset, 1234567890123LL);
    ck_assert_int_eq(m->timestamp_ms, 1764063000123LL);
    ck_assert_uint_eq(m->len, 10);
    ck_assert_mem_eq(m->payload, "\x00\x01payload\xff", 10);
    ck_assert_uint_eq(m->key_len, 6);
    ck_assert_mem_eq(m->key, "user-1", 6);
    ck_assert_int_eq(m->event, 0);
    ck_assert_int_eq(m->err.kind, CS_ERR_NONE);
    ck_assert_str_eq(m->err.msg, "");

    size_t len = 99;
    const char *v = cs_consumer_msg_header(m, "traceparent", &len);
    ck_assert_uint_eq(len, 9);
    ck_assert_mem_eq(v, "00-abc-01", 9);
    len = 99;
    ck_assert_ptr_null(cs_consumer_msg_header(m, "empty", &len));
    ck_assert_uint_eq(len, 0);
    v = cs_consumer_msg_header(m, "dup", &len); /* the last one of a name */
    ck_assert_uint_eq(len, 6);
    ck_assert_mem_eq(v, "second", 6);
    ck_assert_ptr_null(cs_consumer_msg_header(m, "missing", NULL));
    cs_consumer_msg_free(m);

    /* no payload, no key, no headers */
    rd_kafka_message_t bare = {.rkt = rkt, .partition = 0, .offset = 5};
    m = cs__consumer_msg_copy(&bare, NULL, -1);
    ck_assert_ptr_null(m->payload);
    ck_assert_uint_eq(m->len, 0);
    ck_assert_ptr_null(m->key);
    ck_assert_int_eq(m->timestamp_ms, -1);
    ck_assert_ptr_null(cs_consumer_msg_header(m, "traceparent", NULL));
    cs_consumer_msg_free(m);

    rd_kafka_topic_destroy(rkt);
    cs_consumer_destroy(c);
}
END_TEST

START_TEST(msg_copy_events)
{
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
    rd_kafka_header_add(hdrs, "h", -1, "v", -1);
    /* librdkafka carries an error's text as the payload */
    char text[] = "Connection refused";
    rd_kafka_message_t rkm = {.err = RD_KAFKA_RESP_ERR__TRANSPORT,
                              .partition = 2,
                              .payload = text,
                              .len = strlen(text),
                              .offset = -1};

    cs_msg_t *m = cs__consumer_msg_copy(&rkm, hdrs, -1);
    ck_assert_str_eq(m->topic, "");
    ck_assert_int_eq(m->event, CS_MSG_ERROR);
    ck_assert_int_eq(m->err.kind, CS_ERR_TRANSIENT);
    ck_assert_str_eq(m->err.msg, "_TRANSPORT: Connection refused");
    ck_assert_ptr_null(m->payload); /* an error's text is not a payload */
    ck_assert_uint_eq(m->len, 0);
    ck_assert_ptr_null(cs_consumer_msg_header(m, "h", NULL)); /* nor are headers copied */
    cs_consumer_msg_free(m);

    const rd_kafka_resp_err_t fatal[] = {RD_KAFKA_RESP_ERR__FATAL,
                                         RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                         RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) {
        rkm.err = fatal[i];
        m = cs__consumer_msg_copy(&rkm, NULL, -1);
        ck_assert_int_eq(m->event, CS_MSG_ERROR);
        ck_assert_msg(m->err.kind == CS_ERR_FATAL, "%s is fatal", rd_kafka_err2name(fatal[i]));
        ck_assert_ptr_nonnull(strstr(m->err.msg, rd_kafka_err2name(fatal[i])));
        cs_consumer_msg_free(m);
    }

    rkm.err = RD_KAFKA_RESP_ERR__PARTITION_EOF;
    rkm.payload = NULL;
    rkm.len = 0;
    rkm.offset = 42;
    m = cs__consumer_msg_copy(&rkm, NULL, -1);
    ck_assert_int_eq(m->event, CS_MSG_EOF);
    ck_assert_int_eq(m->err.kind, CS_ERR_NONE);
    ck_assert_str_eq(m->err.msg, "");
    ck_assert_int_eq(m->partition, 2);
    ck_assert_int_eq(m->offset, 42);
    cs_consumer_msg_free(m);
    rd_kafka_headers_destroy(hdrs);
}
END_TEST

/* A message of partition p with offset off, payload "pN" of n bytes. */
static cs_msg_t *make(rd_kafka_topic_t *rkt, int p, int64_t off, size_t n)
{
    static char buf[256];
    memset(buf, 'a' + p, sizeof buf);
    rd_kafka_message_t rkm = {.rkt = rkt, .partition = p, .payload = buf, .len = n, .offset = off};
    return cs__consumer_msg_copy(&rkm, NULL, off);
}

struct seen {
    int n;
    int64_t offsets[4096];
    int partitions[4096];
};

static void collect(void *ud, const cs_msg_t *m)
{
    struct seen *s = ud;
    s->partitions[s->n] = m->partition;
    s->offsets[s->n++] = m->offset;
}

START_TEST(reservoir_order_and_drop)
{
    cs_consumer_t *c = consumer(&(cs_consumer_conf_t){0});
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(cs__consumer_rk(c), "cs.learning", NULL);
    size_t msgs, bytes, bytes1, bound;
    int64_t next_out = 0, next_in = 0;

    cs_consumer_reservoir(c, &msgs, &bytes, &bound);
    ck_assert_uint_eq(msgs, 0);
    ck_assert_uint_eq(bytes, 0);

    /* 1000 in, 600 out, 1500 in: the ring grows while its head is not at 0 */
    for (; next_in < 1000; next_in++)
        cs__consumer_reservoir_push(c, make(rkt, (int)(next_in % 3), next_in, 100));
    cs_consumer_reservoir(c, &msgs, &bytes1, NULL);
    ck_assert_uint_eq(msgs, 1000);
    ck_assert_uint_ge(bytes1, 1000 * 100);
    for (; next_out < 600; next_out++) {
        cs_msg_t *m = cs_consumer_poll(c);
        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(m->offset, next_out);
        cs_consumer_msg_free(m);
    }
    cs_consumer_reservoir(c, &msgs, &bytes, NULL);
    ck_assert_uint_eq(msgs, 400);
    ck_assert_uint_eq(bytes, bytes1 / 1000 * 400); /* equal-sized copies */
    for (; next_in < 2500; next_in++)
        cs__consumer_reservoir_push(c, make(rkt, (int)(next_in % 3), next_in, 100));

    struct seen *s = calloc(1, sizeof *s);
    cs_consumer_reservoir_each(c, collect, s);
    ck_assert_int_eq(s->n, 1900);
    for (int i = 0; i < s->n; i++)
        ck_assert_int_eq(s->offsets[i], 600 + i);

    /* dropping partition 1 keeps the others in order */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "cs.learning", 1);
    rd_kafka_topic_partition_list_add(l, "cs.other", 0); /* another topic: not ours */
    cs__consumer_reservoir_drop(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    memset(s, 0, sizeof *s);
    cs_consumer_reservoir_each(c, collect, s);
    int64_t prev = -1;
    int want = 0;
    for (int64_t o = 600; o < 2500; o++)
        want += o % 3 != 1;
    ck_assert_int_eq(s->n, want);
    for (int i = 0; i < s->n; i++) {
        ck_assert_int_ne(s->partitions[i], 1);
        ck_assert_int_gt(s->offsets[i], prev);
        prev = s->offsets[i];
    }
    cs_consumer_reservoir(c, &msgs, &bytes, NULL);
    ck_assert_uint_eq(msgs, (size_t)want);
    ck_assert_uint_eq(bytes, bytes1 / 1000 * (size_t)want);
    cs_msg_t *m = cs_consumer_poll(c);
    ck_assert_int_eq(m->offset, 600);
    cs_consumer_msg_free(m);

    cs__consumer_reservoir_drop(c, NULL);
    cs_consumer_reservoir(c, &msgs, &bytes, NULL);
    ck_assert_uint_eq(msgs, 0);
    ck_assert_uint_eq(bytes, 0);
    free(s);
    rd_kafka_topic_destroy(rkt);
    cs_consumer_destroy(c);
}
END_TEST

START_TEST(conf_defaults)
{
    cs_consumer_t *c = consumer(&(cs_consumer_conf_t){0});
    size_t bound;

    ck_assert_str_eq(conf_get(c, "bootstrap.servers"), TEST_NO_BROKER);
    ck_assert_str_eq(conf_get(c, "group.id"), "test-consumer");
    ck_assert_str_eq(conf_get(c, "client.id"), "careerstream");
    ck_assert_str_eq(conf_get(c, "enable.auto.commit"), "false");
    ck_assert_str_eq(conf_get(c, "enable.auto.offset.store"), "false");
    ck_assert_str_eq(conf_get(c, "auto.offset.reset"), "smallest"); /* librdkafka's "earliest" */
    ck_assert_str_eq(conf_get(c, "partition.assignment.strategy"), "cooperative-sticky");
    ck_assert_str_eq(conf_get(c, "enable.partition.eof"), "false");
    ck_assert_str_eq(conf_get(c, "queued.min.messages"), "1000");
    ck_assert_str_eq(conf_get(c, "queued.max.messages.kbytes"), "4096");
    ck_assert_str_eq(conf_get(c, "fetch.max.bytes"), "262144");
    ck_assert_str_eq(conf_get(c, "message.max.bytes"), "262144");
    ck_assert_str_eq(conf_get(c, "max.partition.fetch.bytes"), "262144");
    ck_assert_str_eq(conf_get(c, "receive.message.max.bytes"), "2097152");
    ck_assert_str_eq(conf_get(c, "fetch.wait.max.ms"), "10");
    ck_assert_str_eq(conf_get(c, "allow.auto.create.topics"), "true");
    ck_assert_str_eq(conf_get(c, "group.instance.id"), "");
    cs_consumer_reservoir(c, NULL, NULL, &bound);
    ck_assert_uint_eq(bound, CS_CONSUMER_RESERVOIR_KB * 1024);
    cs_consumer_destroy(c);
}
END_TEST

START_TEST(conf_options)
{
    cs_consumer_conf_t cf = {.client_id = "w1",
                             .group_instance_id = "w1-0",
                             .session_timeout_ms = 10000,
                             .max_poll_interval_ms = 600000,
                             .queued_max_kbytes = 1024,
                             .fetch_max_bytes = 4 << 20,
                             .partition_eof = true,
                             .assignment_strategy = "range",
                             .fetch_wait_max_ms = 250,
                             .reservoir_kbytes = 16};
    cs_consumer_t *c = consumer(&cf);
    size_t bound;

    ck_assert_str_eq(conf_get(c, "client.id"), "w1");
    ck_assert_str_eq(conf_get(c, "group.instance.id"), "w1-0");
    ck_assert_str_eq(conf_get(c, "session.timeout.ms"), "10000");
    ck_assert_str_eq(conf_get(c, "heartbeat.interval.ms"), "1000"); /* a tenth of the session */
    ck_assert_str_eq(conf_get(c, "max.poll.interval.ms"), "600000");
    ck_assert_str_eq(conf_get(c, "queued.max.messages.kbytes"), "1024");
    ck_assert_str_eq(conf_get(c, "fetch.max.bytes"), "4194304");
    ck_assert_str_eq(conf_get(c, "receive.message.max.bytes"), "4194816"); /* fetch + 512 */
    ck_assert_str_eq(conf_get(c, "enable.partition.eof"), "true");
    ck_assert_str_eq(conf_get(c, "partition.assignment.strategy"), "range");
    ck_assert_str_eq(conf_get(c, "fetch.wait.max.ms"), "250");
    cs_consumer_reservoir(c, NULL, NULL, &bound);
    ck_assert_uint_eq(bound, 16 * 1024);
    cs_consumer_destroy(c);

    /* heartbeats stay within 100 ms..3 s; kafka_props, applied last, overrides */
    c = consumer(&(cs_consumer_conf_t){.session_timeout_ms = 600, .reservoir_kbytes = -1});
    ck_assert_str_eq(conf_get(c, "heartbeat.interval.ms"), "100");
    cs_consumer_reservoir(c, NULL, NULL, &bound);
    ck_assert_uint_eq(bound, 0);
    cs_consumer_destroy(c);
    c = consumer(&(cs_consumer_conf_t){.session_timeout_ms = 45000});
    ck_assert_str_eq(conf_get(c, "heartbeat.interval.ms"), "3000");
    cs_consumer_destroy(c);
    c = consumer(&(cs_consumer_conf_t){
        .session_timeout_ms = 10000,
        .kafka_props = "heartbeat.interval.ms=777,queued.max.messages.kbytes=2048"});
    ck_assert_str_eq(conf_get(c, "heartbeat.interval.ms"), "777");
    ck_assert_str_eq(conf_get(c, "queued.max.messages.kbytes"), "2048");
    cs_consumer_destroy(c);
}
END_TEST

START_TEST(refusals)
{
    cs_err_t err = {0};
    const char *const none[] = {NULL};

    ck_assert_ptr_null(cs_consumer_new(
        &(cs_consumer_conf_t){.brokers = "", .group = "g", .topics = topics}, NULL, &err));
    ck_assert_str_eq(err.field, "kafka-brokers");
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);

    ck_assert_ptr_null(cs_consumer_new(
        &(cs_consumer_conf_t){.brokers = TEST_NO_BROKER, .group = "g", .topics = none}, NULL,
        &err));
    ck_assert_str_eq(err.field, "topics");

    ck_assert_ptr_null(cs_consumer_new(&(cs_consumer_conf_t){.brokers = TEST_NO_BROKER,
                                                             .group = "g",
                                                             .topics = topics,
                                                             .kafka_props = "no.such.property=1"},
                                       NULL, &err));
    ck_assert_str_eq(err.field, "kafka-props");
    ck_assert_ptr_nonnull(strstr(err.msg, "no.such.property"));

    ck_assert_ptr_null(cs_consumer_new(&(cs_consumer_conf_t){.brokers = TEST_NO_BROKER,
                                                             .group = "g",
                                                             .topics = topics,
                                                             .group_instance_id = "bad id!"},
                                       NULL, &err));
    ck_assert_str_eq(err.field, "group-instance-id");

    ck_assert_ptr_null(cs_consumer_new(&(cs_consumer_conf_t){.brokers = TEST_NO_BROKER,
                                                             .group = "g",
                                                             .topics = topics,
                                                             .assignment_strategy = "nonsense"},
                                       NULL, &err));
    /* refused when the handle is made, not when the property is set */
    ck_assert_str_eq(err.msg,
                     "kafka consumer: Unsupported partition.assignment.strategy: nonsense");
    cs_consumer_destroy(NULL);
}
END_TEST

START_TEST(tps_conversions)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(l, "cs.learning", 3)->offset = 77;
    rd_kafka_topic_partition_list_add(l, "cs.mentoring", 0);

    cs_tp_t *tps = cs__consumer_tps_from(l);
    ck_assert_str_eq(tps[0].topic, "cs.learning");
    ck_assert_int_eq(tps[0].partition, 3);
    ck_assert_int_eq(tps[0].offset, CS_OFFSET_DEFAULT); /* a start offset for the callback */
    ck_assert(!tps[0].pause);
    ck_assert_str_eq(tps[1].topic, "cs.mentoring");
    ck_assert_int_eq(tps[1].partition, 0);
    ck_assert_int_eq(tps[1].offset, CS_OFFSET_DEFAULT);

    tps[0].offset = 1000;
    tps[1].offset = 5;
    rd_kafka_topic_partition_list_t *with = cs__consumer_list_from(tps, 2, true);
    rd_kafka_topic_partition_list_t *without = cs__consumer_list_from(tps, 2, false);
    ck_assert_int_eq(with->cnt, 2);
    ck_assert_str_eq(with->elems[0].topic, "cs.learning");
    ck_assert_int_eq(with->elems[0].partition, 3);
    ck_assert_int_eq(with->elems[0].offset, 1000);
    ck_assert_str_eq(with->elems[1].topic, "cs.mentoring");
    ck_assert_int_eq(with->elems[1].offset, 5);
    ck_assert_int_eq(without->cnt, 2);
    ck_assert_int_eq(without->elems[0].offset, RD_KAFKA_OFFSET_INVALID);
    ck_assert_int_eq(without->elems[1].partition, 0);
    free(tps);
    rd_kafka_topic_partition_list_destroy(with);
    rd_kafka_topic_partition_list_destroy(without);

    /* empty both ways */
    rd_kafka_topic_partition_list_t *empty = rd_kafka_topic_partition_list_new(0);
    tps = cs__consumer_tps_from(empty);
    ck_assert_ptr_nonnull(tps);
    free(tps);
    rd_kafka_topic_partition_list_t *l0 = cs__consumer_list_from(NULL, 0, true);
    ck_assert_int_eq(l0->cnt, 0);
    rd_kafka_topic_partition_list_destroy(l0);
    rd_kafka_topic_partition_list_destroy(empty);
    rd_kafka_topic_partition_list_destroy(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("consumer");
    TCase *tc = tcase_create("without a broker");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, msg_copy_message);
    tcase_add_test(tc, msg_copy_events);
    tcase_add_test(tc, reservoir_order_and_drop);
    tcase_add_test(tc, conf_defaults);
    tcase_add_test(tc, conf_options);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, tps_conversions);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}

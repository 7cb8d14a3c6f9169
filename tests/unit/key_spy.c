/*
 * tests/unit/key_spy.c
 *      A librdkafka plugin for test_producer: records the key of every message a producer queues.
 *
 * Loaded through the producer's own configuration ("plugin.library.paths"), it adds an on_send
 * interceptor to each client, which sees the message exactly as the careerstream producer hands
 * it to librdkafka, before partitioning. No broker is involved: test_producer dlopen()s the same
 * file first, so both share key_spy_keys and key_spy_count. One thread only (the test's).
 */
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#define KEY_SPY_MAX 16

char key_spy_keys[KEY_SPY_MAX][64];
size_t key_spy_lens[KEY_SPY_MAX];
int key_spy_count;

rd_kafka_resp_err_t conf_init(rd_kafka_conf_t *conf, void **plug_opaquep, char *errstr,
                              size_t errstr_size);

static rd_kafka_resp_err_t on_send(rd_kafka_t *rk, rd_kafka_message_t *m, void *ic_opaque)
{
    (void)rk;
    (void)ic_opaque;
    if (key_spy_count < KEY_SPY_MAX) {
        size_t n = m->key_len < sizeof key_spy_keys[0] ? m->key_len : sizeof key_spy_keys[0];

        memcpy(key_spy_keys[key_spy_count], m->key, n);
        key_spy_lens[key_spy_count++] = m->key_len;
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf, void *ic_opaque,
                                  char *errstr, size_t errstr_size)
{
    (void)conf;
    (void)errstr;
    (void)errstr_size;
    return rd_kafka_interceptor_add_on_send(rk, "key_spy", on_send, ic_opaque);
}

rd_kafka_resp_err_t conf_init(rd_kafka_conf_t *conf, void **plug_opaquep, char *errstr,
                              size_t errstr_size)
{
    (void)plug_opaquep;
    (void)errstr;
    (void)errstr_size;
    return rd_kafka_conf_interceptor_add_on_new(conf, "key_spy", on_new, NULL);
}

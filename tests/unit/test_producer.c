/*
 * tests/unit/test_producer.c
 *      Check suite for cs/producer.h: the Kafka key of an event is its canonical user_id.
 *
 * The key decides the partition (murmur2), so two events of one learner must carry the same key
 * bytes however the caller spelled the user_id; the envelope always holds it lower-cased. The
 * keys are read by the key_spy plugin (tests/unit/key_spy.c), loaded into the producer through
 * its own kafka_props, as the producer hands each message to librdkafka. Nothing is delivered:
 * the bootstrap address is a closed loopback port and the producer is destroyed with a short
 * close timeout.
 */
#include <check.h>
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cs/codec.h"
#include "cs/producer.h"

static char (*spy_keys)[64];
static size_t *spy_lens;
static int *spy_count;

static void load_spy(void)
{
    void *h = dlopen(KEY_SPY_PATH, RTLD_NOW | RTLD_GLOBAL);

    ck_assert_msg(h != NULL, "dlopen %s: %s", KEY_SPY_PATH, dlerror());
    spy_keys = dlsym(h, "key_spy_keys");
    spy_lens = dlsym(h, "key_spy_lens");
    spy_count = dlsym(h, "key_spy_count");
    ck_assert(spy_keys && spy_lens && spy_count);
    *spy_count = 0;
}

static int32_t partition_of(const void *key, size_t len, int32_t partitions)
{
    return rd_kafka_msg_partitioner_murmur2(NULL, key, len, partitions, NULL, NULL);
}

START_TEST(key_is_lower_case_user_id)
{
    const char *lower = "5a1e7c3b-9f0d-4e2a-8b6c-d4e5f6a7b8c9";
    char upper[37];
    const char *props[] = {"plugin.library.paths=" KEY_SPY_PATH, NULL};
    cs_producer_opts_t po = {
        .brokers = "127.0.0.1:1", .kafka_props = props, .close_timeout_ms = 100};
    cs_err_t err;
    cs_codec_t *codec = cs_codec_new(&err);
    cs_arena_t *arena = cs_arena_new(16384);
    cs_producer_t *p;
    cs_event_t ev;
    const char *ex;
    int t = cs_codec_type_by_name("content_progress");

    ck_assert_ptr_nonnull(codec);
    ck_assert_int_ge(t, 0);
    for (int i = 0; i < 37; i++)
        upper[i] = (char)toupper((unsigned char)lower[i]);
    /* What is at stake: with 12 partitions the two spellings hash apart. */
    ck_assert_int_ne(partition_of(lower, 36, 12), partition_of(upper, 36, 12));

    load_spy();
    p = cs_producer_new_opts(&po, &err);
    ck_assert_msg(p != NULL, "producer: %s", err.msg);
    ex = cs_codec_type_example(t);
    ck_assert_int_eq(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err), 0);

    memcpy(ev.user_id, lower, 37);
    ck_assert_msg(cs_producer_send_to(p, "cs.test.keys", &ev, NULL, &err) == 0, "%s", err.msg);
    memcpy(ev.user_id, upper, 37);
    ck_assert_msg(cs_producer_send_to(p, "cs.test.keys", &ev, NULL, &err) == 0, "%s", err.msg);
    ck_assert_msg(cs_producer_send(p, &ev, NULL, &err) == 0, "%s", err.msg);

    ck_assert_int_eq(*spy_count, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(spy_lens[i], 36);
        ck_assert_msg(memcmp(spy_keys[i], lower, 36) == 0, "message %d keyed '%.36s', not '%s'", i,
                      spy_keys[i], lower);
        ck_assert_int_eq(partition_of(spy_keys[i], spy_lens[i], 12), partition_of(lower, 36, 12));
    }
    cs_producer_destroy(p);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);
}
END_TEST

/* A raw send (a dead letter, a replay) keeps the key it is given, byte for byte. */
START_TEST(raw_key_untouched)
{
    const char *props[] = {"plugin.library.paths=" KEY_SPY_PATH, NULL};
    cs_producer_opts_t po = {
        .brokers = "127.0.0.1:1", .kafka_props = props, .close_timeout_ms = 100};
    cs_err_t err;
    cs_producer_t *p;

    load_spy();
    p = cs_producer_new_opts(&po, &err);
    ck_assert_msg(p != NULL, "producer: %s", err.msg);
    ck_assert_int_eq(
        cs_producer_send_raw(p, "cs.test.keys.dlq", "AbC", 3, "x", 1, NULL, 0, NULL, &err), 0);
    ck_assert_int_eq(*spy_count, 1);
    ck_assert_uint_eq(spy_lens[0], 3);
    ck_assert(memcmp(spy_keys[0], "AbC", 3) == 0);
    cs_producer_destroy(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("producer");
    TCase *tc = tcase_create("producer");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, key_is_lower_case_user_id);
    tcase_add_test(tc, raw_key_untouched);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

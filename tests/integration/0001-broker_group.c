/*
 * tests/integration/0001-broker_group.c
 *      The loopback broker serves a consumer group across clients: 10,000 messages produced to a
 *      fresh 4-partition topic are each consumed exactly once by two members of one group.
 *
 * Both consumers join and settle their (cooperative-sticky) assignment before anything is
 * produced, so no rebalance can legitimately redeliver a message; any duplicate or gap is a
 * failure of the broker or of our settings.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define N_MSGS 10000

static char topic[128];
static char group[128];
static _Atomic int seen[N_MSGS];
static _Atomic int total;
static _Atomic int stop;

static rd_kafka_t *new_consumer(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    static const char *const kv[][2] = {
        {"group.id", group},
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "500"},
        {"allow.auto.create.topics", "true"},
    };

    ck_assert_int_eq(
        rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        ck_assert_msg(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) ==
                          RD_KAFKA_CONF_OK,
                      "%s: %s", kv[i][0], errstr);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    ck_assert_msg(rk != NULL, "%s", errstr);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

struct member {
    rd_kafka_t *rk;
    int got;
};

static void *consume(void *arg)
{
    struct member *m = arg;

    while (!atomic_load(&stop)) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 100);

        if (!msg)
            continue;
        if (!msg->err) {
            int i = atoi((const char *)msg->payload);

            ck_assert(i >= 0 && i < N_MSGS);
            atomic_fetch_add(&seen[i], 1);
            atomic_fetch_add(&total, 1);
            m->got++;
        }
        rd_kafka_message_destroy(msg);
    }
    return NULL;
}

static int assigned(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int n;

    if (rd_kafka_assignment(rk, &parts))
        return 0;
    n = parts->cnt;
    rd_kafka_topic_partition_list_destroy(parts);
    return n;
}

static rd_kafka_t *new_producer(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *p;

    ck_assert_int_eq(
        rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_msg(p != NULL, "%s", errstr);
    return p;
}

static void create_topic(void)
{
    rd_kafka_t *p = new_producer();
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int64_t deadline = cs_test_now_ms() + 10000;
    int parts = 0;

    while (parts != 4 && cs_test_now_ms() < deadline) {
        if (rd_kafka_metadata(p, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                parts = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
    }
    ck_assert_int_eq(parts, 4);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(p);
}

static void produce_all(void)
{
    char buf[16];
    rd_kafka_t *p = new_producer();

    for (int i = 0; i < N_MSGS; i++) {
        rd_kafka_resp_err_t err;
        int n = snprintf(buf, sizeof(buf), "%d", i);

        do {
            err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(buf, (size_t)n),
                                    RD_KAFKA_V_VALUE(buf, (size_t)n),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 10);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        ck_assert_msg(!err, "produce: %s", rd_kafka_err2str(err));
        rd_kafka_poll(p, 0);
    }
    ck_assert_int_eq(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(rd_kafka_outq_len(p), 0);
    rd_kafka_destroy(p);
}

START_TEST(two_members_split_exactly_once)
{
    struct member m[2] = {{0}};
    pthread_t th[2];
    int64_t deadline;
    rd_kafka_topic_partition_list_t *sub;

    cs_test_topic("group", topic, sizeof(topic));
    snprintf(group, sizeof(group), "g.%s", topic);

    /* Create the topic (auto-created with 4 partitions by a metadata request) and let the group
     * settle on an empty topic: both members assigned, all 4 partitions covered. Only then
     * produce, so no rebalance can legitimately redeliver anything. */
    create_topic();
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    for (int i = 0; i < 2; i++) {
        m[i].rk = new_consumer();
        ck_assert_int_eq(rd_kafka_subscribe(m[i].rk, sub), 0);
    }
    rd_kafka_topic_partition_list_destroy(sub);
    deadline = cs_test_now_ms() + 30000 * cs_test_timeout_mult();
    for (;;) {
        for (int i = 0; i < 2; i++) {
            rd_kafka_message_t *msg = rd_kafka_consumer_poll(m[i].rk, 50);

            ck_assert_msg(!msg || msg->err, "unexpected message before producing");
            if (msg)
                rd_kafka_message_destroy(msg);
        }
        if (assigned(m[0].rk) > 0 && assigned(m[1].rk) > 0 &&
            assigned(m[0].rk) + assigned(m[1].rk) == 4)
            break;
        ck_assert_msg(cs_test_now_ms() < deadline, "group did not settle: %d + %d partitions",
                      assigned(m[0].rk), assigned(m[1].rk));
    }
    produce_all();

    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, consume, &m[i]);
    deadline = cs_test_now_ms() + 60000 * cs_test_timeout_mult();
    while (atomic_load(&total) < N_MSGS && cs_test_now_ms() < deadline) {
        struct timespec ts = {0, 50 * 1000000};

        nanosleep(&ts, NULL);
    }
    /* Keep consuming a little longer so a late duplicate would be caught. */
    {
        struct timespec ts = {1, 500 * 1000000};

        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        rd_kafka_consumer_close(m[i].rk);
        rd_kafka_destroy(m[i].rk);
    }

    for (int i = 0; i < N_MSGS; i++)
        ck_assert_msg(atomic_load(&seen[i]) == 1, "message %d seen %d times", i,
                      atomic_load(&seen[i]));
    ck_assert_int_eq(atomic_load(&total), N_MSGS);
    ck_assert_msg(m[0].got > 0 && m[1].got > 0, "one member got nothing: %d / %d", m[0].got,
                  m[1].got);
    fprintf(stderr, "0001: members consumed %d + %d messages\n", m[0].got, m[1].got);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("broker_group");
    TCase *tc = tcase_create("broker_group");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120.0 * cs_test_timeout_mult());
    tcase_add_test(tc, two_members_split_exactly_once);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

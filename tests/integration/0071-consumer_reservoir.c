/*
 * tests/integration/0071-consumer_reservoir.c
 *      The consumer's reservoir keeps librdkafka's order and never outlives a position.
 *
 * 1,600 messages (400 per partition, each naming its partition and sequence number) are produced
 * to a fresh topic of 4 partitions. A consumer holding back (cs_consumer_prefetch only) moves all
 * of them into its reservoir, then:
 *
 *   seek_pause_keep_order: pausing partition 1 keeps its 400 messages in the reservoir (librdkafka
 *     resumes after the last message it handed out, the reservoir's last); seeking partition 0 to
 *     offset 7 drops exactly its 400. Every message then comes out once, in offset order per
 *     partition: 0..399 of partitions 1-3, 7..399 of partition 0 (fetched again). After resuming
 *     partition 1, nothing of it comes again, and 5 new messages come as offsets 400..404.
 *
 *   revoke_drops_reservoir: a second member joins the group; the first one, holding back, serves
 *     the revocation inside cs_consumer_prefetch. Its reservoir held all 1,600 messages when the
 *     revoke callback ran; afterwards it holds only the kept partitions', and no message of a
 *     revoked partition is ever handed out after the callback. The kept partitions come out
 *     complete and in order; the new member gets the revoked ones from offset 0.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/consumer.h"
#include "harness.h"

#define N_PARTS 4
#define N_PER   400
#define RES_KB  1024 /* holds all 1,600 copies (~250 bytes each) */

static char topic[128];

static void produce(int partition, int from, int n)
{
    char errstr[512], payload[128];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    ck_assert_int_eq(
        rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof errstr),
        RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    ck_assert_msg(p != NULL, "%s", errstr);
    for (int i = from; i < from + n; i++) {
        for (int part = 0; part < N_PARTS; part++) {
            if (partition >= 0 && part != partition)
                continue;
            int len = snprintf(payload, sizeof payload, "p%d:%d:%s", part, i,
                               "reservoir payload, about a hundred bytes, like a small event.....");
            rd_kafka_resp_err_t err =
                rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                  RD_KAFKA_V_VALUE(payload, (size_t)len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            ck_assert_msg(!err, "produce: %s", rd_kafka_err2str(err));
        }
    }
    ck_assert_int_eq(rd_kafka_flush(p, 30000 * cs_test_timeout_mult()), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

/* Checks that m is the message produced as number `offset` of its partition. */
static void check_payload(const cs_msg_t *m)
{
    int part = -1, seq = -1;
    ck_assert_msg(m->payload && sscanf((const char *)m->payload, "p%d:%d:", &part, &seq) == 2,
                  "payload not from this test");
    ck_assert_msg(part == m->partition && seq == m->offset,
                  "partition %d offset %lld carries p%d:%d", m->partition, (long long)m->offset,
                  part, seq);
}

typedef struct member {
    cs_consumer_t *c;
    bool assigned[N_PARTS];
    bool revoked[N_PARTS]; /* by the last revoke callback */
    int nassign, nrevoke;
    size_t reservoir_at_revoke;
    int64_t next[N_PARTS]; /* next offset expected per partition; -1: none yet */
    int got[N_PARTS];
} member_t;

static void on_assign(void *ud, cs_tp_t *tps, int n)
{
    member_t *mb = ud;
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(tps[i].topic, topic);
        mb->assigned[tps[i].partition] = true;
        tps[i].offset = CS_OFFSET_DEFAULT;
    }
    mb->nassign++;
}

static void on_revoke(void *ud, const cs_tp_t *tps, int n, bool lost)
{
    member_t *mb = ud;
    (void)lost;
    memset(mb->revoked, 0, sizeof mb->revoked);
    for (int i = 0; i < n; i++) {
        mb->revoked[tps[i].partition] = true;
        mb->assigned[tps[i].partition] = false;
    }
    cs_consumer_reservoir(mb->c, &mb->reservoir_at_revoke, NULL, NULL);
    mb->nrevoke++;
}

static member_t *member_new(const char *group, const char *id)
{
    member_t *mb = calloc(1, sizeof *mb);
    const char *topics[] = {topic, NULL};
    cs_err_t err;
    ck_assert_ptr_nonnull(mb);
    for (int p = 0; p < N_PARTS; p++)
        mb->next[p] = -1;
    cs_consumer_conf_t cc = {
        .brokers = cs_test_brokers(),
        .group = group,
        .topics = topics,
        .client_id = id,
        .session_timeout_ms = 6000,
        .reservoir_kbytes = RES_KB,
    };
    cs_consumer_cbs_t cbs = {on_assign, on_revoke, mb};
    mb->c = cs_consumer_new(&cc, &cbs, &err);
    ck_assert_msg(mb->c != NULL, "consumer: %s", err.msg);
    return mb;
}

static void member_free(member_t *mb)
{
    cs_err_t err;
    cs_consumer_close(mb->c, 10000, &err);
    cs_consumer_destroy(mb->c);
    free(mb);
}

/* Takes one message of mb's: checks it follows the previous one of its partition. */
static void take(member_t *mb, cs_msg_t *m)
{
    if (m->event == CS_MSG_ERROR) {
        ck_assert_msg(m->err.kind != CS_ERR_FATAL, "consumer failed: %s", m->err.msg);
    } else if (m->event == CS_MSG_DATA) {
        int p = m->partition;
        ck_assert_msg(p >= 0 && p < N_PARTS && strcmp(m->topic, topic) == 0, "stray message");
        ck_assert_msg(mb->assigned[p],
                      "message of partition %d (offset %lld) handed out while "
                      "it is not assigned",
                      p, (long long)m->offset);
        check_payload(m);
        if (mb->next[p] >= 0)
            ck_assert_msg(m->offset == mb->next[p], "partition %d: offset %lld, expected %lld", p,
                          (long long)m->offset, (long long)mb->next[p]);
        mb->next[p] = m->offset + 1;
        mb->got[p]++;
    }
    cs_consumer_msg_free(m);
}

/* Polls mb until it returns NULL. */
static void drain(member_t *mb)
{
    cs_msg_t *m;
    cs_consumer_ack_fd(mb->c);
    while ((m = cs_consumer_poll(mb->c)) != NULL)
        take(mb, m);
}

static void wait_fd(member_t *mb, int ms)
{
    struct pollfd pfd = {.fd = cs_consumer_fd(mb->c), .events = POLLIN};
    poll(&pfd, 1, ms);
    cs_consumer_ack_fd(mb->c);
}

/* Holds back: prefetches until the reservoir holds want messages. */
static void fill(member_t *mb, size_t want)
{
    int64_t deadline = cs_test_now_ms() + 60000 * cs_test_timeout_mult();
    size_t n = 0;
    for (;;) {
        cs_consumer_prefetch(mb->c);
        cs_consumer_reservoir(mb->c, &n, NULL, NULL);
        if (n >= want)
            break;
        ck_assert_msg(cs_test_now_ms() < deadline, "reservoir holds %zu of %zu messages", n, want);
        wait_fd(mb, 50);
    }
    ck_assert_uint_eq(n, want);
}

static void setup(void)
{
    cs_test_topic("rsv", topic, sizeof topic);
    produce(-1, 0, N_PER);
}

START_TEST(seek_pause_keep_order)
{
    char group[160];
    cs_err_t err;
    size_t n;

    snprintf(group, sizeof group, "g.%s", topic);
    member_t *mb = member_new(group, "it-0071-a");
    fill(mb, N_PARTS * N_PER);
    for (int p = 0; p < N_PARTS; p++)
        ck_assert_msg(mb->assigned[p], "partition %d not assigned", p);

    cs_tp_t p1 = {topic, 1, 0, false};
    ck_assert_int_eq(cs_consumer_pause(mb->c, &p1, 1, &err), 0);
    cs_consumer_reservoir(mb->c, &n, NULL, NULL);
    ck_assert_msg(n == N_PARTS * N_PER, "pausing dropped %zu messages", N_PARTS * N_PER - n);

    cs_tp_t p0 = {topic, 0, 7, false};
    ck_assert_int_eq(cs_consumer_seek(mb->c, &p0, 1, &err), 0);
    cs_consumer_reservoir(mb->c, &n, NULL, NULL);
    ck_assert_msg(n == (N_PARTS - 1) * N_PER, "the seek left %zu messages (want %d)", n,
                  (N_PARTS - 1) * N_PER);
    mb->next[0] = 7; /* the first message of partition 0 must be offset 7 */

    int64_t deadline = cs_test_now_ms() + 60000 * cs_test_timeout_mult();
    while (mb->next[0] < N_PER || mb->got[1] < N_PER || mb->got[2] < N_PER || mb->got[3] < N_PER) {
        ck_assert_msg(cs_test_now_ms() < deadline, "drain timed out: %d %d %d %d", mb->got[0],
                      mb->got[1], mb->got[2], mb->got[3]);
        drain(mb);
        wait_fd(mb, 50);
    }
    ck_assert_int_eq(mb->got[0], N_PER - 7);
    for (int p = 1; p < N_PARTS; p++)
        ck_assert_int_eq(mb->got[p], N_PER);

    /* Partition 1 resumes after the reservoir's last message: nothing again, then the new. */
    ck_assert_int_eq(cs_consumer_resume(mb->c, &p1, 1, &err), 0);
    produce(1, N_PER, 5);
    deadline = cs_test_now_ms() + 30000 * cs_test_timeout_mult();
    while (mb->got[1] < N_PER + 5) {
        ck_assert_msg(cs_test_now_ms() < deadline, "partition 1 after resume: %d messages",
                      mb->got[1]);
        drain(mb);
        wait_fd(mb, 50);
    }
    ck_assert_int_eq(mb->next[1], N_PER + 5);
    member_free(mb);
}
END_TEST

START_TEST(revoke_drops_reservoir)
{
    char group[160];
    size_t n;

    snprintf(group, sizeof group, "g2.%s", topic);
    member_t *a = member_new(group, "it-0071-a");
    fill(a, N_PARTS * N_PER);
    ck_assert_int_eq(a->nrevoke, 0);

    /* A second member: a serves the revocation while holding back (prefetch only). */
    member_t *b = member_new(group, "it-0071-b");
    int64_t deadline = cs_test_now_ms() + 90000 * cs_test_timeout_mult();
    while (a->nrevoke == 0) {
        ck_assert_msg(cs_test_now_ms() < deadline, "no revocation");
        cs_consumer_prefetch(a->c);
        drain(b);
        wait_fd(b, 20);
    }
    int nrev = 0;
    for (int p = 0; p < N_PARTS; p++)
        nrev += a->revoked[p];
    ck_assert_msg(nrev > 0 && nrev < N_PARTS, "%d partitions revoked", nrev);
    ck_assert_msg(a->reservoir_at_revoke == N_PARTS * N_PER,
                  "the reservoir held %zu messages at the revoke (want all %d)",
                  a->reservoir_at_revoke, N_PARTS * N_PER);
    cs_consumer_reservoir(a->c, &n, NULL, NULL);
    ck_assert_msg(n == (size_t)(N_PARTS - nrev) * N_PER,
                  "after revoking %d partitions the reservoir holds %zu messages", nrev, n);

    /* take() fails on any message of a partition a does not own. */
    deadline = cs_test_now_ms() + 90000 * cs_test_timeout_mult();
    for (;;) {
        bool done = true;
        for (int p = 0; p < N_PARTS; p++)
            done &= a->revoked[p] ? b->got[p] >= N_PER : a->got[p] >= N_PER;
        if (done)
            break;
        ck_assert_msg(cs_test_now_ms() < deadline, "drain timed out");
        drain(a);
        drain(b);
        wait_fd(b, 20);
    }
    for (int p = 0; p < N_PARTS; p++) {
        member_t *owner = a->revoked[p] ? b : a;
        ck_assert_int_eq(owner->got[p], N_PER);
        ck_assert_int_eq(owner->next[p], N_PER);
        if (a->revoked[p])
            ck_assert_int_eq(a->got[p], 0);
    }
    member_free(b);
    member_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("consumer_reservoir");
    TCase *tc = tcase_create("reservoir");
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, seek_pause_keep_order);
    tcase_add_test(tc, revoke_drops_reservoir);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

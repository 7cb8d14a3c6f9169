/*
 * tests/integration/0068-consumer_memory.c
 *      A consumer draining a backlog spread over many partitions stays within its memory bound.
 *
 * 48,000 LZ4-compressed 1 KiB messages (about 47 MiB) are produced to 24 fresh topics of 4
 * partitions each (96 partitions on the 3 brokers of the loopback cluster). One cs_consumer then
 * drains them the way the worker runtime does: it keeps up to 5,000 messages pending (one batch)
 * and "applies" each batch for 100 ms, holding back meanwhile (cs_consumer_prefetch every 2 ms,
 * which fills the consumer's reservoir of copies up to its bound), so it is slower than the
 * fetchers and both the reservoir and librdkafka's prefetch queue stay full for the whole drain.
 * The reservoir never holds more than its bound (plus the one message that crossed it). The
 * growth of the peak RSS (VmHWM, reset after producing) over the RSS before the consumer started
 * must stay under CS_MEM_BOUND_MIB.
 *
 * What the bound catches: messages that point into librdkafka's buffers (each pending message
 * then pins its decompressed message set), a prefetch queue sized in seconds of work instead of
 * a few thousand messages, or large fetches (each broker adds a response beyond the queue bound).
 * Measured on the loopback cluster: 18-20 MiB with this consumer, 36-41 MiB with the one
 * that kept librdkafka's messages (30,000 queued messages, 1 MiB fetches).
 *
 * Every message must arrive exactly once and in order per partition (through the reservoir or
 * straight from librdkafka), with its key, payload and headers intact (they are copies now), and
 * every partition must report its end.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/consumer.h"
#include "harness.h"

#define N_TOPICS         24
#define N_PARTS          4 /* the broker's auto-created topics */
#define N_MSGS           48000
#define MSG_BYTES        1024
#define PENDING          5000 /* a worker batch */
#define APPLY_MS         100  /* what "applying" a batch takes */
#define CS_MEM_BOUND_MIB 28   /* growth of VmHWM while draining */

static char topics[N_TOPICS][128];
static const char *topic_list[N_TOPICS + 1];

/* A 1 KiB payload that compresses like JSON events do (about 3x): "seq=<i>;" then words. */
static size_t make_payload(int i, char *buf)
{
    static const char *const words[] = {
        "learner", "mentor", "session",  "portfolio",   "review", "interview", "offer", "skill",
        "module",  "cohort", "feedback", "application", "score",  "track",     "goal"};
    unsigned seed = (unsigned)i * 2654435761u;
    size_t n = (size_t)snprintf(buf, MSG_BYTES, "seq=%d;", i);

    while (n < MSG_BYTES - 16) {
        seed = seed * 1103515245u + 12345u;
        n += (size_t)snprintf(buf + n, MSG_BYTES - n, "%s:%u,", words[(seed >> 16) % 15],
                              (seed >> 8) % 1000);
    }
    memset(buf + n, '.', MSG_BYTES - n);
    return MSG_BYTES;
}

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t flen = strlen(field);

    ck_assert_msg(f != NULL, "cannot read /proc/self/status");
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':')
            v = atol(line + flen + 1);
    fclose(f);
    ck_assert_msg(v >= 0, "no %s in /proc/self/status", field);
    return v;
}

static void produce_backlog(void)
{
    char errstr[512], payload[MSG_BYTES], key[16], seq[16];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const kv[][2] = {
        {"compression.type", "lz4"},
        {"linger.ms", "5"},
        {"queue.buffering.max.kbytes", "16384"},
    };

    ck_assert_int_eq(
        rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof errstr),
        RD_KAFKA_CONF_OK);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        ck_assert_msg(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof errstr) ==
                          RD_KAFKA_CONF_OK,
                      "%s: %s", kv[i][0], errstr);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    ck_assert_msg(p != NULL, "%s", errstr);

    for (int i = 0; i < N_MSGS; i++) {
        rd_kafka_resp_err_t err;
        size_t len = make_payload(i, payload);
        int kn = snprintf(key, sizeof key, "k%d", i);
        snprintf(seq, sizeof seq, "%d", i);
        do {
            err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topics[i % N_TOPICS]),
                                    RD_KAFKA_V_KEY(key, (size_t)kn), RD_KAFKA_V_VALUE(payload, len),
                                    RD_KAFKA_V_HEADER("cs.seq", seq, -1),
                                    RD_KAFKA_V_HEADER("empty", NULL, 0),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 10);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        ck_assert_msg(!err, "produce: %s", rd_kafka_err2str(err));
        rd_kafka_poll(p, 0);
    }
    ck_assert_int_eq(rd_kafka_flush(p, 60000 * cs_test_timeout_mult()), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

/* Checks one message against what was produced; returns its sequence number. */
static int check_msg(const cs_msg_t *m)
{
    char want[MSG_BYTES], key[16];
    size_t n = 0;
    int i = -1;

    ck_assert_msg(m->len == MSG_BYTES, "payload of %zu bytes", m->len);
    ck_assert_msg(sscanf((const char *)m->payload, "seq=%d;", &i) == 1 && i >= 0 && i < N_MSGS,
                  "payload does not start with its sequence number");
    make_payload(i, want);
    ck_assert_msg(memcmp(m->payload, want, MSG_BYTES) == 0, "payload %d differs", i);
    int kn = snprintf(key, sizeof key, "k%d", i);
    ck_assert_msg(m->key_len == (size_t)kn && memcmp(m->key, key, (size_t)kn) == 0,
                  "key of message %d", i);
    const char *h = cs_consumer_msg_header(m, "cs.seq", &n);
    ck_assert_msg(h != NULL && n == strlen(key) - 1 && memcmp(h, key + 1, n) == 0,
                  "header cs.seq of message %d", i);
    n = 99;
    ck_assert_ptr_null(cs_consumer_msg_header(m, "empty", &n)); /* a header without a value */
    ck_assert_ptr_null(cs_consumer_msg_header(m, "missing", NULL));
    ck_assert_msg(strcmp(m->topic, topics[i % N_TOPICS]) == 0, "message %d on topic %s", i,
                  m->topic);
    return i;
}

static size_t reservoir_peak;

static void apply(cs_consumer_t *c, cs_msg_t **pending, int *npending)
{
    struct timespec ts = {0, 2 * 1000000L};
    int64_t until = cs_test_now_ms() + APPLY_MS;
    size_t n, bytes, bound;

    while (cs_test_now_ms() < until) {
        cs_consumer_prefetch(c);
        cs_consumer_reservoir(c, &n, &bytes, &bound);
        ck_assert_msg(bound > 0, "no reservoir");
        ck_assert_msg(bytes < bound + MSG_BYTES + 1024,
                      "the reservoir holds %zu bytes (%zu messages), over its bound of %zu", bytes,
                      n, bound);
        if (bytes > reservoir_peak)
            reservoir_peak = bytes;
        nanosleep(&ts, NULL);
    }
    for (int k = 0; k < *npending; k++)
        cs_consumer_msg_free(pending[k]);
    *npending = 0;
}

START_TEST(drain_stays_within_bound)
{
    static cs_msg_t *pending[PENDING];
    static int64_t next_offset[N_TOPICS][N_PARTS];
    static unsigned char seen[N_MSGS], eof[N_TOPICS][N_PARTS];
    char group[160];
    int npending = 0, got = 0, neof = 0;
    cs_err_t err;

    for (int t = 0; t < N_TOPICS; t++) {
        cs_test_topic("mem", topics[t], sizeof topics[t]);
        topic_list[t] = topics[t];
    }
    topic_list[N_TOPICS] = NULL;
    snprintf(group, sizeof group, "g.%s", topics[0]);
    /* As the worker runtime does (cs_worker_main), before librdkafka starts any thread. */
    mallopt(M_ARENA_MAX, 2);
    produce_backlog();

    /* The baseline: what the process holds before the consumer exists. */
    malloc_trim(0);
    FILE *f = fopen("/proc/self/clear_refs", "w");
    ck_assert_msg(f != NULL && fputs("5", f) >= 0 && fclose(f) == 0,
                  "cannot reset the peak RSS (/proc/self/clear_refs)");
    long base = status_kib("VmRSS");

    cs_consumer_conf_t cc = {
        .brokers = cs_test_brokers(),
        .group = group,
        .topics = topic_list,
        .client_id = "it-0068",
        .session_timeout_ms = 6000,
        .partition_eof = true,
    };
    cs_consumer_t *c = cs_consumer_new(&cc, NULL, &err);
    ck_assert_msg(c != NULL, "consumer: %s", err.msg);

    int64_t deadline = cs_test_now_ms() + 120000 * cs_test_timeout_mult();
    while (neof < N_TOPICS * N_PARTS || got < N_MSGS) {
        ck_assert_msg(cs_test_now_ms() < deadline, "drain timed out: %d messages, %d ends", got,
                      neof);
        struct pollfd pfd = {.fd = cs_consumer_fd(c), .events = POLLIN};
        poll(&pfd, 1, 100);
        cs_consumer_ack_fd(c);
        cs_msg_t *m;
        while ((m = cs_consumer_poll(c)) != NULL) {
            int t = 0;
            while (t < N_TOPICS && strcmp(m->topic, topics[t]) != 0)
                t++;
            ck_assert_msg(m->event == CS_MSG_ERROR || t < N_TOPICS, "unknown topic %s", m->topic);
            if (m->event == CS_MSG_ERROR) {
                ck_assert_msg(m->err.kind != CS_ERR_FATAL, "consumer failed: %s", m->err.msg);
                cs_consumer_msg_free(m);
                continue;
            }
            ck_assert(m->partition >= 0 && m->partition < N_PARTS);
            if (m->event == CS_MSG_EOF) {
                if (!eof[t][m->partition]++)
                    neof++;
                cs_consumer_msg_free(m);
                continue;
            }
            ck_assert_msg(m->offset == next_offset[t][m->partition],
                          "%s [%d]: offset %lld, expected %lld", m->topic, m->partition,
                          (long long)m->offset, (long long)next_offset[t][m->partition]);
            next_offset[t][m->partition]++;
            int i = check_msg(m);
            ck_assert_msg(!seen[i]++, "message %d twice", i);
            got++;
            pending[npending++] = m;
            if (npending == PENDING)
                apply(c, pending, &npending);
        }
    }
    apply(c, pending, &npending);
    long hwm = status_kib("VmHWM");
    ck_assert_int_eq(cs_consumer_close(c, 10000, &err), 0);
    cs_consumer_destroy(c);

    fprintf(stderr,
            "0068: %d messages over %d partitions; RSS before %ld KiB, peak %ld KiB: +%.1f MiB "
            "(bound %d MiB); reservoir peak %zu KiB\n",
            got, N_TOPICS * N_PARTS, base, hwm, (double)(hwm - base) / 1024.0, CS_MEM_BOUND_MIB,
            reservoir_peak / 1024);
    ck_assert_int_eq(got, N_MSGS);
    ck_assert_msg(reservoir_peak > 0, "the reservoir was never used");
    ck_assert_msg(hwm - base <= CS_MEM_BOUND_MIB * 1024L,
                  "draining grew the peak RSS by %.1f MiB, over the %d MiB bound",
                  (double)(hwm - base) / 1024.0, CS_MEM_BOUND_MIB);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("consumer_memory");
    TCase *tc = tcase_create("drain");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, drain_stays_within_bound);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

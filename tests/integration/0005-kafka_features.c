/*
 * tests/integration/0005-kafka_features.c
 *      The broker features careerstream relies on are on against the real broker, as librdkafka
 *      2.0.2 negotiates them: ApiVersions, consumer groups, the idempotent producer, headers and
 *      timestamp lookup (offsets for times).
 *
 * Every client of this test sets broker.version.fallback=0.9.0, a protocol without record
 * batches, headers, idempotence, timestamps or ZSTD: those work here only because the broker's
 * ApiVersions answer enabled them (librdkafka logs "Enabling feature X" for each, which the first
 * test checks; with api.version.request=false only the 0.9.0 features, groups and LZ4, appear). The
 * mock cluster the suite used before answered -1 to every offsets-for-times query; this test
 * asserts the exact offsets, so it fails on such an answer. Each test makes its own topics
 * (CreateTopics, 4 partitions, the broker's replication factor).
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- the clients' log, for what librdkafka does not expose otherwise ------------------------ */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *log_buf;
static size_t log_len, log_cap;

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    size_t n = strlen(fac) + strlen(buf) + 3;
    pthread_mutex_lock(&log_mu);
    if (log_len + n + 1 <= 4 << 20) { /* plenty for these tests; the rest is dropped */
        if (log_len + n + 1 > log_cap) {
            log_cap = (log_len + n + 1) * 2;
            log_buf = realloc(log_buf, log_cap);
            ck_assert_ptr_nonnull(log_buf);
        }
        log_len += (size_t)snprintf(log_buf + log_len, log_cap - log_len, "%s %s\n", fac, buf);
    }
    pthread_mutex_unlock(&log_mu);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_mu);
    log_len = 0;
    if (log_buf)
        log_buf[0] = '\0';
    pthread_mutex_unlock(&log_mu);
}

/* Whether the log holds s; *after (when given) receives a copy of the text that follows it. */
static int log_has(const char *s, char *after, size_t size)
{
    pthread_mutex_lock(&log_mu);
    const char *p = log_buf && log_len ? strstr(log_buf, s) : NULL;
    if (p && after)
        snprintf(after, size, "%s", p + strlen(s));
    pthread_mutex_unlock(&log_mu);
    return p != NULL;
}

/* ---- clients -------------------------------------------------------------------------------- */

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char errstr[512];
    ck_assert_msg(rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) == RD_KAFKA_CONF_OK,
                  "%s: %s", k, errstr);
}

/* A configuration whose features can come only from the broker's ApiVersions answer. */
static rd_kafka_conf_t *base_conf(const char *debug)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", cs_test_brokers());
    set(conf, "api.version.request", "true");
    set(conf, "broker.version.fallback", "0.9.0");
    set(conf, "api.version.fallback.ms", "0");
    if (debug)
        set(conf, "debug", debug);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    return conf;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    ck_assert_msg(rk != NULL, "rd_kafka_new: %s", errstr);
    return rk; /* conf is owned by rk */
}

static rd_kafka_t *new_producer(const char *debug)
{
    rd_kafka_conf_t *conf = base_conf(debug);
    set(conf, "enable.idempotence", "true");
    set(conf, "linger.ms", "5");
    return new_client(RD_KAFKA_PRODUCER, conf);
}

/* The rebalance handling of the worker runtime's consumer (libcore/src/consumer.c), incremental. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    rd_kafka_error_t *e = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS
                              ? rd_kafka_incremental_assign(rk, parts)
                              : rd_kafka_incremental_unassign(rk, parts);
    if (e)
        rd_kafka_error_destroy(e);
}

static rd_kafka_t *new_consumer(const char *group)
{
    rd_kafka_conf_t *conf = base_conf(NULL);
    set(conf, "group.id", group);
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.partition.eof", "true");
    set(conf, "partition.assignment.strategy", "cooperative-sticky");
    /* Long enough that a member which left without a LeaveGroup is told apart (see below). */
    set(conf, "session.timeout.ms", "30000");
    set(conf, "heartbeat.interval.ms", "500");
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* A fresh topic of 4 partitions, through the Admin API. */
static void create_topic(const char *tag, char *name, size_t size)
{
    char errstr[512];
    cs_test_topic(tag, name, size);
    rd_kafka_t *rk = new_producer(NULL);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, 4, -1, errstr, sizeof errstr);
    ck_assert_msg(nt != NULL, "%s", errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    ck_assert_msg(ev != NULL, "CreateTopics: no answer in 30 s");
    ck_assert_msg(!rd_kafka_event_error(ev), "CreateTopics: %s", rd_kafka_event_error_string(ev));
    size_t cnt = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    ck_assert_int_eq(cnt, 1);
    ck_assert_msg(!rd_kafka_topic_result_error(res[0]), "CreateTopics %s: %s", name,
                  rd_kafka_topic_result_error_string(res[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    /*
     * The controller has created it; the broker answers metadata for it a moment later (a
     * consumer subscribing before that gets "Unknown topic or partition"): wait until it does.
     */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
    int64_t until = cs_test_now_ms() + 30000LL * cs_test_timeout_mult();
    for (;;) {
        const rd_kafka_metadata_t *md = NULL;
        bool ready = rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                     md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                     md->topics[0].partition_cnt == 4;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ready)
            break;
        ck_assert_msg(cs_test_now_ms() < until, "topic %s: no metadata with 4 partitions", name);
        usleep(100 * 1000);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

/* Delivery reports: counted, and each message's offset kept (the opaque is its index). */
typedef struct dr_state {
    int delivered, failed;
    int64_t *offset;
    int32_t *partition;
} dr_state_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dr_state_t *s = opaque;
    if (m->err) {
        s->failed++;
        return;
    }
    s->delivered++;
    if (s->offset) {
        size_t i = (size_t)(uintptr_t)m->_private;
        s->offset[i] = m->offset;
        s->partition[i] = m->partition;
    }
}

/* Reads partitions 0..n-1 of topic from the beginning to their end, without a group. */
typedef void (*msg_fn)(const rd_kafka_message_t *m, void *ctx);
static int read_all(const char *topic, int n, msg_fn fn, void *ctx)
{
    char group[160];
    snprintf(group, sizeof group, "%s.reader", topic);
    rd_kafka_t *c = new_consumer(group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ck_assert_int_eq(rd_kafka_assign(c, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    int eof = 0, count = 0;
    int64_t deadline = cs_test_now_ms() + 30000LL * cs_test_timeout_mult();
    while (eof < n && cs_test_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof++;
        else {
            ck_assert_msg(!m->err, "consume: %s", rd_kafka_message_errstr(m));
            fn(m, ctx);
            count++;
        }
        rd_kafka_message_destroy(m);
    }
    ck_assert_msg(eof == n, "only %d of %d partitions reached their end in 30 s", eof, n);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return count;
}

/* ---- ApiVersions ---------------------------------------------------------------------------- */

/*
 * The broker answers ApiVersions and librdkafka enables from it every protocol feature
 * careerstream uses; the fallback 0.9.0 would give groups and LZ4 only.
 */
START_TEST(api_versions_enable_features)
{
    static const char *const needed[] = {
        "MsgVer2",                /* record batches: headers, idempotence, exactly-once offsets */
        "IdempotentProducer",     /* InitProducerId */
        "OffsetTime",             /* ListOffsets by timestamp */
        "BrokerGroupCoordinator", /* FindCoordinator */
        "BrokerBalancedConsumer", /* JoinGroup/SyncGroup/Heartbeat: consumer groups */
        "LZ4",                    /* the producers' compression */
        "ZSTD",
    };
    log_reset();
    rd_kafka_t *rk = new_producer("feature");
    char fallback[32];
    size_t n = sizeof fallback;
    ck_assert_int_eq(rd_kafka_conf_get(rd_kafka_conf(rk), "broker.version.fallback", fallback, &n),
                     RD_KAFKA_CONF_OK);
    ck_assert_str_eq(fallback, "0.9.0");
    const struct rd_kafka_metadata *md = NULL;
    ck_assert_int_eq(rd_kafka_metadata(rk, 1, NULL, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_ge(md->broker_cnt, 1);
    rd_kafka_metadata_destroy(md);
    int64_t deadline = cs_test_now_ms() + 10000;
    while (!log_has("Enabling feature ZSTD", NULL, 0) && cs_test_now_ms() < deadline)
        rd_kafka_poll(rk, 100);
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
        char line[64];
        snprintf(line, sizeof line, "Enabling feature %s\n", needed[i]);
        ck_assert_msg(log_has(line, NULL, 0), "librdkafka did not enable %s from ApiVersions",
                      needed[i]);
    }
    ck_assert_msg(!log_has("ApiVersionRequest failed", NULL, 0), "ApiVersions failed");
    rd_kafka_destroy(rk);
}
END_TEST

/* ---- the idempotent producer ---------------------------------------------------------------- */

#define IDEM_N 6000

typedef struct order_state {
    int next[4];     /* the next sequence number expected per partition */
    int64_t last[4]; /* the last offset per partition */
    int bad;
} order_state_t;

static void check_order(const rd_kafka_message_t *m, void *ctx)
{
    order_state_t *s = ctx;
    int p = m->partition, seq = -1;
    char v[32];
    snprintf(v, sizeof v, "%.*s", (int)m->len, (const char *)m->payload);
    if (sscanf(v, "%*d:%d", &seq) != 1 || p < 0 || p > 3 || seq != s->next[p] ||
        m->offset != s->last[p] + 1)
        s->bad++;
    else {
        s->next[p]++;
        s->last[p] = m->offset;
    }
}

/*
 * enable.idempotence=true is really on: the broker assigns a producer id (InitProducerId), the
 * producer never raises a fatal error, and 6,000 messages over 4 partitions are each stored once,
 * in the order produced, at consecutive offsets that the delivery reports named.
 */
START_TEST(idempotent_producer_exactly_once_in_order)
{
    char topic[128];
    create_topic("idem", topic, sizeof topic);
    log_reset();
    rd_kafka_conf_t *conf = base_conf("eos");
    set(conf, "enable.idempotence", "true");
    set(conf, "acks", "all");
    set(conf, "linger.ms", "5");
    set(conf, "batch.num.messages", "100"); /* many requests in flight */
    set(conf, "compression.codec", "lz4");
    dr_state_t dr = {.offset = calloc(IDEM_N, sizeof(int64_t)),
                     .partition = calloc(IDEM_N, sizeof(int32_t))};
    rd_kafka_conf_set_opaque(conf, &dr);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf);
    char v[64];
    size_t n = sizeof v;
    ck_assert_int_eq(rd_kafka_conf_get(rd_kafka_conf(rk), "enable.idempotence", v, &n),
                     RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "true");

    int seq[4] = {0};
    for (int i = 0; i < IDEM_N; i++) {
        int p = i % 4;
        int len = snprintf(v, sizeof v, "%d:%d", p, seq[p]++);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                                        RD_KAFKA_V_VALUE(v, (size_t)len),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        ck_assert_msg(!err, "produce: %s", rd_kafka_err2str(err));
        rd_kafka_poll(rk, 0);
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 30000 * cs_test_timeout_mult()),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    char errstr[256];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, errstr, sizeof errstr);
    ck_assert_msg(fatal == RD_KAFKA_RESP_ERR_NO_ERROR, "fatal error: %s", errstr);
    ck_assert_int_eq(dr.failed, 0);
    ck_assert_int_eq(dr.delivered, IDEM_N);

    /* The producer id the broker assigned (InitProducerId): "Acquired PID{Id:<id>,Epoch:<e>}". */
    char after[64];
    ck_assert_msg(log_has("Acquired PID{Id:", after, sizeof after), "no producer id acquired");
    long long pid = atoll(after);
    ck_assert_msg(pid >= 0, "producer id %lld", pid);
    fprintf(stderr, "0005: idempotent producer id %lld, %d messages delivered\n", pid, IDEM_N);

    /* The delivery reports: per partition, offsets 0.. in the order produced. */
    int64_t next[4] = {0};
    for (int i = 0; i < IDEM_N; i++) {
        ck_assert_int_eq(dr.partition[i], i % 4);
        ck_assert_msg(dr.offset[i] == next[i % 4], "message %d at offset %lld, expected %lld", i,
                      (long long)dr.offset[i], (long long)next[i % 4]);
        next[i % 4]++;
    }
    rd_kafka_destroy(rk);
    free(dr.offset);
    free(dr.partition);

    /* What the broker stored: each message once, in order, nothing else. */
    order_state_t st = {.last = {-1, -1, -1, -1}};
    int got = read_all(topic, 4, check_order, &st);
    ck_assert_int_eq(st.bad, 0);
    ck_assert_int_eq(got, IDEM_N);
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(st.next[p], IDEM_N / 4);
}
END_TEST

/* ---- headers -------------------------------------------------------------------------------- */

typedef struct hdr_state {
    int seen;
    char why[256];
} hdr_state_t;

static void check_headers(const rd_kafka_message_t *m, void *ctx)
{
    hdr_state_t *s = ctx;
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;
    s->seen++;
    if (rd_kafka_message_headers(m, &h) || !h) {
        snprintf(s->why, sizeof s->why, "no headers");
        return;
    }
    static const struct {
        const char *name;
        const char *value;
        size_t len;
    } want[] = {{"cs.event_type", "content_progress", 16},
                {"cs.schema_fingerprint", "cecc4219601b77ca", 16},
                {"bin", "\0\x01\xff\n", 4},
                {"dup", "1", 1},
                {"dup", "2", 1},
                {"null", NULL, 0},
                {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 55}};
    size_t nwant = sizeof want / sizeof *want;
    if (rd_kafka_header_cnt(h) != nwant) {
        snprintf(s->why, sizeof s->why, "%zu headers, expected %zu", rd_kafka_header_cnt(h), nwant);
        return;
    }
    for (size_t i = 0; i < nwant; i++) {
        const char *name;
        if (rd_kafka_header_get_all(h, i, &name, &v, &len) || strcmp(name, want[i].name) != 0 ||
            len != want[i].len ||
            (want[i].value ? memcmp(v, want[i].value, len) != 0 : v != NULL)) {
            snprintf(s->why, sizeof s->why, "header %zu is not %s as sent", i, want[i].name);
            return;
        }
    }
    if (rd_kafka_header_get_last(h, "dup", &v, &len) || len != 1 || memcmp(v, "2", 1) != 0)
        snprintf(s->why, sizeof s->why, "the last 'dup' header is not the second one");
}

/* Headers (the contract's cs.event_type, cs.schema_fingerprint, traceparent, and binary, repeated
 * and null-valued ones) come back byte for byte, in order. */
START_TEST(headers_round_trip)
{
    char topic[128];
    create_topic("headers", topic, sizeof topic);
    rd_kafka_t *rk = new_producer(NULL);
    for (int i = 0; i < 10; i++) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(8);
        rd_kafka_header_add(h, "cs.event_type", -1, "content_progress", -1);
        rd_kafka_header_add(h, "cs.schema_fingerprint", -1, "cecc4219601b77ca", 16);
        rd_kafka_header_add(h, "bin", -1, "\0\x01\xff\n", 4);
        rd_kafka_header_add(h, "dup", -1, "1", 1);
        rd_kafka_header_add(h, "dup", -1, "2", 1);
        rd_kafka_header_add(h, "null", -1, NULL, 0);
        rd_kafka_header_add(h, "traceparent", -1,
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", -1);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(i % 4), RD_KAFKA_V_VALUE("x", 1),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        ck_assert_msg(!err, "produce: %s", rd_kafka_err2str(err));
        /* h is owned by the message now */
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    hdr_state_t st = {0};
    ck_assert_int_eq(read_all(topic, 4, check_headers, &st), 10);
    ck_assert_msg(st.why[0] == '\0', "%s", st.why);
    ck_assert_int_eq(st.seen, 10);
}
END_TEST

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- timestamps and their lookup ------------------------------------------------------------ */

#define TS_N 10

typedef struct ts_state {
    int64_t base;
    int seen, bad;
} ts_state_t;

static void check_ts(const rd_kafka_message_t *m, void *ctx)
{
    ts_state_t *s = ctx;
    rd_kafka_timestamp_type_t type;
    int64_t ts = rd_kafka_message_timestamp(m, &type);
    int64_t want = s->base + (m->partition == 1 ? 500 : 0) + m->offset * 1000;
    s->seen++;
    if (type != RD_KAFKA_TIMESTAMP_CREATE_TIME || ts != want)
        s->bad++;
}

static int64_t offset_for_time(rd_kafka_t *rk, const char *topic, int partition, int64_t ts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = ts;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, l, 10000 * cs_test_timeout_mult());
    ck_assert_msg(!err, "offsets_for_times: %s", rd_kafka_err2str(err));
    ck_assert_msg(!l->elems[0].err, "offsets_for_times [%d]: %s", partition,
                  rd_kafka_err2str(l->elems[0].err));
    int64_t off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return off;
}

/*
 * Messages keep the timestamps their producer chose (CreateTime), and ListOffsets by timestamp
 * returns, per partition, the first offset at or after the time asked: the lookup a replay from
 * a point in time (cs-replay) depends on.
 */
START_TEST(timestamp_lookup)
{
    char topic[128];
    create_topic("ts", topic, sizeof topic);
    /* An hour ago, well inside the retention, on a whole second. */
    int64_t base = (wall_ms() - 3600 * 1000) / 1000 * 1000;
    rd_kafka_t *rk = new_producer(NULL);
    for (int i = 0; i < TS_N; i++)
        for (int p = 0; p < 2; p++) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p), RD_KAFKA_V_VALUE("t", 1),
                RD_KAFKA_V_TIMESTAMP(base + p * 500 + i * 1000),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            ck_assert_msg(!err, "produce: %s", rd_kafka_err2str(err));
        }
    ck_assert_int_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);

    static const struct {
        int partition;
        int64_t at; /* relative to base */
        int64_t want;
    } q[] = {
        {0, -86400000, 0}, /* before everything: the first message */
        {0, 0, 0},         /* exactly the first */
        {0, 1, 1},         /* just after it: the next */
        {0, 4500, 5},      /* between two: the later one */
        {0, 9000, 9},      /* exactly the last */
        {1, 0, 0},         /* partition 1 runs 500 ms behind */
        {1, 4500, 4},      {1, 4501, 5}, {1, 9500, 9},
    };
    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        int64_t got = offset_for_time(rk, topic, q[i].partition, base + q[i].at);
        ck_assert_msg(got == q[i].want, "offset for time base%+lld in [%d]: %lld, expected %lld",
                      (long long)q[i].at, q[i].partition, (long long)got, (long long)q[i].want);
    }
    /* After the last message: no such offset (the end, -1). */
    ck_assert_int_eq(offset_for_time(rk, topic, 0, base + 9001), RD_KAFKA_OFFSET_END);
    /* An empty partition has none either. */
    ck_assert_int_eq(offset_for_time(rk, topic, 3, base), RD_KAFKA_OFFSET_END);
    rd_kafka_destroy(rk);

    ts_state_t st = {.base = base};
    ck_assert_int_eq(read_all(topic, 4, check_ts, &st), 2 * TS_N);
    ck_assert_int_eq(st.bad, 0);
}
END_TEST

/* ---- consumer groups ------------------------------------------------------------------------ */

#define GROUP_PER_PART 100

/* The partitions assigned to rk, as a bit mask. */
static unsigned assigned_mask(rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    unsigned mask = 0;
    if (rd_kafka_assignment(rk, &l))
        return 0;
    for (int i = 0; i < l->cnt; i++)
        mask |= 1u << l->elems[i].partition;
    rd_kafka_topic_partition_list_destroy(l);
    return mask;
}

/*
 * Polls c once; a message is counted in got[partition] (the next offset expected), so each is
 * read once and in order. An older offset than expected in a partition of the mask dup_ok is a
 * duplicate, counted in *dups; anything else out of order is a failure.
 */
static void poll_member(rd_kafka_t *c, int got[4], unsigned *from, unsigned dup_ok, int *dups,
                        int timeout_ms)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c, timeout_ms);
    if (!m)
        return;
    if (!m->err) {
        ck_assert_int_lt(m->partition, 4);
        if ((dup_ok & (1u << m->partition)) && m->offset < got[m->partition])
            (*dups)++;
        else {
            ck_assert_msg(m->offset == got[m->partition], "%s read [%d] at %lld, expected %d",
                          rd_kafka_name(c), (int)m->partition, (long long)m->offset,
                          got[m->partition]);
            got[m->partition]++;
            *from |= 1u << m->partition;
        }
    } else
        ck_assert_msg(m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF, "consume: %s",
                      rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
}

static void produce_per_partition(const char *topic, int per_partition)
{
    rd_kafka_t *p = new_producer(NULL);
    for (int i = 0; i < 4 * per_partition; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(i % 4),
                              RD_KAFKA_V_VALUE("g", 1), RD_KAFKA_V_END);
        ck_assert_msg(!err, "produce: %s", rd_kafka_err2str(err));
    }
    ck_assert_int_eq(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

/*
 * Two consumers of one group split a 4-partition topic (two partitions each, disjoint); each
 * reads only its own partitions' messages, every message once; the offsets they commit are
 * stored by the group coordinator; when one leaves, the other takes its partitions over and
 * resumes at the committed offsets (nothing is read twice).
 */
START_TEST(consumer_group_splits_partitions)
{
    char topic[128], group[160];
    create_topic("group", topic, sizeof topic);
    snprintf(group, sizeof group, "%s.g", topic);
    rd_kafka_t *c[2] = {new_consumer(group), new_consumer(group)};
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(rd_kafka_subscribe(c[i], sub), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(sub);

    /* Both members join and settle: disjoint halves covering the topic. */
    int got[2][4] = {{0}};
    unsigned from[2] = {0}, m0 = 0, m1 = 0;
    int64_t t0 = cs_test_now_ms(), deadline = t0 + 30000LL * cs_test_timeout_mult();
    while (cs_test_now_ms() < deadline) {
        for (int i = 0; i < 2; i++)
            poll_member(c[i], got[i], &from[i], 0, NULL, 50);
        m0 = assigned_mask(c[0]);
        m1 = assigned_mask(c[1]);
        if ((m0 | m1) == 0xf && !(m0 & m1) && m0 && m1)
            break;
    }
    ck_assert_msg((m0 | m1) == 0xf && !(m0 & m1), "assignments 0x%x and 0x%x after 30 s", m0, m1);
    ck_assert_int_eq(__builtin_popcount(m0), 2);
    ck_assert_int_eq(__builtin_popcount(m1), 2);
    fprintf(stderr, "0005: group of two settled in %lld ms: partitions 0x%x and 0x%x\n",
            (long long)(cs_test_now_ms() - t0), m0, m1);

    produce_per_partition(topic, GROUP_PER_PART);

    int total = 0;
    deadline = cs_test_now_ms() + 30000LL * cs_test_timeout_mult();
    while (total < 4 * GROUP_PER_PART && cs_test_now_ms() < deadline) {
        total = 0;
        for (int i = 0; i < 2; i++) {
            poll_member(c[i], got[i], &from[i], 0, NULL, 50);
            for (int q = 0; q < 4; q++)
                total += got[i][q];
        }
    }
    ck_assert_int_eq(total, 4 * GROUP_PER_PART);
    ck_assert_msg(from[0] == m0 && from[1] == m1,
                  "members read partitions 0x%x and 0x%x, assigned 0x%x and 0x%x", from[0], from[1],
                  m0, m1);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(rd_kafka_commit(c[i], NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* The coordinator stored the commits: a third client of the group reads them back. */
    rd_kafka_t *probe = new_consumer(group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int q = 0; q < 4; q++)
        rd_kafka_topic_partition_list_add(l, topic, q);
    ck_assert_int_eq(rd_kafka_committed(probe, l, 10000 * cs_test_timeout_mult()),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int q = 0; q < 4; q++)
        ck_assert_msg(l->elems[q].offset == GROUP_PER_PART, "committed offset of [%d]: %lld", q,
                      (long long)l->elems[q].offset);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(probe);

    /*
     * Member 1 leaves: member 0 takes over its partitions at the committed offsets (100; anything
     * older read from them fails the test), and 10 more messages per partition are each read once.
     * Both use the worker runtime's incremental rebalance callback: with librdkafka's built-in
     * handling instead, 2.0.2 sent no LeaveGroup on close (the takeover waited out the session)
     * and re-read the retained partitions from offset 0 (the stale fetch start of
     * confluentinc/librdkafka#4686, fixed in later releases). The runtime drops offsets it has
     * already seen (recv_pos, libcore/src/worker.c), so such duplicates on the partitions member 0
     * kept are counted and printed here, not failed; anything lost or out of order fails.
     */
    unsigned from_new = 0;
    int dups = 0;
    for (int q = 0; q < 4; q++)
        if (m1 & (1u << q))
            got[0][q] = GROUP_PER_PART;
    t0 = cs_test_now_ms();
    ck_assert_int_eq(rd_kafka_consumer_close(c[1]), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(c[1]);
    deadline = t0 + 30000LL * cs_test_timeout_mult();
    while (assigned_mask(c[0]) != 0xf && cs_test_now_ms() < deadline)
        poll_member(c[0], got[0], &from_new, m0, &dups, 50);
    ck_assert_msg(assigned_mask(c[0]) == 0xf, "the remaining member has 0x%x after 30 s",
                  assigned_mask(c[0]));
    /* Within the 30 s session: the leaving member said so (LeaveGroup), as the workers' do. */
    int64_t took = cs_test_now_ms() - t0;
    ck_assert_msg(took < 15000, "the takeover took %lld ms: no LeaveGroup?", (long long)took);
    fprintf(stderr, "0005: the remaining member took over in %lld ms\n", (long long)took);
    produce_per_partition(topic, 10);
    deadline = cs_test_now_ms() + 30000LL * cs_test_timeout_mult();
    for (total = 0; total < 4 * (GROUP_PER_PART + 10) && cs_test_now_ms() < deadline;) {
        poll_member(c[0], got[0], &from_new, m0, &dups, 50);
        total = 0;
        for (int q = 0; q < 4; q++)
            total += got[0][q];
    }
    for (int q = 0; q < 4; q++)
        ck_assert_msg(got[0][q] == GROUP_PER_PART + 10, "[%d]: read up to %d, expected %d", q,
                      got[0][q], GROUP_PER_PART + 10);
    fprintf(stderr,
            "0005: after the takeover every new message was read once; %d older messages of the "
            "retained partitions were delivered again\n",
            dups);
    rd_kafka_consumer_close(c[0]);
    rd_kafka_destroy(c[0]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_features");
    TCase *tc = tcase_create("broker");
    tcase_set_timeout(tc, 120 * cs_test_timeout_mult());
    tcase_add_test(tc, api_versions_enable_features);
    tcase_add_test(tc, idempotent_producer_exactly_once_in_order);
    tcase_add_test(tc, headers_round_trip);
    tcase_add_test(tc, timestamp_lookup);
    tcase_add_test(tc, consumer_group_splits_partitions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free(log_buf);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

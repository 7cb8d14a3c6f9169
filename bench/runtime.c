/*
 * bench/runtime.c
 *      cs-bench-runtime - the worker runtime's overhead, in events per second.
 *
 * Produces --events events of the contract (skill_assessed, encoded by the codec, keyed by one
 * of --learners learners) to a fresh topic of the loopback broker, then consumes them with the
 * runtime (cs_worker_main, --drain) once per mode, each run in its own consumer group and child
 * process:
 *   noop    a handler that adds no row: decode, dedupe (processed_events), offsets, commit;
 *   upsert  one upsert per event into bench_learner_counts (a counter per learner, applied
 *           sequentially when a learner has several events in a batch).
 * The clock runs from the first handler call to the last committed batch, so the consumer group
 * join (a few seconds on the mock cluster) is not counted. Prints one line per mode.
 *
 *   CS_PG_DSN=... CS_KAFKA_BROKERS=... build/bin/cs-bench-runtime --events 100000
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cs/codec.h"
#include "cs/config.h"
#include "cs/db.h"
#include "cs/log.h"
#include "cs/worker.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct run {
    double t_first, t_last;
    long long events;
} run_t;

static run_t run_state;

static int on_noop(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta, cs_err_t *err)
{
    (void)b, (void)ev, (void)meta, (void)err;
    if (run_state.t_first == 0)
        run_state.t_first = mono();
    return 0;
}

static int on_upsert(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta, cs_err_t *err)
{
    (void)meta;
    if (run_state.t_first == 0)
        run_state.t_first = mono();
    cs_batch_row_begin(b, 0);
    cs_batch_str(b, ev->user_id);
    cs_batch_int(b, 1);
    cs_batch_ts_ms(b, ev->occurred_at_ms);
    return cs_batch_row_end(b, err);
}

static void on_committed(void *ud, int n)
{
    (void)ud;
    run_state.events += n;
    run_state.t_last = mono();
}

static const cs_table_def_t upsert_tables[] = {
    {.table = "bench_learner_counts",
     .columns = "user_id, n, last_at",
     .conflict = "user_id",
     .update = "n = t.n + EXCLUDED.n, last_at = greatest(t.last_at, EXCLUDED.last_at)"},
    {NULL},
};

static const cs_handler_t noop_handlers[] = {{CS_EVENT_ANY, on_noop, 0}, {NULL}};
static const cs_handler_t upsert_handlers[] = {{CS_EVENT_ANY, on_upsert, 0}, {NULL}};

static const char *const modes[] = {"both", "noop", "upsert", NULL};
static const cs_opt_t opts[] = {
    {"events", CS_OPT_INT, "60000",
     "events to produce and consume (the loopback broker keeps about 5 MiB per partition)", 1,
     10000000},
    {"learners", CS_OPT_INT, "10000", "distinct learners (Kafka keys, upsert rows)", 1, 10000000},
    {"mode", CS_OPT_ENUM, "both", "which handler to measure", 0, 0, modes},
    {"batch-size", CS_OPT_INT, "5000", "runtime batch size", 1, 1000000},
    {NULL},
};

static int produce(const char *brokers, const char *topic, long long n, long long learners)
{
    cs_err_t err;
    char errstr[512];
    cs_codec_t *codec = cs_codec_new(&err);
    cs_arena_t *arena = cs_arena_new(65536);
    cs_buf_t b = CS_BUF_INIT;
    cs_event_t ev;
    int t = cs_codec_type_by_name("skill_assessed");
    const char *ex = cs_codec_type_example(t);
    if (!codec || cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err) < 0) {
        fprintf(stderr, "bench: codec: %s\n", err.msg);
        return -1;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "linger.ms", "50", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "2000000", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "bench: producer: %s\n", errstr);
        return -1;
    }
    size_t bytes = 0;
    for (long long i = 0; i < n; i++) {
        snprintf(ev.event_id, sizeof ev.event_id, "%08llx-0000-4000-8000-%012llx",
                 (i >> 16) & 0xffffffffLL, i);
        snprintf(ev.user_id, sizeof ev.user_id, "00000000-0000-4000-9000-%012llx", i % learners);
        cs_buf_reset(&b);
        if (cs_codec_encode(codec, &ev, &b, &err) < 0) {
            fprintf(stderr, "bench: encode: %s\n", err.msg);
            return -1;
        }
        bytes += b.len;
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(ev.user_id, 36),
                                 RD_KAFKA_V_VALUE(b.data, b.len),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 20);
    }
    rd_kafka_flush(rk, 60000);
    rd_kafka_destroy(rk);
    fprintf(stderr, "bench: produced %lld events (%zu bytes each on average) to %s\n", n,
            bytes / (size_t)n, topic);
    cs_buf_fini(&b);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);
    return 0;
}

/* One measured run in a child process; returns 0 and prints the result line. */
static int measure(const char *mode, const char *topic, long long batch_size, const char *level)
{
    char group[160], bs[32];
    snprintf(group, sizeof group, "bench-%s-%s", mode, topic);
    snprintf(bs, sizeof bs, "%lld", batch_size);
    pid_t pid = fork();
    if (pid == 0) {
        cs_worker_def_t def = {
            .name = "cs-bench-runtime",
            .group = group,
            .handlers = strcmp(mode, "noop") == 0 ? noop_handlers : upsert_handlers,
            .tables = strcmp(mode, "noop") == 0 ? NULL : upsert_tables,
            .committed = on_committed,
        };
        char *argv[] = {"cs-bench-runtime", "--topics", (char *)topic, "--drain",
                        "--metrics-port",   "-1",       "--log-level", (char *)level,
                        "--batch-size",     bs,         NULL};
        int rc = cs_worker_main(&def, 10, argv);
        double secs = run_state.t_last - run_state.t_first;
        printf("%-7s %8lld events in %6.3f s: %8.0f events/s (batch-size %s)\n", mode,
               run_state.events, secs, secs > 0 ? (double)run_state.events / secs : 0.0, bs);
        fflush(stdout);
        _exit(rc);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int code = 0;
    cs_err_t err;
    cs_config_t *cfg = cs_config_start("cs-bench-runtime",
                                       "Measures the worker runtime: events/s through a no-op "
                                       "handler and through one upsert per event.",
                                       opts, argc, argv, &code);
    if (!cfg)
        return code;
    const char *dsn = cs_config_str(cfg, "pg-dsn"), *brokers = cs_config_str(cfg, "kafka-brokers");
    if (!dsn || !brokers) {
        fprintf(stderr, "cs-bench-runtime: CS_PG_DSN and CS_KAFKA_BROKERS are required\n");
        cs_config_destroy(cfg);
        return 2;
    }
    /* the children read them from the environment */
    setenv("CS_PG_DSN", dsn, 1);
    setenv("CS_KAFKA_BROKERS", brokers, 1);
    cs_db_t *db = cs_db_connect(dsn, "cs-bench-runtime", &err);
    if (!db || cs_db_exec(db,
                          "CREATE TABLE IF NOT EXISTS bench_learner_counts (user_id uuid PRIMARY "
                          "KEY, n bigint NOT NULL, last_at timestamptz NOT NULL)",
                          &err) < 0) {
        fprintf(stderr, "cs-bench-runtime: %s\n", err.msg);
        return 1;
    }
    char topic[128];
    snprintf(topic, sizeof topic, "bench.runtime.%d.%ld", (int)getpid(), (long)time(NULL));
    if (produce(brokers, topic, cs_config_int(cfg, "events"), cs_config_int(cfg, "learners")) < 0)
        return 1;
    const char *mode = cs_config_str(cfg, "mode");
    const char *level =
        cs_config_is_set(cfg, "log-level") ? cs_config_str(cfg, "log-level") : "warn";
    int rc = 0;
    if (strcmp(mode, "upsert") != 0)
        rc |= measure("noop", topic, cs_config_int(cfg, "batch-size"), level);
    if (strcmp(mode, "noop") != 0)
        rc |= measure("upsert", topic, cs_config_int(cfg, "batch-size"), level);
    cs_db_destroy(db);
    cs_config_destroy(cfg);
    return rc ? 1 : 0;
}

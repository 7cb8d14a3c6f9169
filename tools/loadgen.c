/*
 * tools/loadgen.c
 *      cs-loadgen - realistic, deterministic event streams for demos, tests and benchmarks.
 *
 * Drives the learner simulation (loadgen_sim.c) and either publishes its events straight to the
 * broker (the fast path: each JSON event is parsed and validated by the codec and sent with the
 * producer API, keyed by learner) or writes them as JSON Lines (the documented JSON form that
 * cs-produce reads), or both. The same options and seed always give the same stream.
 *
 * --malformed F replaces a fraction F of the events with bad ones, chosen by the seed: garbage
 * bytes, a valid encoding with an unknown schema fingerprint, or a truncated encoding when
 * publishing; an unparseable line, an unknown schema version or a truncated line in JSON Lines.
 * They exercise the workers' dead-letter path and cs-produce's rejections.
 *
 * A progress line goes to stderr once a second, also while the last events wait for their
 * acknowledgements (as long as acknowledgements keep coming: a minute without one gives up); the
 * exit status is non-zero if any event could not be delivered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/buf.h"
#include "cs/codec.h"
#include "cs/config.h"
#include "cs/log.h"
#include "cs/producer.h"
#include "loadgen_sim.h"

/* After the last event, how long the wait for acknowledgements may go without one. */
#define FLUSH_STALL_MS 60000

static const cs_opt_t opts[] = {
    {"learners", CS_OPT_INT, "10000", "learners simulated (ids as cs-seed derives them)", 1,
     10000000},
    {"mentors", CS_OPT_INT, "1000", "mentors (ids as cs-seed derives them)", 1, 1000000},
    {"days", CS_OPT_INT, "30", "simulated days (0: until --events is reached)", 0, 100000},
    {"events", CS_OPT_INT, "0", "stop after this many events (0: when the days are over)", 0, 1e12},
    {"seed", CS_OPT_INT, "42", "random seed: the same seed gives the same stream", 0, 9e18},
    {"start-date", CS_OPT_STRING, "2026-01-05", "simulated day 0 (YYYY-MM-DD, UTC)"},
    {"realtime", CS_OPT_BOOL, "false", "stamp occurred_at with the wall clock (latency runs)"},
    {"producer", CS_OPT_STRING, "cs-loadgen", "envelope producer name"},
    {"jsonl", CS_OPT_STRING, NULL,
     "write JSON Lines to this file ('-' = stdout; the default "
     "when not publishing)"},
    {"publish", CS_OPT_BOOL, "false", "publish to the broker (--kafka-brokers)"},
    {"topic-prefix", CS_OPT_STRING, "", "prefix every topic name (isolated test runs)"},
    {"malformed", CS_OPT_DOUBLE, "0", "fraction of events replaced by malformed ones", 0, 1},
    {"rate", CS_OPT_INT, "0", "events per second at most (0: as fast as possible)", 0, 10000000},
    {"linger-ms", CS_OPT_INT, "10", "producer batching delay (lower for latency runs)", 0, 1000},
    {"kafka-props", CS_OPT_STRING, NULL,
     "extra librdkafka producer properties, name=value[,name=value] (secrets: --kafka-props-file)",
     0, 0, NULL, CS_OPT_SECRET},
    {NULL},
};

/* What the publishing side needs across events. */
struct pub {
    cs_codec_t *codec;
    cs_producer_t *producer;
    cs_arena_t *arena;
    cs_buf_t enc;
    const char *prefix;
    uint64_t failed_reports;
    char first_failure[256];
};

static void on_delivery(const cs_delivery_t *d, void *ctx)
{
    struct pub *p = ctx;

    if (d->err && p->failed_reports++ == 0)
        snprintf(p->first_failure, sizeof(p->first_failure), "%s: %s", d->topic, d->err->msg);
}

/* A small generator of its own for the malformed choices, so they do not shift the stream. */
static uint64_t mrng;
static double munif(void)
{
    mrng ^= mrng << 13;
    mrng ^= mrng >> 7;
    mrng ^= mrng << 17;
    return (double)(mrng >> 11) * (1.0 / 9007199254740992.0);
}

/* Replaces the JSON line in line (from start) with a malformed variant of kind k. */
static void malform_json(cs_buf_t *line, size_t start, int k)
{
    char *ev = line->data + start;
    size_t n = line->len - start;

    if (k == 0) {
        line->len = start;
        cs_buf_puts(line, "{not json at all");
    } else if (k == 1) {
        char *v = strstr(ev, "\"schema_version\":");

        if (v)
            memcpy(v + strlen("\"schema_version\":"), "9", 1); /* 1 -> 9, 2 -> 9: unknown */
    } else {
        line->len = start + n / 2; /* truncated */
        line->data[line->len] = '\0';
    }
}

static int publish(struct pub *p, const char *json, size_t len, int malformed, cs_err_t *err)
{
    cs_event_t ev;
    char topic[256];
    int rc;

    cs_arena_reset(p->arena);
    if (cs_codec_from_json(p->codec, json, len, p->arena, &ev, err) < 0)
        return cs_err_wrap(err, "simulated event does not validate");
    snprintf(topic, sizeof(topic), "%s%s", p->prefix, cs_codec_type_topic(ev.type));
    if (malformed < 0)
        return cs_producer_send_to(p->producer, topic, &ev, NULL, err);

    cs_buf_reset(&p->enc);
    if (malformed == 0) {
        size_t n = 20 + (size_t)(munif() * 180);

        for (size_t i = 0; i < n; i++)
            cs_buf_putc(&p->enc, (char)(munif() * 256));
    } else {
        if (cs_codec_encode(p->codec, &ev, &p->enc, err) < 0)
            return -1;
        if (malformed == 1)
            p->enc.data[2] ^= 0x5a; /* a fingerprint no schema has */
        else
            p->enc.len /= 2; /* truncated datum */
    }
    rc = cs_producer_send_raw(p->producer, topic, ev.user_id, strlen(ev.user_id), p->enc.data,
                              p->enc.len, NULL, 0, NULL, err);
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_date(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int y, m, d, used = 0;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || s[used] || m < 1 || m > 12 || d < 1 ||
        d > 31 || y < 2000 || y > 2100)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

/* One run: the options read once, what is open, and the counts the report gives. */
struct run {
    cs_config_t *cfg;
    cs_sim_opts_t so;
    long long limit, rate, n, bad;
    double malformed;
    FILE *out;
    cs_sim_t *sim;
    cs_buf_t line;
    int64_t t0, last;
    struct pub pub;
};

/* Reads the simulation options and checks the ones that can be wrong together: 0, or the exit
 * status (2) after telling why. */
static int read_options(struct run *r)
{
    cs_config_t *cfg = r->cfg;

    r->so.seed = (uint64_t)cs_config_int(cfg, "seed");
    r->so.learners = (int)cs_config_int(cfg, "learners");
    r->so.mentors = (int)cs_config_int(cfg, "mentors");
    r->so.days = (int)cs_config_int(cfg, "days");
    r->so.realtime = cs_config_bool(cfg, "realtime");
    r->so.producer = cs_config_str(cfg, "producer");
    r->limit = cs_config_int(cfg, "events");
    if (parse_date(cs_config_str(cfg, "start-date"), &r->so.start_ms) < 0) {
        fprintf(stderr, "cs-loadgen: --start-date: '%s' is not a date (YYYY-MM-DD)\n",
                cs_config_str(cfg, "start-date"));
        return 2;
    }
    if (r->so.days == 0 && r->limit == 0) {
        fprintf(stderr, "cs-loadgen: --days=0 needs --events to end the stream\n");
        return 2;
    }
    r->rate = cs_config_int(cfg, "rate");
    r->malformed = cs_config_double(cfg, "malformed");
    mrng = r->so.seed * 2654435761ULL + 1;
    return 0;
}

/* Opens the JSON Lines output when there is one (stdout unless --jsonl names a file, and none when
 * only publishing). */
static int open_output(struct run *r)
{
    const char *path = cs_config_str(r->cfg, "jsonl");

    if (!path && !cs_config_bool(r->cfg, "publish"))
        path = "-";
    if (path && !(r->out = strcmp(path, "-") ? fopen(path, "w") : stdout)) {
        cs_log_error("cannot open output", CS_LS("path", path), CS_LS("error", strerror(errno)));
        return -1;
    }
    return 0;
}

/* Starts the codec and the producer when --publish: 0, or the exit status after telling why. */
static int start_publishing(struct run *r)
{
    cs_config_t *cfg = r->cfg;
    struct pub *pub = &r->pub;
    cs_err_t err;

    if (!cs_config_bool(cfg, "publish"))
        return 0;

    cs_producer_opts_t po = {
        .brokers = cs_config_str(cfg, "kafka-brokers"),
        .client_id = "cs-loadgen",
        .kafka_props = cs_config_kafka_props(cfg),
        .linger_ms = cs_config_int(cfg, "linger-ms") ? (int)cs_config_int(cfg, "linger-ms") : -1,
        .on_delivery = on_delivery,
        .cb_ctx = pub};

    if (!po.brokers) {
        fprintf(stderr, "cs-loadgen: --publish needs --kafka-brokers (or CS_KAFKA_BROKERS)\n");
        return 2;
    }
    pub->prefix = cs_config_str(cfg, "topic-prefix");
    pub->arena = cs_arena_new(0);
    if (!(pub->codec = cs_codec_new(&err)) || !(pub->producer = cs_producer_new_opts(&po, &err))) {
        cs_log_error("cannot start publishing", CS_LS("error", err.msg));
        return 1;
    }
    return 0;
}

static void log_progress(struct run *r)
{
    cs_log_info("progress", CS_LI("events", r->n), CS_LI("day", cs_sim_day(r->sim)),
                CS_LD("events_per_s", r->n * 1000.0 / (double)(r->last - r->t0 + 1)),
                CS_LI("delivered", r->pub.producer ? cs_producer_delivered(r->pub.producer) : 0));
}

/* Sleeps until the --rate schedule allows the next event: paced against the schedule, not per
 * event, so sleeps stay coarse. */
static void pace(struct run *r)
{
    int64_t due = r->t0 + (int64_t)(r->n * 1000 / r->rate);
    int64_t now = mono_ms();

    if (due > now) {
        struct timespec ts = {(due - now) / 1000, ((due - now) % 1000) * 1000000};

        nanosleep(&ts, NULL);
    }
}

/* Publishes and/or buffers the event just appended to r->line (malformed if the seed says so). */
static int emit_event(struct run *r)
{
    cs_buf_t *line = &r->line;
    /* the event just appended starts after the previous complete lines */
    size_t start = line->len;
    int bad_kind = -1;
    cs_err_t err;

    while (start > 0 && line->data[start - 1] != '\n')
        start--;
    if (r->malformed > 0 && munif() < r->malformed) {
        bad_kind = (int)(munif() * 3);
        r->bad++;
    }
    if (r->pub.producer &&
        publish(&r->pub, line->data + start, line->len - start, bad_kind, &err) < 0) {
        cs_log_error("cannot publish", CS_LS("error", err.msg), CS_LS("field", err.field),
                     CS_LI("event", r->n + 1));
        return -1;
    }
    if (r->out) {
        if (bad_kind >= 0)
            malform_json(line, start, bad_kind);
        cs_buf_putc(line, '\n');
        if (line->len >= 1 << 16) {
            fwrite(line->data, 1, line->len, r->out);
            cs_buf_reset(line);
        }
    } else {
        cs_buf_reset(line);
    }
    return 0;
}

/* The simulation loop: every event until --events or the last day, paced and reported. */
static int generate(struct run *r)
{
    const char *type, *user;

    r->sim = cs_sim_new(&r->so);
    r->t0 = r->last = mono_ms();
    while ((r->limit == 0 || r->n < r->limit) && cs_sim_next(r->sim, &r->line, &type, &user)) {
        if (emit_event(r) < 0)
            return -1;
        r->n++;
        if (r->pub.producer)
            cs_producer_poll(r->pub.producer, 0);
        if (r->rate > 0)
            pace(r);
        if ((r->n & 255) == 0 && mono_ms() - r->last >= 1000) {
            r->last = mono_ms();
            log_progress(r);
        }
    }
    return 0;
}

/* Writes what is left of the JSON Lines and closes the output. */
static int finish_output(struct run *r)
{
    if (!r->out)
        return 0;
    fwrite(r->line.data, 1, r->line.len, r->out);
    if (fflush(r->out) != 0 || (r->out != stdout && fclose(r->out) != 0)) {
        r->out = NULL;
        cs_log_error("cannot write output", CS_LS("error", strerror(errno)));
        return -1;
    }
    r->out = NULL;
    return 0;
}

/* The rest is acknowledged at the brokers' pace (a broker may be failing over): wait as long as
 * acknowledgements keep coming, with the progress line every second. librdkafka reports every
 * message within message.timeout.ms, so the wait ends. */
static int await_acknowledgements(struct run *r)
{
    cs_producer_t *p = r->pub.producer;
    uint64_t seen;
    int64_t moved;
    cs_err_t err;

    if (!p)
        return 0;
    seen = cs_producer_delivered(p) + cs_producer_failed(p);
    moved = mono_ms();
    while (cs_producer_flush(p, 1000, &err) < 0) {
        uint64_t now_seen = cs_producer_delivered(p) + cs_producer_failed(p);

        r->last = mono_ms();
        if (now_seen != seen) {
            seen = now_seen;
            moved = r->last;
        } else if (r->last - moved >= FLUSH_STALL_MS) {
            cs_log_error("not every event was delivered", CS_LS("error", err.msg),
                         CS_LI("no_acknowledgement_for_ms", r->last - moved));
            return -1;
        }
        log_progress(r);
    }
    return 0;
}

/* The final line: failed deliveries (non-zero exit) or the run's counts. */
static int report(struct run *r)
{
    if (r->pub.failed_reports) {
        cs_log_error("some events were not delivered", CS_LI("failed", r->pub.failed_reports),
                     CS_LS("first", r->pub.first_failure));
        return -1;
    }
    cs_log_info("done", CS_LI("events", r->n), CS_LI("malformed", r->bad),
                CS_LI("days", cs_sim_day(r->sim)), CS_LI("ms", mono_ms() - r->t0),
                CS_LI("delivered", r->pub.producer ? cs_producer_delivered(r->pub.producer) : 0));
    return 0;
}

static void run_fini(struct run *r)
{
    if (r->out && r->out != stdout)
        fclose(r->out);
    cs_producer_destroy(r->pub.producer);
    cs_codec_destroy(r->pub.codec);
    cs_arena_destroy(r->pub.arena);
    cs_buf_fini(&r->pub.enc);
    cs_sim_destroy(r->sim);
    cs_buf_fini(&r->line);
    cs_config_destroy(r->cfg);
}

int main(int argc, char **argv)
{
    int code;
    struct run r = {.line = CS_BUF_INIT};

    r.cfg = cs_config_start(
        "cs-loadgen",
        "Generate a realistic, deterministic stream of careerstream events as JSON Lines.", opts,
        argc, argv, &code);
    if (!r.cfg)
        return code;
    /* 2: the options do not go together; 1: the run failed (logged); 0: every event delivered */
    code = read_options(&r);
    if (code == 0)
        code = open_output(&r) < 0 ? 1 : start_publishing(&r);
    if (code == 0 && (generate(&r) < 0 || finish_output(&r) < 0 || await_acknowledgements(&r) < 0 ||
                      report(&r) < 0))
        code = 1;
    run_fini(&r);
    return code;
}

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

int main(int argc, char **argv)
{
    int code;
    cs_config_t *cfg = cs_config_start(
        "cs-loadgen",
        "Generate a realistic, deterministic stream of careerstream events as JSON Lines.", opts,
        argc, argv, &code);
    cs_sim_opts_t so = {0};
    cs_sim_t *sim = NULL;
    cs_buf_t line = CS_BUF_INIT;
    const char *path, *type, *user;
    long long limit, n = 0, rate, bad = 0;
    double malformed;
    FILE *out = NULL;
    int64_t t0, last;
    struct pub pub = {0};
    cs_err_t err;

    if (!cfg)
        return code;
    code = 1;
    so.seed = (uint64_t)cs_config_int(cfg, "seed");
    so.learners = (int)cs_config_int(cfg, "learners");
    so.mentors = (int)cs_config_int(cfg, "mentors");
    so.days = (int)cs_config_int(cfg, "days");
    so.realtime = cs_config_bool(cfg, "realtime");
    so.producer = cs_config_str(cfg, "producer");
    limit = cs_config_int(cfg, "events");
    if (parse_date(cs_config_str(cfg, "start-date"), &so.start_ms) < 0) {
        fprintf(stderr, "cs-loadgen: --start-date: '%s' is not a date (YYYY-MM-DD)\n",
                cs_config_str(cfg, "start-date"));
        code = 2;
        goto out;
    }
    if (so.days == 0 && limit == 0) {
        fprintf(stderr, "cs-loadgen: --days=0 needs --events to end the stream\n");
        code = 2;
        goto out;
    }
    rate = cs_config_int(cfg, "rate");
    malformed = cs_config_double(cfg, "malformed");
    mrng = so.seed * 2654435761ULL + 1;
    path = cs_config_str(cfg, "jsonl");
    if (!path && !cs_config_bool(cfg, "publish"))
        path = "-";
    if (path && !(out = strcmp(path, "-") ? fopen(path, "w") : stdout)) {
        cs_log_error("cannot open output", CS_LS("path", path), CS_LS("error", strerror(errno)));
        goto out;
    }
    if (cs_config_bool(cfg, "publish")) {
        cs_producer_opts_t po = {.brokers = cs_config_str(cfg, "kafka-brokers"),
                                 .client_id = "cs-loadgen",
                                 .kafka_props = cs_config_kafka_props(cfg),
                                 .linger_ms = cs_config_int(cfg, "linger-ms")
                                                  ? (int)cs_config_int(cfg, "linger-ms")
                                                  : -1,
                                 .on_delivery = on_delivery,
                                 .cb_ctx = &pub};

        if (!po.brokers) {
            fprintf(stderr, "cs-loadgen: --publish needs --kafka-brokers (or CS_KAFKA_BROKERS)\n");
            code = 2;
            goto out;
        }
        pub.prefix = cs_config_str(cfg, "topic-prefix");
        pub.arena = cs_arena_new(0);
        if (!(pub.codec = cs_codec_new(&err)) ||
            !(pub.producer = cs_producer_new_opts(&po, &err))) {
            cs_log_error("cannot start publishing", CS_LS("error", err.msg));
            goto out;
        }
    }

    sim = cs_sim_new(&so);
    t0 = last = mono_ms();
    while ((limit == 0 || n < limit) && cs_sim_next(sim, &line, &type, &user)) {
        /* the event just appended starts after the previous complete lines */
        size_t start = line.len;
        int bad_kind = -1;

        while (start > 0 && line.data[start - 1] != '\n')
            start--;
        if (malformed > 0 && munif() < malformed) {
            bad_kind = (int)(munif() * 3);
            bad++;
        }
        if (pub.producer &&
            publish(&pub, line.data + start, line.len - start, bad_kind, &err) < 0) {
            cs_log_error("cannot publish", CS_LS("error", err.msg), CS_LS("field", err.field),
                         CS_LI("event", n + 1));
            goto out;
        }
        if (out) {
            if (bad_kind >= 0)
                malform_json(&line, start, bad_kind);
            cs_buf_putc(&line, '\n');
            if (line.len >= 1 << 16) {
                fwrite(line.data, 1, line.len, out);
                cs_buf_reset(&line);
            }
        } else {
            cs_buf_reset(&line);
        }
        n++;
        if (pub.producer)
            cs_producer_poll(pub.producer, 0);
        if (rate > 0) {
            /* Pace against the schedule, not per event, so sleeps stay coarse. */
            int64_t due = t0 + (int64_t)(n * 1000 / rate);
            int64_t now = mono_ms();

            if (due > now) {
                struct timespec ts = {(due - now) / 1000, ((due - now) % 1000) * 1000000};

                nanosleep(&ts, NULL);
            }
        }
        if ((n & 255) == 0 && mono_ms() - last >= 1000) {
            last = mono_ms();
            cs_log_info("progress", CS_LI("events", n), CS_LI("day", cs_sim_day(sim)),
                        CS_LD("events_per_s", n * 1000.0 / (double)(last - t0 + 1)),
                        CS_LI("delivered", pub.producer ? cs_producer_delivered(pub.producer) : 0));
        }
    }
    if (out) {
        fwrite(line.data, 1, line.len, out);
        if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
            out = NULL;
            cs_log_error("cannot write output", CS_LS("error", strerror(errno)));
            goto out;
        }
        out = NULL;
    }
    /* The rest is acknowledged at the brokers' pace (a broker may be failing over): wait as long
     * as acknowledgements keep coming, with the progress line every second. librdkafka reports
     * every message within message.timeout.ms, so the wait ends. */
    if (pub.producer) {
        uint64_t seen = cs_producer_delivered(pub.producer) + cs_producer_failed(pub.producer);
        int64_t moved = mono_ms();

        while (cs_producer_flush(pub.producer, 1000, &err) < 0) {
            uint64_t now_seen =
                cs_producer_delivered(pub.producer) + cs_producer_failed(pub.producer);

            last = mono_ms();
            if (now_seen != seen) {
                seen = now_seen;
                moved = last;
            } else if (last - moved >= FLUSH_STALL_MS) {
                cs_log_error("not every event was delivered", CS_LS("error", err.msg),
                             CS_LI("no_acknowledgement_for_ms", last - moved));
                goto out;
            }
            cs_log_info("progress", CS_LI("events", n), CS_LI("day", cs_sim_day(sim)),
                        CS_LD("events_per_s", n * 1000.0 / (double)(last - t0 + 1)),
                        CS_LI("delivered", cs_producer_delivered(pub.producer)));
        }
    }
    if (pub.failed_reports) {
        cs_log_error("some events were not delivered", CS_LI("failed", pub.failed_reports),
                     CS_LS("first", pub.first_failure));
        goto out;
    }
    cs_log_info("done", CS_LI("events", n), CS_LI("malformed", bad), CS_LI("days", cs_sim_day(sim)),
                CS_LI("ms", mono_ms() - t0),
                CS_LI("delivered", pub.producer ? cs_producer_delivered(pub.producer) : 0));
    code = 0;
out:
    if (out && out != stdout)
        fclose(out);
    cs_producer_destroy(pub.producer);
    cs_codec_destroy(pub.codec);
    cs_arena_destroy(pub.arena);
    cs_buf_fini(&pub.enc);
    cs_sim_destroy(sim);
    cs_buf_fini(&line);
    cs_config_destroy(cfg);
    return code;
}

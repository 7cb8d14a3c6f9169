/*
 * tools/loadgen.c
 *      cs-loadgen - realistic, deterministic event streams for demos, tests and benchmarks.
 *
 * Drives the learner simulation (loadgen_sim.c) and writes its events as JSON Lines (the
 * documented JSON form that cs-produce reads). The same options and seed always give the same
 * stream. A progress line goes to stderr once a second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/buf.h"
#include "cs/config.h"
#include "cs/log.h"
#include "loadgen_sim.h"

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
    {"jsonl", CS_OPT_STRING, "-", "write JSON Lines to this file ('-' = stdout)"},
    {NULL},
};

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
    long long limit, n = 0;
    FILE *out = stdout;
    int64_t t0, last;

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
    path = cs_config_str(cfg, "jsonl");
    if (strcmp(path, "-") != 0 && !(out = fopen(path, "w"))) {
        cs_log_error("cannot open output", CS_LS("path", path), CS_LS("error", strerror(errno)));
        goto out;
    }

    sim = cs_sim_new(&so);
    t0 = last = mono_ms();
    while ((limit == 0 || n < limit) && cs_sim_next(sim, &line, &type, &user)) {
        cs_buf_putc(&line, '\n');
        if (line.len >= 1 << 16) {
            fwrite(line.data, 1, line.len, out);
            cs_buf_reset(&line);
        }
        n++;
        if ((n & 1023) == 0 && mono_ms() - last >= 1000) {
            last = mono_ms();
            cs_log_info("progress", CS_LI("events", n), CS_LI("day", cs_sim_day(sim)),
                        CS_LD("events_per_s", n * 1000.0 / (double)(last - t0 + 1)));
        }
    }
    fwrite(line.data, 1, line.len, out);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        cs_log_error("cannot write output", CS_LS("error", strerror(errno)));
        out = stdout;
        goto out;
    }
    out = stdout;
    cs_log_info("done", CS_LI("events", n), CS_LI("days", cs_sim_day(sim)),
                CS_LI("ms", mono_ms() - t0));
    code = 0;
out:
    if (out != stdout)
        fclose(out);
    cs_sim_destroy(sim);
    cs_buf_fini(&line);
    cs_config_destroy(cfg);
    return code;
}

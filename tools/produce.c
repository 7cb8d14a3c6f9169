/*
 * tools/produce.c
 *      cs-produce - validate and publish careerstream events written as JSON Lines.
 *
 * Reads the documented JSON form of events (schemas/README.md), one per line, from the files
 * given or from stdin ("-" or no file), validates each with the codec and publishes it with the
 * libcore producer (Avro single-object encoding, the event's topic, keyed by user_id). Every
 * rejected line is reported on stderr as FILE:LINE: FIELD: REASON and the others are still
 * published; the exit status is 1 when any line was rejected or not delivered or any input could
 * not be opened or read to its end (a directory, an I/O error), 2 on a usage error, 0 otherwise.
 * --dry-run validates only (no broker needed); --rate limits events per second; --schema EVENT
 * prints an example line of an event type (--schema list: every type),
 * --avsc EVENT its full Avro schema. Blank lines are skipped.
 *
 * Derived events (those schemas/topics.json routes to the topic cs.derived, e.g.
 * readiness_score_changed) are published by careerstream's own workers only: an app's line of
 * such a type is rejected like an invalid one, and --topic cs.derived is refused, unless
 * --allow-derived says a careerstream tool (a backfill, a test) is publishing on their behalf.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/codec.h"
#include "cs/config.h"
#include "cs/log.h"
#include "cs/mem.h"
#include "cs/producer.h"

static const cs_opt_t opts[] = {
    {"dry-run", CS_OPT_BOOL, "false", "validate only; publish nothing"},
    {"rate", CS_OPT_DOUBLE, "0", "publish at most this many events per second (0: no limit)", 0,
     10000000},
    {"schema", CS_OPT_STRING, NULL,
     "print an example line of event type EVENT and exit (\"list\": all types)"},
    {"avsc", CS_OPT_STRING, NULL,
     "print the full Avro schema (envelope and payload) of EVENT and exit"},
    {"topic", CS_OPT_STRING, NULL,
     "publish every event to this topic instead of its event type's topic"},
    {"allow-derived", CS_OPT_BOOL, "false",
     "also publish derived events (topic cs.derived): careerstream's own tools only"},
    {"client-id", CS_OPT_STRING, "cs-produce", "Kafka client id"},
    {"kafka-props", CS_OPT_STRING, NULL,
     "extra librdkafka producer properties, name=value[,name=value] (secrets: --kafka-props-file)",
     0, 0, NULL, CS_OPT_SECRET},
    {"flush-timeout-ms", CS_OPT_INT, "30000", "how long to wait for deliveries at the end", 0,
     3600000},
    {NULL},
};

/*
 * The topic of derived events. Which events are derived is said once, in schemas/topics.json
 * (the events listed under this topic, see schemas/README.md); the codec's tables carry it.
 */
#define DERIVED_TOPIC "cs.derived"

static bool is_derived(int type)
{
    return strcmp(cs_codec_type_topic(type), DERIVED_TOPIC) == 0;
}

typedef struct run {
    char *const *files;
    int nfiles;
    unsigned long long lines, valid, rejected, failed;
    unsigned long long unreadable; /* files that could not be opened or read to the end */
    /* what the run needs while it reads */
    cs_codec_t *codec;
    cs_producer_t *prod; /* NULL for a dry run */
    cs_arena_t *arena;
    const char *topic; /* NULL: each event's own topic */
    double rate;       /* events per second, 0: unpaced */
    bool dry, allow_derived;
    int64_t next_ns; /* when the next event may go (pace) */
    bool stop;       /* a fatal publish error: read no further */
} run_t;

static const char *display_name(const run_t *r, int idx)
{
    return idx >= r->nfiles || strcmp(r->files[idx], "-") == 0 ? "<stdin>" : r->files[idx];
}

/* The delivery opaque packs the file index and line number, so reports need no allocation. */
#define PACK(file, line) ((void *)(uintptr_t)(((uint64_t)(file) << 40) | (uint64_t)(line)))
#define PACK_FILE(op)    ((int)((uintptr_t)(op) >> 40))
#define PACK_LINE(op)    ((unsigned long long)((uintptr_t)(op) & ((UINT64_C(1) << 40) - 1)))

static void on_delivery(const cs_delivery_t *d, void *ctx)
{
    run_t *r = ctx;
    if (d->err) {
        r->failed++;
        fprintf(stderr, "%s:%llu: delivery: %s\n", display_name(r, PACK_FILE(d->opaque)),
                PACK_LINE(d->opaque), d->err->msg);
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits for the next send slot of a --rate schedule, serving delivery reports meanwhile. */
static void pace(cs_producer_t *p, int64_t *next_ns, double rate)
{
    if (rate <= 0)
        return;
    int64_t now = now_ns();
    if (*next_ns == 0 || *next_ns < now - 1000000000) /* don't burst after a stall */
        *next_ns = now;
    while (now < *next_ns) {
        int64_t wait = *next_ns - now;
        if (p && wait >= 1000000) {
            cs_producer_poll(p, (int)(wait / 1000000));
        } else {
            struct timespec ts = {(time_t)(wait / 1000000000), (long)(wait % 1000000000)};
            nanosleep(&ts, NULL);
        }
        now = now_ns();
    }
    *next_ns += (int64_t)(1e9 / rate);
}

static int print_schema(const char *name, bool avsc)
{
    if (!avsc && strcmp(name, "list") == 0) {
        for (int t = 0; t < cs_codec_ntypes(); t++)
            printf("%s\t%s\tv%d\n", cs_codec_type_name(t), cs_codec_type_topic(t),
                   cs_codec_type_version(t));
        return 0;
    }
    int t = cs_codec_type_by_name(name);
    if (t < 0) {
        fprintf(stderr,
                "cs-produce: unknown event type '%s'; cs-produce --schema list shows them\n", name);
        return 2;
    }
    puts(avsc ? cs_codec_type_schema(t, 0) : cs_codec_type_example(t));
    return 0;
}

/* Publishes the event decoded from one non-blank input line (file fi, line lineno). */
static void produce_line(run_t *r, int fi, unsigned long long lineno, const char *line, size_t n)
{
    cs_event_t ev;
    cs_err_t err;

    r->lines++;
    cs_arena_reset(r->arena);
    if (cs_codec_from_json(r->codec, line, n, r->arena, &ev, &err) < 0) {
        r->rejected++;
        fprintf(stderr, "%s:%llu: %s: %s\n", display_name(r, fi), lineno,
                err.field[0] ? err.field : "event", err.msg);
        return;
    }
    if (!r->allow_derived && is_derived(ev.type)) {
        r->rejected++;
        fprintf(stderr,
                "%s:%llu: event_type: %s is a derived event: only careerstream's own "
                "workers publish it (--allow-derived for careerstream's tools)\n",
                display_name(r, fi), lineno, cs_codec_type_name(ev.type));
        return;
    }
    r->valid++;
    pace(r->prod, &r->next_ns, r->rate);
    if (r->dry)
        return;
    while (cs_producer_send_to(r->prod, r->topic, &ev, PACK(fi, lineno), &err) < 0) {
        if (err.kind == CS_ERR_TRANSIENT) { /* the local queue is full: wait for deliveries */
            cs_producer_poll(r->prod, 100);
            continue;
        }
        fprintf(stderr, "%s:%llu: %s: %s\n", display_name(r, fi), lineno,
                err.field[0] ? err.field : "publish", err.msg);
        r->failed++;
        if (err.kind == CS_ERR_FATAL)
            r->stop = true;
        break;
    }
    cs_producer_poll(r->prod, 0);
}

/* Reads input file fi line by line (reusing *line, *cap) and publishes its events. */
static void produce_file(run_t *r, int fi, char **line, size_t *cap)
{
    const char *name = r->files[fi];
    FILE *in = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
    unsigned long long lineno = 0;
    ssize_t n;

    if (!in) {
        fprintf(stderr, "cs-produce: %s: cannot open: %s\n", display_name(r, fi), strerror(errno));
        r->unreadable++;
        return;
    }
    while (!r->stop && (n = getline(line, cap, in)) >= 0) {
        char *l = *line;
        lineno++;
        while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r'))
            l[--n] = '\0';
        if ((size_t)n == strspn(l, " \t"))
            continue; /* blank */
        produce_line(r, fi, lineno, l, (size_t)n);
    }
    /* getline() sets errno and the stream's error flag (EISDIR for a directory, EIO):
     * what was read has been published, the rest of the file was not. */
    if (!r->stop && ferror(in)) {
        fprintf(stderr, "cs-produce: %s: read error after line %llu: %s\n", display_name(r, fi),
                lineno, strerror(errno));
        r->unreadable++;
    }
    if (in != stdin)
        fclose(in);
}

/* The run's summary line on stderr; returns the exit status (1: anything not published). */
static int report(const run_t *r, unsigned long long published)
{
    if (r->dry)
        fprintf(stderr,
                "cs-produce: %llu events: %llu valid, %llu rejected (dry run, nothing published)",
                r->lines, r->valid, r->rejected);
    else
        fprintf(stderr,
                "cs-produce: %llu events: %llu valid, %llu rejected; %llu published, %llu failed",
                r->lines, r->valid, r->rejected, published, r->failed);
    if (r->unreadable)
        fprintf(stderr, "; %llu input%s not read", r->unreadable, r->unreadable == 1 ? "" : "s");
    fputc('\n', stderr);
    return r->rejected || r->failed || r->unreadable || (!r->dry && published != r->valid) ? 1 : 0;
}

/* The producer of a run that publishes; NULL with the reason on stderr. */
static cs_producer_t *open_producer(const cs_config_t *cfg, run_t *r)
{
    const char *brokers = cs_config_str(cfg, "kafka-brokers");
    cs_err_t err;

    if (!brokers) {
        fprintf(stderr, "cs-produce: no broker: set --kafka-brokers or CS_KAFKA_BROKERS (or "
                        "use --dry-run)\n");
        return NULL;
    }
    cs_producer_opts_t po = {.brokers = brokers,
                             .client_id = cs_config_str(cfg, "client-id"),
                             .kafka_props = cs_config_kafka_props(cfg),
                             .on_delivery = on_delivery,
                             .cb_ctx = r};
    cs_producer_t *prod = cs_producer_new_opts(&po, &err);
    if (!prod)
        fprintf(stderr, "cs-produce: %s\n", err.msg);
    return prod;
}

/* The run's options into r: -1 (a usage error, printed) for --topic naming the derived topic
 * without --allow-derived. files gets the FILE arguments (stdin_only: none given). */
static int run_options(cs_config_t *cfg, run_t *r, char ***files, char **stdin_only)
{
    r->dry = cs_config_bool(cfg, "dry-run");
    r->rate = cs_config_double(cfg, "rate");
    r->topic = cs_config_str(cfg, "topic");
    r->allow_derived = cs_config_bool(cfg, "allow-derived");
    if (r->topic && !r->allow_derived && strcmp(r->topic, DERIVED_TOPIC) == 0) {
        fprintf(stderr,
                "cs-produce: --topic: %s carries the events careerstream's own workers derive; "
                "only they publish to it (--allow-derived for careerstream's tools)\n",
                DERIVED_TOPIC);
        return -1;
    }
    r->nfiles = cs_config_argc(cfg);
    *files = cs_mem_calloc((size_t)r->nfiles, sizeof **files);
    for (int i = 0; i < r->nfiles; i++)
        (*files)[i] = (char *)cs_config_arg(cfg, i);
    r->files = r->nfiles ? *files : stdin_only;
    if (!r->nfiles)
        r->nfiles = 1;
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;
    cs_config_t *cfg =
        cs_config_start_args("cs-produce", "[FILE.jsonl ...]  (no file or '-': stdin)", opts,
                             CS_CONFIG_ARGS_ANY, argc, argv, &rc);
    char *line = NULL;
    size_t cap = 0;
    cs_err_t err;
    run_t r = {0};
    char *stdin_only[] = {"-"};
    char **files = NULL;

    if (!cfg)
        return rc;
    rc = 2; /* until the run starts, every way out is a usage or set-up error */
    if (cs_config_str(cfg, "schema") || cs_config_str(cfg, "avsc")) {
        rc = cs_config_str(cfg, "schema") ? print_schema(cs_config_str(cfg, "schema"), false)
                                          : print_schema(cs_config_str(cfg, "avsc"), true);
        goto out;
    }
    if (run_options(cfg, &r, &files, stdin_only) < 0)
        goto out;
    r.codec = cs_codec_new(&err);
    if (!r.codec) {
        fprintf(stderr, "cs-produce: %s\n", err.msg);
        goto out;
    }
    if (!r.dry && !(r.prod = open_producer(cfg, &r)))
        goto out;
    r.arena = cs_arena_new(64 * 1024);
    for (int fi = 0; fi < r.nfiles && !r.stop; fi++)
        produce_file(&r, fi, &line, &cap);
    if (r.prod && cs_producer_flush(r.prod, (int)cs_config_int(cfg, "flush-timeout-ms"), &err) < 0)
        fprintf(stderr, "cs-produce: %s\n", err.msg);
    unsigned long long published = r.prod ? (unsigned long long)cs_producer_delivered(r.prod) : 0;
    cs_producer_destroy(r.prod); /* reports whatever is left as failed */
    r.prod = NULL;
    rc = report(&r, published);
out:
    free(files);
    free(line);
    cs_arena_destroy(r.arena);
    cs_producer_destroy(r.prod);
    cs_codec_destroy(r.codec);
    cs_config_destroy(cfg);
    return rc;
}

/*
 * bench/decode.c
 *      cs-bench-decode: how fast the codec decodes (and validates) careerstream events.
 *
 * Builds a corpus of 100,000 encoded events, an even mix of every event type made from the
 * documented examples with fresh ids and varied numbers, then decodes the whole corpus
 * repeatedly for a fixed time on one thread, resetting the arena every 1,000 events as the worker
 * dispatcher does per batch. Also times encoding and JSON parsing of the same events.
 * Prints one line per operation: events/s and MB/s of Avro bytes.
 *
 * Usage: cs-bench-decode [SECONDS per operation, default 2]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/codec.h"

#define N_EVENTS 100000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fresh_uuid(char *u)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 36; i++)
        u[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : hex[next_rand() & 15];
    u[14] = '4';
    u[36] = '\0';
}

static const char usage[] =
    "usage: cs-bench-decode [SECONDS]\n"
    "\n"
    "Times decoding, encoding and JSON parsing of a corpus of 100,000 careerstream events of "
    "every\n"
    "type on one thread, SECONDS per operation (default 2), and prints events/s and MB/s.\n";

int main(int argc, char **argv)
{
    double secs = 2.0;
    char *end = NULL;
    cs_err_t err;
    cs_codec_t *codec;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1)
        secs = strtod(argv[1], &end);
    if (argc > 2 || (argc > 1 && (end == argv[1] || *end || !(secs > 0 && secs < 1e6)))) {
        fprintf(stderr, "cs-bench-decode: SECONDS must be a positive number\n%s", usage);
        return 2;
    }
    codec = cs_codec_new(&err);
    if (!codec) {
        fprintf(stderr, "cs-bench-decode: %s\n", err.msg);
        return 2;
    }
    cs_arena_t *arena = cs_arena_new(1 << 20);
    cs_buf_t corpus = CS_BUF_INIT, json = CS_BUF_INIT;
    size_t *off = malloc((N_EVENTS + 1) * sizeof *off);
    size_t *joff = malloc((N_EVENTS + 1) * sizeof *joff);
    int ntypes = cs_codec_ntypes();

    for (int i = 0; i < N_EVENTS; i++) {
        int t = i % ntypes;
        const char *ex = cs_codec_type_example(t);
        cs_event_t ev;
        if (cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err) < 0) {
            fprintf(stderr, "cs-bench-decode: example %s: %s\n", cs_codec_type_name(t), err.msg);
            return 1;
        }
        fresh_uuid(ev.event_id);
        fresh_uuid(ev.user_id);
        ev.occurred_at_ms += (int64_t)(next_rand() % 86400000);
        off[i] = corpus.len;
        if (cs_codec_encode(codec, &ev, &corpus, &err) < 0) {
            fprintf(stderr, "cs-bench-decode: encode: %s\n", err.msg);
            return 1;
        }
        joff[i] = json.len;
        cs_codec_to_json(codec, &ev, &json, &err);
        if (i % 1000 == 999)
            cs_arena_reset(arena);
    }
    off[N_EVENTS] = corpus.len;
    joff[N_EVENTS] = json.len;
    cs_arena_reset(arena);
    printf("corpus: %d events of %d types, %.1f bytes/event Avro, %.1f bytes/event JSON\n",
           N_EVENTS, ntypes, (double)corpus.len / N_EVENTS, (double)json.len / N_EVENTS);

    /* decode + validate */
    double t0 = now_s(), t1;
    uint64_t n = 0, bytes = 0;
    do {
        for (int i = 0; i < N_EVENTS; i++) {
            cs_event_t ev;
            if (cs_codec_decode(codec, corpus.data + off[i], off[i + 1] - off[i], arena, &ev,
                                &err) < 0) {
                fprintf(stderr, "cs-bench-decode: decode: %s: %s\n", err.field, err.msg);
                return 1;
            }
            if (i % 1000 == 999)
                cs_arena_reset(arena);
        }
        n += N_EVENTS;
        bytes += corpus.len;
        t1 = now_s();
    } while (t1 - t0 < secs);
    printf("decode:    %10.0f events/s  %7.1f MB/s  (%.0f ns/event, 1 thread)\n", n / (t1 - t0),
           bytes / (t1 - t0) / 1e6, (t1 - t0) * 1e9 / n);

    /* decode + payload to JSON (what the audit worker does) */
    cs_buf_t out = CS_BUF_INIT;
    t0 = now_s();
    n = 0;
    do {
        for (int i = 0; i < N_EVENTS; i++) {
            cs_event_t ev;
            cs_codec_decode(codec, corpus.data + off[i], off[i + 1] - off[i], arena, &ev, &err);
            cs_buf_reset(&out);
            cs_codec_payload_to_json(codec, &ev, &out, &err);
            if (i % 1000 == 999)
                cs_arena_reset(arena);
        }
        n += N_EVENTS;
        t1 = now_s();
    } while (t1 - t0 < secs);
    printf("decode+json: %8.0f events/s  (%.0f ns/event)\n", n / (t1 - t0), (t1 - t0) * 1e9 / n);

    /* encode (validate + write); only the encoding is timed */
    cs_event_t *evs = malloc(1000 * sizeof *evs);
    double enc_s = 0;
    n = 0;
    while (enc_s < secs) {
        for (int i = 0; i < N_EVENTS; i += 1000) {
            cs_arena_reset(arena);
            for (int k = 0; k < 1000; k++)
                cs_codec_decode(codec, corpus.data + off[i + k], off[i + k + 1] - off[i + k], arena,
                                &evs[k], &err);
            double e0 = now_s();
            for (int k = 0; k < 1000; k++) {
                cs_buf_reset(&out);
                if (cs_codec_encode(codec, &evs[k], &out, &err) < 0) {
                    fprintf(stderr, "cs-bench-decode: encode: %s\n", err.msg);
                    return 1;
                }
            }
            enc_s += now_s() - e0;
            n += 1000;
        }
    }
    printf("encode:    %10.0f events/s  (%.0f ns/event)\n", n / enc_s, enc_s * 1e9 / n);

    /* JSON Lines parse + validate (cs-produce's input path) */
    t0 = now_s();
    n = 0;
    do {
        for (int i = 0; i < N_EVENTS; i++) {
            cs_event_t ev;
            cs_codec_from_json(codec, json.data + joff[i], joff[i + 1] - joff[i], arena, &ev, &err);
            if (i % 1000 == 999)
                cs_arena_reset(arena);
        }
        n += N_EVENTS;
        t1 = now_s();
    } while (t1 - t0 < secs);
    printf("from_json: %10.0f events/s  (%.0f ns/event)\n", n / (t1 - t0), (t1 - t0) * 1e9 / n);

    free(evs);
    free(off);
    free(joff);
    cs_buf_fini(&out);
    cs_buf_fini(&corpus);
    cs_buf_fini(&json);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);
    return 0;
}

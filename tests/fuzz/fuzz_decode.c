/*
 * tests/fuzz/fuzz_decode.c
 *      libFuzzer target: the codec's two untrusted-input paths, cs_codec_decode and
 *      cs_codec_from_json, under AddressSanitizer and UndefinedBehaviorSanitizer.
 *
 * Beyond "never crashes, never leaks", each input checks the codec's own promises: a refusal is
 * PERMANENT and names a field; an accepted event re-encodes without error, and the re-encoded
 * bytes decode to the same payload JSON. tests/fuzz/run.sh builds this with clang and runs it for
 * a bounded time from a seed corpus that this program writes itself (CS_FUZZ_WRITE_SEEDS=dir):
 * the encoded example of every event type, every older schema version, and their JSON forms.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_tables.h"
#include "cs/codec.h"
#include "fuzz_common.h"

static cs_codec_t *codec;
static cs_arena_t *arena;
static cs_buf_t enc, j1, j2;

static void check(int ok, const char *what, const cs_err_t *err)
{
    if (!ok) {
        fprintf(stderr, "fuzz_decode: broken promise: %s (%s: %s)\n", what, err ? err->field : "",
                err ? err->msg : "");
        abort();
    }
}

/* A libFuzzer dictionary of the contract's words: field names, event names, enum symbols. */
static void write_dict(const char *dir)
{
    FILE *f = fuzz_dict_open(dir);
    static const char *const words[] = {
        "\\\"event_type\\\":", "\\\"payload\\\":{", "\\\"occurred_at\\\":", "null", "true", "false",
        "\\\\u0000",           "\\\\ud800"};
    fuzz_dict_words(f, words, sizeof words / sizeof *words);
    fuzz_dict_contract(f);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    write_dict(dir);
    cs_err_t err;
    for (int t = 0; t < cs_codec_ntypes(); t++) {
        const char *ex = cs_codec_type_example(t);
        cs_event_t ev;
        check(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err) == 0, "example parses",
              &err);
        cs_buf_reset(&enc);
        check(cs_codec_encode(codec, &ev, &enc, &err) == 0, "example encodes", &err);
        fuzz_write_seed(dir, cs_codec_type_name(t), 0, enc.data, enc.len);
        fuzz_write_seed(dir, cs_codec_type_name(t), 1, ex, strlen(ex));
        /* Older versions: the same bytes under an older fingerprint are a useful start. */
        for (int v = 1; v < cs_codec_type_version(t); v++) {
            uint64_t fp = cs_codec_type_fingerprint(t, v);
            for (int i = 0; i < 8; i++)
                enc.data[2 + i] = (char)(fp >> (8 * i));
            fuzz_write_seed(dir, cs_codec_type_name(t), 1 + v, enc.data, enc.len);
        }
        cs_arena_reset(arena);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    cs_err_t err;
    (void)argc;
    (void)argv;
    codec = cs_codec_new(&err);
    check(codec != NULL, "codec builds", &err);
    arena = cs_arena_new(64 * 1024);
    fuzz_seeds_mode(write_seeds);
    return 0;
}

static void one(int rc, const cs_event_t *ev, const cs_err_t *err)
{
    cs_err_t e2;
    cs_event_t back;
    if (rc < 0) {
        check(err->kind == CS_ERR_PERMANENT, "refusals are permanent", err);
        check(err->field[0] != '\0' && err->msg[0] != '\0', "refusals name a field and a reason",
              err);
        return;
    }
    cs_buf_reset(&enc);
    cs_buf_reset(&j1);
    cs_buf_reset(&j2);
    check(cs_codec_payload_to_json(codec, ev, &j1, &e2) == 0, "accepted events print", &e2);
    check(cs_codec_to_json(codec, ev, &j2, &e2) == 0, "accepted events print whole", &e2);
    check(cs_codec_encode(codec, ev, &enc, &e2) == 0, "accepted events re-encode", &e2);
    check(cs_codec_decode(codec, enc.data, enc.len, arena, &back, &e2) == 0,
          "re-encoded events decode", &e2);
    cs_buf_reset(&j2);
    check(cs_codec_payload_to_json(codec, &back, &j2, &e2) == 0, "decoded events print", &e2);
    check(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0,
          "re-encoding keeps the payload", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_event_t ev;
    cs_err_t err;
    int rc = cs_codec_decode(codec, data, size, arena, &ev, &err);
    one(rc, &ev, &err);
    cs_arena_reset(arena);
    rc = cs_codec_from_json(codec, (const char *)data, size, arena, &ev, &err);
    one(rc, &ev, &err);
    cs_arena_reset(arena);
    return 0;
}

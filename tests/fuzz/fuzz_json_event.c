/*
 * tests/fuzz/fuzz_json_event.c
 *      libFuzzer target: cs-produce's path from a JSON Lines input to the bytes it publishes,
 *      under AddressSanitizer and UndefinedBehaviorSanitizer.
 *
 * The input is split into lines the way tools/produce.c reads a file (getline, trailing CR/LF
 * removed, blank lines skipped) and each line goes through cs_codec_from_json. Beyond "never
 * crashes, never leaks", each line checks what cs-produce relies on:
 *  - a refusal is PERMANENT and names a field and a reason (cs-produce prints both);
 *  - an accepted event encodes (from_json and encode validate alike), and its bytes decode back
 *    to an event that encodes to the very same bytes and prints the very same JSON;
 *  - the JSON the codec prints for it reads back to the same event (the documented form is a
 *    fixed point: same JSON, same bytes);
 *  - what is published is what the line said: every member of the input line is a known field
 *    and reappears in the printed event with the same value (uuids compared case-insensitively,
 *    numbers by value, timestamps through the fixed point above);
 *  - the jsonb text of the payload (the audit log hashes it) is JSON with the same values.
 * tests/fuzz/run.sh builds this with clang and runs it for a bounded time from a seed corpus this
 * program writes itself (CS_FUZZ_WRITE_SEEDS=dir): every event type's example, its printed form,
 * and all examples as one JSON Lines file; run.sh adds the examples of schemas/README.md.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec_tables.h"
#include "cs/codec.h"
#include "fuzz_common.h"

static cs_codec_t *codec;
static cs_arena_t *arena;
static cs_buf_t b1, b2, b3, j1, j2, j3, p1, pb;

static void fail(const char *what, const char *line, size_t n, const cs_err_t *err)
{
    fprintf(stderr, "fuzz_json_event: broken promise: %s (%s: %s)\n  line: %.*s\n", what,
            err ? err->field : "", err ? err->msg : "", (int)(n > 2000 ? 2000 : n), line);
    abort();
}

#define CHECK(ok, what, err)                                                                       \
    do {                                                                                           \
        if (!(ok))                                                                                 \
            fail(what, line, n, err);                                                              \
    } while (0)

/* A libFuzzer dictionary of the contract's words: field names, event names, enum symbols. */
static void write_dict(const char *dir)
{
    FILE *f = fuzz_dict_open(dir);
    static const char *const words[] = {"\\\"event_type\\\":",
                                        "\\\"payload\\\":{",
                                        "\\\"occurred_at\\\":",
                                        "\\\"schema_version\\\":",
                                        "\\\"traceparent\\\":",
                                        "null",
                                        "true",
                                        "false",
                                        "\\\\u0000",
                                        "\\\\ud800",
                                        "2026-11-25T09:30:00.000Z",
                                        "+01:00",
                                        "\\x0d\\x0a",
                                        "1e308",
                                        "0.30000000000000004",
                                        "1.0000000000000002",
                                        "-0",
                                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                        "0B9F8A5E-3C1D-4F7A-9E2B-6D4C8A1F5E30"};
    fuzz_dict_words(f, words, sizeof words / sizeof *words);
    fuzz_dict_contract(f);
    fclose(f);
}

static void write_seeds(const char *dir)
{
    cs_buf_t all = CS_BUF_INIT;
    cs_err_t err;
    write_dict(dir);
    for (int t = 0; t < cs_codec_ntypes(); t++) {
        const char *ex = cs_codec_type_example(t);
        cs_event_t ev;
        if (cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err) < 0) {
            fprintf(stderr, "fuzz_json_event: the example of %s is refused: %s: %s\n",
                    cs_codec_type_name(t), err.field, err.msg);
            exit(1);
        }
        cs_buf_reset(&j1);
        cs_codec_to_json(codec, &ev, &j1, &err);
        fuzz_write_seed(dir, cs_codec_type_name(t), 0, ex, strlen(ex));
        fuzz_write_seed(dir, cs_codec_type_name(t), 1, j1.data, j1.len);
        /* The other forms a line may take: numbers needing 17 digits, timestamps in
         * milliseconds, upper-case uuids. */
        json_error_t jerr;
        json_t *root = json_loads(ex, 0, &jerr), *pl = json_object_get(root, "payload");
        const cs__event_desc_t *ed = &cs__events[t];
        json_object_set_new(root, "occurred_at", json_integer(ev.occurred_at_ms));
        for (int i = 0; i < ed->nfields; i++) {
            const cs__field_desc_t *f = &ed->fields[i];
            json_t *v = json_object_get(pl, f->name);
            if (f->type == CS__F_DOUBLE && json_is_number(v))
                json_object_set_new(pl, f->name, json_real(json_number_value(v) / 3.0));
            else if (f->format == CS__FMT_UUID && json_is_string(v)) {
                char up[37];
                snprintf(up, sizeof up, "%s", json_string_value(v));
                for (char *c = up; *c; c++)
                    *c = (char)toupper((unsigned char)*c);
                json_object_set_new(pl, f->name, json_string(up));
            }
        }
        char *var = json_dumps(root, JSON_COMPACT);
        fuzz_write_seed(dir, cs_codec_type_name(t), 2, var, strlen(var));
        free(var);
        json_decref(root);
        cs_buf_puts(&all, ex);
        cs_buf_puts(&all, t % 2 ? "\r\n" : "\n\n");
        cs_arena_reset(arena);
    }
    fuzz_write_seed(dir, "all", 0, all.data, all.len);
    cs_buf_fini(&all);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    cs_err_t err;
    (void)argc;
    (void)argv;
    codec = cs_codec_new(&err);
    if (!codec) {
        fprintf(stderr, "fuzz_json_event: %s\n", err.msg);
        exit(1);
    }
    arena = cs_arena_new(64 * 1024);
    fuzz_seeds_mode(write_seeds);
    return 0;
}

static bool same(const cs_buf_t *a, const cs_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* The member called key (exactly keylen bytes) of obj, or NULL. */
static json_t *member(json_t *obj, const char *key, size_t keylen)
{
    return json_object_getn(obj, key, keylen);
}

/*
 * Whether input value a (from the line) and printed value b say the same thing: strings equal
 * (case-insensitively when ci: uuids are printed lower-case), numbers equal by value, arrays
 * element-wise, null/true/false alike.
 */
static bool same_value(const json_t *a, const json_t *b, bool ci)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING: {
        size_t n = json_string_length(a);
        if (n != json_string_length(b))
            return false;
        return ci ? strncasecmp(json_string_value(a), json_string_value(b), n) == 0
                  : memcmp(json_string_value(a), json_string_value(b), n) == 0;
    }
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_value(json_array_get(a, i), json_array_get(b, i), ci))
                return false;
        return true;
    case JSON_OBJECT:
        return json_equal(a, b);
    default:
        return true; /* null, true, false: the type says it all */
    }
}

/* Every member of the payload p1 (jansson-parsed JSON) equals the one in p2, by value. */
static bool same_payload(json_t *a, json_t *b)
{
    const char *key;
    json_t *va;
    if (json_object_size(a) != json_object_size(b))
        return false;
    json_object_foreach(a, key, va)
    {
        json_t *vb = json_object_get(b, key);
        if (!vb || !same_value(va, vb, false))
            return false;
    }
    return true;
}

/* What the line said is what the printed event (out) says. */
static void check_members(const cs_event_t *ev, const char *line, size_t n)
{
    json_error_t jerr;
    json_t *in = json_loadb(line, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    json_t *out = json_loadb(j1.data, j1.len, JSON_REJECT_DUPLICATES, &jerr);
    const cs__event_desc_t *ed = &cs__events[ev->type];
    const char *key;
    size_t klen;
    json_t *v;

    CHECK(in != NULL, "an accepted line is JSON", NULL);
    CHECK(out != NULL, "the printed event is JSON", NULL);
    json_object_keylen_foreach(in, key, klen, v)
    {
        json_t *o = member(out, key, klen);
        CHECK(o != NULL, "every member of an accepted line is a known field", NULL);
        if (strcmp(key, "event_type") == 0 || strcmp(key, "producer") == 0)
            CHECK(same_value(v, o, false), "the envelope is published as given", NULL);
        else if (strcmp(key, "event_id") == 0 || strcmp(key, "user_id") == 0)
            CHECK(same_value(v, o, true), "the ids are published as given", NULL);
        else if (strcmp(key, "traceparent") == 0)
            CHECK(json_is_null(v) ? json_is_null(o) : same_value(v, o, false),
                  "the traceparent is published as given", NULL);
    }
    json_t *pin = json_object_get(in, "payload"), *pout = json_object_get(out, "payload");
    CHECK(json_is_object(pin) && json_is_object(pout), "the payload is an object", NULL);
    json_object_keylen_foreach(pin, key, klen, v)
    {
        json_t *o = member(pout, key, klen);
        CHECK(o != NULL, "every member of an accepted payload is a known field", NULL);
        const cs__field_desc_t *f = NULL;
        for (int i = 0; i < ed->nfields && !f; i++)
            if (strcmp(ed->fields[i].name, key) == 0)
                f = &ed->fields[i];
        CHECK(f != NULL, "a printed payload field is in the schema", NULL);
        if (f->format == CS__FMT_TIMESTAMP && !json_is_null(v))
            continue; /* any RFC 3339 form or milliseconds: the fixed point checks it */
        CHECK(same_value(v, o, f->format == CS__FMT_UUID), "the payload is published as given",
              NULL);
    }

    /* The jsonb text holds the same values as the JSON form (numbers by value: jsonb writes
     * them without exponent, possibly beyond a 64-bit integer). */
    cs_err_t err;
    cs_buf_reset(&pb);
    if (cs_codec_payload_to_jsonb(codec, ev, &pb, &err) == 0) {
        json_t *a = json_loadb(p1.data, p1.len, JSON_DECODE_INT_AS_REAL, &jerr);
        json_t *b =
            json_loadb(pb.data, pb.len, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES, &jerr);
        CHECK(a && b, "the payload's JSON and jsonb texts are JSON", NULL);
        CHECK(same_payload(a, b), "the jsonb text holds the payload's values", NULL);
        json_decref(a);
        json_decref(b);
    } else {
        CHECK(err.kind == CS_ERR_PERMANENT && err.field[0], "a jsonb refusal names its field",
              &err);
    }
    json_decref(in);
    json_decref(out);
}

static void one_line(const char *line, size_t n)
{
    cs_event_t ev, back, again;
    cs_err_t err;

    cs_arena_reset(arena);
    if (cs_codec_from_json(codec, line, n, arena, &ev, &err) < 0) {
        CHECK(err.kind == CS_ERR_PERMANENT, "refusals are permanent", &err);
        CHECK(err.field[0] != '\0' && err.msg[0] != '\0', "refusals name a field and a reason",
              &err);
        return;
    }
    cs_buf_reset(&b1);
    cs_buf_reset(&b2);
    cs_buf_reset(&b3);
    cs_buf_reset(&j1);
    cs_buf_reset(&j2);
    cs_buf_reset(&j3);
    cs_buf_reset(&p1);
    CHECK(cs_codec_encode(codec, &ev, &b1, &err) == 0, "accepted lines encode", &err);
    CHECK(cs_codec_to_json(codec, &ev, &j1, &err) == 0, "accepted lines print", &err);
    CHECK(cs_codec_payload_to_json(codec, &ev, &p1, &err) == 0, "accepted payloads print", &err);

    CHECK(cs_codec_decode(codec, b1.data, b1.len, arena, &back, &err) == 0,
          "the published bytes decode", &err);
    CHECK(cs_codec_encode(codec, &back, &b2, &err) == 0, "decoded events re-encode", &err);
    CHECK(same(&b1, &b2), "decode + encode gives the same bytes", NULL);
    CHECK(cs_codec_to_json(codec, &back, &j2, &err) == 0, "decoded events print", &err);
    CHECK(same(&j1, &j2), "the decoded event prints as the line's event", NULL);

    CHECK(cs_codec_from_json(codec, j1.data, j1.len, arena, &again, &err) == 0,
          "the printed JSON reads back", &err);
    CHECK(cs_codec_encode(codec, &again, &b3, &err) == 0, "the read-back event encodes", &err);
    CHECK(same(&b1, &b3), "the printed JSON reads back to the same bytes", NULL);
    CHECK(cs_codec_to_json(codec, &again, &j3, &err) == 0, "the read-back event prints", &err);
    CHECK(same(&j1, &j3), "the printed JSON is a fixed point", NULL);

    check_members(&ev, line, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* tools/produce.c: getline, strip trailing CR/LF, skip lines of only spaces and tabs (the
     * blank test stops at a NUL byte, as strspn does there). */
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t start = 0;
    while (start < size) {
        char *nl = memchr(copy + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - copy) : size;
        size_t n = end - start;
        char *line = copy + start;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        line[n] = '\0';
        if (strspn(line, " \t") != n)
            one_line(line, n);
        start = end + 1;
    }
    free(copy);
    return 0;
}

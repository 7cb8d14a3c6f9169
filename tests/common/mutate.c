/*
 * tests/common/mutate.c
 *      Deterministic tricky payload values for the jsonb rendering tests, and the walk over every
 *      event type's example and its mutations that both tests make (see mutate.h).
 */
#include "mutate.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cs/codec.h"
#include "jsonb_render.h"

static unsigned long long rng = 88172645463325252ULL;
unsigned test_rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *const tricky_strings[] = {
    "quote \" backslash \\ slash /",
    "tab\tnl\ncr\r bs\b ff\f",
    "ctl \x01 \x1f \x7f",
    "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x9c\x93 \xe2\x80\xa8",
    "<>&' %s %n",
    "",
    "  spaced  ",
    "a",
    "{\"json\": [1, 2]}",
};
static const double tricky_doubles[] = {
    0.1,           1e-7,
    1.5e20,        85.5,
    -0.0,          3.141592653589793,
    123456789.125, 0.30000000000000004,
    5e-324,        1e300,
    2.5,           -17.25,
    0.0,           1e15,
    1e16,          100,
};
static const long long tricky_ints[] = {
    0, 1, -1, 7, 100, 2147483647, -2147483648LL, 9007199254740993LL};

/* Replaces one or two payload members of an example event with tricky values of their kind. */
void test_mutate_payload(json_t *payload)
{
    for (unsigned m = 1 + test_rnd(2); m > 0; m--) {
        size_t n = json_object_size(payload), pick = test_rnd((unsigned)n), i = 0;
        const char *key;
        json_t *v;

        json_object_foreach(payload, key, v)
        {
            if (i++ != pick)
                continue;
            if (test_rnd(5) == 0) {
                json_object_set_new(payload, key, json_null()); /* accepted when optional */
            } else if (json_is_string(v)) {
                json_object_set_new(payload, key, json_string(tricky_strings[test_rnd(9)]));
            } else if (json_is_real(v) || (json_is_integer(v) && test_rnd(2))) {
                json_object_set_new(payload, key, json_real(tricky_doubles[test_rnd(16)]));
            } else if (json_is_integer(v)) {
                json_object_set_new(payload, key, json_integer(tricky_ints[test_rnd(8)]));
            } else if (json_is_array(v)) {
                json_t *a = json_array();
                unsigned k = test_rnd(4);

                for (unsigned j = 0; j < k; j++)
                    json_array_append_new(a, json_string(tricky_strings[test_rnd(9)]));
                json_object_set_new(payload, key, a);
            } else if (json_is_boolean(v)) {
                json_object_set_new(payload, key, json_boolean(test_rnd(2)));
            }
            break;
        }
    }
}

int test_each_rendering(test_rendering_fn fn, void *ud)
{
    cs_err_t err;
    cs_codec_t *codec = cs_codec_new(&err);
    cs_arena_t *arena = cs_arena_new(16 * 1024);
    int total = 0;

    ck_assert_msg(codec != NULL, "%s", err.msg);
    for (int t = 0; t < cs_codec_ntypes(); t++) {
        json_t *root = json_loads(cs_codec_type_example(t), 0, NULL);

        ck_assert_msg(root != NULL, "example of %s", cs_codec_type_name(t));
        for (int k = 0; k < 300; k++) {
            json_t *copy = json_deep_copy(root);
            char *line;
            cs_event_t ev;
            cs_buf_t ours = CS_BUF_INIT, json = CS_BUF_INIT, reparsed = CS_BUF_INIT;

            if (k > 0)
                test_mutate_payload(json_object_get(copy, "payload"));
            line = json_dumps(copy, JSON_COMPACT);
            json_decref(copy);
            cs_arena_reset(arena);
            if (cs_codec_from_json(codec, line, strlen(line), arena, &ev, &err) < 0) {
                ck_assert_msg(k > 0, "the example of %s is refused: %s", cs_codec_type_name(t),
                              err.msg);
                free(line);
                continue; /* a value the contract refuses (format, range, required) */
            }
            free(line);
            total++;
            ck_assert_msg(cs_codec_payload_to_jsonb(codec, &ev, &ours, &err) == 0, "%s", err.msg);
            ck_assert_msg(cs_codec_payload_to_json(codec, &ev, &json, &err) == 0, "%s", err.msg);
            ck_assert_msg(jsonb_render_text(json.data, json.len, &reparsed, &err) == 0, "%s",
                          err.msg);
            ck_assert_msg(strcmp(ours.data, reparsed.data) == 0, "%s\ndirect   %s\nreparsed %s",
                          cs_codec_type_name(t), ours.data, reparsed.data);
            if (fn)
                fn(cs_codec_type_name(t), json.data, ours.data, ud);
            cs_buf_fini(&ours);
            cs_buf_fini(&json);
            cs_buf_fini(&reparsed);
        }
        json_decref(root);
    }
    ck_assert_msg(total > 20 * cs_codec_ntypes(), "only %d documents compared", total);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);
    return total;
}

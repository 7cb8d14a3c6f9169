/*
 * tests/common/mutate.h
 *      Deterministic tricky payload values for the jsonb rendering tests (tests/unit/test_audit.c
 *      without a server, tests/integration/0003-audit_jsonb.c against PostgreSQL).
 */
#ifndef CS_TEST_MUTATE_H
#define CS_TEST_MUTATE_H

#include <jansson.h>

/* A xorshift generator with a fixed seed: the same sequence in every run of a test program. */
unsigned test_rnd(unsigned n);
/* Replaces one or two members of payload with tricky values of their kind (escapes, control
 * characters, UTF-8, doubles of every magnitude, extreme integers, nulls, arrays). */
void test_mutate_payload(json_t *payload);

/* Given every accepted document: its type, the codec's JSON of the payload, the jsonb text. */
typedef void (*test_rendering_fn)(const char *type, const char *json, const char *jsonb, void *ud);

/*
 * For every event type, its example and 299 mutations of it: each one the codec accepts is
 * decoded, rendered by cs_codec_payload_to_jsonb, asserted (Check) equal to jsonb_render_text of
 * the codec's JSON, and given to fn (may be NULL). Asserts that every example is accepted and
 * that more than 20 documents per type were compared; returns how many.
 */
int test_each_rendering(test_rendering_fn fn, void *ud);

#endif

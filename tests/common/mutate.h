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

#endif

/*
 * tests/common/jsonb_render.h
 *      jsonb_render_text(): the jsonb text of a JSON document, for comparing renderers in tests.
 */
#ifndef CS_TEST_JSONB_RENDER_H
#define CS_TEST_JSONB_RENDER_H

#include <stddef.h>

#include "cs/buf.h"
#include "cs/err.h"

/*
 * Appends to out the text PostgreSQL's jsonb output function prints for the JSON document json
 * (keys ordered by length then bytes, ", " and ": " separators, numbers as numeric prints them,
 * strings re-escaped the way jsonb does). Returns -1 with a PERMANENT err on malformed JSON or a
 * value jsonb refuses (\u0000); out is then left as it was.
 */
int jsonb_render_text(const char *json, size_t len, cs_buf_t *out, cs_err_t *err);

#endif /* CS_TEST_JSONB_RENDER_H */

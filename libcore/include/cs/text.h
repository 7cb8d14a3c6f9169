/*
 * libcore/include/cs/text.h
 *      The text careerstream writes byte for byte: JSON string literals, integers, timestamps.
 *
 * Each of these texts is compared or hashed somewhere (the audit log hashes the payload's jsonb
 * text and COPY rows; consumers read the JSON the codec writes), so each is written by one
 * function here and nowhere else: the codec's JSON and jsonb writers, the COPY batch builder, the
 * audit worker and the logger all call these. Nothing here allocates except through the cs_buf_t
 * it is given, and nothing calls printf on the common path.
 */
#ifndef CS_TEXT_H
#define CS_TEXT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "cs/api.h"
#include "cs/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * How a JSON string literal escapes. Both copy every byte from 0x20 up verbatim (UTF-8 included,
 * 0x7f too) except '"' and '\\', which become \" and \\, and escape the bytes below 0x20:
 *  - CS_TEXT_JSON: \n \r \t, and \u00XX (lower-case hex) for the other control bytes; the
 *    compact JSON of the codec and of log lines.
 *  - CS_TEXT_JSONB: \b \f \n \r \t, and \u00XX for the others: what PostgreSQL's jsonb output
 *    function (escape_json) prints, which the audit log hashes.
 */
typedef enum cs_text_json { CS_TEXT_JSON, CS_TEXT_JSONB } cs_text_json_t;

/* Appends s[0..n) as a JSON string literal, quotes included. s may hold NUL bytes (\u0000). */
CS_API void cs_text_json_str(cs_buf_t *b, const char *s, size_t n, cs_text_json_t style);

/* Bytes an integer's text needs, NUL included: "-9223372036854775808". */
#define CS_TEXT_INT_BYTES 21

/* Writes v in decimal (a '-' when negative, no leading zeros) and a NUL; returns the length. */
CS_API size_t cs_text_i64(char out[CS_TEXT_INT_BYTES], int64_t v);

/* Bytes cs_text_hundredths needs, NUL included. */
#define CS_TEXT_DEC2_BYTES 24

/*
 * Writes h / 100 in decimal with two fraction digits ("-12.05", "0.50") and a NUL; with trim, the
 * fraction's trailing zeros and then its point are dropped ("0.5", "12"). Returns the length.
 * Scores and other values kept in hundredths are written so, exactly and without printf.
 */
CS_API size_t cs_text_hundredths(char out[CS_TEXT_DEC2_BYTES], int64_t h, bool trim);

/*
 * How a timestamp is written, always in UTC, with a fixed number of fraction digits (3 for
 * milliseconds, 6 for microseconds):
 *  - CS_TEXT_RFC3339: 2026-11-25T09:30:00.000Z, the codec's JSON form (RFC 3339);
 *  - CS_TEXT_PG: 2026-11-25 09:30:00.000+00, PostgreSQL's timestamptz text for COPY.
 * The date is the proleptic Gregorian calendar's; a year below 0 or above 9999 (outside any
 * time the codec accepts) is written with as many digits as it needs ("-001", "10000"), as
 * printf's %04lld would.
 */
typedef enum cs_text_time { CS_TEXT_RFC3339, CS_TEXT_PG } cs_text_time_t;

/* Bytes a timestamp's text needs, NUL included, for any int64_t value. */
#define CS_TEXT_TIME_BYTES 40

/* Writes ms (milliseconds since 1970-01-01T00:00:00Z) and a NUL; returns the length. */
CS_API size_t cs_text_time_ms(char out[CS_TEXT_TIME_BYTES], int64_t ms, cs_text_time_t style);
/* Writes us (microseconds since 1970-01-01T00:00:00Z) and a NUL; returns the length. */
CS_API size_t cs_text_time_us(char out[CS_TEXT_TIME_BYTES], int64_t us, cs_text_time_t style);

#ifdef __cplusplus
}
#endif

#endif /* CS_TEXT_H */

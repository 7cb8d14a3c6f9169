/*
 * libcore/src/schema.h
 *      Avro schema helpers the Avro C library 1.11.1 lacks: Parsing Canonical Form and the
 *      CRC-64-AVRO (Rabin) fingerprint.
 *
 * Internal to libcore and shared with the schema code generator (libcore/gen/schemagen.c), which
 * compiles schema.c on its own: so this file depends on jansson and libc only.
 * Both follow the Avro specification, "Parsing Canonical Form for Schemas" and "Schema
 * Fingerprints"; tests/unit/test_codec.c checks them against the specification's test vectors
 * (share/test/data/schema-tests.txt in the Avro repository).
 */
#ifndef CS_SCHEMA_H
#define CS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The fingerprint of an empty input; also the CRC's initial value. */
#define CS_SCHEMA_CRC64_EMPTY UINT64_C(0xc15d213aa4d7a795)

/* CRC-64-AVRO of n bytes. */
uint64_t cs__schema_crc64(const void *p, size_t n);

/*
 * The Parsing Canonical Form of schema (a parsed JSON schema) as a new malloc'd NUL-terminated
 * string the caller frees. On a malformed schema returns NULL and writes the reason to errbuf.
 * Named types referenced by name are written as their full names; every attribute that does not
 * affect parsing (doc, aliases, default, order, logicalType, custom "cs.*" attributes) is dropped.
 */
char *cs__schema_canonical(const json_t *schema, char *errbuf, size_t errlen);

#endif /* CS_SCHEMA_H */

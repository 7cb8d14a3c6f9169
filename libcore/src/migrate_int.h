/*
 * libcore/src/migrate_int.h
 *      The pure parts of the migration engine (no database): file names, header lines,
 *      checksums and the dependency order of function files. Private to libcore; the unit suite
 *      tests/unit/test_migrate.c includes it.
 */
#ifndef CS_MIGRATE_INT_H
#define CS_MIGRATE_INT_H

#include <stddef.h>

#include "cs/err.h"

/* Longest function (file) name: PostgreSQL's identifier limit, NAMEDATALEN - 1. */
#define CS__MIGRATE_NAME_MAX 63

/* "NNNN_<lower-case letters, digits, underscores>.sql": the version (> 0), else -1. */
int cs__migrate_parse_version(const char *file);

/*
 * "<name>.sql" of a function file, name a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most
 * CS__MIGRATE_NAME_MAX characters): copies name into out (size >= CS__MIGRATE_NAME_MAX + 1) and
 * returns 0, else -1.
 */
int cs__migrate_parse_function_file(const char *file, char *out, size_t size);

/*
 * The names listed on the header lines "-- <key>: a, b c" of sql: only lines of the leading
 * comment block count (lines starting with "--" and blank lines, up to the first other line);
 * a key may appear on several lines. On success returns the number of names and sets *names to
 * a malloc'ed array of malloc'ed strings (NULL when none; free with cs__migrate_free_names).
 * Returns -1 with a FATAL err naming file for a name that is not a lower-case identifier, an
 * empty list, or a name listed twice.
 */
int cs__migrate_header_names(const char *sql, const char *key, const char *file, char ***names,
                             cs_err_t *err);
void cs__migrate_free_names(char **names, int n);

/* Lower-case hex SHA-256 of len bytes of data (out: 65 bytes). */
void cs__migrate_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * Dependency order of n nodes (names[i], deps[i][0..ndeps[i]-1] indices of the nodes i needs):
 * fills order[0..n-1] so that every node comes after the nodes it needs; among nodes free to go,
 * the lower index goes first (callers sort names, so the order is stable). Returns 0, or -1 with
 * a FATAL err naming a cycle ("a -> b -> a") when there is one.
 */
int cs__migrate_order(int n, const char *const *names, const int *const *deps, const int *ndeps,
                      int *order, cs_err_t *err);

#endif /* CS_MIGRATE_INT_H */

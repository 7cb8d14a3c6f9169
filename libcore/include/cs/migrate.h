/*
 * libcore/include/cs/migrate.h
 *      Versioned, checksummed, forward-only schema migrations, and function files applied again
 *      whenever they change.
 *
 * Versioned migrations: a directory of files named NNNN_<what>.sql (four digits, lower-case
 * name), applied once each, in version order, and recorded in schema_migrations with the SHA-256
 * of their bytes; each file runs in its own transaction together with its row, so a failed file
 * leaves nothing behind. An applied file edited afterwards, or one that disappeared, makes the
 * whole run refuse before anything is applied (FATAL, naming the file).
 *
 * Function files (the model is Flyway's repeatable migrations): a directory of files named
 * <function>.sql, one per function or trigger function, holding its one definition
 * (CREATE OR REPLACE, plus its grants and comment), recorded in schema_functions (name, checksum).
 * After the versioned migrations, every function file that is new or whose checksum changed is
 * run again, in dependency order, each in its own transaction with its row. Dependencies are
 * declared in the file's leading comment block: "-- depends: other_fn, ...". A versioned
 * migration that needs functions while it runs (a trigger it attaches, a policy or view calling
 * one, a function it calls) declares "-- requires: fn, ..."; those files (and what they depend
 * on) are applied first, when new or changed, in the migration's own transaction. A function is
 * removed by deleting its file and adding a migration that declares "-- removes: fn, ...": after
 * the migration's own statements, in its transaction, every function of that name in the schema
 * is dropped (no CASCADE) and its schema_functions row deleted. Refused up front: unknown names,
 * a dependency cycle, a bad file name, an applied function file missing from the directory that
 * no pending migration removes. A function file must define a function named like the file.
 *
 * Concurrent migrators of one database queue on an advisory lock. The caller owns the
 * connection; these functions never close it. Not thread-safe (one cs_db_t is used by one thread).
 */
#ifndef CS_MIGRATE_H
#define CS_MIGRATE_H

#include <stdbool.h>

#include "cs/api.h"
#include "cs/db.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cs_migration_state {
    CS_MIGRATION_APPLIED = 1, /* applied, file unchanged */
    CS_MIGRATION_PENDING,     /* in the directory, not applied yet */
    CS_MIGRATION_EDITED,      /* applied, but the file's checksum differs now */
    CS_MIGRATION_MISSING,     /* applied, but no longer in the directory */
    CS_MIGRATION_CHANGED,     /* function file applied, changed since: the next run applies it */
    CS_MIGRATION_REMOVING     /* function file applied, now gone: a pending migration removes it */
} cs_migration_state_t;

/* The two directories. functions NULL or "": the directory "functions" beside migrations. */
typedef struct cs_migrate_dirs {
    const char *migrations; /* "sql/migrations" */
    const char *functions;  /* "sql/functions" */
} cs_migrate_dirs_t;

/* One migration as seen by cs_migrate_status(). Strings are borrowed for the callback's duration.
 */
typedef struct cs_migration_info {
    int version;      /* 1 for 0001_foundation.sql; 0 for a function file */
    const char *file; /* "0001_foundation.sql", "functions/cs_seed.sql" (MISSING: as recorded) */
    cs_migration_state_t state;
    const char *checksum;         /* the file's SHA-256, hex; NULL when MISSING */
    const char *applied_at;       /* server timestamp text; NULL when PENDING */
    const char *applied_checksum; /* recorded SHA-256; NULL when PENDING */
} cs_migration_info_t;

typedef void (*cs_migrate_status_cb)(const cs_migration_info_t *m, void *ud);

/*
 * Called after each migration or function file was applied, with the time it took (file is the
 * migration's name or "functions/<name>.sql"). May be NULL.
 */
typedef void (*cs_migrate_applied_cb)(const char *file, double elapsed_ms, void *ud);

/* "applied", "pending", "edited", "missing", "changed", "removing". Never NULL. */
CS_API const char *cs_migrate_state_name(cs_migration_state_t state);

/*
 * Applies every pending migration of dirs->migrations, in version order, with the function files
 * each requires, then every new or changed function file of dirs->functions.
 * On success returns the number of files applied (0 when the schema was up to date). On failure
 * returns -1 with err set: FATAL for a bad directory or file name, an edited or missing applied
 * migration, a missing applied function file, an unknown or cyclic dependency, or SQL that fails
 * (the message starts with "FILE:LINE: "); TRANSIENT for a lost connection. What was committed
 * before the failing file stays.
 */
CS_API int cs_migrate_apply_dirs(cs_db_t *db, const cs_migrate_dirs_t *dirs,
                                 cs_migrate_applied_cb on_applied, void *ud, cs_err_t *err);
/* cs_migrate_apply_dirs with the functions directory beside dir. */
CS_API int cs_migrate_apply(cs_db_t *db, const char *dir, cs_migrate_applied_cb on_applied,
                            void *ud, cs_err_t *err);

/*
 * Reports every file to cb: the migrations in version order (applied, pending, edited), applied
 * migrations missing from the directory, the function files in dependency order (applied,
 * pending, changed), then applied function files missing from their directory (removing when a
 * pending migration removes them, else missing). Changes nothing
 * (a database without the bookkeeping tables has every file pending).
 * Returns the number of edited plus missing files (0 when consistent; a changed function file is
 * not an inconsistency), or -1 with err set.
 */
CS_API int cs_migrate_status_dirs(cs_db_t *db, const cs_migrate_dirs_t *dirs,
                                  cs_migrate_status_cb cb, void *ud, cs_err_t *err);
CS_API int cs_migrate_status(cs_db_t *db, const char *dir, cs_migrate_status_cb cb, void *ud,
                             cs_err_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CS_MIGRATE_H */

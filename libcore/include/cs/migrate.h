/*
 * libcore/include/cs/migrate.h
 *      Versioned, checksummed, forward-only schema migrations.
 *
 * A migrations directory holds files named NNNN_<what>.sql (four digits, lower-case name), applied
 * in version order. The database records each applied file in schema_migrations with the SHA-256
 * of its bytes; each file runs in its own transaction together with its schema_migrations row, so
 * a failed file leaves nothing behind. A second run applies nothing. A file edited after it was
 * applied, or an applied file that disappeared from the directory, makes the whole run refuse
 * before anything is applied (FATAL, naming the file). Concurrent migrators of one database queue
 * on an advisory lock.
 *
 * The caller owns the connection; these functions never close it. Not thread-safe (one cs_db_t
 * is used by one thread).
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
    CS_MIGRATION_MISSING      /* applied, but no longer in the directory */
} cs_migration_state_t;

/* One migration as seen by cs_migrate_status(). Strings are borrowed for the callback's duration.
 */
typedef struct cs_migration_info {
    int version;      /* 1 for 0001_foundation.sql */
    const char *file; /* "0001_foundation.sql" (for MISSING: the recorded name) */
    cs_migration_state_t state;
    const char *checksum;         /* the file's SHA-256, hex; NULL when MISSING */
    const char *applied_at;       /* server timestamp text; NULL when PENDING */
    const char *applied_checksum; /* recorded SHA-256; NULL when PENDING */
} cs_migration_info_t;

typedef void (*cs_migrate_status_cb)(const cs_migration_info_t *m, void *ud);

/* Called after each migration was applied, with the time it took. May be NULL. */
typedef void (*cs_migrate_applied_cb)(const char *file, double elapsed_ms, void *ud);

/* "applied", "pending", "edited", "missing". Never NULL. */
CS_API const char *cs_migrate_state_name(cs_migration_state_t state);

/*
 * Applies every pending migration of dir, in version order, each in its own transaction.
 * On success returns the number applied (0 when the schema was up to date). On failure returns -1
 * with err set: FATAL for a bad directory or file name, an edited or missing applied file, or SQL
 * that fails (the message starts with "FILE:LINE: "); TRANSIENT for a lost connection. Migrations
 * applied before the failing one stay applied.
 */
CS_API int cs_migrate_apply(cs_db_t *db, const char *dir, cs_migrate_applied_cb on_applied,
                            void *ud, cs_err_t *err);

/*
 * Reports every migration to cb: the directory's files in version order (applied, pending,
 * edited), then applied migrations missing from the directory. Changes nothing
 * (a database without schema_migrations has every file pending).
 * Returns the number of edited plus missing migrations (0 when consistent), or -1 with err set.
 */
CS_API int cs_migrate_status(cs_db_t *db, const char *dir, cs_migrate_status_cb cb, void *ud,
                             cs_err_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CS_MIGRATE_H */

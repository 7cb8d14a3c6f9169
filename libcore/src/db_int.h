/*
 * libcore/src/db_int.h
 *      The libpq side of cs_db_t, for libcore modules that need more than cs/db.h offers.
 *
 * Private to libcore (not installed, not under include/): cs/db.h keeps libpq types out of the
 * public headers, and programs use only the cs_db_ calls. The one user is the migration engine
 * (migrate.c), which runs whole SQL files through the simple query protocol and reports a failing
 * statement as FILE:LINE from the error's position and context, and logs server notices while it
 * runs: things only a migrator needs, so they stay here instead of growing the public API.
 */
#ifndef CS_DB_INT_H
#define CS_DB_INT_H

#include <libpq-fe.h>

#include "cs/db.h"

/* The connection's PGconn (NULL for a NULL db). The cs_db_t keeps owning it. */
PGconn *cs__db_pgconn(cs_db_t *db);

/* Fills err from a failed PGresult (sqlstate, classification, primary message and detail). */
int cs__db_err_from_result(cs_db_t *db, const PGresult *res, const char *what, cs_err_t *err);

#endif /* CS_DB_INT_H */

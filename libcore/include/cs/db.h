/*
 * libcore/include/cs/db.h
 *      PostgreSQL access for careerstream programs, with every failure classified.
 *
 * A thin layer over libpq that keeps libpq types out of public headers. Each call checks the
 * exact result status it expects, clears every PGresult on every path, and turns failures into a
 * cs_err_t whose kind comes from the SQLSTATE (cs_err_classify_sqlstate) or, when the connection
 * is gone, TRANSIENT. A cs_db_t is one connection, used by one thread at a time (cs_db_cancel
 * excepted).
 *
 * Results: cs_db_query() returns a cs_db_res_t that the caller owns and frees with
 * cs_db_res_free(); the strings it hands out are borrowed from it.
 */
#ifndef CS_DB_H
#define CS_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "cs/api.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_db cs_db_t;
typedef struct cs_db_res cs_db_res_t;

/*
 * Connects to dsn (a libpq connection string or URI) and sets application_name. Returns NULL and
 * sets err on failure: TRANSIENT when the server is unreachable or starting; FATAL with field
 * "pg-dsn" when the DSN is malformed, holds a value that cannot work (a port outside 1..65535,
 * sslmode=bogus) or authentication fails. No message ever contains a password from the DSN.
 */
CS_API cs_db_t *cs_db_connect(const char *dsn, const char *application_name, cs_err_t *err);

/* Closes the connection. Accepts NULL. */
CS_API void cs_db_destroy(cs_db_t *db);

/* True when the connection is usable (PQstatus is CONNECTION_OK). */
CS_API bool cs_db_ok(const cs_db_t *db);

/* Re-establishes a broken connection (PQreset). Returns -1 with a TRANSIENT err on failure. */
CS_API int cs_db_reset(cs_db_t *db, cs_err_t *err);

/*
 * Whether the server of dsn accepts a connection now: one non-blocking connection attempt
 * (PQconnectStartParams, PQconnectPoll) that waits at most timeout_ms in all, closed at once.
 * Returns 1 when it connected; 0 when it was refused or failed (server down, starting up or
 * shutting down, or the DSN unusable); -1 when undecided after timeout_ms (a slow server or
 * network: the caller decides, typically by connecting for real). Sets no error and never logs:
 * it is meant to be called every few hundred milliseconds while a dependency is away.
 */
CS_API int cs_db_probe(const char *dsn, const char *application_name, int timeout_ms);

/*
 * Asks the server to cancel the statement running on db. The one call that may come from another
 * thread than the connection's user (PQcancel on a cancel object made at (re)connect time), e.g.
 * a shutdown deadline while a committer thread waits in a statement; that statement then fails
 * (SQLSTATE 57014). Returns 0 when the request was sent, -1 otherwise.
 */
CS_API int cs_db_cancel(cs_db_t *db);

/* Runs one or more statements that return no rows (simple query protocol). */
CS_API int cs_db_exec(cs_db_t *db, const char *sql, cs_err_t *err);

/*
 * Runs one statement with text parameters ($1..$n; a NULL value is SQL NULL) and returns the
 * number of rows it affected (PQcmdTuples), or -1 with err set.
 */
CS_API long long cs_db_execp(cs_db_t *db, const char *sql, int nparams, const char *const *values,
                             cs_err_t *err);

/* Runs a query with text parameters and returns its rows, or NULL with err set. */
CS_API cs_db_res_t *cs_db_query(cs_db_t *db, const char *sql, int nparams,
                                const char *const *values, cs_err_t *err);

/*
 * The same with the result in binary format: every value in its type's send representation
 * (PostgreSQL's "binary format" of each type: bytea and text as their bytes, int8 big-endian, ...).
 * Saves the server the types' output functions (bytea's hex) and the client their parsing;
 * cs_db_res_get returns the bytes (not NUL-terminated for non-text types) and cs_db_res_len their
 * length.
 */
CS_API cs_db_res_t *cs_db_query_binary(cs_db_t *db, const char *sql, int nparams,
                                       const char *const *values, cs_err_t *err);

/*
 * The same in two steps, for a read that runs on the server while the caller does other work:
 * cs_db_send_query sends the query and returns at once (0, or -1 with err when it could not be
 * sent); cs_db_get_result waits for its rows and returns them like cs_db_query (NULL with err on
 * failure), and must come before anything else on the connection. cs_db_busy: a query was sent
 * whose result was not collected yet.
 */
CS_API int cs_db_send_query(cs_db_t *db, const char *sql, int nparams, const char *const *values,
                            cs_err_t *err);
CS_API cs_db_res_t *cs_db_get_result(cs_db_t *db, cs_err_t *err);
CS_API bool cs_db_busy(const cs_db_t *db);
/* Whether the query sent has its result complete (cs_db_get_result will not wait); reads what
 * the server sent so far without blocking. True when nothing was sent, or the connection failed
 * (cs_db_get_result reports it). */
CS_API bool cs_db_result_ready(cs_db_t *db);

CS_API int cs_db_res_rows(const cs_db_res_t *res);
CS_API int cs_db_res_cols(const cs_db_res_t *res);
/* The value at (row, col) as text, or NULL when it is SQL NULL. Borrowed from res. */
CS_API const char *cs_db_res_get(const cs_db_res_t *res, int row, int col);
/* The length in bytes of the value at (row, col); -1 when it is SQL NULL or out of range. */
CS_API int cs_db_res_len(const cs_db_res_t *res, int row, int col);

/* A binary int8 (cs_db_query_binary): 0, or -1 when v is NULL or not 8 bytes long. */
CS_API int cs_db_bin_int8(const char *v, int len, long long *out);
/* Frees a result. Accepts NULL. */
CS_API void cs_db_res_free(cs_db_res_t *res);

/*
 * Prepared statements (extended protocol, text parameters). cs_db_prepare parses and names sql
 * on this connection; a name that already exists on it is not an error (the caller derives names
 * from the statement text, so the same name means the same statement). Prepared statements
 * belong to the session: after cs_db_reset they are gone and must be prepared again.
 */
CS_API int cs_db_prepare(cs_db_t *db, const char *name, const char *sql, cs_err_t *err);
/* Runs a prepared statement; returns the rows it affected (PQcmdTuples), or -1 with err set. */
CS_API long long cs_db_execp_prepared(cs_db_t *db, const char *name, int nparams,
                                      const char *const *values, cs_err_t *err);
/* Runs a prepared statement that returns rows; NULL with err set on failure. */
CS_API cs_db_res_t *cs_db_query_prepared(cs_db_t *db, const char *name, int nparams,
                                         const char *const *values, cs_err_t *err);

/*
 * Pipeline mode (libpq pipelines): several statements sent without waiting, their results read
 * in one go. cs_db_pipeline_begin enters it; cs_db_pipeline_send queues a statement (a prepared
 * statement's name when prepared, else SQL text; text parameters); cs_db_pipeline_end sends the
 * sync, reads every result, leaves pipeline mode and returns 0 when every statement succeeded,
 * else -1 with err from the first that failed (the server skipped the ones after it; an explicit
 * transaction stays open in the aborted state, for the caller's ROLLBACK). After a failed send,
 * call cs_db_pipeline_end anyway: it reports the error and leaves pipeline mode. COPY cannot run
 * in a pipeline. Only for statements whose results are not needed (checks raise errors instead).
 */
CS_API int cs_db_pipeline_begin(cs_db_t *db, cs_err_t *err);
CS_API int cs_db_pipeline_send(cs_db_t *db, const char *stmt, bool prepared, int nparams,
                               const char *const *values, cs_err_t *err);
CS_API int cs_db_pipeline_end(cs_db_t *db, cs_err_t *err);

/*
 * COPY ... FROM STDIN in text format. cs_db_copy_begin runs the COPY statement;
 * cs_db_copy_put sends a chunk of rows (whole lines, already escaped with cs_db_copy_escape);
 * cs_db_copy_end finishes and returns the number of rows copied, or -1 with err set.
 * After a failed put, call cs_db_copy_end anyway: it aborts the COPY and reports the error.
 */
CS_API int cs_db_copy_begin(cs_db_t *db, const char *copy_sql, cs_err_t *err);
CS_API int cs_db_copy_put(cs_db_t *db, const char *data, size_t len, cs_err_t *err);
CS_API long long cs_db_copy_end(cs_db_t *db, cs_err_t *err);

/*
 * Appends s (len bytes) to out escaped for COPY text format (backslash, tab, newline, carriage
 * return). out must have room for 2 * len bytes. Returns the number of bytes written.
 */
CS_API size_t cs_db_copy_escape(char *out, const char *s, size_t len);

/* The server's version number (e.g. 150018), or 0 when unknown. */
CS_API int cs_db_server_version(const cs_db_t *db);

#ifdef __cplusplus
}
#endif

#endif /* CS_DB_H */

/*
 * libcore/include/cs/err.h
 *      The one error convention of careerstream: a caller-owned error with a kind.
 *
 * Every fallible libcore function returns 0 / a pointer on success and -1 / NULL on failure,
 * and fills a caller-owned cs_err_t. The kind decides what the caller does, and only the
 * worker dispatcher acts on it: TRANSIENT is retried with backoff, PERMANENT dead-letters the
 * event, FATAL stops the program. Classify where the knowledge is (SQLSTATE in db.c, librdkafka
 * error codes in the kafka code, validation in the codec).
 */
#ifndef CS_ERR_H
#define CS_ERR_H

#include <stddef.h>

#include "cs/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cs_err_kind {
    CS_ERR_NONE = 0,  /* no error */
    CS_ERR_TRANSIENT, /* retry later: connection lost, serialization failure, broker down */
    CS_ERR_PERMANENT, /* this input can never succeed: bad event, constraint violation */
    CS_ERR_FATAL      /* the program is misconfigured or the schema is wrong: stop */
} cs_err_kind_t;

#define CS_ERR_MSG_SIZE 512

typedef struct cs_err {
    cs_err_kind_t kind;
    char sqlstate[6]; /* five-character SQLSTATE when the error came from PostgreSQL, else "" */
    char field[64];   /* the offending field or option when there is one, else "" */
    char msg[CS_ERR_MSG_SIZE]; /* short, lower-case, factual: what failed first */
} cs_err_t;

/* Resets err to CS_ERR_NONE with empty strings. err may be NULL. */
CS_API void cs_err_clear(cs_err_t *err);

/*
 * Sets err (which may be NULL) to kind and the formatted message, clearing sqlstate and field.
 * Always returns -1, so error paths read `return cs_err_set(err, CS_ERR_PERMANENT, "...");`.
 */
CS_API int cs_err_set(cs_err_t *err, cs_err_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like cs_err_set, and records the offending field name (truncated to fit). Returns -1. */
CS_API int cs_err_set_field(cs_err_t *err, cs_err_kind_t kind, const char *field, const char *fmt,
                            ...) __attribute__((format(printf, 4, 5)));

/*
 * Prefixes err->msg with the formatted context and ": ", keeping kind, sqlstate and field.
 * Returns -1. Used when passing an error up with more context ("line 12: ...").
 */
CS_API int cs_err_wrap(cs_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "none", "transient", "permanent", "fatal". Never NULL. */
CS_API const char *cs_err_kind_name(cs_err_kind_t kind);

/*
 * Classifies a PostgreSQL SQLSTATE: 08*, 40001, 40P01, 53*, 55P03, 57P0*, 58* are transient;
 * 42*, 28*, 3D000, 0A000 fatal; every other class (22*, 23*, P0001 raised by our functions, ...)
 * permanent. A NULL or empty sqlstate (the connection is gone) is transient.
 */
CS_API cs_err_kind_t cs_err_classify_sqlstate(const char *sqlstate);

#ifdef __cplusplus
}
#endif

#endif /* CS_ERR_H */

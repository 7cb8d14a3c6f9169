/*
 * libcore/src/err.c
 *      The error convention: setting, wrapping and classifying cs_err_t.
 *
 * Errors are plain caller-owned structs, so setting one never allocates and error paths cannot
 * fail themselves. Classification of PostgreSQL failures lives here because it is the single
 * table the dispatcher's retry / dead-letter / stop decision rests on.
 */
#include "cs/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cs_err_clear(cs_err_t *err)
{
    if (!err)
        return;
    err->kind = CS_ERR_NONE;
    err->sqlstate[0] = '\0';
    err->field[0] = '\0';
    err->msg[0] = '\0';
}

static void set_v(cs_err_t *err, cs_err_kind_t kind, const char *fmt, va_list ap)
{
    err->kind = kind;
    err->sqlstate[0] = '\0';
    err->field[0] = '\0';
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int cs_err_set(cs_err_t *err, cs_err_kind_t kind, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    va_start(ap, fmt);
    set_v(err, kind, fmt, ap);
    va_end(ap);
    return -1;
}

int cs_err_set_field(cs_err_t *err, cs_err_kind_t kind, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    va_start(ap, fmt);
    set_v(err, kind, fmt, ap);
    va_end(ap);
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    return -1;
}

int cs_err_wrap(cs_err_t *err, const char *fmt, ...)
{
    char prefix[CS_ERR_MSG_SIZE];
    char old[CS_ERR_MSG_SIZE];
    va_list ap;

    if (!err)
        return -1;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    return -1;
}

const char *cs_err_kind_name(cs_err_kind_t kind)
{
    switch (kind) {
    case CS_ERR_NONE:
        return "none";
    case CS_ERR_TRANSIENT:
        return "transient";
    case CS_ERR_PERMANENT:
        return "permanent";
    case CS_ERR_FATAL:
        return "fatal";
    }
    return "unknown";
}

cs_err_kind_t cs_err_classify_sqlstate(const char *s)
{
    if (!s || strlen(s) != 5)
        return CS_ERR_TRANSIENT; /* no SQLSTATE: the connection is gone */

    /* Exact codes first, then classes. */
    if (!strcmp(s, "40001") || !strcmp(s, "40P01") || !strcmp(s, "55P03"))
        return CS_ERR_TRANSIENT; /* serialization failure, deadlock, lock not available */
    if (!strcmp(s, "3D000") || !strcmp(s, "0A000"))
        return CS_ERR_FATAL; /* database missing, feature not supported: misconfigured */
    if (!strncmp(s, "08", 2) || !strncmp(s, "53", 2) || !strncmp(s, "57P", 3) ||
        !strncmp(s, "58", 2))
        return CS_ERR_TRANSIENT; /* connection, resources, shutdown, system error */
    if (!strncmp(s, "57", 2))
        return CS_ERR_TRANSIENT; /* 57014 query canceled (statement_timeout, admin) */
    if (!strncmp(s, "42", 2) || !strncmp(s, "28", 2))
        return CS_ERR_FATAL; /* the schema is wrong or we may not use it: stop */
    return CS_ERR_PERMANENT;
}

/*
 * libcore/include/cs/log.h
 *      Structured logging: one JSON object per line on stderr.
 *
 * Each line is {"ts":"2026-11-25T08:52:20.123Z","level":"info","program":"cs-audit",
 * "msg":"batch committed","fields":{"events":5000,"topic":"cs.learning"}}.
 * The level test happens in the macro, before any argument is evaluated, so a disabled
 * debug line costs one comparison. Fields are typed key/value pairs built with CS_LS (string),
 * CS_LI (integer) and CS_LD (double); the list is terminated by the macro itself.
 *
 *      cs_log_info("partition assigned", CS_LS("topic", t), CS_LI("partition", p));
 *
 * Logging is process-global and not thread-safe beyond what stdio gives (one fwrite per line,
 * so lines from different threads never interleave). Messages are short, lower-case and factual;
 * SQL, SQLSTATE, topics and ids go in fields, not in the sentence.
 */
#ifndef CS_LOG_H
#define CS_LOG_H

#include <stdio.h>

#include "cs/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cs_log_level {
    CS_LOG_DEBUG = 0,
    CS_LOG_INFO,
    CS_LOG_WARN,
    CS_LOG_ERROR,
    CS_LOG_OFF
} cs_log_level_t;

/* Field type tags; use the CS_L* macros rather than these directly. */
enum { CS_LOGF_END = 0, CS_LOGF_STR, CS_LOGF_INT, CS_LOGF_DBL, CS_LOGF_RAW };

#define CS_LS(k, v) (k), CS_LOGF_STR, (const char *)(v)
#define CS_LI(k, v) (k), CS_LOGF_INT, (long long)(v)
#define CS_LD(k, v) (k), CS_LOGF_DBL, (double)(v)
/* A value that is already valid JSON (an object or array built by the caller). */
#define CS_LJ(k, v) (k), CS_LOGF_RAW, (const char *)(v)
#define CS_LOG_END  ((const char *)0)

CS_API extern cs_log_level_t cs_log_level_;

#define CS_LOG_AT(lvl, ...)                                                                        \
    do {                                                                                           \
        if ((lvl) >= cs_log_level_)                                                                \
            cs_log_emit((lvl), __VA_ARGS__);                                                       \
    } while (0)

#define cs_log_debug(...) CS_LOG_AT(CS_LOG_DEBUG, __VA_ARGS__, CS_LOG_END)
#define cs_log_info(...)  CS_LOG_AT(CS_LOG_INFO, __VA_ARGS__, CS_LOG_END)
#define cs_log_warn(...)  CS_LOG_AT(CS_LOG_WARN, __VA_ARGS__, CS_LOG_END)
#define cs_log_error(...) CS_LOG_AT(CS_LOG_ERROR, __VA_ARGS__, CS_LOG_END)

/*
 * Sets the program name and the minimum level. program is copied. out is where lines go
 * (NULL means stderr); tests pass a tmpfile or memstream. May be called again at any time.
 */
CS_API void cs_log_init(const char *program, cs_log_level_t level, FILE *out);

/* Parses "debug", "info", "warn", "error", "off" (case-insensitive). Returns -1 if unknown. */
CS_API int cs_log_level_parse(const char *s, cs_log_level_t *out);

/* "debug", "info", "warn", "error", "off". */
CS_API const char *cs_log_level_name(cs_log_level_t level);

/*
 * Writes one line. msg is followed by (key, tag, value) triples and CS_LOG_END. Call through the
 * macros so the level is tested first; cs_log_emit itself does not test it.
 */
CS_API void cs_log_emit(cs_log_level_t level, const char *msg, ...);

#ifdef __cplusplus
}
#endif

#endif /* CS_LOG_H */

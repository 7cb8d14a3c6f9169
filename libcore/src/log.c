/*
 * libcore/src/log.c
 *      Structured logging: one JSON object per line.
 *
 * A line is built in one buffer and written with one fwrite, so concurrent writers never
 * interleave within a line. Field values are escaped as JSON strings; non-finite doubles become
 * null so every line stays valid JSON.
 */
#include "cs/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cs/buf.h"
#include "cs/text.h"

cs_log_level_t cs_log_level_ = CS_LOG_INFO;
static char program_[64] = "careerstream";
static FILE *out_;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void cs_log_init(const char *program, cs_log_level_t level, FILE *out)
{
    snprintf(program_, sizeof(program_), "%s", program ? program : "careerstream");
    cs_log_level_ = level;
    out_ = out;
}

int cs_log_level_parse(const char *s, cs_log_level_t *out)
{
    for (int i = 0; i <= CS_LOG_OFF; i++) {
        if (s && !strcasecmp(s, level_names[i])) {
            *out = (cs_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

const char *cs_log_level_name(cs_log_level_t level)
{
    return (level >= CS_LOG_DEBUG && level <= CS_LOG_OFF) ? level_names[level] : "unknown";
}

/* A line's start: {"ts":...,"level":...,"program":...,"msg":... */
static void log_head(cs_buf_t *bp, cs_log_level_t level, const char *msg)
{
    struct timespec ts;
    struct tm tm;
    char when[40];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    cs_buf_printf(bp, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"program\":", when,
                  ts.tv_nsec / 1000000L, cs_log_level_name(level));
    cs_text_json_str(bp, program_, strlen(program_), CS_TEXT_JSON);
    cs_buf_puts(bp, ",\"msg\":");
    cs_text_json_str(bp, msg ? msg : "", msg ? strlen(msg) : 0, CS_TEXT_JSON);
}

/* A field's value of type tag, taken from *ap, as JSON; -1 (null written) for an unknown tag. */
static int log_value(cs_buf_t *bp, int tag, va_list *ap)
{
    switch (tag) {
    case CS_LOGF_STR: {
        const char *v = va_arg(*ap, const char *);

        if (v)
            cs_text_json_str(bp, v, strlen(v), CS_TEXT_JSON);
        else
            cs_buf_puts(bp, "null");
        return 0;
    }
    case CS_LOGF_INT:
        cs_buf_printf(bp, "%lld", va_arg(*ap, long long));
        return 0;
    case CS_LOGF_DBL: {
        double d = va_arg(*ap, double);

        if (isfinite(d))
            cs_buf_printf(bp, "%.17g", d);
        else
            cs_buf_puts(bp, "null");
        return 0;
    }
    case CS_LOGF_RAW: {
        const char *v = va_arg(*ap, const char *);

        cs_buf_puts(bp, v && *v ? v : "null");
        return 0;
    }
    default:
        cs_buf_puts(bp, "null");
        return -1;
    }
}

void cs_log_emit(cs_log_level_t level, const char *msg, ...)
{
    /* Logging is not on the per-event hot path: a fresh heap buffer per line is fine. */
    cs_buf_t line = CS_BUF_INIT;
    cs_buf_t *bp = &line;
    const char *key;
    int nfields = 0;
    va_list ap;

    log_head(bp, level, msg);
    va_start(ap, msg);
    while ((key = va_arg(ap, const char *)) != NULL) {
        int tag = va_arg(ap, int);

        cs_buf_puts(bp, nfields++ ? "," : ",\"fields\":{");
        cs_text_json_str(bp, key, strlen(key), CS_TEXT_JSON);
        cs_buf_putc(bp, ':');
        /* A malformed call: stop reading arguments rather than walk off the list. */
        if (log_value(bp, tag, &ap) < 0)
            break;
    }
    va_end(ap);
    if (nfields)
        cs_buf_putc(bp, '}');
    cs_buf_puts(bp, "}\n");
    fwrite(bp->data, 1, bp->len, out_ ? out_ : stderr);
    fflush(out_ ? out_ : stderr);
    cs_buf_fini(&line);
}

/*
 * libcore/include/cs/buf.h
 *      A growable byte buffer, and an arena for per-message scratch memory.
 *
 * cs_buf_t holds bytes the caller appends to (COPY rows, JSON, encoded events); it is always
 * NUL-terminated after its contents so it can be used as a C string. cs_arena_t hands out
 * memory that is released all at once by cs_arena_reset(): the dispatcher resets it after each
 * message or batch, so handlers and the decoder free nothing. Neither is thread-safe.
 *
 * Allocation failure aborts the process, as every careerstream allocation does (cs/mem.h);
 * untrusted sizes are checked against limits by callers before they ask for memory. JSON string
 * literals, integers and timestamps are appended with cs/text.h.
 */
#ifndef CS_BUF_H
#define CS_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "cs/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes used, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
} cs_buf_t;

#define CS_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

CS_API void cs_buf_init(cs_buf_t *b);
/* Frees the memory; the buffer is empty and reusable afterwards. */
CS_API void cs_buf_fini(cs_buf_t *b);
/* Empties the buffer, keeping its memory. */
static inline void cs_buf_reset(cs_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
/* Makes room for n more bytes and returns a pointer to the end; commit with cs_buf_advance. */
CS_API char *cs_buf_reserve(cs_buf_t *b, size_t n);
static inline void cs_buf_advance(cs_buf_t *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}
CS_API void cs_buf_append(cs_buf_t *b, const void *p, size_t n);
CS_API void cs_buf_puts(cs_buf_t *b, const char *s);
/* Appends one byte; inline because encoders call it per character. */
static inline void cs_buf_putc(cs_buf_t *b, char c)
{
    if (b->len + 2 > b->cap)
        cs_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}
CS_API void cs_buf_printf(cs_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
CS_API void cs_buf_vprintf(cs_buf_t *b, const char *fmt, va_list ap);

typedef struct cs_arena cs_arena_t;

CS_API cs_arena_t *cs_arena_new(size_t block_size);
/* Frees the arena and everything allocated from it. Accepts NULL. */
CS_API void cs_arena_destroy(cs_arena_t *a);
/* 16-byte aligned memory valid until the next reset. Never NULL. */
CS_API void *cs_arena_alloc(cs_arena_t *a, size_t n);
CS_API char *cs_arena_strndup(cs_arena_t *a, const char *s, size_t n);
/* Releases everything allocated since creation or the last reset, keeping the first block. */
CS_API void cs_arena_reset(cs_arena_t *a);
/* Bytes handed out since the last reset (for per-message budgets). */
CS_API size_t cs_arena_used(const cs_arena_t *a);

#ifdef __cplusplus
}
#endif

#endif /* CS_BUF_H */

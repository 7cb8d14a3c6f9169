/*
 * libcore/src/buf.c
 *      Growable byte buffers and scratch arenas.
 *
 * Both exist so the hot path (encoding, COPY rows, decoding) allocates rarely: buffers keep their
 * memory across resets, arenas keep their first block. Out of memory aborts (cs/mem.h). JSON string
 * literals are written by cs/text.h.
 */
#include "cs/buf.h"

#include "cs/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_buf_init(cs_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cs_buf_fini(cs_buf_t *b)
{
    free(b->data);
    cs_buf_init(b);
}

char *cs_buf_reserve(cs_buf_t *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = cs_mem_realloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void cs_buf_append(cs_buf_t *b, const void *p, size_t n)
{
    char *dst = cs_buf_reserve(b, n);

    if (n)
        memcpy(dst, p, n);
    cs_buf_advance(b, n);
}

void cs_buf_puts(cs_buf_t *b, const char *s)
{
    cs_buf_append(b, s, strlen(s));
}

void cs_buf_vprintf(cs_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(cs_buf_reserve(b, 64), 64 + 1, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    if ((size_t)n > 64)
        n = vsnprintf(cs_buf_reserve(b, (size_t)n), (size_t)n + 1, fmt, ap);
    cs_buf_advance(b, (size_t)n);
}

void cs_buf_printf(cs_buf_t *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cs_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* Arena: a chain of blocks; reset frees all but the first. */
struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct cs_arena {
    struct block *head; /* current block; its chain ends at the first block */
    size_t block_size;
    size_t used;
};

static struct block *block_new(size_t size)
{
    struct block *bl = cs_mem_realloc(NULL, sizeof(*bl) + size);

    bl->next = NULL;
    bl->size = size;
    bl->used = 0;
    return bl;
}

cs_arena_t *cs_arena_new(size_t block_size)
{
    cs_arena_t *a = cs_mem_realloc(NULL, sizeof(*a));

    a->block_size = block_size ? block_size : 64 * 1024;
    a->head = block_new(a->block_size);
    a->used = 0;
    return a;
}

void cs_arena_destroy(cs_arena_t *a)
{
    if (!a)
        return;
    for (struct block *bl = a->head, *next; bl; bl = next) {
        next = bl->next;
        free(bl);
    }
    free(a);
}

void *cs_arena_alloc(cs_arena_t *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    struct block *bl = a->head;

    if (need < n)
        cs_mem_fail(n); /* no block can hold it */
    if (bl->size - bl->used < need) {
        bl = block_new(need > a->block_size ? need : a->block_size);
        bl->next = a->head;
        a->head = bl;
    }
    void *p = bl->data + bl->used;
    bl->used += need;
    a->used += need;
    return p;
}

char *cs_arena_strndup(cs_arena_t *a, const char *s, size_t n)
{
    char *p = cs_arena_alloc(a, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void cs_arena_reset(cs_arena_t *a)
{
    struct block *bl = a->head;

    while (bl->next) {
        struct block *next = bl->next;

        free(bl);
        bl = next;
    }
    bl->used = 0;
    a->head = bl;
    a->used = 0;
}

size_t cs_arena_used(const cs_arena_t *a)
{
    return a->used;
}

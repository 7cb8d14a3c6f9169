/*
 * libcore/src/mem.c
 *      The allocation family of cs/mem.h: the C library's allocators, and abort when they fail.
 *
 * cs_mem_fail() is the only place careerstream reacts to running out of memory. It cannot use
 * cs/log.h, which builds each line in a heap buffer: it formats its line on the stack, in the
 * shape of a cs_log line, and writes it to stderr before abort() (a core dump, and a signal the
 * supervisor sees, rather than an exit code that could be mistaken for a configuration error).
 */
#include "cs/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void cs_mem_fail(size_t bytes)
{
    char line[128];
    int n = snprintf(line, sizeof line,
                     "{\"level\":\"error\",\"msg\":\"out of memory\",\"fields\":{\"bytes\":%zu}}\n",
                     bytes);

    if (n > 0)
        fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, stderr);
    fflush(stderr);
    abort();
}

void *cs_mem_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        cs_mem_fail(n);
    return p;
}

void *cs_mem_calloc(size_t count, size_t size)
{
    void *p;

    if (size && count > SIZE_MAX / size)
        cs_mem_fail(SIZE_MAX);
    p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        cs_mem_fail(count * size);
    return p;
}

void *cs_mem_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        cs_mem_fail(n);
    return q;
}

void *cs_mem_reallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        cs_mem_fail(SIZE_MAX);
    return cs_mem_realloc(p, count * size);
}

char *cs_mem_strdup(const char *s)
{
    return cs_mem_strndup(s ? s : "", s ? strlen(s) : 0);
}

char *cs_mem_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = cs_mem_alloc(len + 1);

    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

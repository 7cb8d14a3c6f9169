/*
 * libcore/include/cs/mem.h
 *      The one allocation family of careerstream, and its one out-of-memory policy.
 *
 * Every heap allocation in libcore, the workers and the tools goes through these functions, which
 * never return NULL: when the C library cannot give the memory, cs_mem_fail() writes one
 * structured log line on stderr (without allocating) and aborts. A program without memory cannot
 * do anything useful, and checking every allocation at every call site would obscure every
 * caller; untrusted sizes are checked against limits by callers before they ask for memory.
 * Free what they return with free().
 */
#ifndef CS_MEM_H
#define CS_MEM_H

#include <stddef.h>

#include "cs/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* malloc(n); n == 0 still returns a unique pointer. Never NULL. */
CS_API void *cs_mem_alloc(size_t n);
/* calloc(count, size), overflow-checked; count or size 0 still returns a pointer. Never NULL. */
CS_API void *cs_mem_calloc(size_t count, size_t size);
/* realloc(p, n); n == 0 keeps a one-byte block rather than freeing p. Never NULL. */
CS_API void *cs_mem_realloc(void *p, size_t n);
/* realloc(p, count * size), overflow-checked. Never NULL. */
CS_API void *cs_mem_reallocarray(void *p, size_t count, size_t size);
/* A copy of s; s NULL copies "". Never NULL. */
CS_API char *cs_mem_strdup(const char *s);
/* A NUL-terminated copy of at most n bytes of s. Never NULL. */
CS_API char *cs_mem_strndup(const char *s, size_t n);

/*
 * The out-of-memory policy, for allocations made elsewhere (a library call that returns NULL only
 * when it runs out of memory: json_dumps, PQconnectdbParams): logs "out of memory" with the bytes
 * asked for (0 when unknown) and aborts.
 */
CS_API _Noreturn void cs_mem_fail(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* CS_MEM_H */

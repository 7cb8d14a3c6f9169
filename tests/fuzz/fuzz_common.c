/*
 * tests/fuzz/fuzz_common.c
 *      Seed and dictionary files for the fuzz targets (see fuzz_common.h).
 */
#include "fuzz_common.h"

#include <stdlib.h>

void fuzz_seeds_mode(void (*write_seeds)(const char *dir))
{
    const char *dir = getenv("CS_FUZZ_WRITE_SEEDS");
    if (!dir)
        return;
    write_seeds(dir);
    exit(0);
}

void fuzz_write_seed(const char *dir, const char *name, int k, const void *p, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%d", dir, name, k);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

FILE *fuzz_dict_open(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.dict", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

void fuzz_dict_words(FILE *f, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "\"%s\"\n", words[i]);
}

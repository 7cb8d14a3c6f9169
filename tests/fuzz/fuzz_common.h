/*
 * tests/fuzz/fuzz_common.h
 *      What the fuzz targets share: writing their seed corpus and libFuzzer dictionary.
 *
 * Each target writes its own seeds when run with CS_FUZZ_WRITE_SEEDS=dir (tests/fuzz/run.sh does
 * this before fuzzing): a file a seed in dir, the dictionary next to it as dir.dict. Everything
 * here exits 1 with a message when a file cannot be written (a harness, not a library).
 */
#ifndef CS_FUZZ_COMMON_H
#define CS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdio.h>

/* When CS_FUZZ_WRITE_SEEDS names a directory: write_seeds(dir), then exit 0. */
void fuzz_seeds_mode(void (*write_seeds)(const char *dir));

/* Writes the seed dir/<name>-<k> with len bytes from p. */
void fuzz_write_seed(const char *dir, const char *name, int k, const void *p, size_t len);

/* Opens dir.dict for writing. */
FILE *fuzz_dict_open(const char *dir);
/* Writes each of words (in libFuzzer's dictionary syntax, escapes as given) quoted on a line. */
void fuzz_dict_words(FILE *f, const char *const *words, size_t n);
/* The contract's words, quoted a line each: event names, field names, enum symbols
 * (tests/fuzz/fuzz_contract.c; the targets that link the codec only). */
void fuzz_dict_contract(FILE *f);

#endif

/*
 * libcore/src/tune.h
 *      Internal: "key=value" overrides of a config struct of plain numbers, driven by a key table.
 *
 * The pure algorithms (readiness.c, match.c) keep their weights and thresholds in one struct
 * with defaults. A worker passes overrides as one string option (for example
 * --readiness-model="weight.skills=0.4 stage.placed=80"), so the tunables need no option of
 * their own in the worker's cs_opt_t table; each module lists its keys once, with offsets and
 * ranges, and this parser does the rest. All or nothing: on error the struct is unchanged.
 */
#ifndef CS_TUNE_H
#define CS_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/err.h"

typedef enum cs__tune_type {
    CS__TUNE_DOUBLE = 0,
    CS__TUNE_INT,
    CS__TUNE_BOOL,
    CS__TUNE_INT64
} cs__tune_type_t;

typedef struct cs__tune_key {
    const char *name;
    size_t offset;
    double min, max;
    cs__tune_type_t type;
} cs__tune_key_t;

/* The value of a key as a double (bool: 0/1). */
double cs__tune_get(const void *cfg, const cs__tune_key_t *k);

/* Sets one key of cfg from text; what names the module in messages ("readiness"). FATAL. */
int cs__tune_set(const char *what, const cs__tune_key_t *keys, size_t n_keys, void *cfg,
                 const char *key, const char *value, cs_err_t *err);

/* Applies "k=v" pairs separated by commas, semicolons or white space to a copy of cfg
 * (cfg_size bytes) and copies it back only when every pair applied. */
int cs__tune_parse(const char *what, const cs__tune_key_t *keys, size_t n_keys, void *cfg,
                   size_t cfg_size, const char *spec, cs_err_t *err);

/* Checks every key of cfg against its range (a struct filled by hand). FATAL naming the key. */
int cs__tune_check(const char *what, const cs__tune_key_t *keys, size_t n_keys, const void *cfg,
                   cs_err_t *err);

/* FNV-1a of "name=%.17g;" over every key: a version tag of a config. */
uint32_t cs__tune_hash(const cs__tune_key_t *keys, size_t n_keys, const void *cfg);

#endif /* CS_TUNE_H */

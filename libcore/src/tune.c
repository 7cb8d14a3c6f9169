/*
 * libcore/src/tune.c
 *      Internal: key=value overrides of a config struct of plain numbers (see tune.h).
 */
#include "tune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs/mem.h"

double cs__tune_get(const void *cfg, const cs__tune_key_t *k)
{
    const char *p = (const char *)cfg + k->offset;
    switch (k->type) {
    case CS__TUNE_INT:
        return (double)*(const int *)(const void *)p;
    case CS__TUNE_INT64:
        return (double)*(const int64_t *)(const void *)p;
    case CS__TUNE_BOOL:
        return *(const bool *)(const void *)p ? 1.0 : 0.0;
    default:
        return *(const double *)(const void *)p;
    }
}

static void put(void *cfg, const cs__tune_key_t *k, double v)
{
    char *p = (char *)cfg + k->offset;
    switch (k->type) {
    case CS__TUNE_INT:
        *(int *)(void *)p = (int)v;
        break;
    case CS__TUNE_INT64:
        *(int64_t *)(void *)p = (int64_t)v;
        break;
    case CS__TUNE_BOOL:
        *(bool *)(void *)p = v != 0;
        break;
    default:
        *(double *)(void *)p = v;
    }
}

int cs__tune_set(const char *what, const cs__tune_key_t *keys, size_t n_keys, void *cfg,
                 const char *key, const char *value, cs_err_t *err)
{
    const cs__tune_key_t *k = NULL;
    char *end = NULL;
    double v;

    for (size_t i = 0; i < n_keys; i++)
        if (strcmp(keys[i].name, key) == 0)
            k = &keys[i];
    if (!k)
        return cs_err_set_field(err, CS_ERR_FATAL, key, "unknown %s key '%s'", what, key);
    if (k->type == CS__TUNE_BOOL) {
        if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
            strcasecmp(value, "yes") == 0 || strcasecmp(value, "on") == 0)
            v = 1;
        else if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
                 strcasecmp(value, "no") == 0 || strcasecmp(value, "off") == 0)
            v = 0;
        else
            return cs_err_set_field(err, CS_ERR_FATAL, key, "%s key %s: '%s' is not a boolean",
                                    what, key, value);
    } else {
        v = strtod(value, &end);
        if (end == value || *end || !isfinite(v) || v < k->min || v > k->max ||
            (k->type != CS__TUNE_DOUBLE && v != floor(v)))
            return cs_err_set_field(
                err, CS_ERR_FATAL, key, "%s key %s: '%s' is not %s in %g..%g", what, key, value,
                k->type == CS__TUNE_DOUBLE ? "a number" : "an integer", k->min, k->max);
    }
    put(cfg, k, v);
    return 0;
}

int cs__tune_parse(const char *what, const cs__tune_key_t *keys, size_t n_keys, void *cfg,
                   size_t cfg_size, const char *spec, cs_err_t *err)
{
    void *work = cs_mem_alloc(cfg_size);
    char *copy = cs_mem_strdup(spec); /* NULL: "" */
    char *save = NULL;
    int rc = -1;

    memcpy(work, cfg, cfg_size);
    for (char *tok = strtok_r(copy, ",; \t\n", &save); tok;
         tok = strtok_r(NULL, ",; \t\n", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            cs_err_set(err, CS_ERR_FATAL, "%s config: '%s' is not key=value", what, tok);
            goto out;
        }
        *eq = '\0';
        if (cs__tune_set(what, keys, n_keys, work, tok, eq + 1, err) < 0)
            goto out;
    }
    memcpy(cfg, work, cfg_size);
    rc = 0;
out:
    free(work);
    free(copy);
    return rc;
}

int cs__tune_check(const char *what, const cs__tune_key_t *keys, size_t n_keys, const void *cfg,
                   cs_err_t *err)
{
    for (size_t i = 0; i < n_keys; i++) {
        double v = cs__tune_get(cfg, &keys[i]);
        if (keys[i].type != CS__TUNE_BOOL && !(v >= keys[i].min && v <= keys[i].max))
            return cs_err_set_field(err, CS_ERR_FATAL, keys[i].name,
                                    "%s config: %s = %g is not in %g..%g", what, keys[i].name, v,
                                    keys[i].min, keys[i].max);
    }
    return 0;
}

uint32_t cs__tune_hash(const cs__tune_key_t *keys, size_t n_keys, const void *cfg)
{
    uint32_t h = 2166136261u;
    char num[96];

    for (size_t i = 0; i < n_keys; i++) {
        int n = snprintf(num, sizeof(num), "%s=%.17g;", keys[i].name, cs__tune_get(cfg, &keys[i]));
        for (int j = 0; j < n && j < (int)sizeof(num); j++) {
            h ^= (unsigned char)num[j];
            h *= 16777619u;
        }
    }
    return h;
}

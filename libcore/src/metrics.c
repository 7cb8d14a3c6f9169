/*
 * libcore/src/metrics.c
 *      The Prometheus registry behind cs/metrics.h.
 *
 * Families keep their series in a growable array searched linearly, with the last hit cached:
 * workers have a few dozen series per family at most (event types, assigned partitions), and
 * hot paths update once per batch. Label values are escaped when rendered, not when stored.
 */
#include "cs/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/mem.h"

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM };

#define MAX_LABELS 4

typedef struct series {
    char **lv;    /* nlabels owned strings */
    double value; /* counter, gauge */
    double sum;   /* histogram */
    unsigned long long count;
    unsigned long long *bucket_counts; /* nbuckets, non-cumulative */
} series_t;

struct cs_metric {
    enum kind kind;
    char *name;
    char *help;
    int nlabels;
    char *labels[MAX_LABELS];
    double *buckets;
    int nbuckets;
    series_t *series;
    int nseries, capseries;
    int last; /* cache: index of the last series hit, or -1 */
};

typedef struct collect {
    cs_metrics_collect_fn fn;
    void *ud;
} collect_t;

struct cs_metrics {
    cs_metric_t **fam;
    int nfam, capfam;
    collect_t *collect;
    int ncollect, capcollect;
};

cs_metrics_t *cs_metrics_new(void)
{
    cs_metrics_t *m = cs_mem_calloc(1, sizeof *m);
    return m;
}

static void series_fini(cs_metric_t *f, series_t *s)
{
    for (int i = 0; i < f->nlabels; i++)
        free(s->lv[i]);
    free(s->lv);
    free(s->bucket_counts);
}

void cs_metrics_destroy(cs_metrics_t *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nfam; i++) {
        cs_metric_t *f = m->fam[i];
        for (int j = 0; j < f->nseries; j++)
            series_fini(f, &f->series[j]);
        for (int j = 0; j < f->nlabels; j++)
            free(f->labels[j]);
        free(f->series);
        free(f->buckets);
        free(f->name);
        free(f->help);
        free(f);
    }
    free(m->fam);
    free(m->collect);
    free(m);
}

static cs_metric_t *family_new(cs_metrics_t *m, enum kind kind, const char *name, const char *help,
                               const char *labels)
{
    cs_metric_t *f = cs_mem_calloc(1, sizeof *f);
    f->kind = kind;
    f->name = cs_mem_strdup(name);
    f->help = cs_mem_strdup(help);
    f->last = -1;
    if (labels && *labels) {
        const char *p = labels;
        while (*p && f->nlabels < MAX_LABELS) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            while (n && p[0] == ' ')
                p++, n--;
            f->labels[f->nlabels] = cs_mem_strndup(p, n);
            f->nlabels++;
            if (!e)
                break;
            p = e + 1;
        }
    }
    if (m->nfam == m->capfam) {
        m->capfam = m->capfam ? 2 * m->capfam : 16;
        m->fam = cs_mem_realloc(m->fam, (size_t)m->capfam * sizeof *m->fam);
    }
    m->fam[m->nfam++] = f;
    return f;
}

cs_metric_t *cs_metrics_counter(cs_metrics_t *m, const char *name, const char *help,
                                const char *labels)
{
    return family_new(m, K_COUNTER, name, help, labels);
}

cs_metric_t *cs_metrics_gauge(cs_metrics_t *m, const char *name, const char *help,
                              const char *labels)
{
    return family_new(m, K_GAUGE, name, help, labels);
}

cs_metric_t *cs_metrics_histogram(cs_metrics_t *m, const char *name, const char *help,
                                  const char *labels, const double *buckets, int nbuckets)
{
    cs_metric_t *f = family_new(m, K_HISTOGRAM, name, help, labels);
    f->nbuckets = nbuckets;
    f->buckets = cs_mem_realloc(NULL, (size_t)(nbuckets ? nbuckets : 1) * sizeof *f->buckets);
    if (nbuckets)
        memcpy(f->buckets, buckets, (size_t)nbuckets * sizeof *buckets);
    return f;
}

void cs_metrics_on_collect(cs_metrics_t *m, cs_metrics_collect_fn fn, void *ud)
{
    if (m->ncollect == m->capcollect) {
        m->capcollect = m->capcollect ? 2 * m->capcollect : 4;
        m->collect = cs_mem_realloc(m->collect, (size_t)m->capcollect * sizeof *m->collect);
    }
    m->collect[m->ncollect++] = (collect_t){fn, ud};
}

static int series_match(const cs_metric_t *f, const series_t *s, const char *const *lv)
{
    for (int i = 0; i < f->nlabels; i++)
        if (strcmp(s->lv[i], lv[i] ? lv[i] : "") != 0)
            return 0;
    return 1;
}

static int series_find(cs_metric_t *f, const char *const *lv)
{
    if (f->nlabels == 0)
        return f->nseries ? 0 : -1;
    if (f->last >= 0 && f->last < f->nseries && series_match(f, &f->series[f->last], lv))
        return f->last;
    for (int i = 0; i < f->nseries; i++)
        if (series_match(f, &f->series[i], lv))
            return f->last = i;
    return -1;
}

static series_t *series_get(cs_metric_t *f, const char *const *lv)
{
    int i = series_find(f, lv);
    if (i >= 0)
        return &f->series[i];
    if (f->nseries == f->capseries) {
        f->capseries = f->capseries ? 2 * f->capseries : 8;
        f->series = cs_mem_realloc(f->series, (size_t)f->capseries * sizeof *f->series);
    }
    series_t *s = &f->series[f->nseries];
    memset(s, 0, sizeof *s);
    s->lv = cs_mem_realloc(NULL, (size_t)(f->nlabels ? f->nlabels : 1) * sizeof *s->lv);
    for (int j = 0; j < f->nlabels; j++)
        s->lv[j] = cs_mem_strdup(lv[j]);
    if (f->kind == K_HISTOGRAM) {
        s->bucket_counts = cs_mem_calloc((size_t)f->nbuckets + 1, sizeof *s->bucket_counts);
    }
    f->last = f->nseries;
    return &f->series[f->nseries++];
}

void cs_metric_inc(cs_metric_t *f, const char *const *lv, double by)
{
    series_get(f, lv)->value += by;
}

void cs_metric_set(cs_metric_t *f, const char *const *lv, double value)
{
    series_get(f, lv)->value = value;
}

void cs_metric_observe(cs_metric_t *f, const char *const *lv, double value)
{
    series_t *s = series_get(f, lv);
    int b = 0;
    while (b < f->nbuckets && value > f->buckets[b])
        b++;
    s->bucket_counts[b]++;
    s->count++;
    s->sum += value;
}

void cs_metric_remove(cs_metric_t *f, const char *const *lv)
{
    int i = series_find(f, lv);
    if (i < 0)
        return;
    series_fini(f, &f->series[i]);
    f->series[i] = f->series[f->nseries - 1];
    f->nseries--;
    f->last = -1;
}

double cs_metric_value(cs_metric_t *f, const char *const *lv)
{
    int i = series_find(f, lv);
    if (i < 0)
        return 0;
    return f->kind == K_HISTOGRAM ? (double)f->series[i].count : f->series[i].value;
}

static void put_escaped(cs_buf_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            cs_buf_puts(out, "\\\\");
        else if (*s == '"')
            cs_buf_puts(out, "\\\"");
        else if (*s == '\n')
            cs_buf_puts(out, "\\n");
        else
            cs_buf_putc(out, *s);
    }
}

static void put_labels(cs_buf_t *out, const cs_metric_t *f, const series_t *s, const char *le)
{
    if (f->nlabels == 0 && !le)
        return;
    cs_buf_putc(out, '{');
    for (int i = 0; i < f->nlabels; i++) {
        if (i)
            cs_buf_putc(out, ',');
        cs_buf_printf(out, "%s=\"", f->labels[i]);
        put_escaped(out, s->lv[i]);
        cs_buf_putc(out, '"');
    }
    if (le)
        cs_buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    cs_buf_putc(out, '}');
}

static void put_value(cs_buf_t *out, double v)
{
    if (isnan(v))
        cs_buf_puts(out, "NaN");
    else if (isinf(v))
        cs_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(long long)v && fabs(v) < 1e15)
        cs_buf_printf(out, "%lld", (long long)v);
    else {
        /* the shortest of %.15g and %.17g that reads back as the same double */
        char s[40];
        snprintf(s, sizeof s, "%.15g", v);
        if (strtod(s, NULL) != v)
            snprintf(s, sizeof s, "%.17g", v);
        cs_buf_puts(out, s);
    }
}

void cs_metrics_render(cs_metrics_t *m, cs_buf_t *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    for (int i = 0; i < m->ncollect; i++)
        m->collect[i].fn(m, m->collect[i].ud);
    for (int i = 0; i < m->nfam; i++) {
        cs_metric_t *f = m->fam[i];
        cs_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                      types[f->kind]);
        for (int j = 0; j < f->nseries; j++) {
            series_t *s = &f->series[j];
            if (f->kind != K_HISTOGRAM) {
                cs_buf_puts(out, f->name);
                put_labels(out, f, s, NULL);
                cs_buf_putc(out, ' ');
                put_value(out, s->value);
                cs_buf_putc(out, '\n');
                continue;
            }
            unsigned long long cum = 0;
            char le[64];
            for (int b = 0; b <= f->nbuckets; b++) {
                cum += s->bucket_counts[b];
                if (b < f->nbuckets)
                    snprintf(le, sizeof le, "%g", f->buckets[b]);
                else
                    snprintf(le, sizeof le, "+Inf");
                cs_buf_printf(out, "%s_bucket", f->name);
                put_labels(out, f, s, le);
                cs_buf_printf(out, " %llu\n", cum);
            }
            cs_buf_printf(out, "%s_sum", f->name);
            put_labels(out, f, s, NULL);
            cs_buf_putc(out, ' ');
            put_value(out, s->sum);
            cs_buf_printf(out, "\n%s_count", f->name);
            put_labels(out, f, s, NULL);
            cs_buf_printf(out, " %llu\n", s->count);
        }
    }
}

/*
 * libcore/include/cs/metrics.h
 *      A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 *      Prometheus text exposition format (version 0.0.4).
 *
 * A program registers metric families once at start (cs_metrics_counter, _gauge, _histogram),
 * then updates series by label values. A series is created on first use and lives until
 * cs_metric_remove() or cs_metrics_destroy(). Updates are cheap (a short linear search over the
 * family's series with a one-entry cache), so hot paths aggregate per batch and update once.
 *
 * cs_metrics_render() first calls the collect hooks (to refresh gauges computed at scrape time,
 * such as consumer lag), then writes every family. Not thread-safe: the worker's loop thread owns
 * the registry and also serves /metrics.
 */
#ifndef CS_METRICS_H
#define CS_METRICS_H

#include <stddef.h>

#include "cs/api.h"
#include "cs/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_metrics cs_metrics_t;
typedef struct cs_metric cs_metric_t;

/* Called by cs_metrics_render() before rendering, in registration order. */
typedef void (*cs_metrics_collect_fn)(cs_metrics_t *m, void *ud);

/* A new, empty registry. Never NULL. */
CS_API cs_metrics_t *cs_metrics_new(void);
/* Frees the registry and all its families. Accepts NULL. */
CS_API void cs_metrics_destroy(cs_metrics_t *m);

/*
 * Registers a family. name and help are copied; labels is a comma-separated list of label names
 * ("type", "topic,partition") or NULL for none. Returns the family, owned by the registry.
 * buckets (histograms only) are nbuckets finite upper bounds in increasing order; +Inf is implied.
 */
CS_API cs_metric_t *cs_metrics_counter(cs_metrics_t *m, const char *name, const char *help,
                                       const char *labels);
CS_API cs_metric_t *cs_metrics_gauge(cs_metrics_t *m, const char *name, const char *help,
                                     const char *labels);
CS_API cs_metric_t *cs_metrics_histogram(cs_metrics_t *m, const char *name, const char *help,
                                         const char *labels, const double *buckets, int nbuckets);

CS_API void cs_metrics_on_collect(cs_metrics_t *m, cs_metrics_collect_fn fn, void *ud);

/*
 * Series updates. lv holds one value per label name, in order (NULL when the family has no
 * labels); the strings are copied when the series is created.
 */
CS_API void cs_metric_inc(cs_metric_t *f, const char *const *lv, double by);
CS_API void cs_metric_set(cs_metric_t *f, const char *const *lv, double value);
CS_API void cs_metric_observe(cs_metric_t *f, const char *const *lv, double value);
/* Removes a series (for example the lag of a partition that was revoked). */
CS_API void cs_metric_remove(cs_metric_t *f, const char *const *lv);
/* The current value of a counter or gauge series, 0 when it does not exist (tests, bench). */
CS_API double cs_metric_value(cs_metric_t *f, const char *const *lv);

/* Appends the whole registry in Prometheus text format to out. */
CS_API void cs_metrics_render(cs_metrics_t *m, cs_buf_t *out);

#ifdef __cplusplus
}
#endif

#endif /* CS_METRICS_H */

/*
 * tools/lag_eval.h
 *      cs-lag's status evaluation: OK, WARN, STALL, STOP or ERR from a partition's samples.
 *
 * Kept apart from tools/lag.c (which talks to Kafka and PostgreSQL) so that the rules, stated
 * here once, are unit-tested on synthetic samples (tests/unit/test_lag_eval.c). Pure functions,
 * no allocation.
 *
 * The rules, for one partition (lag = high watermark - position):
 *   ERR    the partition could not be measured (measured is false or lag < 0);
 *   OK     lag is 0; or the stored offset moved within the window and lag is not growing;
 *   WARN   the stored offset moved within the window, there are at least CS_LAG_WARN_SAMPLES
 *          samples, lag never fell from one sample to the next and the last is above the first;
 *   STALL  lag > 0, the stored offset did not move within the window (equal in every sample
 *          and its last move older than the window, or unknown), and a member of the group
 *          holds the partition, or whether one does is unknown;
 *   STOP   the same while no member of the group holds the partition: the worker is gone.
 */
#ifndef CS_TOOLS_LAG_EVAL_H
#define CS_TOOLS_LAG_EVAL_H

#include <stdbool.h>
#include <stdint.h>

typedef enum cs_lag_status {
    CS_LAG_OK,
    CS_LAG_WARN,
    CS_LAG_STALL,
    CS_LAG_STOP,
    CS_LAG_ERR
} cs_lag_status_t; /* ordered: a group's status is its worst partition's */

/* WARN needs at least this many samples in the window. */
#define CS_LAG_WARN_SAMPLES 3

typedef struct cs_lag_sample {
    double t;       /* monotonic seconds */
    int64_t stored; /* stored offset (-1: no row) */
    int64_t lag;    /* messages */
} cs_lag_sample_t;

typedef struct cs_lag_input {
    const cs_lag_sample_t *samples; /* the window's samples, oldest first; the last is now */
    int nsamples;
    bool measured;       /* false: the partition could not be measured */
    double commit_age_s; /* seconds since the stored offset last moved; < 0: unknown (no row) */
    double window_s;
    int assigned; /* 1: a member holds the partition, 0: none does, -1: unknown */
} cs_lag_input_t;

/* The status of one partition by the rules above. */
cs_lag_status_t cs_lag_evaluate(const cs_lag_input_t *in);

/* "OK", "WARN", "STALL", "STOP" or "ERR". */
const char *cs_lag_status_name(cs_lag_status_t s);

#endif /* CS_TOOLS_LAG_EVAL_H */

/*
 * tools/lag_eval.c
 *      cs-lag's status evaluation (the rules are stated in lag_eval.h).
 */
#include "lag_eval.h"

#include <stddef.h>

const char *cs_lag_status_name(cs_lag_status_t s)
{
    static const char *const names[] = {"OK", "WARN", "STALL", "STOP", "ERR"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "ERR";
}

cs_lag_status_t cs_lag_evaluate(const cs_lag_input_t *in)
{
    if (!in->measured || in->nsamples < 1)
        return CS_LAG_ERR;
    const cs_lag_sample_t *s = in->samples;
    int n = in->nsamples;
    int64_t lag = s[n - 1].lag;
    if (lag < 0)
        return CS_LAG_ERR;
    if (lag == 0)
        return CS_LAG_OK;
    bool moved = in->commit_age_s >= 0 && in->commit_age_s < in->window_s;
    for (int i = 1; i < n && !moved; i++)
        moved = s[i].stored != s[0].stored;
    if (!moved)
        return in->assigned == 0 ? CS_LAG_STOP : CS_LAG_STALL;
    if (n >= CS_LAG_WARN_SAMPLES && s[n - 1].lag > s[0].lag) {
        bool growing = true;
        for (int i = 1; i < n && growing; i++)
            growing = s[i].lag >= s[i - 1].lag;
        if (growing)
            return CS_LAG_WARN;
    }
    return CS_LAG_OK;
}

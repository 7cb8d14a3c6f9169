/*
 * libcore/src/match.c
 *      Mentor rematching: pair scores, the exact assignment with its certificate, the verifier,
 *      and the triggers (see cs/match.h).
 *
 * The pair score, stated once (docs/matching.md repeats it). Each part is in [0, 1]:
 *   expertise    overlap / gaps: the learner's distinct gap skills the mentor's expertise covers
 *                (left out when the learner has no gaps)
 *   industry     1 when the mentor's industry is the learner's target (left out without target)
 *   timezone     max(0, (W - d) / W), d the circular distance of the UTC offsets in minutes and W
 *                tz_window_minutes: the overlap of two daily windows of W minutes (left out
 *                when the learner's timezone is unknown)
 *   availability min(1, (hours_week / max(1, max_mentees)) / need), need = max(min_need_hours,
 *                study_hours_week x mentor_hours_per_study_hour) (left out when study hours are
 *                unknown)
 *   capacity     capacity / max_mentees (0 when max_mentees is 0)
 *   rating       (r - 1) / 4, r = (k x prior + n x avg_rating) / (k + n), n = rating_count
 *                (0 when unrated), k = rating_prior_count
 *   outcomes     min(1, (successful_placements + 1) / (past_mentees + 2))
 *   similarity   max(0, cosine(goal_embedding, expertise_embedding)) (left out unless both exist)
 * score = 100 x sum(w_part x part) / sum(w_part over the parts present), weight =
 * llround(score x 10^4). A pair is an edge when the mentor has capacity, the learner does not
 * exclude the mentor, and weight >= llround(score_floor x 10^4).
 *
 * The assignment maximises the total weight: a min-cost flow from learners (supply 1) to
 * mentors (capacity c_m), each learner also free to stay unassigned at cost 0. It is solved by
 * successive shortest paths, one learner at a time, with Dijkstra on reduced costs and node
 * potentials h (h(T) stays 0): u_l = h(l) - h(T) and v_m = h(T) - h(m) are the dual solution
 * of the LP  max sum w x  s.t.  sum_m x_lm <= 1, sum_l x_lm <= c_m, x >= 0, whose constraint
 * matrix is totally unimodular, so the integral optimum found is optimal among all fractional
 * ones too. Before solving, each learner keeps its top_k edges (exact weights), visiting its
 * target industry's mentors first; two sound upper bounds (coarse_bound, quick_bound: parts
 * taken at their maximum, similarity 1) rule out most pairs without counting the overlap or
 * computing a cosine. After solving, pricing checks every pruned
 * edge with u_l + v_m < w_lm (only learners whose best pruned weight exceeds u_l need a scan),
 * adds each learner's top_k most violated ones and solves again, until none is violated: the
 * final duals are feasible for every pair, which cs_match_verify() re-checks from scratch. All
 * arithmetic on weights is exact (int64).
 *
 * Many learners sharing few mentors (alike preferences: issue 15's 1,433 requests against 200
 * mentors of 50 places took 4.6 s) made two things slow: Dijkstra settled whole plateaus of
 * zero reduced cost before the sink at the same distance (the sink now comes first among equal
 * distances), and pricing, which added every violated edge (every unassigned learner, u = 0,
 * violates with every mentor that has room), made the next round's graph dense (now top_k per
 * learner and round).
 */
#include "cs/match.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/mem.h"
#include "tune.h"

/* ---- config -------------------------------------------------------------------------------- */

#define MKEY(n, field, lo, hi, type)                                                               \
    {                                                                                              \
        n, offsetof(cs_match_config_t, field), lo, hi, type                                        \
    }

static const cs__tune_key_t match_keys[] = {
    MKEY("weight.expertise", w_expertise, 0, 100, CS__TUNE_DOUBLE),
    MKEY("weight.industry", w_industry, 0, 100, CS__TUNE_DOUBLE),
    MKEY("weight.timezone", w_timezone, 0, 100, CS__TUNE_DOUBLE),
    MKEY("weight.availability", w_availability, 0, 100, CS__TUNE_DOUBLE),
    MKEY("weight.capacity", w_capacity, 0, 100, CS__TUNE_DOUBLE),
    MKEY("weight.rating", w_rating, 0, 100, CS__TUNE_DOUBLE),
    MKEY("weight.outcomes", w_outcomes, 0, 100, CS__TUNE_DOUBLE),
    MKEY("weight.embedding", w_embedding, 0, 100, CS__TUNE_DOUBLE),
    MKEY("tz_window_minutes", tz_window_minutes, 1, 1440, CS__TUNE_DOUBLE),
    MKEY("mentor_hours_per_study_hour", mentor_hours_per_study_hour, 0, 10, CS__TUNE_DOUBLE),
    MKEY("min_need_hours", min_need_hours, 0.01, 100, CS__TUNE_DOUBLE),
    MKEY("rating_prior", rating_prior, 1, 5, CS__TUNE_DOUBLE),
    MKEY("rating_prior_count", rating_prior_count, 0, 1000, CS__TUNE_DOUBLE),
    MKEY("floor", score_floor, 0, 100, CS__TUNE_DOUBLE),
    MKEY("top_k", top_k, 1, 100000, CS__TUNE_INT),
    MKEY("max_rounds", max_rounds, 1, 1000, CS__TUNE_INT),
};
#define N_MATCH_KEYS (sizeof(match_keys) / sizeof(match_keys[0]))

void cs_match_config_defaults(cs_match_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->w_expertise = 0.30;
    cfg->w_industry = 0.15;
    cfg->w_timezone = 0.10;
    cfg->w_availability = 0.10;
    cfg->w_capacity = 0.05;
    cfg->w_rating = 0.10;
    cfg->w_outcomes = 0.10;
    cfg->w_embedding = 0.10;
    cfg->tz_window_minutes = 720;
    cfg->mentor_hours_per_study_hour = 0.1;
    cfg->min_need_hours = 0.25;
    cfg->rating_prior = 3.5;
    cfg->rating_prior_count = 5;
    cfg->score_floor = 30;
    cfg->top_k = 32;
    cfg->max_rounds = 16;
}

int cs_match_config_set(cs_match_config_t *cfg, const char *key, const char *value, cs_err_t *err)
{
    return cs__tune_set("match", match_keys, N_MATCH_KEYS, cfg, key, value, err);
}

int cs_match_config_parse(cs_match_config_t *cfg, const char *spec, cs_err_t *err)
{
    return cs__tune_parse("match", match_keys, N_MATCH_KEYS, cfg, sizeof(*cfg), spec, err);
}

/* ---- validation ---------------------------------------------------------------------------- */

static int bad_learner(cs_err_t *err, int l, const char *field, const char *what)
{
    return cs_err_set_field(err, CS_ERR_PERMANENT, field, "match learner %d: %s %s", l, field,
                            what);
}

static int bad_mentor(cs_err_t *err, int m, const char *field, const char *what)
{
    return cs_err_set_field(err, CS_ERR_PERMANENT, field, "match mentor %d: %s %s", m, field, what);
}

static int validate_learner(const cs_match_problem_t *p, int l, cs_err_t *err)
{
    const cs_match_learner_t *x = &p->learners[l];
    if (x->n_gap_skills < 0 || (x->n_gap_skills > 0 && !x->gap_skills))
        return bad_learner(err, l, "gap_skills", "is missing or has a negative count");
    for (int i = 0; i < x->n_gap_skills; i++)
        if (x->gap_skills[i] >= p->n_skills)
            return bad_learner(err, l, "gap_skills", "holds a skill >= n_skills");
    if (x->has_timezone && (x->utc_offset_minutes < -720 || x->utc_offset_minutes > 840))
        return bad_learner(err, l, "utc_offset_minutes", "is not in -720..840");
    if (!isnan(x->study_hours_week) && !(x->study_hours_week >= 0 && x->study_hours_week <= 168))
        return bad_learner(err, l, "study_hours_week", "is not in 0..168");
    if (x->embedding && p->embedding_dim <= 0)
        return bad_learner(err, l, "embedding", "is set but embedding_dim is 0");
    if (x->n_excluded < 0 || (x->n_excluded > 0 && !x->excluded))
        return bad_learner(err, l, "excluded", "is missing or has a negative count");
    for (int i = 0; i < x->n_excluded; i++)
        if (x->excluded[i] < 0 || x->excluded[i] >= p->n_mentors)
            return bad_learner(err, l, "excluded", "holds a mentor index out of range");
    return 0;
}

static int validate_mentor(const cs_match_problem_t *p, int m, cs_err_t *err)
{
    const cs_match_mentor_t *x = &p->mentors[m];
    if (x->n_expertise < 0 || (x->n_expertise > 0 && !x->expertise))
        return bad_mentor(err, m, "expertise", "is missing or has a negative count");
    for (int i = 0; i < x->n_expertise; i++)
        if (x->expertise[i] >= p->n_skills)
            return bad_mentor(err, m, "expertise", "holds a skill >= n_skills");
    if (x->utc_offset_minutes < -720 || x->utc_offset_minutes > 840)
        return bad_mentor(err, m, "utc_offset_minutes", "is not in -720..840");
    if (!(x->hours_week >= 0 && x->hours_week <= 168))
        return bad_mentor(err, m, "hours_week", "is not in 0..168");
    if (x->max_mentees < 0 || x->capacity < 0 || x->capacity > x->max_mentees)
        return bad_mentor(err, m, "capacity", "is not in 0..max_mentees");
    if (!isnan(x->avg_rating) && !(x->avg_rating >= 1 && x->avg_rating <= 5))
        return bad_mentor(err, m, "avg_rating", "is not in 1..5");
    if (x->rating_count < 0 || x->past_mentees < 0 || x->successful_placements < 0)
        return bad_mentor(err, m, "rating_count", "or a placement count is negative");
    if (x->embedding && p->embedding_dim <= 0)
        return bad_mentor(err, m, "embedding", "is set but embedding_dim is 0");
    return 0;
}

static int validate(const cs_match_config_t *cfg, const cs_match_problem_t *p, cs_err_t *err)
{
    double wsum = cfg->w_expertise + cfg->w_industry + cfg->w_timezone + cfg->w_availability +
                  cfg->w_capacity + cfg->w_rating + cfg->w_outcomes + cfg->w_embedding;
    if (cs__tune_check("match", match_keys, N_MATCH_KEYS, cfg, err) < 0)
        return -1;
    if (!(wsum > 0))
        return cs_err_set(err, CS_ERR_FATAL, "match config: the weights are all 0");
    if (p->n_learners < 0 || p->n_mentors < 0 || (p->n_learners > 0 && !p->learners) ||
        (p->n_mentors > 0 && !p->mentors) || p->embedding_dim < 0)
        return cs_err_set(err, CS_ERR_PERMANENT, "match problem: bad sizes or missing arrays");
    for (int l = 0; l < p->n_learners; l++)
        if (validate_learner(p, l, err) < 0)
            return -1;
    for (int m = 0; m < p->n_mentors; m++)
        if (validate_mentor(p, m, err) < 0)
            return -1;
    return 0;
}

/* ---- the pair score ------------------------------------------------------------------------ */

/* What a pair's score needs of its learner, computed once per learner: the hot loop multiplies
 * by precomputed inverses instead of dividing. */
typedef struct lfacts {
    double den;       /* sum of the weights of the parts present (similarity excluded) */
    double need;      /* mentoring hours per week the learner needs */
    double inv_gaps;  /* 1 / distinct gap skills (0 when none) */
    double inv_need;  /* 1 / need */
    double inv_tz;    /* 1 / tz_window_minutes */
    double scale;     /* 100 x CS_MATCH_SCALE / den: numerator to weight without similarity */
    double scale_sim; /* the same with the similarity weight in den */
    double inv_norm;  /* 1 / |embedding|, 0 when none or zero */
    double lconst;    /* w_timezone and w_availability when present: their parts' bound */
    int n_gaps;       /* distinct gap skills */
    int32_t industry; /* -1: part left out */
    int tz;
    bool has_tz, has_avail;
} lfacts_t;

/* ... and of its mentor. */
typedef struct mfacts {
    double fixed; /* w_capacity x capacity + w_rating x rating + w_outcomes x outcomes */
    double hours_per_mentee;
    double inv_norm;
    int32_t industry;
    int tz;
    double capacity, rating, outcomes;
} mfacts_t;

static double inv_norm(const float *v, int dim)
{
    double s = 0;
    if (!v)
        return 0;
    for (int i = 0; i < dim; i++)
        s += (double)v[i] * (double)v[i];
    return s > 0 ? 1.0 / sqrt(s) : 0;
}

/* The dot product in eight float lanes (vectorisable), summed in double in a fixed order. */
static double dot(const float *a, const float *b, int n)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    double s = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += a[i + k] * b[i + k];
    for (int k = 0; k < 8; k++)
        s += acc[k];
    for (; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static void learner_facts(const cs_match_config_t *c, const cs_match_problem_t *p, int l,
                          int n_gaps, lfacts_t *f)
{
    const cs_match_learner_t *x = &p->learners[l];
    f->n_gaps = n_gaps;
    f->inv_gaps = n_gaps > 0 ? 1.0 / n_gaps : 0;
    f->industry = x->industry >= 0 ? x->industry : -1;
    f->has_tz = x->has_timezone;
    f->tz = x->utc_offset_minutes;
    f->inv_tz = 1.0 / c->tz_window_minutes;
    f->has_avail = !isnan(x->study_hours_week);
    f->need = f->has_avail ? x->study_hours_week * c->mentor_hours_per_study_hour : 0;
    if (f->need < c->min_need_hours)
        f->need = c->min_need_hours;
    f->inv_need = 1.0 / f->need;
    f->den = (n_gaps > 0 ? c->w_expertise : 0) + (x->industry >= 0 ? c->w_industry : 0) +
             (x->has_timezone ? c->w_timezone : 0) + (f->has_avail ? c->w_availability : 0) +
             c->w_capacity + c->w_rating + c->w_outcomes;
    f->scale = f->den > 0 ? 100.0 * CS_MATCH_SCALE / f->den : 0;
    f->scale_sim =
        f->den + c->w_embedding > 0 ? 100.0 * CS_MATCH_SCALE / (f->den + c->w_embedding) : 0;
    f->inv_norm = inv_norm(x->embedding, p->embedding_dim);
    f->lconst = (f->has_tz ? c->w_timezone : 0) + (f->has_avail ? c->w_availability : 0);
}

static void mentor_facts(const cs_match_config_t *c, const cs_match_problem_t *p, int m,
                         mfacts_t *f)
{
    const cs_match_mentor_t *x = &p->mentors[m];
    double n = isnan(x->avg_rating) ? 0 : x->rating_count;
    double k = c->rating_prior_count;
    double r = k + n > 0 ? (k * c->rating_prior + (n > 0 ? n * x->avg_rating : 0)) / (k + n)
                         : c->rating_prior;
    f->industry = x->industry;
    f->tz = x->utc_offset_minutes;
    f->capacity = x->max_mentees > 0 ? (double)x->capacity / x->max_mentees : 0;
    f->rating = (r - 1) / 4;
    f->outcomes = ((double)x->successful_placements + 1) / ((double)x->past_mentees + 2);
    if (f->outcomes > 1)
        f->outcomes = 1;
    f->fixed = c->w_capacity * f->capacity + c->w_rating * f->rating + c->w_outcomes * f->outcomes;
    f->hours_per_mentee = x->hours_week / (x->max_mentees > 1 ? x->max_mentees : 1);
    f->inv_norm = inv_norm(x->embedding, p->embedding_dim);
}

typedef struct parts {
    double industry, timezone, availability;
} parts_t;

/*
 * The numerator without similarity and expertise, and the parts when pt is not NULL. With
 * pair_num() the one place the per-pair arithmetic lives: the solver, the verifier and
 * cs_match_pair_score all call them, so they agree to the bit.
 */
static inline double pair_rest(const cs_match_config_t *c, const lfacts_t *lf, const mfacts_t *mf,
                               parts_t *pt)
{
    double num = mf->fixed, i = NAN, z = NAN, a = NAN;
    if (lf->industry >= 0) {
        i = mf->industry == lf->industry ? 1 : 0;
        num += c->w_industry * i;
    }
    if (lf->has_tz) {
        int d = abs(lf->tz - mf->tz); /* 0..1560 */
        if (d >= 1440)
            d -= 1440;
        if (d > 720)
            d = 1440 - d;
        z = (c->tz_window_minutes - d) * lf->inv_tz;
        if (z < 0)
            z = 0;
        num += c->w_timezone * z;
    }
    if (lf->has_avail) {
        a = mf->hours_per_mentee * lf->inv_need;
        if (a > 1)
            a = 1;
        num += c->w_availability * a;
    }
    if (pt) {
        pt->industry = i;
        pt->timezone = z;
        pt->availability = a;
    }
    return num;
}

/* rest + the expertise part for this overlap (0 when the learner has no gaps). Increasing in
 * overlap, so the overlap's upper bound gives the numerator's. */
static inline double pair_num(const cs_match_config_t *c, const lfacts_t *lf, double rest,
                              int overlap)
{
    return rest + c->w_expertise * (overlap * lf->inv_gaps);
}

/* num >= 0, so truncating num x scale + 0.5 rounds half up. */
static inline int64_t to_weight(double num, double scale)
{
    return (int64_t)(num * scale + 0.5);
}

static bool has_sim(const lfacts_t *lf, const mfacts_t *mf)
{
    return lf->inv_norm > 0 && mf->inv_norm > 0;
}

static double similarity(const cs_match_problem_t *p, const cs_match_learner_t *lx,
                         const lfacts_t *lf, const cs_match_mentor_t *mx, const mfacts_t *mf)
{
    double s = dot(lx->embedding, mx->embedding, p->embedding_dim) * lf->inv_norm * mf->inv_norm;
    return s > 0 ? (s < 1 ? s : 1) : 0;
}

/* ---- prepared problem ---------------------------------------------------------------------- */

/* The per-entity facts and the learners' gap bitsets, built once per solve or verify. */
typedef struct prep {
    const cs_match_config_t *cfg;
    const cs_match_problem_t *p;
    int words;      /* 64-bit words per learner bitset */
    uint64_t *bits; /* n_learners x words */
    lfacts_t *lf;
    mfacts_t *mf;
    uint32_t *mskills; /* mentors' distinct expertise, concatenated */
    int *moff;         /* n_mentors + 1 offsets into mskills */
    int64_t floor_w;
    int32_t *stamp;  /* per mentor: learner + 1 when excluded by that learner */
    struct mhot *mh; /* per mentor: what coarse_bound reads, packed */
} prep_t;

/* The little of a mentor the coarse bound reads, 24 bytes, so all 10,000 stay in cache. */
typedef struct mhot {
    double fixed;
    int32_t industry;
    int32_t most; /* distinct expertise skills */
    int16_t emb;  /* has an embedding */
    int16_t tz;   /* utc_offset_minutes */
} mhot_t;

static void prep_free(prep_t *pp)
{
    free(pp->bits);
    free(pp->lf);
    free(pp->mf);
    free(pp->mskills);
    free(pp->moff);
    free(pp->stamp);
    free(pp->mh);
}

static void prep_build(prep_t *pp, const cs_match_config_t *cfg, const cs_match_problem_t *p)
{
    const int L = p->n_learners, M = p->n_mentors;
    size_t total = 0;
    uint64_t *seen = NULL;

    memset(pp, 0, sizeof(*pp));
    pp->cfg = cfg;
    pp->p = p;
    pp->words = (int)((p->n_skills + 63) / 64);
    if (pp->words < 1)
        pp->words = 1;
    pp->floor_w = llround(cfg->score_floor * CS_MATCH_SCALE);
    for (int m = 0; m < M; m++)
        total += (size_t)p->mentors[m].n_expertise;
    pp->bits = cs_mem_calloc((size_t)L * (size_t)pp->words, sizeof(uint64_t));
    pp->lf = cs_mem_calloc((size_t)L, sizeof(lfacts_t));
    pp->mf = cs_mem_calloc((size_t)M, sizeof(mfacts_t));
    pp->mskills = cs_mem_calloc(total, sizeof(uint32_t));
    pp->moff = cs_mem_calloc((size_t)M + 1, sizeof(int));
    pp->stamp = cs_mem_calloc((size_t)M, sizeof(int32_t));
    pp->mh = cs_mem_calloc((size_t)M, sizeof(mhot_t));
    seen = cs_mem_calloc((size_t)pp->words, sizeof(uint64_t));
    for (int l = 0; l < L; l++) {
        uint64_t *b = pp->bits + (size_t)l * pp->words;
        int n = 0;
        for (int i = 0; i < p->learners[l].n_gap_skills; i++) {
            uint32_t s = p->learners[l].gap_skills[i];
            if (!(b[s >> 6] & (1ull << (s & 63)))) {
                b[s >> 6] |= 1ull << (s & 63);
                n++;
            }
        }
        learner_facts(cfg, p, l, n, &pp->lf[l]);
    }
    total = 0;
    for (int m = 0; m < M; m++) {
        const cs_match_mentor_t *x = &p->mentors[m];
        pp->moff[m] = (int)total;
        for (int i = 0; i < x->n_expertise; i++) {
            uint32_t s = x->expertise[i];
            if (!(seen[s >> 6] & (1ull << (s & 63)))) {
                seen[s >> 6] |= 1ull << (s & 63);
                pp->mskills[total++] = s;
            }
        }
        for (int i = pp->moff[m]; i < (int)total; i++)
            seen[pp->mskills[i] >> 6] = 0;
        mentor_facts(cfg, p, m, &pp->mf[m]);
        pp->mh[m].fixed = pp->mf[m].fixed;
        pp->mh[m].industry = pp->mf[m].industry;
        pp->mh[m].most = (int32_t)total - pp->moff[m];
        pp->mh[m].emb = pp->mf[m].inv_norm > 0;
        pp->mh[m].tz = (int16_t)pp->mf[m].tz;
    }
    pp->moff[M] = (int)total;
    free(seen);
}

static int overlap_of(const prep_t *pp, int l, int m)
{
    const uint64_t *b = pp->bits + (size_t)l * pp->words;
    int n = 0;
    if (pp->lf[l].n_gaps == 0)
        return 0;
    for (int i = pp->moff[m]; i < pp->moff[m + 1]; i++) {
        uint32_t s = pp->mskills[i];
        n += (int)((b[s >> 6] >> (s & 63)) & 1);
    }
    return n;
}

/* Marks the mentors learner l excludes (stamp = l + 1). */
static void mark_excluded(prep_t *pp, int l)
{
    const cs_match_learner_t *x = &pp->p->learners[l];
    for (int i = 0; i < x->n_excluded; i++)
        pp->stamp[x->excluded[i]] = l + 1;
}

/*
 * The pair's exact weight (ub == NULL) or its upper bound when similarity would be needed: with
 * ub given, *ub gets the bound and the function returns -2 without the cosine unless the pair
 * has no similarity part (then both are exact). CS_MATCH_NO_EDGE is never returned here; the
 * caller applies capacity, exclusion and floor.
 */
static int64_t weight_of_pair(const prep_t *pp, int l, int m, int64_t *ub, int64_t *n_dots)
{
    const cs_match_config_t *c = pp->cfg;
    const cs_match_learner_t *lx = &pp->p->learners[l];
    const cs_match_mentor_t *mx = &pp->p->mentors[m];
    const lfacts_t *lf = &pp->lf[l];
    const mfacts_t *mf = &pp->mf[m];
    double num = pair_num(c, lf, pair_rest(c, lf, mf, NULL), overlap_of(pp, l, m));

    if (!has_sim(lf, mf)) {
        int64_t w = to_weight(num, lf->scale);
        if (ub)
            *ub = w;
        return w;
    }
    if (ub) {
        *ub = to_weight(num + c->w_embedding * 1.0, lf->scale_sim);
        return -2;
    }
    if (n_dots)
        (*n_dots)++;
    return to_weight(num + c->w_embedding * similarity(pp->p, lx, lf, mx, mf), lf->scale_sim);
}

/*
 * A cheap upper bound on the pair's weight: every part exact except expertise (as if the
 * mentor's distinct skills all covered gaps, up to the gaps) and similarity (as if 1). Skips
 * the overlap count and the cosine for the many pairs it already rules out.
 */
static int64_t quick_bound(const prep_t *pp, int l, int m)
{
    const cs_match_config_t *c = pp->cfg;
    const lfacts_t *lf = &pp->lf[l];
    const mfacts_t *mf = &pp->mf[m];
    int most = pp->moff[m + 1] - pp->moff[m];
    double num = pair_num(c, lf, pair_rest(c, lf, mf, NULL), most < lf->n_gaps ? most : lf->n_gaps);
    if (!has_sim(lf, mf))
        return to_weight(num, lf->scale);
    return to_weight(num + c->w_embedding * 1.0, lf->scale_sim);
}

/*
 * A coarser and cheaper bound still: availability as if 1 and expertise as in quick_bound, read
 * from packed data.
 * Its sum runs in another order than the exact score's, so a relative 1e-9 and one unit of
 * slack keep it above the exact weight whatever the rounding.
 */
static int64_t coarse_bound(const prep_t *pp, int l, int m)
{
    const cs_match_config_t *c = pp->cfg;
    const lfacts_t *lf = &pp->lf[l];
    const mhot_t *h = &pp->mh[m];
    int most = h->most < lf->n_gaps ? h->most : lf->n_gaps;
    double num = h->fixed + lf->lconst + c->w_expertise * (most * lf->inv_gaps);
    double scale = lf->scale;

    if (lf->has_tz) {
        int d = abs(lf->tz - h->tz);
        if (d >= 1440)
            d -= 1440;
        if (d > 720)
            d = 1440 - d;
        double z = (c->tz_window_minutes - d) * lf->inv_tz;
        num -= c->w_timezone * (1 - (z > 0 ? z : 0)); /* lconst counted the part as 1 */
    }

    if (lf->industry >= 0 && h->industry == lf->industry)
        num += c->w_industry;
    if (h->emb && lf->inv_norm > 0) {
        num += c->w_embedding;
        scale = lf->scale_sim;
    }
    return to_weight(num * (1 + 1e-9), scale) + 1;
}

int cs_match_pair_score(const cs_match_config_t *cfg, const cs_match_problem_t *p, int learner,
                        int mentor, cs_match_pair_detail_t *d, cs_err_t *err)
{
    cs_match_problem_t one;
    cs_match_learner_t lcopy;
    prep_t pp;
    parts_t pt;
    double num, scale;

    if (learner < 0 || learner >= p->n_learners || mentor < 0 || mentor >= p->n_mentors)
        return cs_err_set(err, CS_ERR_PERMANENT, "match pair (%d, %d) is out of range", learner,
                          mentor);
    if (cs__tune_check("match", match_keys, N_MATCH_KEYS, cfg, err) < 0 ||
        validate_learner(p, learner, err) < 0 || validate_mentor(p, mentor, err) < 0)
        return -1;
    /* A problem of this learner and this mentor alone: the same prepared facts as a solve
     * (its exclusion indexes refer to the full problem, so they are applied here instead). */
    lcopy = p->learners[learner];
    lcopy.n_excluded = 0;
    one = *p;
    one.learners = &lcopy;
    one.n_learners = 1;
    one.mentors = &p->mentors[mentor];
    one.n_mentors = 1;
    prep_build(&pp, cfg, &one);
    memset(d, 0, sizeof(*d));
    d->overlap = overlap_of(&pp, 0, 0);
    num = pair_num(cfg, &pp.lf[0], pair_rest(cfg, &pp.lf[0], &pp.mf[0], &pt), d->overlap);
    scale = pp.lf[0].scale;
    d->similarity = NAN;
    if (has_sim(&pp.lf[0], &pp.mf[0])) {
        d->similarity = similarity(p, &lcopy, &pp.lf[0], one.mentors, &pp.mf[0]);
        num += cfg->w_embedding * d->similarity;
        scale = pp.lf[0].scale_sim;
    }
    d->weight = to_weight(num, scale);
    d->score = (double)d->weight / CS_MATCH_SCALE;
    d->expertise = pp.lf[0].n_gaps > 0 ? d->overlap * pp.lf[0].inv_gaps : NAN;
    d->industry = pt.industry;
    d->timezone = pt.timezone;
    d->availability = pt.availability;
    d->capacity = pp.mf[0].capacity;
    d->rating = pp.mf[0].rating;
    d->outcomes = pp.mf[0].outcomes;
    d->allowed = p->mentors[mentor].capacity > 0 && d->weight >= pp.floor_w;
    for (int i = 0; i < p->learners[learner].n_excluded; i++)
        if (p->learners[learner].excluded[i] == mentor)
            d->allowed = false;
    prep_free(&pp);
    return 0;
}

int64_t cs_match_pair_weight(const cs_match_config_t *cfg, const cs_match_problem_t *p, int learner,
                             int mentor)
{
    cs_match_pair_detail_t d;
    cs_err_t err;
    if (cs_match_pair_score(cfg, p, learner, mentor, &d, &err) < 0 || !d.allowed)
        return CS_MATCH_NO_EDGE;
    return d.weight;
}

static void json_num(cs_buf_t *out, const char *key, double v, bool comma)
{
    if (isnan(v))
        cs_buf_printf(out, "%s\"%s\":null", comma ? "," : "", key);
    else
        cs_buf_printf(out, "%s\"%s\":%.4f", comma ? "," : "", key, v);
}

void cs_match_pair_detail_json(const cs_match_pair_detail_t *d, cs_buf_t *out)
{
    cs_buf_puts(out, "{");
    json_num(out, "score", d->score, false);
    cs_buf_printf(out, ",\"overlap\":%d", d->overlap);
    json_num(out, "expertise", d->expertise, true);
    json_num(out, "industry", d->industry, true);
    json_num(out, "timezone", d->timezone, true);
    json_num(out, "availability", d->availability, true);
    json_num(out, "capacity", d->capacity, true);
    json_num(out, "rating", d->rating, true);
    json_num(out, "outcomes", d->outcomes, true);
    json_num(out, "similarity", d->similarity, true);
    cs_buf_puts(out, "}");
}

/* ---- candidates ---------------------------------------------------------------------------- */

typedef struct cand {
    int64_t w;
    int32_t m;
} cand_t;

typedef struct cands {
    cand_t *c;
    int n, cap;
} cands_t;

static void cands_push(cands_t *cs, int32_t m, int64_t w)
{
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 8;
        cs->c = cs_mem_reallocarray(cs->c, (size_t)cs->cap, sizeof(cand_t));
    }
    cs->c[cs->n].w = w;
    cs->c[cs->n].m = m;
    cs->n++;
}

/* Best first: weight descending, then mentor ascending. */
static int cand_cmp(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return (x->m > y->m) - (x->m < y->m);
}

/* The "worst" of a top-k min-heap: lowest weight, then highest mentor. */
static bool worse(const cand_t *a, const cand_t *b)
{
    return a->w < b->w || (a->w == b->w && a->m > b->m);
}

static void heap_sift_down(cand_t *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, s = i;
        if (l < n && worse(&h[l], &h[s]))
            s = l;
        if (r < n && worse(&h[r], &h[s]))
            s = r;
        if (s == i)
            return;
        cand_t t = h[i];
        h[i] = h[s];
        h[s] = t;
        i = s;
    }
}

static void heap_sift_up(cand_t *h, int i)
{
    while (i > 0) {
        int par = (i - 1) / 2;
        if (!worse(&h[i], &h[par]))
            return;
        cand_t t = h[i];
        h[i] = h[par];
        h[par] = t;
        i = par;
    }
}

/* Mentors ordered by industry, then index, for visiting a learner's industry first. */
typedef struct ind_m {
    int32_t industry, m;
} ind_m_t;

static int by_industry(const void *a, const void *b)
{
    const ind_m_t *x = a, *y = b;
    if (x->industry != y->industry)
        return (x->industry > y->industry) - (x->industry < y->industry);
    return (x->m > y->m) - (x->m < y->m);
}

/* Offers mentor m to learner l's top-k heap (of n entries); returns the new n. */
static int offer(prep_t *pp, int l, int m, cand_t *heap, int n, int64_t *maxout,
                 cs_match_stats_t *st)
{
    const int K = pp->cfg->top_k;
    int64_t ub, w;
    cand_t c;

    /* A pair can enter a full heap only when it beats the worst entry: a higher weight, or the
     * same weight and a lower mentor index. */
#define CANNOT_ENTER(bound)                                                                        \
    (n == K && ((bound) < heap[0].w || ((bound) == heap[0].w && m > heap[0].m)))
    ub = coarse_bound(pp, l, m);
    if (ub < pp->floor_w)
        return n;
    if (CANNOT_ENTER(ub)) {
        if (ub > maxout[l])
            maxout[l] = ub;
        st->pairs_bounded++;
        return n;
    }
    ub = quick_bound(pp, l, m);
    if (ub < pp->floor_w)
        return n;
    if (CANNOT_ENTER(ub)) {
        if (ub > maxout[l])
            maxout[l] = ub;
        st->pairs_bounded++;
        return n;
    }
    w = weight_of_pair(pp, l, m, &ub, NULL);
    if (ub < pp->floor_w)
        return n;
    if (CANNOT_ENTER(ub)) {
        if (ub > maxout[l])
            maxout[l] = ub;
        st->pairs_bounded++;
        return n;
    }
#undef CANNOT_ENTER
    if (w == -2)
        w = weight_of_pair(pp, l, m, NULL, &st->pairs_scored);
    if (w < pp->floor_w)
        return n;
    c.w = w;
    c.m = m;
    if (n < K) {
        heap[n] = c;
        heap_sift_up(heap, n);
        return n + 1;
    }
    if (worse(&heap[0], &c)) {
        if (heap[0].w > maxout[l])
            maxout[l] = heap[0].w;
        heap[0] = c;
        heap_sift_down(heap, n, 0);
    } else if (w > maxout[l]) {
        maxout[l] = w;
    }
    return n;
}

/*
 * Each learner's top_k edges by exact weight into cs[l], and into maxout[l] an upper bound on
 * the weight of every edge left out (-1 when none is). The learner's industry is visited first,
 * so the heap fills with good pairs early and the bounds rule out most of the rest.
 */
static void build_candidates(prep_t *pp, cands_t *cs, int64_t *maxout, cs_match_stats_t *st)
{
    const cs_match_problem_t *p = pp->p;
    const int K = pp->cfg->top_k, M = p->n_mentors;
    cand_t *heap = cs_mem_calloc((size_t)K, sizeof(cand_t));
    ind_m_t *order = cs_mem_calloc((size_t)M, sizeof(ind_m_t));
    int n_order = 0;

    for (int m = 0; m < M; m++)
        if (p->mentors[m].capacity > 0)
            order[n_order++] = (ind_m_t){p->mentors[m].industry, m};
    qsort(order, (size_t)n_order, sizeof(ind_m_t), by_industry);
    for (int l = 0; l < p->n_learners; l++) {
        int n = 0, lo = 0, hi = 0;
        int32_t ind = p->learners[l].industry;
        maxout[l] = -1;
        mark_excluded(pp, l);
        if (ind >= 0) {
            /* [lo, hi): the learner's industry in order */
            int a = 0, b = n_order;
            while (a < b) {
                int mid = (a + b) / 2;
                if (order[mid].industry < ind)
                    a = mid + 1;
                else
                    b = mid;
            }
            lo = hi = a;
            while (hi < n_order && order[hi].industry == ind)
                hi++;
        }
        for (int i = lo; i < hi; i++)
            if (pp->stamp[order[i].m] != l + 1)
                n = offer(pp, l, order[i].m, heap, n, maxout, st);
        for (int i = 0; i < n_order; i++)
            if ((i < lo || i >= hi) && pp->stamp[order[i].m] != l + 1)
                n = offer(pp, l, order[i].m, heap, n, maxout, st);
        cs[l].n = 0;
        for (int i = 0; i < n; i++)
            cands_push(&cs[l], heap[i].m, heap[i].w);
        if (cs[l].n > 1)
            qsort(cs[l].c, (size_t)cs[l].n, sizeof(cand_t), cand_cmp);
    }
    free(heap);
    free(order);
}

/* ---- successive shortest paths ------------------------------------------------------------- */

typedef struct hnode {
    int64_t d;
    int32_t x;
} hnode_t;

typedef struct ssp {
    int L, M, T;
    int64_t *h, *dist, *predw;
    int32_t *pred, *seen, *done, *settled;
    int n_settled;
    int32_t *mentor_of, *load, *head, *nxt, *prv;
    int64_t *wof;
    hnode_t *heap;
    int hn, hcap;
} ssp_t;

/* Distance, then node index, the sink first: it is stored as -1 (hpush, hpop). Among nodes at
 * the sink's distance the search stops at once instead of settling every node of a plateau of
 * zero reduced costs first (with alike preferences that plateau is most of the graph). */
static bool hless(const hnode_t *a, const hnode_t *b)
{
    return a->d < b->d || (a->d == b->d && a->x < b->x);
}

static void hpush(ssp_t *s, int64_t d, int32_t x)
{
    if (s->hn == s->hcap) {
        s->hcap = s->hcap ? s->hcap * 2 : 1024;
        s->heap = cs_mem_reallocarray(s->heap, (size_t)s->hcap, sizeof(hnode_t));
    }
    int i = s->hn++;
    s->heap[i] = (hnode_t){d, x == s->T ? -1 : x};
    while (i > 0) {
        int par = (i - 1) / 2;
        if (!hless(&s->heap[i], &s->heap[par]))
            break;
        hnode_t t = s->heap[i];
        s->heap[i] = s->heap[par];
        s->heap[par] = t;
        i = par;
    }
}

static hnode_t hpop(ssp_t *s)
{
    hnode_t top = s->heap[0];
    if (top.x < 0)
        top.x = s->T;
    s->heap[0] = s->heap[--s->hn];
    int i = 0, n = s->hn;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && hless(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < n && hless(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        hnode_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

static void ssp_free(ssp_t *s)
{
    free(s->h);
    free(s->dist);
    free(s->predw);
    free(s->pred);
    free(s->seen);
    free(s->done);
    free(s->settled);
    free(s->mentor_of);
    free(s->load);
    free(s->head);
    free(s->nxt);
    free(s->prv);
    free(s->wof);
    free(s->heap);
}

static void ssp_alloc(ssp_t *s, int L, int M)
{
    size_t n = (size_t)L + (size_t)M + 1;
    memset(s, 0, sizeof(*s));
    s->L = L;
    s->M = M;
    s->T = L + M;
    s->h = cs_mem_calloc(n, sizeof(int64_t));
    s->dist = cs_mem_calloc(n, sizeof(int64_t));
    s->predw = cs_mem_calloc(n, sizeof(int64_t));
    s->pred = cs_mem_calloc(n, sizeof(int32_t));
    s->seen = cs_mem_calloc(n, sizeof(int32_t));
    s->done = cs_mem_calloc(n, sizeof(int32_t));
    s->settled = cs_mem_calloc(n, sizeof(int32_t));
    s->mentor_of = cs_mem_calloc((size_t)L + 1, sizeof(int32_t));
    s->load = cs_mem_calloc((size_t)M + 1, sizeof(int32_t));
    s->head = cs_mem_calloc((size_t)M + 1, sizeof(int32_t));
    s->nxt = cs_mem_calloc((size_t)L + 1, sizeof(int32_t));
    s->prv = cs_mem_calloc((size_t)L + 1, sizeof(int32_t));
    s->wof = cs_mem_calloc((size_t)L + 1, sizeof(int64_t));
}

static void member_add(ssp_t *s, int m, int l)
{
    s->prv[l] = -1;
    s->nxt[l] = s->head[m];
    if (s->head[m] >= 0)
        s->prv[s->head[m]] = l;
    s->head[m] = l;
    s->load[m]++;
    s->mentor_of[l] = m;
}

static void member_remove(ssp_t *s, int m, int l)
{
    if (s->prv[l] >= 0)
        s->nxt[s->prv[l]] = s->nxt[l];
    else
        s->head[m] = s->nxt[l];
    if (s->nxt[l] >= 0)
        s->prv[s->nxt[l]] = s->prv[l];
    s->load[m]--;
    s->mentor_of[l] = -1;
}

/* Empties the assignment; potentials start at h(l) = max(0, best edge), so that every reduced
 * cost starts non-negative. */
static void ssp_reset(ssp_t *s, const cands_t *cs)
{
    for (int i = 0; i <= s->T; i++) {
        s->h[i] = 0;
        s->seen[i] = s->done[i] = 0;
    }
    for (int l = 0; l < s->L; l++) {
        s->mentor_of[l] = -1;
        s->wof[l] = 0;
        if (cs[l].n > 0 && cs[l].c[0].w > 0)
            s->h[l] = cs[l].c[0].w;
    }
    for (int m = 0; m < s->M; m++) {
        s->load[m] = 0;
        s->head[m] = -1;
    }
}

/* Dijkstra's step: node reached at distance nd from `from` (over an edge of weight fw). */
static inline void relax(ssp_t *s, int32_t iter, int node, int64_t nd, int from, int64_t fw)
{
    if (s->seen[node] != iter || nd < s->dist[node]) {
        s->seen[node] = iter;
        s->dist[node] = nd;
        s->pred[node] = from;
        s->predw[node] = fw;
        hpush(s, nd, node);
    }
}

/* The edges out of learner x, settled at distance d: to its candidate mentors, and to the sink
 * when x is the source or holds a place it may give up. -1 on a negative reduced cost. */
static inline int expand_learner(ssp_t *s, const cands_t *cs, int x, int src, int64_t d,
                                 int32_t iter)
{
    const int L = s->L, T = s->T;

    for (int i = 0; i < cs[x].n; i++) {
        int m = cs[x].c[i].m, node = L + m;
        if (m == s->mentor_of[x] || s->done[node] == iter)
            continue;
        int64_t rc = -cs[x].c[i].w + s->h[x] - s->h[node];
        if (rc < 0)
            return -1;
        relax(s, iter, node, d + rc, x, cs[x].c[i].w);
    }
    if (x == src || s->mentor_of[x] >= 0) {
        int64_t rc = s->h[x] - s->h[T];
        if (rc < 0)
            return -1;
        relax(s, iter, T, d + rc, x, 0);
    }
    return 0;
}

/* The edges out of mentor node x, settled at distance d: to the sink when it has room, and back
 * to each learner it holds. -1 on a negative reduced cost. */
static inline int expand_mentor(ssp_t *s, const cs_match_problem_t *p, int x, int64_t d,
                                int32_t iter)
{
    const int T = s->T;
    int m = x - s->L;

    if (s->load[m] < p->mentors[m].capacity) {
        int64_t rc = s->h[x] - s->h[T];
        if (rc < 0)
            return -1;
        relax(s, iter, T, d + rc, x, 0);
    }
    for (int y = s->head[m]; y >= 0; y = s->nxt[y]) {
        if (s->done[y] == iter)
            continue;
        int64_t rc = s->wof[y] + s->h[x] - s->h[y];
        if (rc < 0)
            return -1;
        relax(s, iter, y, d + rc, x, 0);
    }
    return 0;
}

/* The shortest path (reduced costs) from learner src to the sink, as pred[]; the nodes settled
 * on the way in settled[]. */
static int ssp_search(ssp_t *s, const cs_match_problem_t *p, const cands_t *cs, int src,
                      int32_t iter, int64_t *pops, cs_err_t *err)
{
    s->hn = 0;
    s->n_settled = 0;
    relax(s, iter, src, 0, -1, 0);
    while (s->hn > 0) {
        hnode_t top = hpop(s);
        int x = top.x;
        int64_t d = top.d;
        int rc;

        if (s->done[x] == iter || d > s->dist[x])
            continue;
        s->done[x] = iter;
        s->settled[s->n_settled++] = x;
        (*pops)++;
        if (x == s->T)
            break;
        rc = x < s->L ? expand_learner(s, cs, x, src, d, iter) : expand_mentor(s, p, x, d, iter);
        if (rc < 0)
            return cs_err_set(err, CS_ERR_FATAL, "match: negative reduced cost");
    }
    if (s->done[s->T] != iter)
        return cs_err_set(err, CS_ERR_FATAL, "match: the sink was not reached");
    return 0;
}

/* New potentials for the settled nodes, keeping reduced costs non-negative. */
static void ssp_reprice(ssp_t *s)
{
    int64_t dT = s->dist[s->T];

    for (int i = 0; i < s->n_settled; i++) {
        int x = s->settled[i];
        s->h[x] += s->dist[x] - dT;
    }
}

/* Moves the learners along the path found, from the sink back to the source. */
static void ssp_augment(ssp_t *s, int src)
{
    const int L = s->L, T = s->T;

    for (int x = T; x != src;) {
        int px = s->pred[x];
        if (x == T) {
            /* px is a mentor with room (nothing to do: its new learner is added below) or a
             * learner dropped to unassigned (removed when its mentor edge is walked). */
        } else if (x >= L) {
            /* learner px takes a place with mentor x - L (leaving its old one first) */
            int m = x - L;
            if (s->mentor_of[px] >= 0)
                member_remove(s, s->mentor_of[px], px);
            member_add(s, m, px);
            s->wof[px] = s->predw[x];
        } else {
            /* learner x leaves mentor px - L (reverse edge) */
            if (s->mentor_of[x] == px - L) {
                member_remove(s, px - L, x);
                s->wof[x] = 0;
            }
        }
        x = px;
    }
}

/* One solve on the candidate graph, from scratch. Returns -1 on memory or invariant failure. */
static int ssp_run(ssp_t *s, const cs_match_problem_t *p, const cands_t *cs, int64_t *pops,
                   cs_err_t *err)
{
    int32_t iter = 0;

    ssp_reset(s, cs);
    for (int src = 0; src < s->L; src++) {
        if (cs[src].n == 0)
            continue; /* no edge: stays unassigned with u = 0 */
        iter++;
        if (ssp_search(s, p, cs, src, iter, pops, err) < 0)
            return -1;
        ssp_reprice(s);
        ssp_augment(s, src);
    }
    return 0;
}

/* ---- solve --------------------------------------------------------------------------------- */

void cs_match_result_destroy(cs_match_result_t *r)
{
    if (!r)
        return;
    free(r->mentor_of);
    free(r->weight_of);
    free(r->load);
    free(r->u);
    free(r->v);
    free(r);
}

/*
 * Keeps the k edges of c->c[n0..) that violate the duals most (w - u - v largest, then the lower
 * mentor), dropping the others: they are found again by the next round's pricing if the new
 * duals still leave them violated.
 */
static void keep_most_violated(cands_t *c, int n0, int k, int64_t u, const ssp_t *s)
{
    int n = c->n - n0;
    cand_t *by = cs_mem_calloc((size_t)n, sizeof(cand_t));
    cand_t *kept = cs_mem_calloc((size_t)k, sizeof(cand_t));

    for (int i = 0; i < n; i++) {
        const cand_t *x = &c->c[n0 + i];
        by[i].w = x->w - u - (s->h[s->T] - s->h[s->L + x->m]);
        by[i].m = i;
    }
    qsort(by, (size_t)n, sizeof(cand_t), cand_cmp); /* violation descending, index ascending */
    for (int i = 0; i < k; i++)
        kept[i] = c->c[n0 + by[i].m];
    memcpy(c->c + n0, kept, (size_t)k * sizeof(cand_t));
    c->n = n0 + k;
    free(by);
    free(kept);
}

/*
 * Pricing for learner l: finds every pruned edge whose u_l + v_m < w_lm would make the duals
 * infeasible and adds the top_k most violated of them to its candidates (all of them made the
 * graph dense when many learners share few mentors: every unassigned learner, u = 0, violates
 * with every mentor that has room). cstamp is scratch of M zeroes (left zero). Returns how many.
 */
static int price_learner(prep_t *pp, const cs_match_problem_t *p, const ssp_t *s, cands_t *c, int l,
                         int32_t *cstamp, cs_match_stats_t *st)
{
    int64_t u = s->h[l] - s->h[s->T];
    int n0 = c->n, added = 0;

    mark_excluded(pp, l);
    for (int i = 0; i < n0; i++)
        cstamp[c->c[i].m] = l + 1;
    for (int m = 0; m < s->M; m++) {
        int64_t ub, w, v = s->h[s->T] - s->h[s->L + m];
        if (p->mentors[m].capacity <= 0 || pp->stamp[m] == l + 1 || cstamp[m] == l + 1)
            continue;
        ub = coarse_bound(pp, l, m);
        if (u + v >= ub || ub < pp->floor_w)
            continue;
        ub = quick_bound(pp, l, m);
        if (u + v >= ub || ub < pp->floor_w)
            continue;
        w = weight_of_pair(pp, l, m, &ub, NULL);
        if (u + v >= ub || ub < pp->floor_w)
            continue;
        if (w == -2)
            w = weight_of_pair(pp, l, m, NULL, &st->pairs_scored);
        if (w >= pp->floor_w && u + v < w) {
            cands_push(c, m, w);
            added++;
        }
    }
    for (int i = 0; i < n0; i++)
        cstamp[c->c[i].m] = 0;
    if (added > pp->cfg->top_k) {
        keep_most_violated(c, n0, pp->cfg->top_k, u, s);
        added = pp->cfg->top_k;
    }
    if (c->n > n0)
        qsort(c->c, (size_t)c->n, sizeof(cand_t), cand_cmp);
    return added;
}

/* The assignment and the duals u = h(l) - h(T), v = h(T) - h(mentor) into r. */
static void result_fill(cs_match_result_t *r, const ssp_t *s, const cands_t *cs)
{
    const int L = s->L, M = s->M;

    r->n_learners = L;
    r->n_mentors = M;
    r->mentor_of = cs_mem_calloc((size_t)L + 1, sizeof(int32_t));
    r->weight_of = cs_mem_calloc((size_t)L + 1, sizeof(int64_t));
    r->u = cs_mem_calloc((size_t)L + 1, sizeof(int64_t));
    r->load = cs_mem_calloc((size_t)M + 1, sizeof(int32_t));
    r->v = cs_mem_calloc((size_t)M + 1, sizeof(int64_t));
    for (int l = 0; l < L; l++) {
        r->mentor_of[l] = s->mentor_of[l];
        r->weight_of[l] = s->mentor_of[l] >= 0 ? s->wof[l] : 0;
        r->u[l] = s->h[l] - s->h[s->T];
        r->total += r->weight_of[l];
        r->assigned += s->mentor_of[l] >= 0;
    }
    for (int m = 0; m < M; m++) {
        r->load[m] = s->load[m];
        r->v[m] = s->h[s->T] - s->h[L + m];
    }
    for (int l = 0; l < L; l++)
        r->stats.candidates += cs[l].n;
}

cs_match_result_t *cs_match_solve(const cs_match_config_t *cfg, const cs_match_problem_t *p,
                                  cs_err_t *err)
{
    const int L = p->n_learners, M = p->n_mentors;
    prep_t pp;
    ssp_t s;
    cands_t *cs = NULL;
    int64_t *maxout = NULL;
    int32_t *cstamp = NULL;
    cs_match_result_t *r = NULL;
    bool ok = false;

    memset(&s, 0, sizeof(s));
    if (validate(cfg, p, err) < 0)
        return NULL;
    prep_build(&pp, cfg, p);
    r = cs_mem_calloc(1, sizeof(*r));
    cs = cs_mem_calloc((size_t)L + 1, sizeof(cands_t));
    maxout = cs_mem_calloc((size_t)L + 1, sizeof(int64_t));
    cstamp = cs_mem_calloc((size_t)M + 1, sizeof(int32_t));
    ssp_alloc(&s, L, M);
    build_candidates(&pp, cs, maxout, &r->stats);
    /* Solve on the candidates, price the pruned edges, again until pricing adds none. */
    for (int round = 1;; round++) {
        int added = 0;
        r->stats.rounds = round;
        if (ssp_run(&s, p, cs, &r->stats.dijkstra_pops, err) < 0)
            goto out;
        for (int l = 0; l < L; l++)
            if (maxout[l] > s.h[l] - s.h[s.T]) /* else no pruned edge can violate: v >= 0 */
                added += price_learner(&pp, p, &s, &cs[l], l, cstamp, &r->stats);
        if (added == 0)
            break;
        if (round >= cfg->max_rounds) {
            cs_err_set(err, CS_ERR_FATAL,
                       "match: pricing did not converge in %d rounds (raise "
                       "top_k or max_rounds)",
                       round);
            goto out;
        }
    }
    result_fill(r, &s, cs);
    ok = true;
out:
    for (int l = 0; cs && l < L; l++)
        free(cs[l].c);
    free(cs);
    free(maxout);
    free(cstamp);
    ssp_free(&s);
    prep_free(&pp);
    if (!ok) {
        cs_match_result_destroy(r);
        return NULL;
    }
    return r;
}

/* ---- verify -------------------------------------------------------------------------------- */

/*
 * Primal feasibility and the assigned pairs' tightness: every learner's u >= 0, an unassigned
 * learner has u = 0, an assigned one an allowed mentor with the weight reported and u + v = w.
 * Counts each mentor's learners into load and adds the weights to *total.
 */
static int verify_assigned(prep_t *pp, const cs_match_problem_t *p, const cs_match_result_t *r,
                           int32_t *load, int64_t *total, cs_err_t *err)
{
    for (int l = 0; l < p->n_learners; l++) {
        int m = r->mentor_of[l];
        if (r->u[l] < 0)
            return cs_err_set(err, CS_ERR_FATAL, "match verify: u[%d] = %lld < 0", l,
                              (long long)r->u[l]);
        if (m < 0) {
            if (r->u[l] != 0 || r->weight_of[l] != 0)
                return cs_err_set(err, CS_ERR_FATAL,
                                  "match verify: learner %d is unassigned but u = %lld "
                                  "(slackness)",
                                  l, (long long)r->u[l]);
            continue;
        }
        if (m >= p->n_mentors)
            return cs_err_set(err, CS_ERR_FATAL,
                              "match verify: learner %d has mentor %d out of range", l, m);
        mark_excluded(pp, l);
        int64_t w = weight_of_pair(pp, l, m, NULL, NULL);
        if (pp->stamp[m] == l + 1 || p->mentors[m].capacity <= 0 || w < pp->floor_w)
            return cs_err_set(err, CS_ERR_FATAL,
                              "match verify: learner %d -> mentor %d is not allowed", l, m);
        if (w != r->weight_of[l])
            return cs_err_set(err, CS_ERR_FATAL,
                              "match verify: learner %d -> mentor %d weighs %lld, not %lld", l, m,
                              (long long)w, (long long)r->weight_of[l]);
        if (r->u[l] + r->v[m] != w)
            return cs_err_set(err, CS_ERR_FATAL,
                              "match verify: assigned pair (%d, %d) not tight: u + v = %lld, w = "
                              "%lld",
                              l, m, (long long)(r->u[l] + r->v[m]), (long long)w);
        load[m]++;
        *total += w;
    }
    return 0;
}

/* Each mentor within capacity, with the load reported, v >= 0, and v = 0 when it has room
 * (slackness). Adds capacity x v to *dual. */
static int verify_mentors(const cs_match_problem_t *p, const cs_match_result_t *r,
                          const int32_t *load, int64_t *dual, cs_err_t *err)
{
    for (int m = 0; m < p->n_mentors; m++) {
        int cap = p->mentors[m].capacity;

        if (load[m] > cap || load[m] != r->load[m])
            return cs_err_set(err, CS_ERR_FATAL,
                              "match verify: mentor %d has %d learners, capacity %d", m, load[m],
                              cap);
        if (cap > 0 && r->v[m] < 0)
            return cs_err_set(err, CS_ERR_FATAL, "match verify: v[%d] = %lld < 0", m,
                              (long long)r->v[m]);
        if (cap > 0 && r->v[m] > 0 && load[m] < cap)
            return cs_err_set(err, CS_ERR_FATAL,
                              "match verify: mentor %d has room but v = %lld > 0 (slackness)", m,
                              (long long)r->v[m]);
        if (cap > 0)
            *dual += (int64_t)cap * r->v[m];
    }
    return 0;
}

/* Dual feasibility over every allowed pair: u + v >= w. A mentor without capacity takes no pair:
 * its constraint is met by any v at no cost (capacity x v = 0), so it is not checked. Adds the
 * u's to *dual. */
static int verify_dual(prep_t *pp, const cs_match_problem_t *p, const cs_match_result_t *r,
                       int64_t *dual, cs_err_t *err)
{
    for (int l = 0; l < p->n_learners; l++) {
        mark_excluded(pp, l);
        *dual += r->u[l];
        for (int m = 0; m < p->n_mentors; m++) {
            int64_t ub, w, uv = r->u[l] + r->v[m];
            if (p->mentors[m].capacity <= 0 || pp->stamp[m] == l + 1)
                continue;
            if (uv >= coarse_bound(pp, l, m) || uv >= quick_bound(pp, l, m))
                continue;
            w = weight_of_pair(pp, l, m, &ub, NULL);
            if (uv >= ub)
                continue;
            if (w == -2)
                w = weight_of_pair(pp, l, m, NULL, NULL);
            if (w >= pp->floor_w && uv < w)
                return cs_err_set(err, CS_ERR_FATAL,
                                  "match verify: pair (%d, %d) violates the dual: u + v = %lld < "
                                  "w = %lld",
                                  l, m, (long long)uv, (long long)w);
        }
    }
    return 0;
}

int cs_match_verify(const cs_match_config_t *cfg, const cs_match_problem_t *p,
                    const cs_match_result_t *r, cs_err_t *err)
{
    prep_t pp;
    int32_t *load;
    int64_t total = 0, dual = 0;
    int rc = -1;

    if (validate(cfg, p, err) < 0)
        return -1;
    if (!r || r->n_learners != p->n_learners || r->n_mentors != p->n_mentors)
        return cs_err_set(err, CS_ERR_FATAL, "match verify: the result is not of this problem");
    prep_build(&pp, cfg, p);
    load = cs_mem_calloc((size_t)p->n_mentors + 1, sizeof(int32_t));
    if (verify_assigned(&pp, p, r, load, &total, err) < 0 ||
        verify_mentors(p, r, load, &dual, err) < 0 || verify_dual(&pp, p, r, &dual, err) < 0)
        goto out;
    /* Optimality: the primal (the weights assigned) equals the dual. */
    if (total != r->total || dual != total) {
        cs_err_set(err, CS_ERR_FATAL, "match verify: primal %lld, reported %lld, dual %lld",
                   (long long)total, (long long)r->total, (long long)dual);
        goto out;
    }
    rc = 0;
out:
    free(load);
    prep_free(&pp);
    return rc;
}

/* ---- triggers ------------------------------------------------------------------------------ */

static const cs__tune_key_t trigger_keys[] = {
    {"trigger.low_rating_sessions", offsetof(cs_match_trigger_config_t, low_rating_sessions), 1,
     1000, CS__TUNE_INT},
    {"trigger.low_rating_max_avg", offsetof(cs_match_trigger_config_t, low_rating_max_avg), 1, 5,
     CS__TUNE_DOUBLE},
    {"trigger.on_goals_change", offsetof(cs_match_trigger_config_t, on_goals_change), 0, 1,
     CS__TUNE_BOOL},
    {"trigger.on_stage_change", offsetof(cs_match_trigger_config_t, on_stage_change), 0, 1,
     CS__TUNE_BOOL},
    {"trigger.cooldown_s", offsetof(cs_match_trigger_config_t, cooldown_s), 0, 31536000,
     CS__TUNE_INT64},
    {"trigger.cooldown_unavailable", offsetof(cs_match_trigger_config_t, cooldown_unavailable), 0,
     1, CS__TUNE_BOOL},
    {"trigger.cooldown_explicit", offsetof(cs_match_trigger_config_t, cooldown_explicit), 0, 1,
     CS__TUNE_BOOL},
};
#define N_TRIGGER_KEYS (sizeof(trigger_keys) / sizeof(trigger_keys[0]))

void cs_match_trigger_config_defaults(cs_match_trigger_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->low_rating_sessions = 3;
    cfg->low_rating_max_avg = 2.5;
    cfg->on_goals_change = true;
    cfg->on_stage_change = true;
    cfg->cooldown_s = 14 * 86400;
    cfg->cooldown_unavailable = false;
    cfg->cooldown_explicit = false;
}

int cs_match_trigger_config_parse(cs_match_trigger_config_t *cfg, const char *spec, cs_err_t *err)
{
    return cs__tune_parse("trigger", trigger_keys, N_TRIGGER_KEYS, cfg, sizeof(*cfg), spec, err);
}

int cs_match_trigger_decide(const cs_match_trigger_config_t *cfg,
                            const cs_match_trigger_input_t *in, cs_match_decision_t *out,
                            cs_err_t *err)
{
    cs_match_trigger_t t = CS_TRIGGER_NONE;
    bool low = false, cooling, bypass;

    if (cs__tune_check("trigger", trigger_keys, N_TRIGGER_KEYS, cfg, err) < 0)
        return -1;
    if (in->n_recent_ratings < 0 || (in->n_recent_ratings > 0 && !in->recent_ratings))
        return cs_err_set_field(err, CS_ERR_PERMANENT, "recent_ratings",
                                "trigger input: recent_ratings is missing or negative");
    for (int i = 0; i < in->n_recent_ratings; i++)
        if (in->recent_ratings[i] < 1 || in->recent_ratings[i] > 5)
            return cs_err_set_field(err, CS_ERR_PERMANENT, "recent_ratings",
                                    "trigger input: rating %d is not in 1..5",
                                    in->recent_ratings[i]);
    out->trigger = out->suppressed = CS_TRIGGER_NONE;
    out->avg_rating = NAN;
    out->sessions_considered = 0;
    if (in->has_mentor && in->n_recent_ratings >= cfg->low_rating_sessions) {
        int sum = 0;
        for (int i = 0; i < cfg->low_rating_sessions; i++)
            sum += in->recent_ratings[i];
        out->sessions_considered = cfg->low_rating_sessions;
        out->avg_rating = (double)sum / cfg->low_rating_sessions;
        low = out->avg_rating <= cfg->low_rating_max_avg;
    }
    if (in->has_mentor && in->mentor_unavailable)
        t = CS_TRIGGER_MENTOR_UNAVAILABLE;
    else if (in->has_mentor && in->mentor_over_capacity)
        t = CS_TRIGGER_MENTOR_OVER_CAPACITY;
    else if (in->explicit_request)
        t = CS_TRIGGER_EXPLICIT_REQUEST;
    else if (low)
        t = CS_TRIGGER_LOW_RATINGS;
    else if (cfg->on_goals_change && (in->industry_changed || in->role_changed))
        t = CS_TRIGGER_GOALS_CHANGED;
    else if (cfg->on_stage_change && in->stage_changed)
        t = CS_TRIGGER_STAGE_CHANGED;
    cooling = in->last_proposal_s > 0 && in->now_s - in->last_proposal_s < cfg->cooldown_s;
    bypass = ((t == CS_TRIGGER_MENTOR_UNAVAILABLE || t == CS_TRIGGER_MENTOR_OVER_CAPACITY) &&
              !cfg->cooldown_unavailable) ||
             (t == CS_TRIGGER_EXPLICIT_REQUEST && !cfg->cooldown_explicit);
    if (t != CS_TRIGGER_NONE && cooling && !bypass) {
        out->suppressed = t;
        t = CS_TRIGGER_NONE;
    }
    out->trigger = t;
    return 0;
}

const char *cs_match_trigger_name(cs_match_trigger_t t)
{
    static const char *const n[CS_MATCH_NTRIGGERS] = {
        "none",        "mentor_unavailable", "mentor_over_capacity", "explicit_request",
        "low_ratings", "goals_changed",      "stage_changed",
    };
    return (unsigned)t < CS_MATCH_NTRIGGERS ? n[t] : "?";
}

const char *cs_match_trigger_contract_reason(cs_match_trigger_t t)
{
    switch (t) {
    case CS_TRIGGER_MENTOR_UNAVAILABLE:
    case CS_TRIGGER_MENTOR_OVER_CAPACITY:
        return "mentor_unavailable";
    case CS_TRIGGER_LOW_RATINGS:
        return "low_session_ratings";
    case CS_TRIGGER_GOALS_CHANGED:
    case CS_TRIGGER_STAGE_CHANGED:
        return "goals_changed";
    default:
        return NULL;
    }
}

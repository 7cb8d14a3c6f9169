/*
 * tests/unit/test_match.c
 *      Check suite for cs/match.h: a hand-computed pair score, edge cases (no skills, no mentor
 *      with capacity, ties, every mentor in another timezone, a case greedy gets wrong), the
 *      solver against brute force on random small instances, the verifier accepting optimal and
 *      rejecting perturbed results, pricing after aggressive pruning, determinism, and the
 *      rematch triggers with their cooldown.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs/match.h"

/* ---- instance builders ---------------------------------------------------------------------- */

#define MAXL  256
#define MAXM  4096
#define MAXSK 16
#define DIM   8

typedef struct inst {
    cs_match_learner_t l[MAXL];
    cs_match_mentor_t m[MAXM];
    uint32_t lsk[MAXL][MAXSK], msk[MAXM][MAXSK];
    float lemb[MAXL][DIM], memb[MAXM][DIM];
    int32_t lex[MAXL][4];
    cs_match_problem_t p;
} inst_t;

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? (uint32_t)(rng_state % n) : 0;
}

static inst_t *inst_new(int L, int M)
{
    inst_t *x = calloc(1, sizeof(inst_t));
    ck_assert_ptr_nonnull(x);
    x->p.learners = x->l;
    x->p.mentors = x->m;
    x->p.n_learners = L;
    x->p.n_mentors = M;
    x->p.n_skills = 40;
    x->p.embedding_dim = DIM;
    for (int i = 0; i < L; i++) {
        x->l[i].gap_skills = x->lsk[i];
        x->l[i].industry = -1;
        x->l[i].study_hours_week = NAN;
        x->l[i].excluded = x->lex[i];
    }
    for (int j = 0; j < M; j++) {
        x->m[j].expertise = x->msk[j];
        x->m[j].industry = -1;
        x->m[j].avg_rating = NAN;
        x->m[j].hours_week = 2;
        x->m[j].max_mentees = 1;
        x->m[j].capacity = 1;
    }
    return x;
}

static void random_instance(inst_t *x, int L, int M, int max_cap)
{
    x->p.n_learners = L;
    x->p.n_mentors = M;
    for (int i = 0; i < L; i++) {
        cs_match_learner_t *l = &x->l[i];
        l->gap_skills = x->lsk[i];
        l->excluded = x->lex[i];
        l->n_gap_skills = (int)rnd(6);
        for (int k = 0; k < l->n_gap_skills; k++)
            x->lsk[i][k] = rnd(12);
        l->industry = rnd(4) == 0 ? -1 : (int32_t)rnd(3);
        l->has_timezone = rnd(5) != 0;
        l->utc_offset_minutes = (int)rnd(25) * 60 - 720;
        l->study_hours_week = rnd(4) == 0 ? NAN : (double)rnd(30);
        l->embedding = NULL;
        if (rnd(2)) {
            for (int k = 0; k < DIM; k++)
                x->lemb[i][k] = (float)((int)rnd(21) - 10) / 10.0f;
            l->embedding = x->lemb[i];
        }
        l->n_excluded = M > 0 ? (int)rnd(2) : 0;
        for (int k = 0; k < l->n_excluded; k++)
            x->lex[i][k] = (int32_t)rnd((uint32_t)M);
    }
    for (int j = 0; j < M; j++) {
        cs_match_mentor_t *m = &x->m[j];
        m->expertise = x->msk[j];
        m->n_expertise = (int)rnd(7);
        for (int k = 0; k < m->n_expertise; k++)
            x->msk[j][k] = rnd(12);
        m->industry = (int32_t)rnd(3);
        m->utc_offset_minutes = (int)rnd(25) * 60 - 720;
        m->hours_week = (double)rnd(10);
        m->max_mentees = 1 + (int)rnd(5);
        m->capacity = (int)rnd((uint32_t)(max_cap < m->max_mentees ? max_cap : m->max_mentees) + 1);
        m->avg_rating = rnd(3) == 0 ? NAN : 1 + rnd(41) / 10.0;
        m->rating_count = (int)rnd(30);
        m->past_mentees = (int)rnd(10);
        m->successful_placements = (int)rnd((uint32_t)m->past_mentees + 1);
        m->embedding = NULL;
        if (rnd(3)) {
            for (int k = 0; k < DIM; k++)
                x->memb[j][k] = (float)((int)rnd(21) - 10) / 10.0f;
            m->embedding = x->memb[j];
        }
    }
}

/* ---- brute force ---------------------------------------------------------------------------- */

static int64_t bf_w[8][8];
static int bf_load[8];

static int64_t brute(const cs_match_problem_t *p, int l)
{
    if (l == p->n_learners)
        return 0;
    int64_t best = brute(p, l + 1); /* l unassigned */
    for (int m = 0; m < p->n_mentors; m++) {
        if (bf_w[l][m] == CS_MATCH_NO_EDGE || bf_load[m] >= p->mentors[m].capacity)
            continue;
        bf_load[m]++;
        int64_t t = bf_w[l][m] + brute(p, l + 1);
        bf_load[m]--;
        if (t > best)
            best = t;
    }
    return best;
}

static int64_t brute_force(const cs_match_config_t *cfg, const cs_match_problem_t *p)
{
    for (int l = 0; l < p->n_learners; l++)
        for (int m = 0; m < p->n_mentors; m++)
            bf_w[l][m] = cs_match_pair_weight(cfg, p, l, m);
    memset(bf_load, 0, sizeof(bf_load));
    return brute(p, 0);
}

/* Capacities respected, every assigned pair allowed and weighed as reported. */
static void check_feasible(const cs_match_config_t *cfg, const cs_match_problem_t *p,
                           const cs_match_result_t *r)
{
    int load[MAXM];
    int64_t total = 0;
    memset(load, 0, sizeof(int) * (size_t)(p->n_mentors + 1));
    for (int l = 0; l < p->n_learners; l++) {
        int m = r->mentor_of[l];
        if (m < 0)
            continue;
        ck_assert_int_lt(m, p->n_mentors);
        int64_t w = cs_match_pair_weight(cfg, p, l, m);
        ck_assert_int_ne(w, CS_MATCH_NO_EDGE);
        ck_assert_int_eq(w, r->weight_of[l]);
        total += w;
        load[m]++;
    }
    for (int m = 0; m < p->n_mentors; m++)
        ck_assert_int_le(load[m], p->mentors[m].capacity);
    ck_assert_int_eq(total, r->total);
}

/* ---- tests ---------------------------------------------------------------------------------- */

START_TEST(pair_score_hand_computed)
{
    /* gaps {1,2,3,4}, mentor covers {2,3} (+ 9): expertise 0.5; same industry: 1; 3 h apart:
     * (720 - 180) / 720 = 0.75; 4 h / 4 mentees = 1 h against a need of 10 x 0.1 = 1: 1;
     * capacity 2 / 4 = 0.5; rating (5 x 3.5 + 15 x 4.5) / 20 = 4.25: 0.8125; outcomes
     * (3 + 1) / (6 + 2) = 0.5. No embeddings, so the weights present sum to 0.9:
     * (0.15 + 0.15 + 0.075 + 0.1 + 0.025 + 0.08125 + 0.05) / 0.9 = 70.1389 (701389). */
    cs_match_config_t cfg;
    inst_t *x = inst_new(1, 1);
    cs_match_pair_detail_t d;
    cs_err_t err;
    static const uint32_t gaps[] = {1, 2, 3, 4}, exp[] = {2, 3, 9, 3};

    cs_match_config_defaults(&cfg);
    memcpy(x->lsk[0], gaps, sizeof(gaps));
    x->l[0].n_gap_skills = 4;
    x->l[0].industry = 7;
    x->l[0].has_timezone = true;
    x->l[0].utc_offset_minutes = 0;
    x->l[0].study_hours_week = 10;
    memcpy(x->msk[0], exp, sizeof(exp)); /* the repeated 3 counts once */
    x->m[0].n_expertise = 4;
    x->m[0].industry = 7;
    x->m[0].utc_offset_minutes = 180;
    x->m[0].hours_week = 4;
    x->m[0].max_mentees = 4;
    x->m[0].capacity = 2;
    x->m[0].avg_rating = 4.5;
    x->m[0].rating_count = 15;
    x->m[0].past_mentees = 6;
    x->m[0].successful_placements = 3;
    ck_assert_int_eq(cs_match_pair_score(&cfg, &x->p, 0, 0, &d, &err), 0);
    ck_assert_int_eq(d.overlap, 2);
    ck_assert_double_eq_tol(d.expertise, 0.5, 1e-12);
    ck_assert_double_eq_tol(d.timezone, 0.75, 1e-12);
    ck_assert_double_eq_tol(d.availability, 1, 1e-12);
    ck_assert_double_eq_tol(d.rating, 0.8125, 1e-12);
    ck_assert_double_eq_tol(d.outcomes, 0.5, 1e-12);
    ck_assert(isnan(d.similarity));
    ck_assert_int_eq(d.weight, 701389);
    ck_assert(d.allowed);

    /* With embeddings: cosine((1,0,..), (1,1,0,..)) = 1/sqrt(2), weights sum to 1. */
    x->lemb[0][0] = 1;
    x->memb[0][0] = 1;
    x->memb[0][1] = 1;
    x->l[0].embedding = x->lemb[0];
    x->m[0].embedding = x->memb[0];
    ck_assert_int_eq(cs_match_pair_score(&cfg, &x->p, 0, 0, &d, &err), 0);
    ck_assert_double_eq_tol(d.similarity, 1 / sqrt(2), 1e-6);
    ck_assert_int_eq(d.weight, llround(100 * (0.63125 + 0.1 * d.similarity) * CS_MATCH_SCALE));

    cs_buf_t b = CS_BUF_INIT;
    cs_match_pair_detail_json(&d, &b);
    ck_assert_msg(strstr(b.data, "\"overlap\":2") && strstr(b.data, "\"timezone\":0.7500"), "%s",
                  b.data);
    cs_buf_fini(&b);

    /* the learner excludes the mentor (current one): not allowed */
    x->lex[0][0] = 0;
    x->l[0].n_excluded = 1;
    ck_assert_int_eq(cs_match_pair_weight(&cfg, &x->p, 0, 0), CS_MATCH_NO_EDGE);
    ck_assert_int_eq(cs_match_pair_score(&cfg, &x->p, 0, 1, &d, &err), -1);
    free(x);
}
END_TEST

START_TEST(no_skills)
{
    /* A learner without gaps: the expertise part is left out, not counted as 0. */
    cs_match_config_t cfg;
    inst_t *x = inst_new(1, 2);
    cs_match_pair_detail_t d;
    cs_err_t err;

    cs_match_config_defaults(&cfg);
    ck_assert_int_eq(cs_match_pair_score(&cfg, &x->p, 0, 0, &d, &err), 0);
    ck_assert(isnan(d.expertise) && isnan(d.industry) && isnan(d.timezone) &&
              isnan(d.availability));
    /* capacity 1/1, rating prior 3.5 -> 0.625, outcomes 1/2: (0.05 + 0.0625 + 0.05) / 0.25 */
    ck_assert_int_eq(d.weight, 650000);
    cs_match_result_t *r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_int_eq(r->mentor_of[0], 0); /* tie: the lower index */
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), 0);
    cs_match_result_destroy(r);
    free(x);
}
END_TEST

START_TEST(no_capacity)
{
    cs_match_config_t cfg;
    inst_t *x = inst_new(3, 4);
    cs_err_t err;

    cs_match_config_defaults(&cfg);
    for (int m = 0; m < 4; m++)
        x->m[m].capacity = 0;
    cs_match_result_t *r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_int_eq(r->assigned, 0);
    ck_assert_int_eq(r->total, 0);
    for (int l = 0; l < 3; l++) {
        ck_assert_int_eq(r->mentor_of[l], -1);
        ck_assert_int_eq(r->u[l], 0);
    }
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), 0);
    cs_match_result_destroy(r);

    /* no mentors at all, no learners at all */
    x->p.n_mentors = 0;
    r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->assigned, 0);
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), 0);
    cs_match_result_destroy(r);
    x->p.n_learners = 0;
    r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_ptr_nonnull(r);
    cs_match_result_destroy(r);
    free(x);
}
END_TEST

START_TEST(ties)
{
    /* Identical learners and mentors: learners in order take mentors in order. */
    cs_match_config_t cfg;
    inst_t *x = inst_new(3, 2);
    cs_err_t err;

    cs_match_config_defaults(&cfg);
    cs_match_result_t *r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->mentor_of[0], 0);
    ck_assert_int_eq(r->mentor_of[1], 1);
    ck_assert_int_eq(r->mentor_of[2], -1); /* no room left */
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), 0);
    /* the same again */
    cs_match_result_t *r2 = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_int_eq(memcmp(r->mentor_of, r2->mentor_of, 3 * sizeof(int32_t)), 0);
    ck_assert_int_eq(memcmp(r->u, r2->u, 3 * sizeof(int64_t)), 0);
    ck_assert_int_eq(memcmp(r->v, r2->v, 2 * sizeof(int64_t)), 0);
    cs_match_result_destroy(r);
    cs_match_result_destroy(r2);
    free(x);
}
END_TEST

START_TEST(all_mentors_far_away)
{
    /* Learner at UTC+0, every mentor 12 h away: the timezone part is 0 for all, the learner is
     * still matched (on the other parts), and the best expertise wins. */
    cs_match_config_t cfg;
    inst_t *x = inst_new(1, 3);
    cs_match_pair_detail_t d;
    cs_err_t err;

    cs_match_config_defaults(&cfg);
    x->l[0].has_timezone = true;
    x->l[0].utc_offset_minutes = 0;
    x->lsk[0][0] = 5;
    x->lsk[0][1] = 6;
    x->l[0].n_gap_skills = 2;
    for (int m = 0; m < 3; m++) {
        x->m[m].utc_offset_minutes = m == 1 ? -720 : 720;
        x->msk[m][0] = 5;
        x->msk[m][1] = 6;
        x->m[m].n_expertise = m == 2 ? 2 : 1;
    }
    for (int m = 0; m < 3; m++) {
        ck_assert_int_eq(cs_match_pair_score(&cfg, &x->p, 0, m, &d, &err), 0);
        ck_assert_double_eq(d.timezone, 0);
    }
    cs_match_result_t *r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->mentor_of[0], 2);
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), 0);
    cs_match_result_destroy(r);
    /* with a floor above every score, nobody is matched */
    ck_assert_int_eq(cs_match_config_parse(&cfg, "floor=99", &err), 0);
    r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->mentor_of[0], -1);
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), 0);
    cs_match_result_destroy(r);
    free(x);
}
END_TEST

START_TEST(not_greedy)
{
    /* Only expertise counts. A has 20 gaps, B 20 others. X covers 18 of A (90) and 17 of B
     * (85); Y covers 16 of A (80) and 8 of B (40). One place each. First-come greedy gives
     * A-X + B-Y = 130; the optimum is A-Y + B-X = 165. */
    cs_match_config_t cfg;
    inst_t *x = inst_new(2, 2);
    cs_err_t err;

    cs_match_config_defaults(&cfg);
    ck_assert_int_eq(cs_match_config_parse(&cfg,
                                           "weight.industry=0 weight.timezone=0 "
                                           "weight.availability=0 weight.capacity=0 "
                                           "weight.rating=0 weight.outcomes=0 "
                                           "weight.embedding=0 weight.expertise=1 floor=0",
                                           &err),
                     0);
    x->p.n_skills = 64;
    static uint32_t ga[20], gb[20], ex[40], ey[40];
    for (int i = 0; i < 20; i++) {
        ga[i] = (uint32_t)i;
        gb[i] = (uint32_t)(20 + i);
    }
    int nx = 0, ny = 0;
    for (int i = 0; i < 18; i++)
        ex[nx++] = (uint32_t)i;
    for (int i = 0; i < 17; i++)
        ex[nx++] = (uint32_t)(20 + i);
    for (int i = 0; i < 16; i++)
        ey[ny++] = (uint32_t)i;
    for (int i = 0; i < 8; i++)
        ey[ny++] = (uint32_t)(20 + i);
    x->l[0].gap_skills = ga;
    x->l[0].n_gap_skills = 20;
    x->l[1].gap_skills = gb;
    x->l[1].n_gap_skills = 20;
    x->m[0].expertise = ex;
    x->m[0].n_expertise = nx;
    x->m[1].expertise = ey;
    x->m[1].n_expertise = ny;
    ck_assert_int_eq(cs_match_pair_weight(&cfg, &x->p, 0, 0), 900000);
    ck_assert_int_eq(cs_match_pair_weight(&cfg, &x->p, 1, 1), 400000);
    cs_match_result_t *r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->mentor_of[0], 1);
    ck_assert_int_eq(r->mentor_of[1], 0);
    ck_assert_int_eq(r->total, 1650000);
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), 0);

    /* The greedy assignment, with the best duals it could have, is rejected. */
    r->mentor_of[0] = 0;
    r->weight_of[0] = 900000;
    r->mentor_of[1] = 1;
    r->weight_of[1] = 400000;
    r->total = 1300000;
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    /* Its own duals (u = its weight, v = 0) are tight and slack-complementary; only dual
     * feasibility over the unassigned pair B-X (40 + 0 < 85) exposes it. */
    r->u[0] = 900000;
    r->u[1] = 400000;
    r->v[0] = r->v[1] = 0;
    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), -1);
    ck_assert_msg(strstr(err.msg, "pair (1, 0) violates the dual"), "%s", err.msg);
    cs_match_result_destroy(r);
    free(x);
}
END_TEST

START_TEST(random_vs_brute_force)
{
    cs_match_config_t cfg, tight;
    inst_t *x = inst_new(0, 0);
    cs_err_t err;
    int nontrivial = 0, multi_round = 0;

    cs_match_config_defaults(&cfg);
    cs_match_config_defaults(&tight);
    tight.top_k = 1; /* prune hard: pricing must recover every lost edge */
    tight.score_floor = 20;
    rng_state = 0x0123456789abcdefull;
    for (int it = 0; it < 400; it++) {
        int L = 1 + (int)rnd(6), M = 1 + (int)rnd(4);
        random_instance(x, L, M, 2);
        const cs_match_config_t *c = (it & 1) ? &tight : &cfg;
        int64_t best = brute_force(c, &x->p);
        cs_match_result_t *r = cs_match_solve(c, &x->p, &err);
        ck_assert_msg(r != NULL, "instance %d: %s", it, err.msg);
        ck_assert_msg(r->total == best, "instance %d: solver %lld, brute force %lld", it,
                      (long long)r->total, (long long)best);
        check_feasible(c, &x->p, r);
        ck_assert_msg(cs_match_verify(c, &x->p, r, &err) == 0, "instance %d: %s", it, err.msg);
        nontrivial += r->assigned >= 2;
        multi_round += r->stats.rounds > 1;
        cs_match_result_destroy(r);
    }
    ck_assert_int_gt(nontrivial, 100);
    ck_assert_int_gt(multi_round, 10); /* pricing really ran */
    free(x);
}
END_TEST

START_TEST(verifier_rejects)
{
    cs_match_config_t cfg;
    inst_t *x = inst_new(0, 0);
    cs_err_t err;
    int rejected_swaps = 0, rejected_drops = 0, rejected_duals = 0, rejected_caps = 0;

    cs_match_config_defaults(&cfg);
    rng_state = 0xdeadbeef12345ull;
    for (int it = 0; it < 300; it++) {
        random_instance(x, 2 + (int)rnd(5), 2 + (int)rnd(3), 2);
        cs_match_result_t *r = cs_match_solve(&cfg, &x->p, &err);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), 0);
        int L = x->p.n_learners;
        /* (a) swap two learners' mentors when both pairs stay allowed and the total drops */
        for (int a = 0; a < L; a++)
            for (int b = a + 1; b < L; b++) {
                int ma = r->mentor_of[a], mb = r->mentor_of[b];
                if (ma < 0 || mb < 0 || ma == mb)
                    continue;
                int64_t wa = cs_match_pair_weight(&cfg, &x->p, a, mb);
                int64_t wb = cs_match_pair_weight(&cfg, &x->p, b, ma);
                if (wa == CS_MATCH_NO_EDGE || wb == CS_MATCH_NO_EDGE ||
                    wa + wb >= r->weight_of[a] + r->weight_of[b])
                    continue;
                cs_match_result_t s = *r;
                int32_t mo[8];
                int64_t wo[8];
                memcpy(mo, r->mentor_of, (size_t)L * sizeof(int32_t));
                memcpy(wo, r->weight_of, (size_t)L * sizeof(int64_t));
                mo[a] = mb;
                mo[b] = ma;
                wo[a] = wa;
                wo[b] = wb;
                s.mentor_of = mo;
                s.weight_of = wo;
                s.total = r->total - r->weight_of[a] - r->weight_of[b] + wa + wb;
                ck_assert_int_eq(cs_match_verify(&cfg, &x->p, &s, &err), -1);
                rejected_swaps++;
            }
        /* (b) drop a learner whose dual is positive */
        for (int a = 0; a < L; a++)
            if (r->mentor_of[a] >= 0 && r->u[a] > 0) {
                cs_match_result_t s = *r;
                int32_t mo[8], ld[8];
                int64_t wo[8];
                memcpy(mo, r->mentor_of, (size_t)L * sizeof(int32_t));
                memcpy(wo, r->weight_of, (size_t)L * sizeof(int64_t));
                memcpy(ld, r->load, (size_t)x->p.n_mentors * sizeof(int32_t));
                ld[mo[a]]--;
                s.total -= wo[a];
                mo[a] = -1;
                wo[a] = 0;
                s.mentor_of = mo;
                s.weight_of = wo;
                s.load = ld;
                ck_assert_int_eq(cs_match_verify(&cfg, &x->p, &s, &err), -1);
                rejected_drops++;
                break;
            }
        /* (c) lower one dual: some constraint or tight pair breaks */
        for (int a = 0; a < L; a++)
            if (r->u[a] > 0) {
                r->u[a]--;
                ck_assert_int_eq(cs_match_verify(&cfg, &x->p, r, &err), -1);
                r->u[a]++;
                rejected_duals++;
                break;
            }
        /* (d) put an unassigned learner on a full mentor */
        for (int a = 0; a < L; a++)
            for (int m = 0; r->mentor_of[a] < 0 && m < x->p.n_mentors; m++)
                if (x->m[m].capacity > 0 && r->load[m] == x->m[m].capacity &&
                    cs_match_pair_weight(&cfg, &x->p, a, m) != CS_MATCH_NO_EDGE) {
                    cs_match_result_t s = *r;
                    int32_t mo[8], ld[8];
                    int64_t wo[8];
                    memcpy(mo, r->mentor_of, (size_t)L * sizeof(int32_t));
                    memcpy(wo, r->weight_of, (size_t)L * sizeof(int64_t));
                    memcpy(ld, r->load, (size_t)x->p.n_mentors * sizeof(int32_t));
                    mo[a] = m;
                    wo[a] = cs_match_pair_weight(&cfg, &x->p, a, m);
                    ld[m]++;
                    s.mentor_of = mo;
                    s.weight_of = wo;
                    s.load = ld;
                    s.total += wo[a];
                    ck_assert_int_eq(cs_match_verify(&cfg, &x->p, &s, &err), -1);
                    rejected_caps++;
                    m = x->p.n_mentors;
                }
        cs_match_result_destroy(r);
    }
    ck_assert_int_gt(rejected_swaps, 5);
    ck_assert_int_gt(rejected_drops, 20);
    ck_assert_int_gt(rejected_duals, 20);
    ck_assert_int_gt(rejected_caps, 5);
    free(x);
}
END_TEST

START_TEST(larger_with_pricing)
{
    /* 200 learners against 2,000 mentors with room for at most 1 each and a small top_k: many
     * learners compete for the same mentors, pricing adds edges, the verifier checks all
     * 400,000 pairs, and a second solve is identical. */
    cs_match_config_t cfg;
    inst_t *x = inst_new(0, 0);
    cs_err_t err;

    cs_match_config_defaults(&cfg);
    cfg.top_k = 2;
    cfg.max_rounds = 50;
    rng_state = 0xabcdef0102030405ull;
    random_instance(x, 200, 2000, 1);
    cs_match_result_t *r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    check_feasible(&cfg, &x->p, r);
    ck_assert_msg(cs_match_verify(&cfg, &x->p, r, &err) == 0, "%s", err.msg);
    ck_assert_int_gt(r->assigned, 150);
    cs_match_config_t wide = cfg;
    wide.top_k = 2000; /* no pruning at all: the same optimum */
    cs_match_result_t *w = cs_match_solve(&wide, &x->p, &err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->total, r->total);
    ck_assert_int_eq(w->stats.rounds, 1);
    cs_match_result_t *r2 = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_int_eq(memcmp(r->mentor_of, r2->mentor_of, 200 * sizeof(int32_t)), 0);
    ck_assert_int_eq(memcmp(r->v, r2->v, 2000 * sizeof(int64_t)), 0);
    cs_match_result_destroy(r);
    cs_match_result_destroy(r2);
    cs_match_result_destroy(w);
    free(x);
}
END_TEST

START_TEST(contended_alike)
{
    /* Issue 15's slow shape, scaled down: 250 learners against 120 mentors of 50 places, 1 to 3
     * free, no expertise, industry or embedding, all mentors at UTC+0: every learner ranks the
     * mentors alike, so all compete for the same top_k mentors, whose places (about 64) cannot
     * take them all (nor can all 220 places). Pricing must bring in the other mentors (a few edges
     * per learner and round, not every violated one), the zero-cost plateaus must not stop the
     * search, and the optimum is the unpruned solve's. */
    enum { L = 250, M = 120 };
    cs_match_config_t cfg;
    inst_t *x = inst_new(L, M);
    static const int tz[] = {-300, 0, 60, 330, 540};
    cs_err_t err;

    cs_match_config_defaults(&cfg);
    rng_state = 0x1433020050ull;
    for (int m = 0; m < M; m++) {
        x->m[m].max_mentees = 50;
        x->m[m].capacity = 1 + (int)rnd(3);
        x->m[m].rating_count = m % 30;
        x->m[m].avg_rating = m % 30 ? 3 + (m % 20) / 10.0 : NAN;
    }
    for (int l = 0; l < L; l++) {
        x->l[l].has_timezone = true;
        x->l[l].utc_offset_minutes = tz[rnd(5)];
        x->l[l].study_hours_week = 5 + rnd(26);
    }
    cs_match_result_t *r = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    check_feasible(&cfg, &x->p, r);
    ck_assert_msg(cs_match_verify(&cfg, &x->p, r, &err) == 0, "%s", err.msg);
    ck_assert_int_ge(r->stats.rounds, 2); /* the top_k mentors' places were not enough */
    /* pricing adds at most top_k edges per learner and round (it added all 88 at once) */
    ck_assert_int_le(r->stats.candidates, (int64_t)L * cfg.top_k * r->stats.rounds);
    int places = 0;
    for (int m = 0; m < M; m++)
        places += x->m[m].capacity;
    ck_assert_int_eq(r->assigned, places < L ? places : L);
    cs_match_config_t wide = cfg;
    wide.top_k = M; /* no pruning, no pricing: the same optimum */
    cs_match_result_t *w = cs_match_solve(&wide, &x->p, &err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->stats.rounds, 1);
    ck_assert_int_eq(w->total, r->total);
    ck_assert_msg(cs_match_verify(&wide, &x->p, w, &err) == 0, "%s", err.msg);
    cs_match_result_t *r2 = cs_match_solve(&cfg, &x->p, &err);
    ck_assert_int_eq(memcmp(r->mentor_of, r2->mentor_of, L * sizeof(int32_t)), 0);
    ck_assert_int_eq(memcmp(r->u, r2->u, L * sizeof(int64_t)), 0);
    cs_match_result_destroy(r);
    cs_match_result_destroy(r2);
    cs_match_result_destroy(w);
    free(x);
}
END_TEST

START_TEST(bad_problems)
{
    cs_match_config_t cfg;
    inst_t *x = inst_new(1, 1);
    cs_err_t err;

    cs_match_config_defaults(&cfg);
    x->m[0].capacity = 2; /* > max_mentees 1 */
    ck_assert_ptr_null(cs_match_solve(&cfg, &x->p, &err));
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_msg(strstr(err.msg, "mentor 0") && strstr(err.msg, "capacity"), "%s", err.msg);
    x->m[0].capacity = 1;
    x->lsk[0][0] = 99; /* >= n_skills */
    x->l[0].n_gap_skills = 1;
    ck_assert_ptr_null(cs_match_solve(&cfg, &x->p, &err));
    ck_assert_msg(strstr(err.msg, "learner 0") && strstr(err.msg, "gap_skills"), "%s", err.msg);
    x->l[0].n_gap_skills = 0;
    x->lex[0][0] = 5;
    x->l[0].n_excluded = 1;
    ck_assert_ptr_null(cs_match_solve(&cfg, &x->p, &err));
    ck_assert_str_eq(err.field, "excluded");
    x->l[0].n_excluded = 0;
    ck_assert_int_eq(cs_match_config_parse(&cfg, "top_k=0", &err), -1);
    ck_assert_int_eq(cs_match_config_parse(&cfg, "weight.nope=1", &err), -1);
    ck_assert_str_eq(err.field, "weight.nope");
    cfg.top_k = 0; /* filled by hand: refused by solve */
    ck_assert_ptr_null(cs_match_solve(&cfg, &x->p, &err));
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    free(x);
}
END_TEST

/* ---- triggers ------------------------------------------------------------------------------- */

START_TEST(triggers)
{
    cs_match_trigger_config_t cfg;
    cs_match_trigger_input_t in;
    cs_match_decision_t d;
    cs_err_t err;
    int low[] = {2, 3, 2, 5, 5}, good[] = {4, 3, 5, 1, 1}, bad[] = {6};

    cs_match_trigger_config_defaults(&cfg);
    memset(&in, 0, sizeof(in));
    in.now_s = 1700000000;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_NONE);

    /* low ratings: the newest three average 7/3 <= 2.5 */
    in.has_mentor = true;
    in.recent_ratings = low;
    in.n_recent_ratings = 5;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_LOW_RATINGS);
    ck_assert_int_eq(d.sessions_considered, 3);
    ck_assert_double_eq_tol(d.avg_rating, 7.0 / 3, 1e-12);
    ck_assert_str_eq(cs_match_trigger_contract_reason(d.trigger), "low_session_ratings");
    /* only the newest N count: older bad ones do not */
    in.recent_ratings = good;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_NONE);
    /* fewer than N sessions: not judged */
    in.recent_ratings = low;
    in.n_recent_ratings = 2;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_NONE);
    ck_assert(isnan(d.avg_rating));

    /* priority: unavailable beats everything else */
    in.n_recent_ratings = 5;
    in.industry_changed = in.explicit_request = in.mentor_unavailable = true;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_MENTOR_UNAVAILABLE);
    ck_assert_str_eq(cs_match_trigger_contract_reason(d.trigger), "mentor_unavailable");
    in.mentor_unavailable = false;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_EXPLICIT_REQUEST);
    ck_assert_ptr_null(cs_match_trigger_contract_reason(d.trigger));
    in.explicit_request = false;
    in.n_recent_ratings = 0;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_GOALS_CHANGED);

    /* cooldown: a goal change 3 days after the last proposal is held back ... */
    in.last_proposal_s = in.now_s - 3 * 86400;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_NONE);
    ck_assert_int_eq(d.suppressed, CS_TRIGGER_GOALS_CHANGED);
    /* ... but not a mentor going over capacity, nor an explicit request */
    in.mentor_over_capacity = true;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_MENTOR_OVER_CAPACITY);
    in.mentor_over_capacity = false;
    in.explicit_request = true;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_EXPLICIT_REQUEST);
    /* unless configured so */
    ck_assert_int_eq(cs_match_trigger_config_parse(&cfg, "trigger.cooldown_explicit=true", &err),
                     0);
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_NONE);
    ck_assert_int_eq(d.suppressed, CS_TRIGGER_EXPLICIT_REQUEST);
    /* after the cooldown (exactly 14 days) it goes through */
    in.last_proposal_s = in.now_s - 14 * 86400;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_EXPLICIT_REQUEST);

    /* stage change, and switching it off */
    memset(&in, 0, sizeof(in));
    in.stage_changed = true;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_STAGE_CHANGED);
    ck_assert_int_eq(cs_match_trigger_config_parse(&cfg, "trigger.on_stage_change=off", &err), 0);
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_NONE);
    /* a mentor event for a learner without a mentor does nothing */
    in.stage_changed = false;
    in.mentor_unavailable = true;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_NONE);

    /* bad input and bad config */
    in.recent_ratings = bad;
    in.n_recent_ratings = 1;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_int_eq(cs_match_trigger_config_parse(&cfg, "trigger.on_stage_change=maybe", &err),
                     -1);
    ck_assert_int_eq(cs_match_trigger_config_parse(&cfg, "trigger.low_rating_max_avg=6", &err), -1);
    ck_assert_str_eq(cs_match_trigger_name(CS_TRIGGER_LOW_RATINGS), "low_ratings");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("match");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pair_score_hand_computed);
    tcase_add_test(tc, no_skills);
    tcase_add_test(tc, no_capacity);
    tcase_add_test(tc, ties);
    tcase_add_test(tc, all_mentors_far_away);
    tcase_add_test(tc, not_greedy);
    tcase_add_test(tc, random_vs_brute_force);
    tcase_add_test(tc, verifier_rejects);
    tcase_add_test(tc, larger_with_pricing);
    tcase_add_test(tc, contended_alike);
    tcase_add_test(tc, bad_problems);
    tcase_add_test(tc, triggers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

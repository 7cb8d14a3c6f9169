/*
 * bench/match.c
 *      cs-bench-match: how fast the pure algorithms of cs-matcher and cs-readiness run.
 *
 * Matching: 1,000 rematch requests against 10,000 mentors with realistic random attributes
 * (400 skills in 20 industry clusters, 5-15 expertise skills per mentor, 3-10 gaps per learner,
 * timezones clustered on three continents, capacities 0-8 with 10% of mentors not accepting,
 * ratings, placements, 384-dimension embeddings for 70% of mentors and learners built around
 * industry centroids, one excluded current mentor per learner). Each run times cs_match_solve
 * (candidate scoring of all 10,000,000 pairs with the similarity bound, the exact solve, pricing)
 * and cs_match_verify (every pair again), and checks that the verifier accepts.
 * Readiness: 100,000 distinct random learners (a third with per-skill demand rows) scored with
 * the full explanation, then scored and rendered to JSON; learners per second on one core.
 * Prints each run and the median of RUNS runs. One thread; single-core figures.
 *
 * Usage: cs-bench-match [RUNS, default 5]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/match.h"
#include "cs/readiness.h"

#define N_LEARNERS   1000
#define N_MENTORS    10000
#define N_SKILLS     400
#define N_INDUSTRIES 20
#define DIM          384
#define N_READINESS  100000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: on a shared machine the wall clock also counts other processes. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static uint32_t rnd(uint32_t n)
{
    return (uint32_t)(next_rand() % n);
}
static double unif(void)
{
    return (double)(next_rand() >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = unif() + 1e-12, v = unif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* A skill of industry ind's cluster (20 skills each) or, with probability 0.25, any skill. */
static uint32_t skill_of(int ind)
{
    if (rnd(4) == 0)
        return rnd(N_SKILLS);
    return (uint32_t)(ind * (N_SKILLS / N_INDUSTRIES)) + rnd(N_SKILLS / N_INDUSTRIES);
}

static int tz_offset(void)
{
    static const int centres[] = {-300, -360, -480, 0, 60, 120, 330, 480, 540};
    int c = centres[rnd(sizeof(centres) / sizeof(centres[0]))];
    int o = c + ((int)rnd(5) - 2) * 30;
    return o < -720 ? -720 : (o > 840 ? 840 : o);
}

static float *centroids;
static void embed(float *v, int ind)
{
    for (int k = 0; k < DIM; k++)
        v[k] = centroids[ind * DIM + k] + 0.8f * (float)gauss();
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Times solve and verify of p RUNS times; prints each run and the medians. -1 on failure. */
static int time_match(const cs_match_config_t *cfg_, const cs_match_problem_t *p_, int runs)
{
    cs_match_config_t cfg = *cfg_;
    cs_match_problem_t p = *p_;
    cs_err_t err;
    double *t[6];
    for (int k = 0; k < 6; k++)
        t[k] = calloc((size_t)runs, sizeof(double));
    for (int r = 0; r < runs; r++) {
        double w0 = now_s(), c0 = cpu_s();
        cs_match_result_t *res = cs_match_solve(&cfg, &p, &err);
        double w1 = now_s(), c1 = cpu_s();
        if (!res) {
            fprintf(stderr, "cs-bench-match: solve: %s\n", err.msg);
            return -1;
        }
        if (cs_match_verify(&cfg, &p, res, &err) < 0) {
            fprintf(stderr, "cs-bench-match: verify: %s\n", err.msg);
            return -1;
        }
        double w2 = now_s(), c2 = cpu_s();
        t[0][r] = w1 - w0;
        t[1][r] = w2 - w1;
        t[2][r] = w2 - w0;
        t[3][r] = c1 - c0;
        t[4][r] = c2 - c1;
        t[5][r] = c2 - c0;
        printf("  run %d: solve %.3f s + verify %.3f s = %.3f s wall (%.3f + %.3f = %.3f s CPU); "
               "assigned %d, total %.4f, rounds %d, candidates %lld, cosines in solve %lld, "
               "pairs bounded %lld, dijkstra pops %lld\n",
               r + 1, t[0][r], t[1][r], t[2][r], t[3][r], t[4][r], t[5][r], res->assigned,
               (double)res->total / CS_MATCH_SCALE, res->stats.rounds,
               (long long)res->stats.candidates, (long long)res->stats.pairs_scored,
               (long long)res->stats.pairs_bounded, (long long)res->stats.dijkstra_pops);
        cs_match_result_destroy(res);
    }
    printf("matching median of %d: solve %.3f s, verify %.3f s, solve + verify %.3f s wall; "
           "CPU %.3f + %.3f = %.3f s (verified optimal every run)\n",
           runs, median(t[0], runs), median(t[1], runs), median(t[2], runs), median(t[3], runs),
           median(t[4], runs), median(t[5], runs));
    for (int k = 0; k < 6; k++)
        free(t[k]);

    return 0;
}

/*
 * The contended shape of issue 15 (a cs-matcher batch on bench/matcher.sh's default data): 1,433
 * requests against 200 mentors of 50 places, 20 to 40 of them free, the mentors without
 * expertise, industry or embedding, all at UTC+0 with 2 hours a week, the learners without gaps
 * or target industry: every learner ranks the mentors alike (a learner's weight is its own part
 * plus the mentor's), so they all compete for the same top_k mentors.
 */
static int contended(const cs_match_config_t *cfg, int runs)
{
    enum { NL = 1433, NM = 200 };
    cs_match_learner_t *ls = calloc(NL, sizeof(*ls));
    cs_match_mentor_t *ms = calloc(NM, sizeof(*ms));
    long long places = 0;
    if (!ls || !ms) {
        fprintf(stderr, "cs-bench-match: out of memory\n");
        return -1;
    }
    for (int m = 0; m < NM; m++) {
        cs_match_mentor_t *x = &ms[m];
        x->industry = -1;
        x->hours_week = 2;
        x->max_mentees = 50;
        x->capacity = 20 + (int)rnd(21);
        places += x->capacity;
        x->rating_count = (m + 1) % 30;
        x->avg_rating = x->rating_count ? 3 + ((m + 1) % 20) / 10.0 : NAN;
        x->past_mentees = (int)rnd(3);
    }
    for (int l = 0; l < NL; l++) {
        cs_match_learner_t *x = &ls[l];
        x->industry = -1;
        x->has_timezone = true;
        x->utc_offset_minutes = tz_offset();
        x->study_hours_week = 5 + rnd(26);
    }
    cs_match_problem_t p = {ls, NL, ms, NM, 1, 0};
    printf("matching, contended: %d requests x %d mentors (%lld free places), alike preferences\n",
           NL, NM, places);
    int rc = time_match(cfg, &p, runs);
    free(ls);
    free(ms);
    return rc;
}

static const char usage[] =
    "usage: cs-bench-match [RUNS]\n"
    "\n"
    "Times cs_match_solve + cs_match_verify on 1,000 requests x 10,000 mentors and\n"
    "cs_readiness_score (+ JSON) on 100,000 learners, RUNS times (default 5), and prints\n"
    "every run and the medians.\n";

int main(int argc, char **argv)
{
    int runs = 5;
    cs_err_t err;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 2 || (argc == 2 && (runs = atoi(argv[1])) < 1)) {
        fprintf(stderr, "cs-bench-match: RUNS must be a positive integer\n%s", usage);
        return 2;
    }

    /* ---- the matching instance ---- */
    centroids = malloc(sizeof(float) * N_INDUSTRIES * DIM);
    cs_match_learner_t *ls = calloc(N_LEARNERS, sizeof(*ls));
    cs_match_mentor_t *ms = calloc(N_MENTORS, sizeof(*ms));
    uint32_t *lsk = calloc((size_t)N_LEARNERS * 10, sizeof(uint32_t));
    uint32_t *msk = calloc((size_t)N_MENTORS * 15, sizeof(uint32_t));
    float *lemb = malloc(sizeof(float) * N_LEARNERS * DIM);
    float *memb = malloc(sizeof(float) * N_MENTORS * DIM);
    int32_t *lex = calloc(N_LEARNERS, sizeof(int32_t));
    if (!centroids || !ls || !ms || !lsk || !msk || !lemb || !memb || !lex) {
        fprintf(stderr, "cs-bench-match: out of memory\n");
        return 1;
    }
    for (int i = 0; i < N_INDUSTRIES * DIM; i++)
        centroids[i] = (float)gauss();
    long long places = 0;
    for (int m = 0; m < N_MENTORS; m++) {
        cs_match_mentor_t *x = &ms[m];
        int ind = (int)rnd(N_INDUSTRIES);
        x->industry = ind;
        x->expertise = msk + (size_t)m * 15;
        x->n_expertise = 5 + (int)rnd(11);
        for (int k = 0; k < x->n_expertise; k++)
            msk[(size_t)m * 15 + k] = skill_of(ind);
        x->utc_offset_minutes = tz_offset();
        x->hours_week = 1 + rnd(10);
        x->max_mentees = 1 + (int)rnd(8);
        x->capacity = rnd(10) == 0 ? 0 : (int)rnd((uint32_t)x->max_mentees + 1);
        places += x->capacity;
        x->rating_count = (int)rnd(100);
        x->avg_rating = rnd(5) == 0 || x->rating_count == 0 ? NAN : 3.0 + 2.0 * unif();
        x->past_mentees = (int)rnd(40);
        x->successful_placements = x->past_mentees ? (int)rnd((uint32_t)x->past_mentees + 1) : 0;
        if (rnd(10) < 7) {
            embed(memb + (size_t)m * DIM, ind);
            x->embedding = memb + (size_t)m * DIM;
        }
    }
    for (int l = 0; l < N_LEARNERS; l++) {
        cs_match_learner_t *x = &ls[l];
        int ind = (int)rnd(N_INDUSTRIES);
        x->industry = rnd(10) == 0 ? -1 : ind;
        x->gap_skills = lsk + (size_t)l * 10;
        x->n_gap_skills = 3 + (int)rnd(8);
        for (int k = 0; k < x->n_gap_skills; k++)
            lsk[(size_t)l * 10 + k] = skill_of(ind);
        x->has_timezone = rnd(10) != 0;
        x->utc_offset_minutes = tz_offset();
        x->study_hours_week = rnd(8) == 0 ? NAN : 3 + rnd(25);
        if (rnd(10) < 7) {
            embed(lemb + (size_t)l * DIM, ind);
            x->embedding = lemb + (size_t)l * DIM;
        }
        lex[l] = (int32_t)rnd(N_MENTORS);
        x->excluded = &lex[l];
        x->n_excluded = 1;
    }
    cs_match_problem_t p = {ls, N_LEARNERS, ms, N_MENTORS, N_SKILLS, DIM};
    cs_match_config_t cfg;
    cs_match_config_defaults(&cfg);
    printf("matching: %d requests x %d mentors (%lld free places), %d skills, embeddings %d-d\n",
           N_LEARNERS, N_MENTORS, places, N_SKILLS, DIM);

    if (time_match(&cfg, &p, runs) < 0)
        return 1;
    if (contended(&cfg, runs) < 0)
        return 1;

    /* ---- readiness ---- */
    cs_readiness_input_t *in = calloc(N_READINESS, sizeof(*in));
    cs_readiness_skill_t *sk = calloc((size_t)N_READINESS * 8, sizeof(*sk));
    if (!in || !sk) {
        fprintf(stderr, "cs-bench-match: out of memory\n");
        return 1;
    }
    for (int i = 0; i < N_READINESS; i++) {
        cs_readiness_input_t *x = &in[i];
        x->declared_stage = (cs_readiness_stage_t)rnd(CS_READINESS_NSTAGES);
        x->has_target_industry = rnd(10) != 0;
        x->target_industry_demand_index = x->has_target_industry ? rnd(101) : NAN;
        x->available_study_hours_week = rnd(8) == 0 ? NAN : rnd(40);
        x->days_in_program = (int)rnd(400);
        x->content_started = (int)rnd(120);
        x->content_completed = (int)rnd((uint32_t)x->content_started + 1);
        x->career_critical_completed = (int)rnd((uint32_t)x->content_completed + 1);
        x->avg_content_score = x->content_started ? rnd(101) : NAN;
        x->study_seconds_30d = rnd(300000);
        x->skills_assessed = (int)rnd(15);
        x->skills_proficient = (int)rnd((uint32_t)x->skills_assessed + 1);
        x->target_skills_total = (int)rnd(10);
        x->target_skills_proficient = (int)rnd((uint32_t)x->target_skills_total + 1);
        x->avg_skill_proficiency = x->skills_assessed ? rnd(101) : NAN;
        x->projects_total = (int)rnd(6);
        x->projects_completed = (int)rnd((uint32_t)x->projects_total + 1);
        x->projects_showcase_ready = (int)rnd((uint32_t)x->projects_completed + 1);
        x->avg_project_review_score = x->projects_total ? rnd(101) : NAN;
        x->mock_interviews_completed = (int)rnd(8);
        x->avg_mock_interview_score = x->mock_interviews_completed ? rnd(101) : NAN;
        x->latest_mock_readiness =
            x->mock_interviews_completed ? (cs_readiness_mock_rating_t)(1 + rnd(4)) : CS_MOCK_NONE;
        x->coaching_sessions_completed = (int)rnd(10);
        x->avg_session_rating = x->coaching_sessions_completed ? 1 + 4 * unif() : NAN;
        x->has_active_mentor = rnd(2);
        x->applications_submitted = (int)rnd(20);
        x->applications_interviewing = (int)rnd((uint32_t)x->applications_submitted + 1);
        x->offers_received = (int)rnd((uint32_t)x->applications_interviewing / 2 + 1);
        if (rnd(3) == 0 && x->target_skills_total > 0) {
            int n = x->target_skills_total < 8 ? x->target_skills_total : 8;
            for (int k = 0; k < n; k++) {
                sk[(size_t)i * 8 + k].demand = rnd(10) == 0 ? NAN : rnd(101);
                sk[(size_t)i * 8 + k].proficiency = rnd(4) == 0 ? NAN : rnd(101);
            }
            x->target_skills = sk + (size_t)i * 8;
            x->n_target_skills = n;
        }
    }
    cs_readiness_config_t rcfg;
    cs_readiness_config_defaults(&rcfg);
    cs_readiness_score_t s;
    cs_buf_t json = CS_BUF_INIT;
    double *rr[4];
    double checksum = 0;
    size_t bytes = 0;
    for (int k = 0; k < 4; k++)
        rr[k] = calloc((size_t)runs, sizeof(double));
    printf("readiness: %d distinct learners\n", N_READINESS);
    for (int r = 0; r < runs; r++) {
        double w0 = now_s(), c0 = cpu_s();
        for (int i = 0; i < N_READINESS; i++) {
            if (cs_readiness_score(&rcfg, &in[i], &s, &err) < 0) {
                fprintf(stderr, "cs-bench-match: learner %d: %s\n", i, err.msg);
                return 1;
            }
            checksum += s.overall + s.best.gain;
        }
        double w1 = now_s(), c1 = cpu_s();
        bytes = 0;
        for (int i = 0; i < N_READINESS; i++) {
            cs_readiness_score(&rcfg, &in[i], &s, &err);
            cs_buf_reset(&json);
            if (cs_readiness_explain_json(&rcfg, &s, &json, &err) < 0) {
                fprintf(stderr, "cs-bench-match: json: %s\n", err.msg);
                return 1;
            }
            bytes += json.len;
        }
        double w2 = now_s(), c2 = cpu_s();
        rr[0][r] = N_READINESS / (w1 - w0);
        rr[1][r] = N_READINESS / (w2 - w1);
        rr[2][r] = N_READINESS / (c1 - c0);
        rr[3][r] = N_READINESS / (c2 - c1);
        printf("  run %d: score + explanation %.0f learners/s wall (%.0f per CPU s); with JSON "
               "rendering %.0f learners/s wall (%.0f per CPU s, %.0f bytes each)\n",
               r + 1, rr[0][r], rr[2][r], rr[1][r], rr[3][r], (double)bytes / N_READINESS);
    }
    printf("readiness median of %d: %.0f learners/s scored and explained (%.0f per CPU s), %.0f "
           "learners/s with JSON (%.0f per CPU s) (checksum %.2f)\n",
           runs, median(rr[0], runs), median(rr[2], runs), median(rr[1], runs), median(rr[3], runs),
           checksum);
    for (int k = 0; k < 4; k++)
        free(rr[k]);
    cs_buf_fini(&json);
    free(in);
    free(sk);
    free(centroids);
    free(ls);
    free(ms);
    free(lsk);
    free(msk);
    free(lemb);
    free(memb);
    free(lex);
    return 0;
}

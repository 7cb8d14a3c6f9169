/*
 * libcore/include/cs/match.h
 *      Mentor rematching: the pair score, the exactly optimal assignment of a batch of requests
 *      under mentor capacities with its optimality certificate, the certificate's verifier, and
 *      the rematch triggers with their cooldown.
 *
 * Pure and deterministic: no I/O, no clock (the caller passes the time), no threads. cs-matcher
 * builds a cs_match_problem_t from one batch: the learners asking for a (new) mentor and every
 * mentor that may take one (mentor_profiles), with uuids interned to small integers by the worker
 * (skills to 0..n_skills-1, industries to any int, mentors to their index). cs_match_solve()
 * returns the assignment that maximises the total pair score (integer weights, score x 10^4),
 * leaving a learner unassigned when no mentor with room scores at least the floor, and dual
 * potentials that prove it optimal; cs_match_verify() checks that proof over EVERY
 * learner-mentor pair, the ones the solver pruned included.
 *
 * The problem borrows everything it points at; the result is owned by the caller
 * (cs_match_result_destroy).
 */
#ifndef CS_MATCH_H
#define CS_MATCH_H

#include "cs/api.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/buf.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pair's integer weight is llround(score x CS_MATCH_SCALE); the optimum is exact in these. */
#define CS_MATCH_SCALE 10000
/* cs_match_pair_weight() of a pair that may not be assigned (excluded, no room, below floor). */
#define CS_MATCH_NO_EDGE (-1)

/* A learner asking for a mentor. All pointers borrowed. */
typedef struct cs_match_learner {
    const uint32_t
        *gap_skills;         /* current skill gaps (target skills not yet proficient), < n_skills */
    int n_gap_skills;        /* 0: the expertise part is left out of this learner's scores */
    int32_t industry;        /* target industry, -1 when none (industry part left out) */
    bool has_timezone;       /* false: the timezone part is left out */
    int utc_offset_minutes;  /* -720..840 */
    double study_hours_week; /* NAN when unknown (availability part left out) */
    const float *embedding;  /* problem.embedding_dim floats (goal_embedding) or NULL */
    const int32_t *excluded; /* mentors never proposed: the current one, open or declined pairs */
    int n_excluded;
} cs_match_learner_t;

/* A mentor. All pointers borrowed. */
typedef struct cs_match_mentor {
    const uint32_t *expertise; /* expertise_skill_ids, < n_skills */
    int n_expertise;
    int32_t industry;       /* -1 when none */
    int utc_offset_minutes; /* -720..840 */
    double hours_week;      /* available_hours_per_week */
    int max_mentees;        /* >= 0 */
    int capacity;           /* places this batch may fill: max_mentees - current_mentee_count,
                             * 0 when inactive, not accepting or on leave */
    double avg_rating;      /* 1..5, NAN when unrated */
    int rating_count;
    int past_mentees;          /* relationships ended */
    int successful_placements; /* of them, placed */
    const float *embedding;    /* expertise_embedding or NULL */
} cs_match_mentor_t;

typedef struct cs_match_problem {
    const cs_match_learner_t *learners;
    int n_learners;
    const cs_match_mentor_t *mentors;
    int n_mentors;
    uint32_t n_skills; /* skill numbers are < n_skills */
    int embedding_dim; /* 0: no embeddings */
} cs_match_problem_t;

/* The pair-score weights (relative: a pair divides by the sum of the parts present for it). */
typedef struct cs_match_config {
    double w_expertise;       /* 0.30: share of the learner's gaps the mentor's expertise covers */
    double w_industry;        /* 0.15: same industry as the learner's target */
    double w_timezone;        /* 0.10: overlap of two daily windows of tz_window_minutes */
    double w_availability;    /* 0.10: mentor hours per mentee against the learner's need */
    double w_capacity;        /* 0.05: share of the mentor's places still free */
    double w_rating;          /* 0.10: Bayesian average rating */
    double w_outcomes;        /* 0.10: smoothed share of past mentees placed */
    double w_embedding;       /* 0.10: cosine similarity of expertise and goal (when both exist) */
    double tz_window_minutes; /* 720 */
    double mentor_hours_per_study_hour; /* 0.1: mentoring a learner needs per study hour */
    double min_need_hours;              /* 0.25 h/week */
    double rating_prior;                /* 3.5 */
    double rating_prior_count;          /* 5 */
    double score_floor;                 /* 30: pairs scoring less are never proposed */
    int top_k;                          /* 32: candidates kept per learner before solving */
    int max_rounds;                     /* 16: pricing rounds before giving up (never reached) */
} cs_match_config_t;

CS_API void cs_match_config_defaults(cs_match_config_t *cfg);
/* key = value overrides, e.g. "weight.expertise=0.4 floor=35 top_k=64"; names in match.c's key
 * table and docs/matching.md. FATAL naming the key; cfg unchanged on error. */
CS_API int cs_match_config_set(cs_match_config_t *cfg, const char *key, const char *value,
                               cs_err_t *err);
CS_API int cs_match_config_parse(cs_match_config_t *cfg, const char *spec, cs_err_t *err);

/* The parts of one pair's score; NAN marks a part left out for this pair. */
typedef struct cs_match_pair_detail {
    double score;   /* 0..100 */
    int64_t weight; /* llround(score x CS_MATCH_SCALE) */
    bool allowed;   /* not excluded, mentor has room, score >= floor */
    int overlap;    /* gap skills the mentor covers */
    double expertise, industry, timezone, availability, capacity, rating, outcomes, similarity;
} cs_match_pair_detail_t;

/*
 * Scores one pair exactly as the solver and the verifier do (bit-identical). Returns -1 with a
 * PERMANENT err when learner or mentor is out of range or their data is invalid.
 */
CS_API int cs_match_pair_score(const cs_match_config_t *cfg, const cs_match_problem_t *p,
                               int learner, int mentor, cs_match_pair_detail_t *detail,
                               cs_err_t *err);

/* The pair's integer weight, or CS_MATCH_NO_EDGE when it may not be assigned (or is invalid). */
CS_API int64_t cs_match_pair_weight(const cs_match_config_t *cfg, const cs_match_problem_t *p,
                                    int learner, int mentor);

/* Appends the pair's detail as a JSON object (for mentorship_relationships.match_reasons). */
CS_API void cs_match_pair_detail_json(const cs_match_pair_detail_t *d, cs_buf_t *out);

typedef struct cs_match_stats {
    int64_t pairs_scored;  /* cosines computed while building candidates and pricing */
    int64_t pairs_bounded; /* pairs ruled out by an upper bound (no overlap count, no cosine) */
    int64_t candidates;    /* learner-mentor edges in the final graph */
    int rounds;            /* solve + pricing rounds (1 when pruning lost nothing) */
    int64_t dijkstra_pops;
} cs_match_stats_t;

/* The assignment and its certificate. Owned by the caller. */
typedef struct cs_match_result {
    int n_learners, n_mentors;
    int32_t *mentor_of; /* per learner: the mentor's index or -1 (unassigned) */
    int64_t *weight_of; /* per learner: the assigned pair's weight, 0 when unassigned */
    int32_t *load;      /* per mentor: learners assigned by this batch (<= capacity) */
    int64_t *u;         /* per learner: dual potential, >= 0 */
    int64_t *v;         /* per mentor: dual potential (price of a place), >= 0 */
    int64_t total;      /* sum of weight_of */
    int assigned;
    cs_match_stats_t stats;
} cs_match_result_t;

/*
 * Assigns the batch. Returns NULL with an err when the problem is invalid (PERMANENT, naming the
 * learner or mentor and field) or the config is (FATAL). Deterministic: the same problem and
 * config give the same result. Ties between optima are settled by the processing order: learners
 * in index order, candidates by weight then mentor index, the shortest-path search by distance
 * (the sink first among equal distances) then node index (so equally good mentors go to the
 * lower index, the earlier learner first).
 */
CS_API cs_match_result_t *cs_match_solve(const cs_match_config_t *cfg, const cs_match_problem_t *p,
                                         cs_err_t *err);

CS_API void cs_match_result_destroy(cs_match_result_t *r);

/*
 * Verifies r against p from scratch, recomputing every weight: primal feasibility (each learner
 * at most once, loads within capacity, assigned pairs allowed), dual feasibility
 * (u_l + v_m >= w_lm for every allowed pair of the whole problem, u, v >= 0) and complementary
 * slackness (assigned pairs tight, u_l > 0 only for assigned learners, v_m > 0 only for full
 * mentors). Together these prove r optimal. Returns 0 when it holds, else -1 with a FATAL err
 * describing the first violation (the solver has a bug, or r was altered). Uses the sound upper
 * bound of a pair (similarity 1) to skip computing a similarity when the bound already holds.
 */
CS_API int cs_match_verify(const cs_match_config_t *cfg, const cs_match_problem_t *p,
                           const cs_match_result_t *r, cs_err_t *err);

/* ---- triggers ----------------------------------------------------------------------------- */

/* Why a learner is (re)matched, in priority order (the first that holds wins). */
typedef enum cs_match_trigger {
    CS_TRIGGER_NONE = 0,
    CS_TRIGGER_MENTOR_UNAVAILABLE,   /* the mentor went on leave, inactive or stopped mentoring */
    CS_TRIGGER_MENTOR_OVER_CAPACITY, /* the mentor has more mentees than max_mentees now */
    CS_TRIGGER_EXPLICIT_REQUEST,     /* the learner (or an admin) asked */
    CS_TRIGGER_LOW_RATINGS,          /* the last sessions with the mentor were rated low */
    CS_TRIGGER_GOALS_CHANGED,        /* target industry or role changed */
    CS_TRIGGER_STAGE_CHANGED,        /* the readiness stage changed */
    CS_MATCH_NTRIGGERS
} cs_match_trigger_t;

typedef struct cs_match_trigger_config {
    int low_rating_sessions;   /* 3: the last N rated sessions with the current mentor */
    double low_rating_max_avg; /* 2.5: their average at or below this triggers */
    bool on_goals_change;      /* true */
    bool on_stage_change;      /* true */
    int64_t cooldown_s;        /* 1209600 (14 days) since the learner's last proposal */
    bool cooldown_unavailable; /* false: a learner losing their mentor is never held back */
    bool cooldown_explicit;    /* false: an explicit request is never held back */
} cs_match_trigger_config_t;

CS_API void cs_match_trigger_config_defaults(cs_match_trigger_config_t *cfg);
/* Keys: trigger.low_rating_sessions, trigger.low_rating_max_avg, trigger.on_goals_change,
 * trigger.on_stage_change, trigger.cooldown_s, trigger.cooldown_unavailable,
 * trigger.cooldown_explicit. FATAL naming the key; cfg unchanged on error. */
CS_API int cs_match_trigger_config_parse(cs_match_trigger_config_t *cfg, const char *spec,
                                         cs_err_t *err);

typedef struct cs_match_trigger_input {
    bool has_mentor; /* an active relationship exists */
    const int
        *recent_ratings; /* mentee ratings (1..5) of sessions with that mentor, newest first */
    int n_recent_ratings;
    bool industry_changed, role_changed, stage_changed;
    bool mentor_unavailable, mentor_over_capacity, explicit_request;
    int64_t now_s;           /* the triggering event's time (not the clock: replays agree) */
    int64_t last_proposal_s; /* the learner's last proposal, 0 when none */
} cs_match_trigger_input_t;

typedef struct cs_match_decision {
    cs_match_trigger_t trigger;    /* what to act on; NONE when nothing holds or cooldown */
    cs_match_trigger_t suppressed; /* what held but the cooldown stopped, else NONE */
    double avg_rating;             /* the low-ratings average (NAN when not evaluated) */
    int sessions_considered;
} cs_match_decision_t;

/* Decides. Returns -1 with a PERMANENT err for a rating outside 1..5 or negative counts. */
CS_API int cs_match_trigger_decide(const cs_match_trigger_config_t *cfg,
                                   const cs_match_trigger_input_t *in, cs_match_decision_t *out,
                                   cs_err_t *err);

/* "mentor_unavailable", "mentor_over_capacity", "explicit_request", "low_ratings",
 * "goals_changed", "stage_changed", "none". Never NULL. */
CS_API const char *cs_match_trigger_name(cs_match_trigger_t t);

/*
 * The RematchReason symbol of mentor_rematch_proposed for a trigger: low_session_ratings,
 * mentor_unavailable (unavailable, over capacity), goals_changed (goals, and the stage: the
 * contract has no stage reason). NULL for an explicit request: the reason then depends on who
 * asked, which the trigger does not tell - learner_requested (v2) for a mentor_rematch_requested,
 * mentor_recommended for a mentor_feedback_given recommending it; cs-matcher's mr_reason()
 * (workers/matcher_rules.c) chooses by the event.
 */
CS_API const char *cs_match_trigger_contract_reason(cs_match_trigger_t t);

#ifdef __cplusplus
}
#endif

#endif /* CS_MATCH_H */

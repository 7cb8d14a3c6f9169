/*
 * libcore/include/cs/readiness.h
 *      The career-readiness score: six dimensions and an overall score, 0 to 100, a stage, and
 *      the explanation stored with them (evidence, top gaps, the single most valuable change).
 *
 * Pure and deterministic: no I/O, no clock, no allocation except cs_readiness_explain_json.
 * The same inputs and config always give bit-identical results, so a replay that sees unchanged
 * inputs recomputes an unchanged score. cs-readiness fills one cs_readiness_input_t per row of
 *     SELECT * FROM career_readiness_inputs_batch($1::uuid[])
 * (the field order below is the column order; SQL NULL maps to NAN for numbers, as noted), scores
 * it with cs_readiness_score(), stores the score, the stage and the JSON explanation, and asks
 * cs_readiness_should_emit() whether readiness_score_changed is due.
 *
 * The formula (each part clamped to [0, 1], a dimension is 100 x its weighted parts, rounded to
 * 0.01; the overall score is the weighted mean of the rounded dimensions, rounded to 0.01) is
 * documented in readiness.c and docs/readiness.md; weights, targets and stage thresholds live in
 * cs_readiness_config_t. Not thread-safe per object; distinct objects may be used concurrently.
 */
#ifndef CS_READINESS_H
#define CS_READINESS_H

#include "cs/api.h"
#include <stdbool.h>
#include <stdint.h>

#include "cs/buf.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The dimensions, in the order of the explanation. */
typedef enum cs_readiness_dim {
    CS_READINESS_SKILLS = 0, /* technical skills against the target's required skills */
    CS_READINESS_PORTFOLIO,  /* showcase-ready and completed projects, review scores */
    CS_READINESS_INTERVIEW,  /* mock interviews: how many, how good, the latest rating */
    CS_READINESS_LEARNING,   /* career-critical content, completion, scores, study time */
    CS_READINESS_JOB_SEARCH, /* applications, interviews, offers */
    CS_READINESS_MENTORING,  /* coaching sessions, their ratings, an active mentor */
    CS_READINESS_NDIMS
} cs_readiness_dim_t;

/* The stages, as the event contract names them (CareerStage), in order. */
typedef enum cs_readiness_stage {
    CS_STAGE_EXPLORING = 0,
    CS_STAGE_LEARNING,
    CS_STAGE_BUILDING_PORTFOLIO,
    CS_STAGE_JOB_SEARCHING,
    CS_STAGE_INTERVIEWING,
    CS_STAGE_PLACED,
    CS_READINESS_NSTAGES
} cs_readiness_stage_t;

/* interview_preparation.readiness_rating of the latest completed mock interview. */
typedef enum cs_readiness_mock_rating {
    CS_MOCK_NONE = 0, /* NULL: no completed mock interview */
    CS_MOCK_NOT_READY,
    CS_MOCK_DEVELOPING,
    CS_MOCK_READY,
    CS_MOCK_STRONG
} cs_readiness_mock_rating_t;

/*
 * One target skill of the learner, for the demand-weighted skills dimension: its market demand
 * (skill_taxonomy.industry_demand_score, 0..100, NAN when unknown) and the learner's latest
 * proficiency (0..100, NAN when never assessed). skill_id is borrowed, may be NULL, and is only
 * copied into the explanation.
 */
typedef struct cs_readiness_skill {
    const char *skill_id;
    double demand;
    double proficiency;
} cs_readiness_skill_t;

/*
 * One learner's inputs: the columns of career_readiness_inputs_batch(), in order (user_id, which
 * the worker keeps beside the struct, and last_activity_at, which the score does not use, left
 * out). Numbers that SQL returns as NULL are NAN here; counts are never NULL (0 when there are
 * no rows). Two fields
 * are not (yet) columns of the function: target_skills (per-skill demand and proficiency; when
 * NULL the counts target_skills_proficient / target_skills_total are used, unweighted) and
 * career_critical_total (the career-critical items the learner's target requires; 0 = unknown,
 * then config.critical_content_target is the denominator). The struct borrows target_skills.
 */
typedef struct cs_readiness_input {
    cs_readiness_stage_t declared_stage; /* career_stage, see cs_readiness_stage_from_db() */
    bool has_target_industry;            /* target_industry_id IS NOT NULL */
    double target_industry_demand_index; /* 0..100 or NAN; evidence only */
    double available_study_hours_week;   /* NAN when unknown */
    int days_in_program;                 /* evidence only */
    int content_started;
    int content_completed;
    int career_critical_completed;
    double avg_content_score; /* 0..100 or NAN */
    int64_t study_seconds_30d;
    int skills_assessed;
    int skills_proficient;
    int target_skills_total;
    int target_skills_proficient;
    double avg_skill_proficiency; /* 0..100 or NAN */
    int projects_total;
    int projects_completed;
    int projects_showcase_ready;
    double avg_project_review_score; /* 0..100 or NAN */
    int mock_interviews_completed;
    double avg_mock_interview_score; /* 0..100 or NAN */
    cs_readiness_mock_rating_t latest_mock_readiness;
    int coaching_sessions_completed;
    double avg_session_rating; /* 1..5 or NAN */
    bool has_active_mentor;
    int applications_submitted;
    int applications_interviewing;
    int offers_received;
    /* not yet columns of the SQL function (see above) */
    const cs_readiness_skill_t *target_skills;
    int n_target_skills;
    int career_critical_total;
} cs_readiness_input_t;

/*
 * Weights, targets and thresholds. cs_readiness_config_defaults() fills the documented defaults;
 * cs_readiness_config_set() / _parse() override single keys (names in readiness.c's key table
 * and docs/readiness.md, e.g. "weight.skills", "stage.job_searching", "target.showcase_projects",
 * "emit.threshold"). A "target" is the amount at which that part is full (saturates at 1).
 */
typedef struct cs_readiness_config {
    double weight[CS_READINESS_NDIMS]; /* relative; the overall score divides by the sum */
    double stage_min_score[CS_READINESS_NSTAGES]; /* overall score a stage needs (exploring: 0) */
    double proficient_score;                      /* 70: proficiency at which a skill is proven */
    double default_skill_demand;                  /* 50: demand of a skill without market data */
    double general_skills_target;    /* 5: proven skills when no target skills are set */
    double critical_content_target;  /* 20: career-critical items, total unknown */
    double showcase_target;          /* 2 showcase-ready projects */
    double projects_target;          /* 3 completed projects */
    double mock_target;              /* 5 mock interviews */
    double default_study_hours_week; /* 5 h when the learner did not say */
    double applications_target;      /* 10 applications */
    double interviews_target;        /* 3 applications reaching interviews */
    double sessions_target;          /* 6 completed coaching sessions */
    double emit_threshold;           /* 1.0: points the score must move to emit */
    int max_gaps;                    /* 3: gaps listed in the explanation (0..6) */
} cs_readiness_config_t;

/* Fills cfg with the defaults (see docs/readiness.md). */
CS_API void cs_readiness_config_defaults(cs_readiness_config_t *cfg);

/*
 * Sets one key from text. Returns -1 with a FATAL err naming the key when the key is unknown or
 * the value is not a number in the key's range; cfg is unchanged then.
 */
CS_API int cs_readiness_config_set(cs_readiness_config_t *cfg, const char *key, const char *value,
                                   cs_err_t *err);

/*
 * Applies "key=value" pairs separated by commas, semicolons or white space (the value of a
 * worker option such as --readiness-model, or of a config file key). An empty spec changes
 * nothing. All or nothing: on the first bad pair returns -1 (FATAL, the pair named) and cfg is
 * unchanged. After applying, the weights must not all be 0.
 */
CS_API int cs_readiness_config_parse(cs_readiness_config_t *cfg, const char *spec, cs_err_t *err);

/*
 * The model version stored with every score and sent in readiness_score_changed.model_version:
 * "readiness-1" with the default config, "readiness-1-<8 hex digits>" (a hash of every value)
 * with overrides, so scores of different configs are never mistaken for each other. Writes at
 * most 32 bytes including the NUL into out.
 */
CS_API void cs_readiness_model_version(const cs_readiness_config_t *cfg, char out[32]);

/* One number of a dimension's evidence: a static key and its value (NAN for SQL NULL). */
typedef struct cs_readiness_evidence {
    const char *key; /* static, the explanation's key, e.g. "target_proven" */
    double value;
    bool integer; /* rendered without a fraction */
} cs_readiness_evidence_t;

#define CS_READINESS_MAX_EVIDENCE 8

/* The single changes the explanation evaluates (each: one more unit, other inputs unchanged). */
typedef enum cs_readiness_action {
    CS_ACTION_NONE = 0,
    CS_ACTION_PROVE_SKILL,       /* bring one target skill to the proficient score */
    CS_ACTION_COMPLETE_CRITICAL, /* complete one more career-critical content item */
    CS_ACTION_FINISH_STARTED,    /* complete one content item already started */
    CS_ACTION_STUDY_WEEK,        /* study one more week at the planned hours (30-day window) */
    CS_ACTION_SHOWCASE_PROJECT,  /* make one more project showcase-ready */
    CS_ACTION_COMPLETE_PROJECT,  /* complete one more project */
    CS_ACTION_MOCK_INTERVIEW,    /* one more mock interview at the current average (70 first) */
    CS_ACTION_APPLY,             /* submit one more application */
    CS_ACTION_REACH_INTERVIEW,   /* one more submitted application reaches interviews */
    CS_ACTION_COACHING_SESSION,  /* complete one more coaching session */
    CS_ACTION_FIND_MENTOR,       /* start an active mentorship */
    CS_READINESS_NACTIONS
} cs_readiness_action_t;

typedef struct cs_readiness_change {
    cs_readiness_action_t action; /* CS_ACTION_NONE: no single change raises the score */
    cs_readiness_dim_t dim;       /* the dimension the change raises */
    int skill_index;              /* CS_ACTION_PROVE_SKILL with target_skills: its index, else -1 */
    const char *skill_id;         /* and its id, borrowed from the input (NULL when none) */
    double gain;                  /* overall points gained (> 0), rounded to 0.01 */
    double new_overall;           /* the overall score after the change */
} cs_readiness_change_t;

typedef struct cs_readiness_gap {
    cs_readiness_dim_t dim;
    double points_lost;           /* weight share x (100 - dimension score), rounded to 0.01 */
    cs_readiness_change_t change; /* the best single change within this dimension */
} cs_readiness_gap_t;

/* A score and its explanation. Caller storage; holds no pointers except static evidence keys and
 * skill ids borrowed from the input's target_skills (valid as long as the input is). */
typedef struct cs_readiness_score {
    double overall;                          /* 0..100, two decimals */
    double dim[CS_READINESS_NDIMS];          /* 0..100, two decimals */
    double weight_share[CS_READINESS_NDIMS]; /* weight / sum of weights */
    cs_readiness_stage_t stage;
    cs_readiness_evidence_t evidence[CS_READINESS_NDIMS][CS_READINESS_MAX_EVIDENCE];
    int n_evidence[CS_READINESS_NDIMS];
    cs_readiness_change_t best; /* the single change that raises the overall most */
    cs_readiness_gap_t gaps[CS_READINESS_NDIMS];
    int n_gaps; /* <= config.max_gaps, largest points_lost first */
} cs_readiness_score_t;

/*
 * Scores one learner. Returns -1 with a PERMANENT err naming the field when an input is out of
 * range (a negative count, a score above 100, a rating outside 1..5, completed > started ...);
 * out is then unspecified. Deterministic; allocates nothing.
 */
CS_API int cs_readiness_score(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in,
                              cs_readiness_score_t *out, cs_err_t *err);

/* The overall score only, without the explanation (the same number cs_readiness_score gives). */
CS_API int cs_readiness_overall(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in,
                                double *overall, cs_err_t *err);

/* What the last readiness_score_changed of a learner stated (NULL: none was ever emitted). */
typedef struct cs_readiness_last {
    double score;
    cs_readiness_stage_t stage;
} cs_readiness_last_t;

typedef enum cs_readiness_emit {
    CS_READINESS_EMIT_NONE = 0,
    CS_READINESS_EMIT_FIRST, /* no event was ever emitted for the learner */
    CS_READINESS_EMIT_STAGE, /* the stage changed */
    CS_READINESS_EMIT_MOVED  /* |score - last| >= emit_threshold (compared in hundredths) */
} cs_readiness_emit_t;

/*
 * Whether readiness_score_changed is due. Compare against the last EMITTED event, not the last
 * stored score, so that small drifts add up to an event and one change is never emitted twice:
 * once emitted, the new score becomes `last` and the same inputs give EMIT_NONE.
 */
CS_API cs_readiness_emit_t cs_readiness_should_emit(const cs_readiness_config_t *cfg,
                                                    const cs_readiness_last_t *last,
                                                    const cs_readiness_score_t *now);

/* Names: "skills", ..., "mentoring"; "exploring", ..., "placed"; "prove_skill", ...; "first",
 * "stage", "moved", "none". Never NULL (out of range: "?"). */
CS_API const char *cs_readiness_dim_name(cs_readiness_dim_t dim);
CS_API const char *cs_readiness_stage_name(cs_readiness_stage_t stage);
CS_API const char *cs_readiness_action_name(cs_readiness_action_t action);
CS_API const char *cs_readiness_emit_name(cs_readiness_emit_t emit);

/*
 * Parses a stage name: the contract's (exploring ... placed) or the schema's career_stage
 * (exploring, learning, job_ready, job_searching, transitioned, advancing; job_ready maps to
 * building_portfolio, transitioned and advancing to placed). Returns -1 when unknown.
 */
CS_API int cs_readiness_stage_parse(const char *name, cs_readiness_stage_t *stage);

/* The schema's career_stage for a stage (building_portfolio: job_ready, interviewing:
 * job_searching, placed: transitioned). Never NULL. */
CS_API const char *cs_readiness_stage_db_name(cs_readiness_stage_t stage);

/* Parses interview_preparation.readiness_rating (NULL: CS_MOCK_NONE). -1 when unknown. */
CS_API int cs_readiness_mock_rating_parse(const char *name, cs_readiness_mock_rating_t *rating);

/*
 * Appends the explanation as one compact JSON object to out (for
 * career_readiness_scores.explanation), format 2 (docs/readiness.md):
 * {"v":2,"overall":..,"stage":..,"skills":{"score":..,<evidence>},...,"mentoring":{..},
 *  "gaps":[{"dim":..,"lost":..,"change":<action>,"gain":..,"skill":<id>}],"best":{"gap":i}}
 * (best: the index of the gap whose change it is, else {"dim","change","gain"[,"skill"]}, null
 * when no single change raises the score). Every number an integer or rounded to 0.01, evidence
 * whose value is unknown left out, no configuration (the model version is stored beside it).
 * Keys are in a fixed order, so equal scores render byte-identical text. Always returns 0
 * (cs_buf aborts when memory runs out); cfg and err are kept for the signature's stability.
 */
CS_API int cs_readiness_explain_json(const cs_readiness_config_t *cfg,
                                     const cs_readiness_score_t *s, cs_buf_t *out, cs_err_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CS_READINESS_H */

/*
 * libcore/src/readiness.c
 *      The career-readiness score, its stage and its explanation (see cs/readiness.h).
 *
 * The formula, stated once (docs/readiness.md repeats it for readers of the data). Every part p
 * is clamped to [0, 1]; "n / target" means min(1, n / target); NULL averages count as 0.
 *
 *   skills     = 100 x (0.8 C + 0.2 D)
 *                C: demand-weighted coverage of the target skills,
 *                   sum(d_i x min(1, prof_i / proficient_score)) / sum(d_i), d_i the skill's
 *                   market demand (default_skill_demand when unknown, at least 1), prof_i its
 *                   latest proficiency (0 when never assessed); without per-skill rows
 *                   target_skills_proficient / target_skills_total; with no target skills
 *                   skills_proficient / general_skills_target.
 *                D: avg_skill_proficiency / 100.
 *   portfolio  = 100 x (0.5 showcase_ready / showcase_target + 0.3 completed / projects_target
 *                       + 0.2 avg_project_review_score / 100)
 *   interview  = 100 x (0.4 mocks / mock_target + 0.4 avg_mock_interview_score / 100
 *                       + 0.2 latest rating: not_ready 0, developing 1/3, ready 2/3, strong 1)
 *   learning   = 100 x (0.5 career_critical_completed / (career_critical_total, or
 *                            critical_content_target when unknown)
 *                       + 0.2 content_completed / content_started (0 when nothing started)
 *                       + 0.15 avg_content_score / 100
 *                       + 0.15 study hours in 30 days / (study hours per week x 30 / 7))
 *                study hours per week: available_study_hours_week, default_study_hours_week when
 *                unknown; a learner planning 0 hours gets the part full for any study at all.
 *   job_search = 100 x (0.3 submitted / applications_target + 0.4 interviewing /
 *                       interviews_target + 0.3 (1 when an offer was received))
 *   mentoring  = 100 x (0.4 sessions / sessions_target + 0.3 (avg_session_rating - 1) / 4
 *                       + 0.3 (1 with an active mentor))
 *   overall    = sum(weight_d x dimension_d) / sum(weight_d), dimensions rounded to 0.01 first.
 *
 * The stage is the highest one whose threshold the overall score reaches and whose evidence gate
 * holds (learning: content started or a skill assessed; building_portfolio: a project; job_
 * searching: an application; interviewing: an application in interviews; placed: an offer, or
 * the learner said transitioned/advancing). Exploring always holds. A higher score never lowers
 * the stage.
 *
 * The explanation evaluates every single change of cs_readiness_action_t on a copy of the
 * inputs and keeps the largest gain overall and per dimension (ties: the lower action, then the
 * lower skill index). Everything is computed in doubles in a fixed order, so results are
 * bit-identical across runs; comparisons against thresholds are made in hundredths.
 */
#include "cs/readiness.h"
#include "cs/text.h"

#include "tune.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_NAME "readiness-1"

static const char *const dim_names[CS_READINESS_NDIMS] = {
    "skills", "portfolio", "interview", "learning", "job_search", "mentoring",
};
static const char *const stage_contract[CS_READINESS_NSTAGES] = {
    "exploring", "learning", "building_portfolio", "job_searching", "interviewing", "placed",
};
static const char *const stage_db[CS_READINESS_NSTAGES] = {
    "exploring", "learning", "job_ready", "job_searching", "job_searching", "transitioned",
};
static const char *const action_names[CS_READINESS_NACTIONS] = {
    "none",       "prove_skill",      "complete_critical_content", "finish_started_content",
    "study_week", "showcase_project", "complete_project",          "mock_interview",
    "apply",      "reach_interview",  "coaching_session",          "find_mentor",
};
static const cs_readiness_dim_t action_dim[CS_READINESS_NACTIONS] = {
    CS_READINESS_SKILLS,     CS_READINESS_SKILLS,    CS_READINESS_LEARNING,
    CS_READINESS_LEARNING,   CS_READINESS_LEARNING,  CS_READINESS_PORTFOLIO,
    CS_READINESS_PORTFOLIO,  CS_READINESS_INTERVIEW, CS_READINESS_JOB_SEARCH,
    CS_READINESS_JOB_SEARCH, CS_READINESS_MENTORING, CS_READINESS_MENTORING,
};

/* ---- config -------------------------------------------------------------------------------- */

#define KEY(n, field, lo, hi)                                                                      \
    {                                                                                              \
        n, offsetof(cs_readiness_config_t, field), lo, hi, CS__TUNE_DOUBLE                         \
    }

/* Every tunable value, in the order the model version hashes them. */
static const cs__tune_key_t keys[] = {
    KEY("weight.skills", weight[CS_READINESS_SKILLS], 0, 100),
    KEY("weight.portfolio", weight[CS_READINESS_PORTFOLIO], 0, 100),
    KEY("weight.interview", weight[CS_READINESS_INTERVIEW], 0, 100),
    KEY("weight.learning", weight[CS_READINESS_LEARNING], 0, 100),
    KEY("weight.job_search", weight[CS_READINESS_JOB_SEARCH], 0, 100),
    KEY("weight.mentoring", weight[CS_READINESS_MENTORING], 0, 100),
    KEY("stage.learning", stage_min_score[CS_STAGE_LEARNING], 0, 100),
    KEY("stage.building_portfolio", stage_min_score[CS_STAGE_BUILDING_PORTFOLIO], 0, 100),
    KEY("stage.job_searching", stage_min_score[CS_STAGE_JOB_SEARCHING], 0, 100),
    KEY("stage.interviewing", stage_min_score[CS_STAGE_INTERVIEWING], 0, 100),
    KEY("stage.placed", stage_min_score[CS_STAGE_PLACED], 0, 100),
    KEY("skill.proficient_score", proficient_score, 1, 100),
    KEY("skill.default_demand", default_skill_demand, 1, 100),
    KEY("target.general_skills", general_skills_target, 1, 1000),
    KEY("target.critical_content", critical_content_target, 1, 10000),
    KEY("target.showcase_projects", showcase_target, 1, 100),
    KEY("target.completed_projects", projects_target, 1, 100),
    KEY("target.mock_interviews", mock_target, 1, 100),
    KEY("study.default_hours_week", default_study_hours_week, 0.5, 100),
    KEY("target.applications", applications_target, 1, 1000),
    KEY("target.interviews", interviews_target, 1, 1000),
    KEY("target.coaching_sessions", sessions_target, 1, 1000),
    KEY("emit.threshold", emit_threshold, 0.01, 100),
    {"explain.max_gaps", offsetof(cs_readiness_config_t, max_gaps), 0, CS_READINESS_NDIMS,
     CS__TUNE_INT},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

void cs_readiness_config_defaults(cs_readiness_config_t *cfg)
{
    static const double w[CS_READINESS_NDIMS] = {0.30, 0.20, 0.15, 0.15, 0.10, 0.10};
    static const double stage[CS_READINESS_NSTAGES] = {0, 10, 30, 45, 50, 0};

    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->weight, w, sizeof(w));
    memcpy(cfg->stage_min_score, stage, sizeof(stage));
    cfg->proficient_score = 70;
    cfg->default_skill_demand = 50;
    cfg->general_skills_target = 5;
    cfg->critical_content_target = 20;
    cfg->showcase_target = 2;
    cfg->projects_target = 3;
    cfg->mock_target = 5;
    cfg->default_study_hours_week = 5;
    cfg->applications_target = 10;
    cfg->interviews_target = 3;
    cfg->sessions_target = 6;
    cfg->emit_threshold = 1.0;
    cfg->max_gaps = 3;
}

int cs_readiness_config_set(cs_readiness_config_t *cfg, const char *key, const char *value,
                            cs_err_t *err)
{
    return cs__tune_set("readiness", keys, N_KEYS, cfg, key, value, err);
}

static int check_weights(const cs_readiness_config_t *cfg, cs_err_t *err)
{
    double wsum = 0;
    for (int d = 0; d < CS_READINESS_NDIMS; d++)
        wsum += cfg->weight[d];
    if (!(wsum > 0))
        return cs_err_set(err, CS_ERR_FATAL, "readiness config: the weights are all 0");
    return 0;
}

int cs_readiness_config_parse(cs_readiness_config_t *cfg, const char *spec, cs_err_t *err)
{
    cs_readiness_config_t work = *cfg;

    if (cs__tune_parse("readiness", keys, N_KEYS, &work, sizeof(work), spec, err) < 0 ||
        check_weights(&work, err) < 0)
        return -1;
    *cfg = work;
    return 0;
}

void cs_readiness_model_version(const cs_readiness_config_t *cfg, char out[32])
{
    cs_readiness_config_t def;
    bool same = true;

    cs_readiness_config_defaults(&def);
    for (size_t i = 0; i < N_KEYS; i++)
        if (cs__tune_get(cfg, &keys[i]) != cs__tune_get(&def, &keys[i]))
            same = false;
    if (same)
        snprintf(out, 32, "%s", MODEL_NAME);
    else
        snprintf(out, 32, "%s-%08x", MODEL_NAME, (unsigned)cs__tune_hash(keys, N_KEYS, cfg));
}

/* ---- names --------------------------------------------------------------------------------- */

const char *cs_readiness_dim_name(cs_readiness_dim_t dim)
{
    return (unsigned)dim < CS_READINESS_NDIMS ? dim_names[dim] : "?";
}

const char *cs_readiness_stage_name(cs_readiness_stage_t stage)
{
    return (unsigned)stage < CS_READINESS_NSTAGES ? stage_contract[stage] : "?";
}

const char *cs_readiness_stage_db_name(cs_readiness_stage_t stage)
{
    return (unsigned)stage < CS_READINESS_NSTAGES ? stage_db[stage] : "?";
}

const char *cs_readiness_action_name(cs_readiness_action_t action)
{
    return (unsigned)action < CS_READINESS_NACTIONS ? action_names[action] : "?";
}

const char *cs_readiness_emit_name(cs_readiness_emit_t emit)
{
    static const char *const n[] = {"none", "first", "stage", "moved"};
    return (unsigned)emit < 4 ? n[emit] : "?";
}

int cs_readiness_stage_parse(const char *name, cs_readiness_stage_t *stage)
{
    static const struct {
        const char *name;
        cs_readiness_stage_t stage;
    } extra[] = {
        {"job_ready", CS_STAGE_BUILDING_PORTFOLIO},
        {"transitioned", CS_STAGE_PLACED},
        {"advancing", CS_STAGE_PLACED},
    };
    if (!name)
        return -1;
    for (int s = 0; s < CS_READINESS_NSTAGES; s++)
        if (strcmp(name, stage_contract[s]) == 0) {
            *stage = (cs_readiness_stage_t)s;
            return 0;
        }
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        if (strcmp(name, extra[i].name) == 0) {
            *stage = extra[i].stage;
            return 0;
        }
    return -1;
}

int cs_readiness_mock_rating_parse(const char *name, cs_readiness_mock_rating_t *rating)
{
    static const char *const n[] = {"not_ready", "developing", "ready", "strong"};
    if (!name) {
        *rating = CS_MOCK_NONE;
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(name, n[i]) == 0) {
            *rating = (cs_readiness_mock_rating_t)(CS_MOCK_NOT_READY + i);
            return 0;
        }
    return -1;
}

/* ---- the formula --------------------------------------------------------------------------- */

static double r2(double x)
{
    return round(x * 100.0) / 100.0;
}

static long long hundredths(double x)
{
    return llround(x * 100.0);
}

static double clamp01(double x)
{
    return x < 0 ? 0 : (x > 1 ? 1 : x);
}

/* min(1, n / target) */
static double ratio(double n, double target)
{
    return clamp01(n / target);
}

/* A NULL (NAN) average counts as 0. */
static double or0(double x)
{
    return isnan(x) ? 0 : x;
}

/*
 * What a candidate change does to the inputs that cannot be expressed by editing a copy of the
 * struct: raising one per-skill row (the rows are borrowed and const).
 */
typedef struct view {
    const cs_readiness_input_t *in;
    int bumped_skill; /* index of a target skill treated as proven, or -1 */
} view_t;

static double skill_demand(const cs_readiness_config_t *cfg, const cs_readiness_skill_t *s)
{
    double d = isnan(s->demand) ? cfg->default_skill_demand : s->demand;
    return d < 1 ? 1 : d;
}

static double skill_credit(const cs_readiness_config_t *cfg, const view_t *v, int i)
{
    double p = or0(v->in->target_skills[i].proficiency);
    if (i == v->bumped_skill && p < cfg->proficient_score)
        p = cfg->proficient_score;
    return ratio(p, cfg->proficient_score);
}

/* The skills coverage C and, for the evidence, the proven and total target skills. */
static double skills_coverage(const cs_readiness_config_t *cfg, const view_t *v, int *proven,
                              int *total)
{
    const cs_readiness_input_t *in = v->in;

    if (in->target_skills && in->n_target_skills > 0) {
        double num = 0, den = 0;
        *proven = 0;
        for (int i = 0; i < in->n_target_skills; i++) {
            double d = skill_demand(cfg, &in->target_skills[i]);
            double c = skill_credit(cfg, v, i);
            num += d * c;
            den += d;
            if (c >= 1)
                (*proven)++;
        }
        *total = in->n_target_skills;
        return num / den;
    }
    if (in->target_skills_total > 0) {
        *proven = in->target_skills_proficient;
        *total = in->target_skills_total;
        return ratio(in->target_skills_proficient, in->target_skills_total);
    }
    *proven = in->skills_proficient;
    *total = 0;
    return ratio(in->skills_proficient, cfg->general_skills_target);
}

static double study_hours_week(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in)
{
    return isnan(in->available_study_hours_week) ? cfg->default_study_hours_week
                                                 : in->available_study_hours_week;
}

static double study_part(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in)
{
    double planned = study_hours_week(cfg, in) * 30.0 / 7.0;
    double done = (double)in->study_seconds_30d / 3600.0;
    if (planned <= 0)
        return done > 0 ? 1 : 0;
    return ratio(done, planned);
}

static double critical_denominator(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in)
{
    return in->career_critical_total > 0 ? in->career_critical_total : cfg->critical_content_target;
}

static double mock_rating_part(cs_readiness_mock_rating_t r)
{
    switch (r) {
    case CS_MOCK_DEVELOPING:
        return 1.0 / 3.0;
    case CS_MOCK_READY:
        return 2.0 / 3.0;
    case CS_MOCK_STRONG:
        return 1.0;
    default:
        return 0;
    }
}

/* Dimension d, unrounded. Each reads only the inputs its line of the formula names. */
static double dim_value(const cs_readiness_config_t *cfg, const view_t *v, cs_readiness_dim_t d)
{
    const cs_readiness_input_t *in = v->in;
    int proven, total;

    switch (d) {
    case CS_READINESS_SKILLS:
        return 100 * (0.8 * skills_coverage(cfg, v, &proven, &total) +
                      0.2 * clamp01(or0(in->avg_skill_proficiency) / 100));
    case CS_READINESS_PORTFOLIO:
        return 100 * (0.5 * ratio(in->projects_showcase_ready, cfg->showcase_target) +
                      0.3 * ratio(in->projects_completed, cfg->projects_target) +
                      0.2 * clamp01(or0(in->avg_project_review_score) / 100));
    case CS_READINESS_INTERVIEW:
        return 100 * (0.4 * ratio(in->mock_interviews_completed, cfg->mock_target) +
                      0.4 * clamp01(or0(in->avg_mock_interview_score) / 100) +
                      0.2 * mock_rating_part(in->latest_mock_readiness));
    case CS_READINESS_LEARNING:
        return 100 *
               (0.5 * ratio(in->career_critical_completed, critical_denominator(cfg, in)) +
                0.2 * (in->content_started > 0 ? ratio(in->content_completed, in->content_started)
                                               : 0) +
                0.15 * clamp01(or0(in->avg_content_score) / 100) + 0.15 * study_part(cfg, in));
    case CS_READINESS_JOB_SEARCH:
        return 100 * (0.3 * ratio(in->applications_submitted, cfg->applications_target) +
                      0.4 * ratio(in->applications_interviewing, cfg->interviews_target) +
                      0.3 * (in->offers_received > 0 ? 1 : 0));
    case CS_READINESS_MENTORING:
    default:
        return 100 *
               (0.4 * ratio(in->coaching_sessions_completed, cfg->sessions_target) +
                0.3 * (isnan(in->avg_session_rating) ? 0
                                                     : clamp01((in->avg_session_rating - 1) / 4)) +
                0.3 * (in->has_active_mentor ? 1 : 0));
    }
}

/* The overall score (rounded) of the six rounded dimensions. */
static double overall_of(const cs_readiness_config_t *cfg, const double dim[CS_READINESS_NDIMS])
{
    double wsum = 0, sum = 0;
    for (int d = 0; d < CS_READINESS_NDIMS; d++) {
        wsum += cfg->weight[d];
        sum += cfg->weight[d] * dim[d];
    }
    return r2(sum / wsum);
}

/* The six dimensions (rounded) and the overall score (rounded). */
static double evaluate(const cs_readiness_config_t *cfg, const view_t *v,
                       double dim[CS_READINESS_NDIMS])
{
    for (int d = 0; d < CS_READINESS_NDIMS; d++)
        dim[d] = r2(dim_value(cfg, v, (cs_readiness_dim_t)d));
    return overall_of(cfg, dim);
}

static bool stage_gate(const cs_readiness_input_t *in, int s)
{
    switch (s) {
    case CS_STAGE_EXPLORING:
        return true;
    case CS_STAGE_LEARNING:
        return in->content_started > 0 || in->skills_assessed > 0;
    case CS_STAGE_BUILDING_PORTFOLIO:
        return in->projects_total > 0;
    case CS_STAGE_JOB_SEARCHING:
        return in->applications_submitted > 0;
    case CS_STAGE_INTERVIEWING:
        return in->applications_interviewing > 0;
    case CS_STAGE_PLACED:
        return in->offers_received > 0 || in->declared_stage == CS_STAGE_PLACED;
    default:
        return false;
    }
}

static cs_readiness_stage_t stage_of(const cs_readiness_config_t *cfg,
                                     const cs_readiness_input_t *in, double overall)
{
    cs_readiness_stage_t stage = CS_STAGE_EXPLORING;
    for (int s = 1; s < CS_READINESS_NSTAGES; s++)
        if (hundredths(overall) >= hundredths(cfg->stage_min_score[s]) && stage_gate(in, s))
            stage = (cs_readiness_stage_t)s;
    return stage;
}

/* ---- validation ---------------------------------------------------------------------------- */

static int bad(cs_err_t *err, const char *field, const char *what)
{
    return cs_err_set_field(err, CS_ERR_PERMANENT, field, "readiness input %s: %s", field, what);
}

#define NONNEG(f)                                                                                  \
    do {                                                                                           \
        if (in->f < 0)                                                                             \
            return bad(err, #f, "is negative");                                                    \
    } while (0)
#define PCT(f)                                                                                     \
    do {                                                                                           \
        if (!isnan(in->f) && !(in->f >= 0 && in->f <= 100))                                        \
            return bad(err, #f, "is not in 0..100");                                               \
    } while (0)
#define AT_MOST(a, b)                                                                              \
    do {                                                                                           \
        if (in->a > in->b)                                                                         \
            return bad(err, #a, "exceeds " #b);                                                    \
    } while (0)

static int validate(const cs_readiness_input_t *in, cs_err_t *err)
{
    if ((unsigned)in->declared_stage >= CS_READINESS_NSTAGES)
        return bad(err, "declared_stage", "is not a stage");
    if ((unsigned)in->latest_mock_readiness > CS_MOCK_STRONG)
        return bad(err, "latest_mock_readiness", "is not a rating");
    NONNEG(days_in_program);
    NONNEG(content_started);
    NONNEG(content_completed);
    NONNEG(career_critical_completed);
    NONNEG(study_seconds_30d);
    NONNEG(skills_assessed);
    NONNEG(skills_proficient);
    NONNEG(target_skills_total);
    NONNEG(target_skills_proficient);
    NONNEG(projects_total);
    NONNEG(projects_completed);
    NONNEG(projects_showcase_ready);
    NONNEG(mock_interviews_completed);
    NONNEG(coaching_sessions_completed);
    NONNEG(applications_submitted);
    NONNEG(applications_interviewing);
    NONNEG(offers_received);
    NONNEG(n_target_skills);
    NONNEG(career_critical_total);
    AT_MOST(content_completed, content_started);
    AT_MOST(career_critical_completed, content_completed);
    AT_MOST(skills_proficient, skills_assessed);
    AT_MOST(target_skills_proficient, target_skills_total);
    AT_MOST(projects_completed, projects_total);
    AT_MOST(projects_showcase_ready, projects_total);
    AT_MOST(applications_interviewing, applications_submitted);
    AT_MOST(offers_received, applications_interviewing);
    if (in->career_critical_total > 0)
        AT_MOST(career_critical_completed, career_critical_total);
    PCT(target_industry_demand_index);
    PCT(avg_content_score);
    PCT(avg_skill_proficiency);
    PCT(avg_project_review_score);
    PCT(avg_mock_interview_score);
    if (!isnan(in->available_study_hours_week) &&
        !(in->available_study_hours_week >= 0 && in->available_study_hours_week <= 168))
        return bad(err, "available_study_hours_week", "is not in 0..168");
    if (!isnan(in->avg_session_rating) &&
        !(in->avg_session_rating >= 1 && in->avg_session_rating <= 5))
        return bad(err, "avg_session_rating", "is not in 1..5");
    if (in->n_target_skills > 0 && !in->target_skills)
        return bad(err, "target_skills", "is NULL with n_target_skills > 0");
    for (int i = 0; i < in->n_target_skills && in->target_skills; i++) {
        const cs_readiness_skill_t *s = &in->target_skills[i];
        if (!isnan(s->demand) && !(s->demand >= 0 && s->demand <= 100))
            return bad(err, "target_skills.demand", "is not in 0..100");
        if (!isnan(s->proficiency) && !(s->proficiency >= 0 && s->proficiency <= 100))
            return bad(err, "target_skills.proficiency", "is not in 0..100");
    }
    return 0;
}

static int check_cfg(const cs_readiness_config_t *cfg, cs_err_t *err)
{
    if (cs__tune_check("readiness", keys, N_KEYS, cfg, err) < 0)
        return -1;
    return check_weights(cfg, err);
}

int cs_readiness_overall(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in,
                         double *overall, cs_err_t *err)
{
    double dim[CS_READINESS_NDIMS];
    view_t v = {in, -1};

    if (check_cfg(cfg, err) < 0 || validate(in, err) < 0)
        return -1;
    *overall = evaluate(cfg, &v, dim);
    return 0;
}

/* ---- the explanation ----------------------------------------------------------------------- */

static void add_ev(cs_readiness_score_t *s, cs_readiness_dim_t d, const char *key, double value,
                   bool integer)
{
    int n = s->n_evidence[d];
    if (n >= CS_READINESS_MAX_EVIDENCE)
        return;
    s->evidence[d][n].key = key;
    s->evidence[d][n].value = value;
    s->evidence[d][n].integer = integer;
    s->n_evidence[d] = n + 1;
}

/* Averages are evidence rounded to 0.01 (the score uses them unrounded); NAN stays NAN. */
static double ev2(double x)
{
    return isnan(x) ? x : r2(x);
}

/*
 * The evidence of each dimension: what the learner did, never configuration (the model version
 * names the targets). Keys are the explanation's (docs/readiness.md, format 2).
 */
static void fill_evidence(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in,
                          cs_readiness_score_t *s)
{
    view_t v = {in, -1};
    int proven, total;
    double cov = skills_coverage(cfg, &v, &proven, &total);

    add_ev(s, CS_READINESS_SKILLS, "target_proven", total > 0 ? proven : NAN, true);
    add_ev(s, CS_READINESS_SKILLS, "target_total", total, true);
    add_ev(s, CS_READINESS_SKILLS, "coverage_pct", r2(100 * cov), false);
    add_ev(s, CS_READINESS_SKILLS, "proficient", in->skills_proficient, true);
    add_ev(s, CS_READINESS_SKILLS, "assessed", in->skills_assessed, true);
    add_ev(s, CS_READINESS_SKILLS, "avg_proficiency", ev2(in->avg_skill_proficiency), false);

    add_ev(s, CS_READINESS_PORTFOLIO, "showcase_ready", in->projects_showcase_ready, true);
    add_ev(s, CS_READINESS_PORTFOLIO, "completed", in->projects_completed, true);
    add_ev(s, CS_READINESS_PORTFOLIO, "projects", in->projects_total, true);
    add_ev(s, CS_READINESS_PORTFOLIO, "avg_review", ev2(in->avg_project_review_score), false);

    add_ev(s, CS_READINESS_INTERVIEW, "mocks", in->mock_interviews_completed, true);
    add_ev(s, CS_READINESS_INTERVIEW, "avg_score", ev2(in->avg_mock_interview_score), false);
    add_ev(s, CS_READINESS_INTERVIEW, "latest_rating", in->latest_mock_readiness, true);

    add_ev(s, CS_READINESS_LEARNING, "critical_done", in->career_critical_completed, true);
    add_ev(s, CS_READINESS_LEARNING, "critical_of", critical_denominator(cfg, in), true);
    add_ev(s, CS_READINESS_LEARNING, "completed", in->content_completed, true);
    add_ev(s, CS_READINESS_LEARNING, "started", in->content_started, true);
    add_ev(s, CS_READINESS_LEARNING, "avg_score", ev2(in->avg_content_score), false);
    add_ev(s, CS_READINESS_LEARNING, "study_h_30d", r2((double)in->study_seconds_30d / 3600.0),
           false);
    add_ev(s, CS_READINESS_LEARNING, "plan_h_30d", r2(study_hours_week(cfg, in) * 30.0 / 7.0),
           false);

    add_ev(s, CS_READINESS_JOB_SEARCH, "applied", in->applications_submitted, true);
    add_ev(s, CS_READINESS_JOB_SEARCH, "interviewing", in->applications_interviewing, true);
    add_ev(s, CS_READINESS_JOB_SEARCH, "offers", in->offers_received, true);

    add_ev(s, CS_READINESS_MENTORING, "sessions", in->coaching_sessions_completed, true);
    add_ev(s, CS_READINESS_MENTORING, "avg_rating", ev2(in->avg_session_rating), false);
    add_ev(s, CS_READINESS_MENTORING, "mentor", in->has_active_mentor ? 1 : 0, true);
}

/*
 * Proving one more skill: with target skills listed, the best one to prove is the one with the
 * largest demand x missing credit (the overall score is increasing in the coverage, which is linear
 * in each credit), marked in the view; false when every one has full credit. Without the list, one
 * more proficient skill (and target skill, unless all are).
 */
static inline bool prove_skill(const cs_readiness_config_t *cfg, cs_readiness_input_t *c, view_t *v)
{
    if (c->target_skills && c->n_target_skills > 0) {
        double best = 0;
        int bi = -1;
        for (int i = 0; i < c->n_target_skills; i++) {
            double gain = skill_demand(cfg, &c->target_skills[i]) * (1 - skill_credit(cfg, v, i));
            if (gain > best) {
                best = gain;
                bi = i;
            }
        }
        if (bi < 0)
            return false;
        v->bumped_skill = bi;
        return true;
    }
    if (c->target_skills_total > 0) {
        if (c->target_skills_proficient >= c->target_skills_total)
            return false;
        c->target_skills_proficient++;
    }
    c->skills_proficient++;
    if (c->skills_proficient > c->skills_assessed)
        c->skills_assessed = c->skills_proficient;
    return true;
}

/* One more showcase-ready project: a new completed one when all are showcased already, else one
 * more of them completed if it was not. */
static inline void showcase_project(cs_readiness_input_t *c)
{
    if (c->projects_showcase_ready >= c->projects_total) {
        c->projects_total++;
        c->projects_completed++;
    }
    c->projects_showcase_ready++;
    if (c->projects_completed < c->projects_showcase_ready &&
        c->projects_completed < c->projects_total)
        c->projects_completed++;
}

/*
 * Applies one action to a copy of the inputs (and the view). Returns false when the action does
 * not apply (already full, nothing to finish, ...), so it is not a candidate.
 */
static bool apply_action(const cs_readiness_config_t *cfg, cs_readiness_action_t a,
                         cs_readiness_input_t *c, view_t *v)
{
    switch (a) {
    case CS_ACTION_PROVE_SKILL:
        return prove_skill(cfg, c, v);
    case CS_ACTION_COMPLETE_CRITICAL:
        if (c->career_critical_total > 0 &&
            c->career_critical_completed >= c->career_critical_total)
            return false;
        c->career_critical_completed++;
        c->content_completed++;
        if (c->content_started < c->content_completed)
            c->content_started = c->content_completed;
        return true;
    case CS_ACTION_FINISH_STARTED:
        if (c->content_completed >= c->content_started)
            return false;
        c->content_completed++;
        return true;
    case CS_ACTION_STUDY_WEEK: {
        double h = study_hours_week(cfg, c);
        if (h <= 0)
            h = 1;
        c->study_seconds_30d += (int64_t)llround(h * 3600.0);
        return true;
    }
    case CS_ACTION_SHOWCASE_PROJECT:
        showcase_project(c);
        return true;
    case CS_ACTION_COMPLETE_PROJECT:
        if (c->projects_completed >= c->projects_total)
            c->projects_total++;
        c->projects_completed++;
        return true;
    case CS_ACTION_MOCK_INTERVIEW:
        c->mock_interviews_completed++;
        if (isnan(c->avg_mock_interview_score))
            c->avg_mock_interview_score = cfg->proficient_score;
        return true;
    case CS_ACTION_APPLY:
        c->applications_submitted++;
        return true;
    case CS_ACTION_REACH_INTERVIEW:
        if (c->applications_interviewing >= c->applications_submitted)
            return false;
        c->applications_interviewing++;
        return true;
    case CS_ACTION_COACHING_SESSION:
        c->coaching_sessions_completed++;
        return true;
    case CS_ACTION_FIND_MENTOR:
        if (c->has_active_mentor)
            return false;
        c->has_active_mentor = true;
        return true;
    default:
        return false;
    }
}

/*
 * Every single change, scored against out->overall: out->best, and best_in_dim[d] the best of
 * those in each dimension (left as they are when none gains); strict > keeps the lower action on
 * ties.
 */
static inline void score_changes(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in,
                                 cs_readiness_score_t *out, cs_readiness_change_t *best_in_dim)
{
    out->best =
        (cs_readiness_change_t){CS_ACTION_NONE, CS_READINESS_SKILLS, -1, NULL, 0, out->overall};
    for (int a = CS_ACTION_NONE + 1; a < CS_READINESS_NACTIONS; a++) {
        cs_readiness_input_t c = *in;
        view_t cv = {&c, -1};
        double dim[CS_READINESS_NDIMS];
        if (!apply_action(cfg, (cs_readiness_action_t)a, &c, &cv))
            continue;
        /* An action changes only inputs of its own dimension (apply_action): the others keep
         * their values, so only that one is computed again (the same operations in the same
         * order as evaluate: the same bits; test changes_rescored). */
        memcpy(dim, out->dim, sizeof dim);
        dim[action_dim[a]] = r2(dim_value(cfg, &cv, action_dim[a]));
        double after = overall_of(cfg, dim);
        double gain = r2(after - out->overall);
        if (!(gain > 0))
            continue;
        cs_readiness_change_t ch = {
            (cs_readiness_action_t)a,
            action_dim[a],
            cv.bumped_skill,
            cv.bumped_skill >= 0 ? in->target_skills[cv.bumped_skill].skill_id : NULL,
            gain,
            after};
        if (gain > best_in_dim[ch.dim].gain)
            best_in_dim[ch.dim] = ch;
        if (gain > out->best.gain)
            out->best = ch;
    }
}

/* Gaps: the dimensions losing the most points, largest first (ties: dimension order), at most
 * cfg->max_gaps, each with the best change in it. */
static inline void list_gaps(const cs_readiness_config_t *cfg, cs_readiness_score_t *out,
                             const cs_readiness_change_t *best_in_dim)
{
    int order[CS_READINESS_NDIMS];

    for (int d = 0; d < CS_READINESS_NDIMS; d++)
        order[d] = d;
    for (int i = 1; i < CS_READINESS_NDIMS; i++)
        for (int j = i; j > 0; j--) {
            double a = out->weight_share[order[j]] * (100 - out->dim[order[j]]);
            double b = out->weight_share[order[j - 1]] * (100 - out->dim[order[j - 1]]);
            if (!(a > b))
                break;
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int i = 0; i < CS_READINESS_NDIMS && out->n_gaps < cfg->max_gaps; i++) {
        int d = order[i];
        double lost = r2(out->weight_share[d] * (100 - out->dim[d]));
        if (!(lost > 0))
            break;
        out->gaps[out->n_gaps++] =
            (cs_readiness_gap_t){(cs_readiness_dim_t)d, lost, best_in_dim[d]};
    }
}

int cs_readiness_score(const cs_readiness_config_t *cfg, const cs_readiness_input_t *in,
                       cs_readiness_score_t *out, cs_err_t *err)
{
    view_t v = {in, -1};
    double wsum = 0;
    cs_readiness_change_t best_in_dim[CS_READINESS_NDIMS];

    if (check_cfg(cfg, err) < 0 || validate(in, err) < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->overall = evaluate(cfg, &v, out->dim);
    out->stage = stage_of(cfg, in, out->overall);
    for (int d = 0; d < CS_READINESS_NDIMS; d++)
        wsum += cfg->weight[d];
    for (int d = 0; d < CS_READINESS_NDIMS; d++) {
        out->weight_share[d] = cfg->weight[d] / wsum;
        best_in_dim[d] =
            (cs_readiness_change_t){CS_ACTION_NONE, (cs_readiness_dim_t)d, -1, NULL, 0, 0};
    }
    fill_evidence(cfg, in, out);

    score_changes(cfg, in, out, best_in_dim);
    list_gaps(cfg, out, best_in_dim);
    return 0;
}

cs_readiness_emit_t cs_readiness_should_emit(const cs_readiness_config_t *cfg,
                                             const cs_readiness_last_t *last,
                                             const cs_readiness_score_t *now)
{
    if (!last)
        return CS_READINESS_EMIT_FIRST;
    if (last->stage != now->stage)
        return CS_READINESS_EMIT_STAGE;
    if (llabs(hundredths(now->overall) - hundredths(last->score)) >=
        hundredths(cfg->emit_threshold))
        return CS_READINESS_EMIT_MOVED;
    return CS_READINESS_EMIT_NONE;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/*
 * Format 2 ("v":2, docs/readiness.md): written with cs_buf directly (a jansson tree cost five
 * times the score) and without printf: every number is an integer or a value rounded to 0.01,
 * rendered from its hundredths (the digits %.12g gives for them, trailing zeros dropped). Keys in
 * a fixed order, a key whose value is unknown (NAN) left out, so the same score renders the same
 * bytes. Strings are static identifiers or escaped by cs_text_json_str.
 *
 * The bytes go through a cursor into room reserved in the buffer (jw_t), not one cs_buf_append
 * per piece: an explanation is ~100 pieces, and the calls were most of its cost.
 */
typedef struct jw {
    cs_buf_t *b;
    char *p, *end; /* the cursor, and the end of the room reserved after it */
} jw_t;

/* Room for every piece but a skill id: a key or name (< 32 bytes) with its punctuation and a
 * number (< CS_TEXT_DEC2_BYTES). */
#define JW_PIECE 128
#define JW_ROOM  1024

/* What the cursor wrote, committed to the buffer. */
static void jw_sync(jw_t *w)
{
    cs_buf_advance(w->b, (size_t)(w->p - (w->b->data + w->b->len)));
}

static void jw_reserve(jw_t *w)
{
    w->p = cs_buf_reserve(w->b, JW_ROOM);
    w->end = w->p + JW_ROOM;
}

/* Makes room for one piece. */
static inline void jw_room(jw_t *w)
{
    if (w->end - w->p < JW_PIECE) {
        jw_sync(w);
        jw_reserve(w);
    }
}

static inline void put_lit(jw_t *w, const char *s, size_t n)
{
    memcpy(w->p, s, n);
    w->p += n;
}
#define PUT(w, lit) put_lit(w, lit, sizeof(lit) - 1)

static inline void put_c(jw_t *w, char c)
{
    *w->p++ = c;
}

static void put_num(jw_t *w, double v, bool integer)
{
    if (isnan(v)) {
        PUT(w, "null");
        return;
    }
    if (integer) {
        w->p += cs_text_i64(w->p, llround(v));
        return;
    }
    w->p += cs_text_hundredths(w->p, llround(v * 100.0), true);
}

/* A static identifier, quoted (nothing to escape). */
static inline void put_name(jw_t *w, const char *s)
{
    size_t n = strlen(s);
    *w->p++ = '"';
    memcpy(w->p, s, n);
    w->p += n;
    *w->p++ = '"';
}

/* ,"change":"<action>","gain":g[,"skill":"<id>"] (nothing when there is no change) */
static void put_change(jw_t *w, const cs_readiness_change_t *c)
{
    if (c->action == CS_ACTION_NONE)
        return;
    jw_room(w);
    PUT(w, ",\"change\":");
    put_name(w, action_names[c->action]);
    PUT(w, ",\"gain\":");
    put_num(w, c->gain, false);
    if (c->skill_id) {
        PUT(w, ",\"skill\":");
        jw_sync(w);
        cs_text_json_str(w->b, c->skill_id, strlen(c->skill_id), CS_TEXT_JSON);
        jw_reserve(w);
    }
}

/* "best": the index of the gap whose change it is, else the change with its dimension. */
static void put_best(jw_t *w, const cs_readiness_score_t *s)
{
    jw_room(w);
    PUT(w, ",\"best\":");
    if (s->best.action == CS_ACTION_NONE) {
        PUT(w, "null");
        return;
    }
    for (int i = 0; i < s->n_gaps; i++)
        if (s->gaps[i].change.action == s->best.action && s->gaps[i].dim == s->best.dim) {
            PUT(w, "{\"gap\":");
            put_num(w, i, true);
            put_c(w, '}');
            return;
        }
    PUT(w, "{\"dim\":");
    put_name(w, dim_names[s->best.dim]);
    put_change(w, &s->best);
    jw_room(w);
    put_c(w, '}');
}

int cs_readiness_explain_json(const cs_readiness_config_t *cfg, const cs_readiness_score_t *s,
                              cs_buf_t *out, cs_err_t *err)
{
    (void)cfg; /* the model version is stored beside the explanation */
    (void)err; /* cs_buf aborts on out of memory; nothing else can fail */
    jw_t w = {out, NULL, NULL};
    jw_reserve(&w);
    PUT(&w, "{\"v\":2,\"overall\":");
    put_num(&w, s->overall, false);
    PUT(&w, ",\"stage\":");
    put_name(&w, cs_readiness_stage_name(s->stage));
    for (int d = 0; d < CS_READINESS_NDIMS; d++) {
        jw_room(&w);
        put_c(&w, ',');
        put_name(&w, dim_names[d]);
        PUT(&w, ":{\"score\":");
        put_num(&w, s->dim[d], false);
        for (int i = 0; i < s->n_evidence[d]; i++) {
            const cs_readiness_evidence_t *e = &s->evidence[d][i];
            if (isnan(e->value))
                continue;
            jw_room(&w);
            put_c(&w, ',');
            put_name(&w, e->key);
            put_c(&w, ':');
            put_num(&w, e->value, e->integer);
        }
        put_c(&w, '}');
    }
    jw_room(&w);
    PUT(&w, ",\"gaps\":[");
    for (int i = 0; i < s->n_gaps; i++) {
        jw_room(&w);
        if (i)
            put_c(&w, ',');
        PUT(&w, "{\"dim\":");
        put_name(&w, dim_names[s->gaps[i].dim]);
        PUT(&w, ",\"lost\":");
        put_num(&w, s->gaps[i].points_lost, false);
        put_change(&w, &s->gaps[i].change);
        jw_room(&w);
        put_c(&w, '}');
    }
    put_c(&w, ']');
    put_best(&w, s);
    jw_room(&w);
    put_c(&w, '}');
    jw_sync(&w);
    return 0;
}

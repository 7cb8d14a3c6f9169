/*
 * tests/unit/test_readiness.c
 *      Check suite for cs/readiness.h: a hand-computed learner, edge cases (no skills, nothing
 *      at all, per-skill demand weighting, evidence gates), the emit rule, config overrides, the
 *      JSON explanation, and properties on random learners (monotone, deterministic).
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/mem.h"
#include "cs/readiness.h"

#define EPS 1e-9

/*
 * The hand-computed learner (defaults):
 *   skills     4 of 8 target skills proven, avg proficiency 60: 100 x (0.8 x 0.5 + 0.2 x 0.6) = 52
 *   portfolio  1 showcase-ready of 2, 2 completed of 3, reviews 80:
 *              100 x (0.5 x 0.5 + 0.3 x 2/3 + 0.2 x 0.8) = 61
 *   interview  2 mocks of 5, avg 65, latest "ready":
 *              100 x (0.4 x 0.4 + 0.4 x 0.65 + 0.2 x 2/3) = 55.33
 *   learning   10 critical of 20, 30 of 40 started completed, avg 85, 30 h of 10 h/week x 30/7:
 *              100 x (0.5 x 0.5 + 0.2 x 0.75 + 0.15 x 0.85 + 0.15 x 0.7) = 63.25
 *   job_search 5 applications of 10, 1 interviewing of 3, no offer:
 *              100 x (0.3 x 0.5 + 0.4 x 1/3) = 28.33
 *   mentoring  3 sessions of 6, rating 4.0, active mentor: 100 x (0.4 x 0.5 + 0.3 x 0.75 + 0.3)
 * = 72.5 overall    0.3 x 52 + 0.2 x 61 + 0.15 x 55.33 + 0.15 x 63.25 + 0.1 x 28.33 + 0.1 x 72.5
 * = 55.67 stage      55.67 >= 50 and an application is in interviews: interviewing changes
 * showcase-ready project: portfolio 86, +5.00 (the best); prove a skill: skills 62, +3.00; complete
 * a project: +2.00; reach an interview: job_search 41.67, +1.33 gaps       skills 0.3 x 48 = 14.4,
 * portfolio 0.2 x 39 = 7.8, job_search 0.1 x 71.67 = 7.17
 */
static cs_readiness_input_t typical(void)
{
    cs_readiness_input_t in;
    memset(&in, 0, sizeof(in));
    in.declared_stage = CS_STAGE_LEARNING;
    in.has_target_industry = true;
    in.target_industry_demand_index = 72;
    in.available_study_hours_week = 10;
    in.days_in_program = 90;
    in.content_started = 40;
    in.content_completed = 30;
    in.career_critical_completed = 10;
    in.avg_content_score = 85;
    in.study_seconds_30d = 108000;
    in.skills_assessed = 6;
    in.skills_proficient = 4;
    in.target_skills_total = 8;
    in.target_skills_proficient = 4;
    in.avg_skill_proficiency = 60;
    in.projects_total = 3;
    in.projects_completed = 2;
    in.projects_showcase_ready = 1;
    in.avg_project_review_score = 80;
    in.mock_interviews_completed = 2;
    in.avg_mock_interview_score = 65;
    in.latest_mock_readiness = CS_MOCK_READY;
    in.coaching_sessions_completed = 3;
    in.avg_session_rating = 4.0;
    in.has_active_mentor = true;
    in.applications_submitted = 5;
    in.applications_interviewing = 1;
    in.offers_received = 0;
    return in;
}

static cs_readiness_input_t empty(void)
{
    cs_readiness_input_t in;
    memset(&in, 0, sizeof(in));
    in.target_industry_demand_index = NAN;
    in.available_study_hours_week = NAN;
    in.avg_content_score = NAN;
    in.avg_skill_proficiency = NAN;
    in.avg_project_review_score = NAN;
    in.avg_mock_interview_score = NAN;
    in.avg_session_rating = NAN;
    return in;
}

START_TEST(hand_computed)
{
    cs_readiness_config_t cfg;
    cs_readiness_input_t in = typical();
    cs_readiness_score_t s;
    cs_err_t err;
    static const double want[CS_READINESS_NDIMS] = {52, 61, 55.33, 63.25, 28.33, 72.5};

    cs_readiness_config_defaults(&cfg);
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    for (int d = 0; d < CS_READINESS_NDIMS; d++)
        ck_assert_msg(fabs(s.dim[d] - want[d]) < EPS, "%s: %.4f, want %.2f",
                      cs_readiness_dim_name(d), s.dim[d], want[d]);
    ck_assert_double_eq_tol(s.overall, 55.67, EPS);
    ck_assert_int_eq(s.stage, CS_STAGE_INTERVIEWING);
    ck_assert_int_eq(s.best.action, CS_ACTION_SHOWCASE_PROJECT);
    ck_assert_int_eq(s.best.dim, CS_READINESS_PORTFOLIO);
    ck_assert_double_eq_tol(s.best.gain, 5.0, EPS);
    ck_assert_double_eq_tol(s.best.new_overall, 60.67, EPS);
    ck_assert_int_eq(s.n_gaps, 3);
    ck_assert_int_eq(s.gaps[0].dim, CS_READINESS_SKILLS);
    ck_assert_double_eq_tol(s.gaps[0].points_lost, 14.4, EPS);
    ck_assert_int_eq(s.gaps[0].change.action, CS_ACTION_PROVE_SKILL);
    ck_assert_double_eq_tol(s.gaps[0].change.gain, 3.0, EPS);
    ck_assert_int_eq(s.gaps[1].dim, CS_READINESS_PORTFOLIO);
    ck_assert_double_eq_tol(s.gaps[1].points_lost, 7.8, EPS);
    ck_assert_int_eq(s.gaps[1].change.action, CS_ACTION_SHOWCASE_PROJECT);
    ck_assert_int_eq(s.gaps[2].dim, CS_READINESS_JOB_SEARCH);
    ck_assert_double_eq_tol(s.gaps[2].points_lost, 7.17, EPS);
    ck_assert_int_eq(s.gaps[2].change.action, CS_ACTION_REACH_INTERVIEW);
    ck_assert_double_eq_tol(s.gaps[2].change.gain, 1.33, EPS);
    /* evidence: x of y */
    ck_assert_str_eq(s.evidence[CS_READINESS_SKILLS][0].key, "target_proven");
    ck_assert_double_eq(s.evidence[CS_READINESS_SKILLS][0].value, 4);
    ck_assert_str_eq(s.evidence[CS_READINESS_SKILLS][1].key, "target_total");
    ck_assert_double_eq(s.evidence[CS_READINESS_SKILLS][1].value, 8);
    ck_assert_str_eq(s.evidence[CS_READINESS_PORTFOLIO][0].key, "showcase_ready");
    ck_assert_double_eq(s.evidence[CS_READINESS_PORTFOLIO][0].value, 1);

    double overall;
    ck_assert_int_eq(cs_readiness_overall(&cfg, &in, &overall, &err), 0);
    ck_assert_double_eq(overall, s.overall);
}
END_TEST

START_TEST(nothing_at_all)
{
    cs_readiness_config_t cfg;
    cs_readiness_input_t in = empty();
    cs_readiness_score_t s;
    cs_err_t err;

    cs_readiness_config_defaults(&cfg);
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    for (int d = 0; d < CS_READINESS_NDIMS; d++)
        ck_assert_double_eq(s.dim[d], 0);
    ck_assert_double_eq(s.overall, 0);
    ck_assert_int_eq(s.stage, CS_STAGE_EXPLORING);
    /* The first showcase-ready project (also completed): portfolio 100 x (0.25 + 0.1) = 35,
     * 0.2 x 35 = +7.00, more than a first mock interview (+5.40) or a proven skill (+4.80). */
    ck_assert_int_eq(s.best.action, CS_ACTION_SHOWCASE_PROJECT);
    ck_assert_double_eq_tol(s.best.gain, 7.0, EPS);
    /* Every dimension loses points; the three largest are listed, skills first. */
    ck_assert_int_eq(s.n_gaps, 3);
    ck_assert_int_eq(s.gaps[0].dim, CS_READINESS_SKILLS);
    ck_assert_double_eq_tol(s.gaps[0].points_lost, 30, EPS);
    ck_assert_int_eq(s.gaps[0].change.action, CS_ACTION_PROVE_SKILL);
    ck_assert_double_eq_tol(s.gaps[0].change.gain, 4.8, EPS);
    /* no target skills: the x of y evidence is null, the general count is there */
    ck_assert(isnan(s.evidence[CS_READINESS_SKILLS][0].value));
    ck_assert_double_eq(s.evidence[CS_READINESS_SKILLS][1].value, 0);
}
END_TEST

START_TEST(no_skills_with_targets)
{
    /* Target skills set, none assessed: coverage 0, proving one of 4 gives 0.8 x 0.25 = 20. */
    cs_readiness_config_t cfg;
    cs_readiness_input_t in = empty();
    cs_readiness_score_t s;
    cs_err_t err;

    cs_readiness_config_defaults(&cfg);
    in.target_skills_total = 4;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_double_eq(s.dim[CS_READINESS_SKILLS], 0);
    ck_assert_int_eq(s.gaps[0].dim, CS_READINESS_SKILLS);
    ck_assert_int_eq(s.gaps[0].change.action, CS_ACTION_PROVE_SKILL);
    ck_assert_double_eq_tol(s.gaps[0].change.gain, 6.0, EPS); /* 0.3 x 20 */
    ck_assert_double_eq(s.evidence[CS_READINESS_SKILLS][0].value, 0);
    ck_assert_double_eq(s.evidence[CS_READINESS_SKILLS][1].value, 4);
}
END_TEST

START_TEST(demand_weighted_skills)
{
    /* Two target skills, demand 90 and 10. Proven: only the low-demand one (80 >= 70), the
     * other at 35 (half credit): C = (90 x 0.5 + 10 x 1) / 100 = 0.55, skills = 44. The best
     * change proves the high-demand skill: C = 1, skills 80, +36 x 0.3 = +10.80. */
    cs_readiness_config_t cfg;
    cs_readiness_input_t in = empty();
    cs_readiness_score_t s;
    cs_err_t err;
    cs_readiness_skill_t sk[2] = {{"sql", 90, 35}, {"excel", 10, 80}};

    cs_readiness_config_defaults(&cfg);
    in.target_skills = sk;
    in.n_target_skills = 2;
    in.target_skills_total = 2;
    in.skills_assessed = 2;
    in.skills_proficient = 1;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_double_eq_tol(s.dim[CS_READINESS_SKILLS], 44, EPS);
    ck_assert_int_eq(s.best.action, CS_ACTION_PROVE_SKILL);
    ck_assert_int_eq(s.best.skill_index, 0);
    ck_assert_str_eq(s.best.skill_id, "sql");
    ck_assert_double_eq_tol(s.best.gain, 10.8, EPS);
    ck_assert_double_eq(s.evidence[CS_READINESS_SKILLS][0].value, 1); /* 1 of 2 proven */

    /* Demand decides: with the demands swapped the same learner is far readier. */
    sk[0].demand = 10;
    sk[1].demand = 90;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_double_eq_tol(s.dim[CS_READINESS_SKILLS], 76, EPS); /* (5 + 90) / 100 x 80 */

    /* Unknown demand counts as default_skill_demand (50). */
    sk[0].demand = NAN;
    sk[1].demand = NAN;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_double_eq_tol(s.dim[CS_READINESS_SKILLS], 60, EPS); /* 0.75 x 80 */
}
END_TEST

START_TEST(stage_gates)
{
    /* A high score without any application is not job searching; an offer means placed. */
    cs_readiness_config_t cfg;
    cs_readiness_input_t in = typical();
    cs_readiness_score_t s;
    cs_err_t err;

    cs_readiness_config_defaults(&cfg);
    in.applications_submitted = in.applications_interviewing = in.offers_received = 0;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_double_ge(s.overall, 45);
    ck_assert_int_eq(s.stage, CS_STAGE_BUILDING_PORTFOLIO);
    in = typical();
    in.offers_received = 1;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_int_eq(s.stage, CS_STAGE_PLACED);
    in = empty();
    in.declared_stage = CS_STAGE_PLACED; /* said "transitioned" */
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_int_eq(s.stage, CS_STAGE_PLACED);
    /* A threshold override moves the boundary. */
    in = typical();
    ck_assert_int_eq(cs_readiness_config_parse(&cfg, "stage.interviewing=60", &err), 0);
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_int_eq(s.stage, CS_STAGE_JOB_SEARCHING);
}
END_TEST

START_TEST(emit_rule)
{
    cs_readiness_config_t cfg;
    cs_readiness_score_t now;
    cs_readiness_last_t last = {55.67, CS_STAGE_INTERVIEWING};

    cs_readiness_config_defaults(&cfg);
    memset(&now, 0, sizeof(now));
    now.overall = 55.67;
    now.stage = CS_STAGE_INTERVIEWING;
    ck_assert_int_eq(cs_readiness_should_emit(&cfg, NULL, &now), CS_READINESS_EMIT_FIRST);
    ck_assert_int_eq(cs_readiness_should_emit(&cfg, &last, &now), CS_READINESS_EMIT_NONE);
    now.overall = 56.66; /* 0.99 */
    ck_assert_int_eq(cs_readiness_should_emit(&cfg, &last, &now), CS_READINESS_EMIT_NONE);
    now.overall = 56.67; /* 1.00, exactly the threshold (compared in hundredths) */
    ck_assert_int_eq(cs_readiness_should_emit(&cfg, &last, &now), CS_READINESS_EMIT_MOVED);
    now.overall = 54.67; /* down counts too */
    ck_assert_int_eq(cs_readiness_should_emit(&cfg, &last, &now), CS_READINESS_EMIT_MOVED);
    now.overall = 55.70;
    now.stage = CS_STAGE_PLACED;
    ck_assert_int_eq(cs_readiness_should_emit(&cfg, &last, &now), CS_READINESS_EMIT_STAGE);
    /* Once emitted, the same score is not emitted again. */
    last.score = now.overall;
    last.stage = now.stage;
    ck_assert_int_eq(cs_readiness_should_emit(&cfg, &last, &now), CS_READINESS_EMIT_NONE);
    ck_assert_str_eq(cs_readiness_emit_name(CS_READINESS_EMIT_MOVED), "moved");
}
END_TEST

START_TEST(config_overrides)
{
    cs_readiness_config_t cfg, before;
    cs_err_t err;
    char v0[32], v1[32];

    cs_readiness_config_defaults(&cfg);
    cs_readiness_model_version(&cfg, v0);
    ck_assert_str_eq(v0, "readiness-1");
    ck_assert_int_eq(cs_readiness_config_parse(&cfg, "", &err), 0);
    ck_assert_int_eq(cs_readiness_config_parse(
                         &cfg, "weight.skills=0.4, emit.threshold=2;explain.max_gaps=2", &err),
                     0);
    ck_assert_double_eq(cfg.weight[CS_READINESS_SKILLS], 0.4);
    ck_assert_double_eq(cfg.emit_threshold, 2);
    ck_assert_int_eq(cfg.max_gaps, 2);
    cs_readiness_model_version(&cfg, v1);
    ck_assert_int_eq(strlen(v1), strlen("readiness-1-") + 8);
    ck_assert_str_ne(v0, v1);
    for (const char *c = v1; *c; c++)
        ck_assert((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-');

    before = cfg;
    ck_assert_int_eq(cs_readiness_config_parse(&cfg, "weight.skills=0.5 weight.bogus=1", &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_str_eq(err.field, "weight.bogus");
    ck_assert_msg(strstr(err.msg, "unknown readiness key 'weight.bogus'"), "%s", err.msg);
    ck_assert_double_eq(cfg.weight[CS_READINESS_SKILLS], before.weight[CS_READINESS_SKILLS]);
    ck_assert_int_eq(cs_readiness_config_parse(&cfg, "stage.placed=101", &err), -1);
    ck_assert_msg(strstr(err.msg, "stage.placed"), "%s", err.msg);
    ck_assert_int_eq(cs_readiness_config_parse(&cfg, "explain.max_gaps=1.5", &err), -1);
    ck_assert_int_eq(cs_readiness_config_parse(&cfg, "weight.skills", &err), -1);
    ck_assert_msg(strstr(err.msg, "not key=value"), "%s", err.msg);
    ck_assert_int_eq(
        cs_readiness_config_parse(&cfg,
                                  "weight.skills=0 weight.portfolio=0 weight.interview=0 "
                                  "weight.learning=0 weight.job_search=0 weight.mentoring=0",
                                  &err),
        -1);
    ck_assert_msg(strstr(err.msg, "all 0"), "%s", err.msg);
    ck_assert_int_eq(memcmp(&cfg, &before, sizeof(cfg)), 0);
}
END_TEST

START_TEST(bad_inputs)
{
    cs_readiness_config_t cfg;
    cs_readiness_input_t in;
    cs_readiness_score_t s;
    cs_err_t err;

    cs_readiness_config_defaults(&cfg);
    in = typical();
    in.content_completed = 41;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_str_eq(err.field, "content_completed");
    in = typical();
    in.projects_showcase_ready = -1;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), -1);
    ck_assert_str_eq(err.field, "projects_showcase_ready");
    in = typical();
    in.avg_session_rating = 0.5;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), -1);
    ck_assert_str_eq(err.field, "avg_session_rating");
    in = typical();
    in.avg_mock_interview_score = 101;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), -1);
    in = typical();
    in.n_target_skills = 2;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), -1);
    ck_assert_str_eq(err.field, "target_skills");
    /* a config filled by hand out of range is refused, not used */
    in = typical();
    cfg.showcase_target = 0;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
}
END_TEST

START_TEST(names)
{
    cs_readiness_stage_t st;
    cs_readiness_mock_rating_t r;
    static const struct {
        const char *in;
        cs_readiness_stage_t stage;
        const char *db;
    } rows[] = {
        {"exploring", CS_STAGE_EXPLORING, "exploring"},
        {"learning", CS_STAGE_LEARNING, "learning"},
        {"building_portfolio", CS_STAGE_BUILDING_PORTFOLIO, "job_ready"},
        {"job_ready", CS_STAGE_BUILDING_PORTFOLIO, "job_ready"},
        {"job_searching", CS_STAGE_JOB_SEARCHING, "job_searching"},
        {"interviewing", CS_STAGE_INTERVIEWING, "job_searching"},
        {"placed", CS_STAGE_PLACED, "transitioned"},
        {"transitioned", CS_STAGE_PLACED, "transitioned"},
        {"advancing", CS_STAGE_PLACED, "transitioned"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ck_assert_int_eq(cs_readiness_stage_parse(rows[i].in, &st), 0);
        ck_assert_int_eq(st, rows[i].stage);
        ck_assert_str_eq(cs_readiness_stage_db_name(st), rows[i].db);
    }
    ck_assert_int_eq(cs_readiness_stage_parse("retired", &st), -1);
    ck_assert_int_eq(cs_readiness_mock_rating_parse("strong", &r), 0);
    ck_assert_int_eq(r, CS_MOCK_STRONG);
    ck_assert_int_eq(cs_readiness_mock_rating_parse(NULL, &r), 0);
    ck_assert_int_eq(r, CS_MOCK_NONE);
    ck_assert_int_eq(cs_readiness_mock_rating_parse("great", &r), -1);
    ck_assert_str_eq(cs_readiness_stage_name(CS_STAGE_PLACED), "placed");
    ck_assert_str_eq(cs_readiness_dim_name(CS_READINESS_JOB_SEARCH), "job_search");
    ck_assert_str_eq(cs_readiness_action_name(CS_ACTION_SHOWCASE_PROJECT), "showcase_project");
}
END_TEST

/* The hand-computed learner's explanation, byte for byte (format 2, docs/readiness.md): the
 * values of hand_computed; best is gap 1 (showcase_project, +5). */
static const char typical_json[] =
    "{\"v\":2,\"overall\":55.67,\"stage\":\"interviewing\","
    "\"skills\":{\"score\":52,\"target_proven\":4,\"target_total\":8,\"coverage_pct\":50,"
    "\"proficient\":4,\"assessed\":6,\"avg_proficiency\":60},"
    "\"portfolio\":{\"score\":61,\"showcase_ready\":1,\"completed\":2,\"projects\":3,"
    "\"avg_review\":80},"
    "\"interview\":{\"score\":55.33,\"mocks\":2,\"avg_score\":65,\"latest_rating\":3},"
    "\"learning\":{\"score\":63.25,\"critical_done\":10,\"critical_of\":20,\"completed\":30,"
    "\"started\":40,\"avg_score\":85,\"study_h_30d\":30,\"plan_h_30d\":42.86},"
    "\"job_search\":{\"score\":28.33,\"applied\":5,\"interviewing\":1,\"offers\":0},"
    "\"mentoring\":{\"score\":72.5,\"sessions\":3,\"avg_rating\":4,\"mentor\":1},"
    "\"gaps\":[{\"dim\":\"skills\",\"lost\":14.4,\"change\":\"prove_skill\",\"gain\":3},"
    "{\"dim\":\"portfolio\",\"lost\":7.8,\"change\":\"showcase_project\",\"gain\":5},"
    "{\"dim\":\"job_search\",\"lost\":7.17,\"change\":\"reach_interview\",\"gain\":1.33}],"
    "\"best\":{\"gap\":1}}";

START_TEST(explanation_json)
{
    cs_readiness_config_t cfg;
    cs_readiness_input_t in = typical();
    cs_readiness_score_t s;
    cs_err_t err;
    cs_buf_t b = CS_BUF_INIT, b2 = CS_BUF_INIT;
    json_error_t jerr;

    cs_readiness_config_defaults(&cfg);
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &b, &err), 0);
    ck_assert_str_eq(b.data, typical_json);
    json_t *j = json_loads(b.data, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", jerr.text, b.data);
    json_decref(j);
    /* byte-identical on recomputation */
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &b2, &err), 0);
    ck_assert_str_eq(b.data, b2.data);
    /* unknown averages are left out (nothing at all: the best change, the first showcase-ready
     * project, +7, is gap 1's) */
    in = empty();
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    cs_buf_reset(&b);
    ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &b, &err), 0);
    ck_assert_str_eq(
        b.data,
        "{\"v\":2,\"overall\":0,\"stage\":\"exploring\","
        "\"skills\":{\"score\":0,\"target_total\":0,\"coverage_pct\":0,\"proficient\":0,"
        "\"assessed\":0},"
        "\"portfolio\":{\"score\":0,\"showcase_ready\":0,\"completed\":0,\"projects\":0},"
        "\"interview\":{\"score\":0,\"mocks\":0,\"latest_rating\":0},"
        "\"learning\":{\"score\":0,\"critical_done\":0,\"critical_of\":20,\"completed\":0,"
        "\"started\":0,\"study_h_30d\":0,\"plan_h_30d\":21.43},"
        "\"job_search\":{\"score\":0,\"applied\":0,\"interviewing\":0,\"offers\":0},"
        "\"mentoring\":{\"score\":0,\"sessions\":0,\"mentor\":0},"
        "\"gaps\":[{\"dim\":\"skills\",\"lost\":30,\"change\":\"prove_skill\",\"gain\":4.8},"
        "{\"dim\":\"portfolio\",\"lost\":20,\"change\":\"showcase_project\",\"gain\":7},"
        "{\"dim\":\"interview\",\"lost\":15,\"change\":\"mock_interview\",\"gain\":5.4}],"
        "\"best\":{\"gap\":1}}");
    /* one gap listed: the best change is not a gap's, written in full */
    in = typical();
    ck_assert_int_eq(cs_readiness_config_parse(&cfg, "explain.max_gaps=1", &err), 0);
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    cs_buf_reset(&b);
    ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &b, &err), 0);
    ck_assert_msg(strstr(b.data, ",\"gaps\":[{\"dim\":\"skills\",\"lost\":14.4,\"change\":"
                                 "\"prove_skill\",\"gain\":3}],\"best\":{\"dim\":\"portfolio\","
                                 "\"change\":\"showcase_project\",\"gain\":5}}") != NULL,
                  "%s", b.data);
    /* per-skill rows: the skill to prove is named (b: demand 40, never assessed; coverage
     * 80 / 120, skills 100 x (0.8 x 2/3 + 0.2 x 0.6) = 65.33, proving b: 92, +8) */
    static const cs_readiness_skill_t sk[] = {{"9f1c2d3e-0000-4000-8000-00000000000a", 80, 90},
                                              {"9f1c2d3e-0000-4000-8000-00000000000b", 40, NAN}};
    in.target_skills = sk;
    in.n_target_skills = 2;
    ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
    cs_buf_reset(&b);
    ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &b, &err), 0);
    ck_assert_msg(strstr(b.data, "\"coverage_pct\":66.67,") != NULL, "%s", b.data);
    ck_assert_msg(strstr(b.data, ",\"gaps\":[{\"dim\":\"skills\",\"lost\":10.4,\"change\":"
                                 "\"prove_skill\",\"gain\":8,\"skill\":"
                                 "\"9f1c2d3e-0000-4000-8000-00000000000b\"}],"
                                 "\"best\":{\"gap\":0}}") != NULL,
                  "%s", b.data);
    cs_buf_fini(&b);
    cs_buf_fini(&b2);
}
END_TEST

/* ---- properties on random learners ---------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? (uint32_t)(rng_state % n) : 0;
}

static double maybe_nan(double v)
{
    return rnd(5) == 0 ? NAN : v;
}

static cs_readiness_input_t random_input(void)
{
    cs_readiness_input_t in = empty();
    in.declared_stage = (cs_readiness_stage_t)rnd(CS_READINESS_NSTAGES);
    in.available_study_hours_week = maybe_nan(rnd(30));
    in.content_started = (int)rnd(60);
    in.content_completed = (int)rnd((uint32_t)in.content_started + 1);
    in.career_critical_completed = (int)rnd((uint32_t)in.content_completed + 1);
    in.avg_content_score = maybe_nan(rnd(101));
    in.study_seconds_30d = rnd(200000);
    in.skills_assessed = (int)rnd(12);
    in.skills_proficient = (int)rnd((uint32_t)in.skills_assessed + 1);
    in.target_skills_total = (int)rnd(10);
    in.target_skills_proficient = (int)rnd((uint32_t)in.target_skills_total + 1);
    in.avg_skill_proficiency = maybe_nan(rnd(101));
    in.projects_total = (int)rnd(6);
    in.projects_completed = (int)rnd((uint32_t)in.projects_total + 1);
    in.projects_showcase_ready = (int)rnd((uint32_t)in.projects_total + 1);
    in.avg_project_review_score = maybe_nan(rnd(101));
    in.mock_interviews_completed = (int)rnd(8);
    in.avg_mock_interview_score = maybe_nan(rnd(101));
    in.latest_mock_readiness = (cs_readiness_mock_rating_t)rnd(5);
    in.coaching_sessions_completed = (int)rnd(10);
    in.avg_session_rating = maybe_nan(1 + rnd(5));
    in.has_active_mentor = rnd(2);
    in.applications_submitted = (int)rnd(15);
    in.applications_interviewing = (int)rnd((uint32_t)in.applications_submitted + 1);
    in.offers_received = (int)rnd((uint32_t)in.applications_interviewing + 1);
    return in;
}

/* One monotone change: more of something good, keeping the input consistent. */
static void improve(cs_readiness_input_t *in, int which)
{
    switch (which) {
    case 0:
        if (in->target_skills_proficient < in->target_skills_total)
            in->target_skills_proficient++;
        break;
    case 1:
        in->projects_total++;
        in->projects_showcase_ready++;
        break;
    case 2:
        in->projects_total++;
        in->projects_completed++;
        break;
    case 3:
        in->mock_interviews_completed++;
        break;
    case 4:
        in->content_started++;
        in->content_completed++;
        in->career_critical_completed++;
        break;
    case 5:
        in->study_seconds_30d += 3600;
        break;
    case 6:
        in->applications_submitted++;
        break;
    case 7:
        if (in->applications_interviewing < in->applications_submitted)
            in->applications_interviewing++;
        break;
    case 8:
        if (in->offers_received < in->applications_interviewing)
            in->offers_received++;
        break;
    case 9:
        in->coaching_sessions_completed++;
        break;
    case 10:
        in->has_active_mentor = true;
        break;
    case 11:
        if (!isnan(in->avg_mock_interview_score) && in->avg_mock_interview_score <= 95)
            in->avg_mock_interview_score += 5;
        break;
    case 12:
        if (in->latest_mock_readiness < CS_MOCK_STRONG)
            in->latest_mock_readiness++;
        break;
    case 13:
        if (!isnan(in->avg_session_rating) && in->avg_session_rating <= 4)
            in->avg_session_rating += 1;
        break;
    default:
        if (in->skills_proficient < in->skills_assessed)
            in->skills_proficient++;
        break;
    }
}

START_TEST(monotone)
{
    cs_readiness_config_t cfg;
    cs_err_t err;

    cs_readiness_config_defaults(&cfg);
    rng_state = 0x12345678abcdefull;
    for (int i = 0; i < 3000; i++) {
        cs_readiness_input_t in = random_input(), up;
        cs_readiness_score_t a, b;
        int which = (int)rnd(15);
        ck_assert_msg(cs_readiness_score(&cfg, &in, &a, &err) == 0, "%s", err.msg);
        up = in;
        improve(&up, which);
        ck_assert_msg(cs_readiness_score(&cfg, &up, &b, &err) == 0, "%s", err.msg);
        ck_assert_msg(b.overall >= a.overall, "change %d lowered %.2f to %.2f", which, a.overall,
                      b.overall);
        for (int d = 0; d < CS_READINESS_NDIMS; d++)
            ck_assert_msg(b.dim[d] >= a.dim[d], "change %d lowered %s", which,
                          cs_readiness_dim_name(d));
        ck_assert_msg(b.stage >= a.stage, "change %d lowered the stage", which);
        /* bounds, and the best change really raises the score by what it says */
        ck_assert(a.overall >= 0 && a.overall <= 100);
        if (a.best.action != CS_ACTION_NONE) {
            ck_assert(a.best.gain > 0);
            ck_assert_double_eq_tol(a.best.new_overall - a.overall, a.best.gain, 1e-6);
            for (int g = 0; g < a.n_gaps; g++)
                ck_assert(a.gaps[g].change.gain <= a.best.gain);
        }
        for (int g = 1; g < a.n_gaps; g++)
            ck_assert(a.gaps[g].points_lost <= a.gaps[g - 1].points_lost);
    }
}
END_TEST

/*
 * A change as docs/readiness.md states it, applied to a copy of the inputs (skills: the per-skill
 * row named proven, into sk), for cs_readiness_overall to score from scratch.
 */
static void apply_by_hand(const cs_readiness_config_t *cfg, cs_readiness_input_t *c,
                          const cs_readiness_change_t *ch, cs_readiness_skill_t *sk)
{
    switch (ch->action) {
    case CS_ACTION_PROVE_SKILL:
        if (ch->skill_index >= 0) {
            memcpy(sk, c->target_skills, (size_t)c->n_target_skills * sizeof *sk);
            if (isnan(sk[ch->skill_index].proficiency) ||
                sk[ch->skill_index].proficiency < cfg->proficient_score)
                sk[ch->skill_index].proficiency = cfg->proficient_score;
            c->target_skills = sk;
            break;
        }
        if (c->target_skills_total > 0)
            c->target_skills_proficient++;
        c->skills_proficient++;
        if (c->skills_proficient > c->skills_assessed)
            c->skills_assessed = c->skills_proficient;
        break;
    case CS_ACTION_COMPLETE_CRITICAL:
        c->career_critical_completed++;
        c->content_completed++;
        if (c->content_started < c->content_completed)
            c->content_started = c->content_completed;
        break;
    case CS_ACTION_FINISH_STARTED:
        c->content_completed++;
        break;
    case CS_ACTION_STUDY_WEEK: {
        double h = isnan(c->available_study_hours_week) ? cfg->default_study_hours_week
                                                        : c->available_study_hours_week;
        c->study_seconds_30d += llround((h <= 0 ? 1 : h) * 3600.0);
        break;
    }
    case CS_ACTION_SHOWCASE_PROJECT:
        if (c->projects_showcase_ready >= c->projects_total) {
            c->projects_total++;
            c->projects_completed++;
        }
        c->projects_showcase_ready++;
        if (c->projects_completed < c->projects_showcase_ready &&
            c->projects_completed < c->projects_total)
            c->projects_completed++;
        break;
    case CS_ACTION_COMPLETE_PROJECT:
        if (c->projects_completed >= c->projects_total)
            c->projects_total++;
        c->projects_completed++;
        break;
    case CS_ACTION_MOCK_INTERVIEW:
        c->mock_interviews_completed++;
        if (isnan(c->avg_mock_interview_score))
            c->avg_mock_interview_score = cfg->proficient_score;
        break;
    case CS_ACTION_APPLY:
        c->applications_submitted++;
        break;
    case CS_ACTION_REACH_INTERVIEW:
        c->applications_interviewing++;
        break;
    case CS_ACTION_COACHING_SESSION:
        c->coaching_sessions_completed++;
        break;
    case CS_ACTION_FIND_MENTOR:
        c->has_active_mentor = true;
        break;
    default:
        ck_abort_msg("unexpected action %d", ch->action);
    }
}

/*
 * random_input() with averages that may be NaN and, in two cases of three (by i), up to 8 target
 * skills whose ids go into ids (the caller's, alive while in is used) and whose demand and
 * proficiency may be NaN.
 */
static cs_readiness_input_t random_input_skills(int i, char ids[8][37], cs_readiness_skill_t sk[8])
{
    cs_readiness_input_t in = random_input();
    in.avg_skill_proficiency = maybe_nan(rnd(10001) / 100.0);
    in.avg_content_score = maybe_nan(rnd(9901) / 99.0);
    in.avg_session_rating = maybe_nan(1 + rnd(3997) / 999.0);
    in.n_target_skills = i % 3 ? (int)rnd(9) : 0;
    for (int k = 0; k < in.n_target_skills; k++) {
        snprintf(ids[k], 37, "%08x-0000-4000-8000-%012x", (unsigned)rnd(1u << 31), (unsigned)k);
        sk[k] = (cs_readiness_skill_t){ids[k], maybe_nan(rnd(101)), maybe_nan(rnd(101))};
    }
    in.target_skills = in.n_target_skills ? sk : NULL;
    return in;
}

/* Every change the score names (the best and each gap's) scores, done and scored from scratch,
 * exactly its new_overall: the search's shortcuts must not change a result. */
START_TEST(changes_rescored)
{
    cs_readiness_config_t cfg;
    cs_err_t err;
    char ids[8][37];
    cs_readiness_skill_t sk[8], bumped[8];
    int checked = 0;

    cs_readiness_config_defaults(&cfg);
    rng_state = 0x5eed5eed5eed5eedull;
    for (int i = 0; i < 3000; i++) {
        cs_readiness_input_t in = random_input_skills(i, ids, sk);
        cs_readiness_score_t s;
        ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
        for (int g = -1; g < s.n_gaps; g++) {
            const cs_readiness_change_t *ch = g < 0 ? &s.best : &s.gaps[g].change;
            if (ch->action == CS_ACTION_NONE)
                continue;
            cs_readiness_input_t c = in;
            double after;
            apply_by_hand(&cfg, &c, ch, bumped);
            ck_assert_int_eq(cs_readiness_overall(&cfg, &c, &after, &err), 0);
            ck_assert_msg(after == ch->new_overall, "input %d, %s: %.17g scored, %.17g claimed", i,
                          cs_readiness_action_name(ch->action), after, ch->new_overall);
            checked++;
        }
    }
    ck_assert(checked > 3000);
}
END_TEST

START_TEST(deterministic)
{
    cs_readiness_config_t cfg;
    cs_err_t err;

    cs_readiness_config_defaults(&cfg);
    rng_state = 0xfeedfacecafebeefull;
    for (int i = 0; i < 500; i++) {
        cs_readiness_input_t in = random_input();
        cs_readiness_score_t a, b;
        cs_buf_t ja = CS_BUF_INIT, jb = CS_BUF_INIT;
        ck_assert_int_eq(cs_readiness_score(&cfg, &in, &a, &err), 0);
        ck_assert_int_eq(cs_readiness_score(&cfg, &in, &b, &err), 0);
        ck_assert_int_eq(memcmp(a.dim, b.dim, sizeof(a.dim)), 0);
        ck_assert(a.overall == b.overall && a.stage == b.stage);
        ck_assert_int_eq(cs_readiness_explain_json(&cfg, &a, &ja, &err), 0);
        ck_assert_int_eq(cs_readiness_explain_json(&cfg, &b, &jb, &err), 0);
        ck_assert_str_eq(ja.data, jb.data);
        cs_buf_fini(&ja);
        cs_buf_fini(&jb);
    }
}
END_TEST

/* Bytes an explanation may take (format 2, three gaps, skill ids of 36 characters): well under
 * the ~2 KB at which PostgreSQL compresses the row (docs/readiness.md). */
#define EXPLAIN_MAX_BYTES 1000

/* The gap's or best's change against the score's. */
static void check_change(json_t *o, const cs_readiness_change_t *c)
{
    if (c->action == CS_ACTION_NONE) {
        ck_assert_ptr_null(json_object_get(o, "change"));
        ck_assert_ptr_null(json_object_get(o, "gain"));
        return;
    }
    ck_assert_str_eq(json_string_value(json_object_get(o, "change")),
                     cs_readiness_action_name(c->action));
    ck_assert_double_eq_tol(json_number_value(json_object_get(o, "gain")), c->gain, EPS);
    if (c->skill_id)
        ck_assert_str_eq(json_string_value(json_object_get(o, "skill")), c->skill_id);
    else
        ck_assert_ptr_null(json_object_get(o, "skill"));
}

/* Everything the score holds is in its explanation, nothing else, and nothing twice. */
static void check_explanation(const cs_readiness_score_t *s, const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    ck_assert_msg(j != NULL, "%s: %s", jerr.text, text);
    ck_assert_int_eq(json_object_size(j), 3 + CS_READINESS_NDIMS + 2);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "v")), 2);
    ck_assert_double_eq_tol(json_number_value(json_object_get(j, "overall")), s->overall, EPS);
    ck_assert_str_eq(json_string_value(json_object_get(j, "stage")),
                     cs_readiness_stage_name(s->stage));
    for (int d = 0; d < CS_READINESS_NDIMS; d++) {
        json_t *o = json_object_get(j, cs_readiness_dim_name(d));
        ck_assert_msg(json_is_object(o), "%s missing: %s", cs_readiness_dim_name(d), text);
        ck_assert_double_eq_tol(json_number_value(json_object_get(o, "score")), s->dim[d], EPS);
        size_t known = 1;
        for (int i = 0; i < s->n_evidence[d]; i++) {
            const cs_readiness_evidence_t *e = &s->evidence[d][i];
            json_t *v = json_object_get(o, e->key);
            if (isnan(e->value)) {
                ck_assert_msg(v == NULL, "%s.%s: unknown, present", cs_readiness_dim_name(d),
                              e->key);
                continue;
            }
            known++;
            ck_assert_msg(v && (e->integer ? json_is_integer(v) : json_is_number(v)), "%s.%s: %s",
                          cs_readiness_dim_name(d), e->key, text);
            ck_assert_double_eq_tol(json_number_value(v), round(e->value * 100) / 100, EPS);
        }
        ck_assert_int_eq(json_object_size(o), known);
    }
    json_t *gaps = json_object_get(j, "gaps");
    ck_assert_int_eq(json_array_size(gaps), s->n_gaps);
    for (int g = 0; g < s->n_gaps; g++) {
        json_t *o = json_array_get(gaps, g);
        ck_assert_str_eq(json_string_value(json_object_get(o, "dim")),
                         cs_readiness_dim_name(s->gaps[g].dim));
        ck_assert_double_eq_tol(json_number_value(json_object_get(o, "lost")),
                                s->gaps[g].points_lost, EPS);
        check_change(o, &s->gaps[g].change);
    }
    json_t *best = json_object_get(j, "best");
    if (s->best.action == CS_ACTION_NONE)
        ck_assert(json_is_null(best));
    else if (json_object_get(best, "gap")) {
        json_int_t g = json_integer_value(json_object_get(best, "gap"));
        ck_assert(g >= 0 && g < s->n_gaps);
        ck_assert_int_eq(json_object_size(best), 1);
        ck_assert_int_eq(s->gaps[g].dim, s->best.dim);
        ck_assert_int_eq(s->gaps[g].change.action, s->best.action);
        ck_assert_double_eq_tol(s->gaps[g].change.gain, s->best.gain, EPS);
    } else {
        /* written in full only when no gap holds it */
        for (int g = 0; g < s->n_gaps; g++)
            ck_assert(s->gaps[g].dim != s->best.dim);
        ck_assert_str_eq(json_string_value(json_object_get(best, "dim")),
                         cs_readiness_dim_name(s->best.dim));
        check_change(best, &s->best);
    }
    json_decref(j);
}

/* Random learners with per-skill rows (ids of 36 characters) and fractional averages: the
 * explanation carries every value of the score, within the size bound, byte-identical when
 * rendered again. */
START_TEST(explanation_random)
{
    cs_readiness_config_t cfg;
    cs_err_t err;
    size_t longest = 0;
    char ids[8][37];
    cs_readiness_skill_t sk[8];

    cs_readiness_config_defaults(&cfg);
    rng_state = 0x0123456789abcdefull;
    for (int i = 0; i < 2000; i++) {
        cs_readiness_input_t in = random_input_skills(i, ids, sk);
        cs_readiness_score_t s;
        cs_buf_t a = CS_BUF_INIT, b = CS_BUF_INIT;
        ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
        ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &a, &err), 0);
        check_explanation(&s, a.data);
        ck_assert_msg(a.len <= EXPLAIN_MAX_BYTES, "%zu bytes: %s", a.len, a.data);
        longest = a.len > longest ? a.len : longest;
        ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &b, &err), 0);
        ck_assert_str_eq(a.data, b.data);
        cs_buf_fini(&a);
        cs_buf_fini(&b);
    }
    ck_assert(longest > 700); /* the bound is exercised: the longest came near it */
}
END_TEST

/*
 * Explanations appended one after another to one buffer, as cs-readiness renders a batch's, each
 * byte-identical to its rendering alone; skill ids of any length, with characters to escape, so
 * that renderings cross the room the writer reserves at every offset.
 */
START_TEST(explanation_appended)
{
    static const char chars[] = "abcdef0123456789-\"\\\n\t\x01/";
    cs_readiness_config_t cfg;
    cs_err_t err;
    char ids[8][400];
    cs_readiness_skill_t sk[8];
    cs_buf_t all = CS_BUF_INIT, one = CS_BUF_INIT;
    size_t at[200];

    cs_readiness_config_defaults(&cfg);
    rng_state = 0xfedcba9876543210ull;
    for (int i = 0; i < 3 + (int)rnd(1000); i++)
        cs_buf_putc(&all, 'x');
    size_t base = all.len;
    char *expect = NULL;
    size_t nexpect = 0;
    for (int i = 0; i < 200; i++) {
        cs_readiness_input_t in = random_input();
        cs_readiness_score_t s;
        in.n_target_skills = 1 + (int)rnd(8);
        for (int k = 0; k < in.n_target_skills; k++) {
            int n = 1 + (int)rnd(sizeof ids[k] - 1);
            for (int c = 0; c < n; c++)
                ids[k][c] = chars[rnd(sizeof chars - 1)];
            ids[k][n] = '\0';
            sk[k] = (cs_readiness_skill_t){ids[k], 1 + rnd(100), maybe_nan(rnd(101))};
        }
        in.target_skills = sk;
        ck_assert_int_eq(cs_readiness_score(&cfg, &in, &s, &err), 0);
        cs_buf_reset(&one);
        ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &one, &err), 0);
        check_explanation(&s, one.data);
        ck_assert_uint_eq(strlen(one.data), one.len);
        at[i] = all.len;
        ck_assert_int_eq(cs_readiness_explain_json(&cfg, &s, &all, &err), 0);
        ck_assert_uint_eq(all.len - at[i], one.len);
        ck_assert_uint_eq(strlen(all.data), all.len); /* NUL-terminated after what it holds */
        ck_assert(memcmp(all.data + at[i], one.data, one.len) == 0);
        expect = cs_mem_realloc(expect, nexpect + one.len);
        memcpy(expect + nexpect, one.data, one.len);
        nexpect += one.len;
    }
    /* nothing before the first rendering was touched, nothing after it rewritten */
    for (size_t i = 0; i < base; i++)
        ck_assert_int_eq(all.data[i], 'x');
    ck_assert_uint_eq(all.len - base, nexpect);
    ck_assert(memcmp(all.data + base, expect, nexpect) == 0);
    free(expect);
    cs_buf_fini(&all);
    cs_buf_fini(&one);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("readiness");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, hand_computed);
    tcase_add_test(tc, nothing_at_all);
    tcase_add_test(tc, no_skills_with_targets);
    tcase_add_test(tc, demand_weighted_skills);
    tcase_add_test(tc, stage_gates);
    tcase_add_test(tc, emit_rule);
    tcase_add_test(tc, config_overrides);
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, names);
    tcase_add_test(tc, explanation_json);
    tcase_add_test(tc, explanation_random);
    tcase_add_test(tc, explanation_appended);
    tcase_add_test(tc, monotone);
    tcase_add_test(tc, deterministic);
    tcase_add_test(tc, changes_rescored);
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

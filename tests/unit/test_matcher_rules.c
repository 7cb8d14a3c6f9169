/*
 * tests/unit/test_matcher_rules.c
 *      Check suite for cs-matcher's trigger rules (workers/matcher_rules.c), with hand-computed
 *      expectations: which events ask for what (each option off too), when an availability change
 *      makes a mentor unavailable, over capacity or closed, which mentees an over-capacity mentor
 *      gives up, that only a request matches a learner without a mentor, and the reasons; with
 *      cs_match_trigger_decide, the priorities and the cooldown exemptions end to end.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "matcher_rules.h"

static const mr_options_t all_on = {true, true, true, true, true};

static cs_event_t event(const char *type, const void *payload)
{
    cs_event_t ev = {.type_name = type, .occurred_at_ms = 1000000, .payload = payload};
    return ev;
}

START_TEST(classify_events)
{
    mr_flags_t f = {0};
    cs_ev_coaching_session_logged_t s = {.has_learner_rating = true, .learner_rating = 1};
    cs_event_t ev = event("coaching_session_logged", &s);
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_LEARNER);
    ck_assert(f.rated && !f.goals && !f.stage && !f.recommended && !f.requested);
    s.has_learner_rating = false; /* a session without the learner's rating asks nothing */
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_IGNORE);
    ck_assert(!f.rated);

    cs_ev_learner_profile_updated_t pu = {.has_available_study_hours_week = true};
    ev = event("learner_profile_updated", &pu);
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_IGNORE); /* study hours only */
    pu.target_role = "Data Engineer";
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_LEARNER);
    ck_assert(f.goals);
    mr_options_t o = all_on;
    o.goals = false;
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(mr_classify(&o, &ev, &f), MR_IGNORE);
    ck_assert(!f.goals);

    cs_ev_mentor_feedback_given_t fb = {.recommends_rematch = false};
    ev = event("mentor_feedback_given", &fb);
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_IGNORE);
    fb.recommends_rematch = true;
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_LEARNER);
    ck_assert(f.recommended);
    o = all_on;
    o.recommendation = false;
    ck_assert_int_eq(mr_classify(&o, &ev, &f), MR_IGNORE);

    cs_ev_mentor_rematch_requested_t rq = {.request_id = "r"};
    ev = event("mentor_rematch_requested", &rq);
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_LEARNER);
    ck_assert(f.requested);
    o = all_on;
    o.request = false;
    ck_assert_int_eq(mr_classify(&o, &ev, &f), MR_IGNORE);

    cs_ev_readiness_score_changed_t rs = {.trigger_event_id = "x"};
    ev = event("readiness_score_changed", &rs);
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_LEARNER);
    ck_assert(f.stage);
    o = all_on;
    o.stage = false;
    ck_assert_int_eq(mr_classify(&o, &ev, &f), MR_IGNORE);

    cs_ev_mentor_availability_changed_t av = {.max_mentees = 3};
    ev = event("mentor_availability_changed", &av);
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_MENTOR);
    o = all_on;
    o.availability = false;
    ck_assert_int_eq(mr_classify(&o, &ev, &f), MR_IGNORE);

    cs_ev_skill_assessed_t sk = {0};
    ev = event("skill_assessed", &sk);
    ck_assert_int_eq(mr_classify(&all_on, &ev, &f), MR_IGNORE);
}
END_TEST

START_TEST(availability)
{
    mr_avail_t a;
    cs_ev_mentor_availability_changed_t p = {
        .accepting_mentees = true, .max_mentees = 4, .current_mentees = 3, .weekly_hours = 5};
    mr_availability(&p, 1000, &a);
    ck_assert(!a.unavailable && !a.closed);
    ck_assert_int_eq(a.excess, -1);
    p.current_mentees = 4; /* full: closed, not over capacity */
    mr_availability(&p, 1000, &a);
    ck_assert(!a.unavailable && a.closed);
    ck_assert_int_eq(a.excess, 0);
    p.current_mentees = 6; /* two over */
    mr_availability(&p, 1000, &a);
    ck_assert_int_eq(a.excess, 2);
    p.current_mentees = 2;
    p.accepting_mentees = false; /* closed to new ones, keeps its mentees */
    mr_availability(&p, 1000, &a);
    ck_assert(!a.unavailable && a.closed);
    p.accepting_mentees = true;
    p.has_unavailable_until = true;
    p.unavailable_until = 1000; /* a leave that ended when the event happened */
    mr_availability(&p, 1000, &a);
    ck_assert(!a.unavailable && !a.closed);
    p.unavailable_until = 1001;
    mr_availability(&p, 1000, &a);
    ck_assert(a.unavailable && a.closed);
    p.has_unavailable_until = false;
    p.weekly_hours = 0; /* no hours at all */
    mr_availability(&p, 1000, &a);
    ck_assert(a.unavailable && a.closed);
}
END_TEST

START_TEST(trigger_input)
{
    cs_match_trigger_input_t in;
    bool by;
    mr_flags_t q = {.goals = true};
    mr_avail_t over = {.excess = 2}, gone = {.unavailable = true, .closed = true};
    /* no event about the learner, no mentor change: nothing */
    ck_assert(!mr_trigger_input(NULL, NULL, true, 0, false, &in, &by));
    /* goals with a mentor */
    ck_assert(mr_trigger_input(&q, NULL, true, 0, false, &in, &by));
    ck_assert(in.industry_changed && !by && in.has_mentor);
    /* goals without a mentor: not rematched; a request without a mentor: matched */
    ck_assert(!mr_trigger_input(&q, NULL, false, 0, false, &in, &by));
    mr_flags_t r = {.requested = true};
    ck_assert(mr_trigger_input(&r, NULL, false, 0, false, &in, &by));
    ck_assert(in.explicit_request && !in.has_mentor);
    /* the stage only when the read found it moved */
    mr_flags_t st = {.stage = true};
    ck_assert(mr_trigger_input(&st, NULL, true, 0, false, &in, &by));
    ck_assert(!in.stage_changed);
    ck_assert(mr_trigger_input(&st, NULL, true, 0, true, &in, &by));
    ck_assert(in.stage_changed);
    /* over capacity by 2: the two newest mentees (ranks 1, 2) go, the third stays */
    ck_assert(mr_trigger_input(NULL, &over, true, 1, false, &in, &by));
    ck_assert(in.mentor_over_capacity && by);
    ck_assert(mr_trigger_input(NULL, &over, true, 2, false, &in, &by));
    ck_assert(mr_trigger_input(NULL, &over, true, 3, false, &in, &by) == false);
    ck_assert(mr_trigger_input(NULL, &over, true, 0, false, &in, &by) == false);
    /* unavailable: every mentee, whatever the rank */
    ck_assert(mr_trigger_input(NULL, &gone, true, 7, false, &in, &by));
    ck_assert(in.mentor_unavailable && by);
}
END_TEST

START_TEST(reasons_and_priorities)
{
    ck_assert_int_eq(mr_reason(CS_TRIGGER_LOW_RATINGS, false),
                     CS_REMATCH_REASON_LOW_SESSION_RATINGS);
    ck_assert_int_eq(mr_reason(CS_TRIGGER_MENTOR_OVER_CAPACITY, false),
                     CS_REMATCH_REASON_MENTOR_UNAVAILABLE);
    ck_assert_int_eq(mr_reason(CS_TRIGGER_EXPLICIT_REQUEST, true),
                     CS_REMATCH_REASON_LEARNER_REQUESTED);
    ck_assert_int_eq(mr_reason(CS_TRIGGER_EXPLICIT_REQUEST, false),
                     CS_REMATCH_REASON_MENTOR_RECOMMENDED);
    ck_assert_int_eq(mr_reason(CS_TRIGGER_STAGE_CHANGED, false), CS_REMATCH_REASON_GOALS_CHANGED);

    /* End to end with the engine: a learner whose mentor went on leave, who also rated low and
     * changed goals, a day after a proposal: unavailable wins and the cooldown does not hold it;
     * with cooldown_unavailable it does; the mentor's recommendation passes the cooldown too. */
    cs_match_trigger_config_t cfg;
    cs_match_trigger_config_defaults(&cfg);
    cs_match_decision_t d;
    cs_err_t err;
    cs_err_clear(&err);
    mr_flags_t q = {.rated = true, .goals = true};
    mr_avail_t gone = {.unavailable = true};
    cs_match_trigger_input_t in;
    bool by;
    static const int low[] = {1, 2, 2};
    ck_assert(mr_trigger_input(&q, &gone, true, 3, false, &in, &by));
    in.recent_ratings = low;
    in.n_recent_ratings = 3;
    in.now_s = 100000;
    in.last_proposal_s = 100000 - 86400;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_MENTOR_UNAVAILABLE);
    ck_assert(fabs(d.avg_rating - 5.0 / 3) < 1e-12);
    cfg.cooldown_unavailable = true;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_NONE);
    ck_assert_int_eq(d.suppressed, CS_TRIGGER_MENTOR_UNAVAILABLE);
    mr_flags_t rec = {.recommended = true};
    ck_assert(mr_trigger_input(&rec, NULL, true, 0, false, &in, &by));
    in.now_s = 100000;
    in.last_proposal_s = 100000 - 86400;
    ck_assert_int_eq(cs_match_trigger_decide(&cfg, &in, &d, &err), 0);
    ck_assert_int_eq(d.trigger, CS_TRIGGER_EXPLICIT_REQUEST);
    ck_assert_int_eq(mr_reason(d.trigger, false), CS_REMATCH_REASON_MENTOR_RECOMMENDED);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("matcher_rules");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, classify_events);
    tcase_add_test(tc, availability);
    tcase_add_test(tc, trigger_input);
    tcase_add_test(tc, reasons_and_priorities);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

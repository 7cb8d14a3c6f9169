/*
 * workers/matcher_rules.c
 *      cs-matcher's trigger rules (matcher_rules.h): pure functions of the events and the read.
 */
#include "matcher_rules.h"

#include <string.h>

mr_kind_t mr_classify(const mr_options_t *o, const cs_event_t *ev, mr_flags_t *f)
{
    const char *t = ev->type_name;
    if (!strcmp(t, "coaching_session_logged")) {
        const cs_ev_coaching_session_logged_t *p = ev->payload;
        if (!p->has_learner_rating)
            return MR_IGNORE;
        f->rated = true;
    } else if (!strcmp(t, "learner_profile_updated")) {
        const cs_ev_learner_profile_updated_t *p = ev->payload;
        if (!o->goals || (!p->target_industry && !p->target_role))
            return MR_IGNORE;
        f->goals = true;
    } else if (!strcmp(t, "readiness_score_changed")) {
        if (!o->stage)
            return MR_IGNORE;
        f->stage = true;
    } else if (!strcmp(t, "mentor_feedback_given")) {
        const cs_ev_mentor_feedback_given_t *p = ev->payload;
        if (!o->recommendation || !p->recommends_rematch)
            return MR_IGNORE;
        f->recommended = true;
    } else if (!strcmp(t, "mentor_rematch_requested")) {
        if (!o->request)
            return MR_IGNORE;
        f->requested = true;
    } else if (!strcmp(t, "mentor_availability_changed")) {
        return o->availability ? MR_MENTOR : MR_IGNORE;
    } else {
        return MR_IGNORE;
    }
    return MR_LEARNER;
}

void mr_availability(const cs_ev_mentor_availability_changed_t *p, int64_t occurred_at_ms,
                     mr_avail_t *out)
{
    out->unavailable =
        p->weekly_hours == 0 || (p->has_unavailable_until && p->unavailable_until > occurred_at_ms);
    out->excess = p->current_mentees - p->max_mentees;
    out->closed = out->unavailable || !p->accepting_mentees || p->current_mentees >= p->max_mentees;
}

bool mr_trigger_input(const mr_flags_t *q, const mr_avail_t *av, bool has_mentor, int rank,
                      bool stage_moved, cs_match_trigger_input_t *in, bool *by_mentor)
{
    memset(in, 0, sizeof *in);
    in->has_mentor = has_mentor;
    in->industry_changed = q && q->goals;
    in->stage_changed = q && q->stage && stage_moved;
    in->explicit_request = q && (q->recommended || q->requested);
    in->mentor_unavailable = has_mentor && av && av->unavailable;
    in->mentor_over_capacity = has_mentor && av && av->excess > 0 && rank > 0 && rank <= av->excess;
    *by_mentor = in->mentor_unavailable || in->mentor_over_capacity;
    if (!*by_mentor && !q)
        return false;
    return has_mentor || (q && q->requested);
}

cs_rematch_reason_t mr_reason(cs_match_trigger_t t, bool requested)
{
    switch (t) {
    case CS_TRIGGER_LOW_RATINGS:
        return CS_REMATCH_REASON_LOW_SESSION_RATINGS;
    case CS_TRIGGER_MENTOR_UNAVAILABLE:
    case CS_TRIGGER_MENTOR_OVER_CAPACITY:
        return CS_REMATCH_REASON_MENTOR_UNAVAILABLE;
    case CS_TRIGGER_EXPLICIT_REQUEST:
        return requested ? CS_REMATCH_REASON_LEARNER_REQUESTED
                         : CS_REMATCH_REASON_MENTOR_RECOMMENDED;
    default:
        return CS_REMATCH_REASON_GOALS_CHANGED;
    }
}

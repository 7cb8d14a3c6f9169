/*
 * workers/matcher_rules.h
 *      cs-matcher's trigger rules, apart from its Kafka and PostgreSQL side (unit-tested by
 *      tests/unit/test_matcher_rules.c): what each consumed event asks for, when a mentor's
 *      availability change makes them unavailable, over capacity or closed to new mentees, the
 *      input cs_match_trigger_decide gets for one learner, and the contract's reason.
 */
#ifndef CS_MATCHER_RULES_H
#define CS_MATCHER_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "cs/codec.h"
#include "cs/events.h"
#include "cs/match.h"

/* Which triggers are on (the --rematch-on-* options). */
typedef struct mr_options {
    bool goals, stage, availability, recommendation, request;
} mr_options_t;

/* What a batch's events say about one learner. */
typedef struct mr_flags {
    bool rated;       /* a coaching session with a learner rating (low-ratings check) */
    bool goals;       /* target industry or role set */
    bool stage;       /* a readiness change (the stage check is the read's) */
    bool recommended; /* the mentor recommends a rematch */
    bool requested;   /* the learner asks */
} mr_flags_t;

typedef enum mr_kind {
    MR_IGNORE = 0, /* nothing for cs-matcher (or the trigger is off) */
    MR_LEARNER,    /* *f has what the event says about ev->user_id */
    MR_MENTOR      /* a mentor_availability_changed: see mr_availability */
} mr_kind_t;

/* Classifies one event; on MR_LEARNER sets the flags it raises in *f (others untouched). */
mr_kind_t mr_classify(const mr_options_t *o, const cs_event_t *ev, mr_flags_t *f);

/* A mentor's availability change. */
typedef struct mr_avail {
    bool unavailable; /* on leave (unavailable_until after the event) or 0 weekly hours */
    int excess;       /* current_mentees - max_mentees; > 0: over capacity */
    bool closed;      /* takes nobody new now: unavailable, not accepting or full */
} mr_avail_t;

void mr_availability(const cs_ev_mentor_availability_changed_t *p, int64_t occurred_at_ms,
                     mr_avail_t *out);

/*
 * The trigger input of one learner: q what the batch's events say about them (NULL: nothing),
 * av their current mentor's availability change in the batch (NULL: none), rank their place
 * among that mentor's active mentees, newest first (1..; 0 unknown), stage_moved whether the read
 * found the readiness stage moved. The caller sets recent_ratings, now_s and last_proposal_s.
 * Returns false when the learner cannot be rematched at all: no trigger event, or no active
 * mentor and no request of their own (only a request matches a learner without a mentor).
 * *by_mentor is true when the mentor's change is what the learner is rematched for.
 */
bool mr_trigger_input(const mr_flags_t *q, const mr_avail_t *av, bool has_mentor, int rank,
                      bool stage_moved, cs_match_trigger_input_t *in, bool *by_mentor);

/* The RematchReason of a decision: an explicit trigger is the learner's request if they made
 * one, else the mentor's recommendation; goals and stage are goals_changed. */
cs_rematch_reason_t mr_reason(cs_match_trigger_t t, bool requested);

#endif /* CS_MATCHER_RULES_H */

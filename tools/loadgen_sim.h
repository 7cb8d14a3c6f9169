/*
 * tools/loadgen_sim.h
 *      The learner simulation behind cs-loadgen: a deterministic stream of realistic events.
 *
 * cs_sim_t walks N learners through D simulated days: learners study curriculum content, take
 * assessments, meet their mentors, build and get reviews for portfolio projects, practise
 * interviews, apply for jobs through a realistic funnel (most applications are rejected, some reach
 * an offer, fewer are accepted) and hit milestones as they move from exploring to placed. Mentors
 * change their availability now and then. Every random choice comes from one seeded generator,
 * so the same options always give the same stream, byte for byte.
 *
 * Each call to cs_sim_next() writes one event in the documented JSON form (schemas/README.md) into
 * a caller's buffer. Learner and mentor ids follow the reference data's derivation
 * (md5('learner-' || n)::uuid and md5('mentor-' || m)::uuid, see sql/ and cs-seed), so events
 * refer to learners and mentors that cs-seed created. Event ids are version-7 uuids (RFC 9562)
 * whose timestamp is the event's occurred_at, as schemas/README.md recommends to producers.
 */
#ifndef CS_LOADGEN_SIM_H
#define CS_LOADGEN_SIM_H

#include <stdint.h>

#include "cs/buf.h"

typedef struct cs_sim cs_sim_t;

typedef struct cs_sim_opts {
    uint64_t seed;
    int learners;         /* learner n = 1..learners */
    int mentors;          /* mentor m = 1..mentors */
    int days;             /* simulated days; the stream ends after the last (0: unbounded) */
    int64_t start_ms;     /* midnight UTC of simulated day 0 */
    const char *producer; /* envelope producer name */
    int realtime;         /* occurred_at = wall clock now instead of simulated time */
} cs_sim_opts_t;

/* Returns a new simulation; never NULL (aborts on out of memory). */
cs_sim_t *cs_sim_new(const cs_sim_opts_t *opts);
void cs_sim_destroy(cs_sim_t *sim);

/*
 * Appends the next event as one JSON object (no newline) to out and returns 1, or returns 0 when
 * the simulated days are over. *event_type and *user_id point to static/sim storage valid until
 * the next call.
 */
int cs_sim_next(cs_sim_t *sim, cs_buf_t *out, const char **event_type, const char **user_id);

/* The simulated day currently being generated (for progress lines). */
int cs_sim_day(const cs_sim_t *sim);

/* Writes md5(text) formatted as a uuid, as PostgreSQL's md5(text)::uuid does. out: 37 bytes. */
void cs_sim_md5_uuid(const char *text, char *out);

#endif

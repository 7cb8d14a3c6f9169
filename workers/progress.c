/*
 * workers/progress.c
 *      cs-progress - materialise every learner-facing event into the platform's tables.
 *
 * One handler per event type appends the rows its event produces; the runtime (cs/worker.h)
 * writes each table once per batch (COPY, or COPY into staging plus one upsert), in the order of
 * the table list below, in the transaction that also stores the consumed offsets. Handlers only
 * translate: the event contract's vocabularies (cs/events.h) to the schema's (the *_db tables
 * below) and event fields to columns. They allocate nothing but the batch arena.
 *
 * Every handled event first appends a row of its learner's career_transformation_progress
 * (activity, counters, the phase it states); flushing it first inserts the learner's anchor row
 * where missing (user_career_profiles, a placeholder with just user_id for an unseen learner).
 * The table order puts it first so every foreign key to the learner holds.
 *
 * Cost. PostgreSQL does the work, so each batch writes each table in one statement: rows that
 * share a key within a batch (a learner's journey, a learner's progress on one content) are
 * folded into one by the table's aggregate (CS_MERGE_AGGREGATE, cs/batch.h) with the same rules
 * the update applies to the stored row, so a batch of many events of one key ends where the
 * same events one per batch end. The journey rows (one per event: about 15 per learner and
 * batch on cs-loadgen's stream) are folded per learner in C first by the same rules
 * (journey_fold), so PostgreSQL receives one row per learner and flushed range.
 *
 * Out-of-order rule. Events of one learner on one topic arrive in order (the key is user_id), but
 * events of different topics or producers, and replays, may not. No event is lost for arriving
 * early, and any order of the same events converges to the same rows:
 *  - "newest wins" values compare the event's occurred_at with what the row holds
 *    (user_progress.last_event_at, job_applications.status_changed_at, the profile's
 *    last_active_at, a project's submitted_at); an older event never overwrites a newer one,
 *    and between events of the same occurred_at the greater event_id is the newer (journey
 *    and progress rows);
 *  - counters and sums only add, so their order does not matter; the transformation phase and
 *    the profile's career stage only move forward (the furthest stated by any event; the phase
 *    started at its earliest statement);
 *  - a profile event sets the fields it carries only when it is the newest applied; a field an
 *    older partial update carried and the newest lacks may therefore depend on arrival order
 *    (the schema keeps no timestamp per profile field);
 *  - a status change of an application not seen yet is kept in job_application_status_history
 *    (appended whatever the order) and the application starts from it when its
 *    job_application_submitted event arrives (sql/migrations/0050_progress_job_status.sql; the
 *    INSERT folds it, T_JOB below, 0078);
 *  - a review of a project not seen yet creates a placeholder project (empty title, status
 *    in_review) that the project_submitted event completes.
 * Idempotency rule: every handler runs once per event_id (the runtime's default), because each
 * one feeds a counter or an append; so replaying events changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs/codec.h"
#include "cs/worker.h"

/* ---- the tables, in flush order ------------------------------------------------------------ */

enum {
    T_JOURNEY,         /* career_transformation_progress (activity, counters, phase) and the
                          user_career_profiles placeholder of an unseen learner: every event */
    T_PROFILE,         /* user_career_profiles fields from learner_profile_updated (with stage) */
    T_PROFILE_NOSTAGE, /* the same without a stage (career_stage is NOT NULL) */
    T_PROGRESS,        /* user_progress */
    T_SKILL,           /* user_skill_assessments */
    T_MILESTONE,       /* career_milestones */
    T_SESSION,         /* career_coaching_sessions */
    T_PREP,            /* interview_preparation */
    T_FEEDBACK,        /* employer_feedback */
    T_JOB_HISTORY,     /* job_application_status_history (before job_applications) */
    T_JOB,             /* job_applications */
    T_PROJECT,         /* user_portfolio_projects from submissions */
    T_PROJECT_PENDING, /* user_portfolio_projects placeholders from reviews */
    T_REVIEW,          /* project_reviews (after the projects they reference) */
    T_ERASURE,         /* erasures_applied: its trigger erases the learner; last (see on_erasure) */
    T__COUNT
};

/* The phase rank (1..5): the phase only moves forward (see the file comment). */
#define PHASE_RANK(x)                                                                              \
    "array_position('{foundation,skill_building,portfolio,job_search,placed}'::text[], " x ")"
#define PHASES "('{foundation,skill_building,portfolio,job_search,placed}'::text[])"
/* A journey row's phase rank: a row without a stated phase counts as foundation. */
#define ROW_PHASE   "coalesce(" PHASE_RANK("current_phase") ", 1)"
#define PHASE_AHEAD PHASE_RANK("EXCLUDED.current_phase") " > " PHASE_RANK("t.current_phase")
#define PHASE_SAME  PHASE_RANK("EXCLUDED.current_phase") " = " PHASE_RANK("t.current_phase")

/* "This activity is newer than the stored one": occurred_at, then the event id breaks ties. */
#define JOURNEY_NEWER                                                                              \
    "(t.last_activity_at IS NULL OR EXCLUDED.last_activity_at > t.last_activity_at OR "            \
    "(EXCLUDED.last_activity_at = t.last_activity_at AND (t.last_event_id IS NULL OR "             \
    "EXCLUDED.last_event_id > t.last_event_id)))"
/* The same for a user_progress row. */
#define PROGRESS_NEWER                                                                             \
    "(EXCLUDED.last_event_at > t.last_event_at OR (EXCLUDED.last_event_at = t.last_event_at AND "  \
    "(t.last_event_id IS NULL OR EXCLUDED.last_event_id > t.last_event_id)))"

/* The profile's stage rank (it only moves forward too), and "this profile event is newer". */
#define STAGE_RANK(x)                                                                              \
    "array_position('{exploring,learning,job_ready,job_searching,transitioned,advancing}'"         \
    "::text[], " x ")"
#define PROFILE_NEWER "(t.last_active_at IS NULL OR EXCLUDED.last_active_at >= t.last_active_at)"
/*
 * An upsert's update sets updated_at itself, to what the tables' BEFORE UPDATE row trigger
 * (cs_touch_updated_at) would give; the trigger's WHEN clause (0089, 0104) then skips its
 * PL/pgSQL call for the row (~7 us each, ~100,000 rows a 1,000,000-event drain).
 */
#define TOUCH_UPDATED_AT ", updated_at = pg_catalog.clock_timestamp()"

/*
 * The columns each table's rows give, in order, named once: each list makes both the table's
 * column list below (CS_COLUMNS; .staged where the aggregate derives more columns) and the row
 * type its handlers fill by name (CS_ROW, cs/batch.h), so values cannot drift from columns.
 */
/* clang-format off */
#define JOURNEY_COLUMNS(C)                                                                         \
    C(user_id) C(last_event_id) C(phase_started_at) C(last_activity_at) C(content_completed)       \
    C(modules_completed) C(skills_mastered) C(projects_completed) C(coaching_sessions_completed)   \
    C(mock_interviews_completed) C(applications_submitted) C(interviews_received)                  \
    C(offers_received) C(current_phase) C(overall_progress_pct)
#define PROFILE_COLUMNS(C)                                                                         \
    C(user_id) C(target_role) C(career_stage) C(available_study_hours_week) C(last_active_at)
#define PROFILE_NOSTAGE_COLUMNS(C)                                                                 \
    C(user_id) C(target_role) C(available_study_hours_week) C(last_active_at)
#define PROGRESS_COLUMNS(C)                                                                        \
    C(user_id) C(content_id) C(event_id) C(last_event_id) C(last_event_at) C(module_id)            \
    C(content_type) C(status) C(progress_pct) C(started_at) C(completed_at)                        \
    C(time_spent_seconds) C(attempts)
#define SKILL_COLUMNS(C)                                                                           \
    C(user_id) C(event_id) C(skill_id) C(assessment_id) C(assessment_method) C(attempt_number)     \
    C(score) C(max_score) C(proficiency_level) C(proficiency_score) C(passed)                      \
    C(time_spent_seconds) C(assessor_type) C(assessed_by) C(assessed_at)
#define MILESTONE_COLUMNS(C)                                                                       \
    C(user_id) C(event_id) C(milestone_type) C(reference_id) C(title) C(achieved_at)               \
    C(significance) C(points) C(metadata)
#define SESSION_COLUMNS(C)                                                                         \
    C(session_id) C(scheduled_at) C(user_id) C(mentor_id) C(relationship_id) C(event_id)           \
    C(session_type) C(status) C(duration_minutes) C(actual_started_at) C(actual_ended_at)          \
    C(topics_covered) C(mentor_notes) C(mentee_rating) C(mentor_engagement_rating)                 \
    C(last_event_id)
#define PREP_COLUMNS(C)                                                                            \
    C(prep_id) C(user_id) C(event_id) C(interview_type) C(is_mock) C(target_role)                  \
    C(conductor_type) C(conducted_by) C(status) C(completed_at) C(duration_minutes)                \
    C(overall_score) C(readiness_rating)
#define FEEDBACK_COLUMNS(C)                                                                        \
    C(feedback_id) C(event_id) C(user_id) C(employer_name) C(job_title) C(feedback_period)         \
    C(technical_skills_rating) C(soft_skills_rating) C(overall_performance_rating)                 \
    C(would_hire_again) C(comments) C(submitted_at)
#define JOB_HISTORY_COLUMNS(C)                                                                     \
    C(application_id) C(user_id) C(event_id) C(from_status) C(to_status) C(changed_at)             \
    C(interview_round) C(offer_salary) C(rejection_reason)
#define JOB_COLUMNS(C)                                                                             \
    C(application_id) C(applied_at) C(user_id) C(event_id) C(company_name) C(job_title)            \
    C(job_level) C(work_arrangement) C(job_posting_url) C(source) C(salary_min)                    \
    C(salary_currency) C(status) C(status_changed_at) C(last_event_id)
/* The columns the fold of a job row's history adds (T_JOB). */
#define JOB_FOLDED_COLUMNS(C)                                                                      \
    JOB_COLUMNS(C) C(interview_rounds) C(offer_salary) C(rejection_reason)
#define PROJECT_COLUMNS(C)                                                                         \
    C(user_id) C(project_id) C(event_id) C(title) C(status) C(tech_stack) C(repository_url)        \
    C(live_demo_url) C(submitted_at) C(last_event_id)
#define PROJECT_PENDING_COLUMNS(C)                                                                 \
    C(user_id) C(project_id) C(event_id) C(title) C(status)
#define REVIEW_COLUMNS(C)                                                                          \
    C(review_id) C(event_id) C(project_user_id) C(project_id) C(reviewer_id) C(reviewer_type)      \
    C(overall_score) C(code_quality_score) C(improvements) C(recommends_showcase)                  \
    C(submitted_at)
/* clang-format on */
#define ERASURE_COLUMNS(C) C(worker) C(request_event_id) C(user_id) C(request_id) C(reason)

typedef CS_ROW(JOURNEY_COLUMNS) journey_row_t;
typedef CS_ROW(PROFILE_COLUMNS) profile_row_t;
typedef CS_ROW(PROFILE_NOSTAGE_COLUMNS) profile_nostage_row_t;
typedef CS_ROW(PROGRESS_COLUMNS) progress_row_t;
typedef CS_ROW(SKILL_COLUMNS) skill_row_t;
typedef CS_ROW(MILESTONE_COLUMNS) milestone_row_t;
typedef CS_ROW(SESSION_COLUMNS) session_row_t;
typedef CS_ROW(PREP_COLUMNS) prep_row_t;
typedef CS_ROW(FEEDBACK_COLUMNS) feedback_row_t;
typedef CS_ROW(JOB_HISTORY_COLUMNS) job_history_row_t;
typedef CS_ROW(JOB_COLUMNS) job_row_t;
typedef CS_ROW(PROJECT_COLUMNS) project_row_t;
typedef CS_ROW(PROJECT_PENDING_COLUMNS) project_pending_row_t;
typedef CS_ROW(REVIEW_COLUMNS) review_row_t;
typedef CS_ROW(ERASURE_COLUMNS) erasure_row_t;

/* ---- the journey rows' fold in C ------------------------------------------------------------ */

/* A journey row's fields by name (J_user_id, ...), in JOURNEY_COLUMNS' order. */
#define JOURNEY_INDEX(name) J_##name,
enum { JOURNEY_COLUMNS(JOURNEY_INDEX) J__COUNT };

/* ROW_PHASE for a staged field: the phase's rank 1..5, 1 for none (or a name not listed). */
static int phase_rank(const cs_field_t *f)
{
    static const char *const phases[] = {"foundation", "skill_building", "portfolio", "job_search",
                                         "placed"};
    for (int i = 0; f->s && i < 5; i++)
        if (f->n == strlen(phases[i]) && memcmp(f->s, phases[i], f->n) == 0)
            return i + 1;
    return 1;
}

/*
 * Orders two fields of one fixed-width text form as their values order: the handlers' uuids
 * (lower case: the codec lowers them) and timestamps (cs_batch_ts_ms: one width for the
 * codec's years 0001..9999). Both are never NULL in a journey row.
 */
static int field_cmp(const cs_field_t *a, const cs_field_t *b)
{
    int c = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
}

static cs_field_t field_int(cs_arena_t *scratch, long long v)
{
    char *s = cs_arena_alloc(scratch, 24);
    return (cs_field_t){s, (size_t)snprintf(s, 24, "%lld", v)};
}

/*
 * Folds a later journey row of the same learner and flushed range into acc by T_JOURNEY's
 * aggregate rules (cs_table_def_t.fold): the newest activity and its event id (ties: the
 * greater id), the furthest phase with the earliest start among its statements, the counters'
 * sums, the highest percentage given. The aggregate over the folded row gives what it gives
 * over the rows, so PostgreSQL receives one row per learner and range instead of one per event.
 */
static void journey_fold(cs_field_t *acc, const cs_field_t *row, cs_arena_t *scratch)
{
    int c = field_cmp(&row[J_last_activity_at], &acc[J_last_activity_at]);
    if (c > 0 || (c == 0 && field_cmp(&row[J_last_event_id], &acc[J_last_event_id]) > 0)) {
        acc[J_last_activity_at] = row[J_last_activity_at];
        acc[J_last_event_id] = row[J_last_event_id];
    }
    int pa = phase_rank(&acc[J_current_phase]), pr = phase_rank(&row[J_current_phase]);
    if (pr > pa) {
        acc[J_current_phase] = row[J_current_phase];
        acc[J_phase_started_at] = row[J_phase_started_at];
    } else if (pr == pa && field_cmp(&row[J_phase_started_at], &acc[J_phase_started_at]) < 0) {
        acc[J_phase_started_at] = row[J_phase_started_at];
    }
    for (int k = J_content_completed; k <= J_offers_received; k++)
        acc[k] = field_int(scratch, strtoll(acc[k].s, NULL, 10) + strtoll(row[k].s, NULL, 10));
    if (!acc[J_overall_progress_pct].s ||
        (row[J_overall_progress_pct].s && strtoll(row[J_overall_progress_pct].s, NULL, 10) >
                                              strtoll(acc[J_overall_progress_pct].s, NULL, 10)))
        acc[J_overall_progress_pct] = row[J_overall_progress_pct];
}

/* A progress row's fields by name (P_user_id, ...), in PROGRESS_COLUMNS' order. */
#define PROGRESS_INDEX(name) P_##name,
enum { PROGRESS_COLUMNS(PROGRESS_INDEX) P__COUNT };

/* The smaller of two timestamp fields, NULL only when both are (SQL's min). */
static void field_min_ts(cs_field_t *acc, const cs_field_t *row)
{
    if (row->s && (!acc->s || field_cmp(row, acc) < 0))
        *acc = *row;
}

/*
 * Folds a later user_progress row of the same (learner, content) and flushed range into acc
 * by T_PROGRESS's aggregate rules: the first row's event id and kind, the first module named,
 * the newest event's id, time, status and percentage (ties: the greater id), the earliest
 * start and completion, the summed time, the most attempts.
 */
static void progress_fold(cs_field_t *acc, const cs_field_t *row, cs_arena_t *scratch)
{
    int c = field_cmp(&row[P_last_event_at], &acc[P_last_event_at]);
    if (c > 0 || (c == 0 && field_cmp(&row[P_last_event_id], &acc[P_last_event_id]) > 0)) {
        acc[P_last_event_at] = row[P_last_event_at];
        acc[P_last_event_id] = row[P_last_event_id];
        acc[P_status] = row[P_status];
        acc[P_progress_pct] = row[P_progress_pct];
    }
    if (!acc[P_module_id].s)
        acc[P_module_id] = row[P_module_id];
    field_min_ts(&acc[P_started_at], &row[P_started_at]);
    field_min_ts(&acc[P_completed_at], &row[P_completed_at]);
    acc[P_time_spent_seconds] =
        field_int(scratch, strtoll(acc[P_time_spent_seconds].s, NULL, 10) +
                               strtoll(row[P_time_spent_seconds].s, NULL, 10));
    if (strtoll(row[P_attempts].s, NULL, 10) > strtoll(acc[P_attempts].s, NULL, 10))
        acc[P_attempts] = row[P_attempts];
}

static const cs_table_def_t tables[] = {
    /*
     * A profile event newer than the applied one sets the fields it carries; the stage, like the
     * phase, only moves forward, so a stage stated by an older event still counts.
     */
    [T_PROFILE] =
        {.table = "user_career_profiles",
         .columns = CS_COLUMNS(PROFILE_COLUMNS),
         .conflict = "user_id",
         .update = "target_role = CASE WHEN " PROFILE_NEWER " THEN coalesce("
                   "EXCLUDED.target_role, t.target_role) ELSE t.target_role END, "
                   "available_study_hours_week = CASE WHEN " PROFILE_NEWER
                   " THEN coalesce(EXCLUDED.available_study_hours_week, "
                   "t.available_study_hours_week) ELSE t.available_study_hours_week END, "
                   "career_stage = CASE WHEN " STAGE_RANK("EXCLUDED.career_stage") " > " STAGE_RANK(
                       "t.career_stage") " THEN EXCLUDED.career_stage "
                                         "ELSE t.career_stage END, "
                                         "last_active_at = greatest(t.last_active_at, "
                                         "EXCLUDED.last_active_at)" TOUCH_UPDATED_AT,
         .update_where = PROFILE_NEWER
         " OR " STAGE_RANK("EXCLUDED.career_stage") " > " STAGE_RANK("t.career_stage")},
    [T_PROFILE_NOSTAGE] = {.table = "user_career_profiles",
                           .columns = CS_COLUMNS(PROFILE_NOSTAGE_COLUMNS),
                           .conflict = "user_id",
                           .update = "target_role = coalesce(EXCLUDED.target_role, t.target_role), "
                                     "available_study_hours_week = coalesce("
                                     "EXCLUDED.available_study_hours_week, "
                                     "t.available_study_hours_week), "
                                     "last_active_at = EXCLUDED.last_active_at" TOUCH_UPDATED_AT,
                           .update_where = "t.last_active_at IS NULL OR "
                                           "EXCLUDED.last_active_at >= t.last_active_at"},
    /*
     * One row per handled event (its activity, what it counts, the phase it states if any),
     * folded per learner and batch: the newest activity (ties: the greater event id), the sums,
     * the furthest phase started at its earliest statement (without a stated phase beyond
     * foundation, the learner's earliest event), the highest percentage. The update applies the
     * folded row to the stored one by the same rules, so a batch equals its events one by one.
     */
    [T_JOURNEY] =
        {.table = "career_transformation_progress",
         .columns = CS_COLUMNS(JOURNEY_COLUMNS),
         .conflict = "user_id",
         /* The anchor: a placeholder profile (user_id only) for an unseen learner. */
         .parent_table = "user_career_profiles",
         .parent_key = "user_id",
         .merge = CS_MERGE_AGGREGATE,
         .presort = "last_activity_at DESC, last_event_id DESC",
         .window = "max(" ROW_PHASE ") OVER w AS _cs_p",
         .aggregate = "user_id, (array_agg(last_event_id))[1], "
                      "min(phase_started_at) FILTER (WHERE " ROW_PHASE " = _cs_p), "
                      "max(last_activity_at), sum(content_completed), "
                      "sum(modules_completed), sum(skills_mastered), "
                      "sum(projects_completed), sum(coaching_sessions_completed), "
                      "sum(mock_interviews_completed), sum(applications_submitted), "
                      "sum(interviews_received), sum(offers_received), " PHASES "[max(_cs_p)], "
                      "coalesce(max(overall_progress_pct), 0)",
         .update =
             "last_event_id = CASE WHEN " JOURNEY_NEWER " THEN "
             "EXCLUDED.last_event_id ELSE t.last_event_id END, "
             "last_activity_at = greatest(t.last_activity_at, "
             "EXCLUDED.last_activity_at), "
             "phase_started_at = CASE WHEN " PHASE_AHEAD " THEN "
             "EXCLUDED.phase_started_at WHEN " PHASE_SAME " THEN "
             "least(t.phase_started_at, EXCLUDED.phase_started_at) "
             "ELSE t.phase_started_at END, "
             "current_phase = CASE WHEN " PHASE_AHEAD " THEN "
             "EXCLUDED.current_phase ELSE t.current_phase END, "
             "overall_progress_pct = greatest(t.overall_progress_pct, "
             "EXCLUDED.overall_progress_pct), "
             "content_completed = t.content_completed + "
             "EXCLUDED.content_completed, "
             "modules_completed = t.modules_completed + "
             "EXCLUDED.modules_completed, "
             "skills_mastered = t.skills_mastered + EXCLUDED.skills_mastered, "
             "projects_completed = t.projects_completed + "
             "EXCLUDED.projects_completed, "
             "coaching_sessions_completed = t.coaching_sessions_completed + "
             "EXCLUDED.coaching_sessions_completed, "
             "mock_interviews_completed = t.mock_interviews_completed + "
             "EXCLUDED.mock_interviews_completed, "
             "applications_submitted = t.applications_submitted + "
             "EXCLUDED.applications_submitted, "
             "interviews_received = t.interviews_received + "
             "EXCLUDED.interviews_received, "
             "offers_received = t.offers_received + EXCLUDED.offers_received" TOUCH_UPDATED_AT,
         /* the same rules in C first: one staged row per learner and range */
         .fold = journey_fold},
    /*
     * Folded per (learner, content) and batch: the newest event's status and percentage (ties:
     * the greater event id), summed time, earliest start and completion, latest access, most
     * attempts; the first module named and the first event's id and kind for a new row.
     */
    [T_PROGRESS] =
        {.table = "user_progress",
         .columns = "user_id, content_id, event_id, last_event_id, last_event_at, module_id, "
                    "content_type, status, progress_pct, started_at, completed_at, "
                    "last_accessed_at, time_spent_seconds, attempts",
         /* the newest event's occurred_at is also the last access */
         .staged = CS_COLUMNS(PROGRESS_COLUMNS),
         .conflict = "user_id, content_id",
         .merge = CS_MERGE_AGGREGATE,
         .presort = "last_event_at DESC, last_event_id DESC",
         .window = "min(_cs_seq) OVER w AS _cs_first, "
                   "min(_cs_seq) FILTER (WHERE module_id IS NOT NULL) OVER w AS _cs_first_module",
         .aggregate = "user_id, content_id, "
                      "(array_agg(event_id) FILTER (WHERE _cs_seq = _cs_first))[1], "
                      "(array_agg(last_event_id))[1], max(last_event_at), "
                      "(array_agg(module_id) FILTER (WHERE _cs_seq = _cs_first_module))[1], "
                      "(array_agg(content_type) FILTER (WHERE _cs_seq = _cs_first))[1], "
                      "(array_agg(status))[1], (array_agg(progress_pct))[1], "
                      "min(started_at), min(completed_at), max(last_event_at), "
                      "sum(time_spent_seconds), max(attempts)",
         /* Sums add up in any order; the rest follows the newest event. */
         .update = "last_event_id = CASE WHEN " PROGRESS_NEWER " THEN EXCLUDED.last_event_id "
                   "ELSE t.last_event_id END, "
                   "status = CASE WHEN " PROGRESS_NEWER " THEN EXCLUDED.status ELSE t.status END, "
                   "progress_pct = CASE WHEN " PROGRESS_NEWER " THEN EXCLUDED.progress_pct "
                   "ELSE t.progress_pct END, "
                   "last_event_at = greatest(t.last_event_at, EXCLUDED.last_event_at), "
                   "module_id = coalesce(t.module_id, EXCLUDED.module_id), "
                   "started_at = least(t.started_at, EXCLUDED.started_at), "
                   "completed_at = least(t.completed_at, EXCLUDED.completed_at), "
                   "last_accessed_at = greatest(t.last_accessed_at, EXCLUDED.last_accessed_at), "
                   "time_spent_seconds = t.time_spent_seconds + EXCLUDED.time_spent_seconds, "
                   "attempts = greatest(t.attempts, EXCLUDED.attempts)" TOUCH_UPDATED_AT,
         /* the same rules in C first: one staged row per (learner, content) and range */
         .fold = progress_fold},
    [T_SKILL] = {.table = "user_skill_assessments",
                 .columns = CS_COLUMNS(SKILL_COLUMNS),
                 .conflict = "event_id"},
    [T_MILESTONE] = {.table = "career_milestones",
                     .columns = CS_COLUMNS(MILESTONE_COLUMNS),
                     .conflict = "user_id, milestone_type, reference_id"},
    [T_SESSION] = {.table = "career_coaching_sessions",
                   .columns = CS_COLUMNS(SESSION_COLUMNS),
                   .conflict = "session_id, scheduled_at",
                   .update = "mentor_id = EXCLUDED.mentor_id, "
                             "relationship_id = EXCLUDED.relationship_id, "
                             "session_type = EXCLUDED.session_type, status = EXCLUDED.status, "
                             "duration_minutes = EXCLUDED.duration_minutes, "
                             "actual_started_at = EXCLUDED.actual_started_at, "
                             "actual_ended_at = EXCLUDED.actual_ended_at, "
                             "topics_covered = EXCLUDED.topics_covered, "
                             "mentor_notes = EXCLUDED.mentor_notes, "
                             "mentee_rating = EXCLUDED.mentee_rating, "
                             "mentor_engagement_rating = EXCLUDED.mentor_engagement_rating, "
                             "last_event_id = EXCLUDED.last_event_id",
                   .merge = CS_MERGE_LAST},
    [T_PREP] = {.table = "interview_preparation",
                .columns = CS_COLUMNS(PREP_COLUMNS),
                .conflict = "prep_id"},
    [T_FEEDBACK] = {.table = "employer_feedback",
                    .columns = CS_COLUMNS(FEEDBACK_COLUMNS),
                    .conflict = "feedback_id"},
    [T_JOB_HISTORY] = {.table = "job_application_status_history",
                       .columns = CS_COLUMNS(JOB_HISTORY_COLUMNS),
                       .conflict = "event_id"},
    /*
     * An application starts from the newest status its history holds (0050: status events may
     * come first; this batch's history rows are already written, T_JOB_HISTORY goes first), in
     * this statement: the join folds each staged row's history, newest first (changed_at, then
     * event id), into the newest status, the deepest interview round and the newest offer
     * salary and rejection reason given; the row applies what is newer than its own status.
     * Per key the last row appended counts (presort), as one INSERT per event would. The
     * history is probed by application_id (the user_id test, IS NOT DISTINCT FROM, is one no
     * index serves, so the plan cannot read a learner's whole history instead). The statement
     * trigger of 0078 applies the same rule to rows other writers insert.
     */
    [T_JOB] = {.table = "job_applications",
               .columns = CS_COLUMNS(JOB_FOLDED_COLUMNS),
               .staged = CS_COLUMNS(JOB_COLUMNS),
               .conflict = "application_id, applied_at",
               /* The status is the history's (see 0050); a resubmission refreshes the details. */
               .update = "company_name = EXCLUDED.company_name, job_title = EXCLUDED.job_title, "
                         "job_level = EXCLUDED.job_level, "
                         "work_arrangement = EXCLUDED.work_arrangement, "
                         "job_posting_url = EXCLUDED.job_posting_url, source = EXCLUDED.source, "
                         "salary_min = EXCLUDED.salary_min, "
                         "salary_currency = EXCLUDED.salary_currency" TOUCH_UPDATED_AT,
               .merge = CS_MERGE_AGGREGATE,
               .presort = "_cs_seq DESC",
               .join = "LEFT JOIN LATERAL (SELECT (array_agg(x.to_status))[1] AS h_status, "
                       "(array_agg(x.event_id))[1] AS h_event_id, "
                       "max(x.changed_at) AS h_changed_at, max(x.interview_round) AS h_round, "
                       "(array_agg(x.offer_salary) FILTER (WHERE x.offer_salary IS NOT NULL))[1] "
                       "AS h_offer, (array_agg(x.rejection_reason) FILTER (WHERE "
                       "x.rejection_reason IS NOT NULL))[1] AS h_reason "
                       "FROM (SELECT * FROM job_application_status_history y "
                       "WHERE y.application_id = _cs_r.application_id "
                       "AND y.user_id IS NOT DISTINCT FROM _cs_r.user_id "
                       "ORDER BY y.changed_at DESC, y.event_id DESC) x) h ON true",
               .aggregate = "application_id, applied_at, (array_agg(user_id))[1], "
                            "(array_agg(event_id))[1], (array_agg(company_name))[1], "
                            "(array_agg(job_title))[1], (array_agg(job_level))[1], "
                            "(array_agg(work_arrangement))[1], (array_agg(job_posting_url))[1], "
                            "(array_agg(source))[1], (array_agg(salary_min))[1], "
                            "(array_agg(salary_currency))[1], "
                            "(array_agg(CASE WHEN h_changed_at > status_changed_at THEN h_status "
                            "ELSE status END))[1], "
                            "(array_agg(greatest(status_changed_at, h_changed_at)))[1], "
                            "(array_agg(CASE WHEN h_changed_at > status_changed_at THEN "
                            "h_event_id ELSE last_event_id END))[1], "
                            "(array_agg(coalesce(h_round, 0)))[1], (array_agg(h_offer))[1], "
                            "(array_agg(h_reason))[1]"},
    [T_PROJECT] = {.table = "user_portfolio_projects",
                   .columns = CS_COLUMNS(PROJECT_COLUMNS),
                   .conflict = "user_id, project_id",
                   /* A placeholder (submitted_at NULL) keeps the in_review its reviews gave it;
                    * a later revision waits for review again. */
                   .update = "event_id = EXCLUDED.event_id, title = EXCLUDED.title, "
                             "status = CASE WHEN t.submitted_at IS NULL THEN t.status "
                             "ELSE EXCLUDED.status END, "
                             "tech_stack = EXCLUDED.tech_stack, "
                             "repository_url = EXCLUDED.repository_url, "
                             "live_demo_url = EXCLUDED.live_demo_url, "
                             "submitted_at = EXCLUDED.submitted_at, "
                             "last_event_id = EXCLUDED.last_event_id" TOUCH_UPDATED_AT,
                   .update_where = "t.submitted_at IS NULL OR "
                                   "EXCLUDED.submitted_at >= t.submitted_at",
                   .merge = CS_MERGE_SEQUENTIAL},
    [T_PROJECT_PENDING] = {.table = "user_portfolio_projects",
                           .columns = CS_COLUMNS(PROJECT_PENDING_COLUMNS),
                           .conflict = "user_id, project_id",
                           .update = "status = EXCLUDED.status" TOUCH_UPDATED_AT,
                           .update_where = "t.status = 'submitted'",
                           .merge = CS_MERGE_LAST},
    [T_REVIEW] = {.table = "project_reviews",
                  .columns = CS_COLUMNS(REVIEW_COLUMNS),
                  .conflict = "review_id"},
    [T_ERASURE] = {.table = "erasures_applied",
                   .columns = CS_COLUMNS(ERASURE_COLUMNS),
                   .conflict = "worker, request_event_id",
                   .merge = CS_MERGE_LAST},
    [T__COUNT] = {NULL},
};

/* ---- the contract's vocabularies in the schema's words -------------------------------------- */

#define VOCAB(name, count, ...)                                                                    \
    static const char *const name[] = {__VA_ARGS__};                                               \
    _Static_assert(sizeof(name) / sizeof(name[0]) == (count), #name " must cover " #count)

/* user_career_profiles.career_stage */
VOCAB(stage_db, CS_CAREER_STAGE__COUNT, "exploring", "learning", "learning", "job_searching",
      "job_searching", "transitioned");
/* career_transformation_progress.current_phase and overall_progress_pct per stage */
VOCAB(phase_db, CS_CAREER_STAGE__COUNT, "foundation", "skill_building", "portfolio", "job_search",
      "job_search", "placed");
static const int phase_pct[CS_CAREER_STAGE__COUNT] = {0, 20, 40, 60, 80, 100};
/* user_progress.content_type */
VOCAB(content_kind_db, CS_CONTENT_KIND__COUNT, "chunk", "topic", "component", "module");
/* user_progress.status */
VOCAB(progress_status_db, CS_PROGRESS_ACTION__COUNT, "in_progress", "in_progress", "completed");
/* user_skill_assessments.assessment_method for assessment_completed */
VOCAB(assessment_type_db, CS_ASSESSMENT_TYPE__COUNT, "quiz", "coding_challenge", "project_review",
      "certification");
VOCAB(proficiency_db, CS_SKILL_PROFICIENCY__COUNT, "novice", "beginner", "intermediate", "advanced",
      "expert");
/* skill_assessed: method and who assessed */
VOCAB(method_db, CS_ASSESSMENT_METHOD__COUNT, "self_assessment", "mentor_evaluation", "quiz",
      "project_review", "mentor_evaluation");
VOCAB(assessor_db, CS_ASSESSMENT_METHOD__COUNT, "self", "mentor", "system", "expert", "expert");
/* career_milestones.milestone_type and significance */
VOCAB(milestone_db, CS_MILESTONE_TYPE__COUNT, "module_completed", "module_completed",
      "skill_mastered", "project_showcase_ready", "first_interview", "offer_received",
      "job_started", "certification_earned");
VOCAB(milestone_origin, CS_MILESTONE_TYPE__COUNT, "first_module_completed",
      "curriculum_stage_completed", "skill_mastered", "portfolio_ready", "first_interview",
      "first_offer", "job_placed", "certification_earned");
VOCAB(significance_db, CS_MILESTONE_TYPE__COUNT, "minor", "major", "minor", "major", "major",
      "transformational", "transformational", "major");
/* career_coaching_sessions.session_type */
VOCAB(session_type_db, CS_COACHING_SESSION_TYPE__COUNT, "career_planning", "resume_review",
      "mock_interview", "technical_coaching", "networking", "portfolio_review", "check_in");
/* job_applications */
VOCAB(role_level_db, CS_ROLE_LEVEL__COUNT, "intern", "junior", "mid", "senior", "lead");
VOCAB(channel_db, CS_APPLICATION_CHANNEL__COUNT, "platform_partner", "job_board", "referral",
      "company_site", "recruiter");
VOCAB(work_mode_db, CS_WORK_MODE__COUNT, "onsite", "hybrid", "remote");
VOCAB(app_status_db, CS_APPLICATION_STATUS__COUNT, "applied", "screening", "interviewing", "offer",
      "rejected", "accepted", "withdrawn");
/* interview_preparation.interview_type */
VOCAB(interview_type_db, CS_INTERVIEW_TYPE__COUNT, "behavioral", "technical", "system_design",
      "case", "panel");
/* project_reviews.reviewer_type */
VOCAB(reviewer_db, CS_REVIEWER_ROLE__COUNT, "mentor", "peer", "mentor", "industry_expert");
/* erasures_applied.reason (erased_users.reason) */
VOCAB(erasure_reason_db, CS_ERASURE_REASON__COUNT, "user_request", "account_closed",
      "legal_obligation");

/* The codec validates enums, but a table lookup never trusts an index it did not check. */
#define SYM(arr, v) ((unsigned)(v) < sizeof(arr) / sizeof((arr)[0]) ? (arr)[(v)] : NULL)

/* ---- row helpers --------------------------------------------------------------------------- */

/* A canonical uuid from the codec needs no COPY escaping (NULL: SQL NULL). */
static cs_val_t uuid(const char *s)
{
    return cs_val_raw(s, 36);
}

/* An https:// URL, or NULL: the schema accepts nothing else in its URL columns. */
static const char *https_only(const char *url)
{
    return url && strncmp(url, "https://", 8) == 0 ? url : NULL;
}

/* A text[] literal ({"a","b"}) of v in the batch arena; COPY escaping is cs_batch_str's. */
static const char *text_array(cs_batch_t *b, const cs_strv_t *v)
{
    size_t n = 3;
    for (size_t i = 0; i < v->count; i++)
        n += 2 * strlen(v->items[i]) + 3;
    char *out = cs_arena_alloc(cs_batch_arena(b), n), *p = out;
    *p++ = '{';
    for (size_t i = 0; i < v->count; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *s = v->items[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* What an event adds to the learner's career_transformation_progress counters. */
typedef struct journey {
    int content_completed, modules_completed, skills_mastered, projects_completed;
    int coaching_sessions, mock_interviews, applications, interviews, offers;
} journey_t;

/*
 * The rows every handled event starts with: the learner's placeholder and its journey row
 * (activity, counters, and the phase its stage states: stage < 0 for none). T_JOURNEY folds a
 * batch's rows per learner (see the table).
 */
static int learner_rows(cs_batch_t *b, const cs_event_t *ev, const journey_t *j, int stage,
                        cs_err_t *err)
{
    const char *phase = stage >= 0 ? SYM(phase_db, stage) : NULL;
    if (stage >= 0 && !phase)
        return cs_err_set_field(err, CS_ERR_PERMANENT, "payload.career_stage",
                                "unknown career stage %d", stage);
    return CS_BATCH_PUT(
        b, T_JOURNEY, journey_row_t, err, .user_id = uuid(ev->user_id),
        .last_event_id = uuid(ev->event_id), .phase_started_at = cs_val_ts_ms(ev->occurred_at_ms),
        .last_activity_at = cs_val_ts_ms(ev->occurred_at_ms),
        .content_completed = cs_val_int(j->content_completed),
        .modules_completed = cs_val_int(j->modules_completed),
        .skills_mastered = cs_val_int(j->skills_mastered),
        .projects_completed = cs_val_int(j->projects_completed),
        .coaching_sessions_completed = cs_val_int(j->coaching_sessions),
        .mock_interviews_completed = cs_val_int(j->mock_interviews),
        .applications_submitted = cs_val_int(j->applications),
        .interviews_received = cs_val_int(j->interviews), .offers_received = cs_val_int(j->offers),
        .current_phase = cs_val_str(phase),
        .overall_progress_pct = cs_val_int_if(phase, phase ? phase_pct[stage] : 0));
}

static int bad_enum(cs_err_t *err, const char *field, int v)
{
    return cs_err_set_field(err, CS_ERR_PERMANENT, field, "%s: unknown value %d", field, v);
}

/* ---- handlers ------------------------------------------------------------------------------ */

/* content_progress -> user_progress (newest status and percentage, summed time). */
static int on_content_progress(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                               cs_err_t *err)
{
    (void)meta;
    const cs_ev_content_progress_t *p = ev->payload;
    const char *status = SYM(progress_status_db, p->progress);
    const char *kind = SYM(content_kind_db, p->content_kind);
    if (!status || !kind)
        return bad_enum(err, status ? "payload.content_kind" : "payload.progress",
                        status ? (int)p->content_kind : (int)p->progress);
    bool done = p->progress == CS_PROGRESS_ACTION_COMPLETED;
    journey_t j = {.content_completed = done && p->content_kind == CS_CONTENT_KIND_CHUNK,
                   .modules_completed = done && p->content_kind == CS_CONTENT_KIND_MODULE};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    const char *module_id = p->module_id;
    if (!module_id && p->content_kind == CS_CONTENT_KIND_MODULE)
        module_id = p->content_id;

    return CS_BATCH_PUT(
        b, T_PROGRESS, progress_row_t, err, .user_id = uuid(ev->user_id),
        .content_id = uuid(p->content_id), .event_id = uuid(ev->event_id),
        .last_event_id = uuid(ev->event_id), .last_event_at = cs_val_ts_ms(ev->occurred_at_ms),
        .started_at = cs_val_ts_ms(ev->occurred_at_ms), .module_id = uuid(module_id),
        .content_type = cs_val_str(kind), .status = cs_val_str(status),
        .progress_pct = cs_val_int(done ? 100 : p->percent_complete),
        .completed_at = done ? cs_val_ts_ms(ev->occurred_at_ms) : cs_val_null(),
        .time_spent_seconds = cs_val_int(p->time_spent_seconds),
        .attempts = cs_val_int(p->attempt));
}

/* Proficiency from a 0..100 score, in fifths (novice below 20 ... expert from 80). */
static cs_skill_proficiency_t proficiency_of(double score)
{
    int i = (int)(score / 20.0);
    return (cs_skill_proficiency_t)(i < 0 ? 0 : i > 4 ? 4 : i);
}

/* assessment_completed -> user_skill_assessments (proficiency from the score). */
static int on_assessment_completed(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                                   cs_err_t *err)
{
    (void)meta;
    const cs_ev_assessment_completed_t *p = ev->payload;
    const char *method = SYM(assessment_type_db, p->assessment_type);
    if (!method)
        return bad_enum(err, "payload.assessment_type", (int)p->assessment_type);
    journey_t j = {0};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    return CS_BATCH_PUT(
        b, T_SKILL, skill_row_t, err, .user_id = uuid(ev->user_id), .event_id = uuid(ev->event_id),
        .skill_id = uuid(p->skill_id), .assessment_id = uuid(p->assessment_id),
        .assessment_method = cs_val_str(method), .attempt_number = cs_val_int(p->attempt),
        .score = cs_val_double(p->score), .max_score = cs_val_int(100),
        .proficiency_level = cs_val_str(proficiency_db[proficiency_of(p->score)]),
        .proficiency_score = cs_val_double(p->score), .passed = cs_val_bool(p->passed),
        .time_spent_seconds = cs_val_int(p->duration_seconds),
        .assessor_type = cs_val_str("system"), .assessed_by = cs_val_null(),
        .assessed_at = cs_val_ts_ms(ev->occurred_at_ms));
}

/* skill_assessed -> user_skill_assessments. */
static int on_skill_assessed(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                             cs_err_t *err)
{
    (void)meta;
    const cs_ev_skill_assessed_t *p = ev->payload;
    const char *method = SYM(method_db, p->method), *assessor = SYM(assessor_db, p->method);
    const char *level = SYM(proficiency_db, p->proficiency);
    if (!method || !level)
        return bad_enum(err, method ? "payload.proficiency" : "payload.method",
                        method ? (int)p->proficiency : (int)p->method);
    journey_t j = {0};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    return CS_BATCH_PUT(b, T_SKILL, skill_row_t, err, .user_id = uuid(ev->user_id),
                        .event_id = uuid(ev->event_id), .skill_id = uuid(p->skill_id),
                        .assessment_id = cs_val_null(), .assessment_method = cs_val_str(method),
                        .attempt_number = cs_val_int(1), .score = cs_val_double(p->score),
                        .max_score = cs_val_int(100), .proficiency_level = cs_val_str(level),
                        .proficiency_score = cs_val_double(p->score), .passed = cs_val_null(),
                        .time_spent_seconds = cs_val_null(), .assessor_type = cs_val_str(assessor),
                        .assessed_by = uuid(p->assessor_id),
                        .assessed_at = cs_val_ts_ms(ev->occurred_at_ms));
}

/* career_milestone_reached -> career_milestones, and the stage it states. */
static int on_milestone(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                        cs_err_t *err)
{
    (void)meta;
    const cs_ev_career_milestone_reached_t *p = ev->payload;
    const char *type = SYM(milestone_db, p->milestone_type);
    if (!type)
        return bad_enum(err, "payload.milestone_type", (int)p->milestone_type);
    journey_t j = {.skills_mastered = p->milestone_type == CS_MILESTONE_TYPE_SKILL_MASTERED};
    if (learner_rows(b, ev, &j, p->has_career_stage ? (int)p->career_stage : -1, err) < 0)
        return -1;
    /* The contract's own type and stage stay in metadata: both vocabularies are fixed words. */
    char meta_json[160];
    snprintf(
        meta_json, sizeof meta_json, "{\"event_milestone_type\": \"%s\"%s%s%s}",
        milestone_origin[p->milestone_type], p->has_career_stage ? ", \"career_stage\": \"" : "",
        p->has_career_stage ? SYM(stage_db, p->career_stage) : "", p->has_career_stage ? "\"" : "");
    return CS_BATCH_PUT(b, T_MILESTONE, milestone_row_t, err, .user_id = uuid(ev->user_id),
                        .event_id = uuid(ev->event_id), .milestone_type = cs_val_str(type),
                        .reference_id = uuid(p->milestone_id), .title = cs_val_str(p->title),
                        .achieved_at = cs_val_ts_ms(ev->occurred_at_ms),
                        .significance = cs_val_str(significance_db[p->milestone_type]),
                        .points = cs_val_int(p->readiness_points),
                        .metadata = cs_val_str(meta_json));
}

/* coaching_session_logged -> career_coaching_sessions (a completed session). */
static int on_coaching_session(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                               cs_err_t *err)
{
    (void)meta;
    const cs_ev_coaching_session_logged_t *p = ev->payload;
    const char *type = SYM(session_type_db, p->session_type);
    if (!type)
        return bad_enum(err, "payload.session_type", (int)p->session_type);
    journey_t j = {.coaching_sessions = 1};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    return CS_BATCH_PUT(
        b, T_SESSION, session_row_t, err, .session_id = uuid(p->session_id),
        .scheduled_at = cs_val_ts_ms(p->started_at), .user_id = uuid(ev->user_id),
        .mentor_id = uuid(p->mentor_id), .relationship_id = uuid(p->relationship_id),
        .event_id = uuid(ev->event_id), .session_type = cs_val_str(type),
        .status = cs_val_str("completed"), .duration_minutes = cs_val_int(p->duration_minutes),
        .actual_started_at = cs_val_ts_ms(p->started_at),
        .actual_ended_at = cs_val_ts_ms(p->started_at + (int64_t)p->duration_minutes * 60000),
        .topics_covered = cs_val_str(text_array(b, &p->goals_discussed)),
        .mentor_notes = cs_val_str(p->notes),
        .mentee_rating = cs_val_int_if(p->has_learner_rating, p->learner_rating),
        .mentor_engagement_rating = cs_val_int_if(p->has_mentor_rating, p->mentor_rating),
        .last_event_id = uuid(ev->event_id));
}

/*
 * mentor_feedback_given: the mentor's view of the learner is read by cs-readiness and
 * cs-matching from the topic; here it is learner activity only (no table holds its ratings).
 */
static int on_mentor_feedback(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                              cs_err_t *err)
{
    (void)meta;
    journey_t j = {0};
    return learner_rows(b, ev, &j, -1, err);
}

/* job_application_submitted -> job_applications, and its initial 'applied' history row. */
static int on_application_submitted(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                                    cs_err_t *err)
{
    (void)meta;
    const cs_ev_job_application_submitted_t *p = ev->payload;
    const char *level = SYM(role_level_db, p->role_level), *src = SYM(channel_db, p->channel);
    const char *mode = SYM(work_mode_db, p->work_mode);
    if (!level || !src || !mode)
        return bad_enum(err,
                        !level ? "payload.role_level"
                        : !src ? "payload.channel"
                               : "payload.work_mode",
                        !level ? (int)p->role_level
                        : !src ? (int)p->channel
                               : (int)p->work_mode);
    journey_t j = {.applications = 1};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    const char *applied = app_status_db[CS_APPLICATION_STATUS_SUBMITTED];
    if (CS_BATCH_PUT(
            b, T_JOB_HISTORY, job_history_row_t, err, .application_id = uuid(p->application_id),
            .user_id = uuid(ev->user_id), .event_id = uuid(ev->event_id),
            .from_status = cs_val_null(), .to_status = cs_val_str(applied),
            .changed_at = cs_val_ts_ms(ev->occurred_at_ms), .interview_round = cs_val_null(),
            .offer_salary = cs_val_null(), .rejection_reason = cs_val_null()) < 0)
        return -1;
    return CS_BATCH_PUT(
        b, T_JOB, job_row_t, err, .application_id = uuid(p->application_id),
        .applied_at = cs_val_ts_ms(ev->occurred_at_ms), .user_id = uuid(ev->user_id),
        .event_id = uuid(ev->event_id), .company_name = cs_val_str(p->company_name),
        .job_title = cs_val_str(p->job_title), .job_level = cs_val_str(level),
        .work_arrangement = cs_val_str(mode), .job_posting_url = cs_val_str(p->job_posting_url),
        .source = cs_val_str(src),
        .salary_min = cs_val_int_if(p->has_salary_expected, p->salary_expected),
        .salary_currency = cs_val_str(p->salary_currency ? p->salary_currency : "USD"),
        .status = cs_val_str(applied), .status_changed_at = cs_val_ts_ms(ev->occurred_at_ms),
        .last_event_id = uuid(ev->event_id));
}

/* application_status_changed -> job_application_status_history (0050 applies it). */
static int on_application_status(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                                 cs_err_t *err)
{
    (void)meta;
    const cs_ev_application_status_changed_t *p = ev->payload;
    const char *to = SYM(app_status_db, p->status);
    const char *from = p->has_previous_status ? SYM(app_status_db, p->previous_status) : NULL;
    if (!to || (p->has_previous_status && !from))
        return bad_enum(err, to ? "payload.previous_status" : "payload.status",
                        to ? (int)p->previous_status : (int)p->status);
    bool interview = p->status == CS_APPLICATION_STATUS_INTERVIEW;
    journey_t j = {.interviews = interview && (!p->has_interview_round || p->interview_round == 1),
                   .offers = p->status == CS_APPLICATION_STATUS_OFFER};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    return CS_BATCH_PUT(b, T_JOB_HISTORY, job_history_row_t, err,
                        .application_id = uuid(p->application_id), .user_id = uuid(ev->user_id),
                        .event_id = uuid(ev->event_id), .from_status = cs_val_str(from),
                        .to_status = cs_val_str(to), .changed_at = cs_val_ts_ms(ev->occurred_at_ms),
                        .interview_round =
                            cs_val_int_if(p->has_interview_round, p->interview_round),
                        .offer_salary = cs_val_int_if(p->has_salary_offered, p->salary_offered),
                        .rejection_reason = cs_val_str(p->rejection_reason));
}

/* interview_practice_completed -> interview_preparation (a mock interview). */
static int on_interview_practice(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                                 cs_err_t *err)
{
    (void)meta;
    const cs_ev_interview_practice_completed_t *p = ev->payload;
    const char *type = SYM(interview_type_db, p->interview_type);
    if (!type)
        return bad_enum(err, "payload.interview_type", (int)p->interview_type);
    journey_t j = {.mock_interviews = 1};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    const char *rating = p->score < 50   ? "not_ready"
                         : p->score < 70 ? "developing"
                         : p->score < 85 ? "ready"
                                         : "strong";
    return CS_BATCH_PUT(
        b, T_PREP, prep_row_t, err, .prep_id = uuid(p->practice_id), .user_id = uuid(ev->user_id),
        .event_id = uuid(ev->event_id), .interview_type = cs_val_str(type),
        .is_mock = cs_val_bool(true), .target_role = cs_val_str(p->target_role),
        .conductor_type = cs_val_str(p->interviewer_id ? "mentor" : "self"),
        .conducted_by = uuid(p->interviewer_id), .status = cs_val_str("completed"),
        .completed_at = cs_val_ts_ms(ev->occurred_at_ms),
        .duration_minutes = cs_val_int(p->duration_minutes),
        .overall_score = cs_val_double(p->score), .readiness_rating = cs_val_str(rating));
}

/* employer_feedback_received -> employer_feedback. */
static int on_employer_feedback(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                                cs_err_t *err)
{
    (void)meta;
    const cs_ev_employer_feedback_received_t *p = ev->payload;
    journey_t j = {0};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    int m = p->months_since_hire;
    const char *period = m <= 1    ? "30_day"
                         : m <= 3  ? "90_day"
                         : m <= 6  ? "6_month"
                         : m <= 12 ? "12_month"
                                   : "ad_hoc";
    return CS_BATCH_PUT(
        b, T_FEEDBACK, feedback_row_t, err, .feedback_id = uuid(p->feedback_id),
        .event_id = uuid(ev->event_id), .user_id = uuid(ev->user_id),
        .employer_name = cs_val_str(p->employer_name), .job_title = cs_val_str(p->job_title),
        .feedback_period = cs_val_str(period),
        .technical_skills_rating = cs_val_int(p->technical_skills_rating),
        .soft_skills_rating = cs_val_int(p->soft_skills_rating),
        .overall_performance_rating = cs_val_int(p->performance_rating),
        .would_hire_again = cs_val_bool(p->would_hire_again), .comments = cs_val_str(p->comment),
        .submitted_at = cs_val_ts_ms(ev->occurred_at_ms));
}

/* portfolio_project_submitted -> user_portfolio_projects (newest submission wins). */
static int on_project_submitted(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                                cs_err_t *err)
{
    (void)meta;
    const cs_ev_portfolio_project_submitted_t *p = ev->payload;
    journey_t j = {.projects_completed = p->revision == 1};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    return CS_BATCH_PUT(b, T_PROJECT, project_row_t, err, .user_id = uuid(ev->user_id),
                        .project_id = uuid(p->project_id), .event_id = uuid(ev->event_id),
                        .title = cs_val_str(p->title), .status = cs_val_str("submitted"),
                        .tech_stack = cs_val_str(text_array(b, &p->technologies)),
                        .repository_url = cs_val_str(https_only(p->repository_url)),
                        .live_demo_url = cs_val_str(https_only(p->demo_url)),
                        .submitted_at = cs_val_ts_ms(ev->occurred_at_ms),
                        .last_event_id = uuid(ev->event_id));
}

/* project_reviewed -> project_reviews (its project first, as a placeholder when unseen). */
static int on_project_reviewed(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                               cs_err_t *err)
{
    (void)meta;
    const cs_ev_project_reviewed_t *p = ev->payload;
    const char *reviewer = SYM(reviewer_db, p->reviewer_role);
    if (!reviewer)
        return bad_enum(err, "payload.reviewer_role", (int)p->reviewer_role);
    journey_t j = {0};
    if (learner_rows(b, ev, &j, -1, err) < 0)
        return -1;
    if (CS_BATCH_PUT(b, T_PROJECT_PENDING, project_pending_row_t, err, .user_id = uuid(ev->user_id),
                     .project_id = uuid(p->project_id), .event_id = uuid(ev->event_id),
                     .title = cs_val_str(""), .status = cs_val_str("in_review")) < 0)
        return -1;
    return CS_BATCH_PUT(
        b, T_REVIEW, review_row_t, err, .review_id = uuid(p->review_id),
        .event_id = uuid(ev->event_id), .project_user_id = uuid(ev->user_id),
        .project_id = uuid(p->project_id), .reviewer_id = uuid(p->reviewer_id),
        .reviewer_type = cs_val_str(reviewer),
        .overall_score = cs_val_int(p->overall_rating * 20), /* 1..5 stars as a 0..100 score */
        .code_quality_score = cs_val_int_if(p->has_code_quality_rating, p->code_quality_rating),
        .improvements = cs_val_str(p->feedback),
        .recommends_showcase = cs_val_bool(p->showcase_ready),
        .submitted_at = cs_val_ts_ms(ev->occurred_at_ms));
}

/* learner_profile_updated -> user_career_profiles (newest profile event wins), and the phase. */
static int on_profile_updated(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                              cs_err_t *err)
{
    (void)meta;
    const cs_ev_learner_profile_updated_t *p = ev->payload;
    const char *stage = p->has_career_stage ? SYM(stage_db, p->career_stage) : NULL;
    if (p->has_career_stage && !stage)
        return bad_enum(err, "payload.career_stage", (int)p->career_stage);
    journey_t j = {0};
    if (learner_rows(b, ev, &j, p->has_career_stage ? (int)p->career_stage : -1, err) < 0)
        return -1;
    cs_val_t user = uuid(ev->user_id), role = cs_val_str(p->target_role);
    cs_val_t hours =
        cs_val_int_if(p->has_available_study_hours_week, p->available_study_hours_week);
    cs_val_t at = cs_val_ts_ms(ev->occurred_at_ms);
    if (stage)
        return CS_BATCH_PUT(b, T_PROFILE, profile_row_t, err, .user_id = user, .target_role = role,
                            .career_stage = cs_val_str(stage), .available_study_hours_week = hours,
                            .last_active_at = at);
    return CS_BATCH_PUT(b, T_PROFILE_NOSTAGE, profile_nostage_row_t, err, .user_id = user,
                        .target_role = role, .available_study_hours_week = hours,
                        .last_active_at = at);
}

/*
 * user_erasure_requested -> erasures_applied, whose trigger runs gdpr_erase_user in this
 * transaction (migration 0068). The table is flushed last, so what this batch wrote for the
 * learner before is erased too; from then on the runtime skips the learner's events, in every
 * group (erased_users). No learner row: the learner is being erased.
 */
static int on_erasure(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta, cs_err_t *err)
{
    (void)meta;
    const cs_ev_user_erasure_requested_t *p = ev->payload;
    const char *reason = SYM(erasure_reason_db, p->reason);
    if (!reason)
        return bad_enum(err, "payload.reason", (int)p->reason);
    return CS_BATCH_PUT(b, T_ERASURE, erasure_row_t, err, .worker = cs_val_str("progress"),
                        .request_event_id = uuid(ev->event_id), .user_id = uuid(ev->user_id),
                        .request_id = cs_val_str(p->request_id), .reason = cs_val_str(reason));
}

/* ---- the worker ---------------------------------------------------------------------------- */

/* Every handler accumulates (counters, appends): once per event_id, the runtime's default. */
static const cs_handler_t handlers[] = {
    {"content_progress", on_content_progress, CS_HANDLER_ONCE},
    {"assessment_completed", on_assessment_completed, CS_HANDLER_ONCE},
    {"skill_assessed", on_skill_assessed, CS_HANDLER_ONCE},
    {"career_milestone_reached", on_milestone, CS_HANDLER_ONCE},
    {"coaching_session_logged", on_coaching_session, CS_HANDLER_ONCE},
    {"mentor_feedback_given", on_mentor_feedback, CS_HANDLER_ONCE},
    {"job_application_submitted", on_application_submitted, CS_HANDLER_ONCE},
    {"application_status_changed", on_application_status, CS_HANDLER_ONCE},
    {"interview_practice_completed", on_interview_practice, CS_HANDLER_ONCE},
    {"employer_feedback_received", on_employer_feedback, CS_HANDLER_ONCE},
    {"portfolio_project_submitted", on_project_submitted, CS_HANDLER_ONCE},
    {"project_reviewed", on_project_reviewed, CS_HANDLER_ONCE},
    {"learner_profile_updated", on_profile_updated, CS_HANDLER_ONCE},
    {"user_erasure_requested", on_erasure, CS_HANDLER_ONCE},
    {NULL, NULL, 0},
};

static const cs_worker_def_t progress = {
    .name = "progress",
    .group = "cs-progress",
    .topics = (const char *const[]){"cs.learning", "cs.mentoring", "cs.jobsearch", "cs.portfolio",
                                    "cs.profile", NULL},
    .handlers = handlers,
    .tables = tables,
    .usage = "cs-progress materialises learner-facing events (learning progress, assessments, "
             "milestones, coaching sessions, job applications, interview practice, employer "
             "feedback, portfolio projects and reviews, profile updates) into the platform's "
             "tables, set-based, exactly once per event.",
};

int main(int argc, char **argv)
{
    return cs_worker_main(&progress, argc, argv);
}

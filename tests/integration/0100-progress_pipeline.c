/*
 * tests/integration/0100-progress_pipeline.c
 *      cs-progress end to end: a cs-loadgen stream through the loopback broker into a fresh
 *      database, checked row by row against what the test computes from the stream itself.
 *
 * The test generates 20,000 events with cs-loadgen (--jsonl), parses them with jansson and
 * computes, independently of the worker, what every table must hold: progress per (learner,
 * content), journeys per learner (phase, counters, last activity), applications and their status
 * history, sessions, milestones, profiles, projects, reviews, assessments, interview practice,
 * employer feedback. It publishes the stream to fresh topics with the producer API: cs.learning
 * in order, the other topics mostly REVERSED (status changes before their applications or newest
 * first after them, reviews before their projects, older profile updates after newer ones; see
 * pass_of), so the out-of-order rule is exercised;
 * runs build/bin/cs-progress --drain as a subprocess; compares. Then it publishes the whole stream
 * again, in order (a replay), drains again, and checks that no row changed.
 */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cs/codec.h"
#include "cs/producer.h"
#include "harness.h"

#define NEVENTS  20000
#define LEARNERS 300
#define MENTORS  40

/* ---- small helpers ------------------------------------------------------------------------- */

static PGconn *db_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    return c;
}

static void db_exec(const char *dsn, const char *sql)
{
    PGconn *c = db_connect(dsn);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* Rows of a one-column query joined by '\n' (malloc'ed). */
static char *db_lines(const char *dsn, const char *sql)
{
    PGconn *c = db_connect(dsn);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    size_t n = 1;
    for (int i = 0; i < PQntuples(r); i++)
        n += strlen(PQgetvalue(r, i, 0)) + 1;
    char *out = malloc(n), *p = out;
    for (int i = 0; i < PQntuples(r); i++) {
        size_t l = strlen(PQgetvalue(r, i, 0));
        memcpy(p, PQgetvalue(r, i, 0), l);
        p += l;
        *p++ = '\n';
    }
    *p = '\0';
    PQclear(r);
    PQfinish(c);
    return out;
}

static long long db_ll(const char *dsn, const char *sql)
{
    char *s = db_lines(dsn, sql);
    long long v = atoll(s);
    free(s);
    return v;
}

/* A growing list of text lines, sorted before comparison (byte order, as COLLATE "C"). */
typedef struct lines {
    char **v;
    size_t n, cap;
} lines_t;

static void lines_add(lines_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lines_add(lines_t *l, const char *fmt, ...)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    va_list ap;
    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&l->v[l->n++], fmt, ap), 0);
    va_end(ap);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_free(lines_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Compares the expected lines with the query's rows (ordered by the line, COLLATE "C"). */
static void expect_rows(const char *what, lines_t *want, const char *dsn, const char *select_line,
                        const char *from)
{
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT l FROM (SELECT %s AS l FROM %s) x ORDER BY l COLLATE \"C\"",
             select_line, from);
    char *got = db_lines(dsn, sql);
    qsort(want->v, want->n, sizeof *want->v, cmp_str);
    size_t i = 0;
    char *p = got;
    while (*p || i < want->n) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (i >= want->n || !*p || strcmp(p, want->v[i]) != 0)
            ck_abort_msg("%s: row %zu differs:\n  want %s\n  got  %s\n  (%zu rows expected)", what,
                         i, i < want->n ? want->v[i] : "(none)", *p ? p : "(none)", want->n);
        i++;
        p = nl ? nl + 1 : p + strlen(p);
    }
    free(got);
    lines_free(want);
}

static void expect_ll(const char *what, long long want, const char *dsn, const char *sql)
{
    long long got = db_ll(dsn, sql);
    ck_assert_msg(got == want, "%s: want %lld, got %lld", what, want, got);
}

/* ---- processes ----------------------------------------------------------------------------- */

static int run(const char *const *argv, const char *dsn, const char *log, int timeout_s)
{
    int st = cs_test_run(argv, dsn, log, 0, timeout_s * 1000 * cs_test_timeout_mult());
    if (st == -1)
        ck_abort_msg("%s did not finish in %d s (log: %s)", argv[0], timeout_s, log ? log : "-");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Small batches spread out-of-order events over many transactions (the case a single batch's
 * set-based statements would hide). */
static void drain(const char *dsn, const char *topics, const char *group, const char *log,
                  const char *batch_size)
{
    const char *argv[] = {CS_PROGRESS_BIN, "--drain", "--topics", topics, "--group", group,
                          "--log-level", "warn", "--batch-ms", "50", "--batch-size", batch_size,
                          /* a rejoin after the first run waits out the old session */
                          "--session-timeout-ms", "6000", NULL};
    int64_t t0 = cs_test_now_ms();
    int rc = run(argv, dsn, log, 120);
    fprintf(stderr, "0100: cs-progress --drain took %lld ms\n", (long long)(cs_test_now_ms() - t0));
    if (rc != 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "tail -20 %s >&2", log);
        ck_assert_int_eq(system(cmd) >= 0, 1);
    }
    ck_assert_msg(rc == 0, "cs-progress --drain exited %d (log: %s)", rc, log);
}

/* ---- the stream and what it must produce ---------------------------------------------------- */

typedef struct ev {
    char *line;
    json_t *j;
    const char *type, *user, *at, *topic;
    const json_t *p;
} ev_t;

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long jint(const json_t *o, const char *k, long long dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int handled(const char *type)
{
    static const char *const t[] = {
        "content_progress",           "assessment_completed",        "skill_assessed",
        "career_milestone_reached",   "coaching_session_logged",     "mentor_feedback_given",
        "job_application_submitted",  "application_status_changed",  "interview_practice_completed",
        "employer_feedback_received", "portfolio_project_submitted", "project_reviewed",
        "learner_profile_updated"};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (strcmp(t[i], type) == 0)
            return 1;
    return 0;
}

/* The schema's words for the contract's (what the README promises). */
static const char *map(const char *const *pairs, const char *v)
{
    for (int i = 0; pairs[i]; i += 2)
        if (strcmp(pairs[i], v) == 0)
            return pairs[i + 1];
    ck_abort_msg("no mapping for '%s'", v);
    return NULL;
}
static const char *const stage_db[] = {"exploring",
                                       "exploring",
                                       "learning",
                                       "learning",
                                       "building_portfolio",
                                       "learning",
                                       "job_searching",
                                       "job_searching",
                                       "interviewing",
                                       "job_searching",
                                       "placed",
                                       "transitioned",
                                       NULL};
static const char *const phase_db[] = {
    "exploring", "foundation",    "learning",   "skill_building", "building_portfolio",
    "portfolio", "job_searching", "job_search", "interviewing",   "job_search",
    "placed",    "placed",        NULL};
static const char *const app_status_db[] = {"submitted", "applied",      "screening", "screening",
                                            "interview", "interviewing", "offer",     "offer",
                                            "rejected",  "rejected",     "accepted",  "accepted",
                                            "withdrawn", "withdrawn",    NULL};
static const char *const milestone_db[] = {"first_module_completed",
                                           "module_completed",
                                           "curriculum_stage_completed",
                                           "module_completed",
                                           "skill_mastered",
                                           "skill_mastered",
                                           "portfolio_ready",
                                           "project_showcase_ready",
                                           "first_interview",
                                           "first_interview",
                                           "first_offer",
                                           "offer_received",
                                           "job_placed",
                                           "job_started",
                                           "certification_earned",
                                           "certification_earned",
                                           NULL};
static const char *const session_db[] = {"career_planning",
                                         "career_planning",
                                         "resume_review",
                                         "resume_review",
                                         "interview_prep",
                                         "mock_interview",
                                         "technical_mentoring",
                                         "technical_coaching",
                                         "networking",
                                         "networking",
                                         "portfolio_review",
                                         "portfolio_review",
                                         "general",
                                         "check_in",
                                         NULL};

static int phase_rank(const char *phase)
{
    static const char *const order[] = {"foundation", "skill_building", "portfolio", "job_search",
                                        "placed"};
    for (int i = 0; i < 5; i++)
        if (strcmp(order[i], phase) == 0)
            return i;
    ck_abort_msg("unknown phase %s", phase);
    return -1;
}

static int profile_rank(const char *stage)
{
    static const char *const order[] = {"exploring",     "learning",     "job_ready",
                                        "job_searching", "transitioned", "advancing"};
    for (int i = 0; i < 6; i++)
        if (strcmp(order[i], stage) == 0)
            return i;
    ck_abort_msg("unknown profile stage %s", stage);
    return -1;
}

/* Events sorted by (key, occurred_at, index) for grouping. */
typedef struct keyed {
    char key[160];
    const ev_t *e;
    size_t idx;
} keyed_t;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (!c)
        c = strcmp(x->e->at, y->e->at);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

typedef struct journey {
    char user[37];
    int phase, content, coaching, mock, apps, interviews, offers, projects, skills;
    char last[32];
} journey_t;

static journey_t *journey_of(journey_t *j, size_t *n, const char *user)
{
    for (size_t i = *n; i-- > 0;) /* the stream is learner-day ordered: recent learners last */
        if (strcmp(j[i].user, user) == 0)
            return &j[i];
    journey_t *x = &j[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->user, sizeof x->user, "%s", user);
    return x;
}

static void check_tables(const char *dsn, ev_t *evs, size_t n)
{
    lines_t want = {0};
    keyed_t *k = calloc(n, sizeof *k);
    size_t nk;

    /* Learners and their journeys. */
    journey_t *jr = calloc(n, sizeof *jr);
    size_t njr = 0;
    for (size_t i = 0; i < n; i++) {
        const ev_t *e = &evs[i];
        if (!handled(e->type))
            continue;
        journey_t *j = journey_of(jr, &njr, e->user);
        if (strcmp(e->at, j->last) > 0)
            snprintf(j->last, sizeof j->last, "%s", e->at);
        const char *stage = jstr(e->p, "career_stage");
        if (stage && (!strcmp(e->type, "career_milestone_reached") ||
                      !strcmp(e->type, "learner_profile_updated"))) {
            int r = phase_rank(map(phase_db, stage));
            if (r > j->phase)
                j->phase = r;
        }
        if (!strcmp(e->type, "content_progress") && !strcmp(jstr(e->p, "progress"), "completed") &&
            !strcmp(jstr(e->p, "content_kind"), "chunk"))
            j->content++;
        else if (!strcmp(e->type, "coaching_session_logged"))
            j->coaching++;
        else if (!strcmp(e->type, "interview_practice_completed"))
            j->mock++;
        else if (!strcmp(e->type, "job_application_submitted"))
            j->apps++;
        else if (!strcmp(e->type, "application_status_changed")) {
            const char *st = jstr(e->p, "status");
            j->interviews += !strcmp(st, "interview") && jint(e->p, "interview_round", 1) == 1;
            j->offers += !strcmp(st, "offer");
        } else if (!strcmp(e->type, "portfolio_project_submitted"))
            j->projects += jint(e->p, "revision", 1) == 1;
        else if (!strcmp(e->type, "career_milestone_reached"))
            j->skills += !strcmp(jstr(e->p, "milestone_type"), "skill_mastered");
    }
    static const char *const phases[] = {"foundation", "skill_building", "portfolio", "job_search",
                                         "placed"};
    for (size_t i = 0; i < njr; i++) {
        const journey_t *j = &jr[i];
        lines_add(&want, "%s|%s|%d|%d|%d|%d|%d|%d|%d|%d|%s", j->user, phases[j->phase], j->content,
                  j->coaching, j->mock, j->apps, j->interviews, j->offers, j->projects, j->skills,
                  j->last);
    }
    expect_ll("learners", (long long)njr, dsn, "SELECT count(*) FROM user_career_profiles");
    expect_rows("career_transformation_progress", &want, dsn,
                "user_id || '|' || current_phase || '|' || content_completed || '|' || "
                "coaching_sessions_completed || '|' || mock_interviews_completed || '|' || "
                "applications_submitted || '|' || interviews_received || '|' || offers_received "
                "|| '|' || projects_completed || '|' || skills_mastered || '|' || "
                "to_char(last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
                "career_transformation_progress");

    /* user_progress: newest status and percentage, summed time, per (learner, content). */
    nk = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(evs[i].type, "content_progress")) {
            snprintf(k[nk].key, sizeof k[nk].key, "%s|%s", evs[i].user,
                     jstr(evs[i].p, "content_id"));
            k[nk].e = &evs[i];
            k[nk].idx = i;
            nk++;
        }
    qsort(k, nk, sizeof *k, cmp_keyed);
    for (size_t a = 0, b; a < nk; a = b) {
        long long spent = 0;
        for (b = a; b < nk && !strcmp(k[b].key, k[a].key); b++)
            spent += jint(k[b].e->p, "time_spent_seconds", 0);
        const json_t *last = k[b - 1].e->p;
        int done = !strcmp(jstr(last, "progress"), "completed");
        lines_add(&want, "%s|%s|%lld|%lld", k[a].key, done ? "completed" : "in_progress",
                  done ? 100 : jint(last, "percent_complete", -1), spent);
    }
    expect_rows("user_progress", &want, dsn,
                "user_id || '|' || content_id || '|' || status || '|' || progress_pct::int || '|' "
                "|| time_spent_seconds",
                "user_progress");

    /* Applications: the newest status, the deepest interview round; the history: every event. */
    nk = 0;
    long long history = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(evs[i].type, "job_application_submitted") ||
            !strcmp(evs[i].type, "application_status_changed")) {
            snprintf(k[nk].key, sizeof k[nk].key, "%s|%s", jstr(evs[i].p, "application_id"),
                     evs[i].user);
            k[nk].e = &evs[i];
            k[nk].idx = i;
            nk++;
            history++;
        }
    qsort(k, nk, sizeof *k, cmp_keyed);
    long long apps = 0;
    for (size_t a = 0, b; a < nk; a = b) {
        int submitted = 0;
        long long rounds = 0;
        for (b = a; b < nk && !strcmp(k[b].key, k[a].key); b++) {
            submitted |= !strcmp(k[b].e->type, "job_application_submitted");
            long long r = jint(k[b].e->p, "interview_round", 0);
            rounds = r > rounds ? r : rounds;
        }
        if (!submitted) /* cut off by --events: only its history exists */
            continue;
        const ev_t *last = k[b - 1].e;
        const char *st = !strcmp(last->type, "job_application_submitted")
                             ? "applied"
                             : map(app_status_db, jstr(last->p, "status"));
        lines_add(&want, "%s|%s|%lld", k[a].key, st, rounds);
        apps++;
    }
    ck_assert_int_gt(apps, 50);
    expect_rows("job_applications", &want, dsn,
                "application_id || '|' || user_id || '|' || status || '|' || interview_rounds",
                "job_applications");
    expect_ll("job_application_status_history", history, dsn,
              "SELECT count(*) FROM job_application_status_history");

    /* One-event-one-row tables, and the rest. */
    long long sessions = 0, milestones = 0, skills = 0, preps = 0, feedback = 0, reviews = 0;
    nk = 0;
    for (size_t i = 0; i < n; i++) {
        const ev_t *e = &evs[i];
        if (!strcmp(e->type, "coaching_session_logged")) {
            lines_add(&want, "%s|%s|%s|%s|%lld", jstr(e->p, "session_id"), e->user,
                      jstr(e->p, "mentor_id"), map(session_db, jstr(e->p, "session_type")),
                      jint(e->p, "duration_minutes", -1));
            sessions++;
        } else if (!strcmp(e->type, "career_milestone_reached")) {
            milestones++;
        } else if (!strcmp(e->type, "skill_assessed") || !strcmp(e->type, "assessment_completed")) {
            skills++;
        } else if (!strcmp(e->type, "interview_practice_completed")) {
            preps++;
        } else if (!strcmp(e->type, "employer_feedback_received")) {
            feedback++;
        } else if (!strcmp(e->type, "project_reviewed")) {
            reviews++;
        }
        if (!strcmp(e->type, "portfolio_project_submitted") ||
            !strcmp(e->type, "project_reviewed")) {
            snprintf(k[nk].key, sizeof k[nk].key, "%s|%s", e->user, jstr(e->p, "project_id"));
            k[nk].e = e;
            k[nk].idx = i;
            nk++;
        }
    }
    ck_assert_int_gt(sessions, 50);
    ck_assert_int_gt(milestones, 20);
    expect_rows("career_coaching_sessions", &want, dsn,
                "session_id || '|' || user_id || '|' || mentor_id || '|' || session_type || '|' || "
                "duration_minutes",
                "career_coaching_sessions WHERE status = 'completed'");
    for (size_t i = 0; i < n; i++)
        if (!strcmp(evs[i].type, "career_milestone_reached"))
            lines_add(&want, "%s|%s|%s|%lld", evs[i].user,
                      map(milestone_db, jstr(evs[i].p, "milestone_type")), jstr(evs[i].p, "title"),
                      jint(evs[i].p, "readiness_points", -1));
    expect_rows("career_milestones", &want, dsn,
                "user_id || '|' || milestone_type || '|' || title || '|' || points",
                "career_milestones");
    expect_ll("user_skill_assessments", skills, dsn, "SELECT count(*) FROM user_skill_assessments");
    expect_ll("interview_preparation", preps, dsn, "SELECT count(*) FROM interview_preparation");
    expect_ll("employer_feedback", feedback, dsn, "SELECT count(*) FROM employer_feedback");
    expect_ll("project_reviews", reviews, dsn, "SELECT count(*) FROM project_reviews");

    /* Projects: the submission's title; in_review once reviewed, whatever came first. */
    qsort(k, nk, sizeof *k, cmp_keyed);
    for (size_t a = 0, b; a < nk; a = b) {
        const char *title = "";
        int reviewed = 0;
        for (b = a; b < nk && !strcmp(k[b].key, k[a].key); b++) {
            if (!strcmp(k[b].e->type, "project_reviewed"))
                reviewed++;
            else
                title = jstr(k[b].e->p, "title");
        }
        lines_add(&want, "%s|%s|%s|%d", k[a].key, title, reviewed ? "in_review" : "submitted",
                  reviewed);
    }
    expect_rows("user_portfolio_projects", &want, dsn,
                "user_id || '|' || project_id || '|' || title || '|' || status || '|' || "
                "review_count",
                "user_portfolio_projects");

    /* Profiles: the newest profile event's fields, the furthest stage; placeholders otherwise. */
    nk = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(evs[i].type, "learner_profile_updated")) {
            snprintf(k[nk].key, sizeof k[nk].key, "%s", evs[i].user);
            k[nk].e = &evs[i];
            k[nk].idx = i;
            nk++;
        }
    qsort(k, nk, sizeof *k, cmp_keyed);
    long long profiled = 0;
    for (size_t a = 0, b; a < nk; a = b) {
        int best = -1;
        const char *stage = NULL;
        for (b = a; b < nk && !strcmp(k[b].key, k[a].key); b++) {
            const char *st = map(stage_db, jstr(k[b].e->p, "career_stage"));
            if (profile_rank(st) > best) {
                best = profile_rank(st);
                stage = st;
            }
        }
        const json_t *p = k[b - 1].e->p;
        lines_add(&want, "%s|%s|%s|%lld", k[a].key, stage ? stage : "", jstr(p, "target_role"),
                  jint(p, "available_study_hours_week", -1));
        profiled++;
    }
    ck_assert_int_gt(profiled, 20);
    expect_rows("user_career_profiles", &want, dsn,
                "user_id || '|' || career_stage || '|' || target_role || '|' || "
                "available_study_hours_week::int",
                "user_career_profiles WHERE target_role IS NOT NULL");
    expect_ll("placeholder profiles", (long long)njr - profiled, dsn,
              "SELECT count(*) FROM user_career_profiles WHERE target_role IS NULL "
              "AND career_stage = 'exploring' AND profile_source = 'event'");
    free(jr);
    free(k);
}

/* Everything the worker writes, as one text (minus the wall-clock columns). */
static char *state_of(const char *dsn)
{
    static const char *const tables[] = {"user_career_profiles",
                                         "career_transformation_progress",
                                         "user_progress",
                                         "user_skill_assessments",
                                         "career_milestones",
                                         "career_coaching_sessions",
                                         "interview_preparation",
                                         "employer_feedback",
                                         "job_application_status_history",
                                         "job_applications",
                                         "user_portfolio_projects",
                                         "project_reviews"};
    char sql[8192];
    size_t off = (size_t)snprintf(sql, sizeof sql, "SELECT concat_ws(E'\\n'");
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
        off += (size_t)snprintf(sql + off, sizeof sql - off,
                                ", (SELECT md5(string_agg((to_jsonb(x) - 'updated_at' - "
                                "'created_at' - 'history_id' - 'milestone_id' - 'result_id' - "
                                "'showcase_ready_at')::text, ',' ORDER BY (to_jsonb(x) - "
                                "'updated_at' - 'created_at' - 'history_id' - 'milestone_id' - "
                                "'result_id' - 'showcase_ready_at')::text)) || ' %s' FROM %s x)",
                                tables[i], tables[i]);
    snprintf(sql + off, sizeof sql - off, ")");
    return db_lines(dsn, sql);
}

/*
 * The out-of-order publication: pass 0 is cs.learning in order; pass 1 the submissions of half
 * the applications (application_id ending in an even hex digit) in order, so that their status
 * changes, coming later and newest first, must not regress them; pass 2 everything else from
 * the last event to the first (the other half's status changes before their submissions,
 * reviews before projects, older profile updates after newer ones).
 */
static int pass_of(const ev_t *e)
{
    if (!strcmp(e->topic, "cs.learning"))
        return 0;
    if (!strcmp(e->type, "job_application_submitted")) {
        const char *id = jstr(e->p, "application_id");
        if (strchr("02468ace", id[35]))
            return 1;
    }
    return 2;
}

static void publish(ev_t *evs, size_t n, const char *prefix, int out_of_order)
{
    cs_err_t err;
    cs_err_clear(&err);
    cs_codec_t *codec = cs_codec_new(&err);
    ck_assert_msg(codec != NULL, "%s", err.msg);
    cs_producer_t *p = cs_producer_new(cs_test_brokers(), "it-0100", &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    cs_arena_t *arena = cs_arena_new(1 << 16);
    for (int pass = 0; pass < (out_of_order ? 3 : 1); pass++) {
        for (size_t k = 0; k < n; k++) {
            size_t i = pass == 2 ? n - 1 - k : k;
            if (out_of_order && pass_of(&evs[i]) != pass)
                continue;
            cs_event_t ev;
            char topic[256];
            ck_assert_msg(
                cs_codec_from_json(codec, evs[i].line, strlen(evs[i].line), arena, &ev, &err) == 0,
                "line %zu: %s: %s", i, err.field, err.msg);
            snprintf(topic, sizeof topic, "%s%s", prefix, evs[i].topic);
            for (;;) {
                if (cs_producer_send_to(p, topic, &ev, NULL, &err) == 0)
                    break;
                ck_assert_msg(err.kind == CS_ERR_TRANSIENT, "send: %s", err.msg);
                cs_producer_poll(p, 100);
            }
            cs_arena_reset(arena);
            if (k % 1000 == 0)
                cs_producer_poll(p, 0);
        }
    }
    ck_assert_msg(cs_producer_flush(p, 60000, &err) == 0, "flush: %s", err.msg);
    ck_assert_int_eq(cs_producer_delivered(p), n);
    cs_producer_destroy(p);
    cs_arena_destroy(arena);
    cs_codec_destroy(codec);
}

START_TEST(progress_pipeline)
{
    char dsn[1024], prefix[128], topics[1024], group[160], path[] = "/tmp/cs-it-0100-XXXXXX";
    char log[256];
    cs_test_fresh_db("progress", 1, dsn, sizeof dsn);
    /* Sessions reference mentor_profiles: the mentors cs-loadgen names (as cs-seed derives them).
     */
    char sql[256];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO mentor_profiles (mentor_id, display_name) SELECT md5('mentor-' || m)::uuid, "
        "'Mentor ' || m FROM generate_series(1, %d) m",
        MENTORS);
    db_exec(dsn, sql);

    /* The stream. */
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char nev[16], nl[16], nm[16];
    snprintf(nev, sizeof nev, "%d", NEVENTS);
    snprintf(nl, sizeof nl, "%d", LEARNERS);
    snprintf(nm, sizeof nm, "%d", MENTORS);
    const char *gen[] = {
        CS_LOADGEN_BIN, "--events", nev,      "--learners", nl,        "--mentors", nm,
        "--days",       "0",        "--seed", "100",        "--jsonl", path,        "--log-level",
        "warn",         NULL};
    ck_assert_int_eq(run(gen, NULL, NULL, 60), 0);

    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ev_t *evs = calloc(NEVENTS + 1, sizeof *evs);
    size_t n = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        ck_assert_int_lt(n, NEVENTS);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        json_error_t jerr;
        ev_t *e = &evs[n++];
        e->line = strdup(line);
        e->j = json_loads(line, 0, &jerr);
        ck_assert_msg(e->j != NULL, "line %zu: %s", n, jerr.text);
        e->type = jstr(e->j, "event_type");
        e->user = jstr(e->j, "user_id");
        e->at = jstr(e->j, "occurred_at");
        e->p = json_object_get(e->j, "payload");
        int t = cs_codec_type_by_name(e->type);
        ck_assert_int_ge(t, 0);
        e->topic = cs_codec_type_topic(t);
    }
    free(line);
    fclose(f);
    unlink(path);
    ck_assert_int_eq(n, NEVENTS);

    /* Fresh topics: <prefix>cs.learning, ... */
    cs_test_topic("progress", prefix, sizeof prefix - 1);
    strcat(prefix, ".");
    snprintf(topics, sizeof topics,
             "%scs.learning,%scs.mentoring,%scs.jobsearch,%scs.portfolio,%scs.profile", prefix,
             prefix, prefix, prefix, prefix);
    snprintf(group, sizeof group, "g.%s", prefix);
    snprintf(log, sizeof log, "/tmp/cs-it-0100-%d.log", (int)getpid());

    /* First: out of order (see pass_of). */
    publish(evs, n, prefix, 1);
    drain(dsn, topics, group, log, "300");
    expect_ll("dead letters", 0, dsn, "SELECT count(*) FROM dead_letters");
    expect_ll("offsets", NEVENTS, dsn, "SELECT sum(next_offset) FROM consumer_offsets");
    check_tables(dsn, evs, n);
    char *before = state_of(dsn);

    /* Then the same events again, in order (a replay): nothing may change. */
    publish(evs, n, prefix, 0);
    drain(dsn, topics, group, log, "5000");
    expect_ll("offsets after the replay", 2 * NEVENTS, dsn,
              "SELECT sum(next_offset) FROM consumer_offsets");
    expect_ll("dead letters after the replay", 0, dsn, "SELECT count(*) FROM dead_letters");
    char *after = state_of(dsn);
    ck_assert_str_eq(after, before);
    check_tables(dsn, evs, n);

    free(before);
    free(after);
    for (size_t i = 0; i < n; i++) {
        free(evs[i].line);
        json_decref(evs[i].j);
    }
    free(evs);
    unlink(log);
    cs_test_drop_db(dsn);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("progress_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 240 * cs_test_timeout_mult());
    tcase_add_test(tc, progress_pipeline);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

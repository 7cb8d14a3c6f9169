/*
 * workers/readiness.c
 *      cs-readiness - recompute the career-readiness score of every learner a batch touches,
 *      store it with its explanation and history, and emit readiness_score_changed.
 *
 * Every input topic moves some dimension (cs/readiness.h): cs.learning (content, assessments,
 * skills: learning and skills), cs.portfolio (portfolio), cs.jobsearch (applications, mock
 * interviews: job search and interview), cs.mentoring (sessions, mentors: mentoring), cs.profile
 * (target industry and skills, stage, study hours: every dimension). So the worker consumes them
 * all and recomputes the learners of a batch, not the events:
 *  - batch_begin (once per batch) collects the batch's learners and reads their inputs with ONE
 *    statement, career_readiness_inputs_batch($1::uuid[]) joined with what is stored for them in
 *    career_transformation_progress, then scores each learner (cs_readiness_score) and decides
 *    whether readiness_score_changed is due (cs_readiness_should_emit, against the last EMITTED
 *    score and stage: drifts add up, one change is never emitted twice);
 *  - the handler of a learner's last event in the batch (its trigger) appends the learner's rows:
 *    the score, six dimensions, stage and explanation (career_transformation_progress, only when
 *    something changed), a history row (career_readiness_history, keyed by the trigger event), and
 *    the derived event through the outbox (cs_batch_emit), with an id derived from what it states
 *    (learner, trigger event, score, stage).
 * Inputs are read as of each learner's own last activity (the function's p_as_of NULL), so the
 * score is a function of the stored rows: a replay (offsets rewound) recomputes the stored score,
 * writes nothing and emits nothing. The handler runs for duplicates too (CS_HANDLER_ALWAYS): what
 * it writes is derived from current state, never accumulated.
 *
 * Pipelining: batch N+1 is prepared while N commits, so what batch_begin reads from PostgreSQL may
 * miss N's writes. What each batch decided is kept in memory for the next one (two generations:
 * when N+1 is prepared, N-1 has committed), and forget() drops it whenever the runtime drops
 * batches (a rollback, a rebalance).
 *
 * The inputs are written by cs-progress: cs-readiness scores what cs-progress has committed. A
 * batch that runs ahead of cs-progress scores the older state; the learner's next event (or a
 * replay) brings the score up to date.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/codec.h"
#include "cs/db.h"
#include "cs/log.h"
#include "cs/mem.h"
#include "cs/readiness.h"
#include "cs/text.h"
#include "cs/worker.h"

enum { T_SCORE, T_HISTORY };

static const cs_table_def_t tables[] = {
    [T_SCORE] = {.table = "career_transformation_progress",
                 .columns = "user_id, readiness_score, readiness_technical, readiness_portfolio, "
                            "readiness_interview, readiness_learning, readiness_job_search, "
                            "readiness_mentoring, readiness_stage, readiness_explanation, "
                            "readiness_model_version, readiness_computed_at, "
                            "readiness_source_event_id, readiness_emitted_score, "
                            "readiness_emitted_stage",
                 .conflict = "user_id",
                 .update = "readiness_score = EXCLUDED.readiness_score, "
                           "readiness_technical = EXCLUDED.readiness_technical, "
                           "readiness_portfolio = EXCLUDED.readiness_portfolio, "
                           "readiness_interview = EXCLUDED.readiness_interview, "
                           "readiness_learning = EXCLUDED.readiness_learning, "
                           "readiness_job_search = EXCLUDED.readiness_job_search, "
                           "readiness_mentoring = EXCLUDED.readiness_mentoring, "
                           "readiness_stage = EXCLUDED.readiness_stage, "
                           "readiness_explanation = EXCLUDED.readiness_explanation, "
                           "readiness_model_version = EXCLUDED.readiness_model_version, "
                           "readiness_computed_at = EXCLUDED.readiness_computed_at, "
                           "readiness_source_event_id = EXCLUDED.readiness_source_event_id, "
                           "readiness_emitted_score = coalesce(EXCLUDED.readiness_emitted_score, "
                           "t.readiness_emitted_score), "
                           "readiness_emitted_stage = coalesce(EXCLUDED.readiness_emitted_stage, "
                           "t.readiness_emitted_stage)",
                 .merge = CS_MERGE_LAST},
    [T_HISTORY] = {.table = "career_readiness_history",
                   .columns = "user_id, source_event_id, score, previous_score, stage, skills, "
                              "portfolio, interview, learning, job_search, mentoring, "
                              "model_version, emitted, computed_at",
                   .conflict = "user_id, source_event_id",
                   .merge = CS_MERGE_LAST},
    {NULL},
};

/* What is stored (or about to be) for a learner: the reference of the next decision. */
typedef struct stored {
    char uid[37];
    bool used;
    bool has_score; /* a score is stored */
    double score;
    double dim[CS_READINESS_NDIMS];
    cs_readiness_stage_t stage;
    bool has_emitted;
    double emitted_score;
    cs_readiness_stage_t emitted_stage;
} stored_t;

/* A small open-addressing map user_id -> stored_t (one generation). */
typedef struct gen {
    stored_t *v;
    size_t cap, n;
} gen_t;

/* One learner of the batch in flight of preparation. */
typedef struct learner {
    char uid[37];
    const cs_event_t *trigger; /* its last event in the batch */
    bool scored;
    bool write;
    cs_readiness_emit_t emit;
    bool had_emitted;
    double prev_emitted;
    cs_readiness_score_t sc;
    char *explain; /* JSON, in the learner buffer */
} learner_t;

typedef struct rd {
    cs_db_t *db;
    const char *dsn;
    cs_readiness_config_t cfg;
    char model[32];
    gen_t cur, prev; /* what this batch and the one before decided */
    gen_t idx;       /* this batch: user_id -> learner index (score unused) */
    learner_t *ls;
    int nls, capls;
    cs_buf_t arr, json;
    cs_readiness_skill_t *skills;
    size_t capskills;
    char **skill_ids;
    const char *topic; /* --derived-topic, NULL: the contract's */
    long long learners_scored, events_emitted, batches;
    double read_s, score_s; /* time batch_begin spent reading, then scoring (totals) */
} rd_t;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the maps ---- */

static size_t hash_uid(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (int i = 0; i < 36; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static stored_t *gen_find(gen_t *g, const char *uid, bool add)
{
    if (add && (g->n + 1) * 2 > g->cap) {
        gen_t ng = {.cap = g->cap ? g->cap * 2 : 1024};
        ng.v = cs_mem_calloc(ng.cap, sizeof *ng.v);
        for (size_t i = 0; i < g->cap; i++)
            if (g->v[i].used) {
                size_t j = hash_uid(g->v[i].uid) & (ng.cap - 1);
                while (ng.v[j].used)
                    j = (j + 1) & (ng.cap - 1);
                ng.v[j] = g->v[i];
                ng.n++;
            }
        free(g->v);
        *g = ng;
    }
    if (!g->cap)
        return NULL;
    size_t j = hash_uid(uid) & (g->cap - 1);
    while (g->v[j].used) {
        if (!memcmp(g->v[j].uid, uid, 36))
            return &g->v[j];
        j = (j + 1) & (g->cap - 1);
    }
    if (!add)
        return NULL;
    memset(&g->v[j], 0, sizeof g->v[j]);
    memcpy(g->v[j].uid, uid, 37);
    g->v[j].used = true;
    g->n++;
    return &g->v[j];
}

static void gen_clear(gen_t *g)
{
    if (g->v)
        memset(g->v, 0, g->cap * sizeof *g->v);
    g->n = 0;
}

/* ---- reading the inputs ---- */

static double num(const char *s)
{
    return s ? strtod(s, NULL) : NAN;
}

static int inum(const char *s)
{
    return s ? (int)strtol(s, NULL, 10) : 0;
}

/* Parses a numeric[] / uuid[] text literal {a,NULL,b} into out[0..max); returns the count. */
static int parse_array(const char *s, char **out, int max)
{
    int n = 0;
    if (!s || *s != '{')
        return 0;
    s++;
    while (*s && *s != '}' && n < max) {
        const char *e = s;
        while (*e && *e != ',' && *e != '}')
            e++;
        out[n++] = cs_mem_strndup(s, (size_t)(e - s));
        s = *e == ',' ? e + 1 : e;
    }
    return n;
}

#define MAX_SKILLS 64

/* Columns of the read (career_readiness_inputs_batch, then what is stored). */
enum {
    C_UID = 0,
    C_STAGE = 1,
    C_TARGET_IND = 2,
    C_LAST_ACTIVITY = 29,
    C_SKILL_IDS = 30,
    C_SKILL_DEMAND,
    C_SKILL_PROF,
    C_CRITICAL_TOTAL,
    C_SCORE,
    C_DIMS, /* six: technical(skills), portfolio, interview, learning, job_search, mentoring */
    C_RSTAGE = C_DIMS + 6,
    C_EMITTED_SCORE,
    C_EMITTED_STAGE,
    C_COUNT
};

static const char read_sql[] =
    "SELECT i.*, p.readiness_score, p.readiness_technical, p.readiness_portfolio, "
    "p.readiness_interview, p.readiness_learning, p.readiness_job_search, p.readiness_mentoring, "
    "p.readiness_stage, p.readiness_emitted_score, p.readiness_emitted_stage "
    "FROM career_readiness_inputs_batch($1::uuid[]) i "
    "LEFT JOIN career_transformation_progress p ON p.user_id = i.user_id";

/* One row's inputs; the skill arrays stay in rd->skills/skill_ids until the next row. */
static int row_input(rd_t *rd, cs_db_res_t *res, int r, cs_readiness_input_t *in, cs_err_t *err)
{
#define G(c) cs_db_res_get(res, r, (c))
    memset(in, 0, sizeof *in);
    const char *stage = G(C_STAGE);
    if (!stage || cs_readiness_stage_parse(stage, &in->declared_stage) < 0)
        in->declared_stage = CS_STAGE_EXPLORING;
    in->has_target_industry = G(C_TARGET_IND) != NULL;
    in->target_industry_demand_index = num(G(3));
    in->available_study_hours_week = num(G(4));
    in->days_in_program = inum(G(5));
    in->content_started = inum(G(6));
    in->content_completed = inum(G(7));
    in->career_critical_completed = inum(G(8));
    in->avg_content_score = num(G(9));
    in->study_seconds_30d = G(10) ? strtoll(G(10), NULL, 10) : 0;
    in->skills_assessed = inum(G(11));
    in->skills_proficient = inum(G(12));
    in->target_skills_total = inum(G(13));
    in->target_skills_proficient = inum(G(14));
    in->avg_skill_proficiency = num(G(15));
    in->projects_total = inum(G(16));
    in->projects_completed = inum(G(17));
    in->projects_showcase_ready = inum(G(18));
    in->avg_project_review_score = num(G(19));
    in->mock_interviews_completed = inum(G(20));
    in->avg_mock_interview_score = num(G(21));
    if (cs_readiness_mock_rating_parse(G(22), &in->latest_mock_readiness) < 0)
        return cs_err_set_field(err, CS_ERR_PERMANENT, "latest_mock_readiness",
                                "unknown mock interview rating '%s'", G(22));
    in->coaching_sessions_completed = inum(G(23));
    in->avg_session_rating = num(G(24));
    in->has_active_mentor = G(25) && G(25)[0] == 't';
    in->applications_submitted = inum(G(26));
    in->applications_interviewing = inum(G(27));
    in->offers_received = inum(G(28));
    in->career_critical_total = inum(G(C_CRITICAL_TOTAL));
    /* Per target skill: ids, demand and proficiency, aligned. */
    char *ids[MAX_SKILLS], *dem[MAX_SKILLS], *prof[MAX_SKILLS];
    int ni = parse_array(G(C_SKILL_IDS), ids, MAX_SKILLS);
    int nd = parse_array(G(C_SKILL_DEMAND), dem, MAX_SKILLS);
    int np = parse_array(G(C_SKILL_PROF), prof, MAX_SKILLS);
    for (int k = 0; rd->skill_ids && rd->skill_ids[k]; k++)
        free(rd->skill_ids[k]);
    free(rd->skill_ids);
    rd->skill_ids = cs_mem_calloc((size_t)ni + 1, sizeof *rd->skill_ids);
    if ((size_t)ni > rd->capskills) {
        rd->capskills = (size_t)ni;
        rd->skills = cs_mem_realloc(rd->skills, rd->capskills * sizeof *rd->skills);
    }
    int n = ni == nd && ni == np ? ni : 0;
    for (int k = 0; k < n; k++) {
        rd->skill_ids[k] = ids[k];
        ids[k] = NULL;
        rd->skills[k] = (cs_readiness_skill_t){
            rd->skill_ids[k], strcmp(dem[k], "NULL") ? strtod(dem[k], NULL) : NAN,
            strcmp(prof[k], "NULL") ? strtod(prof[k], NULL) : NAN};
    }
    for (int k = 0; k < ni; k++)
        free(ids[k]);
    for (int k = 0; k < nd; k++)
        free(dem[k]);
    for (int k = 0; k < np; k++)
        free(prof[k]);
    in->target_skills = n ? rd->skills : NULL;
    in->n_target_skills = n;
    return 0;
#undef G
}

/* What is stored for row r (PostgreSQL), unless a batch not yet committed decided later. */
static stored_t row_stored(rd_t *rd, cs_db_res_t *res, int r, const char *uid)
{
    stored_t *mem = gen_find(&rd->prev, uid, false);
    if (mem)
        return *mem;
    stored_t s = {0};
    const char *v = cs_db_res_get(res, r, C_SCORE);
    s.has_score = v != NULL;
    s.score = num(v);
    static const int dims[] = {CS_READINESS_SKILLS,     CS_READINESS_PORTFOLIO,
                               CS_READINESS_INTERVIEW,  CS_READINESS_LEARNING,
                               CS_READINESS_JOB_SEARCH, CS_READINESS_MENTORING};
    for (int k = 0; k < 6; k++)
        s.dim[dims[k]] = num(cs_db_res_get(res, r, C_DIMS + k));
    const char *st = cs_db_res_get(res, r, C_RSTAGE);
    if (!st || cs_readiness_stage_parse(st, &s.stage) < 0)
        s.has_score = false;
    v = cs_db_res_get(res, r, C_EMITTED_SCORE);
    st = cs_db_res_get(res, r, C_EMITTED_STAGE);
    s.has_emitted = v && st && cs_readiness_stage_parse(st, &s.emitted_stage) == 0;
    s.emitted_score = num(v);
    return s;
}

/* Scores compare in hundredths, as stored (numeric(5,2)). */
static bool same(double a, double b)
{
    return llround(a * 100) == llround(b * 100);
}

static bool changed(const stored_t *s, const cs_readiness_score_t *sc)
{
    if (!s->has_score || !same(s->score, sc->overall) || s->stage != sc->stage)
        return true;
    for (int d = 0; d < CS_READINESS_NDIMS; d++)
        if (!same(s->dim[d], sc->dim[d]))
            return true;
    return false;
}

static learner_t *learner_of(rd_t *rd, const char *uid)
{
    stored_t *e = gen_find(&rd->idx, uid, false);
    return e ? &rd->ls[(int)e->score] : NULL;
}

/* Scores row r of the read: the learner's decision, its explanation when it is written (appended
 * to rd->json, its offset + 1 in off), and what the batch leaves stored. */
static void score_row(rd_t *rd, cs_db_res_t *res, int r, size_t *off)
{
    const char *uid = cs_db_res_get(res, r, C_UID);
    learner_t *l = learner_of(rd, uid);
    if (!l)
        return;
    cs_readiness_input_t in;
    cs_err_t e;
    cs_err_clear(&e);
    if (row_input(rd, res, r, &in, &e) < 0 || cs_readiness_score(&rd->cfg, &in, &l->sc, &e) < 0) {
        cs_log_warn("readiness inputs out of range; learner not scored", CS_LS("user_id", uid),
                    CS_LS("field", e.field), CS_LS("reason", e.msg));
        return;
    }
    l->scored = true;
    stored_t s = row_stored(rd, res, r, uid);
    cs_readiness_last_t last = {s.emitted_score, s.emitted_stage};
    l->emit = cs_readiness_should_emit(&rd->cfg, s.has_emitted ? &last : NULL, &l->sc);
    l->had_emitted = s.has_emitted;
    l->prev_emitted = s.emitted_score;
    l->write = changed(&s, &l->sc) || l->emit != CS_READINESS_EMIT_NONE;
    /* The explanation only for what is written (rendering costs ~10x the score); skill ids
     * in it are borrowed from rd->skill_ids: render now, before the next row. */
    if (l->write) {
        off[l - rd->ls] = rd->json.len + 1;
        cs_readiness_explain_json(&rd->cfg, &l->sc, &rd->json, &e);
        cs_buf_putc(&rd->json, '\0');
    }
    for (int k = 0; k < CS_READINESS_NDIMS; k++)
        l->sc.gaps[k].change.skill_id = NULL; /* not valid past this row */
    l->sc.best.skill_id = NULL;
    /* What this batch leaves stored, for the next batch prepared before it commits. */
    stored_t *c = gen_find(&rd->cur, uid, true);
    c->has_score = true;
    c->score = l->sc.overall;
    memcpy(c->dim, l->sc.dim, sizeof c->dim);
    c->stage = l->sc.stage;
    c->has_emitted = s.has_emitted || l->emit != CS_READINESS_EMIT_NONE;
    c->emitted_score = l->emit != CS_READINESS_EMIT_NONE ? l->sc.overall : s.emitted_score;
    c->emitted_stage = l->emit != CS_READINESS_EMIT_NONE ? l->sc.stage : s.emitted_stage;
    rd->learners_scored++;
}

static int batch_begin(void *ud, const cs_event_t *const *evs, int n, cs_err_t *err)
{
    rd_t *rd = ud;
    /* Rotate: the batch before last has committed; the last one's decisions are the reference. */
    gen_t t = rd->prev;
    rd->prev = rd->cur;
    rd->cur = t;
    gen_clear(&rd->cur);
    gen_clear(&rd->idx);
    rd->nls = 0;
    cs_buf_reset(&rd->json);
    for (int i = 0; i < n; i++) {
        stored_t *e = gen_find(&rd->idx, evs[i]->user_id, true);
        if (e->has_score) { /* seen: this event is later */
            rd->ls[(int)e->score].trigger = evs[i];
            continue;
        }
        if (rd->nls == rd->capls) {
            rd->capls = rd->capls ? rd->capls * 2 : 1024;
            rd->ls = cs_mem_realloc(rd->ls, (size_t)rd->capls * sizeof *rd->ls);
        }
        learner_t *l = &rd->ls[rd->nls];
        memset(l, 0, sizeof *l);
        memcpy(l->uid, evs[i]->user_id, 37);
        l->trigger = evs[i];
        e->has_score = true;
        e->score = rd->nls++;
    }
    if (rd->nls == 0)
        return 0;
    cs_buf_reset(&rd->arr);
    cs_buf_putc(&rd->arr, '{');
    for (int i = 0; i < rd->nls; i++) {
        if (i)
            cs_buf_putc(&rd->arr, ',');
        cs_buf_puts(&rd->arr, rd->ls[i].uid);
    }
    cs_buf_putc(&rd->arr, '}');
    if (!cs_db_ok(rd->db) && cs_db_reset(rd->db, err) < 0)
        return -1;
    const char *params[] = {rd->arr.data};
    double t0 = mono_s();
    cs_db_res_t *res = cs_db_query(rd->db, read_sql, 1, params, err);
    if (!res) {
        if (err->kind != CS_ERR_FATAL)
            err->kind = CS_ERR_TRANSIENT;
        return -1;
    }
    if (cs_db_res_cols(res) != C_COUNT) {
        cs_db_res_free(res);
        return cs_err_set(err, CS_ERR_FATAL,
                          "career_readiness_inputs_batch returns %d columns with the stored "
                          "ones, expected %d (migrations 0070 and the function's file applied?)",
                          cs_db_res_cols(res), C_COUNT);
    }
    double t1 = mono_s();
    rd->read_s += t1 - t0;
    rd->batches++;
    /* Explanations go into one buffer; offsets first, pointers once it stops growing. */
    size_t *off = cs_mem_calloc((size_t)rd->nls, sizeof *off);
    for (int r = 0; r < cs_db_res_rows(res); r++)
        score_row(rd, res, r, off);
    for (int i = 0; i < rd->nls; i++)
        rd->ls[i].explain = off[i] ? rd->json.data + off[i] - 1 : NULL;
    free(off);
    cs_db_res_free(res);
    rd->score_s += mono_s() - t1;
    return 0;
}

static void put_dim(cs_batch_t *b, double v)
{
    char s[32];
    snprintf(s, sizeof s, "%.2f", v);
    cs_batch_str(b, s);
}

static int emit(rd_t *rd, cs_batch_t *b, const learner_t *l, cs_err_t *err)
{
    const cs_readiness_score_t *sc = &l->sc;
    cs_ev_readiness_score_changed_t pl = {
        .score = sc->overall,
        .has_previous_score = l->had_emitted,
        .previous_score = l->prev_emitted,
        .skills_score = sc->dim[CS_READINESS_SKILLS],
        .learning_score = sc->dim[CS_READINESS_LEARNING],
        .portfolio_score = sc->dim[CS_READINESS_PORTFOLIO],
        .interview_score = sc->dim[CS_READINESS_INTERVIEW],
        .mentoring_score = sc->dim[CS_READINESS_MENTORING],
        .model_version = rd->model,
        .trigger_event_id = l->trigger->event_id,
        .trigger_event_type = l->trigger->type_name,
    };
    cs_event_t ev = {
        .type = cs_codec_type_by_name("readiness_score_changed"),
        .occurred_at_ms = l->trigger->occurred_at_ms,
        .producer = "cs-readiness",
        .traceparent = l->trigger->traceparent,
        .payload = &pl,
    };
    memcpy(ev.user_id, l->uid, 37);
    char what[256];
    int n =
        snprintf(what, sizeof what, "readiness_score_changed|%s|%s|%.2f|%s|%s", l->uid,
                 l->trigger->event_id, sc->overall, cs_readiness_stage_name(sc->stage), rd->model);
    cs_batch_derived_id(what, (size_t)n, ev.event_id);
    if (cs_batch_emit(b, rd->topic, NULL, &ev, err) < 0)
        return -1;
    rd->events_emitted++;
    return 0;
}

static int on_event(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta, cs_err_t *err)
{
    rd_t *rd = meta->ud;
    learner_t *l = learner_of(rd, ev->user_id);
    if (!l || l->trigger != ev || !l->scored || !l->write)
        return 0; /* not the learner's last event here, no profile, or nothing changed */
    const cs_readiness_score_t *sc = &l->sc;
    bool emitting = l->emit != CS_READINESS_EMIT_NONE;
    const char *stage = cs_readiness_stage_name(sc->stage);
    cs_batch_row_begin(b, T_SCORE);
    cs_batch_str(b, l->uid);
    put_dim(b, sc->overall);
    put_dim(b, sc->dim[CS_READINESS_SKILLS]);
    put_dim(b, sc->dim[CS_READINESS_PORTFOLIO]);
    put_dim(b, sc->dim[CS_READINESS_INTERVIEW]);
    put_dim(b, sc->dim[CS_READINESS_LEARNING]);
    put_dim(b, sc->dim[CS_READINESS_JOB_SEARCH]);
    put_dim(b, sc->dim[CS_READINESS_MENTORING]);
    cs_batch_str(b, stage);
    cs_batch_str(b, l->explain);
    cs_batch_str(b, rd->model);
    cs_batch_ts_ms(b, ev->occurred_at_ms);
    cs_batch_str(b, ev->event_id);
    if (emitting) {
        put_dim(b, sc->overall);
        cs_batch_str(b, stage);
    } else {
        cs_batch_null(b);
        cs_batch_null(b);
    }
    if (cs_batch_row_end(b, err) < 0)
        return -1;
    cs_batch_row_begin(b, T_HISTORY);
    cs_batch_str(b, l->uid);
    cs_batch_str(b, ev->event_id);
    put_dim(b, sc->overall);
    if (l->had_emitted)
        put_dim(b, l->prev_emitted);
    else
        cs_batch_null(b);
    cs_batch_str(b, stage);
    put_dim(b, sc->dim[CS_READINESS_SKILLS]);
    put_dim(b, sc->dim[CS_READINESS_PORTFOLIO]);
    put_dim(b, sc->dim[CS_READINESS_INTERVIEW]);
    put_dim(b, sc->dim[CS_READINESS_LEARNING]);
    put_dim(b, sc->dim[CS_READINESS_JOB_SEARCH]);
    put_dim(b, sc->dim[CS_READINESS_MENTORING]);
    cs_batch_str(b, rd->model);
    cs_batch_bool(b, emitting);
    cs_batch_ts_ms(b, ev->occurred_at_ms);
    if (cs_batch_row_end(b, err) < 0)
        return -1;
    return emitting ? emit(rd, b, l, err) : 0;
}

static const cs_handler_t handlers[] = {
    {CS_EVENT_ANY, on_event, CS_HANDLER_ALWAYS},
    {NULL},
};

static const cs_opt_t opts[] = {
    {"derived-topic", CS_OPT_STRING, "",
     "topic of readiness_score_changed (empty: the contract's, cs.derived)"},
    {"readiness-model", CS_OPT_STRING, "",
     "overrides of the readiness model, key=value[,key=value] (weight.skills, stage.placed, "
     "emit.threshold, ...: docs/readiness.md)"},
    {NULL},
};

static int init(const cs_config_t *cfg, void **ud, cs_err_t *err)
{
    rd_t *rd = cs_mem_calloc(1, sizeof *rd);
    *ud = rd;
    cs_buf_init(&rd->arr);
    cs_buf_init(&rd->json);
    cs_readiness_config_defaults(&rd->cfg);
    if (cs_readiness_config_parse(&rd->cfg, cs_config_str(cfg, "readiness-model"), err) < 0) {
        cs_err_set_field(err, CS_ERR_FATAL, "readiness-model", "%s", err->msg);
        return -1;
    }
    cs_readiness_model_version(&rd->cfg, rd->model);
    const char *topic = cs_config_str(cfg, "derived-topic");
    rd->topic = topic && *topic ? topic : NULL;
    /* Reads only (inputs and what is stored), outside the batch's transaction. */
    rd->db = cs_db_connect(cs_config_str(cfg, "pg-dsn"), "cs-readiness-inputs", err);
    return rd->db ? 0 : -1;
}

static void forget(void *ud)
{
    rd_t *rd = ud;
    gen_clear(&rd->cur);
    gen_clear(&rd->prev);
}

static void fini(void *ud)
{
    rd_t *rd = ud;
    cs_log_info("readiness totals", CS_LI("learners_scored", rd->learners_scored),
                CS_LI("events_emitted", rd->events_emitted), CS_LI("batches", rd->batches),
                CS_LD("read_s", rd->read_s), CS_LD("score_s", rd->score_s));
    cs_db_destroy(rd->db);
    free(rd->cur.v);
    free(rd->prev.v);
    free(rd->idx.v);
    free(rd->ls);
    free(rd->skills);
    for (int k = 0; rd->skill_ids && rd->skill_ids[k]; k++)
        free(rd->skill_ids[k]);
    free(rd->skill_ids);
    cs_buf_fini(&rd->arr);
    cs_buf_fini(&rd->json);
    free(rd);
}

static const cs_worker_def_t def = {
    .name = "cs-readiness",
    .group = "cs-readiness",
    .topics = (const char *const[]){"cs.learning", "cs.mentoring", "cs.jobsearch", "cs.portfolio",
                                    "cs.profile", NULL},
    .handlers = handlers,
    .tables = tables,
    .usage = "Recompute the career-readiness score of the learners each batch touches, store it "
             "with its explanation and history, and emit readiness_score_changed through the "
             "transactional outbox.",
    .opts = opts,
    .init = init,
    .fini = fini,
    .forget = forget,
    .batch_begin = batch_begin,
    .outbox = true,
};

int main(int argc, char **argv)
{
    return cs_worker_main(&def, argc, argv);
}

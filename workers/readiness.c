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
 *    statement, career_readiness_inputs_fp($1::uuid[], NULL, $2 = the model version), which
 *    gives what is stored for them in career_readiness_scores too (0097, 0099); it leaves out
 *    the learners whose stored score this model computed from inputs with the same fingerprint
 *    (the versions of the rows they come from, stored with each score: migration 0093), whose
 *    recomputation would write and emit nothing, like a learner without a profile. It scores
 *    each other learner (cs_readiness_score) and decides whether readiness_score_changed is due
 *    (cs_readiness_should_emit, against the last EMITTED score and stage: drifts add up, one
 *    change is never emitted twice);
 *  - the handler of a learner's last event in the batch (its trigger) appends the learner's rows:
 *    the score, six dimensions, stage and explanation (career_readiness_scores, a narrow table of
 *    its own since 0099; only when something changed), a history row (career_readiness_history,
 * keyed by the trigger event), and the derived event through the outbox (cs_batch_emit), with an id
 * derived from what it states (learner, trigger event, score, stage). Inputs are read as of each
 * learner's own last activity (the function's p_as_of NULL), so the score is a function of the
 * stored rows: a replay (offsets rewound) recomputes the stored score, writes nothing and emits
 * nothing. The handler runs for duplicates too (CS_HANDLER_ALWAYS): what it writes is derived from
 * current state, never accumulated.
 *
 * No effect ledger (no_dedupe): with every handler CS_HANDLER_ALWAYS the ledger changed nothing the
 * handler does (a duplicate ran like a new event) and cost one processed_events row per event.
 * "Never emitted twice" rests on the stored state instead: the emit rule compares with
 * readiness_emitted_score/stage, written in the same transaction as the outbox row, and the event
 * id is derived from what it states. (Two consumers recomputing one learner at the same moment, a
 * replay group beside the live one, can both decide an emit; the ledger did not prevent that
 * either, except when the very same event was in both batches.)
 *
 * Pipelining: batch N+1 is prepared while N commits, so what batch_begin reads from PostgreSQL may
 * miss N's writes. What each batch decided is kept in memory for the next ones (three
 * generations), and forget() drops it whenever the runtime drops batches (a rollback, a
 * rebalance). Read-ahead (batch_read): the runtime hands over the events of the next batch a
 * chunk at a time as they arrive, while the batches before it are prepared or committed; each
 * chunk's new learners are read at once (one read in flight on the connection, the results kept)
 * and the batch's batch_begin collects them and reads only the learners they missed. Those reads
 * are sent after the batch before (N+1) was prepared, while N may still commit: both overlay
 * them; a read made by batch_begin alone (N+1 in flight, N committed) is overlaid by N+1 only.
 *
 * The inputs are written by cs-progress: cs-readiness scores what cs-progress has committed. A
 * batch that runs ahead of cs-progress scores the older state; the learner's next event (or a
 * replay) brings the score up to date.
 */
#include <math.h>
#include <stdint.h>
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

/*
 * A learner's score goes to T_SCORE_NEW when no emitted score is stored for it (emit FIRST: a
 * score is stored with its first emission, so in practice no score is stored), else to T_SCORE.
 * Both are the same upsert; T_SCORE_NEW's rows are inserted first without ON CONFLICT
 * (insert_first: batch.h), and a key stored after all (another writer, a replay, a score carried
 * by 0099 without an emitted one) makes that flush fall back to the upsert. The history rows are
 * new but for replays: insert_first too.
 */
enum { T_SCORE, T_SCORE_NEW, T_HISTORY };

#define SCORE_COLUMNS                                                                              \
    "user_id, score, skills, portfolio, interview, learning, job_search, mentoring, stage, "       \
    "explanation, model_version, computed_at, source_event_id, emitted_score, emitted_stage, "     \
    "inputs_fp"
#define SCORE_UPDATE                                                                               \
    "score = EXCLUDED.score, skills = EXCLUDED.skills, portfolio = EXCLUDED.portfolio, "           \
    "interview = EXCLUDED.interview, learning = EXCLUDED.learning, "                               \
    "job_search = EXCLUDED.job_search, mentoring = EXCLUDED.mentoring, stage = EXCLUDED.stage, "   \
    "explanation = EXCLUDED.explanation, model_version = EXCLUDED.model_version, "                 \
    "computed_at = EXCLUDED.computed_at, source_event_id = EXCLUDED.source_event_id, "             \
    "emitted_score = coalesce(EXCLUDED.emitted_score, t.emitted_score), "                          \
    "emitted_stage = coalesce(EXCLUDED.emitted_stage, t.emitted_stage), "                          \
    "inputs_fp = EXCLUDED.inputs_fp"

static const cs_table_def_t tables[] = {
    [T_SCORE] = {.table = "career_readiness_scores",
                 .columns = SCORE_COLUMNS,
                 .conflict = "user_id",
                 .update = SCORE_UPDATE,
                 .merge = CS_MERGE_LAST},
    [T_SCORE_NEW] = {.table = "career_readiness_scores",
                     .columns = SCORE_COLUMNS,
                     .conflict = "user_id",
                     .update = SCORE_UPDATE,
                     .merge = CS_MERGE_LAST,
                     .insert_first = true},
    [T_HISTORY] = {.table = "career_readiness_history",
                   .columns = "user_id, source_event_id, score, previous_score, stage, skills, "
                              "portfolio, interview, learning, job_search, mentoring, "
                              "model_version, emitted, computed_at",
                   .conflict = "user_id, source_event_id",
                   .merge = CS_MERGE_LAST,
                   .insert_first = true},
    {NULL},
};

/* What is stored (or about to be) for a learner: the reference of the next decision. */
typedef struct stored {
    char uid[37];
    bool has_score; /* a score is stored */
    double score;
    double dim[CS_READINESS_NDIMS];
    cs_readiness_stage_t stage;
    bool has_emitted;
    double emitted_score;
    cs_readiness_stage_t emitted_stage;
} stored_t;

/*
 * An open-addressing index of user_ids (linear probing, at most half full): each slot holds the
 * high half of the uid's hash and the index + 1 of its entry in the caller's array (0: empty), so
 * a probe reads 8 bytes, not the entry, and a uid is compared only when the hashes' halves match.
 * The uids are the entries' own: entry i's at base + i * stride (the map keeps no copy).
 */
typedef struct uidmap {
    uint64_t *slot;
    size_t cap, n;
} uidmap_t;

/* A generation: user_id -> stored_t, the entries dense in v (in the order they were added). */
typedef struct gen {
    uidmap_t map;
    stored_t *v;
    size_t capv;
} gen_t;

/*
 * What a learner's rows and event need of its score. The whole cs_readiness_score_t (evidence,
 * gaps: ~1.7 KB) lives only while its row is scored (rd->full): kept per learner, a batch of
 * 10,000 learners held 17 MB of it.
 */
typedef struct kept_score {
    double overall;
    double dim[CS_READINESS_NDIMS];
    cs_readiness_stage_t stage;
    struct {
        cs_readiness_action_t action;
        double gain;
    } best;
} kept_score_t;

/* One learner of the batch in flight of preparation. */
typedef struct learner {
    char uid[37];
    const cs_event_t *trigger; /* its last event in the batch */
    bool scored;
    bool write;
    cs_readiness_emit_t emit;
    bool had_emitted;
    double prev_emitted;
    cs_readiness_stage_t prev_stage; /* of the last emitted event, when had_emitted */
    kept_score_t sc;
    char *explain;      /* JSON, in the learner buffer */
    size_t explain_len; /* its bytes (it is written once per row: no strlen of ~720 bytes) */
    char inputs_fp[80]; /* the fingerprint of the inputs it was scored from (0093) */
} learner_t;

#define MAX_SKILLS 64 /* target skills of a learner taken into the score */

typedef struct rd {
    cs_db_t *db;
    const char *dsn;
    cs_readiness_config_t cfg;
    char model[32];
    gen_t cur, prev, prev2; /* what this batch and the two before decided */
    bool overlay2;          /* this batch's read may miss prev2's writes too (read ahead) */
    uidmap_t idx;           /* this batch: user_id -> index in ls */
    learner_t *ls;
    int nls, capls;
    cs_buf_t arr, json;
    cs_readiness_score_t full;               /* the row being scored */
    cs_readiness_skill_t skills[MAX_SKILLS]; /* the row's; ids point into skilltext */
    cs_buf_t skilltext;
    const char *topic; /* --derived-topic, NULL: the contract's */
    int ev_type;       /* readiness_score_changed's codec type */
    char *read_sql;    /* SELECT read_columns read_from */
    /* the reads sent ahead by batch_read for the next batch: their learners, once each, the
     * results collected so far, and whether one is still in flight on rd->db */
    struct ahead_uid {
        char uid[37];
    } * au;
    int nau, capau;
    int nsent; /* au[0..nsent) were sent; the rest wait for the connection */
    uidmap_t aidx;
    cs_buf_t aarr;
    cs_db_res_t **ares;
    int nares, capares;
    long long ahead_at; /* rd->begun when the first of them was sent */
    long long begun;    /* batch_begin calls */
    /* totals: reads sent ahead, read ahead then dropped, learners read by batch_begin after the
     * reads ahead (missed by them) */
    long long ahead_sent, ahead_used, ahead_dropped, ahead_missed;
    long long learners_scored, events_emitted, batches;
    double read_s, score_s; /* time batch_begin spent reading, then scoring (totals) */
    long long first_scores; /* learners scored with no score stored (emit FIRST) */
    long long replan_at;    /* first_scores at which the read's plan is made again */
    long long replans;
} rd_t;

/*
 * The read's plan is made again (DISCARD PLANS on its session) each time the first scores this
 * worker decided double, from REPLAN_FIRST on. career_readiness_inputs_fp's generic plan is made
 * at the session's first call and kept for the session: made while career_readiness_scores was
 * empty or small (a new installation, every benchmark's fresh copy: "0 rows", and the planner
 * trusts an analyzed empty table), it hashes a scan of the whole table on every later call while
 * the table fills, instead of probing it by key (docs/readiness.md, Performance, eleventh round:
 * 1.69-1.77 s against 1.06-1.13 s of backend time for the 42 reads of a drain of 73,004 first
 * scores). Autovacuum's ANALYZE of the table invalidates the plan too, but only past its
 * threshold and after its naptime. A plan costs ~10 ms; log2 of the learners, not one per batch.
 */
#define REPLAN_FIRST 1000

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the maps ---- */

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/*
 * The hash of a user_id's 36 bytes: read as words, each multiplied by its own odd constant, then
 * mixed (murmur3's finalizer) so that both halves depend on every byte. A byte-at-a-time FNV-1a
 * was 36 dependent multiplications per lookup, three lookups per learner and two per event.
 */
static uint64_t hash_uid(const char *s)
{
    uint64_t a, b, c, d;
    uint32_t e;
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    memcpy(&c, s + 16, 8);
    memcpy(&d, s + 24, 8);
    memcpy(&e, s + 32, 4);
    uint64_t h = a * 0x9e3779b97f4a7c15ULL ^ rotl(b * 0xc2b2ae3d27d4eb4fULL, 17) ^
                 rotl(c * 0x165667b19e3779f9ULL, 31) ^ rotl(d * 0xd6e8feb86659fd93ULL, 47) ^
                 (uint64_t)e * 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

#define UIDMAP_TAG(h) ((h)&0xffffffff00000000ULL)

/*
 * The index of uid (hash h) in the entries at base (stride apart), or -1. With add >= 0, an absent
 * uid is inserted as entry add (whose uid the caller stores before the next call); *added says so.
 */
static int uidmap_find(uidmap_t *m, const char *base, size_t stride, const char *uid, uint64_t h,
                       int add, bool *added)
{
    if (added)
        *added = false;
    if (add >= 0 && (m->n + 1) * 2 > m->cap) {
        uidmap_t nm = {.cap = m->cap ? m->cap * 2 : 1024};
        nm.slot = cs_mem_calloc(nm.cap, sizeof *nm.slot);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i]) {
                size_t k = (size_t)(m->slot[i] & 0xffffffff) - 1;
                size_t j = (size_t)hash_uid(base + k * stride) & (nm.cap - 1);
                while (nm.slot[j])
                    j = (j + 1) & (nm.cap - 1);
                nm.slot[j] = m->slot[i];
                nm.n++;
            }
        free(m->slot);
        *m = nm;
    }
    if (!m->cap)
        return -1;
    size_t j = (size_t)h & (m->cap - 1);
    for (uint64_t v; (v = m->slot[j]) != 0; j = (j + 1) & (m->cap - 1)) {
        int k = (int)(v & 0xffffffff) - 1;
        if (UIDMAP_TAG(v) == UIDMAP_TAG(h) && !memcmp(base + (size_t)k * stride, uid, 36))
            return k;
    }
    if (add < 0)
        return -1;
    m->slot[j] = UIDMAP_TAG(h) | (uint64_t)(add + 1);
    m->n++;
    if (added)
        *added = true;
    return add;
}

static void uidmap_clear(uidmap_t *m)
{
    if (m->slot)
        memset(m->slot, 0, m->cap * sizeof *m->slot);
    m->n = 0;
}

/* uid's entry in g, added (zeroed, with its uid) when absent and add. */
static stored_t *gen_find(gen_t *g, const char *uid, bool add)
{
    int n = (int)g->map.n;
    int k = uidmap_find(&g->map, g->v ? g->v->uid : NULL, sizeof *g->v, uid, hash_uid(uid),
                        add ? n : -1, NULL);
    if (k < 0)
        return NULL;
    if (k < n)
        return &g->v[k];
    if ((size_t)n == g->capv) {
        g->capv = g->capv ? g->capv * 2 : 1024;
        g->v = cs_mem_realloc(g->v, g->capv * sizeof *g->v);
    }
    memset(&g->v[n], 0, sizeof g->v[n]);
    memcpy(g->v[n].uid, uid, 37);
    return &g->v[n];
}

static void gen_clear(gen_t *g)
{
    uidmap_clear(&g->map);
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

/*
 * Splits a numeric[] / uuid[] text literal {a,NULL,b}, copied into writable memory, in place:
 * out[0..max) point into it; returns the count.
 */
static int split_array(char *s, char **out, int max)
{
    int n = 0;
    if (!s || *s != '{')
        return 0;
    s++;
    while (*s && *s != '}' && n < max) {
        char *e = s;
        while (*e && *e != ',' && *e != '}')
            e++;
        char c = *e;
        *e = '\0';
        out[n++] = s;
        s = c == ',' ? e + 1 : e;
    }
    return n;
}

/*
 * The columns of the read, each named once: career_readiness_inputs_fp's inputs (I) then what is
 * stored for the learner (S, the same function's last columns: migration 0097). The list generates
 * both the statement's select list (every column by name: a renamed or missing column fails the
 * statement, naming it) and the index of each value in a row, so the two cannot drift apart.
 */
/* clang-format off */
#define READ_COLUMNS(I, S) \
    I(inputs_fp) I(user_id) I(career_stage) I(target_industry_id) I(target_industry_demand_index) \
    I(available_study_hours_week) I(content_started) I(content_completed) \
    I(career_critical_completed) I(avg_content_score) I(study_seconds_30d) I(skills_assessed) \
    I(skills_proficient) I(target_skills_total) I(target_skills_proficient) \
    I(avg_skill_proficiency) I(projects_total) I(projects_completed) I(projects_showcase_ready) \
    I(avg_project_review_score) I(mock_interviews_completed) I(avg_mock_interview_score) \
    I(latest_mock_readiness) I(coaching_sessions_completed) I(avg_session_rating) \
    I(has_active_mentor) I(applications_submitted) I(applications_interviewing) \
    I(offers_received) I(target_skill_ids) I(target_skill_demand) I(target_skill_proficiency) \
    I(career_critical_total) S(readiness_score) S(readiness_technical) S(readiness_portfolio) \
    S(readiness_interview) S(readiness_learning) S(readiness_job_search) S(readiness_mentoring) \
    S(readiness_stage) S(readiness_emitted_score) S(readiness_emitted_stage)
/* clang-format on */

#define COL_ENUM(name) C_##name,
enum { READ_COLUMNS(COL_ENUM, COL_ENUM) C_COUNT };
#define COL_SELECT(name) ", i." #name
/* ", i.inputs_fp, ..., i.readiness_emitted_stage": the select list after its first two bytes. */
static const char read_columns[] = READ_COLUMNS(COL_SELECT, COL_SELECT);
/*
 * What is stored comes with the inputs: the function probes the learner's
 * career_readiness_scores row once (career_transformation_progress's until 0099), for its skip
 * and for these columns (named as the progress row's columns were). Until 0097 the
 * statement probed the row again (a lateral subquery per learner; before that a plain LEFT JOIN,
 * which the planner ran as a hash join over the whole table on every read).
 */
static const char read_from[] = " FROM career_readiness_inputs_fp($1::uuid[], NULL, $2) i";

/*
 * The skills of the row: ids, demand and proficiency, aligned; kept in rd until the next row (the
 * ids point into rd->skilltext: one copy of the three arrays per row, no allocation per skill).
 */
static int row_skills(rd_t *rd, cs_db_res_t *res, int r)
{
    static const int cols[3] = {C_target_skill_ids, C_target_skill_demand,
                                C_target_skill_proficiency};
    char *v[3][MAX_SKILLS];
    size_t at[3];
    int n[3];

    cs_buf_reset(&rd->skilltext);
    for (int a = 0; a < 3; a++) {
        const char *t = cs_db_res_get(res, r, cols[a]);
        at[a] = rd->skilltext.len;
        if (t)
            cs_buf_puts(&rd->skilltext, t);
        cs_buf_putc(&rd->skilltext, '\0');
    }
    for (int a = 0; a < 3; a++)
        n[a] = split_array(rd->skilltext.data + at[a], v[a], MAX_SKILLS);
    int m = n[0] == n[1] && n[0] == n[2] ? n[0] : 0;
    for (int k = 0; k < m; k++) {
        rd->skills[k] =
            (cs_readiness_skill_t){v[0][k], strcmp(v[1][k], "NULL") ? strtod(v[1][k], NULL) : NAN,
                                   strcmp(v[2][k], "NULL") ? strtod(v[2][k], NULL) : NAN};
    }
    return m;
}

/* One row's inputs; the skill arrays stay in rd->skills/skilltext until the next row. */
static int row_input(rd_t *rd, cs_db_res_t *res, int r, cs_readiness_input_t *in, cs_err_t *err)
{
#define G(name)   cs_db_res_get(res, r, C_##name)
#define NUM(name) num(G(name))
#define INT(name) inum(G(name))
    memset(in, 0, sizeof *in);
    const char *stage = G(career_stage);
    if (!stage || cs_readiness_stage_parse(stage, &in->declared_stage) < 0)
        in->declared_stage = CS_STAGE_EXPLORING;
    in->has_target_industry = G(target_industry_id) != NULL;
    in->target_industry_demand_index = NUM(target_industry_demand_index);
    in->available_study_hours_week = NUM(available_study_hours_week);
    in->content_started = INT(content_started);
    in->content_completed = INT(content_completed);
    in->career_critical_completed = INT(career_critical_completed);
    in->avg_content_score = NUM(avg_content_score);
    in->study_seconds_30d = G(study_seconds_30d) ? strtoll(G(study_seconds_30d), NULL, 10) : 0;
    in->skills_assessed = INT(skills_assessed);
    in->skills_proficient = INT(skills_proficient);
    in->target_skills_total = INT(target_skills_total);
    in->target_skills_proficient = INT(target_skills_proficient);
    in->avg_skill_proficiency = NUM(avg_skill_proficiency);
    in->projects_total = INT(projects_total);
    in->projects_completed = INT(projects_completed);
    in->projects_showcase_ready = INT(projects_showcase_ready);
    in->avg_project_review_score = NUM(avg_project_review_score);
    in->mock_interviews_completed = INT(mock_interviews_completed);
    in->avg_mock_interview_score = NUM(avg_mock_interview_score);
    if (cs_readiness_mock_rating_parse(G(latest_mock_readiness), &in->latest_mock_readiness) < 0)
        return cs_err_set_field(err, CS_ERR_PERMANENT, "latest_mock_readiness",
                                "unknown mock interview rating '%s'", G(latest_mock_readiness));
    in->coaching_sessions_completed = INT(coaching_sessions_completed);
    in->avg_session_rating = NUM(avg_session_rating);
    in->has_active_mentor = G(has_active_mentor) && G(has_active_mentor)[0] == 't';
    in->applications_submitted = INT(applications_submitted);
    in->applications_interviewing = INT(applications_interviewing);
    in->offers_received = INT(offers_received);
    in->career_critical_total = INT(career_critical_total);
    in->n_target_skills = row_skills(rd, res, r);
    in->target_skills = in->n_target_skills ? rd->skills : NULL;
    return 0;
#undef G
#undef NUM
#undef INT
}

/* What is stored for row r (PostgreSQL), unless a batch not yet committed decided later. */
static stored_t row_stored(rd_t *rd, cs_db_res_t *res, int r, const char *uid)
{
    stored_t *mem = gen_find(&rd->prev, uid, false);
    if (!mem && rd->overlay2)
        mem = gen_find(&rd->prev2, uid, false);
    if (mem)
        return *mem;
    stored_t s = {0};
    const char *v = cs_db_res_get(res, r, C_readiness_score);
    s.has_score = v != NULL;
    s.score = num(v);
    s.dim[CS_READINESS_SKILLS] = num(cs_db_res_get(res, r, C_readiness_technical));
    s.dim[CS_READINESS_PORTFOLIO] = num(cs_db_res_get(res, r, C_readiness_portfolio));
    s.dim[CS_READINESS_INTERVIEW] = num(cs_db_res_get(res, r, C_readiness_interview));
    s.dim[CS_READINESS_LEARNING] = num(cs_db_res_get(res, r, C_readiness_learning));
    s.dim[CS_READINESS_JOB_SEARCH] = num(cs_db_res_get(res, r, C_readiness_job_search));
    s.dim[CS_READINESS_MENTORING] = num(cs_db_res_get(res, r, C_readiness_mentoring));
    const char *st = cs_db_res_get(res, r, C_readiness_stage);
    if (!st || cs_readiness_stage_parse(st, &s.stage) < 0)
        s.has_score = false;
    v = cs_db_res_get(res, r, C_readiness_emitted_score);
    st = cs_db_res_get(res, r, C_readiness_emitted_stage);
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
    if (!rd->ls)
        return NULL;
    int k = uidmap_find(&rd->idx, rd->ls->uid, sizeof *rd->ls, uid, hash_uid(uid), -1, NULL);
    return k >= 0 ? &rd->ls[k] : NULL;
}

/* Scores row r of the read: the learner's decision, its explanation when it is written (appended
 * to rd->json, its offset + 1 in off), and what the batch leaves stored. */
static void score_row(rd_t *rd, cs_db_res_t *res, int r, size_t *off)
{
    const char *uid = cs_db_res_get(res, r, C_user_id);
    learner_t *l = learner_of(rd, uid);
    if (!l)
        return;
    cs_readiness_input_t in;
    cs_readiness_score_t *full = &rd->full;
    cs_err_t e;
    cs_err_clear(&e);
    if (row_input(rd, res, r, &in, &e) < 0 || cs_readiness_score(&rd->cfg, &in, full, &e) < 0) {
        cs_log_warn("readiness inputs out of range; learner not scored", CS_LS("user_id", uid),
                    CS_LS("field", e.field), CS_LS("reason", e.msg));
        return;
    }
    l->scored = true;
    const char *fp = cs_db_res_get(res, r, C_inputs_fp);
    snprintf(l->inputs_fp, sizeof l->inputs_fp, "%s", fp ? fp : "");
    stored_t s = row_stored(rd, res, r, uid);
    cs_readiness_last_t last = {s.emitted_score, s.emitted_stage};
    l->emit = cs_readiness_should_emit(&rd->cfg, s.has_emitted ? &last : NULL, full);
    if (l->emit == CS_READINESS_EMIT_FIRST)
        rd->first_scores++;
    l->had_emitted = s.has_emitted;
    l->prev_emitted = s.emitted_score;
    l->prev_stage = s.emitted_stage;
    l->write = changed(&s, full) || l->emit != CS_READINESS_EMIT_NONE;
    /* The explanation only for what is written (rendering costs less than the score); skill ids
     * in it are borrowed from rd->skilltext: render now, before the next row. */
    if (l->write) {
        off[l - rd->ls] = rd->json.len + 1;
        cs_readiness_explain_json(&rd->cfg, full, &rd->json, &e);
        l->explain_len = rd->json.len - (off[l - rd->ls] - 1);
        cs_buf_putc(&rd->json, '\0');
    }
    l->sc.overall = full->overall;
    memcpy(l->sc.dim, full->dim, sizeof l->sc.dim);
    l->sc.stage = full->stage;
    l->sc.best.action = full->best.action;
    l->sc.best.gain = full->best.gain;
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

/*
 * The batch's learners, once each in order of first appearance (rd->ls), each with the last of
 * its events as the trigger. Rotates the generations first: the batch three back has committed;
 * the last ones' decisions are the reference (rd->overlay2: the two last).
 */
static void collect_learners(rd_t *rd, const cs_event_t *const *evs, int n)
{
    gen_t t = rd->prev2;
    rd->prev2 = rd->prev;
    rd->prev = rd->cur;
    rd->cur = t;
    gen_clear(&rd->cur);
    uidmap_clear(&rd->idx);
    rd->nls = 0;
    cs_buf_reset(&rd->json);
    for (int i = 0; i < n; i++) {
        const char *uid = evs[i]->user_id;
        bool added;
        int k = uidmap_find(&rd->idx, rd->ls ? rd->ls->uid : NULL, sizeof *rd->ls, uid,
                            hash_uid(uid), rd->nls, &added);
        if (!added) { /* seen: this event is later */
            rd->ls[k].trigger = evs[i];
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
        rd->nls++;
    }
}

/* Forgets the reads of a batch (collecting one still in flight first). */
static void ahead_reset(rd_t *rd)
{
    if (cs_db_busy(rd->db)) {
        cs_err_t e;
        cs_db_res_free(cs_db_get_result(rd->db, &e));
    }
    for (int i = 0; i < rd->nares; i++)
        cs_db_res_free(rd->ares[i]);
    rd->nares = 0;
    rd->nau = 0;
    rd->nsent = 0;
    uidmap_clear(&rd->aidx);
}

/* Drops what was read ahead for a batch that is not coming. */
static void ahead_drop(rd_t *rd)
{
    if (rd->nau)
        rd->ahead_dropped++;
    ahead_reset(rd);
}

/* Keeps a read's result for batch_begin. */
static void ares_push(rd_t *rd, cs_db_res_t *res)
{
    if (rd->nares == rd->capares) {
        rd->capares = rd->capares ? rd->capares * 2 : 8;
        rd->ares = cs_mem_realloc(rd->ares, (size_t)rd->capares * sizeof *rd->ares);
    }
    rd->ares[rd->nares++] = res;
}

/* Collects the read in flight into rd->ares. 0, or -1 with err (the read failed). */
static int ahead_collect(rd_t *rd, cs_err_t *err)
{
    if (!cs_db_busy(rd->db))
        return 0;
    cs_db_res_t *res = cs_db_get_result(rd->db, err);
    if (!res)
        return -1;
    ares_push(rd, res);
    return 0;
}

/* The connection, usable and idle (nothing read ahead in flight), and its plan fresh. */
static int read_conn(rd_t *rd, cs_err_t *err)
{
    if (!cs_db_ok(rd->db) && cs_db_reset(rd->db, err) < 0)
        return -1;
    if (rd->first_scores >= rd->replan_at) {
        if (cs_db_exec(rd->db, "DISCARD PLANS", err) < 0) {
            if (err->kind != CS_ERR_FATAL)
                err->kind = CS_ERR_TRANSIENT;
            return -1;
        }
        while (rd->replan_at <= rd->first_scores)
            rd->replan_at *= 2;
        rd->replans++;
        cs_log_debug("readiness read re-planned", CS_LI("first_scores", rd->first_scores));
    }
    return 0;
}

/* The read's first parameter: the uuid[] literal of uids from..to at base, stride apart. */
static void uid_array(cs_buf_t *b, const char *base, size_t stride, int from, int to)
{
    cs_buf_reset(b);
    cs_buf_putc(b, '{');
    for (int i = from; i < to; i++) {
        if (i > from)
            cs_buf_putc(b, ',');
        cs_buf_append(b, base + (size_t)i * stride, 36);
    }
    cs_buf_putc(b, '}');
}

/* Adds uid to the learners read ahead; false when it is there already. */
static bool ahead_add(rd_t *rd, const char *uid)
{
    bool added;
    uidmap_find(&rd->aidx, rd->au ? rd->au->uid : NULL, sizeof *rd->au, uid, hash_uid(uid), rd->nau,
                &added);
    if (!added)
        return false;
    if (rd->nau == rd->capau) {
        rd->capau = rd->capau ? rd->capau * 2 : 1024;
        rd->au = cs_mem_realloc(rd->au, (size_t)rd->capau * sizeof *rd->au);
    }
    memcpy(rd->au[rd->nau++].uid, uid, 37);
    return true;
}

/* Sends the read of the learners added since the last one (the connection idle). */
static int ahead_send(rd_t *rd, cs_err_t *err)
{
    if (rd->nau == rd->nsent)
        return 0;
    if (read_conn(rd, err) < 0)
        return -1;
    uid_array(&rd->aarr, rd->au->uid, sizeof *rd->au, rd->nsent, rd->nau);
    const char *params[] = {rd->aarr.data, rd->model};
    if (cs_db_send_query(rd->db, rd->read_sql, 2, params, err) < 0)
        return -1;
    rd->nsent = rd->nau;
    rd->ahead_sent++;
    return 0;
}

/*
 * Read-ahead (cs_worker_def_t.batch_read): the next chunk of the next batch's events. Adds the
 * chunk's new learners; when the connection is free (the read before has its result: collected
 * now, without waiting) sends the read of every learner not read yet, and returns. The loop never
 * waits here: a read still running leaves the learners to the next chunk, or to batch_begin. A
 * failure only means that batch_begin reads those learners itself.
 */
static void batch_read(void *ud, const cs_event_t *const *evs, int n)
{
    rd_t *rd = ud;
    cs_err_t err;
    if (rd->nau && rd->ahead_at != rd->begun)
        ahead_drop(rd); /* a batch began since: not this batch's */
    if (rd->nau == 0)
        rd->ahead_at = rd->begun;
    for (int i = 0; i < n; i++)
        ahead_add(rd, evs[i]->user_id);
    if (!cs_db_result_ready(rd->db))
        return;
    if (ahead_collect(rd, &err) < 0 || ahead_send(rd, &err) < 0) {
        cs_log_debug("readiness read ahead failed", CS_LS("reason", err.msg));
        ahead_drop(rd);
    }
}

static void score_res(rd_t *rd, cs_db_res_t *res, size_t *off)
{
    for (int r = 0; r < cs_db_res_rows(res); r++)
        score_row(rd, res, r, off);
}

/* Reads the learners of the batch the reads ahead missed (all of them without), into rd->ares
 * with the others; ahead_add keeps those read ahead out. 0, or -1 with err. */
static int read_missed(rd_t *rd, bool ahead, cs_err_t *err)
{
    int from = rd->nsent;
    for (int i = 0; i < rd->nls; i++)
        ahead_add(rd, rd->ls[i].uid);
    if (rd->nau == from)
        return 0;
    if (read_conn(rd, err) < 0)
        return -1;
    rd->ahead_missed += ahead ? rd->nau - from : 0;
    uid_array(&rd->arr, rd->au->uid, sizeof *rd->au, from, rd->nau);
    const char *params[] = {rd->arr.data, rd->model};
    cs_db_res_t *res = cs_db_query(rd->db, rd->read_sql, 2, params, err);
    if (!res)
        return -1;
    ares_push(rd, res);
    return 0;
}

static int batch_begin(void *ud, const cs_event_t *const *evs, int n, cs_err_t *err)
{
    rd_t *rd = ud;
    collect_learners(rd, evs, n);
    /* What was read ahead is this batch's when it was read since the batch before began. */
    bool ahead = rd->nau > 0 && rd->ahead_at == rd->begun;
    rd->begun++;
    if (!ahead)
        ahead_drop(rd);
    if (rd->nls == 0) {
        ahead_drop(rd);
        return 0;
    }
    if (ahead)
        rd->ahead_used++;
    double t0 = mono_s();
    if (ahead && ahead_collect(rd, err) < 0) {
        ahead_drop(rd);
        ahead = false;
        cs_log_debug("readiness read ahead failed; reading again", CS_LS("reason", err->msg));
    }
    /* Read ahead, it may miss the two batches before; read here, only the one before. */
    rd->overlay2 = ahead;
    if (read_missed(rd, ahead, err) < 0) {
        ahead_drop(rd);
        if (err->kind != CS_ERR_FATAL)
            err->kind = CS_ERR_TRANSIENT;
        return -1;
    }
    double t1 = mono_s();
    rd->read_s += t1 - t0;
    rd->batches++;
    /* Explanations go into one buffer; offsets first, pointers once it stops growing. */
    size_t *off = cs_mem_calloc((size_t)rd->nls, sizeof *off);
    for (int k = 0; k < rd->nares; k++) /* a learner is in one of them; rows of others skipped */
        score_res(rd, rd->ares[k], off);
    for (int i = 0; i < rd->nls; i++)
        rd->ls[i].explain = off[i] ? rd->json.data + off[i] - 1 : NULL;
    free(off);
    ahead_reset(rd);
    rd->score_s += mono_s() - t1;
    return 0;
}

/* A score (0..100, two decimals) as numeric text, from its hundredths: snprintf("%.2f") was
 * 16 calls per written learner. */
static void put_dim(cs_batch_t *b, double v)
{
    char s[CS_TEXT_DEC2_BYTES];
    cs_batch_raw(b, s, cs_text_hundredths(s, llround(v * 100.0), false)); /* nothing to escape */
}

/* The contract's stage (schemas/: CareerStage) of a readiness stage. */
static cs_career_stage_t contract_stage(cs_readiness_stage_t s)
{
    switch (s) {
    case CS_STAGE_LEARNING:
        return CS_CAREER_STAGE_LEARNING;
    case CS_STAGE_BUILDING_PORTFOLIO:
        return CS_CAREER_STAGE_BUILDING_PORTFOLIO;
    case CS_STAGE_JOB_SEARCHING:
        return CS_CAREER_STAGE_JOB_SEARCHING;
    case CS_STAGE_INTERVIEWING:
        return CS_CAREER_STAGE_INTERVIEWING;
    case CS_STAGE_PLACED:
        return CS_CAREER_STAGE_PLACED;
    default:
        return CS_CAREER_STAGE_EXPLORING;
    }
}

static cs_score_change_reason_t contract_reason(cs_readiness_emit_t e)
{
    return e == CS_READINESS_EMIT_FIRST   ? CS_SCORE_CHANGE_REASON_FIRST
           : e == CS_READINESS_EMIT_STAGE ? CS_SCORE_CHANGE_REASON_STAGE
                                          : CS_SCORE_CHANGE_REASON_MOVED;
}

/* readiness_score_changed (v2: with the stage, the previous one, job search, why, the best change).
 */
static int emit(rd_t *rd, cs_batch_t *b, const learner_t *l, cs_err_t *err)
{
    const kept_score_t *sc = &l->sc;
    bool best = sc->best.action != CS_ACTION_NONE;
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
        .has_job_search_score = true,
        .job_search_score = sc->dim[CS_READINESS_JOB_SEARCH],
        .has_stage = true,
        .stage = contract_stage(sc->stage),
        .has_previous_stage = l->had_emitted,
        .previous_stage = contract_stage(l->prev_stage),
        .has_reason = true,
        .reason = contract_reason(l->emit),
        .best_change = best ? cs_readiness_action_name(sc->best.action) : NULL,
        .has_best_change_gain = best,
        .best_change_gain = sc->best.gain,
    };
    cs_event_t ev = {
        .type = rd->ev_type,
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
    const kept_score_t *sc = &l->sc;
    bool emitting = l->emit != CS_READINESS_EMIT_NONE;
    const char *stage = cs_readiness_stage_name(sc->stage);
    cs_batch_row_begin(b, l->emit == CS_READINESS_EMIT_FIRST ? T_SCORE_NEW : T_SCORE);
    cs_batch_str(b, l->uid);
    put_dim(b, sc->overall);
    put_dim(b, sc->dim[CS_READINESS_SKILLS]);
    put_dim(b, sc->dim[CS_READINESS_PORTFOLIO]);
    put_dim(b, sc->dim[CS_READINESS_INTERVIEW]);
    put_dim(b, sc->dim[CS_READINESS_LEARNING]);
    put_dim(b, sc->dim[CS_READINESS_JOB_SEARCH]);
    put_dim(b, sc->dim[CS_READINESS_MENTORING]);
    cs_batch_str(b, stage);
    cs_batch_strn(b, l->explain, l->explain_len);
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
    cs_batch_str(b, l->inputs_fp[0] ? l->inputs_fp : NULL);
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
    cs_buf_init(&rd->aarr);
    cs_buf_init(&rd->json);
    cs_buf_init(&rd->skilltext);
    cs_readiness_config_defaults(&rd->cfg);
    if (cs_readiness_config_parse(&rd->cfg, cs_config_str(cfg, "readiness-model"), err) < 0) {
        cs_err_set_field(err, CS_ERR_FATAL, "readiness-model", "%s", err->msg);
        return -1;
    }
    cs_readiness_model_version(&rd->cfg, rd->model);
    rd->replan_at = REPLAN_FIRST;
    const char *topic = cs_config_str(cfg, "derived-topic");
    rd->topic = topic && *topic ? topic : NULL;
    rd->ev_type = cs_codec_type_by_name("readiness_score_changed");
    /* Reads only (inputs and what is stored), outside the batch's transaction. */
    rd->db = cs_db_connect(cs_config_str(cfg, "pg-dsn"), "cs-readiness-inputs", err);
    if (!rd->db)
        return -1;
    size_t n = sizeof read_columns + sizeof read_from + 8;
    rd->read_sql = cs_mem_alloc(n);
    snprintf(rd->read_sql, n, "SELECT %s%s", read_columns + 2, read_from);
    /* Every column by name now, not at the first batch: a schema without one is a FATAL error. */
    const char *none[] = {"{}", rd->model};
    cs_db_res_t *res = cs_db_query(rd->db, rd->read_sql, 2, none, err);
    if (!res) {
        err->kind = CS_ERR_FATAL;
        return cs_err_wrap(err, "reading the readiness inputs (migrations 0070, 0093, "
                                "0097, 0099 and career_readiness_inputs_fp applied?)");
    }
    cs_db_res_free(res);
    return 0;
}

static void forget(void *ud)
{
    rd_t *rd = ud;
    gen_clear(&rd->cur);
    gen_clear(&rd->prev);
    gen_clear(&rd->prev2);
    ahead_drop(rd); /* a read ahead for a batch that was dropped */
}

static void fini(void *ud)
{
    rd_t *rd = ud;
    cs_log_info("readiness totals", CS_LI("learners_scored", rd->learners_scored),
                CS_LI("events_emitted", rd->events_emitted), CS_LI("batches", rd->batches),
                CS_LD("read_s", rd->read_s), CS_LD("score_s", rd->score_s),
                CS_LI("first_scores", rd->first_scores), CS_LI("read_replans", rd->replans),
                CS_LI("reads_ahead", rd->ahead_sent), CS_LI("batches_read_ahead", rd->ahead_used),
                CS_LI("batches_read_ahead_dropped", rd->ahead_dropped),
                CS_LI("learners_missed_ahead", rd->ahead_missed));
    cs_db_destroy(rd->db);
    free(rd->cur.map.slot);
    free(rd->cur.v);
    free(rd->prev.map.slot);
    free(rd->prev.v);
    free(rd->prev2.map.slot);
    free(rd->prev2.v);
    free(rd->aidx.slot);
    free(rd->au);
    cs_buf_fini(&rd->aarr);
    for (int i = 0; i < rd->nares; i++)
        cs_db_res_free(rd->ares[i]);
    free(rd->ares);
    free(rd->idx.slot);
    free(rd->ls);
    cs_buf_fini(&rd->skilltext);
    cs_buf_fini(&rd->arr);
    cs_buf_fini(&rd->json);
    free(rd->read_sql);
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
    .batch_read = batch_read,
    .outbox = true,
    .no_dedupe = true,
    /* A batch's cost is per learner, and a learner's events arrive over several: batches wait
     * up to a second to fill (--batch-linger, --batch-ms 1000) instead of going as soon as
     * PostgreSQL is free, so that a steady stream costs a read per second, not one per handful
     * of events (docs/readiness.md). */
    .defaults = (const char *const[]){"--batch-linger=true", "--batch-ms=1000", NULL},
};

int main(int argc, char **argv)
{
    return cs_worker_main(&def, argc, argv);
}

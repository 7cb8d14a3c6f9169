/*
 * workers/matcher.c
 *      cs-matcher - decide which learners need a new mentor, assign a batch's requests together
 *      (exact optimum under mentor capacities, cs/match.h), write the proposals and emit
 *      mentor_rematch_proposed exactly once.
 *
 * Triggers (docs/matcher.md), from the batch's events:
 *  - coaching_session_logged with a learner rating: the average of the learner's last N rated
 *    sessions with the current mentor at or below the threshold (low ratings);
 *  - learner_profile_updated setting target_industry or target_role (goals changed);
 *  - readiness_score_changed (cs.derived) whose change moved the readiness stage;
 *  - mentor_availability_changed: a mentor on leave or with no hours (all their mentees) or over
 *    capacity (the newest current - max mentees);
 *  - mentor_feedback_given with recommends_rematch (the mentor recommends it).
 * A cooldown per learner (since its last cs-matcher proposal) stops flapping; a learner losing
 * their mentor and a mentor's recommendation are not held back by it (cs_match_trigger_decide).
 * Only a learner with an active mentor is rematched.
 *
 * The rules of what each event asks for are in matcher_rules.c (unit-tested on their own).
 *
 * Per batch (batch_begin): ONE read, mentor_rematch_inputs(), of the batch's learners (and the
 * mentees of the mentors whose availability changed) and of every mentor with room; triggers are
 * decided; the requesting learners are assigned together by cs_match_solve (exact, with its dual
 * certificate, checked by cs_match_verify before anything is written). The handler of each
 * trigger event appends its proposals: a mentorship_relationships row (status proposed, score,
 * reasons; relationship_id is the proposal id, a UUIDv5 of learner and trigger event) and the
 * mentor_rematch_proposed event through the outbox with an id derived from what it states. A
 * learner with no mentor scoring at least the floor gets the event with proposed_mentor_id null
 * and no row. A replay (offsets rewound) proposes nothing and emits nothing: the read also
 * returns the batch's events already in the scope's ledger (processed_events), which request
 * nothing (so they take no place from new events in the same batch); handlers are once-only too.
 *
 * The read must see the previous batch's proposals (capacity, exclusions, cooldown), so the
 * runtime's pipeline (which prepares batch N+1 while N commits) is off: --pipeline=false is the
 * default here and true is refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/codec.h"
#include "cs/db.h"
#include "cs/log.h"
#include "cs/match.h"
#include "cs/mem.h"
#include "cs/text.h"
#include "cs/worker.h"
#include "matcher_rules.h"

enum { T_REL, T_RESP };

static const cs_table_def_t tables[] = {
    [T_REL] = {.table = "mentorship_relationships",
               .columns = "relationship_id, mentor_id, mentee_id, event_id, status, matched_by, "
                          "match_score, match_reasons, requested_at",
               .conflict = "relationship_id",
               .merge = CS_MERGE_LAST},
    /* A BEFORE INSERT trigger applies each response (mentor_rematch_response_apply.sql). */
    [T_RESP] = {.table = "mentor_rematch_responses",
                .columns = "event_id, proposal_id, user_id, response, comment, responded_at",
                .conflict = "event_id",
                .merge = CS_MERGE_LAST},
    {NULL},
};

/* ---- a map uuid text -> int ---- */

typedef struct umap {
    char (*k)[37];
    int *v;
    size_t cap, n;
} umap_t;

static size_t hash36(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (int i = 0; i < 36 && s[i]; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static void um_grow(umap_t *m)
{
    umap_t g = {.cap = m->cap ? m->cap * 2 : 256};
    g.k = cs_mem_calloc(g.cap, sizeof *g.k);
    g.v = cs_mem_calloc(g.cap, sizeof *g.v);
    for (size_t i = 0; i < m->cap; i++)
        if (m->k[i][0]) {
            size_t j = hash36(m->k[i]) & (g.cap - 1);
            while (g.k[j][0])
                j = (j + 1) & (g.cap - 1);
            memcpy(g.k[j], m->k[i], 37);
            g.v[j] = m->v[i];
            g.n++;
        }
    free(m->k);
    free(m->v);
    *m = g;
}

/* The value of key, or -1; with add >= 0 an absent key is added with value add. */
static int um_get(umap_t *m, const char *key, int add)
{
    if (add >= 0 && (m->n + 1) * 2 > m->cap)
        um_grow(m);
    if (!m->cap)
        return -1;
    size_t j = hash36(key) & (m->cap - 1);
    while (m->k[j][0]) {
        if (!strncmp(m->k[j], key, 36))
            return m->v[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (add < 0)
        return -1;
    snprintf(m->k[j], 37, "%s", key);
    m->v[j] = add;
    m->n++;
    return add;
}

static void um_clear(umap_t *m)
{
    if (m->k)
        memset(m->k, 0, m->cap * sizeof *m->k);
    m->n = 0;
}

/* ---- the batch's state ---- */

/* What the batch's events say about one learner. */
typedef struct req {
    char uid[37];
    const cs_event_t *ev; /* the learner's last triggering event in the batch */
    mr_flags_t f;
} req_t;

/* The last availability change of one mentor in the batch. */
typedef struct avail {
    char mentor[37];
    const cs_event_t *ev;
    mr_avail_t r;
} avail_t;

/* A learner of the read, and what is decided for it. */
typedef struct lrn {
    char uid[37], cur[37];
    bool has_mentor;
    int rank; /* among the mentees of an availability mentor, newest first; 0 */
    const cs_event_t *ev;
    cs_match_decision_t dec;
    bool recommended; /* the mentor recommended it (reason mentor_recommended) */
    bool requested;   /* the learner asked (reason learner_requested) */
    int pi;           /* index among the problem's learners, -1: not requesting */
    int next;         /* the next learner proposed for the same trigger event, -1 */
    cs_match_pair_detail_t det;
    int mentor; /* the assigned mentor index, -1 */
} lrn_t;

typedef struct mentor {
    char id[37];
} mentor_t;

typedef struct mt {
    cs_db_t *db;
    const char *topic;
    const char *scope; /* the effect scope (def.effect_scope) */
    cs_match_config_t mcfg;
    cs_match_trigger_config_t tcfg;
    mr_options_t on;
    /* per batch */
    umap_t reqmap, availmap, seen, mentormap, skillmap, indmap, evmap;
    req_t *reqs;
    int nreqs, capreqs;
    avail_t *avs;
    int navs, capavs;
    lrn_t *ls;
    int nls, capls;
    mentor_t *ms;
    cs_match_mentor_t *mm;
    int nms, capms;
    int *ev_head; /* per event of the batch: first learner proposed for it, -1 */
    int capev;
    uint32_t *skills;
    int32_t *excl;
    float *emb;
    size_t nskills, capskills, nexcl, capexcl, nemb, capemb;
    int emb_dim;
    cs_buf_t a_users, a_req, a_rated, a_mentors, a_stage_users, a_stage, a_events, reasons;
    long long proposals, unassigned, suppressed, events_emitted;
    double read_ms; /* the last batch's read */
} mt_t;

/* ---- reading the batch's events ---- */

static req_t *req_of(mt_t *m, const cs_event_t *ev)
{
    int i = um_get(&m->reqmap, ev->user_id, m->nreqs);
    if (i == m->nreqs) {
        if (m->nreqs == m->capreqs) {
            m->capreqs = m->capreqs ? m->capreqs * 2 : 256;
            m->reqs = cs_mem_realloc(m->reqs, (size_t)m->capreqs * sizeof *m->reqs);
        }
        memset(&m->reqs[i], 0, sizeof m->reqs[i]);
        memcpy(m->reqs[i].uid, ev->user_id, 37);
        m->nreqs++;
    }
    m->reqs[i].ev = ev;
    return &m->reqs[i];
}

static void on_availability(mt_t *m, const cs_event_t *ev)
{
    const cs_ev_mentor_availability_changed_t *p = ev->payload;
    int i = um_get(&m->availmap, p->mentor_id, m->navs);
    if (i == m->navs) {
        if (m->navs == m->capavs) {
            m->capavs = m->capavs ? m->capavs * 2 : 64;
            m->avs = cs_mem_realloc(m->avs, (size_t)m->capavs * sizeof *m->avs);
        }
        m->navs++;
    }
    avail_t *a = &m->avs[i];
    memset(a, 0, sizeof *a);
    snprintf(a->mentor, sizeof a->mentor, "%s", p->mentor_id);
    a->ev = ev;
    mr_availability(p, ev->occurred_at_ms, &a->r);
}

/* Sorts the batch's events (but those in seen) into learner requests and mentor changes. */
static void collect(mt_t *m, const cs_event_t *const *evs, int n, umap_t *seen)
{
    for (int i = 0; i < n; i++) {
        const cs_event_t *ev = evs[i];
        if (seen && um_get(seen, ev->event_id, -1) >= 0)
            continue;
        mr_flags_t f = {0};
        switch (mr_classify(&m->on, ev, &f)) {
        case MR_LEARNER: {
            req_t *q = req_of(m, ev);
            q->f.rated |= f.rated;
            q->f.goals |= f.goals;
            q->f.stage |= f.stage;
            q->f.recommended |= f.recommended;
            q->f.requested |= f.requested;
            if (f.stage) { /* the read checks whether this change moved the stage */
                const cs_ev_readiness_score_changed_t *p = ev->payload;
                cs_buf_puts(&m->a_stage_users, m->a_stage_users.len > 1 ? "," : "");
                cs_buf_puts(&m->a_stage_users, ev->user_id);
                cs_buf_puts(&m->a_stage, m->a_stage.len > 1 ? "," : "");
                cs_buf_puts(&m->a_stage, p->trigger_event_id);
            }
            break;
        }
        case MR_MENTOR:
            on_availability(m, ev);
            break;
        case MR_IGNORE:
            break;
        }
    }
}

/* ---- parsing the read ---- */

/* Calls fn(m, item, len, ctx) for each element of a PostgreSQL array literal {a,b,NULL}. */
static void each_elem(const char *s, void (*fn)(mt_t *, const char *, size_t, void *), mt_t *m,
                      void *ctx)
{
    if (!s || *s != '{')
        return;
    s++;
    while (*s && *s != '}') {
        const char *e = s;
        while (*e && *e != ',' && *e != '}')
            e++;
        if (e > s)
            fn(m, s, (size_t)(e - s), ctx);
        s = *e == ',' ? e + 1 : e;
    }
}

static void add_skill(mt_t *m, const char *s, size_t len, void *ctx)
{
    (void)len;
    (void)ctx;
    if (m->nskills == m->capskills) {
        m->capskills = m->capskills ? m->capskills * 2 : 1024;
        m->skills = cs_mem_realloc(m->skills, m->capskills * sizeof *m->skills);
    }
    m->skills[m->nskills++] = (uint32_t)um_get(&m->skillmap, s, (int)m->skillmap.n);
}

static void add_excl(mt_t *m, const char *s, size_t len, void *ctx)
{
    (void)len;
    (void)ctx;
    int k = um_get(&m->mentormap, s, -1);
    if (k < 0)
        return; /* not a candidate anyway */
    if (m->nexcl == m->capexcl) {
        m->capexcl = m->capexcl ? m->capexcl * 2 : 1024;
        m->excl = cs_mem_realloc(m->excl, m->capexcl * sizeof *m->excl);
    }
    m->excl[m->nexcl++] = k;
}

static void add_float(mt_t *m, const char *s, size_t len, void *ctx)
{
    (void)len;
    if (m->nemb == m->capemb) {
        m->capemb = m->capemb ? m->capemb * 2 : 4096;
        m->emb = cs_mem_realloc(m->emb, m->capemb * sizeof *m->emb);
    }
    m->emb[m->nemb++] = strcmp(s, "NULL") ? strtof(s, NULL) : 0.0f;
    ++*(int *)ctx;
}

static void add_int(mt_t *m, const char *s, size_t len, void *ctx)
{
    (void)m;
    (void)len;
    int *a = ctx;
    if (a[0] < 63)
        a[1 + a[0]++] = atoi(s);
}

/* Appends an embedding; returns its offset + 1 in m->emb, 0 when none or of another dimension. */
static size_t parse_emb(mt_t *m, const char *s)
{
    if (!s)
        return 0;
    size_t at = m->nemb;
    int n = 0;
    each_elem(s, add_float, m, &n);
    if (n > 0 && m->emb_dim == 0)
        m->emb_dim = n;
    if (n == 0 || n != m->emb_dim) {
        m->nemb = at;
        return 0;
    }
    return at + 1;
}

static double num(const char *s)
{
    return s ? strtod(s, NULL) : NAN;
}

/* Columns of the read. */
enum {
    C_KIND,
    C_ID,
    C_CUR,
    C_CUR_REL,
    C_RANK,
    C_IND,
    C_TZ,
    C_HOURS,
    C_SKILLS,
    C_EMB,
    C_EXCL,
    C_RATINGS,
    C_LAST,
    C_STAGE,
    C_MAX,
    C_CAP,
    C_RATING,
    C_NRATING,
    C_PAST,
    C_PLACED,
    C_COUNT
};

static const char read_sql[] =
    "SELECT kind, id, current_mentor_id, current_relationship_id, mentee_rank, industry_id, "
    "utc_offset_minutes, hours, skill_ids, embedding, excluded, recent_ratings, "
    "extract(epoch FROM last_proposal_at)::bigint, stage_changed, max_mentees, capacity, "
    "avg_rating, rating_count, past_mentees, successful_placements "
    "FROM mentor_rematch_inputs($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], "
    "$6::uuid[], $7) "
    /* the batch's events this worker's scope already applied (a replay): they request nothing */
    "UNION ALL SELECT 'seen', event_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM processed_events "
    "WHERE effect_scope = $8 AND event_id = ANY ($9::uuid[])";

/* Offsets into the pools while they grow; pointers once the read is parsed. */
typedef struct span {
    size_t skills, nskills, excl, nexcl, emb;
} span_t;

static int industry(mt_t *m, const char *s)
{
    return s ? um_get(&m->indmap, s, (int)m->indmap.n) : -1;
}

static void mentor_row(mt_t *m, cs_db_res_t *res, int r, span_t *sp)
{
#define G(c) cs_db_res_get(res, r, (c))
    if (m->nms == m->capms) {
        m->capms = m->capms ? m->capms * 2 : 1024;
        m->ms = cs_mem_realloc(m->ms, (size_t)m->capms * sizeof *m->ms);
        m->mm = cs_mem_realloc(m->mm, (size_t)m->capms * sizeof *m->mm);
    }
    int k = m->nms++;
    snprintf(m->ms[k].id, 37, "%s", G(C_ID));
    um_get(&m->mentormap, G(C_ID), k);
    cs_match_mentor_t *mm = &m->mm[k];
    memset(mm, 0, sizeof *mm);
    sp->skills = m->nskills;
    each_elem(G(C_SKILLS), add_skill, m, NULL);
    sp->nskills = m->nskills - sp->skills;
    sp->emb = parse_emb(m, G(C_EMB));
    mm->industry = industry(m, G(C_IND));
    mm->utc_offset_minutes = G(C_TZ) ? atoi(G(C_TZ)) : 0;
    mm->hours_week = num(G(C_HOURS));
    mm->max_mentees = G(C_MAX) ? atoi(G(C_MAX)) : 0;
    mm->capacity = G(C_CAP) ? atoi(G(C_CAP)) : 0;
    int a = um_get(&m->availmap, m->ms[k].id, -1);
    if (a >= 0 && m->avs[a].r.closed)
        mm->capacity = 0; /* the batch's own change is newer than mentor_profiles */
    mm->avg_rating = num(G(C_RATING));
    mm->rating_count = G(C_NRATING) ? atoi(G(C_NRATING)) : 0;
    mm->past_mentees = G(C_PAST) ? atoi(G(C_PAST)) : 0;
    mm->successful_placements = G(C_PLACED) ? atoi(G(C_PLACED)) : 0;
    if (mm->successful_placements > mm->past_mentees)
        mm->successful_placements = mm->past_mentees;
#undef G
}

/* Decides one learner's trigger; returns true when it requests a mentor. */
static bool decide(mt_t *m, lrn_t *l, cs_db_res_t *res, int r, int64_t last_s)
{
#define G(c) cs_db_res_get(res, r, (c))
    int req = um_get(&m->reqmap, l->uid, -1);
    const req_t *q = req >= 0 ? &m->reqs[req] : NULL;
    int a = l->has_mentor ? um_get(&m->availmap, l->cur, -1) : -1;
    const avail_t *av = a >= 0 ? &m->avs[a] : NULL;
    cs_match_trigger_input_t in;
    bool by_mentor;
    if (!mr_trigger_input(q ? &q->f : NULL, av ? &av->r : NULL, l->has_mentor, l->rank,
                          G(C_STAGE) && G(C_STAGE)[0] == 't', &in, &by_mentor))
        return false;
    int ratings[64] = {0};
    if (q && q->f.rated)
        each_elem(G(C_RATINGS), add_int, m, ratings);
    in.recent_ratings = ratings + 1;
    in.n_recent_ratings = ratings[0];
    in.last_proposal_s = last_s;
    l->ev = by_mentor ? av->ev : q->ev;
    in.now_s = l->ev->occurred_at_ms / 1000;
    cs_err_t e;
    cs_err_clear(&e);
    if (cs_match_trigger_decide(&m->tcfg, &in, &l->dec, &e) < 0) {
        cs_log_warn("rematch trigger inputs out of range; learner skipped",
                    CS_LS("user_id", l->uid), CS_LS("reason", e.msg));
        return false;
    }
    if (l->dec.suppressed != CS_TRIGGER_NONE)
        m->suppressed++;
    l->requested = q && q->f.requested;
    l->recommended = l->dec.trigger == CS_TRIGGER_EXPLICIT_REQUEST && !l->requested;
    return l->dec.trigger != CS_TRIGGER_NONE;
#undef G
}

static void learner_row(mt_t *m, cs_db_res_t *res, int r, cs_match_learner_t *pl, span_t *sp,
                        int *npl)
{
#define G(c) cs_db_res_get(res, r, (c))
    if (m->nls == m->capls) {
        m->capls = m->capls ? m->capls * 2 : 256;
        m->ls = cs_mem_realloc(m->ls, (size_t)m->capls * sizeof *m->ls);
    }
    lrn_t *l = &m->ls[m->nls];
    memset(l, 0, sizeof *l);
    l->pi = l->next = l->mentor = -1;
    snprintf(l->uid, 37, "%s", G(C_ID));
    l->has_mentor = G(C_CUR) != NULL;
    snprintf(l->cur, 37, "%s", l->has_mentor ? G(C_CUR) : "");
    l->rank = G(C_RANK) ? atoi(G(C_RANK)) : 0;
    if (!decide(m, l, res, r, G(C_LAST) ? strtoll(G(C_LAST), NULL, 10) : 0))
        return;
    m->nls++;
    l->pi = *npl;
    cs_match_learner_t *x = &pl[(*npl)++];
    memset(x, 0, sizeof *x);
    sp->skills = m->nskills;
    each_elem(G(C_SKILLS), add_skill, m, NULL);
    sp->nskills = m->nskills - sp->skills;
    sp->excl = m->nexcl;
    each_elem(G(C_EXCL), add_excl, m, NULL);
    int cur = l->has_mentor ? um_get(&m->mentormap, l->cur, -1) : -1;
    if (cur >= 0)
        add_excl(m, l->cur, 36, NULL);
    sp->nexcl = m->nexcl - sp->excl;
    sp->emb = parse_emb(m, G(C_EMB));
    x->industry = industry(m, G(C_IND));
    x->has_timezone = G(C_TZ) != NULL;
    x->utc_offset_minutes = x->has_timezone ? atoi(G(C_TZ)) : 0;
    x->study_hours_week = num(G(C_HOURS));
#undef G
}

/* The uuid[] literals of the read's parameters. */
static void params(mt_t *m, const cs_event_t *const *evs, int n)
{
    cs_buf_reset(&m->a_events);
    cs_buf_putc(&m->a_events, '{');
    for (int i = 0; i < n; i++) {
        if (i)
            cs_buf_putc(&m->a_events, ',');
        cs_buf_puts(&m->a_events, evs[i]->event_id);
    }
    cs_buf_putc(&m->a_events, '}');
    cs_buf_t *arr[] = {&m->a_users, &m->a_req, &m->a_rated};
    for (int k = 0; k < 3; k++) {
        cs_buf_reset(arr[k]);
        cs_buf_putc(arr[k], '{');
    }
    for (int i = 0; i < m->nreqs; i++) {
        const req_t *q = &m->reqs[i];
        bool in[] = {true, q->f.requested, q->f.rated};
        for (int k = 0; k < 3; k++)
            if (in[k]) {
                cs_buf_puts(arr[k], arr[k]->len > 1 ? "," : "");
                cs_buf_puts(arr[k], q->uid);
            }
    }
    for (int k = 0; k < 3; k++)
        cs_buf_putc(arr[k], '}');
    cs_buf_reset(&m->a_mentors);
    cs_buf_putc(&m->a_mentors, '{');
    for (int i = 0; i < m->navs; i++) {
        if (i)
            cs_buf_putc(&m->a_mentors, ',');
        cs_buf_puts(&m->a_mentors, m->avs[i].mentor);
    }
    cs_buf_putc(&m->a_mentors, '}');
    cs_buf_putc(&m->a_stage_users, '}');
    cs_buf_putc(&m->a_stage, '}');
}

/* Parses the read into the problem; the pools' pointers are set once they stop growing. */
static void parse(mt_t *m, cs_db_res_t *res, cs_match_problem_t *p, cs_match_learner_t **plp)
{
    int rows = cs_db_res_rows(res), npl = 0;
    span_t *sp = cs_mem_calloc((size_t)rows + 1, sizeof *sp);
    cs_match_learner_t *pl = cs_mem_calloc((size_t)rows + 1, sizeof *pl);
    int *lrow = cs_mem_calloc((size_t)rows + 1, sizeof *lrow);
    for (int r = 0; r < rows; r++) {
        const char *kind = cs_db_res_get(res, r, C_KIND);
        if (!strcmp(kind, "mentor"))
            mentor_row(m, res, r, &sp[m->nms]);
        else if (!strcmp(kind, "learner")) {
            int before = npl;
            learner_row(m, res, r, pl, &sp[m->nms + npl], &npl);
            if (npl > before)
                lrow[npl - 1] = r;
        }
    }
    for (int k = 0; k < m->nms; k++) {
        m->mm[k].expertise = m->skills + sp[k].skills;
        m->mm[k].n_expertise = (int)sp[k].nskills;
        m->mm[k].embedding = sp[k].emb ? m->emb + sp[k].emb - 1 : NULL;
    }
    for (int i = 0; i < npl; i++) {
        const span_t *s = &sp[m->nms + i];
        pl[i].gap_skills = m->skills + s->skills;
        pl[i].n_gap_skills = (int)s->nskills;
        pl[i].excluded = m->excl + s->excl;
        pl[i].n_excluded = (int)s->nexcl;
        pl[i].embedding = s->emb ? m->emb + s->emb - 1 : NULL;
    }
    *p = (cs_match_problem_t){.learners = pl,
                              .n_learners = npl,
                              .mentors = m->mm,
                              .n_mentors = m->nms,
                              .n_skills = (uint32_t)m->skillmap.n,
                              .embedding_dim = m->emb_dim};
    *plp = pl;
    free(lrow);
    free(sp);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Solves and verifies; records each requesting learner's mentor and pair detail. */
static int assign(mt_t *m, const cs_match_problem_t *p, cs_err_t *err)
{
    if (p->n_learners == 0)
        return 0;
    double t0 = now_ms();
    cs_match_result_t *res = cs_match_solve(&m->mcfg, p, err);
    if (!res)
        return -1;
    double t1 = now_ms();
    if (cs_match_verify(&m->mcfg, p, res, err) < 0) {
        cs_match_result_destroy(res);
        return -1;
    }
    for (int i = 0; i < m->nls; i++) {
        lrn_t *l = &m->ls[i];
        l->mentor = res->mentor_of[l->pi];
        if (l->mentor >= 0 &&
            cs_match_pair_score(&m->mcfg, p, l->pi, l->mentor, &l->det, err) < 0) {
            cs_match_result_destroy(res);
            return -1;
        }
    }
    cs_log_debug("rematch batch assigned", CS_LI("requests", p->n_learners),
                 CS_LI("mentors", p->n_mentors), CS_LI("assigned", res->assigned),
                 CS_LI("total_weight", res->total), CS_LI("rounds", res->stats.rounds),
                 CS_LI("dijkstra_pops", res->stats.dijkstra_pops), CS_LD("read_ms", m->read_ms),
                 CS_LD("solve_ms", t1 - t0), CS_LD("verify_ms", now_ms() - t1));
    cs_match_result_destroy(res);
    return 0;
}

/* Chains the proposals to their trigger events (ev_head[] by the event's index in the batch). */
static void link(mt_t *m, const cs_event_t *const *evs, int n)
{
    if (n > m->capev) {
        m->capev = n;
        m->ev_head = cs_mem_realloc(m->ev_head, (size_t)n * sizeof *m->ev_head);
    }
    um_clear(&m->evmap);
    for (int i = 0; i < n; i++) {
        m->ev_head[i] = -1;
        um_get(&m->evmap, evs[i]->event_id, i);
    }
    /* By event id, not pointer: of two deliveries of one id in a batch, one runs the handler. */
    for (int i = m->nls - 1; i >= 0; i--) {
        int e = um_get(&m->evmap, m->ls[i].ev->event_id, -1);
        if (e >= 0) {
            m->ls[i].next = m->ev_head[e];
            m->ev_head[e] = i;
        }
    }
}

static void reset(mt_t *m)
{
    um_clear(&m->reqmap);
    um_clear(&m->availmap);
    um_clear(&m->seen);
    um_clear(&m->mentormap);
    um_clear(&m->skillmap);
    um_clear(&m->indmap);
    m->nreqs = m->navs = m->nls = m->nms = 0;
    m->nskills = m->nexcl = m->nemb = 0;
    m->emb_dim = 0;
    cs_buf_reset(&m->a_stage_users);
    cs_buf_putc(&m->a_stage_users, '{');
    cs_buf_reset(&m->a_stage);
    cs_buf_putc(&m->a_stage, '{');
}

/* The batch's one read; fills m->seen with the batch's events already applied. */
static cs_db_res_t *read_inputs(mt_t *m, const cs_event_t *const *evs, int n, cs_err_t *err)
{
    params(m, evs, n);
    char nr[16];
    snprintf(nr, sizeof nr, "%d", m->tcfg.low_rating_sessions);
    if (!cs_db_ok(m->db) && cs_db_reset(m->db, err) < 0)
        return NULL;
    const char *pv[] = {m->a_users.data,
                        m->a_req.data,
                        m->a_rated.data,
                        m->a_mentors.data,
                        m->a_stage_users.data,
                        m->a_stage.data,
                        nr,
                        m->scope,
                        m->a_events.data};
    double t0 = now_ms();
    cs_db_res_t *res = cs_db_query(m->db, read_sql, 9, pv, err);
    m->read_ms = now_ms() - t0;
    if (!res) {
        if (err->kind != CS_ERR_FATAL)
            err->kind = CS_ERR_TRANSIENT;
        return NULL;
    }
    int cols = cs_db_res_cols(res);
    if (cols != C_COUNT) {
        cs_db_res_free(res);
        cs_err_set(err, CS_ERR_FATAL,
                   "mentor_rematch_inputs returns %d columns, expected %d (its function file "
                   "applied?)",
                   cols, C_COUNT);
        return NULL;
    }
    for (int r = 0; r < cs_db_res_rows(res); r++)
        if (!strcmp(cs_db_res_get(res, r, C_KIND), "seen"))
            um_get(&m->seen, cs_db_res_get(res, r, C_ID), 0);
    return res;
}

static int batch_begin(void *ud, const cs_event_t *const *evs, int n, cs_err_t *err)
{
    mt_t *m = ud;
    reset(m);
    collect(m, evs, n, NULL);
    link(m, evs, 0);
    if (m->nreqs == 0 && m->navs == 0)
        return 0;
    cs_db_res_t *res = read_inputs(m, evs, n, err);
    if (!res)
        return -1;
    if (m->seen.n) { /* replayed events: their learners are read, but request nothing */
        um_clear(&m->reqmap);
        um_clear(&m->availmap);
        m->nreqs = m->navs = 0;
        cs_buf_reset(&m->a_stage_users);
        cs_buf_reset(&m->a_stage);
        collect(m, evs, n, &m->seen);
    }
    cs_match_problem_t p;
    cs_match_learner_t *pl = NULL;
    parse(m, res, &p, &pl);
    cs_db_res_free(res);
    int rc = assign(m, &p, err);
    free(pl);
    if (rc < 0) {
        err->kind = CS_ERR_FATAL; /* an invalid problem or a failed certificate is a bug */
        return -1;
    }
    link(m, evs, n);
    return 0;
}

/* ---- writing the proposals ---- */

static void derived(const char *kind, const lrn_t *l, const char *mentor, char out[37])
{
    char what[256];
    int n = snprintf(what, sizeof what, "%s|%s|%s|%s", kind, l->uid, l->ev->event_id,
                     mentor ? mentor : "none");
    cs_batch_derived_id(what, (size_t)n, out);
}

static int write_row(mt_t *m, cs_batch_t *b, const lrn_t *l, const char *pid, const char *eid,
                     cs_err_t *err)
{
    cs_buf_reset(&m->reasons);
    cs_buf_printf(&m->reasons, "{\"proposed_by\":\"cs-matcher\",\"trigger\":\"%s\",",
                  l->recommended ? "mentor_recommended" : cs_match_trigger_name(l->dec.trigger));
    cs_buf_printf(&m->reasons,
                  "\"trigger_event_id\":\"%s\",\"replaces\":\"%s\",\"pair\":", l->ev->event_id,
                  l->cur);
    cs_match_pair_detail_json(&l->det, &m->reasons);
    cs_buf_putc(&m->reasons, '}');
    char score[32];
    snprintf(score, sizeof score, "%.2f", l->det.score);
    cs_batch_row_begin(b, T_REL);
    cs_batch_str(b, pid);
    cs_batch_str(b, m->ms[l->mentor].id);
    cs_batch_str(b, l->uid);
    cs_batch_str(b, eid);
    cs_batch_str(b, "proposed");
    cs_batch_str(b, "algorithm");
    cs_batch_str(b, score);
    cs_batch_str(b, m->reasons.data);
    cs_batch_ts_ms(b, l->ev->occurred_at_ms);
    return cs_batch_row_end(b, err);
}

static int propose(mt_t *m, cs_batch_t *b, const lrn_t *l, cs_err_t *err)
{
    const char *mentor = l->mentor >= 0 ? m->ms[l->mentor].id : NULL;
    char pid[37], eid[37];
    derived("mentor_rematch_proposal", l, NULL, pid);
    derived("mentor_rematch_proposed", l, mentor, eid);
    if (mentor && write_row(m, b, l, pid, eid, err) < 0)
        return -1;
    cs_ev_mentor_rematch_proposed_t pl = {
        .proposal_id = pid,
        .current_mentor_id = l->cur[0] ? l->cur : NULL,
        .proposed_mentor_id = mentor,
        .reason = mr_reason(l->dec.trigger, l->requested),
        .has_avg_learner_rating = !isnan(l->dec.avg_rating),
        .avg_learner_rating = l->dec.avg_rating,
        .sessions_considered = l->dec.sessions_considered,
        .trigger_event_id = l->ev->event_id,
    };
    cs_event_t ev = {
        .type = cs_codec_type_by_name("mentor_rematch_proposed"),
        .occurred_at_ms = l->ev->occurred_at_ms,
        .producer = "cs-matcher",
        .traceparent = l->ev->traceparent,
        .payload = &pl,
    };
    memcpy(ev.user_id, l->uid, 37);
    memcpy(ev.event_id, eid, 37);
    if (cs_batch_emit(b, m->topic, NULL, &ev, err) < 0)
        return -1;
    m->events_emitted++;
    if (mentor)
        m->proposals++;
    else
        m->unassigned++;
    return 0;
}

static int on_event(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta, cs_err_t *err)
{
    mt_t *m = meta->ud;
    int e = um_get(&m->evmap, ev->event_id, -1);
    if (e < 0)
        return 0;
    for (int i = m->ev_head[e]; i >= 0; i = m->ls[i].next)
        if (propose(m, b, &m->ls[i], err) < 0)
            return -1;
    return 0;
}

/* Accepting or declining a proposal: one row; its trigger applies it in the same statement. */
static int on_response(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                       cs_err_t *err)
{
    (void)meta;
    const cs_ev_mentor_rematch_responded_t *p = ev->payload;
    cs_batch_row_begin(b, T_RESP);
    cs_batch_str(b, ev->event_id);
    cs_batch_str(b, p->proposal_id);
    cs_batch_str(b, ev->user_id);
    cs_batch_str(b, p->response == CS_REMATCH_RESPONSE_ACCEPTED ? "accepted" : "declined");
    if (p->comment)
        cs_batch_str(b, p->comment);
    else
        cs_batch_null(b);
    cs_batch_ts_ms(b, ev->occurred_at_ms);
    return cs_batch_row_end(b, err);
}

static const cs_handler_t handlers[] = {
    {"coaching_session_logged", on_event, CS_HANDLER_ONCE},
    {"learner_profile_updated", on_event, CS_HANDLER_ONCE},
    {"readiness_score_changed", on_event, CS_HANDLER_ONCE},
    {"mentor_feedback_given", on_event, CS_HANDLER_ONCE},
    {"mentor_availability_changed", on_event, CS_HANDLER_ONCE},
    {"mentor_rematch_requested", on_event, CS_HANDLER_ONCE},
    {"mentor_rematch_responded", on_response, CS_HANDLER_ONCE},
    {NULL},
};

/* ---- configuration ---- */

static const cs_opt_t opts[] = {
    {"derived-topic", CS_OPT_STRING, "",
     "topic of mentor_rematch_proposed (empty: the contract's, cs.derived)",
     .flags = CS_OPT_EMPTY_OK},
    {"low-rating-sessions", CS_OPT_INT, "3",
     "the low-ratings trigger averages the learner's last N rated sessions with the mentor", 1, 50},
    {"low-rating-threshold", CS_OPT_DOUBLE, "2.5",
     "an average of those ratings at or below this triggers a rematch", 1, 5},
    {"rematch-on-goals", CS_OPT_BOOL, "true",
     "a learner_profile_updated setting target_industry or target_role triggers a rematch"},
    {"rematch-on-stage", CS_OPT_BOOL, "true",
     "a readiness_score_changed that moved the readiness stage triggers a rematch"},
    {"rematch-on-availability", CS_OPT_BOOL, "true",
     "a mentor_availability_changed putting a mentor on leave (or at 0 hours) rematches all "
     "their mentees, over capacity the newest excess ones"},
    {"rematch-on-recommendation", CS_OPT_BOOL, "true",
     "a mentor_feedback_given with recommends_rematch triggers a rematch"},
    {"rematch-on-request", CS_OPT_BOOL, "true",
     "a mentor_rematch_requested triggers a (re)match, also for a learner without a mentor"},
    {"cooldown", CS_OPT_INT, "604800",
     "seconds after a learner's last proposal during which the rating, goals and stage "
     "triggers are held back",
     0, 31536000},
    {"cooldown-unavailable", CS_OPT_BOOL, "false",
     "the cooldown also holds back the rematch of a learner whose mentor became unavailable or "
     "over capacity"},
    {"cooldown-explicit", CS_OPT_BOOL, "false",
     "the cooldown also holds back a learner's request and a mentor's recommendation"},
    {"match-model", CS_OPT_STRING, "",
     "overrides of the pair score and solver, key=value[ key=value] (weight.expertise, floor, "
     "top_k, ...: docs/matcher.md)",
     .flags = CS_OPT_EMPTY_OK},
    {NULL},
};

/* The trigger options (each documented in docs/operations.md, "cs-matcher"). */
static void triggers_from(mt_t *m, const cs_config_t *cfg)
{
    cs_match_trigger_config_defaults(&m->tcfg);
    m->tcfg.low_rating_sessions = (int)cs_config_int(cfg, "low-rating-sessions");
    m->tcfg.low_rating_max_avg = cs_config_double(cfg, "low-rating-threshold");
    m->tcfg.on_goals_change = m->on.goals = cs_config_bool(cfg, "rematch-on-goals");
    m->tcfg.on_stage_change = m->on.stage = cs_config_bool(cfg, "rematch-on-stage");
    m->tcfg.cooldown_s = cs_config_int(cfg, "cooldown");
    /* A mentor's recommendation goes through the engine's explicit-request rule. */
    m->tcfg.cooldown_unavailable = cs_config_bool(cfg, "cooldown-unavailable");
    m->tcfg.cooldown_explicit = cs_config_bool(cfg, "cooldown-explicit");
    m->on.availability = cs_config_bool(cfg, "rematch-on-availability");
    m->on.recommendation = cs_config_bool(cfg, "rematch-on-recommendation");
    m->on.request = cs_config_bool(cfg, "rematch-on-request");
}

static int init(const cs_config_t *cfg, void **ud, cs_err_t *err)
{
    if (cs_config_bool(cfg, "pipeline"))
        return cs_err_set_field(err, CS_ERR_FATAL, "pipeline",
                                "cs-matcher needs --pipeline=false: each batch's read must see "
                                "the previous batch's proposals");
    mt_t *m = cs_mem_calloc(1, sizeof *m);
    *ud = m;
    cs_buf_init(&m->a_users);
    cs_buf_init(&m->a_req);
    cs_buf_init(&m->a_rated);
    cs_buf_init(&m->a_mentors);
    cs_buf_init(&m->a_stage_users);
    cs_buf_init(&m->a_stage);
    cs_buf_init(&m->a_events);
    cs_buf_init(&m->reasons);
    cs_match_config_defaults(&m->mcfg);
    if (cs_match_config_parse(&m->mcfg, cs_config_str(cfg, "match-model"), err) < 0)
        return cs_err_set_field(err, CS_ERR_FATAL, "match-model", "%s", err->msg);
    triggers_from(m, cfg);
    const char *topic = cs_config_str(cfg, "derived-topic");
    m->topic = topic && *topic ? topic : NULL;
    m->scope = "matching";
    m->db = cs_db_connect(cs_config_str(cfg, "pg-dsn"), "cs-matcher-inputs", err);
    return m->db ? 0 : -1;
}

static void um_free(umap_t *u)
{
    free(u->k);
    free(u->v);
}

static void fini(void *ud)
{
    mt_t *m = ud;
    cs_log_info("matcher totals", CS_LI("proposals", m->proposals),
                CS_LI("unassigned", m->unassigned), CS_LI("suppressed", m->suppressed),
                CS_LI("events_emitted", m->events_emitted));
    cs_db_destroy(m->db);
    umap_t *maps[] = {&m->reqmap,   &m->availmap, &m->seen, &m->mentormap,
                      &m->skillmap, &m->indmap,   &m->evmap};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++)
        um_free(maps[i]);
    free(m->reqs);
    free(m->avs);
    free(m->ls);
    free(m->ms);
    free(m->mm);
    free(m->ev_head);
    free(m->skills);
    free(m->excl);
    free(m->emb);
    cs_buf_fini(&m->a_users);
    cs_buf_fini(&m->a_req);
    cs_buf_fini(&m->a_rated);
    cs_buf_fini(&m->a_mentors);
    cs_buf_fini(&m->a_stage_users);
    cs_buf_fini(&m->a_stage);
    cs_buf_fini(&m->a_events);
    cs_buf_fini(&m->reasons);
    free(m);
}

static const cs_worker_def_t def = {
    .name = "cs-matcher",
    .group = "cs-matcher",
    .effect_scope = "matching",
    .topics = (const char *const[]){"cs.mentoring", "cs.profile", "cs.derived", NULL},
    .handlers = handlers,
    .tables = tables,
    .usage = "Decide which learners need a new mentor (low session ratings, changed goals or "
             "readiness stage, a mentor unavailable or over capacity, a mentor's "
             "recommendation), assign each batch's requests together under mentor capacities "
             "(exact optimum, verified), write the proposals and emit mentor_rematch_proposed "
             "through the transactional outbox.",
    .opts = opts,
    .init = init,
    .fini = fini,
    .batch_begin = batch_begin,
    .outbox = true,
    /* The pipeline is off unless asked for (and then refused with the reason, by init). Batches
     * of up to 10,000 events: each batch pays one read of every mentor with room and its own
     * commit, and its requests are assigned together; 20,000 cost no less CPU and peaked at 70
     * MiB, over the 48 MiB target (bench/matcher.sh --pipeline; docs/matcher.md). A partial
     * batch waits up to a second to fill (--batch-ms 1000): a steady stream then pays the read
     * once a second, not every 100 ms. */
    .defaults =
        (const char *const[]){"--pipeline=false", "--batch-size=10000", "--batch-ms=1000", NULL},
};

int main(int argc, char **argv)
{
    return cs_worker_main(&def, argc, argv);
}

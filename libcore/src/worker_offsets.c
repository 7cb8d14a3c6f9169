/*
 * libcore/src/worker_offsets.c
 *      The runtime's SQL: the session, stored offsets, dedupe and pre-checks.
 *
 * Every statement the runtime sends that is not a handler's rows lives here: the session's
 * connection and prepared statements (the commit's statements: see worker_txn.c for their order),
 * the offsets read on assignment, the synchronous path's dedupe (one statement marks event ids
 * processed and finds erased learners), and the pipeline's read-only pre-check on the second
 * connection R. Loop thread only: the committer uses the prepared statements, never this code.
 */
#include <stdlib.h>

#include "worker_int.h"

/* ---- database ---- */

/*
 * The offsets compare-and-set of a batch ($1 group; arrays $2 topics, $3 partitions, $4 the
 * expected next offsets (-1: no row yet), $5 the new ones): its first column is the number of
 * partitions moved, which is fewer than given when another consumer moved one (fenced).
 */
#define OFFSETS_CAS_WITH                                                                           \
    "WITH v AS (SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) "          \
    "AS v(topic, kp, expected, next)), "                                                           \
    "u AS (UPDATE consumer_offsets o SET next_offset = v.next, updated_at = now() FROM v "         \
    "WHERE v.expected >= 0 AND o.consumer_group = $1 AND o.topic = v.topic "                       \
    "AND o.kafka_partition = v.kp AND o.next_offset = v.expected RETURNING 1), "                   \
    "i AS (INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition, next_offset) "    \
    "SELECT $1, topic, kp, next FROM v WHERE expected < 0 ON CONFLICT DO NOTHING RETURNING 1) "
#define OFFSETS_CAS_SQL                                                                            \
    OFFSETS_CAS_WITH "SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i)"

/* $7: the number of partitions of the batch. */
static const char TAIL_CHECK_SQL[] = OFFSETS_CAS_WITH
    "SELECT cs_require((SELECT count(*) FROM u) + (SELECT count(*) FROM i) = $7::bigint, "
    "'" SQLSTATE_FENCED "', 'another consumer moved an offset of the batch'), "
    "cs_require(NOT EXISTS (SELECT 1 FROM erased_users WHERE user_id = ANY($6::uuid[])), "
    "'" SQLSTATE_REDO "', 'a learner of the batch was erased since its pre-check')";

/*
 * The batch's new event ids ($2 ids, $3 outcomes, $4 topics, $5 partitions, $6 offsets) marked
 * processed in the effect scope $1 by the group $7, the first statement of the committer's
 * transaction. A plain INSERT: every id in it is one the pre-check found new, so none may exist
 * and a speculative insertion (ON CONFLICT, a third of the statement's time) has nothing to
 * skip. An id applied since the pre-check fails the statement on the ledger's key (23505,
 * cs__worker_ledger_conflict), which sends the batch back to the synchronous path, whose dedupe
 * finds it. The ledger row is where two groups of one scope meet (a replay beside the live
 * worker): the second to insert an id waits for the first's transaction and fails on the key
 * once it commits (inserts it if it rolls back). Ids go in in sorted order, as in the
 * synchronous dedupe, so that two such batches wait for each other without a deadlock.
 */
static const char PROCESSED_SQL[] =
    "INSERT INTO processed_events (effect_scope, event_id, outcome, topic, kafka_partition, "
    "kafka_offset, consumer_group) SELECT $1, e, o::\"char\", t, kp, ko, $7 "
    "FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[]) "
    "AS x(e, o, t, kp, ko) ORDER BY e";

/* The step-by-step commit's tail: the same statement returning counts that the client checks. */
static const char TAIL_SQL[] =
    OFFSETS_CAS_SQL ", (SELECT count(*) FROM erased_users WHERE user_id = ANY($6::uuid[]))";

/*
 * The name of the ledger's key, which a unique violation's message names in any language (the
 * quotes around it are the translation's). No table of a handler has a key of that name, and a
 * table's conflict taken for the ledger's would only cost a redo, which then fails the same way.
 */
#define LEDGER_KEY "processed_events_pkey"

bool cs__worker_ledger_conflict(const cs_err_t *err)
{
    return !strcmp(err->sqlstate, "23505") && strstr(err->msg, LEDGER_KEY) != NULL;
}

static int prepare_commit_statements(cs_worker_t *w, cs_err_t *err)
{
    if (cs_db_prepare(w->db, TAIL_CHECK_STMT, TAIL_CHECK_SQL, err) < 0 ||
        cs_db_prepare(w->db, PROCESSED_STMT, PROCESSED_SQL, err) < 0 ||
        cs_db_prepare(w->db, TAIL_STMT, TAIL_SQL, err) < 0 ||
        cs_db_prepare(w->db, OFFSETS_CAS_STMT, OFFSETS_CAS_SQL, err) < 0)
        return cs_err_wrap(err, "preparing the commit's statements");
    return 0;
}

const char *cs__worker_dsn_of(cs_worker_t *w)
{
    return cs_config_str(w->cfg, "pg-dsn");
}

/* Connects or reconnects; prepares the session (staging tables, prepared statements). */
int cs__worker_db_ensure(cs_worker_t *w, cs_err_t *err)
{
    if (w->db && cs_db_ok(w->db) && w->db_prepared)
        return 0;
    cs__worker_set_waiting(w, "postgresql");
    if (!w->db) {
        w->db = cs_db_connect(cs__worker_dsn_of(w), w->def->name, err);
        if (!w->db)
            return -1;
    } else if (!cs_db_ok(w->db)) {
        if (cs_db_reset(w->db, err) < 0)
            return -1;
    }
    w->db_prepared = false;
    /* The stages' batches have the same tables, hence the same staging tables and statements
     * (the later rounds find them and only read the column types again). */
    for (int i = 0; i < w->nstages; i++)
        if (w->st[i].batch && cs_batch_prepare(w->st[i].batch, w->db, err) < 0)
            return -1;
    /* The commit's own statements, parsed and planned once per session (sent unnamed, parsing
     * and planning them was the largest share of a small batch's server time). */
    if (prepare_commit_statements(w, err) < 0)
        return -1;
    w->db_prepared = true;
    cs_log_info("connected to postgresql");
    return 0;
}

void cs__worker_db_rollback(cs_worker_t *w)
{
    cs_err_t e;
    if (w->db && cs_db_ok(w->db))
        cs_db_exec(w->db, "ROLLBACK", &e);
    /* Whatever the handlers derived from this attempt is gone with it. */
    if (w->def->forget)
        w->def->forget(w->ud);
}

/*
 * Reads the stored next offsets of parts[0..n) into part->committed (-1 when no row).
 */
int cs__worker_load_offsets(cs_worker_t *w, part_t **ps, int n, cs_err_t *err)
{
    if (n == 0)
        return 0;
    if (cs__worker_db_ensure(w, err) < 0)
        return -1;
    arr_begin(&w->a1);
    arr_begin(&w->a2);
    for (int i = 0; i < n; i++) {
        arr_str(&w->a1, ps[i]->topic);
        arr_int(&w->a2, ps[i]->partition);
    }
    arr_end(&w->a1);
    arr_end(&w->a2);
    const char *params[] = {w->group, w->a1.data, w->a2.data};
    cs_db_res_t *res =
        cs_db_query(w->db,
                    "SELECT o.topic, o.kafka_partition, o.next_offset FROM consumer_offsets o "
                    "JOIN unnest($2::text[], $3::int[]) AS v(topic, kp) "
                    "ON o.topic = v.topic AND o.kafka_partition = v.kp WHERE o.consumer_group = $1",
                    3, params, err);
    if (!res)
        return -1;
    for (int i = 0; i < n; i++)
        ps[i]->committed = -1;
    for (int r = 0; r < cs_db_res_rows(res); r++) {
        part_t *p =
            cs__worker_part_find(w, cs_db_res_get(res, r, 0), atoi(cs_db_res_get(res, r, 1)));
        if (p)
            p->committed = strtoll(cs_db_res_get(res, r, 2), NULL, 10);
    }
    cs_db_res_free(res);
    return 0;
}

/*
 * The synchronous path's: the event ids its dedupe marked processed in this transaction but that
 * were dead-lettered since ($1 effect scope, $2 ids), so that a replay of them is not taken for a
 * duplicate.
 */
const char cs__worker_forget_sql[] = "DELETE FROM processed_events WHERE effect_scope = $1 "
                                     "AND event_id = ANY($2::uuid[])";

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted set of uuids (text) in the stage's arena. */
typedef struct idset {
    const char **v;
    int n;
} idset_t;

/* The rows (kind, uuid) of res as two sets: kind k into *a, any other kind into *b. Frees res. */
static void res_sets(stage_t *s, cs_db_res_t *res, char k, idset_t *a, idset_t *b)
{
    int rows = cs_db_res_rows(res);
    a->v = cs_arena_alloc(s->arena, (size_t)(rows + 1) * sizeof *a->v);
    b->v = cs_arena_alloc(s->arena, (size_t)(rows + 1) * sizeof *b->v);
    a->n = b->n = 0;
    for (int r = 0; r < rows; r++) {
        const char *v = cs_arena_strndup(s->arena, cs_db_res_get(res, r, 1), 36);
        if (cs_db_res_get(res, r, 0)[0] == k)
            a->v[a->n++] = v;
        else
            b->v[b->n++] = v;
    }
    cs_db_res_free(res);
    qsort(a->v, (size_t)a->n, sizeof *a->v, cmp_str);
    qsort(b->v, (size_t)b->n, sizeof *b->v, cmp_str);
}

/* Where id is in set, or NULL. */
static const char **idset_find(const idset_t *set, const char *id)
{
    return set->n ? bsearch(&id, set->v, (size_t)set->n, sizeof *set->v, cmp_str) : NULL;
}

/* The dedupe statement's arrays: $2 ids, $3 learners, $4 topics, $5 partitions, $6 offsets. */
static int dedupe_params(cs_worker_t *w, const stage_t *s, bool ids)
{
    int nd = 0;
    arr_begin(&w->a1);
    arr_begin(&w->a2);
    arr_begin(&w->a3);
    arr_begin(&w->a4);
    arr_begin(&w->a5);
    for (int i = 0; i < s->n; i++) {
        const item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        arr_str(&w->a2, it->ev.user_id);
        if (ids) {
            arr_str(&w->a1, it->ev.event_id);
            arr_str(&w->a3, it->msg->topic);
            arr_int(&w->a4, it->msg->partition);
            arr_int(&w->a5, it->msg->offset);
        }
        nd++;
    }
    arr_end(&w->a1);
    arr_end(&w->a2);
    arr_end(&w->a3);
    arr_end(&w->a4);
    arr_end(&w->a5);
    return nd;
}

/* Each decoded item's state from the ids this transaction marked and the erased learners. */
static void dedupe_states(cs_worker_t *w, stage_t *s, const idset_t *news, const idset_t *erased)
{
    bool *taken = cs_arena_alloc(s->arena, (size_t)(news->n + 1) * sizeof *taken);
    memset(taken, 0, (size_t)(news->n + 1) * sizeof *taken);
    for (int i = 0; i < s->n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        if (idset_find(erased, it->ev.user_id)) {
            it->state = IT_ERASED;
            continue;
        }
        if (w->def->no_dedupe) {
            it->state = IT_NEW;
            continue;
        }
        const char **hit = idset_find(news, it->ev.event_id);
        if (hit && !taken[hit - news->v]) {
            taken[hit - news->v] = true; /* the first delivery within the batch applies */
            it->state = IT_NEW;
            it->was_new = true;
        } else {
            it->state = IT_DUP;
        }
    }
}

/*
 * Step 2 (synchronous path): one statement marks the event ids processed in the worker's effect
 * scope and finds erased learners. An id another group of the scope has inserted and not yet
 * committed (a replay beside the live worker) makes the statement wait for that transaction:
 * committed, the id is a duplicate here; rolled back, it is new here. Never an error, never both.
 */
int cs__worker_dedupe_items(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    bool ids = !w->def->no_dedupe; /* without dedupe only the learners are needed */
    if (dedupe_params(w, s, ids) == 0)
        return 0;
    const char *params[] = {w->scope,   w->a1.data, w->a2.data, w->a3.data,
                            w->a4.data, w->a5.data, w->group};
    const char *sql_dedupe =
        "WITH ev AS (SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::int[], "
        "$6::bigint[]) AS e(event_id, user_id, topic, kp, ko)), "
        "er AS (SELECT DISTINCT e.user_id FROM ev e JOIN erased_users u ON u.user_id = e.user_id), "
        "ins AS (INSERT INTO processed_events (effect_scope, event_id, outcome, topic, "
        "kafka_partition, kafka_offset, consumer_group) SELECT DISTINCT ON (event_id) $1, "
        "event_id, CASE WHEN user_id IN (SELECT user_id FROM er) THEN 's' ELSE 'a' END, topic, "
        "kp, ko, $7 FROM ev ORDER BY event_id, ko ON CONFLICT DO NOTHING RETURNING event_id) "
        "SELECT 'n', event_id::text FROM ins UNION ALL SELECT 'e', user_id::text FROM er";
    const char *sql_erased = "SELECT DISTINCT 'e', u.user_id::text FROM erased_users u "
                             "WHERE u.user_id = ANY($1::uuid[])";
    const char *erased_params[] = {w->a2.data};
    cs_db_res_t *res = ids ? cs_db_query(w->db, sql_dedupe, 7, params, err)
                           : cs_db_query(w->db, sql_erased, 1, erased_params, err);
    if (!res)
        return cs_err_wrap(err, "marking events processed");

    idset_t news, erased; /* event ids this transaction marked, erased learners */
    res_sets(s, res, 'n', &news, &erased);
    dedupe_states(w, s, &news, &erased);
    return 0;
}

/*
 * Runs a read-only query on the pre-check connection R, (re)connecting it as needed; a connection
 * found broken is re-established and the query tried once more.
 */
static cs_db_res_t *rdb_query(cs_worker_t *w, const char *sql, int nparams,
                              const char *const *params, cs_err_t *err)
{
    for (int tries = 0;; tries++) {
        bool fresh = false;
        if (!w->rdb) {
            w->rdb = cs_db_connect(cs__worker_dsn_of(w), w->def->name, err);
            if (!w->rdb)
                return NULL;
            fresh = true;
        } else if (!cs_db_ok(w->rdb)) {
            if (cs_db_reset(w->rdb, err) < 0)
                return NULL;
            fresh = true;
        }
        if (fresh && cs_db_exec(w->rdb, "SET default_transaction_read_only = on", err) < 0)
            return NULL;
        cs_db_res_t *res = cs_db_query(w->rdb, sql, nparams, params, err);
        if (res || tries > 0 || cs_db_ok(w->rdb))
            return res;
    }
}

typedef struct id_ref {
    const char *id;
    int idx;
} id_ref_t;

static int cmp_id_ref(const void *a, const void *b)
{
    const id_ref_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The optimistic pre-check: every event new (the first of its id in the batch), none erased. */
static void precheck_optimistic(cs_worker_t *w, stage_t *s)
{
    bool ids = !w->def->no_dedupe;
    id_ref_t *refs = cs_arena_alloc(s->arena, (size_t)(s->n + 1) * sizeof *refs);
    int nr = 0;
    for (int i = 0; i < s->n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        if (!ids)
            it->state = IT_NEW;
        else
            refs[nr++] = (id_ref_t){it->ev.event_id, i};
    }
    qsort(refs, (size_t)nr, sizeof *refs, cmp_id_ref);
    for (int r = 0; r < nr; r++) {
        item_t *it = &s->items[refs[r].idx];
        bool again = r > 0 && strcmp(refs[r].id, refs[r - 1].id) == 0;
        it->state = again ? IT_DUP : IT_NEW;
        it->was_new = !again;
    }
}

/*
 * Asks R for the erased learners and (with dedupe) the event ids this scope applied among the
 * decoded items. Returns the number of items asked about (0: nothing asked), -1 with err.
 */
static int precheck_query(cs_worker_t *w, stage_t *s, idset_t *done, idset_t *erased, cs_err_t *err)
{
    int nd = 0;
    bool ids = !w->def->no_dedupe;
    arr_begin(&w->a1);
    arr_begin(&w->a2);
    for (int i = 0; i < s->n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        arr_str(&w->a1, it->ev.user_id);
        if (ids)
            arr_str(&w->a2, it->ev.event_id);
        nd++;
    }
    arr_end(&w->a1);
    arr_end(&w->a2);
    if (nd == 0)
        return 0;
    const char *params[] = {w->a1.data, w->scope, w->a2.data};
    cs_db_res_t *res = ids ? rdb_query(w,
                                       "SELECT 'e', u.user_id::text FROM erased_users u "
                                       "WHERE u.user_id = ANY($1::uuid[]) UNION ALL "
                                       "SELECT 'd', p.event_id::text FROM processed_events p "
                                       "WHERE p.effect_scope = $2 AND p.event_id = ANY($3::uuid[])",
                                       3, params, err)
                           : rdb_query(w,
                                       "SELECT 'e', u.user_id::text FROM erased_users u "
                                       "WHERE u.user_id = ANY($1::uuid[])",
                                       1, params, err);
    if (!res)
        return cs_err_wrap(err, "checking erased learners and processed events");
    res_sets(s, res, 'd', done, erased);
    return nd;
}

/* Each decoded item's state from the pre-check's answer (nd items were asked about). */
static void precheck_states(cs_worker_t *w, stage_t *s, int nd, const idset_t *done,
                            const idset_t *erased)
{
    bool ids = !w->def->no_dedupe;
    /* Candidates in (id, position) order: the first delivery of an id within the batch applies. */
    id_ref_t *refs = cs_arena_alloc(s->arena, (size_t)(nd + 1) * sizeof *refs);
    int nr = 0;
    for (int i = 0; i < s->n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DECODED)
            continue;
        if (idset_find(erased, it->ev.user_id)) {
            it->state = IT_ERASED;
            continue;
        }
        if (!ids) {
            it->state = IT_NEW;
            continue;
        }
        if (idset_find(done, it->ev.event_id)) {
            it->state = IT_DUP;
            continue;
        }
        refs[nr++] = (id_ref_t){it->ev.event_id, i};
    }
    qsort(refs, (size_t)nr, sizeof *refs, cmp_id_ref);
    for (int r = 0; r < nr; r++) {
        item_t *it = &s->items[refs[r].idx];
        if (r > 0 && strcmp(refs[r].id, refs[r - 1].id) == 0) {
            it->state = IT_DUP;
        } else {
            it->state = IT_NEW;
            it->was_new = true;
        }
    }
}

/*
 * Step 2 of the pipeline: the events' states. Optimistic by default: every event is new (the first
 * of its id within the batch) and no learner erased; the committer's transaction verifies both
 * (processed ids inserted first, erased_users read again in the tail) and a batch that was wrong
 * is redone synchronously. After such a redo (a replay, duplicates, erasures under way), the
 * next batches ask first, outside any transaction, on R: the erased learners and (with dedupe)
 * the event ids this worker's effect scope already applied.
 */
int cs__worker_precheck_items(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    if (w->precheck_left <= 0) {
        precheck_optimistic(w, s);
        return 0;
    }
    w->precheck_left--;
    idset_t done, erased; /* event ids this scope applied, erased learners */
    int nd = precheck_query(w, s, &done, &erased, err);
    if (nd <= 0)
        return nd;
    precheck_states(w, s, nd, &done, &erased);
    return 0;
}

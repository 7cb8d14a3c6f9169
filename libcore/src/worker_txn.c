/*
 * libcore/src/worker_txn.c
 *      The batch transaction, written once, and its two senders.
 *
 * A batch is applied in one PostgreSQL transaction: its rows, its processed event ids, its dead
 * letters and its offsets commit together or not at all. txn_build lists that transaction's
 * statements in order, once, for its three forms:
 *   - the synchronous path's (apply_once, on the loop), after the loop itself has sent BEGIN,
 *     marked the ids processed (dedupe, whose answer the handlers need) and written the tables
 *     (which may bisect): forget the dead-lettered ids, record the dead letters, compare-and-set
 *     the offsets, publish the dead letters, COMMIT;
 *   - the committer's, step by step: BEGIN, the processed ids, the tables, the dead letters, the
 *     tail (offsets compare-and-set and the learners read again from erased_users), publish,
 *     COMMIT, each count checked by the client;
 *   - the committer's in one round trip (small batches without dead letters, whose tables all fit
 *     the array path): the same statements, with the checks done by the server.
 * txn_exec sends a list step by step, txn_send in one libpq pipeline. Both take a job
 * (cs__worker_job_t) and nothing of the cs_worker_t, so the committer thread can run them.
 * In re-drive mode (w->redrive, worker_redrive.c) the synchronous path locks the dead letters'
 * rows after BEGIN and, instead of recording dead letters and moving offsets, records each row's
 * outcome (STEP_REDRIVE) before COMMIT.
 * Derived events (cs_batch_emit, worker_outbox.c) are rows of the batch's last table,
 * outbox_events, so every form writes them with the tables, in the same transaction.
 * Outcomes are APPLY_* (worker_int.h); the synchronous driver (apply_batch) and the batch's
 * completion on the loop (batch_committed) live here too.
 */
#include <stdlib.h>

#include "worker_int.h"

/* ---- the transaction's statements ---- */

enum step_kind {
    STEP_SQL,          /* a statement: SQL text or, with prepared, a prepared statement's name */
    STEP_TABLES,       /* the batch's rows (cs_batch_flush) */
    STEP_DEAD_LETTERS, /* the dead letters' rows (cs_dlq_record) */
    STEP_PUBLISH,      /* the dead letters to Kafka, before COMMIT so that a failure rolls back */
    STEP_REDRIVE /* re-drive mode: the dead-letter rows' outcome (cs__worker_redrive_settle) */
};

/* How the step-by-step sender checks a statement's first row. */
enum step_check {
    CHECK_NONE,
    CHECK_PROCESSED, /* the ledger insert: rows == expect, a conflict on its key APPLY_REDO */
    CHECK_OFFSETS,   /* column 0 (partitions moved) == expect, else APPLY_FENCED */
    CHECK_TAIL       /* CHECK_OFFSETS, and column 1 (learners erased since) == 0, else APPLY_REDO */
};

typedef struct step {
    enum step_kind kind;
    const char *sql;
    bool prepared;
    int nparams;
    const char *params[8];
    enum step_check check;
    long long expect;
    const char *what; /* wraps the error of a failed statement, when set */
    int phase; /* the t_phase slot the time up to the end of this step counts in; -1: later */
} step_t;

enum txn_form { TXN_BEGUN, TXN_STEPS, TXN_PIPELINED };

#define MAX_STEPS 10

typedef struct txn {
    enum txn_form form;
    step_t v[MAX_STEPS];
    int n;
    char nparts[24];    /* text parameter of the server-side check */
    char counts[5][24]; /* a replay's counters: read, applied, dup, erased, dead */
} txn_t;

static step_t *txn_add(txn_t *t, enum step_kind kind, const char *sql, int phase)
{
    step_t *st = &t->v[t->n++];
    *st = (step_t){.kind = kind, .sql = sql, .phase = phase};
    return st;
}

/* A prepared statement of the commit, its parameters $1 (group or scope) and the stage's arrays. */
static step_t *txn_add_stmt(txn_t *t, const char *name, const char *group, const cs_buf_t *p,
                            const int *idx, int nidx, int phase)
{
    step_t *st = txn_add(t, STEP_SQL, name, phase);
    st->prepared = true;
    st->params[st->nparams++] = group;
    for (int i = 0; i < nidx; i++)
        st->params[st->nparams++] = p[idx[i]].data;
    return st;
}

/*
 * A replay's counters move in the batch's own transaction, so that they are exact whatever
 * happens to the process (kill -9 and --resume included): what the batch read, applied, skipped
 * as duplicates or as erased, and dead-lettered, from its events' states at commit time.
 */
static const char replay_counts_sql[] =
    "UPDATE replay_jobs SET events_read = events_read + $2::bigint, "
    "applied = applied + $3::bigint, skipped_duplicate = skipped_duplicate + $4::bigint, "
    "skipped_erased = skipped_erased + $5::bigint, dead_lettered = dead_lettered + $6::bigint, "
    "updated_at = now() WHERE job_id = $1::bigint";

static void txn_add_replay_counts(txn_t *t, const cs__worker_job_t *job)
{
    const stage_t *s = job->stage;
    long long c[5] = {s->n, 0, 0, 0, 0};
    for (int i = 0; i < s->n; i++) {
        int st = s->items[i].state;
        c[1] += st == IT_NEW;
        c[2] += st == IT_DUP;
        c[3] += st == IT_ERASED;
        c[4] += st == IT_DEAD;
    }
    step_t *st = txn_add(t, STEP_SQL, replay_counts_sql, -1);
    st->params[st->nparams++] = job->replay_job;
    for (int k = 0; k < 5; k++) {
        snprintf(t->counts[k], sizeof t->counts[k], "%lld", c[k]);
        st->params[st->nparams++] = t->counts[k];
    }
    st->what = "counting the replay's events";
}

/*
 * The end of a batch's transaction (not a re-drive's, not a dry run's): the offsets
 * compare-and-set (expecting the batch before's next offsets) and, on the committer, the learners
 * of the applied events read again from erased_users; a replay's counts; the dead letters'
 * publication; COMMIT.
 */
static void txn_add_tail(txn_t *t, const cs__worker_job_t *job)
{
    static const int tail[] = {TP_TOPIC, TP_KP, TP_EXPECTED, TP_NEXT, TP_LEARNERS};
    const stage_t *s = job->stage;
    bool begun = t->form == TXN_BEGUN, pipelined = t->form == TXN_PIPELINED;
    step_t *st;

    st = txn_add_stmt(t,
                      begun       ? OFFSETS_CAS_STMT
                      : pipelined ? TAIL_CHECK_STMT
                                  : TAIL_STMT,
                      job->group, s->p, tail, begun ? 4 : 5, 4);
    if (pipelined)
        st->params[st->nparams++] = t->nparts;
    st->check = begun ? CHECK_OFFSETS : CHECK_TAIL, st->expect = s->nbparts;
    st->what = "storing offsets";
    if (job->replay_job)
        txn_add_replay_counts(t, job);
    if (s->ndead)
        txn_add(t, STEP_PUBLISH, NULL, 4);
    txn_add(t, STEP_SQL, "COMMIT", 5);
}

/*
 * The batch's transaction, in order, in the given form (see the top of the file). The stage's
 * parameters (cs__worker_tail_params) and dead letters must be built.
 */
static void txn_build(txn_t *t, const cs__worker_job_t *job, enum txn_form form)
{
    static const int processed[] = {TP_EID, TP_OUTCOME, TP_ETOPIC, TP_EKP, TP_EKO};
    static const int forget[] = {TP_FORGET};
    const stage_t *s = job->stage;
    bool begun = form == TXN_BEGUN;
    step_t *st;

    t->form = form;
    t->n = 0;
    snprintf(t->nparts, sizeof t->nparts, "%d", s->nbparts);
    if (!begun)
        txn_add(t, STEP_SQL, "BEGIN", 1);
    if (!begun && s->nmark > 0) {
        /* First, before any row: an id applied since the pre-check (by the batch before, or by
         * another consumer) must not reach the tables, where it could even fail a unique key. */
        st = txn_add_stmt(t, PROCESSED_STMT, job->scope, s->p, processed, 5, 1);
        st->params[st->nparams++] = job->group;
        st->check = CHECK_PROCESSED, st->expect = s->nmark, st->what = "marking events processed";
    }
    if (!begun)
        txn_add(t, STEP_TABLES, NULL, 3);
    if (begun && s->nforget > 0) {
        st = txn_add_stmt(t, cs__worker_forget_sql, job->scope, s->p, forget, 1, -1);
        st->prepared = false, st->what = "forgetting dead-lettered event ids";
    }
    if (begun && job->redrive) {
        /* A re-drive moves no offsets (a dead letter's were committed long ago) and records no
         * dead letter: each row taken says its outcome, in this transaction. */
        txn_add(t, STEP_REDRIVE, NULL, 4);
        txn_add(t, STEP_SQL, "COMMIT", 5);
        return;
    }
    if (s->ndead)
        txn_add(t, STEP_DEAD_LETTERS, NULL, -1);
    if (job->dry_run) {
        /* A replay's dry run: everything above ran; no offsets, nothing published, and the
         * transaction is rolled back. */
        txn_add(t, STEP_SQL, "ROLLBACK", 5);
        return;
    }
    txn_add_tail(t, job);
}

/* ---- the synchronous sender ---- */

/* Checks the first row of a step's result against its expectation; frees res. */
static int step_check(const step_t *st, cs_db_res_t *res)
{
    long long c0 = strtoll(cs_db_res_get(res, 0, 0), NULL, 10);
    long long c1 = st->check == CHECK_TAIL ? strtoll(cs_db_res_get(res, 0, 1), NULL, 10) : 0;
    cs_db_res_free(res);
    if (c0 != st->expect)
        return APPLY_FENCED;
    /* A learner was erased after the pre-check: redo synchronously (which skips them). */
    return c1 > 0 ? APPLY_REDO : APPLY_OK;
}

static int step_sql(cs__worker_job_t *job, const step_t *st)
{
    cs_err_t *err = &job->err;
    if (st->check == CHECK_PROCESSED) {
        /* All the ids in, or an id applied since the pre-check: redo synchronously. */
        long long rc = cs_db_execp_prepared(job->db, st->sql, st->nparams, st->params, err);
        if (rc < 0 && cs__worker_ledger_conflict(err))
            return APPLY_REDO;
        if (rc < 0)
            cs_err_wrap(err, "%s", st->what);
        return rc < 0 ? APPLY_FAILED : rc == st->expect ? APPLY_OK : APPLY_REDO;
    }
    if (st->check == CHECK_NONE) {
        long long rc = st->nparams ? cs_db_execp(job->db, st->sql, st->nparams, st->params, err)
                                   : cs_db_exec(job->db, st->sql, err);
        if (rc < 0 && st->what)
            cs_err_wrap(err, "%s", st->what);
        return rc < 0 ? APPLY_FAILED : APPLY_OK;
    }
    cs_db_res_t *res = st->prepared
                           ? cs_db_query_prepared(job->db, st->sql, st->nparams, st->params, err)
                           : cs_db_query(job->db, st->sql, st->nparams, st->params, err);
    if (!res) {
        if (st->what)
            cs_err_wrap(err, "%s", st->what);
        return APPLY_FAILED;
    }
    return step_check(st, res);
}

static int step_exec(cs__worker_job_t *job, const step_t *st)
{
    stage_t *s = job->stage;
    cs_err_t *err = &job->err;
    switch (st->kind) {
    case STEP_SQL:
        return step_sql(job, st);
    case STEP_TABLES:
        return cs_batch_flush(s->batch, job->db, 0, s->n, false, err) < 0 ? APPLY_FAILED : APPLY_OK;
    case STEP_DEAD_LETTERS:
        return cs_dlq_record(job->dlq, job->db, s->dls, s->ndead, err) < 0 ? APPLY_FAILED
                                                                           : APPLY_OK;
    case STEP_PUBLISH:
        job->waiting = "kafka (dead-letter topic)";
        if (cs_dlq_publish(job->dlq, s->dls, s->ndead, job->dlq_timeout_ms, err) < 0)
            return APPLY_FAILED;
        job->waiting = "postgresql";
        return APPLY_OK;
    case STEP_REDRIVE:
        return cs__worker_redrive_settle(job->redrive, job->db, s, err) < 0 ? APPLY_FAILED
                                                                            : APPLY_OK;
    }
    return cs_err_set(err, CS_ERR_FATAL, "unknown transaction step %d", (int)st->kind);
}

/*
 * Runs the steps one at a time, each checked as it returns. On anything but APPLY_OK the
 * transaction is rolled back (if the connection still stands) and job->err says why.
 */
static int txn_exec(cs__worker_job_t *job, const txn_t *t)
{
    stage_t *s = job->stage;
    double t0 = mono_s(), t1;
    for (int i = 0; i < t->n; i++) {
        const step_t *st = &t->v[i];
        int rc = step_exec(job, st);
        if (rc != APPLY_OK) {
            /* A failed BEGIN leaves no transaction to roll back. */
            if ((i > 0 || t->form == TXN_BEGUN) && cs_db_ok(job->db)) {
                cs_err_t e;
                cs_db_exec(job->db, "ROLLBACK", &e);
            }
            return rc;
        }
        if (st->phase >= 0) {
            s->t_phase[st->phase] += (t1 = mono_s()) - t0;
            t0 = t1;
        }
    }
    return APPLY_OK;
}

/* ---- the pipelined sender ---- */

static int step_send(cs__worker_job_t *job, const step_t *st)
{
    stage_t *s = job->stage;
    if (st->kind == STEP_TABLES)
        return cs_batch_flush_send(s->batch, job->db, 0, s->n, &job->err);
    if (st->kind != STEP_SQL)
        return cs_err_set(&job->err, CS_ERR_FATAL, "transaction step %d cannot be pipelined",
                          (int)st->kind);
    return cs_db_pipeline_send(job->db, st->sql, st->prepared, st->nparams, st->params, &job->err);
}

/*
 * Sends the steps in one round trip (libpq pipeline mode): every statement, then one sync. The
 * checks run on the server (the ledger's key under PROCESSED_STMT, TAIL_CHECK_STMT, the ranks of
 * a sequential upsert): a failed one aborts the transaction with its own error, which maps back
 * to APPLY_REDO or APPLY_FENCED. COPY cannot run in a pipeline, nor can the dead letters' publish
 * (between the tail and COMMIT, so that a failed publish rolls back): txn_build's pipelined
 * form is for batches without dead letters whose tables all fit the array path.
 */
static int txn_send(cs__worker_job_t *job, const txn_t *t)
{
    stage_t *s = job->stage;
    cs_err_t *err = &job->err, end_err;
    double t0 = mono_s(), t1;
    if (cs_db_pipeline_begin(job->db, err) < 0)
        return APPLY_FAILED;
    bool sent = true;
    for (int i = 0; i < t->n && sent; i++)
        sent = step_send(job, &t->v[i]) == 0;
    s->t_phase[3] = (t1 = mono_s()) - t0, t0 = t1;
    /* After a failed send, err already says why; the statements sent still run to the sync. */
    if (cs_db_pipeline_end(job->db, sent ? err : &end_err) < 0 || !sent) {
        int rc = APPLY_FAILED;
        if (!strcmp(err->sqlstate, SQLSTATE_REDO) || cs__worker_ledger_conflict(err))
            rc = APPLY_REDO;
        else if (!strcmp(err->sqlstate, SQLSTATE_FENCED))
            rc = APPLY_FENCED;
        else if (sent)
            cs_err_wrap(err, "committing the batch (pipelined)");
        if (cs_db_ok(job->db)) {
            cs_err_t e;
            cs_db_exec(job->db, "ROLLBACK", &e);
        }
        return rc;
    }
    s->t_phase[5] = mono_s() - t0;
    return APPLY_OK;
}

/*
 * The committer's part of a pipelined batch (worker_committer.c runs it on its thread): the whole
 * transaction on job->db. Touches only the job, its stage, the connection and the dlq; sets
 * job->rc, job->err and job->waiting, and returns job->rc.
 */
int cs__worker_txn_commit(cs__worker_job_t *job)
{
    stage_t *s = job->stage;
    txn_t t;
    cs_err_clear(&job->err);
    job->waiting = "postgresql";
    bool pipelined =
        job->commit_pipeline && s->ndead == 0 && cs_batch_arrays_only(s->batch, 0, s->n);
    txn_build(&t, job, pipelined ? TXN_PIPELINED : TXN_STEPS);
    job->rc = pipelined ? txn_send(job, &t) : txn_exec(job, &t);
    return job->rc;
}

/* ---- the synchronous path ---- */

/*
 * Step 4 in isolation mode: flush [a, b) under a savepoint; on a PERMANENT failure roll back
 * and split, until the single events that fail are found and dead-lettered.
 */
static int flush_bisect(cs_worker_t *w, stage_t *s, int a, int b, cs_err_t *err)
{
    if (cs_db_exec(w->db, "SAVEPOINT cs_isolate", err) < 0)
        return -1;
    if (cs_batch_flush(s->batch, w->db, a, b, true, err) == 0)
        return cs_db_exec(w->db, "RELEASE SAVEPOINT cs_isolate", err);
    if (err->kind != CS_ERR_PERMANENT)
        return -1;
    cs_err_t ferr = *err;
    if (cs_db_exec(w->db, "ROLLBACK TO SAVEPOINT cs_isolate; RELEASE SAVEPOINT cs_isolate", err) <
        0)
        return -1;
    if (b - a == 1) {
        cs__worker_item_dead(s, &s->items[a], "database", &ferr);
        return 0;
    }
    int mid = a + (b - a) / 2;
    if (flush_bisect(w, s, a, mid, err) < 0)
        return -1;
    return flush_bisect(w, s, mid, b, err);
}

/*
 * The synchronous path's tables: written at once, or (isolate) by bisection under savepoints.
 * Returns APPLY_OK, APPLY_FAILED (err set; the caller rolls back) or APPLY_RERUN (rolled back).
 */
static int apply_tables(cs_worker_t *w, stage_t *s, int n, bool isolate, cs_err_t *err)
{
    if (!isolate)
        return cs_batch_flush(s->batch, w->db, 0, n, false, err) < 0 ? APPLY_FAILED : APPLY_OK;
    if (flush_bisect(w, s, 0, n, err) < 0)
        return APPLY_FAILED;
    /*
     * Handlers that keep state across events (cs-audit's hash chain) derived the later events
     * from the refused ones: their rows would link to rows that are never written. Such a
     * batch is run again from scratch, the refused events dead before the handlers run.
     */
    int found = 0;
    for (int i = 0; i < n && w->def->forget; i++) {
        item_t *it = &s->items[i];
        if (it->state == IT_DEAD && !s->refused[i].on && !strcmp(it->dead_class, "database")) {
            s->refused[i].on = true;
            s->refused[i].err = *it->err;
            found++;
        }
    }
    if (found) {
        cs__worker_db_rollback(w); /* calls forget() */
        return APPLY_RERUN;
    }
    return APPLY_OK;
}

/*
 * The rest of the synchronous path's transaction (txn_build's TXN_BEGUN form), once the tables
 * are written. On failure it is rolled back, what handlers derived forgotten, and err set.
 */
static int apply_tail(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    if (!w->redrive)
        cs__worker_build_dead_letters(w, s);
    cs__worker_stage_parts(w, s);
    cs__worker_tail_params(w, s);
    cs__worker_job_t job = {.stage = s,
                            .db = w->db,
                            .dlq = w->dlq,
                            .group = w->group,
                            .scope = w->scope,
                            .replay_job = w->replay_job,
                            .dry_run = w->dry_run,
                            /* On the event loop: a bounded wait (the dead letters stay in
                             * flight for the retry). */
                            .dlq_timeout_ms = w->dlq_timeout_ms < CS__WORKER_DLQ_LOOP_WAIT_MS
                                                  ? (int)w->dlq_timeout_ms
                                                  : CS__WORKER_DLQ_LOOP_WAIT_MS,
                            .redrive = w->redrive,
                            .waiting = "postgresql"};
    txn_t t;
    cs_err_clear(&job.err);
    txn_build(&t, &job, TXN_BEGUN);
    s->t_phase[4] = s->t_phase[5] = 0;
    int rc = txn_exec(&job, &t);
    cs__worker_set_waiting(w, job.waiting);
    if (rc != APPLY_OK) {
        *err = job.err;
        if (w->def->forget)
            w->def->forget(w->ud);
    }
    return rc;
}

/*
 * One synchronous attempt at applying the first n pending messages with stage s. On APPLY_FAILED
 * err says why (the transaction is rolled back); on APPLY_FENCED the caller reloads offsets.
 */
static int apply_once(cs_worker_t *w, stage_t *s, int n, bool isolate, cs_err_t *err)
{
    cs_arena_reset(s->arena);
    double t = mono_s(), t2;
    cs_batch_clear(s->batch);
    cs__worker_decode_items(w, s, 0, n);
    for (int i = 0; i < n; i++)
        if (s->refused[i].on && s->items[i].state == IT_DECODED)
            cs__worker_item_dead(s, &s->items[i], "database", &s->refused[i].err);
    s->t_phase[0] = (t2 = mono_s()) - t, t = t2;
    if (cs__worker_db_ensure(w, err) < 0)
        return APPLY_FAILED;
    cs__worker_set_waiting(w, "postgresql");
    if (cs_db_exec(w->db, "BEGIN", err) < 0)
        return APPLY_FAILED;
    if (w->redrive && cs__worker_redrive_lock(w, s, err) < 0)
        goto fail;
    if (cs__worker_dedupe_items(w, s, err) < 0)
        goto fail;
    s->t_phase[1] = (t2 = mono_s()) - t, t = t2;
    if (cs__worker_run_handlers(w, s, err) < 0)
        goto fail;
    s->t_phase[2] = (t2 = mono_s()) - t, t = t2;
    int rc = apply_tables(w, s, n, isolate, err);
    if (rc == APPLY_RERUN)
        return rc;
    if (rc != APPLY_OK)
        goto fail;
    s->t_phase[3] = mono_s() - t;
    return apply_tail(w, s, err);
fail:
    cs__worker_db_rollback(w);
    return APPLY_FAILED;
}

/*
 * Applies the first n pending messages synchronously with stage s (nothing may be in flight).
 * isolate: start in isolation mode (the batch already failed on an event's rows).
 * Returns APPLY_*; on failure the right state is set.
 */
int cs__worker_apply_batch(cs_worker_t *w, stage_t *s, int n, bool isolate)
{
    cs_err_t err;
    int rc = cs__worker_apply_isolating(w, s, n, isolate, &err);
    if (rc == APPLY_OK) {
        cs__worker_batch_committed(w, s);
        return rc;
    }
    if (rc == APPLY_FENCED) {
        cs__worker_after_fence(w);
        w->attempt = 0;
        return rc;
    }
    cs__worker_attempt_failed(w, &err);
    return rc;
}

/*
 * The synchronous attempt at the first n pending messages with stage s, isolating the events the
 * database refuses (dead-lettered) until the rest commits or the attempt fails. Returns APPLY_*,
 * with err on failure; nothing of the worker's state is moved (the caller's part).
 */
int cs__worker_apply_isolating(cs_worker_t *w, stage_t *s, int n, bool isolate, cs_err_t *err)
{
    s->t0 = mono_s();
    if (s->caprefused < n) {
        s->caprefused = n;
        s->refused = cs_mem_realloc(s->refused, (size_t)n * sizeof *s->refused);
    }
    memset(s->refused, 0, (size_t)n * sizeof *s->refused);
    cs_err_clear(err);
    int rc = apply_once(w, s, n, isolate, err);
    /* Every rerun has one more refused event than the last: at most n rounds. */
    for (;;) {
        if (rc == APPLY_FAILED && err->kind == CS_ERR_PERMANENT && !isolate) {
            cs_log_warn("batch failed on an event's rows; isolating it", CS_LS("reason", err->msg),
                        CS_LS("sqlstate", err->sqlstate), CS_LI("events", n));
            isolate = true;
        } else if (rc == APPLY_RERUN) {
            cs_log_info("running the batch again without the events the database refused (state "
                        "kept across events is derived again)",
                        CS_LI("events", n));
            isolate = false;
        } else {
            break;
        }
        cs_err_clear(err);
        rc = apply_once(w, s, n, isolate, err);
    }
    return rc;
}

/* The stage's batch is committed: move the partitions on, account, free its messages. */
void cs__worker_batch_committed(cs_worker_t *w, stage_t *s)
{
    cs_tp_t *tps = cs_mem_calloc((size_t)(s->nbparts ? s->nbparts : 1), sizeof *tps);
    int k = 0, n = s->n;
    cs_err_t err;
    for (int i = 0; i < n; i++)
        s->items[i].part->last_ts_ms = s->items[i].msg->timestamp_ms;
    for (int j = 0; j < s->nbparts; j++) {
        part_t *p = s->bparts[j];
        p->committed = s->blast[j] + 1;
        tps[k++] = (cs_tp_t){p->topic, p->partition, p->committed, false};
    }
    /* Kafka follows PostgreSQL, asynchronously, for lag tools; a failure here costs nothing. */
    if (k && !w->dry_run && cs_consumer_commit(w->consumer, tps, k, &err) < 0)
        cs_log_debug("kafka commit failed", CS_LS("error", err.msg));
    free(tps);
    double dt = mono_s() - s->t0;
    {
        /* End-to-end latency: from the message's timestamp (set by the producer) to now, just
         * after the commit that made the event's effects visible. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        for (int i = 0; i < n; i++) {
            int64_t ts = s->items[i].msg->timestamp_ms;
            if (ts > 0 && now_ms >= ts)
                cs_metric_observe(w->m_e2e, NULL, (double)(now_ms - ts) / 1000.0);
        }
    }
    cs__worker_log_dead_letters(s);
    cs__worker_count_batch(w, s);
    if (w->mode && w->mode->batch_done)
        w->mode->batch_done(w, s);
    cs_metric_observe(w->m_batch_size, NULL, n);
    cs_metric_observe(w->m_batch_seconds, NULL, dt);
    const char *ok[] = {"committed"};
    cs_metric_inc(w->m_batches, ok, 1);
    cs_log_debug("batch committed", CS_LI("events", n), CS_LI("dead_letters", s->ndead),
                 CS_LD("seconds", dt), CS_LI("attempt", w->attempt + 1),
                 CS_LI("pipelined", s == w->inflight_done), CS_LD("decode_s", s->t_phase[0]),
                 CS_LD("dedupe_s", s->t_phase[1]), CS_LD("handlers_s", s->t_phase[2]),
                 CS_LD("tables_s", s->t_phase[3]), CS_LD("offsets_s", s->t_phase[4]),
                 CS_LD("commit_s", s->t_phase[5]));
    if (cs__worker_outbox_rows(w, s))
        cs__worker_outbox_kick(w); /* its derived events are committed: publish them */
    if (w->def->committed)
        w->def->committed(w->ud, n);
    cs__worker_pending_consume(w, n);
    w->attempt = 0;
}

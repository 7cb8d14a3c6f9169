/*
 * libcore/src/worker_txn.c
 *      The batch transaction.
 *
 * A batch is applied in one PostgreSQL transaction: its rows, its processed event ids, its dead
 * letters and its offsets commit together or not at all. The synchronous path (apply_once, on the
 * loop) and the committer (commit_stage) run it. Outcomes are APPLY_* (worker_int.h).
 */
#include <stdlib.h>

#include "worker_int.h"

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
    if (cs__worker_dedupe_items(w, s, err) < 0)
        goto fail;
    s->t_phase[1] = (t2 = mono_s()) - t, t = t2;
    if (cs__worker_run_handlers(w, s, err) < 0)
        goto fail;
    s->t_phase[2] = (t2 = mono_s()) - t, t = t2;
    if (isolate) {
        if (flush_bisect(w, s, 0, n, err) < 0)
            goto fail;
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
    } else if (cs_batch_flush(s->batch, w->db, 0, n, false, err) < 0) {
        goto fail;
    }
    s->t_phase[3] = (t2 = mono_s()) - t, t = t2;
    if (cs__worker_forget_dead_ids(w, s, err) < 0)
        goto fail;
    cs__worker_build_dead_letters(w, s);
    if (cs_dlq_record(w->dlq, w->db, s->dls, s->ndead, err) < 0)
        goto fail;
    long long rows = cs__worker_store_offsets(w, s, err);
    if (rows < 0)
        goto fail;
    if (rows != s->nbparts) {
        cs__worker_db_rollback(w);
        return APPLY_FENCED;
    }
    if (s->ndead) {
        cs__worker_set_waiting(w, "kafka (dead-letter topic)");
        if (cs_dlq_publish(w->dlq, s->dls, s->ndead, (int)w->dlq_timeout_ms, err) < 0)
            goto fail;
        cs__worker_set_waiting(w, "postgresql");
    }
    s->t_phase[4] = (t2 = mono_s()) - t, t = t2;
    if (cs_db_exec(w->db, "COMMIT", err) < 0)
        goto fail;
    s->t_phase[5] = mono_s() - t;
    return APPLY_OK;
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
    s->t0 = mono_s();
    if (s->caprefused < n) {
        s->caprefused = n;
        s->refused = realloc(s->refused, (size_t)n * sizeof *s->refused);
        if (!s->refused)
            abort();
    }
    memset(s->refused, 0, (size_t)n * sizeof *s->refused);
    cs_err_clear(&err);
    int rc = apply_once(w, s, n, isolate, &err);
    /* Every rerun has one more refused event than the last: at most n rounds. */
    for (;;) {
        if (rc == APPLY_FAILED && err.kind == CS_ERR_PERMANENT && !isolate) {
            cs_log_warn("batch failed on an event's rows; isolating it", CS_LS("reason", err.msg),
                        CS_LS("sqlstate", err.sqlstate), CS_LI("events", n));
            isolate = true;
        } else if (rc == APPLY_RERUN) {
            cs_log_info("running the batch again without the events the database refused (state "
                        "kept across events is derived again)",
                        CS_LI("events", n));
            isolate = false;
        } else {
            break;
        }
        cs_err_clear(&err);
        rc = apply_once(w, s, n, isolate, &err);
    }
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

/* The stage's batch is committed: move the partitions on, account, free its messages. */
void cs__worker_batch_committed(cs_worker_t *w, stage_t *s)
{
    cs_tp_t *tps = calloc((size_t)(s->nbparts ? s->nbparts : 1), sizeof *tps);
    int k = 0, n = s->n;
    cs_err_t err;
    if (!tps)
        abort();
    for (int i = 0; i < n; i++)
        s->items[i].part->last_ts_ms = s->items[i].msg->timestamp_ms;
    for (int j = 0; j < s->nbparts; j++) {
        part_t *p = s->bparts[j];
        p->committed = s->blast[j] + 1;
        tps[k++] = (cs_tp_t){p->topic, p->partition, p->committed, false};
    }
    /* Kafka follows PostgreSQL, asynchronously, for lag tools; a failure here costs nothing. */
    if (k && cs_consumer_commit(w->consumer, tps, k, &err) < 0)
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
    if (w->def->committed)
        w->def->committed(w->ud, n);
    cs__worker_pending_consume(w, n);
    w->attempt = 0;
}

/*
 * commit_stage in one round trip (libpq pipeline mode): BEGIN, the processed ids, every table's
 * array statements, the tail, COMMIT, one sync. The checks between statements of the
 * step-by-step form run on the server instead (PROCESSED_CHECK_SQL, TAIL_CHECK_SQL, the ranks of
 * a sequential upsert): a failed one aborts the transaction with its own SQLSTATE, which maps back
 * to APPLY_REDO or APPLY_FENCED. Only for batches without dead letters (they are published to
 * Kafka between the tail and COMMIT, so that a failed publish rolls back) whose tables all fit
 * the array path (COPY cannot run in a pipeline).
 */
static void commit_pipelined(cs_worker_t *w, stage_t *s)
{
    cs_err_t *err = &s->err, end_err;
    double t = mono_s(), t2;
    char nnew[24], nparts[24];
    snprintf(nnew, sizeof nnew, "%d", s->nnew);
    snprintf(nparts, sizeof nparts, "%d", s->nbparts);
    if (cs_db_pipeline_begin(w->db, err) < 0)
        return;
    bool sent = cs_db_pipeline_send(w->db, "BEGIN", false, 0, NULL, err) == 0;
    if (sent && s->nmark > 0) {
        const char *pp[] = {w->group,
                            s->p[TP_EID].data,
                            s->p[TP_OUTCOME].data,
                            s->p[TP_ETOPIC].data,
                            s->p[TP_EKP].data,
                            s->p[TP_EKO].data,
                            nnew};
        sent = cs_db_pipeline_send(w->db, PROCESSED_CHECK_STMT, true, 7, pp, err) == 0;
    }
    if (sent)
        sent = cs_batch_flush_send(s->batch, w->db, 0, s->n, err) == 0;
    if (sent) {
        const char *tp[] = {w->group,
                            s->p[TP_TOPIC].data,
                            s->p[TP_KP].data,
                            s->p[TP_EXPECTED].data,
                            s->p[TP_NEXT].data,
                            s->p[TP_LEARNERS].data,
                            nparts};
        sent = cs_db_pipeline_send(w->db, TAIL_CHECK_STMT, true, 7, tp, err) == 0;
    }
    if (sent)
        sent = cs_db_pipeline_send(w->db, "COMMIT", false, 0, NULL, err) == 0;
    s->t_phase[3] = (t2 = mono_s()) - t, t = t2;
    /* After a failed send, err already says why; the statements sent still run to the sync. */
    if (cs_db_pipeline_end(w->db, sent ? err : &end_err) < 0 || !sent) {
        if (!strcmp(err->sqlstate, SQLSTATE_REDO))
            s->rc = APPLY_REDO;
        else if (!strcmp(err->sqlstate, SQLSTATE_FENCED))
            s->rc = APPLY_FENCED;
        else if (sent)
            cs_err_wrap(err, "committing the batch (pipelined)");
        if (cs_db_ok(w->db)) {
            cs_err_t e;
            cs_db_exec(w->db, "ROLLBACK", &e);
        }
        return;
    }
    s->t_phase[5] = mono_s() - t;
    s->rc = APPLY_OK;
}

/*
 * The committer thread's part of a pipelined batch, on the main connection. Touches only w->db,
 * the stage, the dlq and immutable configuration; sets s->rc, s->err and s->waiting.
 */
void cs__worker_commit_stage(cs_worker_t *w, stage_t *s)
{
    cs_err_t *err = &s->err;
    double t = mono_s(), t2;
    cs_err_clear(err);
    s->rc = APPLY_FAILED;
    s->waiting = "postgresql";
    if (w->commit_pipeline && s->ndead == 0 && cs_batch_arrays_only(s->batch, 0, s->n)) {
        commit_pipelined(w, s);
        return;
    }
    if (cs_db_exec(w->db, "BEGIN", err) < 0)
        return;
    if (s->nmark > 0) {
        /* First, before any row: an id applied since the pre-check (by the batch before, or by
         * another consumer) must not reach the tables, where it could even fail a unique key. */
        const char *pp[] = {
            w->group,          s->p[TP_EID].data, s->p[TP_OUTCOME].data, s->p[TP_ETOPIC].data,
            s->p[TP_EKP].data, s->p[TP_EKO].data};
        cs_db_res_t *r = cs_db_query_prepared(w->db, PROCESSED_STMT, 6, pp, err);
        if (!r) {
            cs_err_wrap(err, "marking events processed");
            goto fail;
        }
        long long inserted = strtoll(cs_db_res_get(r, 0, 0), NULL, 10);
        cs_db_res_free(r);
        if (inserted != s->nnew) {
            s->rc = APPLY_REDO;
            goto fail;
        }
    }
    s->t_phase[1] += (t2 = mono_s()) - t, t = t2;
    if (cs_batch_flush(s->batch, w->db, 0, s->n, false, err) < 0)
        goto fail;
    s->t_phase[3] = (t2 = mono_s()) - t, t = t2;
    if (cs_dlq_record(w->dlq, w->db, s->dls, s->ndead, err) < 0)
        goto fail;
    /* The tail: offsets compare-and-set (expecting the batch before's next offsets), and the
     * learners of the applied events read again from erased_users. */
    const char *params[] = {w->group,           s->p[TP_TOPIC].data,
                            s->p[TP_KP].data,   s->p[TP_EXPECTED].data,
                            s->p[TP_NEXT].data, s->p[TP_LEARNERS].data};
    cs_db_res_t *res = cs_db_query_prepared(w->db, TAIL_STMT, 6, params, err);
    if (!res) {
        cs_err_wrap(err, "storing offsets");
        goto fail;
    }
    long long rows = strtoll(cs_db_res_get(res, 0, 0), NULL, 10);
    long long erased = strtoll(cs_db_res_get(res, 0, 1), NULL, 10);
    cs_db_res_free(res);
    if (rows != s->nbparts) {
        s->rc = APPLY_FENCED;
        goto fail;
    }
    if (erased > 0) {
        /* A learner was erased after the pre-check: redo synchronously (which skips them). */
        s->rc = APPLY_REDO;
        goto fail;
    }
    if (s->ndead) {
        s->waiting = "kafka (dead-letter topic)";
        if (cs_dlq_publish(w->dlq, s->dls, s->ndead, (int)w->dlq_timeout_ms, err) < 0)
            goto fail;
        s->waiting = "postgresql";
    }
    s->t_phase[4] = (t2 = mono_s()) - t, t = t2;
    if (cs_db_exec(w->db, "COMMIT", err) < 0)
        goto fail;
    s->t_phase[5] = mono_s() - t;
    s->rc = APPLY_OK;
    return;
fail:
    if (cs_db_ok(w->db)) {
        cs_err_t e;
        cs_db_exec(w->db, "ROLLBACK", &e);
    }
}

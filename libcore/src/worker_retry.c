/*
 * libcore/src/worker_retry.c
 *      Backoff after a transient failure, and probing an unreachable PostgreSQL.
 *
 * A failed batch is classified once, in attempt_failed: transient failures pause every partition
 * and retry the same batch after an exponential backoff with jitter (or, while PostgreSQL cannot
 * be reached, as soon as a probe connects); anything else stops the worker. `waiting_for` names
 * the dependency a retry waits for (logs, /readyz). Loop thread only.
 */
#include <stdlib.h>

#include "worker_int.h"

void cs__worker_set_waiting(cs_worker_t *w, const char *what)
{
    snprintf(w->waiting_for, sizeof w->waiting_for, "%s", what);
}

/* Probing an unreachable PostgreSQL: every PROBE_MS plus up to PROBE_JITTER_MS; one probe waits
 * at most PROBE_TIMEOUT_MS on the loop (a stopped server refuses at once; the bound matters only
 * for a host that does not answer, where a real connection attempt would wait connect_timeout). */
#define PROBE_MS         200
#define PROBE_JITTER_MS  50
#define PROBE_TIMEOUT_MS 500

/*
 * Whether err says PostgreSQL cannot be reached (a connection that cannot be made or was lost:
 * SQLSTATE 08*, 57P0*, or a connection failure libpq gives no SQLSTATE for), as opposed to a
 * transient failure of a live server (40001, 40P01, 53*, 57014 ...), which keeps the backoff.
 */
static bool pg_unreachable(const cs_worker_t *w, const cs_err_t *err)
{
    if (strncmp(w->waiting_for, "postgresql", 10) != 0)
        return false;
    if (strncmp(err->sqlstate, "08", 2) == 0 || strncmp(err->sqlstate, "57P0", 4) == 0)
        return true;
    /* "sorry, too many clients already" comes from a live server, without a SQLSTATE here */
    return err->sqlstate[0] == '\0' && !strstr(err->msg, "too many clients");
}

static void arm_retry_timer(cs_worker_t *w, double after_s)
{
    ev_timer_stop(w->loop, &w->retry_timer);
    ev_timer_set(&w->retry_timer, after_s, 0.);
    ev_timer_start(w->loop, &w->retry_timer);
}

static double probe_interval_s(void)
{
    return (PROBE_MS + PROBE_JITTER_MS * ((double)rand() / RAND_MAX)) / 1000.0;
}

/*
 * Backs off after a transient failure. The step grows exponentially with the attempts, with
 * jitter, up to retry-max-ms: right for a live server that refused this batch (a serialization
 * failure, a deadlock, too many connections). When PostgreSQL cannot be reached at all the retry
 * timer probes it instead (probe_pg) and the retry comes the moment a probe connects, so a worker
 * resumes within a probe interval of the server's return rather than after the rest of a step of
 * up to retry-max-ms; the step still bounds the wait, so probing never retries later than the
 * backoff alone would.
 */
void cs__worker_enter_backoff(cs_worker_t *w, const cs_err_t *err)
{
    /* Backoff retries synchronously: nothing prepared survives it. */
    cs__worker_discard_ready(w);
    double d = (double)w->retry_initial_ms;
    for (int i = 0; i < w->attempt && d < (double)w->retry_max_ms; i++)
        d *= 2;
    if (d > (double)w->retry_max_ms)
        d = (double)w->retry_max_ms;
    d = d * (0.5 + 0.5 * ((double)rand() / RAND_MAX)); /* jitter */
    w->attempt++;
    w->backoff = true;
    /* The next attempt starts by naming what it waits for afresh: keep this one's for the log. */
    snprintf(w->outage_for, sizeof w->outage_for, "%s", w->waiting_for);
    if (w->outage_t0 == 0) {
        w->outage_t0 = ev_now(w->loop);
        w->outage_retries = 0;
    }
    w->outage_retries++;
    cs__worker_pause_all(w);
    const char *cls[] = {err->sqlstate[0] ? err->sqlstate : "connection"};
    if (strncmp(w->waiting_for, "postgresql", 10) == 0)
        cs_metric_inc(w->m_db_errors, cls, 1);
    cs_metric_inc(w->m_retries, NULL, 1);
    bool probe = pg_unreachable(w, err) && d / 1000.0 > PROBE_MS / 1000.0;
    if (probe && w->probe_t0 == 0) {
        w->probe_t0 = ev_now(w->loop);
        w->probes = 0;
    }
    w->probing = probe;
    w->retry_at = ev_now(w->loop) + d / 1000.0;
    cs_log_warn(
        strncmp(w->waiting_for, "kafka", 5) == 0 ? "waiting for kafka" : "waiting for postgresql",
        CS_LS("waiting_for", w->waiting_for), CS_LS("reason", err->msg),
        CS_LS("sqlstate", err->sqlstate), CS_LI("attempt", w->attempt),
        CS_LI("retry_in_ms", (long long)d), CS_LI("pending", w->npending), CS_LI("probing", probe));
    arm_retry_timer(w, probe ? probe_interval_s() : d / 1000.0);
}

/*
 * The retry timer while PostgreSQL is unreachable: one bounded connection attempt. Returns true
 * when the retry should run now (a probe connected, or the backoff step is over); false when the
 * server is still away, with the next probe armed. A probe that cannot tell within its bound
 * counts as away: retrying for real there would block the loop for the whole connect_timeout,
 * so such a server is retried when the step ends, as without probing. Logs only the change.
 */
static bool probe_pg(cs_worker_t *w)
{
    if (ev_now(w->loop) >= w->retry_at) {
        w->probing = false;
        return true;
    }
    int up = cs_db_probe(cs__worker_dsn_of(w), w->def->name, PROBE_TIMEOUT_MS);
    ev_now_update(w->loop);
    if (up <= 0) {
        w->probes++;
        arm_retry_timer(w, probe_interval_s());
        return false;
    }
    cs_log_info("postgresql accepts connections again; retrying now",
                CS_LI("probes_away", w->probes), CS_LD("probing_s", ev_now(w->loop) - w->probe_t0));
    w->probing = false;
    w->probe_t0 = 0;
    return true;
}

/* After a failed attempt: the class decides (transient: back off; else stop). */
void cs__worker_attempt_failed(cs_worker_t *w, const cs_err_t *err)
{
    if (err->kind == CS_ERR_TRANSIENT) {
        cs__worker_enter_backoff(w, err);
    } else {
        cs_log_error("batch failed; stopping", CS_LS("kind", cs_err_kind_name(err->kind)),
                     CS_LS("reason", err->msg), CS_LS("sqlstate", err->sqlstate),
                     CS_LS("field", err->field));
        cs__worker_stop_now(w, 1);
    }
}

void cs__worker_on_retry_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    cs_err_t err;
    if (w->probing && !probe_pg(w))
        return;
    w->backoff = false;
    if (cs__worker_settle_offsets(w, &err) < 0) {
        cs__worker_enter_backoff(w, &err);
        return;
    }
    cs__worker_flush_ready(w, true);
    if (w->backoff)
        return;
    /* The outage, if any, is over. The retry that just succeeded set waiting_for to what its own
     * steps wait for ("postgresql" at the start of every transaction): the dependency waited for
     * is the one the failed attempt named, kept by enter_backoff. */
    w->probe_t0 = 0;
    if (w->paused_all && !w->closed) {
        ev_now_update(w->loop); /* the retry itself may have taken a while */
        cs_log_info("dependency is back; consuming again", CS_LS("was_waiting_for", w->outage_for),
                    CS_LD("waited_s", w->outage_t0 > 0 ? ev_now(w->loop) - w->outage_t0 : 0.),
                    CS_LI("retries", w->outage_retries));
        cs__worker_resume_ready(w);
    }
    w->outage_t0 = 0;
}

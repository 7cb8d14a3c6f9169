/*
 * libcore/src/worker.c
 *      The worker runtime's lifecycle: options, start-up, signals, stop.
 *
 * cs_worker_main (cs/worker.h) merges the runtime's options with the worker's own, reads them,
 * opens PostgreSQL, the dead-letter producer, the consumer and the HTTP endpoint, starts the loop's
 * watchers and the committer thread, and runs the loop until a signal, a drain or a fatal failure
 * stops it. Everything the loop does between start and stop lives in the other worker_*.c files
 * (worker_int.h has the map). Loop thread only.
 */
#include <ctype.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "worker_int.h"

/* ---- options ---- */

static const char *const assignment_strategies[] = {"cooperative-sticky", "roundrobin", "range",
                                                    NULL};

const cs_opt_t cs_worker_opts[] = {
    {"group", CS_OPT_STRING, NULL, "consumer group (default: the worker's own)"},
    {"topics", CS_OPT_STRING, NULL, "comma-separated topics to consume (default: the worker's)"},
    {"batch-size", CS_OPT_INT, "5000", "events per batch at most", 1, 1000000},
    {"batch-ms", CS_OPT_INT, "100", "milliseconds a batch waits to fill before it is applied", 1,
     600000},
    {"batch-bytes", CS_OPT_INT, "16777216", "payload bytes per batch at most", 1024, 1073741824},
    {"drain", CS_OPT_BOOL, "false",
     "process until the end of every assigned partition, then exit 0"},
    {"retry-initial-ms", CS_OPT_INT, "200", "first backoff after a transient failure", 1, 600000},
    {"retry-max-ms", CS_OPT_INT, "30000", "longest backoff between retries", 1, 3600000},
    {"shutdown-timeout-ms", CS_OPT_INT, "30000",
     "how long SIGTERM may wait for the last batch to commit", 100, 3600000},
    /*
     * Group timing (consumer.c derives the heartbeat: a tenth of the session, at most 3 s). The
     * session timeout is how long the coordinator keeps a silent member: a member that dies
     * (kill -9, a lost host) holds its partitions that long before the group rebalances, and a
     * static member (--group-instance-id) that restarts within it gets them back with no
     * rebalance at all. 10 s: a crash is handed over in seconds, a worker restarts well within
     * it (it starts in under a second), and the heartbeats (1 s) run on librdkafka's own thread,
     * so a long batch never misses one; only the network and the coordinator must answer within
     * 10 s (brokers refuse less than their group.min.session.timeout.ms, 6 s by default). Kafka's
     * own default, 45 s, is for clients whose restarts or networks are slower; raise it for a
     * static member whose restart takes longer (a pod rescheduled elsewhere).
     */
    {"session-timeout-ms", CS_OPT_INT, "10000",
     "Kafka consumer group session timeout: how long a dead member keeps its partitions", 1000,
     3600000},
    {"group-instance-id", CS_OPT_STRING, NULL,
     "static group membership (KIP-345): a name unique in the group and stable across restarts "
     "of this instance (e.g. the host or pod name); a restart within the session timeout gets "
     "the same partitions back with no rebalance; empty: dynamic membership"},
    {"max-poll-interval-ms", CS_OPT_INT, "300000", "Kafka max.poll.interval.ms", 1000, 86400000},
    /*
     * How the group spreads partitions over its members. cooperative-sticky moves only the
     * partitions that change hands (the others keep flowing through a join or a leave), but it
     * balances partition counts, not topics: two members of a group reading five topics may each
     * get whole topics, and a learner's events (keyed by learner) then reach both members, whose
     * transactions wait on each other's locks on that learner's rows. roundrobin deals every
     * topic's partitions out in turn: with partition counts that are powers of two and a member
     * count that divides them (careerstream's topics: 16-64 partitions), a member gets the same
     * residues of every topic, so each learner's events of all topics reach one member; a
     * rebalance is then eager (every member stops and resumes, a few seconds). docs/operations.md,
     * "Scaling out".
     */
    {"assignment-strategy", CS_OPT_ENUM, "cooperative-sticky",
     "how the group assigns partitions: cooperative-sticky (incremental rebalances), roundrobin "
     "(each learner's partitions of every topic on one member: scale-out without cross-member "
     "row locks; eager rebalances) or range",
     0, 0, assignment_strategies},
    /*
     * A dead letter not acknowledged in time stays in flight (cs/dlq.h): the batch is rolled back
     * and its retry waits for the same message, so a short wait costs a retry, not a duplicate.
     * The committer thread waits this long; the event loop (a retried batch) at most
     * CS__WORKER_DLQ_LOOP_WAIT_MS, and the loop waits for the committer only in a rebalance or a
     * stop.
     */
    {"dlq-timeout-ms", CS_OPT_INT, "2000",
     "how long one attempt of a batch waits for its dead letters to be acknowledged before it "
     "is rolled back and retried (the dead letters stay in flight; a retry on the event loop "
     "waits at most 250 ms)",
     100, 600000},
    {"pipeline", CS_OPT_BOOL, "true",
     "overlap PostgreSQL with preparing the next batch (false: one batch at a time, serially)"},
    {"read-ahead", CS_OPT_BOOL, "true",
     "for workers with a set-based read per batch (cs-readiness): read the next batch's inputs "
     "while the batches before it are prepared and committed (costs a third batch of memory)"},
    {"batch-linger", CS_OPT_BOOL, "false",
     "a batch short of --batch-size waits --batch-ms to fill even when PostgreSQL is free (for "
     "workers whose cost is per batch or per learner, not per event; false: group commit)"},
    {"batch-array-rows", CS_OPT_INT, "500",
     "rows per table up to which a batch writes it with one statement from array parameters "
     "instead of COPY and a staging table (0: always COPY)",
     0, 1000000},
    {"batch-copy-binary", CS_OPT_BOOL, "true",
     "COPY a table's rows in binary format when every column's type has an encoder (false: "
     "always text)"},
    {"commit-pipeline", CS_OPT_BOOL, "true",
     "send a small batch's whole transaction in one round trip (libpq pipeline mode)"},
    /*
     * Kafka answers a fetch as soon as any partition has data, so the wait bounds only how long
     * an idle fetch is held: 5 ms cost an idle worker's broker 13.6% of a core (3 partitions;
     * 100 ms: 2.7%) and did not lower latency (cs-audit p50 27 ms with 5, 20 ms with 100).
     */
    {"fetch-wait-ms", CS_OPT_INT, "100",
     "longest the broker holds a fetch that finds no data (data ends the wait at once)", 1, 10000},
    {"prefetch-reservoir-kb", CS_OPT_INT, "2048",
     "KiB of message copies the consumer reads ahead while two batches are taken (0: none)", 0,
     1048576},
    {"kafka-props", CS_OPT_STRING, NULL,
     "extra librdkafka consumer properties, name=value[,name=value] (e.g. security.protocol)", 0, 0,
     NULL, CS_OPT_SECRET},
    {"outbox-batch-rows", CS_OPT_INT, "1000",
     "derived events the outbox relay publishes per round (workers that emit events)", 1, 100000},
    {"outbox-poll-ms", CS_OPT_INT, "1000",
     "how often the outbox relay looks for pending derived events besides the wake-up after "
     "each committed batch (rows left by a crash, failed deliveries)",
     10, 600000},
    {"metrics-port", CS_OPT_INT, "0",
     "port of /healthz, /readyz and /metrics (0: any free port, -1: disabled)", -1, 65535},
    {"metrics-addr", CS_OPT_STRING, "0.0.0.0",
     "numeric IPv4 or IPv6 address the metrics port listens on (0.0.0.0: all IPv4, so that "
     "orchestrator probes reach it; 127.0.0.1: this host only)"},
    {NULL},
};

/* ---- lifecycle ---- */

void cs__worker_finish_stop(cs_worker_t *w)
{
    cs_err_t err;
    if (w->closed)
        return;
    w->closed = true;
    ev_timer_stop(w->loop, &w->batch_timer);
    ev_timer_stop(w->loop, &w->retry_timer);
    cs_log_info("leaving the consumer group");
    /* Everything is committed by now: a leave that hangs must not hold the exit hostage. */
    if (cs_consumer_close(w->consumer, 5000, &err) < 0)
        cs_log_warn("leaving the consumer group failed", CS_LS("reason", err.msg));
    ev_break(w->loop, EVBREAK_ALL);
}

void cs__worker_stop_now(cs_worker_t *w, int code)
{
    if (w->inflight) {
        /* The committer reads pending messages: cancel its statement and let it finish first.
         * Whether that batch committed or not, PostgreSQL's offsets say where to resume. */
        cs_db_cancel(w->db);
        cs__worker_pipe_join(w);
    }
    w->ready = NULL;
    cs__worker_discard_ahead(w);
    w->exit_code = code;
    w->stopping = true;
    cs__worker_pending_consume(w, 0);
    for (int i = 0; i < w->npending; i++)
        cs_consumer_msg_free(w->pending[i]);
    w->npending = 0;
    w->pending_bytes = 0;
    cs__worker_finish_stop(w);
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    cs_log_warn("shutdown deadline reached; uncommitted events are left to the next owner",
                CS_LI("pending", w->npending), CS_LS("waiting_for", w->waiting_for));
    cs__worker_stop_now(w, 1);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = s->data;
    if (w->stopping) {
        cs_log_warn("second signal: stopping now", CS_LI("signal", s->signum));
        cs__worker_stop_now(w, 1);
        return;
    }
    cs_log_info("stopping: finishing the current batch", CS_LI("signal", s->signum),
                CS_LI("pending", w->npending), CS_LI("in_flight", w->inflight != NULL));
    w->stopping = true;
    ev_timer_set(&w->deadline_timer, (double)w->shutdown_timeout_ms / 1000.0, 0.);
    ev_timer_start(w->loop, &w->deadline_timer);
    cs__worker_flush_ready(w, true);
}

/*
 * Start-up: every topic to consume must exist. The consumer's subscription creates a missing
 * topic where the broker and the consumer allow it (auto.create.topics.enable on the broker,
 * allow.auto.create.topics here unless --kafka-props says otherwise), so a missing topic is given
 * TOPIC_WAIT_DRAIN_S to appear. With --drain a topic still missing then is a mistake, not a
 * stream that has not started: the worker stops with exit code 2 naming it (a drain would
 * otherwise wait for ever). Without --drain a topic may be created later: the worker warns every
 * TOPIC_WARN_S and keeps waiting; it consumes the topics that exist meanwhile.
 */
#define TOPIC_WAIT_DRAIN_S 10.0
#define TOPIC_WARN_S       30.0
/*
 * The first check waits for the group's first assignment (at most TOPIC_FIRST_WAIT_S). It asks
 * for the metadata of every topic, and librdkafka 2.0.2 takes such an answer, when it comes while
 * the group's leader waits for its own metadata in the join, as a reason to join again
 * (rd_kafka_cgrp_metadata_update_check, even with nothing changed), which it does only ~2 s
 * later: 1 start in 50 or so received nothing for 2 s (session 18).
 */
#define TOPIC_FIRST_WAIT_S 2.0

static void on_topic_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    char name[256];
    cs_err_t err;
    if (w->stopping)
        return;
    if (!w->got_assignment && w->topic_missing_since == 0 &&
        mono_s() - w->started_at < TOPIC_FIRST_WAIT_S) {
        ev_timer_set(t, 0.05, 0.);
        ev_timer_start(w->loop, t);
        return;
    }
    cs_err_clear(&err);
    int n = cs_consumer_missing_topics(w->consumer, (const char *const *)w->topics, 2000, name,
                                       sizeof name, &err);
    double now = mono_s();
    if (n == 0) {
        if (w->topic_warned_at > 0)
            cs_log_info("every topic exists now", CS_LI("topics", w->ntopics));
        return;
    }
    if (n > 0) {
        if (w->topic_missing_since == 0)
            w->topic_missing_since = now;
        double waited = now - w->topic_missing_since;
        if (w->drain && waited >= TOPIC_WAIT_DRAIN_S) {
            cs_log_error("topic does not exist; nothing to drain", CS_LS("topic", name),
                         CS_LI("missing", n), CS_LD("waited_s", waited));
            fprintf(stderr, "%s: topic %s does not exist\n", w->def->name, name);
            cs__worker_stop_now(w, 2);
            return;
        }
        if (!w->drain && (w->topic_warned_at == 0 || now - w->topic_warned_at >= TOPIC_WARN_S) &&
            waited >= TOPIC_WAIT_DRAIN_S) {
            cs_log_warn("topic does not exist; waiting for it to be created", CS_LS("topic", name),
                        CS_LI("missing", n), CS_LD("waited_s", waited));
            w->topic_warned_at = now;
        }
    } else {
        cs_log_debug("topic check failed; trying again", CS_LS("reason", err.msg));
    }
    ev_timer_set(t, w->drain || n < 0 ? 1.0 : 5.0, 0.);
    ev_timer_start(w->loop, t);
}

static char **split_topics(const char *s, int *n)
{
    char **v = NULL;
    int k = 0;
    const char *p = s;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' '))
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (len) {
            v = cs_mem_realloc(v, (size_t)(k + 2) * sizeof *v);
            v[k++] = cs_mem_strndup(p, len);
            v[k] = NULL;
        }
        if (!e)
            break;
        p = e + 1;
    }
    *n = k;
    return v;
}

static bool common_has(const char *name)
{
    for (int i = 0; cs_config_common_opts[i].name; i++)
        if (strcmp(cs_config_common_opts[i].name, name) == 0)
            return true;
    return false;
}

/* The runtime's options, the worker's own, then extra's (a mode's: worker_redrive.c). */
static cs_opt_t *merge_opts(const cs_opt_t *own, const cs_opt_t *extra)
{
    int n = 0, k = 0;
    for (int i = 0; cs_worker_opts[i].name; i++)
        n++;
    for (int i = 0; own && own[i].name; i++)
        n++;
    for (int i = 0; extra && extra[i].name; i++)
        n++;
    cs_opt_t *v = cs_mem_calloc((size_t)n + 1, sizeof *v);
    for (int i = 0; cs_worker_opts[i].name; i++)
        if (!common_has(cs_worker_opts[i].name))
            v[k++] = cs_worker_opts[i];
    for (int i = 0; own && own[i].name; i++)
        v[k++] = own[i];
    for (int i = 0; extra && extra[i].name; i++)
        v[k++] = extra[i];
    return v;
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    if (!w->closed)
        w->def->tick(w->ud);
}

static void committer_stop(cs_worker_t *w)
{
    if (!w->committer)
        return;
    if (w->inflight) {
        cs_db_cancel(w->db);
        cs__worker_pipe_join(w);
    }
    cs__worker_committer_stop(w->committer);
    w->committer = NULL;
}

void cs__worker_free(cs_worker_t *w)
{
    committer_stop(w);
    if (w->def->fini && w->ud)
        w->def->fini(w->ud);
    cs_http_destroy(w->http);
    for (int i = 0; i < w->npending; i++)
        cs_consumer_msg_free(w->pending[i]);
    free(w->pending);
    cs_consumer_destroy(w->consumer);
    cs_dlq_destroy(w->dlq);
    cs_db_destroy(w->db);
    cs_db_destroy(w->rdb);
    for (int i = 0; i < w->nstages; i++) {
        stage_t *s = &w->st[i];
        cs_batch_destroy(s->batch);
        cs_arena_destroy(s->arena);
        free(s->items);
        free(s->dls);
        free(s->refused);
        free(s->bparts);
        free(s->blast);
        for (int k = 0; k < TP_COUNT; k++)
            cs_buf_fini(&s->p[k]);
    }
    cs__worker_outbox_destroy(w);
    free(w->outbox_tables);
    cs_codec_destroy(w->codec);
    cs_metrics_destroy(w->metrics);
    for (int i = 0; i < w->nparts; i++) {
        free(w->parts[i]->topic);
        free(w->parts[i]);
    }
    free(w->parts);
    for (int i = 0; i < w->ntopics; i++)
        free(w->topics[i]);
    free(w->topics);
    free(w->group);
    free(w->scope);
    free(w->assign);
    free(w->assign_end);
    free(w->replay_job);
    cs_buf_fini(&w->a1);
    cs_buf_fini(&w->a2);
    cs_buf_fini(&w->a3);
    cs_buf_fini(&w->a4);
    cs_buf_fini(&w->a5);
    cs_config_destroy(w->cfg);
    free(w->opts);
    free(w);
}

/*
 * SIGTERM and SIGINT are blocked from the first line of cs_worker_main until the loop's signal
 * watchers exist, and again from the loop's end: a signal in between stays pending instead of
 * taking the default action (exit status 143 with the consumer and the connections dropped),
 * and the loop delivers it as a clean stop the moment it can. Threads started meanwhile (the
 * committer, librdkafka's, libpq's) inherit the mask, so the loop thread is the one to get it.
 */
static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

/* A signal that came while the worker was already stopping has been answered: the worker
 * stopped. It is taken off the pending set before the caller's mask returns. */
static void restore_signals(const sigset_t *old)
{
    sigset_t set, pending;
    const struct timespec now = {0, 0};
    stop_signals(&set);
    while (sigpending(&pending) == 0 &&
           (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1) &&
           sigtimedwait(&set, NULL, &now) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* The process-wide settings a worker needs, whatever it is. */
static void process_setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* librdkafka allocates messages on its threads and we free them on ours: without a cap
     * glibc keeps an arena per thread and the RSS creeps far above what is in use. */
    mallopt(M_ARENA_MAX, 2);
    srand((unsigned)(getpid() ^ (unsigned)time(NULL)));
}

/* The group, the topics and the runtime's numbers, from the configuration. */
static void read_config(cs_worker_t *w)
{
    const cs_worker_def_t *def = w->def;
    const char *group = cs_config_str(w->cfg, "group");
    w->group = cs_mem_strdup(group && *group ? group : (def->group ? def->group : def->name));
    w->scope = cs_mem_strdup(def->effect_scope ? def->effect_scope : def->name);
    const char *topics = cs_config_str(w->cfg, "topics");
    if (topics && *topics) {
        w->topics = split_topics(topics, &w->ntopics);
    } else {
        for (int i = 0; def->topics && def->topics[i]; i++) {
            w->topics = cs_mem_realloc(w->topics, (size_t)(i + 2) * sizeof *w->topics);
            w->topics[i] = cs_mem_strdup(def->topics[i]);
            w->topics[i + 1] = NULL;
            w->ntopics = i + 1;
        }
    }
    w->batch_size = cs_config_int(w->cfg, "batch-size");
    w->batch_ms = cs_config_int(w->cfg, "batch-ms");
    w->batch_bytes = cs_config_int(w->cfg, "batch-bytes");
    w->drain = cs_config_bool(w->cfg, "drain");
    w->retry_initial_ms = cs_config_int(w->cfg, "retry-initial-ms");
    w->retry_max_ms = cs_config_int(w->cfg, "retry-max-ms");
    w->shutdown_timeout_ms = cs_config_int(w->cfg, "shutdown-timeout-ms");
    w->dlq_timeout_ms = cs_config_int(w->cfg, "dlq-timeout-ms");
}

/* What a worker cannot start without; 0, or 2 (a usage error) after saying what is missing. */
static int check_required(const cs_worker_t *w)
{
    const char *name = w->def->name;
    if (w->ntopics == 0) {
        fprintf(stderr, "%s: no topics to consume (set --topics or CS_TOPICS)\n", name);
        return 2;
    }
    if (!cs_config_str(w->cfg, "pg-dsn") || !*cs_config_str(w->cfg, "pg-dsn")) {
        fprintf(stderr, "%s: --pg-dsn (CS_PG_DSN) is required\n", name);
        return 2;
    }
    if (!cs_config_str(w->cfg, "kafka-brokers") || !*cs_config_str(w->cfg, "kafka-brokers")) {
        fprintf(stderr, "%s: --kafka-brokers (CS_KAFKA_BROKERS) is required\n", name);
        return 2;
    }
    return 0;
}

/* The codec (unless the worker decodes for itself), checking every handler's event type. */
static int open_codec(cs_worker_t *w, cs_err_t *err)
{
    const cs_worker_def_t *def = w->def;
    if (def->decode)
        return 0;
    w->codec = cs_codec_new(err);
    if (!w->codec)
        return -1;
    for (int i = 0; def->handlers[i].event_type; i++) {
        const char *t = def->handlers[i].event_type;
        if (strcmp(t, CS_EVENT_ANY) != 0 && cs_codec_type_by_name(t) < 0)
            return cs_err_set_field(err, CS_ERR_FATAL, "handlers",
                                    "handler for unknown event type '%s'", t);
    }
    return 0;
}

/* The stages' batch buffers, arenas and parameter buffers. */
static void stages_init(cs_worker_t *w)
{
    const cs_worker_def_t *def = w->def;
    for (w->ntables = 0; def->tables && def->tables[w->ntables].table; w->ntables++)
        ;
    /* An outbox is one more table, after the worker's (handlers never name it). */
    if (def->outbox)
        w->outbox_tables = cs__worker_outbox_tables(def, w->ntables);
    w->read_ahead = def->batch_read && cs_config_bool(w->cfg, "read-ahead");
    w->nstages = w->read_ahead ? CS__WORKER_STAGES : 2;
    for (int i = 0; i < w->nstages; i++) {
        /* Two batch buffers: the stage read ahead takes one when it is prepared (the batch
         * before it is in flight then, the third stage free). */
        if (i < 2) {
            w->st[i].batch = def->outbox ? cs_batch_new(w->outbox_tables, w->ntables + 1)
                                         : cs_batch_new(def->tables, w->ntables);
            cs_batch_set_array_max(w->st[i].batch,
                                   (size_t)cs_config_int(w->cfg, "batch-array-rows"));
            cs_batch_set_copy_binary(w->st[i].batch, cs_config_bool(w->cfg, "batch-copy-binary"));
        }
        w->st[i].arena = cs_arena_new(256 * 1024);
        for (int k = 0; k < TP_COUNT; k++)
            cs_buf_init(&w->st[i].p[k]);
    }
}

/* Connects PostgreSQL (an unreachable server is waited for) and creates the consumer. */
static int open_consumer(cs_worker_t *w, cs_err_t *err)
{
    char client_id[128];
    snprintf(client_id, sizeof client_id, "%s-%d", w->def->name, (int)getpid());
    long long reservoir_kb = cs_config_int(w->cfg, "prefetch-reservoir-kb");
    cs_consumer_conf_t cc = {
        .brokers = cs_config_str(w->cfg, "kafka-brokers"),
        .group = w->group,
        .topics = (const char *const *)w->topics,
        .client_id = client_id,
        .group_instance_id = cs_config_str(w->cfg, "group-instance-id"),
        .session_timeout_ms = (int)cs_config_int(w->cfg, "session-timeout-ms"),
        .max_poll_interval_ms = (int)cs_config_int(w->cfg, "max-poll-interval-ms"),
        .partition_eof = w->drain,
        .fetch_wait_max_ms = (int)cs_config_int(w->cfg, "fetch-wait-ms"),
        .kafka_props = cs_config_str(w->cfg, "kafka-props"),
        .assignment_strategy = cs_config_str(w->cfg, "assignment-strategy"),
        .reservoir_kbytes = reservoir_kb > 0 ? (int)reservoir_kb : -1,
        /* a mode (replay) may fix the partitions and their ends: assign, never subscribe */
        .assign = w->assign,
        .assign_end = w->assign_end,
        .nassign = w->nassign,
    };
    cs_consumer_cbs_t cbs = {cs__worker_on_assign, cs__worker_on_revoke, w};
    if (cs_consumer_conf_check(&cc, err) < 0)
        return -1; /* a bad --group-instance-id, before anything connects */

    /* PostgreSQL first: a wrong DSN or schema stops here; an unreachable server is retried. */
    if (cs__worker_db_ensure(w, err) < 0) {
        if (err->kind != CS_ERR_TRANSIENT)
            return -1;
        cs_log_warn("waiting for postgresql", CS_LS("reason", err->msg));
    }
    w->consumer = cs_consumer_new(&cc, &cbs, err);
    return w->consumer ? 0 : -1;
}

/* The dead-letter producer, PostgreSQL and the consumer, and the HTTP endpoint. */
static int open_io(cs_worker_t *w, cs_err_t *err)
{
    w->dlq = cs_dlq_new(cs_config_str(w->cfg, "kafka-brokers"),
                        cs_config_str(w->cfg, "kafka-props"), w->def->name, w->group, err);
    if (!w->dlq || open_consumer(w, err) < 0)
        return -1;
    long long port = cs_config_int(w->cfg, "metrics-port");
    if (port < 0)
        return 0;
    w->http = cs_http_new(w->loop, cs_config_str(w->cfg, "metrics-addr"), (int)port,
                          cs__worker_on_http, w, err);
    if (!w->http)
        return -1;
    cs_log_info("serving /healthz, /readyz, /metrics",
                CS_LS("addr", cs_config_str(w->cfg, "metrics-addr")),
                CS_LI("port", cs_http_port(w->http)));
    return 0;
}

/* The loop's watchers, and the committer thread between them (its completion is a watcher). */
static int watchers_start(cs_worker_t *w, cs_err_t *err)
{
    ev_io_init(&w->consumer_io, cs__worker_on_consumer_io, cs_consumer_fd(w->consumer), EV_READ);
    w->consumer_io.data = w;
    ev_io_start(w->loop, &w->consumer_io);
    ev_idle_init(&w->consumer_idle, cs__worker_on_consumer_idle);
    w->consumer_idle.data = w;
    ev_init(&w->batch_timer, cs__worker_on_batch_timer);
    w->batch_timer.data = w;
    ev_init(&w->retry_timer, cs__worker_on_retry_timer);
    w->retry_timer.data = w;
    ev_async_init(&w->done_async, cs__worker_on_committed);
    w->done_async.data = w;
    ev_async_start(w->loop, &w->done_async);
    if (w->pipeline) {
        w->committer = cs__worker_committer_start(w->loop, &w->done_async, err);
        if (!w->committer)
            return -1;
    }
    ev_init(&w->deadline_timer, on_deadline);
    w->deadline_timer.data = w;
    ev_timer_init(&w->topic_timer, on_topic_timer, 0., 0.);
    w->topic_timer.data = w;
    ev_init(&w->drain_timer, cs__worker_on_drain_timer);
    w->drain_timer.data = w;
    ev_timer_start(w->loop, &w->topic_timer);
    /* The upkeep timer must poll well within max.poll.interval.ms (cs_consumer_keepalive). */
    long long max_poll_ms = cs_config_int(w->cfg, "max-poll-interval-ms");
    w->wm_period_ms = max_poll_ms / 3 < 5000 ? (int)(max_poll_ms / 3) : 5000;
    w->kafka_sync_at = ev_now(w->loop) + 30.;
    ev_timer_init(&w->wm_timer, cs__worker_on_wm_timer, w->wm_period_ms / 1000.,
                  w->wm_period_ms / 1000.);
    w->wm_timer.data = w;
    ev_timer_start(w->loop, &w->wm_timer);
    if (w->def->tick && w->def->tick_ms > 0) {
        ev_timer_init(&w->tick_timer, on_tick, w->def->tick_ms / 1000., w->def->tick_ms / 1000.);
        w->tick_timer.data = w;
        ev_timer_start(w->loop, &w->tick_timer);
    }
    ev_signal_init(&w->sigterm, on_signal, SIGTERM);
    w->sigterm.data = w;
    ev_signal_start(w->loop, &w->sigterm);
    ev_signal_init(&w->sigint, on_signal, SIGINT);
    w->sigint.data = w;
    ev_signal_start(w->loop, &w->sigint);
    /* The watchers exist: a signal pending since start-up is delivered now (a clean stop). */
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

static void watchers_stop(cs_worker_t *w)
{
    ev_io_stop(w->loop, &w->consumer_io);
    ev_idle_stop(w->loop, &w->consumer_idle);
    ev_timer_stop(w->loop, &w->batch_timer);
    ev_timer_stop(w->loop, &w->retry_timer);
    ev_timer_stop(w->loop, &w->deadline_timer);
    ev_timer_stop(w->loop, &w->topic_timer);
    ev_timer_stop(w->loop, &w->drain_timer);
    ev_timer_stop(w->loop, &w->wm_timer);
    ev_timer_stop(w->loop, &w->tick_timer);
    ev_signal_stop(w->loop, &w->sigterm);
    ev_signal_stop(w->loop, &w->sigint);
    committer_stop(w);
    ev_async_stop(w->loop, &w->done_async);
    /* After the last commit: what it derived is published before the process ends. */
    cs__worker_outbox_stop(w);
}

/* The codec, the worker's init, the stages and the outbox: what any mode of the runtime needs. */
int cs__worker_open_offline(cs_worker_t *w, cs_err_t *err)
{
    if (open_codec(w, err) < 0)
        return -1;
    if (w->def->init && w->def->init(w->cfg, &w->ud, err) < 0)
        return -1;
    stages_init(w);
    if (w->def->outbox && cs__worker_outbox_new(w, err) < 0)
        return -1;
    return 0;
}

/* Everything between the configuration and the loop; -1 with err when the worker cannot start. */
static int worker_open(cs_worker_t *w, cs_err_t *err)
{
    if (cs__worker_open_offline(w, err) < 0)
        return -1;
    w->pipeline = cs_config_bool(w->cfg, "pipeline");
    w->batch_linger = cs_config_bool(w->cfg, "batch-linger");
    w->commit_pipeline = cs_config_bool(w->cfg, "commit-pipeline");
    cs__worker_metrics_init(w);
    cs__worker_outbox_metrics(w);
    w->loop = ev_default_loop(EVFLAG_AUTO);
    if (open_io(w, err) < 0)
        return -1;
    if (watchers_start(w, err) < 0)
        return -1;
    /* The relay publishes at once what a previous run left pending. */
    return cs__worker_outbox_start(w, err);
}

/* Runs the loop until the worker stops; returns its exit code. */
static int worker_run(cs_worker_t *w)
{
    const char *topics = cs_config_str(w->cfg, "topics");
    cs_log_info("worker started", CS_LS("group", w->group), CS_LS("effect_scope", w->scope),
                CS_LS("topics", topics ? topics : ""), CS_LI("batch_size", w->batch_size),
                CS_LI("batch_ms", w->batch_ms), CS_LI("drain", w->drain),
                CS_LI("pipeline", w->pipeline), CS_LI("batch_linger", w->batch_linger));
    w->started_at = mono_s();
    /* The queue may have filled before the watcher existed: look once. */
    cs__worker_drain_queue(w);
    if (!w->closed)
        ev_run(w->loop, 0);
    /* Stopped: from here a signal must not kill the process half-way through closing. */
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    watchers_stop(w);
    cs_log_info("worker stopped", CS_LI("exit_code", w->exit_code));
    return w->exit_code;
}

/* ---- a mode without the consumer loop (worker_redrive.c) ---- */

static char *usage_text(const cs_worker_def_t *def, const char *u);

cs_worker_t *cs__worker_configure(const cs_worker_def_t *def, const char *word,
                                  const cs_opt_t *extra, const char *usage, int argc, char **argv,
                                  int *code)
{
    cs_worker_t *w = cs_mem_calloc(1, sizeof *w);
    char program[128], *text = usage_text(def, usage);
    snprintf(program, sizeof program, "%s %s", def->name, word);
    w->def = def;
    w->ud = def->ud;
    w->opts = merge_opts(def->opts, extra);
    w->cfg = cs_config_start(program, text, w->opts, argc, argv, code);
    free(text);
    if (!w->cfg) {
        free(w->opts);
        free(w);
        return NULL;
    }
    process_setup();
    read_config(w);
    return w;
}

/* True when the environment sets the variable of "--name=value" (CS_NAME, '-' as '_'). */
static bool default_overridden(const char *arg)
{
    char var[128] = "CS_";
    size_t n = 3;
    for (const char *c = arg + 2; *c && *c != '=' && n + 1 < sizeof var; c++)
        var[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
    var[n] = '\0';
    return getenv(var) != NULL;
}

/* argv with the worker's defaults first (those the environment does not override): av, ac. */
static char **with_defaults(const cs_worker_def_t *def, int argc, char **argv, int *ac)
{
    int nd = 0;
    while (def->defaults && def->defaults[nd])
        nd++;
    char **av = cs_mem_calloc((size_t)argc + (size_t)nd + 1, sizeof *av);
    int n = 0;
    av[n++] = argv[0];
    for (int i = 0; i < nd; i++)
        if (!default_overridden(def->defaults[i]))
            av[n++] = (char *)def->defaults[i];
    for (int i = 1; i < argc; i++)
        av[n++] = argv[i];
    *ac = n;
    return av;
}

int cs_worker_main(const cs_worker_def_t *def, int argc, char **argv)
{
    /* Modes of the runtime other than the live loop, each with the worker's handlers: argv[1]
     * names it, and the mode's argv[0] is that word. The worker's defaults follow argv[0]. */
    bool replay = argc > 1 && strcmp(argv[1], "replay") == 0;
    bool redrive = argc > 1 && strcmp(argv[1], "redrive") == 0;
    int skip = replay || redrive, ac;
    char **av = with_defaults(def, argc - skip, argv + skip, &ac);
    int rc = replay    ? cs__worker_replay_main(def, ac, av)
             : redrive ? cs__worker_redrive_main(def, ac, av)
                       : cs__worker_main_mode(def, ac, av, NULL);
    free(av);
    return rc;
}

/* The --help text: u (the mode's or worker's), and the worker's own defaults of runtime options. */
static char *usage_text(const cs_worker_def_t *def, const char *u)
{
    size_t len = strlen(u) + 160;
    for (int i = 0; def->defaults && def->defaults[i]; i++)
        len += strlen(def->defaults[i]) + 1;
    char *t = cs_mem_alloc(len);
    size_t n = (size_t)snprintf(t, len, "%s", u);
    for (int i = 0; def->defaults && def->defaults[i]; i++)
        n += (size_t)snprintf(t + n, len - n, "%s%s",
                              i ? " "
                                : " This worker's own defaults of "
                                  "the options below: ",
                              def->defaults[i]);
    if (def->defaults && def->defaults[0])
        snprintf(t + n, len - n, " (a flag or variable given wins).");
    return t;
}

int cs__worker_main_mode(const cs_worker_def_t *def, int argc, char **argv,
                         const cs__worker_mode_t *mode)
{
    cs_worker_t *w;
    cs_err_t err;
    int code = 0;
    sigset_t stop_set, old_mask;

    /* First of all: a SIGTERM from now on is a clean stop, however early it comes. */
    stop_signals(&stop_set);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_mask);
    w = cs_mem_calloc(1, sizeof *w);
    cs_err_clear(&err);
    w->def = def;
    w->ud = def->ud;
    w->mode = mode;
    w->opts = merge_opts(def->opts, mode ? mode->opts : NULL);
    char *usage =
        usage_text(def, mode ? mode->usage : (def->usage ? def->usage : "a careerstream worker"));
    w->cfg = cs_config_start(mode ? mode->program : def->name, usage, w->opts, argc, argv, &code);
    free(usage);
    if (!w->cfg) {
        free(w->opts);
        free(w);
        restore_signals(&old_mask);
        return code;
    }
    process_setup();
    read_config(w);
    code = check_required(w);
    if (code == 0 && mode)
        code = mode->prepare(w); /* may end here: 0 with w->mode_done, or an exit code */
    if (code == 0 && !w->mode_done) {
        if (worker_open(w, &err) == 0) {
            if (mode && mode->started)
                mode->started(w);
            code = worker_run(w);
        } else {
            cs_log_error("worker cannot start", CS_LS("kind", cs_err_kind_name(err.kind)),
                         CS_LS("reason", err.msg), CS_LS("field", err.field),
                         CS_LS("sqlstate", err.sqlstate));
            code = err.kind == CS_ERR_FATAL && err.field[0] ? 2 : 1;
        }
    }
    if (w->loop && w->http) {
        cs_http_destroy(w->http);
        w->http = NULL;
    }
    if (mode && mode->finish)
        code = mode->finish(w, code);
    cs__worker_free(w);
    restore_signals(&old_mask);
    return code;
}

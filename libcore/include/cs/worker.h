/*
 * libcore/include/cs/worker.h
 *      The worker runtime: a consumer loop with exactly-once effects in PostgreSQL.
 *
 * A worker is a handler table, a table list and a short main():
 *
 *      static const cs_handler_t handlers[] = {
 *          {"lesson_completed", on_lesson_completed},
 *          {NULL},
 *      };
 *      static const cs_table_def_t tables[] = {
 *          {.table = "lesson_progress", .columns = "user_id, lesson_id, completed_at",
 *           .conflict = "user_id, lesson_id", .update = "completed_at = EXCLUDED.completed_at"},
 *          {NULL},
 *      };
 *      static const cs_worker_def_t def = {.name = "progress", .group = "cs-progress",
 *          .topics = (const char *const[]){"cs.learning", NULL},
 *          .handlers = handlers, .tables = tables};
 *      int main(int argc, char **argv) { return cs_worker_main(&def, argc, argv); }
 *
 * What the runtime does (README.md, "Worker runtime", has the whole story):
 *  - consumes with librdkafka on a libev loop (queue io-event, no polling), in batches of up to
 *    batch-size events or batch-ms milliseconds;
 *  - applies a batch in ONE PostgreSQL transaction: marks the event ids processed (a duplicate
 *    event_id, e.g. a producer retry or a replay, does not apply its effects again), skips
 *    events of erased learners (erased_users), runs the handlers (which only append rows),
 *    writes each table once (COPY / staged upsert), records dead letters, and moves the
 *    partitions' offsets in consumer_offsets by compare-and-set; then commits the offsets to
 *    Kafka too (asynchronously, for lag tools);
 *  - on assignment seeks each partition to the offset stored in PostgreSQL; on revocation
 *    flushes and commits the in-flight batch before releasing the partitions;
 *  - dead-letters (topic + table) what cannot be decoded, validated or applied, and goes on;
 *  - retries transient failures (database down, serialization failure, deadlock, broker down)
 *    with exponential backoff and jitter, consumption paused, without dead-lettering anything;
 *  - serves /healthz, /readyz and /metrics; stops cleanly on SIGTERM/SIGINT; --drain exits 0
 *    once every assigned partition is consumed to its end.
 *
 * Handlers: run to completion on the loop thread, inside the batch's transaction but without
 * database access: they append rows with cs_batch_*. They borrow ev and meta; scratch memory comes
 * from cs_batch_arena(). Return 0, or -1 with err: PERMANENT dead-letters this event (its rows are
 * discarded, the batch goes on), TRANSIENT retries the whole batch later, FATAL stops the worker.
 *
 * Idempotency rule: a handler without CS_HANDLER_ALWAYS runs once per (effect scope, event_id),
 * however often and by whichever consumer group the event is delivered; use it for effects that
 * accumulate (counters, appends). A handler with CS_HANDLER_ALWAYS also runs for duplicates
 * (meta->duplicate is set): it must only write values it derives from the event and current state
 * (overwriting upserts), so that replaying events recomputes derived values with the current code
 * and never double-counts.
 */
#ifndef CS_WORKER_H
#define CS_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/api.h"
#include "cs/batch.h"
#include "cs/codec.h"
#include "cs/config.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A handler entry whose event_type is CS_EVENT_ANY receives every event type. */
#define CS_EVENT_ANY "*"

enum {
    CS_HANDLER_ONCE = 0,  /* default: once per event_id and effect scope (the worker) */
    CS_HANDLER_ALWAYS = 1 /* also for duplicate deliveries (idempotent, derived values) */
};

typedef struct cs_msg_meta {
    const char *topic;
    int partition;
    int64_t offset;
    int64_t timestamp_ms; /* Kafka message timestamp, -1 when none */
    const void *key;
    size_t key_len;
    bool duplicate; /* this event_id was already applied in this effect scope */
    int attempt;    /* 1, then +1 for every retry of the batch */
    void *ud;       /* the worker's user data (cs_worker_def_t.ud or set by init) */
} cs_msg_meta_t;

typedef int (*cs_handler_fn)(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                             cs_err_t *err);

typedef struct cs_handler {
    const char *event_type; /* an event type name from schemas/, or CS_EVENT_ANY; NULL ends */
    cs_handler_fn fn;
    int flags; /* CS_HANDLER_ONCE | CS_HANDLER_ALWAYS */
} cs_handler_t;

/*
 * Decoder override (tests, non-Avro sources): same contract as cs_codec_decode. When NULL the
 * runtime uses the codec.
 */
typedef int (*cs_decode_fn)(void *ud, const void *data, size_t len, cs_arena_t *arena,
                            cs_event_t *ev, cs_err_t *err);

typedef struct cs_worker cs_worker_t;

typedef struct cs_worker_def {
    const char *name;  /* program name in logs and metrics, "audit" */
    const char *group; /* default consumer group (option --group overrides) */
    /*
     * The effect ledger's scope (processed_events.effect_scope): once-only handlers run once per
     * (scope, event_id), whichever consumer group delivers the event (the live group, a replay
     * group). NULL: name. Give two workers the same scope only if they are one worker.
     */
    const char *effect_scope;
    const char *const *topics;    /* default topics, NULL-terminated (--topics overrides) */
    const cs_handler_t *handlers; /* ends with an entry whose event_type is NULL */
    const cs_table_def_t *tables; /* ends with an entry whose table is NULL; may be NULL */
    const char *usage;            /* one paragraph for --help */
    const cs_opt_t *opts;         /* the worker's own options (NULL-terminated) or NULL */
    /* Called after configuration, before consuming; may set *ud. Return -1 with err to stop. */
    int (*init)(const cs_config_t *cfg, void **ud, cs_err_t *err);
    void (*fini)(void *ud);
    /*
     * Called when state a handler derived from the batch in flight must be dropped: the attempt
     * was rolled back (it will be retried with the handlers run again), or partitions were
     * revoked or lost. Handlers that keep state across events (cs-audit's hash-chain heads) reload
     * it from committed rows afterwards. May be NULL.
     */
    void (*forget)(void *ud);
    /*
     * Called once per batch attempt, before its handlers, with the events the handlers will see
     * (decoded, not erased, not dead; duplicates included: CS_HANDLER_ALWAYS handlers run for
     * them), borrowed until the batch is done. A worker whose handlers need a set-based read of
     * current state makes it here, once per batch (cs-readiness reads the inputs of every
     * learner the batch touches). Return -1 with err: TRANSIENT retries the batch, anything
     * else stops the worker (a whole batch cannot be dead-lettered). May be NULL.
     */
    int (*batch_begin)(void *ud, const cs_event_t *const *evs, int n, cs_err_t *err);
    /*
     * Read-ahead (pipeline only; may be NULL): called with a batch's decoded events (before the
     * pre-check: batch_begin may later get fewer of them) as they arrive, a chunk at a time (a
     * quarter of --batch-size, or the batch's rest), while the batch before it may still be
     * prepared or committed and earlier ones not yet committed. The
     * worker starts its set-based read here without waiting for it (cs_db_send_query), and its
     * batch_begin for these events collects it. batch_begin comes next, for these events or for
     * others (the batch was cut differently), or forget() when the batch was dropped: a worker
     * checks that what it read covers what batch_begin gets, and reads again when it does not.
     * The read's snapshot may miss the two batches before, committed or not: the worker overlays
     * what they decided. Nothing to return: a failure shows when batch_begin collects the read.
     */
    void (*batch_read)(void *ud, const cs_event_t *const *evs, int n);
    /* Called after every committed batch with its number of events (progress, benchmarks). */
    void (*committed)(void *ud, int nevents);
    /* Called on the loop every tick_ms while running (0: never), between batches: periodic work
     * that must not wait for the next commit (cs-audit's anchors after a burst). May be NULL. */
    void (*tick)(void *ud);
    int tick_ms;
    void *ud;
    bool no_dedupe; /* skip processed_events: every handler is idempotent by itself */
    /*
     * Handlers emit derived events (cs_batch_emit, cs/batch.h): the runtime writes them to the
     * outbox table (migration 0065) in each batch's transaction, and a relay thread publishes
     * the group's pending rows with the idempotent producer, deleting each after Kafka's
     * acknowledgement; rows a crash left behind are published when the worker starts again.
     */
    bool outbox;
    cs_decode_fn decode;
    /*
     * The worker's own defaults of runtime options, "--name=value" each, NULL-terminated (may be
     * NULL): cs-matcher's serial loop and larger batches, cs-readiness' lingering batches. Each
     * applies unless its variable (CS_NAME) is set or the command line gives the option (flags
     * win); a --config file's value does not override it.
     */
    const char *const *defaults;
} cs_worker_def_t;

/*
 * The whole program: parses options (--help lists them), connects, runs the loop until SIGTERM,
 * SIGINT or the end of --drain, and returns the process exit code: 0 after a clean stop, 1 on a
 * fatal error (logged), 2 on a configuration error.
 */
CS_API int cs_worker_main(const cs_worker_def_t *def, int argc, char **argv);

/* The runtime's own options (batch-size, batch-ms, group, topics, drain, ...), NULL-terminated. */
CS_API extern const cs_opt_t cs_worker_opts[];

#ifdef __cplusplus
}
#endif

#endif /* CS_WORKER_H */

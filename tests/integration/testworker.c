/*
 * tests/integration/testworker.c
 *      cs-testworker - the small worker the runtime's integration tests drive.
 *
 * Every event becomes one row in rt_events (plain COPY append; its primary key is the event id,
 * so an effect applied twice would fail the batch with a unique violation and show up as a
 * dead letter) and adds its amount to rt_counts (a sequential upsert per key, so a double count
 * shows in the sums). Tests compare both tables with what they produced.
 *
 * Two input formats: "avro" (the event contract, through the codec; the default) and "text"
 * (event_id|user_id|type|key|amount lines, decoded by a hook, for runtime tests that must not
 * depend on the schemas). In both, a negative amount is a handler error (PERMANENT) and an
 * amount beyond int range a database error (22003), which the runtime isolates.
 *
 * --emit-topic T turns the outbox on (cs_worker_def_t.outbox): every event also derives one
 * readiness_score_changed for its learner (score = amount % 101, trigger = the event), emitted
 * with cs_batch_emit to topic T with an event_id derived from what it states, so a test can
 * check that each derived event reaches T at least once and is applied once downstream.
 *
 * --chain adds state kept across events, like cs-audit's hash-chain heads: each key's events are
 * numbered 1, 2, 3... in rt_chain (primary key (k, seq)) from a counter held in memory, loaded
 * from the committed rows on first use and dropped by forget(). A counter that survived a
 * rolled-back or discarded batch would leave a gap or repeat a number (a unique violation). An
 * amount bound to fail in the database is numbered like any other: the runtime must run the batch
 * again without it once isolation has found it, or its number would be a gap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs/db.h"
#include "cs/worker.h"

enum { T_EVENTS, T_COUNTS, T_CHAIN };

#define TW_MAX_KEYS 1024

typedef struct tw_key {
    char *k;
    long long seq;
} tw_key_t;

typedef struct tw {
    long long delay_us;
    bool chain;
    cs_db_t *db; /* --chain: reads committed counters; never writes */
    tw_key_t keys[TW_MAX_KEYS];
    int nkeys;
    const char *emit_topic; /* --emit-topic: derive an event from each event (the outbox) */
} tw_t;

static const cs_table_def_t tables[] = {
    {.table = "rt_events", .columns = "event_id, k, amount, topic, kafka_partition, kafka_offset"},
    {.table = "rt_counts",
     .columns = "k, n, events",
     .conflict = "k",
     .update = "n = t.n + EXCLUDED.n, events = t.events + EXCLUDED.events"},
    {.table = "rt_chain", .columns = "k, seq, event_id"},
    {NULL},
};

/* text format: event_id|user_id|type|key|amount */
typedef struct text_payload {
    const char *key;
    long long amount;
} text_payload_t;

static int is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!strchr("0123456789abcdef", s[i]) || !s[i]) {
            return 0;
        }
    }
    return 1;
}

static int text_decode(void *ud, const void *data, size_t len, cs_arena_t *arena, cs_event_t *ev,
                       cs_err_t *err)
{
    (void)ud;
    const char *p = data, *end = p + len, *f[5];
    size_t fl[5];
    int n = 0;
    memset(ev, 0, sizeof *ev);
    while (n < 5) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        f[n] = p;
        fl[n] = bar ? (size_t)(bar - p) : (size_t)(end - p);
        n++;
        if (!bar)
            break;
        p = bar + 1;
    }
    if (n != 5 || memchr(data, '\0', len))
        return cs_err_set_field(err, CS_ERR_PERMANENT, "message",
                                "not a text event: expected 5 '|'-separated fields");
    if (!is_uuid(f[0], fl[0]))
        return cs_err_set_field(err, CS_ERR_PERMANENT, "event_id", "event_id is not a uuid");
    if (!is_uuid(f[1], fl[1]))
        return cs_err_set_field(err, CS_ERR_PERMANENT, "user_id", "user_id is not a uuid");
    memcpy(ev->event_id, f[0], 36);
    memcpy(ev->user_id, f[1], 36);
    ev->type = fl[2] == 6 && memcmp(f[2], "rt_add", 6) == 0 ? 0 : 1;
    ev->type_name = ev->type == 0 ? "rt_add" : "rt_other";
    ev->producer = "test";
    ev->traceparent = "";
    text_payload_t *pl = cs_arena_alloc(arena, sizeof *pl);
    pl->key = cs_arena_strndup(arena, f[3], fl[3]);
    char *num = cs_arena_strndup(arena, f[4], fl[4]), *e;
    pl->amount = strtoll(num, &e, 10);
    if (!*num || *e)
        return cs_err_set_field(err, CS_ERR_PERMANENT, "payload.amount", "amount is not a number");
    ev->payload = pl;
    return 0;
}

/* The key's next number: the in-memory counter, loaded from rt_chain on first use. */
static int chain_next(tw_t *tw, const char *key, long long *seq, cs_err_t *err)
{
    for (int i = 0; i < tw->nkeys; i++) {
        if (strcmp(tw->keys[i].k, key) == 0) {
            *seq = ++tw->keys[i].seq;
            return 0;
        }
    }
    if (tw->nkeys == TW_MAX_KEYS)
        return cs_err_set(err, CS_ERR_FATAL, "more than %d chain keys", TW_MAX_KEYS);
    if (!cs_db_ok(tw->db) && cs_db_reset(tw->db, err) < 0)
        return -1;
    const char *params[] = {key};
    cs_db_res_t *r = cs_db_query(tw->db, "SELECT coalesce(max(seq), 0) FROM rt_chain WHERE k = $1",
                                 1, params, err);
    if (!r) {
        err->kind = err->kind == CS_ERR_FATAL ? CS_ERR_FATAL : CS_ERR_TRANSIENT;
        return -1;
    }
    tw_key_t *e = &tw->keys[tw->nkeys++];
    e->k = strdup(key);
    e->seq = atoll(cs_db_res_get(r, 0, 0));
    cs_db_res_free(r);
    *seq = ++e->seq;
    return 0;
}

static void forget(void *ud)
{
    tw_t *tw = ud;
    for (int i = 0; i < tw->nkeys; i++)
        free(tw->keys[i].k);
    tw->nkeys = 0;
}

/* The derived event of a source event: everything in it follows from the source. */
static int emit_derived(tw_t *tw, cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta,
                        long long amount, cs_err_t *err)
{
    char what[160];
    cs_ev_readiness_score_changed_t pl = {
        .score = (double)(amount % 101),
        .skills_score = 0,
        .learning_score = 0,
        .portfolio_score = 0,
        .interview_score = 0,
        .mentoring_score = 0,
        .model_version = "rt-1",
        .trigger_event_id = ev->event_id,
        .trigger_event_type = "rt_add",
    };
    cs_event_t d = {
        .type = cs_codec_type_by_name("readiness_score_changed"),
        .user_id = "",
        .occurred_at_ms = meta->timestamp_ms > 0 ? meta->timestamp_ms : INT64_C(1700000000000),
        .producer = "cs-testworker",
        .traceparent = "",
        .payload = &pl,
    };
    memcpy(d.user_id, ev->user_id, 37);
    int n = snprintf(what, sizeof what, "rt_derived|%s|%s|%lld", ev->user_id, ev->event_id, amount);
    cs_batch_derived_id(what, (size_t)n, d.event_id);
    return cs_batch_emit(b, tw->emit_topic, NULL, &d, err);
}

static int on_event(cs_batch_t *b, const cs_event_t *ev, const cs_msg_meta_t *meta, cs_err_t *err)
{
    tw_t *tw = meta->ud;
    const char *key;
    long long amount;
    if (strcmp(ev->type_name, "rt_add") == 0 || strcmp(ev->type_name, "rt_other") == 0) {
        const text_payload_t *pl = ev->payload;
        key = pl->key;
        amount = pl->amount;
    } else {
        /* avro: every event counts 1 for its learner */
        key = ev->user_id;
        amount = 1;
    }
    if (amount < 0)
        return cs_err_set_field(err, CS_ERR_PERMANENT, "payload.amount", "negative amount %lld",
                                amount);
    if (tw && tw->delay_us)
        usleep((useconds_t)tw->delay_us);
    cs_batch_row_begin(b, T_EVENTS);
    cs_batch_str(b, ev->event_id);
    cs_batch_str(b, key);
    cs_batch_int(b, amount);
    cs_batch_str(b, meta->topic);
    cs_batch_int(b, meta->partition);
    cs_batch_int(b, meta->offset);
    if (cs_batch_row_end(b, err) < 0)
        return -1;
    cs_batch_row_begin(b, T_COUNTS);
    cs_batch_str(b, key);
    cs_batch_int(b, amount);
    cs_batch_int(b, 1);
    if (cs_batch_row_end(b, err) < 0)
        return -1;
    if (tw && tw->chain) {
        long long seq = 0;
        if (chain_next(tw, key, &seq, err) < 0)
            return -1;
        cs_batch_row_begin(b, T_CHAIN);
        cs_batch_str(b, key);
        cs_batch_int(b, seq);
        cs_batch_str(b, ev->event_id);
        if (cs_batch_row_end(b, err) < 0)
            return -1;
    }
    if (tw && tw->emit_topic)
        return emit_derived(tw, b, ev, meta, amount, err);
    return 0;
}

static const cs_handler_t handlers[] = {
    {CS_EVENT_ANY, on_event, CS_HANDLER_ONCE},
    {NULL},
};

static const char *const formats[] = {"avro", "text", NULL};
static const cs_opt_t opts[] = {
    {"format", CS_OPT_ENUM, "avro", "input format: avro (the event contract) or text", 0, 0,
     formats},
    {"handler-delay-us", CS_OPT_INT, "0", "sleep this long in the handler of every event", 0,
     1000000},
    {"chain", CS_OPT_BOOL, "false", "number each key's events in rt_chain (state across events)"},
    {"emit-topic", CS_OPT_STRING, NULL,
     "derive a readiness_score_changed from each event through the outbox, to this topic"},
    {NULL},
};

static int init(const cs_config_t *cfg, void **ud, cs_err_t *err)
{
    tw_t *tw = calloc(1, sizeof *tw);
    if (!tw)
        abort();
    tw->delay_us = cs_config_int(cfg, "handler-delay-us");
    tw->chain = cs_config_bool(cfg, "chain");
    const char *et = cs_config_str(cfg, "emit-topic");
    tw->emit_topic = et && *et ? et : NULL;
    *ud = tw;
    if (tw->chain) {
        tw->db = cs_db_connect(cs_config_str(cfg, "pg-dsn"), "cs-testworker-chain", err);
        if (!tw->db)
            return -1;
    }
    return 0;
}

static void fini(void *ud)
{
    tw_t *tw = ud;
    forget(tw);
    cs_db_destroy(tw->db);
    free(tw);
}

int main(int argc, char **argv)
{
    static cs_worker_def_t def = {
        .name = "cs-testworker",
        .group = "cs-testworker",
        .handlers = handlers,
        .tables = tables,
        .usage = "The runtime's test worker: counts events per key into rt_events and rt_counts.",
        .opts = opts,
        .init = init,
        .fini = fini,
        .forget = forget,
    };
    /* The format decides the decoder before the runtime starts. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--format=text") == 0 ||
            (strcmp(argv[i], "--format") == 0 && i + 1 < argc && strcmp(argv[i + 1], "text") == 0))
            def.decode = text_decode;
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--emit-topic", 12) == 0)
            def.outbox = true;
    const char *env = getenv("CS_FORMAT");
    if (env && strcmp(env, "text") == 0)
        def.decode = text_decode;
    return cs_worker_main(&def, argc, argv);
}

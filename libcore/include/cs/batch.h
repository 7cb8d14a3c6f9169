/*
 * libcore/include/cs/batch.h
 *      Set-based effects: handlers append rows, the runtime writes each table once per batch.
 *
 * A worker declares its target tables once (cs_table_def_t, in its cs_worker_def_t). While the
 * runtime applies a batch, each handler appends the rows its event produces with
 * cs_batch_row_begin / cs_batch_<type> / cs_batch_row_end; nothing touches PostgreSQL until the
 * runtime flushes the batch, inside the transaction that also stores the consumed offsets.
 *
 * How a table is written (one or two round trips per table and batch, whatever the batch size):
 *  - small ranges (at most cs_batch_set_array_max rows for the table, default
 *    CS_BATCH_ARRAY_MAX_DEFAULT): one prepared statement per table (two with a parent table)
 *    whose parameters are one text[] per column: WITH _cs_in AS (SELECT the columns cast to
 *    their types FROM unnest($1::text[], ...) WITH ORDINALITY) INSERT ... SELECT ... FROM _cs_in,
 *    the same statement forms as below. No temporary table is touched (the staging tables are
 *    ON COMMIT PRESERVE ROWS and emptied by each flush: docs/runtime.md, so no COMMIT truncates
 *    them either);
 *  - plain append (conflict == NULL): COPY ... FROM STDIN straight into the table;
 *  - upsert (conflict != NULL): COPY into a session-local staging table shaped like the declared
 *    columns, then INSERT INTO table SELECT ... FROM staging ON CONFLICT (conflict) DO UPDATE SET
 *    update [WHERE update_where] (or DO NOTHING when update is NULL).
 *    Several rows of one batch may hit the same key. CS_MERGE_SEQUENTIAL (the default) applies
 *    them in the order the handlers appended them, exactly as one INSERT per row would (rows are
 *    ranked per key and applied rank by rank in one server-side loop), so accumulating updates
 *    such as "n = t.n + EXCLUDED.n" stay correct, but it costs one statement per rank: use it
 *    only where keys rarely repeat. CS_MERGE_LAST keeps only the last row per key (one
 *    statement; right when the update overwrites rather than accumulates). CS_MERGE_AGGREGATE
 *    folds the rows of each key into one with the table's aggregate select list (sums for
 *    counters, max/min for newest/earliest, the furthest rank...), then upserts once: one
 *    statement whatever the repetition, right when applying the folded row equals applying
 *    the rows one by one (the fold and the update agree). With update == NULL (DO NOTHING) an
 *    aggregate such as "user_id" simply de-duplicates the keys before the upsert.
 *
 * Values are kept in COPY text format; cs_batch_str escapes what COPY needs. A COPY goes in
 * binary format when every column it fills has a type the runtime encodes (see
 * cs_batch_set_copy_binary): the flush encodes the text by the column types, or sends the range as
 * text when an encoder declines a value. Either way PostgreSQL judges the value for its column,
 * so a value that does not fit fails the flush with a PERMANENT error (22*, 23*): the runtime then
 * isolates the event that produced it and dead-letters it alone (see worker.h).
 *
 * Memory: the batch owns its row buffers; cs_batch_arena() gives handlers scratch memory that is
 * released when the batch is done. Handlers free nothing. One batch belongs to one loop thread.
 */
#ifndef CS_BATCH_H
#define CS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/api.h"
#include "cs/buf.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cs_merge {
    CS_MERGE_SEQUENTIAL = 0, /* rows with the same key apply one after the other, in order */
    CS_MERGE_LAST,           /* only the last row appended for a key is applied */
    CS_MERGE_AGGREGATE       /* the rows of a key fold into one (cs_table_def_t.aggregate) */
} cs_merge_t;

/* One field of a staged row during a fold (cs_table_def_t.fold): COPY text, s == NULL for NULL. */
typedef struct cs_field {
    const char *s;
    size_t n;
} cs_field_t;

typedef struct cs_table_def {
    const char *table;        /* target table, optionally schema-qualified */
    const char *columns;      /* comma-separated columns, in the order rows give values */
    const char *conflict;     /* upsert: the conflict target columns; NULL: plain COPY append */
    const char *update;       /* upsert: "n = t.n + EXCLUDED.n, ..." (t aliases the table);
                                 NULL: ON CONFLICT DO NOTHING */
    const char *update_where; /* optional condition on the update, e.g. "EXCLUDED.at > t.at" */
    cs_merge_t merge;
    /*
     * CS_MERGE_AGGREGATE: the select list that folds the staged rows of one key (GROUP BY the
     * conflict columns) into the one row the upsert proposes, giving the declared columns in
     * order, e.g. "user_id, sum(n), max(at)". Required in that mode.
     * The staged rows reach the aggregates sorted by key then by `presort` (optional, e.g.
     * "at DESC, id DESC"), so an aggregate without its own ORDER BY sees a key's rows in that
     * order: "(array_agg(x))[1]" is x of the first row, without a sort per key. Optional `window`
     * adds columns computed over each key's rows (the window w, all of the key's rows), e.g.
     * "min(_cs_seq) OVER w AS first_seq", which the aggregates may then use, e.g. in
     * "(array_agg(x) FILTER (WHERE _cs_seq = first_seq))[1]" (x of the first row appended:
     * staged rows carry _cs_seq, their append order). Names starting with _cs_ are reserved.
     */
    const char *aggregate;
    const char *presort;
    const char *window;
    /*
     * CS_MERGE_AGGREGATE, optional: the columns rows give values for (comma-separated columns
     * of the table), when fewer than `columns`: the aggregate derives the others from them
     * (e.g. a start and an end time both folded from one staged time). NULL: `columns`.
     */
    const char *staged;
    /*
     * CS_MERGE_AGGREGATE, optional: a join appended to the staged rows, which the fold reads as
     * _cs_r (FROM <staged rows> _cs_r <join>), e.g. "LEFT JOIN LATERAL (SELECT max(h.at) AS
     * h_at FROM history h WHERE h.id = _cs_r.id) h ON true": the columns it adds (named apart
     * from the staged ones) reach the window and the aggregate like staged columns, so the row
     * the upsert proposes can start from what the database already holds, set-based, in the
     * same statement (instead of a row trigger that queries once per row). A batch with a join
     * turns JIT off for its session (cs_batch_prepare): without statistics of the joined table
     * yet, the estimate of such a statement can exceed jit_above_cost many times over.
     */
    const char *join;
    /*
     * Upserts, optional: the parent rows the staged keys need (a foreign key), inserted first
     * when missing, once per key: INSERT INTO parent_table (parent_key) SELECT parent_key FROM
     * staging GROUP BY parent_key ON CONFLICT (parent_key) DO NOTHING. parent_key names columns
     * that the staging and the parent table share.
     */
    const char *parent_table;
    const char *parent_key;
    /*
     * Upserts whose conflict columns are among the staged ones, optional: folds the rows of one
     * key in C before a flush sends them, so that PostgreSQL parses, stages and aggregates one
     * row per key and flushed range instead of one per event (for CS_MERGE_AGGREGATE tables
     * whose keys repeat many times per batch; for a CS_MERGE_LAST table, a fold that copies row
     * over acc sends only what the upsert would apply anyway: cs-audit's chain heads). The runtime
     * splits each row of the range into its staged columns' fields and groups the rows by the text
     * of their conflict columns: a key's first row becomes its accumulator acc, and each later row
     * of the key, in append order, is passed as row to fold(acc, row, scratch), which updates acc's
     * fields in place. Folded rows are sent in the order their keys first appear. The fold must
     * agree with the table's aggregate and update: the aggregate over the folded row must give what
     * it gives over the rows that row stands for (the aggregate still runs, so keys whose texts
     * differ but whose values are equal still fold). Field texts are COPY text; a field may point
     * into row or acc, or to new text allocated from scratch (valid until the flush ends). The fold
     * never crosses a flushed range: poison isolation flushes ranges of one batch separately
     * and a retried flush folds again from the rows as appended, so each event's rows stay its
     * own.
     */
    void (*fold)(cs_field_t *acc, const cs_field_t *row, cs_arena_t *scratch);
    /*
     * Upserts other than CS_MERGE_AGGREGATE (ignored there: its staged columns are not the
     * target's), optional: the worker appends here only rows whose key it believes is not stored
     * yet (e.g. a learner's first score). A range that takes the COPY path is then COPYd straight
     * into the target under a savepoint (no ON CONFLICT, no de-duplication: no speculative
     * insertion, no sort, no staging table written, read and emptied); the target's triggers fire
     * as for an INSERT. Where PostgreSQL refuses that COPY (the target's row-level security
     * applies to the session's role: read at cs_batch_prepare, or SQLSTATE 0A000 later), and for
     * a table with parent rows (inserted from the staged rows), the range is staged and inserted
     * from the staging table by a plain INSERT under the savepoint instead. When the COPY or that
     * INSERT fails with unique_violation (23505: a key stored after all, by another writer or a
     * replay, or appended twice in the range) it rolls back to the savepoint and runs the table's
     * staged upsert as without this flag, so the rows stored are the same either way (a key
     * twice: as the merge rule says). Wrong beliefs cost time, never correctness. Any other error
     * fails the flush as before, its field naming the target's column. The array path (small
     * ranges) runs the upsert directly.
     */
    bool insert_first;
} cs_table_def_t;

typedef struct cs_batch cs_batch_t;

/*
 * Starts a row of the table with index `table` in the worker's table list. Every column declared
 * for the table must then be given exactly once, in order, before cs_batch_row_end.
 */
CS_API void cs_batch_row_begin(cs_batch_t *b, int table);
/* Column values. s == NULL is SQL NULL. Strings must not contain NUL bytes (the codec ensures it).
 */
CS_API void cs_batch_str(cs_batch_t *b, const char *s);
CS_API void cs_batch_strn(cs_batch_t *b, const char *s, size_t n);
CS_API void cs_batch_int(cs_batch_t *b, long long v);
CS_API void cs_batch_double(cs_batch_t *b, double v);
CS_API void cs_batch_bool(cs_batch_t *b, bool v);
CS_API void cs_batch_null(cs_batch_t *b);
/* A timestamptz from milliseconds since the Unix epoch (UTC). */
CS_API void cs_batch_ts_ms(cs_batch_t *b, int64_t ms);
/* A value already in COPY text format (escaped), e.g. a jsonb document built by the caller. */
CS_API void cs_batch_raw(cs_batch_t *b, const char *s, size_t n);
/*
 * Ends the row. Returns -1 with a FATAL err (a bug in the handler, not in the event) when the
 * number of values does not match the table's column count or no row was begun.
 */
CS_API int cs_batch_row_end(cs_batch_t *b, cs_err_t *err);

/* Shorthand: one row from n text values (NULL entries are SQL NULL). */
CS_API int cs_batch_row(cs_batch_t *b, int table, int n, const char *const *values, cs_err_t *err);

/*
 * Rows by column name. A worker names each column of a table once, in a column list macro, and
 * derives from it both the definition's column list and the row its handler fills by name:
 *
 *     #define SKILL_COLUMNS(C) C(user_id) C(skill_id) C(score)
 *     [T_SKILL] = {.table = "user_skill_assessments", .columns = CS_COLUMNS(SKILL_COLUMNS)},
 *     typedef CS_ROW(SKILL_COLUMNS) skill_row_t;
 *     return CS_BATCH_PUT(b, T_SKILL, skill_row_t, err, .user_id = cs_val_raw(id, 36),
 *                         .skill_id = cs_val_raw(skill, 36), .score = cs_val_double(s));
 *
 * The column order lives in the list alone, so the values cannot drift from the columns; a
 * column the handler does not name fails the row with a FATAL error naming the column, and a
 * name the list lacks does not compile. (An aggregate table whose rows give fewer columns than
 * it declares uses the list for .staged, the columns its rows give.)
 */
typedef enum cs_val_kind {
    CS_VAL_UNSET = 0, /* not given: cs_batch_put refuses the row */
    CS_VAL_NULL,
    CS_VAL_STR, /* text, escaped for COPY; s == NULL is SQL NULL */
    CS_VAL_RAW, /* n bytes already in COPY text (cs_batch_raw); s == NULL is SQL NULL */
    CS_VAL_INT,
    CS_VAL_DOUBLE,
    CS_VAL_BOOL,
    CS_VAL_TS_MS /* a timestamptz from ms since the Unix epoch */
} cs_val_kind_t;

typedef struct cs_val {
    cs_val_kind_t kind;
    unsigned n; /* CS_VAL_STR (when not 0: the length, for strings that are not terminated) and
                   CS_VAL_RAW: bytes */
    union {
        const char *s;
        long long i;
        double d;
        bool b;
        int64_t ms;
    } u;
} cs_val_t;

static inline cs_val_t cs_val_null(void)
{
    return (cs_val_t){.kind = CS_VAL_NULL};
}
static inline cs_val_t cs_val_str(const char *s)
{
    return (cs_val_t){.kind = CS_VAL_STR, .u.s = s};
}
static inline cs_val_t cs_val_strn(const char *s, size_t n)
{
    return (cs_val_t){.kind = CS_VAL_STR, .n = (unsigned)n, .u.s = s};
}
static inline cs_val_t cs_val_raw(const char *s, size_t n)
{
    return (cs_val_t){.kind = CS_VAL_RAW, .n = (unsigned)n, .u.s = s};
}
static inline cs_val_t cs_val_int(long long v)
{
    return (cs_val_t){.kind = CS_VAL_INT, .u.i = v};
}
/* v when has, else SQL NULL (an optional field). */
static inline cs_val_t cs_val_int_if(bool has, long long v)
{
    return has ? cs_val_int(v) : cs_val_null();
}
static inline cs_val_t cs_val_double(double v)
{
    return (cs_val_t){.kind = CS_VAL_DOUBLE, .u.d = v};
}
static inline cs_val_t cs_val_bool(bool v)
{
    return (cs_val_t){.kind = CS_VAL_BOOL, .u.b = v};
}
static inline cs_val_t cs_val_ts_ms(int64_t ms)
{
    return (cs_val_t){.kind = CS_VAL_TS_MS, .u.ms = ms};
}

#define CS__COLUMN_NAME(name)  ", " #name
#define CS__COLUMN_FIELD(name) cs_val_t name;
#define CS__COLUMN_ONE(name)   +1
/* "a, b, c" from a column list macro (a string constant: usable in a static initializer). */
#define CS_COLUMNS(LIST) (LIST(CS__COLUMN_NAME) + 2)
/* The row type of a column list: one cs_val_t per column, by name (and as the array v). */
#define CS_ROW(LIST)                                                                               \
    union {                                                                                        \
        struct {                                                                                   \
            LIST(CS__COLUMN_FIELD)                                                                 \
        };                                                                                         \
        cs_val_t v[0 LIST(CS__COLUMN_ONE)];                                                        \
    }
/* Appends one row of `table` from designated values (.column = cs_val_...(...), ...). */
#define CS_BATCH_PUT(b, table, row_type, err, ...)                                                 \
    cs_batch_put((b), (table), (row_type){__VA_ARGS__}.v,                                          \
                 (int)(sizeof(row_type) / sizeof(cs_val_t)), (err))

/*
 * Appends one row of the table with index `table` from n values in column order (what
 * CS_BATCH_PUT passes). Returns -1 with a FATAL err, appending nothing, when the table index is
 * out of range, when n is not the table's column count, or when a value is CS_VAL_UNSET (the
 * message names the column).
 */
CS_API int cs_batch_put(cs_batch_t *b, int table, const cs_val_t *vals, int n, cs_err_t *err);

/* Scratch memory for handlers, valid until the batch is done. */
CS_API cs_arena_t *cs_batch_arena(cs_batch_t *b);

/* Rows appended to a table in the current batch (for tests and handlers' own accounting). */
CS_API size_t cs_batch_rows(const cs_batch_t *b, int table);

/*
 * Derived events: the transactional outbox (worker.h, "outbox").
 *
 * Emits ev as part of the batch: the runtime writes it to the outbox table (outbox_events,
 * migration 0065) in the batch's transaction, with the batch's other rows, processed ids and
 * offsets, and the worker's relay publishes it once that transaction has committed (at least
 * once: after a crash between Kafka's acknowledgement and the row's deletion it is published
 * again, with the same event_id, and consumers skip the duplicate). Give ev a deterministic
 * event_id (cs_batch_derived_id), so that every publication of one change carries one id.
 * The event belongs to the handler's event: if that event is dead-lettered, or the batch rolled
 * back, the derived event goes with it.
 *
 * ev is validated and encoded with the codec now (its current schema version, the contract's
 * wire format) and copied: the caller keeps ownership. topic NULL: the event type's topic
 * (cs_codec_type_topic); key NULL: ev->user_id in lower case (the key cs_producer_send uses).
 * Returns 0, or -1 with err: PERMANENT when ev is invalid (err->field names the field), FATAL
 * when the worker declares no outbox (cs_worker_def_t.outbox) or the batch is not a runtime's.
 */
struct cs_event;
CS_API int cs_batch_emit(cs_batch_t *b, const char *topic, const char *key,
                         const struct cs_event *ev, cs_err_t *err);

/*
 * A derived event's id, a function of what the event states: a UUID version 5 (SHA-1, RFC 4122)
 * of `what` (len bytes) in careerstream's namespace. Build `what` from everything the event says
 * that identifies the change: its kind, the source event id(s), the learner, the new values
 * (e.g. "readiness_score_changed|<user>|<trigger event id>|67.50|job_searching"). Equal text,
 * equal id. Writes 36 lower-case characters and a NUL.
 */
CS_API void cs_batch_derived_id(const void *what, size_t len, char out[37]);

/* ---- For the runtime (worker.c) and benchmarks; workers do not call these. ---- */

/* Builds a batch for ntables table definitions (borrowed; must outlive the batch). */
CS_API cs_batch_t *cs_batch_new(const cs_table_def_t *tables, int ntables);
/* Accepts NULL. */
CS_API void cs_batch_destroy(cs_batch_t *b);
/* Drops every row and resets the arena. */
CS_API void cs_batch_clear(cs_batch_t *b);
/* Rows from here on belong to event index ev (events are marked in increasing order). */
CS_API void cs_batch_mark_event(cs_batch_t *b, int ev);
/* Discards the rows appended since the last cs_batch_mark_event (a handler failed). */
CS_API void cs_batch_undo_event(cs_batch_t *b);
/* Ends the last event's rows; the batch now covers events [0, nevents). */
CS_API void cs_batch_seal(cs_batch_t *b, int nevents);

/* Rows per table up to which a flush uses the array statements instead of COPY. */
#define CS_BATCH_ARRAY_MAX_DEFAULT 500
/*
 * Sets that limit (0: always COPY, the staged path). Call before cs_batch_prepare: the array
 * statements are prepared only when it is above 0.
 */
CS_API void cs_batch_set_array_max(cs_batch_t *b, size_t rows);
/*
 * COPY in binary format (on by default) for the tables whose every staged column has a type the
 * runtime encodes (uuid, text, varchar, char, enums, json, jsonb, bool, int2/4/8, float4/8,
 * numeric, timestamptz, date, bytea, domains over them, one-dimensional arrays of those base
 * types and enums; read at cs_batch_prepare); false: text
 * format for every table, as before. A range whose values an encoder declines (a spelling it does
 * not reproduce exactly, a value out of range) goes as text, so PostgreSQL judges it as before.
 */
CS_API void cs_batch_set_copy_binary(cs_batch_t *b, bool on);
/*
 * Since the batch was made: the COPYs sent in binary format, and those of binary-capable tables
 * sent as text because an encoder declined a value (for tests and benchmarks).
 */
CS_API void cs_batch_copy_counts(const cs_batch_t *b, size_t *binary, size_t *declined);
/*
 * Since the batch was made: the flushed ranges of insert_first tables stored without the upsert
 * (by their COPY straight into the target, or their plain INSERT from staging), and those that
 * fell back to the upsert (for tests and benchmarks).
 */
CS_API void cs_batch_insert_first_counts(const cs_batch_t *b, size_t *inserted, size_t *fell_back);
/*
 * Appends one COPY text field (f, n bytes, as the row buffers hold it: \N is NULL, backslash
 * escapes) to out as an element of an array literal: NULL, or a double-quoted string with " and
 * backslash escaped. Returns -1 (out then holds a partial element) when the field decodes to a
 * NUL byte, which no text value can hold.
 */
CS_API int cs_batch_array_elem(cs_buf_t *out, const char *f, size_t n);

struct cs_db;
/*
 * Prepares a new connection, outside any transaction: creates the session-local staging tables
 * of the upsert tables (so a rolled-back batch cannot take them away), reads the declared
 * columns' types and prepares the array statements (named after the table definitions, so
 * batches with the same definitions share them). Call after every (re)connect. Needs migration
 * 0060 (cs_require). Returns -1 with err (FATAL when a declared table or column does not exist).
 */
CS_API int cs_batch_prepare(cs_batch_t *b, struct cs_db *db, cs_err_t *err);
/*
 * Writes the rows of events [from, to) to every table, in table order, inside the caller's open
 * transaction on db. Every flush empties the staging tables it used (DELETE in the merge's round
 * trip; TRUNCATE once STAGE_TRUNCATE_BYTES were staged), so several ranges can be flushed in one
 * transaction (savepoint-per-range poison isolation) and no COMMIT truncates them. isolate is
 * ignored (kept for the API).
 * Returns -1 with err classified by SQLSTATE.
 */
CS_API int cs_batch_flush(cs_batch_t *b, struct cs_db *db, int from, int to, bool isolate,
                          cs_err_t *err);

/* True when every table's rows of events [from, to) fit the array path (cs_batch_set_array_max). */
CS_API bool cs_batch_arrays_only(const cs_batch_t *b, int from, int to);
/*
 * The pipelined form of cs_batch_flush (no isolation): queues the array statements of events
 * [from, to) on db, which must be in pipeline mode (cs_db_pipeline_begin) inside the caller's
 * transaction; their success shows at cs_db_pipeline_end. A sequential upsert sends one statement
 * per rank its key texts show; should PostgreSQL find more rows for one key (values equal as
 * their type but spelled differently), the statement fails with SQLSTATE CSR01 instead of leaving
 * rows unapplied. Returns -1 with err when a range does not fit the array path (FATAL: check
 * cs_batch_arrays_only first), when a value cannot be sent (PERMANENT), or when sending fails.
 */
CS_API int cs_batch_flush_send(cs_batch_t *b, struct cs_db *db, int from, int to, cs_err_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CS_BATCH_H */

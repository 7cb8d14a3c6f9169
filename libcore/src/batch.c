/*
 * libcore/src/batch.c
 *      Row buffers per target table, and their set-based flush (COPY, staged upserts).
 *
 * Each table keeps one COPY-text buffer. Handlers run in event order, so the rows of one event
 * are contiguous: the batch remembers where each event's rows end (ev_end), which lets the runtime
 * flush any range of events (the whole batch normally, halves of it while isolating a poison
 * event) without copying rows. Values are escaped straight into the buffer.
 *
 * Upsert tables are staged: at connect time cs_batch_prepare creates a temporary table
 * cs_stage_<i> with the declared columns (typed like the target's) and an identity column _cs_seq
 * that records append order. Every flush empties the staging table in the round trip of its merge
 * (see "Staging" below), so a COMMIT has nothing to truncate. The merge statements are built once:
 * INSERT .. SELECT from staging .. ON CONFLICT, with the staged rows folded per key first for
 * CS_MERGE_AGGREGATE (a subquery sorted by key and presort, optionally joined to stored rows and
 * with window columns over each key's rows, grouped by key), and a parent-row insert before it when
 * the table declares one. A table with a fold in C (cs_table_def_t.fold) sends, per flushed
 * range, one row per key that fold_rows built from the range's rows (t->folded) instead of the
 * appended rows. Everything here belongs to one batch: no global state, so batches of
 * several threads or connections never share anything.
 */
#include "cs/batch.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/db.h"
#include "cs/mem.h"
#include "cs/text.h"
#include "batch_int.h"
#include "internal.h"

/* A binary COPY stream grown past this is released after its COPY (batch.bin). */
#define BIN_KEEP_MAX (1u << 20)

/*
 * Staging. The staging tables are ON COMMIT PRESERVE ROWS: PostgreSQL truncates every ON COMMIT
 * DELETE ROWS table of a session at the commit of each transaction that touched any temporary
 * table (each with its TOAST table and index: an ftruncate per fork and a scan of the local
 * buffers), which was cs-progress's largest wait. Instead, the merge statement of every flush is
 * followed, in the same round trip, by a DELETE of the staging table. So no transaction leaves
 * live rows staged: the rows a flush COPYs are deleted by that flush, or, when it fails, by the
 * rollback (of the transaction or of the isolation's savepoint) that must follow, because they
 * were inserted in it. A rolled-back DELETE can only restore rows inserted in the same rolled-back
 * (sub)transaction, which the rollback removes too. (cs_batch_flush runs inside the caller's
 * transaction: outside one, a failed merge would leave its rows staged.)
 *
 * A deleted row stays in the table as a dead tuple; autovacuum never visits temporary tables and
 * the next COPY appends after them, so the table would grow with every batch and each merge and
 * DELETE would read all of it. The flush that brings the bytes staged in a table since its last
 * truncation to STAGE_TRUNCATE_BYTES or more therefore empties it with TRUNCATE instead of DELETE
 * (a new file for the table, the old one dropped at commit). Batches of one session share its
 * staging tables but count separately, so a table holds at most about that much per batch of the
 * session using it, plus one flush, plus what a rolled-back TRUNCATE kept. The count is an estimate
 * of heap bytes from the COPY text (a row's text plus its tuple header and line pointer).
 */
#ifndef STAGE_TRUNCATE_BYTES
#define STAGE_TRUNCATE_BYTES (2u << 20)
#endif
#define STAGE_ROW_OVERHEAD 32 /* heap tuple header (24, aligned) + line pointer (4) */

typedef struct tbl {
    const cs_table_def_t *def;
    int ncols;
    cs_buf_t rows;
    size_t nrows;
    size_t *ev_end;  /* bytes of rows at the end of event i */
    size_t mark_len; /* rows.len when the current event began */
    size_t mark_rows;
    char *copy_sql;        /* COPY target (cols) FROM STDIN */
    char *stage_sql;       /* CREATE TEMP TABLE ...; NULL for plain append */
    char *merge_sql;       /* the upsert from staging; NULL for plain append */
    char *parent_sql;      /* the parent rows' insert from staging, or NULL */
    char *clear_sql;       /* merge_sql, then DELETE FROM staging (one round trip) */
    char *trunc_sql;       /* merge_sql, then TRUNCATE staging */
    char *first_sql;       /* insert_first: the plain INSERT from staging under the savepoint
                              cs_first, then DELETE FROM staging; NULL: upsert at once */
    char *first_trunc_sql; /* the same, then TRUNCATE staging */
    char *direct_sql;      /* insert_first: SAVEPOINT cs_first, COPY target (cols) FROM STDIN,
                              RELEASE SAVEPOINT cs_first (one simple query), or NULL */
    char *direct_bin_sql;  /* the same in binary format */
    bool direct;           /* direct_sql, and this session may COPY into the target (prepare) */
    size_t staged_bytes;   /* estimated heap bytes staged since the last TRUNCATE */
    /* The array path (small ranges): one statement per table from text[] parameters. */
    size_t *ev_rows; /* rows at the end of event i */
    int *key;        /* the conflict columns' positions among the staged columns */
    int nkey;
    bool ranked;       /* sequential upsert: one statement per rank of repeated keys */
    char arr_name[40]; /* prepared statement names (derived from the definition) */
    char arr_parent_name[40];
    cs_buf_t *cols;      /* one array literal per staged column, built per flush */
    const char **params; /* ncols + 2 */
    char rank_s[24], limit_s[24];
    cs_buf_t folded;        /* the fold of the range being flushed (fold_rows) */
    cs_arena_t *fold_arena; /* the fold's new field texts, reset per flushed range */
    /* Binary COPY (batch_binary.c): the staged columns' encoders, read at prepare. */
    cs__bin_col_t *bin_types;
    bool binary;        /* every staged column has an encoder */
    char *copy_bin_sql; /* COPY target (cols) FROM STDIN (FORMAT binary) */
} tbl_t;

struct cs_batch {
    tbl_t *t;
    int nt;
    int ev_cap;
    int cur_ev;             /* the event rows are appended for, -1 before the first mark */
    int row_tbl;            /* table of the row in progress, -1 when none */
    int row_cols;           /* values given so far in the row in progress */
    int row_err;            /* a value was given outside a row */
    size_t array_max;       /* ranges of at most this many rows per table take the array path */
    bool copy_text;         /* cs_batch_set_copy_binary(false): COPY in text format only */
    size_t copy_binary;     /* COPYs sent in binary format */
    size_t copy_declined;   /* binary-capable COPYs sent as text (an encoder declined a value) */
    size_t first_inserted;  /* insert_first ranges stored by their plain INSERT */
    size_t first_fell_back; /* ... and those that fell back to the upsert (23505) */
    /* The binary COPY stream of the table being flushed and one field's unescaped text: one
     * pair for all tables (flushed one after the other), so the batch keeps the largest
     * table's stream between batches, not every table's. */
    cs_buf_t bin;
    cs_buf_t bin_scratch[2];
    cs_arena_t *arena;
    void *emitter; /* the runtime's outbox for cs_batch_emit (worker_outbox.c), or NULL */
};

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    cs_buf_t b = CS_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cs_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return b.data;
}

static int count_cols(const char *cols)
{
    int n = 1;
    for (const char *p = cols; *p; p++)
        n += *p == ',';
    return n;
}

/* The ON CONFLICT tail shared by every upsert form. */
static void conflict_tail(cs_buf_t *tail, const cs_table_def_t *d)
{
    cs_buf_printf(tail, " ON CONFLICT (%s) ", d->conflict);
    if (d->update) {
        cs_buf_printf(tail, "DO UPDATE SET %s", d->update);
        if (d->update_where)
            cs_buf_printf(tail, " WHERE %s", d->update_where);
    } else {
        cs_buf_puts(tail, "DO NOTHING");
    }
}

/*
 * The single-statement upsert forms (every mode but a sequential update) reading the staged rows
 * from src: the staging table, or the _cs_in rows of the array path. Both give the staged columns
 * and _cs_seq, so the statements are the same.
 */
static void merge_body(cs_buf_t *b, const cs_table_def_t *d, const char *src, const char *tail)
{
    if (d->merge == CS_MERGE_AGGREGATE) {
        /*
         * One row per key, folded by the table's select list; one statement. Keys go in key
         * order, so concurrent batches (consumers of one group) lock shared rows in one order.
         */
        cs_buf_printf(b, "INSERT INTO %s AS t (%s) SELECT %s FROM (SELECT *", d->table, d->columns,
                      d->aggregate ? d->aggregate : d->columns);
        if (d->window)
            cs_buf_printf(b, ", %s", d->window);
        cs_buf_printf(b, " FROM %s", src);
        if (d->join)
            cs_buf_printf(b, " _cs_r %s", d->join);
        if (d->window)
            cs_buf_printf(b,
                          " WINDOW w AS (PARTITION BY %s%s%s ROWS BETWEEN UNBOUNDED PRECEDING "
                          "AND UNBOUNDED FOLLOWING)",
                          d->conflict, d->presort ? " ORDER BY " : "",
                          d->presort ? d->presort : "");
        cs_buf_printf(b, " ORDER BY %s%s%s) _cs_s GROUP BY %s ORDER BY %s%s", d->conflict,
                      d->presort ? ", " : "", d->presort ? d->presort : "", d->conflict,
                      d->conflict, tail);
    } else if (!d->update) {
        /* DO NOTHING tolerates several rows per key in one statement. */
        cs_buf_printf(b, "INSERT INTO %s AS t (%s) SELECT %s FROM %s ORDER BY _cs_seq%s", d->table,
                      d->columns, d->columns, src, tail);
    } else {
        /* CS_MERGE_LAST */
        cs_buf_printf(b,
                      "INSERT INTO %s AS t (%s) SELECT DISTINCT ON (%s) %s FROM %s "
                      "ORDER BY %s, _cs_seq DESC%s",
                      d->table, d->columns, d->conflict, d->columns, src, d->conflict, tail);
    }
}

/* The columns rows give values for; only an aggregate may derive more. */
static const char *staged_cols(const cs_table_def_t *d)
{
    return d->staged && d->merge == CS_MERGE_AGGREGATE && d->conflict ? d->staged : d->columns;
}

static bool is_ranked(const cs_table_def_t *d)
{
    return d->conflict && d->update && d->merge == CS_MERGE_SEQUENTIAL;
}

/* The session's staging table of table index i is STAGE_PREFIX "<i>" (copy_failed reads it back).
 */
#define STAGE_PREFIX "cs_stage_"

/*
 * Rows the worker believes new (cs_table_def_t.insert_first) go in without ON CONFLICT, in append
 * order (no sort: a key that another writer inserts at the same moment makes one of the two wait,
 * and a deadlock of two such batches is a transient error that the runtime retries), under the
 * savepoint cs_first. Where the session may COPY into the target (t->direct, read at prepare) they
 * are COPYd straight into it, without staging, in one simple query: "SAVEPOINT cs_first; COPY
 * ...; RELEASE SAVEPOINT cs_first". PostgreSQL runs the statements of a query string one after
 * the other, the COPY's data arriving between them (libpq's PQexec returns at the COPY, and the
 * RELEASE's result follows the COPY's once the data ended), and an error skips the rest of the
 * string, so a failed COPY leaves the savepoint for cs_batch_flush to roll back to. PostgreSQL
 * refuses COPY FROM into a table whose row-level security applies to the session's role
 * (0A000: "COPY FROM not supported with row-level security"; a worker role, FORCE ROW LEVEL
 * SECURITY), so there the rows are staged and stored by a plain INSERT from the staging table
 * (first_sql), in the round trip that empties it. An aggregate table's staged columns are not the
 * target's: never; a table with parent rows (inserted from the staged rows): never directly.
 */
static void build_first_sql(tbl_t *t, const char *stage)
{
    const cs_table_def_t *d = t->def;
    if (!d->insert_first || d->merge == CS_MERGE_AGGREGATE)
        return;
    t->first_sql = xprintf("SAVEPOINT cs_first; INSERT INTO %s AS t (%s) SELECT %s FROM %s; "
                           "RELEASE SAVEPOINT cs_first; DELETE FROM %s",
                           d->table, d->columns, d->columns, stage, stage);
    t->first_trunc_sql = xprintf("SAVEPOINT cs_first; INSERT INTO %s AS t (%s) SELECT %s FROM %s; "
                                 "RELEASE SAVEPOINT cs_first; TRUNCATE %s",
                                 d->table, d->columns, d->columns, stage, stage);
    if (t->parent_sql)
        return;
    t->direct_sql =
        xprintf("SAVEPOINT cs_first; COPY %s (%s) FROM STDIN; RELEASE SAVEPOINT cs_first", d->table,
                d->columns);
    t->direct_bin_sql = xprintf("SAVEPOINT cs_first; COPY %s (%s) FROM STDIN (FORMAT binary); "
                                "RELEASE SAVEPOINT cs_first",
                                d->table, d->columns);
}

static void build_sql(tbl_t *t, int idx)
{
    const cs_table_def_t *d = t->def;
    cs_buf_t b = CS_BUF_INIT;
    char stage[32];

    snprintf(stage, sizeof stage, STAGE_PREFIX "%d", idx);
    const char *staged = staged_cols(d);
    if (!d->conflict) {
        t->copy_sql = xprintf("COPY %s (%s) FROM STDIN", d->table, d->columns);
        t->copy_bin_sql = xprintf("%s (FORMAT binary)", t->copy_sql);
        return;
    }
    t->copy_sql = xprintf("COPY %s (%s) FROM STDIN", stage, staged);
    t->copy_bin_sql = xprintf("%s (FORMAT binary)", t->copy_sql);
    t->stage_sql = xprintf(
        "CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT PRESERVE ROWS AS SELECT %s FROM %s "
        "WITH NO DATA; "
        "ALTER TABLE %s ADD COLUMN IF NOT EXISTS _cs_seq bigint GENERATED ALWAYS AS IDENTITY",
        stage, staged, d->table, stage);
    if (d->parent_table && d->parent_key)
        t->parent_sql = xprintf("INSERT INTO %s (%s) SELECT %s FROM %s GROUP BY %s ORDER BY %s "
                                "ON CONFLICT (%s) DO NOTHING",
                                d->parent_table, d->parent_key, d->parent_key, stage, d->parent_key,
                                d->parent_key, d->parent_key);

    cs_buf_t tail = CS_BUF_INIT;
    conflict_tail(&tail, d);
    if (!is_ranked(d)) {
        merge_body(&b, d, stage, tail.data);
    } else {
        /*
         * Sequential: rank the rows of each key by append order and apply rank 1, then rank 2,
         * ... so that no statement touches a row twice and accumulating updates see every row.
         * The common case (every key once) is a single INSERT without a window.
         */
        cs_buf_printf(&b,
                      "DO $cs$ DECLARE _cs_m bigint; BEGIN "
                      "SELECT max(_cs_c) INTO _cs_m FROM (SELECT count(*) AS _cs_c FROM %s "
                      "GROUP BY %s) _cs_x; "
                      "IF _cs_m = 1 THEN "
                      "INSERT INTO %s AS t (%s) SELECT %s FROM %s ORDER BY _cs_seq%s; "
                      "ELSIF _cs_m > 1 THEN "
                      "FOR _cs_i IN 1.._cs_m LOOP "
                      "INSERT INTO %s AS t (%s) SELECT %s FROM (SELECT *, row_number() OVER "
                      "(PARTITION BY %s ORDER BY _cs_seq) AS _cs_r FROM %s) _cs_s "
                      "WHERE _cs_r = _cs_i ORDER BY _cs_seq%s; "
                      "END LOOP; END IF; END $cs$",
                      stage, d->conflict, d->table, d->columns, d->columns, stage, tail.data,
                      d->table, d->columns, d->columns, d->conflict, stage, tail.data);
    }
    cs_buf_fini(&tail);
    t->merge_sql = b.data;
    t->clear_sql = xprintf("%s; DELETE FROM %s", t->merge_sql, stage);
    t->trunc_sql = xprintf("%s; TRUNCATE %s", t->merge_sql, stage);
    build_first_sql(t, stage);
}

/* FNV-1a over the definition's strings: the prepared statements' names. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull;
}

static void name_statements(tbl_t *t, int idx)
{
    const cs_table_def_t *d = t->def;
    uint64_t h = 14695981039346656037ull;
    const char *parts[] = {"array-v1",      d->table,      d->columns, d->conflict, d->update,
                           d->update_where, d->aggregate,  d->presort, d->window,   d->staged,
                           d->parent_table, d->parent_key, d->join};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        h = fnv(h, parts[i]);
    h = (h ^ (uint64_t)d->merge) * 1099511628211ull;
    snprintf(t->arr_name, sizeof t->arr_name, "cs_arr_%d_%016" PRIx64, idx, h);
    snprintf(t->arr_parent_name, sizeof t->arr_parent_name, "cs_arp_%d_%016" PRIx64, idx, h);
}

/* Splits a comma-separated column list into trimmed names (malloc'd array of malloc'd names). */
static char **split_cols(const char *cols, int *n)
{
    int cap = count_cols(cols), k = 0;
    char **v = cs_mem_calloc((size_t)cap, sizeof *v);
    const char *p = cols;
    while (k < cap) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        const char *a = p, *z = e;
        while (a < z && (*a == ' ' || *a == '\t' || *a == '\n'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\n'))
            z--;
        v[k] = cs_mem_strndup(a, (size_t)(z - a));
        k++;
        p = *e ? e + 1 : e;
    }
    *n = k;
    return v;
}

static void free_names(char **v, int n)
{
    for (int i = 0; i < n && v; i++)
        free(v[i]);
    free(v);
}

cs_batch_t *cs_batch_new(const cs_table_def_t *tables, int ntables)
{
    cs_batch_t *b = cs_mem_calloc(1, sizeof *b);
    b->nt = ntables;
    b->t = cs_mem_calloc((size_t)(ntables ? ntables : 1), sizeof *b->t);
    for (int i = 0; i < ntables; i++) {
        tbl_t *t = &b->t[i];
        t->def = &tables[i];
        t->ncols = count_cols(tables[i].staged && tables[i].merge == CS_MERGE_AGGREGATE &&
                                      tables[i].conflict
                                  ? tables[i].staged
                                  : tables[i].columns);
        cs_buf_init(&t->rows);
        build_sql(t, i);
        name_statements(t, i);
        t->ranked = is_ranked(t->def);
        t->cols = cs_mem_calloc((size_t)t->ncols, sizeof *t->cols);
        t->params = cs_mem_calloc((size_t)t->ncols + 2, sizeof *t->params);
        if (t->def->conflict) {
            int ns, nk;
            char **sn = split_cols(staged_cols(t->def), &ns);
            char **kn = split_cols(t->def->conflict, &nk);
            t->key = cs_mem_calloc((size_t)nk, sizeof *t->key);
            t->nkey = nk;
            for (int k = 0; k < nk; k++) {
                t->key[k] = -1;
                for (int c = 0; c < ns; c++)
                    if (!strcmp(kn[k], sn[c]))
                        t->key[k] = c;
                if (t->key[k] < 0)
                    t->nkey = 0; /* a derived key: no client-side rank count (see flush) */
            }
            free_names(sn, ns);
            free_names(kn, nk);
        }
    }
    b->array_max = CS_BATCH_ARRAY_MAX_DEFAULT;
    cs_buf_init(&b->bin);
    cs_buf_init(&b->bin_scratch[0]);
    cs_buf_init(&b->bin_scratch[1]);
    b->arena = cs_arena_new(64 * 1024);
    b->cur_ev = -1;
    b->row_tbl = -1;
    return b;
}

void cs_batch_destroy(cs_batch_t *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->nt; i++) {
        tbl_t *t = &b->t[i];
        cs_buf_fini(&t->rows);
        free(t->ev_end);
        free(t->copy_sql);
        free(t->stage_sql);
        free(t->merge_sql);
        free(t->parent_sql);
        free(t->clear_sql);
        free(t->trunc_sql);
        free(t->first_sql);
        free(t->first_trunc_sql);
        free(t->direct_sql);
        free(t->direct_bin_sql);
        free(t->ev_rows);
        free(t->key);
        for (int c = 0; c < t->ncols && t->cols; c++)
            cs_buf_fini(&t->cols[c]);
        free(t->cols);
        free(t->params);
        cs_buf_fini(&t->folded);
        cs_arena_destroy(t->fold_arena);
        free(t->bin_types);
        free(t->copy_bin_sql);
    }
    free(b->t);
    cs_buf_fini(&b->bin);
    cs_buf_fini(&b->bin_scratch[0]);
    cs_buf_fini(&b->bin_scratch[1]);
    cs_arena_destroy(b->arena);
    free(b);
}

void cs_batch_clear(cs_batch_t *b)
{
    for (int i = 0; i < b->nt; i++) {
        cs_buf_reset(&b->t[i].rows);
        b->t[i].nrows = 0;
        b->t[i].mark_len = 0;
        b->t[i].mark_rows = 0;
    }
    b->cur_ev = -1;
    b->row_tbl = -1;
    b->row_err = 0;
    cs_arena_reset(b->arena);
}

void cs__batch_set_emitter(cs_batch_t *b, void *emitter)
{
    b->emitter = emitter;
}

void *cs__batch_emitter(const cs_batch_t *b)
{
    return b->emitter;
}

cs_arena_t *cs_batch_arena(cs_batch_t *b)
{
    return b->arena;
}

size_t cs_batch_rows(const cs_batch_t *b, int table)
{
    return table >= 0 && table < b->nt ? b->t[table].nrows : 0;
}

static void close_events(cs_batch_t *b, int upto)
{
    /* Events cur_ev .. upto-1 end where the buffers are now. */
    if (upto > b->ev_cap) {
        int cap = b->ev_cap ? b->ev_cap : 1024;
        while (cap < upto)
            cap *= 2;
        for (int i = 0; i < b->nt; i++) {
            b->t[i].ev_end = cs_mem_realloc(b->t[i].ev_end, (size_t)cap * sizeof(size_t));
            b->t[i].ev_rows = cs_mem_realloc(b->t[i].ev_rows, (size_t)cap * sizeof(size_t));
        }
        b->ev_cap = cap;
    }
    for (int e = b->cur_ev < 0 ? 0 : b->cur_ev; e < upto; e++)
        for (int i = 0; i < b->nt; i++) {
            b->t[i].ev_end[e] = b->t[i].rows.len;
            b->t[i].ev_rows[e] = b->t[i].nrows;
        }
}

void cs_batch_mark_event(cs_batch_t *b, int ev)
{
    close_events(b, ev);
    b->cur_ev = ev;
    for (int i = 0; i < b->nt; i++) {
        b->t[i].mark_len = b->t[i].rows.len;
        b->t[i].mark_rows = b->t[i].nrows;
    }
    b->row_tbl = -1;
}

void cs_batch_undo_event(cs_batch_t *b)
{
    for (int i = 0; i < b->nt; i++) {
        tbl_t *t = &b->t[i];
        t->rows.len = t->mark_len;
        if (t->rows.data)
            t->rows.data[t->rows.len] = '\0';
        t->nrows = t->mark_rows;
    }
    b->row_tbl = -1;
}

void cs_batch_seal(cs_batch_t *b, int nevents)
{
    close_events(b, nevents);
    b->cur_ev = nevents;
}

/* ---- rows ---- */

void cs_batch_row_begin(cs_batch_t *b, int table)
{
    if (table < 0 || table >= b->nt) {
        b->row_err = 1;
        b->row_tbl = -1;
        return;
    }
    b->row_tbl = table;
    b->row_cols = 0;
}

static cs_buf_t *val_begin(cs_batch_t *b)
{
    if (b->row_tbl < 0) {
        b->row_err = 1;
        return NULL;
    }
    cs_buf_t *out = &b->t[b->row_tbl].rows;
    if (b->row_cols++ > 0)
        cs_buf_putc(out, '\t');
    return out;
}

void cs_batch_strn(cs_batch_t *b, const char *s, size_t n)
{
    cs_buf_t *out = val_begin(b);
    if (!out)
        return;
    if (!s) {
        cs_buf_puts(out, "\\N");
        return;
    }
    char *p = cs_buf_reserve(out, 2 * n + 1);
    cs_buf_advance(out, cs_db_copy_escape(p, s, n));
}

void cs_batch_str(cs_batch_t *b, const char *s)
{
    cs_batch_strn(b, s, s ? strlen(s) : 0);
}

void cs_batch_raw(cs_batch_t *b, const char *s, size_t n)
{
    cs_buf_t *out = val_begin(b);
    if (out)
        cs_buf_append(out, s, n);
}

void cs_batch_null(cs_batch_t *b)
{
    cs_buf_t *out = val_begin(b);
    if (out)
        cs_buf_puts(out, "\\N");
}

void cs_batch_int(cs_batch_t *b, long long v)
{
    cs_buf_t *out = val_begin(b);
    if (out) {
        char num[CS_TEXT_INT_BYTES];
        cs_buf_append(out, num, cs_text_i64(num, v));
    }
}

void cs_batch_double(cs_batch_t *b, double v)
{
    cs_buf_t *out = val_begin(b);
    if (!out)
        return;
    if (isnan(v))
        cs_buf_puts(out, "NaN");
    else if (isinf(v))
        cs_buf_puts(out, v > 0 ? "Infinity" : "-Infinity");
    else
        cs_buf_printf(out, "%.17g", v);
}

void cs_batch_bool(cs_batch_t *b, bool v)
{
    cs_buf_t *out = val_begin(b);
    if (out)
        cs_buf_putc(out, v ? 't' : 'f');
}

void cs_batch_ts_ms(cs_batch_t *b, int64_t ms)
{
    cs_buf_t *out = val_begin(b);
    if (out) {
        char t[CS_TEXT_TIME_BYTES];
        cs_buf_append(out, t, cs_text_time_ms(t, ms, CS_TEXT_PG));
    }
}

int cs_batch_row_end(cs_batch_t *b, cs_err_t *err)
{
    if (b->row_err || b->row_tbl < 0) {
        b->row_err = 0;
        return cs_err_set(err, CS_ERR_FATAL,
                          "batch row: value or row end without a valid "
                          "cs_batch_row_begin");
    }
    tbl_t *t = &b->t[b->row_tbl];
    if (b->row_cols != t->ncols) {
        int got = b->row_cols;
        /* Drop the broken row so it cannot reach COPY. */
        char *nl = t->rows.data ? strrchr(t->rows.data, '\n') : NULL;
        t->rows.len = nl ? (size_t)(nl - t->rows.data) + 1 : 0;
        if (t->rows.data)
            t->rows.data[t->rows.len] = '\0';
        b->row_tbl = -1;
        return cs_err_set_field(err, CS_ERR_FATAL, t->def->table,
                                "batch row for %s has %d values, the table declares %d columns",
                                t->def->table, got, t->ncols);
    }
    cs_buf_putc(&t->rows, '\n');
    t->nrows++;
    b->row_tbl = -1;
    return 0;
}

int cs_batch_row(cs_batch_t *b, int table, int n, const char *const *values, cs_err_t *err)
{
    cs_batch_row_begin(b, table);
    for (int i = 0; i < n; i++)
        cs_batch_str(b, values[i]);
    return cs_batch_row_end(b, err);
}

/* Fails a row of t for giving no value for its staged column c, naming the column. */
static int unset_column(const tbl_t *t, int c, cs_err_t *err)
{
    int n;
    char **names = split_cols(staged_cols(t->def), &n);
    char name[64];
    snprintf(name, sizeof name, "%s", c < n ? names[c] : "?");
    free_names(names, n);
    return cs_err_set_field(err, CS_ERR_FATAL, name,
                            "batch row for %s gives no value for column %s", t->def->table, name);
}

static void put_val(cs_batch_t *b, const cs_val_t *v)
{
    switch (v->kind) {
    case CS_VAL_STR:
        if (v->n)
            cs_batch_strn(b, v->u.s, v->n);
        else
            cs_batch_str(b, v->u.s);
        break;
    case CS_VAL_RAW:
        if (v->u.s)
            cs_batch_raw(b, v->u.s, v->n);
        else
            cs_batch_null(b);
        break;
    case CS_VAL_INT:
        cs_batch_int(b, v->u.i);
        break;
    case CS_VAL_DOUBLE:
        cs_batch_double(b, v->u.d);
        break;
    case CS_VAL_BOOL:
        cs_batch_bool(b, v->u.b);
        break;
    case CS_VAL_TS_MS:
        cs_batch_ts_ms(b, v->u.ms);
        break;
    case CS_VAL_NULL:
    case CS_VAL_UNSET: /* refused by cs_batch_put before the row begins */
        cs_batch_null(b);
        break;
    }
}

int cs_batch_put(cs_batch_t *b, int table, const cs_val_t *vals, int n, cs_err_t *err)
{
    if (table < 0 || table >= b->nt)
        return cs_err_set(err, CS_ERR_FATAL, "batch row: no table %d (the worker has %d)", table,
                          b->nt);
    const tbl_t *t = &b->t[table];
    if (n != t->ncols)
        return cs_err_set_field(err, CS_ERR_FATAL, t->def->table,
                                "batch row for %s has %d values, the table declares %d columns",
                                t->def->table, n, t->ncols);
    for (int c = 0; c < n; c++)
        if (vals[c].kind == CS_VAL_UNSET)
            return unset_column(t, c, err);
    cs_batch_row_begin(b, table);
    for (int c = 0; c < n; c++)
        put_val(b, &vals[c]);
    return cs_batch_row_end(b, err);
}

/* ---- the array path: COPY text rows to one text[] literal per column ---- */

int cs_batch_array_elem(cs_buf_t *out, const char *f, size_t n)
{
    if (n == 2 && f[0] == '\\' && f[1] == 'N') {
        cs_buf_puts(out, "NULL");
        return 0;
    }
    /* Every element is quoted: braces, commas, spaces, the word NULL stay data. */
    char *o = cs_buf_reserve(out, 2 * n + 2), *o0 = o;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)f[i];
        if (c == '\\' && i + 1 < n)
            c = cs__copy_unescape(f, n, &i);
        if (c == '\0') {
            return -1; /* a NUL byte cannot travel in a text parameter (nor in text at all) */
        }
        if (c == '"' || c == '\\')
            *o++ = '\\';
        *o++ = (char)c;
    }
    *o++ = '"';
    cs_buf_advance(out, (size_t)(o - o0));
    return 0;
}

/* Compares two rows' key texts (offsets into the row buffer, fields tab-joined). */
typedef struct keyref {
    const char *s;
    size_t n;
} keyref_t;

static int cmp_key(const void *a, const void *b)
{
    const keyref_t *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/*
 * Appends the COPY text row [p, nl) of t as element r of each column's array literal; fs and fn
 * get each field's text and length. -1 with a PERMANENT err for a value PostgreSQL could not
 * take as text (a NUL byte).
 */
static inline int row_to_elems(tbl_t *t, const char *p, const char *nl, size_t r, const char **fs,
                               size_t *fn, cs_err_t *err)
{
    const char *f = p;

    for (int c = 0; c < t->ncols; c++) {
        const char *tab = c + 1 < t->ncols ? memchr(f, '\t', (size_t)(nl - f)) : NULL;
        const char *fe = tab ? tab : nl;
        fs[c] = f;
        fn[c] = (size_t)(fe - f);
        if (r > 0)
            cs_buf_putc(&t->cols[c], ',');
        if (cs_batch_array_elem(&t->cols[c], f, fn[c]) < 0)
            return cs_err_set_field(err, CS_ERR_PERMANENT, t->def->table,
                                    "a value for %s contains a NUL byte", t->def->table);
        f = tab ? tab + 1 : nl;
    }
    return 0;
}

/* The most rows one key has among the nk key texts in kb (key i at koff[i]..koff[i + 1]). */
static long long max_rows_per_key(const cs_buf_t *kb, const size_t *koff, size_t nk)
{
    keyref_t *keys = cs_mem_calloc(nk ? nk : 1, sizeof *keys);
    long long run = 1, most = 1;

    for (size_t i = 0; i < nk; i++)
        keys[i] = (keyref_t){kb->data + koff[i], koff[i + 1] - koff[i]};
    qsort(keys, nk, sizeof *keys, cmp_key);
    for (size_t i = 1; i < nk; i++) {
        run = cmp_key(&keys[i], &keys[i - 1]) == 0 ? run + 1 : 1;
        if (run > most)
            most = run;
    }
    free(keys);
    return most;
}

/*
 * Turns the COPY text rows [a, z) of data (t's rows or their fold) into one array literal per
 * column (t->cols) and counts, for a sequential upsert, the most rows one key has by their key
 * texts (*ranks). Returns -1 with a PERMANENT err for a value PostgreSQL could not take as text (a
 * NUL byte).
 */
static int to_arrays(tbl_t *t, const char *data, size_t a, size_t z, size_t nrows, long long *ranks,
                     cs_err_t *err)
{
    const char *p = data + a, *end = data + z;
    cs_buf_t kb = CS_BUF_INIT;
    size_t *koff = NULL;
    size_t r = 0;
    int rc = 0;

    *ranks = 1;
    for (int c = 0; c < t->ncols; c++) {
        cs_buf_reset(&t->cols[c]);
        cs_buf_putc(&t->cols[c], '{');
    }
    bool count = t->ranked && t->nkey > 0 && nrows > 1;
    if (count)
        koff = cs_mem_calloc(nrows + 1, sizeof *koff);
    const char **fs = cs_mem_calloc((size_t)t->ncols, sizeof *fs);
    size_t *fn = cs_mem_calloc((size_t)t->ncols, sizeof *fn);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (row_to_elems(t, p, nl, r, fs, fn, err) < 0) {
            rc = -1;
            goto out;
        }
        if (count && r < nrows) { /* the row's key text: its key fields, tab-terminated */
            koff[r] = kb.len;
            for (int k = 0; k < t->nkey; k++) {
                cs_buf_append(&kb, fs[t->key[k]], fn[t->key[k]]);
                cs_buf_putc(&kb, '\t');
            }
        }
        r++;
        p = nl + 1;
    }
    for (int c = 0; c < t->ncols; c++) {
        cs_buf_putc(&t->cols[c], '}');
        t->params[c] = t->cols[c].data;
    }
    if (count) {
        size_t nk = r < nrows ? r : nrows;
        koff[nk] = kb.len;
        *ranks = max_rows_per_key(&kb, koff, nk);
    }
out:
    free(fs);
    free(fn);
    free(koff);
    cs_buf_fini(&kb);
    return rc;
}

void cs_batch_set_array_max(cs_batch_t *b, size_t rows)
{
    b->array_max = rows;
}

void cs_batch_set_copy_binary(cs_batch_t *b, bool on)
{
    b->copy_text = !on;
}

void cs_batch_copy_counts(const cs_batch_t *b, size_t *binary, size_t *declined)
{
    *binary = b->copy_binary;
    *declined = b->copy_declined;
}

void cs_batch_insert_first_counts(const cs_batch_t *b, size_t *inserted, size_t *fell_back)
{
    *inserted = b->first_inserted;
    *fell_back = b->first_fell_back;
}

/*
 * w = "WITH _cs_in AS (...)": the staged columns of d (names sn[0..ns)) from one text[] parameter
 * each, typed like the target's (types: rows of column name, type name), and _cs_seq (append
 * order). The type is named without its modifier (pg_type's own name: bpchar, varchar, _text),
 * as a staging table's value would be before the INSERT assigns it: an explicit cast to char(3)
 * or varchar(n) would cut a longer value where assigning it fails.
 */
static int staged_input(cs_buf_t *w, const cs_table_def_t *d, char **sn, int ns, cs_db_res_t *types,
                        cs_err_t *err)
{
    cs_buf_puts(w, "WITH _cs_in AS (SELECT ");
    for (int c = 0; c < ns; c++) {
        const char *type = NULL;
        for (int r = 0; r < cs_db_res_rows(types) && !type; r++)
            if (!strcmp(cs_db_res_get(types, r, 0), sn[c]))
                type = cs_db_res_get(types, r, 1);
        if (!type)
            return cs_err_set_field(err, CS_ERR_FATAL, d->table, "column %s of %s does not exist",
                                    sn[c], d->table);
        if (!strcmp(type, "text"))
            cs_buf_printf(w, "_cs_u.%s, ", sn[c]);
        else
            cs_buf_printf(w, "_cs_u.%s::%s AS %s, ", sn[c], type, sn[c]);
    }
    cs_buf_puts(w, "_cs_u._cs_seq FROM unnest(");
    for (int c = 0; c < ns; c++)
        cs_buf_printf(w, "%s$%d::text[]", c ? ", " : "", c + 1);
    cs_buf_printf(w, ") WITH ORDINALITY AS _cs_u(%s, _cs_seq))", staged_cols(d));
    return 0;
}

/* q = t's array statement over the input w: an insert, a merge, or one rank of an upsert. */
static void array_statement(cs_buf_t *q, const tbl_t *t, const char *w, int ns)
{
    const cs_table_def_t *d = t->def;
    cs_buf_t tail = CS_BUF_INIT;

    if (!d->conflict) {
        cs_buf_printf(q, "%s INSERT INTO %s (%s) SELECT %s FROM _cs_in ORDER BY _cs_seq", w,
                      d->table, d->columns, d->columns);
        return;
    }
    conflict_tail(&tail, d);
    if (!t->ranked) {
        cs_buf_printf(q, "%s ", w);
        merge_body(q, d, "_cs_in", tail.data);
    } else {
        /*
         * One rank per statement ($n+1), as the staged form's loop does; the statement
         * returns the most rows of one key, so the caller knows how many ranks there are.
         * $n+2, when given, is the ranks the caller applies in all: more rows for one key
         * fail the statement (SQLSTATE CSR01, see migration 0060) rather than leave some
         * unapplied.
         */
        cs_buf_printf(q,
                      "%s, _cs_r AS (SELECT *, row_number() OVER (PARTITION BY %s ORDER BY "
                      "_cs_seq) AS _cs_rank FROM _cs_in), _cs_w AS (INSERT INTO %s AS t (%s) "
                      "SELECT %s FROM _cs_r WHERE _cs_rank = $%d::bigint ORDER BY _cs_seq%s) "
                      "SELECT max(_cs_rank), cs_require(max(_cs_rank) <= $%d::bigint, "
                      "'CSR01', 'more rows for one key of %s than ranks applied') FROM _cs_r",
                      w, d->conflict, d->table, d->columns, d->columns, ns + 1, tail.data, ns + 2,
                      d->table);
    }
    cs_buf_fini(&tail);
}

/* Prepares the insert of the parent rows an upsert of t needs first, over the input w. */
static int prepare_parent_insert(const tbl_t *t, cs_db_t *db, const char *w, cs_err_t *err)
{
    const cs_table_def_t *d = t->def;
    cs_buf_t pq = CS_BUF_INIT;
    int rc;

    cs_buf_printf(&pq,
                  "%s INSERT INTO %s (%s) SELECT %s FROM _cs_in GROUP BY %s ORDER BY %s "
                  "ON CONFLICT (%s) DO NOTHING",
                  w, d->parent_table, d->parent_key, d->parent_key, d->parent_key, d->parent_key,
                  d->parent_key);
    rc = cs_db_prepare(db, t->arr_parent_name, pq.data, err);
    cs_buf_fini(&pq);
    if (rc < 0)
        cs_err_wrap(err, "preparing the parent rows' insert into %s", d->parent_table);
    return rc;
}

/*
 * The columns of t's target with their types: name, the type as a cast names it, then the binary
 * encoder's view of the type: pg_type's typname and typtype, and whether the type is pg_catalog's
 * ("true"/"false"), of the domain's base type for a domain (its receive function is the base
 * type's, followed by the domain's checks, as its input function is the base type's); for an
 * array type (the standard array of its element type) the same three of the element type and
 * the element's oid, NULL otherwise.
 */
static cs_db_res_t *column_types(const tbl_t *t, cs_db_t *db, cs_err_t *err)
{
    const char *params[] = {t->def->table};
    cs_db_res_t *res = cs_db_query(db,
                                   "SELECT a.attname::text, CASE WHEN ty.oid = 'text'::regtype "
                                   "THEN 'text' ELSE format('%I.%I', n.nspname, ty.typname) END, "
                                   "bt.typname::text, bt.typtype::text, "
                                   "(bn.nspname = 'pg_catalog')::text, "
                                   "et.typname::text, et.typtype::text, "
                                   "(en.nspname = 'pg_catalog')::text, et.oid::text "
                                   "FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid "
                                   "JOIN pg_namespace n ON n.oid = ty.typnamespace "
                                   "JOIN pg_type bt ON bt.oid = CASE WHEN ty.typtype = 'd' "
                                   "THEN ty.typbasetype ELSE ty.oid END "
                                   "JOIN pg_namespace bn ON bn.oid = bt.typnamespace "
                                   "LEFT JOIN pg_type et ON et.oid = bt.typelem "
                                   "AND et.typarray = bt.oid "
                                   "LEFT JOIN pg_namespace en ON en.oid = et.typnamespace "
                                   "WHERE a.attrelid = $1::regclass "
                                   "AND a.attnum > 0 AND NOT a.attisdropped",
                                   1, params, err);
    if (!res)
        cs_err_wrap(err, "reading the column types of %s", t->def->table);
    return res;
}

/*
 * The binary COPY encoder of each staged column of t from its type (types: column_types), a
 * scalar's or an array's of a scalar; t->binary when every column has one. A column missing from
 * the table is left to prepare_arrays and COPY to report.
 */
static void bin_types(tbl_t *t, cs_db_res_t *types)
{
    int ns = 0;
    char **sn = split_cols(staged_cols(t->def), &ns);

    free(t->bin_types);
    t->bin_types = cs_mem_calloc((size_t)(ns ? ns : 1), sizeof *t->bin_types);
    t->binary = ns == t->ncols;
    for (int c = 0; c < ns; c++) {
        cs__bin_col_t *col = &t->bin_types[c];
        for (int r = 0; r < cs_db_res_rows(types); r++) {
            if (strcmp(cs_db_res_get(types, r, 0), sn[c]))
                continue;
            const char *eoid = cs_db_res_get(types, r, 8);
            col->array = eoid != NULL; /* an array type, of element oid eoid */
            int k = col->array ? 5 : 2;
            col->type =
                cs__bin_type_of(cs_db_res_get(types, r, k), cs_db_res_get(types, r, k + 1)[0],
                                !strcmp(cs_db_res_get(types, r, k + 2), "true"));
            col->elem_oid = col->array ? (uint32_t)strtoul(eoid, NULL, 10) : 0;
        }
        if (col->type == CS__BIN_NONE)
            t->binary = false;
    }
    free_names(sn, ns);
}

/* Builds and prepares t's array statements, with the target's column types (column_types). */
static int prepare_arrays(tbl_t *t, cs_db_t *db, cs_db_res_t *res, cs_err_t *err)
{
    const cs_table_def_t *d = t->def;
    int ns = 0, rc = -1;
    char **sn = split_cols(staged_cols(d), &ns);
    cs_buf_t w = CS_BUF_INIT, q = CS_BUF_INIT;

    if (staged_input(&w, d, sn, ns, res, err) < 0)
        goto out;
    array_statement(&q, t, w.data, ns);
    if (d->conflict && d->parent_table && d->parent_key &&
        prepare_parent_insert(t, db, w.data, err) < 0)
        goto out;
    if (cs_db_prepare(db, t->arr_name, q.data, err) < 0) {
        cs_err_wrap(err, "preparing the array statement of %s", d->table);
        goto out;
    }
    rc = 0;
out:
    free_names(sn, ns);
    cs_buf_fini(&w);
    cs_buf_fini(&q);
    return rc;
}

/*
 * t->direct: whether rows believed new may be COPYd straight into t's target on this session:
 * not when the target's row-level security applies to the session's role (PostgreSQL refuses
 * COPY FROM then; see build_first_sql).
 */
static int direct_copy_allowed(tbl_t *t, cs_db_t *db, cs_err_t *err)
{
    t->direct = false;
    if (!t->direct_sql)
        return 0;
    const char *params[] = {t->def->table};
    cs_db_res_t *res =
        cs_db_query(db, "SELECT NOT row_security_active($1::regclass)", 1, params, err);
    if (!res)
        return cs_err_wrap(err, "reading the row-level security of %s", t->def->table);
    const char *v = cs_db_res_get(res, 0, 0);
    t->direct = v && v[0] == 't';
    cs_db_res_free(res);
    return 0;
}

/* ---- flush ---- */

int cs_batch_prepare(cs_batch_t *b, cs_db_t *db, cs_err_t *err)
{
    /* Statements this session has already (another batch with the same definitions). */
    cs_db_res_t *have = NULL;
    if (b->array_max > 0) {
        have = cs_db_query(db, "SELECT name FROM pg_prepared_statements", 0, NULL, err);
        if (!have)
            return cs_err_wrap(err, "listing prepared statements");
    }
    int rc = 0;
    for (int i = 0; i < b->nt && rc == 0; i++) {
        if (b->t[i].stage_sql && cs_db_exec(db, b->t[i].stage_sql, err) < 0) {
            rc = cs_err_wrap(err, "preparing staging for %s", b->t[i].def->table);
            break;
        }
        b->t[i].staged_bytes = 0; /* counted per session: a reconnect makes new tables */
        cs_db_res_t *types = column_types(&b->t[i], db, err);
        if (!types) {
            rc = -1;
            break;
        }
        bin_types(&b->t[i], types);
        if (direct_copy_allowed(&b->t[i], db, err) < 0) {
            cs_db_res_free(types);
            rc = -1;
            break;
        }
        bool found = false;
        for (int r = 0; have && r < cs_db_res_rows(have) && !found; r++)
            found = !strcmp(cs_db_res_get(have, r, 0), b->t[i].arr_name);
        if (b->array_max > 0 && !found && prepare_arrays(&b->t[i], db, types, err) < 0)
            rc = -1;
        cs_db_res_free(types);
    }
    cs_db_res_free(have);
    return rc;
}

/* Writes the rows [a, z) of t with its array statements (synchronously). */
/* Whether a table's upsert first inserts the parent rows its keys need. */
static bool has_parent(const tbl_t *t)
{
    return t->def->parent_table && t->def->parent_key && t->def->conflict;
}

/* Where the rows of events [0, ev) end in the table's row buffer. */
static size_t row_bytes(const tbl_t *t, int ev)
{
    return ev > 0 ? t->ev_end[ev - 1] : 0;
}

static int flush_arrays(tbl_t *t, cs_db_t *db, const char *data, size_t a, size_t z, size_t nrows,
                        cs_err_t *err)
{
    long long ranks;
    if (to_arrays(t, data, a, z, nrows, &ranks, err) < 0)
        return -1;
    if (has_parent(t) && cs_db_execp_prepared(db, t->arr_parent_name, t->ncols, t->params, err) < 0)
        return cs_err_wrap(err, "inserting parent rows into %s", t->def->parent_table);
    if (!t->ranked) {
        if (cs_db_execp_prepared(db, t->arr_name, t->ncols, t->params, err) < 0)
            return cs_err_wrap(err, "%s into %s", t->def->conflict ? "upsert" : "insert",
                               t->def->table);
        return 0;
    }
    /* Sequential: rank 1, then as many more as the statement says one key has rows. */
    long long m = 1;
    for (long long k = 1; k <= m; k++) {
        snprintf(t->rank_s, sizeof t->rank_s, "%lld", k);
        t->params[t->ncols] = t->rank_s;
        t->params[t->ncols + 1] = NULL;
        cs_db_res_t *res = cs_db_query_prepared(db, t->arr_name, t->ncols + 2, t->params, err);
        if (!res)
            return cs_err_wrap(err, "upsert into %s", t->def->table);
        const char *v = cs_db_res_get(res, 0, 0);
        if (v && strtoll(v, NULL, 10) > m)
            m = strtoll(v, NULL, 10);
        cs_db_res_free(res);
    }
    return 0;
}

/* ---- the fold in C (cs_table_def_t.fold) ---- */

/* Splits the COPY text row [p, nl) into ncols fields (\N: s == NULL). */
static void split_row(const char *p, const char *nl, int ncols, cs_field_t *f)
{
    for (int c = 0; c < ncols; c++) {
        const char *tab = c + 1 < ncols ? memchr(p, '\t', (size_t)(nl - p)) : NULL;
        const char *fe = tab ? tab : nl;
        size_t n = (size_t)(fe - p);
        f[c] = n == 2 && p[0] == '\\' && p[1] == 'N' ? (cs_field_t){NULL, 0} : (cs_field_t){p, n};
        p = tab ? tab + 1 : nl;
    }
}

/* FNV-1a over a row's key fields (a NULL key field hashes apart from an empty one). */
static uint64_t key_hash(const tbl_t *t, const cs_field_t *f)
{
    uint64_t h = 1469598103934665603ULL;

    for (int k = 0; k < t->nkey; k++) {
        const cs_field_t *x = &f[t->key[k]];
        for (size_t i = 0; i < x->n; i++)
            h = (h ^ (unsigned char)x->s[i]) * 1099511628211ULL;
        h = (h ^ (x->s ? 0x100u : 0x200u)) * 1099511628211ULL;
    }
    return h;
}

static bool same_key(const tbl_t *t, const cs_field_t *a, const cs_field_t *b)
{
    for (int k = 0; k < t->nkey; k++) {
        const cs_field_t *x = &a[t->key[k]], *y = &b[t->key[k]];
        if (!x->s != !y->s || x->n != y->n || (x->n && memcmp(x->s, y->s, x->n)))
            return false;
    }
    return true;
}

/* Writes nk folded rows of ncols fields each into out as COPY text. */
static void fold_write(cs_buf_t *out, const cs_field_t *acc, size_t nk, int ncols)
{
    cs_buf_reset(out);
    for (size_t k = 0; k < nk; k++) {
        for (int c = 0; c < ncols; c++) {
            const cs_field_t *f = &acc[k * (size_t)ncols + (size_t)c];
            if (c)
                cs_buf_putc(out, '\t');
            if (f->s)
                cs_buf_append(out, f->s, f->n);
            else
                cs_buf_puts(out, "\\N");
        }
        cs_buf_putc(out, '\n');
    }
}

/*
 * Folds the nrows rows [a, z) of t per key with the table's fold (first row of a key: the
 * accumulator; later ones fold into it in append order) into t->folded. Returns the keys.
 */
static size_t fold_rows(tbl_t *t, size_t a, size_t z, size_t nrows)
{
    int nc = t->ncols;
    size_t cap = 16, nk = 0, kcap = 64;
    while (cap < nrows * 2)
        cap <<= 1;
    size_t *slot = cs_mem_calloc(cap, sizeof *slot); /* 0: empty, else 1 + the key's index */
    cs_field_t *acc = cs_mem_calloc(kcap * (size_t)nc, sizeof *acc);
    cs_field_t *row = cs_mem_calloc((size_t)nc, sizeof *row);
    const char *p = t->rows.data + a, *end = t->rows.data + z;

    if (!t->fold_arena)
        t->fold_arena = cs_arena_new(64 * 1024);
    cs_arena_reset(t->fold_arena);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        split_row(p, nl, nc, row);
        size_t i = (size_t)key_hash(t, row) & (cap - 1);
        while (slot[i] && !same_key(t, &acc[(slot[i] - 1) * (size_t)nc], row))
            i = (i + 1) & (cap - 1);
        if (slot[i]) {
            t->def->fold(&acc[(slot[i] - 1) * (size_t)nc], row, t->fold_arena);
        } else {
            if (nk == kcap) {
                kcap *= 2;
                acc = cs_mem_realloc(acc, kcap * (size_t)nc * sizeof *acc);
            }
            memcpy(&acc[nk * (size_t)nc], row, (size_t)nc * sizeof *row);
            slot[i] = ++nk;
        }
        p = nl + 1;
    }
    fold_write(&t->folded, acc, nk, nc);
    free(slot);
    free(acc);
    free(row);
    return nk;
}

/*
 * The rows a flush sends of t's rows [*a, *z): those rows themselves, or for a table with a
 * fold their fold (then *a, *z and *nrows describe t->folded). Returns the buffer they are in.
 */
static const char *fold_range(tbl_t *t, size_t *a, size_t *z, size_t *nrows)
{
    if (!t->def->fold || !t->def->conflict || t->nkey == 0 || *nrows < 2)
        return t->rows.data;
    *nrows = fold_rows(t, *a, *z, *nrows);
    *a = 0;
    *z = t->folded.len;
    return t->folded.data;
}

static size_t range_rows(const tbl_t *t, int from, int to)
{
    return (to > 0 ? t->ev_rows[to - 1] : 0) - (from > 0 ? t->ev_rows[from - 1] : 0);
}

const char *cs__batch_range_text(cs_batch_t *b, int table, int from, int to, size_t *len)
{
    tbl_t *t = &b->t[table];
    size_t a = row_bytes(t, from), z = row_bytes(t, to), nrows = range_rows(t, from, to);
    const char *data = z > a ? fold_range(t, &a, &z, &nrows) : t->rows.data;
    *len = z > a ? z - a : 0;
    return data ? data + a : "";
}

bool cs_batch_arrays_only(const cs_batch_t *b, int from, int to)
{
    for (int i = 0; i < b->nt; i++)
        if (range_rows(&b->t[i], from, to) > b->array_max)
            return false;
    return true;
}

int cs_batch_flush_send(cs_batch_t *b, cs_db_t *db, int from, int to, cs_err_t *err)
{
    for (int i = 0; i < b->nt; i++) {
        tbl_t *t = &b->t[i];
        size_t a = row_bytes(t, from), z = row_bytes(t, to);
        size_t nrows = range_rows(t, from, to);
        if (z <= a)
            continue;
        const char *data = fold_range(t, &a, &z, &nrows);
        if (nrows > b->array_max)
            return cs_err_set(err, CS_ERR_FATAL, "%s: %zu rows do not fit the array path (%zu)",
                              t->def->table, nrows, b->array_max);
        long long ranks;
        if (to_arrays(t, data, a, z, nrows, &ranks, err) < 0)
            return -1;
        if (has_parent(t) &&
            cs_db_pipeline_send(db, t->arr_parent_name, true, t->ncols, t->params, err) < 0)
            return -1;
        if (!t->ranked) {
            if (cs_db_pipeline_send(db, t->arr_name, true, t->ncols, t->params, err) < 0)
                return -1;
            continue;
        }
        /* Every rank the key texts show; a key with more rows fails the statement (CSR01). */
        snprintf(t->limit_s, sizeof t->limit_s, "%lld", ranks);
        for (long long k = 1; k <= ranks; k++) {
            snprintf(t->rank_s, sizeof t->rank_s, "%lld", k);
            t->params[t->ncols] = t->rank_s;
            t->params[t->ncols + 1] = t->limit_s;
            if (cs_db_pipeline_send(db, t->arr_name, true, t->ncols + 2, t->params, err) < 0)
                return -1;
        }
    }
    return 0;
}

/*
 * A failed COPY: the error names t's table, and its field (db.c: "relation.column" from
 * PostgreSQL's CONTEXT) the target's column where the rows went to the staging table, whose
 * columns are the target's by name: an operator reads "job_applications.status", not the
 * session's "cs_stage_3.status".
 */
static int copy_failed(const tbl_t *t, cs_err_t *err)
{
    const char *dot = strchr(err->field, '.');
    if (t->def->conflict && dot && !strncmp(err->field, STAGE_PREFIX, strlen(STAGE_PREFIX))) {
        char col[sizeof err->field];
        snprintf(col, sizeof col, "%s", dot + 1);
        snprintf(err->field, sizeof err->field, "%s.%s", t->def->table, col);
    }
    return cs_err_wrap(err, "copy into %s", t->def->table);
}

/*
 * COPYs the rows [a, z) of data (t's COPY text) into t's target or staging table, or (direct: an
 * insert_first table) straight into the target under the savepoint cs_first (direct_sql): in
 * binary format when every column has an encoder and each value was encoded (see batch_int.h);
 * otherwise as text, whose values PostgreSQL then judges itself.
 */
static int copy_range(cs_batch_t *b, tbl_t *t, cs_db_t *db, const char *data, size_t a, size_t z,
                      bool direct, cs_err_t *err)
{
    const char *copy_sql = direct ? t->direct_sql : t->copy_sql;
    int bad_col;
    if (t->binary && !b->copy_text) {
        if (cs__bin_rows(&b->bin, t->bin_types, t->ncols, data + a, data + z, b->bin_scratch,
                         &bad_col) == 0) {
            copy_sql = direct ? t->direct_bin_sql : t->copy_bin_sql;
            b->copy_binary++;
            data = b->bin.data;
            a = 0;
            z = b->bin.len;
        } else {
            b->copy_declined++;
        }
    }
    if (cs_db_copy_begin(db, copy_sql, err) < 0)
        return copy_failed(t, err);
    /* Send in chunks of at most 1 MiB so libpq's output buffer stays small. */
    int put_failed = 0;
    for (size_t off = a; off < z;) {
        size_t n = z - off > (1u << 20) ? (1u << 20) : z - off;
        if (cs_db_copy_put(db, data + off, n, err) < 0) {
            put_failed = 1;
            break;
        }
        off += n;
    }
    /* A large binary stream is not kept for the next table or batch (a worker has two
     * batches, and the text rows are what it must hold anyway). */
    if (b->bin.cap > BIN_KEEP_MAX)
        cs_buf_fini(&b->bin);
    cs_err_t end_err;
    cs_err_clear(&end_err);
    if (cs_db_copy_end(db, put_failed ? &end_err : err) < 0 || put_failed)
        return copy_failed(t, err);
    return 0;
}

/*
 * insert_first, where the session may COPY into the target (t->direct): the rows [a, z) COPYd
 * straight into it under the savepoint cs_first. Returns 1 when they are stored; 0 when that COPY
 * was rolled back to the savepoint: a key stored after all or twice in the range (23505,
 * *conflict: take the upsert), or the COPY refused (0A000: row-level security turned on since
 * prepare, see build_first_sql; staged from now on); -1 with err otherwise.
 */
static int first_direct(cs_batch_t *b, tbl_t *t, cs_db_t *db, const char *data, size_t a, size_t z,
                        bool *conflict, cs_err_t *err)
{
    if (copy_range(b, t, db, data, a, z, true, err) == 0) {
        b->first_inserted++;
        return 1;
    }
    *conflict = !strcmp(err->sqlstate, "23505");
    if (!*conflict && strcmp(err->sqlstate, "0A000") != 0)
        return -1;
    t->direct = *conflict;
    cs_err_clear(err);
    if (cs_db_exec(db, "ROLLBACK TO SAVEPOINT cs_first; RELEASE SAVEPOINT cs_first", err) < 0)
        return cs_err_wrap(err, "copy into %s", t->def->table);
    return 0;
}

/*
 * insert_first, staged: the plain INSERT from the staging table, which it empties (truncate: by
 * TRUNCATE). Returns 1 when it ran; 0 when a key stored after all or twice (23505) rolled it back
 * to the savepoint (the staged rows stay for the upsert); -1 with err otherwise.
 */
static int first_staged(tbl_t *t, cs_db_t *db, bool truncate, cs_err_t *err)
{
    if (cs_db_exec(db, truncate ? t->first_trunc_sql : t->first_sql, err) == 0)
        return 1;
    if (strcmp(err->sqlstate, "23505") != 0)
        return cs_err_wrap(err, "insert into %s", t->def->table);
    cs_err_clear(err);
    if (cs_db_exec(db, "ROLLBACK TO SAVEPOINT cs_first; RELEASE SAVEPOINT cs_first", err) < 0)
        return cs_err_wrap(err, "insert into %s", t->def->table);
    return 0;
}

int cs_batch_flush(cs_batch_t *b, cs_db_t *db, int from, int to, bool isolate, cs_err_t *err)
{
    (void)isolate; /* every flush empties the staging tables, an isolated range's too */
    for (int i = 0; i < b->nt; i++) {
        tbl_t *t = &b->t[i];
        size_t a = row_bytes(t, from), z = row_bytes(t, to);
        if (z <= a)
            continue;
        size_t nrows = range_rows(t, from, to);
        const char *data = fold_range(t, &a, &z, &nrows);
        if (nrows <= b->array_max) {
            /* Small: one statement per table, no COPY and no staging round trips. */
            if (flush_arrays(t, db, data, a, z, nrows, err) < 0)
                return -1;
            continue;
        }
        /* Rows believed new (insert_first): straight into the target where the session may. */
        bool conflict = false;
        int rc = t->direct ? first_direct(b, t, db, data, a, z, &conflict, err) : 0;
        if (rc != 0) {
            if (rc < 0)
                return -1;
            continue;
        }
        if (copy_range(b, t, db, data, a, z, false, err) < 0)
            return -1;
        if (!t->merge_sql)
            continue;
        if (t->parent_sql && cs_db_exec(db, t->parent_sql, err) < 0)
            return cs_err_wrap(err, "inserting parent rows into %s", t->def->parent_table);
        /* The merge, then the staging table emptied (see "Staging" above). */
        t->staged_bytes += (z - a) + nrows * STAGE_ROW_OVERHEAD;
        bool truncate = t->staged_bytes >= STAGE_TRUNCATE_BYTES;
        /* Rows believed new, staged: a plain INSERT, unless a conflict is known already. */
        rc = t->first_sql && !conflict ? first_staged(t, db, truncate, err) : 0;
        if (rc < 0)
            return -1;
        if (rc == 0) {
            if (t->first_sql)
                b->first_fell_back++;
            if (cs_db_exec(db, truncate ? t->trunc_sql : t->clear_sql, err) < 0)
                return cs_err_wrap(err, "upsert into %s", t->def->table);
        } else {
            b->first_inserted++;
        }
        if (truncate)
            t->staged_bytes = 0;
    }
    return 0;
}

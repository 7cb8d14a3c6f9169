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
 * cs_stage_<i> ON COMMIT DELETE ROWS with the declared columns (typed like the target's) and an
 * identity column _cs_seq that records append order. The merge statements are built once:
 * INSERT .. SELECT from staging .. ON CONFLICT, with the staged rows folded per key first for
 * CS_MERGE_AGGREGATE (a subquery sorted by key and presort, optionally with window columns over
 * each key's rows, grouped by key), and a parent-row insert before it when the table declares
 * one. Everything here belongs to one batch: no global state, so batches of several threads or
 * connections never share anything.
 */
#include "cs/batch.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/db.h"

typedef struct tbl {
    const cs_table_def_t *def;
    int ncols;
    cs_buf_t rows;
    size_t nrows;
    size_t *ev_end;  /* bytes of rows at the end of event i */
    size_t mark_len; /* rows.len when the current event began */
    size_t mark_rows;
    char *copy_sql;   /* COPY target (cols) FROM STDIN */
    char *stage_sql;  /* CREATE TEMP TABLE ...; NULL for plain append */
    char *merge_sql;  /* the upsert from staging; NULL for plain append */
    char *parent_sql; /* the parent rows' insert from staging, or NULL */
    char *clear_sql;  /* DELETE FROM staging */
} tbl_t;

struct cs_batch {
    tbl_t *t;
    int nt;
    int ev_cap;
    int cur_ev;   /* the event rows are appended for, -1 before the first mark */
    int row_tbl;  /* table of the row in progress, -1 when none */
    int row_cols; /* values given so far in the row in progress */
    int row_err;  /* a value was given outside a row */
    cs_arena_t *arena;
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

static void build_sql(tbl_t *t, int idx)
{
    const cs_table_def_t *d = t->def;
    cs_buf_t b = CS_BUF_INIT;
    char stage[32];

    snprintf(stage, sizeof stage, "cs_stage_%d", idx);
    /* The columns rows give values for; only an aggregate may derive more. */
    const char *staged =
        d->staged && d->merge == CS_MERGE_AGGREGATE && d->conflict ? d->staged : d->columns;
    if (!d->conflict) {
        t->copy_sql = xprintf("COPY %s (%s) FROM STDIN", d->table, d->columns);
        return;
    }
    t->copy_sql = xprintf("COPY %s (%s) FROM STDIN", stage, staged);
    t->stage_sql = xprintf(
        "CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS SELECT %s FROM %s "
        "WITH NO DATA; "
        "ALTER TABLE %s ADD COLUMN IF NOT EXISTS _cs_seq bigint GENERATED ALWAYS AS IDENTITY",
        stage, staged, d->table, stage);
    t->clear_sql = xprintf("DELETE FROM %s", stage);
    if (d->parent_table && d->parent_key)
        t->parent_sql = xprintf("INSERT INTO %s (%s) SELECT %s FROM %s GROUP BY %s ORDER BY %s "
                                "ON CONFLICT (%s) DO NOTHING",
                                d->parent_table, d->parent_key, d->parent_key, stage, d->parent_key,
                                d->parent_key, d->parent_key);

    /* The ON CONFLICT tail shared by every form. */
    cs_buf_t tail = CS_BUF_INIT;
    cs_buf_printf(&tail, " ON CONFLICT (%s) ", d->conflict);
    if (d->update) {
        cs_buf_printf(&tail, "DO UPDATE SET %s", d->update);
        if (d->update_where)
            cs_buf_printf(&tail, " WHERE %s", d->update_where);
    } else {
        cs_buf_puts(&tail, "DO NOTHING");
    }

    if (d->merge == CS_MERGE_AGGREGATE) {
        /*
         * One row per key, folded by the table's select list; one statement. Keys go in key
         * order, so concurrent batches (consumers of one group) lock shared rows in one order.
         */
        cs_buf_printf(&b, "INSERT INTO %s AS t (%s) SELECT %s FROM (SELECT *", d->table, d->columns,
                      d->aggregate ? d->aggregate : d->columns);
        if (d->window)
            cs_buf_printf(&b, ", %s", d->window);
        cs_buf_printf(&b, " FROM %s", stage);
        if (d->window)
            cs_buf_printf(&b,
                          " WINDOW w AS (PARTITION BY %s%s%s ROWS BETWEEN UNBOUNDED PRECEDING "
                          "AND UNBOUNDED FOLLOWING)",
                          d->conflict, d->presort ? " ORDER BY " : "",
                          d->presort ? d->presort : "");
        cs_buf_printf(&b, " ORDER BY %s%s%s) _cs_s GROUP BY %s ORDER BY %s%s", d->conflict,
                      d->presort ? ", " : "", d->presort ? d->presort : "", d->conflict,
                      d->conflict, tail.data);
    } else if (!d->update) {
        /* DO NOTHING tolerates several rows per key in one statement. */
        cs_buf_printf(&b, "INSERT INTO %s AS t (%s) SELECT %s FROM %s ORDER BY _cs_seq%s", d->table,
                      d->columns, d->columns, stage, tail.data);
    } else if (d->merge == CS_MERGE_LAST) {
        cs_buf_printf(&b,
                      "INSERT INTO %s AS t (%s) SELECT DISTINCT ON (%s) %s FROM %s "
                      "ORDER BY %s, _cs_seq DESC%s",
                      d->table, d->columns, d->conflict, d->columns, stage, d->conflict, tail.data);
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
}

cs_batch_t *cs_batch_new(const cs_table_def_t *tables, int ntables)
{
    cs_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    b->nt = ntables;
    b->t = calloc((size_t)(ntables ? ntables : 1), sizeof *b->t);
    if (!b->t)
        abort();
    for (int i = 0; i < ntables; i++) {
        tbl_t *t = &b->t[i];
        t->def = &tables[i];
        t->ncols = count_cols(tables[i].staged && tables[i].merge == CS_MERGE_AGGREGATE &&
                                      tables[i].conflict
                                  ? tables[i].staged
                                  : tables[i].columns);
        cs_buf_init(&t->rows);
        build_sql(t, i);
    }
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
    }
    free(b->t);
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
            b->t[i].ev_end = realloc(b->t[i].ev_end, (size_t)cap * sizeof(size_t));
            if (!b->t[i].ev_end)
                abort();
        }
        b->ev_cap = cap;
    }
    for (int e = b->cur_ev < 0 ? 0 : b->cur_ev; e < upto; e++)
        for (int i = 0; i < b->nt; i++)
            b->t[i].ev_end[e] = b->t[i].rows.len;
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
    if (out)
        cs_buf_printf(out, "%lld", v);
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
    if (!out)
        return;
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    cs_buf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
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

/* ---- flush ---- */

int cs_batch_prepare(cs_batch_t *b, cs_db_t *db, cs_err_t *err)
{
    for (int i = 0; i < b->nt; i++) {
        if (!b->t[i].stage_sql)
            continue;
        if (cs_db_exec(db, b->t[i].stage_sql, err) < 0)
            return cs_err_wrap(err, "preparing staging for %s", b->t[i].def->table);
    }
    return 0;
}

int cs_batch_flush(cs_batch_t *b, cs_db_t *db, int from, int to, bool isolate, cs_err_t *err)
{
    for (int i = 0; i < b->nt; i++) {
        tbl_t *t = &b->t[i];
        size_t a = from > 0 ? t->ev_end[from - 1] : 0;
        size_t z = to > 0 ? t->ev_end[to - 1] : 0;
        if (z <= a)
            continue;
        if (cs_db_copy_begin(db, t->copy_sql, err) < 0)
            return cs_err_wrap(err, "copy into %s", t->def->table);
        /* Send in chunks of at most 1 MiB so libpq's output buffer stays small. */
        int put_failed = 0;
        for (size_t off = a; off < z;) {
            size_t n = z - off > (1u << 20) ? (1u << 20) : z - off;
            if (cs_db_copy_put(db, t->rows.data + off, n, err) < 0) {
                put_failed = 1;
                break;
            }
            off += n;
        }
        cs_err_t end_err;
        cs_err_clear(&end_err);
        if (cs_db_copy_end(db, put_failed ? &end_err : err) < 0 || put_failed)
            return cs_err_wrap(err, "copy into %s", t->def->table);
        if (!t->merge_sql)
            continue;
        if (t->parent_sql && cs_db_exec(db, t->parent_sql, err) < 0)
            return cs_err_wrap(err, "inserting parent rows into %s", t->def->parent_table);
        if (cs_db_exec(db, t->merge_sql, err) < 0)
            return cs_err_wrap(err, "upsert into %s", t->def->table);
        if (isolate && cs_db_exec(db, t->clear_sql, err) < 0)
            return cs_err_wrap(err, "clearing staging of %s", t->def->table);
    }
    return 0;
}

/*
 * libcore/src/worker_redrive.c
 *      Dead-letter re-drive: `cs-<worker> redrive`, a mode of the worker runtime that runs the
 *      worker's dead letters through its handlers again once their cause is fixed.
 *
 * cs_worker_main hands `<worker> redrive ...` here. The rows are the worker's dead_letters (read
 * through worker_dead_letters, so a worker role sees its own groups' only), unresolved, chosen by
 * the filters, in id order, batch-size rows per transaction. Each batch goes through the
 * synchronous path of live events (worker_txn.c: decode with the worker's decoder, BEGIN, the
 * effect ledger and the erased check, handlers, tables with the failing events isolated under
 * savepoints) with two hooks: right after BEGIN the rows are locked FOR UPDATE SKIP LOCKED
 * (cs__worker_redrive_lock: a row another re-drive holds, or resolved meanwhile, is set aside),
 * and instead of recording dead letters and moving offsets the transaction records each row's
 * outcome (cs__worker_redrive_settle): applied, duplicate (already applied in the effect scope)
 * and erased (learner erased since: payload, key and reasons dropped) resolve it; a failure keeps
 * it, with the new reason and one more attempt. Nothing is published to a .dlq topic and no new
 * dead_letters row is made. Rows recorded for an erased learner (no payload) are marked resolved
 * as erased without being applied. The loop guard: a row with redrive_attempts >= --max-attempts
 * is skipped (exhausted) unless named with --id and --force.
 */
#include <stdlib.h>
#include <unistd.h>

#include "cs/text.h"
#include "worker_int.h"

static const char *const error_classes[] = {"decode", "validation", "handler", "database", NULL};

static const cs_opt_t redrive_opts[] = {
    {"error-class", CS_OPT_ENUM, NULL, "only dead letters of this error class", 0, 0,
     error_classes},
    {"topic", CS_OPT_STRING, NULL, "only dead letters of this original topic"},
    {"event-type", CS_OPT_STRING, NULL, "only dead letters of this event type"},
    {"since", CS_OPT_STRING, NULL,
     "only dead letters recorded at or after this time (a PostgreSQL timestamptz, e.g. "
     "2026-11-01T00:00Z)"},
    {"until", CS_OPT_STRING, NULL, "only dead letters recorded before this time"},
    {"id", CS_OPT_STRING, NULL, "only these dead letters, by dead_letters.id: N[,M...]"},
    {"limit", CS_OPT_INT, "0", "dead letters to look at, at most (0: no limit)", 0, 1000000000},
    {"max-attempts", CS_OPT_INT, "3",
     "loop guard: a dead letter re-driven this many times is skipped (exhausted) unless named "
     "with --id and --force",
     1, 1000000},
    {"force", CS_OPT_BOOL, "false", "re-drive the dead letters named by --id even when exhausted"},
    {"dry-run", CS_OPT_BOOL, "false", "list what would be re-driven and write nothing"},
    {"json", CS_OPT_BOOL, "false", "print the final report as one JSON object"},
    {NULL},
};

#define REDRIVE_USAGE                                                                              \
    "redrive: re-drives the worker's dead letters through its handlers once their cause is fixed " \
    "(the same transaction as live events, without consumer offsets); a success resolves the "     \
    "row, a failure keeps it with the new reason and one more attempt."

/* What became of a row. */
enum outcome {
    O_APPLIED,
    O_DUPLICATE,
    O_FAILED,
    O_EXHAUSTED, /* the loop guard: not re-driven */
    O_ERASED,
    O_BUSY,  /* another re-drive holds it, or it was resolved meanwhile: not re-driven */
    O_WOULD, /* --dry-run: would be re-driven */
    O__COUNT
};
static const char *const outcome_names[] = {"applied", "duplicate", "still_failing", "exhausted",
                                            "erased",  "busy",      "would_redrive"};

struct cs__worker_redrive {
    cs__worker_redrive_filter_t f;
    bool dry_run, json;
    char started[64]; /* the database's clock when the run started */
    /* the batch in hand: dead_letters.id of pending[i], and whether another holds the row */
    int64_t *ids;
    bool *busy;
    int cap;
    long long selected, counts[O__COUNT];
    cs_buf_t rows; /* --json: the rows' outcomes; text: nothing */
    cs_buf_t sql, a[6];
};

/* ---- options ---- */

int cs__worker_redrive_parse_ids(const char *s, int64_t **ids, int *n, cs_err_t *err)
{
    *ids = NULL, *n = 0;
    const char *p = s;
    while (p && *p) {
        char *end;
        if (*p < '0' || *p > '9')
            goto bad;
        long long v = strtoll(p, &end, 10);
        if (v <= 0 || (*end != ',' && *end != '\0'))
            goto bad;
        *ids = cs_mem_realloc(*ids, (size_t)(*n + 1) * sizeof **ids);
        (*ids)[(*n)++] = v;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            goto bad;
    }
    if (*n == 0)
        goto bad;
    return 0;
bad:
    free(*ids);
    *ids = NULL, *n = 0;
    return cs_err_set_field(err, CS_ERR_FATAL, "id",
                            "--id: '%s' is not a list of dead letter ids (N[,M...], each > 0)",
                            s ? s : "");
}

int cs__worker_redrive_check(cs__worker_redrive_filter_t *f, const char *ids, cs_err_t *err)
{
    if (ids && cs__worker_redrive_parse_ids(ids, &f->ids, &f->nids, err) < 0)
        return -1;
    if (f->force && f->nids == 0)
        return cs_err_set_field(err, CS_ERR_FATAL, "force",
                                "--force re-drives only dead letters named by --id");
    if (f->max_attempts < 1)
        return cs_err_set_field(err, CS_ERR_FATAL, "max-attempts", "--max-attempts must be >= 1");
    return 0;
}

/*
 * The selection: the worker's unresolved rows after id $2, by the filters, in id order, at most
 * $3. Parameters: $1 worker, $2 after, $3 rows, then those of the filters set (values[]).
 */
int cs__worker_redrive_select_sql(const cs__worker_redrive_filter_t *f, cs_buf_t *sql,
                                  cs_buf_t *ids, const char **values)
{
    int n = 3;
    cs_buf_reset(sql);
    cs_buf_puts(sql, "SELECT id, topic, kafka_partition, kafka_offset, "
                     "coalesce((extract(epoch FROM msg_timestamp) * 1000)::bigint, -1), "
                     "encode(msg_key, 'hex'), encode(payload, 'hex'), event_type, error_class, "
                     "redrive_attempts, reason, erased OR payload IS NULL "
                     "FROM worker_dead_letters WHERE worker = $1 AND resolved_at IS NULL "
                     "AND id > $2::bigint");
    /* each: the condition up to its parameter's number, the cast after it, the value */
    const char *conds[][3] = {{" AND error_class = $", "", f->error_class},
                              {" AND topic = $", "", f->topic},
                              {" AND event_type = $", "", f->event_type},
                              {" AND created_at >= $", "::timestamptz", f->since},
                              {" AND created_at < $", "::timestamptz", f->until}};
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
        if (!conds[i][2] || !*conds[i][2])
            continue;
        values[n] = conds[i][2];
        cs_buf_printf(sql, "%s%d%s", conds[i][0], ++n, conds[i][1]);
    }
    if (f->nids) {
        arr_begin(ids);
        for (int i = 0; i < f->nids; i++)
            arr_int(ids, f->ids[i]);
        arr_end(ids);
        values[n] = ids->data;
        cs_buf_printf(sql, " AND id = ANY($%d::bigint[])", ++n);
    }
    cs_buf_puts(sql, " ORDER BY id LIMIT $3::int");
    return n;
}

/* --since and --until must be times PostgreSQL reads; 0, or -1 with err naming the option. */
static int check_times(cs_worker_t *w, const cs__worker_redrive_filter_t *f, cs_err_t *err)
{
    const char *opts[] = {"since", "until"}, *vals[] = {f->since, f->until};
    for (int i = 0; i < 2; i++) {
        if (!vals[i])
            continue;
        cs_db_res_t *res = cs_db_query(w->db, "SELECT $1::timestamptz", 1, &vals[i], err);
        if (!res) {
            cs_err_t e = *err;
            return cs_err_set_field(err, CS_ERR_FATAL, opts[i], "--%s: '%s' is not a time: %s",
                                    opts[i], vals[i], e.msg);
        }
        cs_db_res_free(res);
    }
    return 0;
}

static int read_opts(cs_worker_t *w, cs__worker_redrive_t *r, cs_err_t *err)
{
    cs__worker_redrive_filter_t *f = &r->f;
    f->error_class = cs_config_str(w->cfg, "error-class");
    f->topic = cs_config_str(w->cfg, "topic");
    f->event_type = cs_config_str(w->cfg, "event-type");
    f->since = cs_config_str(w->cfg, "since");
    f->until = cs_config_str(w->cfg, "until");
    f->limit = cs_config_int(w->cfg, "limit");
    f->max_attempts = cs_config_int(w->cfg, "max-attempts");
    f->force = cs_config_bool(w->cfg, "force");
    r->dry_run = cs_config_bool(w->cfg, "dry-run");
    r->json = cs_config_bool(w->cfg, "json");
    return cs__worker_redrive_check(f, cs_config_str(w->cfg, "id"), err);
}

/* ---- the transaction's hooks (worker_txn.c) ---- */

int cs__worker_redrive_lock(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    cs__worker_redrive_t *r = w->redrive;
    cs_buf_t *ids = &r->a[0];
    char force[2] = {r->f.force ? 't' : 'f', '\0'}, max[CS_TEXT_INT_BYTES];
    cs_text_i64(max, r->f.max_attempts);
    arr_begin(ids);
    for (int i = 0; i < s->n; i++)
        arr_int(ids, r->ids[i]);
    arr_end(ids);
    const char *params[] = {ids->data, force, max, r->started};
    /* A row another re-drive holds, resolved or re-driven since this run started, is left. */
    cs_db_res_t *res =
        cs_db_query(w->db,
                    "SELECT id FROM worker_dead_letters WHERE id = ANY($1::bigint[]) "
                    "AND resolved_at IS NULL AND ($2::boolean OR redrive_attempts < $3::int) "
                    "AND (last_redrive_at IS NULL OR last_redrive_at < $4::timestamptz) "
                    "FOR UPDATE SKIP LOCKED",
                    4, params, err);
    if (!res)
        return cs_err_wrap(err, "locking the dead letters to re-drive");
    for (int i = 0; i < s->n; i++)
        r->busy[i] = true;
    for (int k = 0; k < cs_db_res_rows(res); k++) {
        int64_t id = strtoll(cs_db_res_get(res, k, 0), NULL, 10);
        for (int i = 0; i < s->n; i++)
            if (r->ids[i] == id)
                r->busy[i] = false;
    }
    cs_db_res_free(res);
    cs_err_t taken;
    cs_err_set(&taken, CS_ERR_PERMANENT,
               "taken by another re-drive, or resolved or re-driven since this run started");
    for (int i = 0; i < s->n; i++)
        if (r->busy[i] && s->items[i].state != IT_DEAD)
            cs__worker_item_dead(s, &s->items[i], "busy", &taken);
    return 0;
}

static void arr_text(cs_buf_t *b, const char *s)
{
    if (s && *s) {
        arr_str(b, s);
    } else {
        arr_sep(b);
        cs_buf_puts(b, "NULL");
    }
}

static const char SETTLE_SQL[] =
    "UPDATE worker_dead_letters d SET redrive_attempts = d.redrive_attempts + 1, "
    "last_redrive_at = clock_timestamp(), "
    "resolved_at = CASE WHEN r.outcome = 'failed' THEN NULL ELSE now() END, "
    "resolved_by = CASE WHEN r.outcome = 'failed' THEN NULL ELSE 'redrive' END, "
    "resolution = NULLIF(r.outcome, 'failed'), "
    "first_error_class = coalesce(d.first_error_class, d.error_class), "
    "first_reason = CASE WHEN r.outcome = 'erased' THEN NULL "
    "ELSE coalesce(d.first_reason, d.reason) END, "
    "error_class = coalesce(r.error_class, d.error_class), "
    "reason = CASE WHEN r.outcome = 'erased' THEN $7 ELSE coalesce(r.reason, d.reason) END, "
    "field = CASE WHEN r.outcome = 'failed' THEN r.field ELSE d.field END, "
    "sqlstate = CASE WHEN r.outcome = 'failed' THEN r.sqlstate ELSE d.sqlstate END, "
    "payload = CASE WHEN r.outcome = 'erased' THEN NULL ELSE d.payload END, "
    "msg_key = CASE WHEN r.outcome = 'erased' THEN NULL ELSE d.msg_key END, "
    "erased = d.erased OR r.outcome = 'erased', "
    "redrive_history = CASE WHEN r.outcome = 'erased' THEN coalesce((SELECT jsonb_agg(e - "
    "'reason') FROM jsonb_array_elements(d.redrive_history) e), '[]'::jsonb) "
    "ELSE d.redrive_history END || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object('at', "
    "now(), 'outcome', r.outcome, 'error_class', r.error_class, 'reason', r.reason, 'sqlstate', "
    "r.sqlstate))) "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
    "AS r(id, outcome, error_class, reason, field, sqlstate) WHERE d.id = r.id";

/* The outcome of item i, as the settle statement and the report name it. */
static enum outcome item_outcome(const cs__worker_redrive_t *r, const stage_t *s, int i)
{
    if (r->busy[i])
        return O_BUSY;
    switch (s->items[i].state) {
    case IT_NEW:
        return O_APPLIED;
    case IT_DUP:
        return O_DUPLICATE;
    case IT_ERASED:
        return O_ERASED;
    default:
        return O_FAILED;
    }
}

int cs__worker_redrive_settle(cs__worker_redrive_t *r, cs_db_t *db, const stage_t *s, cs_err_t *err)
{
    static const char *const sql_outcome[] = {"applied", "duplicate", "failed", "",
                                              "erased",  "",          ""};
    int n = 0;
    for (int k = 0; k < 6; k++)
        arr_begin(&r->a[k]);
    for (int i = 0; i < s->n; i++) {
        enum outcome o = item_outcome(r, s, i);
        if (o == O_BUSY)
            continue;
        const item_t *it = &s->items[i];
        bool failed = o == O_FAILED;
        arr_int(&r->a[0], r->ids[i]);
        arr_str(&r->a[1], sql_outcome[o]);
        arr_text(&r->a[2], failed ? it->dead_class : NULL);
        arr_text(&r->a[3], failed ? it->err->msg : NULL);
        arr_text(&r->a[4], failed ? it->err->field : NULL);
        arr_text(&r->a[5], failed ? it->err->sqlstate : NULL);
        n++;
    }
    for (int k = 0; k < 6; k++)
        arr_end(&r->a[k]);
    if (n == 0)
        return 0;
    const char *params[] = {r->a[0].data, r->a[1].data, r->a[2].data,        r->a[3].data,
                            r->a[4].data, r->a[5].data, CS_DLQ_ERASED_REASON};
    long long got = cs_db_execp(db, SETTLE_SQL, 7, params, err);
    if (got < 0)
        return cs_err_wrap(err, "recording the re-driven dead letters' outcome");
    if (got != n)
        return cs_err_set(err, CS_ERR_FATAL,
                          "re-drive: %lld dead letters updated, expected %d (rows locked)", got, n);
    return 0;
}

/* ---- the report ---- */

static void report_row(cs__worker_redrive_t *r, const char *id, enum outcome o, const char *cls,
                       const char *reason)
{
    r->counts[o]++;
    if (!r->json) {
        printf("%s\t%s%s%s%s%s\n", id, outcome_names[o], cls ? "\t" : "", cls ? cls : "",
               reason ? "\t" : "", reason ? reason : "");
        return;
    }
    cs_buf_printf(&r->rows, "%s{\"id\":%s,\"outcome\":\"%s\"", r->rows.len ? "," : "", id,
                  outcome_names[o]);
    if (cls) {
        cs_buf_puts(&r->rows, ",\"error_class\":");
        cs_text_json_str(&r->rows, cls, strlen(cls), CS_TEXT_JSON);
    }
    if (reason) {
        cs_buf_puts(&r->rows, ",\"reason\":");
        cs_text_json_str(&r->rows, reason, strlen(reason), CS_TEXT_JSON);
    }
    cs_buf_putc(&r->rows, '}');
}

static void report_final(cs__worker_redrive_t *r, const char *worker)
{
    if (r->json) {
        printf("{\"worker\":\"%s\",\"dry_run\":%s,\"selected\":%lld", worker,
               r->dry_run ? "true" : "false", r->selected);
        for (int o = 0; o < O__COUNT; o++)
            printf(",\"%s\":%lld", outcome_names[o], r->counts[o]);
        printf(",\"rows\":[%.*s]}\n", (int)r->rows.len, r->rows.data ? r->rows.data : "");
    } else if (r->dry_run) {
        printf("%s: dry run, nothing written: selected %lld, would re-drive %lld, exhausted "
               "(skipped) %lld, erased %lld\n",
               worker, r->selected, r->counts[O_WOULD], r->counts[O_EXHAUSTED],
               r->counts[O_ERASED]);
    } else {
        printf("%s: selected %lld, applied %lld, duplicate %lld, still failing %lld, exhausted "
               "(skipped) %lld, erased %lld, busy (skipped) %lld\n",
               worker, r->selected, r->counts[O_APPLIED], r->counts[O_DUPLICATE],
               r->counts[O_FAILED], r->counts[O_EXHAUSTED], r->counts[O_ERASED], r->counts[O_BUSY]);
    }
    fflush(stdout);
}

/* ---- the batches ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0;
}

static size_t unhex(char *out, const char *hex)
{
    size_t n = hex ? strlen(hex) / 2 : 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    return n;
}

/* A message as the consumer would have delivered it, from row k of a selection (one block). */
static cs_msg_t *row_msg(const cs_db_res_t *res, int k)
{
    const char *topic = cs_db_res_get(res, k, 1), *key = cs_db_res_get(res, k, 5),
               *payload = cs_db_res_get(res, k, 6);
    size_t tl = strlen(topic), kl = key ? strlen(key) / 2 : 0,
           pl = payload ? strlen(payload) / 2 : 0;
    cs_msg_t *m = cs_mem_calloc(1, sizeof *m + tl + 1 + kl + pl + 1);
    char *p = (char *)(m + 1);
    m->topic = memcpy(p, topic, tl + 1);
    p += tl + 1;
    m->partition = (int)strtol(cs_db_res_get(res, k, 2), NULL, 10);
    m->offset = strtoll(cs_db_res_get(res, k, 3), NULL, 10);
    m->timestamp_ms = strtoll(cs_db_res_get(res, k, 4), NULL, 10);
    m->key = key ? p : NULL;
    m->key_len = unhex(p, key);
    p += kl;
    m->payload = p;
    m->len = unhex(p, payload);
    m->err.msg = "";
    return m;
}

static void batch_reserve(cs_worker_t *w, cs__worker_redrive_t *r, int n)
{
    if (r->cap >= n)
        return;
    r->cap = n;
    r->ids = cs_mem_realloc(r->ids, (size_t)n * sizeof *r->ids);
    r->busy = cs_mem_realloc(r->busy, (size_t)n * sizeof *r->busy);
    w->pending = cs_mem_realloc(w->pending, (size_t)n * sizeof *w->pending);
    w->cappending = n;
}

static void batch_free(cs_worker_t *w)
{
    for (int i = 0; i < w->npending; i++)
        free(w->pending[i]);
    w->npending = 0;
}

/* Runs the batch in pending; transient failures are retried with a backoff, up to 8 times. */
static int batch_apply(cs_worker_t *w, cs__worker_redrive_t *r, cs_err_t *err)
{
    stage_t *s = cs__worker_sync_stage(w);
    long long wait_ms = w->retry_initial_ms;
    for (int attempt = 0;; attempt++) {
        w->attempt = attempt;
        int rc = cs__worker_apply_isolating(w, s, w->npending, false, err);
        if (rc == APPLY_OK)
            break;
        if (err->kind != CS_ERR_TRANSIENT || attempt >= 8)
            return -1;
        cs_log_warn("re-drive batch failed; retrying", CS_LS("reason", err->msg),
                    CS_LI("attempt", attempt + 1), CS_LI("wait_ms", wait_ms));
        usleep((useconds_t)wait_ms * 1000);
        wait_ms = wait_ms * 2 < w->retry_max_ms ? wait_ms * 2 : w->retry_max_ms;
    }
    for (int i = 0; i < s->n; i++) {
        char id[CS_TEXT_INT_BYTES];
        cs_text_i64(id, r->ids[i]);
        enum outcome o = item_outcome(r, s, i);
        const item_t *it = &s->items[i];
        bool failed = o == O_FAILED;
        report_row(r, id, o, failed ? it->dead_class : NULL, failed ? it->err->msg : NULL);
    }
    if (cs__worker_outbox_rows(w, s))
        cs__worker_outbox_kick(w);
    /* The worker's own bookkeeping after a commit (cs-audit: chain heads written, anchors). */
    if (w->def->committed)
        w->def->committed(w->ud, s->n);
    return 0;
}

/* Rows recorded for an erased learner (no payload): resolved as erased, never applied. */
static int settle_erased(cs_worker_t *w, cs__worker_redrive_t *r, const cs_buf_t *ids,
                         cs_err_t *err)
{
    const char *params[] = {ids->data, CS_DLQ_ERASED_REASON};
    cs_db_res_t *res =
        cs_db_query(w->db,
                    "UPDATE worker_dead_letters SET redrive_attempts = redrive_attempts + 1, "
                    "last_redrive_at = now(), resolved_at = now(), resolved_by = 'redrive', "
                    "resolution = 'erased', erased = true, payload = NULL, msg_key = NULL, "
                    "reason = $2, redrive_history = redrive_history || jsonb_build_array("
                    "jsonb_build_object('at', now(), 'outcome', 'erased')) "
                    "WHERE id = ANY($1::bigint[]) AND resolved_at IS NULL RETURNING id",
                    2, params, err);
    if (!res)
        return cs_err_wrap(err, "resolving the dead letters of erased learners");
    for (int k = 0; k < cs_db_res_rows(res); k++)
        report_row(r, cs_db_res_get(res, k, 0), O_ERASED, NULL, NULL);
    cs_db_res_free(res);
    return 0;
}

/* Sorts row k of a selection: erased, exhausted, or into the batch (pending). */
static void take_row(cs_worker_t *w, cs__worker_redrive_t *r, const cs_db_res_t *res, int k,
                     cs_buf_t *erased)
{
    const char *id = cs_db_res_get(res, k, 0);
    bool is_erased = cs_db_res_get(res, k, 11)[0] == 't';
    long long attempts = strtoll(cs_db_res_get(res, k, 9), NULL, 10);
    bool exhausted = !is_erased && attempts >= r->f.max_attempts && !r->f.force;
    if (r->dry_run) {
        const char *et = cs_db_res_get(res, k, 7);
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%lld\t%s\t%s\n", id, cs_db_res_get(res, k, 1),
               cs_db_res_get(res, k, 2), cs_db_res_get(res, k, 3), et ? et : "-",
               cs_db_res_get(res, k, 8), attempts, cs_db_res_get(res, k, 10),
               is_erased   ? "erased"
               : exhausted ? "exhausted"
                           : "would_redrive");
        r->counts[is_erased ? O_ERASED : exhausted ? O_EXHAUSTED : O_WOULD]++;
        return;
    }
    if (is_erased) {
        arr_str(erased, id);
        return;
    }
    if (exhausted) {
        report_row(r, id, O_EXHAUSTED, NULL, NULL);
        return;
    }
    cs__worker_part_get(w, cs_db_res_get(res, k, 1),
                        (int)strtol(cs_db_res_get(res, k, 2), NULL, 10));
    r->ids[w->npending] = strtoll(id, NULL, 10);
    r->busy[w->npending] = false;
    w->pending[w->npending++] = row_msg(res, k);
}

/* One selection of up to want rows after *after: sorted, erased rows resolved, the batch run.
 * Returns the rows selected (0: none left) or -1 with err. */
static int redrive_round(cs_worker_t *w, cs__worker_redrive_t *r, int64_t *after, int want,
                         cs_err_t *err)
{
    const char *values[10];
    char aft[CS_TEXT_INT_BYTES], lim[CS_TEXT_INT_BYTES];
    cs_text_i64(aft, *after);
    cs_text_i64(lim, want);
    values[0] = w->def->name, values[1] = aft, values[2] = lim;
    int nv = cs__worker_redrive_select_sql(&r->f, &r->sql, &r->a[1], values);
    cs_db_res_t *res = cs_db_query(w->db, r->sql.data, nv, values, err);
    if (!res)
        return cs_err_wrap(err, "selecting the dead letters to re-drive");
    int rows = cs_db_res_rows(res);
    batch_reserve(w, r, rows);
    arr_begin(&r->a[2]);
    for (int k = 0; k < rows; k++) {
        *after = strtoll(cs_db_res_get(res, k, 0), NULL, 10);
        take_row(w, r, res, k, &r->a[2]);
    }
    arr_end(&r->a[2]);
    cs_db_res_free(res);
    r->selected += rows;
    int rc = 0;
    if (!r->dry_run && r->a[2].len > 2)
        rc = settle_erased(w, r, &r->a[2], err);
    if (rc == 0 && w->npending > 0)
        rc = batch_apply(w, r, err);
    batch_free(w);
    return rc < 0 ? -1 : rows;
}

static int redrive_run(cs_worker_t *w, cs__worker_redrive_t *r, cs_err_t *err)
{
    int64_t after = 0;
    if (r->dry_run)
        printf("id\ttopic\tpartition\toffset\tevent_type\terror_class\tattempts\treason\taction\n");
    for (;;) {
        long long want = w->batch_size;
        if (r->f.limit > 0 && r->f.limit - r->selected < want)
            want = r->f.limit - r->selected;
        if (want <= 0)
            return 0;
        int got = redrive_round(w, r, &after, (int)want, err);
        if (got <= 0)
            return got;
    }
}

static void redrive_free(cs__worker_redrive_t *r)
{
    free(r->f.ids);
    free(r->ids);
    free(r->busy);
    cs_buf_fini(&r->rows);
    cs_buf_fini(&r->sql);
    for (int k = 0; k < 6; k++)
        cs_buf_fini(&r->a[k]);
}

/* Connects and opens what the handlers need; 0, or an exit code after saying why. */
static int redrive_open(cs_worker_t *w, cs__worker_redrive_t *r, cs_err_t *err)
{
    const char *dsn = cs_config_str(w->cfg, "pg-dsn");
    if (!dsn || !*dsn) {
        fprintf(stderr, "%s redrive: --pg-dsn (CS_PG_DSN) is required\n", w->def->name);
        return 2;
    }
    const char *brokers = cs_config_str(w->cfg, "kafka-brokers");
    if (w->def->outbox && !r->dry_run && (!brokers || !*brokers)) {
        fprintf(stderr,
                "%s redrive: --kafka-brokers (CS_KAFKA_BROKERS) is required (the "
                "worker's derived events are published)\n",
                w->def->name);
        return 2;
    }
    if (cs__worker_open_offline(w, err) < 0 || cs__worker_db_ensure(w, err) < 0)
        return 1;
    cs_db_res_t *res = cs_db_query(w->db, "SELECT clock_timestamp()::text", 0, NULL, err);
    if (!res)
        return 1;
    snprintf(r->started, sizeof r->started, "%s", cs_db_res_get(res, 0, 0));
    cs_db_res_free(res);
    if (check_times(w, &r->f, err) < 0) {
        fprintf(stderr, "%s redrive: %s\n", w->def->name, err->msg);
        return 2;
    }
    if (!r->dry_run && cs__worker_outbox_start(w, err) < 0)
        return 1;
    return 0;
}

int cs__worker_redrive_main(const cs_worker_def_t *def, int argc, char **argv)
{
    int code = 0;
    cs_err_t err;
    cs_worker_t *w =
        cs__worker_configure(def, "redrive", redrive_opts, REDRIVE_USAGE, argc, argv, &code);
    if (!w)
        return code;
    cs__worker_redrive_t r = {.f = {0}};
    cs_err_clear(&err);
    if (read_opts(w, &r, &err) < 0) {
        fprintf(stderr, "%s redrive: %s\n", def->name, err.msg);
        code = 2;
    } else if ((code = redrive_open(w, &r, &err)) == 0) {
        w->redrive = &r;
        cs_log_info("re-drive started", CS_LS("worker", def->name), CS_LS("scope", w->scope),
                    CS_LI("max_attempts", r.f.max_attempts), CS_LI("dry_run", r.dry_run));
        code = redrive_run(w, &r, &err) < 0 ? 1 : 0;
        w->redrive = NULL;
        report_final(&r, def->name);
    }
    if (code == 1)
        cs_log_error("re-drive failed", CS_LS("kind", cs_err_kind_name(err.kind)),
                     CS_LS("reason", err.msg), CS_LS("sqlstate", err.sqlstate));
    cs__worker_outbox_stop(w); /* what the batches derived is published first */
    redrive_free(&r);
    cs__worker_free(w);
    return code;
}

/*
 * libcore/src/worker_replay.c
 *      `<worker> replay`: the runtime as a replay of a range of the worker's partitions.
 *
 * cs_worker_main dispatches `cs-progress replay ...` (any worker) here. A replay is the worker
 * itself (its handlers, its tables, its effect scope) run in a mode (cs__worker_mode_t): the
 * range is resolved once and stored as a job (migration 0071: replay_jobs and
 * replay_job_partitions, worker_replay_range.c resolves it), the consumer assigns the job's
 * partitions under a group of its own, '<live group>-replay-<job>' (never the live group's,
 * never a member of any group: cs/consumer.h's assign mode), each from the position PostgreSQL
 * holds for that group (consumer_offsets, seeded with the start offsets when the job is made)
 * to its frozen end, where the consumer turns the partition's next message into an end event.
 * The runtime's drain then stops the loop once every partition is at its end. Effects, ledger
 * rows, dead letters, offsets and the job's counters (worker_txn.c) commit in each batch's one
 * transaction, so after Ctrl-C or kill -9, `--resume JOB` ends exactly where an uninterrupted
 * replay ends. Once-only handlers skip what the effect ledger (scope = the worker) already
 * holds, erased learners' events are dropped, CS_HANDLER_ALWAYS handlers recompute.
 *
 * Exit codes: 0 every partition done (or nothing to do), 1 failed (job 'failed', resumable),
 * 2 bad usage, 3 interrupted by a signal (job 'interrupted', resumable).
 */
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "cs/text.h"
#include "worker_int.h"

#define EXIT_INTERRUPTED 3

static const cs_opt_t replay_opts[] = {
    {"resume", CS_OPT_STRING, NULL,
     "continue replay job JOB (cs-replay --list) from where it stopped, to its frozen ends"},
    {"partitions", CS_OPT_STRING, NULL,
     "partitions to replay: 0,2 (those numbers of every topic) or topic:p,... (default: all)"},
    {"from-offset", CS_OPT_STRING, NULL,
     "first offset: one number for every partition or topic:p=offset,... (default: the earliest)"},
    {"to-offset", CS_OPT_STRING, NULL,
     "end offset, exclusive: one number or topic:p=offset,... (default: the high watermark at "
     "start)"},
    {"from", CS_OPT_STRING, NULL,
     "first event time, e.g. 2026-11-01T00:00Z, resolved by the broker's timestamp index"},
    {"to", CS_OPT_STRING, NULL, "end time, exclusive: the events before it (e.g. 2026-11-02)"},
    {"dry-run", CS_OPT_BOOL, "false",
     "run the handlers in each batch's transaction and roll it back: report what would change "
     "(rows per table, events per type and outcome), write nothing (no job either)"},
    {"json", CS_OPT_BOOL, "false", "write the final report as one JSON object"},
    {"progress-interval", CS_OPT_INT, "10",
     "seconds between progress log lines when stderr is not a terminal", 1, 86400},
    {NULL},
};

typedef struct replay {
    cs_db_t *db;
    long long job;
    cs__replay_part_t *parts; /* the job's partitions */
    int nparts;
    double t0;         /* monotonic start of this run */
    long long read0;   /* events_read when this run started */
    int64_t offsets0;  /* offsets already behind the job when this run started */
    ev_timer progress; /* the progress line or log */
    bool tty;
    bool was_done;  /* --resume of a job already done: nothing is changed */
    bool ready;     /* prepared: a job (or a dry run's range) to report on */
    bool signalled; /* SIGINT or SIGTERM came: the loop stopped before the ends */
    ev_signal sigint, sigterm;
    /* --dry-run: what the batches would have done (no job row holds it) */
    long long dry[5];    /* read, applied, skipped duplicate, skipped erased, dead-lettered */
    long long *dry_rows; /* per table (the worker's, then outbox_events) */
    struct dry_type {
        char *name;
        long long n[4]; /* applied, duplicate, erased, dead-lettered */
    } * dry_types;
    int ndry_types;
} replay_t;

static int usage_error(const cs_worker_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A usage error, said on stderr; returns 2 (the exit code). */
static int usage_error(const cs_worker_t *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cs-%s replay: ", w->def->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static bool given(const cs_worker_t *w, const char *opt)
{
    const char *v = cs_config_str(w->cfg, opt);
    return v && *v;
}

/* ---- the job in PostgreSQL ---- */

/* The options as given, for the job's record. */
static void options_json(const cs_worker_t *w, cs_buf_t *b)
{
    static const char *const keys[] = {"topics", "partitions", "from-offset", "to-offset",
                                       "from",   "to",         NULL};
    cs_buf_putc(b, '{');
    for (int i = 0; keys[i]; i++) {
        if (!given(w, keys[i]))
            continue;
        if (b->len > 1)
            cs_buf_putc(b, ',');
        cs_text_json_str(b, keys[i], strlen(keys[i]), CS_TEXT_JSON);
        cs_buf_putc(b, ':');
        const char *v = cs_config_str(w->cfg, keys[i]);
        cs_text_json_str(b, v, strlen(v), CS_TEXT_JSON);
    }
    cs_buf_putc(b, '}');
}

/* The job's partitions as text arrays for unnest: topics, partitions, starts, ends; then the
 * worker's topics. */
static void parts_arrays(const cs_worker_t *w, const replay_t *r, cs_buf_t a[5])
{
    for (int k = 0; k < 5; k++)
        arr_begin(&a[k]);
    for (int i = 0; i < w->ntopics; i++)
        arr_str(&a[4], w->topics[i]);
    for (int i = 0; i < r->nparts; i++) {
        arr_str(&a[0], r->parts[i].topic);
        arr_int(&a[1], r->parts[i].partition);
        arr_int(&a[2], r->parts[i].start);
        arr_int(&a[3], r->parts[i].end);
    }
    for (int k = 0; k < 5; k++)
        arr_end(&a[k]);
}

/*
 * The job, its partitions and its group's start positions, in one transaction: a job exists
 * with all of them or not at all. Its group is '<live group>-replay-<job>'.
 */
static int job_insert(cs_worker_t *w, replay_t *r, cs_err_t *err)
{
    cs_buf_t opts, a[5];
    cs_buf_init(&opts);
    for (int k = 0; k < 5; k++)
        cs_buf_init(&a[k]);
    options_json(w, &opts);
    parts_arrays(w, r, a);
    int rc = -1;
    cs_db_res_t *res = NULL;
    const char *p1[] = {w->def->name, w->scope, w->group, a[4].data, opts.data};
    if (cs_db_exec(r->db, "BEGIN", err) < 0)
        goto out;
    /* The group names the job: a placeholder first (unique: this transaction's id). */
    res = cs_db_query(r->db,
                      "INSERT INTO replay_jobs (worker, effect_scope, consumer_group, topics, "
                      "options) VALUES ($1, $2, $3 || '-replay-new-' || txid_current(), "
                      "$4::text[], $5::jsonb) RETURNING job_id, $3 || '-replay-' || job_id",
                      5, p1, err);
    if (!res)
        goto fail;
    r->job = strtoll(cs_db_res_get(res, 0, 0), NULL, 10);
    free(w->group);
    w->group = cs_mem_strdup(cs_db_res_get(res, 0, 1));
    char job[CS_TEXT_INT_BYTES];
    cs_text_i64(job, r->job);
    const char *p3[] = {job, w->group};
    if (cs_db_execp(r->db, "UPDATE replay_jobs SET consumer_group = $2 WHERE job_id = $1::bigint",
                    2, p3, err) < 0)
        goto fail;
    const char *p2[] = {job, w->group, a[0].data, a[1].data, a[2].data, a[3].data};
    if (cs_db_execp(r->db,
                    "WITH v AS (SELECT * FROM unnest($3::text[], $4::int[], $5::bigint[], "
                    "$6::bigint[]) AS v(t, p, s, e)), "
                    "jp AS (INSERT INTO replay_job_partitions (job_id, topic, kafka_partition, "
                    "start_offset, end_offset) SELECT $1::bigint, t, p, s, e FROM v) "
                    "INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition, "
                    "next_offset) SELECT $2, t, p, s FROM v",
                    6, p2, err) < 0 ||
        cs_db_exec(r->db, "COMMIT", err) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    if (cs_db_ok(r->db)) {
        cs_err_t e;
        cs_db_exec(r->db, "ROLLBACK", &e);
    }
out:
    cs_db_res_free(res);
    cs_buf_fini(&opts);
    for (int k = 0; k < 5; k++)
        cs_buf_fini(&a[k]);
    return rc;
}

/* A new job: the range from the options and the broker, then its rows. */
static int job_new(cs_worker_t *w, replay_t *r)
{
    cs_err_t err;
    cs__replay_spec_t spec = {.brokers = cs_config_str(w->cfg, "kafka-brokers"),
                              .kafka_props = cs_config_str(w->cfg, "kafka-props"),
                              .topics = w->topics,
                              .ntopics = w->ntopics,
                              .partitions = cs_config_str(w->cfg, "partitions"),
                              .from_offset = cs_config_str(w->cfg, "from-offset"),
                              .to_offset = cs_config_str(w->cfg, "to-offset"),
                              .from_ms = -1,
                              .to_ms = -1};
    const char *from = cs_config_str(w->cfg, "from"), *to = cs_config_str(w->cfg, "to");
    if (given(w, "from") && cs__replay_parse_time(from, &spec.from_ms) < 0)
        return usage_error(w, "--from: '%s' is not a time like 2026-11-01T00:00Z", from);
    if (given(w, "to") && cs__replay_parse_time(to, &spec.to_ms) < 0)
        return usage_error(w, "--to: '%s' is not a time like 2026-11-02T00:00Z", to);
    if (spec.from_ms >= 0 && spec.to_ms >= 0 && spec.from_ms >= spec.to_ms)
        return usage_error(w, "--from %s is not before --to %s", from, to);
    cs__replay_part_t *all = NULL;
    int nall = 0;
    cs_err_clear(&err);
    if (cs__replay_resolve(&spec, &all, &nall, &err) < 0) {
        cs__replay_parts_free(all, nall);
        fprintf(stderr, "cs-%s replay: %s\n", w->def->name, err.msg);
        return err.kind == CS_ERR_FATAL ? 2 : 1;
    }
    bool any_from = spec.from_ms < 0;
    r->parts = cs_mem_calloc((size_t)nall + 1, sizeof *r->parts);
    for (int i = 0; i < nall; i++) {
        if (!all[i].selected) {
            free(all[i].topic);
            continue;
        }
        any_from = any_from || all[i].from_ts_off < all[i].hi;
        all[i].next = all[i].start;
        r->parts[r->nparts++] = all[i];
    }
    free(all);
    if (!any_from)
        return usage_error(w,
                           "--from %s: no event at or after this time in the partitions "
                           "replayed (the range is empty)",
                           from);
    if (w->dry_run) {
        char group[256];
        snprintf(group, sizeof group, "%s-replay-dry-run", w->group); /* never written */
        free(w->group);
        w->group = cs_mem_strdup(group);
        return 0;
    }
    if (job_insert(w, r, &err) < 0) {
        fprintf(stderr, "cs-%s replay: creating the job: %s\n", w->def->name, err.msg);
        return 1;
    }
    return 0;
}

/* The job's partitions and the positions its group has reached. */
static int job_parts_load(replay_t *r, const char *job, const char *group, cs_err_t *err)
{
    const char *p[] = {job, group};
    cs_db_res_t *res = cs_db_query(
        r->db,
        "SELECT p.topic, p.kafka_partition, p.start_offset, p.end_offset, "
        "coalesce(o.next_offset, p.start_offset) FROM replay_job_partitions p "
        "LEFT JOIN consumer_offsets o ON o.consumer_group = $2 AND o.topic = p.topic "
        "AND o.kafka_partition = p.kafka_partition WHERE p.job_id = $1::bigint ORDER BY 1, 2",
        2, p, err);
    if (!res)
        return -1;
    r->nparts = cs_db_res_rows(res);
    r->parts = cs_mem_calloc((size_t)r->nparts + 1, sizeof *r->parts);
    for (int i = 0; i < r->nparts; i++) {
        cs__replay_part_t *rp = &r->parts[i];
        rp->topic = cs_mem_strdup(cs_db_res_get(res, i, 0));
        rp->partition = atoi(cs_db_res_get(res, i, 1));
        rp->start = strtoll(cs_db_res_get(res, i, 2), NULL, 10);
        rp->end = strtoll(cs_db_res_get(res, i, 3), NULL, 10);
        rp->next = strtoll(cs_db_res_get(res, i, 4), NULL, 10);
        rp->selected = true;
    }
    cs_db_res_free(res);
    return 0;
}

/* The job's topics become the worker's (the start-up check that they exist). */
static void topics_set(cs_worker_t *w, const char *csv)
{
    for (int i = 0; i < w->ntopics; i++)
        free(w->topics[i]);
    free(w->topics);
    w->topics = NULL;
    w->ntopics = 0;
    for (const char *p = csv; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        w->topics = cs_mem_realloc(w->topics, (size_t)(w->ntopics + 2) * sizeof *w->topics);
        w->topics[w->ntopics++] = cs_mem_strndup(p, n);
        w->topics[w->ntopics] = NULL;
        p += n + (e ? 1 : 0);
    }
}

/* --resume JOB: the job of this worker, its group, its partitions and positions. */
static int job_resume(cs_worker_t *w, replay_t *r, const char *job)
{
    static const char *const range_opts[] = {"partitions", "from-offset", "to-offset",
                                             "from",       "to",          NULL};
    cs_err_t err;
    for (int i = 0; range_opts[i]; i++)
        if (given(w, range_opts[i]))
            return usage_error(w, "--%s cannot be given with --resume (the job keeps its range)",
                               range_opts[i]);
    for (const char *p = job; *p; p++)
        if (!isdigit((unsigned char)*p) || p - job > 17)
            return usage_error(w, "--resume: '%s' is not a job id", job);
    const char *p[] = {job};
    cs_db_res_t *res = cs_db_query(r->db,
                                   "SELECT worker, consumer_group, state, "
                                   "array_to_string(topics, ','), events_read FROM replay_jobs "
                                   "WHERE job_id = $1::bigint",
                                   1, p, &err);
    if (!res) {
        fprintf(stderr, "cs-%s replay: reading job %s: %s\n", w->def->name, job, err.msg);
        return 1;
    }
    int code = 0;
    if (cs_db_res_rows(res) == 0) {
        code = usage_error(w, "replay job %s does not exist", job);
    } else if (strcmp(cs_db_res_get(res, 0, 0), w->def->name) != 0) {
        fprintf(stderr, "cs-%s replay: replay job %s replays cs-%s, not cs-%s\n", w->def->name, job,
                cs_db_res_get(res, 0, 0), w->def->name);
        code = 2;
    } else {
        r->job = strtoll(job, NULL, 10);
        free(w->group);
        w->group = cs_mem_strdup(cs_db_res_get(res, 0, 1));
        topics_set(w, cs_db_res_get(res, 0, 3));
        r->read0 = strtoll(cs_db_res_get(res, 0, 4), NULL, 10);
        if (!strcmp(cs_db_res_get(res, 0, 2), "done")) {
            fprintf(stderr, "cs-%s replay: replay job %s is done: nothing to resume\n",
                    w->def->name, job);
            w->mode_done = r->was_done = true;
        }
    }
    cs_db_res_free(res);
    if (code == 0 && job_parts_load(r, job, w->group, &err) < 0) {
        fprintf(stderr, "cs-%s replay: reading job %s: %s\n", w->def->name, job, err.msg);
        code = 1;
    }
    return code;
}

static int job_set_state(replay_t *r, const char *state, cs_err_t *err)
{
    char job[CS_TEXT_INT_BYTES];
    cs_text_i64(job, r->job);
    const char *p[] = {job, state};
    return cs_db_execp(r->db,
                       "UPDATE replay_jobs SET state = $2, updated_at = now(), finished_at = "
                       "CASE WHEN $2 = 'running' THEN NULL ELSE now() END "
                       "WHERE job_id = $1::bigint",
                       2, p, err) < 0
               ? -1
               : 0;
}

/* ---- the mode's hooks ---- */

/* The partitions still short of their ends go to the consumer (assign mode). */
static void assign_parts(cs_worker_t *w, replay_t *r)
{
    w->assign = cs_mem_calloc((size_t)r->nparts + 1, sizeof *w->assign);
    w->assign_end = cs_mem_calloc((size_t)r->nparts + 1, sizeof *w->assign_end);
    w->nassign = 0;
    for (int i = 0; i < r->nparts; i++) {
        cs__replay_part_t *p = &r->parts[i];
        r->offsets0 += p->next - p->start;
        if (p->next >= p->end)
            continue;
        w->assign[w->nassign] =
            (cs_tp_t){.topic = p->topic, .partition = p->partition, .offset = p->start};
        w->assign_end[w->nassign++] = p->end;
    }
    if (w->nassign == 0)
        w->mode_done = true; /* every partition at its end already */
}

static int prepare(cs_worker_t *w, replay_t *r)
{
    cs_err_t err;
    r->db = cs_db_connect(cs__worker_dsn_of(w), "replay", &err);
    if (!r->db) {
        fprintf(stderr, "cs-%s replay: postgresql: %s\n", w->def->name, err.msg);
        return 1;
    }
    const char *resume = cs_config_str(w->cfg, "resume");
    w->dry_run = cs_config_bool(w->cfg, "dry-run");
    if (w->dry_run && resume && *resume)
        return usage_error(w, "--dry-run cannot be given with --resume (a dry run has no job)");
    int code = resume && *resume ? job_resume(w, r, resume) : job_new(w, r);
    if (code != 0 || w->mode_done)
        return code;
    assign_parts(w, r);
    if (w->dry_run) {
        w->drain = true;
        return 0;
    }
    if (!w->mode_done && job_set_state(r, "running", &err) < 0) {
        fprintf(stderr, "cs-%s replay: %s\n", w->def->name, err.msg);
        return 1;
    }
    char job[CS_TEXT_INT_BYTES];
    cs_text_i64(job, r->job);
    w->replay_job = cs_mem_strdup(job);
    w->drain = true; /* the loop stops once every partition is at its end */
    int64_t left = 0;
    for (int i = 0; i < r->nparts; i++)
        left += r->parts[i].end - r->parts[i].next;
    cs_log_info("replay job", CS_LI("job", r->job), CS_LS("group", w->group),
                CS_LI("partitions", r->nparts), CS_LI("partitions_to_do", w->nassign),
                CS_LI("offsets_left", left), CS_LI("resumed", resume && *resume));
    return 0;
}

static int replay_prepare(cs_worker_t *w)
{
    replay_t *r = cs_mem_calloc(1, sizeof *r);
    w->mode_ud = r;
    r->t0 = mono_s();
    int code = prepare(w, r);
    r->ready = code == 0;
    return code;
}

/* ---- --dry-run: what the batches would have done ---- */

static struct dry_type *dry_type(replay_t *r, const char *name)
{
    for (int i = 0; i < r->ndry_types; i++)
        if (!strcmp(r->dry_types[i].name, name))
            return &r->dry_types[i];
    r->dry_types = cs_mem_realloc(r->dry_types, (size_t)(r->ndry_types + 1) * sizeof *r->dry_types);
    struct dry_type *t = &r->dry_types[r->ndry_types++];
    *t = (struct dry_type){.name = cs_mem_strdup(name)};
    return t;
}

static int ntables(const cs_worker_t *w)
{
    return w->ntables + (w->def->outbox ? 1 : 0);
}

static const char *table_name(const cs_worker_t *w, int t)
{
    return t < w->ntables ? w->def->tables[t].table : "outbox_events";
}

/* A batch's transaction ended well (rolled back, in a dry run): what it would have done. */
static void replay_batch_done(cs_worker_t *w, const stage_t *s)
{
    replay_t *r = w->mode_ud;
    if (!w->dry_run)
        return;
    if (!r->dry_rows)
        r->dry_rows = cs_mem_calloc((size_t)ntables(w) + 1, sizeof *r->dry_rows);
    for (int t = 0; t < ntables(w); t++)
        r->dry_rows[t] += (long long)cs_batch_rows(s->batch, t);
    r->dry[0] += s->n;
    for (int i = 0; i < s->n; i++) {
        const item_t *it = &s->items[i];
        int k = it->state == IT_NEW ? 0 : it->state == IT_DUP ? 1 : it->state == IT_ERASED ? 2 : 3;
        r->dry[k + 1]++;
        dry_type(r, it->ev.type_name ? it->ev.type_name : "(undecoded)")->n[k]++;
    }
}

/* Rows of table t and of the later tables of the same name (a table may have several
 * definitions, one per way of writing it); -1 for a name already counted. */
static long long table_rows(const cs_worker_t *w, const replay_t *r, int t)
{
    long long n = 0;
    for (int u = 0; u < t; u++)
        if (!strcmp(table_name(w, u), table_name(w, t)))
            return -1;
    for (int u = t; u < ntables(w); u++)
        if (!strcmp(table_name(w, u), table_name(w, t)))
            n += r->dry_rows ? r->dry_rows[u] : 0;
    return n;
}

static void dry_report_json(cs_worker_t *w, replay_t *r, const char *state, double s)
{
    printf("{\"dry_run\":true,\"worker\":\"%s\",\"state\":\"%s\",\"read\":%lld,"
           "\"applied\":%lld,\"skipped_duplicate\":%lld,\"skipped_erased\":%lld,"
           "\"dead_lettered\":%lld,\"seconds\":%.3f,\"tables\":{",
           w->def->name, state, r->dry[0], r->dry[1], r->dry[2], r->dry[3], r->dry[4], s);
    for (int t = 0, k = 0; t < ntables(w); t++)
        if (table_rows(w, r, t) >= 0)
            printf("%s\"%s\":%lld", k++ ? "," : "", table_name(w, t), table_rows(w, r, t));
    printf("},\"types\":{");
    for (int i = 0; i < r->ndry_types; i++) {
        const struct dry_type *t = &r->dry_types[i];
        printf("%s\"%s\":{\"applied\":%lld,\"skipped_duplicate\":%lld,\"skipped_erased\":%lld,"
               "\"dead_lettered\":%lld}",
               i ? "," : "", t->name, t->n[0], t->n[1], t->n[2], t->n[3]);
    }
    printf("}}\n");
}

static void dry_report(cs_worker_t *w, replay_t *r, const char *state)
{
    double s = mono_s() - r->t0;
    if (cs_config_bool(w->cfg, "json")) {
        dry_report_json(w, r, state, s);
    } else {
        printf("dry run of cs-%s replay (nothing written): %s\n"
               "  read                 %lld\n  applied              %lld\n"
               "  skipped (duplicate)  %lld\n  skipped (erased)     %lld\n"
               "  dead-lettered        %lld\n  seconds              %.1f\n"
               "rows written per table (inserted or upserted):\n",
               w->def->name, state, r->dry[0], r->dry[1], r->dry[2], r->dry[3], r->dry[4], s);
        for (int t = 0; t < ntables(w); t++)
            if (table_rows(w, r, t) >= 0)
                printf("  %-36s %lld\n", table_name(w, t), table_rows(w, r, t));
        printf("events per type (applied / duplicate / erased / dead-lettered):\n");
        for (int i = 0; i < r->ndry_types; i++)
            printf("  %-36s %lld / %lld / %lld / %lld\n", r->dry_types[i].name,
                   r->dry_types[i].n[0], r->dry_types[i].n[1], r->dry_types[i].n[2],
                   r->dry_types[i].n[3]);
    }
    fflush(stdout);
}

/* Offsets behind the job now (the positions the runtime committed), and partitions done. */
static int64_t offsets_done(cs_worker_t *w, replay_t *r, int *ndone)
{
    int64_t done = 0;
    *ndone = 0;
    for (int i = 0; i < r->nparts; i++) {
        cs__replay_part_t *rp = &r->parts[i];
        part_t *p = cs__worker_part_find(w, rp->topic, rp->partition);
        int64_t pos = p && p->committed >= 0 ? p->committed : rp->next;
        if (pos > rp->end)
            pos = rp->end;
        done += pos - rp->start;
        /* At its end: committed there, or read to its end (a gap before the end: transaction
         * markers) with everything read committed; not after a signal, once the runtime drops
         * what it reads but still takes the partitions' end events. */
        *ndone +=
            pos >= rp->end || rp->next >= rp->end ||
            (!r->signalled && p && p->eof && p->committed >= 0 && p->committed >= p->recv_pos);
    }
    return done;
}

static void on_progress(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    cs_worker_t *w = t->data;
    replay_t *r = w->mode_ud;
    int ndone;
    int64_t total = 0, done = offsets_done(w, r, &ndone);
    for (int i = 0; i < r->nparts; i++)
        total += r->parts[i].end - r->parts[i].start;
    double s = mono_s() - r->t0, rate = s > 0 ? (double)(done - r->offsets0) / s : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : -1;
    if (r->tty) {
        char etas[32] = "-";
        if (eta >= 0)
            snprintf(etas, sizeof etas, "%.0f s", eta);
        fprintf(stderr,
                "\r\033[Kreplay %lld: %d/%d partitions done, %lld/%lld events (%.0f%%), "
                "%.0f events/s, ETA %s",
                r->job, ndone, r->nparts, (long long)done, (long long)total,
                total ? 100.0 * (double)done / (double)total : 100.0, rate, etas);
        fflush(stderr);
    } else {
        cs_log_info("replay progress", CS_LI("job", r->job), CS_LI("partitions_done", ndone),
                    CS_LI("partitions", r->nparts), CS_LI("events_done", done),
                    CS_LI("events_total", total), CS_LD("events_per_s", rate), CS_LD("eta_s", eta));
    }
}

/* Beside the runtime's own watchers of the same signals: this replay did not reach its ends. */
static void on_signal(struct ev_loop *loop, ev_signal *sg, int revents)
{
    (void)loop, (void)revents;
    ((replay_t *)sg->data)->signalled = true;
}

static void replay_started(cs_worker_t *w)
{
    replay_t *r = w->mode_ud;
    ev_signal_init(&r->sigint, on_signal, SIGINT);
    ev_signal_init(&r->sigterm, on_signal, SIGTERM);
    r->sigint.data = r->sigterm.data = r;
    ev_signal_start(w->loop, &r->sigint);
    ev_signal_start(w->loop, &r->sigterm);
    r->tty = isatty(STDERR_FILENO) == 1;
    double every = r->tty ? 0.5 : (double)cs_config_int(w->cfg, "progress-interval");
    ev_timer_init(&r->progress, on_progress, every, every);
    r->progress.data = w;
    ev_timer_start(w->loop, &r->progress);
}

/* The final report, from the job's row (its counters are exact: they commit with the effects). */
static void report(cs_worker_t *w, replay_t *r, const char *state)
{
    char job[CS_TEXT_INT_BYTES];
    cs_err_t err;
    cs_text_i64(job, r->job);
    const char *p[] = {job};
    cs_db_res_t *res = cs_db_query(r->db,
                                   "SELECT events_read, applied, skipped_duplicate, "
                                   "skipped_erased, dead_lettered, consumer_group "
                                   "FROM replay_jobs WHERE job_id = $1::bigint",
                                   1, p, &err);
    if (!res || cs_db_res_rows(res) != 1) {
        cs_log_error("replay report: the job cannot be read", CS_LS("reason", err.msg));
        cs_db_res_free(res);
        return;
    }
    long long c[5];
    for (int k = 0; k < 5; k++)
        c[k] = strtoll(cs_db_res_get(res, 0, k), NULL, 10);
    double s = mono_s() - r->t0, rate = s > 0 ? (double)(c[0] - r->read0) / s : 0;
    if (cs_config_bool(w->cfg, "json"))
        printf("{\"job\":%lld,\"worker\":\"%s\",\"group\":\"%s\",\"state\":\"%s\",\"read\":%lld,"
               "\"applied\":%lld,\"skipped_duplicate\":%lld,\"skipped_erased\":%lld,"
               "\"dead_lettered\":%lld,\"seconds\":%.3f,\"events_per_s\":%.1f}\n",
               r->job, w->def->name, cs_db_res_get(res, 0, 5), state, c[0], c[1], c[2], c[3], c[4],
               s, rate);
    else
        printf("replay job %lld (cs-%s, group %s): %s\n"
               "  read                 %lld\n  applied              %lld\n"
               "  skipped (duplicate)  %lld\n  skipped (erased)     %lld\n"
               "  dead-lettered        %lld\n  seconds              %.1f\n"
               "  events/s             %.0f\n",
               r->job, w->def->name, cs_db_res_get(res, 0, 5), state, c[0], c[1], c[2], c[3], c[4],
               s, rate);
    fflush(stdout);
    cs_db_res_free(res);
}

/* The job's state and the report; the exit code. */
static int finish_job(cs_worker_t *w, replay_t *r, int code)
{
    cs_err_t err;
    int ndone;
    if (w->loop) {
        ev_timer_stop(w->loop, &r->progress);
        ev_signal_stop(w->loop, &r->sigint);
        ev_signal_stop(w->loop, &r->sigterm);
    }
    if (r->tty && w->loop)
        fputc('\n', stderr);
    offsets_done(w, r, &ndone);
    bool done = code == 0 && ndone == r->nparts;
    const char *state = done ? "done" : code == 0 ? "interrupted" : "failed";
    if (w->dry_run) {
        dry_report(w, r, state);
        return done ? 0 : code == 0 ? EXIT_INTERRUPTED : code;
    }
    if (!r->was_done && job_set_state(r, state, &err) < 0)
        cs_log_error("replay: the job's state cannot be stored", CS_LS("state", state),
                     CS_LS("reason", err.msg));
    report(w, r, state);
    if (!done)
        fprintf(stderr, "cs-%s replay: job %lld %s; continue it with: cs-replay --resume %lld\n",
                w->def->name, r->job, state, r->job);
    return done ? 0 : code == 0 ? EXIT_INTERRUPTED : code;
}

static int replay_finish(cs_worker_t *w, int code)
{
    replay_t *r = w->mode_ud;
    if (!r)
        return code;
    int result = r->ready ? finish_job(w, r, code) : code;
    cs_db_destroy(r->db);
    cs__replay_parts_free(r->parts, r->nparts);
    for (int i = 0; i < r->ndry_types; i++)
        free(r->dry_types[i].name);
    free(r->dry_types);
    free(r->dry_rows);
    free(r);
    w->mode_ud = NULL;
    return result;
}

static const cs__worker_mode_t replay_mode = {
    .usage = "Replays a range of this worker's partitions through its handlers, under a consumer "
             "group of its own, as a resumable job (see docs/replay.md; cs-replay --list shows "
             "the jobs). Exit status: 0 done, 1 failed, 2 bad usage, 3 interrupted (resume it "
             "with --resume JOB).",
    .opts = replay_opts,
    .prepare = replay_prepare,
    .started = replay_started,
    .finish = replay_finish,
    .batch_done = replay_batch_done,
};

int cs__worker_replay_main(const cs_worker_def_t *def, int argc, char **argv)
{
    char program[128];
    cs__worker_mode_t mode = replay_mode;
    snprintf(program, sizeof program, "%s replay", def->name);
    mode.program = program;
    return cs__worker_main_mode(def, argc, argv, &mode);
}

/*
 * libcore/src/migrate.c
 *      The migration engine behind cs-migrate: read sql/migrations/, compare with
 *      schema_migrations, apply what is pending, each file in its own transaction.
 *
 * Checksums are SHA-256 of the file's exact bytes, computed by the server (sha256(bytea), built
 * into PostgreSQL 11+) from a binary parameter, so no crypto library is needed. Files run through
 * the simple query protocol, so one file may hold many statements, DO blocks and functions.
 * Everything is checked before anything is applied: a run either refuses up front (bad file
 * names, an edited or vanished applied file) or applies pending files in order and stops at the
 * first failure. An advisory lock (session level, released on every path) serialises migrators.
 * Server notices (e.g. "pgvector ... not available") are logged at info level.
 *
 * Uses libpq directly through cs__db_pgconn() for what cs/db.h does not offer: binary parameters,
 * the error position (turned into FILE:LINE) and a notice receiver.
 */
#include "cs/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/log.h"

#define LOCK_SQL   "SELECT pg_advisory_lock(hashtextextended('careerstream:cs-migrate', 0))"
#define UNLOCK_SQL "SELECT pg_advisory_unlock(hashtextextended('careerstream:cs-migrate', 0))"

#define CREATE_TABLE_SQL                                                                           \
    "CREATE TABLE schema_migrations ("                                                             \
    " version integer PRIMARY KEY CHECK (version > 0),"                                            \
    " file text NOT NULL,"                                                                         \
    " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"                                 \
    " applied_at timestamptz NOT NULL DEFAULT now(),"                                              \
    " applied_by text NOT NULL DEFAULT current_user,"                                              \
    " duration_ms numeric(12,3) CHECK (duration_ms >= 0))"

typedef struct mfile {
    int version;
    char *name; /* "0001_foundation.sql" */
    char *sql;  /* NUL-terminated file contents */
    size_t len;
    char sum[65]; /* hex SHA-256 */
} mfile_t;

typedef struct applied {
    int version;
    char *file;
    char *checksum;
    char *applied_at;
    bool seen;
} applied_t;

typedef struct plan {
    mfile_t *files;
    int nfiles;
    applied_t *done;
    int ndone;
    bool has_table;              /* schema_migrations exists */
    bool locked;                 /* we hold the advisory lock */
    PQnoticeReceiver old_notice; /* restored when done */
    void *old_notice_arg;
} plan_t;

const char *cs_migrate_state_name(cs_migration_state_t state)
{
    switch (state) {
    case CS_MIGRATION_APPLIED:
        return "applied";
    case CS_MIGRATION_PENDING:
        return "pending";
    case CS_MIGRATION_EDITED:
        return "edited";
    case CS_MIGRATION_MISSING:
        return "missing";
    }
    return "unknown";
}

static void plan_fini(plan_t *p)
{
    for (int i = 0; i < p->nfiles; i++) {
        free(p->files[i].name);
        free(p->files[i].sql);
    }
    free(p->files);
    for (int i = 0; i < p->ndone; i++) {
        free(p->done[i].file);
        free(p->done[i].checksum);
        free(p->done[i].applied_at);
    }
    free(p->done);
    memset(p, 0, sizeof(*p));
}

/* NNNN_<lower-case letters, digits, underscores>.sql; returns the version or -1. */
static int parse_name(const char *name)
{
    size_t n = strlen(name);

    if (n < 10 || strcmp(name + n - 4, ".sql") != 0 || name[4] != '_')
        return -1;
    for (int i = 0; i < 4; i++)
        if (name[i] < '0' || name[i] > '9')
            return -1;
    for (size_t i = 5; i < n - 4; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return -1;
    }
    return atoi(name) > 0 ? atoi(name) : -1;
}

static int cmp_files(const void *a, const void *b)
{
    const mfile_t *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static int read_file(const char *dir, mfile_t *f, cs_err_t *err)
{
    char path[4096];
    FILE *fp = NULL;
    long size;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/%s", dir, f->name);
    fp = fopen(path, "rb");
    if (!fp) {
        cs_err_set(err, CS_ERR_FATAL, "cannot open migration %s: %s", path, strerror(errno));
        goto out;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        cs_err_set(err, CS_ERR_FATAL, "cannot read migration %s: %s", path, strerror(errno));
        goto out;
    }
    f->sql = malloc((size_t)size + 1);
    if (!f->sql) {
        cs_err_set(err, CS_ERR_FATAL, "out of memory reading %s", path);
        goto out;
    }
    if (fread(f->sql, 1, (size_t)size, fp) != (size_t)size) {
        cs_err_set(err, CS_ERR_FATAL, "cannot read migration %s: short read", path);
        goto out;
    }
    f->sql[size] = '\0';
    f->len = (size_t)size;
    if (memchr(f->sql, '\0', f->len)) {
        cs_err_set(err, CS_ERR_FATAL, "migration %s contains a NUL byte", f->name);
        goto out;
    }
    rc = 0;
out:
    if (fp)
        fclose(fp);
    return rc;
}

/* Lists, validates, sorts and reads the migration files of dir. */
static int load_dir(const char *dir, plan_t *p, cs_err_t *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int cap = 0, rc = -1;

    if (!d)
        return cs_err_set_field(err, CS_ERR_FATAL, "migrations-dir",
                                "cannot open migrations directory %s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        int v;

        if (n < 4 || strcmp(e->d_name + n - 4, ".sql") != 0)
            continue; /* READMEs and editor files are not migrations */
        v = parse_name(e->d_name);
        if (v < 0) {
            cs_err_set(err, CS_ERR_FATAL,
                       "migration file name '%s' does not match NNNN_name.sql (lower-case name)",
                       e->d_name);
            goto out;
        }
        if (p->nfiles == cap) {
            int ncap = cap ? cap * 2 : 32;
            mfile_t *nf = realloc(p->files, (size_t)ncap * sizeof(*nf));
            if (!nf) {
                cs_err_set(err, CS_ERR_FATAL, "out of memory listing %s", dir);
                goto out;
            }
            p->files = nf;
            cap = ncap;
        }
        memset(&p->files[p->nfiles], 0, sizeof(p->files[0]));
        p->files[p->nfiles].version = v;
        p->files[p->nfiles].name = strdup(e->d_name);
        if (!p->files[p->nfiles++].name) {
            cs_err_set(err, CS_ERR_FATAL, "out of memory listing %s", dir);
            goto out;
        }
    }
    if (p->nfiles == 0) {
        cs_err_set_field(err, CS_ERR_FATAL, "migrations-dir", "no migrations (NNNN_name.sql) in %s",
                         dir);
        goto out;
    }
    qsort(p->files, (size_t)p->nfiles, sizeof(p->files[0]), cmp_files);
    for (int i = 1; i < p->nfiles; i++)
        if (p->files[i].version == p->files[i - 1].version) {
            cs_err_set(err, CS_ERR_FATAL, "migrations %s and %s have the same version %04d",
                       p->files[i - 1].name, p->files[i].name, p->files[i].version);
            goto out;
        }
    for (int i = 0; i < p->nfiles; i++)
        if (read_file(dir, &p->files[i], err) < 0)
            goto out;
    rc = 0;
out:
    closedir(d);
    return rc;
}

/* Fills err from a failed result; kind FATAL unless the failure is transient. */
static int fail_result(cs_db_t *db, PGresult *res, const char *what, cs_err_t *err)
{
    cs__db_err_from_result(db, res, what, err);
    if (err && err->kind != CS_ERR_TRANSIENT)
        err->kind = CS_ERR_FATAL;
    return -1;
}

/* Runs sql (no parameters) expecting a command or rows; the result is discarded. */
static int run(cs_db_t *db, const char *sql, const char *what, cs_err_t *err)
{
    PGresult *res = PQexec(cs__db_pgconn(db), sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = fail_result(db, res, what, err);
    PQclear(res);
    return rc;
}

static int checksum_files(cs_db_t *db, plan_t *p, cs_err_t *err)
{
    const Oid types[1] = {17}; /* bytea */
    const int formats[1] = {1};

    for (int i = 0; i < p->nfiles; i++) {
        const char *vals[1] = {p->files[i].sql};
        int lens[1] = {(int)p->files[i].len};
        PGresult *res = PQexecParams(cs__db_pgconn(db), "SELECT encode(sha256($1), 'hex')", 1,
                                     types, vals, lens, formats, 0);

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            fail_result(db, res, "checksum", err);
            PQclear(res);
            return -1;
        }
        snprintf(p->files[i].sum, sizeof(p->files[i].sum), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return 0;
}

/* Reads schema_migrations (absent table: nothing applied). */
static int load_applied(cs_db_t *db, plan_t *p, cs_err_t *err)
{
    PGresult *res = NULL;
    int rc = -1;

    res = PQexec(cs__db_pgconn(db), "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fail_result(db, res, "schema_migrations", err);
        goto out;
    }
    p->has_table = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (!p->has_table) {
        rc = 0;
        goto out;
    }
    PQclear(res);
    res = PQexec(cs__db_pgconn(db),
                 "SELECT version, file, checksum, applied_at::text FROM schema_migrations"
                 " ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fail_result(db, res, "schema_migrations", err);
        goto out;
    }
    p->ndone = PQntuples(res);
    p->done = calloc((size_t)(p->ndone ? p->ndone : 1), sizeof(*p->done));
    if (!p->done) {
        p->ndone = 0;
        cs_err_set(err, CS_ERR_FATAL, "out of memory");
        goto out;
    }
    for (int i = 0; i < p->ndone; i++) {
        p->done[i].version = atoi(PQgetvalue(res, i, 0));
        p->done[i].file = strdup(PQgetvalue(res, i, 1));
        p->done[i].checksum = strdup(PQgetvalue(res, i, 2));
        p->done[i].applied_at = strdup(PQgetvalue(res, i, 3));
        if (!p->done[i].file || !p->done[i].checksum || !p->done[i].applied_at) {
            cs_err_set(err, CS_ERR_FATAL, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static applied_t *find_applied(plan_t *p, int version)
{
    for (int i = 0; i < p->ndone; i++)
        if (p->done[i].version == version)
            return &p->done[i];
    return NULL;
}

/* Refuses edited and missing applied migrations, naming the first of each. */
static int verify(const char *dir, plan_t *p, cs_err_t *err)
{
    for (int i = 0; i < p->nfiles; i++) {
        applied_t *a = find_applied(p, p->files[i].version);
        if (!a)
            continue;
        a->seen = true;
        if (strcmp(a->checksum, p->files[i].sum) != 0)
            return cs_err_set(err, CS_ERR_FATAL,
                              "migration %s was edited after it was applied on %s "
                              "(recorded sha256 %.12s..., file now %.12s...); "
                              "add a new migration instead of editing an applied one",
                              p->files[i].name, a->applied_at, a->checksum, p->files[i].sum);
    }
    for (int i = 0; i < p->ndone; i++)
        if (!p->done[i].seen)
            return cs_err_set(err, CS_ERR_FATAL,
                              "applied migration %s (version %04d) is missing from %s",
                              p->done[i].file, p->done[i].version, dir);
    return 0;
}

/* 1-based line of the 1-based character position pos in sql (UTF-8). */
static int line_of(const char *sql, long pos)
{
    int line = 1;
    long chars = 0;

    for (const unsigned char *s = (const unsigned char *)sql; *s; s++) {
        if ((*s & 0xC0) != 0x80 && ++chars >= pos)
            break;
        if (*s == '\n')
            line++;
    }
    return line;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Applies one file and records it, in one transaction. */
static int apply_one(cs_db_t *db, const mfile_t *f, double *elapsed_ms, cs_err_t *err)
{
    PGconn *conn = cs__db_pgconn(db);
    PGresult *res = NULL;
    char version[16], duration[32];
    const char *vals[4];
    double t0 = now_ms();
    int rc = -1;

    if (run(db, "BEGIN", f->name, err) < 0)
        return -1;
    res = PQexec(conn, f->sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK &&
        PQresultStatus(res) != PGRES_EMPTY_QUERY) {
        const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
        char where[300];

        if (pos)
            snprintf(where, sizeof(where), "%s:%d", f->name, line_of(f->sql, atol(pos)));
        else
            snprintf(where, sizeof(where), "%s", f->name);
        fail_result(db, res, where, err);
        {
            const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
            if (ctx)
                cs_log_error("migration failed", CS_LS("file", f->name), CS_LS("context", ctx),
                             CS_LS("sqlstate", err ? err->sqlstate : ""));
        }
        goto out;
    }
    PQclear(res);
    res = NULL;
    *elapsed_ms = now_ms() - t0;
    snprintf(version, sizeof(version), "%d", f->version);
    snprintf(duration, sizeof(duration), "%.3f", *elapsed_ms);
    vals[0] = version;
    vals[1] = f->name;
    vals[2] = f->sum;
    vals[3] = duration;
    res = PQexecParams(conn,
                       "INSERT INTO schema_migrations (version, file, checksum, duration_ms)"
                       " VALUES ($1, $2, $3, $4)",
                       4, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail_result(db, res, f->name, err);
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (run(db, "COMMIT", f->name, err) < 0)
        goto out;
    rc = 0;
out:
    PQclear(res);
    if (rc < 0 && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        PGresult *rb = PQexec(conn, "ROLLBACK");
        PQclear(rb);
    }
    return rc;
}

static void log_notice(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    (void)arg;
    cs_log_info("server notice", CS_LS("severity", sev ? sev : ""),
                CS_LS("notice", msg ? msg : ""));
}

/* Shared prologue: notice processor, files, lock, checksums, applied rows. */
static int prepare(cs_db_t *db, const char *dir, plan_t *p, bool lock, cs_err_t *err)
{
    if (!db || !cs_db_ok(db))
        return cs_err_set(err, CS_ERR_TRANSIENT, "no usable PostgreSQL connection");
    if (!dir || !*dir)
        return cs_err_set_field(err, CS_ERR_FATAL, "migrations-dir",
                                "no migrations directory given");
    p->old_notice = PQsetNoticeReceiver(cs__db_pgconn(db), log_notice, NULL);
    p->old_notice_arg = NULL;
    if (load_dir(dir, p, err) < 0)
        return -1;
    if (lock) {
        if (run(db, LOCK_SQL, "advisory lock", err) < 0)
            return -1;
        p->locked = true;
    }
    if (checksum_files(db, p, err) < 0 || load_applied(db, p, err) < 0)
        return -1;
    return 0;
}

/* Shared epilogue: releases the lock, restores the notice processor, frees the plan. */
static void finish(cs_db_t *db, plan_t *p)
{
    if (db && cs_db_ok(db)) {
        if (p->locked) {
            PGresult *res = PQexec(cs__db_pgconn(db), UNLOCK_SQL);
            PQclear(res);
        }
        if (p->old_notice)
            PQsetNoticeReceiver(cs__db_pgconn(db), p->old_notice, p->old_notice_arg);
    }
    plan_fini(p);
}

int cs_migrate_apply(cs_db_t *db, const char *dir, cs_migrate_applied_cb on_applied, void *ud,
                     cs_err_t *err)
{
    plan_t p = {0};
    int applied = 0, rc = -1;

    cs_err_clear(err);
    if (prepare(db, dir, &p, true, err) < 0 || verify(dir, &p, err) < 0)
        goto out;
    if (!p.has_table && run(db, CREATE_TABLE_SQL, "create schema_migrations", err) < 0)
        goto out;
    for (int i = 0; i < p.nfiles; i++) {
        double ms = 0;

        if (find_applied(&p, p.files[i].version))
            continue;
        if (apply_one(db, &p.files[i], &ms, err) < 0)
            goto out;
        applied++;
        cs_log_info("migration applied", CS_LS("file", p.files[i].name), CS_LD("ms", ms));
        if (on_applied)
            on_applied(p.files[i].name, ms, ud);
    }
    rc = applied;
out:
    finish(db, &p);
    return rc;
}

int cs_migrate_status(cs_db_t *db, const char *dir, cs_migrate_status_cb cb, void *ud,
                      cs_err_t *err)
{
    plan_t p = {0};
    int bad = 0, rc = -1;

    cs_err_clear(err);
    if (prepare(db, dir, &p, false, err) < 0)
        goto out;
    for (int i = 0; i < p.nfiles; i++) {
        applied_t *a = find_applied(&p, p.files[i].version);
        cs_migration_info_t m = {.version = p.files[i].version,
                                 .file = p.files[i].name,
                                 .checksum = p.files[i].sum,
                                 .state = CS_MIGRATION_PENDING};

        if (a) {
            a->seen = true;
            m.applied_at = a->applied_at;
            m.applied_checksum = a->checksum;
            m.state = strcmp(a->checksum, p.files[i].sum) == 0 ? CS_MIGRATION_APPLIED
                                                               : CS_MIGRATION_EDITED;
            bad += m.state == CS_MIGRATION_EDITED;
        }
        if (cb)
            cb(&m, ud);
    }
    for (int j = 0; j < p.ndone; j++) {
        cs_migration_info_t m = {.version = p.done[j].version,
                                 .file = p.done[j].file,
                                 .state = CS_MIGRATION_MISSING,
                                 .applied_at = p.done[j].applied_at,
                                 .applied_checksum = p.done[j].checksum};

        if (p.done[j].seen)
            continue;
        bad++;
        if (cb)
            cb(&m, ud);
    }
    rc = bad;
out:
    finish(db, &p);
    return rc;
}

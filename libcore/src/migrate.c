/*
 * libcore/src/migrate.c
 *      The migration engine behind cs-migrate: versioned migrations (sql/migrations/, applied
 *      once, in version order) and function files (sql/functions/, applied again whenever they
 *      change, in dependency order), recorded in schema_migrations and schema_functions.
 *
 * Checksums are SHA-256 of a file's exact bytes (libcrypto). Files run through the simple query
 * protocol, so one file may hold many statements, DO blocks and functions. Everything is checked
 * before anything is applied: a run either refuses up front (bad file names, an edited or
 * vanished applied migration, a vanished applied function file, an unknown or cyclic dependency)
 * or applies what is pending and stops at the first failure. An advisory lock (session level,
 * released on every path) serialises migrators. Server notices are logged at info level.
 *
 * A run: for each pending migration, one transaction holding the function files it names on
 * "-- requires:" lines (with their "-- depends:", when new or changed; created with
 * check_function_bodies off, as pg_dump does, because a SQL function's body may name a table the
 * migration is about to create), the migration itself and its schema_migrations row. Then every
 * function file that is new or changed, in dependency order, each in its own transaction with
 * its schema_functions row; files applied ahead of a migration in this run are run once more
 * here, with bodies checked against the finished schema (recorded once).
 *
 * libpq is used directly (db_int.h) only to run a file, for the error's position and context
 * (FILE:LINE), and for the notice receiver; everything else goes through cs/db.h.
 */
#include "cs/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/log.h"
#include "cs/mem.h"
#include "db_int.h"
#include "migrate_int.h"

#define LOCK_SQL   "SELECT pg_advisory_lock(hashtextextended('careerstream:cs-migrate', 0))"
#define UNLOCK_SQL "SELECT pg_advisory_unlock(hashtextextended('careerstream:cs-migrate', 0))"

#define CREATE_MIGRATIONS_SQL                                                                      \
    "CREATE TABLE IF NOT EXISTS schema_migrations ("                                               \
    " version integer PRIMARY KEY CHECK (version > 0),"                                            \
    " file text NOT NULL,"                                                                         \
    " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"                                 \
    " applied_at timestamptz NOT NULL DEFAULT now(),"                                              \
    " applied_by text NOT NULL DEFAULT current_user,"                                              \
    " duration_ms numeric(12,3) CHECK (duration_ms >= 0))"

#define CREATE_FUNCTIONS_SQL                                                                       \
    "CREATE TABLE IF NOT EXISTS schema_functions ("                                                \
    " name text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]*$'),"                                  \
    " file text NOT NULL,"                                                                         \
    " checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),"                                 \
    " applied_at timestamptz NOT NULL DEFAULT now(),"                                              \
    " applied_by text NOT NULL DEFAULT current_user,"                                              \
    " duration_ms numeric(12,3) CHECK (duration_ms >= 0),"                                         \
    " applied_with integer CHECK (applied_with > 0))"

#define UPSERT_FUNCTION_SQL                                                                        \
    "INSERT INTO schema_functions (name, file, checksum, duration_ms, applied_with)"               \
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET file = EXCLUDED.file,"          \
    " checksum = EXCLUDED.checksum, applied_at = now(), applied_by = current_user,"                \
    " duration_ms = EXCLUDED.duration_ms, applied_with = EXCLUDED.applied_with"

typedef struct mfile {
    int version; /* versioned: > 0; function file: 0 */
    char *name;  /* "0001_foundation.sql", "cs_seed.sql" */
    char *label; /* what messages and callbacks show: the name, or "functions/cs_seed.sql" */
    char key[CS__MIGRATE_NAME_MAX + 1]; /* function files: "cs_seed" */
    char *sql;                          /* NUL-terminated file contents */
    size_t len;
    char sum[65]; /* hex SHA-256 */
    char **needs; /* "-- requires:" (migrations) or "-- depends:" (functions) names */
    int nneeds;
    int *need_idx;  /* the needed function files, indices into plan_t.fns */
    char **removes; /* migrations: "-- removes:" names, functions it drops with their records */
    int nremoves;
    /* function files only */
    const char *recorded; /* schema_functions checksum; NULL: never applied */
    bool done;            /* applied (and recorded) in this run */
    bool ahead;           /* applied ahead of a migration in this run, bodies unchecked */
} mfile_t;

typedef struct applied {
    int version; /* schema_migrations; 0 for schema_functions rows */
    char *file;  /* file (migrations) or name (functions) */
    char *checksum;
    char *applied_at;
    bool seen;
} applied_t;

typedef struct plan {
    const char *dir, *fdir;
    mfile_t *files; /* versioned, by version */
    int nfiles;
    mfile_t *fns; /* function files, by name */
    int nfns;
    int *fn_order; /* dependency order of fns */
    applied_t *done;
    int ndone;
    applied_t *fdone;
    int nfdone;
    bool locked;                 /* we hold the advisory lock */
    PQnoticeReceiver old_notice; /* restored when done */
    void *old_notice_arg;
} plan_t;

/* ---------------------------------------------------------------------------------------------
 * Pure parts (migrate_int.h)
 * -------------------------------------------------------------------------------------------*/

int cs__migrate_parse_version(const char *name)
{
    size_t n = name ? strlen(name) : 0;

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

static bool ident_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static bool is_ident(const char *s, size_t n)
{
    if (n == 0 || n > CS__MIGRATE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ident_char(s[i], i == 0))
            return false;
    return true;
}

int cs__migrate_parse_function_file(const char *file, char *out, size_t size)
{
    size_t n = file ? strlen(file) : 0;

    if (n < 5 || strcmp(file + n - 4, ".sql") != 0 || !is_ident(file, n - 4) || size < n - 3)
        return -1;
    memcpy(out, file, n - 4);
    out[n - 4] = '\0';
    return 0;
}

void cs__migrate_free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Names read from header lines so far. */
typedef struct name_list {
    char **v;
    int n, cap;
} name_list_t;

/*
 * The names listed on one header line after "key:", [p, end): separated by blanks or commas,
 * each a function file name, none twice; at least one. -1 with err.
 */
static int line_names(const char *p, const char *end, const char *key, const char *file,
                      name_list_t *l, cs_err_t *err)
{
    int on_line = 0;

    while (p < end) {
        const char *s;

        while (p < end && (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r'))
            p++;
        if (p >= end)
            break;
        s = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != ',' && *p != '\r')
            p++;
        if (!is_ident(s, (size_t)(p - s)))
            return cs_err_set(err, CS_ERR_FATAL,
                              "%s: '-- %s:' names '%.*s', which is not a function file name "
                              "(lower-case letters, digits, underscores)",
                              file, key, (int)(p - s), s);
        for (int i = 0; i < l->n; i++)
            if (strlen(l->v[i]) == (size_t)(p - s) && strncmp(l->v[i], s, (size_t)(p - s)) == 0)
                return cs_err_set(err, CS_ERR_FATAL, "%s: '-- %s:' names %s twice", file, key,
                                  l->v[i]);
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 8;
            l->v = cs_mem_reallocarray(l->v, (size_t)l->cap, sizeof(*l->v));
        }
        l->v[l->n++] = cs_mem_strndup(s, (size_t)(p - s));
        on_line++;
    }
    if (on_line == 0)
        return cs_err_set(err, CS_ERR_FATAL, "%s: '-- %s:' lists no function", file, key);
    return 0;
}

int cs__migrate_header_names(const char *sql, const char *key, const char *file, char ***names,
                             cs_err_t *err)
{
    size_t klen = strlen(key);
    name_list_t l = {0};
    const char *line = sql;

    *names = NULL;
    while (*line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *p = line, *end = line + len;
        bool blank = true;

        for (const char *q = line; q < end; q++)
            if (*q != ' ' && *q != '\t' && *q != '\r')
                blank = false;
        if (!blank && (len < 2 || line[0] != '-' || line[1] != '-'))
            break; /* the leading comment block ends here */
        if (!blank) {
            p += 2;
            while (p < end && *p == ' ')
                p++;
        }
        if (!blank && (size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == ':' &&
            line_names(p + klen + 1, end, key, file, &l, err) < 0) {
            cs__migrate_free_names(l.v, l.n);
            return -1;
        }
        if (!eol)
            break;
        line = eol + 1;
    }
    *names = l.v;
    return l.n;
}

void cs__migrate_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        memset(out, '0', 64); /* never happens with a working libcrypto; fails every compare */
        out[64] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Depth-first, post-order: a node is placed once everything it needs is placed. */
typedef struct walk {
    int n;
    const char *const *names;
    const int *const *deps;
    const int *ndeps;
    int *order, placed;
    char *state; /* 0 new, 1 on the path, 2 placed */
    int *path, depth;
    cs_err_t *err;
} walk_t;

static int visit(walk_t *w, int v)
{
    if (w->state[v] == 2)
        return 0;
    if (w->state[v] == 1) {
        char msg[CS_ERR_MSG_SIZE];
        size_t off = 0;
        int from = w->depth - 1;

        while (from > 0 && w->path[from] != v)
            from--;
        for (int i = from; i < w->depth && off < sizeof(msg); i++)
            off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%s -> ", w->names[w->path[i]]);
        if (off < sizeof(msg))
            snprintf(msg + off, sizeof(msg) - off, "%s", w->names[v]);
        return cs_err_set(w->err, CS_ERR_FATAL,
                          "function files depend on each other in a cycle: %s", msg);
    }
    w->state[v] = 1;
    w->path[w->depth++] = v;
    for (int i = 0; i < w->ndeps[v]; i++)
        if (visit(w, w->deps[v][i]) < 0)
            return -1;
    w->depth--;
    w->state[v] = 2;
    w->order[w->placed++] = v;
    return 0;
}

int cs__migrate_order(int n, const char *const *names, const int *const *deps, const int *ndeps,
                      int *order, cs_err_t *err)
{
    walk_t w = {.n = n, .names = names, .deps = deps, .ndeps = ndeps, .order = order, .err = err};
    int rc = 0;

    w.state = cs_mem_calloc((size_t)n, 1);
    w.path = cs_mem_calloc((size_t)n, sizeof(int));
    for (int v = 0; v < n && rc == 0; v++)
        rc = visit(&w, v);
    free(w.state);
    free(w.path);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Files
 * -------------------------------------------------------------------------------------------*/

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
    case CS_MIGRATION_CHANGED:
        return "changed";
    case CS_MIGRATION_REMOVING:
        return "removing";
    }
    return "unknown";
}

static void free_files(mfile_t *f, int n)
{
    for (int i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].label);
        free(f[i].sql);
        cs__migrate_free_names(f[i].needs, f[i].nneeds);
        cs__migrate_free_names(f[i].removes, f[i].nremoves);
        free(f[i].need_idx);
    }
    free(f);
}

static void free_applied(applied_t *a, int n)
{
    for (int i = 0; i < n; i++) {
        free(a[i].file);
        free(a[i].checksum);
        free(a[i].applied_at);
    }
    free(a);
}

static void plan_fini(plan_t *p)
{
    free_files(p->files, p->nfiles);
    free_files(p->fns, p->nfns);
    free(p->fn_order);
    free_applied(p->done, p->ndone);
    free_applied(p->fdone, p->nfdone);
    memset(p, 0, sizeof(*p));
}

static int cmp_files(const void *a, const void *b)
{
    const mfile_t *x = a, *y = b;
    if (x->version != y->version)
        return (x->version > y->version) - (x->version < y->version);
    return strcmp(x->name, y->name);
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
        cs_err_set(err, CS_ERR_FATAL, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        cs_err_set(err, CS_ERR_FATAL, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    f->sql = cs_mem_alloc((size_t)size + 1);
    if (fread(f->sql, 1, (size_t)size, fp) != (size_t)size) {
        cs_err_set(err, CS_ERR_FATAL, "cannot read %s: short read", path);
        goto out;
    }
    f->sql[size] = '\0';
    f->len = (size_t)size;
    if (memchr(f->sql, '\0', f->len)) {
        cs_err_set(err, CS_ERR_FATAL, "%s contains a NUL byte", f->label);
        goto out;
    }
    cs__migrate_sha256_hex(f->sql, f->len, f->sum);
    rc = 0;
out:
    if (fp)
        fclose(fp);
    return rc;
}

/*
 * Adds the file name (n bytes, ending in .sql) to *files (*cap allocated): a versioned
 * migration NNNN_name.sql (functions false) or a function file <name>.sql, labelled for messages.
 */
static int add_file(const char *name, size_t n, bool functions, mfile_t **files, int *nfiles,
                    int *cap, cs_err_t *err)
{
    char key[CS__MIGRATE_NAME_MAX + 1] = "";
    int v = 0;
    mfile_t *f;

    if (functions ? cs__migrate_parse_function_file(name, key, sizeof(key)) < 0
                  : (v = cs__migrate_parse_version(name)) < 0)
        return cs_err_set(err, CS_ERR_FATAL,
                          functions ? "function file name '%s' is not <function name>.sql "
                                      "(lower-case letters, digits, underscores)"
                                    : "migration file name '%s' does not match NNNN_name.sql "
                                      "(lower-case name)",
                          name);
    if (*nfiles == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *files = cs_mem_reallocarray(*files, (size_t)*cap, sizeof(**files));
    }
    f = &(*files)[(*nfiles)++];
    memset(f, 0, sizeof(*f));
    f->version = v;
    memcpy(f->key, key, sizeof(key));
    f->name = cs_mem_strdup(name);
    if (functions) {
        f->label = cs_mem_alloc(n + sizeof("functions/"));
        snprintf(f->label, n + sizeof("functions/"), "functions/%s", f->name);
    } else {
        f->label = cs_mem_strdup(f->name);
    }
    return 0;
}

/* Sorts the files listed, refuses two migrations of one version, reads each with its header's
 * requires (migrations) or depends (function files). */
static int sort_and_read(const char *dir, bool functions, mfile_t *files, int nfiles, cs_err_t *err)
{
    if (nfiles)
        qsort(files, (size_t)nfiles, sizeof(*files), cmp_files);
    for (int i = 1; i < nfiles && !functions; i++)
        if (files[i].version == files[i - 1].version)
            return cs_err_set(err, CS_ERR_FATAL, "migrations %s and %s have the same version %04d",
                              files[i - 1].name, files[i].name, files[i].version);
    for (int i = 0; i < nfiles; i++) {
        mfile_t *f = &files[i];
        if (read_file(dir, f, err) < 0)
            return -1;
        f->nneeds = cs__migrate_header_names(f->sql, functions ? "depends" : "requires", f->label,
                                             &f->needs, err);
        if (f->nneeds < 0) {
            f->nneeds = 0;
            return -1;
        }
        if (!functions && (f->nremoves = cs__migrate_header_names(f->sql, "removes", f->label,
                                                                  &f->removes, err)) < 0) {
            f->nremoves = 0;
            return -1;
        }
    }
    return 0;
}

/*
 * Lists, validates, sorts and reads the .sql files of dir: versioned migrations (functions false)
 * or function files. Other files (READMEs) are skipped.
 */
static int load_dir(const char *dir, bool functions, mfile_t **files, int *nfiles, cs_err_t *err)
{
    const char *field = functions ? "functions-dir" : "migrations-dir";
    DIR *d = opendir(dir);
    struct dirent *e;
    int cap = 0, rc = -1;

    if (!d)
        return cs_err_set_field(err, CS_ERR_FATAL, field, "cannot open %s directory %s: %s",
                                functions ? "functions" : "migrations", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);

        if (n < 4 || strcmp(e->d_name + n - 4, ".sql") != 0)
            continue;
        if (add_file(e->d_name, n, functions, files, nfiles, &cap, err) < 0)
            goto out;
    }
    if (*nfiles == 0 && !functions) {
        cs_err_set_field(err, CS_ERR_FATAL, field, "no migrations (NNNN_name.sql) in %s", dir);
        goto out;
    }
    rc = sort_and_read(dir, functions, *files, *nfiles, err);
out:
    closedir(d);
    return rc;
}

static int find_fn(const plan_t *p, const char *key)
{
    for (int i = 0; i < p->nfns; i++)
        if (strcmp(p->fns[i].key, key) == 0)
            return i;
    return -1;
}

/* Resolves every requires/depends name to a function file; refuses unknown ones. */
static int resolve(plan_t *p, mfile_t *f, cs_err_t *err)
{
    f->need_idx = cs_mem_calloc((size_t)f->nneeds, sizeof(int));
    for (int i = 0; i < f->nneeds; i++) {
        f->need_idx[i] = find_fn(p, f->needs[i]);
        if (f->need_idx[i] < 0)
            return cs_err_set(err, CS_ERR_FATAL, "%s %s %s, but there is no %s/%s.sql", f->label,
                              f->version ? "requires" : "depends on", f->needs[i], p->fdir,
                              f->needs[i]);
        if (!f->version && f->need_idx[i] == (int)(f - p->fns))
            return cs_err_set(err, CS_ERR_FATAL, "%s depends on itself", f->label);
    }
    return 0;
}

static int order_functions(plan_t *p, cs_err_t *err)
{
    const char **names = cs_mem_calloc((size_t)p->nfns, sizeof(*names));
    const int **deps = cs_mem_calloc((size_t)p->nfns, sizeof(*deps));
    int *ndeps = cs_mem_calloc((size_t)p->nfns, sizeof(*ndeps));
    int rc;

    p->fn_order = cs_mem_calloc((size_t)p->nfns, sizeof(int));
    for (int i = 0; i < p->nfns; i++) {
        names[i] = p->fns[i].key;
        deps[i] = p->fns[i].need_idx;
        ndeps[i] = p->fns[i].nneeds;
    }
    rc = cs__migrate_order(p->nfns, names, deps, ndeps, p->fn_order, err);
    free(names);
    free(deps);
    free(ndeps);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Database
 * -------------------------------------------------------------------------------------------*/

/* Migration failures are FATAL unless the connection went away (TRANSIENT). */
static int fatal(cs_err_t *err)
{
    if (err && err->kind != CS_ERR_TRANSIENT)
        err->kind = CS_ERR_FATAL;
    return -1;
}

static int run(cs_db_t *db, const char *sql, cs_err_t *err)
{
    return cs_db_exec(db, sql, err) < 0 ? fatal(err) : 0;
}

/* Reads a bookkeeping table (absent: nothing applied). */
static int load_applied(cs_db_t *db, const char *table, const char *sql, applied_t **out, int *n,
                        cs_err_t *err)
{
    const char *params[1] = {table};
    cs_db_res_t *res = cs_db_query(db, "SELECT to_regclass($1) IS NOT NULL", 1, params, err);
    bool exists;

    if (!res)
        return fatal(err);
    exists = strcmp(cs_db_res_get(res, 0, 0), "t") == 0;
    cs_db_res_free(res);
    if (!exists)
        return 0;
    res = cs_db_query(db, sql, 0, NULL, err);
    if (!res)
        return fatal(err);
    *n = cs_db_res_rows(res);
    *out = cs_mem_calloc((size_t)*n, sizeof(**out));
    for (int i = 0; i < *n; i++) {
        applied_t *a = &(*out)[i];
        a->version = atoi(cs_db_res_get(res, i, 0));
        a->file = cs_mem_strdup(cs_db_res_get(res, i, 1));
        a->checksum = cs_mem_strdup(cs_db_res_get(res, i, 2));
        a->applied_at = cs_mem_strdup(cs_db_res_get(res, i, 3));
    }
    cs_db_res_free(res);
    return 0;
}

static applied_t *find_applied(plan_t *p, int version)
{
    for (int i = 0; i < p->ndone; i++)
        if (p->done[i].version == version)
            return &p->done[i];
    return NULL;
}

static applied_t *find_fn_applied(plan_t *p, const char *key)
{
    for (int i = 0; i < p->nfdone; i++)
        if (strcmp(p->fdone[i].file, key) == 0)
            return &p->fdone[i];
    return NULL;
}

/* Whether a migration not applied yet names the function on a "-- removes:" line. */
static bool removal_pending(plan_t *p, const char *name)
{
    for (int i = 0; i < p->nfiles; i++) {
        if (find_applied(p, p->files[i].version))
            continue;
        for (int k = 0; k < p->files[i].nremoves; k++)
            if (strcmp(p->files[i].removes[k], name) == 0)
                return true;
    }
    return false;
}

/*
 * The refusals: an edited or missing applied migration, a missing applied function file (unless
 * a pending migration removes the function). A changed function file is not one: it is what
 * function files are for.
 */
static int verify(plan_t *p, cs_err_t *err)
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
                              p->done[i].file, p->done[i].version, p->dir);
    for (int i = 0; i < p->nfdone; i++)
        if (find_fn(p, p->fdone[i].file) < 0 && !removal_pending(p, p->fdone[i].file))
            return cs_err_set(err, CS_ERR_FATAL,
                              "applied function file %s.sql is missing from %s; to remove a "
                              "function, add a migration with the header line '-- removes: %s' "
                              "(docs/schema.md)",
                              p->fdone[i].file, p->fdir, p->fdone[i].file);
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

/* Runs a file's SQL inside the open transaction; a failure names FILE:LINE. */
static int run_file(cs_db_t *db, const mfile_t *f, cs_err_t *err)
{
    PGresult *res = PQexec(cs__db_pgconn(db), f->sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
        const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
        char where[300];

        if (pos)
            snprintf(where, sizeof(where), "%s:%d", f->label, line_of(f->sql, atol(pos)));
        else
            snprintf(where, sizeof(where), "%s", f->label);
        cs__db_err_from_result(db, res, where, err);
        if (ctx)
            cs_log_error("migration failed", CS_LS("file", f->label), CS_LS("context", ctx),
                         CS_LS("sqlstate", err ? err->sqlstate : ""));
        rc = fatal(err);
    }
    PQclear(res);
    return rc;
}

/*
 * Runs a function file and checks it defined a function of its name (inside a transaction), then
 * records it (with_version: the migration it was applied ahead of, or 0) unless record is false.
 */
static int run_function(cs_db_t *db, mfile_t *fn, int with_version, bool record, double *ms,
                        cs_err_t *err)
{
    const char *params[5];
    char duration[32], with[16];
    double t0 = now_ms();
    cs_db_res_t *res;
    bool defined;

    if (run_file(db, fn, err) < 0)
        return -1;
    params[0] = fn->key;
    res = cs_db_query(db,
                      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc"
                      " WHERE proname = $1 AND pronamespace = current_schema()::regnamespace)",
                      1, params, err);
    if (!res)
        return fatal(err);
    defined = strcmp(cs_db_res_get(res, 0, 0), "t") == 0;
    cs_db_res_free(res);
    if (!defined)
        return cs_err_set(err, CS_ERR_FATAL, "%s ran but defines no function named %s", fn->label,
                          fn->key);
    *ms = now_ms() - t0;
    if (!record)
        return 0;
    snprintf(duration, sizeof(duration), "%.3f", *ms);
    snprintf(with, sizeof(with), "%d", with_version);
    params[1] = fn->name;
    params[2] = fn->sum;
    params[3] = duration;
    params[4] = with_version > 0 ? with : NULL;
    if (cs_db_execp(db, UPSERT_FUNCTION_SQL, 5, params, err) < 0)
        return fatal(err);
    fn->recorded = fn->sum;
    fn->done = true;
    return 0;
}

static bool fn_pending(const mfile_t *fn)
{
    return !fn->done && (!fn->recorded || strcmp(fn->recorded, fn->sum) != 0);
}

static void mark_needed(plan_t *p, int i, bool *need)
{
    if (need[i])
        return;
    need[i] = true;
    for (int k = 0; k < p->fns[i].nneeds; k++)
        mark_needed(p, p->fns[i].need_idx[k], need);
}

static void rollback(cs_db_t *db)
{
    if (PQtransactionStatus(cs__db_pgconn(db)) != PQTRANS_IDLE) {
        cs_err_t ignored;
        cs_db_exec(db, "ROLLBACK", &ignored);
    }
}

/*
 * The functions migration f names on "-- removes:" lines, after its own statements, in its
 * transaction: every function, procedure or aggregate of the name in the schema is dropped
 * (without CASCADE: a trigger or view still using one fails the migration, which then changes
 * nothing) and its schema_functions row deleted. A file of the name still there is applied again
 * after the migrations, as a new one.
 */
static int remove_functions(cs_db_t *db, plan_t *p, mfile_t *f, cs_err_t *err)
{
    for (int k = 0; k < f->nremoves; k++) {
        const char *params[1] = {f->removes[k]};
        char sql[1024];
        int i;

        /* The name is a lower-case identifier (cs__migrate_header_names): safe in a literal. */
        snprintf(sql, sizeof(sql),
                 "DO $cs$ DECLARE r record; BEGIN FOR r IN SELECT p.oid::regprocedure AS sig,"
                 " p.prokind FROM pg_catalog.pg_proc p WHERE p.proname = '%s'"
                 " AND p.pronamespace = current_schema()::regnamespace LOOP"
                 " EXECUTE format('DROP %%s %%s', CASE r.prokind WHEN 'p' THEN 'PROCEDURE'"
                 " WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END, r.sig); END LOOP; END $cs$",
                 f->removes[k]);
        if (cs_db_exec(db, sql, err) < 0) {
            char why[CS_ERR_MSG_SIZE];
            snprintf(why, sizeof(why), "%s", err->msg);
            cs_err_set(err, err->kind, "%s: cannot remove function %s: %s", f->label, f->removes[k],
                       why);
            return fatal(err);
        }
        if (cs_db_execp(db, "DELETE FROM schema_functions WHERE name = $1", 1, params, err) < 0)
            return fatal(err);
        i = find_fn(p, f->removes[k]);
        if (i >= 0) {
            p->fns[i].recorded = NULL;
            p->fns[i].done = false;
        }
    }
    return 0;
}

/* The function files one migration's transaction applied ahead of it (reported after COMMIT). */
typedef struct applied_list {
    const char **labels;
    double *ms;
    int n;
} applied_list_t;

/*
 * Applies one migration with the function files it requires (new or changed ones, their
 * dependencies first) and records them, in one transaction.
 */
static int apply_migration(cs_db_t *db, plan_t *p, mfile_t *f, bool *need, applied_list_t *ahead,
                           double *elapsed_ms, cs_err_t *err)
{
    char version[16], duration[32];
    const char *vals[4];
    double t0 = now_ms();
    bool any = false;

    ahead->n = 0;
    if (run(db, "BEGIN", err) < 0)
        return -1;
    memset(need, 0, (size_t)(p->nfns ? p->nfns : 1) * sizeof(*need));
    for (int k = 0; k < f->nneeds; k++)
        mark_needed(p, f->need_idx[k], need);
    for (int o = 0; o < p->nfns; o++) {
        mfile_t *fn = &p->fns[p->fn_order[o]];
        double ms;

        if (!need[p->fn_order[o]] || !fn_pending(fn))
            continue;
        if (!any && run(db, "SET LOCAL check_function_bodies = off", err) < 0)
            goto fail;
        any = true;
        if (run_function(db, fn, f->version, true, &ms, err) < 0)
            goto fail;
        fn->ahead = true;
        ahead->labels[ahead->n] = fn->label;
        ahead->ms[ahead->n++] = ms;
    }
    if (any && run(db, "RESET check_function_bodies", err) < 0)
        goto fail;
    if (run_file(db, f, err) < 0 || remove_functions(db, p, f, err) < 0)
        goto fail;
    *elapsed_ms = now_ms() - t0;
    snprintf(version, sizeof(version), "%d", f->version);
    snprintf(duration, sizeof(duration), "%.3f", *elapsed_ms);
    vals[0] = version;
    vals[1] = f->name;
    vals[2] = f->sum;
    vals[3] = duration;
    if (cs_db_execp(db,
                    "INSERT INTO schema_migrations (version, file, checksum, duration_ms)"
                    " VALUES ($1, $2, $3, $4)",
                    4, vals, err) < 0) {
        fatal(err);
        goto fail;
    }
    if (run(db, "COMMIT", err) < 0)
        goto fail;
    return 0;
fail:
    rollback(db); /* the run stops here: nothing of this transaction stays */
    return -1;
}

/*
 * Applies one function file in its own transaction, or (recheck) runs again one applied ahead of
 * a migration in this run, its bodies now checked, leaving its record as it is.
 */
static int apply_function(cs_db_t *db, mfile_t *fn, bool recheck, double *ms, cs_err_t *err)
{
    if (run(db, "BEGIN", err) < 0)
        return -1;
    if (run_function(db, fn, 0, !recheck, ms, err) < 0 || run(db, "COMMIT", err) < 0) {
        rollback(db);
        return -1;
    }
    return 0;
}

static void log_notice(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    (void)arg;
    cs_log_info("server notice", CS_LS("severity", sev ? sev : ""),
                CS_LS("notice", msg ? msg : ""));
}

/* The directory beside dir named "functions" (sql/migrations -> sql/functions). */
static char *sibling_functions(const char *dir)
{
    size_t n = strlen(dir);
    char *out;

    while (n > 1 && dir[n - 1] == '/')
        n--;
    while (n > 0 && dir[n - 1] != '/')
        n--;
    out = cs_mem_alloc(n + sizeof("functions"));
    memcpy(out, dir, n);
    memcpy(out + n, "functions", sizeof("functions"));
    return out;
}

/* Shared prologue: notice receiver, files, lock, applied rows, resolution and order. */
static int prepare(cs_db_t *db, const cs_migrate_dirs_t *dirs, plan_t *p, bool lock,
                   char **fdir_owned, cs_err_t *err)
{
    if (!db || !cs_db_ok(db))
        return cs_err_set(err, CS_ERR_TRANSIENT, "no usable PostgreSQL connection");
    if (!dirs || !dirs->migrations || !*dirs->migrations)
        return cs_err_set_field(err, CS_ERR_FATAL, "migrations-dir",
                                "no migrations directory given");
    p->dir = dirs->migrations;
    if (dirs->functions && *dirs->functions) {
        p->fdir = dirs->functions;
    } else {
        *fdir_owned = sibling_functions(dirs->migrations);
        p->fdir = *fdir_owned;
    }
    p->old_notice = PQsetNoticeReceiver(cs__db_pgconn(db), log_notice, NULL);
    p->old_notice_arg = NULL;
    if (load_dir(p->dir, false, &p->files, &p->nfiles, err) < 0 ||
        load_dir(p->fdir, true, &p->fns, &p->nfns, err) < 0)
        return -1;
    for (int i = 0; i < p->nfiles; i++)
        if (resolve(p, &p->files[i], err) < 0)
            return -1;
    for (int i = 0; i < p->nfns; i++)
        if (resolve(p, &p->fns[i], err) < 0)
            return -1;
    if (order_functions(p, err) < 0)
        return -1;
    if (lock) {
        if (run(db, LOCK_SQL, err) < 0)
            return -1;
        p->locked = true;
    }
    if (load_applied(db, "schema_migrations",
                     "SELECT version, file, checksum, applied_at::text FROM schema_migrations"
                     " ORDER BY version",
                     &p->done, &p->ndone, err) < 0 ||
        load_applied(db, "schema_functions",
                     "SELECT 0, name, checksum, applied_at::text FROM schema_functions"
                     " ORDER BY name",
                     &p->fdone, &p->nfdone, err) < 0)
        return -1;
    for (int i = 0; i < p->nfns; i++) {
        applied_t *a = find_fn_applied(p, p->fns[i].key);
        p->fns[i].recorded = a ? a->checksum : NULL;
    }
    return 0;
}

/* Shared epilogue: releases the lock, restores the notice receiver, frees the plan. */
static void finish(cs_db_t *db, plan_t *p, char *fdir_owned)
{
    if (db && cs_db_ok(db)) {
        if (p->locked) {
            cs_err_t ignored;
            cs_db_exec(db, UNLOCK_SQL, &ignored);
        }
        if (p->old_notice)
            PQsetNoticeReceiver(cs__db_pgconn(db), p->old_notice, p->old_notice_arg);
    }
    plan_fini(p);
    free(fdir_owned);
}

static void report(const char *label, double ms, cs_migrate_applied_cb cb, void *ud)
{
    cs_log_info("migration applied", CS_LS("file", label), CS_LD("ms", ms));
    if (cb)
        cb(label, ms, ud);
}

/* Applies each migration not applied yet, in order, with the functions it requires ahead of it;
 * adds to *applied the files applied. */
static int apply_new_migrations(cs_db_t *db, plan_t *p, bool *need, applied_list_t *ahead,
                                cs_migrate_applied_cb on_applied, void *ud, int *applied,
                                cs_err_t *err)
{
    for (int i = 0; i < p->nfiles; i++) {
        double ms = 0;

        if (find_applied(p, p->files[i].version))
            continue;
        if (apply_migration(db, p, &p->files[i], need, ahead, &ms, err) < 0)
            return -1;
        for (int k = 0; k < ahead->n; k++)
            report(ahead->labels[k], ahead->ms[k], on_applied, ud);
        *applied += ahead->n + 1;
        report(p->files[i].label, ms, on_applied, ud);
    }
    return 0;
}

/* Then re-applies, in dependency order, each function file that is new or changed, and checks again
 * those applied ahead of a migration; adds to *applied the files applied. */
static int apply_changed_functions(cs_db_t *db, plan_t *p, cs_migrate_applied_cb on_applied,
                                   void *ud, int *applied, cs_err_t *err)
{
    for (int o = 0; o < p->nfns; o++) {
        mfile_t *fn = &p->fns[p->fn_order[o]];
        bool recheck = fn->ahead;
        double ms = 0;

        if (!recheck && !fn_pending(fn))
            continue;
        fn->done = false;
        if (apply_function(db, fn, recheck, &ms, err) < 0)
            return -1;
        if (!recheck) {
            (*applied)++;
            report(fn->label, ms, on_applied, ud);
        }
    }
    return 0;
}

int cs_migrate_apply_dirs(cs_db_t *db, const cs_migrate_dirs_t *dirs,
                          cs_migrate_applied_cb on_applied, void *ud, cs_err_t *err)
{
    plan_t p = {0};
    char *fdir = NULL;
    bool *need = NULL;
    applied_list_t *ahead = NULL;
    int applied = 0, rc = -1;

    cs_err_clear(err);
    if (prepare(db, dirs, &p, true, &fdir, err) < 0 || verify(&p, err) < 0)
        goto out;
    need = cs_mem_calloc((size_t)p.nfns, sizeof(*need));
    ahead = cs_mem_calloc(1, sizeof(*ahead));
    ahead->labels = cs_mem_calloc((size_t)p.nfns, sizeof(*ahead->labels));
    ahead->ms = cs_mem_calloc((size_t)p.nfns, sizeof(*ahead->ms));
    if (run(db, CREATE_MIGRATIONS_SQL, err) < 0 || run(db, CREATE_FUNCTIONS_SQL, err) < 0)
        goto out;
    if (apply_new_migrations(db, &p, need, ahead, on_applied, ud, &applied, err) < 0 ||
        apply_changed_functions(db, &p, on_applied, ud, &applied, err) < 0)
        goto out;
    rc = applied;
out:
    free(need);
    if (ahead) {
        free(ahead->labels);
        free(ahead->ms);
        free(ahead);
    }
    finish(db, &p, fdir);
    return rc;
}

int cs_migrate_apply(cs_db_t *db, const char *dir, cs_migrate_applied_cb on_applied, void *ud,
                     cs_err_t *err)
{
    cs_migrate_dirs_t dirs = {.migrations = dir, .functions = NULL};
    return cs_migrate_apply_dirs(db, &dirs, on_applied, ud, err);
}

/* The versioned migrations' states through cb: pending, applied, edited, and applied ones whose
 * file is missing. Returns how many are edited or missing. */
static int status_migrations(plan_t *p, cs_migrate_status_cb cb, void *ud)
{
    int bad = 0;

    for (int i = 0; i < p->nfiles; i++) {
        applied_t *a = find_applied(p, p->files[i].version);
        cs_migration_info_t m = {.version = p->files[i].version,
                                 .file = p->files[i].name,
                                 .checksum = p->files[i].sum,
                                 .state = CS_MIGRATION_PENDING};

        if (a) {
            a->seen = true;
            m.applied_at = a->applied_at;
            m.applied_checksum = a->checksum;
            m.state = strcmp(a->checksum, p->files[i].sum) == 0 ? CS_MIGRATION_APPLIED
                                                                : CS_MIGRATION_EDITED;
            bad += m.state == CS_MIGRATION_EDITED;
        }
        if (cb)
            cb(&m, ud);
    }
    for (int j = 0; j < p->ndone; j++) {
        cs_migration_info_t m = {.version = p->done[j].version,
                                 .file = p->done[j].file,
                                 .state = CS_MIGRATION_MISSING,
                                 .applied_at = p->done[j].applied_at,
                                 .applied_checksum = p->done[j].checksum};

        if (p->done[j].seen)
            continue;
        bad++;
        if (cb)
            cb(&m, ud);
    }
    return bad;
}

/* The function files' states through cb, in dependency order: pending, applied, changed (to be
 * applied again), and applied ones whose file is gone: removing (a pending migration removes
 * them), else missing. Returns how many are missing. */
static int status_functions(plan_t *p, cs_migrate_status_cb cb, void *ud)
{
    int bad = 0;

    for (int o = 0; o < p->nfns; o++) {
        mfile_t *fn = &p->fns[p->fn_order[o]];
        applied_t *a = find_fn_applied(p, fn->key);
        cs_migration_info_t m = {
            .version = 0, .file = fn->label, .checksum = fn->sum, .state = CS_MIGRATION_PENDING};

        if (a) {
            a->seen = true;
            m.applied_at = a->applied_at;
            m.applied_checksum = a->checksum;
            m.state =
                strcmp(a->checksum, fn->sum) == 0 ? CS_MIGRATION_APPLIED : CS_MIGRATION_CHANGED;
        }
        if (cb)
            cb(&m, ud);
    }
    for (int j = 0; j < p->nfdone; j++) {
        char label[CS__MIGRATE_NAME_MAX + 32];
        cs_migration_info_t m = {.version = 0,
                                 .file = label,
                                 .state = CS_MIGRATION_MISSING,
                                 .applied_at = p->fdone[j].applied_at,
                                 .applied_checksum = p->fdone[j].checksum};

        if (p->fdone[j].seen)
            continue;
        snprintf(label, sizeof(label), "functions/%s.sql", p->fdone[j].file);
        if (removal_pending(p, p->fdone[j].file))
            m.state = CS_MIGRATION_REMOVING;
        else
            bad++;
        if (cb)
            cb(&m, ud);
    }
    return bad;
}

int cs_migrate_status_dirs(cs_db_t *db, const cs_migrate_dirs_t *dirs, cs_migrate_status_cb cb,
                           void *ud, cs_err_t *err)
{
    plan_t p = {0};
    char *fdir = NULL;
    int rc = -1;

    cs_err_clear(err);
    if (prepare(db, dirs, &p, false, &fdir, err) == 0) {
        rc = status_migrations(&p, cb, ud);
        rc += status_functions(&p, cb, ud);
    }
    finish(db, &p, fdir);
    return rc;
}

int cs_migrate_status(cs_db_t *db, const char *dir, cs_migrate_status_cb cb, void *ud,
                      cs_err_t *err)
{
    cs_migrate_dirs_t dirs = {.migrations = dir, .functions = NULL};
    return cs_migrate_status_dirs(db, &dirs, cb, ud, err);
}

/*
 * tools/migrate.c
 *      cs-migrate - apply the schema's versioned migrations (sql/migrations/) and function files
 *      (sql/functions/) to CS_PG_DSN.
 *
 * A thin main over cs_migrate_apply_dirs() / cs_migrate_status_dirs() (libcore/src/migrate.c).
 * Prints one line per applied file on stdout, or with --status one line per file (version, or
 * "fn" for a function file, state, file, applied at). --maintain-partitions then runs
 * cs_partition_maintain(), which creates the range partitions of the coming months (run it daily
 * from cron, or at every deploy). Exit codes: 0 done (or status consistent), 1 a migration or the
 * connection failed, or --status found edited/missing files, 2 bad options. --functions-dir
 * defaults to "functions" beside
 * --migrations-dir.
 */
#include <stdio.h>
#include <string.h>

#include "cs/config.h"
#include "cs/db.h"
#include "cs/err.h"
#include "cs/log.h"
#include "cs/migrate.h"

#ifndef CS_MIGRATIONS_DIR
#define CS_MIGRATIONS_DIR "sql/migrations"
#endif

static const cs_opt_t opts[] = {
    {"migrations-dir", CS_OPT_STRING, CS_MIGRATIONS_DIR, "directory of NNNN_name.sql migrations"},
    {"functions-dir", CS_OPT_STRING, "",
     "directory of <function>.sql files (default: functions beside --migrations-dir)"},
    {"status", CS_OPT_BOOL, "false", "list applied and pending migrations; change nothing"},
    {"maintain-partitions", CS_OPT_BOOL, "false",
     "after migrating, create the range partitions of the coming months"},
    {NULL},
};

static void print_applied(const char *file, double ms, void *ud)
{
    (void)ud;
    printf("applied %s (%.0f ms)\n", file, ms);
    fflush(stdout);
}

static void print_status(const cs_migration_info_t *m, void *ud)
{
    (void)ud;
    if (m->version > 0)
        printf("%04d  %-8s  %-44s  %s\n", m->version, cs_migrate_state_name(m->state), m->file,
               m->applied_at ? m->applied_at : "-");
    else
        printf("fn    %-8s  %-44s  %s\n", cs_migrate_state_name(m->state), m->file,
               m->applied_at ? m->applied_at : "-");
}

/* --status: the table of migrations and function files; 1 when one applied is edited or missing. */
static int run_status(cs_db_t *db, const cs_migrate_dirs_t *dirs)
{
    cs_err_t err;
    int rc;

    printf("%-4s  %-8s  %-44s  %s\n", "ver", "state", "file", "applied at");
    rc = cs_migrate_status_dirs(db, dirs, print_status, NULL, &err);
    if (rc < 0) {
        fprintf(stderr, "cs-migrate: %s\n", err.msg);
        return 1;
    }
    if (rc > 0) {
        fprintf(stderr, "cs-migrate: %d applied file(s) edited or missing\n", rc);
        return 1;
    }
    return 0;
}

/* Applies what is pending, then with maintain_partitions creates partitions ahead. */
static int run_apply(cs_db_t *db, const cs_migrate_dirs_t *dirs, bool maintain_partitions)
{
    cs_err_t err;
    int rc = cs_migrate_apply_dirs(db, dirs, print_applied, NULL, &err);

    if (rc < 0) {
        fprintf(stderr, "cs-migrate: %s\n", err.msg);
        return 1;
    }
    if (rc == 0)
        printf("schema is up to date\n");
    else
        printf("applied %d file(s)\n", rc);
    if (maintain_partitions) {
        cs_db_res_t *res = cs_db_query(db, "SELECT cs_partition_maintain()", 0, NULL, &err);
        if (!res) {
            fprintf(stderr, "cs-migrate: partition maintenance failed: %s\n", err.msg);
            return 1;
        }
        printf("created %s partition(s) ahead\n", cs_db_res_get(res, 0, 0));
        cs_db_res_free(res);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int exit_code = 0;
    cs_config_t *cfg;
    cs_db_t *db = NULL;
    cs_err_t err;
    const char *dsn;
    cs_migrate_dirs_t dirs;

    cfg = cs_config_start("cs-migrate",
                          "[--status | --maintain-partitions] [--migrations-dir DIR] "
                          "[--functions-dir DIR] --pg-dsn DSN",
                          opts, argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    dsn = cs_config_str(cfg, "pg-dsn");
    dirs.migrations = cs_config_str(cfg, "migrations-dir");
    dirs.functions = cs_config_str(cfg, "functions-dir");
    if (!dsn || !*dsn) {
        fprintf(stderr, "cs-migrate: no PostgreSQL DSN given (--pg-dsn or CS_PG_DSN)\n");
        exit_code = 2;
        goto out;
    }
    db = cs_db_connect(dsn, "cs-migrate", &err);
    if (!db) {
        fprintf(stderr, "cs-migrate: %s\n", err.msg);
        exit_code = 1;
        goto out;
    }
    exit_code = cs_config_bool(cfg, "status")
                    ? run_status(db, &dirs)
                    : run_apply(db, &dirs, cs_config_bool(cfg, "maintain-partitions"));
out:
    cs_db_destroy(db);
    cs_config_destroy(cfg);
    return exit_code;
}

/*
 * tools/replay.c
 *      cs-replay - replays and backfills through a worker's handlers: the front-end.
 *
 * A replay is a mode of the worker program itself (`cs-progress replay ...`, libcore's
 * worker_replay.c), so every worker's handlers are reused. This front-end, git-style:
 *   cs-replay WORKER [options]    execs `cs-WORKER replay [options]` (the program beside
 *                                 cs-replay, else on PATH);
 *   cs-replay --resume JOB [...]  finds the job's worker and execs `cs-WORKER replay --resume JOB`;
 *   cs-replay --list [--json]     the jobs (replay_jobs): state, range, counters, progress;
 *   cs-replay --dead-letters WORKER [options]
 *                                 execs `cs-WORKER redrive [options]` (worker_redrive.c): the
 *                                 worker's dead letters re-driven through its handlers;
 *   cs-replay --dead-letters [options]
 *                                 the same for every worker that has unresolved dead letters,
 *                                 one after the other (needs a DSN that may read dead_letters).
 * The DSN for --resume and --list: --pg-dsn, --pg-dsn-file, else CS_PG_DSN / CS_PG_DSN_FILE.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cs/config.h"
#include "cs/db.h"
#include "cs/mem.h"

static const char usage_text[] =
    "usage: cs-replay WORKER [options]     replay a range of WORKER's partitions (cs-WORKER "
    "replay)\n"
    "       cs-replay --resume JOB [options]  continue job JOB to its frozen ends\n"
    "       cs-replay --list [--json]      the replay jobs, their state, counters and progress\n"
    "\n"
    "Range options (cs-WORKER replay --help lists them all, with the runtime's):\n"
    "  --topics T1,T2          topics (default: the worker's)\n"
    "  --partitions 0,2|t:p    partitions (default: all)\n"
    "  --from-offset N|t:p=N,...  --to-offset N|t:p=N,...   offsets, the end exclusive\n"
    "  --from TIME --to TIME   times (2026-11-01T00:00Z), resolved by the broker's index\n"
    "  --dry-run               run the handlers, roll back: what would change, nothing written\n"
    "  --json                  the final report (or --list) as JSON\n"
    "  --progress-interval S   seconds between progress log lines off a terminal\n"
    "\n"
    "       cs-replay --dead-letters [WORKER] [options]\n"
    "                               re-drive dead letters through their worker (cs-WORKER "
    "redrive;\n"
    "                               without WORKER: every worker with unresolved ones)\n"
    "Re-drive options (cs-WORKER redrive --help lists them all):\n"
    "  --error-class C --topic T --event-type E --since TIME --until TIME --id N,M --limit N\n"
    "  --max-attempts N        the loop guard (default 3): rows re-driven N times are skipped\n"
    "  --force                 with --id: re-drive exhausted rows\n"
    "  --dry-run               list what would be re-driven, write nothing\n"
    "\n"
    "--list and --resume read the jobs with --pg-dsn (or --pg-dsn-file, CS_PG_DSN).\n"
    "\n"
    "Exit status: 0 done, 1 failed, 2 bad usage, 3 interrupted (resumable). See docs/replay.md.\n";

/* ---- finding and running the worker ---- */

static bool worker_name_ok(const char *w)
{
    if (!*w || strlen(w) > 64)
        return false;
    for (const char *p = w; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
    return true;
}

/* The path of cs-WORKER: beside this program if there, else the bare name (for PATH). */
static void worker_path(const char *name, char *prog, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    snprintf(prog, size, "%s", name);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            char beside[PATH_MAX + 64];
            snprintf(beside, sizeof beside, "%s/%s", self, name);
            if (access(beside, X_OK) == 0)
                snprintf(prog, size, "%s", beside);
        }
    }
}

/* Execs cs-WORKER MODE args... (MODE replay or redrive). Returns on failure. */
static int exec_worker_mode(const char *worker, const char *mode, int argc, char **argv)
{
    char prog[PATH_MAX + 64], name[96];
    if (!worker_name_ok(worker)) {
        fprintf(stderr, "cs-replay: '%s' is not a worker name\n", worker);
        return 2;
    }
    snprintf(name, sizeof name, "cs-%s", worker);
    char **v = cs_mem_calloc((size_t)argc + 3, sizeof *v);
    v[0] = name;
    v[1] = (char *)mode;
    for (int i = 0; i < argc; i++)
        v[i + 2] = argv[i];
    worker_path(name, prog, sizeof prog);
    if (strchr(prog, '/'))
        execv(prog, v);
    else
        execvp(prog, v);
    int e = errno;
    free(v);
    if (e == ENOENT) {
        fprintf(stderr,
                "cs-replay: unknown worker '%s': no program %s beside cs-replay nor on "
                "PATH\n",
                worker, name);
        return 2;
    }
    fprintf(stderr, "cs-replay: cannot run %s: %s\n", name, strerror(e));
    return 1;
}

static int exec_worker(const char *worker, int argc, char **argv)
{
    return exec_worker_mode(worker, "replay", argc, argv);
}

/* The DSN from --pg-dsn[=], --pg-dsn-file[=] or the environment; NULL if none (*owned: free). */
static const char *find_dsn(int argc, char **argv, char **owned)
{
    const char *dsn = NULL, *file = NULL;
    *owned = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--pg-dsn") && i + 1 < argc)
            dsn = argv[++i];
        else if (!strncmp(argv[i], "--pg-dsn=", 9))
            dsn = argv[i] + 9;
        else if (!strcmp(argv[i], "--pg-dsn-file") && i + 1 < argc)
            file = argv[++i];
        else if (!strncmp(argv[i], "--pg-dsn-file=", 14))
            file = argv[i] + 14;
    }
    if (!dsn && !file)
        dsn = getenv("CS_PG_DSN"), file = dsn ? NULL : getenv("CS_PG_DSN_FILE");
    if (!dsn && file && *file) {
        cs_err_t err;
        char *text;
        if (cs_config_secret_file_read(file, "--pg-dsn-file", &text, &err) < 0) {
            fprintf(stderr, "cs-replay: %s\n", err.msg);
            return NULL;
        }
        text[strcspn(text, "\r\n")] = '\0';
        return *owned = text;
    }
    return dsn && *dsn ? dsn : NULL;
}

static cs_db_t *connect_db(int argc, char **argv)
{
    char *owned;
    cs_err_t err;
    const char *dsn = find_dsn(argc, argv, &owned);
    if (!dsn) {
        fprintf(stderr, "cs-replay: no PostgreSQL DSN given (--pg-dsn or CS_PG_DSN)\n");
        return NULL;
    }
    cs_db_t *db = cs_db_connect(dsn, "cs-replay", &err);
    free(owned);
    if (!db)
        fprintf(stderr, "cs-replay: postgresql: %s\n", err.msg);
    return db;
}

/* --resume JOB [options]: the job's worker runs it. */
static int resume(const char *job, int argc, char **argv)
{
    cs_err_t err;
    for (const char *p = job; *p; p++)
        if (!isdigit((unsigned char)*p) || p - job > 17) {
            fprintf(stderr, "cs-replay: --resume: '%s' is not a job id\n", job);
            return 2;
        }
    if (!*job) {
        fprintf(stderr, "cs-replay: --resume needs a job id (cs-replay --list)\n");
        return 2;
    }
    cs_db_t *db = connect_db(argc, argv);
    if (!db)
        return 2;
    const char *p[] = {job};
    cs_db_res_t *res =
        cs_db_query(db, "SELECT worker FROM replay_jobs WHERE job_id = $1::bigint", 1, p, &err);
    int rc;
    if (!res) {
        fprintf(stderr, "cs-replay: reading job %s: %s\n", job, err.msg);
        rc = 1;
    } else if (cs_db_res_rows(res) == 0) {
        fprintf(stderr, "cs-replay: replay job %s does not exist\n", job);
        rc = 2;
    } else {
        char worker[96];
        snprintf(worker, sizeof worker, "%s", cs_db_res_get(res, 0, 0));
        cs_db_res_free(res);
        cs_db_destroy(db);
        char **v = cs_mem_calloc((size_t)argc + 3, sizeof *v);
        v[0] = "--resume";
        v[1] = (char *)job;
        for (int i = 0; i < argc; i++)
            v[i + 2] = argv[i];
        rc = exec_worker(worker, argc + 2, v);
        free(v);
        return rc;
    }
    cs_db_res_free(res);
    cs_db_destroy(db);
    return rc;
}

/* ---- --dead-letters ---- */

/* Runs cs-WORKER redrive args... as a child and waits: its exit status (1 if it could not run). */
static int run_redrive(const char *worker, int argc, char **argv)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cs-replay: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0)
        _exit(exec_worker_mode(worker, "redrive", argc, argv));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/*
 * --dead-letters [WORKER] [options]: with WORKER, cs-WORKER redrive does it all; without, every
 * worker with unresolved dead letters in turn. The exit status is the worst of theirs.
 */
static int dead_letters(int argc, char **argv)
{
    if (argc > 0 && argv[0][0] != '-')
        return exec_worker_mode(argv[0], "redrive", argc - 1, argv + 1);
    cs_err_t err;
    cs_db_t *db = connect_db(argc, argv);
    if (!db)
        return 2;
    cs_db_res_t *res = cs_db_query(db,
                                   "SELECT DISTINCT worker FROM dead_letters "
                                   "WHERE resolved_at IS NULL ORDER BY worker",
                                   0, NULL, &err);
    if (!res) {
        fprintf(stderr, "cs-replay: --dead-letters: reading dead_letters: %s\n", err.msg);
        cs_db_destroy(db);
        return 1;
    }
    int rc = 0, n = cs_db_res_rows(res);
    if (n == 0)
        printf("no unresolved dead letters\n");
    for (int r = 0; r < n; r++) {
        const char *w = cs_db_res_get(res, r, 0);
        printf("== %s\n", w);
        int c = run_redrive(w, argc, argv);
        if (c > rc)
            rc = c;
    }
    cs_db_res_free(res);
    cs_db_destroy(db);
    return rc;
}

/* ---- --list ---- */

static const char list_sql[] =
    "SELECT j.job_id, j.worker, j.state, "
    "coalesce(nullif(j.options - 'topics', '{}'::jsonb)::text, 'all') || ' ' || "
    "count(p.*) || ' partitions ' || coalesce(sum(p.end_offset - p.start_offset), 0) || "
    "' offsets', "
    "j.events_read, j.applied, j.skipped_duplicate, j.skipped_erased, j.dead_lettered, "
    "to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "coalesce(to_char(j.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'), "
    "CASE WHEN coalesce(sum(p.end_offset - p.start_offset), 0) = 0 THEN 100 ELSE "
    "floor(100 * sum(least(greatest(coalesce(o.next_offset, p.start_offset), p.start_offset), "
    "p.end_offset) - p.start_offset) / sum(p.end_offset - p.start_offset)) END, "
    "j.consumer_group "
    "FROM replay_jobs j LEFT JOIN replay_job_partitions p ON p.job_id = j.job_id "
    "LEFT JOIN consumer_offsets o ON o.consumer_group = j.consumer_group AND o.topic = p.topic "
    "AND o.kafka_partition = p.kafka_partition GROUP BY j.job_id ORDER BY j.job_id";

static void list_row_json(const cs_db_res_t *res, int r)
{
    const char *s = cs_db_res_get(res, r, 3);
    printf("{\"job\":%s,\"worker\":\"%s\",\"state\":\"%s\",\"group\":\"%s\",\"range\":\"",
           cs_db_res_get(res, r, 0), cs_db_res_get(res, r, 1), cs_db_res_get(res, r, 2),
           cs_db_res_get(res, r, 12));
    for (; *s; s++)
        printf(*s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    printf("\",\"read\":%s,\"applied\":%s,\"skipped_duplicate\":%s,\"skipped_erased\":%s,"
           "\"dead_lettered\":%s,\"started\":\"%s\",\"finished\":%s%s%s,\"progress_pct\":%s}\n",
           cs_db_res_get(res, r, 4), cs_db_res_get(res, r, 5), cs_db_res_get(res, r, 6),
           cs_db_res_get(res, r, 7), cs_db_res_get(res, r, 8), cs_db_res_get(res, r, 9),
           strcmp(cs_db_res_get(res, r, 10), "-") ? "\"" : "",
           strcmp(cs_db_res_get(res, r, 10), "-") ? cs_db_res_get(res, r, 10) : "null",
           strcmp(cs_db_res_get(res, r, 10), "-") ? "\"" : "", cs_db_res_get(res, r, 11));
}

static int list(int argc, char **argv)
{
    bool json = false;
    cs_err_t err;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--pg-dsn") || !strcmp(argv[i], "--pg-dsn-file")) {
            i++;
        } else if (strncmp(argv[i], "--pg-dsn=", 9) && strncmp(argv[i], "--pg-dsn-file=", 14)) {
            fprintf(stderr, "cs-replay: --list takes --json and --pg-dsn only, not '%s'\n",
                    argv[i]);
            return 2;
        }
    }
    cs_db_t *db = connect_db(argc, argv);
    if (!db)
        return 2;
    cs_db_res_t *res = cs_db_query(db, list_sql, 0, NULL, &err);
    if (!res) {
        fprintf(stderr, "cs-replay: listing the jobs: %s\n", err.msg);
        cs_db_destroy(db);
        return 1;
    }
    if (!json)
        printf("%-6s %-12s %-12s %5s %10s %10s %10s %8s %8s  %-20s  %-20s  %s\n", "JOB", "WORKER",
               "STATE", "DONE", "READ", "APPLIED", "DUPLICATE", "ERASED", "DEAD", "STARTED",
               "FINISHED", "RANGE");
    for (int r = 0; r < cs_db_res_rows(res); r++) {
        if (json)
            list_row_json(res, r);
        else
            printf("%-6s %-12s %-12s %4s%% %10s %10s %10s %8s %8s  %-20s  %-20s  %s\n",
                   cs_db_res_get(res, r, 0), cs_db_res_get(res, r, 1), cs_db_res_get(res, r, 2),
                   cs_db_res_get(res, r, 11), cs_db_res_get(res, r, 4), cs_db_res_get(res, r, 5),
                   cs_db_res_get(res, r, 6), cs_db_res_get(res, r, 7), cs_db_res_get(res, r, 8),
                   cs_db_res_get(res, r, 9), cs_db_res_get(res, r, 10), cs_db_res_get(res, r, 3));
    }
    cs_db_res_free(res);
    cs_db_destroy(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--list"))
        return list(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--dead-letters"))
        return dead_letters(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--resume"))
        return resume(argc > 2 ? argv[2] : "", argc > 2 ? argc - 3 : 0, argv + 3);
    if (!strncmp(argv[1], "--resume=", 9))
        return resume(argv[1] + 9, argc - 2, argv + 2);
    if (argv[1][0] == '-') {
        fprintf(stderr, "cs-replay: unknown option '%s' (cs-replay --help)\n", argv[1]);
        return 2;
    }
    return exec_worker(argv[1], argc - 2, argv + 2);
}

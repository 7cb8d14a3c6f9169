/*
 * tools/seed.c
 *      cs-seed - fill a migrated database with deterministic reference data for demos and
 *      benchmarks (industries, skills, curriculum, content, mentors, learners, mentorships).
 *
 * The data set is defined once, in SQL (cs_seed() in sql/functions/cs_seed.sql), so psql
 * users and this program get the same rows; this main only connects, calls it with --scale and
 * prints what the database now holds as one JSON object on stdout. Running it again adds nothing;
 * a larger --scale adds the missing mentors and learners. Learner n's id is
 * md5('learner-' || n)::uuid and mentor m's is md5('mentor-' || m)::uuid (see README, Schema).
 * Exit codes: 0 done, 1 database error, 2 bad options.
 */
#include <stdio.h>

#include "cs/config.h"
#include "cs/db.h"
#include "cs/err.h"
#include "cs/log.h"

static const cs_opt_t opts[] = {
    {"scale", CS_OPT_INT, "1", "multiplier: 1,000 mentors and 10,000 learners per unit", 1, 1000},
    {NULL},
};

int main(int argc, char **argv)
{
    int exit_code = 0;
    cs_config_t *cfg;
    cs_db_t *db = NULL;
    cs_db_res_t *res = NULL;
    cs_err_t err;
    char scale[24];
    const char *params[1] = {scale};

    cfg = cs_config_start("cs-seed", "[--scale N] --pg-dsn DSN", opts, argc, argv, &exit_code);
    if (!cfg)
        return exit_code;
    snprintf(scale, sizeof(scale), "%lld", cs_config_int(cfg, "scale"));
    db = cs_db_connect(cs_config_str(cfg, "pg-dsn"), "cs-seed", &err);
    if (!db) {
        fprintf(stderr, "cs-seed: %s\n", err.msg);
        exit_code = 1;
        goto out;
    }
    res = cs_db_query(db, "SELECT cs_seed($1::integer)::text", 1, params, &err);
    if (!res) {
        fprintf(stderr, "cs-seed: %s%s\n", err.msg,
                err.sqlstate[0] == '4' && err.sqlstate[1] == '2'
                    ? " (is the database migrated? run cs-migrate first)"
                    : "");
        exit_code = 1;
        goto out;
    }
    printf("%s\n", cs_db_res_get(res, 0, 0));
    cs_log_info("seeded", CS_LS("scale", scale));
out:
    cs_db_res_free(res);
    cs_db_destroy(db);
    cs_config_destroy(cfg);
    return exit_code;
}

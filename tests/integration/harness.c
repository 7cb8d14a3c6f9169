/*
 * tests/integration/harness.c
 *      Fresh databases and topic names for integration tests (see harness.h).
 */
#include "harness.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int counter;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "harness: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

const char *cs_test_pg_dsn(void)
{
    const char *d = getenv("CS_PG_DSN");

    if (!d || !*d)
        die("CS_PG_DSN is not set: run integration tests through scripts/test", NULL);
    return d;
}

const char *cs_test_brokers(void)
{
    const char *b = getenv("CS_KAFKA_BROKERS");

    if (!b || !*b)
        die("CS_KAFKA_BROKERS is not set: run integration tests through scripts/test", NULL);
    return b;
}

/* Keyword DSN for the admin connection's server with another database name. */
static void dsn_for(const char *dbname, char *dsn, size_t size)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(cs_test_pg_dsn(), &perr);
    size_t n = 0;

    if (!opts)
        die("cannot parse CS_PG_DSN", perr ? perr : "?");
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !strcmp(o->keyword, "dbname"))
            continue;
        n += (size_t)snprintf(dsn + n, n < size ? size - n : 0, "%s='%s' ", o->keyword, o->val);
    }
    snprintf(dsn + n, n < size ? size - n : 0, "dbname='%s'", dbname);
    PQconninfoFree(opts);
}

static void admin_exec(const char *sql, int tolerate)
{
    PGconn *c = PQconnectdb(cs_test_pg_dsn());
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to CS_PG_DSN", PQerrorMessage(c));
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !tolerate)
        die("admin statement failed", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

void cs_test_fresh_db(const char *tag, int use_template, char *dsn, size_t size)
{
    char name[64], sql[256];
    PGconn *c = PQconnectdb(cs_test_pg_dsn());
    PGresult *r;
    int have_template = 0;

    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to CS_PG_DSN", PQerrorMessage(c));
    r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = 'cs_template'");
    have_template = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    PQfinish(c);

    snprintf(name, sizeof(name), "t_%.20s_%d_%d", tag, (int)getpid(), counter++);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE %s", name,
             use_template && have_template ? "cs_template" : "template0");
    admin_exec(sql, 0);
    dsn_for(name, dsn, size);
}

void cs_test_drop_db(const char *dsn)
{
    const char *p = strstr(dsn, "dbname='");
    char name[64] = "", sql[160];

    if (!p)
        return;
    sscanf(p + 8, "%63[^']", name);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    admin_exec(sql, 1);
}

void cs_test_topic(const char *tag, char *out, size_t size)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, size, "t.%s.%d.%ld.%d", tag, (int)getpid(), (long)ts.tv_sec, counter++);
}

int64_t cs_test_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cs_test_timeout_mult(void)
{
    const char *m = getenv("CS_TEST_TIMEOUT_MULT");
    int v = m ? atoi(m) : 1;

    return v > 0 ? v : 1;
}

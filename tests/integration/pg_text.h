/*
 * tests/integration/pg_text.h
 *      Two helpers of the cs-progress tests (0101, 0103): the first column of a statement's first
 *      row as text, and a check of it, on a connection of their own (Check assertions).
 */
#ifndef CS_PG_TEXT_H
#define CS_PG_TEXT_H
#include <check.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

/* The first column of the first row of sql (any statement) as a string to free; "(null)" when
 * there is none. */
static inline char *db_text(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    char *out =
        strdup(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
                   ? PQgetvalue(r, 0, 0)
                   : "(null)");
    PQclear(r);
    PQfinish(c);
    return out;
}

static inline void expect_text(const char *dsn, const char *sql, const char *want)
{
    char *got = db_text(dsn, sql);
    ck_assert_msg(strcmp(got, want) == 0, "%s\n  want %s\n  got  %s", sql, want, got);
    free(got);
}

#endif

/*
 * libcore/src/db.c
 *      PostgreSQL access over libpq, with each failure classified.
 *
 * Every call checks the exact PQresultStatus it expects and clears the PGresult on every path.
 * A failure becomes a cs_err_t: the SQLSTATE decides the kind (cs_err_classify_sqlstate), and a
 * connection that is no longer CONNECTION_OK makes it TRANSIENT whatever the server said, because
 * the same statement may well succeed on a new connection.
 *
 * Secrets: a DSN may hold a password (postgresql://user:PASSWORD@host, password=...), and libpq
 * quotes a malformed URI whole in its parse error. No message made here ever shows one: a DSN
 * that does not parse is reported from a copy with every password replaced by ***, and the
 * password of one that does is scrubbed from connection errors. A DSN whose values cannot work
 * (port 99999, sslmode=bogus) is a configuration error (FATAL, field pg-dsn), not an outage.
 */
#include "cs/db.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cs/log.h"
#include "cs/mem.h"
#include "db_int.h"

struct cs_db {
    PGconn *conn;
    char *password;   /* the DSN's password, scrubbed from connection errors; NULL: none */
    PGcancel *cancel; /* made on the owner's thread after each (re)connect: cs_db_cancel */
    int pl_sent;      /* statements queued in the current pipeline */
    bool sent;        /* cs_db_send_query sent a query whose result is not collected */
    bool pl_failed;   /* a send failed: the pipeline reports it at its end */
    cs_err_t pl_err;
};

struct cs_db_res {
    PGresult *res;
};

/* Copies a libpq message into err->msg without the trailing newline. */
static void put_msg(cs_err_t *err, const char *what, const char *msg, const char *detail)
{
    size_t n;

    snprintf(err->msg, sizeof(err->msg), "%s%s%s%s%s", what ? what : "", what ? ": " : "",
             msg ? msg : "unknown error", detail ? " (" : "", detail ? detail : "");
    n = strlen(err->msg);
    while (n > 0 && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
        err->msg[--n] = '\0';
    /* Multi-line libpq messages read better as one line in a structured log. */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    if (detail && n + 1 < sizeof(err->msg)) {
        err->msg[n] = ')';
        err->msg[n + 1] = '\0';
    }
}

/*
 * The row and column a COPY FROM error happened at, from the error's CONTEXT line that
 * PostgreSQL's CopyFromErrorCallback writes: "COPY rel, line N, column col: "value"" in text
 * format, "COPY rel, line N, column col" in binary, "COPY rel, line N" when the whole line is at
 * fault (a bad encoding, a missing column in text format). Appends " (line N, column col)" to
 * err->msg and sets err->field to "rel.col", the same for both formats (the value is left out:
 * binary COPY has none to show, and the primary message names it when the type's input function
 * does). A context of several lines (a trigger's PL/pgSQL under the COPY) is searched for its
 * COPY line; nothing is done without one.
 */
static void put_copy_context(cs_err_t *err, const char *ctx)
{
    const char *line = NULL;

    for (const char *p = ctx; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, "COPY ", 5))
            line = p + 5;
    if (!line)
        return;
    size_t len = strcspn(line, "\n");
    const char *at = NULL; /* ", line " (a relation's name may hold one: the last one) */
    for (const char *p = line; (p = strstr(p, ", line ")) && p < line + len; p++)
        at = p;
    if (!at)
        return;
    size_t rel_len = (size_t)(at - line);
    char *endp;
    unsigned long long lineno = strtoull(at + 7, &endp, 10);
    if (endp == at + 7)
        return;
    size_t n = strlen(err->msg);
    if (!strncmp(endp, ", column ", 9)) {
        const char *col = endp + 9;
        size_t col_len = (size_t)(line + len - col);
        const char *colon = strstr(col, ": ");
        if (colon && colon < line + len)
            col_len = (size_t)(colon - col);
        snprintf(err->msg + n, sizeof err->msg - n, " (line %llu, column %.*s)", lineno,
                 (int)col_len, col);
        snprintf(err->field, sizeof err->field, "%.*s.%.*s", (int)rel_len, line, (int)col_len, col);
    } else {
        snprintf(err->msg + n, sizeof err->msg - n, " (line %llu)", lineno);
    }
}

int cs__db_err_from_result(cs_db_t *db, const PGresult *res, const char *what, cs_err_t *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

    if (!err)
        return -1;
    cs_err_clear(err);
    if (!primary)
        primary = res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                    : PQerrorMessage(db->conn);
    put_msg(err, what, primary, detail);
    if (res)
        put_copy_context(err, PQresultErrorField(res, PG_DIAG_CONTEXT));
    if (state)
        snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
    err->kind = cs_err_classify_sqlstate(state);
    if (PQstatus(db->conn) != CONNECTION_OK)
        err->kind = CS_ERR_TRANSIENT;
    return -1;
}

/*
 * A copy of dsn (malloc'ed) with every password replaced by ***: the password of a URI's user
 * information, and the value of every key ending in "password" (password, sslpassword) in a
 * key/value string (quoted or not) or a URI's query. It errs on the side of hiding more: the
 * user information ends at the last '@' before the host, so an unencoded '@' in a password
 * cannot leave part of it behind.
 */
static char *redact_dsn(const char *dsn)
{
    size_t n = strlen(dsn), i = 0, o = 0;
    bool uri = !strncmp(dsn, "postgresql://", 13) || !strncmp(dsn, "postgres://", 11);
    char *out = cs_mem_alloc(2 * n + 16);

    if (uri) {
        size_t a = (size_t)(strstr(dsn, "://") - dsn) + 3;
        size_t end = a + strcspn(dsn + a, "/?");
        size_t at = end, colon = a + strcspn(dsn + a, ":@/?");

        for (size_t k = a; k < end; k++)
            if (dsn[k] == '@')
                at = k;
        memcpy(out, dsn, a);
        o = i = a;
        if (at < end && colon < at && dsn[colon] == ':') {
            memcpy(out + o, dsn + a, colon + 1 - a);
            o += colon + 1 - a;
            memcpy(out + o, "***", 3);
            o += 3;
            i = at;
        }
    }
    while (i < n) {
        size_t k;
        char c = dsn[i++];

        out[o++] = c;
        if (c != '=')
            continue;
        for (k = o - 1; k > 0 && (out[k - 1] == ' ' || out[k - 1] == '\t');)
            k--;
        if (k < 8 || strncasecmp(out + k - 8, "password", 8) != 0)
            continue;
        if (uri) {
            i += strcspn(dsn + i, "&");
        } else {
            while (i < n && isspace((unsigned char)dsn[i]))
                out[o++] = dsn[i++];
            bool quoted = i < n && dsn[i] == '\'';
            for (i += quoted; i < n; i++) {
                if (dsn[i] == '\\' && i + 1 < n)
                    i++;
                else if (quoted ? dsn[i] == '\'' : isspace((unsigned char)dsn[i]))
                    break;
            }
            i += quoted && i < n;
        }
        memcpy(out + o, "***", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Replaces every occurrence of secret in err->msg with ***. */
static void scrub(cs_err_t *err, const char *secret)
{
    char out[sizeof(err->msg)];
    size_t len = secret ? strlen(secret) : 0, o = 0;

    if (!err || !len)
        return;
    for (const char *p = err->msg; *p && o + 1 < sizeof(out);) {
        if (!strncmp(p, secret, len)) {
            for (const char *r = "***"; *r && o + 1 < sizeof(out); r++)
                out[o++] = *r;
            p += len;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(err->msg, out, o + 1);
}

/*
 * Each entry of a port list ("5432", "5432,5433", "" for the default) is a TCP port, as libpq
 * reads it when connecting (an integer, blanks around it allowed, in 1..65535).
 */
static int check_ports(const char *ports, cs_err_t *err)
{
    for (const char *p = ports; p && *p;) {
        size_t len = strcspn(p, ",");
        size_t b = 0, e = len, k;
        long v = 0;

        while (b < e && isspace((unsigned char)p[b]))
            b++;
        while (e > b && isspace((unsigned char)p[e - 1]))
            e--;
        for (k = b; k < e && isdigit((unsigned char)p[k]) && v <= 65535; k++)
            v = v * 10 + (p[k] - '0');
        if (e > b && (k < e || v < 1 || v > 65535))
            return cs_err_set_field(err, CS_ERR_FATAL, "pg-dsn",
                                    "invalid PostgreSQL DSN: port '%.*s' is not a TCP port "
                                    "(1..65535)",
                                    (int)(len > 32 ? 32 : len), p);
        p += len + (p[len] == ',');
    }
    return 0;
}

/*
 * libpq refuses some option values only when connecting, before any network traffic: they are
 * configuration errors ("invalid port number", "invalid sslmode value", "invalid integer value
 * ... for connection option", "could not parse network address", "could not match 2 port
 * numbers to 3 hosts"). With several hosts the messages are one per line.
 */
static bool is_option_error(const char *m)
{
    static const char *const starts[] = {"invalid ", "could not parse network address",
                                         "could not match ", NULL};

    for (const char *line = m; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        for (int i = 0; starts[i]; i++)
            if (!strncmp(line, starts[i], strlen(starts[i])))
                return true;
    return false;
}

static void on_notice(void *arg, const PGresult *res);

/*
 * A malformed DSN, FATAL (configuration), not a retryable connect error. libpq's message may
 * quote the DSN: it is taken from the redacted copy, which fails the same way unless the password
 * itself was what broke it. parse_err is libpq's message for dsn (freed here).
 */
static void bad_dsn(const char *dsn, char *parse_err, cs_err_t *err)
{
    char *redacted = redact_dsn(dsn);
    char *redacted_err = NULL;
    PQconninfoOption *ropts = PQconninfoParse(redacted, &redacted_err);

    if (!parse_err)
        cs_err_set_field(err, CS_ERR_FATAL, "pg-dsn", "invalid PostgreSQL DSN: out of memory");
    else if (!ropts && redacted_err)
        cs_err_set_field(err, CS_ERR_FATAL, "pg-dsn", "invalid PostgreSQL DSN: %s", redacted_err);
    else
        cs_err_set_field(err, CS_ERR_FATAL, "pg-dsn",
                         "invalid PostgreSQL DSN (around its password, not shown)");
    if (err) {
        size_t len = strlen(err->msg);
        while (len > 0 && err->msg[len - 1] == '\n')
            err->msg[--len] = '\0';
    }
    PQconninfoFree(ropts);
    PQfreemem(redacted_err);
    PQfreemem(parse_err);
    free(redacted);
}

/* Parses dsn first: -1 when it is malformed or names a bad port; else 0 with its password (to
 * scrub from messages; NULL: none) in *password. */
static int check_dsn(const char *dsn, char **password, cs_err_t *err)
{
    char *parse_err = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &parse_err);

    *password = NULL;
    if (!opts) {
        bad_dsn(dsn, parse_err, err);
        return -1;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val && *o->val && !strcmp(o->keyword, "password") && !*password)
            *password = cs_mem_strdup(o->val);
        if (o->val && !strcmp(o->keyword, "port") && check_ports(o->val, err) < 0) {
            PQconninfoFree(opts);
            free(*password);
            *password = NULL;
            return -1;
        }
    }
    PQconninfoFree(opts);
    return 0;
}

/* A failed connection's error: FATAL when it will not fix itself (authentication, a missing
 * database, a bad option), else TRANSIENT; the password scrubbed from libpq's message. */
static void connect_failed(const cs_db_t *db, cs_err_t *err)
{
    const char *m = PQerrorMessage(db->conn);
    cs_err_kind_t kind =
        (strstr(m, "authentication failed") || strstr(m, "does not exist") ||
         strstr(m, "no password supplied") || strstr(m, "not permitted") || is_option_error(m))
            ? CS_ERR_FATAL
            : CS_ERR_TRANSIENT;

    cs_err_clear(err);
    if (err) {
        put_msg(err, "cannot connect to PostgreSQL", m, NULL);
        scrub(err, db->password);
        err->kind = kind;
        snprintf(err->field, sizeof(err->field), "pg-dsn");
    }
}

/*
 * Every session of ours runs without JIT compilation. Our statements are short and per batch, and
 * their cost estimates come from statistics that a new or fast-growing table lacks until
 * autovacuum analyzes it: in 1,000,000-event cs-progress drains from a fresh database a join
 * went over jit_above_cost in some batches and spent 24 s compiling (JIT code is not kept between
 * executions of a prepared statement) for statements that run in 100-300 ms.
 */
static int session_setup(cs_db_t *db, cs_err_t *err)
{
    PGresult *r = PQexec(db->conn, "SET jit = off");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        cs_err_clear(err);
        if (err) {
            put_msg(err, "cannot set up the PostgreSQL session (SET jit = off)",
                    PQerrorMessage(db->conn), NULL);
            err->kind = CS_ERR_TRANSIENT;
        }
    }
    PQclear(r);
    return ok ? 0 : -1;
}

cs_db_t *cs_db_connect(const char *dsn, const char *application_name, cs_err_t *err)
{
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *vals[] = {dsn, application_name ? application_name : "careerstream", "10", NULL};
    char *password = NULL;
    cs_db_t *db;

    if (!dsn || !*dsn) {
        cs_err_set_field(err, CS_ERR_FATAL, "pg-dsn", "no PostgreSQL DSN given (set CS_PG_DSN)");
        return NULL;
    }
    if (check_dsn(dsn, &password, err) < 0)
        return NULL;
    db = cs_mem_calloc(1, sizeof(*db));
    db->password = password;
    /* expand_dbname=1: dsn is a full connection string; our application_name wins only when the
     * DSN does not set one, which is what an operator expects. */
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (!db->conn)
        cs_mem_fail(0); /* libpq returns NULL only when it cannot allocate */
    if (PQstatus(db->conn) != CONNECTION_OK) {
        connect_failed(db, err);
        cs_db_destroy(db);
        return NULL;
    }
    PQsetNoticeReceiver(db->conn, on_notice, NULL);
    db->cancel = PQgetCancel(db->conn);
    if (session_setup(db, err) < 0) {
        cs_db_destroy(db);
        return NULL;
    }
    return db;
}

/*
 * Server notices (NOTICE, WARNING, ...) go to our log instead of libpq's default of printing them
 * on stderr, which would break the one-JSON-object-per-line log: warnings at warn, the rest at
 * debug (e.g. "relation ... already exists, skipping" of CREATE ... IF NOT EXISTS).
 */
static void on_notice(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (sev && strcmp(sev, "WARNING") == 0)
        cs_log_warn("postgresql notice", CS_LS("severity", sev),
                    CS_LS("sqlstate", code ? code : ""), CS_LS("message", msg ? msg : ""));
    else
        cs_log_debug("postgresql notice", CS_LS("severity", sev ? sev : ""),
                     CS_LS("sqlstate", code ? code : ""), CS_LS("message", msg ? msg : ""));
}

void cs_db_destroy(cs_db_t *db)
{
    if (!db)
        return;
    if (db->cancel)
        PQfreeCancel(db->cancel);
    PQfinish(db->conn);
    free(db->password);
    free(db);
}

bool cs_db_ok(const cs_db_t *db)
{
    return db && PQstatus(db->conn) == CONNECTION_OK;
}

int cs_db_reset(cs_db_t *db, cs_err_t *err)
{
    PQreset(db->conn);
    db->sent = false;
    if (db->cancel)
        PQfreeCancel(db->cancel);
    db->cancel = PQgetCancel(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        cs_err_clear(err);
        if (err) {
            put_msg(err, "cannot reconnect to PostgreSQL", PQerrorMessage(db->conn), NULL);
            scrub(err, db->password);
            err->kind = CS_ERR_TRANSIENT;
        }
        return -1;
    }
    return session_setup(db, err);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cs_db_probe(const char *dsn, const char *application_name, int timeout_ms)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {dsn, application_name ? application_name : "careerstream", NULL};
    long long end = now_ms() + timeout_ms;
    int rc = 0;

    if (!dsn || !*dsn)
        return 0;
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    if (!c)
        return 0;
    /* As the libpq manual says: after PQconnectStart, behave as if PQconnectPoll had last
     * returned PGRES_POLLING_WRITING. */
    PostgresPollingStatusType st =
        PQstatus(c) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK) {
            rc = 1;
            break;
        }
        if (st == PGRES_POLLING_FAILED || PQsocket(c) < 0) {
            rc = 0;
            break;
        }
        long long left = end - now_ms();
        if (left <= 0) {
            rc = -1;
            break;
        }
        struct pollfd pfd = {.fd = PQsocket(c),
                             .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno != EINTR) {
            rc = 0;
            break;
        }
        if (n > 0)
            st = PQconnectPoll(c);
    }
    PQfinish(c);
    return rc;
}

int cs_db_cancel(cs_db_t *db)
{
    char msg[256];

    if (!db || !db->cancel)
        return -1;
    return PQcancel(db->cancel, msg, (int)sizeof(msg)) ? 0 : -1;
}

int cs_db_exec(cs_db_t *db, const char *sql, cs_err_t *err)
{
    PGresult *res = PQexec(db->conn, sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = cs__db_err_from_result(db, res, NULL, err);
    PQclear(res);
    return rc;
}

/* A statement's result as its affected row count (-1 with err on failure); frees res. */
static long long affected_rows(cs_db_t *db, PGresult *res, cs_err_t *err)
{
    long long n = -1;

    if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK) {
        const char *t = PQcmdTuples(res);

        n = *t ? strtoll(t, NULL, 10) : 0;
    } else {
        cs__db_err_from_result(db, res, NULL, err);
    }
    PQclear(res);
    return n;
}

/* A query's result as a cs_db_res_t that owns res (NULL with err on failure, res freed). */
static cs_db_res_t *tuples(cs_db_t *db, PGresult *res, cs_err_t *err)
{
    cs_db_res_t *r;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cs__db_err_from_result(db, res, NULL, err);
        PQclear(res);
        return NULL;
    }
    r = cs_mem_alloc(sizeof(*r));
    r->res = res;
    return r;
}

long long cs_db_execp(cs_db_t *db, const char *sql, int nparams, const char *const *values,
                      cs_err_t *err)
{
    PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0);

    return affected_rows(db, res, err);
}

cs_db_res_t *cs_db_query(cs_db_t *db, const char *sql, int nparams, const char *const *values,
                         cs_err_t *err)
{
    PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0);

    return tuples(db, res, err);
}

cs_db_res_t *cs_db_query_binary(cs_db_t *db, const char *sql, int nparams,
                                const char *const *values, cs_err_t *err)
{
    PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 1);

    return tuples(db, res, err);
}

int cs_db_send_query(cs_db_t *db, const char *sql, int nparams, const char *const *values,
                     cs_err_t *err)
{
    if (PQsendQueryParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0) != 1) {
        cs_err_clear(err);
        if (err) {
            put_msg(err, "sending a query", PQerrorMessage(db->conn), NULL);
            err->kind = CS_ERR_TRANSIENT;
        }
        return -1;
    }
    db->sent = true;
    return 0;
}

cs_db_res_t *cs_db_get_result(cs_db_t *db, cs_err_t *err)
{
    /* The first result is the query's; the NULL after it ends the exchange (a failed query can
     * still bring more: each is cleared). */
    PGresult *res = PQgetResult(db->conn), *more;
    while ((more = PQgetResult(db->conn)) != NULL)
        PQclear(more);
    db->sent = false;
    return tuples(db, res, err);
}

bool cs_db_busy(const cs_db_t *db)
{
    return db->sent;
}

bool cs_db_result_ready(cs_db_t *db)
{
    if (!db->sent)
        return true;
    if (PQconsumeInput(db->conn) != 1)
        return true;
    return PQisBusy(db->conn) == 0;
}

int cs_db_res_rows(const cs_db_res_t *r)
{
    return PQntuples(r->res);
}

int cs_db_res_cols(const cs_db_res_t *r)
{
    return PQnfields(r->res);
}

const char *cs_db_res_get(const cs_db_res_t *r, int row, int col)
{
    if (row < 0 || row >= PQntuples(r->res) || col < 0 || col >= PQnfields(r->res) ||
        PQgetisnull(r->res, row, col))
        return NULL;
    return PQgetvalue(r->res, row, col);
}

int cs_db_res_len(const cs_db_res_t *r, int row, int col)
{
    if (row < 0 || row >= PQntuples(r->res) || col < 0 || col >= PQnfields(r->res) ||
        PQgetisnull(r->res, row, col))
        return -1;
    return PQgetlength(r->res, row, col);
}

/* ---- binary values (the types' send functions: big-endian) ---- */

static uint32_t be32(const char *v)
{
    const unsigned char *b = (const unsigned char *)v;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int cs_db_bin_int8(const char *v, int len, long long *out)
{
    if (!v || len != 8)
        return -1;
    *out = (long long)(int64_t)((uint64_t)be32(v) << 32 | be32(v + 4));
    return 0;
}

void cs_db_res_free(cs_db_res_t *r)
{
    if (!r)
        return;
    PQclear(r->res);
    free(r);
}

int cs_db_prepare(cs_db_t *db, const char *name, const char *sql, cs_err_t *err)
{
    PGresult *res = PQprepare(db->conn, name, sql, 0, NULL);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        /* 42P05 duplicate_prepared_statement: the same name is the same statement. */
        if (!state || strcmp(state, "42P05") != 0)
            rc = cs__db_err_from_result(db, res, "PREPARE", err);
    }
    PQclear(res);
    return rc;
}

long long cs_db_execp_prepared(cs_db_t *db, const char *name, int nparams,
                               const char *const *values, cs_err_t *err)
{
    PGresult *res = PQexecPrepared(db->conn, name, nparams, values, NULL, NULL, 0);

    return affected_rows(db, res, err);
}

cs_db_res_t *cs_db_query_prepared(cs_db_t *db, const char *name, int nparams,
                                  const char *const *values, cs_err_t *err)
{
    PGresult *res = PQexecPrepared(db->conn, name, nparams, values, NULL, NULL, 0);

    return tuples(db, res, err);
}

int cs_db_pipeline_begin(cs_db_t *db, cs_err_t *err)
{
    db->pl_sent = 0;
    db->pl_failed = false;
    if (PQenterPipelineMode(db->conn) != 1) {
        cs_err_clear(err);
        if (err) {
            put_msg(err, "entering pipeline mode", PQerrorMessage(db->conn), NULL);
            err->kind = CS_ERR_TRANSIENT;
        }
        return -1;
    }
    return 0;
}

int cs_db_pipeline_send(cs_db_t *db, const char *stmt, bool prepared, int nparams,
                        const char *const *values, cs_err_t *err)
{
    int ok = prepared ? PQsendQueryPrepared(db->conn, stmt, nparams, values, NULL, NULL, 0)
                      : PQsendQueryParams(db->conn, stmt, nparams, NULL, values, NULL, NULL, 0);
    if (ok != 1) {
        cs_err_clear(err);
        if (err) {
            put_msg(err, "sending a pipelined statement", PQerrorMessage(db->conn), NULL);
            err->kind = CS_ERR_TRANSIENT;
            if (!db->pl_failed)
                db->pl_err = *err;
        }
        db->pl_failed = true;
        return -1;
    }
    db->pl_sent++;
    return 0;
}

int cs_db_pipeline_end(cs_db_t *db, cs_err_t *err)
{
    bool failed = db->pl_failed;
    PGresult *res;

    if (failed && err)
        *err = db->pl_err;
    if (PQpipelineSync(db->conn) != 1 && !failed) {
        failed = true;
        cs_err_clear(err);
        if (err) {
            put_msg(err, "pipeline sync", PQerrorMessage(db->conn), NULL);
            err->kind = CS_ERR_TRANSIENT;
        }
    }
    /* Each statement's results end with NULL; the sync's result comes last. */
    for (int q = 0; q <= db->pl_sent;) {
        res = PQgetResult(db->conn);
        if (!res) {
            if (PQstatus(db->conn) != CONNECTION_OK)
                break;
            q++;
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_ABORTED &&
            !failed) {
            failed = true;
            cs__db_err_from_result(db, res, NULL, err);
        }
        PQclear(res);
    }
    if (PQstatus(db->conn) != CONNECTION_OK && !failed) {
        failed = true;
        cs_err_clear(err);
        if (err) {
            put_msg(err, "pipeline", PQerrorMessage(db->conn), NULL);
            err->kind = CS_ERR_TRANSIENT;
        }
    }
    if (PQexitPipelineMode(db->conn) != 1 && !failed) {
        failed = true;
        cs_err_clear(err);
        if (err) {
            put_msg(err, "leaving pipeline mode", PQerrorMessage(db->conn), NULL);
            err->kind = CS_ERR_TRANSIENT;
        }
    }
    db->pl_sent = 0;
    db->pl_failed = false;
    return failed ? -1 : 0;
}

int cs_db_copy_begin(cs_db_t *db, const char *copy_sql, cs_err_t *err)
{
    PGresult *res = PQexec(db->conn, copy_sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COPY_IN)
        rc = cs__db_err_from_result(db, res, "COPY", err);
    PQclear(res);
    return rc;
}

int cs_db_copy_put(cs_db_t *db, const char *data, size_t len, cs_err_t *err)
{
    /* PQputCopyData takes an int length: send very large chunks in pieces. */
    while (len > 0) {
        int n = len > (1u << 30) ? (1 << 30) : (int)len;

        if (PQputCopyData(db->conn, data, n) != 1) {
            cs_err_clear(err);
            if (err) {
                put_msg(err, "COPY data", PQerrorMessage(db->conn), NULL);
                err->kind = CS_ERR_TRANSIENT;
            }
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

long long cs_db_copy_end(cs_db_t *db, cs_err_t *err)
{
    PGresult *res;
    long long n = -1;

    if (PQputCopyEnd(db->conn, NULL) != 1) {
        cs_err_clear(err);
        if (err) {
            put_msg(err, "COPY end", PQerrorMessage(db->conn), NULL);
            err->kind = CS_ERR_TRANSIENT;
        }
        /* Drain whatever results are pending so the connection is usable or clearly broken. */
        while ((res = PQgetResult(db->conn)) != NULL)
            PQclear(res);
        return -1;
    }
    while ((res = PQgetResult(db->conn)) != NULL) {
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            const char *t = PQcmdTuples(res);

            n = *t ? strtoll(t, NULL, 10) : 0;
        } else if (n >= -1) {
            cs__db_err_from_result(db, res, "COPY", err);
            n = -2; /* remember the first error; keep draining */
        }
        PQclear(res);
    }
    return n < 0 ? -1 : n;
}

/*
 * What COPY's text format escapes: a byte's escape letter, or 0 for a byte copied as it is. Every
 * text field of a batch's rows goes through here, cs-readiness's explanation among them (hundreds
 * of bytes, rarely one to escape): runs of plain bytes are found eight at a time and copied whole.
 */
static const unsigned char copy_esc[256] = {
    ['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r'};

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether the word may hold a byte to escape: a byte below 0x0e (tab, newline and carriage
 * return among them) or a backslash. No false negatives; the rare control byte that is not
 * escaped only sends the caller to look byte by byte. */
static bool copy_word_maybe(uint64_t w)
{
    uint64_t bs = w ^ (ONES * '\\');
    return (((w - ONES * 0x0e) & ~w) | ((bs - ONES) & ~bs)) & HIGHS;
}

/* The first byte of [s, end) to escape, or end. */
static const char *copy_special(const char *s, const char *end)
{
    while (end - s >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        if (copy_word_maybe(w))
            for (int k = 0; k < 8; k++)
                if (copy_esc[(unsigned char)s[k]])
                    return s + k;
        s += 8;
    }
    while (s < end && !copy_esc[(unsigned char)*s])
        s++;
    return s;
}

size_t cs_db_copy_escape(char *out, const char *s, size_t len)
{
    char *o = out;
    const char *end = s + len;

    for (;;) {
        const char *p = copy_special(s, end);
        if (p > s) {
            memcpy(o, s, (size_t)(p - s));
            o += p - s;
        }
        if (p == end)
            break;
        *o++ = '\\';
        *o++ = (char)copy_esc[(unsigned char)*p];
        s = p + 1;
    }
    return (size_t)(o - out);
}

int cs_db_server_version(const cs_db_t *db)
{
    return db ? PQserverVersion(db->conn) : 0;
}

PGconn *cs__db_pgconn(cs_db_t *db)
{
    return db ? db->conn : NULL;
}

/*
 * tests/integration/harness.c
 *      Fresh databases, topic names and child processes for integration tests (see harness.h).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

pid_t cs_test_spawn(const char *const *argv, const char *dsn, const char *log, int append)
{
    const char *brokers = cs_test_brokers();
    pid_t pid = fork();

    if (pid < 0)
        die("fork", strerror(errno));
    if (pid == 0) {
        if (log) {
            int fd = open(log, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
            if (fd < 0 || dup2(fd, 2) < 0)
                _exit(126);
            close(fd);
        }
        if (dsn)
            setenv("CS_PG_DSN", dsn, 1);
        setenv("CS_KAFKA_BROKERS", brokers, 1);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

int cs_test_wait(pid_t pid, int timeout_ms)
{
    int64_t end = cs_test_now_ms() + timeout_ms;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            die("waitpid", strerror(errno));
        if (cs_test_now_ms() > end)
            return -1;
        usleep(20000);
    }
}

int cs_test_stop(pid_t pid, int sig, int timeout_ms)
{
    int st;

    kill(pid, sig);
    st = cs_test_wait(pid, timeout_ms);
    if (st == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return st;
}

int cs_test_run(const char *const *argv, const char *dsn, const char *log, int append,
                int timeout_ms)
{
    pid_t pid = cs_test_spawn(argv, dsn, log, append);
    int st = cs_test_wait(pid, timeout_ms);

    if (st == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return st;
}

int cs_test_exited(int status, int code)
{
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

cs_test_msg_t *cs_test_consume_n(const char *topic, int n)
{
    char errstr[512], group[160];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof group, "g.%s", topic);
    ck_assert_int_eq(
        rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof errstr), 0);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr), 0);
    ck_assert_int_eq(
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr), 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    ck_assert_msg(rk != NULL, "%s", errstr);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
    ck_assert_int_eq(rd_kafka_subscribe(rk, subs), 0);
    rd_kafka_topic_partition_list_destroy(subs);

    cs_test_msg_t *out = calloc((size_t)n + 1, sizeof *out);
    int have = 0;
    int64_t deadline = cs_test_now_ms() + 30000 * cs_test_timeout_mult();
    while (have < n && cs_test_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        cs_test_msg_t *g = &out[have++];
        snprintf(g->key, sizeof g->key, "%.*s", (int)m->key_len, (const char *)m->key);
        rd_kafka_headers_t *h = NULL;
        const void *hv;
        size_t hl;
        if (rd_kafka_message_headers(m, &h) == 0) {
            if (rd_kafka_header_get_last(h, "cs.event_type", &hv, &hl) == 0)
                snprintf(g->type, sizeof g->type, "%.*s", (int)hl, (const char *)hv);
            if (rd_kafka_header_get_last(h, "cs.schema_fingerprint", &hv, &hl) == 0)
                snprintf(g->fp, sizeof g->fp, "%.*s", (int)hl, (const char *)hv);
            if (rd_kafka_header_get_last(h, "traceparent", &hv, &hl) == 0) {
                g->has_tp = 1;
                snprintf(g->traceparent, sizeof g->traceparent, "%.*s", (int)hl, (const char *)hv);
            }
        }
        g->partition = m->partition;
        g->offset = m->offset;
        g->value = malloc(m->len + 1);
        memcpy(g->value, m->payload, m->len);
        g->len = m->len;
        rd_kafka_message_destroy(m);
    }
    ck_assert_msg(have == n, "consumed %d of %d messages from %s", have, n, topic);
    /* Nothing more than expected arrives. */
    rd_kafka_message_t *extra = rd_kafka_consumer_poll(rk, 500);
    ck_assert_msg(extra == NULL || extra->err, "unexpected extra message on %s", topic);
    if (extra)
        rd_kafka_message_destroy(extra);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

void cs_test_msgs_free(cs_test_msg_t *msgs, int n)
{
    for (int i = 0; i < n; i++)
        free(msgs[i].value);
    free(msgs);
}

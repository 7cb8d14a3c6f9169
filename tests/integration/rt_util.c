/*
 * tests/integration/rt_util.c
 *      Helpers for the worker runtime's integration tests (see rt_util.h).
 */
#include "rt_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cs/batch.h"
#include "harness.h"

#ifndef CS_TESTWORKER_PATH
#define CS_TESTWORKER_PATH "cs-testworker"
#endif
#ifndef CS_SOURCE_DIR_DEFAULT
#define CS_SOURCE_DIR_DEFAULT "."
#endif

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "rt_util: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

void rt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static PGconn *conn(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect", PQerrorMessage(c));
    PQsetNoticeProcessor(c, NULL, NULL);
    return c;
}

void rt_exec(const char *dsn, const char *sql)
{
    PGconn *c = conn(dsn);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

void rt_str(const char *dsn, const char *sql, char *out, size_t size)
{
    PGconn *c = conn(dsn);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql, PQresultErrorMessage(r));
    snprintf(out, size, "%s", PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
}

long long rt_ll(const char *dsn, const char *sql)
{
    char s[64];
    rt_str(dsn, sql, s, sizeof s);
    return *s ? strtoll(s, NULL, 10) : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n)
        die("cannot read", path);
    s[n] = '\0';
    fclose(f);
    return s;
}

void rt_db(const char *tag, char *dsn, size_t size)
{
    cs_test_fresh_db(tag, 1, dsn, size);
    if (rt_ll(dsn, "SELECT count(*) FROM pg_class WHERE relname = 'consumer_offsets'") == 0) {
        /* No migrated template (cs-migrate not built): apply the runtime's migration. */
        const char *src = getenv("CS_SOURCE_DIR");
        char path[1024];
        snprintf(path, sizeof path, "%s/sql/migrations/0040_worker_runtime.sql",
                 src && *src ? src : CS_SOURCE_DIR_DEFAULT);
        char *sql = slurp(path);
        if (!sql)
            die("cannot read the runtime migration", path);
        rt_exec(dsn, sql);
        free(sql);
    }
    rt_exec(dsn, "CREATE TABLE rt_events (event_id uuid PRIMARY KEY, k text NOT NULL, "
                 "amount int NOT NULL, topic text NOT NULL, kafka_partition int NOT NULL, "
                 "kafka_offset bigint NOT NULL);"
                 "CREATE TABLE rt_counts (k text PRIMARY KEY, n bigint NOT NULL, "
                 "events bigint NOT NULL);"
                 "CREATE TABLE rt_chain (k text NOT NULL, seq bigint NOT NULL, "
                 "event_id uuid NOT NULL, PRIMARY KEY (k, seq))");
}

void rt_event_id(long long i, char out[37])
{
    snprintf(out, 37, "%08llx-0000-4000-8000-%012llx", (i >> 16) & 0xffffffffLL, i);
}

struct rt_producer {
    rd_kafka_t *rk;
};

rt_producer_t *rt_producer_new(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rt_producer_t *p = calloc(1, sizeof *p);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", "20", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", errstr, sizeof errstr))
        die("producer config", errstr);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p->rk)
        die("producer", errstr);
    return p;
}

static void produce(rt_producer_t *p, const char *topic, int partition, const void *key,
                    size_t klen, const void *data, size_t len, rd_kafka_headers_t *h)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            h ? rd_kafka_producev(
                    p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                    RD_KAFKA_V_KEY((void *)key, klen), RD_KAFKA_V_VALUE((void *)data, len),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END)
              : rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_KEY((void *)key, klen),
                                  RD_KAFKA_V_VALUE((void *)data, len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p->rk, 50);
            continue;
        }
        if (e)
            die("produce", rd_kafka_err2str(e));
        return;
    }
}

void rt_produce_text(rt_producer_t *p, const char *topic, long long i, int nkeys, long long amount)
{
    char eid[37], uid[37], buf[256];
    rt_event_id(i, eid);
    snprintf(uid, sizeof uid, "00000000-0000-4000-9000-%012llx", i % nkeys);
    int n = snprintf(buf, sizeof buf, "%s|%s|rt_add|k%lld|%lld", eid, uid, i % nkeys, amount);
    produce(p, topic, RD_KAFKA_PARTITION_UA, uid, 36, buf, (size_t)n, NULL);
}

void rt_produce_raw(rt_producer_t *p, const char *topic, int partition, const void *data,
                    size_t len, const char *traceparent)
{
    rd_kafka_headers_t *h = NULL;
    if (traceparent) {
        h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, "traceparent", -1, traceparent, -1);
    }
    produce(p, topic, partition < 0 ? RD_KAFKA_PARTITION_UA : partition, "poison", 6, data, len, h);
}

void rt_producer_flush(rt_producer_t *p)
{
    if (rd_kafka_flush(p->rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("producer flush", "timed out");
}

void rt_producer_destroy(rt_producer_t *p)
{
    if (!p)
        return;
    rd_kafka_flush(p->rk, 10000);
    rd_kafka_destroy(p->rk);
    free(p);
}

void rt_produce_many(const char *topic, long long n, int nkeys)
{
    rt_producer_t *p = rt_producer_new();
    for (long long i = 0; i < n; i++)
        rt_produce_text(p, topic, i, nkeys, 1);
    rt_producer_flush(p);
    rt_producer_destroy(p);
}

long long rt_topic_end(const char *topic)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    long long total = 0;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || !md ||
        md->topic_cnt != 1)
        die("metadata", topic);
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, md->topics[0].partitions[i].id, &lo, &hi,
                                             10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            die("watermarks", topic);
        total += hi;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return total;
}

long long rt_kafka_committed(const char *group, const char *topic)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr))
        die("consumer config", errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk)
        die("consumer", errstr);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || !md ||
        md->topic_cnt != 1)
        die("metadata", topic);
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (rd_kafka_committed(rk, l, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("committed offsets", group);
    long long total = 0;
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].offset >= 0)
            total += l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return total;
}

void rt_produce_text_to(rt_producer_t *p, const char *topic, int partition, long long i, int nkeys,
                        long long amount)
{
    char eid[37], uid[37], buf[256];
    rt_event_id(i, eid);
    snprintf(uid, sizeof uid, "00000000-0000-4000-9000-%012llx", i % nkeys);
    int n = snprintf(buf, sizeof buf, "%s|%s|rt_add|k%lld|%lld", eid, uid, i % nkeys, amount);
    produce(p, topic, partition, uid, 36, buf, (size_t)n, NULL);
}

/* CS_TESTWORKER_PATH and args, NULL-terminated, into argv[64]. */
static void worker_argv(const char *const *args, const char **argv)
{
    int n = 0;
    argv[n++] = CS_TESTWORKER_PATH;
    for (int i = 0; args && args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
}

static pid_t *kill_at_exit[8];
static int nkill_at_exit;

static void kill_registered(void)
{
    for (int i = 0; i < nkill_at_exit; i++)
        if (*kill_at_exit[i] > 0)
            kill(*kill_at_exit[i], SIGKILL);
}

void rt_kill_at_exit(pid_t *pid)
{
    if (nkill_at_exit == 0)
        atexit(kill_registered);
    if (nkill_at_exit < (int)(sizeof kill_at_exit / sizeof kill_at_exit[0]))
        kill_at_exit[nkill_at_exit++] = pid;
}

pid_t rt_spawn(const char *dsn, const char *logfile, const char *const *args)
{
    const char *argv[64];
    worker_argv(args, argv);
    return cs_test_spawn(argv, dsn, logfile, 1);
}

int rt_wait(pid_t pid, int timeout_ms)
{
    return cs_test_wait(pid, timeout_ms);
}

int rt_run(const char *dsn, const char *logfile, const char *const *args, int timeout_ms)
{
    const char *argv[64];
    worker_argv(args, argv);
    return cs_test_run(argv, dsn, logfile, 1, timeout_ms * cs_test_timeout_mult());
}

int rt_kill9_runs(const char *dsn, const char *logfile, const char *const *args,
                  const rt_kills_t *k, char *why, size_t size)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int kills = 0;

    srand(seed);
    fprintf(stderr, "%s: kill -9 seed %u, log %s\n", k->group, seed, logfile);
    for (int run = 0; run < k->nkills; run++) {
        long long before = rt_committed(dsn, k->group);
        if (before >= k->total)
            break;
        pid_t pid = rt_spawn(dsn, logfile, args);
        long long target = before + 1 + rand() % k->max_step;
        if (target > k->total - k->margin)
            target = before + 1;
        if (rt_wait_committed(dsn, k->group, target, 60000 * cs_test_timeout_mult()) < 0) {
            cs_test_stop(pid, SIGKILL, 10000);
            snprintf(why, size, "run %d made no progress within 60 s (see %s)", run + 1, logfile);
            return -1;
        }
        rt_sleep_ms(rand() % (k->max_delay_ms + 1));
        kill(pid, SIGKILL);
        if (rt_wait(pid, 10000) == -1) {
            snprintf(why, size, "run %d was not reaped 10 s after SIGKILL", run + 1);
            return -1;
        }
        kills++;
        fprintf(stderr, "%s: killed run %d after %lld committed\n", k->group, run + 1,
                rt_committed(dsn, k->group));
        if (k->after_kill)
            k->after_kill(dsn, k->arg);
    }
    return kills;
}

long long rt_committed(const char *dsn, const char *group)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = "
             "'%s'",
             group);
    return rt_ll(dsn, sql);
}

int rt_wait_committed(const char *dsn, const char *group, long long target, int timeout_ms)
{
    int64_t end = cs_test_now_ms() + timeout_ms;
    while (cs_test_now_ms() < end) {
        if (rt_committed(dsn, group) >= target)
            return 0;
        rt_sleep_ms(50);
    }
    return -1;
}

int rt_effects(const char *dsn, long long n, long long dead, char *why, size_t size)
{
    long long events = rt_ll(dsn, "SELECT count(*) FROM rt_events");
    long long counted = rt_ll(dsn, "SELECT coalesce(sum(n), 0) FROM rt_counts");
    long long processed = rt_ll(dsn, "SELECT count(*) FROM processed_events");
    long long dl = rt_ll(dsn, "SELECT count(*) FROM dead_letters");
    snprintf(why, size,
             "want %lld events applied once and %lld dead letters; rt_events %lld, rt_counts sum "
             "%lld, processed_events %lld, dead_letters %lld",
             n, dead, events, counted, processed, dl);
    return events == n && counted == n && processed == n && dl == dead ? 0 : -1;
}

int rt_file_has(const char *path, const char *needle)
{
    return rt_file_count(path, needle) > 0;
}

int rt_file_count(const char *path, const char *needle)
{
    char *s = slurp(path);
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(s);
    return n;
}
int rt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("bind", strerror(errno));
    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("getsockname", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

/* A non-blocking TCP connection to addr:port (numeric IPv4 or IPv6), or -1 if none is
 * established within ms. */
int rt_http_dial(const char *addr, int port, int ms)
{
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    struct sockaddr *sa = (struct sockaddr *)&a4;
    socklen_t salen = sizeof a4;
    if (inet_pton(AF_INET, addr, &a4.sin_addr) != 1) {
        if (inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1)
            die("not a numeric address", addr);
        sa = (struct sockaddr *)&a6;
        salen = sizeof a6;
    }
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket", strerror(errno));
    if (connect(fd, sa, salen) < 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (errno != EINPROGRESS || poll(&p, 1, ms) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

int rt_http_get_at(const char *addr, int port, const char *path, int ms, char *out, size_t size,
                   int64_t *took_ms)
{
    int64_t t0 = cs_test_now_ms(), end = t0 + ms;
    int fd = rt_http_dial(addr, port, ms), code = 0;
    size_t got = 0;
    char req[256];
    out[0] = '\0';
    if (fd < 0)
        goto out;
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n)
        goto out;
    for (;;) {
        int64_t left = end - cs_test_now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            goto out; /* no complete answer in time */
        ssize_t r = read(fd, out + got, size - 1 - got);
        if (r < 0 && errno == EAGAIN)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == size - 1)
            break;
    }
    out[got] = '\0';
    if (sscanf(out, "HTTP/1.%*d %d", &code) != 1)
        code = 0;
    char *body = strstr(out, "\r\n\r\n");
    if (body)
        memmove(out, body + 4, strlen(body + 4) + 1);
out:
    if (took_ms)
        *took_ms = cs_test_now_ms() - t0;
    if (fd >= 0)
        close(fd);
    return code;
}

int rt_http_get(int port, const char *path, char *out, size_t size)
{
    return rt_http_get_at("127.0.0.1", port, path, 10000 * cs_test_timeout_mult(), out, size, NULL);
}

double rt_metric(const char *page, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = page; (p = strstr(p, name)) != NULL; p += n)
        if ((p == page || p[-1] == '\n') && (p[n] == ' ' || p[n] == '{')) {
            const char *v = strchr(p, ' ');
            return v ? strtod(v + 1, NULL) : -1;
        }
    return -1;
}

int rt_http_wait(const char *addr, int port, const char *path, int timeout_ms)
{
    char body[4096];
    int64_t end = cs_test_now_ms() + timeout_ms;
    while (cs_test_now_ms() < end) {
        if (rt_http_get_at(addr, port, path, 1000, body, sizeof body, NULL) == 200)
            return 0;
        rt_sleep_ms(50);
    }
    return -1;
}

int rt_wait_file_has(const char *path, const char *needle, int timeout_ms)
{
    int64_t end = cs_test_now_ms() + timeout_ms;
    for (;;) {
        if (rt_file_has(path, needle))
            return 0;
        if (cs_test_now_ms() > end)
            return -1;
        rt_sleep_ms(50);
    }
}

int rt_log_field(const char *path, const char *msg, const char *field, char *out, size_t size)
{
    char *s = slurp(path);
    int found = 0;
    out[0] = '\0';
    for (char *l = s, *nl; !found && l && *l; l = nl ? nl + 1 : NULL) {
        nl = strchr(l, '\n');
        if (nl)
            *nl = '\0';
        json_t *line = json_loads(l, 0, NULL);
        json_t *m = json_object_get(line, "msg");
        if (json_is_string(m) && !strcmp(json_string_value(m), msg)) {
            found = 1;
            json_t *v = json_object_get(json_object_get(line, "fields"), field);
            if (json_is_string(v))
                snprintf(out, size, "%s", json_string_value(v));
            else if (json_is_integer(v))
                snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else if (json_is_real(v))
                snprintf(out, size, "%.17g", json_real_value(v));
            else
                found = -1; /* missing, or neither text nor a number */
        }
        json_decref(line);
    }
    free(s);
    return found < 0 ? -1 : found;
}

/* An admin client for the test brokers (aborts the test on failure). */
static rd_kafka_t *admin_new(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cs_test_brokers(), errstr, sizeof errstr))
        die("admin config", errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk)
        die("admin client", errstr);
    return rk;
}

/* The one event an admin request answers with, error checked; the caller destroys it. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, const char *what)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (!ev)
        die(what, "no answer in 30 s");
    if (rd_kafka_event_error(ev))
        die(what, rd_kafka_event_error_string(ev));
    return ev;
}

int rt_group_assignor(const char *group, char *out, size_t size)
{
    rd_kafka_t *rk = admin_new();
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    const char *groups[] = {group};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, "describe consumer group");
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t **gd = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    int rc = -1;
    if (n == 1 && !rd_kafka_ConsumerGroupDescription_error(gd[0])) {
        const char *a = rd_kafka_ConsumerGroupDescription_partition_assignor(gd[0]);
        snprintf(out, size, "%s", a ? a : "");
        rc = 0;
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

void rt_topic_create(const char *topic, int partitions, const char *const *configs)
{
    char errstr[512];
    rd_kafka_t *rk = admin_new();
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof errstr);
    if (!nt)
        die("new topic", errstr);
    for (int i = 0; configs && configs[i] && configs[i + 1]; i += 2)
        if (rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1]))
            die("topic config", configs[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, "CreateTopics");
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (n != 1 || rd_kafka_topic_result_error(res[0]))
        die("CreateTopics", n ? rd_kafka_topic_result_error_string(res[0]) : topic);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

void rt_topic_set_config(const char *topic, const char *const *configs)
{
    rd_kafka_t *rk = admin_new();
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    for (int i = 0; configs && configs[i] && configs[i + 1]; i += 2)
        if (rd_kafka_ConfigResource_set_config(cr, configs[i], configs[i + 1]))
            die("topic config", configs[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, &cr, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, "AlterConfigs");
    size_t n = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    if (n != 1 || rd_kafka_ConfigResource_error(res[0]))
        die("AlterConfigs", n ? rd_kafka_ConfigResource_error_string(res[0]) : topic);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(cr);
    rd_kafka_destroy(rk);
}

/* ---- the transactional outbox ---- */

void rt_expected_derived(const char *dsn, long long n, int nkeys)
{
    char *lit = malloc((size_t)n * 40 + 64);
    if (!lit)
        die("out of memory", "rt_expected_derived");
    size_t len = (size_t)sprintf(lit, "INSERT INTO t_expected SELECT unnest('{");
    for (long long i = 0; i < n; i++) {
        char eid[37], uid[37], what[160], id[37];
        rt_event_id(i, eid);
        snprintf(uid, sizeof uid, "00000000-0000-4000-9000-%012llx", i % nkeys);
        int w = snprintf(what, sizeof what, "rt_derived|%s|%s|%lld", uid, eid, i % 1000);
        cs_batch_derived_id(what, (size_t)w, id);
        len += (size_t)sprintf(lit + len, "%s%s", i ? "," : "", id);
    }
    sprintf(lit + len, "}'::uuid[])");
    rt_exec(dsn, "CREATE TABLE t_expected (event_id uuid PRIMARY KEY)");
    rt_exec(dsn, lit);
    free(lit);
}

/* The relay lock's key (libcore/src/worker_outbox.c) of group, as SQL. */
static void lock_key(const char *group, char *out, size_t size)
{
    snprintf(out, size, "hashtextextended('careerstream:outbox-relay:%s', 0)", group);
}

PGconn *rt_outbox_lock_take(const char *dsn, const char *group)
{
    char key[256], sql[512];
    lock_key(group, key, sizeof key);
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%s)", key);
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        die("connecting to take the relay lock", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        die("the relay lock is taken already", group);
    PQclear(r);
    return c;
}

long long rt_outbox_lock_holders(const char *dsn, const char *group)
{
    char key[256], sql[1024];
    lock_key(group, key, sizeof key);
    /* A bigint advisory key: classid its high half, objid its low half. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
             "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
             "AND a.application_name LIKE '%%-outbox' "
             "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
             key);
    return rt_ll(dsn, sql);
}

int rt_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

int rt_run_test(const char *suite, const char *tcase, const TTest *t, double timeout_s)
{
    Suite *s = suite_create(suite);
    TCase *tc = tcase_create(tcase);
    tcase_set_timeout(tc, timeout_s);
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
    return rt_run_suite(s);
}

/*
 * tests/integration/0072-group_recovery.c
 *      Consumer groups that recover in seconds on real Kafka: kill -9 and restart, a clean stop,
 *      a member joining a busy group, a member dying for good; each timed and bounded.
 *
 * Every case runs two cs-testworker members of one group on a fresh topic (4 partitions) and
 * database while this process publishes a steady flow of events (FLOW_PER_S, every partition
 * gets some each 100 ms). "Processing resumed" is measured on what PostgreSQL holds: every
 * partition's committed offset has moved past where it stood at the fault, so every partition,
 * whichever member owns it now, has applied a new event. Each case prints its figures and
 * asserts its bound:
 *   (a) a static member (--group-instance-id) killed with SIGKILL and restarted at once: every
 *       partition resumes within 10 s, the other member loses nothing, and the session timeout is
 *       30 s, so no rebalance that waits for the dead member's session could meet the bound;
 *   (b) SIGTERM of a static member: it leaves the group (librdkafka 2.0.2 would not send
 *       LeaveGroup for a static member on close) and the other member owns and processes all
 *       partitions within 10 s (session timeout 30 s again);
 *   (c) in every case, the second member joins a busy group (events flowing, the first member
 *       processing) and gets its share (2 of the 4 partitions, events applied) within 10 s, and
 *       the first member owns the other 2 within another 10 s;
 *   (d) SIGTERM of a dynamic member: the same hand-over as (b) without static membership;
 *   (e) a static member killed for good: the group waits for its session timeout (the runtime's
 *       default, 10 s), then the other member takes its partitions; bounded by that plus 10 s.
 * Then the flow stops, the remaining member finishes, and the effects must equal the events:
 * each event applied once, nothing lost, nothing dead-lettered. Last, a group instance id the
 * broker would refuse (a space, 250 characters) stops the worker at start with exit code 2.
 */
#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define NPARTS          4   /* scripts/kafka auto-creates scratch topics with 4 partitions */
#define FLOW_PER_S      400 /* events per second published during a case */
#define BOUND_MS        10000
#define DEFAULT_SESS_MS 10000 /* the runtime's --session-timeout-ms default */

typedef struct flow {
    rt_producer_t *p;
    const char *topic;
    long long n; /* events published */
    int64_t t0;
} flow_t;

/* Publishes what the flow owes by now (FLOW_PER_S since it started). */
static void flow_tick(flow_t *f)
{
    long long due = (cs_test_now_ms() - f->t0) * FLOW_PER_S / 1000;
    for (; f->n < due; f->n++)
        rt_produce_text(f->p, f->topic, f->n, 499, 1);
}

/* Keeps the flow going for ms. */
static void flow_for(flow_t *f, int ms)
{
    int64_t end = cs_test_now_ms() + ms;
    while (cs_test_now_ms() < end) {
        flow_tick(f);
        rt_sleep_ms(20);
    }
}

typedef struct member {
    pid_t pid;
    int port;
    char log[256];
} member_t;

typedef struct ctx {
    char dsn[1024], topic[128], group[64], tag[32];
    flow_t flow;
    int session_ms; /* 0: the runtime's default */
} ctx_t;

/* Every member started and not yet reaped, so that a failed case leaves no process behind. */
static pid_t live[16];
static int nlive;

static void reaped(pid_t pid)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == pid)
            live[i] = live[--nlive];
}

static void kill_all(void)
{
    for (int i = 0; i < nlive; i++) {
        kill(live[i], SIGKILL);
        rt_wait(live[i], 10000);
    }
    nlive = 0;
}

/* rt_wait for a member; forgets it once it has exited. */
static int member_wait(const member_t *m, int timeout_ms)
{
    int st = rt_wait(m->pid, timeout_ms);
    if (st != -1)
        reaped(m->pid);
    return st;
}

static void member_start(ctx_t *c, member_t *m, const char *name, const char *instance_id)
{
    char port[16], sess[16];
    /* CS_TEST_WORKER_LOG_LEVEL=debug (with CS_KAFKA_DEBUG=cgrp) shows the group protocol. */
    const char *loglevel =
        getenv("CS_TEST_WORKER_LOG_LEVEL") ? getenv("CS_TEST_WORKER_LOG_LEVEL") : "info";
    m->port = rt_free_port();
    snprintf(port, sizeof port, "%d", m->port);
    snprintf(sess, sizeof sess, "%d", c->session_ms ? c->session_ms : DEFAULT_SESS_MS);
    snprintf(m->log, sizeof m->log, "/tmp/cs-rt-recov-%s-%s-%d.log", c->tag, name, (int)getpid());
    const char *args[32] = {"--format",    "text",   "--topics",           c->topic,
                            "--group",     c->group, "--batch-size",       "500",
                            "--batch-ms",  "20",     "--metrics-port",     port,
                            "--log-level", loglevel, "--handler-delay-us", "100"};
    int n = 16;
    if (c->session_ms) {
        /* A longer session than the default, but the default's heartbeat (1 s): joins and
         * leaves are noticed as fast as with the defaults, a dead member is not. */
        args[n++] = "--session-timeout-ms";
        args[n++] = sess;
        args[n++] = "--kafka-props";
        args[n++] = "heartbeat.interval.ms=1000";
    }
    if (instance_id) {
        args[n++] = "--group-instance-id";
        args[n++] = instance_id;
    }
    args[n] = NULL;
    m->pid = rt_spawn(c->dsn, m->log, args);
    if (nlive < (int)(sizeof live / sizeof live[0]))
        live[nlive++] = m->pid;
}

/* A metric of the member's /metrics, summed over its labels; -1 when it does not answer. */
static double metric(const member_t *m, const char *name)
{
    static char body[1 << 18];
    double sum = 0;
    if (rt_http_get(m->port, "/metrics", body, sizeof body) != 200)
        return -1;
    size_t len = strlen(name);
    for (char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, len) != 0 || (l[len] != ' ' && l[len] != '{'))
            continue;
        char *v = l[len] == '{' ? strstr(l, "} ") : l + len;
        if (v)
            sum += strtod(v + (l[len] == '{' ? 2 : 1), NULL);
    }
    return sum;
}

/* The committed next offset of each partition (-1: no row yet). */
static void offsets(ctx_t *c, long long out[NPARTS])
{
    char sql[512], s[256];
    for (int i = 0; i < NPARTS; i++)
        out[i] = -1;
    snprintf(sql, sizeof sql,
             "SELECT string_agg(kafka_partition || ':' || next_offset, ',') FROM consumer_offsets "
             "WHERE consumer_group = '%s' AND topic = '%s'",
             c->group, c->topic);
    rt_str(c->dsn, sql, s, sizeof s);
    for (char *p = s; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        int part;
        long long off;
        if (sscanf(p, "%d:%lld", &part, &off) == 2 && part >= 0 && part < NPARTS)
            out[part] = off;
    }
}

/* Milliseconds until every partition's committed offset passes base (flowing meanwhile); -1. */
static int64_t wait_all_moved(ctx_t *c, const long long base[NPARTS], int64_t t0, int timeout_ms)
{
    int64_t end = t0 + timeout_ms;
    long long now[NPARTS];
    while (cs_test_now_ms() < end) {
        flow_tick(&c->flow);
        offsets(c, now);
        int moved = 0;
        for (int i = 0; i < NPARTS; i++)
            moved += now[i] > base[i];
        if (moved == NPARTS)
            return cs_test_now_ms() - t0;
        rt_sleep_ms(25);
    }
    return -1;
}

/* Milliseconds until m owns `parts` partitions and has applied an event since; -1 on timeout. */
static int64_t wait_share(ctx_t *c, const member_t *m, int parts, int64_t t0, int timeout_ms)
{
    int64_t end = t0 + timeout_ms;
    while (cs_test_now_ms() < end) {
        flow_tick(&c->flow);
        if (metric(m, "cs_partitions_assigned") == parts &&
            metric(m, "cs_events_applied_total") > 0)
            return cs_test_now_ms() - t0;
        rt_sleep_ms(25);
    }
    return -1;
}

/*
 * The hand-over, timed from t0: milliseconds until m owns `parts` partitions (*owned_ms) and then
 * until every partition's committed offset has passed where it stood at that moment, so that
 * every partition has applied an event under its new owner (a batch the old owner committed on
 * its way out counts for nothing). -1 when the bound passes first.
 */
static int64_t wait_takeover(ctx_t *c, const member_t *m, int parts, int64_t t0, int timeout_ms,
                             int64_t *owned_ms)
{
    int64_t end = t0 + timeout_ms;
    *owned_ms = -1;
    while (cs_test_now_ms() < end) {
        flow_tick(&c->flow);
        if (metric(m, "cs_partitions_assigned") == parts) {
            *owned_ms = cs_test_now_ms() - t0;
            break;
        }
        rt_sleep_ms(25);
    }
    if (*owned_ms < 0)
        return -1;
    long long base[NPARTS];
    offsets(c, base);
    return wait_all_moved(c, base, t0, timeout_ms);
}

static int count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

/*
 * Starts the case: member a alone on the flow until it applies events, then member b joins the
 * busy group; (c) b must get its share within the bound. Returns the join time.
 */
static int64_t start_pair(ctx_t *c, const char *tag, member_t *a, member_t *b, const char *ida,
                          const char *idb)
{
    int mult = cs_test_timeout_mult();
    snprintf(c->tag, sizeof c->tag, "%s", tag);
    rt_db(tag, c->dsn, sizeof c->dsn);
    cs_test_topic(tag, c->topic, sizeof c->topic);
    snprintf(c->group, sizeof c->group, "rt-recov-%s-%d", tag, (int)getpid());
    c->flow.p = rt_producer_new();
    c->flow.topic = c->topic;
    c->flow.t0 = cs_test_now_ms();
    flow_for(&c->flow, 500); /* the topic exists before anyone subscribes */

    member_start(c, a, "a", ida);
    long long none[NPARTS] = {-1, -1, -1, -1};
    ck_assert_msg(wait_all_moved(c, none, cs_test_now_ms(), 60000 * mult) >= 0,
                  "%s: the first member did not process every partition (see %s)", tag, a->log);
    flow_for(&c->flow, 1000);

    int64_t t0 = cs_test_now_ms();
    member_start(c, b, "b", idb);
    int64_t join_ms = wait_share(c, b, NPARTS / 2, t0, BOUND_MS * mult);
    fprintf(stderr, "recovery %s: a member joining the busy group got its share in %lld ms\n", tag,
            (long long)join_ms);
    ck_assert_msg(join_ms >= 0, "%s: the joining member got no share within %d ms (see %s)", tag,
                  BOUND_MS * mult, b->log);
    /* The first member's count may lag b's by the rest of a rebalance (seen once in CI: b owned
     * its two while a did not yet own exactly two); it must settle on the other half within the
     * same bound. The first value seen is printed when it differs. */
    double first = metric(a, "cs_partitions_assigned"), seen = first;
    int64_t t1 = cs_test_now_ms();
    while (seen != NPARTS / 2 && cs_test_now_ms() - t1 < BOUND_MS * mult) {
        flow_tick(&c->flow);
        rt_sleep_ms(25);
        seen = metric(a, "cs_partitions_assigned");
    }
    if (first != NPARTS / 2)
        fprintf(stderr,
                "recovery %s: when b had its share the first member owned %.0f partitions; %.0f "
                "after %lld ms more\n",
                tag, first, seen, (long long)(cs_test_now_ms() - t1));
    ck_assert_msg(seen == NPARTS / 2,
                  "%s: the first member owns %.0f partitions, not its share of %d, %d ms after the "
                  "second member got its share (see %s)",
                  tag, seen, NPARTS / 2, BOUND_MS * mult, a->log);
    flow_for(&c->flow, 1000);
    return join_ms;
}

static void stop_member(const member_t *m, const char *what)
{
    kill(m->pid, SIGTERM);
    int st = member_wait(m, 30000 * cs_test_timeout_mult());
    if (st == -1)
        kill(m->pid, SIGKILL);
    ck_assert_msg(cs_test_exited(st, 0), "%s: exit status %d (see %s)", what, st, m->log);
}

/* Stops the flow, lets the last member finish, stops it, checks exactly-once effects. */
static void finish(ctx_t *c, member_t *last, member_t *others[], int nothers)
{
    rt_producer_flush(c->flow.p);
    rt_producer_destroy(c->flow.p);
    long long total = rt_topic_end(c->topic);
    ck_assert_int_eq(total, c->flow.n);
    ck_assert_msg(rt_wait_committed(c->dsn, c->group, total, 60000 * cs_test_timeout_mult()) == 0,
                  "%s: the remaining member did not finish (see %s)", c->tag, last->log);
    stop_member(last, "last member");
    fprintf(stderr, "recovery %s: %lld events, each applied once\n", c->tag, total);
    ck_assert_int_eq(rt_committed(c->dsn, c->group), total);
    ck_assert_int_eq(rt_ll(c->dsn, "SELECT count(*) FROM rt_events"), total);
    ck_assert_int_eq(rt_ll(c->dsn, "SELECT count(DISTINCT event_id) FROM rt_events"), total);
    ck_assert_int_eq(rt_ll(c->dsn, "SELECT sum(n) FROM rt_counts"), total);
    ck_assert_int_eq(rt_ll(c->dsn, "SELECT sum(events) FROM rt_counts"), total);
    ck_assert_int_eq(rt_ll(c->dsn, "SELECT count(*) FROM processed_events"), total);
    ck_assert_int_eq(rt_ll(c->dsn, "SELECT count(*) FROM dead_letters"), 0);
    cs_test_drop_db(c->dsn);
    if (getenv("CS_TEST_KEEP_LOGS"))
        return;
    unlink(last->log);
    for (int i = 0; i < nothers; i++)
        unlink(others[i]->log);
}

/* (a) kill -9 of a static member, restarted at once. */
START_TEST(static_kill9_restart)
{
    ctx_t c = {.session_ms = 30000};
    member_t a, b, b2;
    int mult = cs_test_timeout_mult();
    start_pair(&c, "kill9", &a, &b, "rt-recov-a", "rt-recov-b");

    int a_revoked = count_lines(a.log, "partition revoked");
    int64_t t0 = cs_test_now_ms(), owned_ms;
    kill(b.pid, SIGKILL);
    ck_assert_int_ne(member_wait(&b, 10000), -1);
    int64_t restart_ms = cs_test_now_ms() - t0;
    member_start(&c, &b2, "b2", "rt-recov-b");
    int64_t resume_ms = wait_takeover(&c, &b2, NPARTS / 2, t0, BOUND_MS * mult, &owned_ms);
    fprintf(stderr,
            "recovery kill9: static member killed -9 and restarted (%lld ms after the kill); it "
            "owned its partitions again after %lld ms, every partition processing again after "
            "%lld ms (session timeout %d ms)\n",
            (long long)restart_ms, (long long)owned_ms, (long long)resume_ms, c.session_ms);
    ck_assert_msg(resume_ms >= 0, "kill9: processing did not resume within %d ms (see %s, %s)",
                  BOUND_MS * mult, b2.log, a.log);
    ck_assert_msg(rt_file_has(b2.log, "partition assigned"), "the restarted member owns nothing");
    /* No rebalance took anything from the member that stayed. */
    ck_assert_int_eq(count_lines(a.log, "partition revoked"), a_revoked);
    flow_for(&c.flow, 1000);

    stop_member(&b2, "restarted member");
    member_t *others[] = {&b, &b2};
    finish(&c, &a, others, 2);
}
END_TEST

/* (b) and (d): SIGTERM of one of two members hands its partitions over. */
static void sigterm_handover(const char *tag, bool static_members)
{
    ctx_t c = {.session_ms = 30000};
    member_t a, b;
    int mult = cs_test_timeout_mult();
    start_pair(&c, tag, &a, &b, static_members ? "rt-recov-a" : NULL,
               static_members ? "rt-recov-b" : NULL);

    int64_t t0 = cs_test_now_ms(), owned_ms;
    kill(b.pid, SIGTERM);
    int64_t resume_ms = wait_takeover(&c, &a, NPARTS, t0, BOUND_MS * mult, &owned_ms);
    int st = member_wait(&b, 30000 * mult);
    fprintf(stderr,
            "recovery %s: %s member stopped with SIGTERM; the other owned every partition after "
            "%lld ms and processed all of them after %lld ms (session timeout %d ms)\n",
            tag, static_members ? "static" : "dynamic", (long long)owned_ms, (long long)resume_ms,
            c.session_ms);
    ck_assert_msg(cs_test_exited(st, 0), "%s: exit status %d (see %s)", tag, st, b.log);
    ck_assert_msg(rt_file_has(b.log, "left the consumer group"), "%s: no leave (see %s)", tag,
                  b.log);
    ck_assert_msg(owned_ms >= 0 && resume_ms >= 0,
                  "%s: the partitions were not handed over within %d ms (see %s, %s)", tag,
                  BOUND_MS * mult, a.log, b.log);
    flow_for(&c.flow, 1000);
    member_t *others[] = {&b};
    finish(&c, &a, others, 1);
}

START_TEST(static_sigterm_handover)
{
    sigterm_handover("stop_static", true);
}
END_TEST

START_TEST(dynamic_sigterm_handover)
{
    sigterm_handover("stop_dynamic", false);
}
END_TEST

/* (e) a static member killed for good: the other takes over once its session times out. */
START_TEST(static_kill9_for_good)
{
    ctx_t c = {.session_ms = 0};
    member_t a, b;
    int mult = cs_test_timeout_mult();
    start_pair(&c, "dead", &a, &b, "rt-recov-a", "rt-recov-b");

    int64_t t0 = cs_test_now_ms(), owned_ms;
    kill(b.pid, SIGKILL);
    ck_assert_int_ne(member_wait(&b, 10000), -1);
    int64_t resume_ms =
        wait_takeover(&c, &a, NPARTS, t0, DEFAULT_SESS_MS + BOUND_MS * mult, &owned_ms);
    fprintf(stderr,
            "recovery dead: static member killed -9 for good; the other owned every partition "
            "after %lld ms, processed all of them after %lld ms (session timeout %d ms, the "
            "default)\n",
            (long long)owned_ms, (long long)resume_ms, DEFAULT_SESS_MS);
    ck_assert_msg(resume_ms >= 0, "dead: no hand-over within the session timeout + %d ms (see %s)",
                  BOUND_MS * mult, a.log);
    ck_assert_msg(metric(&a, "cs_partitions_assigned") == NPARTS, "dead: a does not own all");
    flow_for(&c.flow, 1000);
    member_t *others[] = {&b};
    finish(&c, &a, others, 1);
}
END_TEST

/* A group instance id the broker would refuse is refused at start, naming the option. */
START_TEST(bad_instance_id)
{
    char logf[256];
    const char *bad[] = {"pod 1", "", NULL};
    snprintf(logf, sizeof logf, "/tmp/cs-rt-recov-bad-%d.log", (int)getpid());
    for (int i = 0; bad[i]; i++) {
        char longid[300];
        const char *id = bad[i];
        if (!*id) { /* too long: 250 characters */
            memset(longid, 'x', 250);
            longid[250] = '\0';
            id = longid;
        }
        unlink(logf);
        const char *args[] = {"--format",
                              "text",
                              "--topics",
                              "t.unused",
                              "--metrics-port",
                              "-1",
                              "--group-instance-id",
                              id,
                              NULL};
        pid_t pid = rt_spawn("dbname=cs_no_such_database", logf, args);
        int st = rt_wait(pid, 30000);
        if (st == -1)
            kill(pid, SIGKILL);
        ck_assert_msg(cs_test_exited(st, 2), "instance id '%.20s': exit status %d (see %s)", id, st,
                      logf);
        ck_assert_msg(rt_file_has(logf, "\"field\":\"group-instance-id\""),
                      "the refusal does not name the option (see %s)", logf);
    }
    unlink(logf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("group_recovery");
    TCase *tc = tcase_create("recovery");
    tcase_set_timeout(tc, 240 * cs_test_timeout_mult());
    tcase_add_checked_fixture(tc, NULL, kill_all);
    atexit(kill_all);
    tcase_add_test(tc, static_kill9_restart);
    tcase_add_test(tc, static_sigterm_handover);
    tcase_add_test(tc, dynamic_sigterm_handover);
    tcase_add_test(tc, static_kill9_for_good);
    tcase_add_test(tc, bad_instance_id);
    suite_add_tcase(s, tc);
    return rt_run_suite(s);
}

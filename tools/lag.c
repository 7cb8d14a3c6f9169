/*
 * tools/lag.c
 *      cs-lag - consumer lag per group, topic and partition, in messages and seconds, with a
 *      status in the spirit of Burrow's evaluation.
 *
 * careerstream's workers keep their offsets in PostgreSQL (consumer_offsets: the next offset per
 * consumer group, topic and partition, moved in the transaction of each batch); their Kafka
 * committed offsets only follow. So lag is measured against the stored offset: for every group of
 * consumer_offsets (or those of --group), every partition of every topic the group has stored an
 * offset for, one sample reads
 *   - the stored offset and how long ago it last moved (updated_at, on PostgreSQL's clock);
 *   - the group's committed offset in Kafka, if any (ListConsumerGroupOffsets), and whether a
 *     member of the group holds the partition (DescribeConsumerGroups);
 *   - the low and high watermarks;
 *   - lag in messages = high watermark - position, where the position is the stored offset (the
 *     one a worker seeks to on assignment), else the Kafka committed offset, else the low
 *     watermark (a partition without a stored row starts there);
 *   - lag in seconds = the age of the oldest unprocessed message: now minus the timestamp of the
 *     message at the position, fetched from the broker (one message per lagging partition, by
 *     assign); 0 when caught up, or when nothing consumable is left (only transaction markers).
 *
 * Status of a partition, evaluated over the samples of the window (--window-s) by
 * tools/lag_eval.c (the rules are stated there once; this is a summary):
 *   OK     lag is 0, or the stored offset moved within the window and lag is not growing;
 *   WARN   the stored offset moves but lag grew over the window: at least 3 samples in the
 *          window, lag never fell from one sample to the next, and the last is above the first;
 *   STALL  lag > 0, the stored offset did not move within the window (no change between the
 *          samples and its last move, updated_at, is older than the window), while a member of
 *          the group holds the partition: a worker is there but makes no progress (a database
 *          outage, a poison batch retried forever, a paused consumer);
 *   STOP   the same without any member holding the partition (the group is empty, or no
 *          member's assignment has it): the worker is gone;
 *   ERR    the partition could not be measured (its topic is gone, a watermark query failed).
 * A group's status is its worst partition's (ERR > STOP > STALL > WARN > OK).
 *
 * One-shot (the default) takes --samples samples (default 1) --interval-s apart and reports the
 * last: with one sample, movement is judged from updated_at alone and WARN cannot be reported.
 * --watch samples every --interval-s and keeps the samples of the last --window-s seconds: on a
 * terminal it redraws the table, otherwise it writes one line per group per interval (with
 * --json, one JSON document per line). --count N stops --watch after N intervals.
 *
 * Reading consumer_offsets needs a role that may: the migrator, or a worker role (which sees its
 * own groups only, migration 0064). Exit status: 0 when the report was produced, 1 when it could
 * not be (PostgreSQL or Kafka unreachable, an unknown group), 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cs/config.h"
#include "cs/db.h"
#include "cs/log.h"
#include "lag_eval.h"

static const cs_opt_t opts[] = {
    {"group", CS_OPT_STRING, NULL,
     "consumer groups to report, comma-separated (default: every group of consumer_offsets)"},
    {"window-s", CS_OPT_DOUBLE, "60",
     "evaluation window: offsets that moved within it count as moving", 1, 86400},
    {"interval-s", CS_OPT_DOUBLE, "5", "seconds between samples (--watch, --samples)", 0.1, 3600},
    {"samples", CS_OPT_INT, "1",
     "one-shot: samples to take --interval-s apart (3 or more can report WARN)", 1, 1000},
    {"watch", CS_OPT_BOOL, "false",
     "sample every --interval-s: a live table on a terminal, a line per group otherwise"},
    {"count", CS_OPT_INT, "0", "--watch: stop after this many intervals (0: until interrupted)", 0,
     100000000},
    {"json", CS_OPT_BOOL, "false", "write JSON (one document per sample with --watch)"},
    {"kafka-timeout-ms", CS_OPT_INT, "5000",
     "how long one Kafka request (metadata, watermarks, a message fetch) may take", 100, 600000},
    {"client-id", CS_OPT_STRING, "cs-lag", "Kafka client id"},
    {NULL},
};

typedef struct part {
    int group; /* index into groups */
    char *topic;
    int partition;
    bool seen;             /* found in this sample (row or metadata) */
    int64_t stored;        /* next offset in consumer_offsets; -1: no row */
    double commit_age_s;   /* seconds since the stored offset last moved; -1: no row */
    int64_t kafka;         /* the group's committed offset in Kafka; -1: none */
    int64_t low, high;     /* watermarks; -1: unknown */
    int64_t lag;           /* messages; -1: unknown */
    double lag_s;          /* seconds */
    int assigned;          /* 1: a member holds it, 0: none does, -1: unknown */
    char err[160];         /* why it could not be measured */
    int64_t ts_pos, ts_ms; /* cached timestamp of the message at ts_pos (-1: none) */
    bool ts_wanted, ts_done;
    cs_lag_sample_t *ring;
    int nring, capring;
    cs_lag_status_t status;
} part_t;

typedef struct group {
    char *name;
    char state[24];
    int members; /* -1: unknown */
    cs_lag_status_t status;
    int64_t lag;
    double lag_s;
} group_t;

typedef struct lag {
    cs_config_t *cfg;
    cs_db_t *db;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    const char *brokers;
    int timeout_ms;
    double window_s;
    char kafka_err[256]; /* the last error the client reported (error_cb) */
    group_t *groups;
    int ngroups;
    char **wanted; /* --group, split */
    int nwanted;
    part_t **parts;
    int nparts, capparts;
    double sampled_at; /* wall clock of the last sample */
} lag_t;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    double until = mono_s() + s;
    while (!stopping) {
        double left = until - mono_s();
        if (left <= 0)
            break;
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        nanosleep(&ts, NULL); /* a signal ends it early; the loop re-checks */
    }
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

/* ---- groups and partitions ---- */

static int group_find(lag_t *l, const char *name)
{
    for (int i = 0; i < l->ngroups; i++)
        if (strcmp(l->groups[i].name, name) == 0)
            return i;
    return -1;
}

static int group_add(lag_t *l, const char *name)
{
    int i = group_find(l, name);
    if (i >= 0)
        return i;
    l->groups = realloc(l->groups, (size_t)(l->ngroups + 1) * sizeof *l->groups);
    if (!l->groups)
        abort();
    group_t *g = &l->groups[l->ngroups];
    memset(g, 0, sizeof *g);
    g->name = xstrdup(name);
    g->members = -1;
    snprintf(g->state, sizeof g->state, "Unknown");
    return l->ngroups++;
}

static part_t *part_find(lag_t *l, int group, const char *topic, int partition)
{
    for (int i = 0; i < l->nparts; i++) {
        part_t *p = l->parts[i];
        if (p->group == group && p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    }
    return NULL;
}

static part_t *part_get(lag_t *l, int group, const char *topic, int partition)
{
    part_t *p = part_find(l, group, topic, partition);
    if (p)
        return p;
    p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->group = group;
    p->topic = xstrdup(topic);
    p->partition = partition;
    p->ts_pos = p->ts_ms = -1;
    p->stored = p->kafka = p->low = p->high = p->lag = -1;
    p->commit_age_s = -1;
    p->assigned = -1;
    if (l->nparts == l->capparts) {
        l->capparts = l->capparts ? 2 * l->capparts : 64;
        l->parts = realloc(l->parts, (size_t)l->capparts * sizeof *l->parts);
        if (!l->parts)
            abort();
    }
    l->parts[l->nparts++] = p;
    return p;
}

/* qsort has no context argument: the run's lag_t is in a static while sorting. */
static const lag_t *sort_ctx;
static int part_cmp(const void *a, const void *b)
{
    const part_t *x = *(part_t *const *)a, *y = *(part_t *const *)b;
    const lag_t *l = sort_ctx;
    int c = strcmp(l->groups[x->group].name, l->groups[y->group].name);
    if (c)
        return c;
    c = strcmp(x->topic, y->topic);
    return c ? c : x->partition - y->partition;
}

/* ---- PostgreSQL: the stored offsets ---- */

static int read_stored(lag_t *l)
{
    cs_err_t err;
    cs_db_res_t *res =
        cs_db_query(l->db,
                    "SELECT consumer_group, topic, kafka_partition, next_offset, "
                    "extract(epoch FROM clock_timestamp() - updated_at) FROM consumer_offsets "
                    "ORDER BY 1, 2, 3",
                    0, NULL, &err);
    if (!res) {
        fprintf(stderr, "cs-lag: reading consumer_offsets failed: %s\n", err.msg);
        return -1;
    }
    for (int i = 0; i < l->nparts; i++) {
        l->parts[i]->seen = false;
        l->parts[i]->stored = -1;
        l->parts[i]->commit_age_s = -1;
        l->parts[i]->err[0] = '\0';
    }
    for (int r = 0; r < cs_db_res_rows(res); r++) {
        const char *g = cs_db_res_get(res, r, 0);
        if (l->nwanted) {
            bool want = false;
            for (int i = 0; i < l->nwanted && !want; i++)
                want = strcmp(l->wanted[i], g) == 0;
            if (!want)
                continue;
        }
        part_t *p =
            part_get(l, group_add(l, g), cs_db_res_get(res, r, 1), atoi(cs_db_res_get(res, r, 2)));
        p->seen = true;
        p->stored = strtoll(cs_db_res_get(res, r, 3), NULL, 10);
        p->commit_age_s = strtod(cs_db_res_get(res, r, 4), NULL);
        if (p->commit_age_s < 0)
            p->commit_age_s = 0;
    }
    cs_db_res_free(res);
    return 0;
}

/* Every --group must have stored offsets: a misspelt group must not read as "no lag". */
static int check_wanted(lag_t *l)
{
    int missing = 0;
    for (int i = 0; i < l->nwanted; i++) {
        if (group_find(l, l->wanted[i]) >= 0)
            continue;
        if (!missing++)
            fprintf(stderr, "cs-lag: ");
        else
            fprintf(stderr, "; ");
        fprintf(stderr, "group '%s' has no offsets in consumer_offsets", l->wanted[i]);
    }
    if (!missing)
        return 0;
    cs_err_t err;
    cs_db_res_t *res = cs_db_query(l->db,
                                   "SELECT coalesce(string_agg(DISTINCT consumer_group, ', '), '') "
                                   "FROM consumer_offsets",
                                   0, NULL, &err);
    const char *known = res ? cs_db_res_get(res, 0, 0) : NULL;
    if (known && *known)
        fprintf(stderr, " (groups with stored offsets that this role can see: %s)\n", known);
    else
        fprintf(stderr, " (this role sees no group in consumer_offsets)\n");
    cs_db_res_free(res);
    return -1;
}

/* ---- Kafka ---- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        cs_log_debug("librdkafka", CS_LS("facility", fac), CS_LS("detail", buf));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk, (void)err;
    lag_t *l = opaque;
    snprintf(l->kafka_err, sizeof l->kafka_err, "%s", reason);
}

/* The operator's security settings (--kafka-props-file) into conf; refused by name only, since
 * a value may be a password. -1 with the message printed. */
static int apply_kafka_props(lag_t *l, rd_kafka_conf_t *conf)
{
    char errstr[512];

    for (const char *const *p = cs_config_kafka_props(l->cfg); *p; p++) {
        const char *eq = strchr(*p, '=');
        char name[256];
        if (!eq || (size_t)(eq - *p) >= sizeof name) {
            fprintf(stderr, "cs-lag: kafka-props-file: an entry is not name=value\n");
            return -1;
        }
        memcpy(name, *p, (size_t)(eq - *p));
        name[eq - *p] = '\0';
        if (rd_kafka_conf_set(conf, name, eq + 1, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            fprintf(stderr,
                    "cs-lag: kafka-props-file: librdkafka refuses property '%s' or its value\n",
                    name);
            return -1;
        }
    }
    return 0;
}

static int kafka_connect(lag_t *l)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%d", l->timeout_ms);
    const char *kv[][2] = {
        {"bootstrap.servers", l->brokers},
        {"client.id", cs_config_str(l->cfg, "client-id")},
        /* assign() needs a group id; this one never joins (no subscribe) nor commits. */
        {"group.id", "cs-lag-reader"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        {"socket.timeout.ms", tmo},
        /* One message per partition is all a sample reads: keep the fetches small. */
        {"fetch.max.bytes", "1048576"},
        {"max.partition.fetch.bytes", "65536"},
        {"queued.max.messages.kbytes", "1024"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "cs-lag: kafka setting %s: %s\n", kv[i][0], errstr);
            rd_kafka_conf_destroy(conf);
            return -1;
        }
    }
    /* The operator's settings, applied last. */
    if (apply_kafka_props(l, conf) < 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, l);
    l->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!l->rk) {
        fprintf(stderr, "cs-lag: kafka client: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    conf = NULL; /* owned by rk */
    l->q = rd_kafka_queue_new(l->rk);
    return 0;
}

static void kafka_failed(lag_t *l, const char *what, rd_kafka_resp_err_t err)
{
    fprintf(stderr, "cs-lag: cannot reach Kafka at %s: %s failed: %s%s%s\n", l->brokers, what,
            rd_kafka_err2str(err), l->kafka_err[0] ? " (last client error: " : "",
            l->kafka_err[0] ? l->kafka_err : "");
    if (l->kafka_err[0])
        fputs(")\n", stderr);
}

/*
 * Adds, for every group, every partition of every topic it has a stored offset for (a partition
 * without a row still has lag), and marks partitions of topics the cluster does not have.
 */
static int read_metadata(lag_t *l)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(l->rk, 1, NULL, &md, l->timeout_ms);
    if (e) {
        kafka_failed(l, "the metadata request", e);
        return -1;
    }
    int n = l->nparts; /* the rows; partitions added below need not be scanned */
    for (int i = 0; i < n; i++) {
        part_t *p = l->parts[i];
        p->err[0] = '\0';
        const struct rd_kafka_metadata_topic *t = NULL;
        for (int k = 0; k < md->topic_cnt && !t; k++)
            if (strcmp(md->topics[k].topic, p->topic) == 0)
                t = &md->topics[k];
        if (!t || t->err || t->partition_cnt == 0) {
            snprintf(p->err, sizeof p->err, "topic %s: %s", p->topic,
                     t && t->err ? rd_kafka_err2str(t->err) : "not in the cluster");
            continue;
        }
        if (p->partition >= t->partition_cnt)
            snprintf(p->err, sizeof p->err, "partition %d: the topic has %d", p->partition,
                     t->partition_cnt);
        for (int k = 0; k < t->partition_cnt; k++) {
            part_t *q = part_get(l, p->group, p->topic, t->partitions[k].id);
            q->seen = true;
        }
    }
    rd_kafka_metadata_destroy(md);
    /* Partitions known from an earlier sample whose row and topic are both gone: dropped. */
    int k = 0;
    for (int i = 0; i < l->nparts; i++) {
        if (l->parts[i]->seen) {
            l->parts[k++] = l->parts[i];
        } else {
            free(l->parts[i]->topic);
            free(l->parts[i]->ring);
            free(l->parts[i]);
        }
    }
    l->nparts = k;
    return 0;
}

static rd_kafka_event_t *admin_wait(lag_t *l, rd_kafka_event_type_t type)
{
    double deadline = mono_s() + (double)l->timeout_ms / 1000.0 + 1.0;
    while (mono_s() < deadline) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(l->q, 200);
        if (!ev)
            continue;
        if (rd_kafka_event_type(ev) == type)
            return ev;
        rd_kafka_event_destroy(ev);
    }
    return NULL;
}

static rd_kafka_AdminOptions_t *admin_opts(lag_t *l, rd_kafka_admin_op_t op)
{
    char errstr[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(l->rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, l->timeout_ms, errstr, sizeof errstr);
    return o;
}

/* Group state, member count and which partitions the members hold. */
static void describe_groups(lag_t *l)
{
    if (l->ngroups == 0)
        return;
    const char **names = calloc((size_t)l->ngroups, sizeof *names);
    if (!names)
        abort();
    for (int i = 0; i < l->ngroups; i++) {
        names[i] = l->groups[i].name;
        l->groups[i].members = -1;
        snprintf(l->groups[i].state, sizeof l->groups[i].state, "Unknown");
    }
    for (int i = 0; i < l->nparts; i++)
        l->parts[i]->assigned = -1;
    rd_kafka_AdminOptions_t *o = admin_opts(l, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_DescribeConsumerGroups(l->rk, names, (size_t)l->ngroups, o, l->q);
    rd_kafka_AdminOptions_destroy(o);
    free(names);
    rd_kafka_event_t *ev = admin_wait(l, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
    if (!ev)
        return;
    if (rd_kafka_event_error(ev)) {
        cs_log_warn("describing the groups failed",
                    CS_LS("error", rd_kafka_event_error_string(ev)));
        rd_kafka_event_destroy(ev);
        return;
    }
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t **gd = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        int g = group_find(l, rd_kafka_ConsumerGroupDescription_group_id(gd[i]));
        if (g < 0 || rd_kafka_ConsumerGroupDescription_error(gd[i]))
            continue;
        group_t *grp = &l->groups[g];
        snprintf(
            grp->state, sizeof grp->state, "%s",
            rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(gd[i])));
        size_t nm = rd_kafka_ConsumerGroupDescription_member_count(gd[i]);
        grp->members = (int)nm;
        for (int k = 0; k < l->nparts; k++)
            if (l->parts[k]->group == g)
                l->parts[k]->assigned = 0;
        for (size_t m = 0; m < nm; m++) {
            const rd_kafka_MemberDescription_t *md =
                rd_kafka_ConsumerGroupDescription_member(gd[i], m);
            const rd_kafka_MemberAssignment_t *ma = rd_kafka_MemberDescription_assignment(md);
            const rd_kafka_topic_partition_list_t *tl =
                ma ? rd_kafka_MemberAssignment_partitions(ma) : NULL;
            for (int t = 0; tl && t < tl->cnt; t++) {
                part_t *p = part_find(l, g, tl->elems[t].topic, tl->elems[t].partition);
                if (p)
                    p->assigned = 1;
            }
        }
    }
    rd_kafka_event_destroy(ev);
}

/* The group's committed offsets in Kafka (they follow the stored ones; -1 when none). */
static void read_committed(lag_t *l, int g)
{
    for (int i = 0; i < l->nparts; i++)
        if (l->parts[i]->group == g)
            l->parts[i]->kafka = -1;
    rd_kafka_ListConsumerGroupOffsets_t *req =
        rd_kafka_ListConsumerGroupOffsets_new(l->groups[g].name, NULL);
    rd_kafka_AdminOptions_t *o = admin_opts(l, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(l->rk, &req, 1, o, l->q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = admin_wait(l, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT);
    if (!ev)
        return;
    if (rd_kafka_event_error(ev)) {
        cs_log_warn("listing the group's committed offsets failed",
                    CS_LS("group", l->groups[g].name),
                    CS_LS("error", rd_kafka_event_error_string(ev)));
        rd_kafka_event_destroy(ev);
        return;
    }
    size_t n = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_topic_partition_list_t *tl = rd_kafka_group_result_partitions(gr[i]);
        for (int t = 0; tl && t < tl->cnt; t++) {
            const rd_kafka_topic_partition_t *tp = &tl->elems[t];
            part_t *p = part_find(l, g, tp->topic, tp->partition);
            if (p && !tp->err && tp->offset >= 0)
                p->kafka = tp->offset;
        }
    }
    rd_kafka_event_destroy(ev);
}

static int read_watermarks(lag_t *l)
{
    for (int i = 0; i < l->nparts; i++) {
        part_t *p = l->parts[i];
        p->low = p->high = -1;
        if (p->err[0])
            continue;
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(l->rk, p->topic, p->partition, &lo,
                                                                 &hi, l->timeout_ms);
        if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
            kafka_failed(l, "a watermark query", e);
            return -1;
        }
        if (e) {
            snprintf(p->err, sizeof p->err, "watermarks: %s", rd_kafka_err2str(e));
            continue;
        }
        p->low = lo;
        p->high = hi;
    }
    return 0;
}

static int64_t position(const part_t *p)
{
    if (p->stored >= 0)
        return p->stored;
    if (p->kafka >= 0)
        return p->kafka;
    return p->low;
}

/*
 * Assigns l's consumer the position of every lagging partition whose position changed since the
 * last read; returns how many (0: none, or the assign failed and they are tried next sample).
 */
static int ts_assign(lag_t *l)
{
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(8);
    int want = 0;
    for (int i = 0; i < l->nparts; i++) {
        part_t *p = l->parts[i];
        p->ts_wanted = p->ts_done = false;
        if (p->lag <= 0 || position(p) == p->ts_pos)
            continue;
        p->ts_wanted = true;
        p->ts_pos = position(p);
        p->ts_ms = -1;
        rd_kafka_topic_partition_list_add(tl, p->topic, p->partition)->offset = p->ts_pos;
        want++;
    }
    rd_kafka_resp_err_t e = want ? rd_kafka_assign(l->rk, tl) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(tl);
    if (e) {
        cs_log_warn("assign for timestamps failed", CS_LS("error", rd_kafka_err2str(e)));
        for (int i = 0; i < l->nparts; i++)
            if (l->parts[i]->ts_wanted)
                l->parts[i]->ts_pos = -1; /* try again next sample */
        return 0;
    }
    return want;
}

/*
 * The first message (or end: nothing consumable, timestamp -1) read at a wanted partition's
 * position answers for every group reading it there; returns how many were answered.
 */
static int ts_record(lag_t *l, const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tt;
    const char *topic;
    int64_t ts;
    int done = 0;

    if (!m->rkt || (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF))
        return 0;
    topic = rd_kafka_topic_name(m->rkt);
    ts = m->err ? -1 : rd_kafka_message_timestamp(m, &tt);
    for (int i = 0; i < l->nparts; i++) {
        part_t *q = l->parts[i];
        if (q->ts_wanted && !q->ts_done && q->partition == m->partition &&
            strcmp(q->topic, topic) == 0) {
            q->ts_done = true;
            q->ts_ms = ts;
            done++;
        }
    }
    return done;
}

/*
 * Reads the timestamp of the message at the position of every lagging partition whose position
 * changed since the last read: one assign of them all, then messages until each partition gave
 * its first one (or its end: nothing consumable), or the timeout.
 */
static void read_timestamps(lag_t *l)
{
    int want = ts_assign(l);
    if (want == 0)
        return;
    double deadline = mono_s() + (double)l->timeout_ms / 1000.0;
    while (want > 0 && mono_s() < deadline && !stopping) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(l->rk, 100);
        if (!m)
            continue;
        cs_log_debug("timestamp fetch", CS_LS("topic", m->rkt ? rd_kafka_topic_name(m->rkt) : "-"),
                     CS_LI("partition", m->partition), CS_LI("offset", m->offset),
                     CS_LS("error", m->err ? rd_kafka_err2str(m->err) : ""));
        want -= ts_record(l, m);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(l->rk, NULL);
    for (int i = 0; i < l->nparts; i++)
        if (l->parts[i]->ts_wanted && !l->parts[i]->ts_done) {
            cs_log_warn("no message read for the lag in seconds",
                        CS_LS("topic", l->parts[i]->topic),
                        CS_LI("partition", l->parts[i]->partition));
            l->parts[i]->ts_pos = -1; /* unknown this time; try again next sample */
        }
}

/* ---- evaluation ---- */

static void ring_push(part_t *p, double t, double window_s)
{
    int k = 0; /* drop the samples older than the window */
    for (int i = 0; i < p->nring; i++)
        if (p->ring[i].t >= t - window_s - 1e-6)
            p->ring[k++] = p->ring[i];
    p->nring = k;
    if (p->nring == p->capring) {
        p->capring = p->capring ? 2 * p->capring : 16;
        p->ring = realloc(p->ring, (size_t)p->capring * sizeof *p->ring);
        if (!p->ring)
            abort();
    }
    p->ring[p->nring++] = (cs_lag_sample_t){t, p->stored, p->lag};
}

static int sample(lag_t *l)
{
    if (read_stored(l) < 0 || read_metadata(l) < 0)
        return -1;
    sort_ctx = l;
    qsort(l->parts, (size_t)l->nparts, sizeof *l->parts, part_cmp);
    describe_groups(l);
    for (int g = 0; g < l->ngroups; g++)
        read_committed(l, g);
    if (read_watermarks(l) < 0)
        return -1;
    for (int i = 0; i < l->nparts; i++) {
        part_t *p = l->parts[i];
        int64_t pos = position(p);
        p->lag = p->high < 0 || pos < 0 ? -1 : p->high > pos ? p->high - pos : 0;
    }
    read_timestamps(l);
    double now_wall = wall_s(), now = mono_s();
    l->sampled_at = now_wall;
    for (int g = 0; g < l->ngroups; g++) {
        l->groups[g].status = CS_LAG_OK;
        l->groups[g].lag = 0;
        l->groups[g].lag_s = 0;
    }
    for (int i = 0; i < l->nparts; i++) {
        part_t *p = l->parts[i];
        p->lag_s = 0;
        if (p->lag > 0 && p->ts_ms >= 0) {
            p->lag_s = now_wall - (double)p->ts_ms / 1000.0;
            if (p->lag_s < 0)
                p->lag_s = 0;
        }
        ring_push(p, now, l->window_s);
        p->status = cs_lag_evaluate(&(cs_lag_input_t){.samples = p->ring,
                                                      .nsamples = p->nring,
                                                      .measured = !p->err[0],
                                                      .commit_age_s = p->commit_age_s,
                                                      .window_s = l->window_s,
                                                      .assigned = p->assigned});
        group_t *g = &l->groups[p->group];
        if (p->status > g->status)
            g->status = p->status;
        if (p->lag > 0)
            g->lag += p->lag;
        if (p->lag_s > g->lag_s)
            g->lag_s = p->lag_s;
    }
    return 0;
}

/* ---- output ---- */

static void iso_time(double t, char *out, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *json_off(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static json_t *to_json(const lag_t *l)
{
    char when[32];
    iso_time(l->sampled_at, when, sizeof when);
    json_t *root = json_pack("{s:s, s:f, s:[]}", "time", when, "window_s", l->window_s, "groups");
    json_t *groups = json_object_get(root, "groups");
    for (int g = 0; g < l->ngroups; g++) {
        const group_t *grp = &l->groups[g];
        json_t *parts = json_array();
        for (int i = 0; i < l->nparts; i++) {
            const part_t *p = l->parts[i];
            if (p->group != g)
                continue;
            json_t *o = json_pack(
                "{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:f, s:s, s:o, s:o, s:i}", "topic", p->topic,
                "partition", p->partition, "stored_offset", json_off(p->stored),
                "kafka_committed_offset", json_off(p->kafka), "low_watermark", json_off(p->low),
                "high_watermark", json_off(p->high), "lag_messages", json_off(p->lag),
                "lag_seconds", p->lag_s, "status", cs_lag_status_name(p->status),
                "last_commit_age_s", p->commit_age_s < 0 ? json_null() : json_real(p->commit_age_s),
                "assigned", p->assigned < 0 ? json_null() : json_boolean(p->assigned), "samples",
                p->nring);
            if (p->err[0])
                json_object_set_new(o, "error", json_string(p->err));
            json_array_append_new(parts, o);
        }
        json_array_append_new(
            groups,
            json_pack("{s:s, s:s, s:s, s:o, s:I, s:f, s:o}", "group", grp->name, "status",
                      cs_lag_status_name(grp->status), "state", grp->state, "members",
                      grp->members < 0 ? json_null() : json_integer(grp->members), "lag_messages",
                      (json_int_t)grp->lag, "lag_seconds", grp->lag_s, "partitions", parts));
    }
    return root;
}

static void fmt_off(char *out, size_t n, int64_t v)
{
    if (v < 0)
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%" PRId64, v);
}

static void print_table(const lag_t *l, FILE *out)
{
    int gw = 5, tw = 5;
    for (int i = 0; i < l->nparts; i++) {
        int n = (int)strlen(l->groups[l->parts[i]->group].name);
        gw = n > gw ? n : gw;
        n = (int)strlen(l->parts[i]->topic);
        tw = n > tw ? n : tw;
    }
    fprintf(out, "%-*s  %-*s  %4s  %10s  %10s  %10s  %8s  %9s  %-6s  %s\n", gw, "GROUP", tw,
            "TOPIC", "PART", "STORED", "KAFKA", "HIGH", "LAG", "LAG_S", "STATUS", "MEMBERS");
    for (int i = 0; i < l->nparts; i++) {
        const part_t *p = l->parts[i];
        const group_t *g = &l->groups[p->group];
        char s[24], k[24], h[24], lg[24], ls[24], mem[48];
        fmt_off(s, sizeof s, p->stored);
        fmt_off(k, sizeof k, p->kafka);
        fmt_off(h, sizeof h, p->high);
        fmt_off(lg, sizeof lg, p->lag);
        snprintf(ls, sizeof ls, "%.1f", p->lag_s);
        if (g->members < 0)
            snprintf(mem, sizeof mem, "? (%s)", g->state);
        else
            snprintf(mem, sizeof mem, "%d (%s)%s", g->members, g->state,
                     p->assigned == 1   ? ""
                     : p->assigned == 0 ? " unassigned"
                                        : "");
        fprintf(out, "%-*s  %-*s  %4d  %10s  %10s  %10s  %8s  %9s  %-6s  %s%s%s\n", gw, g->name, tw,
                p->topic, p->partition, s, k, h, lg, ls, cs_lag_status_name(p->status), mem,
                p->err[0] ? "  " : "", p->err);
    }
}

/* One line per group (--watch without a terminal). */
static void print_lines(const lag_t *l, FILE *out)
{
    char when[32];
    iso_time(l->sampled_at, when, sizeof when);
    for (int g = 0; g < l->ngroups; g++) {
        const group_t *grp = &l->groups[g];
        fprintf(out, "%s group=%s status=%s lag=%" PRId64 " lag_s=%.1f members=%s%d", when,
                grp->name, cs_lag_status_name(grp->status), grp->lag, grp->lag_s,
                grp->members < 0 ? "?" : "", grp->members < 0 ? 0 : grp->members);
        for (int i = 0; i < l->nparts; i++) {
            const part_t *p = l->parts[i];
            if (p->group == g && p->status != CS_LAG_OK)
                fprintf(out, " %s/%d=%s:%" PRId64 ":%.1fs", p->topic, p->partition,
                        cs_lag_status_name(p->status), p->lag, p->lag_s);
        }
        fputc('\n', out);
    }
    fflush(out);
}

static void report(const lag_t *l, bool json, bool watch, bool tty)
{
    if (json) {
        json_t *root = to_json(l);
        json_dumpf(root, stdout, watch ? JSON_COMPACT : JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(root);
    } else if (watch && tty) {
        char when[32];
        iso_time(l->sampled_at, when, sizeof when);
        fputs("\033[H\033[2J", stdout);
        printf("cs-lag  %s  window %.0f s  every %.1f s  (Ctrl-C to stop)\n\n", when, l->window_s,
               cs_config_double(l->cfg, "interval-s"));
        print_table(l, stdout);
    } else if (watch) {
        print_lines(l, stdout);
    } else {
        print_table(l, stdout);
    }
    fflush(stdout);
}

static int split_groups(lag_t *l, const char *list)
{
    char *copy = xstrdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n > 0 && t[n - 1] == ' ')
            t[--n] = '\0';
        if (n == 0)
            continue;
        l->wanted = realloc(l->wanted, (size_t)(l->nwanted + 1) * sizeof *l->wanted);
        if (!l->wanted)
            abort();
        l->wanted[l->nwanted++] = xstrdup(t);
    }
    free(copy);
    if (l->nwanted == 0) {
        fprintf(stderr, "cs-lag: --group: no group named in '%s'\n", list);
        return -1;
    }
    return 0;
}

/* How a run samples and reports, from the options. */
typedef struct lag_run {
    bool watch, json, tty;
    double interval;
    long long samples; /* one-shot: samples taken before the report */
    long long count;   /* --watch: reports before exiting (0: until interrupted) */
} lag_run_t;

/* Reads and checks the options into l and run; 0, or -1 with the message printed. */
static int lag_options(lag_t *l, lag_run_t *run, const char **dsn)
{
    *dsn = cs_config_str(l->cfg, "pg-dsn");
    l->brokers = cs_config_str(l->cfg, "kafka-brokers");
    if (!*dsn) {
        fprintf(stderr, "cs-lag: no PostgreSQL DSN given (--pg-dsn or CS_PG_DSN)\n");
        return -1;
    }
    if (!l->brokers) {
        fprintf(stderr, "cs-lag: no Kafka broker given (--kafka-brokers or CS_KAFKA_BROKERS)\n");
        return -1;
    }
    if (cs_config_str(l->cfg, "group") && split_groups(l, cs_config_str(l->cfg, "group")) < 0)
        return -1;
    run->watch = cs_config_bool(l->cfg, "watch");
    run->json = cs_config_bool(l->cfg, "json");
    if (run->watch && cs_config_is_set(l->cfg, "samples")) {
        fprintf(stderr, "cs-lag: --samples is for one-shot runs; --watch samples every "
                        "--interval-s until interrupted (or --count)\n");
        return -1;
    }
    if (!run->watch && cs_config_is_set(l->cfg, "count")) {
        fprintf(stderr, "cs-lag: --count needs --watch\n");
        return -1;
    }
    l->window_s = cs_config_double(l->cfg, "window-s");
    l->timeout_ms = (int)cs_config_int(l->cfg, "kafka-timeout-ms");
    run->interval = cs_config_double(l->cfg, "interval-s");
    run->samples = run->watch ? 0 : cs_config_int(l->cfg, "samples");
    run->count = cs_config_int(l->cfg, "count");
    run->tty = isatty(STDOUT_FILENO);
    return 0;
}

/* Samples every interval and reports: each sample with --watch, else once after the last. The
 * exit status: 0, or 1 (a failure, or a one-shot run interrupted). */
static int lag_loop(lag_t *l, const lag_run_t *run)
{
    for (long long n = 0; !stopping; n++) {
        if (sample(l) < 0)
            return 1;
        if (n == 0 && check_wanted(l) < 0)
            return 1;
        if (n == 0 && l->ngroups == 0 && !run->watch) {
            fprintf(stderr, "cs-lag: consumer_offsets has no group this role can see\n");
            return 1;
        }
        if (run->watch) {
            report(l, run->json, true, run->tty);
            if (run->count > 0 && n + 1 >= run->count)
                break;
        } else if (n + 1 >= run->samples) {
            report(l, run->json, false, run->tty);
            break;
        }
        sleep_s(run->interval);
    }
    return stopping && !run->watch ? 1 : 0;
}

static void lag_free(lag_t *l)
{
    if (l->q)
        rd_kafka_queue_destroy(l->q);
    if (l->rk) {
        rd_kafka_consumer_close(l->rk);
        rd_kafka_destroy(l->rk);
    }
    cs_db_destroy(l->db);
    for (int i = 0; i < l->nparts; i++) {
        free(l->parts[i]->topic);
        free(l->parts[i]->ring);
        free(l->parts[i]);
    }
    free(l->parts);
    for (int i = 0; i < l->ngroups; i++)
        free(l->groups[i].name);
    free(l->groups);
    for (int i = 0; i < l->nwanted; i++)
        free(l->wanted[i]);
    free(l->wanted);
    cs_config_destroy(l->cfg);
}

int main(int argc, char **argv)
{
    int rc = 2;
    lag_t l = {0};
    lag_run_t run = {0};
    const char *dsn = NULL;
    cs_err_t err;

    l.cfg = cs_config_start("cs-lag",
                            "[--group G[,G...]] [--watch | --samples N] [--json] "
                            "--pg-dsn DSN --kafka-brokers HOST:PORT",
                            opts, argc, argv, &rc);
    if (!l.cfg)
        return rc;
    rc = 2;
    if (lag_options(&l, &run, &dsn) < 0)
        goto out;
    rc = 1;
    l.db = cs_db_connect(dsn, "cs-lag", &err);
    if (!l.db) {
        fprintf(stderr, "cs-lag: cannot connect to PostgreSQL: %s\n", err.msg);
        goto out;
    }
    if (kafka_connect(&l) < 0)
        goto out;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = lag_loop(&l, &run);
out:
    lag_free(&l);
    return rc;
}

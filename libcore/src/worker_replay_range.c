/*
 * libcore/src/worker_replay_range.c
 *      A replay's range: which partitions, from which offset to which (frozen) end.
 *
 * `<worker> replay` (worker_replay.c) reprocesses a range of the worker's partitions. The range
 * is decided once, when the job starts, and stored with it (replay_job_partitions): the
 * partitions of the topics (all, or --partitions), each from --from-offset or the first offset at
 * or after --from (the broker's timestamp index, rd_kafka_offsets_for_times), else the low
 * watermark, to --to-offset or the first offset at or after --to (exclusive), else the high
 * watermark at start. The parsing and the arithmetic are pure (cs__replay_* below, unit-tested);
 * cs__replay_resolve asks the broker for what they need. Loop thread only, before the loop runs.
 */
#include <ctype.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "worker_int.h"

/* ---- parsing ---- */

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (*(*p)++ - '0');
    }
    *out = v;
    return 0;
}

/* "Z", "+HH:MM", "-HH:MM", "+HHMM" or nothing (UTC); the offset east of UTC in seconds. */
static int parse_zone(const char *p, long *east_s)
{
    int hh, mm;
    *east_s = 0;
    if (*p == '\0' || (p[0] == 'Z' && p[1] == '\0'))
        return 0;
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p++ == '-' ? -1 : 1;
    if (parse_digits(&p, 2, &hh) < 0)
        return -1;
    if (*p == ':')
        p++;
    if (parse_digits(&p, 2, &mm) < 0 || *p != '\0' || hh > 23 || mm > 59)
        return -1;
    *east_s = sign * (hh * 3600L + mm * 60L);
    return 0;
}

int cs__replay_parse_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, fdig = 0;
    long east;
    const char *p = s;
    if (!s || parse_digits(&p, 4, &y) < 0 || *p++ != '-' || parse_digits(&p, 2, &mo) < 0 ||
        *p++ != '-' || parse_digits(&p, 2, &d) < 0)
        return -1;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' || parse_digits(&p, 2, &mi) < 0)
            return -1;
        if (*p == ':' && (p++, parse_digits(&p, 2, &sec) < 0))
            return -1;
        if (*p == '.') {
            for (p++; isdigit((unsigned char)*p); p++)
                if (fdig < 3)
                    frac = frac * 10 + (*p - '0'), fdig++;
            for (; fdig < 3; fdig++)
                frac *= 10;
        }
    }
    if (parse_zone(p, &east) < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (tm.tm_mday != d) /* 2026-02-31 normalised to March */
        return -1;
    *ms = ((int64_t)t - east) * 1000 + frac;
    return 0;
}

/* A non-negative decimal integer filling [s, e). */
static int parse_offset(const char *s, const char *e, int64_t *v)
{
    char buf[32];
    if (e - s <= 0 || e - s >= (long)sizeof buf)
        return -1;
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    for (const char *q = buf; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    errno = 0;
    long long x = strtoll(buf, NULL, 10);
    if (errno)
        return -1;
    *v = x;
    return 0;
}

/* "topic:p" in [s, e): the part it names among parts[0..n), or NULL. */
static cs__replay_part_t *part_named(cs__replay_part_t *parts, int n, const char *s, const char *e)
{
    const char *colon = NULL;
    for (const char *q = s; q < e; q++)
        if (*q == ':')
            colon = q;
    int64_t p;
    if (!colon || parse_offset(colon + 1, e, &p) < 0)
        return NULL;
    for (int i = 0; i < n; i++)
        if (parts[i].partition == p && strlen(parts[i].topic) == (size_t)(colon - s) &&
            !strncmp(parts[i].topic, s, (size_t)(colon - s)))
            return &parts[i];
    return NULL;
}

/* Calls fn for each comma-separated item of spec (spaces around items ignored). */
static int each_item(const char *spec, int (*fn)(void *ud, const char *s, const char *e), void *ud)
{
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        const char *a = p, *b = e;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (a < b && fn(ud, a, b) < 0)
            return -1;
        p = *e ? e + 1 : e;
    }
    return 0;
}

typedef struct sel_ctx {
    cs__replay_part_t *parts;
    int n;
    cs_err_t *err;
} sel_ctx_t;

static int select_item(void *ud, const char *s, const char *e)
{
    sel_ctx_t *c = ud;
    int64_t p;
    bool any = false;
    if (memchr(s, ':', (size_t)(e - s))) {
        cs__replay_part_t *rp = part_named(c->parts, c->n, s, e);
        if (!rp)
            return cs_err_set_field(c->err, CS_ERR_FATAL, "partitions",
                                    "--partitions: unknown partition '%.*s'", (int)(e - s), s);
        rp->selected = true;
        return 0;
    }
    if (parse_offset(s, e, &p) < 0)
        return cs_err_set_field(c->err, CS_ERR_FATAL, "partitions",
                                "--partitions: '%.*s' is neither a partition number nor topic:p",
                                (int)(e - s), s);
    for (int i = 0; i < c->n; i++)
        if (c->parts[i].partition == p)
            c->parts[i].selected = any = true;
    if (!any)
        return cs_err_set_field(c->err, CS_ERR_FATAL, "partitions",
                                "--partitions: no topic has partition %lld", (long long)p);
    return 0;
}

int cs__replay_select(cs__replay_part_t *parts, int n, const char *spec, cs_err_t *err)
{
    sel_ctx_t c = {parts, n, err};
    for (int i = 0; i < n; i++)
        parts[i].selected = !spec || !*spec;
    if (!spec || !*spec)
        return 0;
    return each_item(spec, select_item, &c);
}

typedef struct off_ctx {
    cs__replay_part_t *parts;
    int n;
    bool to;
    cs_err_t *err;
} off_ctx_t;

static int offset_item(void *ud, const char *s, const char *e)
{
    off_ctx_t *c = ud;
    const char *opt = c->to ? "--to-offset" : "--from-offset";
    const char *eq = memchr(s, '=', (size_t)(e - s));
    int64_t v;
    if (!eq)
        return cs_err_set_field(c->err, CS_ERR_FATAL, opt + 2,
                                "%s: '%.*s' is not topic:partition=offset", opt, (int)(e - s), s);
    cs__replay_part_t *rp = part_named(c->parts, c->n, s, eq);
    if (!rp || !rp->selected)
        return cs_err_set_field(c->err, CS_ERR_FATAL, opt + 2, "%s: unknown partition '%.*s'", opt,
                                (int)(eq - s), s);
    if (parse_offset(eq + 1, e, &v) < 0)
        return cs_err_set_field(c->err, CS_ERR_FATAL, opt + 2, "%s: '%.*s' is not an offset", opt,
                                (int)(e - eq - 1), eq + 1);
    *(c->to ? &rp->to_off : &rp->from_off) = v;
    return 0;
}

int cs__replay_offsets(cs__replay_part_t *parts, int n, const char *spec, bool to, cs_err_t *err)
{
    int64_t v;
    if (!spec || !*spec)
        return 0;
    if (parse_offset(spec, spec + strlen(spec), &v) == 0) {
        for (int i = 0; i < n; i++)
            *(to ? &parts[i].to_off : &parts[i].from_off) = v;
        return 0;
    }
    off_ctx_t c = {parts, n, to, err};
    return each_item(spec, offset_item, &c);
}

/*
 * Each selected partition's [start, end) from its watermarks and what the options resolved to:
 * an explicit offset beats a time's. The end never goes beyond the high watermark at start (the
 * frozen end); a start before the low watermark (deleted by retention) starts at it.
 */
int cs__replay_ranges(cs__replay_part_t *parts, int n, cs_err_t *err)
{
    for (int i = 0; i < n; i++) {
        cs__replay_part_t *p = &parts[i];
        if (!p->selected)
            continue;
        int64_t start = p->from_off >= 0 ? p->from_off : p->from_ts_off >= 0 ? p->from_ts_off : 0;
        int64_t end = p->to_off >= 0 ? p->to_off : p->to_ts_off >= 0 ? p->to_ts_off : p->hi;
        if (p->from_off >= 0 && p->to_off >= 0 && p->from_off > p->to_off)
            return cs_err_set_field(err, CS_ERR_FATAL, "from-offset",
                                    "--from-offset %lld is after --to-offset %lld on %s:%d",
                                    (long long)p->from_off, (long long)p->to_off, p->topic,
                                    p->partition);
        if (end > p->hi)
            end = p->hi;
        if (start < p->lo)
            start = p->lo;
        if (start > end)
            start = end; /* nothing to do on this partition */
        p->start = start;
        p->end = end;
    }
    return 0;
}

/* ---- the broker ---- */

static rd_kafka_t *kafka_new(const char *brokers, const char *props, cs_err_t *err)
{
    static const char *const kv[][2] = {{"client.id", "careerstream-replay"},
                                        {"allow.auto.create.topics", "false"}};
    char errstr[512];
    rd_kafka_conf_t *conf = cs__kafka_conf_new(brokers, kv, 2, props, err);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        cs_err_set(err, CS_ERR_FATAL, "kafka client: %s", errstr);
    }
    return rk;
}

/* Every partition of the topics, from the cluster's metadata (which never creates a topic). */
static int list_parts(rd_kafka_t *rk, char **topics, int ntopics, cs__replay_part_t **out, int *n,
                      cs_err_t *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e)
        return cs_err_set(err, CS_ERR_TRANSIENT, "kafka metadata: %s", rd_kafka_err2str(e));
    int rc = 0;
    for (int t = 0; t < ntopics && rc == 0; t++) {
        const struct rd_kafka_metadata_topic *mt = NULL;
        for (int i = 0; i < md->topic_cnt; i++)
            if (!strcmp(md->topics[i].topic, topics[t]))
                mt = &md->topics[i];
        if (!mt || mt->err || mt->partition_cnt == 0) {
            rc = cs_err_set_field(err, CS_ERR_FATAL, "topics", "unknown topic '%s'", topics[t]);
            break;
        }
        for (int i = 0; i < mt->partition_cnt; i++) {
            *out = cs_mem_realloc(*out, (size_t)(*n + 1) * sizeof **out);
            (*out)[(*n)++] = (cs__replay_part_t){.topic = cs_mem_strdup(topics[t]),
                                                 .partition = mt->partitions[i].id,
                                                 .from_off = -1,
                                                 .to_off = -1,
                                                 .from_ts_off = -1,
                                                 .to_ts_off = -1};
        }
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* The first offset at or after ms of each selected partition (its high watermark: none). */
static int offsets_for_time(rd_kafka_t *rk, cs__replay_part_t *parts, int n, int64_t ms, bool to,
                            cs_err_t *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n ? n : 1);
    for (int i = 0; i < n; i++)
        if (parts[i].selected)
            rd_kafka_topic_partition_list_add(l, parts[i].topic, parts[i].partition)->offset = ms;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, 10000);
    for (int k = 0; k < l->cnt && !e; k++) {
        rd_kafka_topic_partition_t *tp = &l->elems[k];
        for (int i = 0; i < n; i++)
            if (parts[i].partition == tp->partition && !strcmp(parts[i].topic, tp->topic)) {
                int64_t off = tp->err || tp->offset < 0 ? parts[i].hi : tp->offset;
                *(to ? &parts[i].to_ts_off : &parts[i].from_ts_off) = off;
            }
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return cs_err_set(err, CS_ERR_TRANSIENT, "kafka offsets for times: %s",
                          rd_kafka_err2str(e));
    return 0;
}

int cs__replay_resolve(const cs__replay_spec_t *spec, cs__replay_part_t **parts, int *n,
                       cs_err_t *err)
{
    int rc = -1;
    rd_kafka_t *rk = kafka_new(spec->brokers, spec->kafka_props, err);
    *parts = NULL;
    *n = 0;
    if (!rk)
        return -1;
    if (list_parts(rk, spec->topics, spec->ntopics, parts, n, err) < 0 ||
        cs__replay_select(*parts, *n, spec->partitions, err) < 0 ||
        cs__replay_offsets(*parts, *n, spec->from_offset, false, err) < 0 ||
        cs__replay_offsets(*parts, *n, spec->to_offset, true, err) < 0)
        goto out;
    for (int i = 0; i < *n; i++) {
        cs__replay_part_t *p = &(*parts)[i];
        rd_kafka_resp_err_t e = p->selected ? rd_kafka_query_watermark_offsets(
                                                  rk, p->topic, p->partition, &p->lo, &p->hi, 10000)
                                            : RD_KAFKA_RESP_ERR_NO_ERROR;
        if (e) {
            cs_err_set(err, CS_ERR_TRANSIENT, "kafka watermarks of %s:%d: %s", p->topic,
                       p->partition, rd_kafka_err2str(e));
            goto out;
        }
    }
    if ((spec->from_ms >= 0 && offsets_for_time(rk, *parts, *n, spec->from_ms, false, err) < 0) ||
        (spec->to_ms >= 0 && offsets_for_time(rk, *parts, *n, spec->to_ms, true, err) < 0))
        goto out;
    rc = cs__replay_ranges(*parts, *n, err);
out:
    rd_kafka_destroy(rk);
    return rc;
}

void cs__replay_parts_free(cs__replay_part_t *parts, int n)
{
    for (int i = 0; i < n; i++)
        free(parts[i].topic);
    free(parts);
}

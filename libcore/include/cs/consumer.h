/*
 * libcore/include/cs/consumer.h
 *      The Kafka side of the worker runtime: a group consumer whose offsets live elsewhere.
 *
 * Wraps one librdkafka high-level consumer configured for external offset storage:
 * enable.auto.commit and enable.auto.offset.store are off, assignment is cooperative-sticky, and
 * the caller decides where each newly assigned partition starts (the offset stored in PostgreSQL)
 * from its assign callback. Revocations are announced to the caller before the partitions are
 * released, so it can finish and commit its in-flight batch; lost partitions are flagged so that
 * nothing is committed for them.
 *
 * No thread of the caller ever blocks in here: the consumer queue signals cs_consumer_fd() when it
 * goes from empty to non-empty (librdkafka's queue io-event), the caller watches that descriptor
 * with libev, calls cs_consumer_ack_fd() and then cs_consumer_poll() until it returns NULL.
 * Rebalance callbacks run inside cs_consumer_poll(), on the caller's thread.
 *
 * Messages returned by cs_consumer_poll() belong to the caller until cs_consumer_msg_free(). They
 * are copies (one allocation each: payload, key, topic name, headers) holding nothing of
 * librdkafka's, so a caller may keep thousands pending without pinning librdkafka's fetch buffers.
 *
 * The reservoir. librdkafka's own queue is kept small (a queued message costs it ~1.6 KiB for a
 * 265-byte event) and its fetchers stop whenever it is full. A caller that holds back (it has
 * enough work taken and does not poll for a while) calls cs_consumer_prefetch() instead: it moves
 * what librdkafka has queued into the consumer's reservoir of compact copies (~2.5x less memory
 * per message), bounded in bytes, so librdkafka's queue empties and its fetchers keep running.
 * cs_consumer_poll() hands out the reservoir first, in the order the messages were polled, so
 * the order per partition is librdkafka's. The reservoir never outlives the position it was read
 * at: revoking partitions (before librdkafka releases them) and seeking drop the reservoir's
 * messages of those partitions; pausing keeps them (librdkafka resumes after the last message it
 * handed out, which is the reservoir's last).
 */
#ifndef CS_CONSUMER_H
#define CS_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/api.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start offset meaning "Kafka's committed offset, else the earliest available". */
#define CS_OFFSET_DEFAULT (-1001)

typedef struct cs_tp {
    const char *topic; /* borrowed; valid during the callback only */
    int partition;
    int64_t offset; /* assign: where to start (set by the callback); commit: next offset */
    bool pause;     /* assign: set by the callback to keep the partition paused after assignment */
} cs_tp_t;

typedef struct cs_consumer_cbs {
    /* Partitions newly assigned. Set tps[i].offset (default CS_OFFSET_DEFAULT), maybe .pause. */
    void (*assign)(void *ud, cs_tp_t *tps, int n);
    /* Partitions about to be released; lost: another member may own them already. */
    void (*revoke)(void *ud, const cs_tp_t *tps, int n, bool lost);
    void *ud;
} cs_consumer_cbs_t;

typedef struct cs_consumer_conf {
    const char *brokers;
    const char *group;
    const char *const *topics; /* NULL-terminated */
    const char *client_id;
    /*
     * Static group membership (KIP-345): a name stable across restarts of this instance, unique
     * in the group; NULL or "": dynamic membership. 1-249 characters of [A-Za-z0-9._-] (what the
     * broker accepts), else cs_consumer_new fails with a FATAL err on field "group-instance-id".
     * A static member that dies and comes back within the session timeout gets its partitions
     * back without a rebalance; one that does not come back keeps them unprocessed until the
     * session timeout. cs_consumer_close leaves the group either way (see there).
     */
    const char *group_instance_id;
    int session_timeout_ms;          /* 0: librdkafka's default; heartbeats follow from it */
    int max_poll_interval_ms;        /* 0: default */
    int queued_max_kbytes;           /* prefetch bound per partition set; 0: runtime default */
    int fetch_max_bytes;             /* 0: runtime default */
    bool partition_eof;              /* report the end of each partition (drain mode) */
    const char *assignment_strategy; /* NULL: cooperative-sticky */
    int fetch_wait_max_ms;           /* fetch.wait.max.ms; 0: runtime default (10) */
    /* Extra librdkafka properties "name=value[,name=value...]" applied last (security.protocol,
     * sasl.*, ssl.*, tuning); may be NULL. Never logged: it may hold secrets. */
    const char *kafka_props;
    /* Bound of the reservoir (cs_consumer_prefetch), in KiB of message copies; 0: the default
     * (CS_CONSUMER_RESERVOIR_KB), -1: no reservoir (cs_consumer_prefetch moves nothing). */
    int reservoir_kbytes;
    /*
     * Assign mode (replays): when nassign > 0 the consumer never subscribes nor joins the group
     * (group names where Kafka keeps its committed offsets only): it assigns these partitions
     * itself, calling the assign callback once for them from the first cs_consumer_poll, as a
     * rebalance would. assign_end[i] (>= 0; -1: none) is the frozen end of partition i, exclusive:
     * the first message at or beyond it is not handed out but turned into a CS_MSG_EOF event at
     * offset assign_end[i], and the partition is paused; later ones are dropped (a seek of the
     * partition makes its end reachable again). assign[i].offset (>= 0; -1: none) is where
     * partition i starts when the callback leaves it at its beginning (the caller has no stored
     * position for it). The arrays are copied.
     */
    const cs_tp_t *assign;
    const int64_t *assign_end;
    int nassign;
} cs_consumer_conf_t;

#define CS_CONSUMER_RESERVOIR_KB 2048

typedef struct cs_msg {
    const char *topic;
    int partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 when the message has none */
    const void *payload;
    size_t len;
    const void *key;
    size_t key_len;
    /* Non-zero for a consumer event that is not a message: CS_MSG_EOF or CS_MSG_ERROR. */
    int event;
    /* CS_MSG_ERROR: what happened (kind FATAL when the consumer cannot go on). Not a cs_err_t:
     * that would make every pending message 600 bytes larger. msg is "" for other events. */
    struct {
        cs_err_kind_t kind;
        const char *msg;
    } err;
} cs_msg_t;

enum { CS_MSG_DATA = 0, CS_MSG_EOF = 1, CS_MSG_ERROR = 2 };

typedef struct cs_consumer cs_consumer_t;

/*
 * Creates the consumer and subscribes (or, in assign mode, assigns at the first poll). Returns NULL
 * with err (FATAL: bad configuration). Process-wide side effect: pins glibc's mmap threshold at 128
 * KiB (mallopt), so that large buffers are always given back to the system when freed.
 */
CS_API cs_consumer_t *cs_consumer_new(const cs_consumer_conf_t *conf, const cs_consumer_cbs_t *cbs,
                                      cs_err_t *err);
/*
 * Checks what cs_consumer_new would refuse in conf without connecting anywhere (for now the
 * group instance id), so that a program can refuse a bad value before it starts anything else.
 * Returns -1 with a FATAL err naming the field.
 */
CS_API int cs_consumer_conf_check(const cs_consumer_conf_t *conf, cs_err_t *err);
/* Destroys without leaving the group (call cs_consumer_close first). Accepts NULL. */
CS_API void cs_consumer_destroy(cs_consumer_t *c);

/* The descriptor that becomes readable when the consumer queue has work. */
CS_API int cs_consumer_fd(const cs_consumer_t *c);
/* Empties the descriptor's pipe; call before draining the queue with cs_consumer_poll. */
CS_API void cs_consumer_ack_fd(cs_consumer_t *c);
/* The next message or event (the reservoir's first), or NULL when the reservoir and the queue
 * are empty. Never blocks. */
CS_API cs_msg_t *cs_consumer_poll(cs_consumer_t *c);
/*
 * Moves the messages and events librdkafka has queued into the reservoir, until its queue is
 * empty or the reservoir is at its bound. For a caller that holds back; never blocks. Rebalance
 * callbacks may run in here, as in cs_consumer_poll(). Returns how many it moved.
 */
CS_API int cs_consumer_prefetch(cs_consumer_t *c);
/* What the reservoir holds now: messages (and events) and their bytes; its bound in bytes. */
CS_API void cs_consumer_reservoir(const cs_consumer_t *c, size_t *msgs, size_t *bytes,
                                  size_t *bound);
/* Calls fn for each message (and event) the reservoir holds, in the order cs_consumer_poll would
 * hand them out; m is borrowed for the call. fn must not call into the consumer. */
CS_API void cs_consumer_reservoir_each(const cs_consumer_t *c,
                                       void (*fn)(void *ud, const cs_msg_t *m), void *ud);
/*
 * Keeps the group membership of a caller that holds back. librdkafka takes a consumer that has
 * not polled for max.poll.interval.ms for stuck: it leaves the group, and its partitions are lost.
 * When librdkafka was not polled for idle_ms (cs_consumer_poll and cs_consumer_prefetch poll it
 * only while the reservoir has room), this polls it once and keeps what that returns in the
 * reservoir, beyond its bound if need be (one message per call at most). Call it at least every
 * third of max.poll.interval.ms while holding back. Never blocks; rebalance callbacks may run in
 * here. Returns 1 when it polled, 0 when a poll was recent enough.
 */
CS_API int cs_consumer_keepalive(cs_consumer_t *c, int idle_ms);
CS_API void cs_consumer_msg_free(cs_msg_t *m);
/* A Kafka header of m, or NULL; *len receives its length. Borrowed from m. */
CS_API const void *cs_consumer_msg_header(const cs_msg_t *m, const char *name, size_t *len);

/* Pause or resume fetching of the given partitions (offset ignored). */
CS_API int cs_consumer_pause(cs_consumer_t *c, const cs_tp_t *tps, int n, cs_err_t *err);
CS_API int cs_consumer_resume(cs_consumer_t *c, const cs_tp_t *tps, int n, cs_err_t *err);
/* Moves the fetch position of assigned partitions to tps[i].offset; what the reservoir held for
 * them is dropped (the next message of each is the one at its new position). */
CS_API int cs_consumer_seek(cs_consumer_t *c, const cs_tp_t *tps, int n, cs_err_t *err);
/*
 * Commits tps[i].offset (the next offset to consume) to Kafka, asynchronously, for lag tools.
 * The start offsets an assign callback sets (>= 0) are committed the same way right after the
 * assignment, so Kafka's committed offsets equal the caller's from the moment it owns a partition.
 */
CS_API int cs_consumer_commit(cs_consumer_t *c, const cs_tp_t *tps, int n, cs_err_t *err);
/*
 * Known low/high watermarks; -1 when unknown. The high watermark is the newer of what fetches
 * reported and what the last cs_consumer_refresh_watermarks found, so it stays current for
 * partitions that are not fetched (paused, or waiting for the caller to poll). Never blocks.
 */
CS_API void cs_consumer_watermarks(cs_consumer_t *c, const char *topic, int partition, int64_t *lo,
                                   int64_t *hi);
/*
 * Asks the leaders of the assigned partitions for their high watermarks in the background (the
 * consumer's own thread; one ListOffsets request per leader, abandoned after a second when a
 * broker does not answer). Never blocks; the answers show in cs_consumer_watermarks.
 */
CS_API void cs_consumer_refresh_watermarks(cs_consumer_t *c);
/*
 * Asks the partition leader for the watermarks (blocks up to timeout_ms; used for lag of paused
 * partitions, whose cached watermarks no fetch refreshes). Returns -1 on failure or timeout.
 */
CS_API int cs_consumer_query_watermarks(cs_consumer_t *c, const char *topic, int partition,
                                        int timeout_ms, int64_t *lo, int64_t *hi);
/* False while librdkafka reports all brokers down. */
CS_API bool cs_consumer_connected(const cs_consumer_t *c);

/*
 * Which of the NULL-terminated topics the cluster does not have: asks for the metadata of every
 * topic (blocks up to timeout_ms), which never creates one, whatever auto-creation allows. Writes
 * the first missing name into missing (when size > 0) and returns how many are missing; -1 with a
 * TRANSIENT err when the metadata could not be had (no broker answered in time).
 */
CS_API int cs_consumer_missing_topics(cs_consumer_t *c, const char *const *topics, int timeout_ms,
                                      char *missing, size_t size, cs_err_t *err);
/*
 * Leaves the group (revoking the assignment through the callbacks; messages still queued are
 * dropped), waiting at most timeout_ms, so that the other members take the partitions over at
 * once. A static member leaves too: librdkafka 2.0.2 never sends LeaveGroup when a static member
 * closes (KIP-345 keeps its partitions for it until the session timeout), so it first
 * unsubscribes, which revokes and sends LeaveGroup, and only then closes. A leave that takes
 * longer than timeout_ms is abandoned with a TRANSIENT err: everything was committed before, so
 * nothing is lost (the group then waits for the session timeout), and cs_consumer_destroy()
 * leaves the librdkafka handle to process exit.
 */
CS_API int cs_consumer_close(cs_consumer_t *c, int timeout_ms, cs_err_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CS_CONSUMER_H */

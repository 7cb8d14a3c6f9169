/*
 * tests/integration/rt_util.h
 *      Helpers for the worker runtime's integration tests (0060..0069): the test worker's
 *      database, producing test events, running cs-testworker processes, reading results.
 *
 * Events in "text" format are event_id|user_id|type|key|amount (see testworker.c); event i has
 * the event id rt_event_id(i), so a test can produce the same event twice on purpose.
 * Everything aborts the test with a message on failure (these are test helpers, not library).
 */
#ifndef CS_RT_UTIL_H
#define CS_RT_UTIL_H

#include <check.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A fresh database with the runtime's tables (0040) and the test worker's rt_events/rt_counts. */
void rt_db(const char *tag, char *dsn, size_t size);
void rt_exec(const char *dsn, const char *sql);
/* The first column of the first row as an integer (NULL: -1). */
long long rt_ll(const char *dsn, const char *sql);
/* The first column of the first row as text into out ("" for NULL). */
void rt_str(const char *dsn, const char *sql, char *out, size_t size);

void rt_event_id(long long i, char out[37]);

typedef struct rt_producer rt_producer_t;
rt_producer_t *rt_producer_new(void);
/* Text event i for key "k<i % nkeys>" with amount; the key of the Kafka message is the user id. */
void rt_produce_text(rt_producer_t *p, const char *topic, long long i, int nkeys, long long amount);
void rt_produce_raw(rt_producer_t *p, const char *topic, int partition, const void *data,
                    size_t len, const char *traceparent);
/* Waits for every message to be acknowledged. */
void rt_producer_flush(rt_producer_t *p);
void rt_producer_destroy(rt_producer_t *p);

/* Like rt_produce_text, into one partition (so a test knows the order the worker sees). */
void rt_produce_text_to(rt_producer_t *p, const char *topic, int partition, long long i, int nkeys,
                        long long amount);

/* Produces text events 0..n-1 (rt_produce_text, amount 1, keys k0..k<nkeys-1>) and waits for
 * every acknowledgement. */
void rt_produce_many(const char *topic, long long n, int nkeys);

/* Sum of the offsets group committed to Kafka for topic's partitions (none: 0). */
long long rt_kafka_committed(const char *group, const char *topic);

/* Sum of the high watermarks of topic's partitions. */
long long rt_topic_end(const char *topic);

/*
 * Starts cs-testworker with CS_PG_DSN=dsn, the test brokers and the given NULL-terminated extra
 * arguments; its stderr is appended to logfile. Returns the pid.
 */
pid_t rt_spawn(const char *dsn, const char *logfile, const char *const *args);
/*
 * *pid (a process the test started) is sent SIGKILL when the test process exits while *pid > 0:
 * a failed check ends the test there, and leaves nothing running. Set *pid to -1 once reaped.
 */
void rt_kill_at_exit(pid_t *pid);
/* Waits up to timeout_ms for pid; returns its wait status, or -1 on timeout (pid still runs). */
int rt_wait(pid_t pid, int timeout_ms);
/*
 * rt_spawn and wait up to timeout_ms (times CS_TEST_TIMEOUT_MULT): the wait status, or -1 when
 * the worker had to be killed. cs_test_exited(st, 0) says whether it exited 0.
 */
int rt_run(const char *dsn, const char *logfile, const char *const *args, int timeout_ms);
/*
 * kill -9 at random moments: what rt_kill9_runs does. Each run of the worker is killed once the
 * group's committed offsets have moved 1..max_step events past where the run started (the next
 * event when that would come within margin of total), after a further 0..max_delay_ms.
 */
typedef struct rt_kills {
    const char *group; /* the worker's consumer group */
    long long total;   /* the input's end offset: no run is started once the group is there */
    int nkills;        /* runs to start and kill */
    int max_step;
    long long margin;
    int max_delay_ms;
    void (*after_kill)(const char *dsn, void *arg); /* after each kill, when not NULL */
    void *arg;
} rt_kills_t;
/*
 * Starts cs-testworker with args up to k->nkills times, killing each run with SIGKILL as k says
 * (seeded from the time and pid, the seed printed with logfile). Returns the kills that landed,
 * or -1 with why when a run made no progress within 60 s (times CS_TEST_TIMEOUT_MULT) or a killed
 * worker was not reaped within 10 s.
 */
int rt_kill9_runs(const char *dsn, const char *logfile, const char *const *args,
                  const rt_kills_t *k, char *why, size_t size);
/* Sum of next_offset over the group's rows in consumer_offsets. */
long long rt_committed(const char *dsn, const char *group);
/* Waits until rt_committed >= target; returns 0, or -1 on timeout. */
int rt_wait_committed(const char *dsn, const char *group, long long target, int timeout_ms);
/*
 * Every one of n events applied exactly once, as the test worker applies them: n rows in
 * rt_events and processed_events, rt_counts summing to n, and `dead` dead letters. Returns 0, or
 * -1 with what differs in why (for the caller's assertion).
 */
int rt_effects(const char *dsn, long long n, long long dead, char *why, size_t size);

/* Does the file contain the string? */
int rt_file_has(const char *path, const char *needle);
/* How many times needle occurs in the file (0 when it cannot be read). */
int rt_file_count(const char *path, const char *needle);
void rt_sleep_ms(int ms);
/* Waits up to timeout_ms for the file to contain needle; returns 0, or -1 on timeout. */
int rt_wait_file_has(const char *path, const char *needle, int timeout_ms);
/*
 * The first JSON log line of the file whose "msg" is msg: its field `field` (of "fields") as text
 * into out (a number as written). Returns 1, 0 when no line has that msg, -1 when the line lacks
 * the field.
 */
int rt_log_field(const char *path, const char *msg, const char *field, char *out, size_t size);

/* Creates topic (replication factor 1) with configs, NULL-terminated name, value pairs. */
void rt_topic_create(const char *topic, int partitions, const char *const *configs);
/* The partition assignor the group's members agreed on (its protocol), as the broker describes
 * the group: 0, or -1 if it cannot be described. */
int rt_group_assignor(const char *group, char *out, size_t size);
/* Sets a topic's configs (AlterConfigs: those not given return to the broker's defaults). */
void rt_topic_set_config(const char *topic, const char *const *configs);

/* A free TCP port on 127.0.0.1 (bound then released). */
int rt_free_port(void);
/* A non-blocking TCP connection to addr:port (numeric IPv4 or IPv6), or -1 if none is
 * established within ms. */
int rt_http_dial(const char *addr, int port, int ms);
/*
 * GET path on addr:port (numeric) with a deadline: the status (0: nothing answers, or no complete
 * answer within ms), the body into out; *took_ms (unless NULL): from connect to the answer's end.
 */
int rt_http_get_at(const char *addr, int port, const char *path, int ms, char *out, size_t size,
                   int64_t *took_ms);
/* GET path on 127.0.0.1:port (10 s at most): the status (0: nothing answers), the body. */
int rt_http_get(int port, const char *path, char *out, size_t size);
/* Waits up to timeout_ms for GET path on addr:port to answer 200: 0, or -1. */
int rt_http_wait(const char *addr, int port, const char *path, int timeout_ms);
/* The value of the first sample of metric name in a Prometheus text page (-1: absent). */
double rt_metric(const char *page, const char *name);

/* The transactional outbox (0088, 0107, 0108). */
/* Creates t_expected (event_id uuid PRIMARY KEY) holding the derived ids cs-testworker
 * --emit-topic states for the events 0..n-1 that rt_produce_text made with nkeys keys and the
 * amount i % 1000. */
void rt_expected_derived(const char *dsn, long long n, int nkeys);
/* Takes group's outbox relay lock on a new session of the test, as another instance's relay
 * would hold it; PQfinish the session to let it go (as a crashed relay's session would). */
PGconn *rt_outbox_lock_take(const char *dsn, const char *group);
/* How many relay connections (application_name "...-outbox") hold group's relay lock. */
long long rt_outbox_lock_holders(const char *dsn, const char *group);

/* Runs suite s in this process (CK_NOFORK: the tests keep worker processes and databases that a
 * fork would lose track of) and frees it: the exit status, 0 when every test passed. */
int rt_run_suite(Suite *s);
/* rt_run_suite of a suite of the one test t, timeout_s seconds at most. */
int rt_run_test(const char *suite, const char *tcase, const TTest *t, double timeout_s);

#endif

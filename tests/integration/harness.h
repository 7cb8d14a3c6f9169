/*
 * tests/integration/harness.h
 *      Helpers for integration tests: fresh databases and topics on the real services, and the
 *      programs under test run as child processes.
 *
 * scripts/test starts the throwaway PostgreSQL and the loopback broker and exports CS_PG_DSN (a
 * superuser DSN) and CS_KAFKA_BROKERS. Each test makes its own database (from the migrated
 * template cs_template when it exists) and its own topic names, so tests never see each other's
 * data. A missing service is a test failure, never a skip: a skipped integration test would hide
 * exactly the breakage it exists to catch.
 */
#ifndef CS_TEST_HARNESS_H
#define CS_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CS_PG_DSN / CS_KAFKA_BROKERS; abort the test with a clear message when unset. */
const char *cs_test_pg_dsn(void);
const char *cs_test_brokers(void);

/*
 * Creates database "t_<tag>_<pid>_<n>" (TEMPLATE cs_template when present, unless
 * use_template is 0) and writes a keyword DSN for it into dsn. Aborts the test on failure.
 */
void cs_test_fresh_db(const char *tag, int use_template, char *dsn, size_t size);
/* Drops the database named in dsn (FORCE). */
void cs_test_drop_db(const char *dsn);

/* A topic name unique to this process and call: "t.<tag>.<pid>.<n>". */
void cs_test_topic(const char *tag, char *out, size_t size);

/* Monotonic milliseconds. */
int64_t cs_test_now_ms(void);

/* Timeouts stretch under sanitizers: CS_TEST_TIMEOUT_MULT (default 1). */
int cs_test_timeout_mult(void);

/*
 * Starts the program argv[0] (a path) with argv, in an environment that has CS_KAFKA_BROKERS and,
 * when dsn is not NULL, CS_PG_DSN=dsn. Its stderr goes to log (NULL: ours), truncated first
 * unless append. Returns the pid; aborts the test if it cannot fork.
 */
pid_t cs_test_spawn(const char *const *argv, const char *dsn, const char *log, int append);
/* Waits up to timeout_ms for pid: its wait status, or -1 on timeout (pid still runs). */
int cs_test_wait(pid_t pid, int timeout_ms);
/* Sends sig to pid and waits up to timeout_ms: the wait status, or -1 after a SIGKILL (reaped). */
int cs_test_stop(pid_t pid, int sig, int timeout_ms);
/* cs_test_spawn, then cs_test_stop(pid, SIGKILL, ...) once timeout_ms has passed: the status. */
int cs_test_run(const char *const *argv, const char *dsn, const char *log, int append,
                int timeout_ms);
/* Whether a wait status says the process exited with code (-1, a timeout: never). */
int cs_test_exited(int status, int code);

/* A message read back from a topic: its key, careerstream's headers, position and bytes. */
typedef struct cs_test_msg {
    char key[64];
    char type[64];        /* header cs.event_type */
    char fp[32];          /* header cs.schema_fingerprint */
    char traceparent[80]; /* header traceparent ("" when absent: has_tp false) */
    int has_tp;
    int32_t partition;
    int64_t offset;
    unsigned char *value; /* owned; len bytes */
    size_t len;
} cs_test_msg_t;

/*
 * Reads exactly n messages of topic from its beginning (a fresh consumer group) in the order they
 * arrive (offset order within a partition); fails the test when fewer arrive within 30 s (times
 * the timeout multiplier) or one more follows within 0.5 s. Free with cs_test_msgs_free.
 */
cs_test_msg_t *cs_test_consume_n(const char *topic, int n);
void cs_test_msgs_free(cs_test_msg_t *msgs, int n);

#endif

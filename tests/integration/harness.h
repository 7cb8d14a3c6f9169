/*
 * tests/integration/harness.h
 *      Helpers for integration tests: fresh databases and topics on the real services.
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

#endif

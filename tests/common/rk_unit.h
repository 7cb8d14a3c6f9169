/*
 * tests/common/rk_unit.h
 *      What the unit suites of librdkafka's side (tests/unit/test_consumer.c, test_dlq.c) share:
 *      a broker address where nothing listens, reading back a configuration value or a header
 *      of a librdkafka object as a string, and running a Check suite to an exit status.
 */
#ifndef CS_TEST_RK_UNIT_H
#define CS_TEST_RK_UNIT_H

#include <check.h>
#include <librdkafka/rdkafka.h>

/* 127.0.0.1 port 1: nothing listens there, so a client made for it never reaches a broker. */
#define TEST_NO_BROKER "127.0.0.1:1"

/* rk's configuration value of name, "" when unset. The string is static: valid until the next
 * call. */
const char *test_rk_conf(rd_kafka_t *rk, const char *name);

/* The value of the last header called name in h, NULL when there is none (or it has no value).
 * The string is static: valid until the next call; values are cut at 255 bytes. */
const char *test_rk_header(const rd_kafka_headers_t *h, const char *name);

/* Runs every test of s (and frees it): EXIT_SUCCESS when none failed, else EXIT_FAILURE. */
int test_run_suite(Suite *s);

#endif

/*
 * tests/common/rk_unit.c
 *      The librdkafka unit suites' shared helpers (see rk_unit.h).
 */
#include "rk_unit.h"

#include <stdio.h>
#include <stdlib.h>

const char *test_rk_conf(rd_kafka_t *rk, const char *name)
{
    static char v[512];
    size_t n = sizeof v;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), name, v, &n) != RD_KAFKA_CONF_OK)
        return "";
    return v;
}

const char *test_rk_header(const rd_kafka_headers_t *h, const char *name)
{
    static char out[256];
    const void *v;
    size_t n;
    if (rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
        return NULL;
    snprintf(out, sizeof out, "%.*s", (int)n, (const char *)v);
    return out;
}

int test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

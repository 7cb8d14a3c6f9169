/*
 * libcore/src/kafka.c
 *      librdkafka configuration shared by the Kafka clients libcore makes (see internal.h).
 *
 * The consumer (consumer.c), the dead-letter producer (dlq.c) and the audit anchorer (audit.c)
 * each start from bootstrap servers and settings of their own, and all of them honour the
 * operator's --kafka-props (security settings, timeouts) the same way: applied last, so the
 * operator can override a default, and refused by property name only, since a value may be a
 * password. The application producer (producer.c) takes its properties as a list instead.
 */
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "cs/log.h"
#include "cs/mem.h"
#include "internal.h"

int cs__kafka_conf_props(rd_kafka_conf_t *conf, const char *kafka_props, cs_err_t *err)
{
    char *props, *save = NULL;
    int rc = 0;

    if (!kafka_props || !*kafka_props)
        return 0;
    props = cs_mem_strdup(kafka_props);
    /* One entry a line when the text holds a newline (what cs_config makes of a
     * --kafka-props-file, whose values may hold ','), else comma-separated. */
    const char *sep = strchr(props, '\n') ? "\n" : ",";
    for (char *kv = strtok_r(props, sep, &save); kv; kv = strtok_r(NULL, sep, &save)) {
        char *eq = strchr(kv, '=');

        if (!eq || eq == kv) {
            /* No '=': the entry names no secret property, but may be a misplaced value. */
            rc = cs_err_set_field(err, CS_ERR_FATAL, "kafka-props",
                                  "kafka-props: an entry of %zu characters is not name=value",
                                  strlen(kv));
            break;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(conf, kv, eq + 1, NULL, 0) != RD_KAFKA_CONF_OK) {
            /* The value may be a secret: name the property only. */
            rc = cs_err_set_field(err, CS_ERR_FATAL, "kafka-props",
                                  "kafka-props: librdkafka refuses property '%.64s' or its value",
                                  kv);
            break;
        }
    }
    memset(props, 0, strlen(kafka_props));
    free(props);
    return rc;
}

void cs__kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* syslog levels: 0-3 emergency..error, 4 warning, 5-6 notice and info, 7 debug */
    cs_log_level_t at = level <= 3   ? CS_LOG_ERROR
                        : level <= 4 ? CS_LOG_WARN
                        : level <= 6 ? CS_LOG_INFO
                                     : CS_LOG_DEBUG;
    /*
     * A client without an error callback gets librdkafka's error events as log lines of facility
     * ERROR (a broker gone, a connection refused): errors it recovers from, which the consumer's
     * error callback logs as warnings, so they are warnings here too.
     */
    if (at == CS_LOG_ERROR && strcmp(fac, "ERROR") == 0)
        at = CS_LOG_WARN;
    CS_LOG_AT(at, "librdkafka", CS_LS("client", rd_kafka_name(rk)), CS_LS("facility", fac),
              CS_LS("detail", buf), CS_LOG_END);
}

rd_kafka_conf_t *cs__kafka_conf_new(const char *brokers, const char *const (*kv)[2], size_t nkv,
                                    const char *kafka_props, cs_err_t *err)
{
    rd_kafka_conf_t *conf;
    char errstr[512];

    if (!brokers || !*brokers) {
        cs_err_set_field(err, CS_ERR_FATAL, "kafka-brokers", "no kafka brokers configured");
        return NULL;
    }
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, cs__kafka_log_cb);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr)) {
        cs_err_set_field(err, CS_ERR_FATAL, "kafka-brokers", "%s", errstr);
        goto fail;
    }
    for (size_t i = 0; i < nkv; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof errstr)) {
            cs_err_set(err, CS_ERR_FATAL, "kafka setting %s: %s", kv[i][0], errstr);
            goto fail;
        }
    if (cs__kafka_conf_props(conf, kafka_props, err) < 0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

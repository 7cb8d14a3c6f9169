/*
 * tools/devbroker.c
 *      cs-devbroker - the embedded Kafka broker: librdkafka's mock cluster served on loopback.
 *
 * Production runs real Apache Kafka; on a developer machine and in CI no broker can be installed,
 * so this program starts librdkafka's mock cluster (rdkafka_mock.h) with --brokers brokers on
 * 127.0.0.1, creates every topic of schemas/topics.json (and its dead-letter topic) with its
 * partition count, prints the bootstrap list and writes it to --bootstrap-file, then runs until
 * SIGTERM or SIGINT. It speaks the real Kafka protocol, so kcat, our workers and consumer groups
 * across processes all use it like a broker. Limits to keep in mind (see shared/reference and the
 * README): about 5 MiB kept per partition, no timestamp lookup, memory only.
 */
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs/config.h"
#include "cs/log.h"

static const cs_opt_t opts[] = {
    {"brokers", CS_OPT_INT, "3", "number of mock brokers", 1, 16},
    {"topics-file", CS_OPT_STRING, CS_SOURCE_DIR "/schemas/topics.json",
     "topics file: topic names and partition counts"},
    {"bootstrap-file", CS_OPT_STRING, NULL, "write the bootstrap list to this file (atomically)"},
    {NULL},
};

/* Creates each topic (and its dead-letter topic) of the topics file. Returns the count or -1. */
static int create_topics(rd_kafka_mock_cluster_t *mc, const char *path, int replication)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *topics, *t;
    size_t i;
    int n = 0;

    if (!root) {
        cs_log_error("cannot read topics file", CS_LS("path", path), CS_LS("error", jerr.text),
                     CS_LI("line", jerr.line));
        return -1;
    }
    topics = json_object_get(root, "topics");
    if (!json_is_array(topics)) {
        cs_log_error("topics file has no \"topics\" array", CS_LS("path", path));
        json_decref(root);
        return -1;
    }
    json_array_foreach(topics, i, t)
    {
        json_t *pair[2] = {t, json_object_get(t, "dead_letter")};

        for (int k = 0; k < 2; k++) {
            const char *name = json_string_value(json_object_get(pair[k], "name"));
            json_int_t parts = json_integer_value(json_object_get(pair[k], "partitions"));
            rd_kafka_resp_err_t err;

            if (k == 1 && !pair[k])
                continue;
            if (!name || parts < 1 || parts > 10000) {
                cs_log_error("topics file entry needs a name and 1..10000 partitions",
                             CS_LS("path", path), CS_LI("index", i));
                json_decref(root);
                return -1;
            }
            err = rd_kafka_mock_topic_create(mc, name, (int)parts, replication);
            if (err) {
                cs_log_error("cannot create topic", CS_LS("topic", name),
                             CS_LS("error", rd_kafka_err2str(err)));
                json_decref(root);
                return -1;
            }
            cs_log_debug("topic created", CS_LS("topic", name), CS_LI("partitions", parts));
            n++;
        }
    }
    json_decref(root);
    return n;
}

static int write_atomically(const char *path, const char *text)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    if (fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
        unlink(tmp);
        return -1;
    }
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    char errstr[512];
    int code = 1, sig = 0, ntopics, brokers;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    const char *bootstraps, *bfile;
    sigset_t set;
    cs_config_t *cfg =
        cs_config_start("cs-devbroker",
                        "Serve librdkafka's mock Kafka cluster on loopback until SIGTERM/SIGINT.\n"
                        "Prints the bootstrap list (host:port,...) on stdout.",
                        opts, argc, argv, &code);

    if (!cfg)
        return code;
    code = 1;
    brokers = (int)cs_config_int(cfg, "brokers");
    bfile = cs_config_str(cfg, "bootstrap-file");

    /* Block the stop signals before any thread starts, so every thread inherits the mask and
     * sigwait() below is the only place they are delivered. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        cs_log_error("bad librdkafka setting", CS_LS("error", errstr));
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        cs_log_error("cannot create the mock cluster's owner handle", CS_LS("error", errstr));
        goto out;
    }
    conf = NULL; /* owned by rk */
    mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        cs_log_error("cannot start the mock cluster", CS_LI("brokers", brokers));
        goto out;
    }
    ntopics = create_topics(mc, cs_config_str(cfg, "topics-file"), brokers < 3 ? brokers : 3);
    if (ntopics < 0)
        goto out;
    bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    if (bfile && write_atomically(bfile, bootstraps) < 0) {
        cs_log_error("cannot write the bootstrap file", CS_LS("path", bfile),
                     CS_LS("error", strerror(errno)));
        goto out;
    }
    printf("%s\n", bootstraps);
    fflush(stdout);
    cs_log_info("broker ready", CS_LS("bootstrap", bootstraps), CS_LI("brokers", brokers),
                CS_LI("topics", ntopics));

    while (sigwait(&set, &sig) != 0 || sig == SIGHUP)
        ;
    cs_log_info("stopping", CS_LS("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    code = 0;
out:
    if (bfile && code == 0)
        unlink(bfile);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    cs_config_destroy(cfg);
    return code;
}

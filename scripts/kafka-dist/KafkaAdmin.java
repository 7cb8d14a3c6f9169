/*
 * scripts/kafka-dist/KafkaAdmin.java - the two admin steps scripts/kafka needs at start.
 *
 * Kafka's own AdminClient (kafka-clients, in the pinned release's jars), compiled once by
 * scripts/bootstrap into the cache beside the jars. One JVM does what would otherwise take one
 * kafka-topics invocation (about two seconds of JVM start each) per topic:
 *
 *   wait   BOOTSTRAP BROKERS TIMEOUT_MS
 *          until the cluster answers metadata with BROKERS brokers and a controller
 *   topics BOOTSTRAP TOPICS_JSON REPLICATION MIN_ISR TIMEOUT_MS
 *          creates every topic of schemas/topics.json and its dead-letter topic (partitions and
 *          retention as the file says; existing topics are left alone), then waits until every
 *          partition of each has a leader
 *
 * Exit status: 0 done, 1 failed (a line on stderr says what), 2 usage.
 */
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;

public final class KafkaAdmin {
    private static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "200");
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "careerstream-kafka-admin");
        return Admin.create(p);
    }

    private static int waitCluster(String bootstrap, int brokers, long timeoutMs) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMs;
        String last = "no answer";
        try (Admin a = admin(bootstrap)) {
            while (System.currentTimeMillis() < deadline) {
                try {
                    DescribeClusterResult r = a.describeCluster();
                    int n = r.nodes().get().size();
                    boolean ctl = r.controller().get() != null;
                    if (n >= brokers && ctl)
                        return 0;
                    last = n + " of " + brokers + " brokers registered";
                } catch (ExecutionException e) {
                    last = String.valueOf(e.getCause());
                }
                Thread.sleep(100);
            }
        }
        System.err.println("kafka-admin: cluster not ready after " + timeoutMs + " ms: " + last);
        return 1;
    }

    private static void add(List<NewTopic> out, JsonNode t, int replication, int minIsr, long retentionMs) {
        String name = t.path("name").asText(null);
        int parts = t.path("partitions").asInt(0);
        if (name == null || parts < 1)
            throw new IllegalArgumentException("topics file: an entry needs a name and partitions >= 1");
        Map<String, String> cfg = new HashMap<>();
        cfg.put("min.insync.replicas", Integer.toString(minIsr));
        long ret = t.path("retention_ms").asLong(retentionMs);
        if (ret > 0)
            cfg.put("retention.ms", Long.toString(ret));
        out.add(new NewTopic(name, parts, (short) replication).configs(cfg));
    }

    private static int topics(String bootstrap, String file, int replication, int minIsr, long timeoutMs)
        throws Exception {
        JsonNode root = new ObjectMapper().readTree(new File(file));
        List<NewTopic> want = new ArrayList<>();
        for (JsonNode t : root.path("topics")) {
            long ret = t.path("retention_ms").asLong(0);
            add(want, t, replication, minIsr, 0);
            if (t.has("dead_letter"))
                add(want, t.get("dead_letter"), replication, minIsr, ret);
        }
        if (want.isEmpty()) {
            System.err.println("kafka-admin: " + file + " lists no topics");
            return 1;
        }
        List<String> names = new ArrayList<>();
        for (NewTopic t : want)
            names.add(t.name());
        long deadline = System.currentTimeMillis() + timeoutMs;
        try (Admin a = admin(bootstrap)) {
            int created = 0;
            for (Map.Entry<String, org.apache.kafka.common.KafkaFuture<Void>> e :
                 a.createTopics(want).values().entrySet()) {
                try {
                    e.getValue().get();
                    created++;
                } catch (ExecutionException ex) {
                    if (!(ex.getCause() instanceof TopicExistsException)) {
                        System.err.println("kafka-admin: cannot create topic " + e.getKey() + ": " + ex.getCause());
                        return 1;
                    }
                }
            }
            /* Created is not yet usable: wait for a leader of every partition. */
            String last = "";
            while (System.currentTimeMillis() < deadline) {
                try {
                    Map<String, TopicDescription> d = a.describeTopics(names).allTopicNames().get();
                    int missing = 0;
                    for (TopicDescription td : d.values())
                        for (TopicPartitionInfo p : td.partitions())
                            if (p.leader() == null || p.leader().isEmpty())
                                missing++;
                    if (missing == 0) {
                        System.out.println("topics: " + names.size() + " (" + created + " created)");
                        return 0;
                    }
                    last = missing + " partitions without a leader";
                } catch (ExecutionException ex) {
                    last = String.valueOf(ex.getCause());
                }
                Thread.sleep(100);
            }
            System.err.println("kafka-admin: topics not ready after " + timeoutMs + " ms: " + last);
            return 1;
        }
    }

    public static void main(String[] args) throws Exception {
        int rc = 2;
        if (args.length == 4 && args[0].equals("wait"))
            rc = waitCluster(args[1], Integer.parseInt(args[2]), Long.parseLong(args[3]));
        else if (args.length == 6 && args[0].equals("topics"))
            rc = topics(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                        Long.parseLong(args[5]));
        else
            System.err.println("usage: KafkaAdmin wait BOOTSTRAP BROKERS TIMEOUT_MS\n"
                               + "       KafkaAdmin topics BOOTSTRAP TOPICS_JSON REPLICATION MIN_ISR TIMEOUT_MS");
        System.exit(rc);
    }
}

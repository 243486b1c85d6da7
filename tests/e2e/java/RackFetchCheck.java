// Proves fetching from the closest replica (KIP-392) through a path to Kafka
// (the brokers themselves, or a proxy in front of them):
//
//   1. learns the brokers' racks (describeCluster) and creates TOPIC with one
//      partition on three brokers, the first (preferred leader) from another
//      rack than RACK and the second from RACK, e.g. [1, 2, 3] for rack b on
//      the test cluster (racks a, b, c); an existing TOPIC must already have a
//      leader outside RACK and an in-sync replica in it;
//   2. produces 1000 records with 100-byte values, acks=all;
//   3. reads them back with client.rack=RACK (assign, from offset 0). The
//      leader answers the first fetch(es) with no records and a preferred read
//      replica; the brokers run RackAwareReplicaSelector, which names the
//      replica in RACK, and the consumer fetches from it from then on;
//   4. after the records are in, keeps fetching for 2 s, then counts the
//      fetches each broker answered from the consumer's metrics
//      (consumer-node-metrics response-total per node-id, less the one
//      ApiVersions exchange of each connection; their sum is checked against
//      consumer-fetch-manager-metrics fetch-total) and the bytes each sent.
//
// Prints "nodes: HOST:PORT ..." (node id order), a line per broker with its
// rack, role, fetches answered and bytes received from it, the partition's
// preferred-read-replica metric, then "PASS ..." or "FAIL ...". Passes when the
// follower in RACK served the records: it answered fetches, sent at least the
// records' bytes, the leader sent fewer than that, and the metric names the
// follower. Exits 0 or 1.
//
// Run: java -cp "$KGW_KAFKA_LIBS/*" RackFetchCheck.java BOOTSTRAP TOPIC RACK [PROP=VALUE...]
// The optional PROP=VALUE pairs go to every client (e.g. security settings).
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class RackFetchCheck {
  static final String NAME = "rack-fetch";
  static final String RUN_HEADER = "kgw-check-run";
  static final int RECORDS = 1000;
  static final int VALUE_BYTES = 100;
  static final Duration CONSUME_TIMEOUT = Duration.ofSeconds(60);
  static final Duration KEEP_FETCHING = Duration.ofSeconds(2);

  static class CheckFailed extends Exception {
    CheckFailed(String message) {
      super(message);
    }
  }

  static Properties extra = new Properties();

  static Properties clientProps(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    // No KIP-714 telemetry requests: only the traffic under test.
    p.put("enable.metrics.push", "false");
    p.putAll(extra);
    return p;
  }

  public static void main(String[] args) {
    if (args.length < 3) {
      System.err.println("usage: RackFetchCheck BOOTSTRAP TOPIC RACK [PROP=VALUE...]");
      System.exit(2);
    }
    int code;
    try {
      for (int i = 3; i < args.length; i++) {
        int eq = args[i].indexOf('=');
        if (eq < 1) throw new IllegalArgumentException("expected PROP=VALUE, got " + args[i]);
        extra.put(args[i].substring(0, eq), args[i].substring(eq + 1));
      }
      System.out.println("PASS " + NAME + ": " + run(args[0], args[1], args[2]));
      code = 0;
    } catch (CheckFailed e) {
      System.out.println("FAIL " + NAME + ": " + e.getMessage());
      code = 1;
    } catch (Exception e) {
      System.out.println("FAIL " + NAME + ": " + e);
      e.printStackTrace();
      code = 1;
    }
    System.out.flush();
    // Client threads stuck on an unreachable broker must not keep the JVM up.
    Runtime.getRuntime().halt(code);
  }

  static String run(String bootstrap, String topic, String rack) throws Exception {
    long t0 = System.nanoTime();
    String runId = UUID.randomUUID().toString();
    Map<Integer, String> racks = new TreeMap<>();
    int leader;
    int follower;

    // 1. Cluster view and topic layout.
    try (Admin admin = Admin.create(clientProps(bootstrap))) {
      List<Node> nodes = new ArrayList<>(admin.describeCluster().nodes().get());
      nodes.sort(Comparator.comparingInt(Node::id));
      System.out.println("nodes: "
          + nodes.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.joining(" ")));
      for (Node n : nodes) racks.put(n.id(), n.rack());
      List<Integer> inRack = new ArrayList<>();
      List<Integer> elsewhere = new ArrayList<>();
      for (Map.Entry<Integer, String> e : racks.entrySet()) {
        (rack.equals(e.getValue()) ? inRack : elsewhere).add(e.getKey());
      }
      if (inRack.isEmpty() || elsewhere.isEmpty() || racks.size() < 3) {
        throw new CheckFailed(
            "need three brokers, one in rack " + rack + " and one elsewhere; racks: " + racks);
      }
      List<Integer> replicas = new ArrayList<>(List.of(elsewhere.get(0), inRack.get(0)));
      for (int id : racks.keySet()) {
        if (replicas.size() < 3 && !replicas.contains(id)) replicas.add(id);
      }
      try {
        admin.createTopics(List.of(new NewTopic(topic, Map.of(0, replicas)))).all().get();
        System.out.println("created " + topic + " with replicas " + replicas);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
        System.out.println(topic + " exists already");
      }

      // The preferred leader takes over once the partition exists everywhere.
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (true) {
        TopicPartitionInfo p = describe(admin, topic);
        if (p != null) {
          List<Integer> isr = p.isr().stream().map(Node::id).collect(Collectors.toList());
          List<Integer> reps = p.replicas().stream().map(Node::id).collect(Collectors.toList());
          int l = p.leader() == null ? -1 : p.leader().id();
          Integer f =
              reps.stream().filter(id -> rack.equals(racks.get(id))).findFirst().orElse(null);
          if (l >= 0 && !rack.equals(racks.get(l)) && f != null && isr.contains(f)) {
            leader = l;
            follower = f;
            System.out.println("partition 0: leader " + l + " (rack " + racks.get(l)
                + "), replicas " + reps + ", isr " + isr + "; follower in rack " + rack + ": " + f);
            break;
          }
          if (System.nanoTime() > deadline) {
            throw new CheckFailed(topic + " does not have a leader outside rack " + rack
                + " and an in-sync replica in it: leader " + l + ", replicas " + reps + ", isr "
                + isr + ", racks " + racks);
          }
        } else if (System.nanoTime() > deadline) {
          throw new CheckFailed(topic + " is unknown or has more than one partition");
        }
        Thread.sleep(200);
      }
    }
    TopicPartition tp = new TopicPartition(topic, 0);

    // 2. Produce.
    Properties pp = clientProps(bootstrap);
    pp.put("acks", "all");
    pp.put("max.block.ms", "30000");
    pp.put("delivery.timeout.ms", "30000");
    pp.put("request.timeout.ms", "10000");
    byte[] runIdBytes = runId.getBytes(StandardCharsets.UTF_8);
    AtomicLong acked = new AtomicLong();
    AtomicReference<Exception> firstError = new AtomicReference<>();
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
      for (int i = 0; i < RECORDS; i++) {
        ProducerRecord<String, String> r = new ProducerRecord<>(topic, 0, "k-" + i, value(i));
        r.headers().add(RUN_HEADER, runIdBytes);
        producer.send(r, (m, e) -> {
          if (e == null) {
            acked.incrementAndGet();
          } else {
            firstError.compareAndSet(null, e);
          }
        });
      }
      producer.flush();
    }
    if (acked.get() != RECORDS) {
      throw new CheckFailed("only " + acked.get() + " of " + RECORDS
          + " sends acknowledged (first error: " + firstError.get() + ")");
    }

    // 3. Consume from the closest replica.
    Properties cp = clientProps(bootstrap);
    cp.put("client.rack", rack);
    cp.put("auto.offset.reset", "earliest");
    cp.put("enable.auto.commit", "false");
    long got = 0;
    long payloadBytes = 0;
    // node id -> {requests, responses, bytes in}; bootstrap connections (negative
    // ids) carry only ApiVersions and Metadata.
    Map<Integer, long[]> perNode = new TreeMap<>();
    double fetches;
    double preferred;
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
      consumer.assign(List.of(tp));
      // Offset 0 needs no ListOffsets request, so the leader sees only fetches.
      consumer.seek(tp, 0);
      long deadline = System.nanoTime() + CONSUME_TIMEOUT.toNanos();
      long stopAt = Long.MAX_VALUE;
      while (System.nanoTime() < Math.min(deadline, stopAt)) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          Header h = r.headers().lastHeader(RUN_HEADER);
          if (h != null && runId.equals(new String(h.value(), StandardCharsets.UTF_8))) {
            got++;
            payloadBytes += r.serializedValueSize();
          }
        }
        if (got == RECORDS && stopAt == Long.MAX_VALUE) {
          stopAt = System.nanoTime() + KEEP_FETCHING.toNanos();
        }
      }
      for (Map.Entry<MetricName, ? extends Metric> e : consumer.metrics().entrySet()) {
        MetricName m = e.getKey();
        String node = m.tags().get("node-id");
        if (!"consumer-node-metrics".equals(m.group()) || node == null
            || !node.startsWith("node-")) {
          continue;
        }
        int id = Integer.parseInt(node.substring("node-".length()));
        if (id < 0) continue;
        long[] v = perNode.computeIfAbsent(id, k -> new long[3]);
        long x = (long) ((Number) e.getValue().metricValue()).doubleValue();
        if (m.name().equals("request-total")) v[0] = x;
        if (m.name().equals("response-total")) v[1] = x;
        if (m.name().equals("incoming-byte-total")) v[2] = x;
      }
      fetches = metric(consumer, "consumer-fetch-manager-metrics", "fetch-total", Map.of());
      preferred = metric(consumer, "consumer-fetch-manager-metrics", "preferred-read-replica",
          Map.of("topic", topic, "partition", "0"));
    }

    // 4. Verdict. Each broker connection starts with one ApiVersions exchange;
    // after that this consumer sends a broker nothing but fetches (no group,
    // no ListOffsets, metadata over the bootstrap connection), so answered
    // requests minus one are the fetches the broker answered. Their sum is
    // checked against fetch-total to make sure of that.
    long fetchSum = 0;
    for (Map.Entry<Integer, long[]> e : perNode.entrySet()) {
      int id = e.getKey();
      long[] v = e.getValue();
      long answered = Math.max(0, v[1] - 1);
      fetchSum += answered;
      String role =
          id == leader ? "leader" : id == follower ? "follower in rack " + rack : "follower";
      System.out.printf(
          "node %d (rack %s, %s): %d fetches answered (%d requests sent), %d bytes in%n", id,
          racks.get(id), role, answered, v[0], v[2]);
    }
    System.out.printf("fetch-total %.0f (sum over nodes %d%s), preferred-read-replica %.0f%n",
        fetches, fetchSum,
        fetchSum == (long) fetches ? "" : ": per-node counts include other requests", preferred);
    long[] none = new long[3];
    long[] l = perNode.getOrDefault(leader, none);
    long[] f = perNode.getOrDefault(follower, none);
    String summary = String.format(
        "%d records read with client.rack=%s; follower %d (rack %s) answered %d fetches with "
            + "%d bytes, leader %d (rack %s) %d fetches with %d bytes; records %d bytes; "
            + "took %.1f s",
        got, rack, follower, rack, Math.max(0, f[1] - 1), f[2], leader, racks.get(leader),
        Math.max(0, l[1] - 1), l[2], payloadBytes, (System.nanoTime() - t0) / 1e9);
    List<String> why = new ArrayList<>();
    if (got != RECORDS) {
      why.add("read " + got + " of " + RECORDS + " records within " + CONSUME_TIMEOUT.toSeconds()
          + " s");
    }
    if (f[1] < 2) why.add("no fetch went to the follower in rack " + rack);
    if (f[2] < payloadBytes) why.add("the follower delivered fewer bytes than the records hold");
    if (l[2] >= payloadBytes) why.add("the leader delivered the records");
    if (preferred != follower) {
      why.add("preferred-read-replica is " + (long) preferred + ", not " + follower);
    }
    if (!why.isEmpty()) throw new CheckFailed(String.join("; ", why) + " [" + summary + "]");
    return summary;
  }

  static String value(int i) {
    StringBuilder b = new StringBuilder("v-").append(i).append('-');
    while (b.length() < VALUE_BYTES) b.append('x');
    return b.toString();
  }

  // The topic's only partition; null while the topic is not known everywhere
  // yet (just created) or if it has more than one partition.
  static TopicPartitionInfo describe(Admin admin, String topic) throws Exception {
    TopicDescription d;
    try {
      d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof UnknownTopicOrPartitionException) return null;
      throw e;
    }
    return d.partitions().size() == 1 ? d.partitions().get(0) : null;
  }

  static double metric(KafkaConsumer<?, ?> consumer, String group, String name,
      Map<String, String> tags) {
    for (Map.Entry<MetricName, ? extends Metric> e : consumer.metrics().entrySet()) {
      MetricName m = e.getKey();
      if (m.group().equals(group) && m.name().equals(name)
          && m.tags().entrySet().containsAll(tags.entrySet())) {
        return ((Number) e.getValue().metricValue()).doubleValue();
      }
    }
    return Double.NaN;
  }
}

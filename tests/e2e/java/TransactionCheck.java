// Proves transactions through a path to Kafka (the brokers themselves, or a
// proxy in front of them):
//
//   1. creates TOPIC (3 partitions, replication factor 3) unless it exists;
//   2. a transactional producer commits one transaction of 100 records
//      ("committed-i") and aborts a second one of 100 ("aborted-i");
//   3. a read_committed consumer reads every partition to its end and must see
//      exactly the 100 committed records, each once, and none of the aborted;
//   4. a read_uncommitted consumer must see all 200, which shows the aborted
//      records did reach the log and were filtered by their abort marker.
//
// Every record carries a header with this run's id, so records left in TOPIC by
// earlier runs are ignored. Prints "nodes: HOST:PORT ..." (node id order),
// then "PASS ..." or "FAIL ..."; exits 0 or 1.
//
// Run: java -cp "$KGW_KAFKA_LIBS/*" TransactionCheck.java BOOTSTRAP TOPIC [PROP=VALUE...]
// The optional PROP=VALUE pairs go to every client (e.g. security settings).
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class TransactionCheck {
  static final String NAME = "transactions";
  static final String RUN_HEADER = "kgw-check-run";
  static final int PER_TRANSACTION = 100;
  static final Duration CONSUME_TIMEOUT = Duration.ofSeconds(30);

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
    if (args.length < 2) {
      System.err.println("usage: TransactionCheck BOOTSTRAP TOPIC [PROP=VALUE...]");
      System.exit(2);
    }
    int code;
    try {
      for (int i = 2; i < args.length; i++) {
        int eq = args[i].indexOf('=');
        if (eq < 1) throw new IllegalArgumentException("expected PROP=VALUE, got " + args[i]);
        extra.put(args[i].substring(0, eq), args[i].substring(eq + 1));
      }
      System.out.println("PASS " + NAME + ": " + run(args[0], args[1]));
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

  static String run(String bootstrap, String topic) throws Exception {
    long t0 = System.nanoTime();
    String runId = UUID.randomUUID().toString();

    try (Admin admin = Admin.create(clientProps(bootstrap))) {
      List<Node> nodes = new ArrayList<>(admin.describeCluster().nodes().get());
      nodes.sort(Comparator.comparingInt(Node::id));
      System.out.println("nodes: "
          + nodes.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.joining(" ")));
      try {
        admin.createTopics(List.of(new NewTopic(topic, 3, (short) 3))).all().get();
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }
    }

    // One committed and one aborted transaction. Any failure here is fatal:
    // the outcome of a transaction is only known once commit/abort returns.
    Properties pp = clientProps(bootstrap);
    pp.put("transactional.id", "kgw-transaction-check-" + runId);
    pp.put("acks", "all");
    pp.put("max.block.ms", "30000");
    pp.put("delivery.timeout.ms", "30000");
    pp.put("request.timeout.ms", "10000");
    byte[] runIdBytes = runId.getBytes(StandardCharsets.UTF_8);
    List<TopicPartition> partitions;
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
      producer.initTransactions();
      partitions = producer.partitionsFor(topic).stream()
          .map(p -> new TopicPartition(p.topic(), p.partition()))
          .collect(Collectors.toList());
      for (String outcome : List.of("committed", "aborted")) {
        producer.beginTransaction();
        for (int i = 0; i < PER_TRANSACTION; i++) {
          ProducerRecord<String, String> r =
              new ProducerRecord<>(topic, null, "k-" + i, outcome + "-" + i);
          r.headers().add(RUN_HEADER, runIdBytes);
          producer.send(r);
        }
        if (outcome.equals("committed")) {
          // Flushes first; a failed send makes it throw.
          producer.commitTransaction();
        } else {
          // Abort would drop unsent records; they must reach the log.
          producer.flush();
          producer.abortTransaction();
        }
      }
    }
    double produceSeconds = (System.nanoTime() - t0) / 1e9;

    // The high watermarks now cover both transactions' records. The markers
    // that end them are written after commit/abort return, so the last stable
    // offset may still lag: read_committed reads to the same offsets, which it
    // reaches only once the markers are in.
    Map<TopicPartition, Long> end;
    Properties ep = clientProps(bootstrap);
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(ep, new StringDeserializer(), new StringDeserializer())) {
      end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
    }
    Map<String, Integer> uncommittedView = readAll(bootstrap, end, runId, "read_uncommitted");
    Map<String, Integer> committedView = readAll(bootstrap, end, runId, "read_committed");

    List<String> why = new ArrayList<>();
    String committedProblems = compare(committedView, List.of("committed"));
    if (committedProblems != null) why.add("read_committed: " + committedProblems);
    String uncommittedProblems = compare(uncommittedView, List.of("committed", "aborted"));
    if (uncommittedProblems != null) why.add("read_uncommitted: " + uncommittedProblems);
    String counts = String.format(
        "read_committed saw %d records of this run, read_uncommitted %d (expected %d and %d)",
        total(committedView), total(uncommittedView), PER_TRANSACTION, 2 * PER_TRANSACTION);
    if (!why.isEmpty()) throw new CheckFailed(String.join("; ", why) + " [" + counts + "]");
    return String.format("committed %d, aborted %d; %s; exactly the committed ones are visible "
            + "(transactions %.1f s, total %.1f s)",
        PER_TRANSACTION, PER_TRANSACTION, counts, produceSeconds, (System.nanoTime() - t0) / 1e9);
  }

  // Reads every partition from the start to END and counts this run's values.
  static Map<String, Integer> readAll(String bootstrap, Map<TopicPartition, Long> end,
      String runId, String isolation) throws CheckFailed {
    List<TopicPartition> partitions = new ArrayList<>(end.keySet());
    Properties cp = clientProps(bootstrap);
    cp.put("isolation.level", isolation);
    cp.put("auto.offset.reset", "earliest");
    cp.put("enable.auto.commit", "false");
    Map<String, Integer> seen = new HashMap<>();
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long deadline = System.nanoTime() + CONSUME_TIMEOUT.toNanos();
      while (true) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          Header h = r.headers().lastHeader(RUN_HEADER);
          if (h != null && runId.equals(new String(h.value(), StandardCharsets.UTF_8))) {
            seen.merge(r.value(), 1, Integer::sum);
          }
        }
        boolean done = true;
        for (TopicPartition tp : partitions) {
          if (consumer.position(tp, Duration.ofSeconds(10)) < end.get(tp)) done = false;
        }
        if (done) break;
        if (System.nanoTime() > deadline) {
          throw new CheckFailed(isolation + " consumer did not reach the offsets " + end
              + " within " + CONSUME_TIMEOUT.toSeconds() + " s (saw " + total(seen) + " records)");
        }
      }
    }
    return seen;
  }

  // Null if SEEN holds each value of the given transactions exactly once and
  // nothing else, otherwise what is wrong.
  static String compare(Map<String, Integer> seen, List<String> outcomes) {
    List<String> problems = new ArrayList<>();
    int missing = 0;
    for (String outcome : outcomes) {
      for (int i = 0; i < PER_TRANSACTION; i++) {
        if (!seen.containsKey(outcome + "-" + i)) missing++;
      }
    }
    if (missing > 0) problems.add(missing + " expected records missing");
    List<String> duplicated = new ArrayList<>();
    List<String> unexpected = new ArrayList<>();
    for (Map.Entry<String, Integer> e : seen.entrySet()) {
      String outcome = e.getKey().substring(0, Math.max(0, e.getKey().indexOf('-')));
      if (!outcomes.contains(outcome)) unexpected.add(e.getKey());
      else if (e.getValue() > 1) duplicated.add(e.getKey() + " x" + e.getValue());
    }
    if (!unexpected.isEmpty()) {
      problems.add(unexpected.size() + " records that must not be visible (first: "
          + unexpected.stream().sorted().limit(5).collect(Collectors.joining(", ")) + ")");
    }
    if (!duplicated.isEmpty()) {
      problems.add(duplicated.size() + " records seen more than once (first: "
          + duplicated.stream().sorted().limit(5).collect(Collectors.joining(", ")) + ")");
    }
    return problems.isEmpty() ? null : String.join(", ", problems);
  }

  static int total(Map<String, Integer> seen) {
    return seen.values().stream().mapToInt(Integer::intValue).sum();
  }
}

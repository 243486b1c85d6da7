// Produces records with the idempotent producer and reads them back through a
// consumer group, to prove that a path to Kafka (the brokers themselves, or a
// proxy in front of them) loses nothing and duplicates nothing:
//
//   1. creates TOPIC (6 partitions, replication factor 3) unless it exists;
//   2. sends RECORDS records "k-i" -> "v-i" with enable.idempotence=true and
//      acks=all, counting the sends the brokers acknowledged;
//   3. consumes them with a fresh consumer group (auto.offset.reset=earliest,
//      manual commitSync after every batch) until every acknowledged record is
//      seen and every partition is read to its end, or 60 s pass;
//   4. fails if an acknowledged record is missing or any record arrives twice;
//   5. starts a second consumer in the same group, which must get no records:
//      the first one's commits hold.
//
// Every record carries a header with this run's id, so records left in TOPIC by
// earlier runs are counted and ignored. Prints "nodes: HOST:PORT ..." (the
// brokers the admin client learned from BOOTSTRAP, in node id order), then one
// "PASS ..." or "FAIL ..." line; exits 0 or 1.
//
// Run: java -cp "$KGW_KAFKA_LIBS/*" ExactlyOnceCheck.java BOOTSTRAP TOPIC RECORDS [PROP=VALUE...]
// The optional PROP=VALUE pairs go to every client (e.g. security settings).
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.StringJoiner;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ExactlyOnceCheck {
  static final String NAME = "exactly-once";
  static final String RUN_HEADER = "kgw-check-run";
  static final Duration CONSUME_TIMEOUT = Duration.ofSeconds(60);
  static final Duration SECOND_CONSUMER_TIMEOUT = Duration.ofSeconds(30);

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

  static double secondsSince(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  public static void main(String[] args) {
    if (args.length < 3) {
      System.err.println("usage: ExactlyOnceCheck BOOTSTRAP TOPIC RECORDS [PROP=VALUE...]");
      System.exit(2);
    }
    int code;
    try {
      String bootstrap = args[0];
      String topic = args[1];
      int records = Integer.parseInt(args[2]);
      if (records < 1) throw new IllegalArgumentException("RECORDS must be at least 1");
      for (int i = 3; i < args.length; i++) {
        int eq = args[i].indexOf('=');
        if (eq < 1) throw new IllegalArgumentException("expected PROP=VALUE, got " + args[i]);
        extra.put(args[i].substring(0, eq), args[i].substring(eq + 1));
      }
      System.out.println("PASS " + NAME + ": " + run(bootstrap, topic, records));
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

  static String run(String bootstrap, String topic, int records) throws Exception {
    long t0 = System.nanoTime();
    String runId = UUID.randomUUID().toString();

    // 1. Topic and cluster view.
    List<TopicPartition> partitions;
    try (Admin admin = Admin.create(clientProps(bootstrap))) {
      List<Node> nodes = new ArrayList<>(admin.describeCluster().nodes().get());
      nodes.sort((a, b) -> Integer.compare(a.id(), b.id()));
      System.out.println("nodes: "
          + nodes.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.joining(" ")));
      try {
        admin.createTopics(List.of(new NewTopic(topic, 6, (short) 3))).all().get();
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }
    }

    // 2. Produce.
    AtomicIntegerArray acked = new AtomicIntegerArray(records);
    AtomicLong ackCount = new AtomicLong();
    AtomicLong failCount = new AtomicLong();
    AtomicReference<Exception> firstError = new AtomicReference<>();
    Properties pp = clientProps(bootstrap);
    pp.put("enable.idempotence", "true");
    pp.put("acks", "all");
    // Bounded, so an unreachable path fails the run instead of stalling it.
    pp.put("max.block.ms", "30000");
    pp.put("delivery.timeout.ms", "30000");
    pp.put("request.timeout.ms", "10000");
    byte[] runIdBytes = runId.getBytes(StandardCharsets.UTF_8);
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
      partitions = producer.partitionsFor(topic).stream()
          .map(p -> new TopicPartition(p.topic(), p.partition()))
          .collect(Collectors.toList());
      for (int i = 0; i < records; i++) {
        final int index = i;
        ProducerRecord<String, String> record =
            new ProducerRecord<>(topic, null, "k-" + i, "v-" + i);
        record.headers().add(RUN_HEADER, runIdBytes);
        producer.send(record, (metadata, e) -> {
          if (e == null) {
            acked.set(index, 1);
            ackCount.incrementAndGet();
          } else {
            failCount.incrementAndGet();
            firstError.compareAndSet(null, e);
          }
        });
      }
      producer.flush();
    }
    double produceSeconds = secondsSince(t0);
    if (ackCount.get() == 0) {
      throw new CheckFailed("no send was acknowledged (" + failCount.get() + " failed, first: "
          + firstError.get() + ")");
    }

    // 3. Consume with a group until every acknowledged record is seen and every
    // partition is read to the end it had when production finished.
    String group = "kgw-exactly-once-check-" + runId;
    Properties cp = clientProps(bootstrap);
    cp.put("group.id", group);
    cp.put("auto.offset.reset", "earliest");
    cp.put("enable.auto.commit", "false");
    int[] seen = new int[records];
    long fromThisRun = 0;
    long foreign = 0;
    long malformed = 0;
    long unackedSeen = 0;
    long ackedSeen = 0;
    Map<TopicPartition, Long> end;
    long consumeStart = System.nanoTime();
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
      end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + CONSUME_TIMEOUT.toNanos();
      while (true) {
        ConsumerRecords<String, String> batch = consumer.poll(Duration.ofMillis(200));
        for (ConsumerRecord<String, String> r : batch) {
          Header h = r.headers().lastHeader(RUN_HEADER);
          if (h == null || !runId.equals(new String(h.value(), StandardCharsets.UTF_8))) {
            foreign++;
            continue;
          }
          fromThisRun++;
          int i = indexOf(r.value(), records);
          if (i < 0 || !("k-" + i).equals(r.key())) {
            malformed++;
            continue;
          }
          if (++seen[i] == 1) {
            if (acked.get(i) == 1) {
              ackedSeen++;
            } else {
              unackedSeen++;
            }
          }
        }
        if (!batch.isEmpty()) consumer.commitSync(Duration.ofSeconds(30));
        if (ackedSeen == ackCount.get() && readToEnd(consumer, end)) break;
        if (System.nanoTime() > deadline) break;
      }
      // Positions can pass the last record (e.g. control records); keep them.
      consumer.commitSync(Duration.ofSeconds(30));
    }
    double consumeSeconds = secondsSince(consumeStart);

    // 4. Verdict on the first consumer.
    List<String> missing = new ArrayList<>();
    List<String> duplicated = new ArrayList<>();
    long missingCount = 0;
    long duplicatedCount = 0;
    for (int i = 0; i < records; i++) {
      if (acked.get(i) == 1 && seen[i] == 0) {
        missingCount++;
        if (missing.size() < 10) missing.add("v-" + i);
      }
      if (seen[i] > 1) {
        duplicatedCount++;
        if (duplicated.size() < 10) duplicated.add("v-" + i + " x" + seen[i]);
      }
    }
    String counts = String.format(
        "%d records sent, %d acknowledged, %d failed; consumed %d of this run "
            + "(%d distinct acknowledged, %d unacknowledged but written), %d from earlier runs",
        records, ackCount.get(), failCount.get(), fromThisRun, ackedSeen, unackedSeen, foreign);
    if (missingCount > 0 || duplicatedCount > 0 || malformed > 0) {
      StringJoiner why = new StringJoiner("; ");
      if (missingCount > 0) {
        why.add(missingCount + " acknowledged records never consumed within "
            + CONSUME_TIMEOUT.toSeconds() + " s (first: " + String.join(", ", missing) + ")");
      }
      if (duplicatedCount > 0) {
        why.add(duplicatedCount + " records consumed more than once (first: "
            + String.join(", ", duplicated) + ")");
      }
      if (malformed > 0) why.add(malformed + " records of this run with a wrong key or value");
      throw new CheckFailed(why + " [" + counts + "]");
    }

    // 5. A second member of the same group starts from the committed offsets.
    long secondStart = System.nanoTime();
    long secondGot = 0;
    try (KafkaConsumer<String, String> consumer =
        new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + SECOND_CONSUMER_TIMEOUT.toNanos();
      while (consumer.assignment().size() < partitions.size()) {
        if (System.nanoTime() > deadline) {
          throw new CheckFailed("second consumer of group " + group + " was not assigned all "
              + partitions.size() + " partitions within " + SECOND_CONSUMER_TIMEOUT.toSeconds()
              + " s (has " + consumer.assignment() + ") [" + counts + "]");
        }
        secondGot += consumer.poll(Duration.ofMillis(200)).count();
      }
      Map<TopicPartition, OffsetAndMetadata> committed =
          consumer.committed(new HashSet<>(partitions), Duration.ofSeconds(30));
      List<String> behind = new ArrayList<>();
      for (TopicPartition tp : partitions) {
        OffsetAndMetadata c = committed.get(tp);
        long e = end.getOrDefault(tp, 0L);
        if (e > 0 && (c == null || c.offset() < e)) {
          behind.add(tp + " committed " + (c == null ? "none" : c.offset()) + " < end " + e);
        }
      }
      // A little longer, so records that would be re-delivered get a chance to.
      long quietUntil = System.nanoTime() + Duration.ofSeconds(2).toNanos();
      while (System.nanoTime() < quietUntil) {
        secondGot += consumer.poll(Duration.ofMillis(200)).count();
      }
      if (!behind.isEmpty() || secondGot > 0) {
        throw new CheckFailed("second consumer of group " + group + " got " + secondGot
            + " records; committed offsets behind the end: " + (behind.isEmpty() ? "none" : behind)
            + " [" + counts + "]");
      }
    }
    return String.format("%s; no loss, no duplicates; second consumer got 0 records "
            + "(produce %.1f s, consume %.1f s, second consumer %.1f s, total %.1f s)",
        counts, produceSeconds, consumeSeconds, secondsSince(secondStart), secondsSince(t0));
  }

  // "v-17" -> 17, or -1 if the value is not one this run could have sent.
  static int indexOf(String value, int records) {
    if (value == null || !value.startsWith("v-")) return -1;
    try {
      int i = Integer.parseInt(value.substring(2));
      return i >= 0 && i < records ? i : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  // True once the consumer owns every partition and has read each one to END.
  static boolean readToEnd(KafkaConsumer<?, ?> consumer, Map<TopicPartition, Long> end) {
    Set<TopicPartition> assigned = consumer.assignment();
    if (!assigned.containsAll(end.keySet())) return false;
    for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
      if (consumer.position(e.getKey(), Duration.ofSeconds(10)) < e.getValue()) return false;
    }
    return true;
  }
}

// Produces numbered records (idempotent producer, acks=all) and consumes them
// with a consumer group, both through the gateway, until a stop file
// appears; then lets the consumer catch up and checks that every record the
// producer had acknowledged was consumed, that none is in the topic twice
// and that no send failed. Meant to run while the gateway's nodes are killed,
// restarted and drained around it.
//
// Usage: ContinuousCheck <bootstrap> <topic> <stop file> [send interval ms]
// Prints a progress line every second ("progress acked=N consumed=M") and a
// summary; exits 0 when the checks hold.
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ContinuousCheck {
  public static void main(String[] args) throws Exception {
    final String bootstrap = args[0];
    final String topic = args[1];
    final Path stop = Paths.get(args[2]);
    final long intervalMs = args.length > 3 ? Long.parseLong(args[3]) : 20;

    Properties adminProps = new Properties();
    adminProps.put("bootstrap.servers", bootstrap);
    try (Admin admin = Admin.create(adminProps)) {
      admin.createTopics(List.of(new NewTopic(topic, 3, (short) 3))).all().get(60, TimeUnit.SECONDS);
    }

    final Set<Long> acked = ConcurrentHashMap.newKeySet();
    final AtomicLong failed = new AtomicLong();
    final Map<Long, String> consumedAt = new ConcurrentHashMap<>();  // id -> partition/offset
    final AtomicLong duplicates = new AtomicLong();
    final AtomicLong redelivered = new AtomicLong();
    final AtomicLong commitFailures = new AtomicLong();
    final AtomicBoolean consuming = new AtomicBoolean(true);

    Thread consumer = new Thread(() -> {
      Properties p = new Properties();
      p.put("bootstrap.servers", bootstrap);
      p.put("group.id", topic + "-group");
      p.put("auto.offset.reset", "earliest");
      p.put("enable.auto.commit", "false");
      p.put("key.deserializer", StringDeserializer.class.getName());
      p.put("value.deserializer", StringDeserializer.class.getName());
      try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
        c.subscribe(List.of(topic));
        while (consuming.get()) {
          ConsumerRecords<String, String> records = c.poll(Duration.ofMillis(200));
          for (ConsumerRecord<String, String> r : records) {
            long id = Long.parseLong(r.value());
            String at = r.partition() + "/" + r.offset();
            String before = consumedAt.putIfAbsent(id, at);
            if (before == null) continue;
            if (before.equals(at)) {
              redelivered.incrementAndGet();  // the same record again after a rebalance
            } else {
              duplicates.incrementAndGet();  // the same id stored twice
              System.out.println("duplicate id " + id + " at " + before + " and " + at);
            }
          }
          if (!records.isEmpty()) {
            try {
              c.commitSync();
            } catch (Exception e) {
              commitFailures.incrementAndGet();
            }
          }
        }
      }
    });
    consumer.start();

    Properties pp = new Properties();
    pp.put("bootstrap.servers", bootstrap);
    pp.put("acks", "all");
    pp.put("enable.idempotence", "true");
    pp.put("delivery.timeout.ms", "120000");
    pp.put("reconnect.backoff.max.ms", "1000");
    pp.put("key.serializer", StringSerializer.class.getName());
    pp.put("value.serializer", StringSerializer.class.getName());
    long sent = 0;
    long lastProgress = System.currentTimeMillis();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
      while (!Files.exists(stop)) {
        final long id = sent++;
        producer.send(new ProducerRecord<>(topic, Long.toString(id), Long.toString(id)),
            (metadata, e) -> {
              if (e == null) {
                acked.add(id);
              } else {
                failed.incrementAndGet();
                System.out.println("send " + id + " failed: " + e);
              }
            });
        Thread.sleep(intervalMs);
        if (System.currentTimeMillis() - lastProgress >= 1000) {
          lastProgress = System.currentTimeMillis();
          System.out.println("progress acked=" + acked.size() + " consumed=" + consumedAt.size()
              + " failed=" + failed.get());
        }
      }
      producer.flush();
    }

    long deadline = System.currentTimeMillis() + 120_000;
    while (System.currentTimeMillis() < deadline && !consumedAt.keySet().containsAll(acked)) {
      Thread.sleep(200);
    }
    consuming.set(false);
    consumer.join(30_000);

    long missing = acked.stream().filter(id -> !consumedAt.containsKey(id)).count();
    System.out.println("summary sent=" + sent + " acked=" + acked.size() + " failed="
        + failed.get() + " consumed=" + consumedAt.size() + " missing=" + missing
        + " duplicates=" + duplicates.get() + " redelivered=" + redelivered.get()
        + " commit_failures=" + commitFailures.get());
    boolean ok = !acked.isEmpty() && missing == 0 && duplicates.get() == 0 && failed.get() == 0;
    System.out.println(ok ? "OK" : "FAILED");
    System.exit(ok ? 0 : 1);
  }
}

// Proves the harness's SCRAM users: with Kafka's own Java client, for each
// SCRAM mechanism, describe the cluster (three brokers in racks a, b, c),
// produce one record and read it back. librdkafka before 2.6.1 cannot do
// SCRAM against Kafka 4.x, so the reference client is used here.
//
// Run: java -cp "$KGW_KAFKA_LIBS/*" SaslScramCheck.java  (needs the KGW_KAFKA_* environment)
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class SaslScramCheck {
  static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) throw new IllegalStateException(name + " is not set");
    return v;
  }

  static Properties base(String mechanism) {
    Properties p = new Properties();
    p.put("bootstrap.servers", env("KGW_KAFKA_SASL_BOOTSTRAP"));
    p.put("security.protocol", "SASL_PLAINTEXT");
    p.put("sasl.mechanism", mechanism);
    p.put("sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
            + env("KGW_KAFKA_SASL_USER") + "\" password=\"" + env("KGW_KAFKA_SASL_PASSWORD")
            + "\";");
    return p;
  }

  public static void main(String[] args) throws Exception {
    for (String mechanism : List.of("SCRAM-SHA-512", "SCRAM-SHA-256")) {
      try (Admin admin = Admin.create(base(mechanism))) {
        Map<Integer, String> racks = new TreeMap<>();
        for (Node n : admin.describeCluster().nodes().get()) racks.put(n.id(), n.rack());
        if (!racks.equals(Map.of(1, "a", 2, "b", 3, "c"))) {
          throw new AssertionError(mechanism + ": unexpected brokers/racks " + racks);
        }
      }
      String topic = "kgw-harness-scram-" + UUID.randomUUID();
      String value = "scram-" + mechanism;
      Properties pp = base(mechanism);
      pp.put("acks", "all");
      try (KafkaProducer<String, String> producer =
          new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
        producer.send(new ProducerRecord<>(topic, 0, null, value)).get();
      }
      try (KafkaConsumer<String, String> consumer =
          new KafkaConsumer<>(base(mechanism), new StringDeserializer(), new StringDeserializer())) {
        TopicPartition tp = new TopicPartition(topic, 0);
        consumer.assign(List.of(tp));
        consumer.seekToBeginning(List.of(tp));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        String got = null;
        while (got == null && System.nanoTime() < deadline) {
          ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(500));
          if (!records.isEmpty()) got = records.iterator().next().value();
        }
        if (!value.equals(got)) throw new AssertionError(mechanism + ": read back " + got);
      }
      System.out.println(mechanism + ": describeCluster, produce and consume OK");
    }
  }
}

// Proves a share group (KIP-932) consumes through a path to Kafka (the brokers
// themselves, or a proxy in front of them):
//
//   1. creates TOPIC (3 partitions) and sets the share group share-TOPIC to
//      start at the earliest offset (a share group starts at the latest);
//   2. a producer writes COUNT records of 1,000 bytes;
//   3. a KafkaShareConsumer asking for up to 32 MiB a fetch subscribes and
//      polls (and acknowledges) until it has COUNT records or 60 s have
//      passed.
//
// Prints "share consumer got N of COUNT" and "PASS" or "FAIL". A record
// redelivered after a lost acknowledgement would count twice, so N >= COUNT
// passes; the consumer acknowledges every batch, so N is COUNT in practice.
// Exits 0 or 1.
//
// Run: java -cp "$KGW_KAFKA_LIBS/*" ShareConsumeCheck.java BOOTSTRAP TOPIC COUNT
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class ShareConsumeCheck {
  public static void main(String[] args) throws Exception {
    final String bootstrap = args[0];
    final String topic = args[1];
    final int count = Integer.parseInt(args[2]);
    final String group = "share-" + topic;
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
      admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
      ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, group);
      AlterConfigOp earliest = new AlterConfigOp(
          new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
      admin.incrementalAlterConfigs(Map.of(resource, List.of(earliest))).all().get();
    }
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    p.put("linger.ms", "20");
    p.put("batch.size", "262144");
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      final byte[] value = new byte[1000];
      for (int i = 0; i < count; i++) producer.send(new ProducerRecord<>(topic, value));
    }
    Properties c = new Properties();
    c.put("bootstrap.servers", bootstrap);
    c.put("group.id", group);
    c.put("key.deserializer", ByteArrayDeserializer.class.getName());
    c.put("value.deserializer", ByteArrayDeserializer.class.getName());
    c.put("fetch.max.bytes", String.valueOf(32 << 20));
    c.put("max.partition.fetch.bytes", String.valueOf(32 << 20));
    c.put("max.poll.records", "100000");
    int got = 0;
    try (KafkaShareConsumer<byte[], byte[]> consumer = new KafkaShareConsumer<>(c)) {
      consumer.subscribe(List.of(topic));
      final long deadline = System.currentTimeMillis() + 60000;
      while (got < count && System.currentTimeMillis() < deadline) {
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(500));
        got += records.count();
        if (records.count() > 0) consumer.commitSync();
      }
    }
    System.out.println("share consumer got " + got + " of " + count);
    System.out.println(got >= count ? "PASS" : "FAIL");
    System.exit(got >= count ? 0 : 1);
  }
}

package dojo.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Kafka Streams baseline: 1-minute tumbling page-view counts per URL and unique visitors per
 * minute (one windowed count per visitor; its keys are the minute's unique visitors), read
 * from the raw beacon topic with one stream thread. Prints one JSON line when the input is
 * drained through both aggregations.
 *
 * <p>Arguments: bootstrap, input topic, application id, state dir, expected raw messages,
 * idle timeout seconds.
 */
public final class StreamsBaseline {
  static final AtomicLong MESSAGES = new AtomicLong();
  static final AtomicLong EVENTS = new AtomicLong();
  static final AtomicLong PAGE_VIEWS = new AtomicLong();
  static final AtomicLong BY_URL = new AtomicLong();
  static final AtomicLong BY_VISITOR = new AtomicLong();
  static final AtomicLong FIRST_NS = new AtomicLong();

  /** Parses one beacon request and forwards each page view as (url, visitor) at its event time. */
  static final class PageViews implements Processor<byte[], byte[], String, String> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private ProcessorContext<String, String> context;

    @Override
    public void init(ProcessorContext<String, String> context) {
      this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
      FIRST_NS.compareAndSet(0, System.nanoTime());
      try {
        JsonNode raw = JSON.readTree(record.value());
        JsonNode events = raw.path("events");
        EVENTS.addAndGet(events.size());
        if (!raw.path("bot").asBoolean(false)) {
          String visitor = raw.path("visitor_id").asText("");
          for (JsonNode event : events) {
            if (!"page_view".equals(event.path("type").asText())) {
              continue;
            }
            long ts = event.path("ts").asLong(record.timestamp());
            PAGE_VIEWS.incrementAndGet();
            context.forward(new Record<>(event.path("url").asText(""), visitor, ts));
          }
        }
      } catch (java.io.IOException e) {
        // A malformed request is skipped, as our validate agent dead-letters it.
      }
      MESSAGES.incrementAndGet();
    }
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String appId = args[2];
    String stateDir = args[3];
    long expected = Long.parseLong(args[4]);
    long idleSeconds = Long.parseLong(args[5]);

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    TimeWindows minute = TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofHours(48));
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, String> views =
        builder.stream(topic, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
            .process(PageViews::new);
    Repartitioned<String, String> strings = Repartitioned.with(Serdes.String(), Serdes.String());
    views.repartition(strings.withName("by-url"))
        .peek((k, v) -> BY_URL.incrementAndGet())
        .groupByKey()
        .windowedBy(minute)
        .count(Materialized.as("page-views"));
    views.selectKey((url, visitor) -> visitor)
        .repartition(strings.withName("by-visitor"))
        .peek((k, v) -> BY_VISITOR.incrementAndGet())
        .groupByKey()
        .windowedBy(minute)
        .count(Materialized.as("visitors"));

    props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    KafkaStreams streams = new KafkaStreams(builder.build(), props);
    streams.start();
    long lastProgress = System.nanoTime();
    long lastSeen = -1;
    String outcome = "drained";
    while (true) {
      long forwarded = PAGE_VIEWS.get();
      boolean drained =
          MESSAGES.get() >= expected && BY_URL.get() >= forwarded && BY_VISITOR.get() >= forwarded;
      if (drained) {
        break;
      }
      long seen = MESSAGES.get() + BY_URL.get() + BY_VISITOR.get();
      if (seen != lastSeen) {
        lastSeen = seen;
        lastProgress = System.nanoTime();
      } else if (System.nanoTime() - lastProgress > idleSeconds * 1_000_000_000L) {
        outcome = "idle";
        break;
      }
      Thread.sleep(2); // polling interval of the drain check, bounded by the idle timeout
    }
    double seconds = (System.nanoTime() - FIRST_NS.get()) / 1e9;
    System.out.printf(
        "{\"outcome\":\"%s\",\"messages\":%d,\"events\":%d,\"page_views\":%d,"
            + "\"seconds\":%.4f,\"events_per_s\":%.1f}%n",
        outcome, MESSAGES.get(), EVENTS.get(), PAGE_VIEWS.get(), seconds,
        EVENTS.get() / Math.max(seconds, 1e-9));
    System.out.flush();
    streams.close(Duration.ofSeconds(20));
    streams.cleanUp();
  }
}

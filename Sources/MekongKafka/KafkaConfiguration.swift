/// Client properties, named as librdkafka names them (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md).
///
/// Mekong's defaults are applied first; any property set here overrides them.
public struct KafkaConfiguration: Sendable, Equatable {
    /// The properties as given, e.g. `["bootstrap.servers": "localhost:9092", "linger.ms": "10"]`.
    public var properties: [String: String]

    public init(bootstrapServers: String, properties: [String: String] = [:]) {
        self.properties = properties
        self.properties["bootstrap.servers"] = bootstrapServers
    }

    public subscript(name: String) -> String? {
        get { properties[name] }
        set { properties[name] = newValue }
    }

    /// Safe producer defaults: nothing is acknowledged before every in-sync replica has it, and retries cannot
    /// duplicate or reorder (idempotence). lz4 and a short linger give batches without adding visible latency.
    public static let producerDefaults: [String: String] = [
        "acks": "all",
        "enable.idempotence": "true",
        "compression.type": "lz4",
        "linger.ms": "5",
        "batch.num.messages": "10000",
        "message.timeout.ms": "120000",
        "queue.buffering.max.messages": "200000",
        "queue.buffering.max.kbytes": "262144",
        // An event may be 1 MiB of canonical JSON (CloudEvent.Limits.eventBytes) plus its key and headers; librdkafka's
        // own default (1 000 000) would refuse the largest valid events after every check had passed. The event
        // topics allow the same (`max.message.bytes` in Topics/*/topic.json).
        "message.max.bytes": "1100000",
        // Every producer of a topic must put a key on the same partition, or per-subject order is lost. murmur2 is
        // the Java client's default (and Kafka Streams', Kafka Connect's); librdkafka's own default hashes with CRC32
        // and disagrees with it (docs/events.md, "Records"). Not overridable (``Producer/init(configuration:maxInFlight:)``).
        "partitioner": KafkaConfiguration.partitioner,
    ]

    /// The partitioner of every Mekong producer: librdkafka's `murmur2_random`, Java's `murmur2` for keyed records.
    public static let partitioner = "murmur2_random"

    /// Consumer defaults for projectors: positions live in the application's own store, so Kafka's committed
    /// offsets are never written and a new group starts at the beginning of each partition.
    public static let consumerDefaults: [String: String] = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "range,roundrobin",
        "session.timeout.ms": "10000",
        "heartbeat.interval.ms": "1000",
    ]

    /// Properties whose values are secrets: never printed or logged.
    static let secretNames: Set<String> = [
        "sasl.password", "ssl.key.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret",
        "ssl.key.pem", "ssl_key",
    ]

    /// The properties with secret values replaced by `***`, for logs and error messages.
    public var redacted: [String: String] {
        properties.reduce(into: [:]) { result, entry in
            result[entry.key] = Self.secretNames.contains(entry.key) ? "***" : entry.value
        }
    }
}

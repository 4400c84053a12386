/// A record header.
public struct KafkaHeader: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }

    /// The value as UTF-8 text, if it is valid UTF-8.
    public var stringValue: String? { String(validating: value, as: UTF8.self) }
}

/// A record to produce.
public struct OutgoingMessage: Sendable, Equatable {
    public var topic: String
    /// Chosen explicitly, or `nil` to let the partitioner hash the key (records with one key stay in order).
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]
    /// The record's create time in milliseconds since 1970; nil: when the producer takes it (a restore sets the
    /// original).
    public var timestampMilliseconds: Int64?

    public init(
        topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = [],
        timestampMilliseconds: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }
}

/// Where the cluster wrote a record: its delivery report.
public struct DeliveryReport: Sendable, Hashable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32
    public let offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(topic)[\(partition)]@\(offset)" }
}

/// A record read from a partition.
public struct ConsumedMessage: Sendable, Equatable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let key: [UInt8]?
    public let value: [UInt8]
    public let headers: [KafkaHeader]
    /// The record's timestamp in milliseconds since the epoch, if it has one.
    public let timestampMilliseconds: Int64?

    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader],
        timestampMilliseconds: Int64?
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }

    /// The first header with this name, as text.
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.stringValue
    }
}

/// One partition of one topic.
public struct TopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }

    public static func < (a: TopicPartition, b: TopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
}

/// Offsets with special meaning to librdkafka.
public enum KafkaOffset {
    /// The oldest record still in the partition.
    public static let beginning: Int64 = -2
    /// The next record to be written.
    public static let end: Int64 = -1
    /// Kafka's committed offset for the group (falls back to `auto.offset.reset`).
    public static let committed: Int64 = -1000
}

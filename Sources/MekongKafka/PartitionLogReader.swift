/// Reads the log partition by partition (`mekong audit verify --log`, `mekong archive export`): one consumer without
/// a group, assigned one partition at a time, read in offset order up to the high watermark taken when the partition
/// is opened. Holds at most one poll's worth of records.
public final class PartitionLogReader {
    private let consumer: Consumer
    private let idleTimeout: Duration

    /// `idleTimeout`: how long a read may wait for a record the watermarks promise before it fails.
    public init(configuration: KafkaConfiguration, idleTimeout: Duration) throws {
        var configuration = configuration
        // A fetch waiting for data holds up the next request on the connection (the next partition's watermarks
        // and first fetch): keep the wait short, since the reader moves from partition to partition.
        configuration["fetch.wait.max.ms"] = configuration["fetch.wait.max.ms"] ?? "10"
        consumer = try Consumer(configuration: configuration)
        self.idleTimeout = idleTimeout
    }

    public func clusterID() throws -> String { try consumer.clusterID() }

    /// The partition's records from `start` (default: its low watermark) up to its high watermark as of now; nil
    /// when the cluster does not have the partition.
    public func open(_ partition: TopicPartition, from start: Int64? = nil) throws -> PartitionLog? {
        guard let marks = try watermarks(of: partition) else { return nil }
        return PartitionLog(partition: partition, low: marks.low, high: marks.high, start: max(start ?? marks.low, marks.low), reader: self)
    }

    private func watermarks(of partition: TopicPartition) throws(KafkaError) -> (low: Int64, high: Int64)? {
        do {
            return try consumer.watermarks(of: partition)
        } catch {
            if error.code == .unknownTopicOrPartition || error.code == .unknownTopic { return nil }
            throw error
        }
    }

    /// The next records of `partition` at or after `position`, waiting for them up to the idle timeout.
    fileprivate func fetch(_ partition: TopicPartition, from position: Int64, below end: Int64, assign: Bool) throws
        -> [ConsumedMessage]
    {
        if assign { try consumer.assign([partition: position]) }
        let clock = ContinuousClock()
        let deadline = clock.now + idleTimeout
        // A batch poll waits until it is full or its time is up: ask for no more than the partition still holds.
        let wanted = Int(min(max(end - position, 1), 500))
        while true {
            let records = try consumer.poll(maxMessages: wanted, timeout: .milliseconds(100))
                .filter { $0.topicPartition == partition && $0.offset >= position }
            if !records.isEmpty { return records }
            guard clock.now < deadline else {
                throw PartitionLogError(
                    partition: partition,
                    problem: "no record arrived for \(idleTimeout) while reading from offset \(position); the log could not be read to its end")
            }
        }
    }

    public func close() { consumer.close() }
}

/// One partition of the log, read forward once.
public final class PartitionLog {
    public let partition: TopicPartition
    /// The oldest offset the log still holds.
    public let low: Int64
    /// The offset after the last record, taken when the partition was opened.
    public let high: Int64
    private let reader: PartitionLogReader
    private var buffer: [ConsumedMessage] = []
    private var index = 0
    private var position: Int64
    private var assigned = false

    fileprivate init(partition: TopicPartition, low: Int64, high: Int64, start: Int64, reader: PartitionLogReader) {
        self.partition = partition
        self.low = low
        self.high = high
        self.reader = reader
        self.position = start
    }

    /// The next unread record below `high`, or nil when there is none.
    public func peek() throws -> ConsumedMessage? {
        while index == buffer.count {
            guard position < high else { return nil }
            buffer = try reader.fetch(partition, from: position, below: high, assign: !assigned).filter { $0.offset < high }
            assigned = true
            index = 0
            if let last = buffer.last { position = last.offset + 1 } else { position = high }
        }
        return buffer[index]
    }

    /// Reads past every record below `offset`, handing each to `body`.
    public func consume(below offset: Int64, _ body: (ConsumedMessage) throws -> Void) throws {
        while let next = try peek(), next.offset < offset {
            try body(next)
            index += 1
        }
    }

    /// The record at `offset`, if the log holds one (records below it must have been consumed).
    public func take(at offset: Int64) throws -> ConsumedMessage? {
        try consume(below: offset) { _ in }
        guard let next = try peek(), next.offset == offset else { return nil }
        index += 1
        return next
    }
}

/// The log could not be read to the high watermark it promised.
public struct PartitionLogError: Error, CustomStringConvertible {
    public let partition: TopicPartition
    public let problem: String
    public var description: String { "reading \(partition) from Kafka: \(problem)" }
}

import MekongKafka

/// Reads the log partition by partition for `mekong audit verify --log`: one consumer without a group, assigned one
/// partition at a time, read in offset order from the beginning up to the high watermark taken when the partition is
/// opened. Holds at most one poll's worth of records.
final class AuditLogReader {
    private let consumer: Consumer
    private let idleTimeout: Duration

    init(configuration: KafkaConfiguration, idleTimeout: Duration) throws {
        var configuration = configuration
        // A fetch waiting for data holds up the next request on the connection (the next partition's watermarks
        // and first fetch): keep the wait short, since the reader moves from partition to partition.
        configuration["fetch.wait.max.ms"] = configuration["fetch.wait.max.ms"] ?? "10"
        consumer = try Consumer(configuration: configuration)
        self.idleTimeout = idleTimeout
    }

    func clusterID() throws -> String { try consumer.clusterID() }

    /// The partition's records from its low watermark up to its high watermark as of now; nil when the cluster
    /// does not have the partition.
    func open(_ partition: TopicPartition) throws -> AuditPartitionLog? {
        guard let marks = try watermarks(of: partition) else { return nil }
        return AuditPartitionLog(partition: partition, low: marks.low, high: marks.high, reader: self)
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
                throw AuditLogError(
                    partition: partition,
                    problem: "no record arrived for \(idleTimeout) while reading from offset \(position); the log could not be read to its end")
            }
        }
    }

    func close() { consumer.close() }
}

/// One partition of the log, read forward once.
final class AuditPartitionLog {
    let partition: TopicPartition
    /// The oldest offset the log still holds.
    let low: Int64
    /// The offset after the last record, taken when the partition was opened.
    let high: Int64
    private let reader: AuditLogReader
    private var buffer: [ConsumedMessage] = []
    private var index = 0
    private var position: Int64
    private var assigned = false

    fileprivate init(partition: TopicPartition, low: Int64, high: Int64, reader: AuditLogReader) {
        self.partition = partition
        self.low = low
        self.high = high
        self.reader = reader
        self.position = low
    }

    /// The next unread record below `high`, or nil when there is none.
    func peek() throws -> ConsumedMessage? {
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
    func consume(below offset: Int64, _ body: (ConsumedMessage) -> Void) throws {
        while let next = try peek(), next.offset < offset {
            body(next)
            index += 1
        }
    }

    /// The record at `offset`, if the log holds one (records below it must have been consumed).
    func take(at offset: Int64) throws -> ConsumedMessage? {
        try consume(below: offset) { _ in }
        guard let next = try peek(), next.offset == offset else { return nil }
        index += 1
        return next
    }
}

/// The log could not be read as verification needs.
public struct AuditLogError: Error, CustomStringConvertible {
    public let partition: TopicPartition
    public let problem: String
    public var description: String { "reading \(partition) from Kafka: \(problem)" }
}

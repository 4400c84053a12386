import CRdKafka

/// Where Mekong's producers put a keyed record: librdkafka's `murmur2_random` (``KafkaConfiguration/partitioner``),
/// which is Java's murmur2, `(murmur2(key) & 0x7fffffff) % partitions`.
public enum KafkaPartitioner {
    /// The partition of `count` that a record keyed `key` goes to.
    public static func partition(forKey key: [UInt8], count: Int) -> Int32 {
        key.withUnsafeBytes { bytes in
            // With a key, librdkafka's partitioner reads neither the topic handle nor the opaques.
            rd_kafka_msg_partitioner_murmur2_random(nil, bytes.baseAddress, bytes.count, Int32(count), nil, nil)
        }
    }
}

/// Finds one record again in the log: the record a write whose answer was lost put there, if it did. The gateway asks
/// before it writes again a unit whose earlier attempt died, so that the log holds each event id once.
public enum LogSearch {
    /// The record of `topic` keyed `key` whose `ce_id` header is `eventId`, written at or after `since` (ms since
    /// 1970): it is on the key's partition (``KafkaPartitioner``), at or after the first record stamped `since` or
    /// later. Reads to the partition's end as it was when the search began; nil if the record is not there. Runs on a
    /// thread of its own.
    public static func find(
        eventId: String, key: String, topic: String, since: Int64, configuration: KafkaConfiguration,
        timeout: Duration = .seconds(30)
    ) async throws(KafkaError) -> ConsumedMessage? {
        try await OwnThread.run { () throws(KafkaError) -> ConsumedMessage? in
            let consumer = try Consumer(configuration: configuration)
            defer { consumer.close() }
            let keyBytes = Array(key.utf8)
            let partition = TopicPartition(
                topic: topic,
                partition: KafkaPartitioner.partition(forKey: keyBytes, count: try consumer.partitionCount(of: topic)))
            let (low, high) = try consumer.watermarks(of: partition)
            let deadline = ContinuousClock.now + timeout
            let start = try firstOffset(of: partition, stampedAtOrAfter: since, in: low..<high, consumer, deadline: deadline)
            guard start < high else { return nil }
            try consumer.assign([partition: start])
            let id = Array(eventId.utf8)
            var next = start
            while next < high {
                guard ContinuousClock.now < deadline else {
                    throw KafkaError(kind: .consume, code: .timedOut,
                                     message: "reading \(partition) from \(start) to \(high) took over \(timeout)",
                                     topic: topic, partition: partition.partition)
                }
                for message in try consumer.poll(maxMessages: 500, timeout: .milliseconds(200)) {
                    next = max(next, message.offset + 1)
                    if message.offset < high, message.key == keyBytes,
                        message.headers.contains(where: { $0.name == "ce_id" && $0.value == id })
                    {
                        return message
                    }
                }
            }
            return nil
        }
    }

    /// The first offset in `range` whose record is stamped at or after `milliseconds`, by binary search over the
    /// records' timestamps (`range.upperBound` when none is). Kafka's own lookup by time (ListOffsets) would do, but
    /// librdkafka's mock cluster does not implement it; this asks the log itself, the same way on both. A record
    /// without a timestamp counts as late enough, so that the search never skips it.
    static func firstOffset(
        of partition: TopicPartition, stampedAtOrAfter milliseconds: Int64, in range: Range<Int64>, _ consumer: Consumer,
        deadline: ContinuousClock.Instant
    ) throws(KafkaError) -> Int64 {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper {
            let middle = lower + (upper - lower) / 2
            try consumer.assign([partition: middle])
            var probe: ConsumedMessage?
            while probe == nil {
                guard ContinuousClock.now < deadline else {
                    throw KafkaError(kind: .consume, code: .timedOut, message: "no record of \(partition) at \(middle) in time",
                                     topic: partition.topic, partition: partition.partition)
                }
                probe = try consumer.poll(maxMessages: 1, timeout: .milliseconds(200)).first
            }
            // A compacted or aborted offset reads as the next record; past `upper` counts as late.
            if probe!.offset < upper, (probe!.timestampMilliseconds ?? .max) < milliseconds {
                lower = probe!.offset + 1
            } else {
                upper = middle
            }
        }
        return lower
    }
}

import CRdKafka

/// What the application does when the group coordinator moves partitions. Both closures run on the thread that
/// calls `Consumer.poll`, inside that call.
public struct RebalanceHandler {
    /// Partitions were assigned to this member. Return where to start in each, typically loaded from the
    /// application's own store; a partition left out starts at Kafka's committed offset or `auto.offset.reset`.
    /// Throwing leaves the partitions unassigned and makes the current `poll` throw.
    public var onAssign: ([TopicPartition]) throws -> [TopicPartition: Int64]
    /// Partitions are being taken away: finish or abandon work on them before returning.
    public var onRevoke: ([TopicPartition]) -> Void

    public init(
        onAssign: @escaping ([TopicPartition]) throws -> [TopicPartition: Int64] = { _ in [:] },
        onRevoke: @escaping ([TopicPartition]) -> Void = { _ in }
    ) {
        self.onAssign = onAssign
        self.onRevoke = onRevoke
    }
}

/// A Kafka consumer: group membership with a rebalance hook, or manual assignment; batch polling, seek,
/// pause/resume. Use it from one thread or task at a time.
public final class Consumer {
    let handle: ClientHandle
    private let queue: OpaquePointer
    private let context: ConsumerContext
    private var isClosed = false

    /// - Parameters:
    ///   - configuration: librdkafka properties; `KafkaConfiguration.consumerDefaults` apply where not set.
    ///   - groupID: the consumer group (`group.id`); required for `subscribe`. Without one, the consumer reads
    ///     only what `assign` gives it, under a private group name that never joins or commits.
    public init(configuration: KafkaConfiguration, groupID: String? = nil) throws(KafkaError) {
        var configuration = configuration
        configuration["group.id"] = groupID ?? configuration["group.id"] ?? "mekong-reader-\(UInt64.random(in: 0...UInt64.max))"

        let context = ConsumerContext()
        let opaque = Unmanaged.passUnretained(context).toOpaque()
        handle = try ClientHandle(
            type: RD_KAFKA_CONSUMER, configuration: configuration, defaults: KafkaConfiguration.consumerDefaults
        ) { conf in
            rd_kafka_conf_set_opaque(conf, opaque)
            if groupID != nil {
                rd_kafka_conf_set_rebalance_cb(conf, consumerRebalanceCallback)
            }
        }
        self.context = context
        rd_kafka_poll_set_consumer(handle.pointer)
        queue = rd_kafka_queue_get_consumer(handle.pointer)
    }

    deinit {
        close()
        rd_kafka_queue_destroy(queue)
    }

    /// Joins the group and subscribes to `topics`; assignments arrive through `rebalance` during `poll`.
    public func subscribe(to topics: [String], rebalance: RebalanceHandler = RebalanceHandler()) throws(KafkaError) {
        context.handler = rebalance
        let list = TopicPartitionList(topics.map { TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
        let err = rd_kafka_subscribe(handle.pointer, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .consume, code: KafkaErrorCode(err), message: "subscribe to \(topics) failed")
        }
    }

    /// Reads exactly these partitions from these offsets, without group membership.
    public func assign(_ positions: [TopicPartition: Int64]) throws(KafkaError) {
        let list = TopicPartitionList(positions.keys.sorted())
        for (tp, offset) in positions { list.setOffset(offset, for: tp) }
        let err = rd_kafka_assign(handle.pointer, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .consume, code: KafkaErrorCode(err), message: "assign failed")
        }
    }

    /// The partitions currently assigned to this consumer.
    public func assignment() throws(KafkaError) -> [TopicPartition] {
        var raw: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>? = nil
        let err = rd_kafka_assignment(handle.pointer, &raw)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let raw else {
            throw KafkaError(kind: .consume, code: KafkaErrorCode(err), message: "reading the assignment failed")
        }
        return TopicPartitionList(owning: raw).entries.map(\.0).sorted()
    }

    /// Waits up to `timeout` for records and returns at most `maxMessages` of them (fewer if the wait ran out).
    /// Rebalance callbacks run inside this call.
    public func poll(maxMessages: Int, timeout: Duration) throws(KafkaError) -> [ConsumedMessage] {
        precondition(maxMessages > 0)
        var buffer = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: maxMessages)
        let count = rd_kafka_consume_batch_queue(queue, Int32(timeout.kafkaMilliseconds), &buffer, maxMessages)
        var messages: [ConsumedMessage] = []
        messages.reserveCapacity(max(count, 0))
        var failure: KafkaError? = nil
        for i in 0..<max(count, 0) {
            guard let raw = buffer[i] else { continue }
            defer { rd_kafka_message_destroy(raw) }
            let m = raw.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                let code = KafkaErrorCode(m.err)
                if code == .partitionEOF { continue }
                let error = KafkaError(
                    kind: .consume, code: code, message: Self.errorText(m),
                    isFatal: m.err == RD_KAFKA_RESP_ERR__FATAL,
                    topic: m.rkt.map { String(cString: rd_kafka_topic_name($0)) }, partition: m.partition)
                if error.isFatal || code == .unknownTopicOrPartition || code == .unknownTopic {
                    failure = failure ?? error
                } else {
                    librdkafkaLogger.warning("\(error)")
                }
                continue
            }
            messages.append(ConsumedMessage(raw))
        }
        if let error = context.takeError() { throw error }
        if count < 0 {
            let code = KafkaErrorCode(rd_kafka_last_error())
            throw KafkaError(kind: .consume, code: code, message: "consume failed: \(code.text)")
        }
        if let failure { throw failure }
        return messages
    }

    /// Moves the next read position of an assigned partition.
    public func seek(_ partition: TopicPartition, to offset: Int64, timeout: Duration = .seconds(10))
        throws(KafkaError)
    {
        let list = TopicPartitionList([partition])
        list.setOffset(offset, for: partition)
        if let error = rd_kafka_seek_partitions(handle.pointer, list.pointer, timeout.kafkaMilliseconds) {
            throw KafkaError.consuming(error, kind: .seek, topic: partition.topic)
        }
        if let (_, err) = list.entries.first, err != .noError {
            throw KafkaError(kind: .seek, code: err, message: "seek \(partition) to \(offset) failed",
                             topic: partition.topic, partition: partition.partition)
        }
    }

    /// Stops fetching from these partitions until `resume`; their positions are kept.
    public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = TopicPartitionList(partitions)
        let err = rd_kafka_pause_partitions(handle.pointer, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .consume, code: KafkaErrorCode(err), message: "pause \(partitions) failed")
        }
    }

    /// Fetches again from paused partitions.
    public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = TopicPartitionList(partitions)
        let err = rd_kafka_resume_partitions(handle.pointer, list.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .consume, code: KafkaErrorCode(err), message: "resume \(partitions) failed")
        }
    }

    /// The oldest and next-to-be-written offsets of a partition, asked of its leader.
    public func watermarks(of partition: TopicPartition, timeout: Duration = .seconds(10)) throws(KafkaError)
        -> (low: Int64, high: Int64)
    {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(
            handle.pointer, partition.topic, partition.partition, &low, &high, timeout.kafkaMilliseconds)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .metadata, code: KafkaErrorCode(err),
                             message: "watermarks of \(partition): \(KafkaErrorCode(err).text)",
                             topic: partition.topic, partition: partition.partition)
        }
        return (low, high)
    }

    /// The watermarks of an assigned partition as its last fetch response reported them, without asking the broker;
    /// nil before the first fetch response.
    public func lastKnownWatermarks(of partition: TopicPartition) -> (low: Int64, high: Int64)? {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_get_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low, high)
    }

    /// The partition count of each topic, from cluster metadata.
    public func partitionCount(of topic: String, timeout: Duration = .seconds(10)) throws(KafkaError) -> Int {
        let topics = try Metadata.topics(handle: handle, only: [topic], timeout: timeout)
        guard let description = topics.first, description.error == nil else {
            throw KafkaError(kind: .metadata, code: topics.first?.error ?? .unknownTopic,
                             message: "topic '\(topic)' is not known to the cluster", topic: topic)
        }
        return description.partitions.count
    }

    /// The cluster's identity (Kafka's cluster id), which tells one cluster's offsets from another's.
    public func clusterID(timeout: Duration = .seconds(10)) throws(KafkaError) -> String {
        guard let raw = rd_kafka_clusterid(handle.pointer, timeout.kafkaMilliseconds) else {
            throw KafkaError(kind: .metadata, code: .timedOut, message: "the cluster did not say its id within \(timeout)")
        }
        defer { rd_kafka_mem_free(handle.pointer, raw) }
        return String(cString: raw)
    }

    /// Leaves the group (revoking partitions through the rebalance hook) and stops. Idempotent.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        _ = rd_kafka_consumer_close(handle.pointer)
    }
}

/// State the C rebalance callback reaches through the client's opaque pointer.
final class ConsumerContext {
    var handler = RebalanceHandler()
    private var pendingError: KafkaError?

    func takeError() -> KafkaError? {
        defer { pendingError = nil }
        return pendingError
    }

    func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t,
                   _ raw: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>)
    {
        let list = TopicPartitionList(borrowing: raw)
        let partitions = list.entries.map(\.0)
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            do {
                let positions = try handler.onAssign(partitions)
                for (tp, offset) in positions { list.setOffset(offset, for: tp) }
                rd_kafka_assign(rk, raw)
            } catch {
                rd_kafka_assign(rk, nil)
                pendingError = KafkaError(
                    kind: .rebalance, code: .invalidArgument,
                    message: "loading positions for \(partitions) failed: \(error)", isRetriable: true)
            }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            handler.onRevoke(partitions)
            rd_kafka_assign(rk, nil)
        default:
            rd_kafka_assign(rk, nil)
            pendingError = KafkaError(kind: .rebalance, code: KafkaErrorCode(err), message: "rebalance failed")
        }
    }
}

private let consumerRebalanceCallback:
    @convention(c) (
        OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        UnsafeMutableRawPointer?
    ) -> Void = { rk, err, list, opaque in
        guard let rk, let list, let opaque else { return }
        Unmanaged<ConsumerContext>.fromOpaque(opaque).takeUnretainedValue().rebalance(rk, err, list)
    }

extension ConsumedMessage {
    init(_ raw: UnsafeMutablePointer<rd_kafka_message_t>) {
        let m = raw.pointee
        let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
        var headers: [KafkaHeader] = []
        var hdrs: OpaquePointer? = nil
        if rd_kafka_message_headers(raw, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs {
            var index = 0
            var name: UnsafePointer<CChar>? = nil
            var headerValue: UnsafeRawPointer? = nil
            var size = 0
            while rd_kafka_header_get_all(hdrs, index, &name, &headerValue, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let bytes = headerValue.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(raw, &type)
        self.init(
            topic: m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "", partition: m.partition,
            offset: m.offset, key: key, value: value, headers: headers,
            timestampMilliseconds: type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp)
    }
}

extension Consumer {
    /// A consumer error message's text: librdkafka puts it in the payload, `len` bytes with no promise of a
    /// terminating NUL (so not `rd_kafka_message_errstr`, which returns the payload as a C string).
    static func errorText(_ message: rd_kafka_message_t) -> String {
        guard let payload = message.payload, message.len > 0 else { return String(cString: rd_kafka_err2str(message.err)) }
        return String(decoding: UnsafeRawBufferPointer(start: payload, count: message.len), as: UTF8.self)
    }
}

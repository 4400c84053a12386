import CRdKafka

/// A topic as the cluster describes it.
public struct TopicDescription: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public let id: Int32
        public let leader: Int32
        public let replicas: [Int32]
        public let inSyncReplicas: [Int32]
    }

    public let name: String
    public let partitions: [Partition]
    /// Set when the cluster reported an error for this topic (e.g. unknown topic).
    public let error: KafkaErrorCode?

    /// The replication factor of the first partition (all partitions share it when created by `createTopics`).
    public var replicationFactor: Int { partitions.first?.replicas.count ?? 0 }
}

/// A topic to create.
public struct NewTopic: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Topic-level configuration, e.g. `retention.ms`, `cleanup.policy`, `min.insync.replicas`.
    public var config: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int, config: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.config = config
    }
}

/// Cluster administration: describe and create topics (Kafka's Admin API and metadata).
public final class KafkaAdmin: Sendable {
    private let handle: ClientHandle

    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        handle = try ClientHandle(type: RD_KAFKA_PRODUCER, configuration: configuration, defaults: [:])
    }

    /// Describes the named topics, or every topic when `names` is nil.
    public func describeTopics(_ names: [String]? = nil, timeout: Duration = .seconds(10)) throws(KafkaError)
        -> [TopicDescription]
    {
        try Metadata.topics(handle: handle, only: names, timeout: timeout)
    }

    /// The brokers of the cluster as `id → host:port`.
    public func brokers(timeout: Duration = .seconds(10)) throws(KafkaError) -> [Int32: String] {
        try Metadata.brokers(handle: handle, timeout: timeout)
    }

    /// The brokers of the cluster as `id → host:port`, asked on a thread of its own: the metadata request waits up
    /// to `timeout` (an unreachable cluster) without holding a thread of the concurrency pool.
    public func brokers(timeout: Duration = .seconds(10)) async throws(KafkaError) -> [Int32: String] {
        try await OwnThread.run { [handle] () throws(KafkaError) in try Metadata.brokers(handle: handle, timeout: timeout) }
    }

    /// Creates topics; the result says, per topic, whether it was created or why not.
    public func createTopics(_ topics: [NewTopic], timeout: Duration = .seconds(30)) throws(KafkaError)
        -> [String: Result<Void, KafkaError>]
    {
        guard !topics.isEmpty else { return [:] }
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
        for topic in topics {
            guard let nt = rd_kafka_NewTopic_new(
                topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errstr, errstr.count)
            else {
                throw KafkaError(kind: .admin, code: .invalidArgument, message: String(errorBuffer: errstr),
                                 topic: topic.name)
            }
            newTopics.append(nt)
            for (name, value) in topic.config.sorted(by: { $0.key < $1.key }) {
                let err = rd_kafka_NewTopic_set_config(nt, name, value)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    throw KafkaError(kind: .admin, code: KafkaErrorCode(err),
                                     message: "config '\(name)' = '\(value)' refused", topic: topic.name)
                }
            }
        }
        let queue = rd_kafka_queue_new(handle.pointer)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle.pointer, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout.kafkaMilliseconds, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.kafkaMilliseconds, &errstr, errstr.count)
        newTopics.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreateTopics(handle.pointer, buffer.baseAddress, buffer.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeout.kafkaMilliseconds + 5000) else {
            throw KafkaError(kind: .admin, code: .timedOut, message: "no answer to CreateTopics within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .admin, code: KafkaErrorCode(eventError),
                             message: "CreateTopics failed: \(String(cString: rd_kafka_event_error_string(event)))")
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else {
            throw KafkaError(kind: .admin, code: .invalidArgument, message: "unexpected admin event")
        }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return [:] }
        var outcome: [String: Result<Void, KafkaError>] = [:]
        for i in 0..<count {
            guard let r = results[i] else { continue }
            let name = String(cString: rd_kafka_topic_result_name(r))
            let err = rd_kafka_topic_result_error(r)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                outcome[name] = .success(())
            } else {
                let text = rd_kafka_topic_result_error_string(r).map { String(cString: $0) }
                outcome[name] = .failure(KafkaError(kind: .admin, code: KafkaErrorCode(err),
                                                    message: text ?? KafkaErrorCode(err).text, topic: name))
            }
        }
        return outcome
    }
}

/// Cluster metadata requests shared by the admin and consumer.
enum Metadata {
    static func fetch<R>(
        handle: ClientHandle, timeout: Duration, _ body: (rd_kafka_metadata_t) -> R
    ) throws(KafkaError) -> R {
        var metadata: UnsafePointer<rd_kafka_metadata_t>? = nil
        let err = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, timeout.kafkaMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(kind: .metadata, code: KafkaErrorCode(err),
                             message: "cluster metadata unavailable: \(KafkaErrorCode(err).text)")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        return body(metadata.pointee)
    }

    static func topics(handle: ClientHandle, only names: [String]?, timeout: Duration) throws(KafkaError)
        -> [TopicDescription]
    {
        let all = try fetch(handle: handle, timeout: timeout) { md in
            (0..<Int(md.topic_cnt)).map { i -> TopicDescription in
                let t = md.topics[i]
                let partitions = (0..<Int(t.partition_cnt)).map { j -> TopicDescription.Partition in
                    let p = t.partitions[j]
                    return .init(
                        id: p.id, leader: p.leader,
                        replicas: (0..<Int(p.replica_cnt)).map { p.replicas[$0] },
                        inSyncReplicas: (0..<Int(p.isr_cnt)).map { p.isrs[$0] })
                }.sorted { $0.id < $1.id }
                return TopicDescription(
                    name: String(cString: t.topic), partitions: partitions,
                    error: t.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaErrorCode(t.err))
            }
        }
        guard let names else { return all.sorted { $0.name < $1.name } }
        return names.map { name in
            all.first { $0.name == name }
                ?? TopicDescription(name: name, partitions: [], error: .unknownTopicOrPartition)
        }
    }

    static func brokers(handle: ClientHandle, timeout: Duration) throws(KafkaError) -> [Int32: String] {
        try fetch(handle: handle, timeout: timeout) { md in
            var brokers: [Int32: String] = [:]
            for i in 0..<Int(md.broker_cnt) {
                let b = md.brokers[i]
                brokers[b.id] = "\(String(cString: b.host)):\(b.port)"
            }
            return brokers
        }
    }
}

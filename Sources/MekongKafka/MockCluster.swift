import CRdKafka

/// A Kafka protocol request type, for injecting errors into the mock cluster.
public enum KafkaRequest: Int16, Sendable, CaseIterable {
    case produce = 0, fetch = 1, listOffsets = 2, metadata = 3, offsetCommit = 8, offsetFetch = 9,
        findCoordinator = 10, joinGroup = 11, heartbeat = 12, leaveGroup = 13, syncGroup = 14,
        initProducerId = 22

    /// The name used on the command line and in the chaos control protocol, e.g. `produce`, `list-offsets`.
    public var name: String {
        switch self {
        case .produce: "produce"
        case .fetch: "fetch"
        case .listOffsets: "list-offsets"
        case .metadata: "metadata"
        case .offsetCommit: "offset-commit"
        case .offsetFetch: "offset-fetch"
        case .findCoordinator: "find-coordinator"
        case .joinGroup: "join-group"
        case .heartbeat: "heartbeat"
        case .leaveGroup: "leave-group"
        case .syncGroup: "sync-group"
        case .initProducerId: "init-producer-id"
        }
    }

    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    /// Whether the mock consults its error queues for this request. librdkafka 2.0.2's Metadata handler does not.
    public var acceptsInjectedErrors: Bool { self != .metadata }
}

/// librdkafka's in-process mock cluster: real Kafka protocol on localhost ports, no JVM. For tests and
/// `mekong dev`. Everything in it lives in memory and disappears with the value.
///
/// The mock does not implement the CreateTopics admin request; create topics with `createTopic`.
public final class MockCluster: @unchecked Sendable {
    private let handle: ClientHandle
    private let cluster: OpaquePointer
    /// The `bootstrap.servers` list clients connect to.
    public let bootstrapServers: String
    public let brokerCount: Int

    public init(brokers: Int = 3) throws(KafkaError) {
        // The mock needs a client instance for its bookkeeping; this one never connects anywhere itself.
        handle = try ClientHandle(
            type: RD_KAFKA_PRODUCER, configuration: KafkaConfiguration(bootstrapServers: ""),
            defaults: ["log_level": "3"])
        guard let cluster = rd_kafka_mock_cluster_new(handle.pointer, Int32(brokers)) else {
            throw KafkaError(kind: .mockCluster, code: .invalidArgument,
                             message: "could not start a mock cluster of \(brokers) brokers")
        }
        self.cluster = cluster
        brokerCount = brokers
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
    }

    /// A client configuration pointing at this cluster.
    public func configuration(_ properties: [String: String] = [:]) -> KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: bootstrapServers, properties: properties)
    }

    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int) throws(KafkaError) {
        let err = rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .mockCluster, code: KafkaErrorCode(err), message: "creating topic failed",
                             topic: name)
        }
    }

    /// Takes a broker off the network (its connections are closed and refused) or brings it back.
    ///
    /// Taking a broker down does not move its partitions' leadership (use `setLeader`). librdkafka 2.0.2 closes the
    /// broker's listener and at once binds a new socket to the same port, which listens again when the broker comes
    /// up; if that bind fails (another socket took the port in between) or that `listen` fails, librdkafka aborts
    /// the process (`rd_assert`). The window is the instant between close and bind, but it exists: tests that run
    /// beside others should prefer moving leadership, and `mekong dev` runs the mock in a process of its own.
    public func setBroker(_ id: Int32, up: Bool) throws(KafkaError) {
        let err = up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .mockCluster, code: KafkaErrorCode(err), message: "broker \(id) up=\(up)")
        }
    }

    /// Moves a partition's leadership to another broker.
    public func setLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        let err = rd_kafka_mock_partition_set_leader(cluster, topic, partition, broker)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .mockCluster, code: KafkaErrorCode(err), message: "set leader to \(broker)",
                             topic: topic, partition: partition)
        }
    }

    /// The next requests of this type (across brokers) fail with these errors, one per request, in order.
    public func pushRequestErrors(_ request: KafkaRequest, _ errors: [KafkaErrorCode]) {
        var codes = errors.map(\.c)
        rd_kafka_mock_push_request_errors_array(cluster, request.rawValue, codes.count, &codes)
    }

    /// Removes errors queued by `pushRequestErrors` that have not fired yet.
    public func clearRequestErrors(_ request: KafkaRequest) {
        rd_kafka_mock_clear_request_errors(cluster, request.rawValue)
    }

    /// The mock's broker ids: 1 through `brokerCount`.
    public var brokerIDs: [Int32] { (1...Int32(brokerCount)).map { $0 } }

    /// Appends to one broker's queue for one request type: its next requests of that type answer with these codes,
    /// one per request, in order (`.noError` lets a request through). A broker's queue is separate from the cluster's
    /// (`pushRequestErrors`) and goes first; librdkafka 2.0.2 has no call that empties it.
    public func pushBrokerRequestErrors(broker: Int32, _ request: KafkaRequest, _ codes: [KafkaErrorCode])
        throws(KafkaError)
    {
        let c = codes.map(\.c)
        let err = c.withUnsafeBufferPointer {
            mekong_mock_broker_push_errors(cluster, broker, request.rawValue, $0.baseAddress, $0.count)
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .mockCluster, code: KafkaErrorCode(err), message: "queueing request errors on broker \(broker)")
        }
    }

    /// How many codes queued by `pushBrokerRequestErrors` wait on a broker for a request type (each request of that
    /// type at that broker takes one).
    public func brokerRequestErrorsQueued(broker: Int32, _ request: KafkaRequest) throws(KafkaError) -> Int {
        var count = 0
        let err = rd_kafka_mock_broker_error_stack_cnt(cluster, broker, request.rawValue, &count)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(kind: .mockCluster, code: KafkaErrorCode(err), message: "reading broker \(broker)'s request errors")
        }
        return count
    }

    /// Makes every request for this topic fail with `error` (`.noError` clears it).
    public func setTopicError(_ topic: String, _ error: KafkaErrorCode) {
        rd_kafka_mock_topic_set_error(cluster, topic, error.c)
    }
}

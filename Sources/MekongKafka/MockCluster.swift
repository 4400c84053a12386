import CRdKafka

/// A Kafka protocol request type, for injecting errors into the mock cluster.
public enum KafkaRequest: Int16, Sendable {
    case produce = 0, fetch = 1, listOffsets = 2, metadata = 3, offsetCommit = 8, offsetFetch = 9,
        findCoordinator = 10, joinGroup = 11, heartbeat = 12, leaveGroup = 13, syncGroup = 14,
        initProducerId = 22
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
    /// Bringing a broker back re-binds its old port; if another socket took that port meanwhile, librdkafka 2.0
    /// aborts the process. Tests that run beside others should recover by moving leadership (`setLeader`) instead.
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

    /// Makes every request for this topic fail with `error` (`.noError` clears it).
    public func setTopicError(_ topic: String, _ error: KafkaErrorCode) {
        rd_kafka_mock_topic_set_error(cluster, topic, error.c)
    }
}

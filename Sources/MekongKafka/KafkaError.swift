import CRdKafka

/// A Kafka error code, as the Kafka protocol and librdkafka number them (negative values are librdkafka's own).
public struct KafkaErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// librdkafka's symbolic name, e.g. `NOT_ENOUGH_REPLICAS` or `_MSG_TIMED_OUT`.
    public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue))) }
    /// librdkafka's human-readable text for the code.
    public var text: String { String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue))) }
    public var description: String { name }

    init(_ err: rd_kafka_resp_err_t) { self.rawValue = err.rawValue }
    var c: rd_kafka_resp_err_t { rd_kafka_resp_err_t(rawValue) }

    public static let noError = KafkaErrorCode(RD_KAFKA_RESP_ERR_NO_ERROR)
    public static let messageTimedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
    public static let queueFull = KafkaErrorCode(RD_KAFKA_RESP_ERR__QUEUE_FULL)
    public static let transport = KafkaErrorCode(RD_KAFKA_RESP_ERR__TRANSPORT)
    public static let allBrokersDown = KafkaErrorCode(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    public static let unknownTopic = KafkaErrorCode(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
    public static let unknownTopicOrPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    public static let timedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__TIMED_OUT)
    public static let requestTimedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT)
    public static let notLeaderForPartition = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION)
    public static let leaderNotAvailable = KafkaErrorCode(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
    public static let notEnoughReplicas = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)
    public static let notEnoughReplicasAfterAppend = KafkaErrorCode(
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND)
    public static let messageTooLarge = KafkaErrorCode(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
    public static let topicAuthorizationFailed = KafkaErrorCode(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
    public static let invalidRecord = KafkaErrorCode(RD_KAFKA_RESP_ERR_INVALID_RECORD)
    public static let topicAlreadyExists = KafkaErrorCode(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    public static let unsupportedVersion = KafkaErrorCode(RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION)
    public static let fatal = KafkaErrorCode(RD_KAFKA_RESP_ERR__FATAL)
    public static let partitionEOF = KafkaErrorCode(RD_KAFKA_RESP_ERR__PARTITION_EOF)
    public static let invalidArgument = KafkaErrorCode(RD_KAFKA_RESP_ERR__INVALID_ARG)

    /// Codes after which sending the same message again may succeed (the broker or network was briefly unwell).
    var isTransient: Bool {
        switch self {
        case .messageTimedOut, .queueFull, .transport, .allBrokersDown, .timedOut, .requestTimedOut,
            .notLeaderForPartition, .leaderNotAvailable, .notEnoughReplicas, .notEnoughReplicasAfterAppend:
            return true
        default:
            return false
        }
    }
}

/// Whether a message that failed may nevertheless be in the log.
public enum Persistence: String, Sendable {
    /// Certainly not written: sending it again cannot create a duplicate.
    case notPersisted = "not persisted"
    /// It may have been written (e.g. the acknowledgement was lost): a resend may duplicate it.
    case possiblyPersisted = "possibly persisted"
    /// Written (used only when an error arrives for a message that was nonetheless persisted).
    case persisted
}

/// An error from the Kafka client.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// What kind of operation failed.
    public enum Kind: String, Sendable {
        case configuration, clientCreation, delivery, send, consume, rebalance, seek, admin, metadata, mockCluster,
            closed
    }

    public let kind: Kind
    /// The Kafka or librdkafka error code.
    public let code: KafkaErrorCode
    public let message: String
    /// For delivery errors: whether the message may still be in the log.
    public let persistence: Persistence
    /// Sending again (or retrying the operation) may succeed.
    public let isRetriable: Bool
    /// The client instance is unusable and must be recreated (e.g. the idempotent producer lost its sequence).
    public let isFatal: Bool
    /// Topic and partition concerned, when there is one.
    public let topic: String?
    public let partition: Int32?

    public init(
        kind: Kind, code: KafkaErrorCode, message: String, persistence: Persistence = .notPersisted,
        isRetriable: Bool? = nil, isFatal: Bool = false, topic: String? = nil, partition: Int32? = nil
    ) {
        self.kind = kind
        self.code = code
        self.message = message
        self.persistence = persistence
        self.isRetriable = isRetriable ?? (code.isTransient && !isFatal)
        self.isFatal = isFatal
        self.topic = topic
        self.partition = partition
    }

    public var description: String {
        var parts = ["kafka \(kind.rawValue) error \(code.name)"]
        if let topic {
            parts.append("on \(topic)" + (partition.map { "[\($0)]" } ?? ""))
        }
        var text = parts.joined(separator: " ") + ": " + message
        var flags: [String] = []
        if kind == .delivery || kind == .send { flags.append(persistence.rawValue) }
        if isFatal { flags.append("fatal") } else if isRetriable { flags.append("retriable") }
        if !flags.isEmpty { text += " (" + flags.joined(separator: ", ") + ")" }
        return text
    }

    /// Builds an error from a librdkafka `rd_kafka_error_t`, which it destroys.
    static func consuming(_ error: OpaquePointer, kind: Kind, topic: String? = nil) -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        let code = KafkaErrorCode(rd_kafka_error_code(error))
        let fatal = rd_kafka_error_is_fatal(error) != 0
        return KafkaError(
            kind: kind, code: code, message: String(cString: rd_kafka_error_string(error)),
            isRetriable: isRetriable(code, librdkafkaSays: rd_kafka_error_is_retriable(error) != 0, fatal: fatal),
            isFatal: fatal, topic: topic)
    }

    /// Whether an operation that failed with `code` may succeed when tried again: when librdkafka says so, and
    /// for every transient code, which it does not flag on local operations (a seek that timed out while the
    /// cluster was slow is `_TIMED_OUT` but not "retriable"; it stopped a projector in CI); never when fatal.
    static func isRetriable(_ code: KafkaErrorCode, librdkafkaSays retriable: Bool, fatal: Bool) -> Bool {
        !fatal && (retriable || code.isTransient)
    }
}

/// One Kafka topic as the catalog defines it (`Topics/<name>/topic.json`).
public struct TopicDefinition: Sendable, Equatable {
    /// What a topic carries.
    public enum Kind: String, Sendable, CaseIterable {
        /// Immutable business events, kept forever.
        case events
        /// Records that a projection could not process, with their bytes and position.
        case deadLetters = "dead-letters"
        /// The audit trail's signed tree heads, copied out of the database.
        case auditHeads = "audit-heads"
    }

    /// The Kafka topic name.
    public let name: String
    public let description: String
    public let kind: Kind
    public let partitions: Int
    public let replicationFactor: Int
    /// `retention.ms`; -1 keeps records forever (required for events topics).
    public let retentionMs: Int64
    /// `cleanup.policy`: "delete" or "compact" (events topics: "delete").
    public let cleanupPolicy: String
    /// What the record key (the event subject) identifies, in words.
    public let key: String
    /// The event types carried, e.g. ["vn.gso.report.submitted"].
    public let eventTypes: [String]
    /// Further Kafka topic configs, e.g. ["min.insync.replicas": "2"].
    public let config: [String: String]

    public init(
        name: String, description: String, kind: Kind, partitions: Int, replicationFactor: Int, retentionMs: Int64,
        cleanupPolicy: String, key: String, eventTypes: [String], config: [String: String]
    ) {
        self.name = name
        self.description = description
        self.kind = kind
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.retentionMs = retentionMs
        self.cleanupPolicy = cleanupPolicy
        self.key = key
        self.eventTypes = eventTypes
        self.config = config
    }

    /// The configs to create the topic with: ``config`` plus `retention.ms` and `cleanup.policy`.
    public var kafkaConfig: [String: String] {
        var all = config
        all["retention.ms"] = String(retentionMs)
        all["cleanup.policy"] = cleanupPolicy
        return all
    }
}

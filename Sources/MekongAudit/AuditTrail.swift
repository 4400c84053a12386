import MekongEvents
import MekongEvidence
import MekongKafka
import MekongPostgres
import MekongProjection

/// The audit-trail projection: every record of the event topics in `audit_v<N>.events`, once, in log order,
/// hash-chained per partition (see docs/audit-trail.md).
///
/// Records that are not valid events are recorded too (with `problem` saying why): the trail is evidence of what
/// the log holds, so it never dead-letters.
public struct AuditTrail: Projection {
    public static let name = "audit"
    static let copyColumns =
        "topic, partition, kafka_offset, event_id, event_type, source, subject, event_time, recorded_time, event_bytes, event_hash, problem, previous_chain_hash, chain_hash"

    /// The newest version, which fresh databases get (Projections/audit/v4).
    public static let newestVersion = 4
    /// From v4: a signed tree head at least every this many rows of a partition…
    public static let headEveryRows: Int64 = 1_000
    /// …and at the first row recorded this long (µs of recorded time) after the partition's last head.
    public static let headEveryMicroseconds: Int64 = 60_000_000

    public let identity: ProjectionIdentity
    public let topics: [String]
    /// How this version links its rows: v1 and v2 `.offsetAndHash`, v3 and v4 `.everyColumn`.
    public let format: AuditChainFormat
    /// From v4, the key that signs tree heads; nil before.
    public let headKey: SigningKey?

    /// - Parameters:
    ///   - topics: the event topics to record (the catalog's `eventTopics`).
    ///   - headKey: the audit key that signs tree heads; v4 and later need it (``AuditError``), earlier versions
    ///     have no heads.
    public init(topics: [String], version: Int = AuditTrail.newestVersion, headKey: SigningKey? = nil) throws(AuditError) {
        if version >= 4, headKey == nil {
            throw AuditError(.missingKey, "audit v\(version) signs tree heads: give it the audit key")
        }
        self.identity = ProjectionIdentity(name: Self.name, version: version)
        self.topics = topics
        self.format = AuditChainFormat(projectionVersion: version)
        self.headKey = version >= 4 ? headKey : nil
    }

    /// Whether this version records why an event is not valid for its topic (v4 on).
    var checksTopic: Bool { identity.version >= 4 }

    /// Canonicalises and hashes the event, and from v4 checks it as projections read it (in parallel, outside the
    /// transaction).
    public func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> AuditRecord {
        AuditRecord(record, format: format, reader: checksTopic ? reader : nil)
    }

    /// Links each record to its partition's chain head, COPYs the rows and, from v4, grows each partition's Merkle
    /// tree and signs the heads that fall due; three or four statements per batch.
    public func apply(_ batch: [ProjectionRecord<AuditRecord>], on db: PostgresConnection) throws {
        let schema = identity.schema
        var states = try partitionStates(Set(batch.map(\.position.topicPartition)), on: db)
        var rows = CopyBinary(capacity: batch.reduce(0) { $0 + $1.row.copyFields.bytes.count + 80 })
        var heads: [SignedTreeHead] = []
        for record in batch {
            let tp = record.position.topicPartition
            var state = states[tp] ?? PartitionState()
            let link = AuditLink(
                format: format, topic: tp.topic, partition: tp.partition, offset: record.position.offset,
                eventHash: record.row.hash, recordedMicroseconds: record.row.recordedMicroseconds,
                problem: record.row.problem, previous: state.chain)
            rows.append(fields: record.row.copyFields)
            rows.bytea(link.previous.bytes)
            rows.bytea(link.chain.bytes)
            rows.endRow()
            state.chain = link.chain
            state.lastOffset = record.position.offset
            if let headKey {
                state.tree.append(record.row.hash)
                let micros = record.row.recordedMicroseconds
                if state.tree.size % Self.headEveryRows == 0 || micros - state.lastHeadMicros >= Self.headEveryMicroseconds {
                    heads.append(SignedTreeHead(
                        topic: tp.topic, partition: tp.partition, size: state.tree.size, lastOffset: record.position.offset,
                        root: state.tree.root, chainHash: link.chain, recordedTime: record.row.recordedTime,
                        signedBy: headKey))
                    state.lastHeadMicros = micros
                }
            }
            states[tp] = state
        }
        _ = try db.copyIn("COPY \(schema).events (\(Self.copyColumns)) FROM STDIN (FORMAT binary)", binary: rows)
        let sorted = Set(batch.map(\.position.topicPartition)).sorted()
        let topics = PostgresArray.text(sorted.map(\.topic))
        let partitions = PostgresArray.integers(sorted.map { Int64($0.partition) })
        let offsets = PostgresArray.integers(sorted.map { states[$0]!.lastOffset })
        let chains = PostgresArray.text(sorted.map { states[$0]!.chain.hex })
        guard headKey != nil else {
            try db.execute(
                """
                INSERT INTO \(schema).chain_heads (topic, partition, last_offset, chain_hash)
                SELECT u.topic, u.partition, u.last_offset, decode(u.chain_hash, 'hex')
                FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::text[]) AS u(topic, partition, last_offset, chain_hash)
                ON CONFLICT (topic, partition)
                DO UPDATE SET last_offset = EXCLUDED.last_offset, chain_hash = EXCLUDED.chain_hash
                """, [topics, partitions, offsets, chains])
            return
        }
        try db.execute(
            """
            INSERT INTO \(schema).chain_heads (topic, partition, last_offset, chain_hash, tree_size, frontier, last_head_micros)
            SELECT u.topic, u.partition, u.last_offset, decode(u.chain_hash, 'hex'), u.tree_size, decode(u.frontier, 'hex'),
                   u.last_head_micros
            FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::bigint[])
                AS u(topic, partition, last_offset, chain_hash, tree_size, frontier, last_head_micros)
            ON CONFLICT (topic, partition)
            DO UPDATE SET last_offset = EXCLUDED.last_offset, chain_hash = EXCLUDED.chain_hash,
                tree_size = EXCLUDED.tree_size, frontier = EXCLUDED.frontier, last_head_micros = EXCLUDED.last_head_micros
            """,
            [topics, partitions, offsets, chains, PostgresArray.integers(sorted.map { states[$0]!.tree.size }),
             PostgresArray.text(sorted.map { Hex.encode(states[$0]!.tree.bytes) }),
             PostgresArray.integers(sorted.map { states[$0]!.lastHeadMicros })])
        guard !heads.isEmpty else { return }
        try db.execute(
            """
            INSERT INTO \(schema).tree_heads (topic, partition, tree_size, last_offset, head)
            SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::bigint[], $5::text[])
            """,
            [PostgresArray.text(heads.map(\.topic)), PostgresArray.integers(heads.map { Int64($0.partition) }),
             PostgresArray.integers(heads.map(\.size)), PostgresArray.integers(heads.map(\.lastOffset)),
             PostgresArray.text(heads.map { JSON.serialize($0.json) })])
    }

    /// What a partition's chain and tree stood at before this batch (a fresh partition: nothing).
    struct PartitionState {
        var chain = EventHash.zero
        var lastOffset: Int64 = -1
        var tree = MerkleFrontier()
        /// Recorded time (µs) of the row the newest head covers; none yet: so far back that the first row is due.
        var lastHeadMicros = Int64.min / 2
    }

    private func partitionStates(_ partitions: Set<TopicPartition>, on db: PostgresConnection) throws
        -> [TopicPartition: PartitionState]
    {
        let sorted = partitions.sorted()
        let tree = headKey == nil ? "NULL::bigint, NULL::bytea, NULL::bigint" : "h.tree_size, h.frontier, h.last_head_micros"
        var states: [TopicPartition: PartitionState] = [:]
        for row in try db.query(
            """
            SELECT h.topic, h.partition, h.chain_hash, h.last_offset, \(tree) FROM \(identity.schema).chain_heads h
            JOIN unnest($1::text[], $2::integer[]) AS u(topic, partition) USING (topic, partition)
            """, [PostgresArray.text(sorted.map(\.topic)), PostgresArray.integers(sorted.map { Int64($0.partition) })])
        {
            let tp = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
            guard let chain = EventHash(bytes: try row.decode([UInt8].self, at: 2)) else {
                throw ProjectionStateError("chain head of \(tp) in \(identity.schema).chain_heads is not a 32-byte hash")
            }
            var state = PartitionState(chain: chain, lastOffset: try row.decode(Int64.self, at: 3))
            if headKey != nil {
                guard let frontier = MerkleFrontier(size: try row.decode(Int64.self, at: 4), bytes: try row.decode([UInt8].self, at: 5))
                else {
                    throw ProjectionStateError("the Merkle frontier of \(tp) in \(identity.schema).chain_heads does not fit its tree size")
                }
                state.tree = frontier
                state.lastHeadMicros = try row.decode(Int64.self, at: 6)
            }
            states[tp] = state
        }
        return states
    }
}

/// Why the audit trail cannot run or be checked as asked.
public struct AuditError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// v4 and later sign tree heads (and verify them) with the audit key, which was not given.
        case missingKey = "missing-key"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

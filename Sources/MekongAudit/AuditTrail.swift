import MekongEvents
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

    /// The newest version, which fresh databases get (Projections/audit/v3).
    public static let newestVersion = 3

    public let identity: ProjectionIdentity
    public let topics: [String]
    /// How this version links its rows: v1 and v2 `.offsetAndHash`, v3 `.everyColumn`.
    public let format: AuditChainFormat

    /// - Parameter topics: the event topics to record (the catalog's `eventTopics`).
    public init(topics: [String], version: Int = AuditTrail.newestVersion) {
        self.identity = ProjectionIdentity(name: Self.name, version: version)
        self.topics = topics
        self.format = AuditChainFormat(projectionVersion: version)
    }

    /// Canonicalises and hashes the event (in parallel, outside the transaction).
    public func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> AuditRecord {
        AuditRecord(record, format: format)
    }

    /// Links each record to its partition's chain head and COPYs the rows; three statements per batch.
    public func apply(_ batch: [ProjectionRecord<AuditRecord>], on db: PostgresConnection) throws {
        let schema = identity.schema
        var heads = try chainHeads(Set(batch.map(\.position.topicPartition)), on: db)
        var rows = CopyBinary(capacity: batch.reduce(0) { $0 + $1.row.copyFields.bytes.count + 80 })
        for record in batch {
            let tp = record.position.topicPartition
            let link = AuditLink(
                format: format, topic: tp.topic, partition: tp.partition, offset: record.position.offset,
                eventHash: record.row.hash, recordedMicroseconds: record.row.recordedMicroseconds,
                problem: record.row.problem, previous: heads[tp] ?? .zero)
            rows.append(fields: record.row.copyFields)
            rows.bytea(link.previous.bytes)
            rows.bytea(link.chain.bytes)
            rows.endRow()
            heads[tp] = link.chain
        }
        _ = try db.copyIn("COPY \(schema).events (\(Self.copyColumns)) FROM STDIN (FORMAT binary)", binary: rows)
        let last = Dictionary(batch.map { ($0.position.topicPartition, $0.position.offset) }, uniquingKeysWith: max)
        let sorted = last.keys.sorted()
        try db.execute(
            """
            INSERT INTO \(schema).chain_heads (topic, partition, last_offset, chain_hash)
            SELECT u.topic, u.partition, u.last_offset, decode(u.chain_hash, 'hex')
            FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::text[]) AS u(topic, partition, last_offset, chain_hash)
            ON CONFLICT (topic, partition)
            DO UPDATE SET last_offset = EXCLUDED.last_offset, chain_hash = EXCLUDED.chain_hash
            """,
            [PostgresArray.text(sorted.map(\.topic)), PostgresArray.integers(sorted.map { Int64($0.partition) }),
             PostgresArray.integers(sorted.map { last[$0]! }), PostgresArray.text(sorted.map { heads[$0]!.hex })])
    }

    private func chainHeads(_ partitions: Set<TopicPartition>, on db: PostgresConnection) throws -> [TopicPartition: EventHash] {
        let sorted = partitions.sorted()
        var heads: [TopicPartition: EventHash] = [:]
        for row in try db.query(
            """
            SELECT h.topic, h.partition, h.chain_hash FROM \(identity.schema).chain_heads h
            JOIN unnest($1::text[], $2::integer[]) AS u(topic, partition) USING (topic, partition)
            """, [PostgresArray.text(sorted.map(\.topic)), PostgresArray.integers(sorted.map { Int64($0.partition) })])
        {
            let tp = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
            guard let head = EventHash(bytes: try row.decode([UInt8].self, at: 2)) else {
                throw ProjectionStateError("chain head of \(tp) in \(identity.schema).chain_heads is not a 32-byte hash")
            }
            heads[tp] = head
        }
        return heads
    }
}

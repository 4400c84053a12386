import MekongEvents
import MekongKafka
import MekongPostgres

/// `mekong archive verify --audit`: each archived record's SHA-256 against the audit trail's `event_hash` for the
/// same topic, partition and offset (the public view `audit.events`, docs/audit-trail.md). The audit trail chains
/// and signs those hashes; the archive holding the same bytes ties every archived record to that evidence.
///
/// Blocking (libpq): call it from a thread of its own.
public final class ArchiveAuditCheck {
    private let connection: PostgresConnection
    private let audited: Set<String>
    private var window: (partition: TopicPartition, from: Int64, to: Int64)?
    private var hashes: [Int64: String] = [:]
    /// Records whose hash the audit trail holds too.
    public private(set) var matched = 0
    /// Records of audited topics the trail has no row for (not recorded yet, or dead letters of the audit projector).
    public private(set) var notInTrail = 0
    /// Records of topics the audit trail does not cover (dead letters, audit heads).
    public private(set) var notAudited = 0

    /// `audited`: the topics the audit projection records (the catalog's event topics).
    public init(connection: PostgresConnection, audited: Set<String>) {
        self.connection = connection
        self.audited = audited
    }

    /// Checks one record; throws `.auditMismatch` when the trail holds another hash at its place.
    public func check(_ record: ArchiveRecord, of partition: TopicPartition) throws {
        guard audited.contains(partition.topic) else {
            notAudited += 1
            return
        }
        if window == nil || window!.partition != partition || record.offset < window!.from || record.offset > window!.to {
            let to = record.offset + 9_999
            hashes = [:]
            for row in try connection.query(
                """
                SELECT kafka_offset, encode(event_hash, 'hex') FROM audit.events
                WHERE topic = $1 AND partition = $2 AND kafka_offset BETWEEN $3 AND $4
                """, [partition.topic, Int64(partition.partition), record.offset, to])
            {
                hashes[try row.decode(Int64.self, at: 0)] = try row.decode(String.self, at: 1)
            }
            window = (partition, record.offset, to)
        }
        guard let recorded = hashes[record.offset] else {
            notInTrail += 1
            return
        }
        guard recorded == record.valueHash.hex else {
            throw ArchiveError(.auditMismatch, """
                \(partition) offset \(record.offset): the archive's record has SHA-256 \(record.valueHash.hex), the \
                audit trail recorded \(recorded)
                """)
        }
        matched += 1
    }
}

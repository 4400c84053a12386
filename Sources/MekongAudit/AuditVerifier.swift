import Foundation
import MekongEvents
import MekongEvidence
import MekongKafka
import MekongPostgres
import MekongProjection

/// A row (or partition) of the audit trail that does not hold up.
public struct AuditFinding: Sendable, Equatable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32
    /// The row (or missing offset) at fault; nil when the finding concerns the partition as a whole.
    public let offset: Int64?
    public let eventID: String?
    public let problem: String

    public var description: String {
        var at = "\(topic)[\(partition)]"
        if let offset { at += "@\(offset)" }
        if let eventID { at += " (event \(eventID))" }
        return "\(at): \(problem)"
    }
}

/// The outcome of `AuditVerifier.verify`.
public struct AuditVerification: Sendable {
    /// Rows read and checked.
    public var rowsChecked = 0
    /// Partitions that have rows.
    public var partitionsChecked = 0
    /// Partitions whose rows were checked against their checkpoint in `mekong.checkpoints`.
    public var checkpointsChecked = 0
    /// Offsets covered by a dead letter of this version instead of a row (`mekong dlq list --projection audit`).
    public var deadLetters = 0
    /// True when the rows were compared with the log itself (`log:` was given).
    public var comparedWithLog = false
    /// Log records compared with their row (or dead letter).
    public var logRecordsCompared = 0
    /// Signed tree heads (v4 on) checked against the rows they cover.
    public var treeHeadsChecked = 0
    /// Log records at or beyond their partition's checkpoint: not yet recorded (lag), not a finding.
    public var logRecordsNotYetRecorded: Int64 = 0
    /// Rows older than the log's retention: nothing left in the log to compare them with.
    public var rowsOlderThanLog = 0
    /// In walk order (partition by partition, offset order within one); capped at `AuditVerifier.maximumFindings`.
    public var findings: [AuditFinding] = []
    public var isIntact: Bool { findings.isEmpty }
    public var firstBadRow: AuditFinding? { findings.first }
}

/// Checks the audit trail of one version, streaming its rows in offset order (a cursor, never the whole table):
///
/// - every row on its own: `event_hash` is the SHA-256 of `event_bytes`; the bytes decode as an event whose
///   attributes are the columns, or, when the row has a `problem`, do not decode and the attribute columns are NULL;
/// - the chain: each row links to the row before it and its `chain_hash` is recomputed (in v3 over `recorded_time`,
///   `problem`, partition and topic too); the last row matches the chain head;
/// - the checkpoints in `mekong.checkpoints`: the rows (and this version's dead letters) cover every offset from the
///   partition's first row up to the checkpoint's next offset, and none lies beyond it; every expected partition
///   has a checkpoint; rows and chain heads have one;
/// - with `log`: every record of the log below the checkpoint has its row with the same `event_hash` and
///   `recorded_time` (as the projection computes them, `problem` too from v4), and no row lacks its record;
/// - from v4, the signed tree heads: each is the audit key's, every head the rows make due is there, and each names
///   the Merkle root of the event hashes, the chain hash, offset and recorded time of the rows it covers. A trail
///   rewritten with every chain hash recomputed fails here, from the first head after the first changed row.
///
/// Everything is read in one read-only REPEATABLE READ transaction, so a running projector does not make the
/// checkpoints, chain heads and rows disagree; the log's high watermarks are taken after that snapshot.
public struct AuditVerifier {
    public static let maximumFindings = 100
    private let db: PostgresConnection
    private let identity: ProjectionIdentity
    private let format: AuditChainFormat
    private let expectedPartitions: [TopicPartition]
    private let log: KafkaConfiguration?
    private let reader: EventReader?
    private let headKey: VerifyingKey?
    private let publishedHeads: [SignedTreeHead]?
    /// Rows per cursor fetch.
    public var fetchSize = 500
    /// How long reading the log may wait for a record it knows exists before giving up.
    public var logIdleTimeout: Duration = .seconds(30)

    /// Verifies version `version` of the audit trail (schema `audit_v<version>`).
    /// - Parameters:
    ///   - expectedPartitions: every partition the trail should cover (all partitions of the audit's topics); one
    ///     this database's projector never applied is a finding.
    ///   - log: the Kafka cluster the trail was recorded from, to compare every row with its record; nil to check
    ///     the trail against itself and the checkpoints only.
    ///   - reader: from v4, the reader the projector checked events with (the catalog), to recompute `problem` from
    ///     the log.
    ///   - headKey: from v4, the audit key's public half, which the tree heads must verify with.
    ///   - publishedHeads: from v4, the heads the `audit-heads` topic holds (``AuditHeadsTopic/read(configuration:idleTimeout:)``):
    ///     each must be in the database as it was published.
    public init(
        db: PostgresConnection, version: Int, expectedPartitions: [TopicPartition], log: KafkaConfiguration? = nil,
        reader: EventReader? = nil, headKey: VerifyingKey? = nil, publishedHeads: [SignedTreeHead]? = nil
    ) {
        self.db = db
        self.identity = ProjectionIdentity(name: AuditTrail.name, version: version)
        self.format = AuditChainFormat(projectionVersion: version)
        self.expectedPartitions = expectedPartitions
        self.log = log
        self.reader = version >= 4 ? reader : nil
        self.headKey = headKey
        self.publishedHeads = version >= 4 ? publishedHeads : nil
    }

    public func verify() throws -> AuditVerification {
        let signsHeads = identity.version >= 4
        if signsHeads, headKey == nil {
            throw AuditError(.missingKey, "audit v\(identity.version) has signed tree heads: give the audit key's public half")
        }
        if signsHeads, log != nil, reader == nil {
            throw AuditError(.missingKey, "comparing audit v\(identity.version) with the log needs the catalog's reader")
        }
        let reader = try log.map { try PartitionLogReader(configuration: $0, idleTimeout: logIdleTimeout) }
        defer { reader?.close() }
        return try db.transaction { db in
            try db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            // The first query fixes the snapshot; the log's watermarks are read after it.
            let walk = AuditWalk(
                format: format, checkpoints: try checkpoints(db), heads: try chainHeads(db), log: reader,
                expected: expectedPartitions, eventReader: self.reader,
                treeHeads: signsHeads ? try treeHeads(db) : nil, headKey: headKey,
                published: Dictionary(grouping: publishedHeads ?? []) { TopicPartition(topic: $0.topic, partition: $0.partition) })
            if let reader { try checkCluster(try reader.clusterID(), db) }
            let schema = identity.schema
            let micros = { (column: String) in
                "CASE WHEN isfinite(\(column)) THEN (extract(epoch FROM \(column)) * 1000000)::bigint END"
            }
            try db.execute(
                """
                DECLARE audit_rows NO SCROLL CURSOR FOR
                SELECT topic, partition, kafka_offset, false, event_id, event_type, source, subject,
                       \(micros("event_time")), \(micros("recorded_time")), event_bytes, event_hash,
                       previous_chain_hash, chain_hash, problem
                FROM \(schema).events
                UNION ALL
                SELECT topic, partition, kafka_offset, true, NULL::text, NULL::text, NULL::text, NULL::text,
                       NULL::bigint, NULL::bigint, NULL::bytea, sha256(record_value), NULL::bytea, NULL::bytea, NULL::text
                FROM mekong.dead_letters WHERE projection = $1 AND version = $2
                ORDER BY 1, 2, 3
                """, [identity.name, identity.version])
            while true {
                let rows = try db.query("FETCH \(fetchSize) FROM audit_rows")
                if rows.isEmpty { break }
                for row in rows { try walk.visit(try StoredItem(row)) }
            }
            try db.execute("CLOSE audit_rows")
            try walk.finish()
            return walk.result
        }
    }

    /// The signed tree heads by partition and size; a head that does not parse is kept as its error.
    private func treeHeads(_ db: PostgresConnection) throws -> [TopicPartition: [Int64: Result<SignedTreeHead, EvidenceError>]] {
        var heads: [TopicPartition: [Int64: Result<SignedTreeHead, EvidenceError>]] = [:]
        for row in try db.query("SELECT topic, partition, tree_size, head FROM \(identity.schema).tree_heads") {
            let tp = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
            let text = try row.decode(String.self, at: 3)
            let head: Result<SignedTreeHead, EvidenceError>
            do throws(EvidenceError) {
                guard let json = try? JSON.parse(text) else {
                    throw EvidenceError(.invalidReceipt, "head", "is not JSON")
                }
                head = .success(try SignedTreeHead(json: json))
            } catch {
                head = .failure(error)
            }
            heads[tp, default: [:]][try row.decode(Int64.self, at: 2)] = head
        }
        return heads
    }

    private func checkpoints(_ db: PostgresConnection) throws -> [TopicPartition: Int64] {
        var checkpoints: [TopicPartition: Int64] = [:]
        for row in try db.query(
            "SELECT topic, partition, next_offset FROM mekong.checkpoints WHERE projection = $1 AND version = $2",
            [identity.name, identity.version])
        {
            let tp = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
            checkpoints[tp] = try row.decode(Int64.self, at: 2)
        }
        return checkpoints
    }

    private func chainHeads(_ db: PostgresConnection) throws -> [TopicPartition: ChainHead] {
        var heads: [TopicPartition: ChainHead] = [:]
        for row in try db.query("SELECT topic, partition, last_offset, chain_hash FROM \(identity.schema).chain_heads") {
            let tp = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
            heads[tp] = ChainHead(
                lastOffset: try row.decode(Int64.self, at: 2),
                chain: EventHash(bytes: try row.decode([UInt8].self, at: 3)) ?? .zero)
        }
        return heads
    }

    /// Offsets mean nothing in another cluster: comparing with one would call every row forged.
    private func checkCluster(_ actual: String, _ db: PostgresConnection) throws {
        let stored = try db.query(
            "SELECT cluster_id FROM mekong.kafka_clusters WHERE projection = $1 AND version = $2",
            [identity.name, identity.version]).first.map { try $0.decode(String.self, at: 0) }
        if let stored, stored != actual {
            throw AuditClusterMismatch(version: identity.version, stored: stored, actual: actual)
        }
    }
}

/// `--log` points at another Kafka cluster than the one the trail was recorded from.
public struct AuditClusterMismatch: Error, CustomStringConvertible {
    public let version: Int
    public let stored: String
    public let actual: String

    public var description: String {
        "audit v\(version) was recorded from Kafka cluster \(stored), but the log given is cluster \(actual): "
            + "its offsets name other records; point --kafka at the original cluster"
    }
}

struct ChainHead {
    let lastOffset: Int64
    let chain: EventHash
}

/// The walk over the stored rows and dead letters in (topic, partition, offset) order, partition by partition.
private final class AuditWalk {
    let format: AuditChainFormat
    let checkpoints: [TopicPartition: Int64]
    let heads: [TopicPartition: ChainHead]
    let log: PartitionLogReader?
    let expected: [TopicPartition]
    let eventReader: EventReader?
    /// From v4: the signed heads by partition and size.
    let treeHeads: [TopicPartition: [Int64: Result<SignedTreeHead, EvidenceError>]]?
    let headKey: VerifyingKey?
    /// From v4: the heads the `audit-heads` topic holds.
    let published: [TopicPartition: [SignedTreeHead]]
    var result = AuditVerification()
    private var current: PartitionWalk?
    private var visited: Set<TopicPartition> = []

    init(format: AuditChainFormat, checkpoints: [TopicPartition: Int64], heads: [TopicPartition: ChainHead],
         log: PartitionLogReader?, expected: [TopicPartition], eventReader: EventReader?,
         treeHeads: [TopicPartition: [Int64: Result<SignedTreeHead, EvidenceError>]]?, headKey: VerifyingKey?,
         published: [TopicPartition: [SignedTreeHead]])
    {
        self.published = published
        self.format = format
        self.checkpoints = checkpoints
        self.heads = heads
        self.log = log
        self.expected = expected
        self.eventReader = eventReader
        self.treeHeads = treeHeads
        self.headKey = headKey
        result.comparedWithLog = log != nil
    }

    /// What the walk knows about the partition it is in.
    final class PartitionWalk {
        let partition: TopicPartition
        let checkpoint: Int64?
        let head: ChainHead?
        var log: PartitionLog?
        /// The lowest offset not yet covered by a row or dead letter.
        var next: Int64 = 0
        var covered = false
        var rows = 0
        var lastRow: Int64 = -1
        var chain = EventHash.zero
        /// From v4: the Merkle tree of the rows' event hashes so far, and the head rule's state.
        var tree = MerkleFrontier()
        var lastHeadMicros = Int64.min / 2
        /// The last row a signed head was found to hold for (-1: none yet).
        var lastGoodHead: Int64 = -1

        init(partition: TopicPartition, checkpoint: Int64?, head: ChainHead?) {
            self.partition = partition
            self.checkpoint = checkpoint
            self.head = head
        }
    }

    private func say(_ tp: TopicPartition, _ offset: Int64?, _ problem: String, event eventID: String? = nil) {
        guard result.findings.count < AuditVerifier.maximumFindings else { return }
        result.findings.append(AuditFinding(
            topic: tp.topic, partition: tp.partition, offset: offset, eventID: eventID, problem: problem))
    }

    private func start(_ tp: TopicPartition) throws -> PartitionWalk {
        visited.insert(tp)
        let walk = PartitionWalk(partition: tp, checkpoint: checkpoints[tp], head: heads[tp])
        if let log {
            walk.log = try log.open(tp)
            if walk.log == nil { say(tp, nil, "the log has no such partition: nothing to compare the trail with") }
        }
        return walk
    }

    func visit(_ item: StoredItem) throws {
        if current?.partition != item.partition {
            if let done = current { try finish(done) }
            current = try start(item.partition)
        }
        let p = current!
        let o = item.offset
        // The primary keys allow one row and one dead letter per offset, not two of either.
        let repeated = o < p.next
        if repeated {
            say(p.partition, o, "this offset has both a row and a dead letter", event: item.eventID)
        } else {
            if o > p.next { try gap(p, from: p.next, to: o, atEnd: false) }
            p.next = o + 1
        }
        p.covered = true
        let log = repeated ? nil : p.log  // the log's record at o went to the first of the two
        if item.isDeadLetter { try deadLetter(item, in: p, log: log) } else { try row(item, in: p, log: log) }
    }

    private func row(_ stored: StoredItem, in p: PartitionWalk, log: PartitionLog?) throws {
        let tp = p.partition
        let o = stored.offset
        if p.rows == 0 { result.partitionsChecked += 1 }
        result.rowsChecked += 1
        p.rows += 1
        let say = { (problem: String) in self.say(tp, o, problem, event: stored.eventID) }
        if let n = p.checkpoint, o >= n {
            say("the row lies beyond the checkpoint (next offset \(n)): the projector never recorded this offset, so the row was added")
        }
        for problem in stored.contentProblems(format) { say(problem) }
        if stored.previousChain != p.chain {
            let before = p.lastRow >= 0 ? "the row at offset \(p.lastRow)" : "the start of the partition"
            say("previous_chain_hash does not link to \(before): a row in between was deleted or altered")
        }
        // A recorded_time that is not finite is reported by contentProblems; v3 cannot recompute the link then.
        if format == .offsetAndHash || stored.recordedMicroseconds != nil {
            let link = AuditLink(
                format: format, topic: tp.topic, partition: tp.partition, offset: o, eventHash: stored.eventHash,
                recordedMicroseconds: stored.recordedMicroseconds ?? 0, problem: stored.problem,
                previous: stored.previousChain)
            if link.chain != stored.chain {
                switch format {
                case .offsetAndHash:
                    say("chain_hash is not SHA-256(previous_chain_hash ‖ offset ‖ event_hash)")
                case .everyColumn:
                    say("chain_hash is not the link over previous_chain_hash, offset, event_hash, recorded_time, problem, partition and topic: one of them was altered")
                }
            }
        }
        if let log {
            if o < log.low {
                result.rowsOlderThanLog += 1
            } else if let record = try log.take(at: o) {
                result.logRecordsCompared += 1
                let expected = AuditRecord(record, format: format, reader: eventReader)
                if eventReader != nil, expected.problem != stored.problem {
                    say("problem differs from what the log's record gives: \(expected.problem ?? "none")")
                }
                if expected.hash != stored.eventHash {
                    say("event_hash differs from the log's record at this offset (\(Self.describe(expected))): the row was rewritten")
                }
                if let recorded = stored.recordedMicroseconds, recorded != expected.recordedMicroseconds {
                    say("recorded_time differs from the log's record, which says \(expected.recordedTime.text)")
                }
            } else {
                let end = o >= log.high ? " (the log ends before it, at offset \(log.high))" : ""
                say("the log holds no record at this offset\(end): the row is extra")
            }
        }
        // Continue from what is stored, so that one altered row is reported once, not for every row after.
        p.lastRow = o
        p.chain = stored.chain
        if treeHeads != nil { checkTreeHead(stored, in: p) }
    }

    /// Grows the partition's tree by the row and checks the head due at it, if one is (the projector's rule: every
    /// `AuditTrail.headEveryRows` rows, and at a row recorded `headEveryMicroseconds` after the last head).
    private func checkTreeHead(_ stored: StoredItem, in p: PartitionWalk) {
        let tp = p.partition
        let o = stored.offset
        p.tree.append(stored.eventHash)
        let size = p.tree.size
        let micros = stored.recordedMicroseconds ?? 0
        let due = size % AuditTrail.headEveryRows == 0 || micros - p.lastHeadMicros >= AuditTrail.headEveryMicroseconds
        guard due else { return }
        p.lastHeadMicros = micros
        let since = p.lastGoodHead >= 0 ? "after offset \(p.lastGoodHead), the last row a signed head holds for"
            : "from the partition's first row"
        guard let found = treeHeads?[tp]?[size] else {
            say(tp, o, "no signed tree head covers the rows up to here (\(size) rows), though one is due: the heads were deleted, or rows \(since) were changed")
            return
        }
        result.treeHeadsChecked += 1
        let head: SignedTreeHead
        switch found {
        case .failure(let error):
            say(tp, o, "the signed tree head for \(size) rows does not read: \(error)")
            return
        case .success(let read): head = read
        }
        var problems: [String] = []
        if let headKey, !head.isValid(signedBy: headKey) { problems.append("its signature does not verify with audit key \(headKey.keyId)") }
        if head.lastOffset != o { problems.append("it names offset \(head.lastOffset)") }
        if head.root != p.tree.root { problems.append("its Merkle root is not the root of the rows' event hashes") }
        if head.chainHash != stored.chain { problems.append("its chain hash is not this row's") }
        if format.microseconds(head.recordedTime) != micros { problems.append("its recorded time is not this row's") }
        if problems.isEmpty {
            p.lastGoodHead = o
        } else {
            say(tp, p.lastGoodHead + 1 > 0 ? p.lastGoodHead + 1 : nil,
                "the signed tree head for the first \(size) rows (to offset \(o)) does not hold: \(problems.joined(separator: "; ")); "
                    + "the rows \(since) were rewritten (the first changed row is among them)")
        }
    }

    private func deadLetter(_ item: StoredItem, in p: PartitionWalk, log: PartitionLog?) throws {
        result.deadLetters += 1
        if let n = p.checkpoint, item.offset >= n {
            say(p.partition, item.offset, "a dead letter lies beyond the checkpoint (next offset \(n)): the projector never reached this offset")
        }
        if let log, item.offset >= log.low {
            if let record = try log.take(at: item.offset) {
                result.logRecordsCompared += 1
                if EventHash.sha256(record.value) != item.eventHash {
                    say(p.partition, item.offset,
                        "the dead letter at this offset does not hold the log's record (\(Self.describe(AuditRecord(record, format: format)))): that record is neither in the trail nor truly dead-lettered")
                }
            } else {
                say(p.partition, item.offset, "a dead letter names this offset, but the log holds no record there")
            }
        }
    }

    /// Offsets `a..<b` have neither a row nor a dead letter. Offsets at or beyond the checkpoint are not yet
    /// recorded (lag) and not a finding.
    private func gap(_ p: PartitionWalk, from a: Int64, to b: Int64, atEnd: Bool) throws {
        let upper = p.checkpoint.map { min(b, $0) } ?? b
        var held = 0
        var first: ConsumedMessage? = nil
        try p.log?.consume(below: b) { record in
            if record.offset < upper {
                held += 1
                if first == nil { first = record }
            }
        }
        guard upper > a else { return }
        let range = upper - a == 1 ? "offset \(a) has" : "offsets \(a)..<\(upper) have"
        var problem: String
        if atEnd, !p.covered {
            let head = p.head == nil ? " and no chain head" : ""
            problem = "the checkpoint says offsets 0..<\(upper) were applied, but the partition has no rows\(head): its trail was deleted"
        } else if !p.covered {
            problem = "the trail of this partition starts at offset \(b): offsets 0..<\(upper) were never recorded"
        } else if atEnd {
            problem = "\(range) no row, but the checkpoint (next offset \(upper)) says they were applied: rows at the end were deleted"
        } else {
            problem = "\(range) no row although the trail goes on at offset \(b): rows were deleted"
        }
        if let log = p.log {
            if held == 0 && a >= log.low {
                return  // the log holds no record there either: nothing is missing
            }
            if let first {
                problem += "; the log holds \(held) record(s) there, the first at offset \(first.offset) (\(Self.describe(AuditRecord(first, format: format))))"
            }
            if a < log.low {
                problem += "; offsets \(a)..<\(min(upper, log.low)) are no longer in the log (retention)"
            }
        }
        say(p.partition, a, problem)
    }

    private func finish(_ p: PartitionWalk) throws {
        let tp = p.partition
        if let n = p.checkpoint {
            result.checkpointsChecked += 1
            if n > p.next { try gap(p, from: p.next, to: n, atEnd: true) }
        } else if p.covered || p.head != nil {
            say(tp, nil, "the partition has rows or a chain head but no checkpoint in mekong.checkpoints: its checkpoint was deleted, or the rows were added")
        } else {
            say(tp, nil, "no checkpoint and no rows: this partition was never applied by this database's projector")
        }
        if p.rows > 0 {
            if let head = p.head {
                if head.lastOffset != p.lastRow || head.chain != p.chain {
                    say(tp, p.lastRow, "the chain head (offset \(head.lastOffset)) does not match the last row (offset \(p.lastRow)): rows at the end were deleted or altered")
                }
            } else {
                say(tp, nil, "the partition has rows but no chain head")
            }
        } else if let head = p.head {
            say(tp, head.lastOffset, "the chain head names offset \(head.lastOffset) but the partition has no rows")
        }
        if let log = p.log {
            result.logRecordsNotYetRecorded += max(0, log.high - max(p.checkpoint ?? 0, log.low))
        }
        for size in (treeHeads?[tp] ?? [:]).keys.sorted() where size > p.tree.size {
            say(tp, nil, "a signed tree head covers \(size) rows but the partition has \(p.tree.size): rows were deleted")
            break
        }
        // The copy out of the database: every head published must still be there, as published.
        for head in (published[tp] ?? []).sorted(by: { $0.size < $1.size }) {
            let stored = try? treeHeads?[tp]?[head.size]?.get()
            guard stored != head else { continue }
            say(tp, head.size <= p.tree.size ? head.lastOffset : nil, stored == nil
                ? "the \(AuditHeadsTopic.name) topic holds a signed head for the first \(head.size) rows (to offset \(head.lastOffset)) that the database lacks: it was deleted, with the rows it covers or alone"
                : "the database's signed head for the first \(head.size) rows is not the one the \(AuditHeadsTopic.name) topic holds")
            break
        }
    }

    /// Ends the partition in progress, then checks the partitions that have a checkpoint, a chain head or are
    /// expected but have no rows.
    func finish() throws {
        if let done = current { try finish(done) }
        current = nil
        let others = Set(expected).union(checkpoints.keys).union(heads.keys).union((treeHeads ?? [:]).keys).union(published.keys)
            .subtracting(visited)
        for tp in others.sorted() {
            try finish(try start(tp))
        }
    }

    static func describe(_ record: AuditRecord) -> String {
        if let id = record.eventID { return "event \(id), event_hash \(record.hash.hex.prefix(16))…" }
        return "not a valid event, event_hash \(record.hash.hex.prefix(16))…"
    }
}

/// One row of `audit_v<N>.events`, or one dead letter of this version, as read back for verification.
struct StoredItem {
    let partition: TopicPartition
    let offset: Int64
    let isDeadLetter: Bool
    let eventID: String?
    let type: String?
    let source: String?
    let subject: String?
    /// Microseconds since the Unix epoch; nil when NULL or not finite.
    let eventMicroseconds: Int64?
    let recordedMicroseconds: Int64?
    let bytes: [UInt8]
    /// For a dead letter: SHA-256 of the refused record's value.
    let eventHash: EventHash
    let previousChain: EventHash
    let chain: EventHash
    let problem: String?

    init(_ row: PostgresRow) throws {
        partition = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
        offset = try row.decode(Int64.self, at: 2)
        isDeadLetter = try row.decode(Bool.self, at: 3)
        eventID = try row.decode(String?.self, at: 4)
        type = try row.decode(String?.self, at: 5)
        source = try row.decode(String?.self, at: 6)
        subject = try row.decode(String?.self, at: 7)
        eventMicroseconds = try row.decode(Int64?.self, at: 8)
        recordedMicroseconds = try row.decode(Int64?.self, at: 9)
        bytes = try row.decode([UInt8]?.self, at: 10) ?? []
        eventHash = EventHash(bytes: try row.decode([UInt8].self, at: 11)) ?? .zero
        previousChain = EventHash(bytes: try row.decode([UInt8]?.self, at: 12) ?? []) ?? .zero
        chain = EventHash(bytes: try row.decode([UInt8]?.self, at: 13) ?? []) ?? .zero
        problem = try row.decode(String?.self, at: 14)
    }

    /// Everything wrong with the row's own content (independent of its neighbours).
    func contentProblems(_ format: AuditChainFormat) -> [String] {
        var problems: [String] = []
        if EventHash.sha256(bytes) != eventHash {
            problems.append("event_hash is not the SHA-256 of event_bytes")
        }
        if recordedMicroseconds == nil {
            problems.append("recorded_time is not a finite time")
        }
        // From v4 a record that decodes but is not valid for its topic has its attributes and a problem: it is
        // checked like an event below. A problem without attributes says the bytes do not decode.
        if problem != nil, eventID == nil {
            if (try? CloudEvent(decoding: bytes)) != nil {
                problems.append("the row has a problem, but event_bytes decode as a valid event: the row misstates the record")
            }
            let set = [("event_id", eventID), ("event_type", type), ("source", source), ("subject", subject)]
                .filter { $0.1 != nil }.map(\.0) + (eventMicroseconds != nil ? ["event_time"] : [])
            if !set.isEmpty {
                problems.append("\(set.joined(separator: ", ")) set on a row with a problem (a record that is not a valid event has none)")
            }
            return problems
        }
        let event: CloudEvent
        do {
            event = try CloudEvent(decoding: bytes)
        } catch {
            return problems + ["event_bytes no longer decode as an event: \(error)"]
        }
        if event.canonicalJSON() != bytes {
            problems.append("event_bytes are not in canonical form")
        }
        func compare(_ column: String, _ stored: String?, _ actual: String) {
            if stored != actual {
                problems.append("\(column) is '\(stored ?? "NULL")' but the recorded event says '\(actual)'")
            }
        }
        compare("event_id", eventID, event.id)
        compare("event_type", type, event.type)
        compare("source", source, event.source)
        compare("subject", subject, event.subject)
        if eventMicroseconds != format.microseconds(event.time) {
            problems.append("event_time does not match the recorded event's time \(event.time.text)")
        }
        if let recorded = event.recordedtime, let stored = recordedMicroseconds, stored != format.microseconds(recorded) {
            problems.append("recorded_time does not match the event's recordedtime \(recorded.text)")
        }
        return problems
    }
}

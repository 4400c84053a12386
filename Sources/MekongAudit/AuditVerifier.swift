import Foundation
import MekongEvents
import MekongPostgres
import MekongProjection

/// A row (or partition) of the audit trail that does not hold up.
public struct AuditFinding: Sendable, Equatable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32
    /// The row at fault; nil when the finding concerns the partition as a whole (e.g. its chain head).
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
    public var rowsChecked = 0
    public var partitionsChecked = 0
    /// In log order per partition; capped at `AuditVerifier.maximumFindings`.
    public var findings: [AuditFinding] = []
    public var isIntact: Bool { findings.isEmpty }
    public var firstBadRow: AuditFinding? { findings.first }
}

/// Recomputes every hash and chain link of the audit trail from the stored events and compares it with what is
/// stored: a changed row, a deleted row or a changed chain head is found and named.
public struct AuditVerifier {
    public static let maximumFindings = 100
    private let db: PostgresConnection
    private let schema: String

    /// Verifies version `version` of the audit trail (schema `audit_v<version>`).
    public init(db: PostgresConnection, version: Int = 1) {
        self.db = db
        self.schema = ProjectionIdentity(name: AuditTrail.name, version: version).schema
    }

    public func verify() throws -> AuditVerification {
        var result = AuditVerification()
        var current: (topic: String, partition: Int32, last: Int64, chain: EventHash)? = nil
        var heads = try chainHeads()
        try db.transaction { db in
            try db.execute(
                """
                DECLARE audit_rows NO SCROLL CURSOR FOR
                SELECT topic, partition, kafka_offset, event_id, event_type, source, subject,
                       extract(epoch FROM event_time)::text, extract(epoch FROM recorded_time)::text,
                       event_bytes, event_hash, previous_chain_hash, chain_hash, problem
                FROM \(schema).events ORDER BY topic, partition, kafka_offset
                """)
            while true {
                let rows = try db.query("FETCH 5000 FROM audit_rows")
                if rows.isEmpty { break }
                for row in rows {
                    let topic = try row.decode(String.self, at: 0)
                    let partition = Int32(try row.decode(Int.self, at: 1))
                    let offset = try row.decode(Int64.self, at: 2)
                    if current == nil || current!.topic != topic || current!.partition != partition {
                        if let done = current {
                            check(head: heads.removeValue(forKey: "\(done.topic)\u{0}\(done.partition)"),
                                  topic: done.topic, partition: done.partition, last: done.last, chain: done.chain,
                                  into: &result)
                        }
                        current = (topic, partition, -1, .zero)
                        result.partitionsChecked += 1
                        if offset != 0, result.findings.count < Self.maximumFindings {
                            result.findings.append(AuditFinding(
                                topic: topic, partition: partition, offset: offset, eventID: nil,
                                problem: "the trail of this partition starts at offset \(offset): offsets 0..<\(offset) were never recorded"))
                        }
                    }
                    result.rowsChecked += 1
                    let stored = try StoredRow(row)
                    let say = { (problem: String) in
                        if result.findings.count < Self.maximumFindings {
                            result.findings.append(AuditFinding(
                                topic: topic, partition: partition, offset: offset, eventID: stored.eventID,
                                problem: problem))
                        }
                    }
                    if offset <= current!.last {
                        say("offset is not after the previous row's offset \(current!.last)")
                    }
                    for problem in stored.contentProblems() { say(problem) }
                    if stored.previousChain != current!.chain {
                        let before = current!.last >= 0 ? "the row at offset \(current!.last)" : "the start of the partition"
                        say("previous_chain_hash does not link to \(before): a row in between was deleted or altered")
                    }
                    let link = AuditLink(offset: offset, eventHash: stored.eventHash, previous: stored.previousChain)
                    if link.chain != stored.chain {
                        say("chain_hash is not SHA-256(previous_chain_hash ‖ offset ‖ event_hash)")
                    }
                    // Continue from what is stored, so that one altered row is reported once, not for every row after.
                    current = (topic, partition, offset, stored.chain)
                }
            }
            try db.execute("CLOSE audit_rows")
        }
        if let done = current {
            check(head: heads.removeValue(forKey: "\(done.topic)\u{0}\(done.partition)"), topic: done.topic,
                  partition: done.partition, last: done.last, chain: done.chain, into: &result)
        }
        for (_, head) in heads.sorted(by: { $0.key < $1.key }) {
            result.findings.append(AuditFinding(
                topic: head.topic, partition: head.partition, offset: head.lastOffset, eventID: nil,
                problem: "the chain head names offset \(head.lastOffset) but the partition has no rows"))
        }
        return result
    }

    private struct Head {
        let topic: String
        let partition: Int32
        let lastOffset: Int64
        let chain: EventHash
    }

    private func chainHeads() throws -> [String: Head] {
        var heads: [String: Head] = [:]
        for row in try db.query("SELECT topic, partition, last_offset, chain_hash FROM \(schema).chain_heads") {
            let head = Head(
                topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)),
                lastOffset: try row.decode(Int64.self, at: 2),
                chain: EventHash(bytes: try row.decode([UInt8].self, at: 3)) ?? .zero)
            heads["\(head.topic)\u{0}\(head.partition)"] = head
        }
        return heads
    }

    private func check(head: Head?, topic: String, partition: Int32, last: Int64, chain: EventHash,
                       into result: inout AuditVerification)
    {
        guard let head else {
            result.findings.append(AuditFinding(
                topic: topic, partition: partition, offset: nil, eventID: nil,
                problem: "the partition has rows but no chain head"))
            return
        }
        if head.lastOffset != last || head.chain != chain {
            result.findings.append(AuditFinding(
                topic: topic, partition: partition, offset: last, eventID: nil,
                problem: "the chain head (offset \(head.lastOffset)) does not match the last row (offset \(last)): "
                    + "rows at the end were deleted or altered"))
        }
    }
}

/// One row of `audit_v1.events` as read back for verification.
private struct StoredRow {
    let eventID: String?
    let type: String?
    let source: String?
    let subject: String?
    let eventTime: Double?
    let recordedTime: Double
    let bytes: [UInt8]
    let eventHash: EventHash
    let previousChain: EventHash
    let chain: EventHash
    let problem: String?

    init(_ row: PostgresRow) throws {
        eventID = try row.decode(String?.self, at: 3)
        type = try row.decode(String?.self, at: 4)
        source = try row.decode(String?.self, at: 5)
        subject = try row.decode(String?.self, at: 6)
        eventTime = try row.decode(String?.self, at: 7).flatMap(Double.init)
        recordedTime = Double(try row.decode(String.self, at: 8)) ?? .nan
        bytes = try row.decode([UInt8].self, at: 9)
        eventHash = EventHash(bytes: try row.decode([UInt8].self, at: 10)) ?? .zero
        previousChain = EventHash(bytes: try row.decode([UInt8].self, at: 11)) ?? .zero
        chain = EventHash(bytes: try row.decode([UInt8].self, at: 12)) ?? .zero
        problem = try row.decode(String?.self, at: 13)
    }

    /// Everything wrong with the row's own content (independent of its neighbours).
    func contentProblems() -> [String] {
        var problems: [String] = []
        if EventHash.sha256(bytes) != eventHash {
            problems.append("event_hash is not the SHA-256 of event_bytes")
        }
        guard problem == nil else { return problems }
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
        if let eventTime, abs(eventTime - event.time.date.timeIntervalSince1970) < 0.000_002 {
        } else {
            problems.append("event_time does not match the recorded event's time \(event.time.text)")
        }
        if let recorded = event.recordedtime,
            abs(recordedTime - recorded.date.timeIntervalSince1970) >= 0.000_002
        {
            problems.append("recorded_time does not match the event's recordedtime \(recorded.text)")
        }
        return problems
    }
}

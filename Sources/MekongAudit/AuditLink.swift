import MekongEvents

/// How a version of the audit trail links its rows (docs/audit-trail.md, "The chain").
public enum AuditChainFormat: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// Audit v1 and v2: `SHA-256(previous ‖ offset ‖ event_hash)`. `recorded_time` and `problem` are outside the
    /// chain; timestamps are stored rounded to the microsecond (ties to even).
    case offsetAndHash = 1
    /// Audit v3 and later: the link also covers `recorded_time`, `problem`, the partition and the topic, so every
    /// stored column is under the chain or follows from `event_bytes`. Timestamps are truncated to the microsecond.
    case everyColumn = 3

    /// The format that version `version` of the audit projection writes.
    public init(projectionVersion version: Int) {
        self = version >= 3 ? .everyColumn : .offsetAndHash
    }

    public var description: String {
        switch self {
        case .offsetAndHash: "SHA-256(previous_chain_hash ‖ offset ‖ event_hash)"
        case .everyColumn:
            "SHA-256(previous_chain_hash ‖ offset ‖ event_hash ‖ recorded_time µs ‖ SHA-256(problem) ‖ partition ‖ topic)"
        }
    }

    /// The microseconds since 1970-01-01T00:00:00Z that this format stores in a `timestamptz` column for `time`,
    /// and (in `.everyColumn`) hashes: exactly what PostgreSQL holds, so that hashing what is read back gives the
    /// same link.
    public func microseconds(_ time: Timestamp) -> Int64 {
        let whole = time.epochSeconds * 1_000_000 + Int64(time.nanoseconds / 1000)
        switch self {
        case .everyColumn:
            return whole  // nanoseconds are never negative: this is the floor
        case .offsetAndHash:
            // As CopyBinary.timestamp(epochSeconds:nanoseconds:) rounds, which is how v1 and v2 rows were written.
            let remainder = time.nanoseconds % 1000
            let roundUp = remainder > 500 || (remainder == 500 && whole % 2 != 0)
            return whole + (roundUp ? 1 : 0)
        }
    }
}

/// One link of a partition's hash chain: what the audit trail stores per event.
public struct AuditLink: Sendable, Equatable {
    public let format: AuditChainFormat
    public let offset: Int64
    public let eventHash: EventHash
    public let previous: EventHash
    /// `.offsetAndHash`: SHA-256(previous ‖ offset as int64 big-endian ‖ eventHash).
    ///
    /// `.everyColumn`: SHA-256(previous ‖ offset as int64 big-endian ‖ eventHash ‖ recorded time as int64
    /// big-endian microseconds since the Unix epoch ‖ SHA-256 of the problem's UTF-8, or 32 zero bytes when there is
    /// none ‖ partition as int32 big-endian ‖ topic's UTF-8). Every part but the last has a fixed length, so the
    /// input is unambiguous. Binds each record to its place, to its recorded time and verdict, and to every record
    /// before it in the partition.
    public let chain: EventHash

    /// A link in the v1/v2 format (`.offsetAndHash`).
    public init(offset: Int64, eventHash: EventHash, previous: EventHash) {
        self.init(
            format: .offsetAndHash, topic: "", partition: 0, offset: offset, eventHash: eventHash,
            recordedMicroseconds: 0, problem: nil, previous: previous)
    }

    /// A link in `format`; `recordedMicroseconds` is `format.microseconds(recordedTime)`, as stored.
    public init(
        format: AuditChainFormat, topic: String, partition: Int32, offset: Int64, eventHash: EventHash,
        recordedMicroseconds: Int64, problem: String?, previous: EventHash
    ) {
        self.format = format
        self.offset = offset
        self.eventHash = eventHash
        self.previous = previous
        var input = previous.bytes
        switch format {
        case .offsetAndHash:
            input.reserveCapacity(72)
            withUnsafeBytes(of: offset.bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: eventHash.bytes)
        case .everyColumn:
            input.reserveCapacity(116 + topic.utf8.count)
            withUnsafeBytes(of: offset.bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: eventHash.bytes)
            withUnsafeBytes(of: recordedMicroseconds.bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: problem.map { EventHash.sha256(Array($0.utf8)) }?.bytes ?? EventHash.zero.bytes)
            withUnsafeBytes(of: partition.bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: topic.utf8)
        }
        chain = EventHash.sha256(input)
    }
}

import MekongEvents

/// One link of a partition's hash chain: what the audit trail stores per event.
public struct AuditLink: Sendable, Equatable {
    public let offset: Int64
    public let eventHash: EventHash
    public let previous: EventHash
    /// SHA-256(previous ‖ offset as int64 big-endian ‖ eventHash): binds each event to its position and to every
    /// event before it in the partition.
    public let chain: EventHash

    public init(offset: Int64, eventHash: EventHash, previous: EventHash) {
        self.offset = offset
        self.eventHash = eventHash
        self.previous = previous
        var input = previous.bytes
        input.reserveCapacity(72)
        withUnsafeBytes(of: offset.bigEndian) { input.append(contentsOf: $0) }
        input.append(contentsOf: eventHash.bytes)
        chain = EventHash.sha256(input)
    }
}

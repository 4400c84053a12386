import Crypto

/// A SHA-256 digest identifying an event's canonical form, and the link type of the per-partition
/// hash chain in the audit projection.
public struct EventHash: Sendable, Hashable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// 32 zero bytes: the chain value before a partition's first event.
    public static let zero = EventHash(unchecked: [UInt8](repeating: 0, count: 32))

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Wraps 32 digest bytes; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Parses 64 hex digits (either case); `nil` for anything else.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = Hex.value(of: utf8[index]), let low = Hex.value(of: utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.bytes = bytes
    }

    /// SHA-256 of `data`.
    public static func sha256(_ data: some Collection<UInt8>) -> EventHash {
        var hasher = SHA256()
        let hashed: Void? = data.withContiguousStorageIfAvailable { buffer in
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
        }
        if hashed == nil {
            Array(data).withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return EventHash(unchecked: Array(hasher.finalize()))
    }

    /// SHA-256 over bytes given piece by piece (a file read in chunks).
    public struct Hasher {
        private var sha = SHA256()

        public init() {}

        public mutating func update(_ data: [UInt8]) {
            data.withUnsafeBytes { sha.update(bufferPointer: $0) }
        }

        public func finalize() -> EventHash {
            EventHash(unchecked: Array(sha.finalize()))
        }
    }

    /// SHA-256(`self.bytes` || `next.bytes`). Not the audit trail's chain, which also binds each event's offset:
    /// see `MekongAudit.AuditLink`.
    public func chained(with next: EventHash) -> EventHash {
        EventHash.sha256(bytes + next.bytes)
    }

    /// 64 lowercase hex digits.
    public var hex: String { Hex.encode(bytes) }

    /// The hex form.
    public var description: String { hex }
}

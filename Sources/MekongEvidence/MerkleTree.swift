import MekongEvents

/// The RFC 6962 (Certificate Transparency) Merkle tree hash of an ordered list of event hashes: what the gateway's
/// reconciliation answer and a source's own log must agree on.
///
/// leaf = SHA-256(0x00 ‖ hash), node = SHA-256(0x01 ‖ left ‖ right), split at the largest power of two smaller than
/// the count; the empty list's root is SHA-256 of nothing.
public enum MerkleTree {
    public static func root(of hashes: [EventHash]) -> EventHash {
        if hashes.isEmpty { return EventHash.sha256([UInt8]()) }
        return root(hashes[...])
    }

    private static func root(_ hashes: ArraySlice<EventHash>) -> EventHash {
        if hashes.count == 1 { return EventHash.sha256([0x00] + hashes.first!.bytes) }
        var split = 1
        while split * 2 < hashes.count { split *= 2 }
        let left = root(hashes.prefix(split))
        let right = root(hashes.dropFirst(split))
        return EventHash.sha256([0x01] + left.bytes + right.bytes)
    }
}

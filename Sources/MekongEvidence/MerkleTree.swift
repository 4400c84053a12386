import Crypto
import Foundation
import MekongEvents

/// The RFC 6962 (Certificate Transparency) Merkle tree hash of an ordered list of event hashes: what the gateway's
/// reconciliation answer and a source's own log must agree on, and what a source signs for a whole batch.
///
/// leaf = SHA-256(0x00 ‖ hash), node = SHA-256(0x01 ‖ left ‖ right), split at the largest power of two smaller than
/// the count; the empty list's root is SHA-256 of nothing.
public enum MerkleTree {
    public static func root(of hashes: [EventHash]) -> EventHash {
        if hashes.isEmpty { return EventHash.sha256([UInt8]()) }
        return root(hashes[...])
    }

    /// Every hash's inclusion proof (RFC 6962 §2.1.1 audit path, leaf end first), in the order of `hashes`, and the
    /// root they lead to: O(n log n) for the whole list.
    public static func inclusionProofs(of hashes: [EventHash]) -> (root: EventHash, proofs: [InclusionProof]) {
        guard !hashes.isEmpty else { return (root(of: hashes), []) }
        var paths = Array(repeating: [EventHash](), count: hashes.count)
        let top = subtree(hashes[...], paths: &paths)
        return (top, paths.enumerated().map { InclusionProof(index: $0.offset, size: hashes.count, path: $0.element) })
    }

    /// The root a leaf's proof leads to (RFC 9162 §2.1.3.2), or nil when the proof's shape does not fit its size.
    public static func root(of hash: EventHash, proof: InclusionProof) -> EventHash? {
        guard proof.index >= 0, proof.index < proof.size else { return nil }
        var index = proof.index
        var last = proof.size - 1
        var node = leaf(hash)
        for sibling in proof.path {
            guard last != 0 else { return nil }
            if index & 1 == 1 || index == last {
                node = parent(sibling, node)
                if index & 1 == 0 {
                    while index & 1 == 0 && index != 0 {
                        index >>= 1
                        last >>= 1
                    }
                }
            } else {
                node = parent(node, sibling)
            }
            index >>= 1
            last >>= 1
        }
        return last == 0 ? node : nil
    }

    private static let leafPrefix: [UInt8] = [0x00]
    private static let nodePrefix: [UInt8] = [0x01]

    static func leaf(_ hash: EventHash) -> EventHash {
        var hasher = SHA256()
        hasher.update(data: leafPrefix)
        hasher.update(data: hash.bytes)
        return EventHash(bytes: Array(hasher.finalize()))!
    }

    static func parent(_ left: EventHash, _ right: EventHash) -> EventHash {
        var hasher = SHA256()
        hasher.update(data: nodePrefix)
        hasher.update(data: left.bytes)
        hasher.update(data: right.bytes)
        return EventHash(bytes: Array(hasher.finalize()))!
    }

    private static func split(_ count: Int) -> Int {
        var split = 1
        while split * 2 < count { split *= 2 }
        return split
    }

    private static func root(_ hashes: ArraySlice<EventHash>) -> EventHash {
        if hashes.count == 1 { return leaf(hashes.first!) }
        let split = split(hashes.count)
        return parent(root(hashes.prefix(split)), root(hashes.dropFirst(split)))
    }

    /// The subtree's root; appends the sibling at this level to the path of every leaf below.
    private static func subtree(_ hashes: ArraySlice<EventHash>, paths: inout [[EventHash]]) -> EventHash {
        if hashes.count == 1 { return leaf(hashes.first!) }
        let middle = hashes.startIndex + split(hashes.count)
        let left = subtree(hashes[..<middle], paths: &paths)
        let right = subtree(hashes[middle...], paths: &paths)
        for index in hashes.startIndex..<middle { paths[index].append(right) }
        for index in middle..<hashes.endIndex { paths[index].append(left) }
        return parent(left, right)
    }
}

/// A Merkle tree that grows one hash at a time, kept as its frontier: the roots of its perfect subtrees, largest
/// first (at most one per bit of the size). Its ``root`` is ``MerkleTree/root(of:)`` of every hash appended, without
/// keeping them: what the audit trail signs for a partition that only grows.
public struct MerkleFrontier: Sendable, Equatable {
    public private(set) var size: Int64
    /// The perfect subtrees' roots, largest (leftmost) first.
    public private(set) var nodes: [EventHash]

    public init() {
        size = 0
        nodes = []
    }

    /// A frontier as ``bytes`` stored it, for a tree of `size` hashes; nil if they do not fit.
    public init?(size: Int64, bytes: [UInt8]) {
        guard size >= 0, bytes.count == size.nonzeroBitCount * 32 else { return nil }
        self.size = size
        nodes = stride(from: 0, to: bytes.count, by: 32).map { EventHash(bytes: Array(bytes[$0..<$0 + 32]))! }
    }

    /// The nodes' 32 bytes each, concatenated.
    public var bytes: [UInt8] { nodes.flatMap(\.bytes) }

    public mutating func append(_ hash: EventHash) {
        var node = MerkleTree.leaf(hash)
        // Each trailing one bit of the old size is a perfect subtree of the new node's size: merge with it.
        var merged = size
        while merged & 1 == 1 {
            node = MerkleTree.parent(nodes.removeLast(), node)
            merged >>= 1
        }
        nodes.append(node)
        size += 1
    }

    /// The RFC 6962 root of every hash appended (SHA-256 of nothing for none).
    public var root: EventHash {
        guard var root = nodes.last else { return EventHash.sha256([UInt8]()) }
        for node in nodes.dropLast().reversed() { root = MerkleTree.parent(node, root) }
        return root
    }
}

/// Where one hash sits in a Merkle tree and the sibling hashes from it up to the root (RFC 6962 §2.1.1).
///
/// Text form, as the `signatureproof` event attribute and the gateway's answers carry it:
/// `<index>/<size>:<base64 of the path's 32-byte hashes, leaf end first>`, e.g. `2/5:q83v…`; a tree of one has the
/// proof `0/1:`.
public struct InclusionProof: Sendable, Equatable {
    public let index: Int
    public let size: Int
    public let path: [EventHash]

    public init(index: Int, size: Int, path: [EventHash]) {
        self.index = index
        self.size = size
        self.path = path
    }

    /// Reads the text form; nil if it is not one.
    public init?(text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let position = parts[0].split(separator: "/", omittingEmptySubsequences: false)
        guard position.count == 2, position.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let index = Int(position[0]), let size = Int(position[1]), index < size,
            let bytes = Data(base64Encoded: String(parts[1])), bytes.count % 32 == 0, bytes.count / 32 <= 40
        else { return nil }
        let raw = [UInt8](bytes)
        self.init(index: index, size: size, path: stride(from: 0, to: raw.count, by: 32).map {
            EventHash(bytes: Array(raw[$0..<$0 + 32]))!
        })
    }

    public var text: String {
        "\(index)/\(size):" + Data(path.flatMap(\.bytes)).base64EncodedString()
    }
}

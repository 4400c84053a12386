import MekongEvents

/// A signed statement of what one partition of the audit trail held after its first `size` rows: the Merkle root of
/// their event hashes, the chain hash of the last of them, and that row's offset and recorded time. Signed with the
/// audit key, which the database does not hold: whoever rewrites the rows and recomputes every chain hash cannot sign
/// the heads again (docs/audit-trail.md, "Signed tree heads").
public struct SignedTreeHead: Sendable, Equatable {
    public static let version = 1

    public let topic: String
    public let partition: Int32
    /// Rows covered: the partition's first `size` rows in offset order.
    public let size: Int64
    /// The offset of the last row covered.
    public let lastOffset: Int64
    /// RFC 6962 root of the covered rows' `event_hash`es, in offset order.
    public let root: EventHash
    /// The `chain_hash` of the last row covered.
    public let chainHash: EventHash
    /// That row's `recorded_time` (so that rebuilding the trail signs the same heads).
    public let recordedTime: Timestamp
    public let keyId: String
    /// Ed25519 by the audit key over the canonical JSON of the head without `signature`.
    public private(set) var signature: String

    /// Signs a new head.
    public init(
        topic: String, partition: Int32, size: Int64, lastOffset: Int64, root: EventHash, chainHash: EventHash,
        recordedTime: Timestamp, signedBy key: SigningKey
    ) {
        self.topic = topic
        self.partition = partition
        self.size = size
        self.lastOffset = lastOffset
        self.root = root
        self.chainHash = chainHash
        self.recordedTime = recordedTime
        self.keyId = key.keyId
        self.signature = ""
        self.signature = key.sign(CanonicalJSON.encode(.object(unsignedObject)))
    }

    /// Reads a head's JSON (as `audit_v4.tree_heads.head` and the `audit-heads` export hold it).
    public init(json: JSONValue) throws(EvidenceError) {
        let fields = ReceiptFields(json, name: "tree head")
        guard try fields.integer("treeHeadVersion") == Int64(Self.version) else {
            throw EvidenceError(.invalidReceipt, "treeHeadVersion", "must be \(Self.version)")
        }
        topic = try fields.string("topic")
        partition = Int32(clamping: try fields.integer("partition"))
        size = try fields.integer("size")
        lastOffset = try fields.integer("lastOffset")
        root = try fields.hash("root")
        chainHash = try fields.hash("chainHash")
        recordedTime = try fields.timestamp("recordedTime")
        keyId = try fields.string("keyId")
        signature = try fields.string("signature")
    }

    /// Whether `key` (the audit key, by id) signed this head's content.
    public func isValid(signedBy key: VerifyingKey) -> Bool {
        key.keyId == keyId && key.isValidSignature(signature, for: CanonicalJSON.encode(.object(unsignedObject)))
    }

    public var json: JSONValue {
        var object = unsignedObject
        object["signature"] = .string(signature)
        return .object(object)
    }

    private var unsignedObject: JSONObject {
        [
            "treeHeadVersion": .number(Double(Self.version)), "topic": .string(topic),
            "partition": .number(Double(partition)), "size": .number(Double(size)),
            "lastOffset": .number(Double(lastOffset)), "root": .string(root.hex), "chainHash": .string(chainHash.hex),
            "recordedTime": .string(recordedTime.text), "keyId": .string(keyId),
        ]
    }
}

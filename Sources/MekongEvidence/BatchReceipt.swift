import MekongEvents

/// The gateway's one signed statement for a signed batch (``BatchSignature``): the batch root the source signed, the
/// source's signature over it, and the root of where each event is in Kafka, when (recorded time), from whom.
///
/// Each event stays provable alone with an ``EventInclusion``: its event's `signatureproof` leads to `batchRoot`,
/// its ``Placement``'s proof leads to `placementsRoot`, and this receipt's signature covers both roots.
public struct BatchReceipt: Sendable, Equatable {
    /// Where one event of the batch was written; a leaf of `placementsRoot`.
    public struct Placement: Sendable, Equatable {
        public let eventId: String
        /// ``CloudEvent/submittedHash`` of the event (as the source sent it, signature and proof included).
        public let eventHash: EventHash
        public let topic: String
        public let partition: Int
        public let offset: Int64

        public init(eventId: String, eventHash: EventHash, topic: String, partition: Int, offset: Int64) {
            self.eventId = eventId
            self.eventHash = eventHash
            self.topic = topic
            self.partition = partition
            self.offset = offset
        }

        /// The leaf hashed into `placementsRoot`: SHA-256 of this placement's canonical JSON.
        public var hash: EventHash { EventHash.sha256(CanonicalJSON.encode(.object(object))) }

        var object: JSONObject {
            [
                "eventId": .string(eventId), "eventHash": .string(eventHash.hex), "topic": .string(topic),
                "partition": .number(Double(partition)), "offset": .number(Double(offset)),
            ]
        }
    }

    public static let version = 1

    /// The Merkle root of the events' ``CloudEvent/signingHash``es, in batch order: what the source signed.
    public let batchRoot: EventHash
    /// The source's key id and its ``BatchSignature`` over `batchRoot`.
    public let sourceKey: String
    public let sourceSignature: String
    /// Events in the batch.
    public let count: Int
    /// The Merkle root of the placements' hashes, in batch order.
    public let placementsRoot: EventHash
    /// SHA-256 of the HTTP request body.
    public let requestHash: EventHash
    public let recordedTime: Timestamp
    /// The registered source id.
    public let source: String
    public let gatewayKey: String
    /// Ed25519 by the gateway key over the canonical JSON of the receipt without `signature`.
    public private(set) var signature: String

    /// Signs a batch receipt; also gives each placement its proof into `placementsRoot`.
    public static func sign(
        batchRoot: EventHash, sourceKey: String, sourceSignature: String, placements: [Placement],
        requestHash: EventHash, recordedTime: Timestamp, source: String, signedBy key: SigningKey
    ) -> (receipt: BatchReceipt, proofs: [InclusionProof]) {
        let (root, proofs) = MerkleTree.inclusionProofs(of: placements.map(\.hash))
        var receipt = BatchReceipt(
            batchRoot: batchRoot, sourceKey: sourceKey, sourceSignature: sourceSignature, count: placements.count,
            placementsRoot: root, requestHash: requestHash, recordedTime: recordedTime, source: source,
            gatewayKey: key.keyId, signature: "")
        receipt.signature = key.sign(CanonicalJSON.encode(.object(receipt.unsignedObject)))
        return (receipt, proofs)
    }

    private init(
        batchRoot: EventHash, sourceKey: String, sourceSignature: String, count: Int, placementsRoot: EventHash,
        requestHash: EventHash, recordedTime: Timestamp, source: String, gatewayKey: String, signature: String
    ) {
        self.batchRoot = batchRoot
        self.sourceKey = sourceKey
        self.sourceSignature = sourceSignature
        self.count = count
        self.placementsRoot = placementsRoot
        self.requestHash = requestHash
        self.recordedTime = recordedTime
        self.source = source
        self.gatewayKey = gatewayKey
        self.signature = signature
    }

    /// Reads a batch receipt's JSON.
    public init(json: JSONValue) throws(EvidenceError) {
        let fields = ReceiptFields(json, name: "batch receipt")
        guard try fields.integer("batchReceiptVersion") == Int64(Self.version) else {
            throw EvidenceError(.invalidReceipt, "batchReceiptVersion", "must be \(Self.version)")
        }
        self.init(
            batchRoot: try fields.hash("batchRoot"), sourceKey: try fields.string("sourceKey"),
            sourceSignature: try fields.string("sourceSignature"), count: Int(try fields.integer("count")),
            placementsRoot: try fields.hash("placementsRoot"), requestHash: try fields.hash("requestHash"),
            recordedTime: try fields.timestamp("recordedTime"), source: try fields.string("source"),
            gatewayKey: try fields.string("gatewayKey"), signature: try fields.string("signature"))
    }

    /// Whether the signature is `key`'s over this receipt's content (and `key` is the one the receipt names).
    public func isValid(signedBy key: VerifyingKey) -> Bool {
        key.keyId == gatewayKey && key.isValidSignature(signature, for: CanonicalJSON.encode(.object(unsignedObject)))
    }

    /// Whether the source's batch signature verifies with `key` (the source's public key).
    public func hasValidSourceSignature(by key: VerifyingKey) -> Bool {
        key.keyId == sourceKey && BatchSignature.isValid(sourceSignature, root: batchRoot, key: key)
    }

    public var json: JSONValue {
        var object = unsignedObject
        object["signature"] = .string(signature)
        return .object(object)
    }

    private var unsignedObject: JSONObject {
        [
            "batchReceiptVersion": .number(Double(Self.version)), "batchRoot": .string(batchRoot.hex),
            "sourceKey": .string(sourceKey), "sourceSignature": .string(sourceSignature),
            "count": .number(Double(count)), "placementsRoot": .string(placementsRoot.hex),
            "requestHash": .string(requestHash.hex), "recordedTime": .string(recordedTime.text),
            "source": .string(source), "gatewayKey": .string(gatewayKey),
        ]
    }
}

/// The evidence for one event of a signed batch: the batch receipt, where the event was written and the proof of
/// that placement. With the event itself (its `signatureproof`) a third party checks, alone: the gateway signed the
/// receipt, the placement is in it, and the source signed a batch that holds the event.
public struct EventInclusion: Sendable, Equatable {
    public let batchReceipt: BatchReceipt
    public let placement: BatchReceipt.Placement
    /// The placement's proof into `batchReceipt.placementsRoot`.
    public let proof: InclusionProof

    public init(batchReceipt: BatchReceipt, placement: BatchReceipt.Placement, proof: InclusionProof) {
        self.batchReceipt = batchReceipt
        self.placement = placement
        self.proof = proof
    }

    /// Reads `{"batchReceipt": …, "eventId", "eventHash", "topic", "partition", "offset", "proof"}`.
    public init(json: JSONValue) throws(EvidenceError) {
        guard let receipt = json["batchReceipt"] else {
            throw EvidenceError(.invalidReceipt, "batchReceipt", "is missing")
        }
        batchReceipt = try BatchReceipt(json: receipt)
        let fields = ReceiptFields(json, name: "event inclusion")
        placement = BatchReceipt.Placement(
            eventId: try fields.string("eventId"), eventHash: try fields.hash("eventHash"),
            topic: try fields.string("topic"), partition: Int(try fields.integer("partition")),
            offset: try fields.integer("offset"))
        guard let proof = InclusionProof(text: try fields.string("proof")) else {
            throw EvidenceError(.invalidReceipt, "proof", "is not '<index>/<size>:<base64 path>'")
        }
        self.proof = proof
    }

    public var json: JSONValue {
        var object = placement.object
        object["batchReceipt"] = batchReceipt.json
        object["proof"] = .string(proof.text)
        return .object(object)
    }

    /// What does not hold, empty when everything does: the gateway's signature, the placement's proof, and with
    /// `event` that it is the event placed (its hash) and in the signed batch (its proof leads to the batch root),
    /// and with `sourceKey` the source's batch signature.
    public func problems(gatewayKey: VerifyingKey, event: CloudEvent? = nil, sourceKey: VerifyingKey? = nil) -> [String] {
        var problems: [String] = []
        if !batchReceipt.isValid(signedBy: gatewayKey) {
            problems.append("batch receipt signature does not verify with \(gatewayKey.keyId)")
        }
        if proof.size != batchReceipt.count || MerkleTree.root(of: placement.hash, proof: proof) != batchReceipt.placementsRoot {
            problems.append("the placement's proof does not lead to the receipt's placementsRoot")
        }
        if let event {
            if event.id != placement.eventId { problems.append("the event is \(event.id), the placement \(placement.eventId)") }
            if event.submittedHash != placement.eventHash { problems.append("eventHash differs from the event sent") }
            let root = event.signatureproof.flatMap(InclusionProof.init(text:)).flatMap {
                MerkleTree.root(of: event.signingHash, proof: $0)
            }
            if root != batchReceipt.batchRoot { problems.append("the event's signatureproof does not lead to batchRoot") }
        }
        if let sourceKey, !batchReceipt.hasValidSourceSignature(by: sourceKey) {
            problems.append("the source's batch signature does not verify with \(sourceKey.keyId)")
        }
        return problems
    }
}

/// Typed reads of a receipt document's fields, each failure naming the field.
struct ReceiptFields {
    let object: JSONObject?
    let name: String

    init(_ json: JSONValue, name: String) {
        self.object = json.objectValue
        self.name = name
    }

    func string(_ field: String) throws(EvidenceError) -> String {
        guard let object else { throw EvidenceError(.invalidReceipt, name, "is not an object") }
        guard let value = object[field]?.stringValue else {
            throw EvidenceError(.invalidReceipt, field, "is missing or not a string")
        }
        return value
    }

    func integer(_ field: String) throws(EvidenceError) -> Int64 {
        guard let object else { throw EvidenceError(.invalidReceipt, name, "is not an object") }
        guard let value = object[field]?.integerValue else {
            throw EvidenceError(.invalidReceipt, field, "is missing or not an integer")
        }
        return value
    }

    func hash(_ field: String) throws(EvidenceError) -> EventHash {
        guard let value = EventHash(hex: try string(field)) else {
            throw EvidenceError(.invalidReceipt, field, "is not 64 hex digits")
        }
        return value
    }

    func timestamp(_ field: String) throws(EvidenceError) -> Timestamp {
        guard let value = Timestamp(rfc3339: try string(field)) else {
            throw EvidenceError(.invalidReceipt, field, "is not an RFC 3339 timestamp")
        }
        return value
    }
}

/// The gateway's evidence for one event, of either kind: a ``Receipt`` (written alone) or an ``EventInclusion``
/// (written in a signed batch). What `mekong receipt verify` and `mekong reconcile` read, one per line.
public enum EventEvidence: Sendable, Equatable {
    case receipt(Receipt)
    case inclusion(EventInclusion)

    /// Reads either document (an inclusion has `batchReceipt`).
    public init(json: JSONValue) throws(EvidenceError) {
        self = json["batchReceipt"] != nil ? .inclusion(try EventInclusion(json: json)) : .receipt(try Receipt(json: json))
    }

    public var eventId: String {
        switch self {
        case .receipt(let receipt): receipt.eventId
        case .inclusion(let inclusion): inclusion.placement.eventId
        }
    }

    public var eventHash: EventHash {
        switch self {
        case .receipt(let receipt): receipt.eventHash
        case .inclusion(let inclusion): inclusion.placement.eventHash
        }
    }

    public var recordedTime: Timestamp {
        switch self {
        case .receipt(let receipt): receipt.recordedTime
        case .inclusion(let inclusion): inclusion.batchReceipt.recordedTime
        }
    }

    /// `topic[partition]@offset`.
    public var placement: String {
        switch self {
        case .receipt(let receipt): "\(receipt.topic)[\(receipt.partition)]@\(receipt.offset)"
        case .inclusion(let inclusion):
            "\(inclusion.placement.topic)[\(inclusion.placement.partition)]@\(inclusion.placement.offset)"
        }
    }

    /// What does not hold (empty when everything does): the gateway's signature, and with `event` that it is the
    /// event the evidence names (for an inclusion, also its proofs; with `sourceKey`, the source's batch signature).
    public func problems(gatewayKey: VerifyingKey, event: CloudEvent? = nil, sourceKey: VerifyingKey? = nil) -> [String] {
        switch self {
        case .receipt(let receipt):
            var problems: [String] = []
            if !receipt.isValid(signedBy: gatewayKey) { problems.append("signature does not verify with \(gatewayKey.keyId)") }
            if let event, event.submittedHash != receipt.eventHash { problems.append("eventHash differs from the event sent") }
            return problems
        case .inclusion(let inclusion):
            return inclusion.problems(gatewayKey: gatewayKey, event: event, sourceKey: sourceKey)
        }
    }
}

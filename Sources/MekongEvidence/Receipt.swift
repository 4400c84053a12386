import MekongEvents

/// The gateway's signed statement that it wrote an event to Kafka: what was received (event and request hashes),
/// where it is (topic, partition, offset), when (recorded time) and from whom. Verifiable offline with the gateway's
/// public key (`mekong receipt verify`).
public struct Receipt: Sendable, Equatable {
    /// One event a batch receipt also covers (survey chunks).
    public struct Part: Sendable, Equatable {
        public let eventId: String
        public let eventHash: EventHash
        public let partition: Int
        public let offset: Int64

        public init(eventId: String, eventHash: EventHash, partition: Int, offset: Int64) {
            self.eventId = eventId
            self.eventHash = eventHash
            self.partition = partition
            self.offset = offset
        }
    }

    public static let version = 1

    public let eventId: String
    /// ``CloudEvent/submittedHash`` of the event.
    public let eventHash: EventHash
    /// SHA-256 of the HTTP request body that carried it.
    public let requestHash: EventHash
    public let topic: String
    public let partition: Int
    public let offset: Int64
    /// The `recordedtime` the gateway gave the event.
    public let recordedTime: Timestamp
    /// The registered source id.
    public let source: String
    /// The id of the gateway key that signed the receipt.
    public let gatewayKey: String
    /// Other events the receipt covers (the chunks of a survey batch); empty otherwise.
    public let contains: [Part]
    /// Ed25519 by the gateway key over the canonical JSON of the receipt without `signature`.
    public private(set) var signature: String

    /// Signs a new receipt.
    public init(
        eventId: String, eventHash: EventHash, requestHash: EventHash, topic: String, partition: Int,
        offset: Int64, recordedTime: Timestamp, source: String, contains: [Part] = [], signedBy key: SigningKey
    ) {
        let draft = Receipt(
            eventId: eventId, eventHash: eventHash, requestHash: requestHash, topic: topic, partition: partition,
            offset: offset, recordedTime: recordedTime, source: source, gatewayKey: key.keyId, contains: contains,
            signature: "")
        self = draft
        self.signature = key.sign(CanonicalJSON.encode(.object(draft.unsignedObject)))
    }

    private init(
        eventId: String, eventHash: EventHash, requestHash: EventHash, topic: String, partition: Int,
        offset: Int64, recordedTime: Timestamp, source: String, gatewayKey: String, contains: [Part], signature: String
    ) {
        self.eventId = eventId
        self.eventHash = eventHash
        self.requestHash = requestHash
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.recordedTime = recordedTime
        self.source = source
        self.gatewayKey = gatewayKey
        self.contains = contains
        self.signature = signature
    }

    /// Reads a receipt's JSON (as the gateway answers it or `mekong publish` stores it).
    public init(json: JSONValue) throws(EvidenceError) {
        let fields = ReceiptFields(json, name: "receipt")
        guard try fields.integer("receiptVersion") == Int64(Self.version) else {
            throw EvidenceError(.invalidReceipt, "receiptVersion", "must be \(Self.version)")
        }
        eventId = try fields.string("eventId")
        eventHash = try fields.hash("eventHash")
        requestHash = try fields.hash("requestHash")
        topic = try fields.string("topic")
        partition = Int(try fields.integer("partition"))
        offset = try fields.integer("offset")
        recordedTime = try fields.timestamp("recordedTime")
        source = try fields.string("source")
        gatewayKey = try fields.string("gatewayKey")
        var parts: [Part] = []
        for (index, element) in (json["contains"]?.arrayValue ?? []).enumerated() {
            let part = ReceiptFields(element, name: "contains/\(index)")
            parts.append(Part(
                eventId: try part.string("eventId"), eventHash: try part.hash("eventHash"),
                partition: Int(try part.integer("partition")), offset: try part.integer("offset")))
        }
        contains = parts
        signature = try fields.string("signature")
    }

    /// Whether the signature is `key`'s over this receipt's content (and `key` is the one the receipt names).
    public func isValid(signedBy key: VerifyingKey) -> Bool {
        key.keyId == gatewayKey && key.isValidSignature(signature, for: CanonicalJSON.encode(.object(unsignedObject)))
    }

    /// The receipt as JSON, signature included.
    public var json: JSONValue {
        var object = unsignedObject
        object["signature"] = .string(signature)
        return .object(object)
    }

    private var unsignedObject: JSONObject {
        var object: JSONObject = [
            "receiptVersion": .number(Double(Self.version)), "eventId": .string(eventId),
            "eventHash": .string(eventHash.hex), "requestHash": .string(requestHash.hex), "topic": .string(topic),
            "partition": .number(Double(partition)), "offset": .number(Double(offset)),
            "recordedTime": .string(recordedTime.text), "source": .string(source), "gatewayKey": .string(gatewayKey),
        ]
        if !contains.isEmpty {
            object["contains"] = .array(contains.map { part in
                .object([
                    "eventId": .string(part.eventId), "eventHash": .string(part.eventHash.hex),
                    "partition": .number(Double(part.partition)), "offset": .number(Double(part.offset)),
                ])
            })
        }
        return object
    }
}

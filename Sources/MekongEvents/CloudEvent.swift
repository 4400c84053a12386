/// A CloudEvents 1.0 event in structured JSON mode, as Mekong carries it in Kafka record values.
///
/// Required attributes: `specversion` (always "1.0"), `id` (UUIDv7), `source`, `type`, `time`,
/// `subject` (the Kafka record key), `datacontenttype` ("application/json"), `dataschema`, `data`
/// (a JSON object). Extensions: `recordedtime`, `sourcesequence`, `signature`, `signingkey`,
/// `signatureproof`, `traceparent`. Anything else is refused (see ``init(json:)``).
///
/// The memberwise initialiser does not check values; call ``validate()`` before publishing.
public struct CloudEvent: Sendable, Equatable {
    /// The only CloudEvents version accepted.
    public static let specVersion = "1.0"
    /// The only data content type accepted.
    public static let jsonContentType = "application/json"

    /// A version-7 UUID (either hex case accepted, kept as given).
    public var id: String
    /// Where the event comes from: a non-empty URI-reference.
    public var source: String
    /// The event type, e.g. "vn.gso.report.submitted".
    public var type: String
    /// When the fact happened at the source.
    public var time: Timestamp
    /// The entity whose order matters; the Kafka record key.
    public var subject: String
    /// Always "application/json".
    public var datacontenttype: String
    /// The absolute URI of the JSON Schema `data` conforms to.
    public var dataschema: String
    /// The payload: a JSON object.
    public var data: JSONValue

    /// When the gateway accepted the event (extension).
    public var recordedtime: Timestamp?
    /// The source's own counter for this subject, >= 0 (extension).
    public var sourcesequence: Int64?
    /// Ed25519 signature over ``canonicalJSONForSigning()`` (extension).
    public var signature: String?
    /// Identifies the key that made ``signature`` (extension).
    public var signingkey: String?
    /// For an event of a signed batch: where it sits in the batch's Merkle tree, so that ``signature`` (over the
    /// batch's root) verifies for this event alone (extension; `InclusionProof`'s text form).
    public var signatureproof: String?
    /// W3C trace context, `00-<32 hex>-<16 hex>-<2 hex>` (extension).
    public var traceparent: String?

    public init(
        id: String, source: String, type: String, time: Timestamp, subject: String, dataschema: String,
        data: JSONValue, datacontenttype: String = CloudEvent.jsonContentType, recordedtime: Timestamp? = nil,
        sourcesequence: Int64? = nil, signature: String? = nil, signingkey: String? = nil,
        signatureproof: String? = nil, traceparent: String? = nil
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.subject = subject
        self.datacontenttype = datacontenttype
        self.dataschema = dataschema
        self.data = data
        self.recordedtime = recordedtime
        self.sourcesequence = sourcesequence
        self.signature = signature
        self.signingkey = signingkey
        self.signatureproof = signatureproof
        self.traceparent = traceparent
    }

    /// The structured-mode JSON object: `specversion` first, then the core attributes, the
    /// extensions that are set, and `data` last.
    public var json: JSONValue { .object(jsonObject(includingSignature: true)) }

    /// RFC 8785 canonical JSON of ``json``: the bytes the event hash covers.
    public func canonicalJSON() -> [UInt8] {
        CanonicalJSON.encode(json)
    }

    /// SHA-256 of ``canonicalJSON()``.
    public var hash: EventHash { EventHash.sha256(canonicalJSON()) }

    /// Canonical JSON of the event without its `signature`, `signatureproof` and `recordedtime` attributes: the bytes
    /// a source's signature covers, alone or as a leaf of a signed batch (the gateway adds `recordedtime` after
    /// checking it; see docs/gateway.md).
    public func canonicalJSONForSigning() -> [UInt8] {
        CanonicalJSON.encode(.object(jsonObject(includingSignature: false, includingRecordedTime: false)))
    }

    /// Kafka record headers copied from the envelope so tools can filter without parsing the value:
    /// `ce_type`, `ce_id`, `ce_source`, in that order.
    public var headers: [(name: String, value: String)] {
        [("ce_type", type), ("ce_id", id), ("ce_source", source)]
    }

    private func jsonObject(includingSignature: Bool, includingRecordedTime: Bool = true) -> JSONObject {
        var keys = ["specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema"]
        var values: [JSONValue] = [
            .string(Self.specVersion), .string(id), .string(source), .string(type), .string(time.text),
            .string(subject), .string(datacontenttype), .string(dataschema),
        ]
        if includingRecordedTime, let recordedtime {
            keys.append("recordedtime")
            values.append(.string(recordedtime.text))
        }
        if let sourcesequence {
            keys.append("sourcesequence")
            values.append(.number(Double(sourcesequence)))
        }
        if includingSignature, let signature {
            keys.append("signature")
            values.append(.string(signature))
        }
        if includingSignature, let signatureproof {
            keys.append("signatureproof")
            values.append(.string(signatureproof))
        }
        if let signingkey {
            keys.append("signingkey")
            values.append(.string(signingkey))
        }
        if let traceparent {
            keys.append("traceparent")
            values.append(.string(traceparent))
        }
        keys.append("data")
        values.append(data)
        return JSONObject(uniqueKeys: keys, values: values)
    }
}

extension CloudEvent {
    /// The canonical JSON of an event with `recordedtime` set to `time`, made from `submitted`, the canonical JSON of
    /// the same event without one (what the gateway measured and hashed at admission), instead of encoding it again.
    ///
    /// In RFC 8785's key order `recordedtime` comes right after `id` (no attribute sorts between them), so the member
    /// is inserted after the last `,"id":"<id>"` of the bytes: the top-level one, since the members after it are
    /// strings and numbers, whose canonical bytes hold no unescaped quote. Nil if `submitted` has no such member.
    public static func canonicalJSON(_ submitted: [UInt8], id: String, recordedtime time: Timestamp) -> [UInt8]? {
        let needle = Array(",\"id\":\"".utf8) + Array(id.utf8) + [UInt8(ascii: "\"")]
        guard submitted.count >= needle.count else { return nil }
        var start = submitted.count - needle.count
        while start >= 0 {
            if submitted[start] == needle[0], submitted[start..<start + needle.count].elementsEqual(needle) { break }
            start -= 1
        }
        guard start >= 0 else { return nil }
        let end = start + needle.count
        var bytes: [UInt8] = []
        bytes.reserveCapacity(submitted.count + 20 + time.text.utf8.count)
        bytes.append(contentsOf: submitted[..<end])
        bytes.append(contentsOf: ",\"recordedtime\":\"".utf8)
        bytes.append(contentsOf: time.text.utf8)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: submitted[end...])
        return bytes
    }
}

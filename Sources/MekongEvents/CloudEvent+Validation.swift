extension CloudEvent {
    /// The largest value each envelope attribute may hold, in UTF-8 bytes, and the largest event.
    ///
    /// Why these numbers: every attribute ends up in a Kafka key or header (`subject`, `ce_type`, `ce_id`,
    /// `ce_source`) and in projection tables, some of them indexed, where PostgreSQL refuses a B-tree entry over
    /// 2 704 bytes (a third of a page); an attribute without a bound once stopped the audit projector. The limits
    /// are generous for what the attributes hold in practice (URNs and URLs of tens of bytes, reverse-DNS type
    /// names, `<unit>/<form>/<period>` subjects, an 88-byte Ed25519 signature in base64) and small enough that
    /// several of them together still fit one index entry.
    public enum Limits {
        /// A UUIDv7 in its 36-character text form.
        public static let id = 36
        /// A URI-reference naming the producer.
        public static let source = 512
        /// A reverse-DNS event type name.
        public static let type = 256
        /// The Kafka record key.
        public static let subject = 512
        /// The `$id` URI of a schema in the catalog.
        public static let dataschema = 512
        /// base64 of a signature (Ed25519 needs 88).
        public static let signature = 512
        /// A key id.
        public static let signingkey = 512
        /// An inclusion proof in a signed batch: `index/size:` and up to 40 hashes in base64 (a batch of up to 2^40).
        public static let signatureproof = 2_048
        /// A W3C trace context version 00 has exactly 55 characters.
        public static let traceparent = 55
        /// `time` and `recordedtime`: an RFC 3339 date-time with at most nine fraction digits (all the precision
        /// ``Timestamp`` keeps) and a numeric offset, e.g. `2025-07-01T15:30:00.123456789+07:00`.
        public static let time = 35
        /// The whole event as RFC 8785 canonical JSON, which is the Kafka record's value: 1 MiB. Projections refuse
        /// larger records at decode (`EventReader`), so publishing refuses larger events.
        public static let eventBytes = 1_048_576
    }

    /// Checks every attribute value; throws the first problem found.
    ///
    /// Each string attribute must fit its ``Limits`` (checked first, so a huge value is refused by its size);
    /// `id` must be a version-7 UUID; `source` a URI-reference; `type` and `subject` non-empty
    /// without control characters; `datacontenttype` "application/json"; `dataschema` an absolute
    /// URI; `data` an object; `sourcesequence` within 0...2^53; `signature` and `signingkey`
    /// non-empty; `signatureproof` `<index>/<size>:<base64>` and only beside a `signature`; `traceparent` a W3C
    /// version-00 trace context. The size of the whole event is checked by
    /// ``validateSize()``, which needs its canonical JSON.
    public func validate() throws(EnvelopeError) {
        try Self.checkLength("id", id, Limits.id)
        guard UUIDv7.isValid(id) else {
            throw .invalid("id", "must be a version-7 UUID (RFC 9562), got \(EnvelopeError.quoted(id))")
        }
        try Self.checkLength("source", source, Limits.source)
        guard URISyntax.isURIReference(source) else {
            throw .invalid("source", "must be a non-empty URI-reference, got \(EnvelopeError.quoted(source))")
        }
        try Self.checkLength("type", type, Limits.type)
        guard Self.isToken(type) else {
            throw .invalid(
                "type", "must be non-empty without spaces or control characters, got \(EnvelopeError.quoted(type))")
        }
        try Self.checkLength("time", time.text, Limits.time)
        try Self.checkLength("subject", subject, Limits.subject)
        guard !subject.isEmpty, !Self.containsControlCharacter(subject) else {
            throw .invalid("subject", "must be non-empty without control characters")
        }
        guard datacontenttype == Self.jsonContentType else {
            throw .invalid(
                "datacontenttype",
                "must be '\(Self.jsonContentType)', got \(EnvelopeError.quoted(datacontenttype))")
        }
        try Self.checkLength("dataschema", dataschema, Limits.dataschema)
        guard URISyntax.isAbsoluteURI(dataschema) else {
            throw .invalid("dataschema", "must be an absolute URI, got \(EnvelopeError.quoted(dataschema))")
        }
        guard case .object = data else { throw .wrongType("data", expected: "an object", got: data) }
        if let recordedtime { try Self.checkLength("recordedtime", recordedtime.text, Limits.time) }
        if let sourcesequence, !(0...9_007_199_254_740_992).contains(sourcesequence) {
            throw .invalid("sourcesequence", "must be between 0 and 2^53, got \(sourcesequence)")
        }
        if let signature {
            try Self.checkLength("signature", signature, Limits.signature)
            if signature.isEmpty { throw .invalid("signature", "must not be empty") }
        }
        if let signingkey {
            try Self.checkLength("signingkey", signingkey, Limits.signingkey)
            if signingkey.isEmpty { throw .invalid("signingkey", "must not be empty") }
        }
        if let signatureproof {
            try Self.checkLength("signatureproof", signatureproof, Limits.signatureproof)
            guard signature != nil else { throw .invalid("signatureproof", "is set without a signature") }
            guard Self.isProofText(signatureproof) else {
                throw .invalid(
                    "signatureproof",
                    "must be '<index>/<size>:<base64 path>' with index < size, got \(EnvelopeError.quoted(signatureproof))")
            }
        }
        if let traceparent {
            try Self.checkLength("traceparent", traceparent, Limits.traceparent)
            guard Self.isTraceparent(traceparent) else {
                throw .invalid(
                    "traceparent",
                    "must be a W3C trace context '00-<32 hex>-<16 hex>-<2 hex>', got \(EnvelopeError.quoted(traceparent))")
            }
        }
    }

    /// `<index>/<size>:<base64>`, decimal index below size, a base64 path of whole 32-byte hashes (the shape only;
    /// `InclusionProof` reads it).
    static func isProofText(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")), let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
            slash > 0, colon > slash + 1, colon - slash - 1 <= 18, slash <= 18
        else { return false }
        let digits = { (part: ArraySlice<UInt8>) in part.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
        guard digits(bytes[..<slash]), digits(bytes[(slash + 1)..<colon]),
            let index = Int(String(decoding: bytes[..<slash], as: UTF8.self)),
            let size = Int(String(decoding: bytes[(slash + 1)..<colon], as: UTF8.self)), index < size
        else { return false }
        let path = bytes[(colon + 1)...]
        // 32 bytes are 44 base64 characters with one `=`; n hashes are 4 * ceil(32n / 3) characters.
        guard path.count % 4 == 0 else { return false }
        return path.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=")
        }
    }

    /// Refuses an event whose canonical JSON (its Kafka record value) is over ``Limits/eventBytes``.
    public func validateSize() throws(EnvelopeError) {
        _ = try checkedCanonicalJSON()
    }

    /// The event's canonical JSON, or an error when it is over ``Limits/eventBytes``.
    public func checkedCanonicalJSON() throws(EnvelopeError) -> [UInt8] {
        let bytes = canonicalJSON()
        guard bytes.count <= Limits.eventBytes else {
            throw EnvelopeError(
                code: .tooLarge, attribute: nil,
                message: "the event is \(bytes.count) bytes long as canonical JSON, over the limit of "
                    + "\(Limits.eventBytes) bytes")
        }
        return bytes
    }

    /// Refuses `value` when it has more than `limit` UTF-8 bytes.
    private static func checkLength(_ attribute: String, _ value: String, _ limit: Int) throws(EnvelopeError) {
        let bytes = value.utf8.count
        guard bytes <= limit else { throw .tooLarge(attribute, bytes: bytes, limit: limit) }
    }

    /// Non-empty, with no ASCII space or control character and no C1 control.
    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty && !text.utf8.contains(UInt8(ascii: " ")) && !containsControlCharacter(text)
    }

    /// Whether `text` holds a C0 control, DEL or a C1 control (U+0080...U+009F, UTF-8 C2 80...C2 9F).
    private static func containsControlCharacter(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte <= 0x9F && byte >= 0x80) { return true }
            previous = byte
        }
        return false
    }

    /// `00-` 32 lowercase hex (not all zero) `-` 16 lowercase hex (not all zero) `-` 2 lowercase hex.
    static func isTraceparent(_ text: String) -> Bool {
        guard text.utf8.count == 55 else { return false }
        let bytes = Array(text.utf8)
        guard bytes.count == 55, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "0"),
            bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-")
        else { return false }
        func isLowerHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy {
                ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
            }
        }
        func isAllZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == UInt8(ascii: "0") } }
        return isLowerHex(3..<35) && isLowerHex(36..<52) && isLowerHex(53..<55)
            && !isAllZero(3..<35) && !isAllZero(36..<52)
    }
}

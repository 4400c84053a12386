extension CloudEvent {
    /// Every attribute name accepted in the structured JSON form.
    public static let knownAttributes: [String] = [
        "specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema", "data",
        "recordedtime", "sourcesequence", "signature", "signingkey", "signatureproof", "traceparent",
    ]

    /// Parses structured-mode JSON bytes (a Kafka record value) and checks them with ``init(json:)``.
    public init(decoding bytes: some Collection<UInt8>) throws(EnvelopeError) {
        let value: JSONValue
        do {
            value = try JSON.parse(bytes)
        } catch {
            throw EnvelopeError(
                code: .invalidJSON, attribute: nil,
                message: "invalid JSON at line \(error.line), column \(error.column): \(error.message)")
        }
        try self.init(json: value)
    }

    /// Reads a structured-mode JSON object, strictly.
    ///
    /// Checks, in order: the value is an object; `specversion` is present, a string and "1.0";
    /// no unknown attribute (deny by default); each required attribute is present and of the right
    /// JSON type; then every value (see ``validate()``).
    public init(json: JSONValue) throws(EnvelopeError) {
        guard case .object(let object) = json else {
            throw EnvelopeError(
                code: .notAnObject, attribute: nil,
                message: "a CloudEvent must be a JSON object, got \(json.typeName)")
        }
        var raw = RawAttributes()
        var unknown: String?
        for (key, value) in object {
            let known = raw.set(key, value)
            if !known, unknown == nil { unknown = key }
        }

        guard let specversion = raw.specversion else { throw .missing("specversion") }
        guard case .string(let version) = specversion else {
            throw .wrongType("specversion", expected: "a string (\"1.0\")", got: specversion)
        }
        guard version == Self.specVersion else {
            throw EnvelopeError(
                code: .unsupportedSpecVersion, attribute: "specversion",
                message: "unsupported specversion \(EnvelopeError.quoted(version)) (only '\(Self.specVersion)' is supported)")
        }
        if let unknown {
            // The name is the client's: cut, so that a pointer built from it stays short.
            let name = unknown.count > EnvelopeError.quotedCharacters
                ? String(unknown.prefix(EnvelopeError.quotedCharacters)) + "…" : unknown
            throw EnvelopeError(
                code: .unknownAttribute, attribute: name,
                message: "unknown attribute \(EnvelopeError.quoted(unknown)) (allowed: \(Self.knownAttributes.joined(separator: ", ")))")
        }

        let id = try Self.string("id", raw.id, expected: "a string (UUIDv7)")
        let source = try Self.string("source", raw.source, expected: "a string (URI-reference)")
        let type = try Self.string("type", raw.type, expected: "a string")
        let time = try Self.timestamp("time", raw.time)
        let subject = try Self.string("subject", raw.subject, expected: "a string")
        let contentType = try Self.string(
            "datacontenttype", raw.datacontenttype, expected: "a string (\"\(Self.jsonContentType)\")")
        let dataschema = try Self.string("dataschema", raw.dataschema, expected: "a string (absolute URI)")
        guard let data = raw.data else { throw .missing("data") }
        guard case .object = data else { throw .wrongType("data", expected: "an object", got: data) }

        self.init(
            id: id, source: source, type: type, time: time, subject: subject, dataschema: dataschema, data: data,
            datacontenttype: contentType)
        if let value = raw.recordedtime { recordedtime = try Self.timestamp("recordedtime", value) }
        if let value = raw.sourcesequence {
            guard case .number(let number) = value else {
                throw .wrongType("sourcesequence", expected: "an integer", got: value)
            }
            guard let integer = value.integerValue else {
                throw .invalid("sourcesequence", "must be an integer, got \(ECMAScriptNumber.string(number))")
            }
            sourcesequence = integer
        }
        if let value = raw.signature { signature = try Self.string("signature", value, expected: "a string") }
        if let value = raw.signingkey { signingkey = try Self.string("signingkey", value, expected: "a string") }
        if let value = raw.signatureproof {
            signatureproof = try Self.string("signatureproof", value, expected: "a string (index/size:base64 path)")
        }
        if let value = raw.traceparent {
            traceparent = try Self.string("traceparent", value, expected: "a string (W3C traceparent)")
        }
        try validate()
    }

    private static func string(_ name: String, _ value: JSONValue?, expected: String) throws(EnvelopeError)
        -> String
    {
        guard let value else { throw .missing(name) }
        guard case .string(let text) = value else { throw .wrongType(name, expected: expected, got: value) }
        return text
    }

    private static func timestamp(_ name: String, _ value: JSONValue?) throws(EnvelopeError) -> Timestamp {
        let text = try string(name, value, expected: "a string (RFC 3339 date-time)")
        guard let timestamp = Timestamp(rfc3339: text) else {
            throw .invalid(
                name, "must be an RFC 3339 date-time such as 2025-07-01T08:30:00+07:00, got \(EnvelopeError.quoted(text))")
        }
        return timestamp
    }
}

/// The attributes of a structured-mode object, collected in one pass.
private struct RawAttributes {
    var specversion, id, source, type, time, subject, datacontenttype, dataschema, data: JSONValue?
    var recordedtime, sourcesequence, signature, signingkey, signatureproof, traceparent: JSONValue?

    /// Stores a known attribute; `false` for an unknown name.
    mutating func set(_ name: String, _ value: JSONValue) -> Bool {
        switch name {
        case "specversion": specversion = value
        case "id": id = value
        case "source": source = value
        case "type": type = value
        case "time": time = value
        case "subject": subject = value
        case "datacontenttype": datacontenttype = value
        case "dataschema": dataschema = value
        case "data": data = value
        case "recordedtime": recordedtime = value
        case "sourcesequence": sourcesequence = value
        case "signature": signature = value
        case "signingkey": signingkey = value
        case "signatureproof": signatureproof = value
        case "traceparent": traceparent = value
        default: return false
        }
        return true
    }
}

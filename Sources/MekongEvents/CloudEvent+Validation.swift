extension CloudEvent {
    /// Checks every attribute value; throws the first problem found.
    ///
    /// `id` must be a version-7 UUID; `source` a URI-reference; `type` and `subject` non-empty
    /// without control characters; `datacontenttype` "application/json"; `dataschema` an absolute
    /// URI; `data` an object; `sourcesequence` within 0...2^53; `signature` and `signingkey`
    /// non-empty; `traceparent` a W3C version-00 trace context.
    public func validate() throws(EnvelopeError) {
        guard UUIDv7.isValid(id) else {
            throw .invalid("id", "must be a version-7 UUID (RFC 9562), got '\(id)'")
        }
        guard URISyntax.isURIReference(source) else {
            throw .invalid("source", "must be a non-empty URI-reference, got '\(source)'")
        }
        guard Self.isToken(type) else {
            throw .invalid("type", "must be non-empty without spaces or control characters, got '\(type)'")
        }
        guard !subject.isEmpty, !Self.containsControlCharacter(subject) else {
            throw .invalid("subject", "must be non-empty without control characters")
        }
        guard datacontenttype == Self.jsonContentType else {
            throw .invalid("datacontenttype", "must be '\(Self.jsonContentType)', got '\(datacontenttype)'")
        }
        guard URISyntax.isAbsoluteURI(dataschema) else {
            throw .invalid("dataschema", "must be an absolute URI, got '\(dataschema)'")
        }
        guard case .object = data else { throw .wrongType("data", expected: "an object", got: data) }
        if let sourcesequence, !(0...9_007_199_254_740_992).contains(sourcesequence) {
            throw .invalid("sourcesequence", "must be between 0 and 2^53, got \(sourcesequence)")
        }
        if let signature, signature.isEmpty { throw .invalid("signature", "must not be empty") }
        if let signingkey, signingkey.isEmpty { throw .invalid("signingkey", "must not be empty") }
        if let traceparent, !Self.isTraceparent(traceparent) {
            throw .invalid(
                "traceparent", "must be a W3C trace context '00-<32 hex>-<16 hex>-<2 hex>', got '\(traceparent)'")
        }
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

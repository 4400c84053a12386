/// Parsing and compact serialisation of JSON text.
public enum JSON {
    /// Parses UTF-8 bytes as one JSON text, strictly per RFC 8259.
    ///
    /// Rejected, with the line and column of the offending byte: trailing commas, comments,
    /// `NaN`/`Infinity`, single quotes, leading zeros, duplicate object keys, nesting deeper than
    /// 128 levels, integers beyond ±2^53 that a double would change (I-JSON), numbers beyond the
    /// double range, invalid UTF-8, unescaped control characters, lone surrogates in `\u` escapes,
    /// a byte order mark, and anything after the value except whitespace.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        try parse(bytes, maximumDepth: 128)
    }

    /// ``parse(_:)-(Collection<UInt8>)`` with a lower nesting limit, for untrusted input such as a gateway request
    /// (it cannot raise the limit above 128).
    public static func parse(
        _ bytes: some Collection<UInt8>, maximumDepth: Int
    ) throws(JSONParseError) -> JSONValue {
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                var parser = JSONParser(bytes: buffer, maximumDepth: maximumDepth)
                return try parser.parseDocument()
            }
        }
        if let contiguous { return try contiguous.get() }
        let copy = Array(bytes)
        let result = copy.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                var parser = JSONParser(bytes: buffer, maximumDepth: maximumDepth)
                return try parser.parseDocument()
            }
        }
        return try result.get()
    }

    /// Parses a string as one JSON text (see ``parse(_:)-(Collection<UInt8>)``).
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in
                var parser = JSONParser(bytes: buffer)
                return try parser.parseDocument()
            }
        }
        return try result.get()
    }

    /// Compact JSON text keeping object member order; numbers and strings are written as in
    /// ``CanonicalJSON`` (ECMAScript number form, minimal escaping). Non-finite numbers, which the
    /// parser never produces, are written as `null` like ECMAScript's `JSON.stringify`.
    public static func serialize(_ value: JSONValue) -> String {
        String(decoding: serializeBytes(value), as: UTF8.self)
    }

    /// Compact JSON as UTF-8 bytes (see ``serialize(_:)``).
    public static func serializeBytes(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter(sortKeys: false)
        writer.write(value)
        return writer.output
    }
}

/// Lightweight RFC 3986 checks for CloudEvents `source` (URI-reference) and `dataschema` (URI).
enum URISyntax {
    /// Only characters RFC 3986 allows in a URI (unreserved, reserved, `%` followed by two hex digits).
    static func hasValidCharacters(_ text: String) -> Bool {
        RFC3339.withUTF8(text) { bytes in
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "%") {
                    guard index + 2 < bytes.count, isHex(bytes[index + 1]), isHex(bytes[index + 2]) else {
                        return false
                    }
                    index += 3
                    continue
                }
                guard allowed[Int(byte)] else { return false }
                index += 1
            }
            return true
        }
    }

    /// A non-empty URI-reference: an absolute URI or a relative reference.
    static func isURIReference(_ text: String) -> Bool {
        !text.isEmpty && hasValidCharacters(text)
    }

    /// An absolute URI: `scheme ":" hier-part`, scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
    static func isAbsoluteURI(_ text: String) -> Bool {
        guard hasValidCharacters(text) else { return false }
        return RFC3339.withUTF8(text) { bytes in
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, colon + 1 < bytes.count,
                isAlpha(bytes[0])
            else { return false }
            for byte in bytes[1..<colon] {
                guard
                    isAlpha(byte) || isDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
                        || byte == UInt8(ascii: ".")
                else { return false }
            }
            return true
        }
    }

    /// Unreserved, gen-delims and sub-delims of RFC 3986, by byte.
    private static let allowed: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=".utf8 {
            table[Int(byte)] = true
        }
        return table
    }()

    private static func isAlpha(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }
}

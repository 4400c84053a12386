/// The JSON Canonicalization Scheme (RFC 8785): the byte form that event hashes and signatures cover.
///
/// Object members are sorted by the UTF-16 code units of their keys, numbers are written as
/// ECMAScript's `Number.prototype.toString` writes them, strings escape only `"`, `\` and control
/// characters, and there is no whitespace.
public enum CanonicalJSON {
    /// The canonical UTF-8 bytes of `value`. Non-finite numbers (which the parser never
    /// produces) are written as `null`, as ECMAScript's `JSON.stringify` does.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter(sortKeys: true)
        writer.write(value)
        return writer.output
    }

    /// The canonical form as a string.
    public static func string(_ value: JSONValue) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    /// RFC 8785 key order: lexicographic over UTF-16 code units.
    static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        // UTF-8 byte order equals code point order, which differs from UTF-16 order only when the
        // first difference is between non-ASCII scalars; decide ASCII differences on bytes.
        var left = lhs.utf8.makeIterator()
        var right = rhs.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case (let a?, let b?):
                if a == b { continue }
                if a < 0x80 || b < 0x80 { return a < b }
                return lhs.utf16.lexicographicallyPrecedes(rhs.utf16)
            }
        }
    }
}

import Foundation

/// A Swift value that can be bound to a statement parameter (`$n`), in PostgreSQL's text format.
///
/// The text is sent separately from the statement (`PQexecParams`), so it is never parsed as SQL.
/// UUIDs, JSON and other types are bound as strings; cast in SQL where the type is not inferred
/// (`$1::uuid`, `$1::jsonb`).
public protocol PostgresBindable: Sendable {
    /// The value in PostgreSQL's text input format.
    var postgresText: String { get }
}

extension String: PostgresBindable {
    /// The string itself.
    public var postgresText: String { self }
}

extension Substring: PostgresBindable {
    /// The substring's characters.
    public var postgresText: String { String(self) }
}

extension Int: PostgresBindable {
    /// Decimal digits.
    public var postgresText: String { String(self) }
}

extension Int32: PostgresBindable {
    /// Decimal digits.
    public var postgresText: String { String(self) }
}

extension Int64: PostgresBindable {
    /// Decimal digits.
    public var postgresText: String { String(self) }
}

extension Double: PostgresBindable {
    /// The shortest text that reads back as the same `Double` (`0.1`, `1e-05`), or `NaN`, `Infinity`,
    /// `-Infinity`.
    public var postgresText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }
}

extension Bool: PostgresBindable {
    /// `t` or `f`.
    public var postgresText: String { self ? "t" : "f" }
}

extension Date: PostgresBindable {
    /// ISO 8601 in UTC with microseconds, e.g. `2025-07-01T08:30:00.123456Z` (rounded to the nearest
    /// microsecond, PostgreSQL's resolution).
    public var postgresText: String { PostgresTimestamp.format(self) }
}

extension UUID: PostgresBindable {
    /// The canonical UUID text; bind to a `uuid` column or cast with `$1::uuid`.
    public var postgresText: String { uuidString.lowercased() }
}

extension Array: PostgresBindable where Element == UInt8 {
    /// `bytea` hex format: `\x` followed by two lowercase hex digits per byte.
    public var postgresText: String {
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + count * 2)
        appendHex(self, to: &text)
        return String(decoding: text, as: UTF8.self)
    }
}

/// Appends two lowercase hex digits per byte: the digits of `bytea`'s hex format.
func appendHex(_ bytes: [UInt8], to text: inout [UInt8]) {
    let digits: StaticString = "0123456789abcdef"
    digits.withUTF8Buffer { digits in
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
    }
}

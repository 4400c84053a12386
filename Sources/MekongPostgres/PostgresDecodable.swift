import Foundation

/// A Swift type that can be decoded from a column value in PostgreSQL's text output format.
///
/// Decode into an `Optional` to accept SQL NULL; decoding NULL into a non-optional type fails.
public protocol PostgresDecodable: Sendable {
    /// Parses the server's text output for a value.
    /// - Throws: `.decodeFailed` when the text is not a valid value of this type.
    init(postgresText: String) throws(PostgresError)
}

/// Types with a value for SQL NULL (only `Optional`).
protocol PostgresNullable {
    static var postgresNull: Self { get }
}

extension Optional: PostgresNullable where Wrapped: PostgresDecodable {
    static var postgresNull: Self { nil }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// Decodes a non-NULL value as `Wrapped`; NULL becomes nil (handled by `PostgresRow`).
    public init(postgresText: String) throws(PostgresError) {
        self = .some(try Wrapped(postgresText: postgresText))
    }
}

extension String: PostgresDecodable {
    /// Any value's text, unchanged.
    public init(postgresText: String) throws(PostgresError) { self = postgresText }
}

extension Int: PostgresDecodable {
    /// `smallint`, `integer` or `bigint` text.
    public init(postgresText: String) throws(PostgresError) {
        self = try decodeInteger(postgresText)
    }
}

extension Int32: PostgresDecodable {
    /// `smallint` or `integer` text (or a `bigint` that fits).
    public init(postgresText: String) throws(PostgresError) {
        self = try decodeInteger(postgresText)
    }
}

extension Int64: PostgresDecodable {
    /// `smallint`, `integer` or `bigint` text.
    public init(postgresText: String) throws(PostgresError) {
        self = try decodeInteger(postgresText)
    }
}

extension Double: PostgresDecodable {
    /// `double precision`, `real` or `numeric` text, including `NaN`, `Infinity` and `-Infinity`.
    public init(postgresText: String) throws(PostgresError) {
        switch postgresText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            // Swift's parser also takes "inf", "nan" and hex floats, which PostgreSQL never prints; refuse them.
            let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
            guard let first = postgresText.utf8.first,
                first == UInt8(ascii: "-") || first == UInt8(ascii: ".") || digits.contains(first),
                !postgresText.contains("x"), !postgresText.contains("X"),
                let value = Double(postgresText), value.isFinite
            else {
                throw decodeError(postgresText, as: "Double")
            }
            self = value
        }
    }
}

extension Bool: PostgresDecodable {
    /// `boolean` text: `t` or `f` (also `true`/`false`).
    public init(postgresText: String) throws(PostgresError) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw decodeError(postgresText, as: "Bool")
        }
    }
}

extension Date: PostgresDecodable {
    /// `timestamptz` text with any UTC offset (`2025-07-01 08:30:00.123456+00`, `… +05:30`), `timestamp`
    /// text (read as UTC) or `date` text (midnight UTC). `infinity` and `-infinity` are refused.
    public init(postgresText: String) throws(PostgresError) {
        guard let date = PostgresTimestamp.parse(postgresText) else {
            throw decodeError(postgresText, as: "Date")
        }
        self = date
    }
}

extension UUID: PostgresDecodable {
    /// `uuid` text.
    public init(postgresText: String) throws(PostgresError) {
        guard let uuid = UUID(uuidString: postgresText) else { throw decodeError(postgresText, as: "UUID") }
        self = uuid
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    /// `bytea` hex output (`\x0aff…`).
    public init(postgresText: String) throws(PostgresError) {
        let text = Array<UInt8>(postgresText.utf8)
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), text.count % 2 == 0
        else {
            throw decodeError(postgresText, as: "[UInt8] (bytea in hex format)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((text.count - 2) / 2)
        var index = 2
        while index < text.count {
            guard let high = hexValue(text[index]), let low = hexValue(text[index + 1]) else {
                throw decodeError(postgresText, as: "[UInt8] (bytea in hex format)")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }
}

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}

private func decodeInteger<T: FixedWidthInteger>(_ text: String) throws(PostgresError) -> T {
    guard let value = T(text, radix: 10) else {
        throw decodeError(text, as: "\(T.self)")
    }
    return value
}

/// A `.decodeFailed` error quoting (the start of) the offending text.
func decodeError(_ text: String, as type: String) -> PostgresError {
    let shown = text.count > 64 ? String(text.prefix(64)) + "…" : text
    return PostgresError(code: .decodeFailed, message: "cannot decode \"\(shown)\" as \(type)")
}

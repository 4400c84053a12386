/// PostgreSQL array input text, for binding a whole column of values as one parameter (`$1::text[]`, `$2::bigint[]`):
/// one statement then covers many rows, instead of one round trip per row.
public enum PostgresArray {
    /// `{"a","b"}`: each value quoted, `\\` and `"` escaped with a backslash. (Byte by byte: Foundation's
    /// `replacingOccurrences` cost the read API 6 % of a request's CPU.)
    public static func text(_ values: [String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `{1,2,3}`.
    public static func integers(_ values: [Int64]) -> String {
        "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}

/// PostgreSQL array input text, for binding a whole column of values as one parameter (`$1::text[]`, `$2::bigint[]`):
/// one statement then covers many rows, instead of one round trip per row.
public enum PostgresArray {
    /// `{"a","b"}`: each value quoted and escaped.
    public static func text(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }

    /// `{1,2,3}`.
    public static func integers(_ values: [Int64]) -> String {
        "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}

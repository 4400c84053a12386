import Foundation

/// One migration file of a projection version: `Projections/<projection>/v<version>/NNN_name.sql`.
public struct Migration: Sendable, Equatable {
    /// The three-digit prefix, which orders the files (`001_create_tables.sql` → 1).
    public let number: Int
    /// The part between the number and `.sql` (`001_create_tables.sql` → `create_tables`).
    public let name: String
    /// The file.
    public let file: URL
    /// SHA-256 of the file's bytes, 64 lowercase hex digits, recorded when applied.
    public let sha256: String

    /// The file's name, e.g. `001_create_tables.sql`.
    public var fileName: String { file.lastPathComponent }

    /// Parses a file name of the form `^[0-9]{3}_[a-z0-9_]+\.sql$` into its number and name.
    static func parse(fileName: String) -> (number: Int, name: String)? {
        let bytes = Array(fileName.utf8)
        let suffix = Array(".sql".utf8)
        guard bytes.count > 4 + suffix.count, bytes.suffix(suffix.count) == suffix[...],
            bytes[0...2].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            bytes[3] == UInt8(ascii: "_")
        else { return nil }
        let nameBytes = bytes[4..<(bytes.count - suffix.count)]
        guard !nameBytes.isEmpty,
            nameBytes.allSatisfy({
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
            }),
            let number = Int(String(decoding: bytes[0...2], as: UTF8.self))
        else { return nil }
        return (number, String(decoding: nameBytes, as: UTF8.self))
    }
}

/// Why an archive could not be written, read or restored, and where: the file, line or partition at fault.
public struct ArchiveError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The manifest is missing, does not parse, or does not say what the format requires.
        case invalidManifest = "invalid-manifest"
        /// A segment's bytes, a record's hash or its offsets do not agree with the manifest.
        case corrupt
        /// The log no longer holds records the archive has not exported (retention deleted them).
        case recordsLost = "records-lost"
        /// Restore: the target partition holds records, or is missing.
        case targetNotEmpty = "target-not-empty"
        /// Restore: the cluster wrote a record at another offset than the archive's.
        case offsetMismatch = "offset-mismatch"
        /// The audit trail disagrees with the archive about a record.
        case auditMismatch = "audit-mismatch"
        case io
        case kafka
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "archive \(code.rawValue): \(message)" }
}

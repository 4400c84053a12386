/// Why a key, signature or receipt could not be used.
public struct EvidenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in a word.
    public enum Code: String, Sendable {
        /// A key file that is not the JSON of `mekong keys generate` (or not readable).
        case invalidKeyFile = "invalid-key-file"
        /// A signature that is missing, not base64 of 64 bytes, or does not verify.
        case invalidSignature = "invalid-signature"
        /// A receipt document that lacks a field or has one of the wrong type.
        case invalidReceipt = "invalid-receipt"
    }

    public let code: Code
    /// The file, field or key id at fault.
    public let subject: String
    /// What is wrong with it.
    public let message: String

    public init(_ code: Code, _ subject: String, _ message: String) {
        self.code = code
        self.subject = subject
        self.message = message
    }

    public var description: String { "\(subject): \(message)" }
}

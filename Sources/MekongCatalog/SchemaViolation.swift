/// One way a JSON value fails its schema.
public struct SchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer (RFC 6901) into the validated value, e.g. "/observations/0/value"; "" is the value itself.
    public let path: String
    /// What is wrong, e.g. "must be number or null, got string".
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// "/observations/0/value: must be number or null, got string" ("(root): ..." for the value itself).
    public var description: String { "\(path.isEmpty ? "(root)" : path): \(message)" }
}

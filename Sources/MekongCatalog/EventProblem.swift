/// Why an event does not fit the catalog.
public struct EventProblem: Sendable, Equatable, CustomStringConvertible {
    /// What is wrong: "topic", "type", "dataschema", or "data" followed by a JSON Pointer into the data,
    /// e.g. "data/observations/0/value".
    public let field: String
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// "data/observations/0/value: must be number or null, got string".
    public var description: String { "\(field): \(message)" }
}

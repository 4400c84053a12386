/// Why the topic catalog (or one schema in it) could not be loaded.
public struct CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or directory concerned, relative to the catalog's parent (e.g. "Topics/reports/topic.json").
    public let file: String
    /// What is wrong, naming the field or keyword.
    public let message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    /// "Topics/reports/topic.json: retentionMs must be -1 ...".
    public var description: String { "\(file): \(message)" }
}

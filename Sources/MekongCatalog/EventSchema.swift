/// One version of one event type's data schema
/// (`Topics/<topic>/schemas/<event type>/v<N>.schema.json`).
public struct EventSchema: Sendable {
    /// The event type, e.g. "vn.gso.report.submitted".
    public let eventType: String
    /// The version, >= 1.
    public let version: Int
    /// The schema's `$id`, which events carry as `dataschema`.
    public let id: String
    /// The compiled schema for `data`.
    public let schema: JSONSchema
    /// The file it was loaded from, relative to the catalog's parent.
    public let file: String

    /// The version whose data this version accepts unchanged (`"x-compatible-with": N`), if it declares one:
    /// readers then need no upcaster for that step.
    public var compatibleWith: Int? {
        schema.json["x-compatible-with"]?.integerValue.map(Int.init)
    }

    /// The `dataschema` URI of an event type's version:
    /// `https://schemas.mekong.gso.gov.vn/<event type>/v<N>.schema.json`.
    public static func dataSchemaURI(eventType: String, version: Int) -> String {
        "https://schemas.mekong.gso.gov.vn/\(eventType)/v\(version).schema.json"
    }
}

import MekongEvents

/// A JSON Schema (a strict subset of draft 2020-12), compiled once and used to validate many values.
///
/// Supported keywords: `type` (object, array, string, number, integer, boolean, null, or an array
/// of them), `properties`, `required`, `additionalProperties` (boolean or schema), `items`, `enum`,
/// `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`
/// (Unicode scalars), `pattern` (Swift Regex, unanchored), `format` ("date", "date-time"),
/// `minItems`, `maxItems`, `uniqueItems`, `$ref` ("#/$defs/<name>" only), `$defs` (root only),
/// `oneOf`, `anyOf`, `allOf`, `not`; annotations `description`, `title`, `examples`, `$comment`,
/// `$schema`, `$id` and `x-*` are ignored. Any other keyword makes loading fail: a keyword that
/// would be silently ignored is a hole in validation.
public struct JSONSchema: Sendable {
    /// At most this many violations are reported per value.
    public static let violationLimit = 50

    /// The schema's `$id`, if it has one.
    public let id: String?
    /// The schema document as loaded.
    public let json: JSONValue
    private let root: SchemaNode
    private let definitions: [String: SchemaNode]

    /// Compiles `json`; `file` names the source in errors.
    public init(_ json: JSONValue, file: String) throws(CatalogError) {
        var compiler = SchemaCompiler(file: file)
        let compiled = try compiler.compileRoot(json)
        self.root = compiled.root
        self.definitions = compiled.definitions
        self.json = json
        self.id = json["$id"]?.stringValue
    }

    /// Every violation of the schema by `value` (up to ``violationLimit``); empty when it conforms.
    public func validate(_ value: JSONValue) -> [SchemaViolation] {
        var validator = SchemaValidator(definitions: definitions, limit: Self.violationLimit)
        validator.validate(root, value)
        return validator.violations
    }
}

import MekongEvents

/// Turns schema JSON into ``SchemaNode``s, refusing every keyword it would not enforce.
struct SchemaCompiler {
    /// The draft this subset follows; `$schema`, when present, must name it.
    static let draft = "https://json-schema.org/draft/2020-12/schema"

    /// Keywords that only annotate and are ignored (as are all `x-*` keywords).
    static let annotations: Set<String> = ["description", "title", "examples", "$comment"]
    /// Keywords accepted only in the root schema.
    static let rootOnly: Set<String> = ["$schema", "$id", "$defs"]
    /// Keywords that assert something.
    static let assertions: [String] = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "minItems",
        "maxItems", "uniqueItems", "$ref", "oneOf", "anyOf", "allOf", "not",
    ]
    private static let assertionSet = Set(assertions)

    let file: String
    /// Names of the root `$defs`, for checking `$ref`s.
    private(set) var definitionNames: Set<String> = []
    /// For each definition, the definitions it reaches without descending into the instance
    /// (through `$ref`, `allOf`, `anyOf`, `oneOf`, `not`): a cycle there would never terminate.
    private var directReferences: [String: Set<String>] = [:]
    private var currentDefinition: String?

    init(file: String) {
        self.file = file
    }

    /// Compiles a root schema and its `$defs`.
    mutating func compileRoot(_ json: JSONValue) throws(CatalogError) -> (
        root: SchemaNode, definitions: [String: SchemaNode]
    ) {
        var definitions: [String: SchemaNode] = [:]
        if case .object(let object) = json {
            if let schema = object["$schema"], schema != .string(Self.draft) {
                throw error("'$schema' must be \"\(Self.draft)\", got \(JSON.serialize(schema))", at: "#")
            }
            if let id = object["$id"], id.stringValue == nil {
                throw error("'$id' must be a string", at: "#")
            }
            if let defs = object["$defs"] {
                guard case .object(let entries) = defs else { throw error("'$defs' must be an object", at: "#") }
                definitionNames = Set(entries.keys)
                for (name, schema) in entries {
                    currentDefinition = name
                    directReferences[name] = []
                    definitions[name] = try compile(schema, at: "#/$defs/\(escape(name))", isRoot: false)
                }
                currentDefinition = nil
            }
        }
        let root = try compile(json, at: "#", isRoot: true)
        try checkReferenceCycles()
        return (root, definitions)
    }

    // MARK: - Subschemas

    private mutating func compile(_ json: JSONValue, at pointer: String, isRoot: Bool) throws(CatalogError)
        -> SchemaNode
    {
        switch json {
        case .bool(let accepts):
            return .boolean(accepts)
        case .object(let object):
            return try compileObject(object, at: pointer, isRoot: isRoot)
        default:
            throw error("a schema must be an object or a boolean, got \(json.typeName)", at: pointer)
        }
    }

    private mutating func compileObject(_ object: JSONObject, at pointer: String, isRoot: Bool) throws(CatalogError)
        -> SchemaNode
    {
        var node = SchemaNode()
        let declared = Set(object["properties"]?.objectValue?.keys ?? [])
        for (keyword, value) in object {
            if keyword.hasPrefix("x-") { continue }
            if Self.annotations.contains(keyword) {
                try checkAnnotation(keyword, value, at: pointer)
                continue
            }
            if Self.rootOnly.contains(keyword) {
                guard isRoot else { throw error("'\(keyword)' is only supported in the root schema", at: pointer) }
                continue
            }
            guard Self.assertionSet.contains(keyword) else {
                throw error(
                    "unsupported JSON Schema keyword '\(keyword)' (supported: \(Self.assertions.joined(separator: ", ")), "
                        + "annotations and x-*)", at: pointer)
            }
            node.checks.append(try compileKeyword(keyword, value, declared: declared, in: object, at: pointer))
        }
        if object["additionalProperties"] == .bool(false), let required = object["required"]?.arrayValue {
            for name in required.compactMap(\.stringValue) where !declared.contains(name) {
                throw error(
                    "required property '\(name)' is not declared in 'properties' but additionalProperties is false",
                    at: pointer)
            }
        }
        return node
    }

    private mutating func compileKeyword(
        _ keyword: String, _ value: JSONValue, declared: Set<String>, in object: JSONObject, at pointer: String
    ) throws(CatalogError) -> SchemaCheck {
        let here = "\(pointer)/\(escape(keyword))"
        switch keyword {
        case "type":
            return .type(try typeSet(value, at: here))
        case "properties":
            guard case .object(let properties) = value else {
                throw error("'properties' must be an object", at: pointer)
            }
            var compiled: [String: SchemaNode] = [:]
            for (name, schema) in properties {
                compiled[name] = try descend { (compiler) throws(CatalogError) in
                    try compiler.compile(schema, at: "\(here)/\(compiler.escape(name))", isRoot: false)
                }
            }
            return .properties(compiled)
        case "required":
            let names = try stringArray(value, keyword: keyword, at: pointer)
            return .required(names)
        case "additionalProperties":
            let schema = try descend { (compiler) throws(CatalogError) in
                try compiler.compile(value, at: here, isRoot: false)
            }
            return .additionalProperties(declared: declared, schema: schema)
        case "items":
            if case .array = value {
                throw error(
                    "'items' must be a single schema (the array form is draft 4; use prefixItems, which is unsupported)",
                    at: pointer)
            }
            let schema = try descend { (compiler) throws(CatalogError) in
                try compiler.compile(value, at: here, isRoot: false)
            }
            return .items(schema)
        case "enum":
            guard case .array(let options) = value, !options.isEmpty else {
                throw error("'enum' must be a non-empty array", at: pointer)
            }
            return .enumeration(options)
        case "const":
            return .constant(value)
        case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
            guard case .number(let bound) = value else {
                throw error("'\(keyword)' must be a number (draft 2020-12), got \(value.typeName)", at: pointer)
            }
            switch keyword {
            case "minimum": return .minimum(bound)
            case "maximum": return .maximum(bound)
            case "exclusiveMinimum": return .exclusiveMinimum(bound)
            default: return .exclusiveMaximum(bound)
            }
        case "minLength", "maxLength", "minItems", "maxItems":
            guard let count = value.integerValue, count >= 0, let bound = Int(exactly: count) else {
                throw error("'\(keyword)' must be a non-negative integer", at: pointer)
            }
            switch keyword {
            case "minLength": return .minLength(bound)
            case "maxLength": return .maxLength(bound)
            case "minItems": return .minItems(bound)
            default: return .maxItems(bound)
            }
        case "pattern":
            guard case .string(let source) = value else { throw error("'pattern' must be a string", at: pointer) }
            do {
                return .pattern(SchemaPattern(source: source, regex: try Regex(source)))
            } catch let failure {
                throw error(
                    "'pattern' \(JSON.serialize(value)) is not a valid regular expression: \(failure)", at: pointer)
            }
        case "format":
            guard case .string(let name) = value, let format = StringFormat(rawValue: name) else {
                throw error(
                    "unsupported 'format' \(JSON.serialize(value)) (supported: \"date\", \"date-time\")", at: pointer)
            }
            return .format(format)
        case "uniqueItems":
            guard case .bool(let unique) = value else { throw error("'uniqueItems' must be a boolean", at: pointer) }
            return unique ? .uniqueItems : .allOf([])
        case "$ref":
            guard case .string(let reference) = value, reference.hasPrefix("#/$defs/") else {
                throw error(
                    "'$ref' must be a string \"#/$defs/<name>\" (only local definitions are supported)", at: pointer)
            }
            let name = unescape(String(reference.dropFirst("#/$defs/".count)))
            guard definitionNames.contains(name) else {
                throw error("'$ref' \"\(reference)\" names no entry of the root '$defs'", at: pointer)
            }
            if let currentDefinition { directReferences[currentDefinition, default: []].insert(name) }
            return .reference(name)
        case "allOf", "anyOf", "oneOf":
            guard case .array(let schemas) = value, !schemas.isEmpty else {
                throw error("'\(keyword)' must be a non-empty array of schemas", at: pointer)
            }
            var compiled: [SchemaNode] = []
            for (position, schema) in schemas.enumerated() {
                compiled.append(try compile(schema, at: "\(here)/\(position)", isRoot: false))
            }
            switch keyword {
            case "allOf": return .allOf(compiled)
            case "anyOf": return .anyOf(compiled)
            default: return .oneOf(compiled)
            }
        case "not":
            return .not(try compile(value, at: here, isRoot: false))
        default:
            throw error("unsupported JSON Schema keyword '\(keyword)'", at: pointer)
        }
    }

    /// Compiles a subschema that applies to a child of the instance: references made there cannot
    /// form a non-terminating cycle.
    private mutating func descend(
        _ body: (inout SchemaCompiler) throws(CatalogError) -> SchemaNode
    ) throws(CatalogError) -> SchemaNode {
        let saved = currentDefinition
        currentDefinition = nil
        defer { currentDefinition = saved }
        return try body(&self)
    }

    private func checkReferenceCycles() throws(CatalogError) {
        for start in directReferences.keys.sorted() {
            var stack = Array(directReferences[start] ?? [])
            var visited: Set<String> = []
            while let name = stack.popLast() {
                if name == start {
                    throw error(
                        "'$ref' cycle through '\(start)' that never descends into the value",
                        at: "#/$defs/\(escape(start))")
                }
                if visited.insert(name).inserted { stack.append(contentsOf: directReferences[name] ?? []) }
            }
        }
    }

    // MARK: - Keyword values

    private func typeSet(_ value: JSONValue, at pointer: String) throws(CatalogError) -> JSONTypeSet {
        let names: [JSONValue]
        switch value {
        case .string: names = [value]
        case .array(let list) where !list.isEmpty: names = list
        default: throw error("'type' must be a type name or a non-empty array of them", at: pointer)
        }
        var set: JSONTypeSet = []
        for name in names {
            guard let text = name.stringValue, let type = JSONTypeSet.names.first(where: { $0.0 == text })?.1 else {
                throw error(
                    "unknown type \(JSON.serialize(name)) (types: \(JSONTypeSet.names.map(\.0).joined(separator: ", ")))",
                    at: pointer)
            }
            guard !set.contains(type) else { throw error("type \"\(text)\" is listed twice", at: pointer) }
            set.insert(type)
        }
        return set
    }

    private func stringArray(_ value: JSONValue, keyword: String, at pointer: String) throws(CatalogError) -> [String] {
        guard case .array(let items) = value else {
            throw error("'\(keyword)' must be an array of strings", at: pointer)
        }
        var names: [String] = []
        for item in items {
            guard let name = item.stringValue else {
                throw error("'\(keyword)' must be an array of strings", at: pointer)
            }
            guard !names.contains(name) else { throw error("'\(keyword)' lists \"\(name)\" twice", at: pointer) }
            names.append(name)
        }
        return names
    }

    private func checkAnnotation(_ keyword: String, _ value: JSONValue, at pointer: String) throws(CatalogError) {
        switch keyword {
        case "examples":
            guard case .array = value else { throw error("'examples' must be an array", at: pointer) }
        default:
            guard case .string = value else { throw error("'\(keyword)' must be a string", at: pointer) }
        }
    }

    // MARK: - Helpers

    func error(_ message: String, at pointer: String) -> CatalogError {
        CatalogError(file: file, message: "\(message) at \(pointer)")
    }

    /// RFC 6901 escaping of one pointer token.
    func escape(_ token: String) -> String {
        token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    private func unescape(_ token: String) -> String {
        token.replacing("~1", with: "/").replacing("~0", with: "~")
    }
}

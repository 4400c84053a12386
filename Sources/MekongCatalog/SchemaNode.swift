import MekongEvents

/// A compiled (sub)schema: the checks its keywords impose, in keyword order.
struct SchemaNode: Sendable {
    var checks: [SchemaCheck] = []

    /// The boolean schema `true` (no checks) or `false`.
    static func boolean(_ accepts: Bool) -> SchemaNode {
        SchemaNode(checks: accepts ? [] : [.alwaysFails])
    }
}

/// One assertion keyword, compiled.
indirect enum SchemaCheck: Sendable {
    case alwaysFails
    case type(JSONTypeSet)
    case properties([String: SchemaNode])
    case required([String])
    case additionalProperties(declared: Set<String>, schema: SchemaNode)
    case items(SchemaNode)
    case enumeration([JSONValue])
    case constant(JSONValue)
    case minimum(Double)
    case maximum(Double)
    case exclusiveMinimum(Double)
    case exclusiveMaximum(Double)
    case minLength(Int)
    case maxLength(Int)
    case pattern(SchemaPattern)
    case format(StringFormat)
    case minItems(Int)
    case maxItems(Int)
    case uniqueItems
    case reference(String)
    case allOf([SchemaNode])
    case anyOf([SchemaNode])
    case oneOf([SchemaNode])
    case not(SchemaNode)
}

/// The `format` values that are validated.
enum StringFormat: String, Sendable {
    case date
    case dateTime = "date-time"
}

/// A compiled `pattern`: a Swift Regex, matched unanchored as JSON Schema requires.
struct SchemaPattern: @unchecked Sendable {
    // Regex values are immutable once built; `@unchecked` because `Regex<AnyRegexOutput>` is not
    // declared Sendable.
    let source: String
    let regex: Regex<AnyRegexOutput>

    func matches(_ text: String) -> Bool {
        text.contains(regex)
    }
}

/// The JSON Schema type names a `type` keyword lists.
struct JSONTypeSet: Sendable, OptionSet {
    let rawValue: UInt8
    static let null = JSONTypeSet(rawValue: 1 << 0)
    static let boolean = JSONTypeSet(rawValue: 1 << 1)
    static let object = JSONTypeSet(rawValue: 1 << 2)
    static let array = JSONTypeSet(rawValue: 1 << 3)
    static let number = JSONTypeSet(rawValue: 1 << 4)
    static let string = JSONTypeSet(rawValue: 1 << 5)
    static let integer = JSONTypeSet(rawValue: 1 << 6)

    static let names: [(String, JSONTypeSet)] = [
        ("object", .object), ("array", .array), ("string", .string), ("number", .number),
        ("integer", .integer), ("boolean", .boolean), ("null", .null),
    ]

    /// Whether `value` has one of the types (an integral number counts as "integer").
    func admits(_ value: JSONValue) -> Bool {
        switch value {
        case .null: contains(.null)
        case .bool: contains(.boolean)
        case .object: contains(.object)
        case .array: contains(.array)
        case .string: contains(.string)
        case .number(let number):
            contains(.number) || (contains(.integer) && number.isFinite && number.rounded(.towardZero) == number)
        }
    }

    /// "number or null".
    var description: String {
        let listed = Self.names.filter { contains($0.1) }.map(\.0)
        return listed.joined(separator: " or ")
    }
}

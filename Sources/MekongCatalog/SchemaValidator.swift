import MekongEvents

/// Evaluates compiled schemas against values, collecting violations with JSON Pointer paths.
struct SchemaValidator {
    let definitions: [String: SchemaNode]
    let limit: Int
    private(set) var violations: [SchemaViolation] = []
    private var path: [PathToken] = []
    /// A probe only asks whether a value matches: it stops at the first violation and writes no message. Combinators
    /// probe their alternatives first and describe them only when the combinator fails.
    private var probing = false
    private var probeFailed = false

    enum PathToken {
        case key(String)
        case index(Int)
    }

    init(definitions: [String: SchemaNode], limit: Int) {
        self.definitions = definitions
        self.limit = limit
    }

    var isFull: Bool { probing ? probeFailed : violations.count >= limit }

    mutating func validate(_ node: SchemaNode, _ value: JSONValue) {
        for check in node.checks {
            if isFull { return }
            apply(check, to: value)
        }
    }

    // MARK: - Keywords

    private mutating func apply(_ check: SchemaCheck, to value: JSONValue) {
        switch check {
        case .alwaysFails:
            report("is not allowed here")
        case .type(let types):
            if !types.admits(value) { report("must be \(types.description), got \(Self.describeType(value))") }
        case .properties(let properties):
            guard case .object(let object) = value else { return }
            for (key, member) in object {
                guard let schema = properties[key] else { continue }
                if isFull { return }
                path.append(.key(key))
                validate(schema, member)
                path.removeLast()
            }
        case .required(let names):
            guard case .object(let object) = value else { return }
            for name in names where object[name] == nil { report("missing required property '\(name)'") }
        case .additionalProperties(let declared, let schema):
            guard case .object(let object) = value else { return }
            for (key, member) in object where !declared.contains(key) {
                if isFull { return }
                path.append(.key(key))
                if schema.checks.count == 1, case .alwaysFails = schema.checks[0] {
                    report("property '\(key)' is not allowed")
                } else {
                    validate(schema, member)
                }
                path.removeLast()
            }
        case .items(let schema):
            guard case .array(let elements) = value else { return }
            for (position, element) in elements.enumerated() {
                if isFull { return }
                path.append(.index(position))
                validate(schema, element)
                path.removeLast()
            }
        case .enumeration(let options):
            if !options.contains(value) {
                let listed = options.map { JSON.serialize($0) }.joined(separator: ", ")
                report("must be one of \(listed), got \(Self.describe(value))")
            }
        case .constant(let expected):
            if value != expected { report("must be \(JSON.serialize(expected)), got \(Self.describe(value))") }
        case .minimum(let bound):
            if let number = value.numberValue, number < bound {
                report("must be >= \(Self.format(bound)), got \(Self.format(number))")
            }
        case .maximum(let bound):
            if let number = value.numberValue, number > bound {
                report("must be <= \(Self.format(bound)), got \(Self.format(number))")
            }
        case .exclusiveMinimum(let bound):
            if let number = value.numberValue, number <= bound {
                report("must be > \(Self.format(bound)), got \(Self.format(number))")
            }
        case .exclusiveMaximum(let bound):
            if let number = value.numberValue, number >= bound {
                report("must be < \(Self.format(bound)), got \(Self.format(number))")
            }
        case .minLength(let bound):
            if let text = value.stringValue, text.unicodeScalars.count < bound {
                report("must be at least \(bound) characters long, got \(text.unicodeScalars.count)")
            }
        case .maxLength(let bound):
            if let text = value.stringValue, text.unicodeScalars.count > bound {
                report("must be at most \(bound) characters long, got \(text.unicodeScalars.count)")
            }
        case .pattern(let pattern):
            if let text = value.stringValue, !pattern.matches(text) {
                report("must match the pattern \(pattern.source), got \(Self.describe(value))")
            }
        case .format(let format):
            guard let text = value.stringValue else { return }
            switch format {
            case .date where !RFC3339.isValidDate(text):
                report("must be a date (RFC 3339 full-date, YYYY-MM-DD), got \(Self.describe(value))")
            case .dateTime where !RFC3339.isValidDateTime(text):
                report("must be a date-time (RFC 3339), got \(Self.describe(value))")
            default: break
            }
        case .minItems(let bound):
            if let elements = value.arrayValue, elements.count < bound {
                report("must have at least \(bound) items, got \(elements.count)")
            }
        case .maxItems(let bound):
            if let elements = value.arrayValue, elements.count > bound {
                report("must have at most \(bound) items, got \(elements.count)")
            }
        case .uniqueItems:
            guard let elements = value.arrayValue else { return }
            var firstPosition: [JSONValue: Int] = [:]
            for (position, element) in elements.enumerated() {
                if let earlier = firstPosition[element] {
                    report("items must be unique, but items \(earlier) and \(position) are equal")
                    return
                }
                firstPosition[element] = position
            }
        case .reference(let name):
            if let schema = definitions[name] { validate(schema, value) }
        case .allOf(let schemas):
            for schema in schemas { validate(schema, value) }
        case .anyOf(let schemas):
            if !schemas.contains(where: { matches($0, value) }) {
                let closest = probing ? "" : closest(schemas.map { trial($0, value) })
                report("must match at least one anyOf alternative" + closest)
            }
        case .oneOf(let schemas):
            let matched = schemas.indices.filter { matches(schemas[$0], value) }
            if matched.isEmpty {
                let closest = probing ? "" : closest(schemas.map { trial($0, value) })
                report("must match exactly one oneOf alternative, matched none" + closest)
            } else if matched.count > 1 {
                report(
                    "must match exactly one oneOf alternative, matched \(matched.count) (alternatives \(matched.map { String($0 + 1) }.joined(separator: ", ")))"
                )
            }
        case .not(let schema):
            if matches(schema, value) { report("must not match the schema in 'not'") }
        }
    }

    /// Whether `value` matches `schema` (a probe: no messages).
    private func matches(_ schema: SchemaNode, _ value: JSONValue) -> Bool {
        var probe = SchemaValidator(definitions: definitions, limit: 1)
        probe.probing = true
        probe.validate(schema, value)
        return !probe.probeFailed
    }

    /// Validates against `schema` on the side, for combinators; paths stay absolute.
    private func trial(_ schema: SchemaNode, _ value: JSONValue) -> [SchemaViolation] {
        var side = SchemaValidator(definitions: definitions, limit: limit)
        side.path = path
        side.validate(schema, value)
        return side.violations
    }

    /// " (closest: alternative 2: /value: must be null, got number)", paths relative to the current value.
    private func closest(_ outcomes: [[SchemaViolation]]) -> String {
        guard let best = outcomes.indices.min(by: { outcomes[$0].count < outcomes[$1].count }) else { return "" }
        let here = pointer()
        let details = outcomes[best].prefix(3).map { violation in
            let relative =
                violation.path.hasPrefix(here) ? String(violation.path.dropFirst(here.count)) : violation.path
            return SchemaViolation(path: relative, message: violation.message).description
        }
        return " (closest: alternative \(best + 1): \(details.joined(separator: "; ")))"
    }

    private mutating func report(_ message: @autoclosure () -> String) {
        guard !isFull else { return }
        if probing {
            probeFailed = true
            return
        }
        violations.append(SchemaViolation(path: pointer(), message: message()))
    }

    private func pointer() -> String {
        var text = ""
        for token in path {
            text += "/"
            switch token {
            case .key(let key): text += key.replacing("~", with: "~0").replacing("/", with: "~1")
            case .index(let position): text += String(position)
            }
        }
        return text
    }

    // MARK: - Describing values

    private static func describeType(_ value: JSONValue) -> String {
        if case .number(let number) = value, number.rounded(.towardZero) != number { return "number \(format(number))" }
        return value.typeName
    }

    /// A short rendering of a value for messages; long strings and containers are abbreviated.
    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .array, .object: return value.typeName
        default:
            let text = JSON.serialize(value)
            return text.count > 80 ? String(text.prefix(77)) + "...\"" : text
        }
    }

    private static func format(_ number: Double) -> String { JSON.serialize(.number(number)) }
}

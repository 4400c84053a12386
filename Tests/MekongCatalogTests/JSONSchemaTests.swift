import MekongEvents
import Testing

@testable import MekongCatalog

@Suite("JSON Schema subset")
struct JSONSchemaTests {
    private func schema(_ text: String) throws -> JSONSchema {
        try JSONSchema(try JSON.parse(text), file: "test.schema.json")
    }

    private func violations(_ schemaText: String, _ valueText: String) throws -> [SchemaViolation] {
        try schema(schemaText).validate(try JSON.parse(valueText))
    }

    private func loadError(_ text: String) throws -> CatalogError? {
        let json = try JSON.parse(text)
        do {
            _ = try JSONSchema(json, file: "test.schema.json")
            return nil
        } catch {
            return error
        }
    }

    @Test(
        arguments: [
            (#"{"type": "string"}"#, #""x""#, []),
            (#"{"type": "string"}"#, "1", ["(root): must be string, got number"]),
            (#"{"type": ["number", "null"]}"#, "null", []),
            (#"{"type": ["number", "null"]}"#, #""1""#, ["(root): must be number or null, got string"]),
            (#"{"type": "integer"}"#, "3.0", []),
            (#"{"type": "integer"}"#, "3.5", ["(root): must be integer, got number 3.5"]),
            (#"{"type": "boolean"}"#, "false", []),
            (#"{"type": "array"}"#, "{}", ["(root): must be array, got object"]),
            (#"{"enum": ["a", 1, null]}"#, "1", []),
            (#"{"enum": ["a", 1, null]}"#, #""b""#, [#"(root): must be one of "a", 1, null, got "b""#]),
            (#"{"const": {"a": [1, 2]}}"#, #"{"a": [1, 2.0]}"#, []),
            (#"{"const": "x"}"#, #""y""#, [#"(root): must be "x", got "y""#]),
            (#"{"minimum": 1, "maximum": 3}"#, "3", []),
            (#"{"minimum": 1}"#, "0.5", ["(root): must be >= 1, got 0.5"]),
            (#"{"maximum": 3}"#, "4", ["(root): must be <= 3, got 4"]),
            (#"{"exclusiveMinimum": 0}"#, "0", ["(root): must be > 0, got 0"]),
            (#"{"exclusiveMaximum": 10}"#, "10", ["(root): must be < 10, got 10"]),
            (#"{"minimum": 1}"#, #""text""#, []),  // applies to numbers only
            (#"{"minLength": 2, "maxLength": 3}"#, #""Đà""#, []),
            (#"{"maxLength": 1}"#, #""e\u0301""#, ["(root): must be at most 1 characters long, got 2"]),
            (#"{"minLength": 1}"#, #""""#, ["(root): must be at least 1 characters long, got 0"]),
            (#"{"pattern": "b+"}"#, #""abbc""#, []),
            (#"{"pattern": "^b+$"}"#, #""abbc""#, [#"(root): must match the pattern ^b+$, got "abbc""#]),
            (#"{"format": "date"}"#, #""2024-02-29""#, []),
            (
                #"{"format": "date"}"#, #""2025-02-29""#,
                [#"(root): must be a date (RFC 3339 full-date, YYYY-MM-DD), got "2025-02-29""#]
            ),
            (#"{"format": "date-time"}"#, #""2025-07-01T08:30:00+07:00""#, []),
            (
                #"{"format": "date-time"}"#, #""2025-07-01""#,
                [#"(root): must be a date-time (RFC 3339), got "2025-07-01""#]
            ),
            (#"{"minItems": 1, "maxItems": 2}"#, "[1, 2, 3]", ["(root): must have at most 2 items, got 3"]),
            (#"{"minItems": 1}"#, "[]", ["(root): must have at least 1 items, got 0"]),
            (
                #"{"uniqueItems": true}"#, #"[{"a": 1, "b": 2}, 3, {"b": 2, "a": 1.0}]"#,
                ["(root): items must be unique, but items 0 and 2 are equal"]
            ),
            (#"{"uniqueItems": false}"#, "[1, 1]", []),
            (#"{"required": ["a", "b"]}"#, #"{"a": 1}"#, ["(root): missing required property 'b'"]),
            (
                #"{"properties": {"a": {"type": "string"}}, "additionalProperties": false}"#, #"{"a": 1, "b/c": 2}"#,
                ["/a: must be string, got number", "/b~1c: property 'b/c' is not allowed"]
            ),
            (
                #"{"additionalProperties": {"type": "integer"}}"#, #"{"x": 1, "y": 1.5}"#,
                ["/y: must be integer, got number 1.5"]
            ),
            (
                #"{"items": {"properties": {"v": {"type": "number"}}}}"#, #"[{"v": 1}, {"v": "2"}]"#,
                ["/1/v: must be number, got string"]
            ),
            (#"{"allOf": [{"minimum": 2}, {"maximum": 1}]}"#, "5", ["(root): must be <= 1, got 5"]),
            (#"{"anyOf": [{"type": "string"}, {"type": "number"}]}"#, "1", []),
            (#"{"oneOf": [{"type": "integer"}, {"minimum": 0}]}"#, "-1", []),
            (
                #"{"oneOf": [{"type": "integer"}, {"minimum": 0}]}"#, "1",
                ["(root): must match exactly one oneOf alternative, matched 2 (alternatives 1, 2)"]
            ),
            (#"{"not": {"const": 0}}"#, "0", ["(root): must not match the schema in 'not'"]),
            (#"{"not": {"const": 0}}"#, "1", []),
            ("true", #"{"any": "thing"}"#, []),
            ("false", "1", ["(root): is not allowed here"]),
            (#"{"properties": {"a": false}}"#, #"{"a": 1}"#, ["/a: is not allowed here"]),
            (
                #"{"title": "t", "description": "d", "examples": [1], "$comment": "c", "x-anything": {"k": 1}, "type": "number"}"#,
                "1", []
            ),
        ] as [(String, String, [String])])
    func keywords(schemaText: String, valueText: String, expected: [String]) throws {
        #expect(try violations(schemaText, valueText).map(\.description) == expected)
    }

    @Test func anyOfFailureNamesTheClosestAlternative() throws {
        let found = try violations(
            #"{"anyOf": [{"required": ["a", "b"]}, {"required": ["c"]}]}"#, #"{"a": 1}"#)
        #expect(found.count == 1)
        #expect(
            found.first?.message
                == "must match at least one anyOf alternative (closest: alternative 1: (root): missing required property 'b')"
        )
    }

    @Test func referencesResolveRecursively() throws {
        let tree = #"""
            {
              "$defs": {
                "node": {
                  "type": "object", "required": ["name"],
                  "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}
                }
              },
              "$ref": "#/$defs/node"
            }
            """#
        let value = #"{"name": "root", "children": [{"name": "a"}, {"name": "b", "children": [{"name": 3}]}]}"#
        #expect(
            try violations(tree, value).map(\.description) == [
                "/children/1/children/0/name: must be string, got number"
            ])
    }

    @Test func violationsAreCappedAtFifty() throws {
        let value = "[" + (0..<120).map(String.init).joined(separator: ",") + "]"
        let found = try violations(#"{"items": {"type": "string"}}"#, value)
        #expect(found.count == JSONSchema.violationLimit)
        #expect(found.last?.path == "/49")
    }

    @Test(arguments: [
        (
            #"{"type": "object", "patternProperties": {"^x": {}}}"#,
            "unsupported JSON Schema keyword 'patternProperties'", "#"
        ),
        (#"{"items": {"if": {"type": "string"}}}"#, "unsupported JSON Schema keyword 'if'", "#/items"),
        (
            #"{"properties": {"a/b": {"minProperties": 1}}}"#, "unsupported JSON Schema keyword 'minProperties'",
            "#/properties/a~1b"
        ),
        (#"{"properties": {"a": {"default": 1}}}"#, "unsupported JSON Schema keyword 'default'", "#/properties/a"),
        (#"{"items": [{"type": "string"}]}"#, "'items' must be a single schema", "#"),
        (#"{"exclusiveMinimum": true, "minimum": 0}"#, "'exclusiveMinimum' must be a number", "#"),
        (#"{"pattern": "("}"#, "is not a valid regular expression", "#"),
        (#"{"format": "email"}"#, "unsupported 'format' \"email\"", "#"),
        (#"{"type": "text"}"#, "unknown type \"text\"", "#/type"),
        (#"{"$schema": "http://json-schema.org/draft-07/schema#"}"#, "'$schema' must be", "#"),
        (#"{"$ref": "other.json#/x"}"#, "only local definitions", "#"),
        (##"{"$ref": "#/$defs/missing"}"##, "names no entry", "#"),
        (#"{"items": {"$defs": {"a": {}}}}"#, "'$defs' is only supported in the root schema", "#/items"),
        (
            ##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}}}"##, "'$ref' cycle",
            "#/$defs/a"
        ),
        (
            #"{"required": ["a"], "properties": {}, "additionalProperties": false}"#,
            "required property 'a' is not declared", "#"
        ),
        (#"{"minLength": -1}"#, "'minLength' must be a non-negative integer", "#"),
        (#"{"enum": []}"#, "'enum' must be a non-empty array", "#"),
        (#"{"description": 5}"#, "'description' must be a string", "#"),
        ("[]", "a schema must be an object or a boolean", "#"),
    ])
    func rejectsWhatItWouldNotEnforce(text: String, fragment: String, pointer: String) throws {
        let error = try #require(try loadError(text))
        #expect(error.file == "test.schema.json")
        #expect(error.message.contains(fragment), "\(error)")
        #expect(error.message.hasSuffix(" at \(pointer)"), "\(error)")
    }

    @Test func refsThroughChildrenAreNotCycles() throws {
        let list = ##"{"$defs": {"list": {"properties": {"next": {"$ref": "#/$defs/list"}}}}, "$ref": "#/$defs/list"}"##
        #expect(try violations(list, #"{"next": {"next": {}}}"#) == [])
    }
}

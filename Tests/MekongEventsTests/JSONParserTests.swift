import Testing

@testable import MekongEvents

@Suite("JSON parser")
struct JSONParserTests {
    @Test func parsesAllValueKindsAndKeepsMemberOrder() throws {
        let value = try JSON.parse(#" { "z": [1, -2.5e3, true, false, null], "a": {"nested": "x"}, "m": "" } "#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["z", "a", "m"])
        #expect(object["z"] == [1, -2500, true, false, nil])
        #expect(value["a"]?["nested"] == "x")
        #expect(object["m"] == "")
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSON.parse(#""\u00e9\ud83d\ude00\n\t\"\\\/ \u0041""#)
        #expect(value == .string("é😀\n\t\"\\/ A"))
    }

    @Test func keepsNonASCIIText() throws {
        let value = try JSON.parse(#"{"tên": "Thành phố Hồ Chí Minh"}"#)
        #expect(value["tên"] == "Thành phố Hồ Chí Minh")
    }

    @Test func parsesFromNonContiguousCollections() throws {
        let bytes = Array(#"{"a": [1, 2]}"#.utf8)
        let lazy = bytes.lazy.map { $0 }
        #expect(try JSON.parse(lazy) == ["a": [1, 2]])
    }

    @Test(arguments: [
        ("0", 0.0), ("-0", -0.0), ("0.1", 0.1), ("123.456e-5", 123.456e-5), ("1E5", 1e5),
        ("9007199254740992", 9_007_199_254_740_992), ("-9007199254740992", -9_007_199_254_740_992),
        ("1.5e300", 1.5e300), ("0.1234567890123456789", 0.1234567890123456789),
        ("12345678901234567890.5", 12345678901234567890.5), ("5e-324", Double.leastNonzeroMagnitude), ("2e-3", 0.002),
        ("0.000000000000000000000000001", 1e-27),
    ])
    func numbersConvertExactly(text: String, expected: Double) throws {
        let value = try JSON.parse(text)
        #expect(value == .number(expected))
        #expect(value.numberValue?.sign == expected.sign)
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        let bytes: [UInt8]
        let line: Int
        let column: Int
        let fragment: String
        var testDescription: String { "\(fragment) at \(line):\(column)" }

        init(_ text: String, _ line: Int, _ column: Int, _ fragment: String) {
            self.init(bytes: Array(text.utf8), line, column, fragment)
        }

        init(bytes: [UInt8], _ line: Int, _ column: Int, _ fragment: String) {
            self.bytes = bytes
            self.line = line
            self.column = column
            self.fragment = fragment
        }
    }

    @Test(arguments: [
        BadInput("", 1, 1, "unexpected end of input"),
        BadInput(#"{"a":1,}"#, 1, 8, "trailing comma before '}'"),
        BadInput("[1, 2,]", 1, 7, "trailing comma before ']'"),
        BadInput("{\n  \"a\": 1,\n  \"a\": 2\n}", 3, 3, "duplicate key \"a\""),
        BadInput("// note\n{}", 1, 1, "comments are not allowed"),
        BadInput("{\"a\": 1 /* c */}", 1, 9, "expected ',' or '}'"),
        BadInput("[NaN]", 1, 2, "NaN and Infinity"),
        BadInput("[-Infinity]", 1, 3, "expected a digit after '-'"),
        BadInput("{\"n\": 9007199254740993}", 1, 7, "outside ±2^53"),
        BadInput("-123456789012345678901234", 1, 1, "outside ±2^53"),
        BadInput("1e400", 1, 1, "too large"),
        BadInput("01", 1, 1, "leading zeros"),
        BadInput("1.", 1, 3, "after the decimal point"),
        BadInput(".5", 1, 1, "unexpected character '.'"),
        BadInput("+1", 1, 1, "unexpected character '+'"),
        BadInput("1e+", 1, 4, "exponent"),
        BadInput("{'a': 1}", 1, 2, "expected a string key"),
        BadInput("'a'", 1, 1, "double quotes"),
        BadInput(#"{"tên": tru}"#, 1, 9, "expected 'true'"),
        BadInput("\"abc", 1, 1, "unterminated string"),
        BadInput("\"a\tb\"", 1, 3, "control character U+0009"),
        BadInput(#""\ud800""#, 1, 2, "lone surrogate U+D800"),
        BadInput(#""\udc00x""#, 1, 2, "lone surrogate U+DC00"),
        BadInput(#""\ud800\u0041""#, 1, 2, "lone surrogate U+D800"),
        BadInput(#""\x""#, 1, 2, "invalid escape"),
        BadInput(#""\u12G4""#, 1, 6, "four hex digits"),
        BadInput("{\"a\" 1}", 1, 6, "expected ':'"),
        BadInput("{\"a\": 1} x", 1, 10, "after the end of the JSON value"),
        BadInput("[1]\r\n[2]", 2, 1, "after the end of the JSON value"),
        BadInput("{\"a\": [1, 2}", 1, 12, "expected ',' or ']'"),
        BadInput(bytes: [0x22, 0xC3, 0x28, 0x22], 1, 3, "invalid UTF-8"),
        BadInput(bytes: [0x22, 0xC0, 0x80, 0x22], 1, 2, "invalid UTF-8 byte 0xC0"),
        BadInput(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], 1, 3, "invalid UTF-8"),  // encoded surrogate
        BadInput(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1, 3, "invalid UTF-8"),  // above U+10FFFF
        BadInput(bytes: [0x22, 0xE2, 0x82], 1, 2, "truncated UTF-8"),
        BadInput(bytes: [0xEF, 0xBB, 0xBF, 0x7B, 0x7D], 1, 1, "byte order mark"),
        BadInput(bytes: [0x5B, 0xFF, 0x5D], 1, 2, "byte 0xFF"),
    ])
    func rejectsWithPosition(input: BadInput) {
        do {
            let value = try JSON.parse(input.bytes)
            Issue.record("accepted \(value)")
        } catch {
            #expect(error.line == input.line)
            #expect(error.column == input.column)
            #expect(error.message.contains(input.fragment), "message: \(error.message)")
            #expect(error.description.hasPrefix("line \(input.line), column \(input.column): "))
        }
    }

    @Test func nestingLimitIs128() throws {
        let deepest = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        _ = try JSON.parse(deepest)
        let tooDeep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        let error = #expect(throws: JSONParseError.self) { try JSON.parse(tooDeep) }
        #expect(error?.column == 129)
        #expect(error?.message.contains("128") == true)
        let objects = String(repeating: "{\"a\":", count: 129) + "1" + String(repeating: "}", count: 129)
        #expect(throws: JSONParseError.self) { try JSON.parse(objects) }
    }

    @Test func integerLimitIsExactlyTwoToThe53() throws {
        #expect(try JSON.parse("9007199254740992").integerValue == 9_007_199_254_740_992)
        #expect(throws: JSONParseError.self) { try JSON.parse("9007199254740993") }
        #expect(throws: JSONParseError.self) { try JSON.parse("-9007199254740993") }
        // A fraction or exponent makes it a (rounded) double, not an integer token.
        #expect(try JSON.parse("9007199254740993.0") == .number(9_007_199_254_740_992))
        #expect(try JSON.parse("1e300") == .number(1e300))
    }

    /// Whatever the writer prints, the parser reads back: `1e16` is written as an integer beyond 2^53, which is taken
    /// because it is how that double prints; an integer the double holds exactly is taken too; one a double would
    /// change is still refused.
    @Test func integersBeyondTwoToThe53AreTakenWhenNoDigitChanges() throws {
        for text in ["1e16", "-1e16", "2e20", "73786976294838206464e0", "9.007199254740994e15"] {
            let value = try JSON.parse(text)
            let written = JSON.serialize(value)
            #expect(try JSON.parse(written) == value, "\(text) → \(written)")
        }
        #expect(JSON.serialize(try JSON.parse("1e16")) == "10000000000000000")
        #expect(try JSON.parse("10000000000000000") == .number(1e16))
        #expect(try JSON.parse("73786976294838210000") == .number(73_786_976_294_838_206_464))
        // 2^60 exactly, and as it prints.
        #expect(try JSON.parse("-1152921504606846976") == .number(-1_152_921_504_606_846_976))
        #expect(try JSON.parse("1152921504606847000") == .number(1_152_921_504_606_846_976))
        for refused in ["9007199254740993", "10000000000000001", "18446744073709551617", "100000000000000000000000"] {
            #expect(throws: JSONParseError.self, "\(refused)") { try JSON.parse(refused) }
        }
    }

    @Test func duplicateKeysAreFoundInLargeObjects() {
        let members = (0..<40).map { "\"k\($0)\": \($0)" } + ["\"k17\": 0"]
        let text = "{" + members.joined(separator: ",") + "}"
        let error = #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        #expect(error?.message == "duplicate key \"k17\"")
    }
}

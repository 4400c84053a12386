/// A strict RFC 8259 parser working on UTF-8 bytes (see ``JSON/parse(_:)-(Collection<UInt8>)``).
struct JSONParser {
    /// The deepest nesting of arrays and objects accepted.
    static let maximumDepth = 128
    /// The largest integer magnitude accepted (I-JSON: beyond it doubles lose integers).
    static let maximumExactInteger: UInt64 = 1 << 53

    private let bytes: UnsafeBufferPointer<UInt8>
    private let depthLimit: Int
    private var position = 0
    private var depth = 0
    /// Reused buffer for strings that contain escapes.
    private var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int = JSONParser.maximumDepth) {
        self.bytes = bytes
        self.depthLimit = min(maximumDepth, Self.maximumDepth)
    }

    /// Parses the whole buffer as one JSON text.
    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw fail("a byte order mark is not allowed", at: 0)
        }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if position < bytes.count {
            throw fail("unexpected \(describe(position)) after the end of the JSON value", at: position)
        }
        return value
    }

    // MARK: - Values

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard position < bytes.count else {
            throw fail("unexpected end of input, expected a value", at: position)
        }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            throw fail("NaN and Infinity are not valid JSON numbers", at: position)
        case UInt8(ascii: "/"):
            throw fail("comments are not allowed in JSON", at: position)
        case UInt8(ascii: "'"):
            throw fail("strings must use double quotes", at: position)
        default:
            throw fail("unexpected \(describe(position)), expected a value", at: position)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = position
        let text = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for expected in text {
            guard position < bytes.count, bytes[position] == expected else {
                throw fail("invalid literal, expected '\(literal)'", at: start)
            }
            position += 1
        }
    }

    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        if depth > depthLimit {
            throw fail("nesting deeper than \(depthLimit) levels", at: position)
        }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        position += 1  // {
        var keys: [String] = []
        var values: [JSONValue] = []
        var seen: Set<String>? = nil
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return .object(JSONObject())
        }
        while true {
            guard position < bytes.count else {
                throw fail("unexpected end of input inside an object, expected a key", at: position)
            }
            guard bytes[position] == UInt8(ascii: "\"") else {
                if bytes[position] == UInt8(ascii: "}"), !keys.isEmpty {
                    throw fail("trailing comma before '}'", at: position)
                }
                throw fail("unexpected \(describe(position)), expected a string key", at: position)
            }
            let keyStart = position
            let key = try parseString()
            if seen == nil, keys.count >= JSONObject.indexThreshold { seen = Set(keys) }
            let duplicate = seen.map { $0.contains(key) } ?? keys.contains(key)
            if duplicate {
                throw fail("duplicate key \"\(key)\"", at: keyStart)
            }
            seen?.insert(key)
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw fail("expected ':' after the key \"\(key)\"", at: position)
            }
            position += 1
            skipWhitespace()
            let value = try parseValue()
            keys.append(key)
            values.append(value)
            skipWhitespace()
            guard position < bytes.count else {
                throw fail("unexpected end of input inside an object, expected ',' or '}'", at: position)
            }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                skipWhitespace()
            } else if bytes[position] == UInt8(ascii: "}") {
                position += 1
                break
            } else {
                throw fail("unexpected \(describe(position)) in an object, expected ',' or '}'", at: position)
            }
        }
        depth -= 1
        return .object(JSONObject(uniqueKeys: keys, values: values))
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            if position < bytes.count, bytes[position] == UInt8(ascii: "]"), !elements.isEmpty {
                throw fail("trailing comma before ']'", at: position)
            }
            elements.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else {
                throw fail("unexpected end of input inside an array, expected ',' or ']'", at: position)
            }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                skipWhitespace()
            } else if bytes[position] == UInt8(ascii: "]") {
                position += 1
                break
            } else {
                throw fail("unexpected \(describe(position)) in an array, expected ',' or ']'", at: position)
            }
        }
        depth -= 1
        return .array(elements)
    }

    // MARK: - Strings

    private mutating func parseString() throws(JSONParseError) -> String {
        let open = position
        var index = position + 1
        // Fast path: no escapes, so the string is a slice of the input.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                position = index + 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[(open + 1)..<index]), as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                break
            } else if byte < 0x20 {
                throw controlCharacter(at: index)
            } else if byte < 0x80 {
                index += 1
            } else {
                index += try validateUTF8Sequence(at: index)
            }
        }
        guard index < bytes.count else { throw fail("unterminated string", at: open) }

        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[(open + 1)..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                position = index + 1
                return String(decoding: scratch, as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                index = try appendEscape(at: index)
            } else if byte < 0x20 {
                throw controlCharacter(at: index)
            } else if byte < 0x80 {
                scratch.append(byte)
                index += 1
            } else {
                let length = try validateUTF8Sequence(at: index)
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<(index + length)]))
                index += length
            }
        }
        throw fail("unterminated string", at: open)
    }

    private func controlCharacter(at index: Int) -> JSONParseError {
        fail("unescaped control character \(hexScalar(UInt32(bytes[index]))) in a string", at: index)
    }

    /// Decodes the escape sequence starting at the backslash at `index` into `scratch`;
    /// returns the index after it.
    private mutating func appendEscape(at index: Int) throws(JSONParseError) -> Int {
        guard index + 1 < bytes.count else { throw fail("unterminated string", at: index) }
        let decoded: UInt8
        switch bytes[index + 1] {
        case UInt8(ascii: "\""): decoded = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): decoded = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): decoded = UInt8(ascii: "/")
        case UInt8(ascii: "b"): decoded = 0x08
        case UInt8(ascii: "f"): decoded = 0x0C
        case UInt8(ascii: "n"): decoded = 0x0A
        case UInt8(ascii: "r"): decoded = 0x0D
        case UInt8(ascii: "t"): decoded = 0x09
        case UInt8(ascii: "u"):
            return try appendUnicodeEscape(at: index)
        default:
            throw fail("invalid escape sequence '\\\(describeCharacter(index + 1))'", at: index)
        }
        scratch.append(decoded)
        return index + 2
    }

    private mutating func appendUnicodeEscape(at index: Int) throws(JSONParseError) -> Int {
        let first = try hexQuad(at: index + 2, escapeAt: index)
        var scalarValue = UInt32(first)
        var next = index + 6
        if (0xD800...0xDBFF).contains(first) {
            guard next + 1 < bytes.count, bytes[next] == UInt8(ascii: "\\"), bytes[next + 1] == UInt8(ascii: "u")
            else {
                throw fail(
                    "lone surrogate \(hexScalar(UInt32(first))) (a high surrogate must be followed by a low one)",
                    at: index)
            }
            let second = try hexQuad(at: next + 2, escapeAt: next)
            guard (0xDC00...0xDFFF).contains(second) else {
                throw fail(
                    "lone surrogate \(hexScalar(UInt32(first))) (followed by \(hexScalar(UInt32(second))), not a low surrogate)",
                    at: index)
            }
            scalarValue = 0x10000 + ((UInt32(first) - 0xD800) << 10) + (UInt32(second) - 0xDC00)
            next += 6
        } else if (0xDC00...0xDFFF).contains(first) {
            throw fail("lone surrogate \(hexScalar(UInt32(first))) (a low surrogate without a high one)", at: index)
        }
        guard let scalar = Unicode.Scalar(scalarValue) else {
            throw fail("invalid Unicode escape", at: index)
        }
        scratch.append(contentsOf: scalar.utf8)
        return next
    }

    private func hexQuad(at start: Int, escapeAt escape: Int) throws(JSONParseError) -> UInt16 {
        guard start + 4 <= bytes.count else {
            throw fail("incomplete \\u escape, expected four hex digits", at: escape)
        }
        var value: UInt16 = 0
        for offset in 0..<4 {
            let byte = bytes[start + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape, expected four hex digits", at: start + offset)
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// Checks the UTF-8 sequence whose lead byte (>= 0x80) is at `index` (Unicode Table 3-7:
    /// no overlong forms, no surrogates, nothing above U+10FFFF); returns its length.
    private func validateUTF8Sequence(at index: Int) throws(JSONParseError) -> Int {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            secondRange = 0x80...0x9F
        case 0xF0:
            length = 4
            secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            secondRange = 0x80...0x8F
        default:
            throw fail("invalid UTF-8 byte 0x\(hexByte(lead))", at: index)
        }
        for offset in 1..<length {
            guard index + offset < bytes.count else {
                throw fail("truncated UTF-8 sequence", at: index)
            }
            let byte = bytes[index + offset]
            let range = offset == 1 ? secondRange : 0x80...0xBF
            guard range.contains(byte) else {
                throw fail("invalid UTF-8 sequence (byte 0x\(hexByte(byte)))", at: index + offset)
            }
        }
        return length
    }

    // MARK: - Numbers

    /// Exact powers of ten for the fast conversion path.
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    private mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = position
        var index = position
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw fail("expected a digit after '-'", at: index)
        }
        var mantissa: UInt64 = 0
        var significantDigits = 0  // digits after leading zeros, including those not accumulated
        var droppedIntegerDigits = 0  // integer digits beyond what fits in `mantissa`
        var fractionDigits = 0  // fraction digits accumulated into `mantissa`
        var isInteger = true

        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) {
                throw fail("leading zeros are not allowed in numbers", at: start)
            }
        } else {
            while index < bytes.count, isDigit(bytes[index]) {
                significantDigits += 1
                if significantDigits <= 19 {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[index] - UInt8(ascii: "0"))
                } else {
                    droppedIntegerDigits += 1
                }
                index += 1
            }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw fail("expected a digit after the decimal point", at: index)
            }
            while index < bytes.count, isDigit(bytes[index]) {
                let digit = bytes[index] - UInt8(ascii: "0")
                if mantissa != 0 || digit != 0 { significantDigits += 1 }
                if significantDigits <= 19 {
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    fractionDigits += 1
                }
                index += 1
            }
        }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw fail("expected a digit in the exponent", at: index)
            }
            while index < bytes.count, isDigit(bytes[index]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
                index += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        position = index

        if isInteger, significantDigits > 16 || mantissa > Self.maximumExactInteger {
            // Beyond ±2^53 a double skips integers. An integer is taken when it is written as its double prints
            // (RFC 8785: `1e16` serialises to 10000000000000000), or, below 2^64, when the double holds it exactly;
            // any other would silently become a different number.
            let written = text(start..<index)
            guard let value = Double(written), value.isFinite,
                  ECMAScriptNumber.string(value) == written
                    || UInt64(exactly: value.magnitude).map(String.init) == String(written.drop { $0 == "-" })
            else {
                throw fail(
                    "integer \(written) is outside ±2^53 and a double cannot hold it exactly "
                        + "(I-JSON, RFC 7493); send it as a string",
                    at: start)
            }
            return value
        }
        let decimalExponent = exponent + droppedIntegerDigits - fractionDigits
        var value: Double
        if significantDigits <= 15, abs(decimalExponent) <= 22 {
            // Clinger's fast path: both operands exact, so one IEEE operation rounds correctly.
            value = Double(mantissa)
            if decimalExponent > 0 {
                value *= Self.powersOfTen[decimalExponent]
            } else if decimalExponent < 0 {
                value /= Self.powersOfTen[-decimalExponent]
            }
            if negative { value = -value }
        } else {
            guard let parsed = Double(text(start..<index)) else {
                throw fail("invalid number \(text(start..<index))", at: start)
            }
            value = parsed
        }
        guard value.isFinite else {
            throw fail("number \(text(start..<index)) is too large for a 64-bit double", at: start)
        }
        return value
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    // MARK: - Helpers

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    private func fail(_ message: String, at offset: Int) -> JSONParseError {
        JSONParseError.at(offset, in: bytes, message)
    }

    /// "character 'x'" for printable ASCII, "byte 0xNN" otherwise.
    private func describe(_ index: Int) -> String {
        let byte = bytes[index]
        if byte >= 0x21, byte < 0x7F { return "character '\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(hexByte(byte))"
    }

    private func describeCharacter(_ index: Int) -> String {
        guard index < bytes.count else { return "" }
        let byte = bytes[index]
        if byte >= 0x20, byte < 0x7F { return String(Character(Unicode.Scalar(byte))) }
        return "0x\(hexByte(byte))"
    }

    private func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }

    private func hexScalar(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

/// Writes compact JSON into a byte buffer, optionally with object keys in RFC 8785 order.
struct JSONWriter {
    private(set) var output: [UInt8] = []
    let sortKeys: Bool

    init(sortKeys: Bool, capacity: Int = 256) {
        self.sortKeys = sortKeys
        output.reserveCapacity(capacity)
    }

    mutating func write(_ value: JSONValue) {
        switch value {
        case .null: appendASCII("null")
        case .bool(let flag): appendASCII(flag ? "true" : "false")
        case .number(let number): ECMAScriptNumber.append(number, to: &output)
        case .string(let text): writeString(text)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                write(element)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            writeObject(object)
        }
    }

    private mutating func writeObject(_ object: JSONObject) {
        output.append(UInt8(ascii: "{"))
        let keys = object.keys
        let values = object.values
        if sortKeys, keys.count > 1 {
            let order = keys.indices.sorted { CanonicalJSON.precedes(keys[$0], keys[$1]) }
            for (written, position) in order.enumerated() {
                if written > 0 { output.append(UInt8(ascii: ",")) }
                writeMember(keys[position], values[position])
            }
        } else {
            for position in keys.indices {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                writeMember(keys[position], values[position])
            }
        }
        output.append(UInt8(ascii: "}"))
    }

    private mutating func writeMember(_ key: String, _ value: JSONValue) {
        writeString(key)
        output.append(UInt8(ascii: ":"))
        write(value)
    }

    /// Escapes only `"`, `\` and control characters (RFC 8785 §3.2.2.2); everything else is raw UTF-8.
    mutating func writeString(_ text: String) {
        output.append(UInt8(ascii: "\""))
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { appendEscaped($0) }
        if done == nil {
            for byte in text.utf8 { appendEscaped(byte) }
        }
        output.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for index in bytes.indices where Self.needsEscape(bytes[index]) {
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            appendEscaped(bytes[index])
            runStart = index + 1
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): appendASCII("\\\"")
        case UInt8(ascii: "\\"): appendASCII("\\\\")
        case 0x08: appendASCII("\\b")
        case 0x09: appendASCII("\\t")
        case 0x0A: appendASCII("\\n")
        case 0x0C: appendASCII("\\f")
        case 0x0D: appendASCII("\\r")
        case 0x00..<0x20:
            appendASCII("\\u00")
            output.append(Hex.digits[Int(byte >> 4)])
            output.append(Hex.digits[Int(byte & 0x0F)])
        default:
            output.append(byte)
        }
    }


    private mutating func appendASCII(_ text: StaticString) {
        output.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}

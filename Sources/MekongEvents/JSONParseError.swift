/// Why a JSON document was rejected, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line of the offending byte (lines end at LF, CR LF or a lone CR).
    public let line: Int
    /// 1-based column of the offending byte, counted in Unicode scalars from the start of its line.
    public let column: Int
    /// What is wrong, e.g. "trailing comma before '}'".
    public let message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    /// "line 3, column 17: duplicate key \"id\"".
    public var description: String { "line \(line), column \(column): \(message)" }
}

extension JSONParseError {
    /// Builds an error for the byte at `offset`, computing its line and column.
    static func at(_ offset: Int, in bytes: UnsafeBufferPointer<UInt8>, _ message: String) -> JSONParseError {
        var line = 1
        var column = 1
        var position = 0
        let end = min(offset, bytes.count)
        while position < end {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte == UInt8(ascii: "\r") {
                if position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "\n") {
                    position += 1
                }
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                // Count scalars: every byte except UTF-8 continuation bytes starts one.
                column += 1
            }
            position += 1
        }
        return JSONParseError(line: line, column: column, message: message)
    }
}

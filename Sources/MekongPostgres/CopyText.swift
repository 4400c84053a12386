/// Rows in COPY text format (tab-separated, `\N` for NULL, backslash escapes), built field by field without
/// intermediate strings, for ``PostgresConnection/copyIn(_:text:)``. Build it where the data is (in parallel, if
/// rows are independent) and concatenate with ``append(contentsOf:)``.
public struct CopyText: Sendable {
    /// The encoded rows.
    public private(set) var bytes: [UInt8] = []
    private var fieldsInRow = 0

    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends one row of text fields (nil is NULL).
    public mutating func append(_ row: [String?]) {
        for field in row { text(field) }
        endRow()
    }

    /// A text field, escaped; nil is NULL.
    public mutating func text(_ value: String?) {
        guard var value else { return null() }
        separate()
        value.withUTF8 { escaped($0) }
    }

    /// An integer field.
    public mutating func integer(_ value: Int64) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A `bytea` field in hex input format (`\x` then two hex digits per byte, the backslash escaped for COPY).
    public mutating func bytea(_ value: [UInt8]) {
        separate()
        bytes.append(0x5C)
        bytes.append(0x5C)
        bytes.append(0x78)
        appendHex(value, to: &bytes)
    }

    /// A NULL field.
    public mutating func null() {
        separate()
        bytes.append(0x5C)  // \N
        bytes.append(0x4E)
    }

    /// Ends the current row.
    public mutating func endRow() {
        bytes.append(0x0A)
        fieldsInRow = 0
    }

    /// Appends rows encoded elsewhere; `other` must end with a complete row and this text must be between rows.
    public mutating func append(contentsOf other: CopyText) {
        bytes.append(contentsOf: other.bytes)
    }

    /// Fields encoded elsewhere that continue the current row (e.g. a prefix computed in parallel);
    /// `other` must hold whole fields and no row end.
    public mutating func append(fields other: CopyText) {
        guard other.fieldsInRow > 0 else { return }
        if fieldsInRow > 0 { bytes.append(0x09) }
        bytes.append(contentsOf: other.bytes)
        fieldsInRow += other.fieldsInRow
    }

    private mutating func separate() {
        if fieldsInRow > 0 { bytes.append(0x09) }
        fieldsInRow += 1
    }

    private mutating func escaped(_ value: UnsafeBufferPointer<UInt8>) {
        guard value.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else {
            bytes.append(contentsOf: value)
            return
        }
        for byte in value {
            switch byte {
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)  // \\
            case 0x09: bytes.append(0x5C); bytes.append(0x74)  // \t
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)  // \n
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)  // \r
            default: bytes.append(byte)
            }
        }
    }
}

/// Rows in PostgreSQL's COPY binary format, built field by field, for
/// ``PostgresConnection/copyIn(_:binary:)``: every field is its length and its bytes in the column type's
/// binary representation, so the server parses no text (no hex `bytea`, no timestamp syntax).
///
/// The caller must match each column's type exactly: ``integer32(_:)`` for `integer`, ``integer64(_:)`` for
/// `bigint`, ``timestamp(microsecondsSince2000:)`` for `timestamptz`. A mismatch is refused by the server
/// (`22P03`, "incorrect binary data format"), never stored as a wrong value.
///
/// Build it where the data is (in parallel, if rows are independent) and join the parts with
/// ``append(contentsOf:)`` or ``append(fields:)``. The file header and trailer are added when sending.
public struct CopyBinary: Sendable {
    /// The encoded tuples (no header, no trailer).
    public private(set) var bytes: [UInt8] = []
    /// Where the open row's 16-bit field count goes, or nil between rows.
    private var rowStart: Int?
    private var fieldsInRow: Int16 = 0

    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// `PGCOPY\n\377\r\n\0`, no flags (no OIDs), no header extension.
    static let header: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0]
        + [0, 0, 0, 0]
    /// A field count of -1 ends the data.
    static let trailer: [UInt8] = [0xFF, 0xFF]

    /// Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's timestamp epoch.
    static let postgresEpochMicroseconds: Int64 = 946_684_800 * 1_000_000

    /// A `text` field (UTF-8); nil is NULL.
    public mutating func text(_ value: String?) {
        guard var value else { return null() }
        value.withUTF8 { field(length: $0.count); bytes.append(contentsOf: $0) }
    }

    /// An `integer` (int4) field.
    public mutating func integer32(_ value: Int32) {
        field(length: 4)
        appendBigEndian(value)
    }

    /// A `bigint` (int8) field.
    public mutating func integer64(_ value: Int64) {
        field(length: 8)
        appendBigEndian(value)
    }

    /// A `double precision` (float8) field.
    public mutating func double(_ value: Double) {
        field(length: 8)
        appendBigEndian(value.bitPattern)
    }

    /// A `boolean` field.
    public mutating func boolean(_ value: Bool) {
        field(length: 1)
        bytes.append(value ? 1 : 0)
    }

    /// A `bytea` field, its bytes as they are.
    public mutating func bytea(_ value: some Collection<UInt8>) {
        field(length: value.count)
        bytes.append(contentsOf: value)
    }

    /// A `timestamptz` (or `timestamp`) field: microseconds since 2000-01-01T00:00:00Z.
    public mutating func timestamp(microsecondsSince2000 value: Int64) {
        field(length: 8)
        appendBigEndian(value)
    }

    /// A `timestamptz` field from Unix time, rounded to the microsecond as PostgreSQL rounds timestamp text
    /// (to nearest, ties to even).
    public mutating func timestamp(epochSeconds: Int64, nanoseconds: Int32) {
        let wholeMicros = Int64(nanoseconds / 1000)
        let remainder = nanoseconds % 1000
        let roundUp = remainder > 500 || (remainder == 500 && wholeMicros % 2 == 1)
        timestamp(
            microsecondsSince2000: epochSeconds * 1_000_000 + wholeMicros + (roundUp ? 1 : 0)
                - Self.postgresEpochMicroseconds)
    }

    /// A `date` field: days since 2000-01-01.
    public mutating func date(daysSince2000 value: Int32) {
        field(length: 4)
        appendBigEndian(value)
    }

    /// A NULL field.
    public mutating func null() {
        beginFieldInRow()
        appendBigEndian(Int32(-1))
    }

    /// Ends the current row (a row needs at least one field).
    public mutating func endRow() {
        guard let start = rowStart else { preconditionFailure("endRow() without a field") }
        let count = UInt16(bitPattern: fieldsInRow)
        bytes[start] = UInt8(truncatingIfNeeded: count >> 8)
        bytes[start + 1] = UInt8(truncatingIfNeeded: count)
        rowStart = nil
        fieldsInRow = 0
    }

    /// Appends rows encoded elsewhere; `other` must hold whole rows and this value must be between rows.
    public mutating func append(contentsOf other: CopyBinary) {
        precondition(rowStart == nil && other.rowStart == nil, "append(contentsOf:) joins whole rows only")
        bytes.append(contentsOf: other.bytes)
    }

    /// Fields encoded elsewhere that continue the current row (e.g. a prefix computed in parallel);
    /// `other` must hold the fields of one open row and nothing else.
    public mutating func append(fields other: CopyBinary) {
        guard let otherStart = other.rowStart else { return }
        precondition(otherStart == 0, "append(fields:) takes the fields of one open row")
        if rowStart == nil { startRow() }
        bytes.append(contentsOf: other.bytes[2...])
        fieldsInRow += other.fieldsInRow
    }

    private mutating func field(length: Int) {
        beginFieldInRow()
        appendBigEndian(Int32(length))
    }

    private mutating func beginFieldInRow() {
        if rowStart == nil { startRow() }
        fieldsInRow += 1
    }

    private mutating func startRow() {
        rowStart = bytes.count
        bytes.append(0)
        bytes.append(0)
    }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

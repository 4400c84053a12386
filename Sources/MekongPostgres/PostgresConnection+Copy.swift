import CLibPQ

extension PostgresConnection {
    /// Streams rows into the server with `COPY … FROM STDIN` in text format, and returns the number of rows
    /// copied (from the command tag).
    ///
    /// - Parameters:
    ///   - copyStatement: e.g. `COPY staging (id, name) FROM STDIN`, in the default text format (tab
    ///     delimiter, `\N` for NULL); `FORMAT csv`, `binary` or a custom `DELIMITER`/`NULL` do not match the
    ///     encoding used here.
    ///   - rows: one array per row, one element per column; nil is NULL. Values are escaped (`\\`, tab,
    ///     newline, carriage return) and sent in chunks of about 64 KiB.
    /// - Throws: `.copyFailed` with the server's SQLSTATE, message and context (the offending line) when the
    ///   statement or any row is refused; the whole COPY is then void. `.connectionLost`, `.misuse` (not a
    ///   `COPY FROM STDIN` statement, or a closed connection).
    public func copyIn(_ copyStatement: String, rows: some Sequence<[String?]>) throws(PostgresError) -> Int {
        var text = CopyText()
        for row in rows { text.append(row) }
        return try copyIn(copyStatement, text: text)
    }

    /// Streams rows already encoded in COPY text format (``CopyText``) with `COPY … FROM STDIN`, in chunks of
    /// about 64 KiB; returns the number of rows copied. Errors as for ``copyIn(_:rows:)``.
    public func copyIn(_ copyStatement: String, text: CopyText) throws(PostgresError) -> Int {
        let handle = try openHandle()
        try Self.refuseNUL(copyStatement, what: "COPY statement")
        guard let start = PQexec(handle, copyStatement) else {
            throw connectionError(query: copyStatement, fallback: .copyFailed)
        }
        let status = PQresultStatus(start)
        let binary = PQbinaryTuples(start) == 1
        guard status == PGRES_COPY_IN else {
            PQclear(try checked(start, query: copyStatement, failure: .copyFailed))
            throw PostgresError(
                code: .misuse, message: "copyIn(_:rows:) needs a COPY … FROM STDIN statement", query: copyStatement)
        }
        PQclear(start)
        if binary {
            abandonCopy(PGRES_COPY_IN)
            throw PostgresError(
                code: .misuse, message: "copyIn(_:rows:) writes the text format, not binary", query: copyStatement)
        }

        var sendFailure: String?
        text.bytes.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                var offset = 0
                while offset < chars.count {
                    let length = min(CopyText.chunkSize, chars.count - offset)
                    guard PQputCopyData(handle, chars.baseAddress! + offset, Int32(length)) == 1 else {
                        sendFailure = libpqMessage()
                        return
                    }
                    offset += length
                }
            }
        }
        if PQputCopyEnd(handle, sendFailure == nil ? nil : "client could not send COPY data") != 1,
            sendFailure == nil
        {
            sendFailure = libpqMessage()
        }

        // The final result says how many rows went in, or why none did.
        var copied: Int?
        var failure: PostgresError?
        while let result = PQgetResult(handle) {
            let resultStatus = PQresultStatus(result)
            if resultStatus == PGRES_COMMAND_OK {
                copied = Self.rowsAffected(result)
            } else if resultStatus == PGRES_COPY_IN {
                // Still in COPY state only if ending it failed; a broken connection is reported below.
                PQclear(result)
                break
            } else if failure == nil {
                failure = serverError(result, query: copyStatement, failure: .copyFailed)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        if let copied, sendFailure == nil { return copied }
        throw connectionError(query: copyStatement, fallback: .copyFailed)
            .prefixed(sendFailure.map { "COPY did not complete: \($0); " } ?? "COPY did not complete: ")
    }
}

/// Rows in COPY text format (tab-separated, `\N` for NULL, backslash escapes), built field by field without
/// intermediate strings, for ``PostgresConnection/copyIn(_:text:)``. Build it where the data is (in parallel, if
/// rows are independent) and concatenate with ``append(contentsOf:)``.
public struct CopyText: Sendable {
    /// Bytes per `PQputCopyData` call.
    static let chunkSize = 64 * 1024

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

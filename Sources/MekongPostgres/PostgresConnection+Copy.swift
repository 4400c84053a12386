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

        var encoder = CopyEncoder()
        var sendFailure: String?
        func send() -> Bool {
            let sent = encoder.buffer.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    PQputCopyData(handle, chars.baseAddress, Int32(chars.count))
                }
            }
            encoder.buffer.removeAll(keepingCapacity: true)
            return sent == 1
        }
        for row in rows {
            encoder.append(row)
            if encoder.buffer.count >= CopyEncoder.chunkSize, !send() {
                sendFailure = libpqMessage()
                break
            }
        }
        if sendFailure == nil, !encoder.buffer.isEmpty, !send() {
            sendFailure = libpqMessage()
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

/// Encodes rows in COPY text format into a byte buffer.
struct CopyEncoder {
    /// Bytes to accumulate before each `PQputCopyData` call.
    static let chunkSize = 64 * 1024

    var buffer: [UInt8] = []

    init() {
        buffer.reserveCapacity(Self.chunkSize + 4096)
    }

    /// Appends one row: fields separated by tabs, `\N` for nil, terminated by a newline.
    mutating func append(_ row: [String?]) {
        for (index, field) in row.enumerated() {
            if index > 0 { buffer.append(0x09) }
            if var field {
                field.withUTF8 { append(escaping: $0) }
            } else {
                buffer.append(0x5C)  // \N
                buffer.append(0x4E)
            }
        }
        buffer.append(0x0A)
    }

    private mutating func append(escaping bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else {
            buffer.append(contentsOf: bytes)
            return
        }
        for byte in bytes {
            switch byte {
            case 0x5C: buffer.append(0x5C); buffer.append(0x5C)  // \\
            case 0x09: buffer.append(0x5C); buffer.append(0x74)  // \t
            case 0x0A: buffer.append(0x5C); buffer.append(0x6E)  // \n
            case 0x0D: buffer.append(0x5C); buffer.append(0x72)  // \r
            default: buffer.append(byte)
            }
        }
    }
}

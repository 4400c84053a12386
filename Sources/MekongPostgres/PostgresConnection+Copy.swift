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
        try copyIn(copyStatement, binary: false, chunks: [text.bytes])
    }

    /// Streams rows encoded in COPY binary format (``CopyBinary``) with `COPY … FROM STDIN (FORMAT binary)`;
    /// returns the number of rows copied. The server parses nothing, so this is the fastest way in, but each
    /// field's type must match its column exactly (see ``CopyBinary``). Errors as for ``copyIn(_:rows:)``.
    public func copyIn(_ copyStatement: String, binary rows: CopyBinary) throws(PostgresError) -> Int {
        try copyIn(copyStatement, binary: true, chunks: [CopyBinary.header, rows.bytes, CopyBinary.trailer])
    }

    private func copyIn(_ copyStatement: String, binary: Bool, chunks: [[UInt8]]) throws(PostgresError) -> Int {
        let handle = try openHandle()
        try Self.refuseNUL(copyStatement, what: "COPY statement")
        guard let start = PQexec(handle, copyStatement) else {
            throw connectionError(query: copyStatement, fallback: .copyFailed)
        }
        let status = PQresultStatus(start)
        let serverExpectsBinary = PQbinaryTuples(start) == 1
        guard status == PGRES_COPY_IN else {
            PQclear(try checked(start, query: copyStatement, failure: .copyFailed))
            throw PostgresError(
                code: .misuse, message: "copyIn needs a COPY … FROM STDIN statement", query: copyStatement)
        }
        PQclear(start)
        if binary != serverExpectsBinary {
            abandonCopy(PGRES_COPY_IN)
            throw PostgresError(
                code: .misuse,
                message: binary
                    ? "binary rows need COPY … FROM STDIN (FORMAT binary)"
                    : "copyIn(_:rows:) and copyIn(_:text:) write the text format, not binary",
                query: copyStatement)
        }

        var sendFailure: String?
        for chunk in chunks where sendFailure == nil {
            chunk.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    var offset = 0
                    while offset < chars.count {
                        let length = min(Self.copyChunkSize, chars.count - offset)
                        guard PQputCopyData(handle, chars.baseAddress! + offset, Int32(length)) == 1 else {
                            sendFailure = libpqMessage()
                            return
                        }
                        offset += length
                    }
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

    /// Runs `COPY (query) TO STDOUT …` and hands each row to `receive` as the server sends it (text or CSV
    /// bytes, with the row's line ending), so memory does not grow with the answer; returns the number of rows.
    ///
    /// COPY takes no bind parameters. Pass values with `set_config(name, $1, …)` in an earlier, parameterized
    /// statement and read them in the query with `current_setting(name)`: never put a value into the statement's
    /// text.
    /// - Throws: `.copyFailed` with the server's diagnostics when the statement fails (before or during the
    ///   rows); `.misuse` when it is not a `COPY … TO STDOUT` statement; `.connectionLost`; whatever `receive`
    ///   throws (the rest of the answer is then read and dropped, and the connection stays usable).
    @discardableResult
    public func copyOut(_ copyStatement: String, _ receive: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let handle = try openHandle()
        try Self.refuseNUL(copyStatement, what: "COPY statement")
        guard let start = PQexec(handle, copyStatement) else {
            throw connectionError(query: copyStatement, fallback: .copyFailed)
        }
        guard PQresultStatus(start) == PGRES_COPY_OUT else {
            PQclear(try checked(start, query: copyStatement, failure: .copyFailed))
            throw PostgresError(
                code: .misuse, message: "copyOut needs a COPY … TO STDOUT statement", query: copyStatement)
        }
        PQclear(start)
        var receiveFailure: (any Error)?
        var buffer: UnsafeMutablePointer<CChar>?
        while true {
            let length = PQgetCopyData(handle, &buffer, 0)
            guard length > 0, let row = buffer else { break }
            if receiveFailure == nil {
                do { try receive(UnsafeRawBufferPointer(start: row, count: Int(length))) } catch { receiveFailure = error }
            }
            PQfreemem(row)
            buffer = nil
        }
        var copied: Int?
        var failure: PostgresError?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                copied = Self.rowsAffected(result)
            } else if failure == nil {
                failure = serverError(result, query: copyStatement, failure: .copyFailed)
            }
            PQclear(result)
        }
        if let receiveFailure { throw receiveFailure }
        if let failure { throw failure }
        if let copied { return copied }
        throw connectionError(query: copyStatement, fallback: .copyFailed).prefixed("COPY did not complete: ")
    }

    /// Bytes per `PQputCopyData` call.
    static let copyChunkSize = 64 * 1024
}

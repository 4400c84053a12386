import CLibPQ

extension PostgresConnection {
    /// Runs one statement with parameters `$1…$n` bound by value (`PQexecParams`, text format) and returns
    /// its rows, copied into Swift memory.
    ///
    /// - Parameters:
    ///   - sql: a single statement; values never belong in it, only `$n` placeholders.
    ///   - parameters: one value per placeholder; nil binds SQL NULL. The server infers each parameter's
    ///     type from the statement; cast (`$1::timestamptz`) where it cannot.
    /// - Throws: `.queryFailed` with the server's diagnostics, `.connectionLost` if the connection broke,
    ///   `.misuse` if closed, for a `COPY` statement (use `copyIn`), or for a value containing NUL.
    public func query(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws(PostgresError)
        -> PostgresResult
    {
        let result = try execParams(sql, parameters)
        defer { PQclear(result) }
        return PostgresResult(result)
    }

    /// Runs one statement like `query(_:_:)` and returns the number of rows it affected (`PQcmdTuples`;
    /// 0 for statements that report none).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws(PostgresError) -> Int {
        let result = try execParams(sql, parameters)
        defer { PQclear(result) }
        return Self.rowsAffected(result)
    }

    /// Runs one statement like `query(_:_:)`, parsed and planned once per session: the first call prepares it
    /// (`PQprepare`, under a session-local name), later calls with the same text only bind and execute it
    /// (`PQexecPrepared`), and the server replans it by itself when a table or view it reads changes. For the
    /// fixed statements a server runs on every request, whose parsing and planning cost more than running them.
    /// The text must be fixed: every value a parameter (each distinct text stays prepared until the session ends).
    /// A session that runs `DEALLOCATE ALL` (the statistics projection's `derive_all` does) must not use it.
    /// A transaction's deferred `BEGIN` goes in the same round trip.
    public func queryPrepared(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws(PostgresError)
        -> PostgresResult
    {
        try refuseAfterCommit()
        let name = try prepared(sql)
        let handle = try liveHandle()
        if pendingBegin == nil {
            let result = try checked(
                try withParameterTexts(sql, parameters) { count, values in PQexecPrepared(handle, name, count, values, nil, nil, 0) },
                query: sql, failure: .queryFailed)
            defer { PQclear(result) }
            return PostgresResult(result)
        }
        var rows: PostgresResult?
        do {
            try pipelined(name, sql, parameters, singleRow: false, committing: false) { result in rows = PostgresResult(result) }
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(code: .queryFailed, message: "\(error)", query: sql)  // the body above throws nothing else
        }
        guard let rows else { throw PostgresError(code: .queryFailed, message: "the statement returned no result", query: sql) }
        return rows
    }

    /// Runs a statement that selects one text column, prepared as `queryPrepared(_:_:)` does, and hands each
    /// row's value to `receive` as it arrives (libpq's single-row mode), so that memory does not grow with the
    /// result; returns the number of rows. NULL arrives as no bytes. If `receive` throws, the statement is
    /// cancelled, the rest of its rows are dropped, and the error is rethrown (inside a transaction, the
    /// transaction has then failed).
    ///
    /// With `committing`, the statement is the open transaction's last: `COMMIT` goes in the same round trip
    /// (as does a deferred `BEGIN`), and the transaction is over when it returns. The server commits as soon as the
    /// statement has run, whatever `receive` does with the rows: a `receive` that throws undoes the transaction only
    /// if its cancel arrives while the statement still runs. So commit this way only what does not depend on the
    /// rows being received (a read, or work tables of its own).
    @discardableResult
    public func streamPrepared(
        _ sql: String, _ parameters: [(any PostgresBindable)?] = [], committing: Bool = false,
        _ receive: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        try refuseAfterCommit()
        if committing && !inTransactionBlock {
            throw PostgresError(code: .misuse, message: "committing: only the last statement of an open transaction commits it")
        }
        let name = try prepared(sql)
        var rows = 0
        try pipelined(name, sql, parameters, singleRow: true, committing: committing) { result in
            guard PQresultStatus(result) == PGRES_SINGLE_TUPLE else { return }
            try receive(UnsafeRawBufferPointer(start: PQgetvalue(result, 0, 0), count: Int(PQgetlength(result, 0, 0))))
            rows += 1
        }
        if committing { committedByStatement = true }
        return rows
    }

    /// Runs the prepared statement `name` in one round trip with what travels with it (libpq's pipeline mode): a
    /// deferred `BEGIN` before it, `COMMIT` after it when `committing`. Each of its results goes to `receive` (one
    /// per row in single-row mode). The whole pipeline is read before anything is thrown, so the connection is
    /// ready for the next statement; the first failure is thrown: `receive`'s error (the statement is then
    /// cancelled), else the server's.
    private func pipelined(
        _ name: String, _ sql: String, _ parameters: [(any PostgresBindable)?], singleRow: Bool, committing: Bool,
        _ receive: (OpaquePointer) throws -> Void
    ) throws {
        let handle = try liveHandle()
        let begin = pendingBegin
        pendingBegin = nil
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError(query: sql, fallback: .queryFailed) }
        var sent = begin.map { PQsendQueryParams(handle, $0, 0, nil, nil, nil, nil, 0) == 1 } ?? true
        sent = try sent && withParameterTexts(sql, parameters) { count, values in
            PQsendQueryPrepared(handle, name, count, values, nil, nil, 0) == 1
        }
        if committing { sent = sent && PQsendQueryParams(handle, "COMMIT", 0, nil, nil, nil, nil, 0) == 1 }
        sent = sent && PQpipelineSync(handle) == 1
        var failure: (any Error)? = sent ? nil : connectionError(query: sql, fallback: .queryFailed)

        /// Reads one statement's results, up to the null that ends them.
        func readResults(of statement: String, _ each: (OpaquePointer) throws -> Void) {
            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                switch PQresultStatus(result) {
                case PGRES_SINGLE_TUPLE, PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                    guard failure == nil else { continue }
                    do {
                        try each(result)
                    } catch {
                        failure = error
                        cancel(handle)
                    }
                case PGRES_PIPELINE_ABORTED:
                    break  // an earlier statement failed: its error is the one to report
                default:
                    if failure == nil { failure = serverError(result, query: statement, failure: .queryFailed) }
                }
            }
        }
        if sent {
            if let begin { readResults(of: begin) { _ in } }
            if singleRow { PQsetSingleRowMode(handle) }
            readResults(of: sql, receive)
            if committing { readResults(of: "COMMIT") { _ in } }
            // The synchronization point ends the pipeline.
            while let result = PQgetResult(handle) {
                let status = PQresultStatus(result)
                PQclear(result)
                if status == PGRES_PIPELINE_SYNC { break }
            }
        }
        if PQexitPipelineMode(handle) != 1, failure == nil { failure = connectionError(query: sql, fallback: .queryFailed) }
        // A backend that ended the session (57P01, say) reports it in a result read while libpq still counted the
        // connection as up: once the pipeline is read, a broken connection is a lost one, as elsewhere.
        if let error = failure as? PostgresError, error.code != .connectionLost, PQstatus(handle) != CONNECTION_OK {
            failure = PostgresError(
                code: .connectionLost, message: error.message, sqlState: error.sqlState, detail: error.detail,
                hint: error.hint, context: error.context, query: error.query)
        }
        if let failure { throw failure }
    }

    /// Asks the server to cancel the statement running on `handle`.
    private func cancel(_ handle: OpaquePointer) {
        guard let cancel = PQgetCancel(handle) else { return }
        var reason = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &reason, Int32(reason.count))
        PQfreeCancel(cancel)
    }

    /// The session-local name of `sql`, prepared on first use.
    private func prepared(_ sql: String) throws(PostgresError) -> String {
        if let known = preparedStatements[sql] { return known }
        let handle = try openHandle()
        try Self.refuseNUL(sql, what: "statement")
        let name = "mekong_\(preparedStatements.count + 1)"
        PQclear(try checked(PQprepare(handle, name, sql, 0, nil), query: sql, failure: .queryFailed))
        preparedStatements[sql] = name
        return name
    }

    /// Runs trusted, static SQL that may hold several statements (`PQexec`), for migration files and fixed
    /// session setup only. It takes no parameters: never build its text from values; use `query` or
    /// `execute` with `$n` placeholders for those. Unless the script has its own `BEGIN`/`COMMIT`, the
    /// server runs all its statements as one implicit transaction.
    /// - Throws: `.queryFailed` for the first statement that fails, `.connectionLost`, `.misuse`.
    public func runScript(_ sql: String) throws(PostgresError) {
        let handle = try openHandle()
        try Self.refuseNUL(sql, what: "script")
        let result = PQexec(handle, sql)
        PQclear(try checked(result, query: sql, failure: .queryFailed))
    }

    // MARK: - Internals

    private func execParams(_ sql: String, _ parameters: [(any PostgresBindable)?]) throws(PostgresError)
        -> OpaquePointer
    {
        let handle = try openHandle()
        try Self.refuseNUL(sql, what: "statement")
        let result = try withParameterTexts(sql, parameters) { count, values in
            PQexecParams(handle, sql, count, nil, values, nil, nil, 0)
        }
        return try checked(result, query: sql, failure: .queryFailed)
    }

    /// Calls `run` with the parameters as libpq's array of C strings (text format; nil for NULL).
    private func withParameterTexts<T>(
        _ sql: String, _ parameters: [(any PostgresBindable)?], _ run: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> T
    ) throws(PostgresError) -> T {
        guard parameters.count <= Int(Int32.max) else {
            throw PostgresError(code: .misuse, message: "too many parameters", query: sql)
        }
        // All parameter texts in one NUL-separated buffer; the pointers are built inside its lifetime.
        var buffer: [CChar] = []
        var offsets: [Int?] = []
        offsets.reserveCapacity(parameters.count)
        for (index, parameter) in parameters.enumerated() {
            guard let parameter else {
                offsets.append(nil)
                continue
            }
            let text = parameter.postgresText
            guard !text.utf8.contains(0) else {
                throw PostgresError(
                    code: .misuse,
                    message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
                    query: sql)
            }
            offsets.append(buffer.count)
            buffer.append(contentsOf: text.utf8.map { CChar(bitPattern: $0) })
            buffer.append(0)
        }
        return buffer.withUnsafeBufferPointer { base in
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in
                guard let offset, let start = base.baseAddress else { return nil }
                return UnsafePointer(start + offset)
            }
            return pointers.withUnsafeBufferPointer { run(Int32(parameters.count), $0.baseAddress) }
        }
    }

    /// Returns a successful result, or clears it and throws the matching error. A `COPY` started by a
    /// statement that is not expected to start one is ended first, so the connection stays usable.
    func checked(_ result: OpaquePointer?, query: String, failure: PostgresError.Code) throws(PostgresError)
        -> OpaquePointer
    {
        guard let result else {
            throw connectionError(query: query, fallback: failure)
        }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return result
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            PQclear(result)
            abandonCopy(status)
            throw PostgresError(
                code: .misuse,
                message: "COPY statements are not supported here; use copyIn(_:rows:) for COPY … FROM STDIN, copyOut(_:_:) for COPY … TO STDOUT",
                query: query)
        default:
            let error = serverError(result, query: query, failure: failure)
            PQclear(result)
            throw error
        }
    }

    /// Builds an error from a failed result: the server's diagnostic fields, or libpq's message; code
    /// `.connectionLost` when the connection is no longer usable.
    func serverError(_ result: OpaquePointer, query: String?, failure: PostgresError.Code) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            guard let value = PQresultErrorField(result, Int32(code)) else { return nil }
            return scrubbed(String(cString: value))
        }
        let lost = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        let primary =
            field(UInt8(ascii: "M"))
            ?? PQresultErrorMessage(result).map { scrubbed(String(cString: $0)) }?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresError(
            code: lost ? .connectionLost : failure,
            message: (primary?.isEmpty ?? true) ? libpqMessage() : primary ?? "",
            sqlState: field(UInt8(ascii: "C")),
            detail: field(UInt8(ascii: "D")),
            hint: field(UInt8(ascii: "H")),
            context: field(UInt8(ascii: "W")),
            query: query)
    }

    /// The error for a call that returned no result at all.
    func connectionError(query: String?, fallback: PostgresError.Code) -> PostgresError {
        let lost = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        return PostgresError(code: lost ? .connectionLost : fallback, message: libpqMessage(), query: query)
    }

    /// Ends a COPY that was started unexpectedly (`status` is the result that announced it) and drains
    /// the remaining results, so that the connection is ready for the next statement.
    func abandonCopy(_ status: ExecStatusType) {
        guard let handle else { return }
        if status == PGRES_COPY_IN {
            _ = PQputCopyEnd(handle, "COPY FROM STDIN is only supported through copyIn(_:rows:)")
        } else if status == PGRES_COPY_OUT {
            var buffer: UnsafeMutablePointer<CChar>?
            while PQgetCopyData(handle, &buffer, 0) > 0 {
                PQfreemem(buffer)
                buffer = nil
            }
        } else {
            return  // COPY BOTH (replication): nothing sensible to do; close() ends it
        }
        while let result = PQgetResult(handle) {
            let next = PQresultStatus(result)
            PQclear(result)
            if next == PGRES_COPY_IN || next == PGRES_COPY_OUT || next == PGRES_COPY_BOTH {
                abandonCopy(next)
                return
            }
        }
    }

    static func rowsAffected(_ result: OpaquePointer) -> Int {
        guard let tuples = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: tuples)) ?? 0
    }

    static func refuseNUL(_ sql: String, what: String) throws(PostgresError) {
        if sql.utf8.contains(0) {
            throw PostgresError(code: .misuse, message: "the \(what) contains a NUL character")
        }
    }
}

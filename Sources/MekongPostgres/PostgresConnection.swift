import CLibPQ
import Foundation

/// One connection to PostgreSQL through libpq.
///
/// Not thread-safe, like libpq itself: a connection is deliberately not `Sendable`; keep each one in a single
/// task, thread or actor. Every call blocks until the server answers.
///
/// On connect (and on `reset()`) the session is set to `client_encoding` UTF8, `TimeZone` UTC, `DateStyle`
/// ISO, `bytea_output` hex and `extra_float_digits` 3, which is what the decoders in this module expect.
/// Server notices (e.g. "relation already exists, skipping") are discarded rather than printed.
public final class PostgresConnection {
    /// Seconds to wait for a connection unless the caller chose otherwise.
    static let defaultConnectTimeout = 10

    /// The libpq handle; nil once closed.
    var handle: OpaquePointer?
    /// True while `transaction(_:)` runs its body.
    var inTransactionBlock = false
    /// The `BEGIN` of a transaction whose body has not sent a statement yet: it travels with the first one
    /// (in the same pipeline for `queryPrepared` and `streamPrepared`, just before it otherwise).
    var pendingBegin: String?
    /// Set when a statement of a transaction's body also committed it (`streamPrepared(_:_:committing:_:)`).
    var committedByStatement = false
    /// The statements prepared in this session (`queryPrepared`): text → name.
    var preparedStatements: [String: String] = [:]
    /// The passwords known to this connection, scrubbed from every libpq message.
    private let secrets: [String]

    /// Opens a connection.
    ///
    /// - Parameter url: a URL (`postgresql://user:password@host:5432/db?sslmode=disable`) or a libpq
    ///   keyword/value string (`host=localhost dbname=mekong`). Nil or empty uses libpq's own `PG*`
    ///   environment variables (`PGHOST`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, …) and defaults.
    ///   `application_name` is `mekong` unless the string or `PGAPPNAME` says otherwise; `connect_timeout`
    ///   is 10 seconds unless the string or `PGCONNECT_TIMEOUT` says otherwise (libpq's default is to wait
    ///   forever).
    /// - Parameter defaults: libpq keywords and values (e.g. `keepalives_idle`, `options`) that apply unless `url`
    ///   or the environment sets the same keyword; they survive `reset()`.
    /// - Throws: `.connectionFailed` with libpq's reason and the target with its password replaced by `***`.
    public init(url: String? = nil, defaults: KeyValuePairs<String, String> = [:]) throws(PostgresError) {
        let conninfo = url ?? ""
        guard !conninfo.contains("\0") else {
            throw PostgresError(code: .misuse, message: "connection string contains a NUL character")
        }
        var secrets = ConnectionString.rawPasswords(in: conninfo)
        if let parsed = Self.parsedPassword(conninfo) { secrets.append(parsed) }

        // Later keywords override earlier ones, so the caller's string can override the application name
        // (fallback_application_name also yields to PGAPPNAME), but never the client encoding.
        var keywords = ["fallback_application_name"]
        var values = ["mekong"]
        if ProcessInfo.processInfo.environment["PGCONNECT_TIMEOUT"] == nil {
            keywords.append("connect_timeout")
            values.append(String(Self.defaultConnectTimeout))
        }
        for (keyword, value) in defaults {
            keywords.append(keyword)
            values.append(value)
        }
        if !conninfo.isEmpty {
            keywords.append("dbname")
            values.append(conninfo)
        }
        keywords.append("client_encoding")
        values.append("UTF8")
        let connection = Self.connect(keywords: keywords, values: values)

        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            if let connection, let password = PQpass(connection) { secrets.append(String(cString: password)) }
            let reason = connection.map { Self.libpqMessage($0) } ?? "out of memory"
            if let connection { PQfinish(connection) }
            let target =
                conninfo.isEmpty
                ? "the server named by the PG* environment variables" : ConnectionString.redacted(conninfo)
            throw PostgresError(
                code: .connectionFailed,
                message: ConnectionString.scrub("could not connect to \(target): \(reason)", secrets: secrets))
        }
        if let password = PQpass(connection) { secrets.append(String(cString: password)) }
        self.secrets = secrets.filter { !$0.isEmpty }
        self.handle = connection
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        do {
            try configureSession()
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// True when libpq reports the connection as usable (`CONNECTION_OK`). libpq notices a broken
    /// connection only when it next talks to the server, so this can stay true until a query fails.
    public var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// The server's version as an integer, e.g. 150018 for 15.18; 0 when closed.
    public var serverVersion: Int {
        guard let handle else { return 0 }
        return Int(PQserverVersion(handle))
    }

    /// The process ID of the server backend serving this connection (for `pg_terminate_backend`); 0 when closed.
    public var backendPID: Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// Reconnects with the same parameters (`PQreset`), e.g. after the server restarted or the backend was
    /// terminated, and configures the new session again. Any open transaction is gone.
    /// - Throws: `.misuse` if closed, `.connectionFailed` if the server still cannot be reached.
    public func reset() throws(PostgresError) {
        let handle = try liveHandle()
        inTransactionBlock = false
        pendingBegin = nil
        preparedStatements = [:]  // a new session has none
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(code: .connectionFailed, message: "could not reconnect: \(libpqMessage())")
        }
        try configureSession()
    }

    /// Closes the connection. Idempotent; later calls other than `close()` throw `.misuse`.
    public func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    // MARK: - Internals shared by the other files

    /// The live handle for a statement, or `.misuse` if the connection was closed. A transaction's deferred `BEGIN`
    /// is sent first (one round trip), so the statement runs inside it.
    func openHandle() throws(PostgresError) -> OpaquePointer {
        try refuseAfterCommit()
        let handle = try liveHandle()
        if let begin = pendingBegin {
            pendingBegin = nil
            PQclear(try checked(PQexec(handle, begin), query: begin, failure: .queryFailed))
        }
        return handle
    }

    /// - Throws: `.misuse` for a statement after the one that committed its transaction
    ///   (`streamPrepared(_:_:committing:_:)`): it would run outside the transaction.
    func refuseAfterCommit() throws(PostgresError) {
        guard committedByStatement else { return }
        throw PostgresError(
            code: .misuse, message: "the transaction was committed by its last statement (committing:); no statement may follow it")
    }

    /// The live handle, or `.misuse` if the connection was closed; a deferred `BEGIN` stays deferred.
    func liveHandle() throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: .misuse, message: "the connection is closed")
        }
        return handle
    }

    /// libpq's last error message for this connection, trimmed, without any password.
    func libpqMessage() -> String {
        guard let handle else { return "the connection is closed" }
        return ConnectionString.scrub(Self.libpqMessage(handle), secrets: secrets)
    }

    /// Removes this connection's passwords from a message.
    func scrubbed(_ message: String) -> String {
        ConnectionString.scrub(message, secrets: secrets)
    }

    /// The session settings the decoders rely on (static SQL, no values).
    private func configureSession() throws(PostgresError) {
        try runScript(
            """
            SET TimeZone = 'UTC';
            SET DateStyle = 'ISO, MDY';
            SET IntervalStyle = 'postgres';
            SET bytea_output = 'hex';
            SET extra_float_digits = 3
            """)
    }

    private static func connect(keywords: [String], values: [String]) -> OpaquePointer? {
        let keywordStrings = keywords.map { strdup($0) }
        let valueStrings = values.map { strdup($0) }
        defer {
            keywordStrings.forEach { free($0) }
            valueStrings.forEach { free($0) }
        }
        var keywordPointers = keywordStrings.map { UnsafePointer<CChar>($0) }
        var valuePointers = valueStrings.map { UnsafePointer<CChar>($0) }
        keywordPointers.append(nil)
        valuePointers.append(nil)
        return PQconnectdbParams(keywordPointers, valuePointers, 1)
    }

    /// The password libpq itself would take from the string (decoded), if the string parses.
    private static func parsedPassword(_ conninfo: String) -> String? {
        guard !conninfo.isEmpty, let options = PQconninfoParse(conninfo, nil) else { return nil }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                return String(cString: value)
            }
            option += 1
        }
        return nil
    }

    private static func libpqMessage(_ handle: OpaquePointer) -> String {
        guard let message = PQerrorMessage(handle) else { return "unknown libpq error" }
        let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "unknown libpq error" : text
    }
}

import Foundation

/// An error from PostgreSQL, from libpq, or from misuse of this module.
///
/// Server errors carry the server's diagnostic fields (SQLSTATE, primary message, detail, hint, context).
/// `query` holds the statement text only, never the values bound to its parameters, and no error built by
/// this module ever contains a connection password.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of operation failed.
    public enum Code: String, Sendable {
        /// A connection could not be established (or re-established by `reset()`).
        case connectionFailed
        /// An established connection broke (server restart, `pg_terminate_backend`, network failure).
        case connectionLost
        /// The server refused a statement.
        case queryFailed
        /// A `COPY … FROM STDIN` failed, while starting or while streaming rows.
        case copyFailed
        /// A column value could not be decoded into the requested Swift type.
        case decodeFailed
        /// The API was used in a way it does not support (closed connection, nested transaction, …).
        case misuse
        /// A projection migration was refused or failed.
        case migrationFailed
    }

    /// What kind of operation failed.
    public let code: Code
    /// The five-character SQLSTATE (`PG_DIAG_SQLSTATE`), e.g. `"23505"`; nil for errors raised on the client.
    public let sqlState: String?
    /// The server's primary message (`PG_DIAG_MESSAGE_PRIMARY`), or libpq's or this module's message.
    public let message: String
    /// The server's `DETAIL` field.
    public let detail: String?
    /// The server's `HINT` field.
    public let hint: String?
    /// The server's `CONTEXT` field (for `COPY`, the offending line and column).
    public let context: String?
    /// The statement that failed; never the values of its parameters.
    public let query: String?

    /// Creates an error; mostly used inside this module, public so that callers and test support can
    /// report problems in the same shape.
    public init(
        code: Code, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
        context: String? = nil, query: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.context = context
        self.query = query
    }

    /// True when retrying later (after `reset()` or with a new connection) may succeed: lost or failed
    /// connections and the SQLSTATEs of an outage rather than of the data or the software (listed below).
    public var isTransient: Bool {
        if code == .connectionLost || code == .connectionFailed { return true }
        guard let sqlState else { return false }
        if sqlState.hasPrefix("08") || sqlState.hasPrefix("53") { return true }
        return Self.transientStates.contains(sqlState)
    }

    /// Serialization failure, deadlock, lock or statement timeout, admin/crash shutdown, cannot connect now, an
    /// idle-in-transaction session ended by the server, an I/O error; class 08 (connection) and 53 (insufficient
    /// resources: disk full, out of memory, too many connections) as a whole.
    private static let transientStates: Set<String> = [
        "40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "57P05", "25P03", "58030",
    ]

    /// One line: code, SQLSTATE, message, then detail, hint, context and the (shortened) statement.
    public var description: String {
        var text = "PostgreSQL \(code.rawValue)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let detail { text += "; detail: \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        if let context { text += "; context: \(context)" }
        if let query { text += "; query: \(Self.shortened(query))" }
        return text
    }

    /// Returns a copy whose message is `prefix` followed by the original message; other fields are kept.
    func prefixed(_ prefix: String, code newCode: Code? = nil) -> PostgresError {
        PostgresError(
            code: newCode ?? code, message: prefix + message, sqlState: sqlState, detail: detail, hint: hint,
            context: context, query: query)
    }

    private static func shortened(_ query: String) -> String {
        let oneLine = query.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        return oneLine.count > 200 ? String(oneLine.prefix(200)) + "…" : oneLine
    }
}

extension PostgresError: LocalizedError {
    /// The same text as `description`, so that `localizedDescription` is informative too.
    public var errorDescription: String? { description }
}

import CLibPQ

extension PostgresConnection {
    /// The isolation level a transaction starts with (`BEGIN ISOLATION LEVEL …`).
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        /// One snapshot for the whole transaction: every statement reads the same committed state.
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` inside `BEGIN` … `COMMIT` and returns its value.
    ///
    /// `BEGIN` is sent with the body's first statement (in one round trip with it for `queryPrepared` and
    /// `streamPrepared`), and not at all if the body sends none; a body whose last statement is a
    /// `streamPrepared(_:_:committing:_:)` commits with it, in the same round trip.
    /// No statement may follow that one (`.misuse`).
    ///
    /// If `body` throws, the transaction is rolled back and the original error is rethrown. If a statement
    /// in `body` failed but its error was caught, the server has already aborted the transaction; it is
    /// rolled back and `.queryFailed` is thrown rather than pretending to commit.
    /// - Throws: `.misuse` when a transaction is already open on this connection (nested calls, or a
    ///   `BEGIN` run by hand) or when `body` ended the transaction itself; errors from `BEGIN`/`COMMIT`
    ///   (e.g. 40001 serialization failure, deferred constraint violations); whatever `body` throws.
    @discardableResult
    public func transaction<T>(
        isolation: IsolationLevel = .readCommitted, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        let handle = try liveHandle()
        guard !inTransactionBlock, PQtransactionStatus(handle) == PQTRANS_IDLE else {
            throw PostgresError(
                code: .misuse, message: "a transaction is already open on this connection; transactions do not nest")
        }
        pendingBegin = isolation == .readCommitted ? "BEGIN" : "BEGIN ISOLATION LEVEL \(isolation.rawValue)"
        committedByStatement = false
        inTransactionBlock = true
        defer {
            inTransactionBlock = false
            pendingBegin = nil
            committedByStatement = false
        }

        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackQuietly()
            throw error
        }
        // No statement was sent: there is no transaction to commit.
        if pendingBegin != nil { return value }
        if committedByStatement, PQtransactionStatus(handle) == PQTRANS_IDLE { return value }
        switch PQtransactionStatus(handle) {
        case PQTRANS_INTRANS:
            break
        case PQTRANS_INERROR:
            rollbackQuietly()
            throw PostgresError(
                code: .queryFailed,
                message: "a statement in the transaction failed and its error was caught; "
                    + "the transaction was rolled back")
        case PQTRANS_IDLE:
            throw PostgresError(
                code: .misuse,
                message: "the transaction was ended inside its body; do not run COMMIT or ROLLBACK there")
        default:
            // Connection broken or in an unexpected state: COMMIT below reports it.
            break
        }
        do {
            try execute("COMMIT")
        } catch {
            rollbackQuietly()
            throw error
        }
        return value
    }

    /// True when the session is inside an open, healthy transaction block (or one whose `BEGIN` is deferred).
    var isInsideOpenTransaction: Bool {
        guard let handle else { return false }
        return pendingBegin != nil || PQtransactionStatus(handle) == PQTRANS_INTRANS
    }

    /// Rolls back if a transaction is open; errors are ignored (the caller rethrows the original one).
    private func rollbackQuietly() {
        guard let handle, PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) != PQTRANS_IDLE
        else { return }
        _ = try? execute("ROLLBACK")
    }
}

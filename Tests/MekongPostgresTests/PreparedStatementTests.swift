import Foundation
import MekongPostgres
import MekongTestSupport
import Testing

/// `queryPrepared` and `streamPrepared`: a statement is parsed and planned once per session, follows the tables
/// it reads when they change, and a streamed result arrives row by row, can be broken off, and leaves the
/// connection usable.
@Suite struct PreparedStatementTests {
    /// The statements the server holds for this session (pg_prepared_statements), by text.
    static func preparedTexts(_ connection: PostgresConnection) throws -> [String] {
        try connection.query("SELECT statement FROM pg_prepared_statements ORDER BY name").map { try $0.decode(String.self, at: 0) }
    }

    @Test func aStatementIsPreparedOnceAndBoundEachTime() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
            try connection.execute("INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 50) g")
            let text = "SELECT name FROM t WHERE id = $1"
            for id in [3, 17, 50, 51] {
                let rows = try connection.queryPrepared(text, [id])
                #expect(try rows.map { try $0.decode(String.self, at: 0) } == (id <= 50 ? ["n\(id)"] : []))
            }
            #expect(try Self.preparedTexts(connection) == [text])
            // A column added to the table: the server replans by itself.
            try connection.execute("ALTER TABLE t ADD COLUMN extra int DEFAULT 7")
            #expect(try connection.queryPrepared(text, [4])[0].decode(String.self, at: 0) == "n4")
            // A new session holds no prepared statement: reset forgets them and prepares again.
            try connection.reset()
            #expect(try Self.preparedTexts(connection).isEmpty)
            #expect(try connection.queryPrepared(text, [5])[0].decode(String.self, at: 0) == "n5")
        }
    }

    @Test func rowsStreamOneByOne() throws {
        try withDatabase { _, connection in
            var lines: [String] = []
            let count = try connection.streamPrepared(
                "SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE 'row ' || g END FROM generate_series(1, $1::int) g", [25]
            ) { lines.append(String(decoding: $0, as: UTF8.self)) }
            #expect(count == 25)
            #expect(lines == (1...25).map { $0 % 10 == 0 ? "" : "row \($0)" })
            // No rows: nothing received.
            #expect(try connection.streamPrepared("SELECT 'x' WHERE false") { _ in Issue.record("a row") } == 0)
        }
    }

    struct Stop: Error {}

    @Test func aReceiverThatThrowsCancelsTheStatementAndTheConnectionStaysUsable() throws {
        try withDatabase { _, connection in
            var received = 0
            let start = ContinuousClock.now
            #expect(throws: Stop.self) {
                // Ten million rows would take many seconds to send; the cancel ends it after the third.
                try connection.streamPrepared("SELECT g::text FROM generate_series(1, 10000000) g") { _ in
                    received += 1
                    if received == 3 { throw Stop() }
                }
            }
            #expect(received == 3)
            #expect(ContinuousClock.now - start < .seconds(5))
            #expect(try connection.queryPrepared("SELECT 41 + 1")[0].decode(Int.self, at: 0) == 42)
            // Inside a transaction the broken-off statement fails the transaction, which is rolled back.
            try connection.execute("CREATE TABLE t (id int)")
            #expect(throws: Stop.self) {
                try connection.transaction { db in
                    try db.execute("INSERT INTO t VALUES (1)")
                    try db.streamPrepared("SELECT g::text FROM generate_series(1, 1000) g") { _ in throw Stop() }
                }
            }
            #expect(try connection.query("SELECT count(*)::int FROM t")[0].decode(Int.self, at: 0) == 0)
        }
    }

    @Test func aStatementThatFailsMidStreamThrowsTheServersError() throws {
        try withDatabase { _, connection in
            var received: [String] = []
            let error = #expect(throws: PostgresError.self) {
                try connection.streamPrepared("SELECT (10 / (5 - g))::text FROM generate_series(1, 8) g") {
                    received.append(String(decoding: $0, as: UTF8.self))
                }
            }
            #expect(error?.sqlState == "22012")  // division by zero
            #expect(received == ["2", "3", "5", "10"])
            let one = try connection.queryPrepared("SELECT 1")[0].decode(Int.self, at: 0)
            #expect(one == 1)
        }
    }

    /// A transaction's BEGIN travels with its first prepared statement and its COMMIT with a last streamed one (one
    /// pipeline each), and the transaction means what it did with a round trip for each.
    @Test func beginTravelsWithTheFirstStatementAndCommitWithTheLast() throws {
        try withDatabase { database, connection in
            try connection.execute("CREATE TABLE t (id int)")
            let other = try database.connect()
            defer { other.close() }
            let count = "SELECT count(*)::int FROM t"
            var streamed: [String] = []
            let value = try connection.transaction(isolation: .repeatableRead) { db in
                #expect(try db.queryPrepared(count)[0].decode(Int.self, at: 0) == 0)
                try other.execute("INSERT INTO t VALUES (1)")
                // One snapshot since the first statement: the row committed after it is not seen.
                #expect(try db.queryPrepared(count)[0].decode(Int.self, at: 0) == 0)
                try db.execute("INSERT INTO t VALUES (2)")
                try db.streamPrepared("SELECT id::text FROM t ORDER BY id", committing: true) {
                    streamed.append(String(decoding: $0, as: UTF8.self))
                }
                return "done"
            }
            #expect(value == "done")
            #expect(streamed == ["2"])
            // Committed: the other session sees the row, and this one is out of the transaction.
            #expect(try other.query("SELECT array_agg(id ORDER BY id)::text FROM t")[0].decode(String.self, at: 0) == "{1,2}")
            // Nothing may follow the statement that committed: it would run outside the transaction.
            let after = #expect(throws: PostgresError.self) {
                try connection.transaction { db in
                    try db.streamPrepared("SELECT 'x'", committing: true) { _ in }
                    _ = try db.queryPrepared("SELECT 1")
                }
            }
            #expect(after?.code == .misuse)
            // A body that sends nothing opens no transaction; a COMMIT outside one is refused.
            #expect(try connection.transaction { _ in 7 } == 7)
            let misuse = #expect(throws: PostgresError.self) {
                try connection.streamPrepared("SELECT 'x'", committing: true) { _ in }
            }
            #expect(misuse?.code == .misuse)
        }
    }

    /// A statement that fails in a pipeline (with BEGIN before it or COMMIT after it) throws the server's error, the
    /// transaction is rolled back, and the connection is ready for the next one.
    @Test func aFailureInAPipelineRollsBackTheTransaction() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE t (id int)")
            let first = #expect(throws: PostgresError.self) {
                try connection.transaction(isolation: .repeatableRead) { db in _ = try db.queryPrepared("SELECT 1 / (1 - $1::int)", [1]) }
            }
            #expect(first?.sqlState == "22012")
            let last = #expect(throws: PostgresError.self) {
                try connection.transaction { db in
                    try db.execute("INSERT INTO t VALUES (1)")
                    try db.streamPrepared("SELECT (10 / (2 - g))::text FROM generate_series(1, 3) g", committing: true) { _ in }
                }
            }
            #expect(last?.sqlState == "22012")
            #expect(throws: Stop.self) {
                try connection.transaction { db in
                    try db.execute("INSERT INTO t VALUES (2)")
                    // Ten million rows take the server seconds: the cancel reaches it before the statement ends, so
                    // the COMMIT behind it is skipped.
                    try db.streamPrepared("SELECT g::text FROM generate_series(1, 10000000) g", committing: true) { _ in throw Stop() }
                }
            }
            #expect(try connection.queryPrepared("SELECT count(*)::int FROM t")[0].decode(Int.self, at: 0) == 0)
            #expect(try connection.transaction { db in try db.queryPrepared("SELECT 41 + 1")[0].decode(Int.self, at: 0) } == 42)
        }
    }

    /// A backend that dies before a pipeline (BEGIN with a prepared statement, or a statement with its COMMIT) is a
    /// lost connection, transient, reported once the pipeline is read; `reset` recovers the session.
    @Test func aConnectionLostUnderAPipelineIsTransientAndResetRecovers() throws {
        try withDatabase { database, connection in
            let admin = try database.connect()
            defer { admin.close() }
            for committing in [false, true] {
                _ = try connection.queryPrepared("SELECT 1")  // prepared before the backend goes
                let pid = connection.backendPID
                let error = #expect(throws: PostgresError.self) {
                    try connection.transaction(isolation: .repeatableRead) { db in
                        _ = try admin.query("SELECT pg_terminate_backend($1)", [pid])
                        for _ in 0..<100 {  // until the backend has exited
                            let alive = try admin.query("SELECT count(*)::int FROM pg_stat_activity WHERE pid = $1", [pid])
                            if try alive[0].decode(Int.self, at: 0) == 0 { break }
                            Thread.sleep(forTimeInterval: 0.05)
                        }
                        if committing {
                            try db.streamPrepared("SELECT '1'", committing: true) { _ in }
                        } else {
                            _ = try db.queryPrepared("SELECT 1")
                        }
                    }
                }
                #expect(error?.code == .connectionLost && error?.isTransient == true, "\(String(describing: error))")
                #expect(!connection.isConnected)
                try connection.reset()
                #expect(try connection.queryPrepared("SELECT 41 + 1")[0].decode(Int.self, at: 0) == 42)
            }
        }
    }
}

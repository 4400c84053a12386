import Foundation
import MekongPostgres
import MekongTestSupport
import Testing

@Suite struct TransactionTests {
    struct Boom: Error, Equatable {}

    private static func count(_ connection: PostgresConnection) throws -> Int {
        try scalar(connection, "SELECT count(*) FROM items", as: Int.self)
    }

    @Test func commitsAndReturnsTheBodysValue() throws {
        try withDatabase { database, connection in
            try connection.execute("CREATE TABLE items (id int PRIMARY KEY)")
            let observer = try database.connect()
            defer { observer.close() }
            let value = try connection.transaction { tx in
                try tx.execute("INSERT INTO items VALUES ($1), ($2)", [1, 2])
                #expect(try Self.count(observer) == 0)  // not visible before COMMIT
                return "done"
            }
            #expect(value == "done")
            #expect(try Self.count(observer) == 2)
        }
    }

    @Test func rollsBackAndRethrowsTheOriginalError() throws {
        try withDatabase { database, connection in
            try connection.execute("CREATE TABLE items (id int PRIMARY KEY)")
            #expect(throws: Boom()) {
                try connection.transaction { tx in
                    try tx.execute("INSERT INTO items VALUES ($1)", [1])
                    throw Boom()
                }
            }
            let observer = try database.connect()
            defer { observer.close() }
            #expect(try Self.count(observer) == 0)
            #expect(try Self.count(connection) == 0)
            // The connection is idle again: another transaction works.
            try connection.transaction { tx in try tx.execute("INSERT INTO items VALUES ($1)", [2]) }
            #expect(try Self.count(observer) == 1)
        }
    }

    @Test func serverErrorInTheBodyRollsBackEarlierStatements() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE items (id int PRIMARY KEY)")
            let error = #expect(throws: PostgresError.self) {
                try connection.transaction { tx in
                    try tx.execute("INSERT INTO items VALUES ($1)", [1])
                    try tx.execute("INSERT INTO items VALUES ($1)", [1])
                }
            }
            #expect(error?.sqlState == "23505")
            #expect(try Self.count(connection) == 0)
        }
    }

    @Test func aCaughtStatementErrorDoesNotPretendToCommit() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE items (id int PRIMARY KEY)")
            let error = #expect(throws: PostgresError.self) {
                try connection.transaction { tx in
                    try tx.execute("INSERT INTO items VALUES ($1)", [1])
                    _ = try? tx.execute("SELEC 1")
                }
            }
            #expect(error?.code == .queryFailed)
            #expect(try Self.count(connection) == 0)
        }
    }

    @Test func nestedTransactionsAreMisuse() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE items (id int PRIMARY KEY)")
            let error = #expect(throws: PostgresError.self) {
                try connection.transaction { tx in
                    try tx.execute("INSERT INTO items VALUES ($1)", [1])
                    try tx.transaction { inner in try inner.execute("INSERT INTO items VALUES ($1)", [2]) }
                }
            }
            #expect(error?.code == .misuse)
            #expect(try Self.count(connection) == 0)

            try connection.execute("BEGIN")
            let manual = #expect(throws: PostgresError.self) { try connection.transaction { _ in } }
            #expect(manual?.code == .misuse)
            try connection.execute("ROLLBACK")
        }
    }
}

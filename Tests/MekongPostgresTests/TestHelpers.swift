import Foundation
import MekongPostgres
import MekongTestSupport

/// Runs `body` with a fresh database and an open connection to it; both are closed and dropped afterwards.
func withDatabase<T>(
    _ label: String = #function, _ body: (TestDatabase, PostgresConnection) throws -> T
) throws -> T {
    let database = try TestDatabase.create(label)
    defer { database.drop() }
    let connection = try database.connect()
    defer { connection.close() }
    return try body(database, connection)
}

/// The single value of a one-row, one-column query.
func scalar<T: PostgresDecodable>(
    _ connection: PostgresConnection, _ sql: String, _ parameters: [(any PostgresBindable)?] = [], as type: T.Type
) throws -> T {
    let result = try connection.query(sql, parameters)
    guard let row = result.first else {
        throw PostgresError(code: .misuse, message: "no rows from \(sql)")
    }
    return try row.decode(type, at: 0)
}

/// The parts of the admin URL, for building other connection strings in tests.
struct AdminParts {
    let host: String
    let port: Int
    let user: String
    let password: String

    init() throws {
        guard let components = URLComponents(string: TestDatabase.adminURL), let host = components.host,
            let user = components.user
        else {
            throw PostgresError(
                code: .misuse, message: "MEKONG_TEST_POSTGRES must be a postgresql:// URL for this test")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user
        self.password = components.password ?? ""
    }
}

/// A temporary directory removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("mekong-pg-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
}

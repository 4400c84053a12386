import Foundation
import MekongPostgres
import Synchronization

/// A throwaway database on the real PostgreSQL server, for one test.
///
/// `create()` connects to the admin URL — `$MEKONG_TEST_POSTGRES`, else
/// `postgresql://mekong:mekong@localhost:5432/mekong` (the role needs CREATEDB) — and creates
/// `mekong_test_<label>_<8 random hex digits>` (UTF8 from template0, the server's default locale). Call `drop()` in a
/// `defer`; dropping also happens when the value is deallocated.
public final class TestDatabase: Sendable {
    /// The admin URL used when `$MEKONG_TEST_POSTGRES` is not set.
    public static let defaultAdminURL = "postgresql://mekong:mekong@localhost:5432/mekong"

    /// The new database's name.
    public let name: String
    /// Connection string of the new database (a URL when the admin string is one), for child processes
    /// and further connections.
    public let url: String
    private let adminURL: String
    private let dropped = Mutex(false)

    private init(name: String, url: String, adminURL: String) {
        self.name = name
        self.url = url
        self.adminURL = adminURL
    }

    deinit {
        drop()
    }

    /// The admin connection string: `$MEKONG_TEST_POSTGRES` or `defaultAdminURL`.
    public static var adminURL: String {
        let configured = ProcessInfo.processInfo.environment["MEKONG_TEST_POSTGRES"] ?? ""
        return configured.isEmpty ? defaultAdminURL : configured
    }

    /// Creates a fresh, empty database.
    /// - Parameter label: part of the database name (sanitised to `[a-z0-9_]`); defaults to the calling
    ///   function's name.
    /// - Throws: `PostgresError` (`.connectionFailed` with instructions when the server is unreachable).
    public static func create(_ label: String = #function) throws -> TestDatabase {
        try create(label, adminURL: adminURL)
    }

    /// Creates a fresh, empty database through the given admin connection string.
    public static func create(_ label: String = #function, adminURL admin: String) throws -> TestDatabase {
        let connection: PostgresConnection
        do {
            connection = try connectStartingServerIfNeeded(admin)
        } catch {
            throw PostgresError(
                code: error.code,
                message: "the test PostgreSQL server is not reachable (\(error.message)). Start it with "
                    + "`bash ops/postgres-up.sh` (as root or with sudo) from the repository root, or point "
                    + "MEKONG_TEST_POSTGRES at a server whose role may CREATE DATABASE.")
        }
        defer { connection.close() }

        let name = "mekong_test_\(sanitised(label))_\(String(format: "%08x", UInt32.random(in: .min ... .max)))"
        // An identifier cannot be a parameter; `name` is made of [a-z0-9_] only, so quoting it is safe.
        try connection.execute(
            "CREATE DATABASE \"\(name)\" TEMPLATE template0 ENCODING 'UTF8'")
        return TestDatabase(name: name, url: databaseURL(admin: admin, database: name), adminURL: admin)
    }

    /// Whether this process already tried `ops/postgres-up.sh` (tried at most once).
    private static let startAttempted = Mutex(false)

    /// Connects; if the default development server does not answer, starts it once with `ops/postgres-up.sh`
    /// (which needs root or sudo) and tries again, so `swift test` works on a machine where PostgreSQL is
    /// installed but not running. A server given by `$MEKONG_TEST_POSTGRES` is never started.
    private static func connectStartingServerIfNeeded(_ admin: String) throws(PostgresError) -> PostgresConnection {
        do {
            return try PostgresConnection(url: admin)
        } catch let error where error.code == .connectionFailed && admin == defaultAdminURL {
            // Tests that fail to connect at the same moment wait here for the one start, then retry.
            startAttempted.withLock { attempted in
                guard !attempted else { return }
                attempted = true
                let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().appendingPathComponent("ops/postgres-up.sh")
                FileHandle.standardError.write(
                    Data("TestDatabase: PostgreSQL not reachable (\(error.message)); running \(script.path)\n".utf8))
                // posix_spawn and waitpid, not Foundation.Process: its exit notification needs a Dispatch worker
                // thread, and the tests waiting on this lock may be holding all of them.
                var pid: pid_t = 0
                let words: [String] = ["/bin/bash", script.path]
                var arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
                defer { arguments.forEach { free($0) } }
                if posix_spawn(&pid, "/bin/bash", nil, nil, &arguments, environ) == 0 {
                    var status: Int32 = 0
                    waitpid(pid, &status, 0)
                }
            }
            return try PostgresConnection(url: admin)
        }
    }

    /// Opens a new connection to this database.
    public func connect() throws -> PostgresConnection {
        try PostgresConnection(url: url)
    }

    /// Terminates every other session on the database and drops it. Idempotent; never throws (a failure
    /// is printed to standard error, the database then remains for inspection).
    public func drop() {
        let alreadyDropped = dropped.withLock { dropped in
            defer { dropped = true }
            return dropped
        }
        if alreadyDropped { return }
        do {
            let connection = try PostgresConnection(url: adminURL)
            defer { connection.close() }
            try connection.execute(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                """, [name])
            // Client sessions only, and not `WITH (FORCE)`: terminating an autovacuum worker needs a superuser
            // (42501; CI saw it), while a plain DROP stops autovacuum itself. Terminated sessions take a moment to
            // go, which a plain DROP reports as 55006.
            var attempts = 0
            while true {
                do {
                    try connection.execute("DROP DATABASE IF EXISTS \"\(name)\"")
                    break
                } catch where error.sqlState == "55006" && attempts < 100 {
                    attempts += 1
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
        } catch {
            FileHandle.standardError.write(Data("TestDatabase: could not drop \(name): \(error)\n".utf8))
        }
    }

    /// Lowercase letters, digits and single underscores; at most 40 characters, so that the full name
    /// stays within PostgreSQL's 63-byte identifier limit.
    static func sanitised(_ label: String) -> String {
        var text = ""
        for scalar in label.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                text.unicodeScalars.append(scalar)
            } else if !text.isEmpty, !text.hasSuffix("_") {
                text += "_"
            }
        }
        while text.hasSuffix("_") { text.removeLast() }
        text = String(text.prefix(40))
        while text.hasSuffix("_") { text.removeLast() }
        return text.isEmpty ? "db" : text
    }

    /// The admin connection string with its database replaced by `database`.
    static func databaseURL(admin: String, database: String) -> String {
        if admin.hasPrefix("postgresql://") || admin.hasPrefix("postgres://"),
            var components = URLComponents(string: admin)
        {
            components.percentEncodedPath = "/" + database
            if let url = components.string { return url }
        }
        // keyword/value form: a later keyword overrides an earlier one.
        return admin.isEmpty ? "dbname=\(database)" : "\(admin) dbname=\(database)"
    }
}

import Foundation

/// Applies the SQL migrations of a projection version, in order, each exactly once, and records them.
///
/// Layout: `Projections/<projection>/v<version>/NNN_name.sql` (e.g. `Projections/audit/v1/001_events.sql`).
/// Every file runs in its own transaction together with its row in `mekong.schema_migrations`, under a
/// transaction-scoped advisory lock per (projection, version), so concurrent runners neither race nor apply
/// a file twice. A file must not contain `BEGIN`/`COMMIT` or statements that cannot run in a transaction.
///
/// Migration files are trusted, static SQL from the repository (run with `runScript`); no value ever goes
/// through them.
public struct MigrationRunner: Sendable {
    /// The `Projections/` directory.
    public let directory: URL

    /// - Parameter directory: the `Projections/` directory.
    public init(directory: URL) {
        self.directory = directory
    }

    /// Finds the `Projections/` directory: `$MEKONG_PROJECTIONS` if set (returned as given), else the first
    /// `Projections` directory found walking up from the current directory, else walking up from the
    /// running executable (`/proc/self/exe`). Nil if none is found.
    public static func locate() -> URL? {
        locate(
            environment: ProcessInfo.processInfo.environment,
            currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true),
            executable: executableURL())
    }

    /// The migration files of a projection version, validated and ordered by number.
    /// - Throws: `.migrationFailed` for a missing directory, a file whose name does not match
    ///   `^[0-9]{3}_[a-z0-9_]+\.sql$`, two files with the same number, or an unreadable or non-UTF-8 file.
    public func migrations(projection: String, version: Int) throws -> [Migration] {
        try files(projection: projection, version: version).map(\.migration)
    }

    /// The migrations not yet applied on this database, in order. Changes nothing in the database.
    /// - Throws: as `migrations(projection:version:)`, and `.migrationFailed` when an applied file has
    ///   changed, was renamed or is missing.
    public func pending(projection: String, version: Int, on connection: PostgresConnection) throws -> [Migration] {
        let files = try files(projection: projection, version: version)
        guard try Self.tableExists(on: connection) else { return files.map(\.migration) }
        let applied = try Self.applied(projection: projection, version: version, on: connection)
        return try verify(files, applied: applied, projection: projection, version: version).map(\.migration)
    }

    /// Applies the pending migrations in order and returns them (empty when everything was applied already).
    ///
    /// Creates schema `mekong` and table `mekong.schema_migrations` if missing. Each file and its record
    /// commit together; if a file fails, its transaction is rolled back (no record, no partial effect) and
    /// the files after it are not run.
    /// - Throws: `.migrationFailed` naming the file (changed after being applied — edit a new migration
    ///   instead —, badly named, or refused by the server, with the server's SQLSTATE and message);
    ///   transient errors such as `.connectionLost` keep their code, with the file named in the message.
    @discardableResult
    public func apply(projection: String, version: Int, on connection: PostgresConnection) throws -> [Migration] {
        let files = try files(projection: projection, version: version)
        try Self.createTable(on: connection)
        let alreadyApplied = try Self.applied(projection: projection, version: version, on: connection)
        let pending = try verify(files, applied: alreadyApplied, projection: projection, version: version)

        let lockKey = Self.lockKey("mekong.schema_migrations:\(projection):v\(version)")
        var appliedNow: [Migration] = []
        for file in pending {
            let migration = file.migration
            let label = "\(projection)/v\(version)/\(migration.fileName)"
            let didApply: Bool = try connection.transaction { connection in
                try connection.execute("SELECT pg_advisory_xact_lock($1::bigint)", [lockKey])
                // Another runner may have applied it while this one waited for the lock.
                let existing = try connection.query(
                    """
                    SELECT name, sha256 FROM mekong.schema_migrations
                    WHERE projection = $1 AND version = $2 AND number = $3
                    """,
                    [projection, version, migration.number])
                if let row = existing.first {
                    let record = AppliedRecord(
                        number: migration.number, name: try row.decode(String.self, at: 0),
                        sha256: try row.decode(String.self, at: 1))
                    try check(migration, against: record, label: label)
                    return false
                }
                do throws(PostgresError) {
                    try connection.runScript(file.sql)
                } catch {
                    let code: PostgresError.Code = error.isTransient ? error.code : .migrationFailed
                    throw PostgresError(
                        code: code, message: "migration \(label) failed: \(error.message)", sqlState: error.sqlState,
                        detail: error.detail, hint: error.hint, context: error.context)
                }
                guard connection.isInsideOpenTransaction else {
                    throw PostgresError(
                        code: .migrationFailed,
                        message: "migration \(label) ended the migration's transaction (COMMIT or ROLLBACK in "
                            + "the file?); it was not recorded and its statements up to that point may have "
                            + "taken effect")
                }
                try connection.execute(
                    """
                    INSERT INTO mekong.schema_migrations (projection, version, number, name, sha256)
                    VALUES ($1, $2, $3, $4, $5)
                    """,
                    [projection, version, migration.number, migration.name, migration.sha256])
                return true
            }
            if didApply { appliedNow.append(migration) }
        }
        return appliedNow
    }

    // MARK: - Files

    /// A migration with the exact text whose checksum it carries.
    struct File {
        let migration: Migration
        let sql: String
    }

    func files(projection: String, version: Int) throws -> [File] {
        guard !projection.isEmpty,
            projection.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || $0 == "_" || $0 == "-"
            })
        else {
            throw PostgresError(
                code: .misuse, message: "projection name \"\(projection)\" must consist of letters, digits, _ and -")
        }
        guard version >= 1 else {
            throw PostgresError(code: .misuse, message: "projection version must be 1 or greater, not \(version)")
        }
        let folder = directory.appendingPathComponent(projection, isDirectory: true)
            .appendingPathComponent("v\(version)", isDirectory: true)
        let entries: [URL]
        do {
            entries = try FileManager.default.contentsOfDirectory(
                at: folder, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles])
        } catch {
            throw PostgresError(
                code: .migrationFailed,
                message: "cannot read migrations directory \(folder.path): \(error.localizedDescription)")
        }

        var files: [File] = []
        for entry in entries {
            let fileName = entry.lastPathComponent
            guard let (number, name) = Migration.parse(fileName: fileName),
                (try? entry.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) != true
            else {
                throw PostgresError(
                    code: .migrationFailed,
                    message: "\(projection)/v\(version)/\(fileName) is not a migration file name; "
                        + "names must match ^[0-9]{3}_[a-z0-9_]+\\.sql$ (e.g. 001_create_tables.sql)")
            }
            let bytes: Data
            do {
                bytes = try Data(contentsOf: entry)
            } catch {
                throw PostgresError(
                    code: .migrationFailed, message: "cannot read \(entry.path): \(error.localizedDescription)")
            }
            guard let sql = String(data: bytes, encoding: .utf8), !bytes.contains(0) else {
                throw PostgresError(
                    code: .migrationFailed, message: "\(projection)/v\(version)/\(fileName) is not valid UTF-8 text")
            }
            let migration = Migration(number: number, name: name, file: entry, sha256: SHA256.hex(bytes))
            files.append(File(migration: migration, sql: sql))
        }
        files.sort { $0.migration.number < $1.migration.number }
        for (previous, next) in zip(files, files.dropFirst()) where previous.migration.number == next.migration.number {
            throw PostgresError(
                code: .migrationFailed,
                message: "\(projection)/v\(version) has two migrations numbered \(next.migration.number): "
                    + "\(previous.migration.fileName) and \(next.migration.fileName)")
        }
        return files
    }

    // MARK: - Applied records

    struct AppliedRecord {
        let number: Int
        let name: String
        let sha256: String
    }

    /// Checks every applied record against the files and returns the files not applied yet.
    private func verify(_ files: [File], applied: [AppliedRecord], projection: String, version: Int) throws -> [File] {
        let byNumber = Dictionary(files.map { ($0.migration.number, $0) }, uniquingKeysWith: { first, _ in first })
        for record in applied {
            let label = "\(projection)/v\(version)/\(String(format: "%03d", record.number))_\(record.name).sql"
            guard let file = byNumber[record.number] else {
                throw PostgresError(
                    code: .migrationFailed,
                    message: "migration \(label) was applied but its file is missing; restore it")
            }
            try check(file.migration, against: record, label: label)
        }
        let appliedNumbers = Set(applied.map(\.number))
        return files.filter { !appliedNumbers.contains($0.migration.number) }
    }

    /// Refuses a file that differs from what was applied under its number.
    private func check(_ migration: Migration, against record: AppliedRecord, label: String) throws {
        guard record.name == migration.name else {
            throw PostgresError(
                code: .migrationFailed,
                message: "migration \(label) was applied, but the file numbered \(record.number) is now "
                    + "\(migration.fileName); do not rename applied migrations")
        }
        guard record.sha256 == migration.sha256 else {
            throw PostgresError(
                code: .migrationFailed,
                message: "migration \(label) has changed since it was applied (SHA-256 \(record.sha256) then, "
                    + "\(migration.sha256) now); edit a new migration instead")
        }
    }

    private static func tableExists(on connection: PostgresConnection) throws -> Bool {
        let result = try connection.query("SELECT to_regclass('mekong.schema_migrations') IS NOT NULL")
        return try result.first?.decode(Bool.self, at: 0) ?? false
    }

    private static func createTable(on connection: PostgresConnection) throws {
        if try tableExists(on: connection) { return }
        try connection.transaction { connection in
            // CREATE … IF NOT EXISTS can still collide when two sessions run it at once; serialize them.
            try connection.execute("SELECT pg_advisory_xact_lock($1::bigint)", [lockKey("mekong.schema_migrations")])
            try connection.runScript(
                """
                CREATE SCHEMA IF NOT EXISTS mekong;
                CREATE TABLE IF NOT EXISTS mekong.schema_migrations (
                    projection text NOT NULL,
                    version integer NOT NULL,
                    number integer NOT NULL,
                    name text NOT NULL,
                    sha256 text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (projection, version, number)
                );
                """)
        }
    }

    private static func applied(projection: String, version: Int, on connection: PostgresConnection) throws
        -> [AppliedRecord]
    {
        let result = try connection.query(
            """
            SELECT number, name, sha256 FROM mekong.schema_migrations
            WHERE projection = $1 AND version = $2 ORDER BY number
            """,
            [projection, version])
        return try result.map { row throws(PostgresError) in
            AppliedRecord(
                number: try row.decode(Int.self, at: 0), name: try row.decode(String.self, at: 1),
                sha256: try row.decode(String.self, at: 2))
        }
    }

    /// A stable 64-bit advisory lock key: the first eight bytes of the SHA-256 of `text`.
    static func lockKey(_ text: String) -> Int64 {
        SHA256.digest(Array(text.utf8)).prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    // MARK: - Locating Projections/

    static func locate(environment: [String: String], currentDirectory: URL, executable: URL?) -> URL? {
        if let explicit = environment["MEKONG_PROJECTIONS"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit, isDirectory: true)
        }
        if let found = searchUpwards(from: currentDirectory) { return found }
        if let executable, let found = searchUpwards(from: executable.deletingLastPathComponent()) { return found }
        return nil
    }

    private static func searchUpwards(from start: URL) -> URL? {
        var path = start.standardizedFileURL.path
        while true {
            let candidate = (path as NSString).appendingPathComponent("Projections")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue {
                return URL(fileURLWithPath: candidate, isDirectory: true)
            }
            let parent = (path as NSString).deletingLastPathComponent
            if parent == path || parent.isEmpty { return nil }
            path = parent
        }
    }

    private static func executableURL() -> URL? {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return Bundle.main.executableURL
    }
}

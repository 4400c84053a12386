import Foundation
import MekongTestSupport
import Synchronization
import Testing

@testable import MekongPostgres

/// A Projections/ directory in a temporary location.
struct ProjectionsFixture {
    let root: URL

    @discardableResult
    func write(_ projection: String, _ version: Int, _ file: String, _ sql: String) throws -> URL {
        let folder = root.appendingPathComponent(projection).appendingPathComponent("v\(version)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent(file)
        try Data(sql.utf8).write(to: url)
        return url
    }

    func remove(_ projection: String, _ version: Int, _ file: String) throws {
        let folder = root.appendingPathComponent(projection).appendingPathComponent("v\(version)")
        try FileManager.default.removeItem(at: folder.appendingPathComponent(file))
    }
}

func withProjections<T>(_ body: (ProjectionsFixture, MigrationRunner) throws -> T) throws -> T {
    try withTemporaryDirectory { directory in
        let root = directory.appendingPathComponent("Projections")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return try body(ProjectionsFixture(root: root), MigrationRunner(directory: root))
    }
}

@Suite struct MigrationTests {
    static let create = """
        CREATE SCHEMA demo_v1;
        CREATE TABLE demo_v1.areas (code text PRIMARY KEY, name text NOT NULL);
        """
    static let seed = "INSERT INTO demo_v1.areas VALUES ('01', 'Hà Nội'), ('79', 'Hồ Chí Minh');\n"
    static let index = "CREATE INDEX areas_name ON demo_v1.areas (name);\n"

    private static func records(_ connection: PostgresConnection) throws -> [[String]] {
        let result = try connection.query(
            """
            SELECT projection, version::text, number::text, name, sha256 FROM mekong.schema_migrations
            ORDER BY projection, version, number
            """)
        return try result.map { row in try (0..<5).map { try row.decode(String.self, at: $0) } }
    }

    @Test func appliesInOrderRecordsAndIsIdempotent() throws {
        try withDatabase { _, connection in
            try withProjections { fixture, runner in
                // Written out of order: the runner must sort by number, and 002 needs 001's table.
                try fixture.write("demo", 1, "002_seed.sql", Self.seed)
                try fixture.write("demo", 1, "001_create.sql", Self.create)

                #expect(try runner.pending(projection: "demo", version: 1, on: connection).map(\.number) == [1, 2])
                #expect(try scalar(connection, "SELECT to_regclass('mekong.schema_migrations') IS NULL", as: Bool.self))

                let applied = try runner.apply(projection: "demo", version: 1, on: connection)
                #expect(applied.map(\.number) == [1, 2])
                #expect(applied.map(\.name) == ["create", "seed"])
                #expect(applied.map(\.fileName) == ["001_create.sql", "002_seed.sql"])
                let names = try scalar(
                    connection, "SELECT string_agg(name, ',' ORDER BY code) FROM demo_v1.areas", as: String.self)
                #expect(names == "Hà Nội,Hồ Chí Minh")

                // Recorded with checksums the server computes the same way.
                let records = try Self.records(connection)
                #expect(
                    records.map { Array($0.prefix(4)) } == [["demo", "1", "1", "create"], ["demo", "1", "2", "seed"]])
                for (record, sql) in zip(records, [Self.create, Self.seed]) {
                    let serverSHA = try scalar(
                        connection, "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", [sql], as: String.self)
                    #expect(record.last == serverSHA)
                }
                let stamped = try scalar(
                    connection, "SELECT count(*) FROM mekong.schema_migrations WHERE applied_at <= now()", as: Int.self)
                #expect(stamped == 2)

                // Running again changes nothing.
                #expect(try runner.apply(projection: "demo", version: 1, on: connection).isEmpty)
                #expect(try runner.pending(projection: "demo", version: 1, on: connection).isEmpty)
                #expect(try Self.records(connection) == records)
                #expect(try scalar(connection, "SELECT count(*) FROM demo_v1.areas", as: Int.self) == 2)

                // A new file is the only pending one.
                try fixture.write("demo", 1, "003_index.sql", Self.index)
                let pending = try runner.pending(projection: "demo", version: 1, on: connection)
                #expect(pending.map(\.fileName) == ["003_index.sql"])
                #expect(try runner.apply(projection: "demo", version: 1, on: connection).map(\.number) == [3])
                #expect(try Self.records(connection).count == 3)
            }
        }
    }

    @Test func versionsAndProjectionsAreIndependent() throws {
        try withDatabase { _, connection in
            try withProjections { fixture, runner in
                try fixture.write("demo", 1, "001_create.sql", Self.create)
                try fixture.write("demo", 2, "001_create.sql", "CREATE SCHEMA demo_v2;")
                try fixture.write("other", 1, "001_create.sql", "CREATE SCHEMA other_v1;")
                #expect(try runner.apply(projection: "demo", version: 2, on: connection).count == 1)
                #expect(try runner.pending(projection: "demo", version: 1, on: connection).count == 1)
                #expect(try runner.apply(projection: "demo", version: 1, on: connection).count == 1)
                #expect(try runner.apply(projection: "other", version: 1, on: connection).count == 1)
                #expect(try Self.records(connection).map { Array($0.prefix(3)) }
                    == [["demo", "1", "1"], ["demo", "2", "1"], ["other", "1", "1"]])
            }
        }
    }

    @Test func aChangedAppliedFileIsRefused() throws {
        try withDatabase { _, connection in
            try withProjections { fixture, runner in
                try fixture.write("demo", 1, "001_create.sql", Self.create)
                try runner.apply(projection: "demo", version: 1, on: connection)
                try fixture.write("demo", 1, "001_create.sql", Self.create + "-- tweaked\n")
                try fixture.write("demo", 1, "002_seed.sql", Self.seed)

                let error = #expect(throws: PostgresError.self) {
                    try runner.apply(projection: "demo", version: 1, on: connection)
                }
                #expect(error?.code == .migrationFailed)
                #expect(error?.message.contains("demo/v1/001_create.sql") == true)
                #expect(error?.message.contains("edit a new migration instead") == true)
                #expect(throws: PostgresError.self) {
                    try runner.pending(projection: "demo", version: 1, on: connection)
                }
                // Nothing after the refusal ran.
                #expect(try scalar(connection, "SELECT count(*) FROM demo_v1.areas", as: Int.self) == 0)
                #expect(try Self.records(connection).count == 1)
            }
        }
    }

    @Test func aRenamedOrMissingAppliedFileIsRefused() throws {
        try withDatabase { _, connection in
            try withProjections { fixture, runner in
                try fixture.write("demo", 1, "001_create.sql", Self.create)
                try runner.apply(projection: "demo", version: 1, on: connection)
                try fixture.remove("demo", 1, "001_create.sql")
                try fixture.write("demo", 1, "001_make.sql", Self.create)
                let renamed = #expect(throws: PostgresError.self) {
                    try runner.apply(projection: "demo", version: 1, on: connection)
                }
                #expect(renamed?.message.contains("001_make.sql") == true)
                try fixture.remove("demo", 1, "001_make.sql")
                try fixture.write("demo", 1, "002_seed.sql", Self.seed)
                let missing = #expect(throws: PostgresError.self) {
                    try runner.apply(projection: "demo", version: 1, on: connection)
                }
                #expect(missing?.message.contains("001_create.sql") == true)
            }
        }
    }

    @Test(arguments: [
        "1_create.sql", "001_Create.sql", "001-create.sql", "001_create.SQL", "0001_create.sql", "001_.sql",
        "notes.txt", "001_create.sql.bak",
    ])
    func aBadFileNameIsRefusedByName(fileName: String) throws {
        try withDatabase { _, connection in
            try withProjections { fixture, runner in
                try fixture.write("demo", 1, "001_create.sql", Self.create)
                try fixture.write("demo", 1, fileName, "SELECT 1;")
                let error = #expect(throws: PostgresError.self) {
                    try runner.apply(projection: "demo", version: 1, on: connection)
                }
                #expect(error?.code == .migrationFailed)
                #expect(error?.message.contains(fileName) == true, "\(String(describing: error))")
                // Refused before anything ran.
                #expect(try scalar(connection, "SELECT to_regnamespace('demo_v1') IS NULL", as: Bool.self))
            }
        }
    }

    @Test func duplicateNumbersAreRefused() throws {
        try withProjections { fixture, runner in
            try fixture.write("demo", 1, "001_create.sql", Self.create)
            try fixture.write("demo", 1, "001_other.sql", Self.seed)
            let error = #expect(throws: PostgresError.self) { try runner.migrations(projection: "demo", version: 1) }
            #expect(error?.message.contains("001_create.sql") == true)
            #expect(error?.message.contains("001_other.sql") == true)
            #expect(throws: PostgresError.self) { try runner.migrations(projection: "nope", version: 1) }
            #expect(throws: PostgresError.self) { try runner.migrations(projection: "../demo", version: 1) }
        }
    }

    @Test func aFailingMigrationLeavesNoRecordAndNoPartialEffect() throws {
        try withDatabase { _, connection in
            try withProjections { fixture, runner in
                try fixture.write("demo", 1, "001_create.sql", Self.create)
                try fixture.write(
                    "demo", 1, "002_broken.sql",
                    """
                    CREATE TABLE demo_v1.partial (x int);
                    INSERT INTO demo_v1.areas VALUES ('02', 'Hà Giang');
                    INSERT INTO demo_v1.nonexistent VALUES (1);
                    """)
                try fixture.write("demo", 1, "003_index.sql", Self.index)

                let error = #expect(throws: PostgresError.self) {
                    try runner.apply(projection: "demo", version: 1, on: connection)
                }
                #expect(error?.code == .migrationFailed)
                #expect(error?.sqlState == "42P01")
                #expect(error?.message.contains("demo/v1/002_broken.sql") == true)
                #expect(error?.message.contains("nonexistent") == true)

                #expect(try Self.records(connection).map { $0[2] } == ["1"])
                #expect(try scalar(connection, "SELECT to_regclass('demo_v1.partial') IS NULL", as: Bool.self))
                #expect(try scalar(connection, "SELECT count(*) FROM demo_v1.areas", as: Int.self) == 0)
                #expect(try scalar(connection, "SELECT to_regclass('demo_v1.areas_name') IS NULL", as: Bool.self))

                // A file that never applied may be fixed; then the rest goes through.
                try fixture.write("demo", 1, "002_broken.sql", Self.seed)
                #expect(try runner.apply(projection: "demo", version: 1, on: connection).map(\.number) == [2, 3])
            }
        }
    }

    @Test func aMigrationMayNotEndItsTransaction() throws {
        try withDatabase { _, connection in
            try withProjections { fixture, runner in
                try fixture.write("demo", 1, "001_commit.sql", "CREATE SCHEMA demo_v1; COMMIT;")
                let error = #expect(throws: PostgresError.self) {
                    try runner.apply(projection: "demo", version: 1, on: connection)
                }
                #expect(error?.code == .migrationFailed)
                #expect(try Self.records(connection).isEmpty)
            }
        }
    }

    @Test func concurrentRunnersApplyEachFileOnce() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        try withProjections { fixture, runner in
            try fixture.write("demo", 1, "001_create.sql", Self.create)
            for i in 2...8 {
                try fixture.write(
                    "demo", 1, String(format: "%03d_step_%d.sql", i, i),
                    "SELECT pg_sleep(0.02); INSERT INTO demo_v1.areas VALUES ('\(i)', 'step \(i)');")
            }
            let outcomes = Mutex<[Result<Int, PostgresError>]>([])
            DispatchQueue.concurrentPerform(iterations: 3) { _ in
                let outcome = Result { () throws(PostgresError) -> Int in
                    let connection = try PostgresConnection(url: database.url)
                    defer { connection.close() }
                    do {
                        return try runner.apply(projection: "demo", version: 1, on: connection).count
                    } catch let error as PostgresError {
                        throw error
                    } catch {
                        throw PostgresError(code: .misuse, message: "\(error)")
                    }
                }
                outcomes.withLock { $0.append(outcome) }
            }
            let results = outcomes.withLock { $0 }
            let counts = try results.map { try $0.get() }
            #expect(counts.reduce(0, +) == 8)
            let connection = try database.connect()
            defer { connection.close() }
            #expect(try Self.records(connection).count == 8)
            #expect(try scalar(connection, "SELECT count(*) FROM demo_v1.areas", as: Int.self) == 7)
        }
    }

    @Test func locateFollowsEnvironmentThenCurrentDirectoryThenExecutable() throws {
        try withTemporaryDirectory { directory in
            let repository = directory.appendingPathComponent("repo")
            let projections = repository.appendingPathComponent("Projections")
            let nested = repository.appendingPathComponent("Sources/Deep/Er")
            let binary = repository.appendingPathComponent(".build/debug/mekong")
            let elsewhere = directory.appendingPathComponent("elsewhere")
            for folder in [projections, nested, binary.deletingLastPathComponent(), elsewhere] {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            }
            func locate(_ environment: [String: String], _ cwd: URL, _ executable: URL?) -> String? {
                MigrationRunner.locate(environment: environment, currentDirectory: cwd, executable: executable)?
                    .standardizedFileURL.resolvingSymlinksInPath().path
            }
            let expected = projections.standardizedFileURL.resolvingSymlinksInPath().path
            #expect(locate(["MEKONG_PROJECTIONS": "/explicit/Projections"], nested, nil) == "/explicit/Projections")
            #expect(locate([:], nested, nil) == expected)
            #expect(locate([:], repository, nil) == expected)
            #expect(locate([:], elsewhere, binary) == expected)
            #expect(locate([:], elsewhere, nil) == nil)
        }
    }
}

import Foundation
import MekongCatalog
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongTestSupport

/// A mock cluster with `reports` and `dead-letters`, a Projections/ directory holding `core` and the test
/// projection `report-log` (versions 1 to 3; the metrics test alone uses 3, so its counters are its own), and throwaway databases prepared with the known reporting units.
final class ProjectionFixture: @unchecked Sendable {
    let cluster: MockCluster
    let projections: URL
    let catalog: Catalog
    /// Reporting units `unit-0` … `unit-24` exist in `reference.units`; `unit-unknown` does not.
    static let units = 25

    init(partitions: Int = 6) throws {
        cluster = try MockCluster(brokers: 1)
        try cluster.createTopic("reports", partitions: partitions, replicationFactor: 1)
        try cluster.createTopic("dead-letters", partitions: 3, replicationFactor: 1)
        projections = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-projections-\(UUID().uuidString)")
        let files = FileManager.default
        try files.createDirectory(at: projections, withIntermediateDirectories: true)
        try files.copyItem(
            at: MekongBinary.repositoryRoot.appendingPathComponent("Projections/core"),
            to: projections.appendingPathComponent("core"))
        for version in 1...3 {
            let directory = projections.appendingPathComponent("report-log/v\(version)")
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
            try ReportLog.sql(version: version).write(
                to: directory.appendingPathComponent("001_report_log.sql"), atomically: true, encoding: .utf8)
        }
        catalog = try Catalog(directory: MekongBinary.repositoryRoot.appendingPathComponent("Topics"))
    }

    deinit { try? FileManager.default.removeItem(at: projections) }

    var migrations: MigrationRunner { MigrationRunner(directory: projections) }

    /// A new database with the core tables, report-log v1's schema and the known reporting units.
    func database(_ label: String = #function, adminURL: String = TestDatabase.adminURL) throws -> TestDatabase {
        let database = try TestDatabase.create(label, adminURL: adminURL)
        let db = try database.connect()
        defer { db.close() }
        try ProjectionVersions(db: db).prepare(ReportLog().identity, migrations: migrations)
        try db.execute(
            "INSERT INTO reference.units SELECT 'unit-' || i FROM generate_series(0, $1) AS i", [Self.units - 1])
        return database
    }

    func publish(_ events: [CloudEvent]) async throws {
        try await send(events.map { EventPublisher.record(for: $0, topic: "reports") })
    }

    func send(_ records: [OutgoingMessage]) async throws {
        let producer = try Producer(configuration: cluster.configuration(["message.max.bytes": "4000000"]))
        defer { producer.close() }
        for result in await producer.send(records) { _ = try result.get() }
    }

    func engine(
        _ database: TestDatabase, version: Int = 1, options: ProjectionOptions = .testDefaults,
        reader: EventReader? = nil
    ) -> ProjectionEngine<ReportLog> {
        ProjectionEngine(
            projection: ReportLog(version: version), kafka: cluster.configuration(), postgresURL: database.url,
            migrations: migrations, reader: reader ?? EventReader(catalog: catalog, upcasters: Upcasters()),
            options: options)
    }

    /// Runs the engine on its own thread until caught up.
    func runToEnd(
        _ database: TestDatabase, version: Int = 1, batchSize: Int = 500, reader: EventReader? = nil
    ) async throws -> ProjectionRunSummary {
        var options = ProjectionOptions.testDefaults
        options.batchSize = batchSize
        let chosen = options
        return try await onThread { [self] in
            try engine(database, version: version, options: chosen, reader: reader).run(stop: StopSignal())
        }
    }

    func checksum(_ database: TestDatabase, version: Int = 1) throws -> String {
        let db = try database.connect()
        defer { db.close() }
        return try ProjectionVersions(db: db).checksum(ReportLog(version: version).identity).digest
    }

    func query<T: PostgresDecodable>(_ database: TestDatabase, _ sql: String, _ type: T.Type, _ parameters: [(any PostgresBindable)?] = []) throws -> [T] {
        let db = try database.connect()
        defer { db.close() }
        return try db.query(sql, parameters).map { try $0.decode(T.self, at: 0) }
    }

    /// Every record of the dead-letters topic, decoded.
    func deadLetterEvents() throws -> [CloudEvent] {
        let consumer = try Consumer(configuration: cluster.configuration())
        defer { consumer.close() }
        var positions: [TopicPartition: Int64] = [:]
        var ends: [TopicPartition: Int64] = [:]
        for p in 0..<3 {
            let tp = TopicPartition(topic: "dead-letters", partition: Int32(p))
            let (low, high) = try consumer.watermarks(of: tp)
            positions[tp] = low
            ends[tp] = high
        }
        let total = ends.values.reduce(0, +) - positions.values.reduce(0, +)
        try consumer.assign(positions)
        var events: [CloudEvent] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while events.count < total, ContinuousClock.now < deadline {
            for message in try consumer.poll(maxMessages: 100, timeout: .milliseconds(200)) {
                events.append(try CloudEvent(decoding: message.value))
            }
        }
        return events
    }
}

extension ProjectionOptions {
    static var testDefaults: ProjectionOptions {
        var options = ProjectionOptions()
        options.batchSize = 500
        options.batchWait = .milliseconds(50)
        options.stopWhenCaughtUp = true
        options.retryBackoff = (.milliseconds(50), .milliseconds(400))
        return options
    }
}

/// A report event of `unit` with one observation of `value`.
func report(unit: String, value: Double, index: Int = 0) -> CloudEvent {
    var event = SampleEvents.report(index)
    event.subject = "\(unit)/B01/2025-Q3"
    var data = event.data.objectValue!
    data["reportingUnit"] = .string(unit)
    var observation = data["observations"]!.arrayValue![0].objectValue!
    observation["value"] = .number(value)
    data["observations"] = .array([.object(observation)])
    event.data = .object(data)
    return event
}

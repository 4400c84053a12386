import Foundation
import MekongCatalog
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongStatisticalEvents
import MekongStatistics

/// A mock cluster with the statistical topics, the repository's Projections/ and Topics/, and a throwaway database
/// per test; runs the `statistics` projection on the real engine.
public final class StatisticsFixture: @unchecked Sendable {
    public let cluster: MockCluster
    public let catalog: Catalog
    public let events = StatisticalEvents()
    public let database: TestDatabase

    public init(_ label: String = #function) throws {
        cluster = try MockCluster(brokers: 1)
        try cluster.createTopic("master-data", partitions: 3, replicationFactor: 1)
        try cluster.createTopic("reports", partitions: 6, replicationFactor: 1)
        try cluster.createTopic("admin-records", partitions: 6, replicationFactor: 1)
        try cluster.createTopic("survey-uploads", partitions: 6, replicationFactor: 1)
        try cluster.createTopic("dead-letters", partitions: 3, replicationFactor: 1)
        catalog = try Catalog(directory: MekongBinary.repositoryRoot.appendingPathComponent("Topics"))
        database = try TestDatabase.create(label)
    }

    deinit { database.drop() }

    public var migrations: MigrationRunner {
        MigrationRunner(directory: MekongBinary.repositoryRoot.appendingPathComponent("Projections"))
    }

    public func publish(_ events: [CloudEvent]) async throws {
        let producer = try Producer(configuration: cluster.configuration(["message.max.bytes": "4000000"]))
        defer { producer.close() }
        let topics = [
            "vn.gso.report.submitted": "reports", "vn.gso.register.record-changed": "admin-records",
            "vn.gso.survey.chunk-uploaded": "survey-uploads", "vn.gso.survey.upload-completed": "survey-uploads",
            "vn.gso.survey.batch-uploaded": "survey-uploads",
        ]
        let records = events.map { event in EventPublisher.record(for: event, topic: topics[event.type] ?? "master-data") }
        for result in await producer.send(records) { _ = try result.get() }
    }

    /// Runs the statistics projection until caught up (on its own thread).
    @discardableResult
    public func project(version: Int = 2, batchSize: Int = 500) async throws -> ProjectionRunSummary {
        try await project(StatisticsProjection(version: version), batchSize: batchSize)
    }

    /// Runs `projection` until caught up (on its own thread).
    @discardableResult
    public func project<P: Projection>(_ projection: P, batchSize: Int = 500) async throws
        -> ProjectionRunSummary
    {
        var options = ProjectionOptions()
        options.batchSize = batchSize
        options.batchWait = .milliseconds(50)
        options.stopWhenCaughtUp = true
        options.retryBackoff = (.milliseconds(50), .milliseconds(400))
        let chosen = options
        return try await onThread { [self] in
            try ProjectionEngine(
                projection: projection, kafka: cluster.configuration(),
                postgresURL: database.url, migrations: migrations,
                reader: EventReader(catalog: catalog, upcasters: StatisticsUpcasters.all), options: chosen
            ).run(stop: StopSignal())
        }
    }

    /// Rows of a query, each column as text (NULL as nil).
    public func rows(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> [[String?]] {
        let db = try database.connect()
        defer { db.close() }
        return try db.query(sql, parameters).map { row in
            try (0..<row.columns.count).map { try row.decode(String?.self, at: $0) }
        }
    }

    public func deadLetterReasons() throws -> [String] {
        try rows("SELECT reason FROM mekong.dead_letters ORDER BY topic, partition, kafka_offset").map { $0[0]! }
    }

    public func checksum(version: Int = 2) throws -> String {
        let db = try database.connect()
        defer { db.close() }
        return try ProjectionVersions(db: db).checksum(StatisticsProjection(version: version).identity).digest
    }
}

/// A time on 2024-01-01 plus `minutes`, for recorded times that order events.
public func at(_ minutes: Int) -> Timestamp {
    Timestamp(date: Date(timeIntervalSince1970: 1_704_067_200 + Double(minutes) * 60))
}

public typealias Item = StatisticalEvents.Item
public typealias Observation = StatisticalEvents.Observation

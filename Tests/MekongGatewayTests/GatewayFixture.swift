import Foundation
import MekongCatalog
import MekongEvents
import MekongEvidence
import MekongGateway
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongStatisticalEvents
import MekongStatistics
import MekongTestSupport

/// A running gateway over a mock cluster (one broker, so that "brokers down" is one call) and a throwaway database
/// whose statistics projection holds real master data: vn-admin-units 2024 (VN, P1, P2) and 2025 from 2025-07-01
/// (VN, P1, P3; P2 closed), and indicator POP (monthly, by area).
///
/// Source "prov-a" (urn:test:prov-a) may publish reports and survey batches for units U1* on areas P*;
/// source "prov-b" may publish reports for U2.
final class GatewayFixture: @unchecked Sendable {
    let cluster: MockCluster
    let catalog: Catalog
    let database: TestDatabase
    let events = StatisticalEvents()
    let gatewayKey = SigningKey(generatingWithID: "gateway-test")
    let keyA = SigningKey(generatingWithID: "prov-a-1")
    let keyB = SigningKey(generatingWithID: "prov-b-1")
    private(set) var apiKeyA = ""
    private(set) var apiKeyB = ""
    private(set) var server: GatewayServer!

    var migrations: MigrationRunner {
        MigrationRunner(directory: MekongBinary.repositoryRoot.appendingPathComponent("Projections"))
    }

    var baseURL: URL { URL(string: "http://127.0.0.1:\(server.port)/")! }
    var clientA: GatewayClient { GatewayClient(baseURL: baseURL, apiKey: apiKeyA) }
    var clientB: GatewayClient { GatewayClient(baseURL: baseURL, apiKey: apiKeyB) }

    static func start(_ label: String = #function, configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws
        -> GatewayFixture
    {
        let fixture = try GatewayFixture(label)
        try await fixture.loadMasterData()
        try fixture.registerSources()
        var configuration = GatewayConfiguration(
            host: "127.0.0.1", port: 0, postgres: fixture.database.url, kafka: fixture.cluster.configuration(),
            catalog: fixture.catalog, key: fixture.gatewayKey)
        configuration.deliveryTimeout = .seconds(3)
        configure(&configuration)
        fixture.server = try await GatewayServer.start(try Gateway(configuration: configuration))
        return fixture
    }

    private init(_ label: String) throws {
        cluster = try MockCluster(brokers: 1)
        for (topic, partitions) in [("master-data", 3), ("reports", 6), ("admin-records", 6), ("survey-uploads", 6),
                                    ("dead-letters", 3)] {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
        }
        catalog = try Catalog(directory: MekongBinary.repositoryRoot.appendingPathComponent("Topics"))
        database = try TestDatabase.create(label)
    }

    func stop() async {
        await server?.stop()
        database.drop()
    }

    private func loadMasterData() async throws {
        let master = [
            events.classificationPublished("vn-admin-units", version: "2024", validFrom: "2024-01-01", items: [
                .init(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
                .init(code: "P1", parent: "VN", level: 2, nameVi: "Tỉnh Một"),
                .init(code: "P2", parent: "VN", level: 2, nameVi: "Tỉnh Hai"),
            ], at: Timestamp(rfc3339: "2024-01-01T00:00:00Z")!),
            events.classificationPublished("vn-admin-units", version: "2025", validFrom: "2025-07-01", items: [
                .init(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
                .init(code: "P1", parent: "VN", level: 2, nameVi: "Tỉnh Một"),
                .init(code: "P3", parent: "VN", level: 2, nameVi: "Tỉnh Ba"),
            ], at: Timestamp(rfc3339: "2024-01-01T00:01:00Z")!),
            events.indicatorDefined("POP", nameVi: "Dân số", nameEn: "Population", unit: "person",
                                    periodicities: ["month"], at: Timestamp(rfc3339: "2024-01-01T00:02:00Z")!),
        ]
        try await publishMasterData(master)
    }

    /// Writes master-data events to the cluster and projects them into the statistics projection.
    func publishMasterData(_ master: [CloudEvent]) async throws {
        let producer = try Producer(configuration: cluster.configuration(["message.max.bytes": "4000000"]))
        for result in await producer.send(master.map { EventPublisher.record(for: $0, topic: "master-data") }) {
            _ = try result.get()
        }
        await producer.close()
        _ = try await project(StatisticsProjection())
    }

    private func registerSources() throws {
        try Gateway.prepare(postgres: database.url, migrations: migrations)
        let connection = try database.connect()
        defer { connection.close() }
        let registry = SourceRegistry(connection: connection)
        apiKeyA = try registry.add(
            id: "prov-a", uri: "urn:test:prov-a", key: keyA.verifyingKey,
            eventTypes: ["vn.gso.report.submitted", "vn.gso.survey.chunk-uploaded", "vn.gso.survey.upload-completed"],
            units: ["U1*"], areas: ["P*"], eventsPerSecond: 100_000)
        apiKeyB = try registry.add(
            id: "prov-b", uri: "urn:test:prov-b", key: keyB.verifyingKey, eventTypes: ["vn.gso.report.submitted"],
            units: ["U2"], areas: [], eventsPerSecond: 100_000)
    }

    /// Runs a projection over the cluster into the fixture's database until it has caught up.
    func project<P: Projection>(_ projection: P) async throws -> ProjectionRunSummary {
        var options = ProjectionOptions()
        options.batchWait = .milliseconds(50)
        options.stopWhenCaughtUp = true
        let chosen = options
        return try await onThread { [self] in
            try ProjectionEngine(
                projection: projection, kafka: cluster.configuration(), postgresURL: database.url,
                migrations: migrations, reader: EventReader(catalog: catalog, upcasters: StatisticsUpcasters.all),
                options: chosen
            ).run(stop: StopSignal())
        }
    }

    /// A POP report from prov-a (or `source`), signed with `key` (default prov-a's).
    func report(unit: String = "U100", area: String = "P1", period: String = "2025-M03", value: Double = 100,
                source: String = "urn:test:prov-a", key: SigningKey? = nil) -> CloudEvent {
        events.reportSubmitted(
            unit: unit, form: "F1", period: period,
            observations: [.init(indicator: "POP", area: area, value: value)], source: source,
            at: Timestamp(date: Date())
        ).signed(by: key ?? keyA)
    }

    /// How many records a topic holds (sum of high watermarks).
    func recordCount(_ topic: String) throws -> Int64 {
        let consumer = try Consumer(configuration: cluster.configuration())
        defer { consumer.close() }
        var total: Int64 = 0
        for partition in 0..<(try consumer.partitionCount(of: topic)) {
            total += try consumer.watermarks(of: TopicPartition(topic: topic, partition: Int32(partition))).high
        }
        return total
    }

    /// Every event a topic holds, read from each partition's start to its end.
    func loggedEvents(_ topic: String) throws -> [CloudEvent] {
        let consumer = try Consumer(configuration: cluster.configuration())
        defer { consumer.close() }
        var positions: [TopicPartition: Int64] = [:]
        var expected: Int64 = 0
        for partition in 0..<(try consumer.partitionCount(of: topic)) {
            let topicPartition = TopicPartition(topic: topic, partition: Int32(partition))
            let (low, high) = try consumer.watermarks(of: topicPartition)
            positions[topicPartition] = low
            expected += high - low
        }
        try consumer.assign(positions)
        var records: [ConsumedMessage] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while records.count < Int(expected), ContinuousClock.now < deadline {
            records += try consumer.poll(maxMessages: 500, timeout: .milliseconds(200))
        }
        return try records.map { try CloudEvent(decoding: $0.value) }
    }

    func rows(_ sql: String) throws -> [[String?]] {
        let connection = try database.connect()
        defer { connection.close() }
        return try connection.query(sql).map { row in try (0..<row.columns.count).map { try row.decode(String?.self, at: $0) } }
    }
}

extension GatewayClient {
    func post(_ event: CloudEvent) async throws -> Answer {
        try await send("POST", "v1/events", contentType: "application/cloudevents+json", body: JSON.serializeBytes(event.json))
    }
}

import ArgumentParser
import Foundation
import MekongAudit
import MekongCatalog
import MekongEvents
import MekongEvidence
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongStatistics

/// The whole story on an embedded cluster and the local PostgreSQL (README, "The main job").
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the National Statistical Database story end to end on an in-process Kafka cluster.",
        discussion: """
            Publishes Vietnam's 2024 administrative units (data/vn-admin-units), indicator definitions, monthly \
            reports from every province with seeded synthetic values and a few revisions, the July 2025 reform \
            (the 2025 units and the province correspondence) and reports under the new units; runs the statistics \
            and audit projections until caught up; prints a national series across the reform and one province's \
            series re-expressed in 2025 units; verifies the audit trail. Projects into its own database \
            (default mekong_demo, recreated on every run). The cluster is in-process and vanishes at the end.
            """)

    @Option(help: "Database to (re)create for the demo.") var database = "mekong_demo"
    @Option(help: "Seed of the synthetic values (the same seed gives the same tables).") var seed: UInt64 = 2025
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if connection.kafka != nil {
            throw ValidationError(
                "--kafka: mekong demo runs on an in-process Kafka cluster of its own and publishes to no other; "
                    + "publish to a cluster with `mekong publish --kafka …`")
        }
    }

    func run() async throws {
        let started = ContinuousClock.now
        let settings = try connection.resolve()
        if settings.kafkaProperties["bootstrap.servers"] != nil {
            print("== note: the Kafka cluster that MEKONG_KAFKA or the configuration file names is not used; the demo runs on its own")
        }
        let demoURL = Self.url(settings.postgres, database: database)
        let catalog = try Resources.catalog()
        let data = try Resources.repositoryFile("data/vn-admin-units")

        print("== database \(database) (recreated)")
        let admin = try PostgresConnection(url: settings.postgres)
        try admin.execute("DROP DATABASE IF EXISTS \"\(database)\"")
        try admin.execute("CREATE DATABASE \"\(database)\"")
        admin.close()

        print("== in-process Kafka cluster (librdkafka mock) with the catalog's topics")
        let cluster = try MockCluster(brokers: 1)
        for topic in catalog.topics {
            try cluster.createTopic(topic.name, partitions: topic.partitions, replicationFactor: 1)
        }

        let story = try DemoStory(seed: seed, data: data)
        print("== publishing: \(story.summary)")
        let producer = try Producer(configuration: cluster.configuration(["message.max.bytes": "4000000", "linger.ms": "5"]))
        var published = 0
        for (topic, events) in story.eventsByTopic {
            for event in events {
                if let problem = catalog.validate(event, topic: topic).first {
                    throw ValidationError("demo event \(event.type) \(event.subject) is invalid: \(problem)")
                }
            }
            for result in await producer.send(events.map { EventPublisher.record(for: $0, topic: topic) }) {
                _ = try result.get()
                published += 1
            }
        }
        await producer.close()
        print("   \(published) events acknowledged by the cluster")

        print("== projecting (statistics, then audit) until caught up")
        // The demo signs its trail's tree heads with a key of its own, generated for this run.
        let auditKey = SigningKey(generatingWithID: "demo-audit")
        let audit = try AuditTrail(topics: catalog.eventTopics.map(\.name), headKey: auditKey)
        for projection in [StatisticsProjection() as any Projection, audit] {
            var options = ProjectionOptions()
            options.stopWhenCaughtUp = true
            let summary = try runDemoEngine(projection, cluster: cluster, url: demoURL, catalog: catalog, options: options)
            print("   \(projection.identity): \(describe(summary))")
        }

        let db = try PostgresConnection(url: demoURL)
        defer { db.close() }
        try story.printResults(on: db)

        // The signed tree heads, copied out of the database (`mekong audit publish-heads`), and the trail checked
        // against them, the log and the copy.
        let heads = try AuditHeadsTopic.stored(in: db, version: audit.identity.version)
        try await AuditHeadsTopic.publish(heads, configuration: cluster.configuration())
        let partitions = catalog.partitions(of: audit.topics)
        let verification = try AuditVerifier(
            db: db, version: audit.identity.version, expectedPartitions: partitions, log: cluster.configuration(),
            reader: EventReader(catalog: catalog, upcasters: KnownProjections.upcasters), headKey: auditKey.verifyingKey,
            publishedHeads: try AuditHeadsTopic.read(configuration: cluster.configuration())?.heads
        ).verify()
        let verdict = verification.isIntact
            ? "verified; \(verification.treeHeadsChecked) signed tree heads hold; checkpoints and log agree "
                + "(\(verification.logRecordsCompared) records compared)"
            : "BROKEN: \(verification.firstBadRow!)"
        print("== audit trail: \(verification.rowsChecked) events, hash chains \(verdict)")
        guard verification.isIntact, verification.rowsChecked == published,
            verification.logRecordsCompared == published
        else {
            throw ValidationError("the audit trail holds \(verification.rowsChecked) of \(published) events or is broken")
        }

        print("""

            Done in \(Self.seconds(ContinuousClock.now - started)). Look next:
              mekong query indicator RETAIL.SALES --area VN --postgres '\(ConnectionString.redacted(demoURL))'
              mekong query indicator RETAIL.SALES --area 08 --classification-version 2025 --format sdmx-csv --postgres …
              psql … -c "SELECT * FROM statistics.code_history('vn-admin-units', '02')"
              docs/statistics.md (tables and functions), docs/events.md (event types)
            """)
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    /// `postgres` pointed at `database`: a URL gets a new path; keyword conninfo gets a later `dbname`, which wins.
    static func url(_ postgres: String, database: String) -> String {
        if postgres.hasPrefix("postgres://") || postgres.hasPrefix("postgresql://"),
            var components = URLComponents(string: postgres)
        {
            components.path = "/" + database
            return components.string ?? postgres
        }
        return postgres.isEmpty ? "dbname=\(database)" : "\(postgres) dbname=\(database)"
    }
}

/// Runs `projection` against the demo's cluster until it has caught up.
private func runDemoEngine<P: Projection>(
    _ projection: P, cluster: MockCluster, url: String, catalog: Catalog, options: ProjectionOptions
) throws -> ProjectionRunSummary {
    try ProjectionEngine(
        projection: projection, kafka: cluster.configuration(), postgresURL: url, migrations: try Resources.migrations(),
        reader: EventReader(catalog: catalog, upcasters: KnownProjections.upcasters), options: options
    ).run(stop: StopSignal())
}

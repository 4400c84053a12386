// The ingestion gateway over HTTP, in-process, against a 3-broker mock cluster (acks=all) and a real PostgreSQL whose
// statistics projection holds the real administrative units (2024 and 2025): batched throughput and single-event
// latency at a fixed rate, each beside a baseline measured in the same run.
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
import Synchronization

/// The gateway and what it runs on, set up once for every run.
struct GatewayBench {
    let cluster: MockCluster
    let server: GatewayServer
    let databaseURL: String
    let sourceKey: SigningKey
    let apiKey: String
    let areas: [String]
    let events = StatisticalEvents()

    static let source = "urn:vn:gso:bench"

    static func start(admin: PostgresConnection, root: URL) async throws -> GatewayBench {
        let cluster = try MockCluster(brokers: 3)
        for (topic, partitions) in [("master-data", 3), ("reports", 6), ("survey-uploads", 6), ("admin-records", 6),
                                    ("dead-letters", 3)] {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 3)
        }
        let name = "mekong_bench_gateway"
        try admin.execute("DROP DATABASE IF EXISTS \(name)")
        try admin.execute("CREATE DATABASE \(name)")
        let url = MekongBenchmarks.databaseURL(name)
        let migrations = MigrationRunner(directory: root.appendingPathComponent("Projections"))
        let catalog = try Catalog(directory: root.appendingPathComponent("Topics"))

        // Master data: the real administrative units before and after the July 2025 reform, three indicators.
        func file(_ name: String) throws -> String {
            try String(contentsOf: root.appendingPathComponent("data/vn-admin-units/\(name)"), encoding: .utf8)
        }
        let units2024 = try AdministrativeUnits.units2024(csv: file("units-2024.csv"))
        let units2025 = try AdministrativeUnits.units2025(csv: file("units-2025.csv"))
        let e = StatisticalEvents()
        let at = Timestamp(rfc3339: "2023-12-20T08:00:00+07:00")!
        let master = [
            e.classificationPublished(AdministrativeUnits.classification, version: "2024", validFrom: "2024-01-01",
                                      items: units2024, at: at),
            e.classificationPublished(AdministrativeUnits.classification, version: "2025", validFrom: "2025-07-01",
                                      items: units2025, at: at),
        ] + ["RETAIL.SALES", "LABOUR.FORCE", "UNEMP.RATE"].map {
            e.indicatorDefined($0, nameVi: $0, nameEn: $0, unit: "unit", periodicities: ["month"], at: at)
        }
        let producer = try Producer(configuration: cluster.configuration(["message.max.bytes": "8000000"]))
        for result in await producer.send(master.map { EventPublisher.record(for: $0, topic: "master-data") }) {
            _ = try result.get()
        }
        await producer.close()
        var options = ProjectionOptions()
        options.stopWhenCaughtUp = true
        options.batchWait = .milliseconds(50)
        _ = try ProjectionEngine(
            projection: StatisticsProjection(), kafka: cluster.configuration(), postgresURL: url,
            migrations: migrations, reader: EventReader(catalog: catalog, upcasters: StatisticsUpcasters.all),
            options: options
        ).run(stop: StopSignal())

        try Gateway.prepare(postgres: url, migrations: migrations)
        let sourceKey = SigningKey(generatingWithID: "bench-1")
        let connection = try PostgresConnection(url: url)
        let apiKey = try SourceRegistry(connection: connection).add(
            id: "bench", uri: source, key: sourceKey.verifyingKey, eventTypes: ["vn.gso.report.submitted"],
            units: ["*"], areas: ["*"], eventsPerSecond: 10_000_000)
        connection.close()

        var configuration = GatewayConfiguration(
            host: "127.0.0.1", port: 0, postgres: url, kafka: cluster.configuration(), catalog: catalog,
            key: SigningKey(generatingWithID: "bench-gateway"))
        configuration.deliveryTimeout = Duration.seconds(30)
        let server = try await GatewayServer.start(try Gateway(configuration: configuration))
        print("gateway on port \(server.port): \(units2024.count) + \(units2025.count) administrative units, 3 indicators")
        return GatewayBench(
            cluster: cluster, server: server, databaseURL: url, sourceKey: sourceKey, apiKey: apiKey,
            areas: units2024.filter { $0.level == 2 }.map(\.code))
    }

    /// Signed reports like a province's monthly report: three observations on a 2024 province, a 2025 month before
    /// the reform; every unit is new, so that no event is a replay.
    func reports(_ count: Int, label: String) -> [CloudEvent] {
        (0..<count).map { index in
            let area = areas[index % areas.count]
            let value = Double(index % 1000) + 0.5
            return events.reportSubmitted(
                unit: "CTK-\(label)-\(index)", form: "BC-TM", period: String(format: "2025-M%02d", index % 6 + 1),
                observations: [
                    .init(indicator: "RETAIL.SALES", area: area, value: value * 10),
                    .init(indicator: "LABOUR.FORCE", area: area, value: value),
                    .init(indicator: "UNEMP.RATE", area: area, value: 2.5),
                ],
                source: Self.source, at: Timestamp(date: Date())
            ).signed(by: sourceKey)
        }
    }

    /// The same reports signed once per batch of `batchSize` (``BatchSignature``) instead of one by one.
    func batchSignedReports(_ count: Int, label: String, batchSize: Int) -> [[CloudEvent]] {
        let unsigned = reports(count, label: label)
        return stride(from: 0, to: count, by: batchSize).map { start in
            BatchSignature.sign(Array(unsigned[start..<min(start + batchSize, count)]), with: sourceKey).events
        }
    }

    func postEvents(_ body: [UInt8], batch: Bool) -> [UInt8] {
        HTTPConnection.request("POST", "/v1/events", headers: [
            ("Authorization", "Bearer \(apiKey)"),
            ("Content-Type", batch ? "application/cloudevents-batch+json" : "application/cloudevents+json"),
        ], body: body)
    }

    /// Records in the reports topic (sum of high watermarks).
    func reportRecords() throws -> Int64 {
        let consumer = try Consumer(configuration: cluster.configuration())
        defer { consumer.close() }
        var total: Int64 = 0
        for partition in 0..<6 {
            total += try consumer.watermarks(of: TopicPartition(topic: "reports", partition: Int32(partition))).high
        }
        return total
    }

    func receiptsWritten() throws -> Int {
        let connection = try PostgresConnection(url: databaseURL)
        defer { connection.close() }
        return try connection.query("SELECT count(*) FROM gateway.receipts WHERE state = 'written'")[0].decode(Int.self, at: 0)
    }
}

/// An answer check: the status, and for batches that every event was accepted (and, for a signed batch, that the
/// answer is one batch receipt with a placement per event).
func expect(_ status: Int, accepted: Int? = nil, batchReceipt: Bool = false) -> @Sendable (Int, [UInt8]) -> String? {
    { got, body in
        guard got == status else { return "HTTP \(got): \(String(decoding: body.prefix(300), as: UTF8.self))" }
        if let accepted {
            guard let json = try? JSON.parse(body), json["accepted"]?.integerValue == Int64(accepted) else {
                return "not all \(accepted) accepted: \(String(decoding: body.prefix(300), as: UTF8.self))"
            }
            if batchReceipt, json["batchReceipt"] == nil || json["placements"]?.arrayValue?.count != accepted {
                return "no batch receipt with \(accepted) placements: \(String(decoding: body.prefix(300), as: UTF8.self))"
            }
        }
        return nil
    }
}

func gatewayBenchmark(events eventCount: Int, requests perRun: Int, runs: Int, admin: PostgresConnection) async throws {
    let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    let bench = try await GatewayBench.start(admin: admin, root: root)
    let port = bench.server.port
    let batchSize = 1_000
    let connections = 4

    // 1. Batched throughput: the gateway against librdkafka alone, the same signed events.
    let direct = try Producer(configuration: bench.cluster.configuration())
    // Warm-up: both paths connect to every broker and get their producer ids before anything is timed.
    for result in await direct.send(bench.reports(100, label: "warm-kafka").map {
        EventPublisher.record(for: $0, topic: "reports")
    }) { _ = try result.get() }
    _ = try await closedLoop(port: port, requests: [bench.postEvents(JSON.serializeBytes(.array(
        bench.reports(100, label: "warm-gateway").map(\.json))), batch: true)], connections: 1, check: expect(200, accepted: 100))
    var gatewaySeconds: [Double] = []
    var oneClientSeconds: [Double] = []
    var batchSignedSeconds: [Double] = []
    var batchSignedOneClientSeconds: [Double] = []
    var kafkaSeconds: [Double] = []
    var cryptoSeconds: [Double] = []
    let cores = ProcessInfo.processInfo.activeProcessorCount
    for run in 0..<runs {
        let signed = bench.reports(eventCount, label: "t\(run)")

        // The signature work alone: check each event's Ed25519 signature and sign a receipt-sized message, on every
        // core, with the canonical bytes prepared beforehand. No gateway can admit faster than this.
        let checks = signed.map { (message: $0.canonicalJSONForSigning(), signature: $0.signature!) }
        let verifying = bench.sourceKey.verifyingKey
        let receiptKey = SigningKey(generatingWithID: "bench-receipts")
        let valid = Atomic<Int>(0)
        cryptoSeconds.append(time {
            DispatchQueue.concurrentPerform(iterations: cores) { part in
                var count = 0
                for index in stride(from: part, to: checks.count, by: cores)
                where verifying.isValidSignature(checks[index].signature, for: checks[index].message) {
                    _ = receiptKey.sign(Array(checks[index].message.prefix(32)))
                    count += 1
                }
                valid.add(count, ordering: .relaxed)
            }
        })
        guard valid.load(ordering: .relaxed) == checks.count else {
            print("FAILED: \(valid.load(ordering: .relaxed)) of \(checks.count) signatures verified")
            exit(1)
        }

        // The gateway: a single source sending batch after batch, then several at once (fresh events for each).
        for (clients, events) in [(1, bench.reports(eventCount, label: "s\(run)")), (connections, signed)] {
            let bodies = stride(from: 0, to: events.count, by: batchSize).map { start in
                bench.postEvents(
                    JSON.serializeBytes(.array(events[start..<min(start + batchSize, events.count)].map(\.json))), batch: true)
            }
            let before = try bench.reportRecords()
            let seconds = try await closedLoop(port: port, requests: bodies, connections: clients,
                                               check: expect(200, accepted: batchSize))
            if clients == 1 { oneClientSeconds.append(seconds) } else { gatewaySeconds.append(seconds) }
            let written = try bench.reportRecords() - before
            guard written == Int64(events.count) else {
                print("FAILED: the gateway accepted \(events.count) events but Kafka holds \(written) more")
                exit(1)
            }
        }
        // Batches signed once by the source: one Ed25519 check and one batch receipt per request.
        for clients in [1, connections] {
            let batches = bench.batchSignedReports(eventCount, label: "b\(clients)-\(run)", batchSize: batchSize)
            let bodies = batches.map { bench.postEvents(JSON.serializeBytes(.array($0.map(\.json))), batch: true) }
            let before = try bench.reportRecords()
            let seconds = try await closedLoop(port: port, requests: bodies, connections: clients,
                                               check: expect(200, accepted: batchSize, batchReceipt: true))
            if clients == 1 { batchSignedOneClientSeconds.append(seconds) } else { batchSignedSeconds.append(seconds) }
            let written = try bench.reportRecords() - before
            guard written == Int64(eventCount) else {
                print("FAILED: the gateway accepted \(eventCount) batch-signed events but Kafka holds \(written) more")
                exit(1)
            }
        }
        let records = signed.map { EventPublisher.record(for: $0, topic: "reports") }
        kafkaSeconds.append(try await timeAsync {
            for result in await direct.send(records) { _ = try result.get() }
        })
    }
    _ = report("ceiling: Ed25519 only, verify + sign a receipt per event, \(cores) threads", eventCount, cryptoSeconds)
    _ = report("baseline: the same events straight to Kafka (librdkafka, acks=all)", eventCount, kafkaSeconds)
    _ = report("gateway: POST /v1/events, batches of \(batchSize), 1 connection", eventCount, oneClientSeconds)
    _ = report("gateway: POST /v1/events, batches of \(batchSize), \(connections) connections", eventCount, gatewaySeconds)
    _ = report("gateway: signed batches of \(batchSize), 1 connection", eventCount, batchSignedOneClientSeconds)
    _ = report("gateway: signed batches of \(batchSize), \(connections) connections", eventCount, batchSignedSeconds)

    // 2. Latency at a fixed rate: single events against the HTTP floor (GET /healthz) and a single Kafka write.
    let rate = 500.0
    var single: [LatencySummary] = []
    var health: [LatencySummary] = []
    var kafka: [LatencySummary] = []
    for run in 0..<runs {
        let requests = bench.reports(perRun, label: "l\(run)").map {
            bench.postEvents(JSON.serializeBytes($0.json), batch: false)
        }
        health.append(try await openLoop(port: port, requests: Array(repeating: HTTPConnection.request("GET", "/healthz"),
                                                                count: perRun),
                                   rate: rate, connections: 16, check: expect(200)))
        single.append(try await openLoop(port: port, requests: requests, rate: rate, connections: 16, check: expect(201)))
        let records = bench.reports(perRun, label: "k\(run)").map { EventPublisher.record(for: $0, topic: "reports") }
        kafka.append(try await kafkaLatency(direct, records: records, rate: rate))
    }
    await direct.close()
    let receipts = try bench.receiptsWritten()
    guard receipts == 100 + runs * (4 * eventCount + perRun) else {
        print("FAILED: \(receipts) receipts written, expected \(100 + runs * (4 * eventCount + perRun))")
        exit(1)
    }
    reportLatency("baseline: GET /healthz (the HTTP stack alone)", health, rate: rate)
    reportLatency("baseline: one event straight to Kafka (librdkafka, acks=all)", kafka, rate: rate)
    reportLatency("gateway: POST /v1/events, one signed event", single, rate: rate)
    await bench.server.stop()
    try admin.execute("DROP DATABASE mekong_bench_gateway")
}

/// Single records at a fixed rate through the producer, each timed from its scheduled time to its delivery report.
func kafkaLatency(_ producer: Producer, records: [OutgoingMessage], rate: Double) async throws -> LatencySummary {
    let start = ContinuousClock.now + .milliseconds(50)
    let latencies = try await withThrowingTaskGroup(of: Double.self) { group in
        for (index, record) in records.enumerated() {
            let scheduled = start + .nanoseconds(Int64(Double(index) / rate * 1e9))
            try await Task.sleep(until: scheduled, clock: .continuous)
            group.addTask {
                _ = try await producer.send(record)
                return seconds(ContinuousClock.now - scheduled)
            }
        }
        return try await group.reduce(into: []) { $0.append($1) }
    }
    return LatencySummary(latencies: latencies, seconds: seconds(ContinuousClock.now - start))
}

func reportLatency(_ name: String, _ runs: [LatencySummary], rate: Double) {
    let byP99 = runs.sorted { $0.p99 < $1.p99 }
    let median = byP99[byP99.count / 2]
    print(String(format: "%-62@ p50 %6.2f ms  p99 %6.2f ms  max %6.1f ms at %.0f req/s (median run by p99 of %d; p99 %.2f–%.2f)",
                 name as NSString, median.p50, median.p99, median.max, median.achievedRate, runs.count,
                 byP99.first!.p99, byP99.last!.p99))
    fflush(nil)
}

// Section 5: the statistics projection on a clean log and on the same log with 1 % poison (reports naming an
// area code that does not exist), in the same run (BENCHMARKS.md, issue 12 defect 9).
import Foundation
import MekongCatalog
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongStatisticalEvents
import MekongStatistics
import Synchronization

/// The statistics projection without `applyRefusing`: bad reports are found by halving batches (the engine's
/// fallback, and how every bad report was found before).
struct ApplyOnlyStatistics: Projection {
    let inner = StatisticsProjection()
    var identity: ProjectionIdentity { inner.identity }
    var topics: [String] { inner.topics }
    var referenceTopics: [String] { inner.referenceTopics }
    func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> StatisticsProjection.Row {
        try inner.decode(record, reader: reader)
    }
    func apply(_ batch: [ProjectionRecord<StatisticsProjection.Row>], on db: PostgresConnection) throws {
        try inner.apply(batch, on: db)
    }
    func finishCatchUp(on db: PostgresConnection) throws -> Bool { try inner.finishCatchUp(on: db) }
}

/// Monthly commune reports of 2024 (three observations each) over the real 2024 units; every `poisonEvery`-th
/// names area 99999, which does not exist.
func statisticalLog(reports count: Int, poisonEvery: Int?) throws -> (master: [CloudEvent], reports: [CloudEvent]) {
    let csv = try String(contentsOfFile: "data/vn-admin-units/units-2024.csv", encoding: .utf8)
    let units = try AdministrativeUnits.units2024(csv: csv)
    let communes = units.filter { $0.level == 4 }.map(\.code)
    let e = StatisticalEvents(deterministicFrom: 1_700_000_000_000)
    let day = { (d: Int) in Timestamp(date: Date(timeIntervalSince1970: 1_703_000_000 + Double(d) * 3_600)) }
    let master = [
        e.classificationPublished(AdministrativeUnits.classification, version: "2024", validFrom: "2024-01-01", items: units, at: day(0)),
        e.indicatorDefined("RETAIL.SALES", nameVi: "Bán lẻ", nameEn: "Retail sales", unit: "VND billion", periodicities: ["month"], at: day(1)),
        e.indicatorDefined("LABOUR.FORCE", nameVi: "Lực lượng lao động", nameEn: "Labour force", unit: "thousand", periodicities: ["month"], at: day(2)),
        e.indicatorDefined("UNEMP.RATE", nameVi: "Tỷ lệ thất nghiệp", nameEn: "Unemployment rate", unit: "percent", periodicities: ["month"], weight: "LABOUR.FORCE", at: day(3)),
    ]
    let reports = (0..<count).map { i -> CloudEvent in
        let commune = communes[i % communes.count]
        let area = poisonEvery.map { i % $0 == $0 / 2 } == true ? "99999" : commune
        let month = 1 + (i / communes.count) % 12
        return e.reportSubmitted(
            unit: "commune-\(commune)", form: "MONTHLY", period: String(format: "2024-M%02d", month),
            observations: [
                .init(indicator: "RETAIL.SALES", area: area, value: Double(i % 997) + 0.5),
                .init(indicator: "LABOUR.FORCE", area: area, value: Double(i % 113) + 1),
                .init(indicator: "UNEMP.RATE", area: area, value: Double(i % 7) / 2),
            ],
            source: "urn:vn:gso:province-office", at: day(10 + i / 1_000))
    }
    return (master, reports)
}

/// Reports per second of the reports phase (after the master data, which the engine applies first): from the
/// first batch after the master data to the last commit.
func projectReports<P: Projection>(
    _ projection: P, cluster: MockCluster, url: String, masterEvents: Int
) throws -> (rate: Double, summary: ProjectionRunSummary) {
    let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    let catalog = try Catalog(directory: root.appendingPathComponent("Topics"))
    let samples = Mutex<[(ContinuousClock.Instant, Int)]>([])
    var options = ProjectionOptions()
    options.stopWhenCaughtUp = true
    options.progress = { progress in samples.withLock { $0.append((ContinuousClock.now, progress.processed)) } }
    let summary = try ProjectionEngine(
        projection: projection, kafka: cluster.configuration(), postgresURL: url,
        migrations: MigrationRunner(directory: root.appendingPathComponent("Projections")),
        reader: EventReader(catalog: catalog, upcasters: StatisticsUpcasters.all), options: options
    ).run(stop: StopSignal())
    let points = samples.withLock { $0 }
    guard let start = points.first(where: { $0.1 >= masterEvents }), let end = points.last(where: { $0.1 > start.1 }) else {
        return (0, summary)
    }
    return (Double(end.1 - start.1) / seconds(end.0 - start.0), summary)
}

func poisonBenchmark(events count: Int, runs: Int, admin: PostgresConnection) async throws {
    let halvingCount = min(count, 3_000)
    let logs: [(label: String, reports: Int, poison: Int?, refusing: Bool)] = [
        ("baseline: statistics projection, clean log", count, nil, true),
        ("statistics projection, 1 % poison (unknown area code)", count, 100, true),
        ("before: 1 % poison found by halving batches (apply only)", halvingCount, 100, false),
        ("what refusing costs: clean log, apply only", count, nil, false),
    ]
    var clusters: [MockCluster] = []
    var masterCount = 0
    for log in logs {
        let (master, reports) = try statisticalLog(reports: log.reports, poisonEvery: log.poison)
        masterCount = master.count
        let partitions = max(6, (log.reports + 19_999) / 20_000)
        let cluster = try MockCluster(brokers: 1)
        try cluster.createTopic("master-data", partitions: 3, replicationFactor: 1)
        try cluster.createTopic("reports", partitions: partitions, replicationFactor: 1)
        try cluster.createTopic("dead-letters", partitions: 3, replicationFactor: 1)
        let producer = try Producer(configuration: cluster.configuration(["message.max.bytes": "8000000"]))
        let records = master.map { EventPublisher.record(for: $0, topic: "master-data") }
            + reports.map { EventPublisher.record(for: $0, topic: "reports") }
        for result in await producer.send(records) { _ = try result.get() }
        await producer.close()
        clusters.append(cluster)
    }
    print("pre-produced \(count) monthly commune reports (3 observations each) over the real 2024 units, clean and with 1 % poison; \(halvingCount) for the run that halves batches")
    var rates: [[Double]] = Array(repeating: [], count: logs.count)
    for run in 0..<runs {
        for (index, log) in logs.enumerated() {
            let name = "mekong_bench_poison_\(run)_\(index)"
            try admin.execute("DROP DATABASE IF EXISTS \(name)")
            try admin.execute("CREATE DATABASE \(name)")
            let url = databaseURL(name)
            let (rate, summary) = log.refusing
                ? try projectReports(StatisticsProjection(), cluster: clusters[index], url: url, masterEvents: masterCount)
                : try projectReports(ApplyOnlyStatistics(), cluster: clusters[index], url: url, masterEvents: masterCount)
            let expectedLetters = log.poison.map { log.reports / $0 } ?? 0
            guard summary.deadLettered == expectedLetters, summary.applied == log.reports + masterCount - expectedLetters else {
                print("FAILED: \(log.label): \(summary)")
                exit(1)
            }
            if run == 0 { print("  \(log.label): \(summary.deadLettered) dead letters, \(summary.isolatingApplies) extra applies to isolate them") }
            rates[index].append(rate)
            try admin.execute("DROP DATABASE \(name)")
        }
    }
    var medians: [Double] = []
    for (index, log) in logs.enumerated() {
        let sorted = rates[index].sorted()
        medians.append(sorted[sorted.count / 2])
        print(String(format: "%-62@ %9.0f reports/s (median of %d; min %.0f, max %.0f)",
                     log.label as NSString, medians[index], sorted.count, sorted.first!, sorted.last!))
    }
    print(String(format: "ratios: 1 %% poison / clean %.2f; halving / clean %.3f; clean applyRefusing / apply only %.2f",
                 medians[1] / medians[0], medians[2] / medians[0], medians[0] / medians[3]))
}

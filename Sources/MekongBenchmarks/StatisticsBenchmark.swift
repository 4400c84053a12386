// Section 6: the statistics projection at national scale (BENCHMARKS.md, issue 13): ingestion beside raw COPY of
// the same rows, reads (p50/p99 over random queries), SDMX-CSV export, as-of, freshness, size on disk.
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

/// p50 and p99 of `samples` (seconds), printed in milliseconds.
func latencies(_ name: String, _ samples: [Double]) {
    let sorted = samples.sorted()
    func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1_000 }
    print(String(format: "%-62@ p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms (%d queries)",
                 name as NSString, at(0.5), at(0.99), sorted.last! * 1_000, sorted.count))
    fflush(nil)
}

/// The tables whose rows every rebuild of the statistics projection must write (its master data aside).
let projectionOutput = [
    "observation_vintages", "submissions", "observations_current", "indicator_rollups", "reexpressed_values",
    "withheld_above",
]

func statisticsBenchmark(indicators: Int, runs: Int, admin: PostgresConnection) async throws {
    let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    let started = ContinuousClock.now
    let dataset = try NationalDataset(seed: 2025, indicators: indicators, data: root.appendingPathComponent("data/vn-admin-units"))
    // The mock cluster keeps a bounded log per partition: enough partitions that nothing is pruned.
    let partitions = 256
    let cluster = try MockCluster(brokers: 1)
    try cluster.createTopic("master-data", partitions: 3, replicationFactor: 1)
    try cluster.createTopic("reports", partitions: partitions, replicationFactor: 1)
    try cluster.createTopic("dead-letters", partitions: 3, replicationFactor: 1)
    let producer = try Producer(configuration: cluster.configuration(["message.max.bytes": "8000000"]))
    for result in await producer.send(dataset.master.map { EventPublisher.record(for: $0, topic: "master-data") }) {
        _ = try result.get()
    }
    var reportCount = 0
    for month in dataset.months.indices {
        let records = dataset.records(month: month)
        reportCount += records.count
        for result in await producer.send(records) { _ = try result.get() }
    }
    let reader = try Consumer(configuration: cluster.configuration())
    let stored = try (0..<partitions).reduce(0) { sum, p in
        let (low, high) = try reader.watermarks(of: TopicPartition(topic: "reports", partition: Int32(p)))
        return sum + Int(high - low)
    }
    reader.close()
    guard stored == reportCount else {
        print("FAILED: the mock cluster holds \(stored) of \(reportCount) reports (it pruned its log); use fewer indicators")
        exit(1)
    }
    print("pre-produced \(reportCount) monthly commune reports (\(dataset.observationCount) observations of \(indicators) indicators, 2024-M01 … 2025-M12 across the reform) into \(partitions) partitions in \(Int(seconds(ContinuousClock.now - started))) s")

    // Ingestion: the whole log into a fresh database (a rebuild from offset 0), then raw COPY of the same rows.
    let catalog = try Catalog(directory: root.appendingPathComponent("Topics"))
    let migrations = MigrationRunner(directory: root.appendingPathComponent("Projections"))
    let copyFile = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-bench-vintages.copy").path
    var ingest: [Double] = []
    var wall: [Double] = []
    var copy: [Double] = []
    var output: [Double] = []
    var observations = 0
    let keep = "mekong_bench_statistics"
    for run in 0..<runs {
        let name = run == runs - 1 ? keep : "mekong_bench_statistics_\(run)"
        try admin.execute("DROP DATABASE IF EXISTS \(name)")
        try admin.execute("CREATE DATABASE \(name)")
        let url = databaseURL(name)
        let samples = Mutex<[(ContinuousClock.Instant, Int)]>([])
        var options = ProjectionOptions()
        options.stopWhenCaughtUp = true
        options.progress = { progress in samples.withLock { $0.append((ContinuousClock.now, progress.processed)) } }
        let runStarted = ContinuousClock.now
        let summary = try ProjectionEngine(
            projection: StatisticsProjection(), kafka: cluster.configuration(), postgresURL: url, migrations: migrations,
            reader: EventReader(catalog: catalog, upcasters: StatisticsUpcasters.all), options: options
        ).run(stop: StopSignal())
        let runEnded = ContinuousClock.now
        wall.append(seconds(runEnded - runStarted))
        guard summary.applied == reportCount + dataset.master.count, summary.deadLettered == 0 else {
            print("FAILED: \(summary)")
            exit(1)
        }
        let db = try PostgresConnection(url: url)
        observations = try db.query("SELECT count(*)::int FROM statistics_v2.observation_vintages")[0].decode(Int.self, at: 0)
        let points = samples.withLock { $0 }
        // The reports phase: from the first progress report once the master data is in to the end of the run,
        // which includes deriving the tables in one pass once caught up (finishCatchUp); the reports already in
        // at that first report are scaled in.
        guard let start = points.first(where: { $0.1 >= dataset.master.count }) else {
            print("FAILED: no progress samples")
            exit(1)
        }
        let after = Double(reportCount - (start.1 - dataset.master.count))
        ingest.append(seconds(runEnded - start.0) * Double(reportCount) / max(1, after))
        if run == 0 {
            let sizes = try db.query(
                """
                SELECT c.relname, pg_total_relation_size(c.oid)::bigint FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'statistics_v2' AND c.relkind = 'r'
                ORDER BY 2 DESC
                """).map { (try $0.decode(String.self, at: 0), try $0.decode(Int64.self, at: 1)) }
            let total = sizes.reduce(0) { $0 + $1.1 }
            print(String(format: "size on disk: %.0f MB in all, %.0f MB per million observations (%@)",
                         Double(total) / 1e6, Double(total) / 1e6 / (Double(observations) / 1e6),
                         sizes.prefix(6).map { "\($0.0) \($0.1 / 1_000_000) MB" }.joined(separator: ", ")))
            let counts = try db.query(
                """
                SELECT (SELECT count(*) FROM statistics_v2.observations_current)::bigint,
                       (SELECT count(*) FROM statistics_v2.indicator_rollups)::bigint,
                       (SELECT count(*) FROM statistics_v2.reexpressed_values)::bigint
                """)[0]
            print("rows: \(observations) vintages, \(try counts.decode(Int64.self, at: 0)) current, \(try counts.decode(Int64.self, at: 1)) roll-ups, \(try counts.decode(Int64.self, at: 2)) re-expressed")
        }
        db.close()
        // The database's ceiling, and what a rebuild must write by the fastest path: binary COPY of every table the
        // projection fills (the vintages first: the ceiling), each from a file into a table with the same indexes.
        var written = 0.0
        for table in projectionOutput {
            _ = try runCommand("/usr/bin/psql", ["-q", url, "-c", "\\copy statistics_v2.\(table) TO '\(copyFile)' (FORMAT binary)"])
            _ = try runCommand("/usr/bin/psql", ["-q", url, "-c", "CREATE TABLE copy_baseline (LIKE statistics_v2.\(table) INCLUDING ALL)"])
            let seconds = try time {
                _ = try runCommand("/usr/bin/psql", ["-q", url, "-c", "\\copy copy_baseline FROM '\(copyFile)' (FORMAT binary)"])
            }
            if table == "observation_vintages" { copy.append(seconds) }
            written += seconds
            _ = try runCommand("/usr/bin/psql", ["-q", url, "-c", "DROP TABLE copy_baseline"])
        }
        output.append(written)
        if name != keep { try admin.execute("DROP DATABASE \(name)") }
    }
    try? FileManager.default.removeItem(atPath: copyFile)
    let copyRate = report("ceiling: psql \\copy of the same vintages (binary, same indexes)", observations, copy)
    let outputRate = report("output: psql \\copy of every row the projection holds", observations, output)
    let engineRate = report("statistics projection: observations/s (reports phase)", observations, ingest)
    _ = report("rebuild from offset 0, whole run incl. master data: events/s", reportCount + dataset.master.count, wall)
    print(String(format: "rebuild wall time: median %.0f s; ingestion / raw COPY of the vintages %.2f; / COPY of the projection's rows %.2f",
                 wall.sorted()[wall.count / 2], engineRate / copyRate, engineRate / outputRate))

    try await readBenchmark(dataset, url: databaseURL(keep))
    try await freshnessBenchmark(dataset, cluster: cluster, url: databaseURL(keep), catalog: catalog, migrations: migrations)
}

/// Random queries of each shape against the materialized tables, warm: every shape runs once as a warm-up pass.
func readBenchmark(_ dataset: NationalDataset, url: String) async throws {
    let db = try PostgresConnection(url: url)
    defer { db.close() }
    var random = SeededRandom(seed: 13)
    let indicators = (0..<dataset.indicatorCount).map(NationalDataset.indicator)
    let areas2024 = dataset.units2024.map(\.code)
    let provinces2024 = dataset.units2024.filter { $0.level == 2 }.map(\.code)
    let provinces2025 = dataset.units2025.filter { $0.level == 2 }.map(\.code)
    func referenceDate(_ period: String) -> String {
        let year = Int(period.prefix(4))!, month = Int(period.suffix(2))!
        let days = [31, year % 4 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return String(format: "%04d-%02d-%02d", year, month, days)
    }
    func measure(_ name: String, _ count: Int, _ query: (inout SeededRandom) throws -> Int) throws {
        var warm = SeededRandom(seed: 99)
        for _ in 0..<min(200, count) { _ = try query(&warm) }
        var samples: [Double] = []
        var rows = 0
        for _ in 0..<count {
            let start = ContinuousClock.now
            rows += try query(&random)
            samples.append(seconds(ContinuousClock.now - start))
        }
        latencies("\(name) (\(rows / count) rows avg)", samples)
    }
    try measure("one indicator × one area × all periods", 1_000) { r in
        try db.query(
            """
            SELECT period, value::text, status, confidentiality, origin FROM statistics.indicator_table
            WHERE indicator = $1 AND area = $2 AND dimensions = '{}' ORDER BY period
            """, [r.element(of: indicators), r.element(of: areas2024 + dataset.communes2025)]).count
    }
    try measure("one indicator × one period × one province's communes", 1_000) { r in
        let reform = r.next() % 4 == 0
        let period = reform ? r.element(of: NationalDataset.months2025Units) : r.element(of: NationalDataset.months2024Units)
        return try db.query(
            """
            SELECT t.area, t.value::text, t.status, t.confidentiality FROM statistics.areas_within($3, $4::date) a
            JOIN statistics.indicator_table t ON t.indicator = $1 AND t.area = a.area AND t.period = $2
            WHERE a.area_level = $5 ORDER BY t.area
            """, [r.element(of: indicators), period, r.element(of: reform ? provinces2025 : provinces2024),
                  referenceDate(period), reform ? 3 : 4]).count
    }
    try measure("one indicator × one period × all 3 321 communes (2025 units)", 1_000) { r in
        try db.query(
            """
            SELECT area, value::text, status, confidentiality FROM statistics.indicator_table
            WHERE indicator = $1 AND period = $2 AND area_level = 3 ORDER BY area
            """, [r.element(of: indicators), r.element(of: NationalDataset.months2025Units)]).count
    }
    try measure("one indicator × one period × all 10 035 communes (2024 units)", 200) { r in
        try db.query(
            """
            SELECT area, value::text, status, confidentiality FROM statistics.indicator_table
            WHERE indicator = $1 AND period = $2 AND area_level = 4 ORDER BY area
            """, [r.element(of: indicators), r.element(of: NationalDataset.months2024Units)]).count
    }
    let recorded = try db.query(
        "SELECT min(recorded_time)::text, max(recorded_time)::text FROM statistics.submissions")[0]
    let first = Timestamp(rfc3339: try recorded.decode(String.self, at: 0).replacingOccurrences(of: " ", with: "T") + ":00")
    let last = Timestamp(rfc3339: try recorded.decode(String.self, at: 1).replacingOccurrences(of: " ", with: "T") + ":00")
    let span = max(1, (last?.epochSeconds ?? 1) - (first?.epochSeconds ?? 0))
    try measure("as of a recorded time: one indicator × one commune", 1_000) { r in
        let at = Timestamp(date: Date(timeIntervalSince1970: Double((first?.epochSeconds ?? 0) + Int64(r.next() % UInt64(span)))))
        return try db.query(
            "SELECT period, value::text, status FROM statistics.observations_as_of($1::timestamptz, $2, $3) ORDER BY period",
            [at.text, r.element(of: indicators), r.element(of: dataset.communes2024)]).count
    }
    // A whole indicator as SDMX-CSV through the command line, the way an analyst exports it.
    var exports: [Double] = []
    var lines = 0
    for index in 0..<3 {
        let indicator = indicators[index % indicators.count]
        var output = ""
        exports.append(try time {
            output = try runCommand(".build/release/mekong", ["query", "indicator", indicator, "--format", "sdmx-csv", "--postgres", url])
        })
        lines = output.split(separator: "\n").count - 1
    }
    _ = report("export one indicator as SDMX-CSV (mekong query, \(lines) rows): rows/s", lines, exports)
}

/// Reports published at 100/s while the projector runs: from Kafka's acknowledgement until the submission (and,
/// in the same transaction, its roll-ups) is visible to a reader.
func freshnessBenchmark(
    _ dataset: NationalDataset, cluster: MockCluster, url: String, catalog: Catalog, migrations: MigrationRunner
) async throws {
    let stop = StopSignal()
    var options = ProjectionOptions()
    options.batchWait = .milliseconds(10)
    let chosen = options
    let finished = Mutex<ProjectionRunSummary?>(nil)
    let projector = Thread {
        let summary = try? ProjectionEngine(
            projection: StatisticsProjection(), kafka: cluster.configuration(), postgresURL: url, migrations: migrations,
            reader: EventReader(catalog: catalog, upcasters: StatisticsUpcasters.all), options: chosen
        ).run(stop: stop)
        finished.withLock { $0 = summary }
    }
    projector.start()
    try await Task.sleep(for: .seconds(3))
    let producer = try Producer(configuration: cluster.configuration(["linger.ms": "0"]))
    let e = StatisticalEvents(deterministicFrom: 77)
    let acknowledged = Mutex<[String: ContinuousClock.Instant]>([:])
    let seen = Mutex<[Double]>([])
    let done = Mutex(false)
    let poller = Thread {
        guard let watcher = try? PostgresConnection(url: url) else { return }
        defer { watcher.close() }
        while true {
            let pending = acknowledged.withLock { $0 }
            if pending.isEmpty {
                if done.withLock({ $0 }) { return }
                Thread.sleep(forTimeInterval: 0.002)
                continue
            }
            guard let rows = try? watcher.query(
                "SELECT event_id FROM statistics.submissions WHERE event_id = ANY($1::text[])",
                ["{" + pending.keys.joined(separator: ",") + "}"]) else { continue }
            let now = ContinuousClock.now
            for row in rows {
                guard let id = try? row.decode(String.self, at: 0) else { continue }
                if let ack = acknowledged.withLock({ $0.removeValue(forKey: id) }) {
                    let waited = now - ack
                    seen.withLock { $0.append(Double(waited.components.seconds) + Double(waited.components.attoseconds) / 1e18) }
                }
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
    }
    poller.start()
    let count = 2_000
    let startedAt = ContinuousClock.now
    for i in 0..<count {
        let commune = dataset.communes2025[i % dataset.communes2025.count]
        let event = e.reportSubmitted(
            unit: "LIVE\(commune)", form: "BC-XA", period: "2026-M01",
            observations: (0..<min(3, dataset.indicatorCount)).map {
                .init(indicator: NationalDataset.indicator($0), area: commune, value: Double(i % 100 + $0))
            }, source: "urn:vn:gso:commune:\(commune)", at: Timestamp(date: Date()))
        _ = try await producer.send(EventPublisher.record(for: event, topic: "reports"))
        acknowledged.withLock { $0[event.id] = ContinuousClock.now }
        // 100 reports per second.
        let due = startedAt + .milliseconds(10 * (i + 1))
        let now = ContinuousClock.now
        if now < due { try await Task.sleep(for: due - now) }
    }
    let deadline = ContinuousClock.now + .seconds(30)
    while acknowledged.withLock({ !$0.isEmpty }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    done.withLock { $0 = true }
    await producer.close()
    stop.stop()
    let missing = acknowledged.withLock { $0.count }
    if missing > 0 { print("FAILED: \(missing) acknowledged reports never became visible") }
    latencies("freshness at 100 reports/s: acknowledged → visible, roll-ups included", seen.withLock { $0 })
    // What the latency is made of: how many batches, how large, and how long each one's transaction took.
    let deadline2 = ContinuousClock.now + .seconds(30)
    while finished.withLock({ $0 == nil }), ContinuousClock.now < deadline2 { try await Task.sleep(for: .milliseconds(50)) }
    if let summary = finished.withLock({ $0 }), summary.batches > 0 {
        let transaction = seconds(summary.transactionTime)
        print(String(
            format: "  projector while live: %d batches, %.1f records per batch, %.1f ms per batch transaction",
            summary.batches, Double(summary.applied) / Double(summary.batches), transaction * 1000 / Double(summary.batches)))
    }
}

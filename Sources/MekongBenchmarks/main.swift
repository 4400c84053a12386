// Benchmarks of the hot paths, each beside a baseline measured in the same run on the same machine.
// Run: swift run -c release mekong-bench [all|envelope|producer|projector|gateway|poison|statistics|read-api|read-api-ceiling] [--events N] [--runs R]
//      [--indicators N]   (BENCHMARKS.md)
import Foundation
import MekongAudit
import MekongCatalog
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing

// MARK: - Arguments

/// The value after `--name` in `words` (removing both), or `value`.
func option(_ name: String, in words: inout [String], default value: Int) -> Int {
    guard let index = words.firstIndex(of: name), index + 1 < words.count, let number = Int(words[index + 1]) else {
        return value
    }
    words.removeSubrange(index...index + 1)
    return number
}
var words = Array(CommandLine.arguments.dropFirst())
let eventCount = option("--events", in: &words, default: 100_000)
let runs = option("--runs", in: &words, default: 3)
/// Single-event requests per latency run of the gateway suite.
let requestCount = option("--requests", in: &words, default: 5_000)
/// Indicators of the national dataset (statistics suite): 50 give about 10 million observations.
let indicatorCount = option("--indicators", in: &words, default: 50)
let suite = words.first ?? "all"
guard ["all", "envelope", "producer", "projector", "gateway", "poison", "statistics", "read-api", "read-api-ceiling"].contains(suite) else {
    print("usage: mekong-bench [all|envelope|producer|projector|gateway|poison|statistics|read-api|read-api-ceiling] [--events N] [--runs R] [--requests N] [--indicators N]")
    exit(2)
}
let postgresAdmin = ProcessInfo.processInfo.environment["MEKONG_BENCH_POSTGRES"]
    ?? "postgresql://mekong:mekong@localhost:5432/mekong"

// MARK: - Reporting

func report(_ name: String, _ count: Int, _ seconds: [Double]) -> Double {
    let rates = seconds.map { Double(count) / $0 }.sorted()
    let median = rates[rates.count / 2]
    print(String(format: "%-62@ %9.0f events/s (median of %d; min %.0f, max %.0f)",
                 name as NSString, median, rates.count, rates.first!, rates.last!))
    fflush(nil)
    return median
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func time(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    return seconds(ContinuousClock.now - start)
}

func timeAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    return seconds(ContinuousClock.now - start)
}

/// Report events like the samples: three observations each, ~700 bytes of canonical JSON.
func makeEvents(_ count: Int) -> [CloudEvent] {
    (0..<count).map { i in
        let unit = "CTK\(i % 997)"
        let observation = { (indicator: String, value: Double) -> JSONValue in
            .object(JSONObject([
                ("indicator", .string(indicator)),
                ("dimensions", .object(JSONObject([("area", .string(String(format: "%02d", i % 34)))]))),
                ("value", .number(value)), ("status", "provisional"), ("confidentiality", "free"),
            ]))
        }
        return CloudEvent(
            id: UUIDv7.generate(), source: "urn:vn:gso:province:\(i % 34)", type: "vn.gso.report.submitted",
            time: Timestamp(rfc3339: "2025-10-10T08:00:00+07:00")!, subject: "\(unit)/BC-DS/2025-Q3",
            dataschema: "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v1.schema.json",
            data: .object(JSONObject([
                ("reportingUnit", .string(unit)), ("form", "BC-DS"), ("period", "2025-Q3"), ("action", "merge"),
                ("observations", .array([observation("POP.TOTAL", Double(i)), observation("EMP.F", 0.27 * Double(i)),
                                         observation("EMP.M", 0.29 * Double(i))])),
            ])))
    }
}

/// Runs a command, returns its standard output; fails the benchmark on a non-zero exit.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        print("FAILED: \(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        exit(1)
    }
    return String(decoding: data, as: UTF8.self)
}

func databaseURL(_ name: String) -> String {
    String(postgresAdmin[..<(postgresAdmin.lastIndex(of: "/") ?? postgresAdmin.endIndex)]) + "/\(name)"
}

print("mekong-bench \(suite): \(eventCount) events, \(runs) runs each, \(ProcessInfo.processInfo.activeProcessorCount) cores")

// The gateway generates its own signed events (section 4, GatewayBenchmark.swift).
if suite == "gateway" {
    try await gatewayBenchmark(events: eventCount, requests: requestCount, runs: runs, admin: try PostgresConnection(url: postgresAdmin))
    exit(0)
}
// The national-scale indicator tables build their own dataset (section 6, StatisticsBenchmark.swift).
if suite == "statistics" {
    try await statisticsBenchmark(indicators: indicatorCount, runs: runs, admin: try PostgresConnection(url: postgresAdmin))
    exit(0)
}
// The read API on the tables the statistics suite leaves (section 7, ReadAPIBenchmark.swift).
if suite == "read-api" || suite == "read-api-ceiling" {
    try await readAPIBenchmark(requests: requestCount, runs: runs, ceilingOnly: suite == "read-api-ceiling")
    exit(0)
}
// The statistics projection with and without poison builds its own log (section 5, PoisonBenchmark.swift).
if suite == "poison" {
    try await poisonBenchmark(events: eventCount, runs: runs, admin: try PostgresConnection(url: postgresAdmin))
    exit(0)
}
let events = makeEvents(eventCount)
let records = events.map { EventPublisher.record(for: $0, topic: "reports") }
print("average record value: \(records.reduce(0) { $0 + $1.value.count } / records.count) bytes")

// MARK: - 1. Envelope: decode + canonicalise + hash (what the audit projection does per record)

if suite == "all" || suite == "envelope" {
    let values = records.map(\.value)
    var parseOnly: [Double] = []
    var full: [Double] = []
    for _ in 0..<runs {
        parseOnly.append(try time { for v in values { _ = try JSON.parse(v) } })
        full.append(try time { for v in values { _ = try CloudEvent(decoding: v).hash } })
    }
    // The catalog's JSON Schema check (what the gateway runs per event), on already-decoded events.
    let catalog = try Catalog(directory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        .appendingPathComponent("Topics"))
    var schema: [Double] = []
    for _ in 0..<runs {
        schema.append(time {
            for event in events where !catalog.validate(event, topic: "reports").isEmpty {
                print("FAILED: a benchmark event does not fit its schema")
                exit(1)
            }
        })
    }
    _ = report("baseline: JSON.parse only (one core)", eventCount, parseOnly)
    _ = report("CloudEvent decode + canonical JSON + SHA-256 (one core)", eventCount, full)
    _ = report("JSON Schema validation against the catalog (one core)", eventCount, schema)
}

// MARK: - 2. Producer: one-at-a-time sends versus one batched send, same mock cluster

if suite == "all" || suite == "producer" {
    let cluster = try MockCluster(brokers: 3)
    try cluster.createTopic("reports", partitions: 6, replicationFactor: 3)
    let producer = try Producer(configuration: cluster.configuration())
    let sample = Array(records.prefix(min(eventCount, 5_000)))
    var single: [Double] = []
    var batched: [Double] = []
    for _ in 0..<runs {
        single.append(try await timeAsync { for r in sample { _ = try await producer.send(r) } })
        batched.append(try await timeAsync {
            for result in await producer.send(records) { _ = try result.get() }
        })
    }
    _ = report("baseline: send one, await its report (\(sample.count) events)", sample.count, single)
    _ = report("send batch, acks=all + idempotence + lz4", eventCount, batched)
    producer.close()
}

// MARK: - 3. Audit projection: Swift engine vs a Python consumer vs raw COPY, same cluster and database

if suite == "all" || suite == "projector" {
    // librdkafka's mock cluster keeps a bounded log per partition (it drops the oldest records beyond it), so the
    // topic gets enough partitions to hold every event.
    let partitions = max(6, (eventCount + 39_999) / 40_000)
    let cluster = try MockCluster(brokers: 1)
    try cluster.createTopic("reports", partitions: partitions, replicationFactor: 1)
    let producer = try Producer(configuration: cluster.configuration())
    for result in await producer.send(records) { _ = try result.get() }
    producer.close()
    let reader = try Consumer(configuration: cluster.configuration())
    let total = try (0..<partitions).reduce(0) { sum, p in
        let (low, high) = try reader.watermarks(of: TopicPartition(topic: "reports", partition: Int32(p)))
        return sum + Int(high - low)
    }
    reader.close()
    guard total == eventCount else {
        print("FAILED: the mock cluster holds \(total) of \(eventCount) events (it pruned its log); use fewer events")
        exit(1)
    }
    print("pre-produced \(total) events into \(partitions) partitions of a 1-broker mock cluster")

    let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    let migrations = MigrationRunner(directory: root.appendingPathComponent("Projections"))
    let catalog = try Catalog(directory: root.appendingPathComponent("Topics"))
    let python = try runCommand("/bin/bash", ["ops/bench/python-env.sh"]).trimmingCharacters(in: .whitespacesAndNewlines)
    let admin = try PostgresConnection(url: postgresAdmin)
    let copyFile = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-bench-audit.copy").path
    var swift: [Double] = []
    var baseline: [Double] = []
    var copyText: [Double] = []
    var copyBinary: [Double] = []
    for run in 0..<runs {
        let name = "mekong_bench_\(run)"
        try admin.execute("DROP DATABASE IF EXISTS \(name)")  // not FORCE: that refuses while autovacuum runs
        try admin.execute("CREATE DATABASE \(name)")
        let url = databaseURL(name)

        var options = ProjectionOptions()
        options.stopWhenCaughtUp = true
        let engine = ProjectionEngine(
            projection: try AuditTrail(topics: ["reports"], version: 1), kafka: cluster.configuration(), postgresURL: url,
            migrations: migrations, reader: EventReader(catalog: catalog, upcasters: Upcasters()), options: options)
        let summary = try engine.run(stop: StopSignal())
        guard summary.applied == total else {
            print("FAILED: the projector recorded \(summary.applied) of \(total) events: \(summary)")
            exit(1)
        }
        swift.append(seconds(summary.activeTime))

        let answer = try runCommand(python, [
            "ops/bench/audit_baseline.py", "--bootstrap", cluster.bootstrapServers, "--postgres", url,
            "--topics", "reports", "--group", "bench-python-\(run)", "--schema", "baseline_audit",
            "--expect", String(total),
        ])
        guard let line = answer.split(separator: "\n").last,
              let json = try? JSON.parse(String(line)), let secondsTaken = json["seconds"]?.numberValue,
              json["events"]?.integerValue == Int64(total)
        else {
            print("FAILED: the Python baseline answered: \(answer)")
            exit(1)
        }
        baseline.append(secondsTaken)

        // The database's ceiling: the same rows, COPYed from a file into a table with the same indexes, in the
        // text format and in the binary format (which the engine uses).
        for (format, option) in [("text", ""), ("binary", " (FORMAT binary)")] {
            _ = try runCommand("/usr/bin/psql", ["-q", url, "-c", "\\copy audit_v1.events TO '\(copyFile)'\(option)"])
            _ = try runCommand("/usr/bin/psql", ["-q", url, "-c", "DROP TABLE IF EXISTS copy_baseline"])
            _ = try runCommand(
                "/usr/bin/psql", ["-q", url, "-c", "CREATE TABLE copy_baseline (LIKE audit_v1.events INCLUDING ALL)"])
            let seconds = try time {
                _ = try runCommand("/usr/bin/psql", ["-q", url, "-c", "\\copy copy_baseline FROM '\(copyFile)'\(option)"])
            }
            if format == "text" { copyText.append(seconds) } else { copyBinary.append(seconds) }
        }
        try admin.execute("DROP DATABASE \(name)")
    }
    try? FileManager.default.removeItem(atPath: copyFile)
    _ = report("psql \\copy of the same rows from a file, text format", total, copyText)
    let copyRate = report("ceiling: psql \\copy of the same rows from a file, binary format", total, copyBinary)
    let pythonRate = report("baseline: Python (confluent-kafka + psycopg, COPY, batches)", total, baseline)
    let swiftRate = report("audit projection on the engine, Kafka → audit_v1.events", total, swift)
    print(String(format: "ratios: engine / Python %.2f×, engine / raw binary COPY %.2f", swiftRate / pythonRate, swiftRate / copyRate))
}

// MARK: - 4. Gateway: batched throughput and single-event latency over HTTP (GatewayBenchmark.swift)

if suite == "all" {
    try await gatewayBenchmark(events: eventCount, requests: requestCount, runs: runs, admin: try PostgresConnection(url: postgresAdmin))
}

// Benchmarks of the hot paths, each beside a baseline measured in the same run on the same machine.
// Run: swift run -c release mekong-bench [events] [runs]   (see BENCHMARKS.md)
import Foundation
import MekongAudit
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongPublishing

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let eventCount = arguments.first ?? 100_000
let runs = arguments.dropFirst().first ?? 3
let postgresAdmin = ProcessInfo.processInfo.environment["MEKONG_BENCH_POSTGRES"]
    ?? "postgresql://mekong:mekong@localhost:5432/mekong"

func report(_ name: String, _ count: Int, _ seconds: [Double]) {
    let rates = seconds.map { Double(count) / $0 }.sorted()
    let median = rates[rates.count / 2]
    print(String(format: "%-58@ %9.0f events/s (median of %d; min %.0f, max %.0f)",
                 name as NSString, median, rates.count, rates.first!, rates.last!))
    fflush(nil)
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

print("mekong-bench: \(eventCount) events, \(runs) runs each, \(ProcessInfo.processInfo.activeProcessorCount) cores")
let events = makeEvents(eventCount)
let records = events.map { EventPublisher.record(for: $0, topic: "reports") }
print("average record value: \(records.reduce(0) { $0 + $1.value.count } / records.count) bytes")

// 1. Envelope: decode + canonicalise + hash (what the audit projector does per record).
do {
    let values = records.map(\.value)
    var parseOnly: [Double] = []
    var full: [Double] = []
    for _ in 0..<runs {
        parseOnly.append(try time { for v in values { _ = try JSON.parse(v) } })
        full.append(try time { for v in values { _ = try CloudEvent(decoding: v).hash } })
    }
    report("baseline: JSON.parse only", eventCount, parseOnly)
    report("CloudEvent decode + canonical JSON + SHA-256", eventCount, full)
}

// 2. Producer: one-at-a-time sends (await each delivery report) versus one batched send, same mock cluster.
do {
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
    report("baseline: send one, await its report (\(sample.count) events)", sample.count, single)
    report("send batch, acks=all + idempotence + lz4", eventCount, batched)
    producer.close()

    // 3. Audit projector: from Kafka to audit_v1.events, one run = a fresh database and consumer group.
    let admin = try PostgresConnection(url: postgresAdmin)
    let migrations = MigrationRunner(directory: URL(fileURLWithPath: "Projections"))
    // librdkafka's mock cluster keeps a bounded log per partition and drops the oldest records beyond it, so the
    // projector's work is what is still in the log, not everything that was sent.
    let reader = try Consumer(configuration: cluster.configuration())
    let total = try (0..<6).reduce(0) { sum, p in
        let (low, high) = try reader.watermarks(of: TopicPartition(topic: "reports", partition: Int32(p)))
        return sum + Int(high - low)
    }
    reader.close()
    var projector: [Double] = []
    var copyBaseline: [Double] = []
    for run in 0..<runs {
        let name = "mekong_bench_\(run)"
        try admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try admin.execute("CREATE DATABASE \(name)")
        let url = String(postgresAdmin[..<(postgresAdmin.lastIndex(of: "/") ?? postgresAdmin.endIndex)]) + "/\(name)"
        var options = AuditProjectorOptions(topics: ["reports"])
        options.stopWhenCaughtUp = true
        options.consumerGroup = "bench-\(run)"
        let audit = AuditProjector(
            kafka: cluster.configuration(), postgresURL: url, migrations: migrations, options: options)
        // Baseline: COPY the same number of rows of the same width, without Kafka, decoding or hashing.
        let db = try PostgresConnection(url: url)
        try AuditProjector.prepare(db, migrations: migrations)
        try db.execute("CREATE TABLE copy_baseline (LIKE audit_v1.events)")
        let hashText = "\\x" + String(repeating: "ab", count: 32)
        let rows: [[String?]] = records.prefix(eventCount).enumerated().map { i, r in
            ["reports", "0", String(i), "id-\(i)", "t", "s", "subj", "2025-10-10T08:00:00Z", "2025-10-10T08:00:00Z",
             "\\x" + Hex.encode(r.value), hashText, hashText, hashText, nil]
        }
        copyBaseline.append(try time {
            _ = try db.transaction { db in
                try db.copyIn("COPY copy_baseline FROM STDIN", rows: rows)
            }
        })
        db.close()
        let summary = try audit.run(stop: StopSignal())
        guard summary.recorded == total else {
            print("FAILED: the projector recorded \(summary.recorded) of \(total) events: \(summary)")
            exit(1)
        }
        projector.append(seconds(summary.activeTime))
        try admin.execute("DROP DATABASE \(name) WITH (FORCE)")
    }
    report("baseline: COPY \(eventCount) prepared rows into PostgreSQL", eventCount, copyBaseline)
    report("audit projector, Kafka → audit_v1.events (\(total) events)", total, projector)
}

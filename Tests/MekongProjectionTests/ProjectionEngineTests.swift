import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongTestSupport
import Synchronization
import Testing

@Suite("Projection engine", .serialized)
struct ProjectionEngineTests {
    /// 600 events over 25 subjects, several submissions per subject, so per-key order matters.
    static func events() -> [CloudEvent] {
        (0..<600).map { i in report(unit: "unit-\(i % ProjectionFixture.units)", value: Double(i), index: i) }
    }

    @Test("batch sizes and partition interleavings do not change the result (equal checksums)")
    func orderIndependence() async throws {
        let events = Self.events()
        // Cluster A: published in event order. Cluster B: the same records per partition, but written partition by
        // partition in reverse order, so fetches and batches interleave the partitions differently.
        let a = try ProjectionFixture()
        try await a.publish(events)
        let b = try ProjectionFixture()
        let records = events.map { EventPublisher.record(for: $0, topic: "reports") }
        let partitionOf = try partitions(of: records, in: a)
        let byPartition = Dictionary(grouping: records.indices, by: { partitionOf[$0] })
        for partition in byPartition.keys.sorted(by: >) {
            try await b.send(byPartition[partition]!.map { index in
                var record = records[index]
                record.partition = partition
                return record
            })
        }
        var checksums: Set<String> = []
        for (fixture, batchSize) in [(a, 1_000), (a, 7), (a, 64), (b, 1_000), (b, 13)] {
            let database = try fixture.database("order_\(batchSize)")
            let summary = try await fixture.runToEnd(database, batchSize: batchSize)
            #expect(summary.applied == 600)
            #expect(try fixture.query(database, "SELECT sum(submissions)::int FROM report_log_v1.subjects", Int.self) == [600])
            checksums.insert(try fixture.checksum(database))
        }
        #expect(checksums.count == 1, "\(checksums)")
        // The last submission of each subject wins, whatever the batching: unit-0's last is event 575 (value 575).
        let database = try a.database("order_check")
        _ = try await a.runToEnd(database, batchSize: 3)
        #expect(try a.query(database, "SELECT last_total FROM report_log_v1.subjects WHERE unit = 'unit-0'", Double.self) == [575])
    }

    /// Where cluster `a` put each record (the key decides the partition).
    private func partitions(of records: [OutgoingMessage], in fixture: ProjectionFixture) throws -> [Int32] {
        let consumer = try Consumer(configuration: fixture.cluster.configuration())
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<6).map {
            (TopicPartition(topic: "reports", partition: Int32($0)), KafkaOffset.beginning)
        }))
        var byID: [String: Int32] = [:]
        let deadline = ContinuousClock.now + .seconds(20)
        while byID.count < records.count, ContinuousClock.now < deadline {
            for message in try consumer.poll(maxMessages: 1_000, timeout: .milliseconds(200)) {
                byID[message.header("ce_id")!] = message.partition
            }
        }
        return records.map { record in byID[String(decoding: record.headers[1].value, as: UTF8.self)]! }
    }

    @Test("a record keyed otherwise than its subject, or whose ce_ headers contradict its event, is dead-lettered; ce_ headers are optional")
    func recordFraming() async throws {
        let fixture = try ProjectionFixture(partitions: 1)
        let events = (0..<5).map { report(unit: "unit-\($0)", value: Double($0), index: 700 + $0) }
        var otherKey = EventPublisher.record(for: events[1], topic: "reports")
        otherKey.key = Array("unit-9/F1/2025-M01".utf8)
        var noKey = EventPublisher.record(for: events[2], topic: "reports")
        noKey.key = nil
        var wrongHeader = EventPublisher.record(for: events[3], topic: "reports")
        wrongHeader.headers = wrongHeader.headers.map { $0.name == "ce_type" ? KafkaHeader(name: "ce_type", string: "vn.gso.other") : $0 }
        var bare = EventPublisher.record(for: events[4], topic: "reports")
        bare.headers = []
        try await fixture.send([EventPublisher.record(for: events[0], topic: "reports"), otherKey, noKey, wrongHeader, bare])

        let database = try fixture.database()
        let summary = try await fixture.runToEnd(database)
        #expect(summary.applied == 2)
        #expect(summary.deadLettered == 3)
        let letters = try fixture.query(
            database, "SELECT stage || ': ' || reason FROM mekong.dead_letters ORDER BY kafka_offset", String.self)
        #expect(letters == [
            "validate: the record's key \"unit-9/F1/2025-M01\" is not the event's subject \"\(events[1].subject)\" (per-subject order rests on the key)",
            "validate: the record has no key; its key must be the event's subject \"\(events[2].subject)\"",
            "validate: header ce_type \"vn.gso.other\" is not the event's type \"vn.gso.report.submitted\"",
        ])
    }

    @Test("poison events are dead-lettered with their reason while the rest of the partition is applied; redrive after a fix applies them")
    func poisonEvents() async throws {
        let fixture = try ProjectionFixture(partitions: 1)
        let good = (0..<50).map { report(unit: "unit-\($0 % 5)", value: Double($0), index: $0) }
        var unknownType = report(unit: "unit-1", value: 1, index: 900)
        unknownType.type = "vn.gso.report.unknown"
        var unknownVersion = report(unit: "unit-1", value: 1, index: 901)
        unknownVersion.dataschema = "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v9.schema.json"
        let unknownUnit = report(unit: "unit-unknown", value: 5, index: 902)
        let negative = report(unit: "unit-2", value: -5, index: 903)
        let valid = EventPublisher.record(for: good[0], topic: "reports")
        var truncated = valid
        truncated.value = Array(valid.value.prefix(valid.value.count / 2))
        var huge = valid
        huge.value = Array(#"{"padding":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 2_000_000) + Array(#""}"#.utf8)
        let poison: [OutgoingMessage] = [
            truncated, EventPublisher.record(for: unknownType, topic: "reports"),
            EventPublisher.record(for: unknownVersion, topic: "reports"), huge,
            EventPublisher.record(for: unknownUnit, topic: "reports"), EventPublisher.record(for: negative, topic: "reports"),
        ]
        // Poison interleaved with good events in one partition: 10 good, 1 bad, 10 good, ...
        var records: [OutgoingMessage] = []
        for (index, event) in good.enumerated() {
            records.append(EventPublisher.record(for: event, topic: "reports"))
            if index % 8 == 7, index / 8 < poison.count { records.append(poison[index / 8]) }
        }
        try await fixture.send(records)

        let database = try fixture.database()
        let summary = try await fixture.runToEnd(database, batchSize: 1_000)
        #expect(summary.applied == 50)
        #expect(summary.deadLettered == 6)
        #expect(try fixture.query(database, "SELECT count(*)::int FROM report_log_v1.events", Int.self) == [50])
        let letters = try fixture.query(
            database, "SELECT stage || ': ' || reason FROM mekong.dead_letters ORDER BY kafka_offset", String.self)
        #expect(letters.count == 6)
        if letters.count == 6 {
            #expect(letters[0].hasPrefix("decode: not a valid CloudEvent"))
            #expect(letters[1].hasPrefix("validate: event type 'vn.gso.report.unknown' is not carried by topic 'reports'"))
            #expect(letters[2].hasPrefix("upcast: vn.gso.report.submitted v9 is not in the catalog"))
            #expect(letters[3].hasPrefix("decode: record of 2000014 bytes exceeds the limit"))
            #expect(letters[4].hasPrefix("apply: PostgreSQL [23503]"), "\(letters[4])")
            #expect(letters[5].hasPrefix("apply: PostgreSQL [23514]"), "\(letters[5])")
        }
        // The same dead letters are in the dead-letters topic, with their positions and original bytes.
        let published = try fixture.deadLetterEvents()
        #expect(published.count == 6)
        let offsets = try fixture.query(database, "SELECT kafka_offset FROM mekong.dead_letters ORDER BY kafka_offset", Int64.self)
        #expect(Set(published.compactMap { $0.data["sourceOffset"]?.integerValue }) == Set(offsets))
        let hugeLetter = published.first { $0.data["stage"]?.stringValue == "decode" && $0.data["reason"]?.stringValue?.contains("exceeds") == true }
        #expect(hugeLetter.flatMap { $0.data["originalValueBase64"]?.stringValue }.flatMap { Data(base64Encoded: $0) }?.count == 2_000_014)

        // Fix: the unknown reporting unit is registered; redrive its dead letter, and it is applied.
        let db = try database.connect()
        defer { db.close() }
        try db.execute("INSERT INTO reference.units VALUES ('unit-unknown')")
        let store = DeadLetterStore(db: db)
        let fixable = try #require(try store.list().first { $0.reason.contains("23503") })
        let producer = try Producer(configuration: fixture.cluster.configuration())
        let redriven = try await store.redrive([fixable.id], producer: producer)
        await producer.close()
        #expect(redriven.redriven.count == 1)
        await #expect(throws: ProjectionStateError.self) {
            let again = try Producer(configuration: fixture.cluster.configuration())
            defer { again.close() }
            _ = try await store.redrive([fixable.id], producer: again)
        }
        let after = try await fixture.runToEnd(database)
        #expect(after.applied == 1)
        #expect(after.deadLettered == 0)
        #expect(try fixture.query(database, "SELECT last_total FROM report_log_v1.subjects WHERE unit = 'unit-unknown'", Double.self) == [5])
        #expect(try store.list().count == 5, "the redriven one is no longer pending")
    }

    @Test("two instances of one version on one database: one applies, the other waits as a standby and takes over; the checksum of a single run")
    func twoInstances() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.publish(Self.events())
        let clean = try fixture.database("clean")
        _ = try await fixture.runToEnd(clean)
        let expected = try fixture.checksum(clean)
        let database = try fixture.database("two_instances")
        async let a = fixture.runToEnd(database, batchSize: 40)
        async let b = fixture.runToEnd(database, batchSize: 40)
        let (ra, rb) = try await (a, b)
        #expect(ra.applied + rb.applied == 600, "each event applied once between them")
        #expect(try fixture.checksum(database) == expected)
    }

    @Test("connections killed while the projector runs and the server restarted: the projector pauses, resumes, loses and repeats nothing")
    func databaseRestart() async throws {
        let killed = Shared(0)
        let run = try await ServerFaultRun.start("restart", batchSize: 25, faultAfter: 300) { server, database in
            let admin = try PostgresConnection(url: server.url)
            defer { admin.close() }
            let count = try admin.query(
                "SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                [database.name])[0].decode(Int.self, at: 0)
            killed.set(count)
        }
        try await run.waitUntilApplied(900)
        try run.server.stop(mode: "fast")
        try await Task.sleep(for: .seconds(1))
        try run.server.start()
        let summary = try await run.running.value
        // Its lease session and its batch session.
        #expect(killed.value >= 1)
        #expect(run.faultedAfter() >= 300)
        // At least the killed batch session; the restart may fall while the engine waits for its lease again (the
        // lease thread reconnects, which the engine does not count as a fault of its own), or after the run.
        #expect(summary.transientFaults >= 1)
        // A batch whose COMMIT reached the server but whose answer was lost to the restart is rolled back as far as
        // the engine knows; the checkpoints it reads again show it committed. Every record is counted exactly once.
        #expect(summary.applied + summary.skippedAlreadyApplied + summary.committedDespiteFault == 3_000, "\(summary)")
        try run.expectEveryEventOnceAsInACleanRun()
    }

    @Test("the server crashes while batches commit asynchronously: the batches it lost are applied again from Kafka, nothing is lost or repeated")
    func serverCrashUnderAsynchronousCommit() async throws {
        // Like a power cut: no shutdown checkpoint; commits whose WAL was not yet flushed are gone.
        let run = try await ServerFaultRun.start("crash", batchSize: 10, faultAfter: 500) { server, _ in
            try server.stop(mode: "immediate")
            try server.start()
        }
        let summary = try await run.running.value
        #expect(run.faultedAfter() >= 500)
        #expect(summary.transientFaults >= 1)
        // Batches the crash undid were applied a second time; none is counted in the table twice.
        #expect(summary.applied + summary.skippedAlreadyApplied + summary.committedDespiteFault >= 3_000, "\(summary)")
        try run.expectEveryEventOnceAsInACleanRun()
    }

    @Test("rebuild while events keep arriving: readers keep the old version until the new one has caught up; equal to a fresh rebuild")
    func rebuildWhileEventsArrive() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.publish(Self.events())
        let database = try fixture.database()
        let v1 = try await fixture.runToEnd(database)
        #expect(v1.activated)
        #expect(try fixture.query(database, "SELECT count(*)::int FROM report_log.events", Int.self) == [600])

        // Events keep arriving during the rebuild.
        let publishing = Task {
            for round in 0..<15 {
                try await fixture.publish((0..<100).map {
                    report(unit: "unit-\($0 % ProjectionFixture.units)", value: Double(round * 100 + $0), index: 1_000 + round * 100 + $0)
                })
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        var options = ProjectionOptions.testDefaults
        options.batchSize = 50
        options.stopWhenCaughtUp = false
        options.activation = .switchWhenCaughtUp
        let seen = ProgressLog()
        // Progress is reported on the engine's thread after each committed batch and before the engine decides to
        // switch, so what a reader sees from inside the first report after v2 holds events is what readers see
        // while v2 is building, however fast the rebuild runs.
        let whileBuilding = BuildingObservation()
        options.progress = { [fixture] progress in
            seen.add(progress)
            guard progress.processed > 0, !whileBuilding.done else { return }
            let built = (try? fixture.query(database, "SELECT count(*)::int FROM report_log_v2.events", Int.self)) ?? []
            let state = (try? fixture.query(database, "SELECT state FROM mekong.projection_versions WHERE projection = 'report-log' AND version = 2", String.self)) ?? []
            let view = (try? fixture.query(database, "SELECT definition FROM pg_views WHERE schemaname = 'report_log' AND viewname = 'events'", String.self)) ?? []
            whileBuilding.record(built: built.first ?? 0, state: state.first, view: view.first)
        }
        let rebuildOptions = options
        let rebuild = Task { [fixture] in
            try await onThread { try fixture.engine(database, version: 2, options: rebuildOptions).run(stop: StopSignal()) }
        }
        let summary = try await rebuild.value
        // While v2 was building (it held events already), readers were on v1.
        let observed = try #require(whileBuilding.observed)
        #expect(observed.built > 0)
        #expect(observed.state == "building")
        #expect(observed.view?.contains("report_log_v1.") == true, "\(observed.view ?? "no view")")
        #expect(summary.activated)
        // The switch came only once v2 had caught up: its last progress report showed nothing remaining.
        #expect(seen.last?.remaining == 0)
        #expect(try fixture.query(database, "SELECT version FROM mekong.projection_versions WHERE projection = 'report-log' AND state = 'active'", Int.self) == [2])
        #expect(try fixture.query(database, "SELECT definition FROM pg_views WHERE schemaname = 'report_log' AND viewname = 'events'", String.self).first?.contains("report_log_v2.") == true)
        try await publishing.value
        // Once everything is in, v2 (rebuilt under load, then caught up) equals a fresh rebuild from scratch.
        _ = try await fixture.runToEnd(database, version: 2)
        let fresh = try fixture.database("fresh")
        var freshOptions = ProjectionOptions.testDefaults
        freshOptions.activation = .switchWhenCaughtUp
        let chosenFresh = freshOptions
        _ = try await onThread { try fixture.engine(fresh, version: 2, options: chosenFresh).run(stop: StopSignal()) }
        #expect(try fixture.query(database, "SELECT count(*)::int FROM report_log.events", Int.self) == [2_100])
        #expect(try fixture.checksum(database, version: 2) == fixture.checksum(fresh, version: 2))
        // The retired version can be dropped; the active one cannot.
        let db = try database.connect()
        defer { db.close() }
        #expect(throws: ProjectionStateError.self) { try ProjectionVersions(db: db).drop(ReportLog(version: 2).identity) }
        try ProjectionVersions(db: db).drop(ReportLog(version: 1).identity)
        #expect(try db.query("SELECT to_regclass('report_log_v1.events') IS NULL")[0].decode(Bool.self, at: 0))
        #expect(try ProjectionVersions(db: db).list().map(\.identity.version) == [2])
    }
}

/// What a reader saw from inside the rebuild's first progress report.
final class BuildingObservation: @unchecked Sendable {
    struct Observed { let built: Int; let state: String?; let view: String? }
    private let lock = NSLock()
    private var value: Observed?
    var done: Bool { lock.withLock { value != nil } }
    var observed: Observed? { lock.withLock { value } }
    func record(built: Int, state: String?, view: String?) {
        lock.withLock { if value == nil { value = Observed(built: built, state: state, view: view) } }
    }
}

final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [ProjectionProgress] = []
    func add(_ progress: ProjectionProgress) { lock.withLock { reports.append(progress) } }
    var last: ProjectionProgress? { lock.withLock { reports.last } }
}

/// A value one thread sets and another reads.
private final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    var value: Value { state.withLock { $0 } }
    func set(_ value: Value) { state.withLock { $0 = value } }
}

/// 3 000 reports, a clean run of them to compare with, and a projector applying them on a private server that the
/// test restarts or crashes.
private struct ServerFaultRun {
    let server: PrivatePostgresServer
    let fixture: ProjectionFixture
    let clean: TestDatabase
    let database: TestDatabase
    let running: Task<ProjectionRunSummary, any Error>
    /// How many records the projector had applied when `fault` ran (0: not yet), and what the fault threw.
    let faulted: Shared<(after: Int, error: String?)>
    let deadline = ContinuousClock.now + .seconds(60)

    /// `fault` runs on the projector's own thread, from its progress report, once a committed batch has brought it
    /// to `faultAfter` records: the projector is then certainly still running. A test that polled for progress and
    /// then struck could find it already finished on a loaded machine, and strike nothing.
    static func start(
        _ label: String, batchSize: Int, faultAfter: Int,
        fault: @escaping @Sendable (PrivatePostgresServer, TestDatabase) throws -> Void
    ) async throws -> ServerFaultRun {
        let server = try PrivatePostgresServer()
        let fixture = try ProjectionFixture()
        try await fixture.publish((0..<3_000).map {
            report(unit: "unit-\($0 % ProjectionFixture.units)", value: Double($0), index: $0)
        })
        let clean = try fixture.database("\(label)_clean")
        _ = try await fixture.runToEnd(clean)
        let database = try fixture.database(label, adminURL: server.url)
        let faulted = Shared<(after: Int, error: String?)>((0, nil))
        var options = ProjectionOptions.testDefaults
        options.batchSize = batchSize
        options.progress = { progress in
            guard progress.processed >= faultAfter, faulted.value.after == 0 else { return }
            var failure: String?
            do { try fault(server, database) } catch { failure = "\(error)" }
            faulted.set((progress.processed, failure))
        }
        let chosen = options
        let running = Task { try await onThread { try fixture.engine(database, options: chosen).run(stop: StopSignal()) } }
        return ServerFaultRun(
            server: server, fixture: fixture, clean: clean, database: database, running: running, faulted: faulted)
    }

    /// The records applied when the fault struck; the fault's own error, if any, is a test failure.
    func faultedAfter() -> Int {
        let (after, error) = faulted.value
        #expect(error == nil, "the fault itself failed: \(error ?? "")")
        return after
    }

    func applied() -> Int {
        (try? fixture.query(database, "SELECT count(*)::int FROM report_log_v1.events", Int.self).first) ?? nil ?? 0
    }

    func waitUntilApplied(_ count: Int) async throws {
        while applied() < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    /// Every event in the table exactly once, and the checksum of the clean run; drops the database.
    func expectEveryEventOnceAsInACleanRun() throws {
        #expect(try fixture.query(database, "SELECT count(*)::int FROM report_log_v1.events", Int.self) == [3_000])
        #expect(try fixture.checksum(database) == fixture.checksum(clean))
        database.drop()
    }
}

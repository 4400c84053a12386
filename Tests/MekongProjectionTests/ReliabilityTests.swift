import Dispatch
import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongTestSupport
import Synchronization
import Testing

/// A projection that keeps each record's raw bytes in a btree-indexed text column: a record of a few kilobytes of
/// incompressible text exceeds the index's row limit (SQLSTATE 54000) while every smaller one goes in.
struct IndexedNotes: Projection {
    let identity = ProjectionIdentity(name: "indexed-notes", version: 1)
    let topics = ["reports"]

    static let sql = """
        CREATE SCHEMA indexed_notes_v1;
        CREATE TABLE indexed_notes_v1.notes (
            topic text NOT NULL, partition integer NOT NULL, kafka_offset bigint NOT NULL, note text NOT NULL,
            PRIMARY KEY (topic, partition, kafka_offset));
        CREATE INDEX notes_note ON indexed_notes_v1.notes (note);
        """

    func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> String {
        String(decoding: record.value, as: UTF8.self).replacingOccurrences(of: "\u{0}", with: "")
    }

    func apply(_ batch: [ProjectionRecord<String>], on db: PostgresConnection) throws {
        try db.execute(
            """
            INSERT INTO indexed_notes_v1.notes
            SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::text[])
            """,
            [PostgresArray.text(batch.map(\.position.topic)),
             PostgresArray.integers(batch.map { Int64($0.position.partition) }),
             PostgresArray.integers(batch.map(\.position.offset)), PostgresArray.text(batch.map(\.row))])
    }
}

/// Blocks inside `apply` (so inside the batch's transaction, holding the checkpoint row locks) on the batch after
/// the first, until released: a projector that hangs the way a stopped process does.
final class ApplyGate: @unchecked Sendable {
    let entered = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    private let calls = Mutex(0)

    func pass() {
        let call = calls.withLock { value -> Int in
            value += 1
            return value
        }
        if call == 2 {
            entered.signal()
            release.wait()
        }
    }
}

struct HangsInItsSecondBatch: Projection {
    let inner = ReportLog()
    let gate: ApplyGate
    var identity: ProjectionIdentity { inner.identity }
    var topics: [String] { inner.topics }

    func apply(_ batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection) throws {
        try db.execute("SELECT 1")
        gate.pass()
        try inner.apply(batch, on: db)
    }
}

/// ReportLog whose first batch holds one statement for `seconds` on the server, and which, once caught up,
/// spends `seconds` more in `finishCatchUp` (the first time it is asked).
struct RunsLongStatements: Projection {
    let inner = ReportLog()
    let seconds: Double
    let finished = FinishedOnce()
    var identity: ProjectionIdentity { inner.identity }
    var topics: [String] { inner.topics }

    func apply(_ batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection) throws {
        if try db.query("SELECT count(*)::int FROM report_log_v1.events")[0].decode(Int.self, at: 0) == 0 {
            try db.execute("SELECT pg_sleep(\(seconds))")
        }
        try inner.apply(batch, on: db)
    }
    func finishCatchUp(on db: PostgresConnection) throws -> Bool {
        guard finished.first() else { return false }
        try db.execute("SELECT pg_sleep(\(seconds))")
        return true
    }
}

final class FinishedOnce: Sendable {
    private let done = Mutex(false)
    /// True the first time only.
    func first() -> Bool { done.withLock { was in defer { was = true }; return !was } }
}

@Suite("Engine reliability")
struct ReliabilityTests {
    @Test("statements that run longer than the lease timeout on the server (a long batch, a one-pass catch-up) keep the lease: the backend at work counts as life")
    func longStatementsKeepTheLease() async throws {
        let fixture = try ProjectionFixture()
        try await fixture.publish((0..<120).map { report(unit: "unit-\($0 % ProjectionFixture.units)", value: Double($0), index: $0) })
        let database = try fixture.database("long_statements")
        var options = ProjectionOptions.testDefaults
        options.batchSize = 50
        options.timeouts.lease = .seconds(1)
        options.timeouts.idleInTransaction = .seconds(1)
        let chosen = options
        let projection = RunsLongStatements(seconds: 3)
        let summary = try await onThread {
            try ProjectionEngine(
                projection: projection, kafka: fixture.cluster.configuration(), postgresURL: database.url,
                migrations: fixture.migrations, reader: EventReader(catalog: fixture.catalog, upcasters: Upcasters()),
                options: chosen
            ).run(stop: StopSignal())
        }
        #expect(summary.transientFaults == 0, "\(summary)")
        #expect(summary.applied == 120 && summary.activated, "\(summary)")
        #expect(try fixture.query(database, "SELECT count(*)::int FROM report_log_v1.events", Int.self) == [120])
    }

    @Test(
        "errors are read as an outage, the data's fault or a bug",
        arguments: [
            ("54000", Fault.record), ("22P02", .record), ("23505", .record), ("P0001", .record), ("21000", .record),
            ("2F005", .record), ("40002", .record), ("22021", .record),
            ("08006", .transient), ("40001", .transient), ("55P03", .transient), ("25P03", .transient),
            ("57014", .transient), ("53100", .transient), ("57P01", .transient),
            ("42P01", .software), ("42883", .software), ("0A000", .software), ("XX000", .software),
            ("55000", .software), ("28P01", .software), ("3F000", .software),
        ])
    func faultClassification(sqlState: String, expected: Fault) {
        #expect(Fault(PostgresError(code: .queryFailed, message: "x", sqlState: sqlState)) == expected)
    }

    @Test("a PostgreSQL error without a SQLSTATE, or a Swift error from apply, is a bug; a Refusal thrown by apply is the data's fault; a retriable Kafka error is an outage")
    func faultClassificationOfOtherErrors() {
        #expect(Fault(PostgresError(code: .queryFailed, message: "x")) == .software)
        #expect(Fault(ProjectionStateError("x")) == .software)
        #expect(Fault(Refusal(.apply, "x")) == .record)
        #expect(Fault(PostgresError(code: .connectionLost, message: "x")) == .transient)
    }

    @Test("a record PostgreSQL refuses for its size (54000, index row too large) is dead-lettered and the partition goes on")
    func programLimitIsTheRecordsFault() async throws {
        let fixture = try ProjectionFixture(partitions: 2)
        try FileManager.default.createDirectory(
            at: fixture.projections.appendingPathComponent("indexed-notes/v1"), withIntermediateDirectories: true)
        try IndexedNotes.sql.write(
            to: fixture.projections.appendingPathComponent("indexed-notes/v1/001_notes.sql"), atomically: true,
            encoding: .utf8)
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let huge = String((0..<6_000).map { _ in alphabet.randomElement(using: &generator)! })
        var records = (0..<200).map { OutgoingMessage(topic: "reports", key: Array("k\($0 % 7)".utf8), value: Array("note \($0)".utf8)) }
        records.insert(OutgoingMessage(topic: "reports", key: Array("k3".utf8), value: Array(huge.utf8)), at: 77)
        try await fixture.send(records)
        let database = try TestDatabase.create("indexed_notes")
        defer { database.drop() }
        var options = ProjectionOptions.testDefaults
        options.batchSize = 64
        let chosen = options
        let summary = try await onThread {
            try ProjectionEngine(
                projection: IndexedNotes(), kafka: fixture.cluster.configuration(), postgresURL: database.url,
                migrations: fixture.migrations, reader: EventReader(catalog: fixture.catalog, upcasters: Upcasters()),
                options: chosen
            ).run(stop: StopSignal())
        }
        #expect(summary.applied == 200)
        #expect(summary.deadLettered == 1)
        let db = try database.connect()
        defer { db.close() }
        let reason = try db.query("SELECT reason FROM mekong.dead_letters WHERE projection = 'indexed-notes'")
        #expect(reason.count == 1)
        #expect(try reason.first?.decode(String.self, at: 0).contains("54000") == true)
    }

    @Test("a projector hung inside its batch transaction loses its lease; the replacement finishes and nothing is applied twice")
    func hungInstanceIsReplaced() async throws {
        let fixture = try ProjectionFixture()
        let events = (0..<600).map { report(unit: "unit-\($0 % ProjectionFixture.units)", value: Double($0), index: $0) }
        try await fixture.publish(events)
        let clean = try fixture.database("hung_clean")
        _ = try await fixture.runToEnd(clean)
        let database = try fixture.database("hung")
        var options = ProjectionOptions.testDefaults
        options.batchSize = 50
        options.timeouts.lease = .seconds(2)
        options.timeouts.idleInTransaction = .seconds(2)
        options.timeouts.lock = .seconds(1)
        options.stopWhenCaughtUp = false
        let hanging = options
        let gate = ApplyGate()
        let stopHung = StopSignal()
        let hung = Task {
            try await onThread {
                try ProjectionEngine(
                    projection: HangsInItsSecondBatch(gate: gate), kafka: fixture.cluster.configuration(),
                    postgresURL: database.url, migrations: fixture.migrations,
                    reader: EventReader(catalog: fixture.catalog, upcasters: Upcasters()), options: hanging
                ).run(stop: stopHung)
            }
        }
        let entered = try await onThread { gate.entered.wait(timeout: .now() + 60) == .success }
        #expect(entered, "the first instance reached its second batch")

        options.stopWhenCaughtUp = true
        let replacing = options
        let stopReplacement = StopSignal()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(90))
            stopReplacement.stop()
        }
        let replacement = try await onThread {
            try fixture.engine(database, options: replacing).run(stop: stopReplacement)
        }
        watchdog.cancel()
        #expect(!stopReplacement.isStopped, "the replacement finished by itself, not by the watchdog")

        gate.release.signal()
        stopHung.stop()
        let first = try await hung.value
        #expect(first.batches == 1, "only the first batch of the hung instance committed: \(first)")
        #expect(first.applied + replacement.applied == 600, "\(first) \(replacement)")
        #expect(try fixture.query(database, "SELECT count(*)::int FROM report_log_v1.events", Int.self) == [600])
        #expect(try fixture.checksum(database) == fixture.checksum(clean))
    }

    @Test("a projector restarted right after its lease holder died takes over at once")
    func restartAfterCrashTakesOverAtOnce() async throws {
        let fixture = try ProjectionFixture()
        let database = try fixture.database("takeover")
        var options = ProjectionOptions.testDefaults
        options.stopWhenCaughtUp = true
        // Long enough that a takeover by timeout could not pass for one by the holder's session ending.
        options.timeouts.lease = .seconds(60)
        options.timeouts.idleInTransaction = .seconds(60)
        // A holder whose session simply disappears (as when its process is killed): the server ends the session
        // when its socket closes, and with it the lock.
        let holder = try PostgresConnection(url: database.url)
        try holder.execute("BEGIN")
        let key = try holder.query(
            "SELECT ('x' || left(encode(sha256('mekong.projector:report-log:v1'::bytea), 'hex'), 16))::bit(64)::bigint"
        )[0].decode(Int64.self, at: 0)
        #expect(try holder.query("SELECT pg_try_advisory_xact_lock($1)", [key])[0].decode(Bool.self, at: 0))
        try await fixture.publish((0..<100).map { report(unit: "unit-\($0 % ProjectionFixture.units)", value: 1, index: $0) })
        let chosen = options
        let run = Task { try await onThread { try fixture.engine(database, options: chosen).run(stop: StopSignal()) } }
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(try fixture.query(database, "SELECT count(*)::int FROM report_log_v1.events", Int.self) == [0],
                "a standby applies nothing while another session holds the lease")
        let released = ContinuousClock.now
        holder.close()
        let summary = try await run.value
        #expect(summary.applied == 100)
        #expect(ContinuousClock.now - released < .seconds(30), "taken over when the holder's session ended, not by a timeout")
    }

    @Test("the new holder ends the old holder's sessions (fencing): a batch session that no server timeout ends cannot hold it up")
    func takeoverFencesThePreviousHoldersSessions() async throws {
        let fixture = try ProjectionFixture()
        let database = try fixture.database("fencing")
        try await fixture.publish((0..<50).map { report(unit: "unit-\($0 % ProjectionFixture.units)", value: 1, index: $0) })
        var options = ProjectionOptions.testDefaults
        options.stopWhenCaughtUp = true
        _ = try await fixture.runToEnd(database)
        // A holder that stopped renewing: its lease session idles out after 2 s. Its batch session, under the same
        // application_name, holds every checkpoint row of the projection and is exempt from the idle timeout, as
        // a session stopped inside a COPY is (it waits to read from its client, which no timeout ends).
        let name = "mekong report-log v1 stopped-holder"
        let holder = try PostgresConnection(url: database.url, defaults: ["application_name": name])
        defer { holder.close() }
        try holder.execute("SET idle_in_transaction_session_timeout = '2s'")
        try holder.execute("BEGIN")
        let key = try holder.query(
            "SELECT ('x' || left(encode(sha256('mekong.projector:report-log:v1'::bytea), 'hex'), 16))::bit(64)::bigint"
        )[0].decode(Int64.self, at: 0)
        #expect(try holder.query("SELECT pg_try_advisory_xact_lock($1)", [key])[0].decode(Bool.self, at: 0))
        let batch = try PostgresConnection(url: database.url, defaults: ["application_name": name])
        defer { batch.close() }
        try batch.execute("SET idle_in_transaction_session_timeout = 0")
        try batch.execute("BEGIN")
        #expect(try batch.query("SELECT count(*)::int FROM (SELECT FROM mekong.checkpoints WHERE projection = 'report-log' FOR UPDATE) c")[0]
            .decode(Int.self, at: 0) > 0)

        try await fixture.publish((50..<100).map { report(unit: "unit-\($0 % ProjectionFixture.units)", value: 1, index: $0) })
        // The replacement starts after the holder's lease has lapsed: it never sees a holder to stand by for, and
        // must still end the sessions that hold the rows.
        try await Task.sleep(for: .seconds(3))
        options.timeouts.lock = .seconds(1)
        let chosen = options
        let stop = StopSignal()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(60))
            stop.stop()
        }
        let summary = try await onThread { try fixture.engine(database, options: chosen).run(stop: stop) }
        watchdog.cancel()
        #expect(!stop.isStopped, "the replacement finished by itself, not by the watchdog")
        #expect(summary.applied == 50)
        #expect(try fixture.query(database, "SELECT count(*)::int FROM report_log_v1.events", Int.self) == [100])
        // The old batch session was ended (its transaction rolled back), not waited out.
        #expect(throws: PostgresError.self) { try batch.execute("SELECT 1") }
    }

    @Test("a record too large even for the dead-letters topic is dead-lettered in the table and the partition goes on")
    func recordTooLargeForTheDeadLetterTopic() async throws {
        let fixture = try ProjectionFixture(partitions: 1)
        var records = (0..<20).map { i in EventPublisher.record(for: report(unit: "unit-1", value: Double(i), index: i), topic: "reports") }
        records.insert(OutgoingMessage(topic: "reports", key: Array("unit-1".utf8), value: Array(repeating: 0x7B, count: 7_000_000)), at: 5)
        let producer = try Producer(configuration: fixture.cluster.configuration(["message.max.bytes": "10000000"]))
        for result in await producer.send(records) { _ = try result.get() }
        await producer.close()
        let database = try fixture.database("too_large")
        defer { database.drop() }
        let summary = try await fixture.runToEnd(database)
        #expect(summary.applied == 20)
        #expect(summary.deadLettered == 1)
        #expect(try fixture.query(database, "SELECT length(record_value) FROM mekong.dead_letters", Int.self) == [7_000_000])
    }
}

import Foundation
import MekongAudit
import MekongCatalog
import MekongEvents
import MekongEvidence
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongTestSupport
import Testing

/// A mock cluster with the `reports` topic, a throwaway database, and `count` published report events, recorded by
/// audit `version` (the newest unless told).
final class AuditFixture: @unchecked Sendable {
    let cluster: MockCluster
    let database: TestDatabase
    let events: [CloudEvent]
    let version: Int
    let partitions: Int
    let migrations = MigrationRunner(directory: MekongBinary.repositoryRoot.appendingPathComponent("Projections"))
    /// The audit key that signs tree heads (v4 on).
    let headKey = SigningKey(generatingWithID: "audit-test")
    let catalog = try! Catalog(directory: MekongBinary.repositoryRoot.appendingPathComponent("Topics"))
    var reader: EventReader { EventReader(catalog: catalog, upcasters: Upcasters()) }

    /// The audit projection of this fixture's version.
    var trail: AuditTrail { try! AuditTrail(topics: ["reports"], version: version, headKey: headKey) }

    /// `audit_v<version>`
    var schema: String { "audit_v\(version)" }
    var format: AuditChainFormat { AuditChainFormat(projectionVersion: version) }
    /// Every partition of the fixture's topic: the partitions the trail must cover.
    var expectedPartitions: [TopicPartition] {
        (0..<partitions).map { TopicPartition(topic: "reports", partition: Int32($0)) }
    }

    init(events count: Int, partitions: Int = 6, version: Int = AuditTrail.newestVersion, label: String = #function)
        async throws
    {
        self.version = version
        self.partitions = partitions
        cluster = try MockCluster(brokers: 1)
        try cluster.createTopic("reports", partitions: partitions, replicationFactor: 1)
        database = try TestDatabase.create(label)
        events = (0..<count).map { SampleEvents.report($0) }
        let producer = try Producer(configuration: cluster.configuration())
        defer { producer.close() }
        for result in await EventPublisher(producer: producer).publish(events, topic: "reports") {
            _ = try result.get()
        }
    }

    deinit { database.drop() }

    func projector(batchSize: Int = 200, untilCaughtUp: Bool = true)
        -> ProjectionEngine<AuditTrail>
    {
        var options = ProjectionOptions()
        options.batchSize = batchSize
        options.batchWait = .milliseconds(100)
        options.stopWhenCaughtUp = untilCaughtUp
        return engine(options)
    }

    func engine(_ options: ProjectionOptions) -> ProjectionEngine<AuditTrail> {
        engine(options, projection: trail)
    }

    func engine<P: Projection>(_ options: ProjectionOptions, projection: P) -> ProjectionEngine<P> {
        ProjectionEngine(
            projection: projection, kafka: cluster.configuration(), postgresURL: database.url, migrations: migrations,
            reader: reader, options: options)
    }

    func runToEnd(batchSize: Int = 200) async throws -> ProjectionRunSummary {
        try await onThread { [self] in try projector(batchSize: batchSize).run(stop: StopSignal()) }
    }

    func recordedIDs() throws -> [String] {
        let db = try database.connect()
        defer { db.close() }
        return try db.query("SELECT event_id FROM \(schema).events ORDER BY event_id").map {
            try $0.decode(String.self, at: 0)
        }
    }

    /// `mekong audit verify`, with `--log` when `log`.
    func verify(log: Bool = false, expected: [TopicPartition]? = nil, publishedHeads: [SignedTreeHead]? = nil) async throws
        -> AuditVerification
    {
        let (url, version, partitions) = (database.url, version, expected ?? expectedPartitions)
        let kafka = log ? cluster.configuration() : nil
        let (reader, key) = (reader, headKey.verifyingKey)
        return try await onThread {
            let db = try PostgresConnection(url: url)
            defer { db.close() }
            return try AuditVerifier(
                db: db, version: version, expectedPartitions: partitions, log: kafka, reader: reader, headKey: key,
                publishedHeads: publishedHeads
            ).verify()
        }
    }

    /// Recomputes every link of a partition from its stored rows, and its chain head, as someone who can write the
    /// tables can: afterwards the trail agrees with itself.
    func relink(partition: Int32) throws {
        let db = try database.connect()
        defer { db.close() }
        var previous = EventHash.zero
        var last: Int64 = -1
        for stored in try db.query(
            """
            SELECT kafka_offset, event_hash, (extract(epoch FROM recorded_time) * 1000000)::bigint, problem
            FROM \(schema).events WHERE topic = 'reports' AND partition = $1 ORDER BY kafka_offset
            """, [Int(partition)])
        {
            let offset = try stored.decode(Int64.self, at: 0)
            let link = AuditLink(
                format: format, topic: "reports", partition: partition, offset: offset,
                eventHash: try #require(EventHash(bytes: try stored.decode([UInt8].self, at: 1))),
                recordedMicroseconds: try stored.decode(Int64.self, at: 2), problem: try stored.decode(String?.self, at: 3),
                previous: previous)
            try db.execute(
                "UPDATE \(schema).events SET previous_chain_hash = $1, chain_hash = $2 WHERE topic = 'reports' AND partition = $3 AND kafka_offset = $4",
                [link.previous.bytes, link.chain.bytes, Int(partition), offset])
            previous = link.chain
            last = offset
        }
        try db.execute(
            "UPDATE \(schema).chain_heads SET last_offset = $1, chain_hash = $2 WHERE topic = 'reports' AND partition = $3",
            [last, previous.bytes, Int(partition)])
    }

    /// The checkpoint's next offset of a partition.
    func checkpoint(partition: Int32) throws -> Int64 {
        let db = try database.connect()
        defer { db.close() }
        return try db.query(
            "SELECT next_offset FROM mekong.checkpoints WHERE projection = 'audit' AND version = $1 AND topic = 'reports' AND partition = $2",
            [version, Int(partition)])[0].decode(Int64.self, at: 0)
    }

    /// Replaces the row at `partition`/`offset` of `reports` with another valid event: bytes, hash and columns all
    /// consistent with each other (the chain is left alone).
    func replaceWithForgedEvent(partition: Int32, offset: Int64) throws {
        let forged = SampleEvents.report(99_999)
        let bytes = forged.canonicalJSON()
        try execute(
            """
            UPDATE \(schema).events SET event_bytes = $3, event_hash = $4, event_id = $5, subject = $6, source = $7,
                event_time = $8::timestamptz
            WHERE topic = 'reports' AND partition = $1 AND kafka_offset = $2
            """,
            [Int(partition), offset, bytes, EventHash.sha256(bytes).bytes, forged.id, forged.subject, forged.source,
             forged.time.text])
    }

    func rows(_ sql: String) throws -> [[String?]] {
        let db = try database.connect()
        defer { db.close() }
        return try db.query(sql).map { row in try (0..<row.columns.count).map { try row.decode(String?.self, at: $0) } }
    }

    func execute(_ sql: String, _ parameters: [PostgresBindable?] = []) throws {
        let db = try database.connect()
        defer { db.close() }
        try db.execute(sql, parameters)
    }

    func count() throws -> Int {
        let db = try database.connect()
        defer { db.close() }
        guard try !db.query("SELECT to_regclass($1)", [schema + ".events"]).first!.isNull(at: 0) else { return 0 }
        return try db.query("SELECT count(*) FROM \(schema).events")[0].decode(Int.self, at: 0)
    }
}

@Suite("Audit projection", .serialized)
struct AuditProjectorTests {
    @Test("every event is recorded once and the trail verifies")
    func recordsEveryEventOnce() async throws {
        let fixture = try await AuditFixture(events: 1_500)
        let summary = try await fixture.runToEnd()
        #expect(summary.applied == 1_500)
        #expect(try fixture.recordedIDs() == fixture.events.map(\.id).sorted())
        let verification = try await fixture.verify()
        #expect(verification.isIntact, "\(verification.findings)")
        #expect(verification.rowsChecked == 1_500)
        #expect(verification.partitionsChecked == 6)
        #expect(verification.checkpointsChecked == 6)
    }

    @Test("stopped mid-stream and restarted, it resumes from the checkpoint: nothing twice, nothing missing")
    func stopAndRestart() async throws {
        let fixture = try await AuditFixture(events: 3_000)
        // The stop comes from inside the run, once its first batch is written: mid-stream however fast the machine
        // is. (Polling the table from the test raced with the projector, which sometimes finished first.)
        let stop = StopSignal()
        var options = ProjectionOptions()
        options.batchSize = 50
        options.batchWait = .milliseconds(100)
        options.stopWhenCaughtUp = false
        let chosen = options
        let partial = try await onThread { [fixture] in
            try fixture.engine(chosen, projection: StopsAfterItsFirstBatch(
                inner: fixture.trail, stop: stop)).run(stop: stop)
        }
        #expect(partial.applied > 0)
        #expect(partial.applied < 3_000, "stopped before the end, so the restart has work to do")
        #expect(try fixture.count() == partial.applied)

        let rest = try await fixture.runToEnd()
        #expect(rest.applied == 3_000 - partial.applied)
        #expect(try fixture.recordedIDs() == fixture.events.map(\.id).sorted())
        #expect(try await fixture.verify().isIntact)
    }

    @Test("two instances started at once on one database record each event once (one applies, one stands by)")
    func twoInstances() async throws {
        let fixture = try await AuditFixture(events: 2_000)
        async let a = fixture.runToEnd(batchSize: 100)
        async let b = fixture.runToEnd(batchSize: 100)
        let (ra, rb) = try await (a, b)
        // Which instance holds the lease depends on timing; the standby takes over when the first stops and finds
        // everything recorded. What may not vary: together, each event exactly once.
        #expect(ra.applied + rb.applied == 2_000)
        #expect(try fixture.recordedIDs() == fixture.events.map(\.id).sorted())
        #expect(try await fixture.verify().isIntact)
    }

    @Test("the database connection killed mid-run: the projector reconnects and loses or repeats nothing")
    func connectionKilledMidRun() async throws {
        let fixture = try await AuditFixture(events: 3_000)
        let projector = Task { try await onThread { [fixture] in
            var options = ProjectionOptions()
            // One record per batch: with batches committing asynchronously, 300 batches of 10 finished before the
            // test had seen progress to kill after.
            options.batchSize = 1
            options.batchWait = .milliseconds(50)
            options.stopWhenCaughtUp = true
            options.retryBackoff = (.milliseconds(50), .milliseconds(400))
            return try fixture.engine(options).run(stop: StopSignal())
        } }
        let admin = try PostgresConnection(url: TestDatabase.adminURL)
        defer { admin.close() }
        // Kill the projector's sessions (its batch session and its lease session) three times, each time after it
        // has made progress since the last kill.
        var kills = 0
        var progressAtLastKill = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while kills < 3, clock.now < deadline, !projectorFinished(fixture) {
            let count = try fixture.count()
            if count > progressAtLastKill {
                let killed = try admin.query(
                    """
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = $1 AND application_name LIKE 'mekong audit v%'
                    """, [fixture.database.name])[0].decode(Int.self, at: 0)
                if killed > 0 {
                    kills += 1
                    progressAtLastKill = count
                }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let summary = try await projector.value
        #expect(kills == 3)
        #expect(summary.transientFaults >= 1)
        #expect(try fixture.recordedIDs() == fixture.events.map(\.id).sorted())
        #expect(try await fixture.verify().isIntact)
    }

    private func projectorFinished(_ fixture: AuditFixture) -> Bool {
        ((try? fixture.count()) ?? 0) >= 3_000
    }

    @Test("an altered row is found and named")
    func alteredRow() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.execute(
            "UPDATE \(fixture.schema).events SET subject = 'forged' WHERE topic = 'reports' AND partition = $1 AND kafka_offset = $2",
            [2, 5])
        let result = try await fixture.verify()
        let first = try #require(result.firstBadRow)
        #expect(first.partition == 2)
        #expect(first.offset == 5)
        #expect(first.problem.contains("subject"))
        #expect(result.findings.count == 1, "one altered row is one finding: \(result.findings)")
    }

    @Test("an altered event body with a recomputed hash is found by the chain")
    func alteredBodyAndHash() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.replaceWithForgedEvent(partition: 1, offset: 3)
        let first = try #require(try await fixture.verify().firstBadRow)
        #expect(first.partition == 1)
        #expect(first.offset == 3)
        #expect(first.problem.contains("chain_hash"))
    }

    @Test("a deleted row is found: the missing offset is named, and the next row's link names the gap")
    func deletedRow() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.execute(
            "DELETE FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = $1 AND kafka_offset = $2", [4, 7])
        let findings = try await fixture.verify().findings
        #expect(findings.map(\.partition) == [4, 4], "\(findings)")
        #expect(findings.map(\.offset) == [7, 8])
        #expect(findings[0].problem.contains("deleted"))
        #expect(findings[1].problem.contains("does not link"))
    }

    @Test("deleting the newest row of a partition is found through the chain head")
    func deletedLastRow() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.execute(
            """
            DELETE FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 0
              AND kafka_offset = (SELECT max(kafka_offset) FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 0)
            """)
        let findings = try await fixture.verify().findings
        let last = try fixture.checkpoint(partition: 0) - 1
        #expect(findings.count == 2, "\(findings)")
        #expect(findings.first?.offset == last)
        #expect(findings.first?.problem.contains("checkpoint") == true)
        #expect(findings.last?.problem.contains("chain head") == true)
    }

    @Test("v4: an event that is not valid for its topic keeps its attributes and says why, and --log agrees")
    func eventInvalidForItsTopicHasItsProblem() async throws {
        let fixture = try await AuditFixture(events: 3, partitions: 1)
        var wrongType = SampleEvents.report(100)
        wrongType.type = "vn.gso.classification.published"
        var badData = SampleEvents.report(101)
        badData.data = ["reportingUnit": "unit-1"]
        let unkeyed = SampleEvents.report(102)
        let producer = try Producer(configuration: fixture.cluster.configuration())
        for event in [wrongType, badData] {
            _ = try await producer.send(EventPublisher.record(for: event, topic: "reports"))
        }
        _ = try await producer.send(OutgoingMessage(topic: "reports", key: nil, value: unkeyed.canonicalJSON()))
        await producer.close()
        _ = try await fixture.runToEnd()
        let rows = try fixture.rows(
            "SELECT event_id, problem FROM \(fixture.schema).events WHERE problem IS NOT NULL ORDER BY kafka_offset")
        #expect(rows.map { $0[0] } == [wrongType.id, badData.id, unkeyed.id])
        #expect(rows[0][1]?.contains("not valid for topic reports: event type 'vn.gso.classification.published' is not carried") == true, "\(rows)")
        #expect(rows[1][1]?.hasPrefix("not valid for topic reports:") == true, "\(rows)")
        #expect(rows[2][1]?.contains("the record has no key") == true, "\(rows)")
        #expect(try fixture.rows("SELECT count(*) FROM \(fixture.schema).events WHERE problem IS NULL") == [["3"]])
        let verification = try await fixture.verify(log: true)
        #expect(verification.isIntact, "\(verification.findings)")
        // A problem erased from the row is found against the log (and by the chain).
        try fixture.execute("UPDATE \(fixture.schema).events SET problem = NULL WHERE event_id = $1", [badData.id])
        let findings = try await fixture.verify(log: true).findings
        #expect(findings.contains { $0.problem.contains("problem differs from what the log's record gives") }, "\(findings)")
    }

    @Test("a record that is not a valid event is recorded with its problem, in the chain, not skipped")
    func invalidRecordIsRecorded() async throws {
        let fixture = try await AuditFixture(events: 10, partitions: 1)
        let producer = try Producer(configuration: fixture.cluster.configuration())
        _ = try await producer.send(OutgoingMessage(topic: "reports", key: nil, value: Array("{not json".utf8)))
        await producer.close()
        let summary = try await fixture.runToEnd()
        #expect(summary.applied == 11)
        let db = try fixture.database.connect()
        defer { db.close() }
        let rows = try db.query("SELECT kafka_offset, problem FROM \(fixture.schema).events WHERE problem IS NOT NULL")
        #expect(rows.count == 1)
        #expect(try rows.first?.decode(Int64.self, at: 0) == 10)
        #expect(try rows.first?.decode(String.self, at: 1).contains("invalid JSON") == true)
        #expect(try await fixture.verify().isIntact)
    }
}

@Suite("Audit trail: records that are not events", .serialized)
struct AuditProblemRecordTests {
    @Test("a record whose problem quotes a NUL character is recorded, not refused by the database")
    func problemQuotingNul() async throws {
        let fixture = try await AuditFixture(events: 3, partitions: 1)
        let producer = try Producer(configuration: fixture.cluster.configuration())
        _ = try await producer.send(OutgoingMessage(topic: "reports", key: nil, value: Array(#"{"a\u0000":1,"a\u0000":2}"#.utf8)))
        await producer.close()
        let summary = try await fixture.runToEnd()
        #expect(summary.applied == 4)
        #expect(summary.deadLettered == 0)
        let db = try fixture.database.connect()
        defer { db.close() }
        let problem = try db.query("SELECT problem FROM \(fixture.schema).events WHERE kafka_offset = 3")[0].decode(String.self, at: 0)
        #expect(problem.contains(#"duplicate key "a\u0000""#), "\(problem)")
        #expect(try await fixture.verify(log: true).isIntact)
    }
}

@Suite("Audit trail completeness", .serialized)
struct AuditCompletenessTests {
    @Test("a partition whose first rows were never recorded is reported by verify")
    func missingBeginning() async throws {
        let fixture = try await AuditFixture(events: 200, partitions: 2)
        _ = try await fixture.runToEnd()
        // Deleting the first row of a partition and rewriting the second as if it were the first leaves a
        // self-consistent chain; only the starting offset shows that something is missing.
        try fixture.execute("DELETE FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 1 AND kafka_offset = 0")
        try fixture.relink(partition: 1)
        let result = try await fixture.verify()
        let first = try #require(result.firstBadRow)
        #expect(first.partition == 1)
        #expect(first.offset == 0)
        #expect(first.problem.contains("never recorded"))
        // From v4 the signed head over the partition's first row no longer holds either.
        #expect(result.findings.count == 2, "\(result.findings)")
        #expect(result.findings.last?.problem.contains("signed tree head for the first 1 rows") == true, "\(result.findings)")
    }
}

/// A projection that signals `stop` once it has written its first batch (the batch still commits).
struct StopsAfterItsFirstBatch<Inner: Projection>: Projection {
    let inner: Inner
    let stop: StopSignal

    var identity: ProjectionIdentity { inner.identity }
    var topics: [String] { inner.topics }
    var referenceTopics: [String] { inner.referenceTopics }

    func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> Inner.Row {
        try inner.decode(record, reader: reader)
    }

    func apply(_ batch: [ProjectionRecord<Inner.Row>], on db: PostgresConnection) throws {
        try inner.apply(batch, on: db)
        stop.stop()
    }
}

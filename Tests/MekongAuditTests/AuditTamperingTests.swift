import Foundation
import MekongAudit
import MekongEvents
import MekongEvidence
import MekongKafka
import MekongPublishing
import MekongTestSupport
import MekongPostgres
import Testing

/// Tampering that needs no hashing (issue 12, defect 10): each of these went unnoticed by the verifier before.
@Suite("Audit tampering without hashing", .serialized)
struct AuditTamperingTests {
    @Test("(a) an edited recorded_time is found")
    func editedRecordedTime() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.execute(
            "UPDATE \(fixture.schema).events SET recorded_time = recorded_time - interval '3 days' WHERE topic = 'reports' AND partition = $1 AND kafka_offset = $2",
            [2, 5])
        let first = try #require(try await fixture.verify().firstBadRow)
        #expect(first.partition == 2)
        #expect(first.offset == 5)
        #expect(first.problem.contains("recorded_time") || first.problem.contains("chain_hash"), "\(first)")
    }

    @Test("(b) source, subject and type rewritten on a row that claims a problem are found")
    func rewrittenBehindAProblem() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        // v4's table refuses such a row; whoever can write the tables can drop that check too.
        try fixture.execute("ALTER TABLE \(fixture.schema).events DROP CONSTRAINT events_check1")
        try fixture.execute(
            """
            UPDATE \(fixture.schema).events SET problem = 'not a valid event: invalid JSON', event_id = NULL,
                source = 'urn:forged', subject = 'forged/B01/2025-Q3', event_type = 'vn.gso.forged'
            WHERE topic = 'reports' AND partition = $1 AND kafka_offset = $2
            """, [3, 4])
        let first = try #require(try await fixture.verify().firstBadRow)
        #expect(first.partition == 3)
        #expect(first.offset == 4)
    }

    @Test("(c) a partition's rows deleted together with its chain head are found")
    func deletedPartition() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.execute("DELETE FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 3")
        try fixture.execute("DELETE FROM \(fixture.schema).chain_heads WHERE topic = 'reports' AND partition = 3")
        let result = try await fixture.verify()
        let first = try #require(result.firstBadRow)
        #expect(first.partition == 3)
        #expect(first.problem.contains("deleted"), "\(first)")
    }

    @Test("(d) a partition's tail cut off, with the new last hash copied into the chain head, is found")
    func cutTail() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        let db = try fixture.database.connect()
        defer { db.close() }
        let last = try db.query(
            "SELECT max(kafka_offset) FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 1")[0].decode(Int64.self, at: 0)
        let keep = last - 5
        try db.execute("DELETE FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 1 AND kafka_offset > $1", [keep])
        try db.execute(
            """
            UPDATE \(fixture.schema).chain_heads h SET last_offset = e.kafka_offset, chain_hash = e.chain_hash
            FROM \(fixture.schema).events e
            WHERE h.topic = 'reports' AND h.partition = 1 AND e.topic = h.topic AND e.partition = h.partition
              AND e.kafka_offset = $1
            """, [keep])
        let first = try #require(try await fixture.verify().firstBadRow)
        #expect(first.partition == 1)
        #expect(first.offset == keep + 1, "\(first)")
    }
}

@Suite("Audit trail against its checkpoints", .serialized)
struct AuditCheckpointTests {
    @Test("a middle row deleted and the chain relinked around it is found by the checkpoint cross-check")
    func deletedMiddleRowRelinked() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.execute("DELETE FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 2 AND kafka_offset = 6")
        try fixture.relink(partition: 2)
        let findings = try await fixture.verify().findings
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.partition == 2)
        #expect(findings.first?.offset == 6)
        #expect(findings.first?.problem.contains("deleted") == true)
    }

    @Test("a partition never applied by this database's projector, and rows whose checkpoint was deleted, are findings")
    func missingCheckpoints() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        let unapplied = TopicPartition(topic: "admin-records", partition: 0)
        let never = try await fixture.verify(expected: fixture.expectedPartitions + [unapplied]).findings
        #expect(never.count == 1, "\(never)")
        #expect(never.first?.topic == "admin-records")
        #expect(never.first?.offset == nil)
        #expect(never.first?.problem.contains("never applied by this database's projector") == true)

        try fixture.execute(
            "DELETE FROM mekong.checkpoints WHERE projection = 'audit' AND version = $1 AND topic = 'reports' AND partition = 5",
            [fixture.version])
        let deleted = try await fixture.verify().findings
        #expect(deleted.count == 1, "\(deleted)")
        #expect(deleted.first?.partition == 5)
        #expect(deleted.first?.problem.contains("no checkpoint") == true)
    }

    @Test("recorded times with nanoseconds: v3 stores and hashes them truncated to the microsecond, v1 rounds as before")
    func subMicrosecondTimes() async throws {
        for version in [1, 3] {
            let fixture = try await AuditFixture(events: 0, partitions: 1, version: version, label: "subMicrosecondTimes_v\(version)")
            let recorded = try #require(Timestamp(rfc3339: "2025-07-01T08:30:00.123456789Z"))
            let event = SampleEvents.report(1)
            let stamped = CloudEvent(
                id: event.id, source: event.source, type: event.type,
                time: try #require(Timestamp(rfc3339: "2025-07-01T15:29:59.999999500+07:00")), subject: event.subject,
                dataschema: event.dataschema, data: event.data, recordedtime: recorded)
            let producer = try Producer(configuration: fixture.cluster.configuration())
            for result in await EventPublisher(producer: producer).publish([stamped], topic: "reports") { _ = try result.get() }
            await producer.close()
            _ = try await fixture.runToEnd()
            let db = try fixture.database.connect()
            defer { db.close() }
            let stored = try db.query(
                """
                SELECT (extract(epoch FROM recorded_time) * 1000000)::bigint, (extract(epoch FROM event_time) * 1000000)::bigint
                FROM \(fixture.schema).events
                """)[0]
            let seconds = recorded.epochSeconds * 1_000_000
            // v3 truncates (.123456789 → .123456, .9999995 → .999999); v1 rounds to nearest, ties to even.
            #expect(try stored.decode(Int64.self, at: 0) == seconds + (version == 3 ? 123_456 : 123_457))
            #expect(try stored.decode(Int64.self, at: 1) == seconds - 1_000_000 + (version == 3 ? 999_999 : 1_000_000))
            let verification = try await fixture.verify()
            #expect(verification.isIntact, "v\(version): \(verification.findings)")
            #expect(try await fixture.verify(log: true).isIntact)
        }
    }
}

@Suite("Audit trail against the log", .serialized)
struct AuditLogTests {
    @Test("an intact trail verifies clean with and without --log; records not yet recorded are lag, not findings")
    func intact() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        let plain = try await fixture.verify()
        #expect(plain.isIntact, "\(plain.findings)")
        #expect(!plain.comparedWithLog)
        let logged = try await fixture.verify(log: true)
        #expect(logged.isIntact, "\(logged.findings)")
        #expect(logged.comparedWithLog)
        #expect(logged.logRecordsCompared == 300)
        #expect(logged.logRecordsNotYetRecorded == 0)

        let producer = try Producer(configuration: fixture.cluster.configuration())
        for result in await EventPublisher(producer: producer).publish((0..<7).map { SampleEvents.report(1_000 + $0) }, topic: "reports") {
            _ = try result.get()
        }
        await producer.close()
        let behind = try await fixture.verify(log: true)
        #expect(behind.isIntact, "\(behind.findings)")
        #expect(behind.logRecordsCompared == 300)
        #expect(behind.logRecordsNotYetRecorded == 7)
    }

    @Test("a full rewrite (bytes, hashes, every chain hash and the chain head) is found by the signed tree heads")
    func fullRewriteUnderSignedHeads() async throws {
        // One partition of 2 500 rows: heads at its first row, at 1 000 and at 2 000 rows.
        let fixture = try await AuditFixture(events: 2_500, partitions: 1)
        _ = try await fixture.runToEnd()
        #expect(try fixture.rows("SELECT tree_size FROM \(fixture.schema).tree_heads ORDER BY tree_size") == [["1"], ["1000"], ["2000"]])
        let intact = try await fixture.verify()
        #expect(intact.isIntact && intact.treeHeadsChecked == 3, "\(intact.findings)")

        try fixture.replaceWithForgedEvent(partition: 0, offset: 1_500)
        try fixture.relink(partition: 0)
        let findings = try await fixture.verify().findings
        #expect(findings.count == 1, "\(findings)")
        // The head at 1 000 rows still holds; the one at 2 000 does not: the changed row is among offsets 1 000…1 999.
        #expect(findings.first?.offset == 1_000)
        #expect(findings.first?.problem.contains("signed tree head for the first 2000 rows (to offset 1999) does not hold") == true,
                "\(findings)")

        // A head re-signed with another key (the database never holds the audit key) is found as well.
        let forged = SignedTreeHead(
            topic: "reports", partition: 0, size: 2_000, lastOffset: 1_999, root: .zero, chainHash: .zero,
            recordedTime: Timestamp(rfc3339: "2026-12-07T00:00:00Z")!, signedBy: SigningKey(generatingWithID: "audit-test"))
        try fixture.execute("UPDATE \(fixture.schema).tree_heads SET head = $1 WHERE tree_size = 2000", [JSON.serialize(forged.json)])
        let again = try await fixture.verify().findings
        #expect(again.first?.problem.contains("its signature does not verify") == true, "\(again)")
    }

    @Test("the tail cut off with its heads, chain head and checkpoint made to agree, is found against the audit-heads topic")
    func tailCutWithItsHeadsIsFoundAgainstTheTopic() async throws {
        let fixture = try await AuditFixture(events: 2_500, partitions: 1)
        try fixture.cluster.createTopic(AuditHeadsTopic.name, partitions: 1, replicationFactor: 1)
        _ = try await fixture.runToEnd()
        let db = try fixture.database.connect()
        let stored = try AuditHeadsTopic.stored(in: db, version: fixture.version)
        db.close()
        try await AuditHeadsTopic.publish(stored, configuration: fixture.cluster.configuration())
        let published = try #require(try await onThread { try AuditHeadsTopic.read(configuration: fixture.cluster.configuration()) })
        #expect(published.heads == stored && published.unreadable == 0)
        #expect(AuditHeadsTopic.missing(stored, from: published.heads).isEmpty)
        #expect(try await fixture.verify(publishedHeads: published.heads).isIntact)

        // Everything from offset 1 500 on, and the head over 2 000 rows, deleted; the chain head and the checkpoint
        // made to agree with what is left: the trail agrees with itself.
        try fixture.execute("DELETE FROM \(fixture.schema).events WHERE kafka_offset >= 1500")
        try fixture.execute("DELETE FROM \(fixture.schema).tree_heads WHERE tree_size > 1500")
        try fixture.relink(partition: 0)
        try fixture.execute("UPDATE mekong.checkpoints SET next_offset = 1500 WHERE projection = 'audit' AND version = $1", [fixture.version])
        #expect(try await fixture.verify().isIntact, "without the copy, a cut tail that left no trace cannot be seen")
        let findings = try await fixture.verify(publishedHeads: published.heads).findings
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.problem.contains("topic holds a signed head for the first 2000 rows (to offset 1999) that the database lacks") == true,
                "\(findings)")
    }

    @Test("an export checks offline with the public key alone (ops/audit-verify-export.py), and a full rewrite fails it")
    func exportChecksOfflineAndARewriteFailsIt() async throws {
        let fixture = try await AuditFixture(events: 2_500, partitions: 2)
        _ = try await fixture.runToEnd()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-export-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let publicKey = try fixture.headKey.write(to: directory).publicFile.path
        let export = directory.appendingPathComponent("trail.ndjson").path

        func exportAndCheck() async throws -> (Int32, String) {
            let exported = try await ChildProcess.runOffPool(
                ["audit", "export", "--postgres", fixture.database.url, "--version", "\(fixture.version)", "--out", export])
            #expect(exported.status == 0, "\(exported.errors)")
            return try await onThread {
                let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [
                    "python3", MekongBinary.repositoryRoot.appendingPathComponent("ops/audit-verify-export.py").path,
                    "--public-key", publicKey, export,
                ])
                let status = try child.wait(timeout: .seconds(120))
                return (status, child.standardOutput + child.standardError)
            }
        }
        let (status, output) = try await exportAndCheck()
        #expect(status == 0 && output.contains("audit export intact: 2500 rows in 2 partitions"), "\(output)")

        // Rewritten with every chain hash recomputed: the head over the partition's first 1 000 rows no longer holds.
        try fixture.replaceWithForgedEvent(partition: 1, offset: 700)
        try fixture.relink(partition: 1)
        let (failed, report) = try await exportAndCheck()
        #expect(failed == 1, "\(report)")
        #expect(report.contains("reports[1]@999: the signed tree head for the first 1000 rows does not hold"), "\(report)")
    }

    @Test("the rows after the newest signed head: a consistent rewrite there is found only with --log")
    func consistentRewrite() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.replaceWithForgedEvent(partition: 1, offset: 3)
        try fixture.relink(partition: 1)
        let plain = try await fixture.verify()
        #expect(plain.isIntact, "without the log, a consistent rewrite cannot be told apart: \(plain.findings)")
        let findings = try await fixture.verify(log: true).findings
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.partition == 1)
        #expect(findings.first?.offset == 3)
        #expect(findings.first?.problem.contains("differs from the log's record") == true)
    }

    @Test("--log finds a row the log does not hold, and rows the log holds that the trail lost")
    func extraAndMissing() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        // Extra: a forged event appended to partition 2 with its link, its chain head and a checkpoint moved past it.
        let next = try fixture.checkpoint(partition: 2)
        let forged = SampleEvents.report(77_777)
        let bytes = forged.canonicalJSON()
        try fixture.execute(
            """
            INSERT INTO \(fixture.schema).events (topic, partition, kafka_offset, event_id, event_type, source, subject,
                event_time, recorded_time, event_bytes, event_hash, previous_chain_hash, chain_hash)
            VALUES ('reports', 2, $1, $2, $3, $4, $5, $6::timestamptz, $6::timestamptz, $7, $8, $9, $9)
            """,
            [next, forged.id, forged.type, forged.source, forged.subject, forged.time.text, bytes,
             EventHash.sha256(bytes).bytes, EventHash.zero.bytes])
        try fixture.relink(partition: 2)
        try fixture.execute(
            "UPDATE mekong.checkpoints SET next_offset = $1 WHERE projection = 'audit' AND version = $2 AND topic = 'reports' AND partition = 2",
            [next + 1, fixture.version])
        // Missing, disguised: a row of partition 4 deleted, the chain relinked, and a dead letter forged in its place.
        try fixture.execute("DELETE FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 4 AND kafka_offset = 5")
        try fixture.relink(partition: 4)
        try fixture.execute(
            """
            INSERT INTO mekong.dead_letters (projection, version, topic, partition, kafka_offset, stage, reason,
                record_value, record_headers)
            VALUES ('audit', $1, 'reports', 4, 5, 'apply', 'forged', '\\x7b7d'::bytea, '[]')
            """, [fixture.version])
        let plain = try await fixture.verify()
        #expect(plain.isIntact, "both are consistent with the trail and its checkpoints: \(plain.findings)")
        #expect(plain.deadLetters == 1)

        // Missing, plainly: a row of partition 0 deleted and nothing else done.
        try fixture.execute("DELETE FROM \(fixture.schema).events WHERE topic = 'reports' AND partition = 0 AND kafka_offset = 3")

        let logged = try await fixture.verify(log: true)
        let findings = logged.findings.sorted { ($0.partition, $0.offset ?? -1) < ($1.partition, $1.offset ?? -1) }
        #expect(findings.map(\.partition) == [0, 0, 2, 4], "\(findings)")
        #expect(findings[0].offset == 3)
        #expect(findings[0].problem.contains("the log holds 1 record(s) there, the first at offset 3"))
        #expect(findings[1].offset == 4)
        #expect(findings[1].problem.contains("does not link"))
        #expect(findings[2].offset == next)
        #expect(findings[2].problem.contains("the log holds no record at this offset"))
        #expect(findings[3].offset == 5)
        #expect(findings[3].problem.contains("does not hold the log's record"))
        #expect(logged.logRecordsCompared == 300 - 1)
    }
}

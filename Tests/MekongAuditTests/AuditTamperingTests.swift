import Foundation
import MekongAudit
import MekongEvents
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
            "UPDATE audit_v1.events SET recorded_time = recorded_time - interval '3 days' WHERE topic = 'reports' AND partition = $1 AND kafka_offset = $2",
            [2, 5])
        let first = try #require(try fixture.verify().firstBadRow)
        #expect(first.partition == 2)
        #expect(first.offset == 5)
        #expect(first.problem.contains("recorded_time") || first.problem.contains("chain_hash"), "\(first)")
    }

    @Test("(b) source, subject and type rewritten on a row that claims a problem are found")
    func rewrittenBehindAProblem() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.execute(
            """
            UPDATE audit_v1.events SET problem = 'not a valid event: invalid JSON', event_id = NULL,
                source = 'urn:forged', subject = 'forged/B01/2025-Q3', event_type = 'vn.gso.forged'
            WHERE topic = 'reports' AND partition = $1 AND kafka_offset = $2
            """, [3, 4])
        let first = try #require(try fixture.verify().firstBadRow)
        #expect(first.partition == 3)
        #expect(first.offset == 4)
    }

    @Test("(c) a partition's rows deleted together with its chain head are found")
    func deletedPartition() async throws {
        let fixture = try await AuditFixture(events: 300)
        _ = try await fixture.runToEnd()
        try fixture.execute("DELETE FROM audit_v1.events WHERE topic = 'reports' AND partition = 3")
        try fixture.execute("DELETE FROM audit_v1.chain_heads WHERE topic = 'reports' AND partition = 3")
        let result = try fixture.verify()
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
            "SELECT max(kafka_offset) FROM audit_v1.events WHERE topic = 'reports' AND partition = 1")[0].decode(Int64.self, at: 0)
        let keep = last - 5
        try db.execute("DELETE FROM audit_v1.events WHERE topic = 'reports' AND partition = 1 AND kafka_offset > $1", [keep])
        try db.execute(
            """
            UPDATE audit_v1.chain_heads h SET last_offset = e.kafka_offset, chain_hash = e.chain_hash
            FROM audit_v1.events e
            WHERE h.topic = 'reports' AND h.partition = 1 AND e.topic = h.topic AND e.partition = h.partition
              AND e.kafka_offset = $1
            """, [keep])
        let first = try #require(try fixture.verify().firstBadRow)
        #expect(first.partition == 1)
        #expect(first.offset == keep + 1, "\(first)")
    }
}

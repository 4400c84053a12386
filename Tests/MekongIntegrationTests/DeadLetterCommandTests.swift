import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongTestSupport
import Testing

@Suite("mekong dlq", .serialized)
struct DeadLetterCommandTests {
    /// The core tables, and one dead letter of the audit trail at `reports[0]@offset` holding `value`; returns its id.
    static func insert(_ value: [UInt8], offset: Int64, on db: PostgresConnection) throws -> Int64 {
        try MigrationRunner(directory: MekongBinary.repositoryRoot.appendingPathComponent("Projections"))
            .apply(projection: "core", version: 1, on: db)
        return try db.query(
            """
            INSERT INTO mekong.dead_letters (projection, version, topic, partition, kafka_offset, stage, reason,
                                             record_key, record_value, record_headers, record_timestamp_ms)
            VALUES ('audit', 2, 'reports', 0, $1, 'apply', 'test', $2, $3, '[]', 1700000000123) RETURNING id
            """, [offset, Array("unit-1/B01/2025-Q3".utf8), value])[0].decode(Int64.self, at: 0)
    }

    @Test("redrive refuses a record over the limit by name, --all-pending skips it; close takes it out of pending")
    func tooLargeThenClosed() async throws {
        let fixture = try CommandLineFixture()
        let db = try fixture.database.connect()
        defer { db.close() }
        let big = try Self.insert(Array(repeating: UInt8(ascii: "x"), count: 2_400_000), offset: 1, on: db)
        let small = try Self.insert(Array(JSON.serialize(SampleEvents.report(0).json).utf8), offset: 2, on: db)
        let connection = fixture.connection

        let byID = try await fixture.mekong(["dlq", "redrive", "\(small)", "\(big)"] + connection)
        #expect(byID.status == 1)
        #expect(byID.errors.contains("dead letter \(big) holds a record of 2400000 bytes, over the limit of 1048576 bytes"), "\(byID.errors)")
        #expect(byID.errors.contains("mekong dlq close \(big) --reason"))
        #expect(byID.errors.contains("nothing was redriven"))
        #expect(try fixture.recordCount("reports", partitions: 6) == 0)

        let pending = try await fixture.mekong(["dlq", "redrive", "--all-pending"] + connection)
        #expect(pending.status == 0, "\(pending.errors)")
        #expect(pending.output.contains("redrove \(small): reports[0]@2 → reports["), "\(pending.output)")
        #expect(pending.errors.contains("skipped: dead letter \(big) holds a record of 2400000 bytes"), "\(pending.errors)")
        #expect(pending.errors.contains("1 dead letter(s) redriven, 1 skipped"))
        #expect(try fixture.recordCount("reports", partitions: 6) == 1)

        let again = try await fixture.mekong(["dlq", "redrive", "\(small)"] + connection)
        #expect(again.status == 1)
        #expect(again.errors.contains("dead letter \(small) was already redriven (to reports["), "\(again.errors)")

        let noReason = try await fixture.mekong(["dlq", "close", "\(big)"] + connection)
        #expect(noReason.status != 0)
        #expect(noReason.errors.contains("--reason"), "\(noReason.errors)")
        let closeRedriven = try await fixture.mekong(["dlq", "close", "\(big)", "\(small)", "--reason", "x"] + connection)
        #expect(closeRedriven.status != 0)
        #expect(closeRedriven.errors.contains("dead letter \(small) was already redriven"), "\(closeRedriven.errors)")
        #expect(closeRedriven.errors.contains("nothing was closed"))

        let close = try await fixture.mekong(["dlq", "close", "\(big)", "--reason", "export of 2.4 MB by mistake"] + connection)
        #expect(close.status == 0, "\(close.errors)")
        #expect(close.output.contains("closed \(big): reports[0]@1"))
        let list = try await fixture.mekong(["dlq", "list"] + connection)
        #expect(list.errors.contains("0 dead letter(s)"), "\(list.output) \(list.errors)")
        let all = try await fixture.mekong(["dlq", "list", "--all"] + connection)
        #expect(all.output.contains("closed: export of 2.4 MB by mistake"), "\(all.output)")
        #expect(all.output.contains("redriven to reports["))
        let show = try await fixture.mekong(["dlq", "show", "\(big)"] + connection)
        #expect(show.output.contains("closed:         at "), "\(show.output)")
        #expect(show.output.contains(": export of 2.4 MB by mistake"))
        #expect(show.output.contains("record time:    2023-11-14T22:13:20.123Z (1700000000123 ms)"), "\(show.output)")
        let closeTwice = try await fixture.mekong(["dlq", "close", "\(big)", "--reason", "again"] + connection)
        #expect(closeTwice.status != 0)
        #expect(closeTwice.errors.contains("dead letter \(big) is already closed (export of 2.4 MB by mistake)"))
    }

    @Test("two `mekong dlq redrive` of one dead letter at once: one publishes it, the other says it was already redriven")
    func concurrentCommands() async throws {
        let fixture = try CommandLineFixture()
        let db = try fixture.database.connect()
        defer { db.close() }
        let id = try Self.insert(Array(JSON.serialize(SampleEvents.report(0).json).utf8), offset: 5, on: db)
        let arguments = ["dlq", "redrive", "\(id)"] + fixture.connection
        async let first = fixture.mekong(arguments)
        async let second = fixture.mekong(arguments)
        let runs = try await [first, second]
        #expect(runs.map(\.status).sorted() == [0, 1], "\(runs.map(\.errors))")
        #expect(runs.filter { $0.errors.contains("dead letter \(id) was already redriven") }.count == 1, "\(runs.map(\.errors))")
        #expect(try fixture.recordCount("reports", partitions: 6) == 1)
    }
}

import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongStatistics
import MekongTestSupport
import Testing

@Suite("Redrive and rebuild")
struct RedriveRebuildTests {
    @Test("a report dead-lettered for missing master data and redriven after the fix: live tables equal a rebuild's, checksum and as-of")
    func redrivenReportEqualsRebuild() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        try await fixture.publish([IndicatorTableTests.units2024(e)] + IndicatorTableTests.indicators(e))
        let good = e.reportSubmitted(
            unit: "U1", form: "F1", period: "2024-M02",
            observations: [Observation(indicator: "POP", area: "C111", value: 7)], source: "urn:test", at: at(10))
        // C113 does not exist yet: this report is dead-lettered live.
        let early = e.reportSubmitted(
            unit: "U2", form: "F1", period: "2024-M02",
            observations: [Observation(indicator: "POP", area: "C113", value: 5)], source: "urn:test", at: at(11))
        try await fixture.publish([good, early])
        #expect(try await fixture.project().deadLettered == 1)
        let between = Timestamp(date: Date()).text  // after the original was written, before the redrive

        try await fixture.publish([e.itemsChanged(
            "vn-admin-units", version: "2024", effectiveDate: "2024-01-01",
            changes: [.open(code: "C113", parent: "D11", level: 4, nameVi: "Xã 113")], at: at(20))])
        try await fixture.project()
        try await Task.sleep(for: .milliseconds(1_100))  // the copy's own Kafka timestamp is clearly later
        let db = try fixture.database.connect()
        defer { db.close() }
        let store = DeadLetterStore(db: db)
        let pending = try store.list(projection: "statistics")
        #expect(pending.count == 1)
        let producer = try Producer(configuration: fixture.cluster.configuration())
        _ = try await store.redrive(pending.map(\.id), producer: producer)
        await producer.close()
        let redriven = try await fixture.project()
        #expect(redriven.applied == 1 && redriven.deadLettered == 0)

        let asOf = "SELECT area, value::text FROM statistics.observations_as_of($1::timestamptz) ORDER BY 1"
        let submissions = "SELECT event_id, recorded_time::text, kafka_topic, kafka_partition, kafka_offset FROM statistics.submissions ORDER BY 1"
        let live = (
            checksum: try fixture.checksum(), asOf: try fixture.rows(asOf, [between]),
            submissions: try fixture.rows(submissions))
        #expect(live.asOf == [["C111", "7"], ["C113", "5"]], "as known between the original and the redrive: the original's time counts")

        // Rebuild the same version from offset 0: the master data first, so the original applies and its redriven
        // copy repeats an event id already applied.
        try db.execute("DROP SCHEMA statistics_v2 CASCADE")
        for table in ["checkpoints", "schema_migrations", "projection_versions", "dead_letters"] {
            try db.execute("DELETE FROM mekong.\(table) WHERE projection = 'statistics'")
        }
        let rebuild = try await fixture.project()
        #expect(rebuild.deadLettered == 0)
        #expect(try fixture.rows(submissions) == live.submissions)
        #expect(try fixture.rows(asOf, [between]) == live.asOf)
        #expect(try fixture.checksum() == live.checksum)
    }
}

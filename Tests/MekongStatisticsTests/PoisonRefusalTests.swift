import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongStatisticalEvents
import MekongStatistics
import MekongTestSupport
import Testing

/// The statistics projection without applyRefusing: every bad report is found by halving batches.
struct ApplyOnlyStatistics: Projection {
    let inner = StatisticsProjection()
    var identity: ProjectionIdentity { inner.identity }
    var topics: [String] { inner.topics }
    var referenceTopics: [String] { inner.referenceTopics }

    func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> StatisticsProjection.Row {
        try inner.decode(record, reader: reader)
    }
    func apply(_ batch: [ProjectionRecord<StatisticsProjection.Row>], on db: PostgresConnection) throws {
        try inner.apply(batch, on: db)
    }
    func finishCatchUp(on db: PostgresConnection) throws -> Bool { try inner.finishCatchUp(on: db) }
}

@Suite("Poison refused set-wise")
struct PoisonRefusalTests {
    /// 400 monthly reports, every 50th with an area code that does not exist, one with an undefined indicator.
    static func reports(_ e: StatisticalEvents) -> [CloudEvent] {
        (0..<400).map { i in
            let area = i % 50 == 7 ? "C999" : ["C111", "C112", "C211"][i % 3]
            let indicator = i == 123 ? "GDP" : "POP"
            return e.reportSubmitted(
                unit: "U\(i)", form: "F1", period: "2024-M0\(1 + i % 9)",
                observations: [Observation(indicator: indicator, area: area, value: Double(i))], source: "urn:test",
                at: at(100 + i))
        }
    }

    @Test("bad reports are refused set-wise while the rest is written, without halving batches; the result and the reasons equal the isolating path")
    func badReportsCostNoIsolation() async throws {
        let refusing = try StatisticsFixture("refusing")
        let e = refusing.events
        let events = [IndicatorTableTests.units2024(e)] + IndicatorTableTests.indicators(e) + Self.reports(e)
        try await refusing.publish(events)
        let summary = try await refusing.project(batchSize: 500)
        #expect(summary.deadLettered == 9)
        #expect(summary.applied == events.count - 9)
        #expect(summary.isolatingApplies == 0, "applyRefusing named every bad report: \(summary)")

        let isolating = try StatisticsFixture("isolating")
        try await isolating.publish(events)
        let slow = try await isolating.project(ApplyOnlyStatistics(), batchSize: 500)
        #expect(slow.deadLettered == 9)
        #expect(slow.isolatingApplies > 9, "without applyRefusing each bad report costs several applies: \(slow)")

        let current = "SELECT indicator, period, area, value::text FROM statistics.observations_current ORDER BY 1, 2, 3"
        #expect(try refusing.rows(current) == isolating.rows(current))
        #expect(try refusing.checksum() == isolating.checksum())
        let ids = "SELECT event_id FROM mekong.dead_letters ORDER BY 1"
        #expect(try refusing.rows(ids) == isolating.rows(ids))
        // The same message either way (the isolating path carries PostgreSQL's prefix and SQLSTATE).
        for (fast, slow) in zip(try refusing.deadLetterReasons(), try isolating.deadLetterReasons()) {
            #expect(slow.hasSuffix(fast), "\(fast) vs \(slow)")
        }
    }
}

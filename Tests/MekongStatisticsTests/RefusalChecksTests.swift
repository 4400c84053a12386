import MekongKafka
import MekongPostgres
import MekongTestSupport
import Testing

/// `apply_reports` refuses a report for the first of five checks its observations fail (undefined indicator, period
/// type, dimension names, code validity, repeated observation), naming the first failing observation. The checks
/// are decided on distinct values and list observations only when something fails (012_checks_and_plans.sql);
/// random batches with random faults are held here to a model of the rules written from docs/statistics.md.
@Suite("Report checks") struct RefusalChecksTests {
    /// One staged observation: what `StatisticsProjection` copies into `pg_temp.incoming_observations`.
    struct StagedObservation {
        var indicator: String
        var area: String
        /// The JSON of the dimensions other than area, as text: `{}` and ` { } ` are the same dimensions.
        var dimensions: String
        /// Every dimension name, area included, joined by U+001F.
        var names: String
    }

    struct StagedReport {
        var eventID: String
        var period: String
        var observations: [StagedObservation]
    }

    static let areas = ["VN", "P1", "P2", "D11", "D12", "D21", "C111", "C112", "C121", "C211"]
    static let periodicities = ["POP": ["month", "year"], "RATE": ["month"]]

    /// The reason the rules give for `report`, or nil when it is accepted.
    static func expectedReason(_ report: StagedReport) -> String? {
        let event = report.eventID
        let observations = Array(report.observations.enumerated())
        let defined = observations.filter { periodicities[$0.element.indicator] != nil }
        if let (position, o) = observations.first(where: { periodicities[$0.element.indicator] == nil }) {
            return "event \(event): observations[\(position)].indicator \(o.indicator) is not defined"
        }
        let periodType = report.period.contains("-Q") ? "quarter" : report.period.contains("-M") ? "month" : "year"
        if let (_, o) = defined.first(where: { !periodicities[$0.element.indicator]!.contains(periodType) }) {
            return "event \(event): period \(report.period) is not a periodicity of indicator \(o.indicator) (it has \(periodicities[o.indicator]!.joined(separator: ", ")))"
        }
        if let (position, o) = defined.first(where: { $0.element.names != "area" }) {
            let given = o.names.split(separator: "\u{1f}").sorted().joined(separator: ",")
            return "event \(event): observations[\(position)].dimensions has {\(given)}, but indicator \(o.indicator) has dimensions {area}"
        }
        let referenceDate = ["2024-M01": "2024-01-31", "2024-M02": "2024-02-29", "2024-Q1": "2024-03-31"][report.period]!
        if let (position, o) = defined.first(where: { !areas.contains($0.element.area) }) {
            return "event \(event): observations[\(position)].dimensions.area code \(o.area) is not valid in vn-admin-units for period \(report.period) (reference date \(referenceDate))"
        }
        for (position, o) in observations {
            if let first = observations.first(where: {
                $0.offset < position && $0.element.indicator == o.indicator && $0.element.area == o.area
            }) {
                return "event \(event): observations[\(position)] repeats observations[\(first.offset)] (indicator \(o.indicator), area \(o.area), dimensions \(o.dimensions))"
            }
        }
        return nil
    }

    static func randomBatch(_ random: inout SeededRandom, seed: UInt64) -> [StagedReport] {
        (0..<(10 + Int(random.next() % 30))).map { index in
            let period = random.unit() < 0.08 ? "2024-Q1" : random.unit() < 0.5 ? "2024-M01" : "2024-M02"
            var observations: [StagedObservation] = []
            for _ in 0..<(1 + Int(random.next() % 5)) {
                let fault = random.unit()
                if fault < 0.06, !observations.isEmpty {
                    // The same key again, its dimensions written differently or not.
                    var again = observations[Int(random.next() % UInt64(observations.count))]
                    again.dimensions = random.unit() < 0.5 ? " { } " : "{}"
                    observations.append(again)
                    continue
                }
                observations.append(StagedObservation(
                    indicator: fault < 0.1 ? "GDP" : random.unit() < 0.5 ? "POP" : "RATE",
                    area: fault > 0.1 && fault < 0.15 ? "C999" : areas[Int(random.next() % UInt64(areas.count))],
                    dimensions: "{}",
                    names: fault > 0.15 && fault < 0.19 ? "sex\u{1f}area" : "area"))
            }
            return StagedReport(eventID: "e-\(seed)-\(index)", period: period, observations: observations)
        }
    }

    @Test("random batches with random faults: each refused report names the first failing check and observation",
          arguments: 0..<12)
    func randomFaults(seed: UInt64) async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        try await fixture.publish([IndicatorTableTests.units2024(e)] + IndicatorTableTests.indicators(e))
        try await fixture.project()
        let db = try fixture.database.connect()
        defer { db.close() }
        var random = SeededRandom(seed: seed &* 7919 &+ 3)
        let batch = Self.randomBatch(&random, seed: seed)
        try db.execute("BEGIN")
        try db.execute("SELECT statistics_v2.prepare_report_staging()")
        for (ordinal, report) in batch.enumerated() {
            try db.execute(
                """
                INSERT INTO pg_temp.incoming_reports (ordinal, event_id, reporting_unit, form, period, action, revision,
                    recorded_time, kafka_topic, kafka_partition, kafka_offset)
                VALUES ($1::int, $2, $3, 'F', $4, 'merge', 1, '2024-06-01T00:00:00Z', 'reports', 0, $5::bigint)
                """, [String(ordinal), report.eventID, "U\(ordinal)", report.period, String(ordinal)])
            for (position, o) in report.observations.enumerated() {
                try db.execute(
                    """
                    INSERT INTO pg_temp.incoming_observations (event_id, position, indicator, area, dimensions,
                        dimension_names, value, unit_multiplier, status, confidentiality)
                    VALUES ($1, $2::int, $3, $4, $5, $6, '1', 0, 'normal', 'free')
                    """, [report.eventID, String(position), o.indicator, o.area, o.dimensions, o.names])
            }
        }
        let refused = try db.query("SELECT ordinal, reason FROM statistics_v2.apply_reports()").map {
            "\(try $0.decode(Int.self, at: 0)): \(try $0.decode(String.self, at: 1))"
        }
        let accepted = try db.query("SELECT event_id FROM statistics_v2.submissions WHERE event_id LIKE $1 ORDER BY 1", ["e-\(seed)-%"])
            .map { try $0.decode(String.self, at: 0) }
        try db.execute("ROLLBACK")

        let expected = batch.enumerated().compactMap { ordinal, report in
            Self.expectedReason(report).map { "\(ordinal): \($0)" }
        }
        #expect(refused == expected)
        #expect(accepted == batch.filter { Self.expectedReason($0) == nil }.map(\.eventID).sorted())
    }

    @Test("over the seeds, the random batches exercise all five checks and clean reports")
    func generatorCoversEveryCheck() {
        var seen = Set<String>()
        for seed in UInt64(0)..<12 {
            var random = SeededRandom(seed: seed &* 7919 &+ 3)
            for report in Self.randomBatch(&random, seed: seed) {
                let reason = Self.expectedReason(report)
                for marker in ["is not defined", "is not a periodicity", "dimensions has", "is not valid in", "repeats"]
                where reason?.contains(marker) == true { seen.insert(marker) }
                if reason == nil { seen.insert("accepted") }
            }
        }
        #expect(seen.count == 6, "\(seen)")
    }
}

import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongStatisticalEvents
import MekongStatistics
import MekongTestSupport
import Testing

/// The materialized tables of statistics v2 against the oracle (`Reference/indicator_tables.sql`: version 1's
/// query-time definitions, and a query-time re-expression by v2's rules), on randomized scenarios: revisions out
/// of order, merge/replace/delete, two reports giving the same observation, values reported at several levels,
/// weighted means with missing weights, missing, provisional and confidential inputs, a mid-year hierarchy change
/// and a definition change arriving after the reports they affect, a reform with merges and splits (weights exact,
/// estimated or unknown). Each seed is projected live in two phases with random batch sizes, compared with the
/// oracle row for row (now and as known at random times), rebuilt from offset 0 with another batch size, and
/// projected from a log written in another order; every run must give the same tables.
@Suite("Materialized indicator tables equal the query-time oracle", .serialized)
struct MaterializedTablesTests {
    static let seeds: [UInt64] = [11, 23, 37, 41, 59, 73]

    @Test("randomized scenarios: live in two phases, rebuilt and reordered, equal to the oracle", arguments: seeds)
    func materializedTablesEqualTheOracle(seed: UInt64) async throws {
        let scenario = Scenario(seed: seed)
        let live = try StatisticsFixture("materialized_\(seed)")
        try loadReference(live)
        // The live run maintains the derived tables batch by batch from its first event, as a version that caught
        // up on an empty log does; the rebuilds below defer them and derive them in one pass once caught up, so
        // the two paths are compared with each other as well as with the oracle.
        let setup = try live.database.connect()
        #expect(try setup.query("SELECT statistics_v2.derive_all()")[0].decode(Bool.self, at: 0))
        setup.close()
        var random = SeededRandom(seed: seed ^ 0xBA7C4)
        let sizes = [1, 7, 500, 5_000]

        try await live.publish(scenario.phase1)
        let first = try await live.project(batchSize: random.element(of: sizes))
        #expect(first.deadLettered == 0, "seed \(seed): \((try? live.deadLetterReasons()) ?? [])")
        try compare(live, scenario, seed: seed, phase: 1, random: &random)

        try await live.publish(scenario.phase2)
        let second = try await live.project(batchSize: random.element(of: sizes))
        #expect(second.deadLettered == 0, "seed \(seed): \((try? live.deadLetterReasons()) ?? [])")
        try compare(live, scenario, seed: seed, phase: 2, random: &random)
        let liveTables = try tableDigests(live)

        // The same version rebuilt from offset 0 (master data first) with another batch size.
        let db = try live.database.connect()
        defer { db.close() }
        try db.execute("DROP SCHEMA statistics_v2 CASCADE")
        for table in ["checkpoints", "schema_migrations", "projection_versions"] {
            try db.execute("DELETE FROM mekong.\(table) WHERE projection = 'statistics'")
        }
        _ = try await live.project(batchSize: random.element(of: sizes))
        #expect(try tableDigests(live) == liveTables, "seed \(seed): a rebuild differs from the live run")

        // The same events written in another order (each key's own order kept) into another cluster.
        let reordered = try StatisticsFixture("materialized_\(seed)_reordered")
        try await reordered.publish(scenario.reordered)
        _ = try await reordered.project(batchSize: random.element(of: sizes))
        var digests = try tableDigests(reordered)
        var expected = liveTables
        // Kafka positions differ with the order of the log; everything derived from the events must not.
        digests["submissions"] = nil
        expected["submissions"] = nil
        #expect(digests == expected, "seed \(seed): another interleaving gives other tables")
    }

    /// Every materialized table against the oracle, now and as known at three random times.
    func compare(_ fixture: StatisticsFixture, _ scenario: Scenario, seed: UInt64, phase: Int,
                 random: inout SeededRandom) throws {
        let label = "seed \(seed), phase \(phase)"
        let current = """
            SELECT indicator, period, area, dimensions::text, value::text, status, confidentiality, event_id,
                   reporting_unit, revision::text, recorded_time::text
            FROM %@ ORDER BY 1, 2, 3, 4
            """
        let materialized = try fixture.rows(current.replacingOccurrences(of: "%@", with: "statistics_v2.observations_current"))
        #expect(!materialized.isEmpty, "\(label): the scenario reports something")
        #expect(materialized == (try fixture.rows(current.replacingOccurrences(
            of: "%@", with: "reference.observations_as_of('infinity')"))), "\(label): observations_current")

        let times = ["infinity"] + (0..<3).map { _ in at(random.int(in: 0...(phase == 1 ? 4_000 : 10_000))).text }
        for known in times {
            for indicator in Scenario.indicators {
                let values = """
                    SELECT period, area, area_level::text, dimensions::text, value::text, status, confidentiality,
                           origin, inputs::text
                    FROM %@($1, $2::timestamptz) ORDER BY period, area, dimensions::text
                    """
                guard try definedAt(fixture, indicator, known) else { continue }
                let got = try fixture.rows(values.replacingOccurrences(of: "%@", with: "statistics.indicator_values"),
                                           [indicator, known])
                let want = try fixture.rows(values.replacingOccurrences(of: "%@", with: "reference.indicator_values"),
                                            [indicator, known])
                #expect(got == want, "\(label): indicator_values(\(indicator)) as known at \(known)")
            }
            guard try correspondenceKnown(fixture, known) else { continue }
            for indicator in try sumIndicators(fixture, known) {
                let reexpressed = """
                    SELECT period, area, dimensions::text, value::text, status, confidentiality,
                           non_comparable::text, sources::text, area_level::text, origin
                    FROM %@($1, 'A', 'B', $2::timestamptz) ORDER BY period, area, dimensions::text
                    """
                let got = try fixture.rows(
                    reexpressed.replacingOccurrences(of: "%@", with: "statistics.indicator_reexpressed"), [indicator, known])
                let want = try fixture.rows(
                    reexpressed.replacingOccurrences(of: "%@", with: "reference.indicator_reexpressed"), [indicator, known])
                #expect(got == want, "\(label): indicator_reexpressed(\(indicator)) as known at \(known)")
                if known == "infinity" { #expect(!got.isEmpty, "\(label): \(indicator) is re-expressed") }
            }
        }
        // A slice as known at a time reads only that slice and gives what the whole fold gives for it.
        let known = at(random.int(in: 0...10_000)).text
        let area = random.element(of: ["C111", "C121", "D11", "P2", "K3"])
        let slice = try fixture.rows(
            """
            SELECT period, dimensions::text, value::text, event_id FROM statistics.observations_as_of($1::timestamptz, 'S', $2)
            ORDER BY 1, 2
            """, [known, area])
        let whole = try fixture.rows(
            """
            SELECT period, dimensions::text, value::text, event_id FROM reference.observations_as_of($1::timestamptz)
            WHERE indicator = 'S' AND area = $2 ORDER BY 1, 2
            """, [known, area])
        #expect(slice == whole, "\(label): observations_as_of(\(known), S, \(area))")
    }

    func definedAt(_ fixture: StatisticsFixture, _ indicator: String, _ known: String) throws -> Bool {
        try !fixture.rows(
            """
            SELECT 1 FROM statistics_v2.indicators WHERE code = $1 AND recorded_from <= $2::timestamptz
              AND (recorded_to IS NULL OR recorded_to > $2::timestamptz)
            """, [indicator, known]).isEmpty
    }

    func correspondenceKnown(_ fixture: StatisticsFixture, _ known: String) throws -> Bool {
        try !fixture.rows(
            "SELECT 1 FROM statistics_v2.correspondences WHERE recorded_from <= $1::timestamptz LIMIT 1", [known]).isEmpty
    }

    func sumIndicators(_ fixture: StatisticsFixture, _ known: String) throws -> [String] {
        try fixture.rows(
            """
            SELECT code FROM statistics_v2.indicators WHERE aggregation = 'sum' AND recorded_from <= $1::timestamptz
              AND (recorded_to IS NULL OR recorded_to > $1::timestamptz) ORDER BY 1
            """, [known]).map { $0[0]! }
    }

    func loadReference(_ fixture: StatisticsFixture) throws {
        // The schema statistics_v2 must exist first: the oracle's functions read its tables.
        let db = try fixture.database.connect()
        defer { db.close() }
        try fixture.migrations.apply(projection: "core", version: 1, on: db)
        try fixture.migrations.apply(projection: "statistics", version: 2, on: db)
        let url = MekongBinary.repositoryRoot.appendingPathComponent("Tests/MekongStatisticsTests/Reference/indicator_tables.sql")
        try db.runScript(try String(contentsOf: url, encoding: .utf8))
    }

    /// The digest of every table of statistics_v2, by name.
    func tableDigests(_ fixture: StatisticsFixture) throws -> [String: String] {
        let db = try fixture.database.connect()
        defer { db.close() }
        let checksum = try ProjectionVersions(db: db).checksum(StatisticsProjection().identity)
        return Dictionary(uniqueKeysWithValues: checksum.tables.map { ($0.name, $0.digest) })
    }
}

/// A random small statistical world (see the suite's description). Phase 1: version A of the units, the
/// indicators, reports of 2024-M01 … M09. Phase 2: a move, a close and an open from 2024-07-01, a redefinition,
/// version B from 2025-01-01 (no district level; communes merged and split), the A → B correspondence, and more
/// reports of 2024 and 2025. Every report is valid under the final master data as well as when it is applied.
struct Scenario {
    static let indicators = ["S", "W", "M", "N", "S2"]
    let phase1: [CloudEvent]
    let phase2: [CloudEvent]
    /// Every event in another order: the master data in its own order, the reports shuffled.
    let reordered: [CloudEvent]

    init(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let e = StatisticalEvents(deterministicFrom: 1_700_000_000_000 + seed * 1_000_000)
        let unitsA: [Item] = [
            Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
            Item(code: "P1", parent: "VN", level: 2, nameVi: "P1"), Item(code: "P2", parent: "VN", level: 2, nameVi: "P2"),
            Item(code: "D11", parent: "P1", level: 3, nameVi: "D11"), Item(code: "D12", parent: "P1", level: 3, nameVi: "D12"),
            Item(code: "D21", parent: "P2", level: 3, nameVi: "D21"), Item(code: "D22", parent: "P2", level: 3, nameVi: "D22"),
            Item(code: "C111", parent: "D11", level: 4, nameVi: "C111"), Item(code: "C112", parent: "D11", level: 4, nameVi: "C112"),
            Item(code: "C121", parent: "D12", level: 4, nameVi: "C121"), Item(code: "C122", parent: "D12", level: 4, nameVi: "C122"),
            Item(code: "C211", parent: "D21", level: 4, nameVi: "C211"), Item(code: "C221", parent: "D22", level: 4, nameVi: "C221"),
            Item(code: "C222", parent: "D22", level: 4, nameVi: "C222"),
        ]
        let unitsB: [Item] = [
            Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
            Item(code: "Q1", parent: "VN", level: 2, nameVi: "Q1"), Item(code: "Q2", parent: "VN", level: 2, nameVi: "Q2"),
            Item(code: "K1", parent: "Q1", level: 3, nameVi: "K1"), Item(code: "K2", parent: "Q1", level: 3, nameVi: "K2"),
            Item(code: "K3", parent: "Q2", level: 3, nameVi: "K3"), Item(code: "K4", parent: "Q2", level: 3, nameVi: "K4"),
        ]
        let sex = e.classificationPublished(
            "sex", version: "1", validFrom: "2000-01-01",
            items: [Item(code: "F", parent: nil, level: 1, nameVi: "Nữ"), Item(code: "M", parent: nil, level: 1, nameVi: "Nam")],
            at: at(0))
        var master1 = [
            e.classificationPublished("vn-admin-units", version: "A", validFrom: "2024-01-01", items: unitsA, at: at(1)),
            sex,
            e.indicatorDefined("S", nameVi: "S", nameEn: "S", unit: "u", periodicities: ["month"], at: at(2)),
            e.indicatorDefined("W", nameVi: "W", nameEn: "W", unit: "u", periodicities: ["month"], at: at(3)),
            e.indicatorDefined("N", nameVi: "N", nameEn: "N", unit: "u", periodicities: ["month"], aggregated: false, at: at(4)),
            e.indicatorDefined(
                "S2", nameVi: "S2", nameEn: "S2", unit: "u", periodicities: ["month"], dimensions: [("sex", "sex")], at: at(5)),
        ]
        // The weighted mean is defined before or after its weight (their keys differ).
        let mean = e.indicatorDefined("M", nameVi: "M", nameEn: "M", unit: "%", periodicities: ["month"], weight: "W", at: at(6))
        if random.next() % 2 == 0 { master1.insert(mean, at: 2) } else { master1.append(mean) }

        let months2024 = (1...12).map { String(format: "2024-M%02d", $0) }
        let months2025 = (1...3).map { String(format: "2025-M%02d", $0) }
        let communesA = ["C111", "C112", "C121", "C122", "C211", "C221", "C222"]
        // Codes valid in phase 1 and after phase 2's changes: C222 closes and C223 opens on 2024-07-01.
        func areasA(_ month: Int, phase2: Bool) -> [String] {
            var areas = communesA + ["D11", "D12", "D21", "D22", "P1", "P2"]
            if month >= 7 { areas.removeAll { $0 == "C222" } }
            if month >= 7 && phase2 { areas.append("C223") }
            return areas
        }
        let areasB = ["K1", "K2", "K3", "K4", "Q1", "Q2"]

        func reportsFor(period: String, areas: [String], units: [String], window: ClosedRange<Int>) -> [CloudEvent] {
            var events: [CloudEvent] = []
            for unit in units where random.unit() < 0.7 {
                let form = random.next() % 3 == 0 ? "F2" : "F1"
                // The unit's areas for this report: mostly communes, sometimes a district or a province; units
                // overlap, so two reports can give the same observation.
                let mine = (0..<random.int(in: 1...4)).map { _ in random.element(of: areas) }
                var revisions: [(Int, String, [Observation])] = []
                let count = random.int(in: 1...3)
                for revision in 1...count {
                    let action = revision == 1 ? "merge" : random.element(of: ["merge", "merge", "replace", "delete"])
                    var observations: [Observation] = []
                    var used = Set<String>()
                    if action != "delete" {
                        for area in mine where random.unit() < 0.85 {
                            for indicator in Scenario.indicators where random.unit() < 0.6 {
                                let sexes = indicator == "S2" ? ["F", "M"].filter { _ in random.unit() < 0.7 } : [""]
                                for sexCode in sexes {
                                    let key = "\(indicator)/\(area)/\(sexCode)"
                                    guard used.insert(key).inserted else { continue }
                                    let missing = random.unit() < 0.08
                                    let value: Double? = missing ? nil : Double(random.int(in: 0...5_000)) / (random.next() % 2 == 0 ? 1 : 10)
                                    observations.append(Observation(
                                        indicator: indicator, area: area,
                                        otherDimensions: sexCode.isEmpty ? [] : [("sex", sexCode)], value: value,
                                        status: random.element(of: ["normal", "normal", "normal", "provisional", "estimated", "forecast"]),
                                        confidentiality: random.element(of: ["free", "free", "free", "free", "confidential", "not-for-publication"])))
                                }
                            }
                        }
                    }
                    revisions.append((revision, action, observations))
                }
                // Revisions arrive in any order, with recorded times unrelated to their numbers.
                var order = Array(revisions.indices)
                for i in order.indices.reversed() { order.swapAt(i, random.int(in: 0...i)) }
                for index in order {
                    let (revision, action, observations) = revisions[index]
                    events.append(e.reportSubmitted(
                        unit: unit, form: form, period: period, action: action, revision: revision,
                        observations: observations, source: "urn:test:\(unit)",
                        at: at(random.int(in: window))))
                }
            }
            return events
        }

        let units = ["U1", "U2", "U3", "PROV"]
        var reports1: [CloudEvent] = []
        for (index, period) in months2024.prefix(9).enumerated() {
            reports1 += reportsFor(period: period, areas: areasA(index + 1, phase2: false), units: units, window: 10...4_000)
        }
        phase1 = master1 + reports1

        // Phase 2: changes that reach reports already applied.
        let weight = random.element(of: [0.25, 0.5, 0.6, 0.75])
        let split: StatisticalEvents.Relation = random.next() % 4 == 0 ? .part(weight: nil) : .part(weight: weight, exact: random.next() % 2 == 0)
        let rest: StatisticalEvents.Relation
        if case .part(let w, let exact) = split, let w { rest = .part(weight: 1 - w, exact: exact) } else { rest = .part(weight: nil) }
        var mappings: [(source: String, target: String, relation: StatisticalEvents.Relation)] = [
            ("C111", "K1", .whole), ("C112", "K1", .whole), ("C121", "K2", split), ("C121", "K3", rest),
            ("C122", "K2", .whole), ("C211", "K3", .whole), ("C221", "K4", .whole), ("C222", "K4", .whole),
            ("C223", "K4", .whole),
        ]
        // Sometimes a province is mapped too: a mapped target wins over its roll-up.
        if random.next() % 2 == 0 { mappings.append(("P2", "Q2", .whole)) }
        var master2 = [
            e.itemsChanged(
                "vn-admin-units", version: "A", effectiveDate: "2024-07-01",
                changes: [
                    .move(code: "C122", parent: "D11", level: 4), .close(code: "C222"),
                    .open(code: "C223", parent: "D22", level: 4, nameVi: "C223"),
                ], at: at(5_000)),
            e.classificationPublished("vn-admin-units", version: "B", validFrom: "2025-01-01", items: unitsB, at: at(5_001)),
            e.correspondencePublished("vn-admin-units", from: "A", to: "B", mappings: mappings, at: at(5_002)),
        ]
        // A redefinition reaching values already applied: N becomes a sum.
        if random.next() % 2 == 0 {
            master2.append(e.indicatorDefined("N", nameVi: "N", nameEn: "N", unit: "u", periodicities: ["month"], at: at(5_003)))
        }
        var reports2: [CloudEvent] = []
        for (index, period) in months2024.enumerated() where random.unit() < 0.6 {
            reports2 += reportsFor(period: period, areas: areasA(index + 1, phase2: true), units: units, window: 5_010...10_000)
        }
        for period in months2025 {
            reports2 += reportsFor(period: period, areas: areasB, units: units, window: 5_010...10_000)
        }
        phase2 = master2 + reports2
        var reports = reports1 + reports2
        for i in reports.indices.reversed() { reports.swapAt(i, random.int(in: 0...i)) }
        reordered = master1 + master2 + reports
    }
}

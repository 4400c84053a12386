import Foundation
import MekongEvents
import MekongStatistics
import MekongTestSupport
import Testing

@Suite(.serialized) struct RevisionAndClassificationTests {
    typealias Scenario = IndicatorTableTests

    @Test func revisionsWinByNumberNotArrivalAndAsOfShowsWhatWasKnown() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        func submit(_ revision: Int, _ action: String, _ observations: [Observation], minute: Int) -> CloudEvent {
            e.reportSubmitted(
                unit: "U1", form: "F1", period: "2024-M03", action: action, revision: revision,
                observations: observations, source: "urn:test", at: at(minute))
        }
        let first = submit(1, "merge", [
            Observation(indicator: "POP", area: "C111", value: 100, status: "provisional"),
            Observation(indicator: "POP", area: "C112", value: 50),
        ], minute: 100)
        let third = submit(3, "replace", [Observation(indicator: "POP", area: "C111", value: 130)], minute: 200)
        // Revision 2 arrives after revision 3: it must not win.
        let second = submit(2, "merge", [Observation(indicator: "POP", area: "C111", value: 120)], minute: 300)
        try await fixture.publish([Scenario.units2024(e)] + Scenario.indicators(e) + [first, third, second])
        try await fixture.project()

        func values(asOf minute: Int?) throws -> [[String?]] {
            let known = minute.map { "'\(at($0).text)'::timestamptz" } ?? "'infinity'"
            return try fixture.rows(
                "SELECT area, value::text, status, revision::text FROM statistics.observations_as_of(\(known)) ORDER BY area")
        }
        #expect(try values(asOf: 50) == [])
        #expect(try values(asOf: 150) == [["C111", "100", "provisional", "1"], ["C112", "50", "normal", "1"]])
        // Revision 3 replaced the report: C112 is withdrawn.
        #expect(try values(asOf: 250) == [["C111", "130", "normal", "3"]])
        #expect(try values(asOf: nil) == [["C111", "130", "normal", "3"]])
        // Every vintage is kept.
        #expect(try fixture.rows(
            "SELECT value::text, revision::text FROM statistics.observation_history WHERE area = 'C111' ORDER BY revision")
            == [["100", "1"], ["120", "2"], ["130", "3"]])

        // A withdrawal (delete) removes the whole report from the current table, not from history.
        try await fixture.publish([submit(4, "delete", [], minute: 400)])
        try await fixture.project()
        #expect(try values(asOf: nil) == [])
        #expect(try values(asOf: 350) == [["C111", "130", "normal", "3"]])
    }

    @Test func theHierarchyValidAtEachPeriodDrivesTheRollUp() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        // From 2024-07-01 the district level is gone: communes hang from provinces, and C121 moves to P2.
        let reform = e.classificationPublished(
            "vn-admin-units", version: "2024b", validFrom: "2024-07-01",
            items: [
                Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
                Item(code: "P1", parent: "VN", level: 2, nameVi: "Tỉnh Một"),
                Item(code: "P2", parent: "VN", level: 2, nameVi: "Tỉnh Hai"),
                Item(code: "C111", parent: "P1", level: 3, nameVi: "Xã 111"),
                Item(code: "C112", parent: "P1", level: 3, nameVi: "Xã 112"),
                Item(code: "C121", parent: "P2", level: 3, nameVi: "Xã 121"),
                Item(code: "C211", parent: "P2", level: 3, nameVi: "Xã 211"),
            ], at: at(5))
        var reports: [CloudEvent] = []
        for (month, minute) in [("2024-M06", 100), ("2024-M07", 200)] {
            for (area, value) in [("C111", 1.0), ("C112", 2.0), ("C121", 4.0), ("C211", 8.0)] {
                reports.append(e.reportSubmitted(
                    unit: "U-\(area)", form: "F1", period: month,
                    observations: [Observation(indicator: "POP", area: area, value: value)], source: "urn:test",
                    at: at(minute)))
            }
        }
        try await fixture.publish([Scenario.units2024(e), reform] + Scenario.indicators(e) + reports)
        try await fixture.project()
        let table = try fixture.rows(
            """
            SELECT period, area, value::text FROM statistics.indicator_values('POP')
            WHERE origin = 'aggregated' ORDER BY period, area
            """)
        #expect(table == [
            ["2024-M06", "D11", "3"], ["2024-M06", "D12", "4"], ["2024-M06", "D21", "8"],
            ["2024-M06", "P1", "7"], ["2024-M06", "P2", "8"], ["2024-M06", "VN", "15"],
            ["2024-M07", "P1", "3"], ["2024-M07", "P2", "12"], ["2024-M07", "VN", "15"],
        ])
        // Master-data queries: the classification on a date, a code's history, a hierarchy path.
        #expect(try fixture.rows(
            "SELECT code FROM statistics.classification_at('vn-admin-units', '2024-08-01') WHERE level = 3 ORDER BY code")
            == [["C111"], ["C112"], ["C121"], ["C211"]])
        #expect(try fixture.rows(
            "SELECT valid_from::text, valid_to::text, parent FROM statistics.code_history('vn-admin-units', 'C121')")
            == [["2024-01-01", "2024-07-01", "D12"], ["2024-07-01", nil, "P2"]])
        #expect(try fixture.rows(
            "SELECT code FROM statistics.hierarchy_path('vn-admin-units', 'C121', '2024-03-01') ORDER BY depth")
            == [["VN"], ["P1"], ["D12"], ["C121"]])
        // District D11 closed with the reform: opening it again later is refused, the rest goes on.
        let reuse = e.classificationPublished(
            "vn-admin-units", version: "2026", validFrom: "2026-01-01",
            items: [Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
                    Item(code: "D11", parent: "VN", level: 2, nameVi: "Tỉnh mới")],
            at: at(500))
        try await fixture.publish([reuse])
        let summary = try await fixture.project()
        #expect(summary.deadLettered == 1)
        #expect(try fixture.deadLetterReasons().last?.contains(
            "code D11 of vn-admin-units was closed on 2024-07-01 and cannot be used again from 2026-01-01") == true)
        #expect(try fixture.rows("SELECT count(*)::text FROM statistics.classification_versions") == [["2"]])
    }

    @Test func reExpressionConservesTotalsAndMarksUnweightedSplits() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        let old = e.classificationPublished(
            "vn-admin-units", version: "A", validFrom: "2024-01-01",
            items: [Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam")]
                + ["P1", "P2", "P3", "P4"].map { Item(code: $0, parent: "VN", level: 2, nameVi: $0) },
            at: at(0))
        let new = e.classificationPublished(
            "vn-admin-units", version: "B", validFrom: "2025-01-01",
            items: [Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam")]
                + ["Q1", "Q2", "Q3"].map { Item(code: $0, parent: "VN", level: 2, nameVi: $0) },
            at: at(1))
        // P1 whole → Q1; P2 split 25 % → Q1, 75 % → Q2; P3 whole → Q2; P4 split without weights → Q2, Q3.
        let correspondence = e.correspondencePublished(
            "vn-admin-units", from: "A", to: "B",
            mappings: [("VN", "VN", .whole), ("P1", "Q1", .whole), ("P2", "Q1", .part(weight: 0.25)),
                       ("P2", "Q2", .part(weight: 0.75)), ("P3", "Q2", .whole), ("P4", "Q2", .part(weight: nil)),
                       ("P4", "Q3", .part(weight: nil))],
            at: at(2))
        let definitions = Scenario.indicators(e)
        var reports: [CloudEvent] = []
        for (area, value, status) in [("P1", 100.0, "normal"), ("P2", 40.0, "provisional"), ("P3", 10.0, "normal")] {
            reports.append(e.reportSubmitted(
                unit: "U-\(area)", form: "F1", period: "2024",
                observations: [Observation(indicator: "POP", area: area, value: value, status: status)],
                source: "urn:test", at: at(10)))
        }
        try await fixture.publish([old, new, correspondence] + definitions + reports)
        try await fixture.project()
        let expressed = try fixture.rows(
            "SELECT area, value::text, status, non_comparable::text FROM statistics.indicator_reexpressed('POP', 'A', 'B') ORDER BY area")
        #expect(expressed == [
            ["Q1", "110.00", "provisional", "false"],
            ["Q2", "40.00", "provisional", "false"],
            ["VN", "150", "provisional", "false"],
        ])
        // Conservation: the national total is the same number, and the targets add up to it.
        let totals = try fixture.rows(
            """
            SELECT (SELECT value::text FROM statistics.indicator_values('POP') WHERE area = 'VN'),
                   (SELECT sum(value)::numeric(20,2)::text FROM statistics.indicator_reexpressed('POP', 'A', 'B') WHERE area <> 'VN')
            """)
        #expect(totals == [["150", "150.00"]])

        // P4 reports later: it is split without weights, so Q2 and Q3 become non-comparable (no guessed value).
        try await fixture.publish([e.reportSubmitted(
            unit: "U-P4", form: "F1", period: "2024",
            observations: [Observation(indicator: "POP", area: "P4", value: 5)], source: "urn:test", at: at(30))])
        try await fixture.project()
        #expect(try fixture.rows(
            "SELECT area, value::text, non_comparable::text FROM statistics.indicator_reexpressed('POP', 'A', 'B') ORDER BY area")
            == [["Q1", "110.00", "false"], ["Q2", nil, "true"], ["Q3", nil, "true"], ["VN", "155", "false"]])

        // Weights of one source must add up to 1, and a whole relation must be a source's only one.
        let badWeights = e.correspondencePublished(
            "vn-admin-units", from: "A", to: "B",
            mappings: [("P2", "Q1", .part(weight: 0.25)), ("P2", "Q2", .part(weight: 0.5))], at: at(40))
        let wholeAndMore = e.correspondencePublished(
            "vn-admin-units", from: "A", to: "B", mappings: [("P1", "Q1", .whole), ("P1", "Q2", .whole)], at: at(41))
        try await fixture.publish([badWeights, wholeAndMore])
        let summary = try await fixture.project()
        #expect(summary.deadLettered == 2)
        let reasons = try fixture.deadLetterReasons().joined(separator: "\n")
        #expect(reasons.contains("the weights of source P2 add up to 0.75, not 1"))
        #expect(reasons.contains("source P1 is mapped whole to one target and also to others"))
    }
    @Test func replayingAfterACorrespondenceGivesTheSameChecksumTwice() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        var events = [IndicatorTableTests.units2024(e)] + Scenario.indicators(e)
        for month in 1...6 {
            for (index, area) in ["C111", "C112", "C121", "C211"].enumerated() {
                events.append(e.reportSubmitted(
                    unit: "U-\(area)", form: "F1", period: String(format: "2024-M%02d", month),
                    observations: [Observation(indicator: "POP", area: area, value: Double(month * 10 + index))],
                    source: "urn:test", at: at(month * 100 + index)))
            }
        }
        // The reform: from 2024-07-01 the districts are gone, C121 moves to P2; P1 and P2 map whole onto new codes.
        events.append(e.classificationPublished(
            "vn-admin-units", version: "2024b", validFrom: "2024-07-01",
            items: [Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
                    Item(code: "P1", parent: "VN", level: 2, nameVi: "Tỉnh Một"),
                    Item(code: "P2", parent: "VN", level: 2, nameVi: "Tỉnh Hai"),
                    Item(code: "C111", parent: "P1", level: 3, nameVi: "Xã 111"),
                    Item(code: "C112", parent: "P1", level: 3, nameVi: "Xã 112"),
                    Item(code: "C121", parent: "P2", level: 3, nameVi: "Xã 121"),
                    Item(code: "C211", parent: "P2", level: 3, nameVi: "Xã 211")],
            at: at(700)))
        events.append(e.correspondencePublished(
            "vn-admin-units", from: "2024", to: "2024b",
            mappings: [("VN", "VN", .whole), ("P1", "P1", .part(weight: 0.8)), ("P1", "P2", .part(weight: 0.2)),
                       ("P2", "P2", .whole)],
            at: at(701)))
        try await fixture.publish(events)
        try await fixture.project(version: 2)
        let first = try fixture.checksum(version: 2)
        let reexpressed = try fixture.rows(
            "SELECT period, area, value::text FROM statistics.indicator_in_version('POP', '2024b') ORDER BY 1, 2")
        // Rebuild the same version's content twice more from offset 0, with other batch sizes.
        let db = try fixture.database.connect()
        defer { db.close() }
        for (round, batchSize) in [(1, 7), (2, 1000)] {
            try db.execute("DROP SCHEMA statistics_v2 CASCADE")
            try db.execute("DELETE FROM mekong.checkpoints WHERE projection = 'statistics'")
            try db.execute("DELETE FROM mekong.schema_migrations WHERE projection = 'statistics'")
            try db.execute("DELETE FROM mekong.projection_versions WHERE projection = 'statistics'")
            try await fixture.project(version: 2, batchSize: batchSize)
            #expect(try fixture.checksum(version: 2) == first)
            #expect(try fixture.rows(
                "SELECT period, area, value::text FROM statistics.indicator_in_version('POP', '2024b') ORDER BY 1, 2")
                == reexpressed)
        }
    }
}

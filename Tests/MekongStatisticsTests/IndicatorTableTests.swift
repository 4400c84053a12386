import Foundation
import MekongEvents
import MekongStatisticalEvents
import MekongStatistics
import MekongTestSupport
import Testing

/// Small scenarios whose expected tables were computed by hand (docs/statistics.md states the rules).
@Suite(.serialized) struct IndicatorTableTests {
    /// VN → P1 (D11: C111, C112; D12: C121), P2 (D21: C211), valid from 2024-01-01.
    static func units2024(_ events: StatisticalEvents) -> CloudEvent {
        events.classificationPublished(
            "vn-admin-units", version: "2024", validFrom: "2024-01-01",
            items: [
                Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
                Item(code: "P1", parent: "VN", level: 2, nameVi: "Tỉnh Một"),
                Item(code: "P2", parent: "VN", level: 2, nameVi: "Tỉnh Hai"),
                Item(code: "D11", parent: "P1", level: 3, nameVi: "Huyện 11"),
                Item(code: "D12", parent: "P1", level: 3, nameVi: "Huyện 12"),
                Item(code: "D21", parent: "P2", level: 3, nameVi: "Huyện 21"),
                Item(code: "C111", parent: "D11", level: 4, nameVi: "Xã 111"),
                Item(code: "C112", parent: "D11", level: 4, nameVi: "Xã 112"),
                Item(code: "C121", parent: "D12", level: 4, nameVi: "Xã 121"),
                Item(code: "C211", parent: "D21", level: 4, nameVi: "Xã 211"),
            ], at: at(0))
    }

    static func indicators(_ events: StatisticalEvents) -> [CloudEvent] {
        [
            events.indicatorDefined(
                "POP", nameVi: "Dân số", nameEn: "Population", unit: "person", periodicities: ["month", "year"], at: at(1)),
            events.indicatorDefined(
                "RATE", nameVi: "Tỷ lệ", nameEn: "Rate", unit: "percent", periodicities: ["month"], weight: "POP", at: at(2)),
        ]
    }

    @Test func rollUpWeightedMeanStatusAndConfidentiality() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        let communes: [(String, Double, String, String, Double)] = [
            ("C111", 100, "normal", "free", 10), ("C112", 50, "provisional", "free", 20),
            ("C121", 30, "normal", "confidential", 30), ("C211", 20, "normal", "free", 40),
        ]
        var reports: [CloudEvent] = []
        for (index, (area, population, status, confidentiality, rate)) in communes.enumerated() {
            reports.append(e.reportSubmitted(
                unit: "U-\(area)", form: "F1", period: "2024-M01",
                observations: [
                    Observation(indicator: "POP", area: area, value: population, status: status, confidentiality: confidentiality),
                    Observation(indicator: "RATE", area: area, value: rate),
                ], source: "urn:test", at: at(10 + index)))
        }
        try await fixture.publish([Self.units2024(e)] + Self.indicators(e) + reports)
        let summary = try await fixture.project()
        let reasons = try fixture.deadLetterReasons()
        #expect(summary.deadLettered == 0, "\(reasons)")

        let population = try fixture.rows(
            "SELECT area, value::text, status, confidentiality, origin FROM statistics.indicator_values('POP') WHERE period = '2024-M01' ORDER BY area")
        #expect(population == [
            ["C111", "100", "normal", "free", "reported"],
            ["C112", "50", "provisional", "free", "reported"],
            ["C121", "30", "normal", "confidential", "reported"],
            ["C211", "20", "normal", "free", "reported"],
            ["D11", "150", "provisional", "free", "aggregated"],
            ["D12", "30", "normal", "confidential", "aggregated"],
            ["D21", "20", "normal", "free", "aggregated"],
            ["P1", "180", "provisional", "confidential", "aggregated"],
            ["P2", "20", "normal", "free", "aggregated"],
            ["VN", "200", "provisional", "confidential", "aggregated"],
        ])
        // Weighted by POP: D11 = (10·100 + 20·50) / 150; P1 = (2000 + 30·30) / 180; VN = (2900 + 40·20) / 200.
        let rate = try fixture.rows(
            "SELECT area, round(value, 6)::text FROM statistics.indicator_values('RATE') WHERE origin = 'aggregated' ORDER BY area")
        #expect(rate == [
            ["D11", "13.333333"], ["D12", "30.000000"], ["D21", "40.000000"],
            ["P1", "16.111111"], ["P2", "40.000000"], ["VN", "18.500000"],
        ])
    }

    /// Batches of one during the reference-topics phase: the engine used to prefetch the next master-data record
    /// when a batch was full and drop it, reading its partition on past it, so the run never caught up.
    @Test("batches of one record apply the master data first and every report", .timeLimit(.minutes(1)))
    func batchesOfOneRecord() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        let reports = ["C111", "C112", "C121", "C211"].enumerated().map { index, area in
            e.reportSubmitted(
                unit: "U-\(area)", form: "F1", period: "2024-M01",
                observations: [Observation(indicator: "POP", area: area, value: Double(index + 1))], source: "urn:test",
                at: at(10 + index))
        }
        let master = [Self.units2024(e)] + Self.indicators(e)
        try await fixture.publish(master + reports)
        let summary = try await fixture.project(batchSize: 1)
        #expect(summary.applied == master.count + reports.count && summary.deadLettered == 0)
        #expect(try fixture.rows("SELECT value::text FROM statistics.indicator_values('POP') WHERE area = 'VN'") == [["10"]])
    }

    @Test func codesNotValidAtTheirPeriodAreDeadLetteredWithCodeAndPeriod() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        let good = e.reportSubmitted(
            unit: "U1", form: "F1", period: "2024-M02",
            observations: [Observation(indicator: "POP", area: "C111", value: 7)], source: "urn:test", at: at(10))
        let unknownArea = e.reportSubmitted(
            unit: "U2", form: "F1", period: "2024-M02",
            observations: [Observation(indicator: "POP", area: "C999", value: 1)], source: "urn:test", at: at(11))
        let beforeTheClassification = e.reportSubmitted(
            unit: "U3", form: "F1", period: "2023-M12",
            observations: [Observation(indicator: "POP", area: "C111", value: 1)], source: "urn:test", at: at(12))
        let undefinedIndicator = e.reportSubmitted(
            unit: "U4", form: "F1", period: "2024-M02",
            observations: [Observation(indicator: "GDP", area: "C111", value: 1)], source: "urn:test", at: at(13))
        let wrongPeriodicity = e.reportSubmitted(
            unit: "U5", form: "F1", period: "2024-Q1",
            observations: [Observation(indicator: "POP", area: "C111", value: 1)], source: "urn:test", at: at(14))
        try await fixture.publish(
            [Self.units2024(e)] + Self.indicators(e) + [good, unknownArea, beforeTheClassification, undefinedIndicator, wrongPeriodicity])
        let summary = try await fixture.project()
        #expect(summary.applied == 4)
        #expect(summary.deadLettered == 4)
        let reasons = try fixture.deadLetterReasons().sorted().joined(separator: "\n")
        #expect(reasons.contains("dimensions.area code C999 is not valid in vn-admin-units for period 2024-M02"))
        #expect(reasons.contains("dimensions.area code C111 is not valid in vn-admin-units for period 2023-M12"))
        #expect(reasons.contains("observations[0].indicator GDP is not defined"))
        #expect(reasons.contains("period 2024-Q1 is not a periodicity of indicator POP"))
        #expect(try fixture.rows("SELECT area, value::text FROM statistics.observations_current") == [["C111", "7"]])
    }

    /// Definitions of different indicators have different keys, so the log does not order them: a weighted mean
    /// defined before its weight indicator is accepted (otherwise a rebuild could disagree with the live run).
    @Test func aWeightedMeanMayBeDefinedBeforeItsWeight() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        let definitions = Self.indicators(e)
        try await fixture.publish([Self.units2024(e), definitions[1]])
        #expect(try await fixture.project().deadLettered == 0)
        try await fixture.publish([definitions[0]])
        #expect(try await fixture.project().deadLettered == 0)
        #expect(try fixture.rows("SELECT code FROM statistics.indicators ORDER BY code") == [["POP"], ["RATE"]])
    }
}

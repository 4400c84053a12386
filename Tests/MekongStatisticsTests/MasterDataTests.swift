import Foundation
import MekongEvents
import MekongStatistics
import MekongTestSupport
import Testing

@Suite(.serialized) struct MasterDataTests {
    @Test func itemChangesAreBitemporalAndOtherDimensionsAreChecked() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        let changes = e.itemsChanged(
            "vn-admin-units", version: "2024", effectiveDate: "2024-04-01",
            changes: [
                .rename(code: "C111", nameVi: "Phường 111", nameEn: "Ward 111"),
                .move(code: "C112", parent: "D12", level: 4),
                .close(code: "C211"),
                .open(code: "C113", parent: "D11", level: 4, nameVi: "Xã 113"),
            ], at: at(100))
        let reopen = e.itemsChanged(
            "vn-admin-units", version: "2024", effectiveDate: "2024-09-01",
            changes: [.open(code: "C211", parent: "D21", level: 4, nameVi: "Xã 211 mới")], at: at(200))
        let sex = e.classificationPublished(
            "sex", version: "1", validFrom: "2000-01-01",
            items: [Item(code: "F", parent: nil, level: 1, nameVi: "Nữ", nameEn: "Female"),
                    Item(code: "M", parent: nil, level: 1, nameVi: "Nam", nameEn: "Male")], at: at(3))
        let employment = e.indicatorDefined(
            "EMP", nameVi: "Số người có việc làm", nameEn: "Employed persons", unit: "person", periodicities: ["quarter"],
            dimensions: [("sex", "sex")], at: at(4))
        let reports = [
            e.reportSubmitted(
                unit: "U1", form: "LD", period: "2024-Q2",
                observations: [Observation(indicator: "EMP", area: "C113", otherDimensions: [("sex", "F")], value: 1.5, unitMultiplier: 3)],
                source: "urn:test", at: at(300)),
            e.reportSubmitted(
                unit: "U2", form: "LD", period: "2024-Q2",
                observations: [Observation(indicator: "EMP", area: "C111", otherDimensions: [("sex", "X")], value: 1)],
                source: "urn:test", at: at(301)),
            e.reportSubmitted(
                unit: "U3", form: "LD", period: "2024-Q2",
                observations: [Observation(indicator: "EMP", area: "C111", value: 1)], source: "urn:test", at: at(302)),
        ]
        try await fixture.publish([IndicatorTableTests.units2024(e), sex, employment, changes, reopen] + reports)
        let summary = try await fixture.project()
        #expect(summary.deadLettered == 3)
        let reasons = try fixture.deadLetterReasons().joined(separator: "\n")
        #expect(reasons.contains("code C211 of vn-admin-units was closed on 2024-04-01 and cannot be used again from 2024-09-01"))
        #expect(reasons.contains("dimensions.sex code X is not valid in sex for period 2024-Q2"))
        #expect(reasons.contains("dimensions has {area}, but indicator EMP has dimensions {area,sex}"))
        // 1.5 × 10³
        #expect(try fixture.rows("SELECT area, dimensions->>'sex', value::text FROM statistics.observations_current")
            == [["C113", "F", "1500"]])

        // Valid time: before and after the effective date.
        func communes(on date: String, known: String = "infinity") throws -> [[String?]] {
            try fixture.rows(
                "SELECT code, parent, name_vi FROM statistics.classification_at('vn-admin-units', $1::date, $2::timestamptz) WHERE level = 4 ORDER BY code",
                [date, known])
        }
        #expect(try communes(on: "2024-03-31") == [["C111", "D11", "Xã 111"], ["C112", "D11", "Xã 112"], ["C121", "D12", "Xã 121"], ["C211", "D21", "Xã 211"]])
        #expect(try communes(on: "2024-04-01") == [["C111", "D11", "Phường 111"], ["C112", "D12", "Xã 112"], ["C113", "D11", "Xã 113"], ["C121", "D12", "Xã 121"]])
        // Recorded time: before the change event was recorded, April looked like March.
        #expect(try communes(on: "2024-04-01", known: at(50).text) == communes(on: "2024-03-31"))
        #expect(try fixture.rows(
            "SELECT valid_from::text, valid_to::text, name_vi FROM statistics.code_history('vn-admin-units', 'C111')")
            == [["2024-01-01", "2024-04-01", "Xã 111"], ["2024-04-01", nil, "Phường 111"]])
        #expect(try fixture.rows(
            "SELECT code FROM statistics.hierarchy_path('vn-admin-units', 'C112', '2024-05-01') ORDER BY depth")
            == [["VN"], ["P1"], ["D12"], ["C112"]])
    }
}

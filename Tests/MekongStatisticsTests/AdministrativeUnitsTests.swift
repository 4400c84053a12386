import Foundation
import MekongEvents
import MekongStatisticalEvents
import MekongStatistics
import MekongTestSupport
import Testing

/// The real 2024 and 2025 unit lists (data/vn-admin-units) load completely through the projection.
@Suite(.serialized) struct AdministrativeUnitsTests {
    static let directory = MekongBinary.repositoryRoot.appendingPathComponent("data/vn-admin-units")

    static func file(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func theRealUnitListsLoadCompletely() async throws {
        let units2024 = try AdministrativeUnits.units2024(csv: Self.file("units-2024.csv"))
        let units2025 = try AdministrativeUnits.units2025(csv: Self.file("units-2025.csv"))
        let provinces = try AdministrativeUnits.provinceCorrespondence(csv: Self.file("provinces-2024-to-2025.csv"))
        func count(_ items: [StatisticalEvents.Item], level: Int) -> Int { items.filter { $0.level == level }.count }
        #expect([2, 3, 4].map { count(units2024, level: $0) } == [63, 696, 10_035])
        #expect([2, 3].map { count(units2025, level: $0) } == [34, 3_321])
        #expect(provinces.count == 64)

        let fixture = try StatisticsFixture()
        let e = fixture.events
        try await fixture.publish([
            e.classificationPublished("vn-admin-units", version: "2024", validFrom: "2024-01-01", items: units2024, at: at(0)),
            e.classificationPublished("vn-admin-units", version: "2025", validFrom: "2025-07-01", items: units2025, at: at(1)),
            e.correspondencePublished("vn-admin-units", from: "2024", to: "2025", mappings: provinces, at: at(2)),
        ])
        let summary = try await fixture.project()
        let reasons = try fixture.deadLetterReasons()
        #expect(summary.applied == 3 && reasons.isEmpty, "\(reasons)")

        let levels = try fixture.rows(
            """
            SELECT d, level::text, count(*)::text FROM (
                SELECT '2025-06-30' AS d, level FROM statistics.classification_at('vn-admin-units', '2025-06-30')
                UNION ALL SELECT '2025-07-01', level FROM statistics.classification_at('vn-admin-units', '2025-07-01')
            ) x GROUP BY d, level ORDER BY d, level
            """)
        #expect(levels == [
            ["2025-06-30", "1", "1"], ["2025-06-30", "2", "63"], ["2025-06-30", "3", "696"], ["2025-06-30", "4", "10035"],
            ["2025-07-01", "1", "1"], ["2025-07-01", "2", "34"], ["2025-07-01", "3", "3321"],
        ])
        // The five island districts without communes are there, with no children.
        let islands = try fixture.rows(
            """
            SELECT d.code FROM statistics.classification_at('vn-admin-units', '2024-06-01') d
            WHERE d.level = 3 AND NOT EXISTS (
                SELECT 1 FROM statistics.classification_at('vn-admin-units', '2024-06-01') c WHERE c.parent = d.code)
            ORDER BY d.code
            """)
        #expect(islands == [["318"], ["471"], ["498"], ["536"], ["755"]])
        // Hà Giang (02) was closed by the reform and became part of Tuyên Quang (08), whose code continues.
        #expect(try fixture.rows("SELECT valid_to::text FROM statistics.code_history('vn-admin-units', '02')") == [["2025-07-01"]])
        #expect(try fixture.rows("SELECT valid_from::text, valid_to::text FROM statistics.code_history('vn-admin-units', '08')")
            == [["2024-01-01", "2025-07-01"], ["2025-07-01", nil]])
    }

    @Test func aBrokenFileNamesTheLine() throws {
        let broken = "province_code,province_name,commune_code,commune_name,commune_type\n01,Hà Nội,00004,Ba Đình\n"
        let error = #expect(throws: MasterDataFileError.self) { try AdministrativeUnits.units2025(csv: broken) }
        #expect(error?.description == "units-2025.csv line 2: 4 fields, expected 5")
    }
}

import Foundation
import MekongEvents
import MekongStatistics
import MekongTestSupport
import Testing

@Suite(.serialized) struct RegistersTests {
    @Test func stateThroughTimeAndActiveCountsBySectionProvinceAndMonth() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        func business(_ key: String, _ change: String, _ date: String, _ attributes: [(String, JSONValue)] = [], minute: Int)
            -> CloudEvent
        {
            e.recordChanged(register: "business", key: key, change: change, effectiveDate: date, attributes: attributes, at: at(minute))
        }
        let changes = [
            business("E1", "create", "2024-01-15", [("name", "Công ty Một"), ("vsicCode", "4711"), ("areaCode", "C111")], minute: 10),
            business("E2", "create", "2024-02-10", [("name", "Công ty Hai"), ("vsicCode", "1010"), ("areaCode", "C211")], minute: 20),
            business("E3", "create", "2024-02-20", [("name", "Công ty Ba"), ("vsicCode", "4719"), ("areaCode", "C121")], minute: 30),
            business("E1", "close", "2024-03-05", minute: 40),
            // Backdated: recorded after the close above, effective from 2024-03-01.
            business("E2", "update", "2024-03-01", [("vsicCode", "4620")], minute: 50),
            business("E4", "update", "2024-03-01", [("vsicCode", "4620")], minute: 60),  // never created
            business("E3", "create", "2024-04-01", [("name", "Công ty Ba")], minute: 70),  // created twice
            business("E1", "update", "2024-04-01", [("vsicCode", "4711")], minute: 80),  // after its close
        ]
        try await fixture.publish([IndicatorTableTests.units2024(e)] + changes)
        try await fixture.project()
        let summary = try await fixture.project(RegistersProjection())
        #expect(summary.applied == 5)
        #expect(summary.deadLettered == 3)
        let reasons = try fixture.deadLetterReasons().joined(separator: "\n")
        #expect(reasons.contains("business record E4 does not exist on 2024-03-01 (never created)"))
        #expect(reasons.contains("business record E3 already exists (created on 2024-02-20)"))
        #expect(reasons.contains("business record E1 was closed on 2024-03-05; a closed record key is not used again"))

        #expect(try fixture.rows(
            "SELECT record_key, active::text, attributes->>'vsicCode', attributes->>'name' FROM registers.current_records ORDER BY 1")
            == [["E1", "false", "4711", "Công ty Một"], ["E2", "true", "4620", "Công ty Hai"], ["E3", "true", "4719", "Công ty Ba"]])
        // As known before the backdated update was recorded, E2 was still in manufacturing in March.
        #expect(try fixture.rows(
            "SELECT attributes->>'vsicCode' FROM registers.records_on('2024-03-31', $1::timestamptz) WHERE record_key = 'E2'",
            [at(45).text]) == [["1010"]])

        let counts = try fixture.rows(
            "SELECT month, section, province, active::text FROM registers.active_counts('business', '2024-01', '2024-03')")
        #expect(counts == [
            ["2024-01", "G", "P1", "1"],
            ["2024-02", "C", "P2", "1"], ["2024-02", "G", "P1", "2"],
            ["2024-03", "G", "P1", "1"], ["2024-03", "G", "P2", "1"],
        ])
    }
}

import Foundation
import MekongEvents
import MekongProjection
import MekongStatisticalEvents
import MekongTestSupport
import Testing

@testable import MekongStatistics

@Suite(.serialized) struct SurveysTests {
    typealias Row = StatisticalEvents.SurveyRow

    @Test func chunkedUploadsAreVerifiedCountedAndWeighted() async throws {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        // 25 rows in chunks of 10 (3 chunks): area A rows 0–14, area B rows 15–24; weight 2 for even, 3 for odd;
        // hours = row number. A: Σw = 8·2 + 7·3 = 37; Σw·h = 2·(0+2+…+14) + 3·(1+3+…+13) = 112 + 147 = 259.
        // B: Σw = 5·2 + 5·3 = 25; Σw·h = 2·(16+18+20+22+24) + 3·(15+17+19+21+23) = 200 + 285 = 485.
        let rows = (0..<25).map { i in
            Row(rowId: "R\(i)", weight: i % 2 == 0 ? 2 : 3, area: i < 15 ? "A" : "B", values: [("hours", .number(Double(i)))])
        }
        let upload = try e.surveyUpload(survey: "LFS", wave: 1, period: "2025-Q3", batchId: "B1", rows: rows, rowsPerChunk: 10, at: at(0))
        #expect(upload.count == 4)
        // A second batch whose last chunk never arrives: incomplete, left out of the totals.
        let partial = try e.surveyUpload(
            survey: "LFS", wave: 1, period: "2025-Q3", batchId: "B2",
            rows: (0..<4).map { Row(rowId: "S\($0)", weight: 1, area: "A", values: [("hours", 100)]) }, rowsPerChunk: 2, at: at(1))
        // A chunk whose rows were altered after hashing: dead-lettered, its batch incomplete.
        var tampered = try e.surveyUpload(
            survey: "LFS", wave: 1, period: "2025-Q3", batchId: "B3",
            rows: [Row(rowId: "T0", weight: 1, area: "A", values: [("hours", 1)])], at: at(2))
        var data = tampered[0].data.objectValue!
        data["rowsSha256"] = .string(String(repeating: "0", count: 64))
        tampered[0].data = .object(data)
        try await fixture.publish(upload + [partial[0], partial[2]] + tampered)
        let summary = try await fixture.project(SurveysProjection())
        #expect(summary.deadLettered == 1)
        #expect(try fixture.deadLetterReasons().first?.contains("chunk 0 of LFS/1/B3: SHA-256 of the uncompressed rows is ") == true)

        #expect(try fixture.rows(
            "SELECT batch_id, chunks_received::text, chunks_expected::text, rows_received::text, expected_rows::text, complete::text, completeness::text FROM surveys.batches ORDER BY batch_id")
            == [["B1", "3", "3", "25", "25", "true", "1.0000"], ["B2", "1", "2", "2", "4", "false", "0.5000"],
                ["B3", "0", "1", "0", "1", "false", "0.0000"]])
        #expect(try fixture.rows(
            "SELECT area, rows::text, population::text, total::text FROM surveys.weighted_totals('hours')")
            == [["A", "15", "37", "259"], ["B", "10", "25", "485"]])
        #expect(try fixture.rows(
            "SELECT area, rows::text FROM surveys.weighted_totals('hours', false)") == [["A", "17"], ["B", "10"]])
        // The chunks' hashes are kept as evidence of what was read.
        #expect(try fixture.rows("SELECT count(*)::text FROM surveys.chunks WHERE rows_sha256 ~ '^[0-9a-f]{64}$'") == [["4"]])
    }

    @Test func theCatalogsChunkExampleDecompressesToItsRowsAndMatchesItsHash() throws {
        let url = MekongBinary.repositoryRoot.appendingPathComponent("Topics/examples/vn.gso.survey.chunk-uploaded.v1.json")
        let event = try CloudEvent(decoding: Array(try Data(contentsOf: url)))
        let rows = try SurveysProjection.chunkRows(event.data, subject: event.subject).arrayValue ?? []
        #expect(rows.map { $0["rowId"]?.stringValue } == ["HH-0001-01", "HH-0001-02", "HH-0002-01"])
        var altered = event.data.objectValue!
        altered["rowCount"] = 4
        let refusal = #expect(throws: Refusal.self) { try SurveysProjection.chunkRows(.object(altered), subject: event.subject) }
        #expect(refusal?.reason == "chunk 0 of LFS/3/HN-0042: holds 3 rows, the chunk says 4")
    }
}

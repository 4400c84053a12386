import Foundation
import MekongTestSupport
import Testing

/// `mekong demo` (the README's main job) into a throwaway database, then `mekong query indicator` on its tables.
@Suite(.serialized) struct DemoAndQueryTests {
    @Test func theDemoRunsAndItsTablesCanBeQueriedInEveryFormat() async throws {
        let database = try TestDatabase.create()  // the demo drops and recreates it
        defer { database.drop() }
        let demo = try await ChildProcess.runOffPool(
            ["demo", "--database", database.name, "--postgres", TestDatabase.adminURL], timeout: .seconds(300))
        #expect(demo.status == 0, "\(demo.errors.suffix(2000))")
        #expect(demo.output.contains("in 18 of 18 periods before the reform, the 34 re-expressed provinces add up exactly"))
        #expect(demo.output.contains("audit trail: 1339 events, hash chains verified"))

        let query = ["query", "indicator", "RETAIL.SALES", "--postgres", database.url]
        let sdmx = try await ChildProcess.runOffPool(query + ["--area", "08", "--classification-version", "2025", "--format", "sdmx-csv"])
        #expect(sdmx.status == 0, "\(sdmx.errors)")
        let lines = sdmx.output.split(separator: "\n")
        #expect(lines.first == "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS")
        #expect(lines.count == 1 + 22)
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("dataflow,VN_GSO:DF_RETAIL@SALES(1.0),I,08,") })
        // 2025-M06 was still provisional; its revision came in July.
        #expect(lines.contains { $0.contains(",2025-M06,") && $0.hasSuffix(",P,F") })

        // As known before the May 2025 revisions were recorded (on 2025-07-01), May was provisional.
        let before = try await ChildProcess.runOffPool(query + ["--area", "VN", "--period", "2025-M05", "--as-of", "2025-06-25", "--format", "csv"])
        let after = try await ChildProcess.runOffPool(query + ["--area", "VN", "--period", "2025-M05", "--format", "csv"])
        #expect(before.output.contains(",provisional,free,aggregated"), "\(before.output)")
        #expect(after.output.contains(",normal,free,aggregated"), "\(after.output)")

        let table = try await ChildProcess.runOffPool(query + ["--period", "2024-M01", "--area", "VN"])
        #expect(table.output.hasPrefix("RETAIL.SALES – Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng (VND billion): 1 rows"))

        let unknown = try await ChildProcess.runOffPool(["query", "indicator", "GDP", "--postgres", database.url])
        #expect(unknown.status != 0)
        #expect(unknown.errors.contains("indicator GDP is not defined"))
        let badPeriod = try await ChildProcess.runOffPool(query + ["--period", "2025-13"])
        #expect(badPeriod.errors.contains("--period 2025-13 is not a period"))

        try await exportsAreTheTableRowForRow(database)
    }

    /// Both CSV exports of every indicator (streamed by the server with COPY) parsed back field by field: the same
    /// rows, in the same order, as `statistics.indicator_table` read with a plain query.
    func exportsAreTheTableRowForRow(_ database: TestDatabase) async throws {
        let db = try database.connect()
        defer { db.close() }
        let indicators = try db.query("SELECT DISTINCT indicator FROM statistics.indicator_table ORDER BY 1").map { try $0.decode(String.self, at: 0) }
        #expect(indicators.count >= 2)
        let obs = ["normal": "A", "estimated": "E", "forecast": "F", "provisional": "P", "missing": "M"]
        let conf = ["free": "F", "confidential": "C", "not-for-publication": "N"]
        for indicator in indicators {
            let dimensions = try db.query(
                "SELECT DISTINCT jsonb_object_keys(dimensions) FROM statistics.indicator_table WHERE indicator = $1 ORDER BY 1", [indicator]
            ).map { try $0.decode(String.self, at: 0) }
            let rows = try db.query(
                """
                SELECT period, area, dimensions::text, coalesce(value::text, ''), status, confidentiality, origin,
                       (SELECT unit FROM statistics.indicators i WHERE i.code = t.indicator AND recorded_to IS NULL)
                FROM statistics.indicator_table t WHERE indicator = $1 ORDER BY area, period, dimensions
                """, [indicator]
            ).map { row in try (0..<8).map { try row.decode(String.self, at: $0) } }
            func dimensionValues(_ text: String) throws -> [String] {
                let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] ?? [:]
                return dimensions.map { object[$0] ?? "" }
            }
            let plain = try await ChildProcess.runOffPool(["query", "indicator", indicator, "--format", "csv", "--postgres", database.url])
            #expect(plain.status == 0, "\(plain.errors)")
            let plainRows = Self.parseCSV(plain.output)
            #expect(plainRows.first == ["indicator", "period", "area"] + dimensions + ["value", "unit", "status", "confidentiality", "origin"])
            #expect(plainRows.dropFirst().count == rows.count)
            for (line, row) in zip(plainRows.dropFirst(), rows) {
                #expect(line == [indicator, row[0], row[1]] + (try dimensionValues(row[2])) + [row[3], row[7], row[4], row[5], row[6]])
            }
            let sdmx = try await ChildProcess.runOffPool(["query", "indicator", indicator, "--format", "sdmx-csv", "--postgres", database.url])
            #expect(sdmx.status == 0, "\(sdmx.errors)")
            let sdmxRows = Self.parseCSV(sdmx.output)
            #expect(sdmxRows.first == ["STRUCTURE", "STRUCTURE_ID", "ACTION", "REF_AREA"] + dimensions.map { $0.uppercased() }
                + ["TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "CONF_STATUS"])
            #expect(sdmxRows.dropFirst().count == rows.count)
            for (line, row) in zip(sdmxRows.dropFirst(), rows) {
                let period = row[0].replacingOccurrences(of: "-H", with: "-S")
                // One dataflow per indicator; SDMX ids have no ".", so it is written "@".
                let dataflow = "VN_GSO:DF_\(indicator.replacingOccurrences(of: ".", with: "@"))(1.0)"
                #expect(line == ["dataflow", dataflow, "I", row[1]] + (try dimensionValues(row[2]))
                    + [period, row[3], obs[row[4]] ?? "?", conf[row[5]] ?? "?"])
            }
        }
    }

    /// RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks.
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var characters = text.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? characters.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    // A doubled quote is a quote; a single one closes the field, and what follows it is read as usual.
                    let next = characters.next()
                    if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                } else {
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"": quoted = true
            case ",": record.append(field); field = ""
            case "\n": record.append(field); records.append(record); record = []; field = ""
            default: field.append(c)
            }
        }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        return records
    }
}

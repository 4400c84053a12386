import Foundation
import MekongTestSupport
import Testing

/// `mekong demo` (the README's main job) into a throwaway database, then `mekong query indicator` on its tables.
@Suite(.serialized) struct DemoAndQueryTests {
    @Test func theDemoRunsAndItsTablesCanBeQueriedInEveryFormat() throws {
        let database = try TestDatabase.create()  // the demo drops and recreates it
        defer { database.drop() }
        let demo = try ChildProcess.run(
            ["demo", "--database", database.name, "--postgres", TestDatabase.adminURL], timeout: .seconds(300))
        #expect(demo.status == 0, "\(demo.errors.suffix(2000))")
        #expect(demo.output.contains("in 18 of 18 periods before the reform, the 34 re-expressed provinces add up exactly"))
        #expect(demo.output.contains("audit trail: 1339 events, hash chains verified"))

        let query = ["query", "indicator", "RETAIL.SALES", "--postgres", database.url]
        let sdmx = try ChildProcess.run(query + ["--area", "08", "--classification-version", "2025", "--format", "sdmx-csv"])
        #expect(sdmx.status == 0, "\(sdmx.errors)")
        let lines = sdmx.output.split(separator: "\n")
        #expect(lines.first == "DATAFLOW,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS")
        #expect(lines.count == 1 + 22)
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("VN_GSO:DF_NSD(1.0),RETAIL.SALES,08,") })
        // 2025-M06 was still provisional; its revision came in July.
        #expect(lines.contains { $0.contains(",2025-M06,") && $0.hasSuffix(",P,F") })

        // As known before the May 2025 revisions were recorded (on 2025-07-01), May was provisional.
        let before = try ChildProcess.run(query + ["--area", "VN", "--period", "2025-M05", "--as-of", "2025-06-25", "--format", "csv"])
        let after = try ChildProcess.run(query + ["--area", "VN", "--period", "2025-M05", "--format", "csv"])
        #expect(before.output.contains(",provisional,free,aggregated"), "\(before.output)")
        #expect(after.output.contains(",normal,free,aggregated"), "\(after.output)")

        let table = try ChildProcess.run(query + ["--period", "2024-M01", "--area", "VN"])
        #expect(table.output.hasPrefix("RETAIL.SALES – Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng (VND billion): 1 rows"))

        let unknown = try ChildProcess.run(["query", "indicator", "GDP", "--postgres", database.url])
        #expect(unknown.status != 0)
        #expect(unknown.errors.contains("indicator GDP is not defined"))
        let badPeriod = try ChildProcess.run(query + ["--period", "2025-13"])
        #expect(badPeriod.errors.contains("--period 2025-13 is not a period"))
    }
}

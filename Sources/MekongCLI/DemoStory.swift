import ArgumentParser
import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongStatisticalEvents
import MekongStatistics

/// The events of `mekong demo`: real administrative units, three indicators, monthly province reports with
/// seeded synthetic values (the same seed gives the same events, ids included), revisions, the July 2025 reform
/// and reports under the new units.
struct DemoStory {
    /// 2024-M01 … 2025-M06: the months under the 2024 units.
    static let months2024Units: [String] = (0..<18).map { (index: Int) -> String in
        let year: Int = 2024 + index / 12
        let month: Int = index % 12 + 1
        return String(format: "%04d-M%02d", year, month)
    }
    static let months2025Units = (7...10).map { String(format: "2025-M%02d", $0) }

    let eventsByTopic: [(String, [CloudEvent])]
    let summary: String

    init(seed: UInt64, data: URL) throws {
        func file(_ name: String) throws -> String {
            try String(contentsOf: data.appendingPathComponent(name), encoding: .utf8)
        }
        let units2024 = try AdministrativeUnits.units2024(csv: file("units-2024.csv"))
        let units2025 = try AdministrativeUnits.units2025(csv: file("units-2025.csv"))
        let provinces = try AdministrativeUnits.provinceCorrespondence(csv: file("provinces-2024-to-2025.csv"))
        let e = StatisticalEvents(deterministicFrom: seed)
        var random = SeededRandom(seed: seed)
        func day(_ text: String, _ hour: Int = 8) -> Timestamp {
            Timestamp(rfc3339: "\(text)T\(String(format: "%02d", hour)):00:00+07:00")!
        }

        var masterData = [
            e.classificationPublished(
                AdministrativeUnits.classification, version: "2024", validFrom: "2024-01-01", items: units2024,
                at: day("2023-12-20")),
            e.indicatorDefined(
                "RETAIL.SALES", nameVi: "Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng",
                nameEn: "Retail sales of goods and consumer services", unit: "VND billion", periodicities: ["month"],
                at: day("2023-12-21")),
            e.indicatorDefined(
                "LABOUR.FORCE", nameVi: "Lực lượng lao động từ 15 tuổi trở lên", nameEn: "Labour force aged 15 and over",
                unit: "thousand persons", periodicities: ["month"], at: day("2023-12-21", 9)),
            e.indicatorDefined(
                "UNEMP.RATE", nameVi: "Tỷ lệ thất nghiệp", nameEn: "Unemployment rate", unit: "percent",
                periodicities: ["month"], weight: "LABOUR.FORCE", at: day("2023-12-21", 10)),
        ]

        // Each 2024 province's size; a 2025 province is the sum of the provinces merged into it.
        let oldProvinces = units2024.filter { $0.level == 2 }.map(\.code)
        var size: [String: Double] = [:]
        for code in oldProvinces {
            size[code] = code == "01" ? 9 : code == "79" ? 12 : 0.4 + Double(random.next() % 2600) / 1000
        }
        var newSize: [String: Double] = [:]
        for mapping in provinces where mapping.source != "VN" { newSize[mapping.target, default: 0] += size[mapping.source]! }

        var reports: [CloudEvent] = []
        func observations(_ area: String, _ areaSize: Double, month index: Int, status: String, jitter: Double)
            -> [StatisticalEvents.Observation]
        {
            let season = 1 + 0.08 * sin(Double(index) * .pi / 6)
            let growth = 1 + 0.007 * Double(index)
            let sales = (areaSize * 9_500 * season * growth * jitter).rounded() / 10
            let labour = (areaSize * 4_800 * (1 + 0.002 * Double(index))).rounded() / 10
            let rate = ((1.6 + Double(random.next() % 200) / 100) * 100).rounded() / 100
            return [
                .init(indicator: "RETAIL.SALES", area: area, value: sales, status: status),
                .init(indicator: "LABOUR.FORCE", area: area, value: labour, status: status),
                .init(indicator: "UNEMP.RATE", area: area, value: rate, status: status),
            ]
        }
        var revisions = 0
        for (index, period) in Self.months2024Units.enumerated() {
            let reportDay = Self.dayAfter(period, days: 10)
            let provisional = index >= Self.months2024Units.count - 2
            for code in oldProvinces {
                let jitter = 0.97 + Double(random.next() % 60) / 1000
                let first = e.reportSubmitted(
                    unit: "CTK\(code)", form: "BC-TM", period: period,
                    observations: observations(code, size[code]!, month: index, status: provisional ? "provisional" : "normal", jitter: jitter),
                    source: "urn:vn:gso:province:\(code)", at: day(reportDay))
                reports.append(first)
                if provisional, index == Self.months2024Units.count - 2 {
                    // The office revises May 2025 three weeks later: final figures, slightly different.
                    revisions += 1
                    reports.append(e.reportSubmitted(
                        unit: "CTK\(code)", form: "BC-TM", period: period, action: "replace", revision: 2,
                        supersedes: first.id,
                        observations: observations(code, size[code]!, month: index, status: "normal", jitter: jitter * 1.004),
                        source: "urn:vn:gso:province:\(code)", at: day(Self.dayAfter(period, days: 31))))
                }
            }
        }

        masterData += [
            e.classificationPublished(
                AdministrativeUnits.classification, version: "2025", validFrom: "2025-07-01", items: units2025,
                at: day("2025-06-20")),
            e.correspondencePublished(
                AdministrativeUnits.classification, from: "2024", to: "2025", mappings: provinces, at: day("2025-06-20", 9)),
        ]
        for (offset, period) in Self.months2025Units.enumerated() {
            let index = Self.months2024Units.count + offset
            for code in newSize.keys.sorted() {
                let jitter = 0.97 + Double(random.next() % 60) / 1000
                reports.append(e.reportSubmitted(
                    unit: "CTK\(code)", form: "BC-TM", period: period,
                    observations: observations(code, newSize[code]!, month: index, status: offset == 3 ? "provisional" : "normal", jitter: jitter),
                    source: "urn:vn:gso:province:\(code)", at: day(Self.dayAfter(period, days: 10))))
            }
        }
        eventsByTopic = [("master-data", masterData), ("reports", reports)]
        summary = "2024 units (\(units2024.count) items), 2025 units (\(units2025.count)), 3 indicators, "
            + "\(reports.count) monthly reports (\(revisions) revisions), the province correspondence"
    }

    /// The date `days` after the end of a monthly period, as YYYY-MM-DD.
    static func dayAfter(_ period: String, days: Int) -> String {
        let year = Int(period.prefix(4))!
        let month = Int(period.suffix(2))!
        var components = DateComponents(year: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1)
        components.day! += days - 1
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = calendar.date(from: components)!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    /// Prints the national series across the reform, one province re-expressed in 2025 units, and the conservation
    /// check; throws if totals are not conserved.
    func printResults(on db: PostgresConnection) throws {
        print("\n== national retail sales (VN) by month: 2024 units until 2025-M06, 2025 units from 2025-M07")
        let national = try IndicatorTable.fetch("RETAIL.SALES", area: "VN", on: db)
        print(national.rendered())

        let merged = try db.query(
            """
            SELECT string_agg(source_code || ' ' || i.name_vi, ' + ' ORDER BY source_code)
            FROM statistics.correspondences c
            JOIN statistics.classification_at('vn-admin-units', '2025-06-30') i ON i.code = c.source_code
            WHERE c.target_code = '08' AND c.recorded_to IS NULL
            """)
        print("== Tuyên Quang (08) in 2025 units; before July 2025 re-expressed from \(try merged[0].decode(String.self, at: 0))")
        print(try IndicatorTable.fetch("RETAIL.SALES", version: "2025", area: "08", on: db).rendered())

        let check = try db.query(
            """
            WITH national AS (
                SELECT period, value FROM statistics.indicator_values('RETAIL.SALES') WHERE area = 'VN'
            ), reexpressed AS (
                SELECT period, sum(value) AS value FROM statistics.indicator_reexpressed('RETAIL.SALES', '2024', '2025')
                WHERE area <> 'VN' GROUP BY period
            )
            SELECT count(*)::int, count(*) FILTER (WHERE n.value = r.value)::int
            FROM national n JOIN reexpressed r USING (period)
            """)
        let (periods, equal) = (try check[0].decode(Int.self, at: 0), try check[0].decode(Int.self, at: 1))
        print("== conservation: in \(equal) of \(periods) periods before the reform, the 34 re-expressed provinces add up exactly to the national total")
        guard periods == Self.months2024Units.count, equal == periods else {
            throw ValidationError("re-expression did not conserve the national total in \(periods - equal) periods")
        }
        let unemployment = try IndicatorTable.fetch("UNEMP.RATE", period: "2025-M10", area: "VN", on: db)
        if let row = unemployment.rows.first {
            print("== national unemployment rate 2025-M10 (mean weighted by labour force): \(row.value.flatMap(Double.init).map { String(format: "%.2f", $0) } ?? "–") % (\(row.status))")
        }
    }
}

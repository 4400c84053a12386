// The national-scale statistical dataset of `mekong-bench statistics` (BENCHMARKS.md, "Indicator tables at national
// scale"): seeded synthetic monthly reports from every commune of Vietnam's real 2024 and 2025 units, across the
// July 2025 reform.
import Foundation
import MekongEvents
import MekongKafka
import MekongPublishing
import MekongStatisticalEvents

/// Every commune reports every month on every indicator: 2024-M01 … 2025-M06 in the 2024 units (10 035
/// communes), 2025-M07 … 2025-M12 in the 2025 units (3 321). Indicators `IND.00` … : every fifth a mean weighted
/// by the one before it, the others sums. About 2 % of values are provisional, 1 % estimated, 1 % confidential,
/// 0.5 % missing; 1 % of reports are revised later (a replace, revision 2). The master data: both unit lists, the
/// indicators, and a commune-level correspondence 2024 → 2025.
///
/// The correspondence is synthetic (data/vn-admin-units has the province one only): a 2024 commune whose code
/// survives in 2025 maps to itself, any other to the 2025 commune with the nearest code in the province its
/// province became (GSO codes are assigned along the map); every 40th of those is split 0.7 / 0.3 between the
/// two nearest (estimated weights). Provinces and the nation are not mapped: re-expression rolls them up along
/// the 2025 hierarchy.
struct NationalDataset {
    static let months2024Units: [String] = (0..<18).map { String(format: "%04d-M%02d", 2024 + $0 / 12, $0 % 12 + 1) }
    static let months2025Units: [String] = (7...12).map { String(format: "2025-M%02d", $0) }

    let indicatorCount: Int
    let seed: UInt64
    let units2024: [StatisticalEvents.Item]
    let units2025: [StatisticalEvents.Item]
    let communes2024: [String]
    let communes2025: [String]
    let provinceOf2025: [String: String]
    let master: [CloudEvent]
    /// Monthly report events, built a month at a time (the whole set does not fit in memory as JSON trees).
    var months: [(period: String, communes: [String])] {
        Self.months2024Units.map { ($0, communes2024) } + Self.months2025Units.map { ($0, communes2025) }
    }

    var observationCount: Int {
        (Self.months2024Units.count * communes2024.count + Self.months2025Units.count * communes2025.count) * indicatorCount
    }

    static func indicator(_ index: Int) -> String { String(format: "IND.%02d", index) }
    static func isWeightedMean(_ index: Int) -> Bool { index % 5 == 4 }

    init(seed: UInt64, indicators: Int, data: URL) throws {
        self.seed = seed
        indicatorCount = indicators
        func file(_ name: String) throws -> String {
            try String(contentsOf: data.appendingPathComponent(name), encoding: .utf8)
        }
        units2024 = try AdministrativeUnits.units2024(csv: file("units-2024.csv"))
        units2025 = try AdministrativeUnits.units2025(csv: file("units-2025.csv"))
        let provinces = try AdministrativeUnits.provinceCorrespondence(csv: file("provinces-2024-to-2025.csv"))
        communes2024 = units2024.filter { $0.level == 4 }.map(\.code)
        communes2025 = units2025.filter { $0.level == 3 }.map(\.code)
        var provinceOf2025: [String: String] = [:]
        for item in units2025 where item.level == 3 { provinceOf2025[item.code] = item.parent }
        self.provinceOf2025 = provinceOf2025

        // The commune correspondence (see above).
        let newProvince = Dictionary(provinces.map { ($0.source, $0.target) }, uniquingKeysWith: { a, _ in a })
        var communesIn2025: [String: [Int]] = [:]
        for code in communes2025 { communesIn2025[provinceOf2025[code]!, default: []].append(Int(code)!) }
        for key in communesIn2025.keys { communesIn2025[key]!.sort() }
        let surviving = Set(communes2025)
        var mappings: [(source: String, target: String, relation: StatisticalEvents.Relation)] = []
        var moved = 0
        let provinceOfDistrict = Dictionary(
            units2024.filter { $0.level == 3 }.map { ($0.code, $0.parent!) }, uniquingKeysWith: { a, _ in a })
        for item in units2024 where item.level == 4 {
            if surviving.contains(item.code) {
                mappings.append((item.code, item.code, .whole))
                continue
            }
            guard let oldProvince = item.parent.flatMap({ provinceOfDistrict[$0] }), let province = newProvince[oldProvince],
                let candidates = communesIn2025[province], !candidates.isEmpty
            else { continue }
            let code = Int(item.code)!
            let nearest = candidates.sorted { abs($0 - code) < abs($1 - code) || (abs($0 - code) == abs($1 - code) && $0 < $1) }
            moved += 1
            if moved % 40 == 0, nearest.count > 1 {
                mappings.append((item.code, String(format: "%05d", nearest[0]), .part(weight: 0.7)))
                mappings.append((item.code, String(format: "%05d", nearest[1]), .part(weight: 0.3)))
            } else {
                mappings.append((item.code, String(format: "%05d", nearest[0]), .whole))
            }
        }

        let e = StatisticalEvents(deterministicFrom: seed)
        var master = [
            e.classificationPublished(
                AdministrativeUnits.classification, version: "2024", validFrom: "2024-01-01", items: units2024,
                at: Self.day("2023-12-20")),
            e.classificationPublished(
                AdministrativeUnits.classification, version: "2025", validFrom: "2025-07-01", items: units2025,
                at: Self.day("2025-06-20")),
            e.correspondencePublished(
                AdministrativeUnits.classification, from: "2024", to: "2025", mappings: mappings,
                at: Self.day("2025-06-21")),
        ]
        for index in 0..<indicators {
            master.append(e.indicatorDefined(
                Self.indicator(index), nameVi: "Chỉ tiêu \(index)", nameEn: "Indicator \(index)",
                unit: Self.isWeightedMean(index) ? "percent" : "unit", periodicities: ["month"],
                weight: Self.isWeightedMean(index) ? Self.indicator(index - 1) : nil, at: Self.day("2023-12-21")))
        }
        self.master = master
    }

    static func day(_ text: String, seconds: Int = 0) -> Timestamp {
        let start = Timestamp(rfc3339: "\(text)T08:00:00+07:00")!
        return Timestamp(date: Date(timeIntervalSince1970: Double(start.epochSeconds + Int64(seconds))))
    }

    /// The reports of month `index` of `months` as Kafka records: first submissions, then the revisions.
    func records(month index: Int) -> [OutgoingMessage] {
        let (period, communes) = months[index]
        let e = StatisticalEvents(deterministicFrom: seed &+ UInt64(index) &* 1_000_003)
        var random = SeededRandom(seed: seed ^ (UInt64(index + 1) &* 0x9E37_79B9))
        let year = Int(period.prefix(4))!, month = Int(period.suffix(2))!
        let reportDay = String(format: "%04d-%02d-10", month == 12 ? year + 1 : year, month == 12 ? 1 : month + 1)
        var records: [OutgoingMessage] = []
        records.reserveCapacity(communes.count + communes.count / 50)
        var revisions: [OutgoingMessage] = []
        for (position, commune) in communes.enumerated() {
            let size = 1 + Double(Int(commune)! % 97) / 10
            func observations(revised: Bool) -> [StatisticalEvents.Observation] {
                (0..<indicatorCount).map { i in
                    let roll = random.next() % 1_000
                    let value: Double? = roll < 5 ? nil
                        : Self.isWeightedMean(i) ? Double(150 + random.next() % 300) / 100
                        : (size * Double(100 + i * 7) * (1 + Double(month) / 50) * (revised ? 1.01 : 1)).rounded() / 10
                    let status = roll < 25 ? "provisional" : roll < 35 ? "estimated" : "normal"
                    let confidentiality = random.next() % 100 == 0 ? "confidential" : "free"
                    return .init(indicator: Self.indicator(i), area: commune, value: value, status: status,
                                 confidentiality: confidentiality)
                }
            }
            let first = e.reportSubmitted(
                unit: "XA\(commune)", form: "BC-XA", period: period, observations: observations(revised: false),
                source: "urn:vn:gso:commune:\(commune)", at: Self.day(reportDay, seconds: position))
            records.append(EventPublisher.record(for: first, topic: "reports"))
            if random.next() % 100 == 0 {
                let revision = e.reportSubmitted(
                    unit: "XA\(commune)", form: "BC-XA", period: period, action: "replace", revision: 2,
                    supersedes: first.id, observations: observations(revised: true),
                    source: "urn:vn:gso:commune:\(commune)", at: Self.day(reportDay, seconds: 20 * 86_400 + position))
                revisions.append(EventPublisher.record(for: revision, topic: "reports"))
            }
        }
        return records + revisions
    }
}

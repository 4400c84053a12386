import ArgumentParser
import Foundation
import MekongEvents
import MekongPostgres

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Read the statistical tables (the public schema `statistics`; see docs/statistics.md).",
        subcommands: [IndicatorQuery.self])
}

struct IndicatorQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "indicator",
        abstract: "An indicator's values: reported, rolled up along the area hierarchy, optionally as known at a time or in one classification version.",
        discussion: """
            Aggregates follow the hierarchy of vn-admin-units valid at each period and the indicator's rule; they \
            carry the weakest status and the strictest confidentiality of their inputs. Confidential values are \
            shown with their flag, never as free. With --classification-version, earlier periods are re-expressed \
            through the published correspondence (non-comparable targets have no value).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv
        case sdmxCSV = "sdmx-csv"
    }

    @Argument(help: "Indicator code, e.g. RETAIL.SALES.") var code: String
    @Option(help: "Only this period (2025, 2025-H1, 2025-Q3, 2025-M07).") var period: String?
    @Option(help: "Only this area code (VN for the country).") var area: String?
    @Option(help: "As known at this recorded time (RFC 3339, or a date meaning its start in UTC).") var asOf: String?
    @Option(help: "Express every period in the codes of this vn-admin-units version (e.g. 2025).")
    var classificationVersion: String?
    @Option(help: "table, csv or sdmx-csv.") var format: Format = .table
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let knownAt = try Self.knownAt(asOf)
        if let period, Self.periodPattern.firstMatch(in: period, range: NSRange(period.startIndex..., in: period)) == nil {
            throw ValidationError("--period \(period) is not a period (2025, 2025-H1, 2025-Q3, 2025-M07)")
        }
        let db = try PostgresConnection(url: try connection.resolve().postgres)
        defer { db.close() }
        let table = try IndicatorTable.fetch(
            code, knownAt: knownAt, version: classificationVersion, period: period, area: area, on: db)
        print(table.rendered(format), terminator: "")
    }

    static let periodPattern = try! NSRegularExpression(pattern: "^[0-9]{4}(-(H[12]|Q[1-4]|M(0[1-9]|1[0-2])))?$")

    static func knownAt(_ text: String?) throws -> String {
        guard let text else { return "infinity" }
        if let timestamp = Timestamp(rfc3339: text) { return timestamp.text }
        if let day = Timestamp(rfc3339: text + "T00:00:00Z") { return day.text }
        throw ValidationError("--as-of \(text) is neither an RFC 3339 time (2025-07-01T08:00:00+07:00) nor a date (2025-07-01)")
    }
}

/// One indicator's rows as `mekong query indicator` and `mekong demo` print them.
struct IndicatorTable {
    struct Row {
        var period: String
        var area: String
        var dimensions: [(String, String)]
        var value: String?
        var status: String
        var confidentiality: String
        var origin: String
    }

    let code: String
    let unit: String
    let name: String
    let rows: [Row]

    static func fetch(
        _ code: String, knownAt: String = "infinity", version: String? = nil, period: String? = nil,
        area: String? = nil, on db: PostgresConnection
    ) throws -> IndicatorTable {
        let definition = try db.query(
            """
            SELECT name_vi, unit FROM statistics.indicators
            WHERE code = $1 AND recorded_from <= $2::timestamptz AND (recorded_to IS NULL OR recorded_to > $2::timestamptz)
            """, [code, knownAt])
        guard let first = definition.first else {
            throw ValidationError("indicator \(code) is not defined (as known at \(knownAt)); see statistics.indicators")
        }
        // Now, on a version that materializes its tables (statistics v2 on): an index range of indicator_table.
        // As known at a time, in another version's codes, or on v1: the functions.
        var materialized = false
        if version == nil, knownAt == "infinity" {
            materialized = try db.query("SELECT to_regclass('statistics.indicator_table') IS NOT NULL")[0]
                .decode(Bool.self, at: 0)
        }
        let source = materialized
            ? "statistics.indicator_table WHERE indicator = $1 AND $2::timestamptz = 'infinity' AND"
            : version == nil
                ? "statistics.indicator_values($1, $2::timestamptz) WHERE"
                : "statistics.indicator_in_version($1, $5, $2::timestamptz) WHERE"
        let result = try db.query(
            """
            SELECT period, area, dimensions::text, value::text, status, confidentiality, origin FROM \(source)
            ($3::text IS NULL OR period = $3) AND ($4::text IS NULL OR area = $4)
            ORDER BY period, area, dimensions::text
            """, [code, knownAt, period, area] + (version.map { [$0] } ?? []))
        let rows = try result.map { row in
            let text = try row.decode(String.self, at: 2)
            let dimensions = text == "{}" ? [] : try JSON.parse(text).objectValue.map { object in
                object.map { ($0.key, $0.value.stringValue ?? "") }.sorted { $0.0 < $1.0 }
            } ?? []
            return Row(
                period: try row.decode(String.self, at: 0), area: try row.decode(String.self, at: 1),
                dimensions: dimensions, value: try row.decode(String?.self, at: 3),
                status: try row.decode(String.self, at: 4), confidentiality: try row.decode(String.self, at: 5),
                origin: try row.decode(String.self, at: 6))
        }
        return IndicatorTable(
            code: code, unit: try first.decode(String.self, at: 1), name: try first.decode(String.self, at: 0), rows: rows)
    }

    func rendered(_ format: IndicatorQuery.Format) -> String {
        switch format {
        case .table: return table()
        case .csv: return csv()
        case .sdmxCSV: return sdmxCSV()
        }
    }

    private var dimensionNames: [String] { Set(rows.flatMap { $0.dimensions.map(\.0) }).sorted() }

    private func table() -> String {
        var lines = [["period", "area"] + dimensionNames + ["value (\(unit))", "status", "confidentiality", "origin"]]
        for row in rows {
            let dims = Dictionary(row.dimensions, uniquingKeysWith: { a, _ in a })
            lines.append([row.period, row.area] + dimensionNames.map { dims[$0] ?? "" }
                + [row.value ?? "–", row.status, row.confidentiality, row.origin])
        }
        let widths = lines[0].indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        var text = "\(code) – \(name) (\(unit)): \(rows.count) rows\n"
        for line in lines {
            text += zip(line, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ") + "\n"
        }
        return text
    }

    private func csv() -> String {
        var text = (["indicator", "period", "area"] + dimensionNames + ["value", "unit", "status", "confidentiality", "origin"])
            .joined(separator: ",") + "\n"
        for row in rows {
            let dims = Dictionary(row.dimensions, uniquingKeysWith: { a, _ in a })
            text += ([code, row.period, row.area] + dimensionNames.map { dims[$0] ?? "" }
                + [row.value ?? "", unit, row.status, row.confidentiality, row.origin]).map(Self.csvField)
                .joined(separator: ",") + "\n"
        }
        return text
    }

    /// SDMX-CSV 1.0: DATAFLOW, the dimensions (INDICATOR, REF_AREA, the others upper-cased, TIME_PERIOD), OBS_VALUE,
    /// then the attributes OBS_STATUS and CONF_STATUS with SDMX code lists; half-years are S1/S2 in SDMX.
    private func sdmxCSV() -> String {
        let others = dimensionNames.filter { $0 != "area" }
        var text = (["DATAFLOW", "INDICATOR", "REF_AREA"] + others.map { $0.uppercased() }
            + ["TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "CONF_STATUS"]).joined(separator: ",") + "\n"
        text.reserveCapacity(rows.count * 48)
        for row in rows {
            let dims = others.isEmpty ? [:] : Dictionary(row.dimensions, uniquingKeysWith: { a, _ in a })
            // Half-years are S1/S2 in SDMX: 2025-H1 → 2025-S1.
            let period = row.period.utf8.count == 7 && row.period.utf8.dropFirst(5).first == UInt8(ascii: "H")
                ? String(row.period.prefix(5)) + "S" + String(row.period.suffix(1)) : row.period
            // Appended field by field: building an array per row and joining it was half of an export's time.
            text += "VN_GSO:DF_NSD(1.0),"
            text += Self.csvField(code)
            text += ","
            text += Self.csvField(row.area)
            for name in others {
                text += ","
                text += Self.csvField(dims[name] ?? "")
            }
            text += ","
            text += Self.csvField(period)
            text += ","
            text += Self.csvField(row.value ?? "")
            text += ","
            text += Self.obsStatus[row.status] ?? ""
            text += ","
            text += Self.confStatus[row.confidentiality] ?? ""
            text += "\n"
        }
        return text
    }

    static let obsStatus = ["normal": "A", "estimated": "E", "forecast": "F", "provisional": "P", "missing": "M"]
    static let confStatus = ["free": "F", "confidential": "C", "not-for-publication": "N"]

    static func csvField(_ text: String) -> String {
        // Printable ASCII without a comma or a quote needs no quoting (codes, numbers, periods): checked by bytes,
        // which is most of an export's time otherwise.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "\"") }) {
            return text
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

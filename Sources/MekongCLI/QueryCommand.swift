import ArgumentParser
import Foundation
import MekongEvents
import MekongIndicatorQueries
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
        case sdmxJSON = "sdmx-json"
    }

    @Argument(help: "Indicator code, e.g. RETAIL.SALES.") var code: String
    @Option(help: "Only this period (2025, 2025-H1, 2025-Q3, 2025-M07).") var period: String?
    @Option(help: "Only this area code (VN for the country).") var area: String?
    @Option(help: "Only the areas directly below this one in each period's hierarchy.") var parent: String?
    @Option(help: "As known at this recorded time (RFC 3339, or a date meaning its start in UTC).") var asOf: String?
    @Option(help: "Express every period in the codes of this vn-admin-units version (e.g. 2025).")
    var classificationVersion: String?
    @Option(name: .customLong("dimension"), help: "Only this code of another dimension, as NAME=CODE, e.g. sex=F (repeat: any of the codes).")
    var dimensions: [String] = []
    @Option(help: "Only what changed after this recorded time, each row with its action (I or D); not with --format table.")
    var updatedAfter: String?
    @Option(help: "table, csv, sdmx-csv or sdmx-json.") var format: Format = .table
    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let knownAt = try Self.knownAt(asOf)
        if let period, !IndicatorSelection.isPeriod(period) {
            throw ValidationError("--period \(period) is not a period (2025, 2025-H1, 2025-Q3, 2025-M07)")
        }
        var selection = IndicatorSelection(
            code: code, knownAt: knownAt, version: classificationVersion, period: period, areas: area.map { [$0] } ?? [],
            parent: parent)
        for filter in dimensions {
            let parts = filter.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--dimension \(filter) is not NAME=CODE (e.g. sex=F)")
            }
            selection.dimensionFilters[parts[0], default: []].append(parts[1])
        }
        if let updatedAfter {
            guard format != .table else { throw ValidationError("--updated-after needs --format csv, sdmx-csv or sdmx-json (each row with its action)") }
            guard let since = IndicatorSelection.knownAt(parsing: updatedAfter) else {
                throw ValidationError("--updated-after \(updatedAfter) is neither an RFC 3339 time nor a date (YYYY-MM-DD)")
            }
            selection.updatedAfter = since
        }
        let db = try PostgresConnection(url: try connection.resolve().postgres)
        defer { db.close() }
        do {
            switch format {
            case .table:
                print(try IndicatorTable.fetch(selection, on: db).rendered(), terminator: "")
            case .csv, .sdmxCSV:
                let output = StandardOutput()
                try IndicatorExport(selection).write(format == .csv ? .csv : .sdmxCSV, on: db) { try output.write($0) }
                try output.flush()
            case .sdmxJSON:
                let output = StandardOutput()
                let export = IndicatorExport(selection)
                try db.transaction(isolation: .repeatableRead) { db in
                    guard let definition = try export.prepare(on: db) else { throw IndicatorQueryError.undefined(selection) }
                    let prepared = Timestamp(date: Date()).text
                    try SDMXJSONMessage(export, definition).write(
                        id: SDMX.dataflowID(indicator: code), prepared: prepared, on: db) { try output.write($0) }
                }
                try output.flush()
            }
        } catch let error as IndicatorQueryError {
            throw ValidationError(error.message)
        }
    }

    static func knownAt(_ text: String?) throws -> String {
        guard let text else { return "infinity" }
        if let knownAt = IndicatorSelection.knownAt(parsing: text) { return knownAt }
        throw ValidationError("--as-of \(text) is neither an RFC 3339 time (2025-07-01T08:00:00+07:00) nor a date (2025-07-01)")
    }
}

/// One indicator's rows as `mekong query indicator` (table format) and `mekong demo` print them.
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
        try fetch(
            IndicatorSelection(code: code, knownAt: knownAt, version: version, period: period, areas: area.map { [$0] } ?? []),
            on: db)
    }

    static func fetch(_ selection: IndicatorSelection, on db: PostgresConnection) throws -> IndicatorTable {
        guard let definition = try selection.bind(on: db) else {
            throw IndicatorQueryError.undefined(selection)
        }
        let result = try db.query(try selection.statement(
            selecting: """
                answer.period, answer.area, answer.dimensions::text, answer.value::text, answer.status,
                answer.confidentiality, answer.origin
                """, definition, disclosure: .full, on: db))
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
        return IndicatorTable(code: selection.code, unit: definition.unit, name: definition.name, rows: rows)
    }

    private var dimensionNames: [String] { Set(rows.flatMap { $0.dimensions.map(\.0) }).sorted() }

    /// The rows as an aligned text table under a title line.
    func rendered() -> String {
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
}

/// Standard output through a 64 KiB buffer, written to the file descriptor directly (for streamed answers).
final class StandardOutput {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(Self.capacity) }

    static let capacity = 64 * 1024

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.capacity { try flush() }
        buffer.append(contentsOf: bytes)
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try FileHandle.standardOutput.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

import Foundation
import MekongPostgres

/// One indicator's rows as CSV, formatted by the server and streamed with `COPY … TO STDOUT (FORMAT csv)`: the
/// client copies bytes, so an export runs at the speed of one index range and memory does not grow with it.
///
/// Two formats (docs/statistics.md, "Exporting"):
/// - `csv`: indicator, period, area, the other dimensions, value, unit, status, confidentiality, origin;
/// - `sdmxCSV`, SDMX-CSV 1.0: DATAFLOW, INDICATOR, REF_AREA, the other dimensions upper-cased, TIME_PERIOD (half-years
///   as S1/S2), OBS_VALUE, then the attributes OBS_STATUS and CONF_STATUS in SDMX code lists.
///
/// Dimension columns are the indicator's declared dimensions besides `area`, sorted; a row without one has an
/// empty field. Quoting is RFC 4180's (PostgreSQL's CSV output): a field with a comma, a quote or a line break is
/// quoted, a missing value is empty.
struct IndicatorExport {
    enum Format { case csv, sdmxCSV }

    let selection: IndicatorSelection

    init(_ selection: IndicatorSelection) { self.selection = selection }

    /// SDMX OBS_STATUS and CONF_STATUS codes for Mekong's statuses and confidentialities.
    static let obsStatus = ["normal": "A", "estimated": "E", "forecast": "F", "provisional": "P", "missing": "M"]
    static let confStatus = ["free": "F", "confidential": "C", "not-for-publication": "N"]

    /// Writes the header line, then every row; returns the number of rows (without the header).
    @discardableResult
    func write(_ format: Format, on db: PostgresConnection, to output: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let definition = try selection.bind(on: db)
        // The dimension names (mekong.dimension_0 …) and the unit, in one statement.
        _ = try db.query(
            """
            SELECT set_config('mekong.unit', $1, false),
                   (SELECT count(set_config('mekong.dimension_' || (n - 1), d, false))
                    FROM unnest($2::text[]) WITH ORDINALITY AS x (d, n))
            """, [definition.unit, PostgresArray.text(definition.dimensions)])
        let dimensions = definition.dimensions.indices.map { "dimensions->>current_setting('mekong.dimension_\($0)')" }
        let header: [String]
        let columns: [String]
        switch format {
        case .csv:
            header = ["indicator", "period", "area"] + definition.dimensions + ["value", "unit", "status", "confidentiality", "origin"]
            columns = ["current_setting('mekong.indicator')", "period", "area"] + dimensions
                + ["value::text", "current_setting('mekong.unit')", "status", "confidentiality", "origin"]
        case .sdmxCSV:
            header = ["DATAFLOW", "INDICATOR", "REF_AREA"] + definition.dimensions.map { $0.uppercased() }
                + ["TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "CONF_STATUS"]
            columns = ["'VN_GSO:DF_NSD(1.0)'", "current_setting('mekong.indicator')", "area"] + dimensions
                + ["CASE WHEN substr(period, 6, 1) = 'H' THEN left(period, 5) || 'S' || right(period, 1) ELSE period END",
                   "value::text", Self.caseExpression("status", Self.obsStatus),
                   Self.caseExpression("confidentiality", Self.confStatus)]
        }
        let line = header.map(Self.csvField).joined(separator: ",") + "\n"
        try Array(line.utf8).withUnsafeBytes { try output($0) }
        let statement = """
            COPY (SELECT \(columns.joined(separator: ", ")) \(try selection.relation(on: db)) \(IndicatorSelection.order))
            TO STDOUT (FORMAT csv)
            """
        return try db.copyOut(statement, output)
    }

    /// `CASE column WHEN 'a' THEN 'A' … END` from a table of constants defined above (never from input).
    private static func caseExpression(_ column: String, _ codes: [String: String]) -> String {
        "CASE \(column) " + codes.sorted { $0.key < $1.key }.map { "WHEN '\($0.key)' THEN '\($0.value)'" }
            .joined(separator: " ") + " END"
    }

    /// A header field quoted as PostgreSQL's CSV output quotes the rows.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
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

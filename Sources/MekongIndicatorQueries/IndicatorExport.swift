import Foundation
import MekongPostgres

/// Who may see which values (docs/read-api.md, "Open and secured data").
public enum Disclosure: Sendable, Equatable {
    /// Every value with its flags: operators on the database (`mekong query`) and readers whose scope covers it.
    case full
    /// Published data only: a value that is not `free` is withheld (no value, its CONF_STATUS kept), and so is
    /// every value above a withheld one in its period's hierarchy (confidentiality `secondary`, SDMX `D`), reported
    /// or aggregated, so that no published total contains a withheld value.
    case published
    /// A reader's scope: every value of these areas and of every area below them (in each period's hierarchy) in
    /// full, published data elsewhere.
    case fullWithin(areas: [String])

    /// The disclosure spelled out (for validators): equal exactly when the disclosures are.
    public var key: String {
        switch self {
        case .full: "full"
        case .published: "published"
        case .fullWithin(let areas): "within\u{2}" + areas.joined(separator: "\u{3}")
        }
    }
}

/// One indicator's rows formatted by the server, a line per row, and streamed row by row (a statement prepared once
/// per session, libpq's single-row mode): the client copies bytes, so an answer runs at the speed of one index
/// range and memory does not grow with it.
///
/// Formats (docs/statistics.md, "Exporting"; docs/read-api.md, "Formats"):
/// - `csv`: indicator, period, area, the other dimensions, value, unit, status, confidentiality, origin;
/// - `sdmxCSV`, SDMX-CSV 2.0: STRUCTURE, STRUCTURE_ID (the indicator's dataflow, ``SDMX``), ACTION (`I`,
///   information), REF_AREA, the other
///   dimensions upper-cased, TIME_PERIOD (half-years as S1/S2), OBS_VALUE, then OBS_STATUS and CONF_STATUS;
/// - `json`: one JSON object per row, `{"period", "area", "dimensions", "value", "status", "confidentiality",
///   "origin"}`, written one per line so that the caller can join them into an array.
///
/// A selection with ``IndicatorSelection/updatedAfter`` has the action of each row (`I` new or changed, `D` gone)
/// in SDMX-CSV's ACTION, as a last `action` column in CSV and as `"action"` in JSON. A history
/// (``IndicatorSelection/includeHistory``) has the actions too, and the time of each row's dissemination (RFC 3339,
/// UTC) as a last column `VALID_FROM` in SDMX-CSV (a custom column, as SDMX-CSV 2.0 allows), `valid_from` in CSV
/// and `"validFrom"` in JSON; its rows come in the order of their disseminations.
///
/// Dimension columns are the indicator's declared dimensions besides `area`, sorted; a row without one has an
/// empty field. Quoting is RFC 4180's (PostgreSQL's CSV output): a field with a comma, a quote or a line break is
/// quoted, a missing value is empty.
public struct IndicatorExport: Sendable {
    public enum Format: Sendable { case csv, sdmxCSV, json }

    public let selection: IndicatorSelection
    public let disclosure: Disclosure
    /// Only the periods released by this time (RFC 3339) in the release calendar; nil: every period.
    public let releasedBy: String?

    public init(_ selection: IndicatorSelection, disclosure: Disclosure = .full, releasedBy: String? = nil) {
        self.selection = selection
        self.disclosure = disclosure
        self.releasedBy = releasedBy
    }

    /// Binds the selection and returns the indicator's definition, or nil if it is not defined. A history
    /// (``IndicatorSelection/includeHistory``) is computed here, and the definition says what it holds.
    public func prepare(on db: PostgresConnection) throws -> IndicatorSelection.Definition? {
        // The unit, the dataflow and a reader's scope, set with the selection's own settings.
        var scope: [String] = []
        if case .fullWithin(let areas) = disclosure { scope = areas }
        guard var definition = try selection.bind(on: db, releasedBy: releasedBy, settings: [
            ("mekong.dataflow", SDMX.dataflowReference(indicator: selection.code)), ("mekong.scope_areas", PostgresArray.text(scope)),
        ]) else { return nil }
        if selection.includeHistory {
            definition.history = try selection.prepareHistory(disclosure: disclosure, hidingUnreleased: releasedBy != nil, on: db)
        }
        return definition
    }

    /// The header line of a CSV format (nil for JSON), with its line break.
    public func header(_ format: Format, _ definition: IndicatorSelection.Definition) -> String? {
        let names: [String]
        switch format {
        case .csv:
            names = ["indicator", "period", "area"] + definition.dimensions + ["value", "unit", "status", "confidentiality", "origin"]
                + (selection.reportsChanges ? ["action"] : []) + (selection.includeHistory ? ["valid_from"] : [])
        case .sdmxCSV:
            names = ["STRUCTURE", "STRUCTURE_ID", "ACTION", "REF_AREA"] + definition.dimensions.map { $0.uppercased() }
                + ["TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "CONF_STATUS"] + (selection.includeHistory ? ["VALID_FROM"] : [])
        case .json:
            return nil
        }
        return names.map(Self.csvField).joined(separator: ",") + "\n"
    }

    /// Streams every row of a prepared selection to `output`, one call per row (a CSV line or a JSON object, each
    /// with its line break); returns the number of rows. With `committing` the statement ends the connection's open
    /// transaction (``PostgresConnection/streamPrepared(_:_:committing:_:)``).
    @discardableResult
    public func rows(
        _ format: Format, _ definition: IndicatorSelection.Definition, on db: PostgresConnection, committing: Bool = false,
        to output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let confidentiality = "disclosed.confidentiality"
        let value = "CASE WHEN disclosed.visible THEN answer.value END"
        let dimensions = definition.dimensions.indices.map { "answer.dimensions->>current_setting('mekong.dimension_\($0)')" }
        // An `updatedAfter` or history answer's rows say what became of each (I: new or changed, D: gone), a
        // history's also when (valid_from).
        let changes = selection.reportsChanges
        let history = selection.includeHistory
        let action = changes ? "answer.action" : "'I'"
        // Each row is one text, its line as PostgreSQL's COPY … (FORMAT csv) would write it, made by the server:
        // the statement is prepared once per session (a COPY is planned every time) and streamed row by row.
        // CSV fields: texts from outside (codes, the unit) quoted as needed; fixed words, numbers, periods and
        // times, which never need quotes, as they are.
        let quoted = { (field: String) in Self.csvQuoted(field) }
        let plain = { (field: String) in "coalesce(\(field), '')" }
        let line: String
        switch format {
        case .csv:
            line = ([quoted("current_setting('mekong.indicator')"), plain("answer.period"), quoted("answer.area")]
                + dimensions.map(quoted)
                + [plain("\(value)::text"), quoted("current_setting('mekong.unit')"), plain("answer.status"),
                   plain(confidentiality), plain("answer.origin")]
                + (changes ? [plain(action)] : []) + (history ? [plain("answer.valid_from")] : [])).joined(separator: " || ',' || ")
        case .sdmxCSV:
            // STRUCTURE_ID is made of SDMX ids (``SDMX/dataflowReference(indicator:)``): never quoted.
            line = (["'dataflow'", plain("current_setting('mekong.dataflow')"), plain(action), quoted("answer.area")]
                + dimensions.map(quoted)
                + [plain(Self.sdmxPeriod("answer.period")), plain("\(value)::text"),
                   plain(Self.caseExpression("answer.status", SDMX.obsStatus)),
                   plain(Self.caseExpression(confidentiality, SDMX.confStatus))]
                + (history ? [plain("answer.valid_from")] : [])).joined(separator: " || ',' || ")
        case .json:
            // JSON text has no raw line break: the object is the line.
            line = """
                json_build_object('period', answer.period, 'area', answer.area, 'dimensions', answer.dimensions,
                                  'value', \(value), 'status', answer.status, 'confidentiality', \(confidentiality),
                                  'origin', answer.origin\(changes ? ", 'action', answer.action" : "")\(
                                      history ? ", 'validFrom', answer.valid_from" : ""))::text
                """
        }
        let query = try selection.statement(
            selecting: "\(line) || e'\\n'", definition, disclosure: disclosure, hidingUnreleased: releasedBy != nil, on: db)
        return try db.streamPrepared(query, [], committing: committing, output)
    }

    /// A field of a CSV line as PostgreSQL's CSV output writes it (RFC 4180): NULL as nothing; the empty text, and
    /// a text with a comma, a quote or a line break, quoted with its quotes doubled; any other text as it is.
    static func csvQuoted(_ field: String) -> String {
        """
        CASE WHEN (\(field)) = '' OR strpos(\(field), ',') > 0 OR strpos(\(field), '"') > 0
                  OR strpos(\(field), e'\\n') > 0 OR strpos(\(field), e'\\r') > 0
             THEN '"' || replace(\(field), '"', '""') || '"' ELSE coalesce(\(field), '') END
        """
    }

    /// Writes the header line (CSV formats), then every row; returns the number of rows (without the header).
    /// - Throws: `IndicatorQueryError` if the indicator is not defined.
    @discardableResult
    public func write(_ format: Format, on db: PostgresConnection, to output: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        guard let definition = try prepare(on: db) else { throw IndicatorQueryError.undefined(selection) }
        if let header = header(format, definition) {
            try Array(header.utf8).withUnsafeBytes { try output($0) }
        }
        return try rows(format, definition, on: db, to: output)
    }

    /// SDMX's form of a period column: half-years as `2025-S1`, the others as they are.
    static func sdmxPeriod(_ column: String) -> String {
        "CASE WHEN substr(\(column), 6, 1) = 'H' THEN left(\(column), 5) || 'S' || right(\(column), 1) ELSE \(column) END"
    }

    /// `CASE column WHEN 'a' THEN 'A' … END` from a table of constants defined above (never from input).
    static func caseExpression(_ column: String, _ codes: [String: String]) -> String {
        "CASE \(column) " + codes.sorted { $0.key < $1.key }.map { "WHEN '\($0.key)' THEN '\($0.value)'" }
            .joined(separator: " ") + " END"
    }

    /// A header field quoted as PostgreSQL's CSV output quotes the rows.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Why an indicator query has no answer: the module's one error, with a stable code.
public struct IndicatorQueryError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Code: String, Sendable {
        /// The indicator is not defined as known at the time asked for.
        case undefinedIndicator = "undefined-indicator"
        /// The classification version asked for is not a published version of `vn-admin-units`.
        case unpublishedVersion = "unpublished-version"
        /// A dimension filter names a dimension the indicator does not declare.
        case unknownDimension = "unknown-dimension"
        /// A row of an answer did not have the fields its statement selects (a bug, never input).
        case malformedRow = "malformed-row"
    }
    public let code: Code
    /// The dimension at fault (`unknown-dimension`).
    public var dimension: String? = nil
    public let message: String

    public static func undefined(_ selection: IndicatorSelection) -> IndicatorQueryError {
        IndicatorQueryError(
            code: .undefinedIndicator,
            message: "indicator \(selection.code) is not defined (as known at \(selection.knownAt)); see statistics.indicators")
    }

    public static func unpublishedVersion(_ selection: IndicatorSelection) -> IndicatorQueryError {
        IndicatorQueryError(
            code: .unpublishedVersion,
            message: "version \(selection.version ?? "") of vn-admin-units is not published (as known at \(selection.knownAt)); see statistics.classification_versions")
    }

    public static func unknownDimension(_ selection: IndicatorSelection, _ name: String, declared: [String]) -> IndicatorQueryError {
        IndicatorQueryError(
            code: .unknownDimension, dimension: name,
            message: "indicator \(selection.code) has no dimension \(name)"
                + (declared.isEmpty ? " (it has none besides area)" : "; it has \(declared.joined(separator: ", "))"))
    }

    public var description: String { message }
}

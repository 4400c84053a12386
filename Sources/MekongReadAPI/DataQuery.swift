import MekongEvents
import MekongIndicatorQueries

/// `GET /v1/data/{indicator}`'s query string, checked: every parameter known, every value well formed, or a 400
/// that names the parameter (docs/read-api.md, "Data").
struct DataQuery: Sendable, Equatable {
    enum Format: String, Sendable, CaseIterable {
        case json
        case sdmxJSON = "sdmx-json"
        case sdmxCSV = "sdmx-csv"
        case csv

        var mediaType: String {
            switch self {
            case .json: "application/json"
            case .sdmxJSON: "application/vnd.sdmx.data+json; version=2.0.0"
            case .sdmxCSV: "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8"
            case .csv: "text/csv; charset=utf-8"
            }
        }

        /// The export format of the rows (nil: an SDMX-JSON message, written by ``SDMXJSONMessage``).
        var export: IndicatorExport.Format? {
            switch self {
            case .json: .json
            case .sdmxJSON: nil
            case .sdmxCSV: .sdmxCSV
            case .csv: .csv
            }
        }

        /// The format an `Accept` header asks for: the first media range the server has, `*/*` and none being JSON.
        static func negotiated(accept: String?) -> Format? {
            guard let accept, !accept.isEmpty else { return .json }
            for range in accept.split(separator: ",") {
                let type = range.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                switch type {
                case "application/json", "*/*", "application/*": return .json
                case "application/vnd.sdmx.data+csv": return .sdmxCSV
                case "application/vnd.sdmx.data+json": return .sdmxJSON
                case "text/csv", "text/*": return .csv
                default: continue
                }
            }
            return nil
        }
    }

    var selection: IndicatorSelection
    var format: Format
    /// The query string as given (decoded names and values), for links to more of the same answer.
    var parameters: [Parameter]

    struct Parameter: Sendable, Equatable {
        var name: String
        var value: String
    }

    static let parameters: Set<String> = [
        "area", "parent", "startPeriod", "endPeriod", "classificationVersion", "asOf", "updatedAfter", "includeHistory",
        "format",
    ]
    static let maxAreas = 500

    /// - Throws: ``ReadAPIError`` (400 naming the parameter, 406 for an `Accept` the server cannot answer).
    init(indicator: String, parameters: [(String, String)], accept: String?) throws {
        guard Self.isCode(indicator) else {
            throw ReadAPIError.invalidParameter("indicator", "\(indicator) is not an indicator code (letters, digits, . _ -, at most 32)")
        }
        var values: [String: String] = [:]
        var dimensionFilters: [String: [String]] = [:]
        for (name, value) in parameters {
            if let dimension = Self.dimensionFilter(name) {
                // SDMX REST 2.0's component filter c[DIMENSION]=a,b (equality with any of the values).
                guard dimension.lowercased() != "area" else {
                    throw ReadAPIError.invalidParameter(name, "filter areas with area= or parent=, not \(name)")
                }
                guard dimensionFilters[dimension] == nil else { throw ReadAPIError.invalidParameter(name, "\(name) is given more than once") }
                let codes = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard codes.count <= Self.maxAreas else {
                    throw ReadAPIError.invalidParameter(name, "at most \(Self.maxAreas) values, not \(codes.count)")
                }
                if let bad = codes.first(where: { !Self.isCode($0) }) {
                    throw ReadAPIError.invalidParameter(name, "\"\(bad)\" is not a code")
                }
                dimensionFilters[dimension] = codes
                continue
            }
            guard Self.parameters.contains(name) else {
                throw ReadAPIError.invalidParameter(
                    name, "unknown parameter \(name); this route takes \(Self.parameters.sorted().joined(separator: ", ")) and c[DIMENSION]")
            }
            guard values[name] == nil else { throw ReadAPIError.invalidParameter(name, "\(name) is given more than once") }
            values[name] = value
        }
        self.parameters = parameters.map { Parameter(name: $0.0, value: $0.1) }
        var selection = IndicatorSelection(code: indicator)
        if let area = values["area"] {
            let areas = area.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard areas.count <= Self.maxAreas else {
                throw ReadAPIError.invalidParameter("area", "at most \(Self.maxAreas) areas, not \(areas.count)")
            }
            if let bad = areas.first(where: { !Self.isCode($0) }) {
                throw ReadAPIError.invalidParameter("area", "\"\(bad)\" is not an area code")
            }
            selection.areas = areas
        }
        if let parent = values["parent"] {
            guard Self.isCode(parent) else { throw ReadAPIError.invalidParameter("parent", "\"\(parent)\" is not an area code") }
            selection.parent = parent
        }
        for name in ["startPeriod", "endPeriod"] {
            if let period = values[name], !IndicatorSelection.isPeriod(period) {
                throw ReadAPIError.invalidParameter(name, "\(period) is not a period (2025, 2025-H1, 2025-Q3, 2025-M07)")
            }
        }
        selection.startPeriod = values["startPeriod"]
        selection.endPeriod = values["endPeriod"]
        if let version = values["classificationVersion"] {
            guard Self.isCode(version) else {
                throw ReadAPIError.invalidParameter("classificationVersion", "\"\(version)\" is not a version label")
            }
            selection.version = version
        }
        if let asOf = values["asOf"] {
            guard let knownAt = IndicatorSelection.knownAt(parsing: asOf) else {
                throw ReadAPIError.invalidParameter("asOf", "\(asOf) is neither an RFC 3339 time nor a date (YYYY-MM-DD)")
            }
            selection.knownAt = knownAt
        }
        if let updatedAfter = values["updatedAfter"] {
            guard let since = IndicatorSelection.knownAt(parsing: updatedAfter) else {
                throw ReadAPIError.invalidParameter("updatedAfter", "\(updatedAfter) is neither an RFC 3339 time nor a date (YYYY-MM-DD)")
            }
            selection.updatedAfter = since
        }
        selection.dimensionFilters = dimensionFilters
        switch values["includeHistory"] {
        case nil, "false": selection.includeHistory = false
        case "true": selection.includeHistory = true
        case let other?: throw ReadAPIError.invalidParameter("includeHistory", "includeHistory is true or false, not \(other)")
        }
        if let name = values["format"] {
            guard let format = Format(rawValue: name) else {
                throw ReadAPIError.invalidParameter("format", "format is one of \(Format.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.format = format
        } else if let format = Format.negotiated(accept: accept) {
            self.format = format
        } else {
            throw ReadAPIError(406, "not-acceptable", "Not acceptable", detail:
                "Accept \(accept ?? "") names no format this server has: application/json, application/vnd.sdmx.data+json, application/vnd.sdmx.data+csv, text/csv")
        }
        self.selection = selection
    }

    /// The dimension of a component filter parameter, `c[SEX]` → `SEX` (matched to the indicator's dimensions
    /// without regard to case: SDMX answers upper-case them), or nil if `name` is not one.
    static func dimensionFilter(_ name: String) -> String? {
        let b = Array(name.utf8)
        guard b.count >= 4, b.count <= 35, b[0] == UInt8(ascii: "c"), b[1] == UInt8(ascii: "["), b.last == UInt8(ascii: "]"),
              isLetter(b[2]), b[3..<(b.count - 1)].allSatisfy({ isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") })
        else { return nil }
        return String(decoding: b[2..<(b.count - 1)], as: UTF8.self)
    }

    /// A code: a letter or digit, then letters, digits, `.`, `_` or `-`, at most 32 in all. (Checked byte by
    /// byte: a Swift `Regex` literal is parsed again at every use; ``IndicatorSelection/isPeriod(_:)`` says more.)
    static func isCode(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard (1...32).contains(b.count), isLetter(b[0]) || isDigit(b[0]) else { return false }
        return b.dropFirst().allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}

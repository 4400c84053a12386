import MekongEvents
import MekongPostgres

/// A prepared selection as an SDMX-JSON 2.0 data message (docs/read-api.md, "Formats").
///
/// SDMX-JSON keys each observation by the positions of its dimension values in the structure's value lists, so
/// the structure comes first: one statement reads the distinct values of every dimension (in the answer's
/// snapshot), the rows then stream (one text per row, ``PostgresConnection/streamPrepared(_:_:_:)``) and are keyed here by dictionary lookup, so memory grows with the
/// number of codes, not with the answer. Every dimension is at the observation level (keys `area:…:period`), the
/// observation array is `[OBS_VALUE, OBS_STATUS index, CONF_STATUS index]`. An ``IndicatorSelection/updatedAfter``
/// answer has two data sets: `Information` (new or changed) and `Delete` (gone). A history
/// (``IndicatorSelection/includeHistory``) has such a pair for each dissemination, each data set with its `validFrom`,
/// a data set only where it has rows (an `Information` data set with no observations when nothing was disseminated).
public struct SDMXJSONMessage: Sendable {
    public let export: IndicatorExport
    public let definition: IndicatorSelection.Definition

    public init(_ export: IndicatorExport, _ definition: IndicatorSelection.Definition) {
        self.export = export
        self.definition = definition
    }

    /// The code of a row that lacks a dimension (SDMX's "not applicable").
    static let notApplicable = "_Z"

    /// The SDMX-JSON 2.0 data schema this message follows.
    public static let schema = "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/data-message/tools/schemas/2.0.0/sdmx-json-data-schema.json"

    /// Writes the whole message to `output` (in pieces); returns the number of observations. `id` and
    /// `prepared` (RFC 3339) go into `meta`. With `committing` its last statement ends the connection's open
    /// transaction (``PostgresConnection/streamPrepared(_:_:committing:_:)``).
    @discardableResult
    public func write(
        id: String, prepared: String, on db: PostgresConnection, committing: Bool = false,
        to output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let selection = export.selection
        let changes = selection.reportsChanges
        let history = selection.includeHistory
        // Column expressions: the key's dimensions in the structure's order (REF_AREA, the others, TIME_PERIOD).
        let keyColumns = ["answer.area"]
            + definition.dimensions.indices.map { "coalesce(answer.dimensions->>current_setting('mekong.dimension_\($0)'), '\(Self.notApplicable)')" }
            + [IndicatorExport.sdmxPeriod("answer.period")]
        let names = ["REF_AREA"] + definition.dimensions.map { $0.uppercased() } + ["TIME_PERIOD"]

        // 1. The distinct values of each dimension, sorted.
        let distinct = try db.queryPrepared(
            "SELECT " + keyColumns.indices.map { "coalesce(array_to_json(array_agg(DISTINCT s.k\($0) ORDER BY s.k\($0)))::text, '[]')" }.joined(separator: ", ")
                + " FROM (" + (try selection.statement(
                    selecting: keyColumns.enumerated().map { "\($0.element) AS k\($0.offset)" }.joined(separator: ", "), definition,
                    disclosure: export.disclosure, hidingUnreleased: export.releasedBy != nil, on: db)) + ") AS s")
        var values: [[String]] = []
        for column in keyColumns.indices {
            let list = try JSON.parse(distinct[0].decode(String.self, at: column)).arrayValue ?? []
            values.append(list.compactMap(\.stringValue))
        }
        let labels = try self.names(of: values, on: db)
        let dataSets = try self.dataSets(on: db)

        // 2. The head: meta, the structure, the first data set.
        let dataflow = SDMX.dataflowReference(indicator: selection.code)
        let flowURN = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=\(dataflow)"
        let dimensions: [JSONValue] = names.enumerated().map { position, name in
            .object([
                "id": .string(name), "name": .string(position == 0 ? "Reference area" : position == names.count - 1 ? "Time period" : name),
                "keyPosition": .number(Double(position)), "roles": .array([.string(name)]),
                "values": .array(values[position].map { code in .object(["id": .string(code), "name": .string(labels[position][code] ?? code)]) }),
            ])
        }
        func attribute(_ id: String, _ codes: [String]) -> JSONValue {
            .object(["id": .string(id), "name": .string(id), "relationship": .object(["observation": .object([:])]),
                     "values": .array(codes.map { .object(["id": .string($0), "name": .string($0)]) })])
        }
        let obsCodes = SDMX.obsStatus.values.sorted()
        let confCodes = SDMX.confStatus.values.sorted()
        let structure: JSONValue = .object([
            "links": .array([.object(["urn": .string(flowURN), "rel": "dataflow"])]),
            "name": .string(definition.name),
            "dimensions": .object(["dataSet": .array([]), "series": .array([]), "observation": .array(dimensions)]),
            "measures": .object(["observation": .array([.object(["id": "OBS_VALUE", "name": .string(definition.unit)])])]),
            "attributes": .object(["observation": .array([attribute("OBS_STATUS", obsCodes), attribute("CONF_STATUS", confCodes)])]),
            "dataSets": .array((0..<dataSets.count).map { .number(Double($0)) }),
        ])
        let meta: JSONValue = .object([
            "schema": .string(Self.schema), "id": .string(id), "test": false, "prepared": .string(prepared),
            "contentLanguages": .array(["vi"]), "sender": .object(["id": .string(SDMX.agency)]),
        ])
        func dataSetHead(_ dataSet: DataSet) -> String {
            "{\"structure\":0,\"action\":\"\(dataSet.action == "D" ? "Delete" : "Information")\","
                + (dataSet.validFrom.map { "\"validFrom\":\"\($0)\"," } ?? "")
                + "\"links\":[{\"urn\":\"\(flowURN)\",\"rel\":\"dataflow\"}],\"observations\":{"
        }
        try emit("{\"meta\":" + JSON.serialize(meta) + ",\"data\":{\"structures\":[" + JSON.serialize(structure)
                 + "],\"dataSets\":[" + dataSetHead(dataSets[0]), to: output)

        // 3. The rows, keyed by position; an updatedAfter answer's D rows come last, in a `Delete` data set.
        let index = values.map { Dictionary(uniqueKeysWithValues: $0.enumerated().map { ($0.element, $0.offset) }) }
        let obsIndex = Dictionary(uniqueKeysWithValues: obsCodes.enumerated().map { ($0.element, $0.offset) })
        let confIndex = Dictionary(uniqueKeysWithValues: confCodes.enumerated().map { ($0.element, $0.offset) })
        var columns = keyColumns + [
            "CASE WHEN disclosed.visible THEN answer.value END::text",
            IndicatorExport.caseExpression("answer.status", SDMX.obsStatus),
            IndicatorExport.caseExpression("disclosed.confidentiality", SDMX.confStatus),
        ]
        if changes { columns.append("answer.action") }
        if history { columns.append("answer.valid_from") }
        var query = try selection.statement(
            selecting: columns.enumerated().map { "\($0.element) AS c\($0.offset)" }.joined(separator: ", "), definition,
            disclosure: export.disclosure, hidingUnreleased: export.releasedBy != nil, on: db)
        let actionColumn = keyColumns.count + 3
        // One text per row, the fields joined by \x02 (codes, numbers and the fixed flags hold none).
        query = "SELECT " + columns.indices.map { "coalesce(s.c\($0), '')" }.joined(separator: " || e'\\x02' || ")
            + " || e'\\n' FROM (\(query)) AS s"
        if changes {
            // By data set (dissemination, then I before D), then by key.
            query += " ORDER BY " + (history ? "s.c\(actionColumn + 1), " : "")
                + "s.c\(actionColumn) DESC, " + keyColumns.indices.map { "s.c\($0)" }.joined(separator: ", ")
        }
        var count = 0
        var first = true
        var dataSet = 0
        let fieldCount = columns.count
        try db.streamPrepared(query, committing: committing) { row in
            let fields = row[..<(row.count - 1)].split(separator: 2, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count == fieldCount else {
                throw IndicatorQueryError(code: .malformedRow, message: "SDMX-JSON row \(count) has \(fields.count) fields, not \(fieldCount)")
            }
            if changes {
                let row = DataSet(action: fields[actionColumn], validFrom: history ? fields[actionColumn + 1] : nil)
                if row != dataSets[dataSet] {
                    // The next data set with rows (data sets follow the rows' order).
                    guard let next = dataSets[(dataSet + 1)...].firstIndex(of: row) else {
                        throw IndicatorQueryError(code: .malformedRow, message: "SDMX-JSON row \(count) belongs to no data set")
                    }
                    for skipped in (dataSet + 1)...next { try emit("}}," + dataSetHead(dataSets[skipped]), to: output) }
                    dataSet = next
                    first = true
                }
            }
            var key = ""
            for position in keyColumns.indices {
                if position > 0 { key += ":" }
                key += String(index[position][fields[position]] ?? 0)
            }
            let value = fields[keyColumns.count]
            let entry = "\(first ? "" : ",")\"\(key)\":[\(value.isEmpty ? "null" : value),"
                + "\(obsIndex[fields[keyColumns.count + 1]] ?? 0),\(confIndex[fields[keyColumns.count + 2]] ?? 0)]"
            try emit(entry, to: output)
            first = false
            count += 1
        }
        for remaining in dataSets.indices.dropFirst(dataSet + 1) { try emit("}}," + dataSetHead(dataSets[remaining]), to: output) }
        try emit("}}]}}\n", to: output)
        return count
    }

    /// One data set of the message: its action (`I`: Information, `D`: Delete) and, in a history, its dissemination.
    struct DataSet: Equatable {
        var action: String
        var validFrom: String?
    }

    /// The message's data sets: one `Information` data set; `Information` and `Delete` for an `updatedAfter`
    /// answer; for a history, each (dissemination, action) that has rows, in order, or one empty `Information`.
    private func dataSets(on db: PostgresConnection) throws -> [DataSet] {
        let selection = export.selection
        guard selection.includeHistory else {
            return selection.reportsChanges ? [DataSet(action: "I"), DataSet(action: "D")] : [DataSet(action: "I")]
        }
        let rows = try db.queryPrepared(
            "SELECT DISTINCT s.v, s.a FROM (" + (try selection.statement(
                selecting: "answer.valid_from AS v, answer.action AS a", definition, disclosure: export.disclosure,
                hidingUnreleased: export.releasedBy != nil, on: db)) + ") AS s ORDER BY s.v, s.a DESC")
        let found = try rows.map { DataSet(action: try $0.decode(String.self, at: 1), validFrom: try $0.decode(String.self, at: 0)) }
        return found.isEmpty ? [DataSet(action: "I")] : found
    }

    /// The names of the values: areas from `vn-admin-units`, other dimensions from their classifications (the
    /// name of the latest version that has the code), periods as themselves.
    private func names(of values: [[String]], on db: PostgresConnection) throws -> [[String: String]] {
        let classifications = ["vn-admin-units"] + definition.dimensions.map { definition.classifications[$0] ?? "" }
        var names: [[String: String]] = []
        for (position, classification) in classifications.enumerated() {
            var found: [String: String] = [Self.notApplicable: "Not applicable"]
            let rows = try db.queryPrepared(
                """
                SELECT DISTINCT ON (code) code, name_vi FROM statistics.items
                WHERE classification = $1 AND code = ANY ($2::text[]) AND recorded_to IS NULL
                ORDER BY code, valid_from DESC
                """, [classification, PostgresArray.text(values[position])])
            for row in rows { found[try row.decode(String.self, at: 0)] = try row.decode(String.self, at: 1) }
            names.append(found)
        }
        names.append([:])  // TIME_PERIOD
        return names
    }

    private func emit(_ text: String, to output: (UnsafeRawBufferPointer) throws -> Void) throws {
        try Array(text.utf8).withUnsafeBytes { try output($0) }
    }
}

import Foundation
import MekongEvents
import MekongEvidence
import MekongStatisticalEvents

/// RFC 4180 CSV, fed in pieces as they arrive: quoted fields may hold commas, quotes (doubled) and line breaks;
/// records end at LF or CRLF.
struct CSVRecordReader {
    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted }
    private var state = State.fieldStart
    private var field: [UInt8] = []
    private var record: [String] = []
    /// Set when a quote appears inside an unquoted field.
    private(set) var malformed: String?

    /// Reads `bytes`, calling `emit` for each complete record.
    mutating func feed(_ bytes: some Sequence<UInt8>, emit: ([String]) throws -> Void) rethrows {
        for byte in bytes {
            switch state {
            case .fieldStart, .unquoted:
                switch byte {
                case UInt8(ascii: "\""):
                    if state == .fieldStart { state = .quoted } else {
                        malformed = malformed ?? "a quote inside an unquoted field"
                        field.append(byte)
                    }
                case UInt8(ascii: ","): endField()
                case UInt8(ascii: "\n"): try endRecord(emit)
                case UInt8(ascii: "\r"): break
                default:
                    state = .unquoted
                    field.append(byte)
                }
            case .quoted:
                if byte == UInt8(ascii: "\"") { state = .quoteInQuoted } else { field.append(byte) }
            case .quoteInQuoted:
                switch byte {
                case UInt8(ascii: "\""):
                    field.append(byte)
                    state = .quoted
                case UInt8(ascii: ","): endField()
                case UInt8(ascii: "\n"): try endRecord(emit)
                case UInt8(ascii: "\r"): break
                default:
                    malformed = malformed ?? "text after a closing quote"
                    field.append(byte)
                    state = .unquoted
                }
            }
        }
    }

    /// Ends the input: the last record needs no line break. False if a quoted field is still open.
    mutating func finish(emit: ([String]) throws -> Void) rethrows -> Bool {
        if state == .quoted { return false }
        if state != .fieldStart || !record.isEmpty || !field.isEmpty { try endRecord(emit) }
        return true
    }

    private mutating func endField() {
        record.append(String(decoding: field, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
        state = .fieldStart
    }

    private mutating func endRecord(_ emit: ([String]) throws -> Void) rethrows {
        endField()
        let done = record
        record.removeAll(keepingCapacity: true)
        // A blank line is no record.
        if done != [""] { try emit(done) }
    }
}

/// Builds the events of one survey batch as its rows arrive, checking each row, and spools the chunk events to a
/// temporary file so that the batch is never held whole in memory and nothing is written to Kafka before the last
/// row has been checked.
final class SurveyBatchBuilder {
    enum Format { case csv, ndjson }

    let batch: SurveyBatchKey
    let source: RegisteredSource
    let key: SigningKey
    let rowsPerChunk: Int
    let maxJSONDepth: Int

    private(set) var conflicts: [Conflict] = []
    private(set) var rows = 0
    private(set) var chunks = 0
    /// Each distinct area with the first row that names it, for the master-data check at the end.
    private(set) var firstRowOfArea: [String: Int] = [:]
    let spool: SpooledEvents

    private var format: Format
    private var csv = CSVRecordReader()
    private var header: [String]?
    private var pendingLine: [UInt8] = []
    private var rowIDs: Set<String> = []
    private var chunkLines: [UInt8] = []
    private var chunkRows = 0
    private static let conflictLimit = 100

    init(
        survey: String, wave: Int, period: String, batchId: String, format: Format, source: RegisteredSource,
        key: SigningKey, rowsPerChunk: Int, maxJSONDepth: Int
    ) throws {
        self.batch = SurveyBatchKey(survey: survey, wave: wave, period: period, batchId: batchId)
        self.format = format
        self.source = source
        self.key = key
        self.rowsPerChunk = rowsPerChunk
        self.maxJSONDepth = maxJSONDepth
        self.spool = try SpooledEvents()
    }

    /// Reads the next piece of the body.
    func feed(_ bytes: some Sequence<UInt8>) throws {
        switch format {
        case .csv:
            try csv.feed(bytes) { try self.csvRecord($0) }
        case .ndjson:
            for byte in bytes {
                if byte == UInt8(ascii: "\n") {
                    try ndjsonLine()
                } else {
                    pendingLine.append(byte)
                }
            }
        }
    }

    /// Ends the body: the last row, the last chunk, and the completion event (returned, not spooled).
    func finish(at time: Timestamp) throws -> CloudEvent {
        switch format {
        case .csv:
            let closed = try csv.finish { try self.csvRecord($0) }
            if !closed { conflict(row: rows + 1, .invalidRow, "the body ends inside a quoted field") }
            if header == nil { conflict(row: 0, .invalidRow, "the CSV has no header row") }
        case .ndjson:
            if !pendingLine.isEmpty { try ndjsonLine() }
        }
        if let malformed = csv.malformed { conflict(row: nil, .invalidRow, "malformed CSV: \(malformed)") }
        if rows == 0 && conflicts.isEmpty { conflict(row: nil, .invalidRow, "the batch has no rows") }
        if chunkRows > 0 { try closeChunk(at: time) }
        try spool.close()
        return event("vn.gso.survey.upload-completed", at: time, data: batch.completionData(chunks: chunks, rows: rows))
    }

    private func conflict(row: Int?, _ code: ProblemCode, _ message: String, pointer: String? = nil) {
        guard conflicts.count < Self.conflictLimit else { return }
        conflicts.append(Conflict(pointer: pointer, row: row, code: code, message: message))
    }

    private func csvRecord(_ fields: [String]) throws {
        guard let header else {
            let names = fields.map { $0.trimmingCharacters(in: .whitespaces) }
            for required in ["rowId", "weight", "area"] where !names.contains(required) {
                conflict(row: 0, .invalidRow, "the header has no column \(required) (it has \(names.joined(separator: ", ")))")
            }
            if Set(names).count != names.count { conflict(row: 0, .invalidRow, "the header repeats a column name") }
            self.header = names
            return
        }
        let row = rows + 1
        guard fields.count == header.count else {
            rows += 1
            conflict(row: row, .invalidRow, "has \(fields.count) fields, the header has \(header.count)")
            return
        }
        var rowId = "", weightText = "", area = ""
        var values: [(String, JSONValue)] = []
        for (name, cell) in zip(header, fields) {
            switch name {
            case "rowId": rowId = cell
            case "weight": weightText = cell
            case "area": area = cell
            default: values.append((name, Self.typed(cell)))
            }
        }
        guard let weight = Double(weightText.trimmingCharacters(in: .whitespaces)) else {
            rows += 1
            conflict(row: row, .invalidRow, "weight \(weightText.isEmpty ? "is empty" : "\(weightText) is not a number")",
                     pointer: "/weight")
            return
        }
        try accept(rowId: rowId, weight: weight, area: area, values: .object(JSONObject(values)))
    }

    private func ndjsonLine() throws {
        defer { pendingLine.removeAll(keepingCapacity: true) }
        if pendingLine.last == UInt8(ascii: "\r") { pendingLine.removeLast() }
        if pendingLine.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return }
        let row = rows + 1
        let json: JSONValue
        do {
            json = try JSON.parse(pendingLine, maximumDepth: maxJSONDepth)
        } catch {
            rows += 1
            conflict(row: row, .invalidRow, "invalid JSON at column \(error.column): \(error.message)")
            return
        }
        guard let object = json.objectValue else {
            rows += 1
            conflict(row: row, .invalidRow, "is not a JSON object")
            return
        }
        for key in object.keys where !["rowId", "weight", "area", "values"].contains(key) {
            rows += 1
            conflict(row: row, .invalidRow, "unknown field \(key) (a row has rowId, weight, area, values)", pointer: "/\(key)")
            return
        }
        guard let weight = object["weight"]?.numberValue else {
            rows += 1
            conflict(row: row, .invalidRow, "weight must be a number", pointer: "/weight")
            return
        }
        guard let values = object["values"], values.objectValue != nil else {
            rows += 1
            conflict(row: row, .invalidRow, "values must be an object", pointer: "/values")
            return
        }
        try accept(
            rowId: object["rowId"]?.stringValue ?? "", weight: weight, area: object["area"]?.stringValue ?? "",
            values: values)
    }

    private func accept(rowId: String, weight: Double, area: String, values: JSONValue) throws {
        rows += 1
        let row = rows
        guard !rowId.isEmpty else { return conflict(row: row, .invalidRow, "rowId is empty", pointer: "/rowId") }
        guard weight.isFinite, weight > 0 else {
            return conflict(row: row, .nonFiniteNumber, "weight \(weight) must be a finite number above 0", pointer: "/weight")
        }
        guard !area.isEmpty else { return conflict(row: row, .invalidRow, "area is empty", pointer: "/area") }
        for (name, text) in [("rowId", rowId), ("area", area)] where text.utf8.contains(0) {
            return conflict(row: row, .invalidRow, "\(name) holds U+0000, which the database's text cannot hold", pointer: "/" + name)
        }
        if let pointer = Gateway.nulPointer(values).map({ "/values" + $0 }) {
            return conflict(row: row, .invalidRow, "the value at \(pointer) holds U+0000, which the database's text cannot hold",
                            pointer: pointer)
        }
        guard source.mayReport(onArea: area) else {
            return conflict(row: row, .outOfScope, "source \(source.id) may not publish rows for area \(area)",
                            pointer: "/area")
        }
        guard rowIDs.insert(rowId).inserted else {
            return conflict(row: row, .invalidRow, "rowId \(rowId) appears twice in the batch", pointer: "/rowId")
        }
        if firstRowOfArea[area] == nil { firstRowOfArea[area] = row }
        guard conflicts.isEmpty else { return }  // once refused, only look for more faults
        let line = JSON.serializeBytes(
            StatisticalEvents.SurveyRow.json(rowId: rowId, weight: weight, area: area, values: values))
        if chunkRows > 0 { chunkLines.append(UInt8(ascii: "\n")) }
        chunkLines += line
        chunkRows += 1
        if chunkRows == rowsPerChunk { try closeChunk(at: Timestamp(date: Date())) }
    }

    private func closeChunk(at time: Timestamp) throws {
        guard conflicts.isEmpty else { return }
        let chunk = event(
            "vn.gso.survey.chunk-uploaded", at: time,
            data: try batch.chunkData(index: chunks, rowCount: chunkRows, ndjson: chunkLines))
        try spool.append(chunk)
        chunks += 1
        chunkRows = 0
        chunkLines.removeAll(keepingCapacity: true)
    }

    private func event(_ type: String, at time: Timestamp, data: [(String, JSONValue)]) -> CloudEvent {
        CloudEvent(
            id: UUIDv7.generate(), source: source.uri, type: type, time: time, subject: batch.subject,
            dataschema: "https://schemas.mekong.gso.gov.vn/\(type)/v1.schema.json", data: .object(JSONObject(data))
        ).signed(by: key)
    }

    /// A CSV cell as JSON: empty is null, true/false booleans, a finite number a number, anything else a string.
    static func typed(_ cell: String) -> JSONValue {
        if cell.isEmpty { return .null }
        if cell == "true" { return .bool(true) }
        if cell == "false" { return .bool(false) }
        if let number = Double(cell), number.isFinite, cell.first != "+", !cell.hasPrefix("0") || cell == "0"
            || cell.hasPrefix("0.")
        {
            return .number(number)
        }
        return .string(cell)
    }
}

/// Events in a temporary file, one canonical JSON line each, read back in groups; the file is removed when the
/// spool is released.
final class SpooledEvents: @unchecked Sendable {
    let url: URL
    private var writer: FileHandle?
    private var reader: FileHandle?
    private var buffered: [UInt8] = []
    private(set) var count = 0

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-survey-\(UUIDv7.generate()).ndjson")
        guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteUnknown) }
        writer = try FileHandle(forWritingTo: url)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func append(_ event: CloudEvent) throws {
        try writer?.write(contentsOf: event.canonicalJSON() + [UInt8(ascii: "\n")])
        count += 1
    }

    func close() throws {
        try writer?.close()
        writer = nil
    }

    /// The next up to `size` events, or nil at the end.
    func nextGroup(_ size: Int) throws -> [CloudEvent]? {
        if reader == nil { reader = try FileHandle(forReadingFrom: url) }
        var events: [CloudEvent] = []
        while events.count < size {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                events.append(try CloudEvent(decoding: buffered[..<newline]))
                buffered.removeSubrange(...newline)
                continue
            }
            guard let data = try reader?.read(upToCount: 1 << 20), !data.isEmpty else { break }
            buffered += data
        }
        return events.isEmpty ? nil : events
    }
}

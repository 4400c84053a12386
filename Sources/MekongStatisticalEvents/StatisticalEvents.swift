import Foundation
import MekongLZ4
import Synchronization
import MekongEvents

/// Builds the statistical events of the catalog (docs/events.md) in their newest versions, for the demo, tests and
/// tools that generate data. Each builder takes the event's id and time so that generated data is reproducible.
public struct StatisticalEvents: Sendable {
    /// Where ids come from: time-ordered, deterministic when `seed` is given.
    private let ids: EventIDs

    public init(deterministicFrom milliseconds: UInt64? = nil) {
        ids = EventIDs(start: milliseconds)
    }

    /// One item of a classification version.
    public struct Item: Sendable, Hashable {
        public var code: String
        public var parent: String?
        public var level: Int
        public var nameVi: String
        public var nameEn: String?

        public init(code: String, parent: String?, level: Int, nameVi: String, nameEn: String? = nil) {
            self.code = code
            self.parent = parent
            self.level = level
            self.nameVi = nameVi
            self.nameEn = nameEn
        }

        var json: JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("code", .string(code)), ("parent", parent.map(JSONValue.string) ?? .null),
                ("level", .number(Double(level))), ("nameVi", .string(nameVi)),
            ]
            if let nameEn { pairs.append(("nameEn", .string(nameEn))) }
            return .object(JSONObject(pairs))
        }
    }

    /// One observation of a report.
    public struct Observation: Sendable {
        public var indicator: String
        public var dimensions: [(String, String)]
        public var value: Double?
        public var unitMultiplier: Int
        public var status: String
        public var confidentiality: String
        public var comment: String?

        public init(
            indicator: String, area: String, otherDimensions: [(String, String)] = [], value: Double?,
            unitMultiplier: Int = 0, status: String = "normal", confidentiality: String = "free", comment: String? = nil
        ) {
            self.indicator = indicator
            self.dimensions = [("area", area)] + otherDimensions
            self.value = value
            self.unitMultiplier = unitMultiplier
            self.status = value == nil ? "missing" : status
            self.confidentiality = confidentiality
            self.comment = comment
        }

        var json: JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("indicator", .string(indicator)),
                ("dimensions", .object(JSONObject(dimensions.map { ($0.0, JSONValue.string($0.1)) }))),
                ("value", value.map(JSONValue.number) ?? .null),
                ("status", .string(status)), ("confidentiality", .string(confidentiality)),
            ]
            if unitMultiplier != 0 { pairs.append(("unitMultiplier", .number(Double(unitMultiplier)))) }
            if let comment { pairs.append(("comment", .string(comment))) }
            return .object(JSONObject(pairs))
        }
    }

    public func classificationPublished(
        _ classification: String, version: String, validFrom: String, items: [Item], at time: Timestamp
    ) -> CloudEvent {
        event(
            "vn.gso.classification.published", version: 2, subject: classification,
            source: "urn:vn:gso:classification-service", at: time,
            data: [
                ("classification", .string(classification)), ("version", .string(version)),
                ("validFrom", .string(validFrom)), ("items", .array(items.map(\.json))),
            ])
    }

    /// How a source code maps to a target code.
    public enum Relation: Sendable {
        /// The source lies entirely inside the target.
        case whole
        /// A share of the source (nil: unknown, so its values cannot be divided); `exact`: the weight is the exact
        /// share (otherwise values re-expressed through it are estimates).
        case part(weight: Double?, exact: Bool = false)
    }

    /// A correspondence between two versions of one classification.
    public func correspondencePublished(
        _ classification: String, from source: String, to target: String,
        mappings: [(source: String, target: String, relation: Relation)], at time: Timestamp
    ) -> CloudEvent {
        let ref = { (version: String) -> JSONValue in
            .object(JSONObject([("classification", .string(classification)), ("version", .string(version))]))
        }
        return event(
            "vn.gso.correspondence.published", version: 2, subject: classification,
            source: "urn:vn:gso:classification-service", at: time,
            data: [
                ("source", ref(source)), ("target", ref(target)),
                ("mappings", .array(mappings.map { m in
                    var pairs: [(String, JSONValue)] = [("source", .string(m.source)), ("target", .string(m.target))]
                    switch m.relation {
                    case .whole: pairs.append(("relation", "whole"))
                    case .part(let weight, let exact):
                        pairs.append(("relation", "part"))
                        if let weight { pairs.append(("weight", .number(weight))) }
                        if exact, weight != nil { pairs.append(("exact", true)) }
                    }
                    return .object(JSONObject(pairs))
                })),
            ])
    }

    /// An indicator definition; `weight` makes it a weighted mean, `aggregated: false` an indicator without roll-up.
    public func indicatorDefined(
        _ code: String, nameVi: String, nameEn: String, unit: String, periodicities: [String],
        dimensions: [(String, String)] = [], weight: String? = nil, aggregated: Bool = true, at time: Timestamp
    ) -> CloudEvent {
        var aggregation: [(String, JSONValue)] = [("rule", .string(!aggregated ? "none" : weight == nil ? "sum" : "weighted-mean"))]
        if let weight { aggregation.append(("weight", .string(weight))) }
        return event(
            "vn.gso.indicator.defined", version: 1, subject: "indicator/\(code)",
            source: "urn:vn:gso:indicator-service", at: time,
            data: [
                ("code", .string(code)), ("nameVi", .string(nameVi)), ("nameEn", .string(nameEn)), ("unit", .string(unit)),
                ("periodicities", .array(periodicities.map(JSONValue.string))),
                ("dimensions", .object(JSONObject([("area", "vn-admin-units")] + dimensions.map { ($0.0, JSONValue.string($0.1)) }))),
                ("aggregation", .object(JSONObject(aggregation))),
            ])
    }

    /// The release calendar: `period` of `indicator` becomes public at `releaseTime`.
    public func releaseScheduled(_ indicator: String, period: String, releaseTime: Timestamp, at time: Timestamp) -> CloudEvent {
        event(
            "vn.gso.release.scheduled", version: 1, subject: "indicator/\(indicator)",
            source: "urn:vn:gso:dissemination", at: time,
            data: [("indicator", .string(indicator)), ("period", .string(period)), ("releaseTime", .string(releaseTime.text))])
    }

    public func reportSubmitted(
        unit: String, form: String, period: String, action: String = "merge", revision: Int = 1,
        supersedes: String? = nil, observations: [Observation], source: String, at time: Timestamp
    ) -> CloudEvent {
        var data: [(String, JSONValue)] = [
            ("reportingUnit", .string(unit)), ("form", .string(form)), ("period", .string(period)),
            ("action", .string(action)), ("revision", .number(Double(revision))),
        ]
        if let supersedes { data.append(("supersedes", .string(supersedes))) }
        data.append(("observations", .array(observations.map(\.json))))
        return event(
            "vn.gso.report.submitted", version: 2, subject: "\(unit)/\(form)/\(period)", source: source, at: time,
            data: data)
    }

    /// One change of ``itemsChanged(_:version:effectiveDate:changes:at:)``.
    public enum ItemChange: Sendable {
        case open(code: String, parent: String?, level: Int, nameVi: String)
        case close(code: String)
        case rename(code: String, nameVi: String, nameEn: String? = nil)
        case move(code: String, parent: String, level: Int)

        var json: JSONValue {
            switch self {
            case .open(let code, let parent, let level, let nameVi):
                return .object(JSONObject([
                    ("change", "open"), ("code", .string(code)), ("parent", parent.map(JSONValue.string) ?? .null),
                    ("level", .number(Double(level))), ("nameVi", .string(nameVi)),
                ]))
            case .close(let code):
                return .object(JSONObject([("change", "close"), ("code", .string(code))]))
            case .rename(let code, let nameVi, let nameEn):
                var pairs: [(String, JSONValue)] = [("change", "rename"), ("code", .string(code)), ("nameVi", .string(nameVi))]
                if let nameEn { pairs.append(("nameEn", .string(nameEn))) }
                return .object(JSONObject(pairs))
            case .move(let code, let parent, let level):
                return .object(JSONObject([
                    ("change", "move"), ("code", .string(code)), ("parent", .string(parent)), ("level", .number(Double(level))),
                ]))
            }
        }
    }

    /// Items of a published version opened, closed, renamed or moved from `effectiveDate`.
    public func itemsChanged(
        _ classification: String, version: String, effectiveDate: String, changes: [ItemChange], at time: Timestamp
    ) -> CloudEvent {
        event(
            "vn.gso.classification.items-changed", version: 1, subject: classification,
            source: "urn:vn:gso:classification-service", at: time,
            data: [
                ("classification", .string(classification)), ("version", .string(version)),
                ("effectiveDate", .string(effectiveDate)), ("changes", .array(changes.map(\.json))),
            ])
    }

    /// A register record created, updated or closed on `effectiveDate` (YYYY-MM-DD).
    public func recordChanged(
        register: String, key: String, change: String, effectiveDate: String, attributes: [(String, JSONValue)] = [],
        at time: Timestamp
    ) -> CloudEvent {
        event(
            "vn.gso.register.record-changed", version: 1, subject: "\(register)/\(key)",
            source: "urn:vn:gov:register:\(register)", at: time,
            data: [
                ("register", .string(register)), ("recordKey", .string(key)), ("change", .string(change)),
                ("effectiveDate", .string(effectiveDate)), ("attributes", .object(JSONObject(attributes))),
            ])
    }

    func event(
        _ type: String, version: Int, subject: String, source: String, at time: Timestamp, data: [(String, JSONValue)]
    ) -> CloudEvent {
        CloudEvent(
            id: ids.next(at: time), source: source, type: type, time: time, subject: subject,
            dataschema: "https://schemas.mekong.gso.gov.vn/\(type)/v\(version).schema.json",
            data: .object(JSONObject(data)), recordedtime: time)
    }
}

/// Event ids: random UUIDv7, or deterministic ones numbered from a start.
final class EventIDs: Sendable {
    private let deterministic: Bool
    private let counter: Mutex<UInt64>

    init(start: UInt64?) {
        deterministic = start != nil
        counter = Mutex(0)
    }

    func next(at time: Timestamp) -> String {
        guard deterministic else { return UUIDv7.generate() }
        let sequence = counter.withLock { value -> UInt64 in
            value += 1
            return value
        }
        return UUIDv7.deterministic(milliseconds: UInt64(max(0, time.epochSeconds)) * 1000, sequence: sequence)
    }
}

extension StatisticalEvents {
    /// One microdata row of a survey.
    public struct SurveyRow: Sendable {
        public var rowId: String
        public var weight: Double
        public var area: String
        public var values: [(String, JSONValue)]

        public init(rowId: String, weight: Double, area: String, values: [(String, JSONValue)]) {
            self.rowId = rowId
            self.weight = weight
            self.area = area
            self.values = values
        }

        var json: JSONValue { Self.json(rowId: rowId, weight: weight, area: area, values: .object(JSONObject(values))) }

        /// One row as a chunk carries it (a line of its NDJSON).
        public static func json(rowId: String, weight: Double, area: String, values: JSONValue) -> JSONValue {
            .object(JSONObject([
                ("rowId", .string(rowId)), ("weight", .number(weight)), ("area", .string(area)), ("values", values),
            ]))
        }
    }

    /// A batch as chunk events of at most `rowsPerChunk` rows (LZ4-compressed NDJSON with its SHA-256), then the
    /// upload-completed event.
    public func surveyUpload(
        survey: String, wave: Int, period: String, batchId: String, rows: [SurveyRow], rowsPerChunk: Int = 5_000,
        at time: Timestamp
    ) throws -> [CloudEvent] {
        precondition(rowsPerChunk > 0 && !rows.isEmpty)
        let batch = SurveyBatchKey(survey: survey, wave: wave, period: period, batchId: batchId)
        let subject = batch.subject
        var events: [CloudEvent] = []
        for (index, start) in stride(from: 0, to: rows.count, by: rowsPerChunk).enumerated() {
            let chunk = rows[start..<min(rows.count, start + rowsPerChunk)]
            let ndjson = Array(chunk.map { JSON.serialize($0.json) }.joined(separator: "\n").utf8)
            events.append(event(
                "vn.gso.survey.chunk-uploaded", version: 1, subject: subject, source: "urn:vn:gso:capi:\(survey)", at: time,
                data: try batch.chunkData(index: index, rowCount: chunk.count, ndjson: ndjson)))
        }
        events.append(event(
            "vn.gso.survey.upload-completed", version: 1, subject: subject, source: "urn:vn:gso:capi:\(survey)", at: time,
            data: batch.completionData(chunks: events.count, rows: rows.count)))
        return events
    }
}

/// The identity of a survey batch, and the data of its events (`vn.gso.survey.chunk-uploaded` and
/// `vn.gso.survey.upload-completed` v1): the one place their format is written.
public struct SurveyBatchKey: Sendable {
    public let survey: String
    public let wave: Int
    public let period: String
    public let batchId: String

    public init(survey: String, wave: Int, period: String, batchId: String) {
        self.survey = survey
        self.wave = wave
        self.period = period
        self.batchId = batchId
    }

    /// The events' subject: survey/wave/batchId.
    public var subject: String { "\(survey)/\(wave)/\(batchId)" }

    /// A chunk's data: its rows (NDJSON, one ``StatisticalEvents/SurveyRow`` per line) as one LZ4 block in base64,
    /// with the SHA-256 of the uncompressed rows.
    public func chunkData(index: Int, rowCount: Int, ndjson: [UInt8]) throws -> [(String, JSONValue)] {
        let block = try LZ4.compress(ndjson)
        return common + [
            ("chunk", .number(Double(index))), ("rowCount", .number(Double(rowCount))),
            ("encoding", "lz4-block+ndjson"), ("uncompressedBytes", .number(Double(ndjson.count))),
            ("rowsSha256", .string(EventHash.sha256(ndjson).hex)),
            ("rows", .string(Data(block).base64EncodedString())),
        ]
    }

    /// The completion's data: how many chunks and rows the batch has.
    public func completionData(chunks: Int, rows: Int) -> [(String, JSONValue)] {
        common + [("chunks", .number(Double(chunks))), ("expectedRows", .number(Double(rows)))]
    }

    private var common: [(String, JSONValue)] {
        [("survey", .string(survey)), ("wave", .number(Double(wave))), ("period", .string(period)),
         ("batchId", .string(batchId))]
    }
}

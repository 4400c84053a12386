import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection

/// The statistical core: bitemporal master data (classifications, correspondences, indicator definitions) and
/// indicator tables (observation vintages, current and as-of values, roll-ups, re-expression), in one schema
/// `statistics_v<N>` so that every report is checked against the master data of the same version
/// (docs/statistics.md).
///
/// `master-data` is a reference topic: when a run starts, everything it holds is applied before any report, so a
/// rebuild gives the same tables however the two topics interleaved in the log.
///
/// From version 2 the derived tables (current values, roll-ups, re-expressions) are materialized in each batch's
/// transaction: reports are decoded into COPY rows on every core, copied into staging tables and applied by one
/// set-based call (`apply_reports`), which also recomputes what the batch touched. A version that is catching up
/// (a rebuild, a first run) defers the derived tables and builds them in one pass once it has caught up
/// (``finishCatchUp(on:)``), before it can become active. Version 1 computes the derived
/// tables at query time and takes reports as one JSON array.
public struct StatisticsProjection: Projection {
    public static let name = "statistics"
    public static let masterDataTopic = "master-data"
    public static let reportsTopic = "reports"

    /// One decoded record: the event, and for a report (version 2 on) its staging rows.
    public struct Row: Sendable {
        public let event: ProjectedEvent
        let staged: StagedReport?
    }

    public let identity: ProjectionIdentity
    public let topics = [Self.masterDataTopic, Self.reportsTopic]
    public let referenceTopics = [Self.masterDataTopic]

    public init(version: Int = 2) {
        self.identity = ProjectionIdentity(name: Self.name, version: version)
    }

    public func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> Row {
        let event = try reader.read(record)
        guard identity.version >= 2, event.event.type == Self.reportType else { return Row(event: event, staged: nil) }
        return Row(event: event, staged: try StagedReport(event.event))
    }

    /// Master-data events one by one in log order (few, large, each validated as a whole), then all reports of the
    /// batch in one set-based call; a bad report fails the whole call, naming it.
    public func apply(_ batch: [ProjectionRecord<Row>], on db: PostgresConnection) throws {
        let refused = try write(batch, on: db)
        if let first = refused.sorted(by: { $0.key < $1.key }).first { throw first.value }
    }

    /// Like `apply`, but the reports that would be refused (undefined indicator, wrong period type or dimensions,
    /// a code not valid at the period, an observation given twice) are left out and named, in the same single
    /// pass, so bad reports cost little more than good ones.
    public func applyRefusing(_ batch: [ProjectionRecord<Row>], on db: PostgresConnection) throws -> [Int: Refusal] {
        try write(batch, on: db)
    }

    private func write(_ batch: [ProjectionRecord<Row>], on db: PostgresConnection) throws -> [Int: Refusal] {
        let schema = identity.schema
        var reportIndexes: [Int] = []
        for (index, record) in batch.enumerated() {
            let event = record.row.event.event
            if event.type == Self.reportType {
                reportIndexes.append(index)
            } else if let function = Self.masterDataFunctions[event.type] {
                try db.execute(
                    "SELECT \(schema).\(function)($1, $2::timestamptz, $3::jsonb)",
                    [event.id, BatchEntry.recordedTime(event, record), JSON.serialize(event.data)])
            } else {
                throw ProjectionStateError("\(identity) does not know event type \(event.type)")
            }
        }
        guard !reportIndexes.isEmpty else { return [:] }
        let rows = identity.version >= 2
            ? try applyStaged(reportIndexes.map { batch[$0] }, on: db)
            : try applyJSON(reportIndexes.map { batch[$0] }, on: db)
        var refused: [Int: Refusal] = [:]
        for (ordinal, reason) in rows { refused[reportIndexes[ordinal]] = Refusal(.apply, reason) }
        return refused
    }

    /// Version 2 on: a version catching up writes vintages only; once it has caught up, this derives current
    /// values, roll-ups and re-expressions in one pass (`derive_all`, 007_catch_up.sql). False once done.
    public func finishCatchUp(on db: PostgresConnection) throws -> Bool {
        guard identity.version >= 2 else { return false }
        return try db.query("SELECT \(identity.schema).derive_all()")[0].decode(Bool.self, at: 0)
    }

    /// Version 2: the reports' rows copied into staging tables, then `apply_reports`. A report whose event id came
    /// earlier in the batch is left out (the copy of a redrive in the same batch as its original).
    private func applyStaged(_ reports: [ProjectionRecord<Row>], on db: PostgresConnection) throws -> [(Int, String)] {
        let schema = identity.schema
        try db.execute("SELECT \(schema).prepare_report_staging()")
        var submissions = CopyBinary(capacity: reports.count * 160)
        var observations = CopyBinary(capacity: reports.reduce(0) { $0 + ($1.row.staged?.observations.bytes.count ?? 0) })
        var seen = Set<String>()
        for (ordinal, record) in reports.enumerated() {
            let event = record.row.event.event
            guard let staged = record.row.staged, seen.insert(event.id).inserted else { continue }
            staged.submission(
                ordinal: ordinal, recorded: BatchEntry.recordedTime(event, record), origin: record.origin,
                into: &submissions)
            observations.append(contentsOf: staged.observations)
        }
        _ = try db.copyIn(
            """
            COPY pg_temp.incoming_reports (ordinal, event_id, reporting_unit, form, period, action, revision,
                supersedes, recorded_time, kafka_topic, kafka_partition, kafka_offset) FROM STDIN (FORMAT binary)
            """, binary: submissions)
        _ = try db.copyIn(
            """
            COPY pg_temp.incoming_observations (event_id, position, indicator, area, dimensions, dimension_names,
                value, unit_multiplier, status, confidentiality, comment) FROM STDIN (FORMAT binary)
            """, binary: observations)
        return try db.query("SELECT ordinal, reason FROM \(schema).apply_reports()").map {
            (try $0.decode(Int.self, at: 0), try $0.decode(String.self, at: 1))
        }
    }

    /// Version 1: the reports as one JSON array to `submit_reports_refusing`.
    private func applyJSON(_ reports: [ProjectionRecord<Row>], on db: PostgresConnection) throws -> [(Int, String)] {
        let json = JSON.serialize(.array(reports.map { BatchEntry.json($0.row.event.event, $0) }))
        return try db.query("SELECT ordinal, reason FROM \(identity.schema).submit_reports_refusing($1::jsonb)", [json])
            .map { (try $0.decode(Int.self, at: 0), try $0.decode(String.self, at: 1)) }
    }

    static let reportType = "vn.gso.report.submitted"

    static let masterDataFunctions = [
        "vn.gso.classification.published": "publish_classification",
        "vn.gso.classification.items-changed": "change_items",
        "vn.gso.correspondence.published": "publish_correspondence",
        "vn.gso.indicator.defined": "define_indicator",
        "vn.gso.release.scheduled": "schedule_release",
    ]
}

/// A report decoded into the rows of `pg_temp.incoming_observations` (COPY binary), built in `decode` on every
/// core. The data was validated against its schema, so the fields are there with their types.
struct StagedReport: Sendable {
    let eventID: String
    let reportingUnit: String
    let form: String
    let period: String
    let action: String
    let revision: Int32
    let supersedes: String?
    /// Whole rows: event_id, position, indicator, area, dimensions (JSON without area), dimension_names, value,
    /// unit_multiplier, status, confidentiality, comment.
    let observations: CopyBinary

    /// Separates dimension names in `dimension_names` (a character no JSON key in a valid report needs).
    static let nameSeparator = "\u{1F}"

    init(_ event: CloudEvent) throws(Refusal) {
        let data = event.data
        guard let unit = data["reportingUnit"]?.stringValue, let form = data["form"]?.stringValue,
            let period = data["period"]?.stringValue, let action = data["action"]?.stringValue,
            let revision = data["revision"]?.integerValue, let list = data["observations"]?.arrayValue
        else { throw Refusal(.decode, "event \(event.id): not a vn.gso.report.submitted v2 shape") }
        eventID = event.id
        reportingUnit = unit
        self.form = form
        self.period = period
        self.action = action
        self.revision = Int32(clamping: revision)
        supersedes = data["supersedes"]?.stringValue
        var rows = CopyBinary(capacity: list.count * 120)
        for (position, observation) in list.enumerated() {
            guard let indicator = observation["indicator"]?.stringValue,
                let dimensions = observation["dimensions"]?.objectValue,
                let area = dimensions["area"]?.stringValue
            else { throw Refusal(.decode, "event \(event.id): observations[\(position)] has no indicator or area") }
            let others = JSONObject(dimensions.filter { $0.key != "area" }.map { ($0.key, $0.value) })
            rows.text(event.id)
            rows.integer32(Int32(position))
            rows.text(indicator)
            rows.text(area)
            rows.text(others.isEmpty ? "{}" : JSON.serialize(.object(others)))
            rows.text(dimensions.map(\.key).joined(separator: Self.nameSeparator))
            rows.text(observation["value"].flatMap { $0.isNull ? nil : JSON.serialize($0) })
            rows.integer32(Int32(clamping: observation["unitMultiplier"]?.integerValue ?? 0))
            rows.text(observation["status"]?.stringValue)
            rows.text(observation["confidentiality"]?.stringValue)
            rows.text(observation["comment"]?.stringValue)
            rows.endRow()
        }
        observations = rows
    }

    /// The report's row of `pg_temp.incoming_reports`.
    func submission(ordinal: Int, recorded: String, origin: RecordPosition, into rows: inout CopyBinary) {
        rows.integer32(Int32(ordinal))
        rows.text(eventID)
        rows.text(reportingUnit)
        rows.text(form)
        rows.text(period)
        rows.text(action)
        rows.integer32(revision)
        rows.text(supersedes)
        rows.text(recorded)
        rows.text(origin.topic)
        rows.integer32(origin.partition)
        rows.integer64(origin.offset)
        rows.endRow()
    }
}

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
public struct StatisticsProjection: Projection {
    public static let name = "statistics"
    public static let masterDataTopic = "master-data"
    public static let reportsTopic = "reports"

    public let identity: ProjectionIdentity
    public let topics = [Self.masterDataTopic, Self.reportsTopic]
    public let referenceTopics = [Self.masterDataTopic]

    public init(version: Int = 1) {
        self.identity = ProjectionIdentity(name: Self.name, version: version)
    }

    /// Master-data events one by one in log order (few, large, each validated as a whole), then all reports of the
    /// batch in one set-based call.
    public func apply(_ batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection) throws {
        let schema = identity.schema
        var reports: [JSONValue] = []
        for record in batch {
            let event = record.row.event
            let recorded = BatchEntry.recordedTime(event, record)
            switch event.type {
            case "vn.gso.classification.published", "vn.gso.classification.items-changed",
                "vn.gso.correspondence.published", "vn.gso.indicator.defined":
                let function = Self.masterDataFunctions[event.type]!
                try db.execute(
                    "SELECT \(schema).\(function)($1, $2::timestamptz, $3::jsonb)",
                    [event.id, recorded, JSON.serialize(event.data)])
            case "vn.gso.report.submitted":
                reports.append(BatchEntry.json(event, record))
            default:
                throw ProjectionStateError("\(identity) does not know event type \(event.type)")
            }
        }
        if !reports.isEmpty {
            try db.execute("SELECT \(schema).submit_reports($1::jsonb)", [JSON.serialize(.array(reports))])
        }
    }

    /// The reports of a batch that `submit_reports` would refuse (undefined indicator, wrong period type or
    /// dimensions, a code not valid at the period), found in one call, so that bad reports cost little more than
    /// good ones. A batch that also changes master data is left to `apply` (the reports are checked against the
    /// master data as it stands after the changes before them).
    public func refusals(in batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection) throws -> [Int: Refusal] {
        var reports: [JSONValue] = []
        var indexes: [Int] = []
        for (index, record) in batch.enumerated() {
            guard record.row.event.type == "vn.gso.report.submitted" else { return [:] }
            reports.append(BatchEntry.json(record.row.event, record))
            indexes.append(index)
        }
        guard !reports.isEmpty else { return [:] }
        var refused: [Int: Refusal] = [:]
        for row in try db.query(
            "SELECT ordinal, reason FROM \(identity.schema).report_refusals($1::jsonb)", [JSON.serialize(.array(reports))])
        {
            refused[indexes[try row.decode(Int.self, at: 0)]] = Refusal(.apply, try row.decode(String.self, at: 1))
        }
        return refused
    }

    static let masterDataFunctions = [
        "vn.gso.classification.published": "publish_classification",
        "vn.gso.classification.items-changed": "change_items",
        "vn.gso.correspondence.published": "publish_correspondence",
        "vn.gso.indicator.defined": "define_indicator",
    ]

}

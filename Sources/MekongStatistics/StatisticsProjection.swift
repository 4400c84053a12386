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
    /// batch in one set-based call; a bad report fails the whole call (`submit_reports` raises, naming it).
    public func apply(_ batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection) throws {
        _ = try write(batch, on: db, refusing: false)
    }

    /// Like `apply`, but the reports that `submit_reports` would refuse (undefined indicator, wrong period type or
    /// dimensions, a code not valid at the period) are left out and named, in the same single pass
    /// (`submit_reports_refusing`), so bad reports cost little more than good ones.
    public func applyRefusing(_ batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection) throws -> [Int: Refusal] {
        try write(batch, on: db, refusing: true)
    }

    private func write(_ batch: [ProjectionRecord<ProjectedEvent>], on db: PostgresConnection, refusing: Bool) throws
        -> [Int: Refusal]
    {
        let schema = identity.schema
        var reports: [JSONValue] = []
        var reportIndexes: [Int] = []
        for (index, record) in batch.enumerated() {
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
                reportIndexes.append(index)
            default:
                throw ProjectionStateError("\(identity) does not know event type \(event.type)")
            }
        }
        guard !reports.isEmpty else { return [:] }
        let json = JSON.serialize(.array(reports))
        guard refusing else {
            try db.execute("SELECT \(schema).submit_reports($1::jsonb)", [json])
            return [:]
        }
        var refused: [Int: Refusal] = [:]
        for row in try db.query("SELECT ordinal, reason FROM \(schema).submit_reports_refusing($1::jsonb)", [json]) {
            refused[reportIndexes[try row.decode(Int.self, at: 0)]] = Refusal(.apply, try row.decode(String.self, at: 1))
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

import Foundation
import MekongEvents
import MekongProjection

/// How the statistical projections hand a batch of events to their SQL functions: one JSON array of
/// `{eventId, recorded, topic, partition, offset, data}`, parsed set-wise by PostgreSQL.
enum BatchEntry {
    static func json(_ record: ProjectionRecord<ProjectedEvent>) -> JSONValue {
        .object([
            "eventId": .string(record.row.event.id), "recorded": .string(recordedTime(record)),
            "topic": .string(record.position.topic), "partition": .number(Double(record.position.partition)),
            "offset": .number(Double(record.position.offset)), "data": record.row.event.data,
        ])
    }

    /// When we learned of the event: the gateway's `recordedtime`, else the Kafka record's timestamp (both come from
    /// the log, so a rebuild gives the same), else the event's own time.
    static func recordedTime(_ record: ProjectionRecord<ProjectedEvent>) -> String {
        if let recorded = record.row.event.recordedtime { return recorded.text }
        if let milliseconds = record.timestampMilliseconds {
            return Timestamp(date: Date(timeIntervalSince1970: Double(milliseconds) / 1000)).text
        }
        return record.row.event.time.text
    }
}

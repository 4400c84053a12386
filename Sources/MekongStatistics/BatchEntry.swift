import Foundation
import MekongEvents
import MekongProjection

/// How the statistical projections hand a batch of events to their SQL functions: one JSON array of
/// `{eventId, recorded, topic, partition, offset, data}`, parsed set-wise by PostgreSQL. The position is the
/// record's origin (a redriven copy's original), so live tables equal a rebuild's.
enum BatchEntry {
    /// The entry of `event`, read at `record`'s position; `extra` adds fields (e.g. a chunk's decoded rows).
    static func json<Row>(_ event: CloudEvent, _ record: ProjectionRecord<Row>, extra: [String: JSONValue] = [:]) -> JSONValue {
        var object: JSONObject = [
            "eventId": .string(event.id), "recorded": .string(recordedTime(event, record)),
            "topic": .string(record.origin.topic), "partition": .number(Double(record.origin.partition)),
            "offset": .number(Double(record.origin.offset)), "data": event.data,
        ]
        for (key, value) in extra { object[key] = value }
        return .object(object)
    }

    /// When we learned of the event: the gateway's `recordedtime`, else the Kafka record's timestamp (both come from
    /// the log, so a rebuild gives the same), else the event's own time.
    static func recordedTime<Row>(_ event: CloudEvent, _ record: ProjectionRecord<Row>) -> String {
        if let recorded = event.recordedtime { return recorded.text }
        if let milliseconds = record.timestampMilliseconds {
            return Timestamp(date: Date(timeIntervalSince1970: Double(milliseconds) / 1000)).text
        }
        return event.time.text
    }
}

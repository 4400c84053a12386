import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection

/// What the audit trail stores about one Kafka record.
public struct AuditRecord: Sendable {
    let eventID: String?
    let type: String?
    let source: String?
    let subject: String?
    let eventTime: Timestamp?
    let recordedTime: Timestamp
    let bytes: [UInt8]
    let problem: String?
    /// SHA-256 of `bytes`.
    let hash: EventHash

    init(_ message: ConsumedMessage) {
        let kafkaTime = message.timestampMilliseconds.map(Self.timestamp(milliseconds:))
        do {
            let event = try CloudEvent(decoding: message.value)
            eventID = event.id
            type = event.type
            source = event.source
            subject = event.subject
            eventTime = event.time
            recordedTime = event.recordedtime ?? kafkaTime ?? event.time
            bytes = event.canonicalJSON()
            problem = nil
        } catch {
            eventID = nil
            type = nil
            source = nil
            subject = nil
            eventTime = nil
            recordedTime = kafkaTime ?? Self.timestamp(milliseconds: 0)
            bytes = message.value
            problem = "not a valid event: \(error)"
        }
        hash = EventHash.sha256(bytes)
        var fields = CopyBinary(capacity: bytes.count + 400)
        fields.text(message.topic)
        fields.integer32(message.partition)
        fields.integer64(message.offset)
        for value in [eventID, type, source, subject] { fields.text(value) }
        for time in [eventTime, recordedTime] {
            if let time {
                fields.timestamp(epochSeconds: time.epochSeconds, nanoseconds: time.nanoseconds)
            } else {
                fields.null()
            }
        }
        fields.bytea(bytes)
        fields.bytea(hash.bytes)
        fields.text(problem)
        copyFields = fields
    }

    /// Every COPY field but the chain's, in `AuditTrail.copyColumns` order, encoded while decoding (in parallel).
    let copyFields: CopyBinary

    /// A Kafka timestamp (milliseconds since the epoch).
    static func timestamp(milliseconds: Int64) -> Timestamp {
        Timestamp(date: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

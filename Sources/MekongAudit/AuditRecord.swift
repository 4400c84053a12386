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
    /// RFC 3339 text as the event gave it; PostgreSQL parses it into `timestamptz`.
    let eventTime: String?
    let recordedTime: String
    let bytes: [UInt8]
    let problem: String?
    /// SHA-256 of `bytes`.
    let hash: EventHash

    init(_ message: ConsumedMessage) {
        let kafkaTime = message.timestampMilliseconds.map(Self.rfc3339(milliseconds:))
        do {
            let event = try CloudEvent(decoding: message.value)
            eventID = event.id
            type = event.type
            source = event.source
            subject = event.subject
            eventTime = event.time.text
            recordedTime = event.recordedtime?.text ?? kafkaTime ?? event.time.text
            bytes = event.canonicalJSON()
            problem = nil
        } catch {
            eventID = nil
            type = nil
            source = nil
            subject = nil
            eventTime = nil
            recordedTime = kafkaTime ?? Self.rfc3339(milliseconds: 0)
            bytes = message.value
            problem = "not a valid event: \(error)"
        }
        hash = EventHash.sha256(bytes)
        var fields = CopyText(capacity: 2 * bytes.count + 400)
        fields.text(message.topic)
        fields.integer(Int64(message.partition))
        fields.integer(message.offset)
        for value in [eventID, type, source, subject, eventTime, recordedTime] { fields.text(value) }
        fields.bytea(bytes)
        fields.bytea(hash.bytes)
        fields.text(problem)
        copyFields = fields
    }

    /// Every COPY field but the chain's, in `AuditTrail.copyColumns` order, encoded while decoding (in parallel):
    /// the event bytes' hex is most of the work of a row.
    let copyFields: CopyText

    /// A Kafka timestamp (milliseconds since the epoch) as RFC 3339 UTC text.
    static func rfc3339(milliseconds: Int64) -> String {
        Timestamp(date: Date(timeIntervalSince1970: Double(milliseconds) / 1000)).text
    }
}

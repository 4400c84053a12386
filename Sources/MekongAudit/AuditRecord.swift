import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection

/// What the audit trail stores about one Kafka record. The projection builds its rows from it, and
/// `mekong audit verify --log` builds one from each log record to compare with the stored row.
public struct AuditRecord: Sendable {
    let eventID: String?
    let type: String?
    let source: String?
    let subject: String?
    let eventTime: Timestamp?
    let recordedTime: Timestamp
    /// `recordedTime` as the format stores it (and, in v3, hashes it): microseconds since the Unix epoch.
    let recordedMicroseconds: Int64
    let bytes: [UInt8]
    let problem: String?
    /// SHA-256 of `bytes`.
    let hash: EventHash

    /// - Parameter reader: from v4, what the trail checks each event against (as projections read it: framing,
    ///   the topic's types, the catalog's schemas); an event it refuses keeps its attributes and gets a `problem`.
    init(_ message: ConsumedMessage, format: AuditChainFormat, reader: EventReader? = nil) {
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
            problem = reader.flatMap { Self.topicProblem(message, event, reader: $0) }
        } catch {
            eventID = nil
            type = nil
            source = nil
            subject = nil
            eventTime = nil
            recordedTime = kafkaTime ?? Self.timestamp(milliseconds: 0)
            bytes = message.value
            // PostgreSQL text cannot hold NUL, which an error may quote (a duplicate key "a\u0000"): escaped, so
            // the record is still recorded rather than refused by the database.
            problem = "not a valid event: \(error)".replacingOccurrences(of: "\u{0}", with: "\\u0000")
        }
        recordedMicroseconds = format.microseconds(recordedTime)
        hash = EventHash.sha256(bytes)
        var fields = CopyBinary(capacity: bytes.count + 400)
        fields.text(message.topic)
        fields.integer32(message.partition)
        fields.integer64(message.offset)
        for value in [eventID, type, source, subject] { fields.text(value) }
        if let eventTime {
            fields.timestamp(microsecondsSince2000: format.microseconds(eventTime) - Self.postgresEpochMicroseconds)
        } else {
            fields.null()
        }
        fields.timestamp(microsecondsSince2000: recordedMicroseconds - Self.postgresEpochMicroseconds)
        fields.bytea(bytes)
        fields.bytea(hash.bytes)
        fields.text(problem)
        copyFields = fields
    }

    /// Why `event`, as `message` carries it, is not a valid event of its topic, or nil.
    static func topicProblem(_ message: ConsumedMessage, _ event: CloudEvent, reader: EventReader) -> String? {
        let reason: String
        if let framing = EventReader.framingProblem(message, event) {
            reason = framing
        } else {
            do {
                _ = try reader.read(event, topic: message.topic)
                return nil
            } catch {
                reason = error.reason
            }
        }
        return "not valid for topic \(message.topic): \(reason)".replacingOccurrences(of: "\u{0}", with: "\\u0000")
    }

    /// Every COPY field but the chain's, in `AuditTrail.copyColumns` order, encoded while decoding (in parallel).
    let copyFields: CopyBinary

    /// Microseconds from the Unix epoch to 2000-01-01, PostgreSQL's timestamp epoch.
    static let postgresEpochMicroseconds: Int64 = 946_684_800 * 1_000_000

    /// A Kafka timestamp (milliseconds since the epoch).
    static func timestamp(milliseconds: Int64) -> Timestamp {
        Timestamp(date: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

import Foundation
import MekongCatalog
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongPublishing

/// A record a projection refused, with everything needed to understand, repair and redrive it.
public struct DeadLetter: Sendable {
    public let projection: ProjectionIdentity
    public let position: RecordPosition
    public let refusal: Refusal
    public let key: [UInt8]?
    public let value: [UInt8]
    public let headers: [KafkaHeader]
    /// The refused record's Kafka timestamp (milliseconds since the epoch), if it had one.
    public let timestampMilliseconds: Int64?

    init(projection: ProjectionIdentity, record: ConsumedMessage, refusal: Refusal) {
        self.projection = projection
        self.position = RecordPosition(topic: record.topic, partition: record.partition, offset: record.offset)
        self.refusal = refusal
        self.key = record.key
        self.value = record.value
        self.headers = record.headers
        self.timestampMilliseconds = record.timestampMilliseconds
    }

    /// `ce_id` and `ce_type` headers, when the record carried them (a record that is not JSON still may).
    var eventID: String? { headers.last { $0.name == "ce_id" }?.stringValue }
    var eventType: String? { headers.last { $0.name == "ce_type" }?.stringValue }

    /// Reasons are for people; a reason longer than this is cut (the dead-letters schema allows 4000 characters).
    static let maximumReasonLength = 3_900

    var reason: String {
        refusal.reason.count <= Self.maximumReasonLength
            ? refusal.reason : String(refusal.reason.prefix(Self.maximumReasonLength)) + "…"
    }

    var headersJSON: JSONValue {
        .array(headers.map { header in
            .object(JSONObject([
                ("name", .string(header.name)), ("valueBase64", .string(Data(header.value).base64EncodedString())),
            ]))
        })
    }

    /// Inserts the dead letter into `mekong.dead_letters` unless this projection version already holds it.
    func insert(on db: PostgresConnection) throws {
        try db.execute(
            """
            INSERT INTO mekong.dead_letters (projection, version, topic, partition, kafka_offset, stage, reason,
                                             event_id, event_type, record_key, record_value, record_headers,
                                             record_timestamp_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13)
            ON CONFLICT (projection, version, topic, partition, kafka_offset) DO NOTHING
            """,
            [projection.name, projection.version, position.topic, Int(position.partition), position.offset,
             refusal.stage.rawValue, reason, eventID, eventType, key, value, JSON.serialize(headersJSON),
             timestampMilliseconds])
    }

    /// The `mekong.dead-lettered` event for the dead-letters topic.
    func event() -> CloudEvent {
        let subject = "\(projection.name)-v\(projection.version)/\(position.topic)/\(position.partition)"
        return CloudEvent(
            id: UUIDv7.generate(), source: "urn:mekong:projection:\(projection.name)-v\(projection.version)",
            type: "mekong.dead-lettered", time: Timestamp(date: Date()), subject: subject,
            dataschema: EventSchema.dataSchemaURI(eventType: "mekong.dead-lettered", version: 1),
            data: .object(JSONObject([
                ("projection", .string("\(projection.name)-v\(projection.version)")),
                ("stage", .string(refusal.stage.rawValue)),
                ("reason", .string(reason)),
                ("sourceTopic", .string(position.topic)),
                ("sourcePartition", .number(Double(position.partition))),
                ("sourceOffset", .number(Double(position.offset))),
                ("originalKeyBase64", key.map { .string(Data($0).base64EncodedString()) } ?? .null),
                ("originalValueBase64", .string(Data(value).base64EncodedString())),
                ("headers", headersJSON),
            ])))
    }

    /// The record for the dead-letters topic.
    func record(topic: String) -> OutgoingMessage {
        EventPublisher.record(for: event(), topic: topic)
    }
}

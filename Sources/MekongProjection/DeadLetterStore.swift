import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres

/// A dead letter as stored in `mekong.dead_letters`.
public struct StoredDeadLetter: Sendable {
    public let id: Int64
    public let projection: ProjectionIdentity
    public let position: RecordPosition
    public let stage: String
    public let reason: String
    public let eventID: String?
    public let eventType: String?
    public let key: [UInt8]?
    public let value: [UInt8]
    /// The record headers as JSON text (`[{"name", "valueBase64"}]`).
    public let headersJSON: String
    public let deadLetteredAt: Date
    public let redrivenAt: Date?
    /// Where the redriven copy was published, `topic[partition]@offset`.
    public let redrivenTo: String?
}

/// Reading dead letters and redriving them: re-publishing the original record to its topic (after a fix) so the
/// projections read it again at a new offset.
public struct DeadLetterStore {
    private let db: PostgresConnection
    private static let columns = """
        id, projection, version, topic, partition, kafka_offset, stage, reason, event_id, event_type, record_key,
        record_value, record_headers::text, dead_lettered_at, redriven_at, redriven_to
        """

    public init(db: PostgresConnection) {
        self.db = db
    }

    /// Dead letters in id order; only those not yet redriven unless `includeRedriven`.
    public func list(projection: String? = nil, includeRedriven: Bool = false, limit: Int = 1_000) throws -> [StoredDeadLetter] {
        guard try db.query("SELECT to_regclass('mekong.dead_letters') IS NOT NULL")[0].decode(Bool.self, at: 0) else {
            return []
        }
        return try db.query(
            """
            SELECT \(Self.columns) FROM mekong.dead_letters
            WHERE ($1::text IS NULL OR projection = $1) AND ($2 OR redriven_at IS NULL)
            ORDER BY id LIMIT $3
            """, [projection, includeRedriven, limit]
        ).map(Self.decode)
    }

    /// One dead letter by id.
    public func find(_ id: Int64) throws -> StoredDeadLetter? {
        try db.query("SELECT \(Self.columns) FROM mekong.dead_letters WHERE id = $1", [id]).first.map(Self.decode)
    }

    /// Publishes each dead letter's original record (key, value, headers, plus `mekong_redriven_from`) to its
    /// source topic, waits for the delivery reports, and marks each as redriven with its new position. A dead
    /// letter already redriven is refused, so one command never publishes a record twice.
    public func redrive(_ ids: [Int64], producer: Producer) async throws -> [(StoredDeadLetter, DeliveryReport)] {
        var letters: [StoredDeadLetter] = []
        for id in ids {
            guard let letter = try find(id) else { throw ProjectionStateError("dead letter \(id) does not exist") }
            if let to = letter.redrivenTo {
                throw ProjectionStateError("dead letter \(id) was already redriven (to \(to))")
            }
            letters.append(letter)
        }
        var done: [(StoredDeadLetter, DeliveryReport)] = []
        for letter in letters {
            var headers = try Self.headers(letter.headersJSON).filter { $0.name != "mekong_redriven_from" }
            headers.append(KafkaHeader(name: "mekong_redriven_from", string: letter.position.description))
            let report = try await producer.send(
                OutgoingMessage(topic: letter.position.topic, key: letter.key, value: letter.value, headers: headers))
            try db.execute(
                "UPDATE mekong.dead_letters SET redriven_at = now(), redriven_to = $2 WHERE id = $1",
                [letter.id, report.description])
            done.append((letter, report))
        }
        return done
    }

    /// The headers stored as `[{"name", "valueBase64"}]` (`DeadLetter.headersJSON`), back as Kafka headers.
    static func headers(_ json: String) throws -> [KafkaHeader] {
        try (JSON.parse(json).arrayValue ?? []).compactMap { entry in
            guard let name = entry["name"]?.stringValue else { return nil }
            let value = entry["valueBase64"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? []
            return KafkaHeader(name: name, value: value)
        }
    }

    private static func decode(_ row: PostgresRow) throws -> StoredDeadLetter {
        StoredDeadLetter(
            id: try row.decode(Int64.self, at: 0),
            projection: ProjectionIdentity(name: try row.decode(String.self, at: 1), version: try row.decode(Int.self, at: 2)),
            position: RecordPosition(
                topic: try row.decode(String.self, at: 3), partition: Int32(try row.decode(Int.self, at: 4)),
                offset: try row.decode(Int64.self, at: 5)),
            stage: try row.decode(String.self, at: 6), reason: try row.decode(String.self, at: 7),
            eventID: try row.decode(String?.self, at: 8), eventType: try row.decode(String?.self, at: 9),
            key: try row.decode([UInt8]?.self, at: 10), value: try row.decode([UInt8].self, at: 11),
            headersJSON: try row.decode(String.self, at: 12), deadLetteredAt: try row.decode(Date.self, at: 13),
            redrivenAt: try row.decode(Date?.self, at: 14), redrivenTo: try row.decode(String?.self, at: 15))
    }
}

import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection

/// What the console's panels show, read from PostgreSQL (and Kafka's watermarks for lag), as JSON.
struct ConsoleQueries: Sendable {
    let configuration: ConsoleConfiguration

    /// Every projection version: state, who applies it, and per partition the next offset, the log's end and lag.
    func projections(_ db: PostgresConnection) throws -> JSONValue {
        let versions = try ProjectionVersions(db: db).list()
        var ends: [TopicPartition: Int64] = [:]
        var partitionsOfTopic: [String: [TopicPartition]] = [:]
        var kafkaProblem: String?
        do {
            let consumer = try Consumer(configuration: configuration.kafka)
            defer { consumer.close() }
            var topics = Set(versions.flatMap { $0.positions.keys.map(\.topic) })
            for version in versions { topics.formUnion(configuration.topics(version.identity)) }
            for topic in topics.sorted() {
                let count = try consumer.partitionCount(of: topic, timeout: .seconds(3))
                partitionsOfTopic[topic] = (0..<count).map { TopicPartition(topic: topic, partition: Int32($0)) }
                for partition in partitionsOfTopic[topic]! {
                    ends[partition] = try consumer.watermarks(of: partition, timeout: .seconds(3)).high
                }
            }
        } catch {
            kafkaProblem = "Kafka unreachable, lag unknown: \(error)"
            ends = [:]
        }
        let items: [JSONValue] = try versions.map { version in
            var partitions = Set(version.positions.keys)
            for topic in configuration.topics(version.identity) { partitions.formUnion(partitionsOfTopic[topic] ?? []) }
            let rows: [JSONValue] = partitions.sorted().map { partition in
                let next = version.positions[partition]
                let end = ends[partition]
                let lag = end.map { $0 - (next ?? 0) }
                return .object(JSONObject([
                    ("topic", .string(partition.topic)), ("partition", .number(Double(partition.partition))),
                    ("next", next.map { .number(Double($0)) } ?? .null), ("end", end.map { .number(Double($0)) } ?? .null),
                    ("lag", lag.map { .number(Double($0)) } ?? .null),
                ]))
            }
            let lags = rows.compactMap { $0["lag"]?.integerValue }
            return .object(JSONObject([
                ("name", .string(version.identity.name)), ("version", .number(Double(version.identity.version))),
                ("state", .string(version.state.rawValue)),
                ("activatedAt", version.activatedAt.map { .string(Timestamp(date: $0).text) } ?? .null),
                ("appliedBy", try ProjectorLease.holder(of: version.identity, on: db).map(JSONValue.string) ?? .null),
                ("lag", lags.count == rows.count && !rows.isEmpty ? .number(Double(lags.reduce(0, +))) : .null),
                ("partitions", .array(rows)),
            ]))
        }
        return .object(JSONObject([("versions", .array(items)), ("kafka", kafkaProblem.map(JSONValue.string) ?? .null)]))
    }

    /// Pending dead letters, newest first, with their reasons.
    func deadLetters(_ db: PostgresConnection) throws -> JSONValue {
        let letters = try DeadLetterStore(db: db).list(limit: 200)
        return .object(JSONObject([("deadLetters", .array(letters.sorted { $0.id > $1.id }.map { letter in
            .object(JSONObject([
                ("id", .number(Double(letter.id))),
                ("projection", .string("\(letter.projection.name) v\(letter.projection.version)")),
                ("position", .string(letter.position.description)), ("stage", .string(letter.stage)),
                ("reason", .string(letter.reason)), ("eventId", letter.eventID.map(JSONValue.string) ?? .null),
                ("eventType", letter.eventType.map(JSONValue.string) ?? .null),
                ("at", .string(Timestamp(date: letter.deadLetteredAt).text)),
            ]))
        }))]))
    }

    /// Registered sources with their last submission through the gateway (none when the gateway's schema is absent).
    func sources(_ db: PostgresConnection) throws -> JSONValue {
        let exists = try db.query("SELECT to_regclass('gateway.sources') IS NOT NULL")
        guard try exists.first?.decode(Bool.self, at: 0) == true else {
            return .object(JSONObject([("sources", .array([]))]))
        }
        let rows = try db.query(
            """
            SELECT s.id, s.uri, s.revoked_at IS NOT NULL,
                   (SELECT to_char(max(r.recorded_time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                    FROM gateway.receipts r WHERE r.source = s.id AND r.state = 'written'),
                   (SELECT count(*) FROM gateway.receipts r WHERE r.source = s.id AND r.state = 'written')
            FROM gateway.sources s ORDER BY s.id
            """)
        return .object(JSONObject([("sources", .array(try rows.map { row in
            .object(JSONObject([
                ("id", .string(try row.decode(String.self, at: 0))), ("uri", .string(try row.decode(String.self, at: 1))),
                ("revoked", .bool(try row.decode(Bool.self, at: 2))),
                ("lastSubmission", try row.decode(String?.self, at: 3).map(JSONValue.string) ?? .null),
                ("events", .number(Double(try row.decode(Int64.self, at: 4)))),
            ]))
        }))]))
    }
}

import Foundation
import MekongEvents
import MekongEvidence
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing

/// The `audit-heads` topic (Topics/audit-heads): the signed tree heads copied out of the database, so that rows
/// deleted together with their heads are found against a copy the database does not hold.
public enum AuditHeadsTopic {
    public static let name = "audit-heads"
    public static let eventType = "mekong.audit.tree-head-signed"
    static let source = "urn:mekong:audit"
    static let dataschema = "https://schemas.mekong.gso.gov.vn/mekong.audit.tree-head-signed/v1.schema.json"

    /// The event that carries `head`: subject `<topic>/<partition>`, its id derived from the head's place.
    public static func event(_ head: SignedTreeHead) -> CloudEvent {
        let place = "\(head.topic)/\(head.partition)"
        let milliseconds = UInt64(max(0, head.recordedTime.epochSeconds * 1000 + Int64(head.recordedTime.nanoseconds / 1_000_000)))
        return CloudEvent(
            id: UUIDv7.named(milliseconds: milliseconds, name: EventHash.sha256(Array("\(place)/\(head.size)".utf8)).bytes),
            source: source, type: eventType, time: head.recordedTime, subject: place, dataschema: dataschema,
            data: head.json)
    }

    /// Every head the topic holds, in log order (blocking: call it off the concurrency pool); nil when the cluster
    /// has no such topic (`mekong topics apply` creates it). A record that is not a head is skipped and counted.
    public static func read(configuration: KafkaConfiguration, idleTimeout: Duration = .seconds(30)) throws
        -> (heads: [SignedTreeHead], unreadable: Int)?
    {
        let consumer = try Consumer(configuration: configuration)
        defer { consumer.close() }
        var positions: [TopicPartition: Int64] = [:]
        var remaining: [TopicPartition: Int64] = [:]
        let partitions: Int
        switch Result(catching: { () throws(KafkaError) -> Int in try consumer.partitionCount(of: name) }) {
        case .success(let count): partitions = count
        case .failure(let error) where error.code == .unknownTopic || error.code == .unknownTopicOrPartition: return nil
        case .failure(let error): throw error
        }
        for partition in 0..<partitions {
            let tp = TopicPartition(topic: name, partition: Int32(partition))
            let (low, high) = try consumer.watermarks(of: tp)
            if high > low {
                positions[tp] = low
                remaining[tp] = high
            }
        }
        guard !positions.isEmpty else { return ([], 0) }
        try consumer.assign(positions)
        var heads: [SignedTreeHead] = []
        var unreadable = 0
        var idleSince = ContinuousClock.now
        while !remaining.isEmpty {
            let messages = try consumer.poll(maxMessages: 500, timeout: .milliseconds(200))
            if messages.isEmpty {
                guard ContinuousClock.now - idleSince < idleTimeout else {
                    throw KafkaError(kind: .consume, code: .timedOut, message: "the \(name) topic stopped delivering records")
                }
                continue
            }
            idleSince = ContinuousClock.now
            for message in messages {
                let tp = TopicPartition(topic: message.topic, partition: message.partition)
                if let end = remaining[tp], message.offset >= end - 1 { remaining[tp] = nil }
                guard let event = try? CloudEvent(decoding: message.value), event.type == eventType,
                    let head = try? SignedTreeHead(json: event.data)
                else {
                    unreadable += 1
                    continue
                }
                heads.append(head)
            }
        }
        return (heads, unreadable)
    }

    /// The signed heads audit version `version` holds in `db`, by partition and size (blocking).
    public static func stored(in db: PostgresConnection, version: Int) throws -> [SignedTreeHead] {
        let schema = ProjectionIdentity(name: AuditTrail.name, version: version).schema
        return try db.query("SELECT head FROM \(schema).tree_heads ORDER BY topic, partition, tree_size").map { row in
            try SignedTreeHead(json: try JSON.parse(try row.decode(String.self, at: 0)))
        }
    }

    /// The heads of `stored` that `held` (what the topic holds) lacks.
    public static func missing(_ stored: [SignedTreeHead], from held: [SignedTreeHead]) -> [SignedTreeHead] {
        let places = Set(held.map(Place.init))
        return stored.filter { !places.contains(Place($0)) }
    }

    /// Publishes `heads` to the topic (acks=all); throws the first write Kafka did not confirm.
    public static func publish(_ heads: [SignedTreeHead], configuration: KafkaConfiguration) async throws {
        let producer = try Producer(configuration: configuration)
        let results = await producer.send(heads.map { EventPublisher.record(for: event($0), topic: name) })
        await producer.close()
        for result in results { _ = try result.get() }
    }

    /// Which head a head is: its partition and size.
    struct Place: Hashable {
        let topic: String
        let partition: Int32
        let size: Int64

        init(_ head: SignedTreeHead) {
            topic = head.topic
            partition = head.partition
            size = head.size
        }
    }
}

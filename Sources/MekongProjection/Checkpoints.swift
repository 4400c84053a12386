import MekongKafka
import MekongPostgres

/// A projection version's positions in `mekong.checkpoints`: the next offset to apply per topic partition.
///
/// Every statement here covers all partitions of a batch at once (arrays bound as parameters), so a batch costs
/// the same few round trips however many partitions it spans.
struct Checkpoints {
    let identity: ProjectionIdentity

    /// Stored positions for these partitions (one query); partitions never applied start at the beginning of the
    /// log.
    func positions(for partitions: [TopicPartition], on db: PostgresConnection) throws -> [TopicPartition: Int64] {
        let stored = try all(on: db)
        return Dictionary(uniqueKeysWithValues: partitions.map { ($0, stored[$0] ?? KafkaOffset.beginning) })
    }

    /// Every stored position of this projection version.
    func all(on db: PostgresConnection) throws -> [TopicPartition: Int64] {
        var stored: [TopicPartition: Int64] = [:]
        for row in try db.query(
            "SELECT topic, partition, next_offset FROM mekong.checkpoints WHERE projection = $1 AND version = $2",
            [identity.name, identity.version])
        {
            let tp = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
            stored[tp] = try row.decode(Int64.self, at: 2)
        }
        return stored
    }

    /// Creates a checkpoint at offset 0 for each partition that has none (so that `mekong projection status` and
    /// `mekong audit verify` can tell a partition never applied from one that is empty), and returns every
    /// partition's stored next offset.
    func register(_ partitions: [TopicPartition], on db: PostgresConnection) throws -> [TopicPartition: Int64] {
        let sorted = partitions.sorted()
        try db.execute(
            """
            INSERT INTO mekong.checkpoints (projection, version, topic, partition, next_offset)
            SELECT $1, $2, u.topic, u.partition, 0
            FROM unnest($3::text[], $4::integer[]) AS u(topic, partition)
            ORDER BY u.topic, u.partition
            ON CONFLICT (projection, version, topic, partition) DO NOTHING
            """,
            [identity.name, identity.version, PostgresArray.text(sorted.map(\.topic)),
             PostgresArray.integers(sorted.map { Int64($0.partition) })])
        let stored = try all(on: db)
        return Dictionary(uniqueKeysWithValues: sorted.map { ($0, stored[$0] ?? 0) })
    }

    /// Locks the partitions' checkpoint rows for this transaction (creating missing ones at offset 0) and returns
    /// their next offsets. Rows are locked in (topic, partition) order, so two instances never deadlock: the
    /// second waits until the first commits, then sees the advanced positions.
    func lock(_ partitions: [TopicPartition], on db: PostgresConnection) throws -> [TopicPartition: Int64] {
        let sorted = partitions.sorted()
        let rows = try db.query(
            """
            INSERT INTO mekong.checkpoints AS c (projection, version, topic, partition, next_offset)
            SELECT $1, $2, u.topic, u.partition, 0
            FROM unnest($3::text[], $4::integer[]) AS u(topic, partition)
            ORDER BY u.topic, u.partition
            ON CONFLICT (projection, version, topic, partition) DO UPDATE SET next_offset = c.next_offset
            RETURNING topic, partition, next_offset
            """,
            [identity.name, identity.version, PostgresArray.text(sorted.map(\.topic)),
             PostgresArray.integers(sorted.map { Int64($0.partition) })])
        var positions: [TopicPartition: Int64] = [:]
        for row in rows {
            let tp = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
            positions[tp] = try row.decode(Int64.self, at: 2)
        }
        return positions
    }

    /// Moves each partition's checkpoint from `expected` to `next` in one statement; refuses (and so rolls the
    /// transaction back) if another writer moved any of them meanwhile.
    func advance(_ moves: [TopicPartition: (expected: Int64, next: Int64)], on db: PostgresConnection) throws {
        let sorted = moves.sorted { $0.key < $1.key }
        for (tp, move) in sorted where move.next < move.expected {
            throw CheckpointConflict(partition: tp, expected: move.expected, next: move.next)
        }
        let changed = try db.execute(
            """
            UPDATE mekong.checkpoints c SET next_offset = u.next, updated_at = now()
            FROM unnest($3::text[], $4::integer[], $5::bigint[], $6::bigint[]) AS u(topic, partition, expected, next)
            WHERE c.projection = $1 AND c.version = $2 AND c.topic = u.topic AND c.partition = u.partition
              AND c.next_offset = u.expected
            """,
            [identity.name, identity.version, PostgresArray.text(sorted.map(\.key.topic)),
             PostgresArray.integers(sorted.map { Int64($0.key.partition) }),
             PostgresArray.integers(sorted.map(\.value.expected)), PostgresArray.integers(sorted.map(\.value.next))])
        guard changed == sorted.count else {
            let (tp, move) = sorted[0]
            throw CheckpointConflict(partition: tp, expected: move.expected, next: move.next)
        }
    }
}

/// Another instance moved a checkpoint between our read and our write: this batch must not be applied.
struct CheckpointConflict: Error, CustomStringConvertible {
    let partition: TopicPartition
    let expected: Int64
    let next: Int64
    var description: String {
        "checkpoint of \(partition) is no longer at \(expected) (wanted to move it to \(next)); another instance is running"
    }
}

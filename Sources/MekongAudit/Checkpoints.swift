import MekongKafka
import MekongPostgres

/// A projection version's positions in `mekong.checkpoints`: the next offset to apply per topic partition.
struct Checkpoints {
    let projection: String
    let version: Int

    /// Stored positions for these partitions (one query); partitions never applied start at the beginning of the
    /// log.
    func positions(for partitions: [TopicPartition], on db: PostgresConnection) throws -> [TopicPartition: Int64] {
        var stored: [TopicPartition: Int64] = [:]
        for row in try db.query(
            "SELECT topic, partition, next_offset FROM mekong.checkpoints WHERE projection = $1 AND version = $2",
            [projection, version])
        {
            let tp = TopicPartition(topic: try row.decode(String.self, at: 0), partition: Int32(try row.decode(Int.self, at: 1)))
            stored[tp] = try row.decode(Int64.self, at: 2)
        }
        return Dictionary(uniqueKeysWithValues: partitions.map { ($0, stored[$0] ?? KafkaOffset.beginning) })
    }

    /// Locks the partition's checkpoint row for this transaction and returns its next offset. A second instance of
    /// the same projection version waits here until the first commits, then sees the advanced position.
    func lock(_ tp: TopicPartition, on db: PostgresConnection) throws -> Int64 {
        try db.execute(
            """
            INSERT INTO mekong.checkpoints (projection, version, topic, partition, next_offset)
            VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING
            """, [projection, version, tp.topic, Int(tp.partition)])
        let rows = try db.query(
            """
            SELECT next_offset FROM mekong.checkpoints
            WHERE projection = $1 AND version = $2 AND topic = $3 AND partition = $4 FOR UPDATE
            """, [projection, version, tp.topic, Int(tp.partition)])
        return try rows[0].decode(Int64.self, at: 0)
    }

    /// Moves the checkpoint from `expected` to `next`; refuses (and so rolls the transaction back) if another
    /// writer moved it meanwhile.
    func advance(_ tp: TopicPartition, from expected: Int64, to next: Int64, on db: PostgresConnection) throws {
        let changed = try db.execute(
            """
            UPDATE mekong.checkpoints SET next_offset = $6, updated_at = now()
            WHERE projection = $1 AND version = $2 AND topic = $3 AND partition = $4 AND next_offset = $5
            """, [projection, version, tp.topic, Int(tp.partition), expected, next])
        guard changed == 1, next >= expected else {
            throw CheckpointConflict(partition: tp, expected: expected, next: next)
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

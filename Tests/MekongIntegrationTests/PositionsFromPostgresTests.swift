import MekongKafka
import MekongPostgres
import MekongTestSupport
import Testing

@Suite("Consumer positions stored in PostgreSQL")
struct PositionsFromPostgresTests {
    @Test("positions loaded from PostgreSQL when partitions are assigned are where reading starts")
    func positionsFromPostgres() async throws {
        let cluster = try MockCluster(brokers: 1)
        try cluster.createTopic("reports", partitions: 3, replicationFactor: 1)
        let producer = try Producer(configuration: cluster.configuration())
        for p in 0..<3 {
            _ = try await producer.send((0..<50).map {
                OutgoingMessage(topic: "reports", partition: Int32(p), key: nil, value: Array("\(p)-\($0)".utf8))
            }).map { try $0.get() }
        }
        await producer.close()
        let database = try TestDatabase.create()
        defer { database.drop() }
        let received = try await onThread { [database] in
            let db = try database.connect()
            defer { db.close() }
            try db.execute("CREATE TABLE positions (topic text, partition int, next_offset bigint)")
            try db.execute("INSERT INTO positions VALUES ('reports', 0, 10), ('reports', 1, 45), ('reports', 2, 50)")
            let consumer = try Consumer(configuration: cluster.configuration(), groupID: "positions")
            defer { consumer.close() }
            try consumer.subscribe(to: ["reports"], rebalance: RebalanceHandler(onAssign: { partitions in
                var positions: [TopicPartition: Int64] = [:]
                for tp in partitions {
                    let rows = try db.query(
                        "SELECT next_offset FROM positions WHERE topic = $1 AND partition = $2",
                        [tp.topic, Int(tp.partition)])
                    positions[tp] = try rows[0].decode(Int64.self, at: 0)
                }
                return positions
            }))
            var messages: [ConsumedMessage] = []
            let clock = ContinuousClock()
            let end = clock.now + .seconds(20)
            while messages.count < 45, clock.now < end {
                messages += try consumer.poll(maxMessages: 100, timeout: .milliseconds(200))
            }
            return messages
        }
        let byPartition = Dictionary(grouping: received, by: \.partition).mapValues { $0.map(\.offset) }
        #expect(byPartition[0] == Array(10..<50))
        #expect(byPartition[1] == Array(45..<50))
        #expect(byPartition[2] == nil)
    }
}

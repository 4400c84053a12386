import Foundation
import MekongKafka
import Synchronization
import Testing

@Suite("Consumer against librdkafka's mock cluster")
struct ConsumerTests {
    @Test("two members of one group share the partitions; revoked partitions are reported")
    func rebalanceWithTwoMembers() async throws {
        let cluster = try makeCluster(partitions: 4)
        let revokedFromA = Mutex<[[TopicPartition]]>([])
        let a = try Consumer(configuration: cluster.configuration(), groupID: "g")
        defer { a.close() }
        try a.subscribe(to: ["events"], rebalance: RebalanceHandler(onRevoke: { parts in
            revokedFromA.withLock { $0.append(parts) }
        }))
        let clock = ContinuousClock()
        var end = clock.now + .seconds(20)
        while try a.assignment().count < 4, clock.now < end {
            _ = try a.poll(maxMessages: 10, timeout: .milliseconds(100))
        }
        #expect(try a.assignment().count == 4)

        let b = try Consumer(configuration: cluster.configuration(), groupID: "g")
        defer { b.close() }
        try b.subscribe(to: ["events"])
        end = clock.now + .seconds(30)
        while clock.now < end {
            _ = try a.poll(maxMessages: 10, timeout: .milliseconds(100))
            _ = try b.poll(maxMessages: 10, timeout: .milliseconds(100))
            if try !a.assignment().isEmpty && !b.assignment().isEmpty { break }
        }
        let left = Set(try a.assignment())
        let right = Set(try b.assignment())
        #expect(!left.isEmpty && !right.isEmpty)
        #expect(left.isDisjoint(with: right))
        #expect(left.union(right).count == 4)
        // Eager rebalancing revokes everything A held, then reassigns. Under load the group may rebalance more than
        // once before settling, so only the first revocation's size is fixed: all 4.
        let revocations = revokedFromA.withLock { $0 }
        #expect(revocations.first?.count == 4, "eager rebalance revokes all, then reassigns: \(revocations)")
    }

    @Test("positions returned by the assignment hook are where reading starts")
    func assignmentHookPositionsHonoured() async throws {
        let cluster = try makeCluster(partitions: 1)
        let producer = try Producer(configuration: cluster.configuration())
        _ = try await producer.send(messages(100)).map { try $0.get() }
        await producer.close()

        let consumer = try Consumer(configuration: cluster.configuration(), groupID: "positions")
        defer { consumer.close() }
        try consumer.subscribe(to: ["events"], rebalance: RebalanceHandler(onAssign: { parts in
            Dictionary(uniqueKeysWithValues: parts.map { ($0, Int64(40)) })
        }))
        let received = try drain(consumer, count: 60)
        #expect(received.count == 60)
        #expect(received.first?.offset == 40)
        #expect(received.last?.offset == 99)
    }

    @Test("a failing assignment hook makes poll throw a rebalance error and reads nothing")
    func failingAssignmentHook() async throws {
        struct StoreDown: Error {}
        let cluster = try makeCluster(partitions: 1)
        let producer = try Producer(configuration: cluster.configuration())
        _ = try await producer.send(messages(5)).map { try $0.get() }
        await producer.close()
        let consumer = try Consumer(configuration: cluster.configuration(), groupID: "failing")
        defer { consumer.close() }
        try consumer.subscribe(to: ["events"], rebalance: RebalanceHandler(onAssign: { _ in throw StoreDown() }))
        var thrown: KafkaError?
        var received: [ConsumedMessage] = []
        let clock = ContinuousClock()
        let end = clock.now + .seconds(20)
        while thrown == nil, clock.now < end {
            do { received += try consumer.poll(maxMessages: 10, timeout: .milliseconds(100)) } catch {
                thrown = error
            }
        }
        #expect(thrown?.kind == .rebalance)
        #expect(received.isEmpty)
    }

    @Test("seek, pause and resume move and hold the read position")
    func seekPauseResume() async throws {
        let cluster = try makeCluster(partitions: 1)
        let producer = try Producer(configuration: cluster.configuration())
        _ = try await producer.send(messages(50)).map { try $0.get() }
        defer { producer.close() }
        let tp = TopicPartition(topic: "events", partition: 0)
        let consumer = try Consumer(configuration: cluster.configuration())
        defer { consumer.close() }
        try consumer.assign([tp: KafkaOffset.beginning])
        let all = try drain(consumer, count: 50)
        #expect(all.map(\.offset) == Array(0..<50))

        try consumer.seek(tp, to: 10)
        let again = try drain(consumer, count: 40)
        #expect(again.first?.offset == 10)
        #expect(again.count == 40)

        try consumer.pause([tp])
        _ = try await producer.send(messages(5)).map { try $0.get() }
        let whilePaused = try consumer.poll(maxMessages: 100, timeout: .milliseconds(700))
        #expect(whilePaused.isEmpty)
        try consumer.resume([tp])
        let afterResume = try drain(consumer, count: 5)
        #expect(afterResume.map(\.offset) == Array(50..<55))

        let (low, high) = try consumer.watermarks(of: tp)
        #expect(low == 0)
        #expect(high == 55)
    }
}

import Foundation
import MekongKafka

/// A mock cluster with one topic, for a single test.
func makeCluster(topic: String = "events", partitions: Int = 4, brokers: Int = 3) throws -> MockCluster {
    let cluster = try MockCluster(brokers: brokers)
    try cluster.createTopic(topic, partitions: partitions, replicationFactor: min(3, brokers))
    return cluster
}

func messages(_ count: Int, topic: String = "events", keys: Int = 17) -> [OutgoingMessage] {
    (0..<count).map { i in
        OutgoingMessage(
            topic: topic, key: Array("key-\(i % keys)".utf8), value: Array("value-\(i)".utf8),
            headers: [KafkaHeader(name: "ce_id", string: "id-\(i)")])
    }
}

/// Polls until `count` records have arrived or `deadline` passes.
func drain(_ consumer: Consumer, count: Int, deadline: Duration = .seconds(20)) throws -> [ConsumedMessage] {
    var received: [ConsumedMessage] = []
    let clock = ContinuousClock()
    let end = clock.now + deadline
    while received.count < count, clock.now < end {
        received += try consumer.poll(maxMessages: 500, timeout: .milliseconds(200))
    }
    return received
}

/// Reads a whole topic from the beginning without a group.
func readAll(_ cluster: MockCluster, topic: String, partitions: Int, expecting count: Int) throws
    -> [ConsumedMessage]
{
    let consumer = try Consumer(configuration: cluster.configuration())
    defer { consumer.close() }
    var positions: [TopicPartition: Int64] = [:]
    for p in 0..<partitions { positions[TopicPartition(topic: topic, partition: Int32(p))] = KafkaOffset.beginning }
    try consumer.assign(positions)
    return try drain(consumer, count: count)
}

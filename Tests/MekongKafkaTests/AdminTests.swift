import MekongKafka
import Testing

@Suite("Admin and mock cluster")
struct AdminTests {
    @Test("describe reports partitions, leaders and replicas of the cluster's topics")
    func describe() throws {
        let cluster = try makeCluster(topic: "reports", partitions: 6)
        try cluster.createTopic("master-data", partitions: 3, replicationFactor: 3)
        let admin = try KafkaAdmin(configuration: cluster.configuration())
        let topics = try admin.describeTopics(["reports", "master-data", "nope"])
        #expect(topics.map(\.name) == ["reports", "master-data", "nope"])
        #expect(topics[0].partitions.count == 6)
        #expect(topics[0].replicationFactor == 3)
        #expect(topics[1].partitions.map(\.id) == [0, 1, 2])
        #expect(topics[2].error != nil)
        #expect(try admin.brokers().count == 3)
    }

    @Test("CreateTopics, which the mock cluster does not implement, fails with a typed admin error")
    func createTopicsOnMockIsRefused() throws {
        let cluster = try makeCluster()
        let admin = try KafkaAdmin(configuration: cluster.configuration())
        do {
            let outcome = try admin.createTopics(
                [NewTopic(name: "new-topic", partitions: 3, replicationFactor: 1)], timeout: .seconds(5))
            let result = try #require(outcome["new-topic"])
            guard case .failure(let error) = result else {
                Issue.record("the mock cluster unexpectedly created a topic")
                return
            }
            #expect(error.kind == .admin)
        } catch let error as KafkaError {
            #expect(error.kind == .admin)
        }
    }

    @Test("an error injected for a topic reaches producers as a typed error")
    func topicError() async throws {
        let cluster = try makeCluster(partitions: 1)
        let producer = try Producer(configuration: cluster.configuration(["message.timeout.ms": "2000"]))
        defer { producer.close() }
        cluster.setTopicError("events", .topicAuthorizationFailed)
        let result = await producer.send([messages(1)[0]])[0]
        guard case .failure(let error) = result else {
            Issue.record("expected failure, got \(result)")
            return
        }
        #expect(error.topic == "events")
    }
}

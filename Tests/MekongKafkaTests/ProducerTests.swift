import Foundation
import MekongKafka
import Testing

@Suite("Producer against librdkafka's mock cluster")
struct ProducerTests {
    @Test("delivery reports carry real, contiguous offsets and every delivered record is read back")
    func deliveryReportsCarryRealOffsets() async throws {
        let cluster = try makeCluster()
        let producer = try Producer(configuration: cluster.configuration())
        defer { producer.close() }
        let outgoing = messages(2_000)
        let reports = try await producer.send(outgoing).map { try $0.get() }

        #expect(reports.count == 2_000)
        let byPartition = Dictionary(grouping: reports, by: \.partition)
        #expect(byPartition.count > 1, "keys should spread over partitions")
        for (_, partitionReports) in byPartition {
            let offsets = partitionReports.map(\.offset).sorted()
            #expect(offsets == Array(0..<Int64(offsets.count)), "offsets are the log's own, gap-free")
        }

        let consumed = try readAll(cluster, topic: "events", partitions: 4, expecting: 2_000)
        #expect(consumed.count == 2_000)
        let stored = Dictionary(uniqueKeysWithValues: consumed.map { ("\($0.partition)@\($0.offset)", $0) })
        for (message, report) in zip(outgoing, reports) {
            let record = try #require(stored["\(report.partition)@\(report.offset)"], "\(report) missing")
            #expect(record.value == message.value)
            #expect(record.key == message.key)
            #expect(record.header("ce_id") == message.headers[0].stringValue)
        }
    }

    @Test("records with one key keep their order within their partition")
    func perKeyOrder() async throws {
        let cluster = try makeCluster()
        let producer = try Producer(configuration: cluster.configuration())
        defer { producer.close() }
        let outgoing = (0..<300).map { i in
            OutgoingMessage(topic: "events", key: Array("one-key".utf8), value: Array("\(i)".utf8))
        }
        let reports = try await producer.send(outgoing).map { try $0.get() }
        #expect(Set(reports.map(\.partition)).count == 1)
        #expect(reports.map(\.offset) == reports.map(\.offset).sorted())
    }

    @Test("retriable request errors injected into Produce are retried by librdkafka and the send succeeds")
    func retriableErrorsAreRetried() async throws {
        let cluster = try makeCluster(partitions: 1)
        let producer = try Producer(configuration: cluster.configuration(["retry.backoff.ms": "10"]))
        defer { producer.close() }
        cluster.pushRequestErrors(.produce, [.notEnoughReplicas, .notLeaderForPartition, .requestTimedOut])
        let report = try await producer.send(messages(1)[0])
        #expect(report.partition == 0)
        #expect(report.offset == 0)
        let consumed = try readAll(cluster, topic: "events", partitions: 1, expecting: 1)
        #expect(consumed.count == 1, "retries must not duplicate (idempotent producer)")
    }

    @Test("a permanent error surfaces as a typed, non-retriable delivery error; nothing is written")
    func permanentErrorIsTyped() async throws {
        let cluster = try makeCluster(partitions: 1)
        let producer = try Producer(configuration: cluster.configuration())
        defer { producer.close() }
        cluster.pushRequestErrors(.produce, [.topicAuthorizationFailed])
        let result = await producer.send([messages(1)[0]])[0]
        guard case .failure(let error) = result else {
            Issue.record("expected a delivery failure, got \(result)")
            return
        }
        #expect(error.kind == .delivery)
        #expect(error.code == .topicAuthorizationFailed)
        #expect(!error.isRetriable)
        #expect(error.persistence == .notPersisted)
        #expect(error.topic == "events")
        let (_, high) = try Consumer(configuration: cluster.configuration())
            .watermarks(of: TopicPartition(topic: "events", partition: 0))
        #expect(high == 0)
    }

    @Test("with the leader's broker down, a send times out with a retriable error; after failover sends succeed")
    func leaderBrokerDown() async throws {
        // The broker stays down: bringing a mock broker back up re-binds its old port, which another socket may
        // have taken meanwhile (librdkafka then aborts the process). Recovery comes from moving the leadership,
        // as it would in a real cluster.
        let cluster = try makeCluster(partitions: 1, brokers: 3)
        try cluster.setLeader(topic: "events", partition: 0, broker: 1)
        let producer = try Producer(configuration: cluster.configuration(["message.timeout.ms": "1500"]))
        defer { producer.close() }
        #expect(try await producer.send(messages(1)[0]).offset == 0)
        try cluster.setBroker(1, up: false)
        let result = await producer.send([messages(1)[0]])[0]
        guard case .failure(let error) = result else {
            Issue.record("expected a timeout while the leader's broker is down, got \(result)")
            return
        }
        #expect(error.code == .messageTimedOut)
        #expect(error.isRetriable)
        #expect(error.persistence != .persisted)
        try cluster.setLeader(topic: "events", partition: 0, broker: 2)
        let report = try await producer.send(messages(1)[0])
        #expect(report.offset >= 1)
        let consumed = try readAll(cluster, topic: "events", partitions: 1, expecting: Int(report.offset) + 1)
        #expect(consumed.last?.offset == report.offset, "the acknowledged record is readable after failover")
    }

    @Test("a leader change in the middle of a stream loses nothing")
    func leaderChange() async throws {
        let cluster = try makeCluster(partitions: 2)
        let producer = try Producer(configuration: cluster.configuration())
        defer { producer.close() }
        let first = try await producer.send(messages(200)).map { try $0.get() }
        try cluster.setLeader(topic: "events", partition: 0, broker: 2)
        try cluster.setLeader(topic: "events", partition: 1, broker: 3)
        let second = try await producer.send(messages(200)).map { try $0.get() }
        #expect(Set(first + second).count == 400)
        let consumed = try readAll(cluster, topic: "events", partitions: 2, expecting: 400)
        #expect(consumed.count == 400)
    }

    @Test("with a small in-flight bound, a large batch is delivered completely")
    func backPressure() async throws {
        let cluster = try makeCluster()
        let producer = try Producer(configuration: cluster.configuration(), maxInFlight: 8)
        defer { producer.close() }
        let reports = try await producer.send(messages(3_000)).map { try $0.get() }
        #expect(Set(reports).count == 3_000)
    }

    @Test("sending after close fails with a typed error instead of hanging")
    func sendAfterClose() async throws {
        let cluster = try makeCluster()
        let producer = try Producer(configuration: cluster.configuration())
        await producer.close()
        let result = await producer.send([messages(1)[0]])[0]
        guard case .failure(let error) = result else {
            Issue.record("expected failure after close")
            return
        }
        #expect(error.kind == .closed)
    }

    @Test("an unknown librdkafka property is refused with its name")
    func badProperty() throws {
        #expect {
            _ = try Producer(configuration: KafkaConfiguration(bootstrapServers: "x", properties: ["no.such": "1"]))
        } throws: { error in
            (error as? KafkaError)?.kind == .configuration && "\(error)".contains("no.such")
        }
    }

    @Test("secret properties are redacted")
    func secretsRedacted() throws {
        let config = KafkaConfiguration(bootstrapServers: "x", properties: ["sasl.password": "hunter2"])
        #expect(config.redacted["sasl.password"] == "***")
        do {
            _ = try Producer(configuration: KafkaConfiguration(
                bootstrapServers: "x", properties: ["sasl.password": "hunter2", "security.protocol": "NOPE"]))
            Issue.record("expected a configuration error")
        } catch {
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}

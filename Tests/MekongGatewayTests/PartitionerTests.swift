import Foundation
import MekongEvents
import MekongEvidence
import MekongKafka
import MekongTestSupport
import Testing

/// Every producer of a topic puts a subject on the same partition (docs/events.md, "Records"): the gateway,
/// `mekong publish` and a confluent-kafka producer configured as the docs say, all where Java's default
/// partitioner (murmur2) puts it.
@Suite struct PartitionerTests {
    @Test func theGatewayMekongPublishConfluentKafkaAndJavaAgreeOnEverySubjectsPartition() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let units = (0..<40).map { "U1\($0)" }
        let subjects = units.map { "\($0)/F1/2025-M03" }

        // The gateway: its receipts say where each went.
        var gateway: [String: Int] = [:]
        for unit in units {
            let answer = try await fixture.clientA.post(fixture.report(unit: unit))
            #expect(answer.status == 201)
            gateway["\(unit)/F1/2025-M03"] = try Receipt(json: try #require(answer.json)).partition
        }

        // mekong publish, straight to the cluster: read back where each event went.
        let events = units.map { fixture.report(unit: $0) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("partitioner-\(UUIDv7.generate()).ndjson")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(events.map { String(decoding: JSON.serializeBytes($0.json), as: UTF8.self) + "\n" }.joined().utf8).write(to: file)
        let publish = try await ChildProcess.runOffPool([
            "publish", file.path, "--topic", "reports", "--kafka", fixture.cluster.bootstrapServers,
        ])
        #expect(publish.status == 0, "\(publish.output)\(publish.errors)")
        let ids = Dictionary(uniqueKeysWithValues: events.map { ($0.id, $0.subject) })
        var published: [String: Int] = [:]
        let consumer = try Consumer(configuration: fixture.cluster.configuration())
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<6).map { (TopicPartition(topic: "reports", partition: Int32($0)), Int64(0)) }))
        let deadline = ContinuousClock.now + .seconds(20)
        while published.count < events.count, ContinuousClock.now < deadline {
            for message in try consumer.poll(maxMessages: 500, timeout: .milliseconds(200)) {
                if let event = try? CloudEvent(decoding: message.value), let subject = ids[event.id] {
                    published[subject] = Int(message.partition)
                }
            }
        }

        // confluent-kafka (its own librdkafka) as docs/events.md configures it, and Java's murmur2 computed.
        let list = FileManager.default.temporaryDirectory.appendingPathComponent("subjects-\(UUIDv7.generate()).txt")
        defer { try? FileManager.default.removeItem(at: list) }
        try Data(subjects.joined(separator: "\n").utf8).write(to: list)
        let others = try JSON.parse(try await runPython([
            MekongBinary.repositoryRoot.appendingPathComponent("Tests/MekongGatewayTests/partition_check.py").path,
            fixture.cluster.bootstrapServers, "reports", "6", list.path,
        ]))
        var differsFromCRC32 = 0
        for subject in subjects {
            let confluent = others[subject]?["confluent"]?.integerValue.map(Int.init)
            let java = others[subject]?["java"]?.integerValue.map(Int.init)
            #expect(gateway[subject] != nil && gateway[subject] == java, "\(subject): gateway \(gateway[subject] ?? -1), Java \(java ?? -1)")
            #expect(published[subject] == java, "\(subject): mekong publish \(published[subject] ?? -1), Java \(java ?? -1)")
            #expect(confluent == java, "\(subject): confluent-kafka \(confluent ?? -1), Java \(java ?? -1)")
            // Where the gateway looks for a dead attempt's record (LogSearch).
            let computed = Int(KafkaPartitioner.partition(forKey: Array(subject.utf8), count: 6))
            #expect(computed == java, "\(subject): KafkaPartitioner \(computed), Java \(java ?? -1)")
            if others[subject]?["crc32"]?.integerValue.map(Int.init) != java { differsFromCRC32 += 1 }
        }
        // librdkafka's own default would have put most of them elsewhere: the agreement above is the setting's doing.
        #expect(differsFromCRC32 > subjects.count / 2)
    }

    @Test func aProducerRefusesAnyOtherPartitioner() throws {
        let cluster = try MockCluster(brokers: 1)
        #expect(throws: KafkaError.self) {
            _ = try Producer(configuration: cluster.configuration(["partitioner": "consistent_random"]))
        }
        _ = try Producer(configuration: cluster.configuration(["partitioner": "murmur2_random"]))
    }
}

import Foundation
import MekongKafka
import Testing

/// The Kafka half of `mekong dev chaos`: the control channel over a Unix socket, and the request-error injector
/// against a real mock cluster and a real idempotent producer.
@Suite("chaos control", .serialized)
struct ChaosControlTests {
    func socketPath() -> String {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-\(UUID().uuidString.prefix(8)).sock").path
    }

    @Test("one line in, one line out: actions are done, refused ones say why, status tells what is down")
    func controlChannel() throws {
        let cluster = try makeCluster(topic: "events", partitions: 4)
        let controller = ChaosController(
            cluster: cluster, topics: [.init(name: "events", partitions: 4)], seed: 1)
        defer { controller.stop() }
        let path = socketPath()
        let server = try ChaosControlServer(path: path) { line in
            do {
                let detail = try controller.perform(try ChaosAction(parsing: line))
                return detail.isEmpty ? "ok" : "ok \(detail)"
            } catch {
                return "error \(error)"
            }
        }
        defer { server.stop() }
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        #expect(try ChaosControlClient.send("broker-down 2", to: path) == "ok")
        let status = try #require(ChaosStatus(parsing: String(try ChaosControlClient.send("status", to: path).dropFirst(3))))
        #expect(status.down == [2])
        #expect(status.brokers == [1, 2, 3])
        #expect(status.topics == [.init(name: "events", partitions: 4)])
        #expect(try ChaosControlClient.send("broker-down 7", to: path).hasPrefix("error no broker 7"))
        #expect(try ChaosControlClient.send("leader events 9 1", to: path).hasPrefix("error events has partitions 0 to 3"))
        #expect(try ChaosControlClient.send("leader nope 0 1", to: path).hasPrefix("error no topic nope"))
        #expect(try ChaosControlClient.send("jump", to: path).hasPrefix("error 'jump': unknown action"))
        #expect(try ChaosControlClient.send("leaders 3", to: path) == "ok partitions=4")
        #expect(try ChaosControlClient.send("errors 0.5 produce", to: path) == "ok")
        #expect(try ChaosControlClient.send("heal", to: path) == "ok")
        let healed = try #require(ChaosStatus(parsing: String(try ChaosControlClient.send("status", to: path).dropFirst(3))))
        #expect(healed.down.isEmpty)
        #expect(healed.errorRate == 0)

        server.stop()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: ChaosChannelError.self) { try ChaosControlClient.send("status", to: path) }
    }

    @Test("errors at 20% on produce: about a fifth of produce requests fail, counted; every record lands once")
    func requestErrors() async throws {
        let cluster = try makeCluster(topic: "events", partitions: 4)
        let controller = ChaosController(cluster: cluster, topics: [.init(name: "events", partitions: 4)], seed: 7)
        defer { controller.stop() }
        _ = try controller.perform(.errors(rate: 0.2, requests: [.produce]))
        // One request in flight per connection: the mock does not check an idempotent producer's sequence numbers,
        // so a request failed while a later one of the same partition is in flight would be the mock's problem, not
        // the injector's (RequestErrorInjector's retriableErrors).
        let producer = try Producer(configuration: cluster.configuration(
            ["linger.ms": "0", "max.in.flight.requests.per.connection": "1"]))
        defer { producer.close() }
        // One small send at a time, so that there are many produce requests.
        let groups = 100
        var reports: [String: DeliveryReport] = [:]
        for group in 0..<groups {
            let batch = messages(4, keys: 4).map { message in
                OutgoingMessage(topic: message.topic, key: message.key, value: Array("g\(group)-".utf8) + message.value,
                                headers: message.headers)
            }
            for (message, result) in zip(batch, await producer.send(batch)) {
                reports[String(decoding: message.value, as: UTF8.self)] = try result.get()
            }
        }
        _ = try controller.perform(.errorsOff)
        // Let the refill thread count the last answers taken.
        try await Task.sleep(for: .milliseconds(50))
        let status = controller.status
        let produce = try #require(status.counts[.produce])
        #expect(produce.requests >= groups, "\(status.line)")
        let fraction = Double(produce.failed) / Double(produce.requests)
        #expect(fraction > 0.1 && fraction < 0.3, "\(status.line)")
        #expect(status.dryRefills == 0, "\(status.line)")
        #expect(status.problem == nil)
        print("chaos control: 20% of produce requests asked to fail: \(status.line)")
        // The failed requests wrote nothing: exactly one copy of each record.
        // The failed requests wrote nothing: exactly one copy of each record, where its delivery report says.
        let log = try readAll(cluster, topic: "events", partitions: 4, expecting: groups * 4)
        #expect(log.count == groups * 4)
        let positions = Dictionary(grouping: log) { String(decoding: $0.value, as: UTF8.self) }
        for (value, report) in reports {
            let copies = positions[value] ?? []
            #expect(copies.count == 1 && copies.first?.partition == report.partition
                    && copies.first?.offset == report.offset, "\(value): reported \(report), in the log \(copies.count) times")
        }
    }
}

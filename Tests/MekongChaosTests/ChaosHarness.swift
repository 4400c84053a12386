import Foundation
import MekongEvents
import MekongEvidence
import MekongGateway
import MekongKafka
import MekongPostgres
import MekongTestSupport
import Synchronization

/// Everything a chaos run starts, as an operator would: `mekong dev` (its own state file), two registered sources,
/// `mekong gateway`, and the projectors, each a child process, over a throwaway database.
final class ChaosHarness: @unchecked Sendable {
    struct Source: Sendable {
        let id: String
        let uri: String
        let key: SigningKey
        let apiKeyFile: String
        let apiKey: String
    }

    let database: TestDatabase
    let directory: URL
    let environment: [String: String]
    let dev: ChildProcess
    let bootstrapServers: String
    private(set) var sources: [Source] = []
    private(set) var gateway: ChildProcess?
    private(set) var gatewayURL = URL(string: "http://127.0.0.1/")!
    private var children: [ChildProcess] = []

    static let eventType = "vn.gso.register.record-changed"
    static let topic = "admin-records"

    init() throws {
        database = try TestDatabase.create("chaos")
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        environment = [
            "MEKONG_DEV_STATE": directory.appendingPathComponent("dev.json").path,
            "MEKONG_POSTGRES": database.url, "XDG_STATE_HOME": directory.path,
        ]
        dev = try ChildProcess(MekongBinary.url, ["dev"], environment: environment)
        children.append(dev)
        // The dev process records its address and control socket once both are up.
        let state = directory.appendingPathComponent("dev.json")
        let deadline = ContinuousClock.now + .seconds(30)
        var servers: String?
        while servers == nil {
            if let data = try? Data(contentsOf: state),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                object["controlSocket"] is String
            {
                servers = object["bootstrapServers"] as? String
            } else {
                guard dev.process.isRunning, ContinuousClock.now < deadline else {
                    throw HarnessError("mekong dev did not record its cluster: \(dev.standardOutput) \(dev.standardError)")
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        bootstrapServers = servers!
    }

    /// Registers `count` sources that may publish register changes, each with its own signing key.
    func registerSources(_ count: Int) throws {
        for index in 1...count {
            let id = "chaos-\(index)"
            let key = SigningKey(generatingWithID: "\(id)-key")
            let files = try key.write(to: directory)
            let apiKeyFile = directory.appendingPathComponent("\(id).api-key").path
            let run = try ChildProcess.run(
                ["sources", "add", id, "--uri", "urn:test:\(id)", "--public-key", files.publicFile.path, "--type",
                 Self.eventType, "--rate", "100000", "--api-key-out", apiKeyFile],
                environment: environment)
            guard run.status == 0 else { throw HarnessError("sources add \(id): \(run.errors)") }
            let apiKey = try String(contentsOfFile: apiKeyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            sources.append(Source(id: id, uri: "urn:test:\(id)", key: key, apiKeyFile: apiKeyFile, apiKey: apiKey))
        }
    }

    /// Starts `mekong gateway` on a free port and waits until it listens.
    func startGateway() throws {
        // One produce request in flight per connection: librdkafka 2.0.2's mock does not check an idempotent
        // producer's sequence numbers, and with several requests in flight a failed one makes librdkafka report its
        // records delivered (offset -1001) though the mock never stored them (RequestErrorInjector, retriableErrors).
        // MEKONG_CHAOS_IN_FLIGHT=5 (librdkafka's default with idempotence) shows it: the suite then fails.
        let inFlight = ProcessInfo.processInfo.environment["MEKONG_CHAOS_IN_FLIGHT"].flatMap(Int.init) ?? 1
        let configuration = directory.appendingPathComponent("gateway-config.json")
        try #"{"kafka": {"max.in.flight.requests.per.connection": "\#(inFlight)"}}"#.write(
            to: configuration, atomically: true, encoding: .utf8)
        let gateway = try ChildProcess(
            MekongBinary.url,
            ["gateway", "--port", "0", "--key", directory.appendingPathComponent("gateway.key").path,
             "--delivery-timeout", "5", "--config", configuration.path],
            environment: environment)
        children.append(gateway)
        self.gateway = gateway
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            if let match = gateway.standardError.firstMatch(of: /listening on (http:\/\/127\.0\.0\.1:\d+)/) {
                gatewayURL = URL(string: String(match.1) + "/")!
                return
            }
            guard gateway.process.isRunning, ContinuousClock.now < deadline else {
                throw HarnessError("the gateway did not start: \(gateway.standardError)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The gateway's public receipt key (written beside its private key on first start).
    func gatewayKey() throws -> VerifyingKey {
        try VerifyingKey(contentsOf: directory.appendingPathComponent("gateway.pub"))
    }

    /// Starts a long-running `mekong …` child that `stop()` ends.
    func start(_ arguments: [String]) throws -> ChildProcess {
        let child = try ChildProcess(MekongBinary.url, arguments, environment: environment)
        children.append(child)
        return child
    }

    /// Runs `mekong …` to its end.
    func run(_ arguments: [String], timeout: Duration = .seconds(120)) throws -> (status: Int32, output: String, errors: String) {
        try ChildProcess.run(arguments, environment: environment, timeout: timeout)
    }

    /// Records of a topic in the cluster: per partition, (low, high) watermarks.
    func watermarks(_ topic: String, partitions: Int) throws -> [(low: Int64, high: Int64)] {
        let consumer = try Consumer(configuration: KafkaConfiguration(bootstrapServers: bootstrapServers))
        defer { consumer.close() }
        return try (0..<partitions).map { partition in
            let marks = try consumer.watermarks(of: TopicPartition(topic: topic, partition: Int32(partition)))
            return (marks.low, marks.high)
        }
    }

    func query(_ sql: String) throws -> [PostgresRow] {
        let connection = try database.connect()
        defer { connection.close() }
        return try Array(connection.query(sql))
    }

    /// SIGTERM to every child still running, a bounded wait, then the database and files go.
    func stop() {
        for child in children.reversed() where child.process.isRunning {
            child.signal(SIGTERM)
            _ = try? child.wait(timeout: .seconds(30))
        }
        database.drop()
        try? FileManager.default.removeItem(at: directory)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Set once, read by the load clients.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}

/// What the load clients sent and what came back, shared between them.
final class Ledger: Sendable {
    private let events = Mutex<[SentEvent]>([])
    private let answers = Mutex<[String: Int]>([:])

    func record(_ sent: [SentEvent], answer: String) {
        events.withLock { $0 += sent }
        answers.withLock { $0[answer, default: 0] += 1 }
    }

    var sent: [SentEvent] { events.withLock { $0 } }
    /// Requests by answer: `200`, `503`, `http error`, ….
    var answerCounts: [String: Int] { answers.withLock { $0 } }
}

/// One source system sending signed register changes in batches: each batch holds 12 events over its 8 subjects,
/// every subject's events numbered 1, 2, 3… (`sourcesequence`) in the order sent. No retries: an event without a
/// receipt is left unacknowledged, so that the log may hold it once at most.
struct LoadClient: Sendable {
    let index: Int
    let source: ChaosHarness.Source
    let gateway: URL
    var subjects = 8
    var batchSize = 12
    /// At most one batch per this interval.
    var pace: Duration = .milliseconds(150)

    func run(until stop: StopFlag, into ledger: Ledger) async {
        let client = GatewayClient(baseURL: gateway, apiKey: source.apiKey, timeout: 40)
        var sequences = [Int](repeating: 0, count: subjects)
        var cursor = 0
        while !stop.isSet {
            let began = ContinuousClock.now
            var batch: [SentEvent] = []
            var events: [JSONValue] = []
            for _ in 0..<batchSize {
                let subject = cursor % subjects
                cursor += 1
                sequences[subject] += 1
                let recordKey = "chaos-c\(index)-s\(subject)"
                let attributes: JSONObject = [
                    "name": .string("Chaos \(index)/\(subject)"), "employees": .number(Double(sequences[subject])),
                ]
                let event = CloudEvent(
                    id: UUIDv7.generate(), source: source.uri, type: ChaosHarness.eventType, time: Timestamp(date: Date()),
                    subject: "business/\(recordKey)",
                    dataschema: "https://schemas.mekong.gso.gov.vn/\(ChaosHarness.eventType)/v1.schema.json",
                    data: .object([
                        "register": .string("business"), "recordKey": .string(recordKey),
                        "change": .string(sequences[subject] == 1 ? "create" : "update"),
                        "effectiveDate": .string("2025-01-01"), "attributes": .object(attributes),
                    ]),
                    sourcesequence: Int64(sequences[subject])
                ).signed(by: source.key)
                events.append(event.json)
                batch.append(SentEvent(id: event.id, subject: event.subject, sequence: sequences[subject], source: source.id))
            }
            let answer: String
            do {
                let reply = try await client.send(
                    "POST", "v1/events", contentType: "application/cloudevents-batch+json",
                    body: JSON.serializeBytes(.array(events)))
                answer = "\(reply.status)"
                // 200: every receipt; 503: the receipts of the events Kafka did confirm (the others are listed as
                // conflicts); anything else: none.
                var receipts: [String: Receipt] = [:]
                for item in reply.json?["receipts"]?.arrayValue ?? [] {
                    if let receipt = try? Receipt(json: item) { receipts[receipt.eventId] = receipt }
                }
                for index in batch.indices { batch[index].receipt = receipts[batch[index].id] }
            } catch {
                answer = "http error"
            }
            ledger.record(batch, answer: answer)
            let left = pace - (ContinuousClock.now - began)
            if left > .zero { try? await Task.sleep(for: left) }
        }
    }
}

import ArgumentParser
import Foundation
import MekongEvents
import MekongEvidence
import MekongGateway
import MekongKafka
import MekongPublishing

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a file of newline-delimited CloudEvents to a topic, all or nothing.",
        discussion: """
            Every line is checked against the CloudEvents envelope and the catalog's JSON Schema for its type \
            before anything is sent. If any line is invalid, nothing is published and every bad line is reported \
            with its number and reason (exit code 1), unless --skip-invalid is given. Each event is acknowledged \
            only by Kafka's delivery report (acks=all).

            With --via URL, the events go through the ingestion gateway instead (docs/gateway.md): signed with --key \
            if given (each event, or with --sign-batches each request's batch once), sent in batches, retried safely \
            after 429/503, and each receipt is checked (gateway signature, event hash, and for a signed batch the \
            proofs and the batch signature) and appended to --receipts (an event inclusion per event of a signed batch).
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The topic to publish to (must be in the catalog); not used with --via.") var topic: String?
    @Option(help: "Publish through the gateway at this URL (e.g. http://localhost:8080) instead of to Kafka.")
    var via: String?
    @Option(help: "With --via: file holding the source's API key.") var apiKeyFile: String?
    @Option(help: "With --via: sign each event with this private key file first.") var key: String?
    @Option(help: "With --via: append each receipt (one JSON per line) to this file.") var receipts: String?
    @Option(help: "With --via: events per request.") var batchSize = 500
    @Flag(help: "With --via and --key: sign each request's batch once (docs/gateway.md, \"Signed batches\").")
    var signBatches = false
    @Flag(help: "Publish the valid lines and report the invalid ones instead of publishing nothing.")
    var skipInvalid = false
    @Argument(help: "Newline-delimited CloudEvents JSON file.") var file: String

    func run() async throws {
        if let via { return try await publishVia(via) }
        guard let topic else { throw ValidationError("give --topic (or --via URL to publish through the gateway)") }
        let catalog = try Resources.catalog()
        let eventFile: EventFile
        do {
            eventFile = try EventFile(url: URL(fileURLWithPath: file), topic: topic, catalog: catalog)
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        for problem in eventFile.problems { printError("\(file): \(problem)") }
        if !eventFile.isValid && !skipInvalid {
            let lines = Set(eventFile.problems.map(\.line)).count
            printError("\(file): \(lines) invalid line(s); nothing was published (use --skip-invalid to publish the \(eventFile.events.count) valid ones)")
            throw ExitCode.failure
        }
        guard !eventFile.events.isEmpty else {
            print("nothing to publish")
            return
        }
        let settings = try connection.resolve()
        let producer = try Producer(configuration: settings.kafka())
        defer { producer.close() }
        let results = await EventPublisher(producer: producer).publish(eventFile.events.map(\.event), topic: topic)
        var perPartition: [Int32: (count: Int, first: Int64, last: Int64)] = [:]
        var failures = 0
        for (line, result) in zip(eventFile.events, results) {
            switch result {
            case .success(let report):
                let entry = perPartition[report.partition]
                perPartition[report.partition] = (
                    (entry?.count ?? 0) + 1, min(entry?.first ?? .max, report.offset), max(entry?.last ?? -1, report.offset)
                )
            case .failure(let error):
                failures += 1
                printError("\(file): line \(line.line): event \(line.event.id) NOT acknowledged: \(error)")
            }
        }
        let published = results.count - failures
        print("published \(published) of \(eventFile.events.count) events to \(topic)"
              + (eventFile.problems.isEmpty ? "" : "; skipped \(Set(eventFile.problems.map(\.line)).count) invalid line(s)"))
        for (partition, entry) in perPartition.sorted(by: { $0.key < $1.key }) {
            print("  \(topic)[\(partition)]: \(entry.count) events at offsets \(entry.first)...\(entry.last)")
        }
        if failures > 0 || !eventFile.isValid { throw ExitCode.failure }
    }

    private func publishVia(_ url: String) async throws {
        guard let apiKeyFile else { throw ValidationError("--via needs --api-key-file") }
        let signingKey = try key.map { try SigningKey(contentsOf: URL(fileURLWithPath: $0)) }
        if signBatches && signingKey == nil { throw ValidationError("--sign-batches needs --key") }
        let events = try readEvents(file).map { signBatches ? $0 : signingKey.map($0.signed(by:)) ?? $0 }
        let client = GatewayClient(baseURL: try baseURL(url), apiKey: try readAPIKey(apiKeyFile))
        let gatewayKey = try await client.gatewayKey()
        var accepted = 0, ignored = 0
        let log = try receipts.map { path -> FileHandle in
            if !FileManager.default.fileExists(atPath: path), !FileManager.default.createFile(atPath: path, contents: nil) {
                throw ValidationError("cannot create the receipts file \(path)")
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seekToEnd()
            return handle
        }
        defer { try? log?.close() }
        for start in stride(from: 0, to: events.count, by: max(1, batchSize)) {
            var batch = Array(events[start..<min(events.count, start + max(1, batchSize))])
            if signBatches, let signingKey { batch = BatchSignature.sign(batch, with: signingKey).events }
            let answer = try await client.publish(batch)
            guard answer.status == 200, let summary = answer.json else {
                printError("\(file): gateway answered \(answer.status) for events \(start + 1)...\(start + batch.count); "
                           + "nothing of this batch was written")
                if let problem = answer.json {
                    printError("  \(problem["code"]?.stringValue ?? "?"): \(problem["detail"]?.stringValue ?? "")")
                    for conflict in (problem["conflicts"]?.arrayValue ?? []).prefix(20) {
                        let index = conflict["index"]?.integerValue.map { " event \(start + Int($0) + 1)" } ?? ""
                        printError("  -\(index) \(conflict["pointer"]?.stringValue ?? ""): "
                                   + "\(conflict["code"]?.stringValue ?? ""): \(conflict["message"]?.stringValue ?? "")")
                    }
                }
                throw ExitCode.failure
            }
            let sent = Dictionary(batch.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            var documents = summary["receipts"]?.arrayValue ?? []
            if let batchReceipt = summary["batchReceipt"] {
                // A signed batch: one receipt, a placement per event; each event's evidence is the two together.
                documents = (summary["placements"]?.arrayValue ?? []).map { placement in
                    guard case .object(var object) = placement else { return placement }
                    object["batchReceipt"] = batchReceipt
                    return .object(object)
                }
            }
            for json in documents {
                let evidence = try EventEvidence(json: json)
                let problems = evidence.problems(
                    gatewayKey: gatewayKey, event: sent[evidence.eventId], sourceKey: signingKey?.verifyingKey)
                guard sent[evidence.eventId] != nil, problems.isEmpty else {
                    printError("receipt for \(evidence.eventId) does not verify: \(problems.joined(separator: "; "))")
                    throw ExitCode.failure
                }
                try log?.write(contentsOf: Data((JSON.serialize(json) + "\n").utf8))
            }
            accepted += Int(summary["accepted"]?.integerValue ?? 0)
            ignored += Int(summary["ignored"]?.integerValue ?? 0)
        }
        print("published \(accepted) new events through \(url) (\(ignored) already received); "
              + "every receipt verified with gateway key \(gatewayKey.keyId)")
    }
}

import ArgumentParser
import Foundation
import MekongEvents
import MekongEvidence
import MekongGateway
import MekongPublishing

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Ed25519 keys for signing events (sources) and receipts (the gateway).",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write KEYID.key (private, 0600) and KEYID.pub.")
        @Option(help: "The key id (named in each signature's `signingkey`).") var id: String
        @Option(help: "Directory to write the two files to.") var out = "."

        func run() throws {
            let files = try SigningKey(generatingWithID: id).write(to: URL(fileURLWithPath: out))
            print("private key: \(files.privateFile.path) (keep it secret)\npublic key:  \(files.publicFile.path) "
                  + "(register it: mekong sources add … --public-key \(files.publicFile.path))")
        }
    }
}

struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign every event of a newline-delimited CloudEvents file (RFC 8785 canonical JSON, Ed25519).",
        discussion: "Writes the signed events, one per line, to --out or standard output. recordedtime is dropped.")
    @Option(help: "The source's private key file (.key).") var key: String
    @Option(help: "Where to write the signed events (default: standard output).") var out: String?
    @Argument(help: "Newline-delimited CloudEvents JSON file.") var file: String

    func run() throws {
        let signingKey = try SigningKey(contentsOf: URL(fileURLWithPath: key))
        let events = try readEvents(file)
        let lines = events.map { JSON.serialize($0.signed(by: signingKey).json) }.joined(separator: "\n") + "\n"
        if let out {
            try Data(lines.utf8).write(to: URL(fileURLWithPath: out))
            printError("signed \(events.count) events with \(signingKey.keyId) into \(out)")
        } else {
            print(lines, terminator: "")
        }
    }
}

struct ReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt", abstract: "Check gateway receipts offline.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify receipts (one JSON receipt, or one per line) with the gateway's public key.",
            discussion: """
                Reads receipts and event inclusions (an event of a signed batch: its placement, proof and batch \
                receipt) alike. Exit code 1 if any does not verify. With --events, also checks that each names the \
                hash of the event with its id in the file (and for an inclusion, that the event's signatureproof \
                leads to the signed batch root); with --source-key, that the source's batch signature verifies.
                """)
        @Option(help: "The gateway's public key file (.pub, or the JSON of GET /v1/gateway-key).") var gatewayKey: String
        @Option(help: "The events file that was sent, to check each receipt's eventHash against.") var events: String?
        @Option(help: "The source's public key file (.pub), to check batch signatures.") var sourceKey: String?
        @Argument(help: "Receipt file.") var file: String

        func run() throws {
            let key = try VerifyingKey(contentsOf: URL(fileURLWithPath: gatewayKey))
            let source = try sourceKey.map { try VerifyingKey(contentsOf: URL(fileURLWithPath: $0)) }
            var sent: [String: CloudEvent] = [:]
            if let events { for event in try readEvents(events) { sent[event.id] = event } }
            var bad = 0
            let receipts = try readJSONLines(file)
            for (line, json) in receipts {
                let evidence: EventEvidence
                do { evidence = try EventEvidence(json: json) } catch {
                    printError("\(file):\(line): not a receipt: \(error)")
                    bad += 1
                    continue
                }
                let event = sent[evidence.eventId]
                var problems = evidence.problems(gatewayKey: key, event: event, sourceKey: source)
                if let events, event == nil {
                    // A survey batch's receipt names its completion event; the file holds the rows' events.
                    if case .receipt(let receipt) = evidence, !receipt.contains.isEmpty {} else {
                        problems.append("no event \(evidence.eventId) in \(events)")
                    }
                }
                if problems.isEmpty {
                    print("ok    \(evidence.eventId) \(evidence.placement) recorded \(evidence.recordedTime.text)")
                } else {
                    bad += 1
                    print("FAIL  \(evidence.eventId): \(problems.joined(separator: "; "))")
                }
            }
            print("\(receipts.count - bad) of \(receipts.count) receipts verified")
            if bad > 0 || receipts.isEmpty { throw ExitCode.failure }
        }
    }
}

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare what a source sent (its own log) with what the gateway recorded in a time window.",
        discussion: """
            --local is the source's log: receipts (and event inclusions, for signed batches) as \
            `mekong publish --via --receipts` stores them, or the events \
            themselves, one JSON per line. Only entries recorded in [--from, --to) count when they carry a \
            recordedTime. Lists events missing on either side and events whose hashes differ; checks the gateway's \
            Merkle root against its own list. Exit code 1 on any disagreement.
            """)
    @Option(help: "The gateway's base URL, e.g. http://localhost:8080.") var via: String
    @Option(help: "File holding the source's API key.") var apiKeyFile: String
    @Option(help: "The source id.") var source: String
    @Option(help: "Window start (RFC 3339, inclusive).") var from: String
    @Option(help: "Window end (RFC 3339, exclusive).") var to: String
    @Option(help: "The source's own log (receipts or events, one JSON per line).") var local: String

    func run() async throws {
        guard let fromTime = Timestamp(rfc3339: from), let toTime = Timestamp(rfc3339: to) else {
            throw ValidationError("--from and --to must be RFC 3339 date-times")
        }
        var localEvents: [LoggedEvent] = []
        for (line, json) in try readJSONLines(local) {
            if let evidence = try? EventEvidence(json: json) {
                guard evidence.recordedTime >= fromTime, evidence.recordedTime < toTime else { continue }
                localEvents.append(LoggedEvent(eventId: evidence.eventId, eventHash: evidence.eventHash))
            } else if let event = try? CloudEvent(json: json) {
                localEvents.append(LoggedEvent(eventId: event.id, eventHash: event.submittedHash))
            } else {
                throw ValidationError("\(local):\(line): neither a receipt nor a CloudEvent")
            }
        }
        let client = GatewayClient(baseURL: try baseURL(via), apiKey: try readAPIKey(apiKeyFile))
        var remote: [LoggedEvent] = []
        var token: String?
        var root = ""
        var count = 0
        repeat {
            var query = "v1/reconciliation?source=\(escape(source))&from=\(escape(from))&to=\(escape(to))&pageSize=10000"
            if let token { query += "&pageToken=\(escape(token))" }
            let answer = try await client.send("GET", query)
            guard answer.status == 200, let page = answer.json else {
                throw ValidationError("gateway answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
            }
            for event in page["events"]?.arrayValue ?? [] {
                guard let id = event["eventId"]?.stringValue, let hash = event["eventHash"]?.stringValue.flatMap(EventHash.init(hex:))
                else { throw ValidationError("gateway answered a malformed event entry") }
                remote.append(LoggedEvent(eventId: id, eventHash: hash))
            }
            root = page["merkleRoot"]?.stringValue ?? ""
            count = Int(page["count"]?.integerValue ?? -1)
            token = page["nextPageToken"]?.stringValue
        } while token != nil
        var disagree = false
        if count != remote.count || MerkleTree.root(of: remote.map(\.eventHash)).hex != root {
            print("the gateway's list (\(remote.count) events) does not match its own count \(count) or Merkle root")
            disagree = true
        }
        let report = ReconciliationReport(local: localEvents, gateway: remote)
        for event in report.missingAtGateway { print("missing at gateway: \(event.eventId) \(event.eventHash.hex)") }
        for event in report.missingAtSource { print("missing at source:  \(event.eventId) \(event.eventHash.hex)") }
        for pair in report.differing {
            print("different content:  \(pair.source.eventId) sent \(pair.source.eventHash.hex), recorded \(pair.gateway.eventHash.hex)")
        }
        print("\(report.matching) matching, \(report.missingAtGateway.count) missing at gateway, "
              + "\(report.missingAtSource.count) missing at source, \(report.differing.count) different; "
              + "gateway count \(count), Merkle root \(root)")
        if disagree || !report.agrees { throw ExitCode.failure }
    }
}

func readEvents(_ file: String) throws -> [CloudEvent] {
    try readJSONLines(file).map { line, json in
        do { return try CloudEvent(json: json) } catch let error as EnvelopeError {
            throw ValidationError("\(file):\(line): \(error.message)")
        }
    }
}

/// Every non-blank line of a file as JSON, with its 1-based line number.
func readJSONLines(_ file: String) throws -> [(Int, JSONValue)] {
    guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
    return try EventFile.lines(of: [UInt8](data)).map { number, line in
        do { return (number, try JSON.parse(line)) } catch {
            throw ValidationError("\(file):\(number): \(error)")
        }
    }
}

func readAPIKey(_ file: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

func baseURL(_ text: String) throws -> URL {
    guard let url = URL(string: text.hasSuffix("/") ? text : text + "/"), url.scheme == "http" || url.scheme == "https"
    else { throw ValidationError("--via must be an http(s) URL") }
    return url
}

func escape(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
}

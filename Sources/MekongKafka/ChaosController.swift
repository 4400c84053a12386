import Synchronization

/// Carries out chaos actions on a mock cluster (what `mekong dev` does with each line of its control channel) and
/// remembers what it did: which brokers are down, the error setting, what the error injector counted.
public final class ChaosController: Sendable {
    private let cluster: MockCluster
    private let topics: [ChaosSchedule.Topic]
    private let injector: RequestErrorInjector
    private let down = Mutex<Set<Int32>>([])

    /// `topics` are the cluster's topics (the mock cannot list them); `seed` drives the error pattern.
    public init(cluster: MockCluster, topics: [ChaosSchedule.Topic], seed: UInt64) {
        self.cluster = cluster
        self.topics = topics
        injector = RequestErrorInjector(cluster: cluster, seed: seed)
    }

    /// Stops the error injector's thread.
    public func stop() { injector.stop() }

    /// Does `action`; returns what to answer after `ok` (empty for most actions; the status line for `status`).
    /// Calls are serialized by the caller (the control channel serves one line at a time).
    public func perform(_ action: ChaosAction) throws(ChaosFailure) -> String {
        switch action {
        case .brokerDown(let id), .brokerUp(let id):
            try checkBroker(id)
            let up = if case .brokerUp = action { true } else { false }
            do { try cluster.setBroker(id, up: up) } catch { throw ChaosFailure("\(error)") }
            down.withLock { brokers in
                if up { brokers.remove(id) } else { brokers.insert(id) }
            }
            return ""
        case .leader(let topic, let partition, let broker):
            try checkBroker(broker)
            guard let known = topics.first(where: { $0.name == topic }) else {
                throw ChaosFailure("no topic \(topic) (topics: \(topics.map(\.name).joined(separator: ", ")))")
            }
            guard partition < known.partitions else {
                throw ChaosFailure("\(topic) has partitions 0 to \(known.partitions - 1), not \(partition)")
            }
            do { try cluster.setLeader(topic: topic, partition: partition, broker: broker) } catch {
                throw ChaosFailure("\(error)")
            }
            return ""
        case .leaders(let broker, let topic):
            try checkBroker(broker)
            let chosen = topics.filter { topic == nil || $0.name == topic }
            guard !chosen.isEmpty else { throw ChaosFailure("no topic \(topic ?? "")") }
            var moved = 0
            for each in chosen {
                for partition in 0..<each.partitions {
                    do { try cluster.setLeader(topic: each.name, partition: Int32(partition), broker: broker) } catch {
                        throw ChaosFailure("\(error)")
                    }
                    moved += 1
                }
            }
            return "partitions=\(moved)"
        case .errors(let rate, let requests):
            injector.set(rate: rate, requests: requests)
            return ""
        case .errorsOff:
            injector.set(rate: 0, requests: [])
            let queued = injector.queued
            return "queued=\(queued.answers) queued-errors=\(queued.errors)"
        case .heal:
            for id in cluster.brokerIDs {
                do { try cluster.setBroker(id, up: true) } catch { throw ChaosFailure("\(error)") }
            }
            down.withLock { $0.removeAll() }
            injector.set(rate: 0, requests: [])
            return ""
        case .status:
            return status.line
        }
    }

    /// What the cluster looks like now and what the error injector counted.
    public var status: ChaosStatus {
        let setting = injector.setting
        let queued = injector.queued
        return ChaosStatus(
            brokers: cluster.brokerIDs, down: down.withLock { $0.sorted() }, topics: topics, errorRate: setting.rate,
            errorRequests: setting.requests, counts: injector.counts, dryRefills: injector.dryRefills,
            queued: queued.answers, problem: injector.problem)
    }

    private func checkBroker(_ id: Int32) throws(ChaosFailure) {
        guard cluster.brokerIDs.contains(id) else {
            throw ChaosFailure("no broker \(id) (brokers: \(cluster.brokerIDs.map(String.init).joined(separator: ", ")))")
        }
    }
}

/// Why a chaos action was not done.
public struct ChaosFailure: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The answer to `status`, one line of `key=value` words:
///
///     brokers=1,2,3 down=2 topics=reports:6,master-data:3 errors=0.1 requests=produce,fetch
///     counted=produce:1200/118,fetch:3400/350 dry-refills=0 queued=96
///
/// `down` and `requests` are `none` when empty, `errors` is `off` or the rate; `counted` gives, per request type,
/// requests counted / of which failed by injection. A `problem=` word (the rest of the line) appears only if the
/// mock refused to queue errors.
public struct ChaosStatus: Sendable, Equatable {
    public var brokers: [Int32]
    public var down: [Int32]
    public var topics: [ChaosSchedule.Topic]
    public var errorRate: Double
    public var errorRequests: [KafkaRequest]
    public var counts: [KafkaRequest: RequestErrorInjector.Counts]
    public var dryRefills: Int
    public var queued: Int
    public var problem: String?

    public var line: String {
        func list<T>(_ items: [T], _ text: (T) -> String) -> String {
            items.isEmpty ? "none" : items.map(text).joined(separator: ",")
        }
        let counted = counts.keys.sorted { $0.rawValue < $1.rawValue }.map { request in
            "\(request.name):\(counts[request]!.requests)/\(counts[request]!.failed)"
        }
        var words = [
            "brokers=" + list(brokers) { "\($0)" }, "down=" + list(down) { "\($0)" },
            "topics=" + list(topics) { "\($0.name):\($0.partitions)" },
            "errors=" + (errorRate > 0 ? "\(errorRate)" : "off"), "requests=" + list(errorRequests, \.name),
            "counted=" + list(counted) { $0 }, "dry-refills=\(dryRefills)", "queued=\(queued)",
        ]
        if let problem { words.append("problem=\(problem)") }
        return words.joined(separator: " ")
    }

    public init(
        brokers: [Int32], down: [Int32], topics: [ChaosSchedule.Topic], errorRate: Double, errorRequests: [KafkaRequest],
        counts: [KafkaRequest: RequestErrorInjector.Counts], dryRefills: Int, queued: Int, problem: String?
    ) {
        self.brokers = brokers
        self.down = down
        self.topics = topics
        self.errorRate = errorRate
        self.errorRequests = errorRequests
        self.counts = counts
        self.dryRefills = dryRefills
        self.queued = queued
        self.problem = problem
    }

    /// Reads `line` back; nil if a word is missing or malformed.
    public init?(parsing line: String) {
        var fields: [String: String] = [:]
        var rest = Substring(line)
        while !rest.isEmpty {
            if rest.hasPrefix("problem=") {
                fields["problem"] = String(rest.dropFirst("problem=".count))
                break
            }
            let word = rest.prefix { $0 != " " }
            rest = rest.dropFirst(word.count).drop { $0 == " " }
            guard let equals = word.firstIndex(of: "=") else { return nil }
            fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        func items(_ key: String) -> [String]? {
            guard let value = fields[key] else { return nil }
            return value == "none" ? [] : value.split(separator: ",").map(String.init)
        }
        guard let brokers = items("brokers")?.compactMap(Int32.init), let down = items("down")?.compactMap(Int32.init),
            let topicWords = items("topics"), let errors = fields["errors"], let requestNames = items("requests"),
            let counted = items("counted"), let dry = fields["dry-refills"].flatMap(Int.init),
            let queued = fields["queued"].flatMap(Int.init)
        else { return nil }
        var topics: [ChaosSchedule.Topic] = []
        for word in topicWords {
            guard let colon = word.lastIndex(of: ":"), let count = Int(word[word.index(after: colon)...]) else { return nil }
            topics.append(.init(name: String(word[..<colon]), partitions: count))
        }
        var counts: [KafkaRequest: RequestErrorInjector.Counts] = [:]
        for word in counted {
            let parts = word.split(whereSeparator: { $0 == ":" || $0 == "/" }).map(String.init)
            guard parts.count == 3, let request = KafkaRequest(name: parts[0]), let requests = Int(parts[1]),
                let failed = Int(parts[2])
            else { return nil }
            counts[request] = .init(requests: requests, failed: failed)
        }
        let requests = requestNames.compactMap(KafkaRequest.init(name:))
        guard requests.count == requestNames.count else { return nil }
        let rate = errors == "off" ? 0 : Double(errors)
        guard let rate else { return nil }
        self.init(
            brokers: brokers, down: down, topics: topics, errorRate: rate, errorRequests: requests, counts: counts,
            dryRefills: dry, queued: queued, problem: fields["problem"])
    }
}

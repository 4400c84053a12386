/// One thing the mock cluster can be told to do to itself while clients use it (`mekong dev chaos`). Its `text` is
/// both the line sent over the control channel and what is printed for it; `init(parsing:)` reads it back.
///
/// | text | effect |
/// |---|---|
/// | `broker-down ID` | broker ID closes its connections and refuses new ones; its partitions keep it as leader |
/// | `broker-up ID` | broker ID accepts connections again |
/// | `leader TOPIC PARTITION ID` | the partition's leader becomes broker ID |
/// | `leaders ID [TOPIC]` | every partition (of TOPIC, or of every topic) is led by broker ID |
/// | `errors RATE REQ,REQ…` | each request of those types fails with a retriable error with probability RATE |
/// | `errors off` | no new request errors (those already queued still apply; see `RequestErrorInjector`) |
/// | `heal` | every broker up and `errors off`; leaders stay where they are |
/// | `status` | changes nothing; answers a `ChaosStatus` line |
public enum ChaosAction: Sendable, Hashable, CustomStringConvertible {
    case brokerDown(Int32)
    case brokerUp(Int32)
    case leader(topic: String, partition: Int32, broker: Int32)
    case leaders(broker: Int32, topic: String?)
    case errors(rate: Double, requests: [KafkaRequest])
    case errorsOff
    case heal
    case status

    /// The one-line form: what is sent and printed.
    public var text: String {
        switch self {
        case .brokerDown(let id): "broker-down \(id)"
        case .brokerUp(let id): "broker-up \(id)"
        case .leader(let topic, let partition, let broker): "leader \(topic) \(partition) \(broker)"
        case .leaders(let broker, let topic): "leaders \(broker)" + (topic.map { " \($0)" } ?? "")
        case .errors(let rate, let requests): "errors \(rate) \(requests.map(\.name).joined(separator: ","))"
        case .errorsOff: "errors off"
        case .heal: "heal"
        case .status: "status"
        }
    }

    public var description: String { text }

    /// Reads the one-line form; the error names the word at fault.
    public init(parsing line: String) throws(ChaosActionError) {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let verb = words.first else { throw ChaosActionError(line: line, "empty line") }
        let arguments = Array(words.dropFirst())
        func expect(_ count: ClosedRange<Int>, _ usage: String) throws(ChaosActionError) {
            guard count.contains(arguments.count) else { throw ChaosActionError(line: line, "usage: \(usage)") }
        }
        func broker(_ word: String) throws(ChaosActionError) -> Int32 {
            guard let id = Int32(word), id >= 1 else {
                throw ChaosActionError(line: line, "broker id '\(word)' is not a positive integer")
            }
            return id
        }
        switch verb {
        case "broker-down":
            try expect(1...1, "broker-down ID")
            self = .brokerDown(try broker(arguments[0]))
        case "broker-up":
            try expect(1...1, "broker-up ID")
            self = .brokerUp(try broker(arguments[0]))
        case "leader":
            try expect(3...3, "leader TOPIC PARTITION BROKER")
            guard let partition = Int32(arguments[1]), partition >= 0 else {
                throw ChaosActionError(line: line, "partition '\(arguments[1])' is not a non-negative integer")
            }
            self = .leader(topic: arguments[0], partition: partition, broker: try broker(arguments[2]))
        case "leaders":
            try expect(1...2, "leaders BROKER [TOPIC]")
            self = .leaders(broker: try broker(arguments[0]), topic: arguments.count == 2 ? arguments[1] : nil)
        case "errors":
            if arguments == ["off"] {
                self = .errorsOff
                return
            }
            try expect(2...2, "errors RATE REQUEST[,REQUEST…] | errors off")
            guard let rate = Double(arguments[0]), rate > 0, rate < 1 else {
                throw ChaosActionError(line: line, "rate '\(arguments[0])' is not a number above 0 and below 1")
            }
            self = .errors(rate: rate, requests: try Self.requests(arguments[1], line: line))
        case "heal":
            try expect(0...0, "heal")
            self = .heal
        case "status":
            try expect(0...0, "status")
            self = .status
        default:
            throw ChaosActionError(
                line: line,
                "unknown action '\(verb)' (known: broker-down, broker-up, leader, leaders, errors, heal, status)")
        }
    }

    /// A comma-separated list of request names (`produce,fetch`), each one the mock can fail.
    public static func requests(_ list: String, line: String? = nil) throws(ChaosActionError) -> [KafkaRequest] {
        var found: [KafkaRequest] = []
        for name in list.split(separator: ",").map(String.init) {
            guard let request = KafkaRequest(name: name) else {
                let known = KafkaRequest.allCases.filter(\.acceptsInjectedErrors).map(\.name).joined(separator: ", ")
                throw ChaosActionError(line: line ?? list, "unknown request '\(name)' (known: \(known))")
            }
            guard request.acceptsInjectedErrors else {
                throw ChaosActionError(
                    line: line ?? list, "librdkafka 2.0.2's mock cannot fail \(name) requests (its handler ignores error queues)")
            }
            if !found.contains(request) { found.append(request) }
        }
        guard !found.isEmpty else { throw ChaosActionError(line: line ?? list, "no request type given") }
        return found
    }
}

/// A chaos action line that cannot be read, with the reason.
public struct ChaosActionError: Error, Sendable, CustomStringConvertible {
    public let line: String
    public let reason: String
    init(line: String, _ reason: String) {
        self.line = line
        self.reason = reason
    }
    public var description: String { "'\(line)': \(reason)" }
}

/// A small seedable random number generator (SplitMix64), so that a chaos schedule, the error pattern and the
/// demo's generated values are the same for the same seed on every machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// In `range` (by modulo: the bias is below 2^-40 for the small ranges chaos uses). Written out rather than
    /// `Int.random(in:using:)`, whose algorithm the standard library may change, so a seed means the same everywhere.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// One element of a non-empty array.
    public mutating func element<T>(of array: [T]) -> T { array[int(in: 0...(array.count - 1))] }
}

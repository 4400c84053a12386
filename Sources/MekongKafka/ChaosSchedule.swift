/// Which chaos action happens when, from a seed: pure, so that a test can check it without Kafka and a run can be
/// repeated from the seed it printed.
///
/// The schedule turns request errors on at 0 (when `errorRate` > 0), then every `gap` (uniform, milliseconds)
/// takes one broker down (if none is down; it comes back up after `downtime`), moves one partition's leader to a
/// broker that is up, or moves every leader to one broker that is up. At most one broker is down at a time, every
/// broker taken down comes back up by `duration`, and at `duration` errors are turned off.
public struct ChaosSchedule: Sendable, Equatable {
    /// A topic and its partition count.
    public struct Topic: Sendable, Equatable {
        public var name: String
        public var partitions: Int
        public init(name: String, partitions: Int) {
            self.name = name
            self.partitions = partitions
        }
    }

    public struct Parameters: Sendable, Equatable {
        public var seed: UInt64
        public var durationMilliseconds: Int
        public var brokers: [Int32]
        public var topics: [Topic]
        public var errorRate: Double = 0.1
        public var errorRequests: [KafkaRequest] = [.produce, .fetch]
        /// Time between two actions.
        public var gapMilliseconds: ClosedRange<Int> = 1_000...4_000
        /// How long a broker stays down.
        public var downtimeMilliseconds: ClosedRange<Int> = 2_000...6_000
        /// Relative weights of a step taking a broker down (when none is down), moving one leader, moving all.
        public var downWeight = 40
        public var leaderWeight = 50
        public var allLeadersWeight = 10

        public init(seed: UInt64, durationMilliseconds: Int, brokers: [Int32], topics: [Topic]) {
            self.seed = seed
            self.durationMilliseconds = durationMilliseconds
            self.brokers = brokers
            self.topics = topics
        }
    }

    /// One action at a time after the schedule's start.
    public struct Step: Sendable, Equatable {
        public var atMilliseconds: Int
        public var action: ChaosAction
    }

    public let parameters: Parameters
    public let steps: [Step]

    /// Draws the schedule. Brokers, topics and ranges must not be empty (`ChaosScheduleError` says which is).
    public init(_ parameters: Parameters) throws(ChaosScheduleError) {
        guard !parameters.brokers.isEmpty else { throw ChaosScheduleError("no brokers") }
        guard parameters.topics.contains(where: { $0.partitions > 0 }) else { throw ChaosScheduleError("no partitions") }
        guard parameters.durationMilliseconds > 0 else { throw ChaosScheduleError("the duration must be above 0") }
        guard parameters.gapMilliseconds.lowerBound > 0 else { throw ChaosScheduleError("the gap must be above 0 ms") }
        guard parameters.downtimeMilliseconds.lowerBound > 0 else {
            throw ChaosScheduleError("the downtime must be above 0 ms")
        }
        guard parameters.errorRate >= 0, parameters.errorRate < 1 else {
            throw ChaosScheduleError("the error rate must be at least 0 and below 1")
        }
        self.parameters = parameters
        var random = SeededRandom(seed: parameters.seed)
        let end = parameters.durationMilliseconds
        let topics = parameters.topics.filter { $0.partitions > 0 }
        var steps: [Step] = []
        if parameters.errorRate > 0 {
            steps.append(Step(atMilliseconds: 0, action: .errors(rate: parameters.errorRate, requests: parameters.errorRequests)))
        }
        var down: (broker: Int32, upAt: Int)?
        var now = 0
        while true {
            now += random.int(in: parameters.gapMilliseconds)
            if let (broker, upAt) = down, upAt <= now {
                steps.append(Step(atMilliseconds: upAt, action: .brokerUp(broker)))
                down = nil
            }
            guard now < end else { break }
            let up = parameters.brokers.filter { $0 != down?.broker }
            let total = max(1, parameters.downWeight + parameters.leaderWeight + parameters.allLeadersWeight)
            let roll = random.int(in: 0...(total - 1))
            if roll < parameters.downWeight, down == nil, parameters.brokers.count > 1 {
                let broker = random.element(of: parameters.brokers)
                let upAt = min(end, now + random.int(in: parameters.downtimeMilliseconds))
                steps.append(Step(atMilliseconds: now, action: .brokerDown(broker)))
                down = (broker, upAt)
            } else if roll < parameters.downWeight + parameters.leaderWeight {
                let topic = random.element(of: topics)
                let partition = Int32(random.int(in: 0...(topic.partitions - 1)))
                steps.append(Step(
                    atMilliseconds: now,
                    action: .leader(topic: topic.name, partition: partition, broker: random.element(of: up))))
            } else {
                steps.append(Step(atMilliseconds: now, action: .leaders(broker: random.element(of: up), topic: nil)))
            }
        }
        // `upAt` is at most `end`, and the loop ends only once `now` passed `end`: every broker is back up here.
        if parameters.errorRate > 0 { steps.append(Step(atMilliseconds: end, action: .errorsOff)) }
        self.steps = steps
    }
}

/// Schedule parameters that cannot make a schedule.
public struct ChaosScheduleError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Durations as the chaos commands take them: `1500ms`, `60s`, `2m`, or a number of seconds; ranges as `1s-4s`.
public enum ChaosDuration {
    /// Milliseconds, or nil if `text` is not a duration.
    public static func milliseconds(_ text: String) -> Int? {
        let units: [(suffix: String, factor: Double)] = [("ms", 1), ("s", 1_000), ("m", 60_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return Int((value * factor).rounded())
        }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0 else { return nil }
        return Int((seconds * 1_000).rounded())
    }

    /// `LOW-HIGH` (each a duration) or a single duration; nil if unreadable or LOW > HIGH.
    public static func range(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1:
            return milliseconds(parts[0]).map { $0...$0 }
        case 2:
            guard let low = milliseconds(parts[0]), let high = milliseconds(parts[1]), low <= high else { return nil }
            return low...high
        default:
            return nil
        }
    }

    /// `12.345` for 12 345 ms: how chaos output prints elapsed time.
    public static func seconds(_ milliseconds: Int) -> String {
        let sign = milliseconds < 0 ? "-" : ""
        let value = abs(milliseconds)
        let fraction = String(value % 1_000)
        return "\(sign)\(value / 1_000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

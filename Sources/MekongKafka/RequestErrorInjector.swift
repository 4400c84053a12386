import Foundation
import Synchronization

/// Makes a fraction of the mock cluster's requests fail with retriable errors, and counts how many did.
///
/// librdkafka 2.0.2's mock has no error rate and no request counter, but each broker has a queue of answers per
/// request type: every request of that type at that broker takes the next one (`.noError` lets it through), and the
/// queue's length can be read. A plain thread keeps each broker's queue for each chosen request type topped up
/// (every 10 ms, to about four times what was taken in the last 10 ms, at least 32) with answers drawn from a seeded
/// generator: an error with probability `rate`, else `.noError`. So each request independently fails with
/// probability `rate`, and the answers taken so far are counted exactly: requests = answers taken, failed = errors
/// among them. Requests that arrive while a queue is empty pass unfailed and uncounted; `dryRefills` counts the
/// refills that found a queue empty (0 means every request of those types was counted).
///
/// librdkafka 2.0.2 cannot empty a broker's queue, so after `off` the answers already queued still apply to the
/// next requests (`queued` says how many; they are counted as they are taken).
public final class RequestErrorInjector: @unchecked Sendable {
    /// Requests counted for one type, across brokers.
    public struct Counts: Sendable, Equatable {
        public var requests = 0
        public var failed = 0
        public init(requests: Int = 0, failed: Int = 0) {
            self.requests = requests
            self.failed = failed
        }
    }

    private struct Key: Hashable {
        var broker: Int32
        var request: KafkaRequest
    }

    /// The answers pushed to one broker's queue that it has not taken yet, oldest first (true: an error).
    private struct Pending {
        var answers: [Bool] = []
        var head = 0
        var count: Int { answers.count - head }

        mutating func take(_ taken: Int) -> Int {
            let errors = answers[head..<(head + taken)].reduce(0) { $0 + ($1 ? 1 : 0) }
            head += taken
            if head > 4_096 {
                answers.removeFirst(head)
                head = 0
            }
            return errors
        }
    }

    private struct State {
        var rate = 0.0
        var requests: [KafkaRequest] = []
        var random: SeededRandom
        var pending: [Key: Pending] = [:]
        var counts: [KafkaRequest: Counts] = [:]
        var dryRefills = 0
        var problem: String?
    }

    private let cluster: MockCluster
    private let state: Mutex<State>
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the refill thread; nothing fails until `set(rate:requests:)`.
    public init(cluster: MockCluster, seed: UInt64) {
        self.cluster = cluster
        state = Mutex(State(random: SeededRandom(seed: seed)))
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                refill()
                Thread.sleep(forTimeInterval: 0.01)
            }
            finished.signal()
        }
        thread.name = "mekong-request-errors"
        thread.start()
    }

    /// From now on, each request of these types fails with probability `rate`; 0 turns new errors off.
    public func set(rate: Double, requests: [KafkaRequest]) {
        state.withLock {
            $0.rate = rate
            $0.requests = rate > 0 ? requests.filter(\.acceptsInjectedErrors) : []
        }
    }

    /// The current rate and request types (rate 0: off).
    public var setting: (rate: Double, requests: [KafkaRequest]) {
        state.withLock { ($0.rate, $0.requests) }
    }

    /// Requests counted so far, by type.
    public var counts: [KafkaRequest: Counts] { state.withLock { $0.counts } }

    /// Refills that found a queue already empty (requests may have passed uncounted).
    public var dryRefills: Int { state.withLock { $0.dryRefills } }

    /// Answers queued at the brokers and not yet taken, and how many of them are errors.
    public var queued: (answers: Int, errors: Int) {
        state.withLock { state in
            state.pending.values.reduce((0, 0)) { sum, pending in
                (sum.0 + pending.count, sum.1 + pending.answers[pending.head...].reduce(0) { $0 + ($1 ? 1 : 0) })
            }
        }
    }

    /// The mock refused a refill (it should not); nil if never.
    public var problem: String? { state.withLock { $0.problem } }

    /// Stops the thread (queued answers stay with the brokers).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    deinit { stop() }

    private func refill() {
        state.withLock { state in
            let active = Set(state.requests)
            var keys = Set(state.pending.keys)
            for broker in cluster.brokerIDs {
                for request in active { keys.insert(Key(broker: broker, request: request)) }
            }
            for key in keys.sorted(by: { ($0.broker, $0.request.rawValue) < ($1.broker, $1.request.rawValue) }) {
                var pending = state.pending[key] ?? Pending()
                do {
                    let left = try cluster.brokerRequestErrorsQueued(broker: key.broker, key.request)
                    let taken = max(0, pending.count - left)
                    let failed = pending.take(taken)
                    state.counts[key.request, default: Counts()].requests += taken
                    state.counts[key.request, default: Counts()].failed += failed
                    if active.contains(key.request) {
                        if taken > 0 && pending.count == 0 { state.dryRefills += 1 }
                        let target = min(4_096, max(32, 4 * taken))
                        if pending.count < target {
                            var answers: [KafkaErrorCode] = []
                            for _ in pending.count..<target {
                                if state.random.unit() < state.rate {
                                    answers.append(state.random.element(of: key.request.retriableErrors))
                                    pending.answers.append(true)
                                } else {
                                    answers.append(.noError)
                                    pending.answers.append(false)
                                }
                            }
                            try cluster.pushBrokerRequestErrors(broker: key.broker, key.request, answers)
                        }
                    }
                } catch {
                    state.problem = "\(error)"
                }
                state.pending[key] = pending.count > 0 ? pending : nil
            }
        }
    }
}

extension KafkaRequest {
    /// Errors a broker may answer to this request that clients retry (refreshing metadata or the coordinator).
    ///
    /// For produce, only errors that say the records were *not* written. Even so, a producer with more than one
    /// request in flight per connection loses records on librdkafka 2.0.2's mock: the mock checks an idempotent
    /// producer's sequence numbers only for transactional producers, so when request 1 fails it still appends
    /// request 2, where Kafka would refuse it as out of order; librdkafka takes that success as proof that every
    /// earlier record was written and reports request 1's records delivered (offset -1001), though they were
    /// waiting for their retry and are never sent. The chaos suite saw this (docs/projections.md, "Chaos
    /// testing"); clients under `mekong dev chaos errors` should set `max.in.flight.requests.per.connection=1`.
    var retriableErrors: [KafkaErrorCode] {
        switch self {
        case .produce: [.notLeaderForPartition, .notEnoughReplicas]
        case .fetch, .listOffsets: [.notLeaderForPartition, .leaderNotAvailable]
        case .offsetCommit, .offsetFetch, .findCoordinator, .joinGroup, .heartbeat, .leaveGroup, .syncGroup,
            .initProducerId:
            [KafkaErrorCode(rawValue: 15), KafkaErrorCode(rawValue: 16)]  // COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
        case .metadata: []
        }
    }
}

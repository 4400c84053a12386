import Synchronization

/// Bounds how many messages are enqueued but not yet reported delivered. A sender past the bound waits
/// (back-pressure) instead of growing memory without limit.
final class InFlightLimit: Sendable {
    private struct State {
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let maximum: Int
    private let state = Mutex(State())

    init(maximum: Int) {
        precondition(maximum > 0, "in-flight limit must be positive")
        self.maximum = maximum
    }

    /// Takes one slot, waiting until one is free.
    func acquire() async {
        let acquired = state.withLock { state -> Bool in
            guard state.inFlight < maximum else { return false }
            state.inFlight += 1
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.inFlight < maximum {
                    state.inFlight += 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Frees one slot, handing it straight to the longest waiter if there is one.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.inFlight -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    var current: Int { state.withLock { $0.inFlight } }
}

/// Collects the delivery reports of one batch of sends and wakes the sender when the last one is in.
final class DeliveryBatch: Sendable {
    private struct State {
        var results: [Result<DeliveryReport, KafkaError>?]
        var remaining: Int
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, waiter: nil))
    }

    func complete(_ index: Int, _ result: Result<DeliveryReport, KafkaError>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            precondition(state.results[index] == nil, "delivery reported twice")
            state.results[index] = result
            state.remaining -= 1
            guard state.remaining == 0 else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits for every report, then returns them in the order the messages were given.
    func results() async -> [Result<DeliveryReport, KafkaError>] {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.remaining == 0 { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
        return state.withLock { state in state.results.map { $0! } }
    }
}

/// The per-message context librdkafka hands back in the delivery report callback.
final class DeliveryTicket {
    let batch: DeliveryBatch
    let index: Int
    let limit: InFlightLimit

    init(batch: DeliveryBatch, index: Int, limit: InFlightLimit) {
        self.batch = batch
        self.index = index
        self.limit = limit
    }
}

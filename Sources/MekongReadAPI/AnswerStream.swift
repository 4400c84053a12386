import Dispatch
import NIOCore
import Synchronization

/// Hands an answer from the database thread that reads it to the HTTP response that sends it, a chunk at a time,
/// with at most `capacity` chunks in between: when the client reads slowly the database thread waits (it is one
/// of the pool's own threads, never a cooperative one), so the server's memory does not grow with the answer.
///
/// States: before the first chunk, the producer either ``begin(_:)``s (the answer's head is known: the response
/// can start) or ``fail(_:)``s (an error answer instead); then ``put(_:)`` … ``finish()`` or ``fail(_:)``. The
/// consumer may ``cancel()`` at any time (the client went away): the producer's next ``put(_:)`` throws. A consumer
/// that takes nothing for `stallLimit` (a client that stopped reading, a response never sent) counts as gone, so
/// a database connection is never held forever.
final class AnswerStream<Head: Sendable>: Sendable {
    private struct State {
        var head: Result<Head, any Error>?
        var headWaiter: CheckedContinuation<Head, any Error>?
        var chunks: [ByteBuffer] = []
        var end: Result<Void, any Error>?
        var chunkWaiter: CheckedContinuation<ByteBuffer?, any Error>?
        var cancelled = false
    }

    private let state = Mutex(State())
    private let slots: DispatchSemaphore
    let capacity: Int
    let stallLimit: Duration

    init(capacity: Int = 4, stallLimit: Duration = .seconds(60)) {
        self.capacity = capacity
        self.stallLimit = stallLimit
        self.slots = DispatchSemaphore(value: capacity)
    }

    /// Thrown to the producer once the consumer has gone (or stalled past `stallLimit`).
    struct Cancelled: Error {}

    // MARK: producer (a database thread)

    func begin(_ head: Head) {
        let waiter: CheckedContinuation<Head, any Error>? = state.withLock { state in
            guard state.head == nil else { return nil }
            state.head = .success(head)
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        waiter?.resume(returning: head)
    }

    /// Waits for a free slot, then queues `chunk`. - Throws: ``Cancelled`` once the consumer has gone.
    func put(_ chunk: ByteBuffer) throws {
        let (seconds, attoseconds) = stallLimit.components
        let limit = DispatchTime.now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        if slots.wait(timeout: limit) == .timedOut {
            cancel()
            throw Cancelled()
        }
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = try state.withLock { state in
            if state.cancelled { throw Cancelled() }
            if let waiter = state.chunkWaiter {
                state.chunkWaiter = nil
                return waiter
            }
            state.chunks.append(chunk)
            return nil
        }
        if let waiter {
            slots.signal()
            waiter.resume(returning: chunk)
        }
    }

    func finish() { end(.success(())) }

    /// Before ``begin(_:)``: the answer is this error. After it: the stream breaks off with it.
    func fail(_ error: any Error) {
        let headWaiter: CheckedContinuation<Head, any Error>? = state.withLock { state in
            guard state.head == nil else { return nil }
            state.head = .failure(error)
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        if let headWaiter {
            headWaiter.resume(throwing: error)
        } else {
            end(.failure(error))
        }
    }

    private func end(_ result: Result<Void, any Error>) {
        let waiter: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            state.end = result
            guard state.chunks.isEmpty else { return nil }
            defer { state.chunkWaiter = nil }
            return state.chunkWaiter
        }
        switch result {
        case .success: waiter?.resume(returning: nil)
        case .failure(let error): waiter?.resume(throwing: error)
        }
    }

    // MARK: consumer (the response)

    /// The head, once the producer knows it; throws what the producer failed with before it.
    func head() async throws -> Head {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Head, any Error>? = state.withLock { state in
                if let head = state.head { return head }
                state.headWaiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// The next chunk, nil at the end; throws if the producer broke off.
    func next() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<ByteBuffer?, any Error>? = state.withLock { state in
                if !state.chunks.isEmpty { return .success(state.chunks.removeFirst()) }
                if let end = state.end { return end.map { nil } }
                state.chunkWaiter = continuation
                return nil
            }
            if let ready {
                if case .success(.some) = ready { slots.signal() }
                continuation.resume(with: ready)
            }
        }
    }

    /// The consumer has gone: a producer waiting for a slot wakes and its ``put(_:)`` throws.
    func cancel() {
        state.withLock { $0.cancelled = true }
        for _ in 0..<capacity { slots.signal() }
    }
}

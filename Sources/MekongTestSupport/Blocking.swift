import Foundation

/// Runs blocking work (libpq, librdkafka polling, a projector loop) on its own thread, so tests do not tie up the
/// small pool of threads that Swift concurrency runs on.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}

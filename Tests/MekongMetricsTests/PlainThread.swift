import Foundation
import MekongMetrics

/// Runs `body` on a new thread, as the projector calls the server, and waits for it without holding a thread of
/// Swift's cooperative pool: ``MetricsServer/stop()`` (and a failing start) needs a pool thread, which a blocking call
/// made from the pool by each of the tests running in parallel could otherwise starve.
func onPlainThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// Starts a server, runs `body` with it, and stops it (both on plain threads) whether or not `body` throws.
func withMetricsServer<T>(
    host: String = "127.0.0.1", port: Int = 0, _ body: (MetricsServer) async throws -> T
) async throws -> T {
    let server = try await onPlainThread { try MetricsServer.start(host: host, port: port) }
    let result: Result<T, any Error>
    do {
        result = .success(try await body(server))
    } catch {
        result = .failure(error)
    }
    try await onPlainThread { server.stop() }
    return try result.get()
}

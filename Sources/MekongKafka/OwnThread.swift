import Foundation

/// Runs a blocking librdkafka call (a metadata request, a flush) on a thread of its own and resumes the awaiting task
/// with its result: the async forms of the client calls that block, so that no caller blocks Swift's concurrency
/// pool, which has as many threads as cores. Also for other blocking work (file I/O) in async code.
public enum OwnThread {
    public static func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            Thread {
                do throws(E) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }.start()
        }
        return try result.get()
    }
}

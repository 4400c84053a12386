import NIOPosix
import Synchronization

/// Connections for a server (the gateway, the read API): libpq connections used on a thread pool of their own, so
/// that a slow query never blocks the event loops or Swift's cooperative threads. Idle connections are kept for
/// reuse; a connection whose session broke is closed instead.
public final class PostgresPool: Sendable {
    private let url: String
    private let defaults: KeyValuePairs<String, String>
    private let threads: NIOThreadPool
    private let idle: Mutex<[ConnectionBox]>

    /// - Parameters: url: a libpq connection string; threads: how many queries may run at once; defaults: libpq
    ///   connection parameters that the connection string may override (e.g. `application_name`, `options`).
    public init(url: String, threads: Int, defaults: KeyValuePairs<String, String> = [:]) {
        self.url = url
        self.defaults = defaults
        self.threads = NIOThreadPool(numberOfThreads: threads)
        self.idle = Mutex([])
        self.threads.start()
    }

    /// Runs `body` with a connection on the pool. A connection whose session broke is closed instead of reused.
    public func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await threads.runIfActive { [self] in
            let box = try idle.withLock { $0.popLast() } ?? ConnectionBox(try PostgresConnection(url: url, defaults: defaults))
            do {
                let result = try body(box.connection)
                idle.withLock { $0.append(box) }
                return result
            } catch {
                if box.connection.isConnected { idle.withLock { $0.append(box) } } else { box.connection.close() }
                throw error
            }
        }
    }

    /// Finishes the queries in progress and closes every connection.
    public func shutdown() async {
        try? await threads.shutdownGracefully()
        idle.withLock { boxes in
            for box in boxes { box.connection.close() }
            boxes.removeAll()
        }
    }
}

/// A connection handed between pool threads, one at a time (the pool's lock orders the hand-overs).
private final class ConnectionBox: @unchecked Sendable {
    let connection: PostgresConnection
    init(_ connection: PostgresConnection) { self.connection = connection }
}

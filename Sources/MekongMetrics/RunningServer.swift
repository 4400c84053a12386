import Hummingbird
import HummingbirdTLS
import Logging
import ServiceLifecycle
import Synchronization

/// A Hummingbird application in a service group of its own: started (returning once its socket is bound, with the
/// bound port) and stopped as one. The gateway and the read API each run one.
public final class RunningServer: Sendable {
    /// The bound port (also when configured with port 0).
    public let port: Int
    private let serviceGroup: ServiceGroup
    private let task: Task<Void, Never>

    private init(port: Int, serviceGroup: ServiceGroup, task: Task<Void, Never>) {
        self.port = port
        self.serviceGroup = serviceGroup
        self.task = task
    }

    /// Starts serving `router` and returns once the socket is bound; over HTTPS with `tls`. With `stopOnSignals`,
    /// SIGINT and SIGTERM end the server gracefully (the CLI); otherwise call ``stop()`` (tests).
    /// - Throws: why it could not listen (the address is taken, a TLS file unusable, say).
    public static func start<Context: RequestContext>(
        _ router: Router<Context>, host: String, port: Int, serverName: String, stopOnSignals: Bool,
        tls: ServerTLS? = nil, logger: Logger
    ) async throws -> RunningServer where Context.Source == ApplicationRequestContextSource {
        let bound = BoundPort()
        let application = Application(
            router: router,
            server: try tls.map { try .tls(.http1(), tlsConfiguration: try $0.configuration()) } ?? .http1(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: serverName),
            onServerRunning: { channel in bound.resolve(.success(channel.localAddress?.port ?? 0)) },
            logger: logger)
        let serviceGroup = ServiceGroup(configuration: .init(
            services: [application], gracefulShutdownSignals: stopOnSignals ? [.sigterm, .sigint] : [], logger: logger))
        // On the event loops, not the concurrency pool (``EventLoopTaskExecutor``): requests are answered whatever
        // else holds the pool's threads.
        let task = Task(executorPreference: EventLoopTaskExecutor.servers) {
            do {
                try await serviceGroup.run()
                bound.resolve(.failure(NotListening()))
            } catch {
                bound.resolve(.failure(error))
            }
        }
        return RunningServer(port: try await bound.value(), serviceGroup: serviceGroup, task: task)
    }

    /// The server stopped before it was listening.
    public struct NotListening: Error, CustomStringConvertible {
        public var description: String { "the server stopped before it was listening" }
    }

    /// Runs until the server stops (a signal, or ``stop()``).
    public func wait() async {
        await task.value
    }

    /// Stops accepting requests and finishes those in progress.
    public func stop() async {
        await serviceGroup.triggerGracefulShutdown()
        await task.value
    }
}

/// The bound port, or why there is none, handed from Hummingbird's `onServerRunning` callback (or the service
/// group's end) to the `start` that waits for it. The first result counts.
private final class BoundPort: Sendable {
    private let state = Mutex<(result: Result<Int, any Error>?, waiter: CheckedContinuation<Int, any Error>?)>((nil, nil))

    func resolve(_ result: Result<Int, any Error>) {
        let waiter: CheckedContinuation<Int, any Error>? = state.withLock { state in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Int, any Error>? = state.withLock { state in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

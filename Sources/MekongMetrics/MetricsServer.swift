import Dispatch
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// A ``MetricsServer`` could not start listening.
public struct MetricsServerError: Error, CustomStringConvertible, Sendable {
    /// The host the server was asked to listen on.
    public let host: String
    /// The port the server was asked to listen on (0 for an ephemeral one).
    public let port: Int
    /// Why it could not listen, such as the socket error for a port already in use.
    public let reason: String

    /// "metrics server cannot listen on HOST:PORT: REASON".
    public var description: String {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return "metrics server cannot listen on \(address): \(reason)"
    }
}

/// An HTTP server answering `GET /metrics` with a Prometheus registry in the text exposition format 0.0.4, and 404
/// to any other method or path.
///
/// It runs on its own event loop thread, with its tasks pinned there: it is started and stopped from synchronous code
/// (a plain thread), and starts and answers scrapes however busy Swift's cooperative thread pool is. Only ``stop()``
/// needs a pool thread for a moment (Hummingbird and ServiceLifecycle shut down through unstructured tasks), so do
/// not call it while every pool thread is blocked.
///
/// ```swift
/// MetricsExporter.bootstrap()
/// let server = try MetricsServer.start(port: 9464)
/// defer { server.stop() }
/// ```
public final class MetricsServer: Sendable {
    /// The `Content-Type` of `GET /metrics` responses.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The host the server listens on.
    public let host: String
    /// The port the server listens on: the bound one, also when it was started with port 0.
    public let port: Int

    private let executor: EventLoopTaskExecutor
    private let serviceGroup: ServiceGroup
    private let task: Task<Void, Never>
    private let finished: DispatchSemaphore
    private let stopped = Mutex(false)

    private init(
        host: String, port: Int, executor: EventLoopTaskExecutor,
        serviceGroup: ServiceGroup, task: Task<Void, Never>, finished: DispatchSemaphore
    ) {
        self.host = host
        self.port = port
        self.executor = executor
        self.serviceGroup = serviceGroup
        self.task = task
        self.finished = finished
    }

    /// Starts serving `registry` on `host`:`port` and returns once the server is listening.
    ///
    /// Blocks the calling thread until then, which is usually milliseconds; call it from synchronous code.
    /// - Parameters:
    ///   - host: The address or host name to listen on. The default, loopback only, keeps the endpoint off the
    ///     network; use "0.0.0.0" for a scraper on another host.
    ///   - port: The TCP port; 0 picks a free ephemeral port, read back from ``port``.
    ///   - registry: What `/metrics` serves; by default the process-wide one of ``MetricsExporter/bootstrap()``.
    ///   - logger: Where the server logs its start, stop and failures (never request contents).
    /// - Throws: ``MetricsServerError`` when the port is invalid or in use, the host does not resolve, or the server
    ///   does not start listening within 30 seconds.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0,
        registry: PrometheusCollectorRegistry = MetricsExporter.bootstrap(),
        logger: Logger = Logger(label: "mekong.metrics")
    ) throws(MetricsServerError) -> MetricsServer {
        guard (0...65_535).contains(port) else {
            throw MetricsServerError(host: host, port: port, reason: "port must be in 0...65535")
        }
        // The process-wide event loops, never shut down: shutting down a group of our own raced with Hummingbird's
        // graceful shutdown, which may still create futures on it (a fatal "leaking promise" in debug builds).
        let eventLoopGroup = MultiThreadedEventLoopGroup.singleton
        let executor = EventLoopTaskExecutor.servers
        let startup = Startup()
        let finished = DispatchSemaphore(value: 0)

        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: MetricsServer.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                if let bound = channel.localAddress?.port {
                    startup.resolve(.success(bound))
                } else {
                    startup.resolve(.failure(ServerStartFailure.noLocalAddress))
                }
            },
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: logger)
        // Run in a group of our own, without signal handlers, so that `stop()` can shut the server down gracefully.
        let serviceGroup = ServiceGroup(services: [application], logger: logger)

        let task = Task(executorPreference: executor) {
            do {
                try await serviceGroup.run()
                startup.resolve(.failure(ServerStartFailure.stoppedBeforeListening))
            } catch {
                startup.resolve(.failure(error))
            }
            finished.signal()
        }

        let reason: String
        switch startup.wait(timeout: .seconds(30)) {
        case .success(let bound):
            return MetricsServer(
                host: host, port: bound, executor: executor,
                serviceGroup: serviceGroup, task: task, finished: finished)
        case .failure(let error):
            reason = String(describing: error)
        case nil:
            reason = "not listening after 30 seconds"
        }
        task.cancel()
        finished.wait()
        throw MetricsServerError(host: host, port: port, reason: reason)
    }

    /// Stops the server and returns once it is stopped: stops accepting connections, lets requests in progress
    /// finish (cancelling them after 5 seconds), closes every connection. Later calls, and calls
    /// while another is stopping, return once the server is stopped.
    public func stop() {
        stopped.withLock { stopped in
            guard !stopped else { return }
            stopped = true
            Task(executorPreference: executor) { [serviceGroup] in
                await serviceGroup.triggerGracefulShutdown()
            }
            if finished.wait(timeout: .now() + .seconds(5)) == .timedOut {
                task.cancel()
                finished.wait()
            }
        }
    }
}

/// Why the server task ended before its listening socket was up, when no error says so.
private enum ServerStartFailure: Error, CustomStringConvertible {
    case noLocalAddress
    case stoppedBeforeListening

    var description: String {
        switch self {
        case .noLocalAddress: "the listening socket has no local address"
        case .stoppedBeforeListening: "the server stopped before it was listening"
        }
    }
}

/// The first outcome of starting: the bound port, or why the server could not listen.
private final class Startup: Sendable {
    private let outcome = Mutex<Result<Int, any Error>?>(nil)
    private let resolved = DispatchSemaphore(value: 0)

    /// Records `result` unless an outcome is already recorded.
    func resolve(_ result: Result<Int, any Error>) {
        let first = outcome.withLock { outcome in
            guard outcome == nil else { return false }
            outcome = result
            return true
        }
        if first { resolved.signal() }
    }

    /// The outcome, or nil if none arrives within `timeout`.
    func wait(timeout: DispatchTimeInterval) -> Result<Int, any Error>? {
        guard resolved.wait(timeout: .now() + timeout) == .success else { return nil }
        return outcome.withLock { $0 }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MekongEvents
import MekongKafka
import MekongMetrics
import MekongPostgres
import NIOCore

/// `mekong console`: a live page for operators (no build step: one HTML file with its script) over JSON endpoints
/// and a server-sent-events tail. It only reads: PostgreSQL (projection versions and positions, dead letters,
/// sources) and Kafka (watermarks, the tailed topic).
public final class ConsoleServer: Sendable {
    private let server: RunningServer
    private let pool: PostgresPool
    /// The bound port (also when configured with port 0).
    public var port: Int { server.port }

    private init(server: RunningServer, pool: PostgresPool) {
        self.server = server
        self.pool = pool
    }

    /// Starts listening and returns once the socket is bound; refuses a reachable address without mutual TLS.
    public static func start(
        _ configuration: ConsoleConfiguration, stopOnSignals: Bool = false,
        logger: Logger = Logger(label: "mekong.console")
    ) async throws -> ConsoleServer {
        try configuration.validate()
        let pool = PostgresPool(url: configuration.postgres, threads: 2, defaults: ["application_name": "mekong-console"])
        do {
            let server = try await RunningServer.start(
                router(configuration, pool: pool, logger: logger), host: configuration.host, port: configuration.port,
                serverName: "mekong-console", stopOnSignals: stopOnSignals, tls: configuration.tls, logger: logger)
            return ConsoleServer(server: server, pool: pool)
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    public func wait() async {
        await server.wait()
        await pool.shutdown()
    }

    public func stop() async {
        await server.stop()
        await pool.shutdown()
    }

    static func router(_ configuration: ConsoleConfiguration, pool: PostgresPool, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        let queries = ConsoleQueries(configuration: configuration)
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: ConsolePage.bytes)))
        }
        router.get("/healthz") { _, _ in json(.object(JSONObject([("status", .string("ok"))]))) }
        router.get("/api/topics") { _, _ in
            json(.object(JSONObject([("topics", .array(configuration.tailTopics.map(JSONValue.string)))])))
        }
        router.get("/api/projections") { _, _ in try await answer(pool, logger) { try queries.projections($0) } }
        router.get("/api/dead-letters") { _, _ in try await answer(pool, logger) { try queries.deadLetters($0) } }
        router.get("/api/sources") { _, _ in try await answer(pool, logger) { try queries.sources($0) } }
        router.get("/api/tail") { request, _ in
            let query = request.uri.queryParameters
            guard let topic = query.get("topic"), configuration.tailTopics.contains(topic) else {
                return json(.object(JSONObject([("error", .string("topic must be one of \(configuration.tailTopics)"))])),
                            status: .badRequest)
            }
            let tail: TopicTail
            do {
                tail = try await OwnThread.run {
                    try TopicTail(topic: topic, type: query.get("type").flatMap { $0.isEmpty ? nil : $0 },
                                  source: query.get("source").flatMap { $0.isEmpty ? nil : $0 },
                                  configuration: configuration.kafka)
                }
            } catch {
                return json(.object(JSONObject([("error", .string("Kafka: \(error)"))])), status: .serviceUnavailable)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    defer { tail.stop() }
                    try await writer.write(ByteBuffer(string: ": tail of \(topic)\n\n"))
                    for await summary in tail.summaries {
                        // A heartbeat is an SSE comment: the page ignores it, a closed connection fails the write.
                        let line = summary == .null
                            ? Array(": heartbeat\n\n".utf8) : Array("data: ".utf8) + JSON.serializeBytes(summary) + [0x0A, 0x0A]
                        try await writer.write(ByteBuffer(bytes: line))
                    }
                    try await writer.finish(nil)
                })
        }
        return router
    }

    private static func answer(
        _ pool: PostgresPool, _ logger: Logger, _ body: @escaping @Sendable (PostgresConnection) throws -> JSONValue
    ) async throws -> Response {
        do {
            return json(try await pool.run(body))
        } catch {
            logger.error("console query failed", metadata: ["error": "\(error)"])
            return json(.object(JSONObject([("error", .string("\(error)"))])), status: .serviceUnavailable)
        }
    }

    private static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSON.serializeBytes(value))))
    }
}

enum ConsolePage {
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "console", withExtension: "html"),
            let data = FileManager.default.contents(atPath: url.path)
        else { return Array("console.html is missing from the console's resources\n".utf8) }
        return Array(data)
    }()
}

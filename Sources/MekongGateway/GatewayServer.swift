import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MekongEvents
import MekongMetrics
import Metrics
import NIOCore

/// The gateway's HTTP server: the routes of `openapi.yaml` (served at `/openapi.yaml`) over a ``Gateway``.
public final class GatewayServer: Sendable {
    public let gateway: Gateway
    private let server: RunningServer
    /// The bound port (also when configured with port 0).
    public var port: Int { server.port }

    private init(gateway: Gateway, server: RunningServer) {
        self.gateway = gateway
        self.server = server
    }

    /// Starts listening and returns once the socket is bound. With `stopOnSignals`, SIGINT and SIGTERM end the
    /// server gracefully (the CLI); otherwise call ``stop()`` (tests).
    public static func start(
        _ gateway: Gateway, stopOnSignals: Bool = false, logger: Logger = Logger(label: "mekong.gateway")
    ) async throws -> GatewayServer {
        let server = try await RunningServer.start(
            makeRouter(gateway), host: gateway.configuration.host, port: gateway.configuration.port,
            serverName: "mekong-gateway", stopOnSignals: stopOnSignals, tls: gateway.configuration.tls, logger: logger)
        return GatewayServer(gateway: gateway, server: server)
    }

    /// Runs until the server stops (a signal, or ``stop()``).
    public func wait() async {
        await server.wait()
    }

    /// Stops accepting requests, finishes those in progress, then closes Kafka and PostgreSQL.
    public func stop() async {
        await server.stop()
        await gateway.shutdown()
    }

    /// The paths and methods of `openapi.yaml` (GatewayContractTests holds the two together).
    static let declaredRoutes = DeclaredRoutes([
        ("/v1/events", [.post]), ("/v1/reports", [.post]), ("/v1/surveys/{survey}/batches", [.post]),
        ("/v1/receipts/{eventId}", [.get]), ("/v1/reconciliation", [.get]), ("/v1/classifications/{id}/items", [.get]),
        ("/v1/classifications/{id}/validate", [.post]), ("/v1/gateway-key", [.get]), ("/healthz", [.get]),
        ("/readyz", [.get]), ("/metrics", [.get]), ("/openapi.yaml", [.get]),
    ])

    static func makeRouter(_ gateway: Gateway) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        let config = gateway.configuration
        router.add(middleware: UndeclaredRouteMiddleware(declaredRoutes) { status, allowed in
            problemResponse(status == .methodNotAllowed
                ? Problem(.methodNotAllowed, "Method not allowed", detail:
                    "this path answers \(allowed.map(\.rawValue).joined(separator: ", ")) only")
                : Problem.notFound("no route has this path (openapi.yaml lists them)"))
        })
        router.get("/healthz") { _, _ in json(200, ["status": "ok"]) }
        router.get("/readyz") { _, _ in
            let readiness = await gateway.readiness()
            return json(readiness.ready ? 200 : 503, [
                "status": .string(readiness.ready ? "ready" : "unavailable"), "kafka": .string(readiness.kafka),
                "postgres": .string(readiness.postgres),
            ])
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: MetricsServer.contentType],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: MetricsExporter.bootstrap().emitToBuffer())))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
        router.get("/v1/gateway-key") { _, _ in
            try answer(200, JSON.parse(config.key.verifyingKey.fileContents))
        }
        router.post("/v1/events") { request, context in
            try await handle("events", request, context) { source in
                let type = mediaType(request)
                guard type == "application/cloudevents+json" || type == "application/cloudevents-batch+json" else {
                    throw Problem.unsupportedMediaType(
                        "send application/cloudevents+json (one event) or application/cloudevents-batch+json (a batch)")
                }
                let body = try await collect(request, upTo: config.maxEventsBodyBytes)
                return try await gateway.publishEvents(
                    body: body, batch: type == "application/cloudevents-batch+json",
                    partial: request.uri.queryParameters.get("partial") == "true", source: source)
            }
        }
        router.post("/v1/reports") { request, context in
            try await handle("reports", request, context) { source in
                guard mediaType(request) == "application/json" else {
                    throw Problem.unsupportedMediaType("send application/json")
                }
                let body = try await collect(request, upTo: config.maxReportBodyBytes)
                return try await gateway.submitReport(
                    body: body, signingKey: request.headers[.mekongSigningKey],
                    signature: request.headers[.mekongSignature], source: source)
            }
        }
        router.post("/v1/surveys/{survey}/batches") { request, context in
            let survey = context.parameters.decoded("survey")
            return try await handle("surveys", request, context) { source in
                let query = request.uri.queryParameters
                return try await gateway.uploadSurveyBatch(
                    survey: survey, wave: query.get("wave"), period: query.get("period"),
                    batchId: query.get("batchId"), contentType: request.headers[.contentType], body: request.body,
                    signingKey: request.headers[.mekongSigningKey], signature: request.headers[.mekongSignature],
                    source: source)
            }
        }
        router.get("/v1/receipts/{eventId}") { request, context in
            let eventId = context.parameters.decoded("eventId")
            return try await handle("receipts", request, context) { source in
                GatewayAnswer(status: 200, body: try await gateway.receipt(eventId: eventId, source: source))
            }
        }
        router.get("/v1/reconciliation") { request, context in
            try await handle("reconciliation", request, context) { source in
                let query = request.uri.queryParameters
                return GatewayAnswer(status: 200, body: try await gateway.reconciliation(
                    sourceParameter: query.get("source"), from: query.get("from"), to: query.get("to"),
                    pageSize: query.get("pageSize"), pageToken: query.get("pageToken"), source: source))
            }
        }
        router.get("/v1/classifications/{id}/items") { request, context in
            let id = context.parameters.decoded("id")
            return try await handle("classifications", request, context) { _ in
                // Without asOf: today in Vietnam (UTC+07:00), the calendar the master data's dates are in.
                let asOf = request.uri.queryParameters.get("asOf") ?? Timestamp(date: Date()).vietnameseDate
                return GatewayAnswer(status: 200, body: try await gateway.classificationItems(id, asOf: asOf))
            }
        }
        router.post("/v1/classifications/{id}/validate") { request, context in
            let id = context.parameters.decoded("id")
            return try await handle("classifications", request, context) { _ in
                guard mediaType(request) == "application/json" else {
                    throw Problem.unsupportedMediaType("send application/json")
                }
                let body = try await collect(request, upTo: config.maxReportBodyBytes)
                return GatewayAnswer(status: 200, body: try await gateway.validateCodes(classification: id, body: body))
            }
        }

        /// Authenticates, runs the route, and turns every refusal into problem+json; counts and times each request.
        @Sendable func handle(
            _ route: String, _ request: Request, _ context: GatewayRequestContext,
            _ body: (RegisteredSource) async throws -> GatewayAnswer
        ) async throws -> Response {
            let started = ContinuousClock.now
            let response: Response
            do {
                let source = try await gateway.authenticate(request.headers[.authorization])
                if config.tls?.requiresClientCertificate == true {
                    try await gateway.checkClientCertificate(of: source, on: context.channel)
                }
                let answer = try await body(source)
                response = try GatewayServer.answer(answer.status, answer.body)
            } catch let problem as Problem {
                response = problemResponse(problem)
            } catch is NIOTooManyBytesError {
                response = problemResponse(Problem.bodyTooLarge("the body is larger than this route accepts"))
            } catch {
                gateway.logger.error("request failed", metadata: ["route": "\(route)", "error": "\(type(of: error))"])
                response = problemResponse(Problem(.internal, "Internal error",
                                                   detail: "the gateway failed; nothing was acknowledged"))
            }
            Counter(label: "mekong_gateway_requests_total",
                    dimensions: [("route", route), ("status", String(response.status.code))]).increment()
            let elapsed = (ContinuousClock.now - started).components
            Timer(label: "mekong_gateway_request_duration_seconds", dimensions: [("route", route)])
                .recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
            return response
        }
        return router
    }

    private static func mediaType(_ request: Request) -> String? {
        request.headers[.contentType]?.split(separator: ";").first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    private static func collect(_ request: Request, upTo limit: Int) async throws -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw Problem.bodyTooLarge("this route accepts at most \(limit) bytes")
        }
    }

    private static func json(_ status: Int, _ object: JSONObject) -> Response {
        (try? answer(status, .object(object))) ?? Response(status: .internalServerError)
    }

    static func answer(_ status: Int, _ body: JSONValue) throws -> Response {
        Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSON.serializeBytes(body))))
    }

    /// The problem+json answer; counted in `mekong_gateway_problems_total{problem}` by its type code.
    static func problemResponse(_ problem: Problem) -> Response {
        Counter(label: "mekong_gateway_problems_total", dimensions: [("problem", problem.code.rawValue)]).increment()
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfter = problem.retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(
            status: HTTPResponse.Status(code: problem.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSON.serializeBytes(problem.json))))
    }
}

extension HTTPField.Name {
    /// The key id of a plain body's detached signature.
    static let mekongSigningKey = HTTPField.Name("Mekong-Signing-Key")!
    /// Ed25519 over the SHA-256 of a plain body, base64.
    static let mekongSignature = HTTPField.Name("Mekong-Signature")!
}

/// `openapi.yaml`, the gateway's contract, as shipped beside the module.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = FileManager.default.contents(atPath: url.path)
        else { return Array("openapi.yaml is missing from the gateway's resources\n".utf8) }
        return Array(data)
    }()
}

/// A request's context: Hummingbird's, and the connection it came on (whose TLS handshake holds the client's
/// certificate under mutual TLS).
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

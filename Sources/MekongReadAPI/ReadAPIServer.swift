import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MekongAccess
import MekongEvents
import MekongIndicatorQueries
import MekongMetrics
import MekongPostgres
import Metrics
import NIOCore
import Synchronization

/// Where the read API listens and what it reads.
public struct ReadAPIConfiguration: Sendable {
    public var host: String
    /// 0: any free port (``ReadAPIServer/port`` tells which).
    public var port: Int
    /// The database holding the statistics projection (its public schema `statistics`).
    public var postgres: String
    /// Queries that may run at once (each holds one connection while its answer streams).
    public var databaseThreads: Int
    /// Requests an anonymous client (one address) may make per hour and per day.
    public var anonymousQuota: Quotas.Limits
    /// The clock of the quotas and the release calendar (tests move it).
    public var now: @Sendable () -> Date
    /// How many candidate moments an `includeHistory` answer examines before it ends with a link to the next page
    /// (each costs about one `asOf` answer).
    public var historyMomentsPerAnswer: Int
    /// HTTPS (and with a client CA, mutual TLS); nil: plain HTTP behind a TLS-terminating proxy.
    public var tls: ServerTLS?

    public init(
        host: String = "127.0.0.1", port: Int = 8090, postgres: String, databaseThreads: Int = 8,
        anonymousQuota: Quotas.Limits = Quotas.Limits(perHour: 1_000, perDay: 10_000),
        now: @escaping @Sendable () -> Date = { Date() }, historyMomentsPerAnswer: Int = 24
    ) {
        self.host = host
        self.port = port
        self.postgres = postgres
        self.databaseThreads = databaseThreads
        self.anonymousQuota = anonymousQuota
        self.now = now
        self.historyMomentsPerAnswer = historyMomentsPerAnswer
    }
}

/// The read API's HTTP server (`mekong serve`): the routes of `openapi.yaml` (served at `/openapi.yaml`) over the
/// statistics projection's public tables. Anonymous readers get published data only (docs/read-api.md).
public final class ReadAPIServer: Sendable {
    private let server: RunningServer
    private let pool: PostgresPool
    /// The bound port (also when configured with port 0).
    public var port: Int { server.port }

    private init(server: RunningServer, pool: PostgresPool) {
        self.server = server
        self.pool = pool
    }

    /// Starts listening and returns once the socket is bound. With `stopOnSignals`, SIGINT and SIGTERM end the
    /// server gracefully (the CLI); otherwise call ``stop()`` (tests).
    public static func start(
        _ configuration: ReadAPIConfiguration, stopOnSignals: Bool = false,
        logger: Logger = Logger(label: "mekong.read-api")
    ) async throws -> ReadAPIServer {
        // JIT off: an answer's statements run for milliseconds, and compiling the as-of ones (whose estimated cost
        // passes jit_above_cost) took 390 ms of a 1.1 s answer (auto_explain, session 17).
        let pool = PostgresPool(
            url: configuration.postgres, threads: configuration.databaseThreads,
            defaults: ["application_name": "mekong-read-api", "options": "-c jit=off"])
        do {
            let server = try await RunningServer.start(
                Routes(pool: pool, logger: logger, anonymousQuota: configuration.anonymousQuota,
                       quotas: Quotas(now: configuration.now), now: configuration.now,
                       historyMomentsPerAnswer: configuration.historyMomentsPerAnswer).router(),
                host: configuration.host, port: configuration.port,
                serverName: "mekong-read-api", stopOnSignals: stopOnSignals, tls: configuration.tls, logger: logger)
            return ReadAPIServer(server: server, pool: pool)
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    /// Runs until the server stops (a signal, or ``stop()``), then closes its connections.
    public func wait() async {
        await server.wait()
        await pool.shutdown()
    }

    /// Stops accepting requests, finishes those in progress, then closes PostgreSQL.
    public func stop() async {
        await server.stop()
        await pool.shutdown()
    }
}

/// The routes, over one pool of connections.
struct Routes: Sendable {
    let pool: PostgresPool
    let logger: Logger
    let anonymousQuota: Quotas.Limits
    let quotas: Quotas
    let now: @Sendable () -> Date
    let historyMomentsPerAnswer: Int
    let readiness = Readiness()

    /// The paths of `openapi.yaml`, every one read-only (GET, and the HEAD Hummingbird derives from it); any other
    /// method is 405 with `Allow` (ReadAPIContractTests holds the two together).
    static let declaredRoutes = DeclaredRoutes([
        "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/v1/data/{indicator}", "/v1/indicators",
        "/v1/indicators/{indicator}", "/v1/classifications", "/v1/classifications/{classification}/versions/{version}/codes",
        "/v1/correspondences", "/v1/structure/dataflow/{agency}/{dataflow}/{version}",
    ].map { ($0, [.get]) })

    func router() -> Router<ReadAPIContext> {
        let router = Router(context: ReadAPIContext.self)
        router.add(middleware: UndeclaredRouteMiddleware(Self.declaredRoutes) { status, _ in
            Self.problem(status == .methodNotAllowed
                ? ReadAPIError(405, "method-not-allowed", "Method not allowed", detail: "the read API answers GET and HEAD only")
                : ReadAPIError(404, "not-found", "Not found", detail: "no route has this path (openapi.yaml lists them)"))
        })
        router.get("/healthz") { _, _ in Self.json(200, ["status": "ok"]) }
        router.get("/readyz") { _, _ in
            let problem: String?
            do {
                problem = try await readiness.check(pool)
            } catch {
                problem = "PostgreSQL cannot be reached"
            }
            return Self.json(problem == nil ? 200 : 503, [
                "status": .string(problem == nil ? "ready" : "unavailable"),
                "postgres": .string(problem ?? "ok"),
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
        router.get("/v1/data/{indicator}") { request, context in
            await served("data", request, context) { reader in
                var query = try DataQuery(
                    indicator: Self.path(context, "indicator"), parameters: Self.queryParameters(request),
                    accept: request.headers[.accept])
                query.selection.historyMomentsPerAnswer = historyMomentsPerAnswer
                return try await data(
                    query, path: request.uri.path, ifNoneMatch: request.headers[.ifNoneMatch], gzip: GzipStream.isAccepted(by: request.headers[.acceptEncoding]),
                    disclosure: reader?.disclosure(of: query.selection.code) ?? .published,
                    // The release calendar's embargo, at the time of the request (keys with the embargo scope see
                    // through it).
                    releasedBy: reader?.embargo == true ? nil : Timestamp(date: now()).text)
            }
        }
        addStructureRoutes(to: router)
        return router
    }

    /// A counted route: the reader of the request's key (nil: anonymous), its quota taken, refusals as
    /// problem+json, and the quota headers on the answer.
    func served(
        _ route: String, _ request: Request, _ context: ReadAPIContext, _ body: (Reader?) async throws -> Response
    ) async -> Response {
        var quota: Quotas.Decision?
        var response = await measured(route) {
            let reader = try await authenticate(request.headers[.authorization])
            let decision = quotas.take(
                reader.map { "reader:\($0.id)" } ?? "address:\(context.remoteAddress ?? "unknown")",
                reader?.quota ?? anonymousQuota)
            quota = decision
            guard decision.allowed else { throw ReadAPIError.quotaExceeded(decision) }
            return try await body(reader)
        }
        if let quota { Self.addQuotaHeaders(quota, to: &response) }
        return response
    }

    /// The query string's parameters; Hummingbird decodes the values, a name is decoded here (c%5BSEX%5D is c[SEX]).
    static func queryParameters(_ request: Request) -> [(String, String)] {
        request.uri.queryParameters.map { parameter in
            let name = String(parameter.key)
            return (name.utf8.contains(UInt8(ascii: "%")) ? name.removingPercentEncoding ?? name : name, String(parameter.value))
        }
    }

    /// One indicator's rows, streamed from one snapshot: a repeatable-read transaction, so the definition and
    /// every row come from the same committed batches. (Not `READ ONLY`: the as-of and re-expression functions
    /// build their answers in temporary tables; the server's role needs no more than `SELECT` and `TEMPORARY`.)
    ///
    /// Its validators are read in the same snapshot first; when `If-None-Match` names them, the answer is 304 and
    /// no row is read.
    ///
    /// With `gzip` the body is gzip-coded as it streams, and the ETag is the coded representation's own.
    func data(_ query: DataQuery, path: String, ifNoneMatch: String?, gzip: Bool, disclosure: Disclosure, releasedBy: String?) async throws -> Response {
        if let problem = try await readiness.check(pool) { throw ReadAPIError.notReady(problem) }
        let stream = AnswerStream<AnswerHead>()
        let export = IndicatorExport(query.selection, disclosure: disclosure, releasedBy: releasedBy)
        let format = query.format
        let prepared = Timestamp(date: now()).text
        // Unstructured, so the server's executor preference is given again (``EventLoopTaskExecutor``).
        let producer = Task(executorPreference: EventLoopTaskExecutor.servers) { [pool] in
            do {
                try await pool.run { db in
                    try db.transaction(isolation: .repeatableRead) { db in
                        guard let definition = try export.prepare(on: db) else {
                            throw ReadAPIError.notFound(IndicatorQueryError.undefined(query.selection).message)
                        }
                        let validators = AnswerValidators(query, definition, gzip: gzip, disclosure: disclosure, releasedBy: releasedBy)
                        if validators.matches(ifNoneMatch: ifNoneMatch) {
                            stream.begin(AnswerHead(definition: definition, validators: validators, notModified: true))
                            return
                        }
                        // The response starts with the first chunk (or the end), so that a query that fails
                        // before it still gets a problem answer rather than a broken stream.
                        let head = AnswerHead(definition: definition, validators: validators, notModified: false)
                        var chunk = ChunkWriter(stream, head: head)
                        guard let rows = format.export else {
                            try SDMXJSONMessage(export, definition).write(
                                id: "\(SDMX.dataflowID(indicator: query.selection.code))-\(validators.tag)", prepared: prepared,
                                on: db, committing: true) { try chunk.append($0) }
                            try chunk.finish()
                            return
                        }
                        if format == .json {
                            try chunk.append(Array(Self.jsonHead(query.selection.code, definition).utf8))
                        } else if let header = export.header(rows, definition) {
                            try chunk.append(Array(header.utf8))
                        }
                        var first = true
                        // The last statement: COMMIT travels with it.
                        try export.rows(rows, definition, on: db, committing: true) { row in
                            if format == .json {
                                // One object per row, its line break dropped: joined with commas into the array.
                                if !first { try chunk.append(UInt8(ascii: ",")) }
                                try chunk.append(UnsafeRawBufferPointer(rebasing: row[..<(row.count - 1)]))
                            } else {
                                try chunk.append(row)
                            }
                            first = false
                        }
                        if format == .json { try chunk.append(Array("]}\n".utf8)) }
                        try chunk.finish()
                    }
                }
                stream.finish()
            } catch let error as IndicatorQueryError where error.code == .unpublishedVersion {
                stream.fail(ReadAPIError(404, "not-found", "Not found", detail: error.message, parameter: "classificationVersion"))
            } catch let error as IndicatorQueryError where error.code == .unknownDimension {
                // Like an unpublished version: a well-formed question about something the indicator has not (SDMX
                // REST's "no results"), so 404 naming the parameter.
                stream.fail(ReadAPIError(404, "not-found", "Not found", detail: error.message, parameter: "c[\(error.dimension ?? "")]"))
            } catch {
                stream.fail(error)
            }
        }
        _ = producer
        let head = try await stream.head()
        var headers: HTTPFields = [
            .vary: "Accept, Accept-Encoding, Authorization", .eTag: head.validators.etag,
            // Revalidate every time (a batch can land any second); an answer with more than published data is the
            // reader's alone.
            .cacheControl: disclosure == .published ? "no-cache" : "private, no-cache",
        ]
        if let lastModified = head.validators.lastModified { headers[.lastModified] = lastModified }
        if let next = head.definition.history?.next {
            // The next page of a history: the same question, continuing after the last moment examined (RFC 8288).
            headers[HTTPField.Name("Link")!] = "<\(Self.link(path, query.parameters, updatedAfter: next))>; rel=\"next\""
        }
        if head.notModified { return Response(status: .notModified, headers: headers) }
        headers[.contentType] = format.mediaType
        if gzip { headers[.contentEncoding] = "gzip" }
        if let body = head.body {
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: gzip ? try GzipStream.compressed(body) : body))
        }
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                do {
                    let coding = gzip ? try GzipStream() : nil
                    while let chunk = try await stream.next() { try await writer.write(try coding?.compress(chunk) ?? chunk) }
                    if let coding { try await writer.write(try coding.finish()) }
                } catch {
                    stream.cancel()
                    throw error
                }
                try await writer.finish(nil)
            })
    }

    /// The reader an `Authorization: Bearer` key belongs to; nil without one (anonymous). Looked up on every
    /// request, so that a revoked or rotated key stops working at once.
    /// - Throws: ``ReadAPIError`` 401 for a key that is unknown or revoked (never downgraded to anonymous).
    func authenticate(_ authorization: String?) async throws -> Reader? {
        guard authorization != nil else { return nil }
        guard let apiKey = APIKey.bearer(authorization) else {
            throw ReadAPIError.unauthenticated("send a reader's API key as `Authorization: Bearer <key>`, or no Authorization")
        }
        let reader = try await pool.run { db in try ReaderRegistry(connection: db).authenticate(apiKey: apiKey) }
        guard let reader else { throw ReadAPIError.unauthenticated("the API key is unknown or its reader is revoked") }
        return reader
    }

    /// `X-Quota-{Hour,Day}-{Limit,Remaining}`: what is left of the client's quota after this request.
    static func addQuotaHeaders(_ quota: Quotas.Decision, to response: inout Response) {
        for (name, value) in [
            ("X-Quota-Hour-Limit", quota.limits.perHour), ("X-Quota-Hour-Remaining", quota.hourRemaining),
            ("X-Quota-Day-Limit", quota.limits.perDay), ("X-Quota-Day-Remaining", quota.dayRemaining),
        ] {
            response.headers[HTTPField.Name(name)!] = String(value)
        }
    }

    /// `path` with `parameters`, `updatedAfter` set to the given time: where a history's next page is.
    static func link(_ path: String, _ parameters: [DataQuery.Parameter], updatedAfter: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+[]")
        func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        let pairs = parameters.filter { $0.name != "updatedAfter" } + [DataQuery.Parameter(name: "updatedAfter", value: updatedAfter)]
        return path + "?" + pairs.map { encoded($0.name) + "=" + encoded($0.value) }.joined(separator: "&")
    }

    /// The JSON answer up to its observations array.
    static func jsonHead(_ code: String, _ definition: IndicatorSelection.Definition) -> String {
        var head: JSONObject = [
            "indicator": .string(code), "dataflow": .string(SDMX.dataflowReference(indicator: code)),
            "name": .string(definition.name), "unit": .string(definition.unit),
            "aggregation": .string(definition.aggregation),
            "dimensions": .array(definition.dimensions.map { .string($0) }),
        ]
        if let history = definition.history {
            head["history"] = .object([
                "disseminations": .number(Double(history.disseminations)), "next": history.next.map { .string($0) } ?? .null,
            ])
        }
        let text = JSON.serialize(.object(head))
        return String(text.dropLast()) + ",\"observations\":["
    }

    /// Runs a route, turns every refusal into problem+json, counts and times each request.
    func measured(_ route: String, _ body: () async throws -> Response) async -> Response {
        let started = ContinuousClock.now
        let response: Response
        do {
            response = try await body()
        } catch let error as ReadAPIError {
            response = Self.problem(error)
        } catch let error as PostgresError where error.code == .connectionFailed || error.code == .connectionLost {
            logger.error("PostgreSQL unavailable", metadata: ["route": "\(route)", "code": "\(error.code)"])
            response = Self.problem(.databaseUnavailable("the answer could not be read; try again"))
        } catch let error as PostgresError {
            logger.error("query failed", metadata: ["route": "\(route)", "code": "\(error.code)", "message": "\(error.message)"])
            response = Self.problem(ReadAPIError(500, "internal", "Internal error", detail: "the read API failed"))
        } catch {
            logger.error("request failed", metadata: ["route": "\(route)", "error": "\(type(of: error))"])
            response = Self.problem(ReadAPIError(500, "internal", "Internal error", detail: "the read API failed"))
        }
        Counter(label: "mekong_read_requests_total", dimensions: [("route", route), ("status", String(response.status.code))])
            .increment()
        let elapsed = (ContinuousClock.now - started).components
        Timer(label: "mekong_read_request_duration_seconds", dimensions: [("route", route)])
            .recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        return response
    }

    static func json(_ status: Int, _ object: JSONObject) -> Response {
        Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSON.serializeBytes(.object(object)))))
    }

    static func problem(_ error: ReadAPIError) -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(
            status: HTTPResponse.Status(code: error.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSON.serializeBytes(error.json))))
    }
}

/// A request's context: Hummingbird's, and the client's address (an anonymous client's quota is per address).
struct ReadAPIContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The peer's IP address: behind a proxy, the proxy's.
    let remoteAddress: String?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// Whether the database holds a statistics projection this server can read: the public `indicator_table` with the
/// columns and tables the queries name (statistics v2's migrations 008-010, applied by the projector). Once
/// true it stays true (schemas only move forward), so requests stop asking.
final class Readiness: Sendable {
    private let ready = Mutex(false)

    /// nil when readable, else what is missing.
    func check(_ pool: PostgresPool) async throws -> String? {
        if ready.withLock({ $0 }) { return nil }
        let problem: String? = try await pool.run { db in
            let columns = try db.query(
                """
                SELECT count(*) FILTER (WHERE column_name = 'parent'), count(*),
                       to_regclass('statistics.releases') IS NOT NULL AND to_regclass('statistics.withheld_above') IS NOT NULL
                FROM information_schema.columns
                WHERE table_schema = 'statistics' AND table_name = 'indicator_table'
                """)[0]
            if try columns.decode(Int.self, at: 1) == 0 { return "no statistics projection is active in this database" }
            if try columns.decode(Int.self, at: 0) == 0 || !(try columns.decode(Bool.self, at: 2)) {
                return "the statistics projection predates this server; run `mekong project statistics` once to migrate it"
            }
            return nil
        }
        if problem == nil { ready.withLock { $0 = true } }
        return problem
    }
}

/// Gathers a streamed answer into chunks of about 64 KiB for ``AnswerStream``. An answer that ends before its first
/// chunk is full (a single series: a few kB) is not streamed: ``finish()`` hands it over whole in the head.
struct ChunkWriter {
    private let stream: AnswerStream<AnswerHead>
    private let head: AnswerHead
    private var buffer = ByteBuffer()
    private var streaming = false
    static let size = 64 * 1024

    init(_ stream: AnswerStream<AnswerHead>, head: AnswerHead) {
        self.stream = stream
        self.head = head
    }

    mutating func append(_ bytes: some Sequence<UInt8>) throws {
        buffer.writeBytes(bytes)
        if buffer.readableBytes >= Self.size { try flush() }
    }

    mutating func append(_ byte: UInt8) throws {
        buffer.writeInteger(byte)
    }

    /// Sends the chunk gathered so far; the response starts streaming with the first.
    private mutating func flush() throws {
        if !streaming {
            stream.begin(head)
            streaming = true
        }
        try stream.put(buffer)
        buffer = ByteBuffer()
        buffer.reserveCapacity(Self.size)
    }

    /// Ends the answer: its last chunk goes out, or, if none went out yet, the whole answer goes in the head.
    mutating func finish() throws {
        guard streaming else {
            var whole = head
            whole.body = buffer
            stream.begin(whole)
            return
        }
        if buffer.readableBytes > 0 { try stream.put(buffer) }
    }
}

/// `openapi.yaml`, the read API's contract, as shipped beside the module.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = FileManager.default.contents(atPath: url.path)
        else { return Array("openapi.yaml is missing from the read API's resources\n".utf8) }
        return Array(data)
    }()
}

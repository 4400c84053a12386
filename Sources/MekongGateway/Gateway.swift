import Foundation
import Logging
import MekongAccess
import MekongCatalog
import MekongEvents
import MekongEvidence
import MekongKafka
import MekongMetrics
import MekongPostgres
import MekongPublishing
import Metrics
import Synchronization

/// The ingestion gateway's work, independent of HTTP: authenticate a source, admit its events (envelope, schema,
/// signature, scope, master data, limits), write them to Kafka and answer with signed receipts once Kafka has
/// confirmed the write. ``GatewayServer`` puts it behind the routes of `openapi.yaml`.
public final class Gateway: Sendable {
    public let configuration: GatewayConfiguration
    let database: PostgresPool
    let producer: Producer
    let admin: KafkaAdmin
    let limiter = RateLimiter()
    let masterDataCache = Mutex(MasterDataCache())
    let logger: Logger

    static let reportType = "vn.gso.report.submitted"

    /// Seconds a client waits before retrying a unit an earlier request is still writing: about one delivery
    /// timeout, when that request has its answer.
    var retryAfterInProgress: Int { max(1, Int(configuration.deliveryTimeout.components.seconds)) }

    /// Connects to Kafka and PostgreSQL. The `gateway` schema must exist (``prepare(postgres:migrations:)``).
    public init(configuration: GatewayConfiguration, logger: Logger = Logger(label: "mekong.gateway")) throws {
        var kafka = configuration.kafka
        let timeout = configuration.deliveryTimeout.components
        kafka.properties["message.timeout.ms"] = String(timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000)
        self.configuration = configuration
        self.producer = try Producer(configuration: kafka)
        self.admin = try KafkaAdmin(configuration: configuration.kafka)
        self.database = PostgresPool(url: configuration.postgres, threads: configuration.databaseThreads)
        self.logger = logger
        // Counters recorded before the exporter is bootstrapped would go nowhere.
        _ = MetricsExporter.bootstrap()
        // Exported at 0 from the start, so that an alert on their increase has a series before the first incident.
        for label in ["mekong_gateway_kafka_failures_total", "mekong_gateway_rate_limited_total",
                      "mekong_gateway_signed_batches_total", "mekong_gateway_recovered_writes_total"] {
            _ = Counter(label: label)
        }
    }

    /// Creates or upgrades the gateway's schema (sources, keys, receipts) in the database at `postgres`.
    public static func prepare(postgres: String, migrations: MigrationRunner) throws {
        let connection = try PostgresConnection(url: postgres)
        defer { connection.close() }
        try SourceRegistry.prepare(connection, migrations: migrations)
    }

    /// Waits for outstanding deliveries, then closes Kafka and PostgreSQL.
    public func shutdown() async {
        await producer.close(flushTimeout: .seconds(10))
        await database.shutdown()
    }

    // MARK: - Identity

    /// The source an `Authorization: Bearer` header belongs to.
    func authenticate(_ authorization: String?) async throws -> RegisteredSource {
        guard let apiKey = APIKey.bearer(authorization) else {
            throw Problem.unauthenticated("send the source's API key as `Authorization: Bearer <key>`")
        }
        guard let source = try await db({ try SourceRegistry(connection: $0).authenticate(apiKey: apiKey) }) else {
            throw Problem.unauthenticated("the API key is unknown or its source is revoked")
        }
        return source
    }

    /// Runs `body` on a pooled connection; a connection failure becomes a 503.
    func db<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        do {
            return try await database.run(body)
        } catch let error as PostgresError where error.isTransient {
            logger.error("postgres unavailable", metadata: ["code": "\(error.code)"])
            throw Problem.databaseUnavailable("the gateway's database cannot be reached; retry later")
        }
    }

    func takeRate(_ count: Int, for source: RegisteredSource) throws {
        if let wait = limiter.take(count, source: source.id, eventsPerSecond: source.eventsPerSecond) {
            Counter(label: "mekong_gateway_rate_limited_total").increment()
            var problem = Problem(.rateLimited, "Too many events",
                detail: "source \(source.id) may send \(source.eventsPerSecond) events per second; retry after \(wait) s")
            problem.retryAfter = wait
            throw problem
        }
    }

    // MARK: - Readiness

    /// Whether Kafka (a metadata request) and PostgreSQL (a query) answer, with what each said.
    public func readiness() async -> (ready: Bool, kafka: String, postgres: String) {
        let kafka: String
        do {
            let brokers = try await admin.brokers(timeout: .seconds(2))
            kafka = brokers.isEmpty ? "no brokers" : "ok"
        } catch {
            kafka = error.description
        }
        let postgres: String
        do {
            _ = try await database.run { try $0.query("SELECT 1") }
            postgres = "ok"
        } catch {
            postgres = "unreachable"
        }
        return (kafka == "ok" && postgres == "ok", kafka, postgres)
    }
}

/// `transform` applied to every element, in order, the work split over the machine's cores: for the per-event
/// Ed25519 work of a batch (checking a signature takes ~70 µs, signing a receipt ~15 µs).
func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @escaping @Sendable (T) -> R) async -> [R] {
    let parts = min(items.count / 16 + 1, ProcessInfo.processInfo.activeProcessorCount)
    guard parts > 1 else { return items.map(transform) }
    let size = (items.count + parts - 1) / parts
    return await withTaskGroup(of: (Int, [R]).self) { group in
        for part in 0..<parts {
            let slice = Array(items[(part * size)..<min(items.count, (part + 1) * size)])
            group.addTask { (part, slice.map(transform)) }
        }
        var results = [[R]](repeating: [], count: parts)
        for await (part, mapped) in group { results[part] = mapped }
        return results.flatMap { $0 }
    }
}

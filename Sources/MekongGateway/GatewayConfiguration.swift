import MekongCatalog
import MekongEvidence
import MekongKafka
import MekongMetrics

/// Everything `mekong gateway` needs: where to listen, Kafka and PostgreSQL, the catalog, the receipt key, limits.
public struct GatewayConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (read it back from ``GatewayServer/port``).
    public var port: Int
    public var postgres: String
    public var kafka: KafkaConfiguration
    public var catalog: Catalog
    /// The key receipts are signed with (and events the gateway builds itself, from plain reports and survey rows).
    public var key: SigningKey

    /// The largest body of `POST /v1/events`.
    public var maxEventsBodyBytes = 8 << 20
    /// The largest body of `POST /v1/reports`.
    public var maxReportBodyBytes = 1 << 20
    /// The largest survey batch (streamed; never held whole in memory).
    public var maxSurveyBodyBytes = 1 << 30
    /// The most events in one batch.
    public var maxBatchEvents = 1_000
    /// The deepest JSON nesting accepted from a client.
    public var maxJSONDepth = 32
    /// Rows per survey chunk event.
    public var surveyRowsPerChunk = 2_000
    /// How long Kafka may take to confirm a write before the gateway answers 503.
    public var deliveryTimeout: Duration = .seconds(15)
    /// Threads (and at most as many connections) for PostgreSQL.
    public var databaseThreads = 4
    /// Where the process stops itself on purpose, for crash tests only (`MEKONG_GATEWAY_CRASH_AT`); nil in service.
    public var crashPoint: CrashPoint?
    /// HTTPS, and with a client CA mutual TLS: each source must then present the certificate registered for it
    /// (`mekong sources set-client-certificate`). Nil: plain HTTP (behind a TLS-terminating proxy only).
    public var tls: ServerTLS?

    /// The two places a crash could duplicate an event (docs/gateway.md, "Crashes and retries").
    public enum CrashPoint: String, Sendable {
        /// Reserved in PostgreSQL, nothing sent to Kafka yet.
        case afterReservation = "after-reservation"
        /// Kafka confirmed the write; the receipt is not stored yet.
        case afterDelivery = "after-delivery"
    }

    public init(
        host: String = "127.0.0.1", port: Int = 8080, postgres: String, kafka: KafkaConfiguration, catalog: Catalog,
        key: SigningKey
    ) {
        self.host = host
        self.port = port
        self.postgres = postgres
        self.kafka = kafka
        self.catalog = catalog
        self.key = key
    }
}

import MekongKafka
import MekongMetrics
import MekongProjection

/// What `mekong console` serves and where. Deny by default: it listens on a loopback address unless mutual TLS
/// admits only holders of an operator certificate.
public struct ConsoleConfiguration: Sendable {
    public var host: String
    /// 0: any free port.
    public var port: Int
    public var postgres: String
    public var kafka: KafkaConfiguration
    public var tls: ServerTLS?
    /// The topics a projection version reads (for its lag over every partition, those never applied included).
    public var topics: @Sendable (ProjectionIdentity) -> [String]
    /// The topics the live tail offers.
    public var tailTopics: [String]

    public init(
        host: String = "127.0.0.1", port: Int = 8070, postgres: String, kafka: KafkaConfiguration, tls: ServerTLS? = nil,
        topics: @escaping @Sendable (ProjectionIdentity) -> [String], tailTopics: [String]
    ) {
        self.host = host
        self.port = port
        self.postgres = postgres
        self.kafka = kafka
        self.tls = tls
        self.topics = topics
        self.tailTopics = tailTopics
    }

    /// Refuses an address others can reach unless every client must present a certificate the client CA signed.
    public func validate() throws(ConsoleError) {
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
        guard loopback || tls?.requiresClientCertificate == true else {
            throw ConsoleError(message: """
                the console shows every source, dead letter and event: it listens on a loopback address (reach it \
                through an SSH tunnel), or on \(host) only with --tls-certificate, --tls-key and --tls-client-ca \
                (operators' client certificates)
                """)
        }
    }
}

/// Why the console cannot start or answer.
public struct ConsoleError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { "console: \(message)" }
}

import ArgumentParser
import Foundation
import Logging
import MekongEvidence
import MekongGateway
import MekongPostgres

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run the ingestion gateway: the REST API for source systems (docs/gateway.md).",
        discussion: """
            Serves openapi.yaml's routes on --host:--port. Sources must be registered first (`mekong sources add`). \
            Receipts are signed with --key, which is created on first start if the file does not exist; give its \
            .pub file to sources so that they can verify receipts offline (`mekong receipt verify`). Master-data \
            checks read the statistics projection in the same database. SIGINT/SIGTERM stop it gracefully.
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8080
    @Option(help: "The gateway's Ed25519 key file (created with its .pub beside it if missing).")
    var key = GatewayCommand.defaultKeyPath
    @Option(help: "Seconds Kafka may take to confirm a write before the answer is 503.") var deliveryTimeout = 15
    @Option(help: "Largest batch, in events.") var maxBatchEvents = 1_000
    @OptionGroup var tls: TLSOptions

    static var defaultKeyPath: String { Keys.stateDirectory + "/gateway/gateway.key" }

    func run() async throws {
        let settings = try connection.resolve()
        let signingKey = try Keys.loadOrCreate(at: key, role: "gateway: receipt key")
        try Gateway.prepare(postgres: settings.postgres, migrations: try Resources.migrations())
        var configuration = GatewayConfiguration(
            host: host, port: port, postgres: settings.postgres, kafka: try settings.kafka(),
            catalog: try Resources.catalog(), key: signingKey)
        configuration.deliveryTimeout = .seconds(deliveryTimeout)
        configuration.maxBatchEvents = maxBatchEvents
        configuration.tls = tls.serverTLS
        if let point = ProcessInfo.processInfo.environment["MEKONG_GATEWAY_CRASH_AT"] {
            guard let crashPoint = GatewayConfiguration.CrashPoint(rawValue: point) else {
                throw ValidationError("MEKONG_GATEWAY_CRASH_AT must be after-reservation or after-delivery")
            }
            configuration.crashPoint = crashPoint
            printError("gateway: MEKONG_GATEWAY_CRASH_AT=\(point): this process exits at that point of its first write (crash tests only)")
        }
        let gateway = try Gateway(configuration: configuration)
        let server = try await GatewayServer.start(gateway, stopOnSignals: true)
        printError("gateway: listening on \(tls.scheme)://\(host):\(server.port) (receipt key \(signingKey.keyId)"
            + (tls.clientCA == nil ? "" : "; client certificates required") + "); openapi at /openapi.yaml")
        await server.wait()
        await gateway.shutdown()
    }

}

struct SourcesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources", abstract: "Register and manage the source systems that may publish through the gateway.",
        subcommands: [Add.self, List.self, Revoke.self, RotateKey.self, SetClientCertificate.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a source; prints its API key once (stored only as a hash).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Source id, e.g. ctk-hanoi (lowercase letters, digits, . _ -).") var id: String
        @Option(help: "The CloudEvents `source` its events carry, e.g. urn:vn:gso:province:01.") var uri: String
        @Option(help: "Its Ed25519 public key file (.pub from `mekong keys generate`).") var publicKey: String
        @Option(name: .customLong("type"), help: "An event type it may publish (repeat). Deny by default.")
        var types: [String] = []
        @Option(name: .customLong("unit"), help: "A reporting unit it may report for: CODE, PREFIX*, or * (repeat).")
        var units: [String] = []
        @Option(name: .customLong("area"), help: "An area it may report on: CODE or PREFIX* (repeat; none: any area).")
        var areas: [String] = []
        @Option(help: "Rate limit, events per second (bursts up to twice that).") var rate = 1_000
        @Option(help: "Also write the API key to this file (mode 0600) instead of only printing it.")
        var apiKeyOut: String?

        func run() throws {
            let key = try VerifyingKey(contentsOf: URL(fileURLWithPath: publicKey))
            let apiKey = try withRegistry(connection) { registry in
                try registry.add(id: id, uri: uri, key: key, eventTypes: types, units: units, areas: areas,
                                 eventsPerSecond: rate)
            }
            try reveal(apiKey, to: apiKeyOut, for: id)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered sources and their scopes.")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let sources = try withRegistry(connection) { try $0.list() }
            for source in sources {
                print("\(source.id)\t\(source.uri)\t\(source.revokedAt.map { "REVOKED \($0)" } ?? "active")")
                print("  types: \(source.eventTypes.joined(separator: ", "))")
                print("  units: \(source.units.isEmpty ? "(none)" : source.units.joined(separator: ", "))"
                      + "  areas: \(source.areas.isEmpty ? "(any)" : source.areas.joined(separator: ", "))"
                      + "  rate: \(source.eventsPerSecond)/s")
                print("  keys: \(source.keys.map(\.keyId).joined(separator: ", "))")
                if let certificate = source.clientCertificateSHA256 { print("  client certificate: SHA-256 \(certificate)") }
            }
            if sources.isEmpty { print("no sources registered") }
        }
    }

    struct SetClientCertificate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-client-certificate",
            abstract: "Register the client certificate a source must present when the gateway requires mutual TLS.",
            discussion: """
                Stores the SHA-256 fingerprint of the certificate's DER form (printed); the gateway started with \
                --tls-client-ca then accepts the source's API key only over a connection presenting this \
                certificate. A new certificate replaces the old one at once; --remove drops it.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: String
        @Argument(help: "The source's client certificate, PEM.") var certificate: String?
        @Flag(help: "Remove the registered certificate instead.") var remove = false

        func validate() throws {
            guard remove == (certificate == nil) else {
                throw ValidationError("give the certificate file, or --remove (not both)")
            }
        }

        func run() throws {
            let fingerprint = try certificate.map { try ClientCertificate.fingerprint(pemFile: $0) }
            try withRegistry(connection) { try $0.setClientCertificate(id: id, sha256: fingerprint) }
            print(fingerprint.map { "\(id): client certificate SHA-256 \($0)" } ?? "\(id): no client certificate")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a source: its API key stops working at once.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: String

        func run() throws {
            try withRegistry(connection) { try $0.revoke(id: id) }
            print("revoked \(id)")
        }
    }

    struct RotateKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Issue a new API key (the old one stops working) and optionally replace the signing key.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: String
        @Option(help: "A new Ed25519 public key file; the old key is retired (kept for old signatures).")
        var publicKey: String?
        @Option(help: "Also write the new API key to this file (mode 0600).") var apiKeyOut: String?

        func run() throws {
            let key = try publicKey.map { try VerifyingKey(contentsOf: URL(fileURLWithPath: $0)) }
            let apiKey = try withRegistry(connection) { try $0.rotate(id: id, signingKey: key) }
            try reveal(apiKey, to: apiKeyOut, for: id)
        }
    }
}

private func withRegistry<T>(_ options: ConnectionOptions, _ body: (SourceRegistry) throws -> T) throws -> T {
    let settings = try options.resolve()
    try Gateway.prepare(postgres: settings.postgres, migrations: try Resources.migrations())
    let connection = try PostgresConnection(url: settings.postgres)
    defer { connection.close() }
    do {
        return try body(SourceRegistry(connection: connection))
    } catch let error as SourceRegistryError {
        throw ValidationError(error.description)
    }
}

/// Prints a new API key once, or writes it to `file` (mode 0600): sources and readers alike.
func reveal(_ apiKey: String, to file: String?, for id: String) throws {
    if let file {
        guard FileManager.default.createFile(
            atPath: file, contents: Data((apiKey + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw ValidationError("cannot write \(file)") }
        print("API key of \(id) written to \(file) (it is not stored anywhere else)")
    } else {
        print("API key of \(id) (shown once; it is stored only as a hash):\n\(apiKey)")
    }
}

import ArgumentParser
import MekongAccess
import MekongPostgres
import MekongReadAPI

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the read API: the indicator tables over HTTP (docs/read-api.md).",
        discussion: """
            Serves openapi.yaml's routes on --host:--port from the statistics projection in --postgres (its public \
            schema; the server writes nothing there). A process of its own: it can face the public while the \
            gateway stays internal. Anonymous readers get published data only, within a quota per address; \
            readers registered with `mekong readers add` send their key as `Authorization: Bearer <key>`. \
            SIGINT/SIGTERM stop it gracefully.
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8090
    @Option(help: "Queries that may run at once.") var databaseThreads = 8
    @Option(help: "Requests an anonymous client (one address) may make per hour.") var anonymousPerHour = 1_000
    @Option(help: "Requests an anonymous client may make per day.") var anonymousPerDay = 10_000
    @OptionGroup var tls: TLSOptions

    func run() async throws {
        guard anonymousPerHour > 0, anonymousPerDay > 0 else {
            throw ValidationError("--anonymous-per-hour and --anonymous-per-day must be positive")
        }
        let settings = try connection.resolve()
        try withReaders(connection) { _ in }  // creates or upgrades the readers schema
        var configuration = ReadAPIConfiguration(
            host: host, port: port, postgres: settings.postgres, databaseThreads: databaseThreads,
            anonymousQuota: Quotas.Limits(perHour: anonymousPerHour, perDay: anonymousPerDay))
        configuration.tls = tls.serverTLS
        let server = try await ReadAPIServer.start(configuration, stopOnSignals: true)
        printError("read api: listening on \(tls.scheme)://\(host):\(server.port); openapi at /openapi.yaml")
        await server.wait()
    }
}

struct ReadersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "readers", abstract: "Register and manage the read API's readers: keys, scopes, quotas.",
        subcommands: [Add.self, List.self, Revoke.self, RotateKey.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a reader; prints its API key once (stored only as a hash).",
            discussion: """
                Beyond published data, the key opens the values of the --indicator codes for the --area codes and \
                every area below them, confidential ones included. Deny by default: both are required; * means all.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Reader id, e.g. mof-dashboard (lowercase letters, digits, . _ -).") var id: String
        @Option(name: .customLong("indicator"), help: "An indicator it may read in full, or * (repeat).")
        var indicators: [String] = []
        @Option(name: .customLong("area"), help: "An area it may read in full with everything below it, or * (repeat).")
        var areas: [String] = []
        @Option(help: "Requests per hour.") var perHour = 10_000
        @Option(help: "Requests per day.") var perDay = 100_000
        @Flag(help: "Also see periods before their release time (the release calendar's embargo scope).")
        var embargo = false
        @Option(help: "Also write the API key to this file (mode 0600) instead of only printing it.")
        var apiKeyOut: String?

        func run() throws {
            let apiKey = try withReaders(connection) { registry in
                try registry.add(
                    id: id, indicators: indicators, areas: areas, quota: Quotas.Limits(perHour: perHour, perDay: perDay),
                    embargo: embargo)
            }
            try reveal(apiKey, to: apiKeyOut, for: id)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered readers, their scopes and quotas.")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let readers = try withReaders(connection) { try $0.list() }
            for reader in readers {
                print("\(reader.id)\t\(reader.revoked ? "REVOKED" : "active")")
                print("  indicators: \(reader.indicators.joined(separator: ", "))  areas: \(reader.areas.joined(separator: ", "))"
                      + "  quota: \(reader.quota.perHour)/hour, \(reader.quota.perDay)/day"
                      + (reader.embargo ? "  embargo: yes" : ""))
            }
            if readers.isEmpty { print("no readers registered") }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a reader: its API key stops working at once.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: String

        func run() throws {
            try withReaders(connection) { try $0.revoke(id: id) }
            print("revoked \(id)")
        }
    }

    struct RotateKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key", abstract: "Issue a new API key; the old one stops working at once.")
        @OptionGroup var connection: ConnectionOptions
        @Argument var id: String
        @Option(help: "Also write the new API key to this file (mode 0600).") var apiKeyOut: String?

        func run() throws {
            let apiKey = try withReaders(connection) { try $0.rotate(id: id) }
            try reveal(apiKey, to: apiKeyOut, for: id)
        }
    }
}

private func withReaders<T>(_ options: ConnectionOptions, _ body: (ReaderRegistry) throws -> T) throws -> T {
    let connection = try PostgresConnection(url: try options.resolve().postgres)
    defer { connection.close() }
    try ReaderRegistry.prepare(connection, migrations: try Resources.migrations())
    do {
        return try body(ReaderRegistry(connection: connection))
    } catch let error as ReaderRegistryError {
        throw ValidationError(error.description)
    }
}

import ArgumentParser
import MekongConsole
import MekongProjection

struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Serve the operators' live console: projections and lag, dead letters, sources, a topic's live tail.",
        discussion: """
            A web page (docs/operations.md, "The live console") refreshed every 2 s, with a live tail of any topic \
            filtered by type and source (server-sent events). It only reads. Deny by default: it listens on a \
            loopback address (reach it through an SSH tunnel), or on another only with mutual TLS \
            (--tls-certificate, --tls-key and --tls-client-ca: operators' client certificates).
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Address to listen on (loopback unless --tls-client-ca).") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8070
    @OptionGroup var tls: TLSOptions

    func run() async throws {
        let settings = try connection.resolve()
        let catalog = try Resources.catalog()
        let configuration = ConsoleConfiguration(
            host: host, port: port, postgres: settings.postgres, kafka: try settings.kafka(), tls: tls.serverTLS,
            topics: { KnownProjections.topics(of: $0.name, version: $0.version, catalog: catalog) },
            tailTopics: catalog.topics.map(\.name).sorted())
        let server: ConsoleServer
        do {
            server = try await ConsoleServer.start(configuration, stopOnSignals: true)
        } catch let error as ConsoleError {
            throw ValidationError(error.message)
        }
        printError("console: listening on \(tls.scheme)://\(host):\(server.port)")
        await server.wait()
    }
}

import ArgumentParser
import MekongReadAPI

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the read API: the indicator tables over HTTP (docs/read-api.md).",
        discussion: """
            Serves openapi.yaml's routes on --host:--port from the statistics projection in --postgres (its public \
            schema, read-only). A process of its own: it can face the public while the gateway stays internal. \
            Anonymous readers get published data only. SIGINT/SIGTERM stop it gracefully.
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8090
    @Option(help: "Queries that may run at once.") var databaseThreads = 8

    func run() async throws {
        let settings = try connection.resolve()
        let server = try await ReadAPIServer.start(
            ReadAPIConfiguration(host: host, port: port, postgres: settings.postgres, databaseThreads: databaseThreads),
            stopOnSignals: true)
        printError("read api: listening on http://\(host):\(server.port); openapi at /openapi.yaml")
        await server.wait()
    }
}

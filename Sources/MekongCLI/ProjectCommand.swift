import ArgumentParser
import Logging
import MekongPostgres
import MekongProjection

struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Run a projector: keep a projection version up to date with its topics.",
        discussion: """
            Runs until SIGINT or SIGTERM, which finish the current batch and exit cleanly. Each batch, its dead \
            letters and its checkpoints commit in one transaction; a restart resumes from the checkpoints in \
            PostgreSQL. Without --version, runs the active version (or the newest defined, which becomes active \
            once it has caught up if no version is active yet). Projections: \(KnownProjections.names.joined(separator: ", ")).
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var engine: EngineOptions
    @Argument(help: "The projection, e.g. audit.") var name: String
    @Option(help: "The projection version (default: the active one).") var version: Int?
    @Flag(help: "Exit once every partition is applied up to its end.") var stopWhenCaughtUp = false

    func run() throws {
        let settings = try connection.resolve()
        let catalog = try Resources.catalog()
        let version = try self.version ?? {
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            return try KnownProjections.defaultVersion(name, db: db, migrations: try Resources.migrations())
        }()
        let projection = try KnownProjections.make(name, version: version, catalog: catalog)
        var options = engine.options()
        options.stopWhenCaughtUp = stopWhenCaughtUp
        let metrics = try MetricsEndpoint.start(host: engine.metricsHost, port: engine.metricsPort)
        defer { metrics?.stop() }
        let stop = StopSignal()
        Signals.stopOnTermination(stop)
        printError("projector \(projection.identity): \(projection.topics.joined(separator: ", ")) into \(ConnectionString.redacted(settings.postgres))")
        let summary = try runEngine(projection, settings: settings, options: options, stop: stop)
        print("projector \(projection.identity): \(describe(summary))" + (summary.activated ? "; now the active version" : ""))
    }
}

import ArgumentParser
import Logging
import MekongAudit
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
        let metrics = try MetricsEndpoint.start(port: engine.metricsPort)
        defer { metrics?.stop() }
        let stop = StopSignal()
        Signals.stopOnTermination(stop)
        printError("projector \(projection.identity): \(projection.topics.joined(separator: ", ")) into \(ConnectionString.redacted(settings.postgres))")
        let summary = try runEngine(projection, settings: settings, options: options, stop: stop)
        print("projector \(projection.identity): \(describe(summary))" + (summary.activated ? "; now the active version" : ""))
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the audit trail.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every event hash and chain link; name the first bad row (exit code 1 if any).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The audit trail version (default: the active one).") var version: Int?

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let version = try self.version ?? KnownProjections.defaultVersion(AuditTrail.name, db: db, migrations: try Resources.migrations())
            let result = try AuditVerifier(db: db, version: version).verify()
            if let first = result.firstBadRow {
                print("audit trail BROKEN: first bad row \(first)")
                for finding in result.findings.dropFirst() { print("  also: \(finding)") }
                print("checked \(result.rowsChecked) rows in \(result.partitionsChecked) partitions; \(result.findings.count) finding(s)")
                throw ExitCode.failure
            }
            print("audit trail v\(version) intact: \(result.rowsChecked) events in \(result.partitionsChecked) partitions, every hash and chain link verified")
        }
    }
}

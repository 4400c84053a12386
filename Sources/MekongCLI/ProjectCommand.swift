import ArgumentParser
import Logging
import MekongAudit
import MekongPostgres

struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Run a projector.", subcommands: [Audit.self])

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record every event of every event topic in the audit trail (audit_v1.events).",
            discussion: """
                Runs until SIGINT or SIGTERM, which finish the current batch and exit cleanly. Each batch and its \
                checkpoint commit in one transaction; a restart resumes from the checkpoint in PostgreSQL.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Records per transaction.") var batchSize = 1_000
        @Option(help: "Milliseconds a poll waits for a batch to fill.") var batchWaitMs = 250
        @Flag(help: "Exit once every partition is recorded up to its end.") var stopWhenCaughtUp = false

        func run() throws {
            let settings = try connection.resolve()
            let catalog = try Resources.catalog()
            var options = AuditProjectorOptions(topics: catalog.eventTopics.map(\.name))
            options.batchSize = batchSize
            options.batchWait = .milliseconds(batchWaitMs)
            options.stopWhenCaughtUp = stopWhenCaughtUp
            let projector = AuditProjector(
                kafka: try settings.kafka(), postgresURL: settings.postgres, migrations: try Resources.migrations(),
                options: options)
            let stop = StopSignal()
            Signals.stopOnTermination(stop)
            printError("audit projector: recording \(options.topics.joined(separator: ", ")) into \(ConnectionString.redacted(settings.postgres))")
            let summary = try projector.run(stop: stop)
            print("audit projector: recorded \(summary.recorded) events in \(summary.batches) batches"
                  + (summary.skippedAlreadyRecorded > 0 ? " (\(summary.skippedAlreadyRecorded) already recorded)" : "")
                  + (summary.transientFaults > 0 ? "; recovered from \(summary.transientFaults) transient faults" : ""))
        }
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the audit trail.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every event hash and chain link; name the first bad row (exit code 1 if any).")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let result = try AuditVerifier(db: db).verify()
            if let first = result.firstBadRow {
                print("audit trail BROKEN: first bad row \(first)")
                for finding in result.findings.dropFirst() { print("  also: \(finding)") }
                print("checked \(result.rowsChecked) rows in \(result.partitionsChecked) partitions; \(result.findings.count) finding(s)")
                throw ExitCode.failure
            }
            print("audit trail intact: \(result.rowsChecked) events in \(result.partitionsChecked) partitions, every hash and chain link verified")
        }
    }
}

import ArgumentParser
import Foundation
import MekongAudit
import MekongCatalog
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongStatistics

/// The projections this installation can run, by name. Adding one: a type conforming to `Projection`, its SQL
/// in Projections/<name>/v<N>/, and a line here.
enum KnownProjections {
    static let names = [AuditTrail.name, StatisticsProjection.name, RegistersProjection.name, SurveysProjection.name]

    /// The projection `name` at `version`, reading its topics from the catalog.
    static func make(_ name: String, version: Int, catalog: Catalog) throws -> any Projection {
        switch name {
        case AuditTrail.name:
            // From v4 the trail signs tree heads with the audit key (docs/audit-trail.md, "Signed tree heads").
            let key = version >= 4 ? try Keys.loadOrCreate(at: Keys.auditKeyPath, role: "audit: tree-head key") : nil
            return try AuditTrail(topics: catalog.eventTopics.map(\.name), version: version, headKey: key)
        case StatisticsProjection.name: return StatisticsProjection(version: version)
        case RegistersProjection.name: return RegistersProjection(version: version)
        case SurveysProjection.name: return SurveysProjection(version: version)
        default:
            throw ValidationError("unknown projection '\(name)' (known: \(names.joined(separator: ", ")))")
        }
    }

    /// The topics projection `name` reads, without building it: the audit trail's key is neither read nor created.
    static func topics(of name: String, version: Int, catalog: Catalog) -> [String] {
        switch name {
        case AuditTrail.name: return catalog.eventTopics.map(\.name)
        default: return (try? make(name, version: version, catalog: catalog))?.topics ?? []
        }
    }

    /// The upcasters of this installation's event types.
    static let upcasters = StatisticsUpcasters.all

    /// The versions of `name` that have SQL in Projections/, ascending.
    static func definedVersions(_ name: String, migrations: MigrationRunner) -> [Int] {
        let directory = migrations.directory.appendingPathComponent(name)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return entries.compactMap { $0.hasPrefix("v") ? Int($0.dropFirst()) : nil }.sorted()
    }

    /// The version to run when none is given: the active one, else the newest defined.
    static func defaultVersion(_ name: String, db: PostgresConnection, migrations: MigrationRunner) throws -> Int {
        if let active = try ProjectionVersions(db: db).activeVersion(of: name) { return active }
        guard let newest = definedVersions(name, migrations: migrations).last else {
            throw ValidationError("projection '\(name)' has no SQL in \(migrations.directory.path)/\(name)/v<N>/")
        }
        return newest
    }
}

/// Options shared by the commands that run the engine.
struct EngineOptions: ParsableArguments {
    @Option(help: "Records per transaction.") var batchSize = 5_000
    @Option(help: "Milliseconds a poll waits for a first record; a batch is what has arrived, up to --batch-size.") var batchWaitMs = 100
    @Option(help: "Serve Prometheus metrics on this port at /metrics (0 = off).") var metricsPort = 0
    @Option(help: "Address the metrics endpoint listens on (0.0.0.0 in a container, for Prometheus to reach it).")
    var metricsHost = "127.0.0.1"
    @Option(help: "How this instance names itself to PostgreSQL and to standbys (default: host:pid).")
    var instanceName: String?
    @Option(help: """
        Milliseconds after which a hung or stopped projector loses its lease to a standby and the server ends its         open transaction.
        """)
    var hangTimeoutMs = 15_000

    func validate() throws {
        guard hangTimeoutMs >= 1_000 else { throw ValidationError("--hang-timeout-ms must be at least 1000") }
    }

    func options() -> ProjectionOptions {
        var options = ProjectionOptions()
        options.batchSize = batchSize
        options.batchWait = .milliseconds(batchWaitMs)
        if let instanceName { options.instanceName = instanceName }
        options.timeouts.lease = .milliseconds(hangTimeoutMs)
        options.timeouts.idleInTransaction = .milliseconds(hangTimeoutMs)
        options.timeouts.lock = .milliseconds(min(5_000, hangTimeoutMs / 2))
        return options
    }
}

/// Runs `projection` on the engine until it returns.
func runEngine<P: Projection>(
    _ projection: P, settings: Settings, options: ProjectionOptions, stop: StopSignal
) throws -> ProjectionRunSummary {
    let engine = ProjectionEngine(
        projection: projection, kafka: try settings.kafka(), postgresURL: settings.postgres,
        migrations: try Resources.migrations(),
        reader: EventReader(catalog: try Resources.catalog(), upcasters: KnownProjections.upcasters), options: options)
    return try engine.run(stop: stop)
}

func describe(_ summary: ProjectionRunSummary) -> String {
    var text = "applied \(summary.applied) events in \(summary.batches) batches"
    if summary.deadLettered > 0 { text += "; dead-lettered \(summary.deadLettered)" }
    if summary.skippedAlreadyApplied > 0 { text += " (\(summary.skippedAlreadyApplied) already applied)" }
    if summary.transientFaults > 0 { text += "; recovered from \(summary.transientFaults) transient faults" }
    if summary.committedDespiteFault > 0 {
        text += " (\(summary.committedDespiteFault) records were committed although the answer to COMMIT was lost)"
    }
    return text
}

import ArgumentParser
import MekongAudit
import MekongCatalog
import MekongEvents
import MekongEvidence
import Foundation
import MekongKafka
import MekongProjection
import MekongPostgres

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the audit trail and copy its signed tree heads out of the database.",
        subcommands: [Verify.self, PublishHeads.self, Export.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the audit trail (v4: rows and signed tree heads) as newline-delimited JSON, for offline checking.",
            discussion: """
                One line per row, {"row": {topic, partition, offset, eventBytes (base64), eventHash, recordedMicros, \
                problem, previousChainHash, chainHash}}, in (topic, partition, offset) order, then one per head, \
                {"head": SignedTreeHead}. ops/audit-verify-export.py checks it with nothing but the audit key's public \
                file (docs/audit-trail.md, "Checking an export offline").
                """)
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The audit trail version (default: the active one).") var version: Int?
        @Option(help: "Where to write the export.") var out: String

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let version = try self.version ?? KnownProjections.defaultVersion(AuditTrail.name, db: db, migrations: try Resources.migrations())
            guard version >= 4 else { throw ValidationError("audit v\(version) has no signed tree heads to export (v4 and later do)") }
            guard FileManager.default.createFile(atPath: out, contents: nil),
                let file = FileHandle(forWritingAtPath: out)
            else { throw ValidationError("cannot create \(out)") }
            defer { try? file.close() }
            let counts = try AuditExport.write(from: db, version: version) { line in
                try file.write(contentsOf: Data((JSON.serialize(line) + "\n").utf8))
            }
            print("audit v\(version): \(counts.rows) rows and \(counts.heads) signed tree heads written to \(out)")
        }
    }

    struct PublishHeads: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "publish-heads",
            abstract: "Copy the audit trail's signed tree heads that the audit-heads topic lacks to it (acks=all).",
            discussion: "Run it after the audit projector, e.g. every minute. `mekong audit verify --log` then checks "
                + "the database's heads against the topic's copy. See docs/audit-trail.md, \"Signed tree heads\".")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The audit trail version (default: the active one).") var version: Int?

        func run() async throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let version = try self.version ?? KnownProjections.defaultVersion(AuditTrail.name, db: db, migrations: try Resources.migrations())
            guard version >= 4 else { throw ValidationError("audit v\(version) has no signed tree heads (v4 and later do)") }
            let kafka = try settings.kafka()
            let stored = try AuditHeadsTopic.stored(in: db, version: version)
            guard let held = try AuditHeadsTopic.read(configuration: kafka) else {
                throw ValidationError("the cluster has no \(AuditHeadsTopic.name) topic: create it with `mekong topics apply`")
            }
            let missing = AuditHeadsTopic.missing(stored, from: held.heads)
            try await AuditHeadsTopic.publish(missing, configuration: kafka)
            print("audit v\(version): \(missing.count) signed tree heads published to \(AuditHeadsTopic.name), "
                + "\(stored.count - missing.count) were there already")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every row, hash and chain link of the audit trail against its checkpoints (and with --log, "
                + "against the log); name the first bad row (exit code 1 if any).",
            discussion: """
                Without --log, verify proves that the trail is consistent: every row with its hash, its chain and \
                its chain head, and the rows with the checkpoints in mekong.checkpoints. With --log it also reads \
                every partition of the audit's topics from Kafka (the cluster from --kafka, the configuration or \
                `mekong dev`) and compares each record with its row: only that finds a trail rewritten \
                consistently. See docs/audit-trail.md.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The audit trail version (default: the active one).") var version: Int?
        @Flag(help: "Also compare every row with its record in the Kafka log.") var log = false
        @Option(help: "From v4: the audit key's public file (.pub) the tree heads must verify with (default: the .pub beside MEKONG_AUDIT_KEY or the installation's audit key).")
        var auditKey: String?
        @Option(help: """
            Also write the outcome as Prometheus text to this file (replaced whole), for node_exporter's textfile \
            collector: mekong_audit_verify_ok (1 intact, 0 a finding) and mekong_audit_verify_last_run_timestamp_seconds. \
            A run that cannot finish (database or Kafka unreachable) leaves the file as it was.
            """)
        var metricsFile: String?

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let version = try self.version ?? KnownProjections.defaultVersion(AuditTrail.name, db: db, migrations: try Resources.migrations())
            let catalog = try Resources.catalog()
            let topics = catalog.eventTopics.map(\.name)
            var headKey: VerifyingKey?
            if version >= 4 {
                let path = auditKey ?? URL(fileURLWithPath: Keys.auditKeyPath).deletingPathExtension().path + ".pub"
                headKey = try VerifyingKey(contentsOf: URL(fileURLWithPath: path))
            }
            let kafka = log ? try settings.kafka() : nil
            // With the log, the heads' copy out of the database too.
            let published = try kafka.flatMap { version >= 4 ? try AuditHeadsTopic.read(configuration: $0)?.heads : nil }
            let result = try AuditVerifier(
                db: db, version: version, expectedPartitions: catalog.partitions(of: topics), log: kafka,
                reader: EventReader(catalog: catalog, upcasters: KnownProjections.upcasters), headKey: headKey,
                publishedHeads: published
            ).verify()
            var extras = ""
            if result.deadLetters > 0 {
                extras += "; \(result.deadLetters) offsets are dead letters, not rows (mekong dlq list --projection audit)"
            }
            if result.comparedWithLog {
                extras += "; \(result.logRecordsCompared) log records compared"
                if result.logRecordsNotYetRecorded > 0 {
                    extras += ", \(result.logRecordsNotYetRecorded) not yet recorded (lag)"
                }
                if let published {
                    extras += ", \(published.count) heads of the \(AuditHeadsTopic.name) topic compared"
                } else if version >= 4 {
                    extras += "; the cluster has no \(AuditHeadsTopic.name) topic: no copy of the heads to compare"
                }
                if result.rowsOlderThanLog > 0 {
                    extras += ", \(result.rowsOlderThanLog) rows older than the log's retention (not compared)"
                }
            }
            if let metricsFile {
                try AuditVerifyMetrics(intact: result.firstBadRow == nil, eventsChecked: result.rowsChecked, version: version)
                    .write(to: metricsFile)
            }
            if let first = result.firstBadRow {
                print("audit trail BROKEN: first bad row \(first)")
                for finding in result.findings.dropFirst() { print("  also: \(finding)") }
                print("checked \(result.rowsChecked) rows in \(result.partitionsChecked) partitions and "
                    + "\(result.checkpointsChecked) checkpoints\(extras); \(result.findings.count) finding(s)")
                throw ExitCode.failure
            }
            print("audit trail v\(version) intact: \(result.rowsChecked) events in \(result.partitionsChecked) partitions, "
                + "every hash and chain link verified, \(result.treeHeadsChecked) signed tree heads hold, "
                + "\(result.checkpointsChecked) checkpoints agree\(extras)")
        }
    }
}

extension Catalog {
    /// Every partition of these topics, as the catalog defines them (the partitions an audit trail must cover).
    func partitions(of topics: [String]) -> [TopicPartition] {
        topics.flatMap { name in
            (0..<(topic(named: name)?.partitions ?? 0)).map { TopicPartition(topic: name, partition: Int32($0)) }
        }
    }
}

/// What `mekong audit verify --metrics-file` writes: Prometheus text exposition for node_exporter's textfile collector.
struct AuditVerifyMetrics {
    let intact: Bool
    let eventsChecked: Int
    let version: Int
    var time = Date()

    var text: String {
        """
        # HELP mekong_audit_verify_ok 1 if the last audit verification found the trail intact, 0 if it found a problem.
        # TYPE mekong_audit_verify_ok gauge
        mekong_audit_verify_ok{version="\(version)"} \(intact ? 1 : 0)
        # HELP mekong_audit_verify_events_checked Events (rows) the last audit verification checked.
        # TYPE mekong_audit_verify_events_checked gauge
        mekong_audit_verify_events_checked{version="\(version)"} \(eventsChecked)
        # HELP mekong_audit_verify_last_run_timestamp_seconds When the last audit verification finished (Unix time).
        # TYPE mekong_audit_verify_last_run_timestamp_seconds gauge
        mekong_audit_verify_last_run_timestamp_seconds{version="\(version)"} \(Int64(time.timeIntervalSince1970))

        """
    }

    /// Replaces `path` whole (written beside it, then renamed), so that a scrape never reads half a file.
    func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        try Data(text.utf8).write(to: partial)
        guard rename(partial.path, url.path) == 0 else {
            throw ValidationError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}

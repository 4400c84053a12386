import ArgumentParser
import Foundation
import MekongArchive
import MekongCatalog
import MekongKafka
import MekongPostgres

struct ArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Back the log up to files, check the copy, and restore it into a new cluster (docs/archive.md).",
        subcommands: [Export.self, Verify.self, Restore.self])

    /// The topics to work on: those named, else every topic of the catalog.
    static func topics(_ named: [String]) throws -> [String] {
        let catalog = try Resources.catalog()
        for name in named where catalog.topic(named: name) == nil {
            throw ValidationError("--topic \(name): the catalog has no such topic (\(catalog.topics.map(\.name).sorted().joined(separator: ", ")))")
        }
        return named.isEmpty ? catalog.topics.map(\.name).sorted() : named
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy every partition's new records to NDJSON segments in DIR, with a SHA-256 manifest.",
            discussion: """
                Incremental: each run continues every partition from the manifest's nextOffset up to the end of the \
                log when it starts, and replaces the manifest after each segment, so an interrupted run is simply \
                run again. DIR may be any mounted file system (a backup disk, an object store mounted with its \
                FUSE driver). Prints one line per run; exit code 1 with the reason if records were lost before \
                they were exported or DIR holds another cluster's archive.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The archive directory (created if missing).") var out: String
        @Option(name: .customLong("topic"), help: "Only this topic (repeat; default: every topic of the catalog).")
        var topics: [String] = []
        @Option(help: "Records per segment file at most.") var segmentRecords = 100_000

        func validate() throws {
            guard segmentRecords > 0 else { throw ValidationError("--segment-records must be at least 1") }
        }

        func run() async throws {
            let settings = try connection.resolve()
            let catalog = try Resources.catalog()
            let partitions = catalog.partitions(of: try ArchiveCommand.topics(topics))
            var exporter = ArchiveExporter(directory: URL(fileURLWithPath: out), configuration: try settings.kafka())
            exporter.segmentRecords = segmentRecords
            let summary = try await OwnThread.run { [exporter] in try exporter.export(partitions) }
            if let cluster = summary.adoptedCluster {
                print("the archive continues on cluster \(cluster), which holds its last record of every partition")
            }
            print("exported \(summary.records) records in \(summary.segments) new segments (\(summary.bytes) bytes) "
                + "from \(summary.partitions) partitions to \(out)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every segment's size and SHA-256 and every record's hash and offset against the manifest.",
            discussion: """
                With --audit, also compares each record of the audited topics with the audit trail's event_hash at \
                the same topic, partition and offset (the database from --postgres). Exit code 1 and the file and \
                line (or partition and offset) of the first fault.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The archive directory.") var directory: String
        @Flag(help: "Also compare every record with the audit trail in PostgreSQL.") var audit = false

        func run() async throws {
            let verifier = ArchiveVerifier(directory: URL(fileURLWithPath: directory))
            var check: ArchiveAuditCheck?
            var db: PostgresConnection?
            if audit {
                let connection = try PostgresConnection(url: try self.connection.resolve().postgres)
                db = connection
                check = ArchiveAuditCheck(connection: connection, audited: Set(try Resources.catalog().eventTopics.map(\.name)))
            }
            defer { db?.close() }
            let auditCheck = UncheckedBox(check)
            let summary = try await OwnThread.run { [verifier] in
                try verifier.verify { partition, record in try auditCheck.value?.check(record, of: partition.topicPartition) }
            }
            var line = "archive intact: \(summary.records) records in \(summary.segments) segments of "
                + "\(summary.partitions) partitions, every hash and offset verified"
            if let check {
                line += "; \(check.matched) records agree with the audit trail"
                if check.notInTrail > 0 { line += ", \(check.notInTrail) not in it (not recorded yet, or dead letters)" }
                if check.notAudited > 0 { line += ", \(check.notAudited) of topics it does not cover" }
            }
            print(line)
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Republish an archive into a new cluster: every record at its offset, with key, headers and timestamp.",
            discussion: """
                Run `mekong topics apply` on the new cluster first. The archive is verified and every target \
                partition checked to be empty before anything is written; then each partition is written in offset \
                order and every record must land at its archived offset (exit code 1 naming the first that does not).
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The archive directory.") var directory: String
        @Option(name: .customLong("topic"), help: "Only this topic (repeat; default: every topic in the archive).")
        var topics: [String] = []

        func run() async throws {
            let settings = try connection.resolve()
            let restorer = ArchiveRestorer(directory: URL(fileURLWithPath: directory), configuration: try settings.kafka())
            let summary = try await restorer.restore(only: topics.isEmpty ? nil : Set(try ArchiveCommand.topics(topics)))
            print("restored \(summary.records) records into \(summary.partitions) partitions, each at its archived offset")
        }
    }
}

/// Hands a value used by one thread at a time across an `OwnThread` hop.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

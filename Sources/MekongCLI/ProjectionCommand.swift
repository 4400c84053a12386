import ArgumentParser
import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import Synchronization

struct ProjectionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projection",
        abstract: "Manage projection versions: rebuild, status, drop, checksum.",
        subcommands: [Rebuild.self, Status.self, Drop.self, Checksum.self])

    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a projection version from offset 0 beside the active one, then switch readers to it.",
            discussion: """
                Creates version N's schema, reads its topics from offset 0 under the version's own lease \
                while the active version keeps serving, prints progress every second, and once every partition is \
                applied up to its end, makes version N the active one in one transaction (the public schema's views \
                move to it; readers never see a half-built version). Interrupted, it resumes from its checkpoints.
                """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var engine: EngineOptions
        @Argument(help: "The projection.") var name: String
        @Option(help: "The version to build (its SQL must be in Projections/<name>/v<N>/).") var version: Int

        func run() throws {
            let settings = try connection.resolve()
            let projection = try KnownProjections.make(name, version: version, catalog: try Resources.catalog())
            guard KnownProjections.definedVersions(name, migrations: try Resources.migrations()).contains(version) else {
                throw ValidationError("projection \(name) has no version \(version) in Projections/\(name)/")
            }
            var options = engine.options()
            options.activation = .switchWhenCaughtUp
            let clock = ContinuousClock()
            let printed = Mutex(clock.now - .seconds(2))
            options.progress = { progress in
                let now = clock.now
                guard printed.withLock({ last in
                    guard now - last >= .seconds(1) else { return false }
                    last = now
                    return true
                }) else { return }
                printError(ProgressLine(progress).text)
            }
            let metrics = try MetricsEndpoint.start(host: engine.metricsHost, port: engine.metricsPort)
            defer { metrics?.stop() }
            let stop = StopSignal()
            Signals.stopOnTermination(stop)
            printError("rebuilding \(projection.identity) from offset 0 into schema \(projection.identity.schema)")
            let summary = try runEngine(projection, settings: settings, options: options, stop: stop)
            guard summary.activated else {
                print("rebuild of \(projection.identity) interrupted: \(describe(summary)); run it again to resume")
                throw ExitCode(3)
            }
            print("rebuilt \(projection.identity): \(describe(summary)); it is now the active version")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List projection versions, which is active, which instance applies them, and per-partition positions and lag.",
            discussion: """
                Every partition of a version's topics is listed, including partitions no projector of this database \
                has ever applied ("never applied"); lag counts them too. Without a reachable cluster, only the \
                stored positions are shown.
                """)
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let versions = try ProjectionVersions(db: db).list()
            if versions.isEmpty {
                print("no projection versions in \(ConnectionString.redacted(settings.postgres))")
                return
            }
            let catalog = try Resources.catalog()
            // Every partition of each version's topics, with the log's start and end, when the cluster answers.
            var logs: [TopicPartition: (low: Int64, high: Int64)] = [:]
            var partitionsOfTopic: [String: [TopicPartition]] = [:]
            do {
                let consumer = try Consumer(configuration: settings.kafka())
                defer { consumer.close() }
                var topics = Set(versions.flatMap { $0.positions.keys.map(\.topic) })
                for version in versions {
                    topics.formUnion(KnownProjections.topics(of: version.identity.name, version: version.identity.version, catalog: catalog))
                }
                for topic in topics.sorted() {
                    let count = try consumer.partitionCount(of: topic, timeout: .seconds(3))
                    partitionsOfTopic[topic] = (0..<count).map { TopicPartition(topic: topic, partition: Int32($0)) }
                    for tp in partitionsOfTopic[topic]! { logs[tp] = try consumer.watermarks(of: tp, timeout: .seconds(3)) }
                }
            } catch {
                printError("Kafka unreachable, lag not shown: \(error)")
                logs = [:]
                partitionsOfTopic = [:]
            }
            for version in versions {
                let topics = KnownProjections.topics(of: version.identity.name, version: version.identity.version, catalog: catalog)
                var partitions = Set(version.positions.keys)
                for topic in topics { partitions.formUnion(partitionsOfTopic[topic] ?? []) }
                let lines = partitions.sorted().map { tp in PartitionStatus(tp, next: version.positions[tp], log: logs[tp]) }
                let lags = lines.compactMap(\.lag)
                let lagText = !logs.isEmpty && lags.count == lines.count && !lines.isEmpty ? ", lag \(lags.reduce(0, +))" : ""
                let activated = version.activatedAt.map { ", activated \(Timestamp(date: $0).text)" } ?? ""
                let never = lines.filter { $0.next == nil }.count
                let neverText = never > 0 ? ", \(never) partition(s) never applied" : ""
                let holder = (try? ProjectorLease.holder(of: version.identity, on: db)) ?? nil
                let holderText = holder.map { ", applied by \($0)" } ?? ""
                print("\(version.identity.name) v\(version.identity.version)  \(version.state.rawValue)\(activated)\(lagText)\(neverText)\(holderText)")
                for line in lines { print("  \(line.text)") }
            }
        }
    }

    /// One partition of a version: its stored next offset (nil: never applied here) and the log's extent.
    struct PartitionStatus {
        let partition: TopicPartition
        let next: Int64?
        let log: (low: Int64, high: Int64)?

        init(_ partition: TopicPartition, next: Int64?, log: (low: Int64, high: Int64)?) {
            self.partition = partition
            self.next = next
            self.log = log
        }

        /// Records in the log not yet applied: from the stored position (or the log's start) to the end.
        var lag: Int64? { log.map { max(0, $0.high - max(next ?? 0, $0.low)) } }

        var text: String {
            let position = next.map { "next \($0)" } ?? "never applied"
            let end = log.map { "  end \($0.high)  lag \(lag!)" } ?? ""
            return "\(partition)  \(position)\(end)"
        }
    }

    struct Drop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an inactive projection version: its schema, checkpoints and dead letters.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The projection.") var name: String
        @Option(help: "The version to drop (never the active one).") var version: Int

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let identity = ProjectionIdentity(name: try validName(name), version: version)
            try ProjectionVersions(db: db).drop(identity)
            print("dropped \(identity) (schema \(identity.schema))")
        }
    }

    struct Checksum: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a deterministic content hash of a projection version (default: the active one).",
            discussion: """
                Equal content gives an equal hash whatever order rows were written in: rebuilding a version from \
                the same events must print the same hash. With --tables, one line per table too.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The projection.") var name: String
        @Option(help: "The version (default: the active one).") var version: Int?
        @Flag(help: "Also print each table's row count and digest.") var tables = false

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let versions = ProjectionVersions(db: db)
            guard let version = try self.version ?? versions.activeVersion(of: try validName(name)) else {
                throw ValidationError("projection \(name) has no active version; give --version")
            }
            let checksum = try versions.checksum(ProjectionIdentity(name: name, version: version))
            if tables {
                for table in checksum.tables { print("\(table.name)  \(table.rows) rows  \(table.digest)") }
            }
            print(checksum.digest)
        }
    }
}

func validName(_ name: String) throws -> String {
    guard ProjectionIdentity.isValid(name: name) else {
        throw ValidationError("'\(name)' is not a projection name ([a-z][a-z0-9-]*)")
    }
    return name
}

/// One progress line: rate, remaining and the partitions that lag most.
struct ProgressLine {
    let text: String

    init(_ progress: ProjectionProgress) {
        var text = "\(progress.identity): \(progress.processed) events, \(Int(progress.eventsPerSecond)) events/s"
        if let remaining = progress.remaining {
            text += ", \(remaining) remaining"
        } else {
            // A partition's end is known once the consumer has fetched from it; until then the total is unknown.
            let unknown = progress.partitions.filter { $0.end == nil }.count
            let known = progress.partitions.compactMap(\.lag).reduce(0, +)
            text += ", at least \(known) remaining (the end of \(unknown) partitions not yet known)"
        }
        let lagging = progress.partitions.filter { ($0.lag ?? 0) > 0 }.sorted { ($0.lag ?? 0) > ($1.lag ?? 0) }
        if !lagging.isEmpty {
            text += "; lag " + lagging.prefix(6).map { "\($0.topicPartition) \($0.lag!)" }.joined(separator: ", ")
        }
        self.text = text
    }
}

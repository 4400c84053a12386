import Foundation
import Logging
import MekongEvents
import MekongKafka
import MekongPostgres

/// How the audit projector batches and when it stops.
public struct AuditProjectorOptions: Sendable {
    /// The event topics to record.
    public var topics: [String]
    /// At most this many records per transaction.
    public var batchSize: Int = 1_000
    /// How long a poll waits for a batch to fill.
    public var batchWait: Duration = .milliseconds(250)
    /// Return once every partition of `topics` is recorded up to its end (for demos, tests and catch-up jobs).
    public var stopWhenCaughtUp = false
    public var consumerGroup = AuditTrail.consumerGroup
    /// First and longest wait before retrying after a transient fault (database or cluster unreachable).
    public var retryBackoff: (first: Duration, maximum: Duration) = (.milliseconds(200), .seconds(10))

    public init(topics: [String]) {
        self.topics = topics
    }
}

/// The audit tables are in a state the projector cannot continue from.
public struct AuditStateError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// What a run did.
public struct AuditRunSummary: Sendable, Equatable {
    public var recorded = 0
    public var batches = 0
    public var skippedAlreadyRecorded = 0
    public var transientFaults = 0
    /// Wall time from the first batch's arrival to the last batch's commit (excludes joining the group and the
    /// final idle wait), for throughput figures.
    public var activeTime: Duration = .zero
}

/// Records every event of the event topics in `audit_v1.events`, once, hash-chained per partition.
///
/// Each batch is one PostgreSQL transaction holding the new rows, the partitions' chain heads and their checkpoints,
/// so a crash at any moment leaves either all of a batch or none of it. Positions come from `mekong.checkpoints`
/// when partitions are assigned, never from Kafka's committed offsets. Another instance of the audit projector
/// waits on the checkpoint row lock and skips what was already recorded: no event is recorded twice.
public final class AuditProjector {
    static let copyColumns =
        "topic, partition, kafka_offset, event_id, event_type, source, subject, event_time, recorded_time, event_bytes, event_hash, previous_chain_hash, chain_hash, problem"

    private let kafka: KafkaConfiguration
    private let postgresURL: String?
    private let migrations: MigrationRunner
    private let options: AuditProjectorOptions
    private let logger: Logger
    private let checkpoints = Checkpoints(projection: AuditTrail.projection, version: AuditTrail.version)

    public init(
        kafka: KafkaConfiguration, postgresURL: String?, migrations: MigrationRunner, options: AuditProjectorOptions,
        logger: Logger = Logger(label: "mekong.audit")
    ) {
        self.kafka = kafka
        self.postgresURL = postgresURL
        self.migrations = migrations
        self.options = options
        self.logger = logger
    }

    /// Creates the audit schema if needed (migrations `core/v1` and `audit/v1`).
    public static func prepare(_ db: PostgresConnection, migrations: MigrationRunner) throws {
        try migrations.apply(projection: "core", version: 1, on: db)
        try migrations.apply(projection: AuditTrail.projection, version: AuditTrail.version, on: db)
    }

    /// Runs until `stop` is signalled (the current batch is finished first) or, with `stopWhenCaughtUp`, until
    /// everything is recorded. Transient faults are retried with backoff; anything else is thrown.
    public func run(stop: StopSignal) throws -> AuditRunSummary {
        var summary = AuditRunSummary()
        var backoff = options.retryBackoff.first
        var connected = false
        while !stop.isStopped {
            do {
                let finished = try session(stop: stop, summary: &summary, connected: &connected)
                if finished { break }
            } catch let error where Self.isTransient(error) && connected {
                // Faults after a first successful start are waited out; a wrong address or password at start is not.
                summary.transientFaults += 1
                logger.warning("transient fault, retrying in \(backoff): \(error)")
                sleep(backoff, unless: stop)
                backoff = min(backoff * 2, options.retryBackoff.maximum)
            }
        }
        return summary
    }

    /// One consumer-group membership and one database connection; returns true when caught up (if asked).
    private func session(stop: StopSignal, summary: inout AuditRunSummary, connected: inout Bool) throws -> Bool {
        let db = try PostgresConnection(url: postgresURL)
        defer { db.close() }
        try Self.prepare(db, migrations: migrations)
        let consumer = try Consumer(configuration: kafka, groupID: options.consumerGroup)
        defer { consumer.close() }
        try checkpoints.claim(cluster: consumer.clusterID(), on: db)
        connected = true
        let checkpoints = self.checkpoints
        let logger = self.logger
        try consumer.subscribe(
            to: options.topics,
            rebalance: RebalanceHandler(
                onAssign: { partitions in
                    let positions = try checkpoints.positions(for: partitions, on: db)
                    logger.info("assigned \(partitions.count) partitions; resuming from stored checkpoints")
                    return positions
                },
                onRevoke: { partitions in logger.info("revoked \(partitions.count) partitions") }))
        var firstBatch: ContinuousClock.Instant? = nil
        let activeBefore = summary.activeTime
        while !stop.isStopped {
            let batch = try consumer.poll(maxMessages: options.batchSize, timeout: options.batchWait)
            if !batch.isEmpty {
                let started = firstBatch ?? ContinuousClock.now
                firstBatch = started
                let recorded: Int
                let skipped: Int
                do {
                    (recorded, skipped) = try apply(batch, on: db)
                } catch let error as PostgresError where error.isTransient {
                    // The batch was rolled back. Keep the group membership (no rebalance for a database blip):
                    // reconnect, then read again from the stored checkpoints.
                    summary.transientFaults += 1
                    logger.warning("database fault, batch rolled back; reconnecting: \(error)")
                    try reconnect(db, rewinding: consumer, stop: stop)
                    continue
                }
                summary.activeTime = activeBefore + (ContinuousClock.now - started)
                summary.recorded += recorded
                summary.skippedAlreadyRecorded += skipped
                summary.batches += 1
                logger.debug("recorded \(recorded) events (skipped \(skipped) already recorded)")
            }
            if options.stopWhenCaughtUp, batch.count < options.batchSize, try caughtUp(consumer, db) {
                return true
            }
        }
        return false
    }

    /// Waits (with backoff) until the database answers again, then moves every assigned partition back to its
    /// stored checkpoint, so records of the rolled-back batch are read again.
    private func reconnect(_ db: PostgresConnection, rewinding consumer: Consumer, stop: StopSignal) throws {
        var backoff = options.retryBackoff.first
        while !stop.isStopped {
            sleep(backoff, unless: stop)
            do {
                try db.reset()
                let positions = try checkpoints.positions(for: consumer.assignment(), on: db)
                for (tp, offset) in positions.sorted(by: { $0.key < $1.key }) {
                    try consumer.seek(tp, to: offset)
                }
                logger.info("database back; resuming \(positions.count) partitions from their checkpoints")
                return
            } catch let error as PostgresError where error.isTransient {
                logger.warning("database still unreachable, retrying in \(backoff): \(error)")
                backoff = min(backoff * 2, options.retryBackoff.maximum)
            }
        }
    }

    /// Applies one batch in one transaction; returns how many records were new and how many were already there.
    func apply(_ batch: [ConsumedMessage], on db: PostgresConnection) throws -> (Int, Int) {
        let byPartition = Dictionary(grouping: batch, by: \.topicPartition)
        return try db.transaction { db in
            var rows: [[String?]] = []
            rows.reserveCapacity(batch.count)
            for tp in byPartition.keys.sorted() {
                let next = try checkpoints.lock(tp, on: db)
                let fresh = byPartition[tp, default: []].filter { $0.offset >= next }.sorted { $0.offset < $1.offset }
                guard let first = fresh.first, let last = fresh.last else { continue }
                if first.offset > next {
                    // Retention deleted them before they were recorded, or they are transaction markers. Either way
                    // the trail cannot show them; say so loudly rather than silently.
                    logger.error(
                        "\(tp): offsets \(next)..<\(first.offset) are no longer in the log and were never recorded")
                }
                var previous = try chainHead(tp, on: db)
                for message in fresh {
                    let record = AuditRecord(message)
                    let link = AuditLink(offset: message.offset, eventHash: record.hash, previous: previous)
                    rows.append(record.row(topic: tp.topic, partition: tp.partition, link: link))
                    previous = link.chain
                }
                try db.execute(
                    """
                    INSERT INTO audit_v1.chain_heads (topic, partition, last_offset, chain_hash)
                    VALUES ($1, $2, $3, $4)
                    ON CONFLICT (topic, partition)
                    DO UPDATE SET last_offset = EXCLUDED.last_offset, chain_hash = EXCLUDED.chain_hash
                    """, [tp.topic, Int(tp.partition), last.offset, previous.bytes])
                try checkpoints.advance(tp, from: next, to: last.offset + 1, on: db)
            }
            if !rows.isEmpty {
                _ = try db.copyIn("COPY audit_v1.events (\(Self.copyColumns)) FROM STDIN", rows: rows)
            }
            return (rows.count, batch.count - rows.count)
        }
    }

    private func chainHead(_ tp: TopicPartition, on db: PostgresConnection) throws -> EventHash {
        let rows = try db.query(
            "SELECT chain_hash FROM audit_v1.chain_heads WHERE topic = $1 AND partition = $2",
            [tp.topic, Int(tp.partition)])
        guard let row = rows.first else { return .zero }
        guard let head = EventHash(bytes: try row.decode([UInt8].self, at: 0)) else {
            throw AuditStateError(message: "chain head of \(tp) is not a 32-byte hash")
        }
        return head
    }

    /// True when this instance holds every partition of the topics and each is recorded up to its end.
    private func caughtUp(_ consumer: Consumer, _ db: PostgresConnection) throws -> Bool {
        let assigned = Set(try consumer.assignment())
        var all: [TopicPartition] = []
        for topic in options.topics {
            let count = try consumer.partitionCount(of: topic)
            all += (0..<count).map { TopicPartition(topic: topic, partition: Int32($0)) }
        }
        guard !all.isEmpty, Set(all).isSubset(of: assigned) else { return false }
        let stored = try checkpoints.positions(for: all, on: db)
        for tp in all {
            // The high watermark the last fetch response carried: asking the broker instead would queue behind
            // the consumer's own long-polling fetch on the same connection.
            guard let (_, high) = consumer.lastKnownWatermarks(of: tp) else { return false }
            if max(stored[tp] ?? 0, 0) < high { return false }
        }
        return true
    }

    static func isTransient(_ error: any Error) -> Bool {
        switch error {
        case let error as PostgresError: return error.isTransient
        case let error as KafkaError: return error.isRetriable || error.kind == .rebalance
        case is CheckpointConflict: return true
        default: return false
        }
    }

    private func sleep(_ duration: Duration, unless stop: StopSignal) {
        let clock = ContinuousClock()
        let end = clock.now + duration
        while !stop.isStopped, clock.now < end {
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}

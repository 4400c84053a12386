import Dispatch
import Foundation
import Logging
import MekongKafka
import MekongPostgres
import Synchronization

/// How the engine batches, when it stops and what it does once caught up.
public struct ProjectionOptions: Sendable {
    /// At most this many records per transaction.
    public var batchSize = 5_000
    /// How long a poll waits for a first record when none is there; a batch is then what the client has already
    /// fetched, up to `batchSize` (it never waits for a batch to fill: records arriving while a batch applies
    /// make the next one).
    public var batchWait: Duration = .milliseconds(100)
    /// Return once every partition is applied up to its end (for demos, tests and catch-up jobs).
    public var stopWhenCaughtUp = false
    /// What happens to the projection version the first time it catches up.
    public var activation = Activation.ifNoneActive
    /// How this instance names itself in PostgreSQL (`application_name`, shown to a standby and in
    /// `mekong projection status`); by default `<host>:<pid>`.
    public var instanceName = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    /// Lease, lock and idle timeouts of the engine's PostgreSQL sessions.
    public var timeouts = SessionTimeouts()
    /// How often the engine looks for partitions added to its topics.
    public var partitionRefresh: Duration = .seconds(30)
    /// First and longest wait before retrying after a transient fault (database or cluster unreachable).
    public var retryBackoff: (first: Duration, maximum: Duration) = (.milliseconds(200), .seconds(10))
    /// Where refused records are published.
    public var deadLetterTopic = "dead-letters"
    /// Threads decoding a batch (decoding runs outside the transaction, in parallel).
    public var decodeThreads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Called after each batch, and while idle at most once a second, with where the projection stands.
    public var progress: (@Sendable (ProjectionProgress) -> Void)? = nil

    public init() {}

    /// What the engine does when the version has caught up with every partition.
    public enum Activation: Sendable {
        /// Make this version the active one if no version is active yet (first deployment); keep running.
        case ifNoneActive
        /// Make this version the active one, retiring the previous, then return (blue-green rebuild).
        case switchWhenCaughtUp
    }
}

/// Where a running projection stands.
public struct ProjectionProgress: Sendable {
    public struct Partition: Sendable {
        public let topicPartition: TopicPartition
        /// The next offset to apply.
        public let position: Int64
        /// The end of the log as last seen (high watermark), when known.
        public let end: Int64?
        public var lag: Int64? { end.map { max(0, $0 - position) } }
    }

    public let identity: ProjectionIdentity
    /// Records applied (or dead-lettered) by this run.
    public let processed: Int
    /// `processed` per second of active time.
    public let eventsPerSecond: Double
    public let partitions: [Partition]
    /// Sum of the partitions' lag, when every end is known.
    public var remaining: Int64? {
        var sum: Int64 = 0
        for partition in partitions {
            guard let lag = partition.lag else { return nil }
            sum += lag
        }
        return sum
    }
}

/// What a run did.
public struct ProjectionRunSummary: Sendable, Equatable {
    /// Records applied by the projection.
    public var applied = 0
    /// Records refused and dead-lettered.
    public var deadLettered = 0
    public var batches = 0
    /// Records read that another instance had applied already (skipped, never applied twice).
    public var skippedAlreadyApplied = 0
    public var transientFaults = 0
    /// Records of batches that failed with a transient fault but were found committed when the engine read the
    /// checkpoints again (the answer to COMMIT was lost, or another instance applied them): neither applied twice
    /// nor lost.
    public var committedDespiteFault = 0
    /// Extra `apply` calls spent halving batches to find records PostgreSQL refused (what a projection's
    /// ``Projection/applyRefusing(_:on:)`` saves).
    public var isolatingApplies = 0
    /// True when this run made the version the active one.
    public var activated = false
    /// Wall time from the first batch's arrival to the last batch's commit (excludes joining the group and the
    /// final idle wait), for throughput figures.
    public var activeTime: Duration = .zero
    /// Time spent in batch transactions (from BEGIN to COMMIT's answer), summed over the batches.
    public var transactionTime: Duration = .zero
}

/// The projection's tables or checkpoints are in a state the engine cannot continue from.
public struct ProjectionStateError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs one projection version: a lease in PostgreSQL, every partition of its topics from the positions stored
/// there, batches, one transaction per batch, dead letters, retries with backoff, activation, metrics.
///
/// Each batch is one PostgreSQL transaction holding the projection's writes, the dead letters and the checkpoint
/// of every partition in the batch, so a crash at any moment leaves either all of a batch or none of it.
/// Positions come from `mekong.checkpoints`, never from Kafka's committed offsets (Mekong joins no consumer
/// group). One instance per version and database holds the lease (``ProjectorLease``); others wait as standbys.
/// Should two ever apply at once (a hung holder that wakes up), the second waits on the checkpoint row locks and
/// skips what was already applied; a checkpoint only moves forward, by compare-and-set, so no record is ever
/// applied twice.
public final class ProjectionEngine<P: Projection> {
    private let projection: P
    private let kafka: KafkaConfiguration
    private let postgresURL: String?
    private let migrations: MigrationRunner
    private let reader: EventReader
    private let options: ProjectionOptions
    private let logger: Logger
    private let checkpoints: Checkpoints
    private var metrics: ProjectionMetrics

    public init(
        projection: P, kafka: KafkaConfiguration, postgresURL: String?, migrations: MigrationRunner,
        reader: EventReader, options: ProjectionOptions = ProjectionOptions(), logger: Logger? = nil
    ) {
        self.projection = projection
        var kafka = kafka
        // How long a fetch may wait at the broker for data (librdkafka's default is 500 ms). A waiting fetch holds
        // up the watermark requests the engine sends on the same connection (caught-up checks, lag), and a report
        // published to an idle partition was measured waiting out the whole default before it was applied.
        kafka["fetch.wait.max.ms"] = kafka["fetch.wait.max.ms"] ?? "20"
        self.kafka = kafka
        self.postgresURL = postgresURL
        self.migrations = migrations
        self.reader = reader
        self.options = options
        self.logger = logger ?? Logger(label: "mekong.projection.\(projection.identity.name)")
        self.checkpoints = Checkpoints(identity: projection.identity)
        self.metrics = ProjectionMetrics(projection.identity)
    }

    private var identity: ProjectionIdentity { projection.identity }

    /// Runs until `stop` is signalled (the current batch is finished first), until caught up with
    /// `stopWhenCaughtUp`, or until switched with `.switchWhenCaughtUp`. Transient faults are retried with backoff;
    /// anything else is thrown. While another instance holds the version's lease in this database, this one waits
    /// as a standby.
    public func run(stop: StopSignal) throws -> ProjectionRunSummary {
        var summary = ProjectionRunSummary()
        var backoff = options.retryBackoff.first
        var connected = false
        let lease = ProjectorLease(
            identity: identity, postgresURL: postgresURL, timeouts: options.timeouts,
            applicationName: applicationName, logger: logger)
        defer { lease.close() }
        while !stop.isStopped {
            do {
                let finished = try session(stop: stop, lease: lease, summary: &summary, connected: &connected)
                if finished { break }
                backoff = options.retryBackoff.first
            } catch let error where Self.isTransient(error) && connected {
                // Faults after a first successful start are waited out; a wrong address or password at start is not.
                summary.transientFaults += 1
                metrics.transientFaults.increment()
                logger.warning("transient fault, retrying in \(backoff): \(error)")
                // Retrying is being alive: the lease stays this instance's while it waits.
                sleep(backoff, unless: stop, ticking: lease)
                backoff = min(backoff * 2, options.retryBackoff.maximum)
            }
        }
        return summary
    }

    /// `application_name` of the engine's sessions, e.g. `mekong audit v3 host:4242`.
    private var applicationName: String { ProjectorLease.sessionPrefix(of: identity) + options.instanceName }

    /// One database connection, one consumer assigned every partition of the topics, under the lease; returns true
    /// when finished.
    private func session(
        stop: StopSignal, lease: ProjectorLease, summary: inout ProjectionRunSummary, connected: inout Bool
    ) throws -> Bool {
        let db = try PostgresConnection(
            url: postgresURL,
            defaults: options.timeouts.connectionDefaults(
                applicationName: applicationName, idleInTransaction: options.timeouts.idleInTransaction))
        defer { db.close() }
        let versions = ProjectionVersions(db: db)
        try versions.prepare(identity, migrations: migrations)
        let consumer = try Consumer(configuration: kafka)
        defer { consumer.close() }
        try checkpoints.claim(cluster: consumer.clusterID(), on: db)
        connected = true
        guard lease.waitUntilHeld(stop: stop) else { return true }
        let partitions = try allPartitions(consumer)
        let positions = try checkpoints.register(partitions, on: db)
        try consumer.assign(positions.mapValues { $0 == 0 ? KafkaOffset.beginning : $0 })
        let tracker = PositionTracker()
        tracker.assigned(positions)
        logger.info("\(identity): reading \(partitions.count) partitions from their stored checkpoints")
        var partitionsCheckedAt = ContinuousClock.now
        var deadLetterProducer: Producer? = nil
        defer { deadLetterProducer?.close() }
        var firstBatch: ContinuousClock.Instant? = nil
        var lastProgress = ContinuousClock.now
        let activeBefore = summary.activeTime
        let processedBefore = summary.applied + summary.deadLettered
        var active = try versions.activeVersion(of: identity.name) == identity.version
        // The next batch, polled and decoding in the background while the current one's transaction runs.
        var prefetched: DecodingBatch<P.Row>? = nil
        var barrier = try ReferenceBarrier(projection.referenceTopics, consumer: consumer)
        while !stop.isStopped {
            lease.tick()
            lease.watch(backend: db.backendPID)
            guard lease.isHeld else { throw LeaseLost(state: lease.current) }
            if ContinuousClock.now - partitionsCheckedAt > options.partitionRefresh {
                partitionsCheckedAt = ContinuousClock.now
                if Set(try allPartitions(consumer)) != Set(partitions) { throw PartitionsChanged() }
            }
            var batch: [ConsumedMessage]
            var decoded: [Result<P.Row, Refusal>]
            if let next = prefetched {
                prefetched = nil
                batch = next.messages
                decoded = next.wait()
            } else {
                batch = try Self.poll(consumer, options)
                decoded = decode(batch)
            }
            if let holding = barrier {
                // Reference data first: records of the other topics wait (their partitions paused and rewound).
                (batch, decoded) = try holding.hold(batch, decoded, consumer: consumer)
                if try holding.isReached(checkpoints: checkpoints, on: db) {
                    try holding.release(consumer)
                    barrier = nil
                    logger.info("reference topics \(projection.referenceTopics) applied; now reading all topics")
                }
            }
            if batch.count == options.batchSize, barrier == nil {
                // More is probably waiting: take what the client has already fetched (no waiting) and decode it
                // on the other core while the server works on this batch. It is applied only after this batch,
                // and dropped on a rewind; the checkpoints make a batch polled across a rebalance harmless.
                // Not while reference topics are applied first: their next records would be polled and then
                // have nowhere to go (they were dropped, and the partition read on past them, before this check).
                let next = try consumer.poll(maxMessages: options.batchSize, timeout: .zero)
                if !next.isEmpty {
                    let (projection, reader, threads) = (self.projection, self.reader, options.decodeThreads)
                    prefetched = DecodingBatch(next) { Self.decode($0, projection: projection, reader: reader, threads: threads) }
                }
            }
            if !batch.isEmpty {
                let started = firstBatch ?? ContinuousClock.now
                firstBatch = started
                let applyStarted = ContinuousClock.now
                let outcome: BatchOutcome
                do {
                    outcome = try apply(batch, decoded, on: db) { letters in
                        if deadLetterProducer == nil { deadLetterProducer = try self.makeDeadLetterProducer() }
                        try self.publish(letters, with: deadLetterProducer!)
                    }
                } catch where Self.isTransient(error) {
                    // The batch was rolled back. Keep the consumer and the lease (a database blip is not a restart):
                    // reconnect, then read again from the stored checkpoints.
                    summary.transientFaults += 1
                    metrics.transientFaults.increment()
                    logger.warning("batch rolled back after a transient fault; resuming from checkpoints: \(error)")
                    _ = prefetched?.wait()
                    prefetched = nil
                    let positions = try rewind(db, consumer, tracker: tracker, stop: stop)
                    // A COMMIT can reach the server and its answer be lost: those records are below the checkpoint now.
                    let confirmed = batch.filter { message in positions[message.topicPartition].map { message.offset < $0 } ?? false }
                    if !confirmed.isEmpty {
                        summary.committedDespiteFault += confirmed.count
                        logger.warning("\(confirmed.count) records of the rolled-back batch were committed after all (the answer to COMMIT was lost, or another instance applied them)")
                    }
                    continue
                }
                tracker.committed(outcome.moves)
                let transaction = ContinuousClock.now - applyStarted
                summary.transactionTime += transaction
                metrics.applyDuration.recordNanoseconds(transaction.nanoseconds)
                metrics.batchSize.record(batch.count)
                metrics.batches.increment()
                metrics.applied.increment(by: outcome.applied)
                for letter in outcome.deadLetters { metrics.deadLettered(letter.refusal.stage) }
                summary.activeTime = activeBefore + (ContinuousClock.now - started)
                summary.applied += outcome.applied
                summary.deadLettered += outcome.deadLetters.count
                summary.skippedAlreadyApplied += outcome.skipped
                summary.isolatingApplies += outcome.isolatingApplies
                summary.batches += 1
                for letter in outcome.deadLetters {
                    logger.warning("dead-lettered \(letter.position) (\(letter.refusal.stage.rawValue)): \(letter.reason)")
                }
            }
            if !batch.isEmpty || ContinuousClock.now - lastProgress > .seconds(1) {
                lastProgress = ContinuousClock.now
                let processed = summary.applied + summary.deadLettered - processedBefore
                report(tracker, consumer, processed: processed, active: summary.activeTime - activeBefore)
            }
            let mayFinish = options.stopWhenCaughtUp || options.activation == .switchWhenCaughtUp || !active
            if mayFinish, batch.count < options.batchSize, prefetched == nil, barrier == nil, try caughtUp(consumer, db) {
                let finishing = ContinuousClock.now
                if try db.transaction({ try projection.finishCatchUp(on: $0) }) {
                    logger.info("\(identity) caught up and finished its deferred work in \(ContinuousClock.now - finishing); reading on")
                    summary.activeTime = activeBefore + (ContinuousClock.now - (firstBatch ?? finishing))
                    continue
                }
                switch options.activation {
                case .switchWhenCaughtUp:
                    try versions.activate(identity)
                    summary.activated = true
                    logger.info("\(identity) caught up and is now the active version")
                    return true
                case .ifNoneActive:
                    if !active {
                        active = try versions.activateIfNoneActive(identity)
                        summary.activated = summary.activated || active
                        if active { logger.info("\(identity) caught up; no version was active, so it is now") }
                        active = true  // another version is active: leave it be and stop asking
                    }
                }
                if options.stopWhenCaughtUp { return true }
            }
        }
        return false
    }

    struct BatchOutcome {
        var applied = 0
        var isolatingApplies = 0
        var skipped = 0
        var deadLetters: [DeadLetter] = []
        var moves: [TopicPartition: (expected: Int64, next: Int64)] = [:]
    }

    /// Applies one batch in one transaction: lock the checkpoints, skip what is already applied, apply the rest
    /// (isolating records that fail), record dead letters, move the checkpoints.
    func apply(
        _ batch: [ConsumedMessage], _ decoded: [Result<P.Row, Refusal>], on db: PostgresConnection,
        publish: ([DeadLetter]) throws -> Void
    ) throws -> BatchOutcome {
        let partitions = Array(Set(batch.map(\.topicPartition)))
        return try db.transaction { db in
            // A batch commits without waiting for its WAL flush (docs/projections.md, "Durability"): a server
            // crash can undo the last batches, their checkpoints with them, and the engine applies them again
            // from Kafka, where they are acknowledged and kept. Activation, catch-up and leases stay synchronous.
            try db.execute("SET LOCAL synchronous_commit = off")
            var outcome = BatchOutcome()
            let stored = try checkpoints.lock(partitions, on: db)
            var records: [ProjectionRecord<P.Row>] = []
            records.reserveCapacity(batch.count)
            var sources: [Int] = []  // records[i] came from batch[sources[i]]
            sources.reserveCapacity(batch.count)
            for (index, message) in batch.enumerated() {
                let tp = message.topicPartition
                guard let next = stored[tp] else {
                    throw ProjectionStateError("no checkpoint row for \(tp) after locking it")
                }
                guard message.offset >= next else {
                    outcome.skipped += 1
                    continue
                }
                if outcome.moves[tp] == nil, message.offset > next {
                    // Retention deleted them before they were applied, or they are transaction markers. Either way
                    // this projection cannot show them; say so loudly rather than silently.
                    logger.error("\(tp): offsets \(next)..<\(message.offset) are no longer in the log and were never applied")
                }
                outcome.moves[tp] = (next, message.offset + 1)
                switch decoded[index] {
                case .success(let row):
                    records.append(
                        ProjectionRecord(message, row: row))
                    sources.append(index)
                case .failure(let refusal):
                    outcome.deadLetters.append(DeadLetter(projection: identity, record: message, refusal: refusal))
                }
            }
            // What the projection refuses by itself, and what PostgreSQL refuses, isolated by halving.
            var refused: [Int: Refusal] = [:]
            for (recordIndex, refusal) in try applyIsolating(records[...], on: db, extraApplies: &outcome.isolatingApplies) {
                refused[recordIndex] = refusal
            }
            for (recordIndex, refusal) in refused.sorted(by: { $0.key < $1.key }) {
                let message = batch[sources[recordIndex]]
                outcome.deadLetters.append(DeadLetter(projection: identity, record: message, refusal: refusal))
            }
            outcome.applied = records.count - refused.count
            if !outcome.deadLetters.isEmpty {
                outcome.deadLetters.sort { ($0.position.topicPartition, $0.position.offset) < ($1.position.topicPartition, $1.position.offset) }
                for letter in outcome.deadLetters { try letter.insert(on: db) }
                // Before the commit: a dead letter is in the topic before its checkpoint moves past it. A crash
                // between the two publishes it again on retry (the table keeps it once).
                try publish(outcome.deadLetters)
            }
            if !outcome.moves.isEmpty {
                try checkpoints.advance(outcome.moves, on: db)
            }
            return outcome
        }
    }

    /// Applies `records` inside a savepoint, taking the records the projection refuses by itself; when PostgreSQL
    /// blames the data, rolls back and applies each half separately, down to the single record at fault. Returns
    /// the indexes (into the whole batch's records) of refused records. `apply` runs about 2·log2(n) extra times
    /// per bad record that the projection did not refuse by itself.
    private func applyIsolating(
        _ records: ArraySlice<ProjectionRecord<P.Row>>, on db: PostgresConnection, extraApplies: inout Int
    ) throws -> [(Int, Refusal)] {
        guard !records.isEmpty else { return [] }
        try db.execute("SAVEPOINT mekong_apply")
        do {
            let refused = try projection.applyRefusing(Array(records), on: db)
            try db.execute("RELEASE SAVEPOINT mekong_apply")
            return refused.filter { records.indices.contains(records.startIndex + $0.key) }
                .map { (records.startIndex + $0.key, $0.value) }.sorted { $0.0 < $1.0 }
        } catch where Fault(error) == .record {
            try db.execute("ROLLBACK TO SAVEPOINT mekong_apply")
            try db.execute("RELEASE SAVEPOINT mekong_apply")
            if records.count == 1 {
                return [(records.startIndex, error as? Refusal ?? Refusal(.apply, Self.reason(error)))]
            }
            let middle = records.startIndex + records.count / 2
            extraApplies += 2
            return try applyIsolating(records[..<middle], on: db, extraApplies: &extraApplies)
                + applyIsolating(records[middle...], on: db, extraApplies: &extraApplies)
        }
    }

    private static func reason(_ error: any Error) -> String {
        guard let error = error as? PostgresError else { return "\(error)" }
        var text = "PostgreSQL [\(error.sqlState ?? "?")] \(error.message)"
        if let detail = error.detail { text += "; \(detail)" }
        return text
    }

    /// Decodes a batch on `decodeThreads` threads; the result keeps the batch's order.
    private func decode(_ batch: [ConsumedMessage]) -> [Result<P.Row, Refusal>] {
        Self.decode(batch, projection: projection, reader: reader, threads: options.decodeThreads)
    }

    private static func decode(
        _ batch: [ConsumedMessage], projection: P, reader: EventReader, threads: Int
    ) -> [Result<P.Row, Refusal>] {
        let one: @Sendable (ConsumedMessage) -> Result<P.Row, Refusal> = { message in
            Result { () throws(Refusal) -> P.Row in try projection.decode(message, reader: reader) }
        }
        let threads = min(threads, batch.count / 256)
        guard threads > 1 else { return batch.map(one) }
        let parts = Mutex<[[Result<P.Row, Refusal>]]>(Array(repeating: [], count: threads))
        let chunk = (batch.count + threads - 1) / threads
        DispatchQueue.concurrentPerform(iterations: threads) { part in
            let range = (part * chunk)..<min(batch.count, (part + 1) * chunk)
            let results = batch[range].map(one)
            parts.withLock { $0[part] = results }
        }
        return parts.withLock { $0.flatMap { $0 } }
    }

    /// The largest dead-letter record the engine publishes: the dead-letters topic's `max.message.bytes` (8 MiB).
    /// A dead letter carries the refused record base64-encoded (4/3 of its size) inside an envelope, so a refused
    /// record of up to about 6 MiB fits.
    static var deadLetterRecordLimit: Int { 8_388_608 }

    private func makeDeadLetterProducer() throws -> Producer {
        var configuration = kafka
        configuration["message.max.bytes"] = String(Self.deadLetterRecordLimit)
        return try Producer(configuration: configuration)
    }

    /// Publishes dead letters and waits for every delivery report. A dead letter too large for the topic is kept in
    /// `mekong.dead_letters` only (where `mekong dlq` reads it) and logged: a record, however large, must not stop
    /// the projector.
    private func publish(_ letters: [DeadLetter], with producer: Producer) throws {
        var records: [OutgoingMessage] = []
        for letter in letters {
            let record = letter.record(topic: options.deadLetterTopic)
            if record.value.count + (record.key?.count ?? 0) + 1_024 > Self.deadLetterRecordLimit {
                logger.error("dead letter \(letter.position) (\(letter.value.count) bytes) is too large for the \(options.deadLetterTopic) topic; it is kept in mekong.dead_letters only")
                continue
            }
            records.append(record)
        }
        let chosen = records
        let results = Blocking.run { await producer.send(chosen) }
        for result in results { _ = try result.get() }
    }

    /// Waits (with backoff) until the database answers again, then moves every assigned partition back to its
    /// stored checkpoint, so records of the rolled-back batch are read again.
    /// Reconnects and seeks every assigned partition to its checkpoint; returns the checkpoints (empty if stopped).
    @discardableResult
    private func rewind(_ db: PostgresConnection, _ consumer: Consumer, tracker: PositionTracker, stop: StopSignal) throws
        -> [TopicPartition: Int64]
    {
        var backoff = options.retryBackoff.first
        while !stop.isStopped {
            sleep(backoff, unless: stop)
            do {
                try db.reset()
                let positions = try checkpoints.positions(for: consumer.assignment(), on: db)
                for (tp, offset) in positions.sorted(by: { $0.key < $1.key }) {
                    try consumer.seek(tp, to: offset)
                }
                tracker.assigned(positions)
                logger.info("resuming \(positions.count) partitions from their checkpoints")
                return positions
            } catch where Self.isTransient(error) {
                logger.warning("still failing, retrying in \(backoff): \(error)")
                backoff = min(backoff * 2, options.retryBackoff.maximum)
            }
        }
        return [:]
    }

    /// True when every partition of the topics is applied up to its end, by this instance or another member of
    /// its group (whose partitions this instance does not hold).
    private func caughtUp(_ consumer: Consumer, _ db: PostgresConnection) throws -> Bool {
        let assigned = Set(try consumer.assignment())
        guard !assigned.isEmpty else { return false }
        let all = try allPartitions(consumer)
        guard !all.isEmpty else { return false }
        let stored = try checkpoints.positions(for: all, on: db)
        for tp in all.sorted(by: { assigned.contains($0) && !assigned.contains($1) }) {
            let high: Int64
            if assigned.contains(tp) {
                // The high watermark the last fetch response carried: asking the broker instead would queue
                // behind the consumer's own long-polling fetch on the same connection.
                guard let known = consumer.lastKnownWatermarks(of: tp)?.high else { return false }
                high = known
            } else {
                high = try consumer.watermarks(of: tp).high
            }
            if max(stored[tp] ?? 0, 0) < high { return false }
        }
        return true
    }

    private func report(_ tracker: PositionTracker, _ consumer: Consumer, processed: Int, active: Duration) {
        var partitions: [ProjectionProgress.Partition] = []
        for (tp, position) in tracker.snapshot().sorted(by: { $0.key < $1.key }) {
            let end = consumer.lastKnownWatermarks(of: tp)?.high
            let partition = ProjectionProgress.Partition(topicPartition: tp, position: max(position, 0), end: end)
            if let lag = partition.lag { metrics.lag(tp, lag) }
            partitions.append(partition)
        }
        let seconds = active.seconds
        let progress = ProjectionProgress(
            identity: identity, processed: processed, eventsPerSecond: seconds > 0 ? Double(processed) / seconds : 0,
            partitions: partitions)
        if let remaining = progress.remaining {
            metrics.rebuildRemaining.record(remaining)
            let total = Double(processed) + Double(remaining)
            metrics.rebuildProgress.record(total > 0 ? Double(processed) / total : 1)
        }
        options.progress?(progress)
    }

    /// What the client has fetched, up to a batch; if nothing, the first record to arrive within `batchWait` and
    /// what came with it. Waiting for a batch to fill added up to `batchWait` to every live record's latency.
    static func poll(_ consumer: Consumer, _ options: ProjectionOptions) throws -> [ConsumedMessage] {
        let ready = try consumer.poll(maxMessages: options.batchSize, timeout: .zero)
        guard ready.isEmpty else { return ready }
        let first = try consumer.poll(maxMessages: 1, timeout: options.batchWait)
        guard !first.isEmpty, options.batchSize > 1 else { return first }
        return first + (try consumer.poll(maxMessages: options.batchSize - 1, timeout: .zero))
    }

    static func isTransient(_ error: any Error) -> Bool { Fault(error) == .transient }

    /// Every partition of the projection's topics, in order.
    private func allPartitions(_ consumer: Consumer) throws -> [TopicPartition] {
        var all: [TopicPartition] = []
        for topic in projection.topics {
            let count = try consumer.partitionCount(of: topic)
            all += (0..<count).map { TopicPartition(topic: topic, partition: Int32($0)) }
        }
        return all
    }

    private func sleep(_ duration: Duration, unless stop: StopSignal, ticking lease: ProjectorLease? = nil) {
        let clock = ContinuousClock()
        let end = clock.now + duration
        while !stop.isStopped, clock.now < end {
            lease?.tick()
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}

/// The next offset to apply per assigned partition, as this instance knows it (for progress and lag).
final class PositionTracker: Sendable {
    private let positions = Mutex<[TopicPartition: Int64]>([:])

    func assigned(_ stored: [TopicPartition: Int64]) {
        positions.withLock { $0.merge(stored) { _, new in new } }
    }

    func committed(_ moves: [TopicPartition: (expected: Int64, next: Int64)]) {
        positions.withLock { for (tp, move) in moves { $0[tp] = move.next } }
    }

    func snapshot() -> [TopicPartition: Int64] { positions.withLock { $0 } }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

/// Waits for async work from synchronous code (the engine runs on its own thread, never on the concurrency pool).
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let value = await body()
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }
}

/// A polled batch whose decoding runs in the background; ``wait()`` returns the decoded rows in batch order.
final class DecodingBatch<Row: Sendable>: @unchecked Sendable {
    let messages: [ConsumedMessage]
    private let done = DispatchGroup()
    // Written once by the background task before `done` is left, read only after waiting on `done`.
    private var decoded: [Result<Row, Refusal>] = []

    init(_ messages: [ConsumedMessage], decode: @escaping @Sendable ([ConsumedMessage]) -> [Result<Row, Refusal>]) {
        self.messages = messages
        done.enter()
        DispatchQueue.global().async {
            self.decoded = decode(messages)
            self.done.leave()
        }
    }

    func wait() -> [Result<Row, Refusal>] {
        done.wait()
        return decoded
    }
}

/// Holds back the records of a projection's other topics until its reference topics are applied up to where they
/// ended when the run started (``Projection/referenceTopics``).
struct ReferenceBarrier {
    /// The end of each reference partition when the run started.
    private let ends: [TopicPartition: Int64]
    private let referenceTopics: Set<String>

    /// nil when there is nothing to wait for.
    init?(_ referenceTopics: [String], consumer: Consumer) throws {
        guard !referenceTopics.isEmpty else { return nil }
        var ends: [TopicPartition: Int64] = [:]
        for topic in referenceTopics {
            for partition in 0..<(try consumer.partitionCount(of: topic)) {
                let tp = TopicPartition(topic: topic, partition: Int32(partition))
                ends[tp] = try consumer.watermarks(of: tp).high
            }
        }
        self.ends = ends
        self.referenceTopics = Set(referenceTopics)
    }

    /// Removes the other topics' records from a polled batch, rewinds their partitions to the first removed
    /// record and pauses them (whichever member of the group applies the reference topics).
    func hold<Row>(
        _ batch: [ConsumedMessage], _ decoded: [Result<Row, Refusal>], consumer: Consumer
    ) throws -> ([ConsumedMessage], [Result<Row, Refusal>]) {
        var firstHeld: [TopicPartition: Int64] = [:]
        var keptBatch: [ConsumedMessage] = []
        var keptDecoded: [Result<Row, Refusal>] = []
        for (message, row) in zip(batch, decoded) {
            if referenceTopics.contains(message.topic) {
                keptBatch.append(message)
                keptDecoded.append(row)
            } else if firstHeld[message.topicPartition] == nil {
                firstHeld[message.topicPartition] = message.offset
            }
        }
        // Every time: a rebalance may have assigned new partitions, unpaused.
        let others = try otherPartitions(consumer)
        if !others.isEmpty { try consumer.pause(others) }
        for (tp, offset) in firstHeld { try consumer.seek(tp, to: offset) }
        return (keptBatch, keptDecoded)
    }

    /// True when every reference partition's checkpoint has reached its end as of the start.
    func isReached(checkpoints: Checkpoints, on db: PostgresConnection) throws -> Bool {
        let stored = try checkpoints.positions(for: Array(ends.keys), on: db)
        return ends.allSatisfy { tp, end in max(stored[tp] ?? 0, 0) >= end }
    }

    func release(_ consumer: Consumer) throws {
        let others = try otherPartitions(consumer)
        if !others.isEmpty { try consumer.resume(others) }
    }

    private func otherPartitions(_ consumer: Consumer) throws -> [TopicPartition] {
        try consumer.assignment().filter { !referenceTopics.contains($0.topic) }
    }
}

/// Partitions were added to a topic: the engine starts a new session that reads them too.
struct PartitionsChanged: Error, CustomStringConvertible {
    var description: String { "the projection's topics have new partitions" }
}

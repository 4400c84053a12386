import MekongEvents
import MekongKafka
import MekongPostgres

/// A table set in PostgreSQL built from Kafka topics: what a projection author writes.
///
/// The engine (``ProjectionEngine``) owns everything else: the lease, the consumer, positions, batching, the
/// transaction, dead letters, retries, shutdown and metrics. A projection is one type conforming to this protocol
/// plus its SQL in `Projections/<name>/v<version>/`, which creates the schema ``ProjectionIdentity/schema``.
///
/// `decode` turns one record into a `Row` (in parallel, outside the transaction); throwing a ``Refusal``
/// dead-letters the record. `apply` writes a batch of rows with set-based SQL inside the batch's transaction.
/// `apply` must read any state it needs from the database, never from memory kept between calls: the engine may
/// roll part of a batch back and apply it again in smaller pieces to find the record at fault.
public protocol Projection: Sendable {
    /// What one record becomes after decoding.
    associatedtype Row: Sendable

    /// Name and version; the SQL lives in `Projections/<name>/v<version>/`.
    var identity: ProjectionIdentity { get }
    /// The topics this projection reads.
    var topics: [String] { get }
    /// Those of `topics` that hold reference data the others are checked against (e.g. `master-data`). When a
    /// run starts, the engine applies everything these topics hold before any record of the other topics, so a
    /// rebuild does not depend on how the topics interleaved in the log.
    var referenceTopics: [String] { get }
    /// Turns one record into a row, or refuses it (the record is then dead-lettered and its partition moves on).
    func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> Row
    /// Writes the rows of one batch, in the batch's transaction. Records of one partition come in offset order.
    ///
    /// A PostgreSQL error that can be the data's fault (data exceptions, constraint violations, program limits,
    /// raised exceptions: every class but outages and software faults, see ``Fault``), or a ``Refusal`` thrown by
    /// the projection itself, makes the engine find the record that fails alone and dead-letter it. Transient errors are retried; any other
    /// error (a bug) stops the projector.
    func apply(_ batch: [ProjectionRecord<Row>], on db: PostgresConnection) throws
    /// Writes a batch like `apply`, except records the projection refuses by itself: it leaves them unwritten and
    /// names them (index into `batch` → why) instead of throwing. The engine dead-letters them and keeps the rest,
    /// so a batch with bad records costs about what a clean one does; without it the engine finds each bad record
    /// by halving the batch. Default: `apply`, refusing nothing.
    func applyRefusing(_ batch: [ProjectionRecord<Row>], on db: PostgresConnection) throws -> [Int: Refusal]
    /// Called, in a transaction of its own, each time this version has applied everything its topics hold and
    /// before it may become active. A projection that defers work while it is far behind the log (e.g. derives
    /// its tables in one pass instead of per batch) finishes it here and returns true; the engine then reads on
    /// and asks again once caught up, so the version never becomes active with work outstanding. Default: false.
    func finishCatchUp(on db: PostgresConnection) throws -> Bool
}

extension Projection {
    public var referenceTopics: [String] { [] }
    public func finishCatchUp(on db: PostgresConnection) throws -> Bool { false }
    public func applyRefusing(_ batch: [ProjectionRecord<Row>], on db: PostgresConnection) throws -> [Int: Refusal] {
        try apply(batch, on: db)
        return [:]
    }
}

extension Projection where Row == ProjectedEvent {
    /// Decodes the envelope, upcasts it to the newest version and validates its data against the catalog.
    public func decode(_ record: ConsumedMessage, reader: EventReader) throws(Refusal) -> ProjectedEvent {
        try reader.read(record)
    }
}

/// A projection's name and version.
public struct ProjectionIdentity: Sendable, Hashable, CustomStringConvertible {
    /// Lower-case letters, digits and `-`, starting with a letter (e.g. `audit`, `master-data`).
    public let name: String
    public let version: Int

    public init(name: String, version: Int) {
        precondition(Self.isValid(name: name), "projection name '\(name)' must be [a-z][a-z0-9-]*")
        precondition(version >= 1, "projection versions start at 1")
        self.name = name
        self.version = version
    }

    /// `[a-z][a-z0-9-]*`, at most 40 characters (schema names must stay under PostgreSQL's 63).
    public static func isValid(name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 40, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// The schema holding this version's tables, e.g. `master_data_v2`.
    public var schema: String { "\(Self.schemaName(name))_v\(version)" }
    /// The schema readers use, e.g. `master_data`: views onto the active version's tables.
    public var publicSchema: String { Self.schemaName(name) }
    public var description: String { "\(name) v\(version)" }

    static func schemaName(_ name: String) -> String { name.replacingOccurrences(of: "-", with: "_") }
}

/// Where a record was in the log.
public struct RecordPosition: Sendable, Hashable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32
    public let offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
    public var description: String { "\(topic)[\(partition)]@\(offset)" }
}

/// One decoded record of a batch.
public struct ProjectionRecord<Row: Sendable>: Sendable {
    /// Where the record is in the log (what checkpoints count).
    public let position: RecordPosition
    /// Where the record was first written: its own position, or, for a copy redriven by `mekong dlq redrive`
    /// (``RedriveOrigin``), the dead-lettered original's. Projections that keep positions or order by them use this,
    /// so that a redriven copy is projected as its original would have been: a rebuild, in which the original
    /// applies and the copy repeats its event id, gives the same tables as the live run.
    public let origin: RecordPosition
    /// The Kafka record timestamp (milliseconds since the epoch), when the record had one; for a redriven copy, the
    /// original's when the redrive carried it.
    public let timestampMilliseconds: Int64?
    public let row: Row

    public init(position: RecordPosition, origin: RecordPosition? = nil, timestampMilliseconds: Int64?, row: Row) {
        self.position = position
        self.origin = origin ?? position
        self.timestampMilliseconds = timestampMilliseconds
        self.row = row
    }

    /// The record `message` decoded to `row`. A redrive origin counts only if it names an earlier offset of the
    /// same topic (a copy is always written after its original); any other claim is ignored.
    init(_ message: ConsumedMessage, row: Row) {
        let position = RecordPosition(topic: message.topic, partition: message.partition, offset: message.offset)
        if let origin = RedriveOrigin(headers: message.headers), origin.position.topic == message.topic,
            origin.position.offset < message.offset || origin.position.partition != message.partition
        {
            self.init(
                position: position, origin: origin.position,
                timestampMilliseconds: origin.timestampMilliseconds ?? message.timestampMilliseconds, row: row)
        } else {
            self.init(position: position, timestampMilliseconds: message.timestampMilliseconds, row: row)
        }
    }
}

/// Why a record cannot be projected: it goes to the dead letters with this stage and reason.
public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where processing failed.
    public enum Stage: String, Sendable, CaseIterable {
        case decode, upcast, validate, apply
    }

    public let stage: Stage
    public let reason: String

    public init(_ stage: Stage, _ reason: String) {
        self.stage = stage
        self.reason = reason
    }

    public var description: String { "\(stage.rawValue): \(reason)" }
}

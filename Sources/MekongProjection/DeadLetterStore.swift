import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres

/// A dead letter as stored in `mekong.dead_letters`.
public struct StoredDeadLetter: Sendable {
    public let id: Int64
    public let projection: ProjectionIdentity
    public let position: RecordPosition
    public let stage: String
    public let reason: String
    public let eventID: String?
    public let eventType: String?
    public let key: [UInt8]?
    public let value: [UInt8]
    /// The record headers as JSON text (`[{"name", "valueBase64"}]`).
    public let headersJSON: String
    /// The refused record's Kafka timestamp (milliseconds since the epoch); nil if it had none or was
    /// dead-lettered before Mekong stored it.
    public let recordTimestampMilliseconds: Int64?
    public let deadLetteredAt: Date
    public let redrivenAt: Date?
    /// Where the redriven copy was published, `topic[partition]@offset`.
    public let redrivenTo: String?
    /// When an operator closed it (`mekong dlq close`), and why.
    public let closedAt: Date?
    public let closeReason: String?

    /// Neither redriven nor closed.
    public var isPending: Bool { redrivenAt == nil && closedAt == nil }
}

/// Why a dead letter cannot be redriven or closed; the message names the id and says what to do.
public struct DeadLetterRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case missing
        /// Redriven already, to this position.
        case alreadyRedriven(to: String)
        /// Closed already, with this reason.
        case closed(reason: String)
        /// The record is larger than projections accept (``EventReader/defaultMaximumRecordBytes``): a copy would
        /// be dead-lettered again. Only for redrive.
        case tooLarge(bytes: Int, limit: Int)
    }

    public let id: Int64
    public let kind: Kind
    public let message: String
    public var description: String { message }

    init(id: Int64, kind: Kind, closing: Bool = false) {
        self.id = id
        self.kind = kind
        switch kind {
        case .missing:
            message = "dead letter \(id) does not exist"
        case .alreadyRedriven(let to):
            message = closing
                ? "dead letter \(id) was already redriven (to \(to)); a redriven dead letter cannot be closed"
                : "dead letter \(id) was already redriven (to \(to))"
        case .closed(let reason):
            let shown = reason.count > 120 ? reason.prefix(120) + "…" : reason
            message = "dead letter \(id) is already closed (\(shown))"
        case .tooLarge(let bytes, let limit):
            message = "dead letter \(id) holds a record of \(bytes) bytes, over the limit of \(limit) bytes that "
                + "projections accept, so it cannot be redriven (a copy would be dead-lettered again); if it is not "
                + "needed, close it: mekong dlq close \(id) --reason TEXT"
        }
    }
}

/// A dead letter redriven, and where its copy was written.
public typealias RedrivenDeadLetter = (letter: StoredDeadLetter, report: DeliveryReport)

/// What a redrive did: the dead letters published (with their new positions) and those refused.
public struct RedriveResult: Sendable {
    public var redriven: [RedrivenDeadLetter] = []
    public var refused: [DeadLetterRefusal] = []
}

/// Reading dead letters, redriving them (re-publishing the original record to its topic, after a fix, so the
/// projections read it again at a new offset) and closing those that will never be redriven.
///
/// Redrive claims each dead letter atomically: one transaction locks its row (`SELECT … FOR UPDATE`), refuses it
/// if it was redriven or closed meanwhile, publishes the copy, waits for the delivery report, records where it went
/// and commits. A second command redriving the same dead letter waits for the lock and is then refused, so
/// concurrent commands publish each dead letter once. One window remains: if the command dies (or the delivery
/// outcome is unknown) after the copy was written and before the commit, the dead letter stays pending and the next
/// redrive publishes a second copy with the same event id.
public struct DeadLetterStore {
    private let db: PostgresConnection
    private static let columns = """
        id, projection, version, topic, partition, kafka_offset, stage, reason, event_id, event_type, record_key,
        record_value, record_headers::text, dead_lettered_at, redriven_at, redriven_to, record_timestamp_ms,
        closed_at, close_reason
        """

    /// Records larger than this are not redriven: projections refuse them at decode.
    public static let maximumRedriveBytes = EventReader.defaultMaximumRecordBytes

    public init(db: PostgresConnection) {
        self.db = db
    }

    /// Dead letters in id order; only pending ones (neither redriven nor closed) unless `includeRedriven`, which
    /// includes the redriven and the closed.
    public func list(projection: String? = nil, includeRedriven: Bool = false, limit: Int = 1_000) throws -> [StoredDeadLetter] {
        guard try db.query("SELECT to_regclass('mekong.dead_letters') IS NOT NULL")[0].decode(Bool.self, at: 0) else {
            return []
        }
        return try db.query(
            """
            SELECT \(Self.columns) FROM mekong.dead_letters
            WHERE ($1::text IS NULL OR projection = $1) AND ($2 OR (redriven_at IS NULL AND closed_at IS NULL))
            ORDER BY id LIMIT $3
            """, [projection, includeRedriven, limit]
        ).map(Self.decode)
    }

    /// One dead letter by id.
    public func find(_ id: Int64) throws -> StoredDeadLetter? {
        try db.query("SELECT \(Self.columns) FROM mekong.dead_letters WHERE id = $1", [id]).first.map(Self.decode)
    }

    /// Why each of `ids` cannot be redriven now (missing, redriven, closed, too large), read without locking.
    /// Empty when all can; ``redrive(_:producer:)`` checks again under the row lock.
    public func redriveRefusals(_ ids: [Int64]) throws -> [DeadLetterRefusal] {
        try ids.compactMap { id in
            guard let letter = try find(id) else { return DeadLetterRefusal(id: id, kind: .missing) }
            return Self.redriveRefusal(letter)
        }
    }

    /// Redrives each of `ids` in order, each with ``redrive(_:producer:)``. Unless `skippingRefused`, it first
    /// checks them all and throws a ``ProjectionStateError`` naming every one that cannot be redriven, publishing
    /// nothing; with it, those are reported in ``RedriveResult/refused`` and the others are redriven. A dead letter
    /// that a concurrent command redrove or closed after the check is always reported in `refused`.
    /// - Throws: a Kafka or PostgreSQL error; the dead letters before it stay redriven, the one at fault and those
    ///   after it stay pending.
    public func redrive(_ ids: [Int64], producer: Producer, skippingRefused: Bool = false) async throws -> RedriveResult {
        var seen = Set<Int64>()
        let ids = ids.filter { seen.insert($0).inserted }
        var result = RedriveResult()
        let refusals = try redriveRefusals(ids)
        if !refusals.isEmpty {
            guard skippingRefused else {
                throw ProjectionStateError(refusals.map(\.message).joined(separator: "\n"))
            }
            result.refused = refusals
        }
        let refusedIDs = Set(refusals.map(\.id))
        for id in ids where !refusedIDs.contains(id) {
            switch try await redrive(id, producer: producer) {
            case .success(let done): result.redriven.append(done)
            case .failure(let refusal): result.refused.append(refusal)
            }
        }
        return result
    }

    /// Redrives one dead letter atomically (see the type's documentation): publishes the original record (key,
    /// value, headers) with ``RedriveHeaders`` naming its first origin, waits for the delivery report and marks the
    /// dead letter with the new position, all while holding its row lock. Returns the refusal when it is missing,
    /// redriven, closed or too large. Runs on a thread of its own: waiting for the lock or the delivery report
    /// never blocks the concurrency pool.
    /// - Throws: a Kafka or PostgreSQL error; the dead letter then stays pending.
    public func redrive(_ id: Int64, producer: Producer) async throws -> Result<RedrivenDeadLetter, DeadLetterRefusal> {
        // The connection is used only by this thread while the caller awaits it.
        nonisolated(unsafe) let db = db
        return try await Self.onOwnThread {
            try db.transaction { db throws -> Result<RedrivenDeadLetter, DeadLetterRefusal> in
                guard
                    let letter = try db.query(
                        "SELECT \(Self.columns) FROM mekong.dead_letters WHERE id = $1 FOR UPDATE", [id]
                    ).first.map(Self.decode)
                else { return .failure(DeadLetterRefusal(id: id, kind: .missing)) }
                if let refusal = Self.redriveRefusal(letter) { return .failure(refusal) }
                let record = try Self.redrivenRecord(letter)
                let report = try Blocking.run { await producer.send([record])[0] }.get()
                try db.execute(
                    "UPDATE mekong.dead_letters SET redriven_at = now(), redriven_to = $2 WHERE id = $1",
                    [letter.id, report.description])
                return .success((letter: letter, report: report))
            }
        }
    }

    /// Closes dead letters that will never be redriven, with the operator's reason, in one transaction: either
    /// all of them are closed or, if any is missing, redriven or closed already, none is. Returns them in id order.
    /// - Throws: ``ProjectionStateError`` naming every one refused, or for an empty reason.
    @discardableResult
    public func close(_ ids: [Int64], reason: String) throws -> [StoredDeadLetter] {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw ProjectionStateError("a reason is required to close a dead letter") }
        guard reason.count <= 4_000 else {
            throw ProjectionStateError("the reason is \(reason.count) characters long; at most 4000 are kept")
        }
        // Rows are locked in id order, so two commands closing overlapping sets never deadlock.
        let ids = Array(Set(ids)).sorted()
        return try db.transaction { db in
            var refusals: [DeadLetterRefusal] = []
            for id in ids {
                guard
                    let letter = try db.query(
                        "SELECT \(Self.columns) FROM mekong.dead_letters WHERE id = $1 FOR UPDATE", [id]
                    ).first.map(Self.decode)
                else {
                    refusals.append(DeadLetterRefusal(id: id, kind: .missing))
                    continue
                }
                if let to = letter.redrivenTo {
                    refusals.append(DeadLetterRefusal(id: id, kind: .alreadyRedriven(to: to), closing: true))
                } else if let closed = letter.closeReason {
                    refusals.append(DeadLetterRefusal(id: id, kind: .closed(reason: closed), closing: true))
                }
            }
            guard refusals.isEmpty else {
                throw ProjectionStateError(refusals.map(\.message).joined(separator: "\n") + "\nnothing was closed")
            }
            return try ids.map { id in
                try Self.decode(
                    db.query(
                        """
                        UPDATE mekong.dead_letters SET closed_at = now(), close_reason = $2 WHERE id = $1
                        RETURNING \(Self.columns)
                        """, [id, reason])[0])
            }
        }
    }

    /// Why `letter` cannot be redriven, if it cannot.
    static func redriveRefusal(_ letter: StoredDeadLetter) -> DeadLetterRefusal? {
        if let to = letter.redrivenTo { return DeadLetterRefusal(id: letter.id, kind: .alreadyRedriven(to: to)) }
        if let reason = letter.closeReason { return DeadLetterRefusal(id: letter.id, kind: .closed(reason: reason)) }
        if letter.value.count > maximumRedriveBytes {
            return DeadLetterRefusal(id: letter.id, kind: .tooLarge(bytes: letter.value.count, limit: maximumRedriveBytes))
        }
        return nil
    }

    /// The copy to publish: the original key, value and headers, with ``RedriveHeaders`` naming the first origin.
    /// A dead letter that was itself a redriven copy keeps the origin its headers carry; otherwise (also when those
    /// headers are malformed) the origin is this dead letter's position and record timestamp.
    static func redrivenRecord(_ letter: StoredDeadLetter) throws -> OutgoingMessage {
        let stored = try headers(letter.headersJSON)
        let origin = RedriveOrigin(headers: stored)
            ?? RedriveOrigin(position: letter.position, timestampMilliseconds: letter.recordTimestampMilliseconds)
        let headers = stored.filter { !RedriveHeaders.all.contains($0.name) } + origin.headers
        return OutgoingMessage(topic: letter.position.topic, key: letter.key, value: letter.value, headers: headers)
    }

    /// Runs `body` on a new thread and returns its result.
    private static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// The headers stored as `[{"name", "valueBase64"}]` (`DeadLetter.headersJSON`), back as Kafka headers.
    static func headers(_ json: String) throws -> [KafkaHeader] {
        try (JSON.parse(json).arrayValue ?? []).compactMap { entry in
            guard let name = entry["name"]?.stringValue else { return nil }
            let value = entry["valueBase64"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? []
            return KafkaHeader(name: name, value: value)
        }
    }

    private static func decode(_ row: PostgresRow) throws -> StoredDeadLetter {
        StoredDeadLetter(
            id: try row.decode(Int64.self, at: 0),
            projection: ProjectionIdentity(name: try row.decode(String.self, at: 1), version: try row.decode(Int.self, at: 2)),
            position: RecordPosition(
                topic: try row.decode(String.self, at: 3), partition: Int32(try row.decode(Int.self, at: 4)),
                offset: try row.decode(Int64.self, at: 5)),
            stage: try row.decode(String.self, at: 6), reason: try row.decode(String.self, at: 7),
            eventID: try row.decode(String?.self, at: 8), eventType: try row.decode(String?.self, at: 9),
            key: try row.decode([UInt8]?.self, at: 10), value: try row.decode([UInt8].self, at: 11),
            headersJSON: try row.decode(String.self, at: 12), recordTimestampMilliseconds: try row.decode(Int64?.self, at: 16),
            deadLetteredAt: try row.decode(Date.self, at: 13), redrivenAt: try row.decode(Date?.self, at: 14),
            redrivenTo: try row.decode(String?.self, at: 15), closedAt: try row.decode(Date?.self, at: 17),
            closeReason: try row.decode(String?.self, at: 18))
    }
}

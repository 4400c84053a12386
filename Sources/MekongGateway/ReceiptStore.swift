import MekongEvents
import MekongEvidence
import MekongPostgres

/// One reconciliation page.
struct ReconciliationPage: Sendable {
    let count: Int
    let merkleRoot: EventHash
    let events: [(eventId: String, eventHash: String, recordedTime: String)]
    let nextPageToken: String?
}

/// The gateway's evidence store in PostgreSQL (`gateway.receipts`): idempotency reservations, signed receipts, the
/// sources' signed plain bodies, reconciliation.
struct ReceiptStore {
    let connection: PostgresConnection

    /// Reserves every unit; the outcomes are in the same order (``Reservation/decide(_:source:)``). New keys take one
    /// statement (the usual case: a batch of new events); keys already held are then read, and taken over where
    /// their attempt died, by ``reserveHeld(_:source:liveFor:)``.
    func reserve(_ units: [Reservation], source: String, liveFor: Duration) throws -> [ReservationOutcome] {
        guard !units.isEmpty else { return [] }
        let inserted = Set(try connection.query(
            """
            INSERT INTO gateway.receipts (idempotency_key, event_id, source, content_hash, state)
            SELECT key, event_id, $4, content_hash, 'pending'
            FROM unnest($1::text[], $2::text[], $3::text[]) AS i(key, event_id, content_hash)
            ON CONFLICT DO NOTHING
            RETURNING idempotency_key
            """,
            [PostgresArray.text(units.map(\.key)), PostgresArray.text(units.map(\.eventId)),
             PostgresArray.text(units.map(\.contentHash)), source]
        ).map { try $0.decode(String.self, at: 0) })
        let held = units.enumerated().filter { !inserted.contains($0.element.key) }
        guard !held.isEmpty else { return units.map { $0.decide(.inserted, source: source) } }
        var outcomes = units.map { inserted.contains($0.key) ? $0.decide(.inserted, source: source) : nil }
        for ((position, _), outcome) in zip(held, try reserveHeld(held.map(\.element), source: source, liveFor: liveFor)) {
            outcomes[position] = outcome
        }
        return outcomes.map { $0! }
    }

    /// Reserves units whose keys were held a moment ago, in one statement. A key freed since is inserted; a pending
    /// reservation of the same source and content older than `liveFor` is taken over (its attempt died): its age
    /// restarts, so that of two retries racing for it one takes it and the other finds it in progress.
    private func reserveHeld(_ units: [Reservation], source: String, liveFor: Duration) throws -> [ReservationOutcome] {
        let rows = try connection.query(
            """
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS i(key, event_id, content_hash, n)
            ), inserted AS (
                INSERT INTO gateway.receipts (idempotency_key, event_id, source, content_hash, state)
                SELECT key, event_id, $4, content_hash, 'pending' FROM input
                ON CONFLICT DO NOTHING
                RETURNING idempotency_key
            ), taken AS (
                UPDATE gateway.receipts r SET reserved_at = clock_timestamp()
                FROM input i
                WHERE r.idempotency_key = i.key AND r.state = 'pending' AND r.source = $4
                  AND r.content_hash = i.content_hash AND r.reserved_at < clock_timestamp() - $5::interval
                RETURNING r.idempotency_key
            )
            SELECT i.key IN (SELECT idempotency_key FROM inserted), r.source, r.content_hash, r.state, r.event_id,
                   \(Self.answer)::text, i.key IN (SELECT idempotency_key FROM taken),
                   -- The reservation as it was before this statement (a data-modifying CTE's changes are not seen here).
                   (extract(epoch FROM r.reserved_at) * 1000)::bigint
            FROM input i LEFT JOIN gateway.receipts r ON r.idempotency_key = i.key
                LEFT JOIN gateway.batch_receipts b ON b.id = r.batch
            ORDER BY i.n
            """,
            [PostgresArray.text(units.map(\.key)), PostgresArray.text(units.map(\.eventId)),
             PostgresArray.text(units.map(\.contentHash)), source,
             "\(liveFor.components.seconds * 1000 + liveFor.components.attoseconds / 1_000_000_000_000_000) milliseconds"])
        return try zip(units, rows).map { unit, row in
            let stored: StoredReservation? = try row.decode(String?.self, at: 1).map { owner in
                StoredReservation(
                    owner: owner, contentHash: try row.decode(String.self, at: 2), eventId: try row.decode(String.self, at: 4),
                    receipt: try row.decode(String.self, at: 3) == "written"
                        ? try row.decode(String?.self, at: 5).map { try JSON.parse($0) } : nil,
                    takenOver: try row.decode(Bool.self, at: 6), reservedAt: try row.decode(Int64.self, at: 7))
            }
            return unit.decide(try row.decode(Bool.self, at: 0) ? .inserted : stored.map(Arrival.found) ?? .vanished, source: source)
        }
    }

    /// The units whose key another source or other content already holds, by position, with why; nothing is
    /// reserved.
    func taken(_ units: [Reservation], source: String) throws -> [(Int, String)] {
        let rows = try connection.query(
            """
            SELECT i.n::int, r.source, r.content_hash
            FROM unnest($1::text[]) WITH ORDINALITY AS i(key, n) JOIN gateway.receipts r ON r.idempotency_key = i.key
            ORDER BY i.n
            """, [PostgresArray.text(units.map(\.key))])
        return try rows.compactMap { row in
            let position = try row.decode(Int.self, at: 0) - 1
            let message = units[position].conflict(
                owner: try row.decode(String.self, at: 1), storedHash: try row.decode(String.self, at: 2), source: source)
            return message.map { (position, $0) }
        }
    }

    /// One unit Kafka confirmed: its receipt, and for plain bodies the evidence (body and source signature).
    struct Written {
        let key: String
        let receipt: Receipt
        let evidence: JSONValue?
    }

    /// Marks units written, with their receipts and evidence, in one statement.
    func complete(_ written: [Written]) throws {
        guard !written.isEmpty else { return }
        let rows: [JSONValue] = written.map { unit in
            .object([
                "key": .string(unit.key), "eventHash": .string(unit.receipt.eventHash.hex),
                "recordedTime": .string(unit.receipt.recordedTime.text), "receipt": unit.receipt.json,
                "evidence": unit.evidence ?? .null,
            ])
        }
        try connection.execute(
            """
            UPDATE gateway.receipts r SET state = 'written', event_hash = u->>'eventHash',
                recorded_time = (u->>'recordedTime')::timestamptz, receipt = u->'receipt',
                evidence = nullif(u->'evidence', 'null'::jsonb)
            FROM jsonb_array_elements($1::jsonb) u
            WHERE r.idempotency_key = u->>'key'
            """, [JSON.serialize(.array(rows))])
    }

    /// The answer a written unit `r` gives again (a replay, `GET /v1/receipts/{eventId}`): its receipt, with the event
    /// for one the gateway built; or for an event of a signed batch (`b`, its batch receipt) its `EventInclusion`.
    static let answer = """
        CASE WHEN r.batch IS NULL
             THEN r.receipt || CASE WHEN r.evidence ? 'event' THEN jsonb_build_object('event', r.evidence->'event')
                                    ELSE '{}' END
             ELSE jsonb_build_object('batchReceipt', b.receipt, 'eventId', r.event_id, 'eventHash', r.event_hash,
                                     'topic', r.topic, 'partition', r.kafka_partition, 'offset', r.kafka_offset,
                                     'proof', r.placement_proof) END
        """

    /// Stores a signed batch's receipt and marks its written units, with each one's placement and proof, in one
    /// statement.
    func complete(batch receipt: BatchReceipt, source: String, keys: [String], events: [EventInclusion]) throws {
        try connection.execute(
            """
            WITH batch AS (
                INSERT INTO gateway.batch_receipts (source, batch_root, receipt) VALUES ($1, $2, $3::jsonb) RETURNING id
            )
            UPDATE gateway.receipts r SET state = 'written', event_hash = u.event_hash,
                recorded_time = $4::timestamptz, batch = (SELECT id FROM batch), topic = u.topic,
                kafka_partition = u.kafka_partition, kafka_offset = u.kafka_offset, placement_proof = u.proof
            FROM unnest($5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::text[])
                AS u(key, event_hash, topic, kafka_partition, kafka_offset, proof)
            WHERE r.idempotency_key = u.key
            """,
            [source, receipt.batchRoot.hex, JSON.serialize(receipt.json), receipt.recordedTime.text,
             PostgresArray.text(keys), PostgresArray.text(events.map(\.placement.eventHash.hex)),
             PostgresArray.text(events.map(\.placement.topic)),
             PostgresArray.integers(events.map { Int64($0.placement.partition) }),
             PostgresArray.integers(events.map(\.placement.offset)), PostgresArray.text(events.map(\.proof.text))])
    }

    /// Drops reservations whose write Kafka refused, so that the source may retry with any content.
    func release(keys: [String]) throws {
        guard !keys.isEmpty else { return }
        try connection.execute(
            "DELETE FROM gateway.receipts WHERE state = 'pending' AND idempotency_key = ANY($1::text[])",
            [PostgresArray.text(keys)])
    }

    /// A window bound as PostgreSQL reads it: in UTC (RFC 3339 allows offsets to ±23:59, PostgreSQL to ±15:59),
    /// and within 1970 to 9999 (no receipt is older, and PostgreSQL has no year 0): the same window, spelt so that
    /// any valid date-time is read.
    static func bound(_ time: Timestamp) -> String {
        if time.epochSeconds < 0 { return "1970-01-01T00:00:00Z" }
        if time.epochSeconds > 253_402_300_799 { return "9999-12-31T23:59:59.999999Z" }
        return time.utcMicroseconds
    }

    /// A source's receipt for an event (its own only).
    func receipt(eventId: String, source: String) throws -> JSONValue? {
        let rows = try connection.query(
            """
            SELECT \(Self.answer)::text
            FROM gateway.receipts r LEFT JOIN gateway.batch_receipts b ON b.id = r.batch
            WHERE r.event_id = $1 AND r.source = $2 AND r.state = 'written'
            """,
            [eventId, source])
        return try rows.first.map { try JSON.parse(try $0.decode(String.self, at: 0)) }
    }

    /// What the gateway wrote for `source` with `from` <= recorded time < `to`: count and Merkle root of the whole
    /// window, one page of events in (recorded time, event id) order.
    func reconciliation(source: String, from: Timestamp, to: Timestamp, pageSize: Int, after: String?) throws
        -> ReconciliationPage
    {
        let all = try connection.query(
            """
            SELECT event_id, event_hash, to_char(recorded_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
            FROM gateway.receipts
            WHERE source = $1 AND state = 'written' AND recorded_time >= $2::timestamptz AND recorded_time < $3::timestamptz
            ORDER BY recorded_time, event_id
            """, [source, Self.bound(from), Self.bound(to)])
        var hashes: [EventHash] = []
        hashes.reserveCapacity(all.count)
        var events: [(eventId: String, eventHash: String, recordedTime: String)] = []
        var started = after == nil
        var next: String?
        for row in all {
            let hex = try row.decode(String.self, at: 1)
            hashes.append(EventHash(hex: hex) ?? .zero)
            let eventId = try row.decode(String.self, at: 0)
            if started {
                if events.count == pageSize {
                    if next == nil { next = events.last?.eventId }
                } else {
                    events.append((eventId, hex, try row.decode(String.self, at: 2)))
                }
            } else if eventId == after {
                started = true
            }
        }
        return ReconciliationPage(
            count: all.count, merkleRoot: MerkleTree.root(of: hashes), events: events, nextPageToken: next)
    }
}

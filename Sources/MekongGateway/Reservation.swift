import MekongEvents

/// What makes a request unit (event, plain report, survey batch) the same on a retry, and what it must match.
struct Reservation: Sendable {
    /// The event id for CloudEvents; "report:SOURCE:SUBMISSION" or "survey-batch:SOURCE:SURVEY/WAVE/BATCH" otherwise.
    let key: String
    /// The id its event gets if it is new.
    let eventId: String
    /// The event hash (CloudEvents) or the request hash (plain bodies).
    let contentHash: String
}

/// A reservation as the store held it when a unit arrived.
struct StoredReservation: Sendable, Equatable {
    let owner: String
    let contentHash: String
    let eventId: String
    /// The answer given when it was written; nil while pending.
    let receipt: JSONValue?
    /// Whether this arrival took a pending reservation over: its attempt is older than any live attempt can be
    /// (the delivery timeout and a margin), so it died.
    let takenOver: Bool
    /// When the reservation was made (before this arrival), in milliseconds since 1970: a dead attempt's record, if
    /// Kafka has it, was written after this.
    var reservedAt: Int64 = 0
}

/// How a unit found its key.
enum Arrival: Sendable, Equatable {
    /// This arrival created the reservation.
    case inserted
    /// The key was held already.
    case found(StoredReservation)
    /// The key was held, but by nothing this statement could see: a reservation made by a transaction that committed
    /// while the statement ran, or an event id held under another key.
    case vanished
}

/// The answer to a reservation.
enum ReservationOutcome: Sendable, Equatable {
    /// Not seen before: write it.
    case fresh
    /// Seen, and its earlier attempt died before Kafka confirmed it (or before its receipt was stored): this arrival
    /// took it over. Kafka may hold the event already (written at or after `since`, ms since 1970): look it up, and
    /// write it under `eventId` only if it is not there.
    case unconfirmed(eventId: String, since: Int64)
    /// Seen, and its earlier attempt may still be waiting for Kafka: write nothing now; the client retries later
    /// (503 `in-progress`), and gets the receipt or writes it then.
    case inProgress
    /// Already written with the same content: answer with the original receipt, write nothing.
    case replay(receipt: JSONValue)
    /// The id is taken by other content (or another source).
    case conflict(String)
}

extension Reservation {
    /// What to do with this unit, given how it found its key: the reservation state machine, free of the database
    /// (ReservationTests drive it). A written key answers a retry with its receipt and other content with a conflict;
    /// a pending one is in progress unless this arrival took it over.
    func decide(_ arrival: Arrival, source: String) -> ReservationOutcome {
        switch arrival {
        case .inserted:
            return .fresh
        case .vanished:
            return .conflict("the id is being used by a request in progress, or by another event; retry later")
        case .found(let stored):
            if let message = conflict(owner: stored.owner, storedHash: stored.contentHash, source: source) {
                return .conflict(message)
            }
            if let receipt = stored.receipt { return .replay(receipt: receipt) }
            return stored.takenOver ? .unconfirmed(eventId: stored.eventId, since: stored.reservedAt) : .inProgress
        }
    }

    /// Why this unit may not take its key, held by `owner` for content `storedHash`; nil when it may (the same
    /// source, the same content: a retry).
    func conflict(owner: String, storedHash: String, source: String) -> String? {
        guard owner == source else { return "the id \(eventId) is already used" }
        guard storedHash == contentHash else {
            return "\(key) was already received with different content (hash \(storedHash), now \(contentHash))"
        }
        return nil
    }
}

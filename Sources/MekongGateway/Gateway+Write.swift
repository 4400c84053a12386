import Foundation
import MekongEvents
import MekongEvidence
import MekongKafka
import MekongPublishing
import Metrics

/// One unit the gateway writes and gives one receipt for: a source's event, a plain report turned into an event, or a
/// survey batch (its chunk events, then its completion event).
struct WriteUnit: Sendable {
    let key: String
    private(set) var event: CloudEvent
    /// `event.submittedHash`, computed once.
    private(set) var eventHash: EventHash
    /// The canonical JSON `eventHash` is of, when admission kept it: the Kafka record is made from it.
    private(set) var submitted: [UInt8]?
    let topic: String
    /// What a retry must match (event hash, or request hash for plain bodies).
    let contentHash: String
    /// Kept with the receipt for plain bodies: the body and the source's signature.
    let evidence: JSONValue?
    /// Whether the gateway built and signed `event` itself (it is signed again if its id changes).
    let builtByGateway: Bool
    /// Survey chunks written before `event`, covered by its receipt.
    let parts: SpooledEvents?

    /// A source's own event, whose canonical JSON (without `recordedtime`) is `submitted` and its SHA-256 `hash`: a
    /// retry must carry the same event.
    init(event: CloudEvent, submitted: [UInt8], eventHash hash: EventHash, topic: String) {
        self.init(key: event.id, event: event, eventHash: hash, topic: topic, contentHash: hash.hex, evidence: nil,
                  builtByGateway: false, parts: nil)
        self.submitted = submitted
    }

    /// An event the gateway built from a plain body: a retry must carry the same body (`requestHash`).
    init(key: String, builtEvent event: CloudEvent, topic: String, requestHash: EventHash, evidence: JSONValue,
         parts: SpooledEvents? = nil) {
        self.init(key: key, event: event, eventHash: event.submittedHash, topic: topic, contentHash: requestHash.hex,
                  evidence: evidence, builtByGateway: true, parts: parts)
    }

    private init(key: String, event: CloudEvent, eventHash: EventHash, topic: String, contentHash: String,
                 evidence: JSONValue?, builtByGateway: Bool, parts: SpooledEvents?) {
        self.key = key
        self.event = event
        self.eventHash = eventHash
        self.topic = topic
        self.contentHash = contentHash
        self.evidence = evidence
        self.builtByGateway = builtByGateway
        self.parts = parts
    }

    /// Takes the id an earlier, unconfirmed attempt reserved (the gateway's own events are signed again).
    mutating func adopt(eventId: String, signingKey: SigningKey) {
        guard eventId != event.id else { return }
        event.id = eventId
        if builtByGateway { event = event.signed(by: signingKey) }
        eventHash = event.submittedHash
        submitted = nil
    }

    /// Stamps the time the gateway recorded the event (not covered by `eventHash`).
    mutating func record(at time: Timestamp) { event.recordedtime = time }

    /// The Kafka record of the event as recorded: its canonical JSON spliced from `submitted` when admission kept it.
    var record: OutgoingMessage {
        if let submitted, let time = event.recordedtime,
            let value = CloudEvent.canonicalJSON(submitted, id: event.id, recordedtime: time)
        {
            return EventPublisher.record(for: event, canonicalJSON: value, topic: topic)
        }
        return EventPublisher.record(for: event, topic: topic)
    }
}

/// What became of a unit: written (the answer: its receipt, with the event for one the gateway built), a replay
/// (the original answer), a conflict, in progress elsewhere, or a failed write.
enum WriteResult: Sendable {
    case written(JSONValue)
    case replay(JSONValue)
    case conflict(String)
    /// An earlier attempt of the same unit may still be waiting for Kafka.
    case inProgress
    case failed(String)
}

/// How a request's written units are attested: a receipt each, or one batch receipt for a signed batch.
enum Evidence: Sendable {
    case perEvent
    case batch(SignedBatch, root: EventHash)
}

/// What became of a request's units, and for a signed batch its receipt and every event's placement.
struct Written: Sendable {
    var results: [WriteResult]
    var batchReceipt: JSONValue?
    var placements: [JSONValue] = []
}

extension Receipt {
    /// The answer for a unit: the receipt, and for an event the gateway built (a report, a survey batch's completion)
    /// that event as its hash covers it (`event`, outside the signed content: `eventHash` binds it).
    static func answer(_ receipt: JSONValue, event: JSONValue?) -> JSONValue {
        guard let event, case .object(var object) = receipt else { return receipt }
        object["event"] = event
        return .object(object)
    }
}

extension Gateway {
    /// Reserves the units' idempotency keys (nothing is written to Kafka yet).
    func reserve(_ units: [WriteUnit], source: RegisteredSource) async throws -> [ReservationOutcome] {
        let reservations = units.map { Reservation(key: $0.key, eventId: $0.event.id, contentHash: $0.contentHash) }
        let sourceID = source.id
        // An attempt lives at most the delivery timeout, and a moment to store its receipt.
        let liveFor = configuration.deliveryTimeout + .seconds(5)
        return try await db { try ReceiptStore(connection: $0).reserve(reservations, source: sourceID, liveFor: liveFor) }
    }

    /// The units whose key another source or other content already holds (by position in `units`, with why), read
    /// without reserving anything.
    func takenKeys(_ units: [WriteUnit], source: RegisteredSource) async throws -> [(Int, String)] {
        guard !units.isEmpty else { return [] }
        let reservations = units.map { Reservation(key: $0.key, eventId: $0.event.id, contentHash: $0.contentHash) }
        let sourceID = source.id
        return try await db { try ReceiptStore(connection: $0).taken(reservations, source: sourceID) }
    }

    /// Gives back reservations that will not be written (a batch refused after reserving).
    func release(_ keys: [String]) async throws {
        try await db { try ReceiptStore(connection: $0).release(keys: keys) }
    }

    /// ``write(_:outcomes:requestHash:source:evidence:)`` with a receipt per unit.
    func write(
        _ units: [WriteUnit], outcomes: [ReservationOutcome], requestHash: EventHash, source: RegisteredSource
    ) async throws -> [WriteResult] {
        try await write(units, outcomes: outcomes, requestHash: requestHash, source: source, evidence: .perEvent).results
    }

    /// Writes the units whose reservation is fresh or unconfirmed, waits for Kafka's delivery reports, signs and stores
    /// the evidence for those Kafka confirmed, and releases the others. Replays and conflicts pass through unwritten.
    ///
    /// A signed batch that Kafka confirmed whole gets one batch receipt over every unit's placement (replays keep
    /// theirs); if Kafka refused any of it, the confirmed units get a receipt each, so that a retry finds them.
    func write(
        _ units: [WriteUnit], outcomes: [ReservationOutcome], requestHash: EventHash, source: RegisteredSource,
        evidence: Evidence
    ) async throws -> Written {
        var results: [WriteResult?] = Array(repeating: nil, count: units.count)
        var toWrite: [(index: Int, unit: WriteUnit)] = []
        var confirmed: [(index: Int, unit: WriteUnit, report: DeliveryReport, parts: [Receipt.Part])] = []
        var failed: [Int: String] = [:]
        // Units the log may hold: their reservations stay, so that no retry writes them before the log is read.
        var unsure: Set<Int> = []
        let recorded = Timestamp(date: Date())
        for (index, (unit, outcome)) in zip(units, outcomes).enumerated() {
            switch outcome {
            case .replay(let receipt): results[index] = .replay(receipt)
            case .conflict(let message): results[index] = .conflict(message)
            case .inProgress: results[index] = .inProgress
            case .fresh:
                var unit = unit
                unit.record(at: recorded)
                toWrite.append((index, unit))
            case .unconfirmed(let eventId, let since):
                var unit = unit
                unit.adopt(eventId: eventId, signingKey: configuration.key)
                // The dead attempt may have been written: then that record is the event, and it gets the receipt.
                switch await loggedRecord(of: unit, since: since) {
                case .found(let report, let recordedTime):
                    unit.record(at: recordedTime)
                    confirmed.append((index, unit, report, []))
                case .notThere:
                    unit.record(at: recorded)
                    toWrite.append((index, unit))
                case .unknown(let message):
                    failed[index] = message
                    unsure.insert(index)
                }
            }
        }
        crash(at: .afterReservation)

        // Survey chunks first, one unit at a time; a unit whose chunks did not all arrive is not completed.
        var parts: [Int: [Receipt.Part]] = [:]
        for (index, unit) in toWrite {
            guard let spool = unit.parts else { continue }
            do {
                parts[index] = try await writeParts(spool, topic: unit.topic, recorded: recorded)
            } catch {
                failed[index] = "\(error)"
            }
        }
        let main = toWrite.filter { failed[$0.index] == nil }
        let deliveries = await producer.send(main.map { $0.unit.record })
        for ((index, unit), delivery) in zip(main, deliveries) {
            switch delivery {
            case .success(let report): confirmed.append((index, unit, report, parts[index] ?? []))
            case .failure(let error): failed[index] = error.description
            }
        }
        confirmed.sort { $0.index < $1.index }
        crash(at: .afterDelivery)
        if case .batch(let batch, let root) = evidence, failed.isEmpty,
            let written = try await completeBatch(
                units, outcomes: outcomes, confirmed: confirmed.map { ($0.index, $0.report) }, batch: batch, root: root,
                requestHash: requestHash, recorded: recorded, source: source)
        {
            return written
        }
        let key = configuration.key
        let sourceID = source.id
        let receipts = await concurrentMap(confirmed) { item in
            Receipt(
                eventId: item.unit.event.id, eventHash: item.unit.eventHash, requestHash: requestHash,
                topic: item.report.topic, partition: Int(item.report.partition), offset: item.report.offset,
                recordedTime: item.unit.event.recordedtime ?? recorded, source: sourceID, contains: item.parts,
                signedBy: key)
        }
        var written: [ReceiptStore.Written] = []
        for (item, receipt) in zip(confirmed, receipts) {
            var evidence = item.unit.evidence
            var event: JSONValue?
            if item.unit.builtByGateway, case .object(var object)? = evidence {
                // The event as written, less the recordedtime its hash leaves out (the receipt's recordedTime).
                var submitted = item.unit.event
                submitted.recordedtime = nil
                event = submitted.json
                object["event"] = event
                evidence = .object(object)
            }
            written.append(ReceiptStore.Written(key: item.unit.key, receipt: receipt, evidence: evidence))
            results[item.index] = .written(Receipt.answer(receipt.json, event: event))
        }
        for (index, message) in failed {
            results[index] = .failed(message)
        }
        let failedKeys = failed.keys.filter { !unsure.contains($0) }.map { units[$0].key }
        let toComplete = written
        try await db { connection in
            let store = ReceiptStore(connection: connection)
            try store.complete(toComplete)
            try store.release(keys: failedKeys)
        }
        Self.countWritten(confirmed.map(\.report.topic), source: source)
        if !failed.isEmpty {
            Counter(label: "mekong_gateway_kafka_failures_total").increment(by: failed.count)
            logger.warning("kafka refused writes", metadata: ["count": "\(failed.count)", "first": "\(failed.first!.value)"])
        }
        return Written(results: results.map { $0! })
    }

    /// A signed batch whose units are all written or replays: one batch receipt over every placement, stored with
    /// each unit's placement and proof. Nil when it cannot be answered so (a unit neither written nor replayed; replays
    /// only, of different batches), and the caller answers unit by unit.
    private func completeBatch(
        _ units: [WriteUnit], outcomes: [ReservationOutcome], confirmed: [(index: Int, report: DeliveryReport)],
        batch: SignedBatch, root: EventHash, requestHash: EventHash, recorded: Timestamp, source: RegisteredSource
    ) async throws -> Written? {
        var placements: [BatchReceipt.Placement?] = Array(repeating: nil, count: units.count)
        var replays: [JSONValue?] = Array(repeating: nil, count: units.count)
        for (index, report) in confirmed {
            placements[index] = BatchReceipt.Placement(
                eventId: units[index].event.id, eventHash: units[index].eventHash, topic: report.topic,
                partition: Int(report.partition), offset: report.offset)
        }
        for (index, outcome) in outcomes.enumerated() {
            guard case .replay(let stored) = outcome else { continue }
            replays[index] = stored
            guard let topic = stored["topic"]?.stringValue, let partition = stored["partition"]?.integerValue,
                let offset = stored["offset"]?.integerValue
            else { return nil }
            placements[index] = BatchReceipt.Placement(
                eventId: units[index].event.id, eventHash: units[index].eventHash, topic: topic,
                partition: Int(partition), offset: offset)
        }
        guard placements.allSatisfy({ $0 != nil }) else { return nil }
        if confirmed.isEmpty {
            // A retry of a batch already written: its stored receipt, if every event has the same one.
            let receipts = replays.map { $0?["batchReceipt"] }
            guard let first = receipts.first, let receipt = first, receipts.allSatisfy({ $0 == receipt }) else { return nil }
            return Written(
                results: replays.map { .replay($0!) }, batchReceipt: receipt,
                placements: replays.map { Self.placement(of: $0!) })
        }
        let (receipt, proofs) = BatchReceipt.sign(
            batchRoot: root, sourceKey: batch.keyId, sourceSignature: batch.signature, placements: placements.map { $0! },
            requestHash: requestHash, recordedTime: recorded, source: source.id, signedBy: configuration.key)
        let inclusions = zip(placements, proofs).map { EventInclusion(batchReceipt: receipt, placement: $0!, proof: $1) }
        let stored = confirmed.map { inclusions[$0.index] }
        let keys = confirmed.map { units[$0.index].key }
        let sourceID = source.id
        try await db { try ReceiptStore(connection: $0).complete(batch: receipt, source: sourceID, keys: keys, events: stored) }
        Self.countWritten(confirmed.map(\.report.topic), source: source)
        Counter(label: "mekong_gateway_signed_batches_total").increment()
        var results = replays.map { $0.map(WriteResult.replay) }
        for (index, _) in confirmed { results[index] = .written(inclusions[index].json) }
        return Written(
            results: results.map { $0! }, batchReceipt: receipt.json,
            placements: inclusions.map { Self.placement(of: $0.json) })
    }

    /// `mekong_gateway_events_written_total{source, topic}`: events Kafka confirmed, by source and topic.
    private static func countWritten(_ topics: [String], source: RegisteredSource) {
        var perTopic: [String: Int] = [:]
        for topic in topics { perTopic[topic, default: 0] += 1 }
        for (topic, count) in perTopic {
            Counter(label: "mekong_gateway_events_written_total", dimensions: [("source", source.id), ("topic", topic)])
                .increment(by: count)
        }
    }

    /// An event inclusion without its batch receipt: the placement and its proof, as a batch answer lists them.
    private static func placement(of inclusion: JSONValue) -> JSONValue {
        guard case .object(var object) = inclusion else { return inclusion }
        object["batchReceipt"] = nil
        return .object(object)
    }

    /// What the log holds of a unit whose earlier attempt died.
    enum LoggedRecord {
        /// The attempt's record: its placement and the recorded time it carries.
        case found(DeliveryReport, recorded: Timestamp)
        case notThere
        /// The log could not be read, or holds the id with other content: nothing is written.
        case unknown(String)
    }

    /// Where the log holds `unit`'s event, written by an attempt that reserved it at `since` (ms) and died.
    private func loggedRecord(of unit: WriteUnit, since: Int64) async -> LoggedRecord {
        let found: ConsumedMessage?
        do {
            // A margin for the broker's clock against PostgreSQL's.
            found = try await LogSearch.find(
                eventId: unit.event.id, key: unit.event.subject, topic: unit.topic, since: since - 60_000,
                configuration: configuration.kafka)
        } catch {
            return .unknown("could not read the log to find event \(unit.event.id) of an earlier attempt: \(error)")
        }
        guard let record = found else { return .notThere }
        let place = "\(record.topic)[\(record.partition)]@\(record.offset)"
        guard let event = try? CloudEvent(decoding: record.value), event.submittedHash == unit.eventHash,
            let recordedTime = event.recordedtime
        else { return .unknown("Kafka holds event \(unit.event.id) at \(place) with other content; it is not written again") }
        Counter(label: "mekong_gateway_recovered_writes_total").increment()
        logger.notice("a dead attempt's write found in the log; not written again",
                      metadata: ["event": "\(unit.event.id)", "at": "\(place)"])
        return .found(DeliveryReport(topic: record.topic, partition: record.partition, offset: record.offset),
                      recorded: recordedTime)
    }

    /// Stops the process at `point` when the configuration asks (crash tests only).
    private func crash(at point: GatewayConfiguration.CrashPoint) {
        guard configuration.crashPoint == point else { return }
        logger.critical("stopping at \(point.rawValue), as MEKONG_GATEWAY_CRASH_AT asks")
        _exit(70)
    }

    private func writeParts(_ spool: SpooledEvents, topic: String, recorded: Timestamp) async throws -> [Receipt.Part] {
        var parts: [Receipt.Part] = []
        while var events = try spool.nextGroup(64) {
            for index in events.indices { events[index].recordedtime = recorded }
            let deliveries = await producer.send(events.map { EventPublisher.record(for: $0, topic: topic) })
            for (event, delivery) in zip(events, deliveries) {
                let report = try delivery.get()
                parts.append(Receipt.Part(
                    eventId: event.id, eventHash: event.submittedHash, partition: Int(report.partition), offset: report.offset))
            }
        }
        return parts
    }
}

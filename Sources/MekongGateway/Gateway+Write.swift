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
    var event: CloudEvent
    let topic: String
    /// What a retry must match (event hash, or request hash for plain bodies).
    let contentHash: String
    /// Kept with the receipt for plain bodies: the body and the source's signature.
    let evidence: JSONValue?
    /// Whether the gateway built and signed `event` itself (it is signed again if its id changes).
    let builtByGateway: Bool
    /// Survey chunks written before `event`, covered by its receipt.
    let parts: SpooledEvents?
}

/// What became of a unit.
enum WriteResult: Sendable {
    case written(Receipt)
    case replay(JSONValue)
    case conflict(String)
    case failed(String)

    var receiptJSON: JSONValue? {
        switch self {
        case .written(let receipt): receipt.json
        case .replay(let json): json
        case .conflict, .failed: nil
        }
    }
}

extension Gateway {
    /// Reserves the units' idempotency keys (nothing is written to Kafka yet).
    func reserve(_ units: [WriteUnit], source: RegisteredSource) async throws -> [ReservationOutcome] {
        let reservations = units.map { Reservation(key: $0.key, eventId: $0.event.id, contentHash: $0.contentHash) }
        let sourceID = source.id
        return try await db { try ReceiptStore(connection: $0).reserve(reservations, source: sourceID) }
    }

    /// Gives back reservations that will not be written (a batch refused after reserving).
    func release(_ keys: [String]) async throws {
        try await db { try ReceiptStore(connection: $0).release(keys: keys) }
    }

    /// Writes the units whose reservation is fresh or unconfirmed, waits for Kafka's delivery reports, signs and stores
    /// receipts for those Kafka confirmed, and releases the others. Replays and conflicts pass through unwritten.
    func write(
        _ units: [WriteUnit], outcomes: [ReservationOutcome], requestHash: EventHash, source: RegisteredSource
    ) async throws -> [WriteResult] {
        var results: [WriteResult?] = Array(repeating: nil, count: units.count)
        var toWrite: [(index: Int, unit: WriteUnit)] = []
        let recorded = Timestamp(date: Date())
        for (index, (unit, outcome)) in zip(units, outcomes).enumerated() {
            switch outcome {
            case .replay(let receipt): results[index] = .replay(receipt)
            case .conflict(let message): results[index] = .conflict(message)
            case .fresh, .unconfirmed:
                var unit = unit
                if case .unconfirmed(let eventId) = outcome, eventId != unit.event.id {
                    unit.event.id = eventId
                    if unit.builtByGateway { unit.event = unit.event.signed(by: configuration.key) }
                }
                unit.event.recordedtime = recorded
                toWrite.append((index, unit))
            }
        }

        // Survey chunks first, one unit at a time; a unit whose chunks did not all arrive is not completed.
        var parts: [Int: [Receipt.Part]] = [:]
        var failed: [Int: String] = [:]
        for (index, unit) in toWrite {
            guard let spool = unit.parts else { continue }
            do {
                parts[index] = try await writeParts(spool, topic: unit.topic, recorded: recorded)
            } catch {
                failed[index] = "\(error)"
            }
        }
        let main = toWrite.filter { failed[$0.index] == nil }
        let deliveries = await producer.send(main.map { EventPublisher.record(for: $0.unit.event, topic: $0.unit.topic) })
        var written: [ReceiptStore.Written] = []
        for ((index, unit), delivery) in zip(main, deliveries) {
            switch delivery {
            case .success(let report):
                let receipt = Receipt(
                    eventId: unit.event.id, eventHash: unit.event.submittedHash, requestHash: requestHash, topic: report.topic,
                    partition: Int(report.partition), offset: report.offset, recordedTime: recorded, source: source.id,
                    contains: parts[index] ?? [], signedBy: configuration.key)
                written.append(ReceiptStore.Written(key: unit.key, receipt: receipt, evidence: unit.evidence))
                results[index] = .written(receipt)
            case .failure(let error):
                failed[index] = error.description
            }
        }
        for (index, message) in failed {
            results[index] = .failed(message)
        }
        let failedKeys = failed.keys.map { units[$0].key }
        let toComplete = written
        try await db { connection in
            let store = ReceiptStore(connection: connection)
            try store.complete(toComplete)
            try store.release(keys: failedKeys)
        }
        Counter(label: "mekong_gateway_events_written_total").increment(by: written.count)
        if !failed.isEmpty {
            Counter(label: "mekong_gateway_kafka_failures_total").increment(by: failed.count)
            logger.warning("kafka refused writes", metadata: ["count": "\(failed.count)", "first": "\(failed.first!.value)"])
        }
        return results.map { $0! }
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

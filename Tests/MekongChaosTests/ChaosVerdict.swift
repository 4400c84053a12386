import MekongEvidence

/// One event a load client sent, with its receipt if the gateway gave one.
struct SentEvent: Sendable {
    let id: String
    let subject: String
    /// 1, 2, 3… per subject, in the order the client sent them (each only after the previous one's answer, or in
    /// one batch after it).
    let sequence: Int
    let source: String
    var receipt: Receipt?
}

/// One record of the audit trail.
struct LogRow: Sendable, Equatable {
    let eventId: String
    let subject: String
    let partition: Int
    let offset: Int64
}

/// What the audit trail says about what the clients sent: the checks of the chaos suite, as a pure function so
/// that the suite can show each check failing on a doctored copy of its own data.
struct ChaosVerdict: Sendable {
    var acknowledged = 0
    var unacknowledged = 0
    /// Acknowledged (a receipt was given) and not in the log.
    var lost: [String] = []
    /// Where the receipts of lost events said they were: `topic[partition]@offset` by count.
    var lostReceiptPositions: [String: Int] = [:]
    /// In the log more than once.
    var duplicated: [String] = []
    /// A subject whose acknowledged events are not in the log in the order they were sent, or are spread over
    /// partitions.
    var outOfOrder: [String] = []
    /// A receipt naming another partition or offset than where the event is in the log.
    var misplaced: [String] = []
    /// Receipts whose offset is not a position in the log (librdkafka reported the delivery without one).
    var unpositioned: [String] = []
    /// In the log but never sent by a client.
    var strangers: [String] = []
    /// Not acknowledged (no receipt: 503, refusal, HTTP failure) yet in the log anyway: allowed.
    var unacknowledgedInLog = 0

    var holds: Bool {
        lost.isEmpty && duplicated.isEmpty && outOfOrder.isEmpty && misplaced.isEmpty && unpositioned.isEmpty
            && strangers.isEmpty
    }

    init(sent: [SentEvent], log: [LogRow], topic: String) {
        var rows: [String: [LogRow]] = [:]
        for row in log { rows[row.eventId, default: []].append(row) }
        duplicated = rows.filter { $0.value.count > 1 }.keys.sorted()
        var known = Set<String>()
        var acknowledgedBySubject: [String: [(sent: SentEvent, row: LogRow)]] = [:]
        for event in sent {
            known.insert(event.id)
            let found = rows[event.id] ?? []
            guard let receipt = event.receipt else {
                unacknowledged += 1
                if !found.isEmpty { unacknowledgedInLog += 1 }
                continue
            }
            acknowledged += 1
            if receipt.offset < 0 { unpositioned.append(event.id) }
            guard let row = found.first else {
                lost.append(event.id)
                lostReceiptPositions[receipt.offset < 0 ? "offset \(receipt.offset)" : "a real offset", default: 0] += 1
                continue
            }
            if receipt.topic != topic || receipt.partition != row.partition || receipt.offset != row.offset {
                misplaced.append(
                    "\(event.id): receipt \(receipt.topic)[\(receipt.partition)]@\(receipt.offset), "
                        + "log \(topic)[\(row.partition)]@\(row.offset)")
            }
            acknowledgedBySubject[event.subject, default: []].append((event, row))
        }
        strangers = rows.keys.filter { !known.contains($0) }.sorted()
        for (subject, events) in acknowledgedBySubject.sorted(by: { $0.key < $1.key }) {
            let inLog = events.sorted { ($0.row.partition, $0.row.offset) < ($1.row.partition, $1.row.offset) }
            let partitions = Set(inLog.map(\.row.partition))
            let sequences = inLog.map(\.sent.sequence)
            if partitions.count > 1 {
                outOfOrder.append("\(subject): in partitions \(partitions.sorted())")
            } else if sequences != sequences.sorted() || Set(sequences).count != sequences.count {
                outOfOrder.append("\(subject): sequences in log order \(sequences)")
            }
        }
    }

    /// One line per finding kind, for failure messages.
    var summary: String {
        "acknowledged \(acknowledged), unacknowledged \(unacknowledged) (\(unacknowledgedInLog) of them in the log); "
            + "lost \(lost.count) \(lost.prefix(5)) (receipts: \(lostReceiptPositions)), duplicated \(duplicated.count) \(duplicated.prefix(5)), "
            + "out of order \(outOfOrder.count) \(outOfOrder.prefix(3)), misplaced \(misplaced.count) "
            + "\(misplaced.prefix(3)), receipts without a position \(unpositioned.count), never sent \(strangers.count) \(strangers.prefix(5))"
    }
}

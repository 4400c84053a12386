import MekongEvents

/// One event in a reconciliation list: its id and the hash the receipt gave it.
public struct LoggedEvent: Sendable, Equatable, Hashable {
    public let eventId: String
    public let eventHash: EventHash

    public init(eventId: String, eventHash: EventHash) {
        self.eventId = eventId
        self.eventHash = eventHash
    }
}

/// What a source's own log and the gateway's record disagree on.
public struct ReconciliationReport: Sendable, Equatable {
    /// Sent according to the source, not recorded by the gateway.
    public let missingAtGateway: [LoggedEvent]
    /// Recorded by the gateway, absent from the source's log.
    public let missingAtSource: [LoggedEvent]
    /// Same id on both sides, different hashes: (source's, gateway's).
    public let differing: [(source: LoggedEvent, gateway: LoggedEvent)]
    /// Events both sides agree on.
    public let matching: Int

    public var agrees: Bool { missingAtGateway.isEmpty && missingAtSource.isEmpty && differing.isEmpty }

    /// Compares the two lists by event id, keeping each side's order in the results.
    public init(local: [LoggedEvent], gateway: [LoggedEvent]) {
        let gatewayByID = Dictionary(gateway.map { ($0.eventId, $0) }, uniquingKeysWith: { first, _ in first })
        let localIDs = Set(local.map(\.eventId))
        var missing: [LoggedEvent] = []
        var differing: [(LoggedEvent, LoggedEvent)] = []
        var matching = 0
        for event in local {
            guard let recorded = gatewayByID[event.eventId] else {
                missing.append(event)
                continue
            }
            if recorded.eventHash == event.eventHash { matching += 1 } else { differing.append((event, recorded)) }
        }
        missingAtGateway = missing
        missingAtSource = gateway.filter { !localIDs.contains($0.eventId) }
        self.differing = differing
        self.matching = matching
    }

    public static func == (lhs: ReconciliationReport, rhs: ReconciliationReport) -> Bool {
        lhs.missingAtGateway == rhs.missingAtGateway && lhs.missingAtSource == rhs.missingAtSource
            && lhs.matching == rhs.matching && lhs.differing.map(\.source) == rhs.differing.map(\.source)
            && lhs.differing.map(\.gateway) == rhs.differing.map(\.gateway)
    }
}

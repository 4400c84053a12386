import MekongEvents

/// Turns the data of one event type from version `from` into version `from + 1`.
public struct Upcaster: Sendable {
    public let eventType: String
    public let from: Int
    /// Receives the event's `data` in version `from` and returns it in version `from + 1`; a thrown error
    /// dead-letters the event (stage `upcast`) with the error's text as the reason.
    public let transform: @Sendable (JSONValue) throws -> JSONValue

    public init(eventType: String, from: Int, transform: @escaping @Sendable (JSONValue) throws -> JSONValue) {
        precondition(from >= 1, "event type versions start at 1")
        self.eventType = eventType
        self.from = from
        self.transform = transform
    }
}

/// The registered upcasters of an installation: one per event type and version step.
public struct Upcasters: Sendable {
    private var steps: [Key: Upcaster] = [:]

    private struct Key: Hashable {
        let eventType: String
        let from: Int
    }

    public init(_ upcasters: [Upcaster] = []) {
        for upcaster in upcasters {
            let key = Key(eventType: upcaster.eventType, from: upcaster.from)
            precondition(steps[key] == nil, "two upcasters for \(upcaster.eventType) v\(upcaster.from)")
            steps[key] = upcaster
        }
    }

    /// The upcaster from `version` to `version + 1` of `eventType`, if one is registered.
    public func step(_ eventType: String, from version: Int) -> Upcaster? {
        steps[Key(eventType: eventType, from: version)]
    }

    /// Every registered step, sorted by event type and version.
    public var all: [Upcaster] {
        steps.values.sorted { ($0.eventType, $0.from) < ($1.eventType, $1.from) }
    }
}

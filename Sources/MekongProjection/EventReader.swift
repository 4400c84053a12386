import MekongCatalog
import MekongEvents
import MekongKafka

/// An event as a projection sees it: decoded, upcast to the newest version of its type, validated.
public struct ProjectedEvent: Sendable {
    /// The event in the newest shape; `dataschema` names the newest version.
    public let event: CloudEvent
    /// The version the event was written in.
    public let writtenVersion: Int
}

/// Reads records into ``ProjectedEvent``s: envelope, topic, data schema of the written version, upcasting to the
/// newest version, data schema of the newest version. Each failure is a ``Refusal`` naming its stage.
public struct EventReader: Sendable {
    public let catalog: Catalog
    public let upcasters: Upcasters
    /// Larger records are refused before parsing (Kafka's default `message.max.bytes` is 1 MB; an event above it
    /// was published around the limits and would cost a projection memory for no statistical content).
    public let maximumRecordBytes: Int

    /// The default of ``maximumRecordBytes``: `CloudEvent.Limits.eventBytes` (1 MiB), the largest event that
    /// publishing accepts. `mekong dlq redrive` refuses larger dead letters, which would be refused again.
    public static let defaultMaximumRecordBytes = CloudEvent.Limits.eventBytes

    public init(catalog: Catalog, upcasters: Upcasters, maximumRecordBytes: Int = EventReader.defaultMaximumRecordBytes) {
        self.catalog = catalog
        self.upcasters = upcasters
        self.maximumRecordBytes = maximumRecordBytes
    }

    public func read(_ record: ConsumedMessage) throws(Refusal) -> ProjectedEvent {
        guard record.value.count <= maximumRecordBytes else {
            throw Refusal(.decode, "record of \(record.value.count) bytes exceeds the limit of \(maximumRecordBytes) bytes")
        }
        let event: CloudEvent
        do {
            event = try CloudEvent(decoding: record.value)
        } catch {
            throw Refusal(.decode, "not a valid CloudEvent: \(error)")
        }
        if let mismatch = Self.framingProblem(record, event) { throw Refusal(.validate, mismatch) }
        return try read(event, topic: record.topic)
    }

    /// What is wrong with how a record carries its event, or nil (docs/events.md, "Records"): its key must be the
    /// event's `subject`, since per-subject order rests on the key (records of one key stay in one partition, in
    /// order); the `ce_type`, `ce_id` and `ce_source` headers are optional in structured mode, and each one present
    /// must equal its attribute (consumers filter on them without parsing the value).
    public static func framingProblem(_ record: ConsumedMessage, _ event: CloudEvent) -> String? {
        guard let key = record.key else {
            return "the record has no key; its key must be the event's subject \"\(event.subject)\""
        }
        guard key.elementsEqual(event.subject.utf8) else {
            return "the record's key \"\(String(decoding: key, as: UTF8.self))\" is not the event's subject "
                + "\"\(event.subject)\" (per-subject order rests on the key)"
        }
        for (name, value) in event.headers {
            for header in record.headers where header.name == name && !header.value.elementsEqual(value.utf8) {
                return "header \(name) \"\(String(decoding: header.value, as: UTF8.self))\" is not the event's \(name.dropFirst(3)) \"\(value)\""
            }
        }
        return nil
    }

    /// Checks and upcasts an already decoded event read from `topic`.
    public func read(_ event: CloudEvent, topic: String) throws(Refusal) -> ProjectedEvent {
        guard let topicDefinition = catalog.topic(named: topic), topicDefinition.eventTypes.contains(event.type) else {
            throw Refusal(.validate, "event type '\(event.type)' is not carried by topic '\(topic)'")
        }
        let versions = catalog.schemas(forEventType: event.type)
        guard let newest = versions.last else {
            throw Refusal(.validate, "event type '\(event.type)' has no schema in the catalog")
        }
        guard let written = catalog.schema(forDataSchema: event.dataschema), written.eventType == event.type else {
            if let version = Self.version(of: event.dataschema, eventType: event.type) {
                throw Refusal(
                    .upcast,
                    "\(event.type) v\(version) is not in the catalog (newest is v\(newest.version)): no upcaster path")
            }
            throw Refusal(.validate, "dataschema '\(event.dataschema)' is not a schema of '\(event.type)'")
        }
        let problems = written.schema.validate(event.data)
        guard problems.isEmpty else {
            throw Refusal(.validate, "\(event.type) v\(written.version): \(Self.listed(problems))")
        }
        var upcast = event
        var version = written.version
        while version < newest.version {
            if let step = upcasters.step(event.type, from: version) {
                do {
                    upcast.data = try step.transform(upcast.data)
                } catch {
                    throw Refusal(.upcast, "upcasting \(event.type) v\(version) to v\(version + 1) failed: \(error)")
                }
            } else if !versions.contains(where: { $0.version == version + 1 && $0.compatibleWith == version }) {
                throw Refusal(.upcast, "no upcaster from \(event.type) v\(version) to v\(version + 1)")
            }  // else v(N+1) declares v(N) data valid as it is
            version += 1
        }
        if version != written.version {
            upcast.dataschema = newest.id
            let problems = newest.schema.validate(upcast.data)
            guard problems.isEmpty else {
                throw Refusal(
                    .upcast,
                    "\(event.type) upcast from v\(written.version) does not fit v\(version): \(Self.listed(problems))")
            }
        }
        return ProjectedEvent(event: upcast, writtenVersion: written.version)
    }

    /// The first five violations, each as `data<pointer>: message`.
    private static func listed(_ problems: [SchemaViolation]) -> String {
        problems.prefix(5).map { "data\($0.path): \($0.message)" }.joined(separator: "; ")
    }

    /// N of `https://schemas.mekong.gso.gov.vn/<eventType>/vN.schema.json`.
    static func version(of dataschema: String, eventType: String) -> Int? {
        let prefix = EventSchema.dataSchemaURI(eventType: eventType, version: 0).dropLast("0.schema.json".count)
        let suffix = ".schema.json"
        guard dataschema.hasPrefix(prefix), dataschema.hasSuffix(suffix) else { return nil }
        return Int(dataschema.dropFirst(prefix.count).dropLast(suffix.count))
    }
}

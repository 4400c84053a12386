import Foundation
import MekongEvents

/// The topic catalog: every topic, the event types it carries and their data schemas, loaded
/// from a `Topics/` directory (see Topics/README.md for the layout).
public struct Catalog: Sendable {
    /// The directory the catalog was loaded from.
    public let directory: URL
    /// All topics, sorted by name.
    public let topics: [TopicDefinition]
    private let topicsByName: [String: TopicDefinition]
    private let topicNameByEventType: [String: String]
    private let schemasByURI: [String: EventSchema]
    private let schemasByEventType: [String: [EventSchema]]

    /// Loads and checks the whole catalog; the first problem found is thrown.
    public init(directory: URL) throws(CatalogError) {
        let loaded = try CatalogLoader(directory: directory).load()
        self.directory = directory
        self.topics = loaded.topics.sorted { $0.name < $1.name }
        self.topicsByName = Dictionary(uniqueKeysWithValues: loaded.topics.map { ($0.name, $0) })
        var topicNameByEventType: [String: String] = [:]
        for topic in loaded.topics {
            for type in topic.eventTypes { topicNameByEventType[type] = topic.name }
        }
        self.topicNameByEventType = topicNameByEventType
        self.schemasByURI = Dictionary(uniqueKeysWithValues: loaded.schemas.map { ($0.id, $0) })
        self.schemasByEventType = Dictionary(grouping: loaded.schemas, by: \.eventType)
            .mapValues { $0.sorted { $0.version < $1.version } }
    }

    /// Topics of kind ``TopicDefinition/Kind/events``, sorted by name.
    public var eventTopics: [TopicDefinition] { topics.filter { $0.kind == .events } }

    /// The topic called `name`.
    public func topic(named name: String) -> TopicDefinition? { topicsByName[name] }

    /// The topic that carries `eventType` (each event type belongs to exactly one topic).
    public func topic(carrying eventType: String) -> TopicDefinition? {
        topicNameByEventType[eventType].flatMap { topicsByName[$0] }
    }

    /// The schema whose `$id` is `uri` (an event's `dataschema`).
    public func schema(forDataSchema uri: String) -> EventSchema? { schemasByURI[uri] }

    /// Every schema version of `eventType`, oldest first.
    public func schemas(forEventType eventType: String) -> [EventSchema] { schemasByEventType[eventType] ?? [] }

    /// Everything that stops `event` from being published to `topic`: an unknown topic, an event
    /// type the topic does not carry, an unknown `dataschema` or one belonging to another type,
    /// and each schema violation in `data` (field "data/<pointer>"). Empty when the event fits.
    public func validate(_ event: CloudEvent, topic name: String) -> [EventProblem] {
        guard let topic = topicsByName[name] else {
            let known = topics.map(\.name).joined(separator: ", ")
            return [EventProblem(field: "topic", message: "unknown topic '\(name)' (topics: \(known))")]
        }
        var problems: [EventProblem] = []
        if !topic.eventTypes.contains(event.type) {
            let home = topicNameByEventType[event.type].map { "; it belongs on '\($0)'" } ?? "; no topic carries it"
            problems.append(
                EventProblem(
                    field: "type",
                    message: "topic '\(name)' does not carry event type '\(event.type)' "
                        + "(it carries \(topic.eventTypes.joined(separator: ", "))\(home))"))
        }
        guard let schema = schemasByURI[event.dataschema] else {
            let known = schemas(forEventType: event.type).map(\.id)
            let hint = known.isEmpty ? "" : " (known for '\(event.type)': \(known.joined(separator: ", ")))"
            problems.append(
                EventProblem(field: "dataschema", message: "unknown dataschema '\(event.dataschema)'\(hint)"))
            return problems
        }
        guard schema.eventType == event.type else {
            problems.append(
                EventProblem(
                    field: "dataschema",
                    message:
                        "dataschema '\(event.dataschema)' belongs to event type '\(schema.eventType)', not '\(event.type)'"
                ))
            return problems
        }
        for violation in schema.schema.validate(event.data) {
            problems.append(EventProblem(field: "data" + violation.path, message: violation.message))
        }
        return problems
    }
}

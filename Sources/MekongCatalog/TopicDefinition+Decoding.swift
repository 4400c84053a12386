import MekongEvents

extension TopicDefinition {
    /// The fields of `topic.json`; all are required and no other is accepted.
    static let fields = [
        "name", "description", "kind", "partitions", "replicationFactor", "retentionMs", "cleanupPolicy", "key",
        "eventTypes", "config",
    ]

    /// Reads and checks one `topic.json`.
    ///
    /// Rules: a Kafka-legal name; partitions and replicationFactor >= 1; retentionMs -1 or positive;
    /// cleanupPolicy "delete" or "compact"; an events topic keeps everything (retentionMs -1,
    /// cleanupPolicy "delete"); at least one event type, each named like `vn.gso.report.submitted`;
    /// config values are strings, may not repeat `retention.ms`/`cleanup.policy`, and
    /// `min.insync.replicas` may not exceed the replication factor.
    init(json: JSONValue, file: String) throws(CatalogError) {
        func fail(_ message: String) -> CatalogError { CatalogError(file: file, message: message) }
        guard case .object(let object) = json else { throw fail("a topic definition must be a JSON object") }
        for key in object.keys where !Self.fields.contains(key) {
            throw fail("unknown field '\(key)' (fields: \(Self.fields.joined(separator: ", ")))")
        }
        func field(_ name: String) throws(CatalogError) -> JSONValue {
            guard let value = object[name] else { throw fail("missing field '\(name)'") }
            return value
        }
        func string(_ name: String) throws(CatalogError) -> String {
            let value = try field(name)
            guard let text = value.stringValue, !text.isEmpty else {
                throw fail("'\(name)' must be a non-empty string, got \(JSON.serialize(value))")
            }
            return text
        }
        func integer(_ name: String) throws(CatalogError) -> Int64 {
            let value = try field(name)
            guard let number = value.integerValue else {
                throw fail("'\(name)' must be an integer, got \(JSON.serialize(value))")
            }
            return number
        }

        let name = try string("name")
        guard Self.isValidTopicName(name) else {
            throw fail("'name' \"\(name)\" is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)")
        }
        let kindText = try string("kind")
        guard let kind = Kind(rawValue: kindText) else {
            let kinds = Kind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw fail("'kind' must be one of \(kinds), got \"\(kindText)\"")
        }
        let partitions = try integer("partitions")
        guard (1...10_000).contains(partitions) else {
            throw fail("'partitions' must be between 1 and 10000, got \(partitions)")
        }
        let replicationFactor = try integer("replicationFactor")
        guard (1...32).contains(replicationFactor) else {
            throw fail("'replicationFactor' must be between 1 and 32, got \(replicationFactor)")
        }
        let retentionMs = try integer("retentionMs")
        guard retentionMs == -1 || retentionMs > 0 else {
            throw fail("'retentionMs' must be -1 (keep forever) or positive, got \(retentionMs)")
        }
        let cleanupPolicy = try string("cleanupPolicy")
        guard cleanupPolicy == "delete" || cleanupPolicy == "compact" else {
            throw fail("'cleanupPolicy' must be \"delete\" or \"compact\", got \"\(cleanupPolicy)\"")
        }
        if kind == .events {
            guard retentionMs == -1 else {
                throw fail(
                    "events topic '\(name)' must keep every event forever: 'retentionMs' must be -1, got \(retentionMs)"
                )
            }
            guard cleanupPolicy == "delete" else {
                throw fail(
                    "events topic '\(name)' must not be compacted: 'cleanupPolicy' must be \"delete\", got \"\(cleanupPolicy)\""
                )
            }
        }

        let typesValue = try field("eventTypes")
        guard case .array(let typeValues) = typesValue, !typeValues.isEmpty else {
            throw fail("'eventTypes' must be a non-empty array of strings")
        }
        var eventTypes: [String] = []
        for value in typeValues {
            guard let type = value.stringValue, Self.isValidEventType(type) else {
                throw fail(
                    "'eventTypes' entry \(JSON.serialize(value)) is not an event type like \"vn.gso.report.submitted\"")
            }
            guard !eventTypes.contains(type) else { throw fail("'eventTypes' lists \"\(type)\" twice") }
            eventTypes.append(type)
        }

        guard case .object(let configObject) = try field("config") else {
            throw fail("'config' must be an object of strings")
        }
        var config: [String: String] = [:]
        for (key, value) in configObject {
            guard let text = value.stringValue else {
                throw fail(
                    "'config' value for '\(key)' must be a string (Kafka configs are strings), got \(JSON.serialize(value))"
                )
            }
            guard key != "retention.ms", key != "cleanup.policy" else {
                throw fail(
                    "'config' must not set '\(key)'; use the '\(key == "retention.ms" ? "retentionMs" : "cleanupPolicy")' field"
                )
            }
            config[key] = text
        }
        if let minimum = config["min.insync.replicas"] {
            guard let replicas = Int64(minimum), replicas >= 1, replicas <= replicationFactor else {
                throw fail(
                    "'min.insync.replicas' must be an integer between 1 and replicationFactor (\(replicationFactor)), got \"\(minimum)\""
                )
            }
        }

        self.init(
            name: name, description: try string("description"), kind: kind, partitions: Int(partitions),
            replicationFactor: Int(replicationFactor), retentionMs: retentionMs, cleanupPolicy: cleanupPolicy,
            key: try string("key"), eventTypes: eventTypes, config: config)
    }

    static func isValidTopicName(_ name: String) -> Bool {
        (1...249).contains(name.utf8.count) && name != "." && name != ".."
            && name.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    /// Dot-separated lowercase segments of a-z, 0-9 and '-', at least two: "mekong.dead-lettered".
    static func isValidEventType(_ type: String) -> Bool {
        let segments = type.split(separator: ".", omittingEmptySubsequences: false)
        return segments.count >= 2 && type.utf8.count <= 200
            && segments.allSatisfy { segment in
                !segment.isEmpty && segment.first != "-" && segment.last != "-"
                    && segment.utf8.allSatisfy { byte in
                        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                    }
            }
    }
}

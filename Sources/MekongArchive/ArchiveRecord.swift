import Foundation
import MekongEvents
import MekongKafka

/// One Kafka record as a line of a segment: NDJSON, one object per line, bytes in base64, with the SHA-256 of the
/// value (what the audit trail records as `event_hash`). docs/archive.md specifies the format.
public struct ArchiveRecord: Sendable, Equatable {
    public let offset: Int64
    /// The record's timestamp in milliseconds since 1970, if it has one.
    public let timestamp: Int64?
    public let key: [UInt8]?
    public let headers: [KafkaHeader]
    public let value: [UInt8]

    public init(offset: Int64, timestamp: Int64?, key: [UInt8]?, headers: [KafkaHeader], value: [UInt8]) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.headers = headers
        self.value = value
    }

    public init(_ message: ConsumedMessage) {
        self.init(offset: message.offset, timestamp: message.timestampMilliseconds, key: message.key,
                  headers: message.headers, value: message.value)
    }

    /// SHA-256 of the value.
    public var valueHash: EventHash { EventHash.sha256(value) }

    /// The segment line, without its newline.
    public var line: [UInt8] {
        JSON.serializeBytes(.object(JSONObject([
            ("offset", .number(Double(offset))),
            ("timestamp", timestamp.map { .number(Double($0)) } ?? .null),
            ("key", key.map { .string(Data($0).base64EncodedString()) } ?? .null),
            ("headers", .array(headers.map {
                .object(JSONObject([("name", .string($0.name)), ("value", .string(Data($0.value).base64EncodedString()))]))
            })),
            ("value", .string(Data(value).base64EncodedString())),
            ("sha256", .string(valueHash.hex)),
        ])))
    }

    /// Reads a segment line; `place` (file and line) names it in errors. The line's `sha256` must be its value's.
    public init(line: some Collection<UInt8>, place: String) throws(ArchiveError) {
        func bad(_ why: String) -> ArchiveError { ArchiveError(.corrupt, "\(place): \(why)") }
        guard let json = try? JSON.parse(line) else { throw bad("not a JSON object") }
        guard let offset = json["offset"]?.integerValue, offset >= 0 else { throw bad("offset missing or negative") }
        func bytes(_ name: String, _ value: JSONValue?) throws(ArchiveError) -> [UInt8]? {
            switch value {
            case nil, .null?: return nil
            case .string(let text)?:
                guard let data = Data(base64Encoded: text) else { throw bad("\(name) is not base64") }
                return [UInt8](data)
            default: throw bad("\(name) must be base64 text or null")
            }
        }
        var headers: [KafkaHeader] = []
        guard case .array(let items)? = json["headers"] else { throw bad("headers missing") }
        for item in items {
            guard let name = item["name"]?.stringValue else { throw bad("a header without a name") }
            headers.append(KafkaHeader(name: name, value: try bytes("header \(name)", item["value"]) ?? []))
        }
        guard let value = try bytes("value", json["value"]) else { throw bad("value missing") }
        let timestamp: Int64?
        switch json["timestamp"] {
        case nil, .null?: timestamp = nil
        case let stamp?:
            guard let milliseconds = stamp.integerValue else { throw bad("timestamp must be an integer") }
            timestamp = milliseconds
        }
        self.init(offset: offset, timestamp: timestamp, key: try bytes("key", json["key"]), headers: headers, value: value)
        guard json["sha256"]?.stringValue == valueHash.hex else {
            throw bad("offset \(offset): the value's SHA-256 is \(valueHash.hex), the line says \(json["sha256"]?.stringValue ?? "nothing")")
        }
    }

    /// The record to produce on restore: same partition, key, value, headers and timestamp.
    func outgoing(topic: String, partition: Int32) -> OutgoingMessage {
        OutgoingMessage(topic: topic, partition: partition, key: key, value: value, headers: headers,
                        timestampMilliseconds: timestamp)
    }
}

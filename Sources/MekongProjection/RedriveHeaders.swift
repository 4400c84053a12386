import MekongKafka

/// The headers `mekong dlq redrive` adds to a redriven copy, so that readers can tell where and when the record
/// was first written. A copy of a copy keeps the first origin: the headers are never chained.
public enum RedriveHeaders {
    /// The original position, `topic[partition]@offset` (``RecordPosition/description``).
    public static let from = "mekong_redriven_from"
    /// The original record's Kafka timestamp, decimal milliseconds since the epoch. Absent when it is unknown.
    public static let originalTimestamp = "mekong_original_timestamp"

    /// Every header name this type owns.
    public static let all: Set<String> = [from, originalTimestamp]
}

/// Where a redriven copy first came from, read from its ``RedriveHeaders``.
public struct RedriveOrigin: Sendable, Hashable {
    /// The original record's position.
    public let position: RecordPosition
    /// The original record's Kafka timestamp (milliseconds since the epoch), when it was known at redrive.
    public let timestampMilliseconds: Int64?

    public init(position: RecordPosition, timestampMilliseconds: Int64?) {
        self.position = position
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The origin carried by `headers`, or nil when the record is not a redriven copy or its headers are not
    /// exactly what `mekong dlq redrive` writes: one `mekong_redriven_from` of the form `topic[partition]@offset`
    /// (a legal Kafka topic name; partition and offset non-negative decimal integers without sign or leading
    /// zeros), and at most one `mekong_original_timestamp` (a non-negative decimal integer, likewise).
    public init?(headers: [KafkaHeader]) {
        let from = headers.filter { $0.name == RedriveHeaders.from }
        let timestamps = headers.filter { $0.name == RedriveHeaders.originalTimestamp }
        guard from.count == 1, timestamps.count <= 1,
            let text = from[0].stringValue, let position = RecordPosition(redriveHeader: text)
        else { return nil }
        var timestamp: Int64?
        if let header = timestamps.first {
            guard let text = header.stringValue, let value = Self.decimal(text, as: Int64.self) else { return nil }
            timestamp = value
        }
        self.init(position: position, timestampMilliseconds: timestamp)
    }

    /// The headers that carry this origin.
    public var headers: [KafkaHeader] {
        var headers = [KafkaHeader(name: RedriveHeaders.from, string: position.description)]
        if let timestampMilliseconds {
            headers.append(KafkaHeader(name: RedriveHeaders.originalTimestamp, string: String(timestampMilliseconds)))
        }
        return headers
    }

    /// A non-negative decimal integer in canonical form ("0", or digits not starting with 0) that fits `T`.
    static func decimal<T: FixedWidthInteger>(_ text: Substring, as type: T.Type) -> T? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            text == "0" || text.first != "0"
        else { return nil }
        return T(text)
    }

    static func decimal<T: FixedWidthInteger>(_ text: String, as type: T.Type) -> T? {
        decimal(Substring(text), as: type)
    }
}

extension RecordPosition {
    /// Parses `topic[partition]@offset` strictly; nil for anything else.
    init?(redriveHeader text: String) {
        guard let open = text.lastIndex(of: "["), let close = text.lastIndex(of: "]"), open < close,
            text[text.index(after: close)...].first == "@"
        else { return nil }
        let topic = text[..<open]
        let partition = text[text.index(after: open)..<close]
        let offset = text[text.index(close, offsetBy: 2)...]
        guard Self.isTopicName(topic),
            let partition = RedriveOrigin.decimal(partition, as: Int32.self),
            let offset = RedriveOrigin.decimal(offset, as: Int64.self)
        else { return nil }
        self.init(topic: String(topic), partition: partition, offset: offset)
    }

    /// Kafka's rule: 1 to 249 characters of `[A-Za-z0-9._-]`, and not `.` or `..`.
    static func isTopicName(_ name: Substring) -> Bool {
        guard (1...249).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}

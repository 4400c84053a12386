import MekongEvents

/// One thing wrong with a request: where (event index in a batch, JSON pointer, or row of a survey batch), a stable
/// code, and a message for a person.
public struct Conflict: Sendable, Equatable {
    public var index: Int?
    public var pointer: String?
    public var row: Int?
    public let code: String
    public let message: String

    public init(index: Int? = nil, pointer: String? = nil, row: Int? = nil, code: String, message: String) {
        self.index = index
        self.pointer = pointer
        self.row = row
        self.code = code
        self.message = message
    }

    var json: JSONValue {
        var object = JSONObject()
        if let index { object["index"] = .number(Double(index)) }
        if let pointer { object["pointer"] = .string(pointer) }
        if let row { object["row"] = .number(Double(row)) }
        object["code"] = .string(code)
        object["message"] = .string(message)
        return .object(object)
    }
}

/// An RFC 9457 problem answer (`application/problem+json`): the gateway's every refusal.
public struct Problem: Error, Sendable {
    public let status: Int
    /// Stable code, also the last segment of `type` (docs/gateway.md lists them).
    public let code: String
    public let title: String
    public let detail: String
    public var conflicts: [Conflict]
    /// Seconds, for 429 and 503.
    public var retryAfter: Int?
    /// For refused batches: the import summary's fields.
    public var summary: ImportSummary?

    public init(
        _ status: Int, _ code: String, _ title: String, detail: String, conflicts: [Conflict] = [],
        retryAfter: Int? = nil
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.conflicts = conflicts
        self.retryAfter = retryAfter
    }

    public static let typeBase = "https://mekong.gso.gov.vn/problems/"

    var json: JSONValue {
        var object: JSONObject = [
            "type": .string(Self.typeBase + code), "title": .string(title), "status": .number(Double(status)),
            "detail": .string(detail), "code": .string(code),
        ]
        if let summary {
            for (key, value) in summary.fields(includingConflicts: false) { object[key] = value }
        }
        if !conflicts.isEmpty { object["conflicts"] = .array(conflicts.map(\.json)) }
        return .object(object)
    }

    static func unauthenticated(_ detail: String) -> Problem {
        Problem(401, "unauthenticated", "Not authenticated", detail: detail)
    }
    static func forbidden(_ detail: String) -> Problem { Problem(403, "forbidden", "Not allowed", detail: detail) }
    static func notFound(_ detail: String) -> Problem { Problem(404, "not-found", "Not found", detail: detail) }
    static func invalid(_ code: String, _ detail: String, conflicts: [Conflict] = []) -> Problem {
        Problem(422, code, "Refused: nothing was written", detail: detail, conflicts: conflicts)
    }
    static func badRequest(_ code: String, _ detail: String) -> Problem {
        Problem(400, code, "Bad request", detail: detail)
    }
    static func kafkaUnavailable(_ detail: String) -> Problem {
        Problem(503, "kafka-unavailable", "Kafka is unavailable; nothing was acknowledged", detail: detail, retryAfter: 5)
    }
    static func databaseUnavailable(_ detail: String) -> Problem {
        Problem(503, "database-unavailable", "PostgreSQL is unavailable; nothing was written", detail: detail, retryAfter: 5)
    }
}

/// The answer to a batch: how many events were accepted, ignored as replays, refused, why, and the receipts.
public struct ImportSummary: Sendable {
    public var accepted = 0
    public var ignored = 0
    public var refused = 0
    public var conflicts: [Conflict] = []
    public var receipts: [JSONValue] = []

    /// An empty summary; `refused` for a batch refused whole.
    public init(refused: Int = 0) {
        self.refused = refused
    }

    var status: String {
        if refused == 0 { return "accepted" }
        return accepted + ignored > 0 ? "partial" : "refused"
    }

    func fields(includingConflicts: Bool) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [
            ("status", .string(status)), ("accepted", .number(Double(accepted))),
            ("ignored", .number(Double(ignored))), ("refused", .number(Double(refused))),
        ]
        if includingConflicts { fields.append(("conflicts", .array(conflicts.map(\.json)))) }
        fields.append(("receipts", .array(receipts)))
        return fields
    }

    var json: JSONValue { .object(JSONObject(fields(includingConflicts: true))) }
}

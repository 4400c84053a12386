import MekongEvents

/// Every code the gateway answers with: a problem's `code` (the last segment of its `type`) or a conflict's. Each
/// has the HTTP status of a request refused for it alone. docs/gateway.md's table of codes and openapi.yaml's
/// `ProblemCode` schema list exactly these (GatewayContractTests holds all three together).
public enum ProblemCode: String, CaseIterable, Sendable {
    /// The body is not JSON, or an I-JSON rule is broken (an integer beyond ±2^53).
    case invalidJSON = "invalid-json"
    /// JSON nested deeper than the gateway's limit.
    case tooDeep = "too-deep"
    /// A query parameter is missing or malformed.
    case invalidParameter = "invalid-parameter"
    case unauthenticated
    /// The request asks for what is not the caller's (another source's reconciliation).
    case forbidden
    /// An event, report or row outside the source's scope: its type, reporting unit, area or source URI.
    case outOfScope = "out-of-scope"
    case notFound = "not-found"
    /// The path exists with other methods (`Allow` names them).
    case methodNotAllowed = "method-not-allowed"
    /// The id (or submission, or survey batch) was already accepted with other content.
    case conflict
    case bodyTooLarge = "body-too-large"
    case batchTooLarge = "batch-too-large"
    case unsupportedMediaType = "unsupported-media-type"
    /// The CloudEvent envelope: a required attribute, its syntax or its size limit.
    case invalidEvent = "invalid-event"
    /// The body or the event's data against its JSON Schema.
    case schema
    case unknownType = "unknown-type"
    case invalidSignature = "invalid-signature"
    case unknownSigningKey = "unknown-signing-key"
    /// A code, indicator or dimension the master data does not have (valid) at the period.
    case masterData = "master-data"
    case invalidPeriod = "invalid-period"
    case nonFiniteNumber = "non-finite-number"
    /// A survey batch's row (or its CSV framing).
    case invalidRow = "invalid-row"
    /// An all-or-nothing batch with a refused event: nothing of it was written (`conflicts` say which and why).
    case batchRefused = "batch-refused"
    case rateLimited = "rate-limited"
    case `internal`
    case kafkaUnavailable = "kafka-unavailable"
    /// The same event (or submission, or survey batch) is being written by an earlier request that may still be
    /// waiting for Kafka: retry after `Retry-After`, and get its receipt.
    case inProgress = "in-progress"
    case databaseUnavailable = "database-unavailable"
    /// The gateway's database has no active (or no upgraded) statistics projection to check master data against.
    case masterDataUnavailable = "master-data-unavailable"

    /// The HTTP status of a request refused for this code alone.
    public var status: Int {
        switch self {
        case .invalidJSON, .tooDeep, .invalidParameter: 400
        case .unauthenticated: 401
        case .forbidden, .outOfScope: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .bodyTooLarge, .batchTooLarge: 413
        case .unsupportedMediaType: 415
        case .invalidEvent, .schema, .unknownType, .invalidSignature, .unknownSigningKey, .masterData, .invalidPeriod,
             .nonFiniteNumber, .invalidRow, .batchRefused: 422
        case .rateLimited: 429
        case .internal: 500
        case .kafkaUnavailable, .inProgress, .databaseUnavailable, .masterDataUnavailable: 503
        }
    }
}

/// One thing wrong with a request: where (event index in a batch, JSON pointer, or row of a survey batch), a stable
/// code, and a message for a person.
public struct Conflict: Sendable, Equatable {
    public var index: Int?
    public var pointer: String?
    public var row: Int?
    public let code: ProblemCode
    public let message: String

    public init(index: Int? = nil, pointer: String? = nil, row: Int? = nil, code: ProblemCode, message: String) {
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
        object["code"] = .string(code.rawValue)
        object["message"] = .string(message)
        return .object(object)
    }
}

/// An RFC 9457 problem answer (`application/problem+json`): the gateway's every refusal. Its `status` is the HTTP
/// status, its code's (``ProblemCode/status``).
public struct Problem: Error, Sendable {
    /// Stable code, also the last segment of `type` (docs/gateway.md lists them).
    public let code: ProblemCode
    public let title: String
    public let detail: String
    public var conflicts: [Conflict]
    /// Seconds, for 429 and 503.
    public var retryAfter: Int?
    /// For batches: the counts and receipts of the import summary (a refused all-or-nothing batch, or one Kafka did
    /// not wholly confirm).
    public var summary: ImportSummary?
    /// For 405: the methods the path has.
    public var allow: [String] = []

    public var status: Int { code.status }

    public init(_ code: ProblemCode, _ title: String, detail: String, conflicts: [Conflict] = [], retryAfter: Int? = nil) {
        self.code = code
        self.title = title
        self.detail = detail
        self.conflicts = conflicts
        self.retryAfter = retryAfter
    }

    public static let typeBase = "https://mekong.gso.gov.vn/problems/"

    var json: JSONValue {
        var object: JSONObject = [
            "type": .string(Self.typeBase + code.rawValue), "title": .string(title), "status": .number(Double(status)),
            "detail": .string(detail), "code": .string(code.rawValue),
        ]
        if let summary {
            for (key, value) in summary.counts { object[key] = value }
        }
        if !conflicts.isEmpty || summary != nil { object["conflicts"] = .array(conflicts.map(\.json)) }
        return .object(object)
    }

    static func unauthenticated(_ detail: String) -> Problem {
        Problem(.unauthenticated, "Not authenticated", detail: detail)
    }
    static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, "Not allowed", detail: detail) }
    static func outOfScope(_ detail: String) -> Problem { Problem(.outOfScope, "Outside the source's scope", detail: detail) }
    static func notFound(_ detail: String) -> Problem { Problem(.notFound, "Not found", detail: detail) }
    /// A request refused for what it carries (422, or 403 when only its scope is at fault).
    static func invalid(_ code: ProblemCode, _ detail: String, conflicts: [Conflict] = []) -> Problem {
        Problem(code, "Refused: nothing was written", detail: detail, conflicts: conflicts)
    }
    /// One unit (an event, a report, a survey batch) refused for `conflicts`: named after the first that is not a
    /// matter of scope (422), or 403 `out-of-scope` when scope is all that is wrong.
    static func refused(_ conflicts: [Conflict], detail: String? = nil) -> Problem {
        let first = conflicts.first { $0.code != .outOfScope } ?? conflicts[0]
        return invalid(first.code, detail ?? first.message, conflicts: conflicts)
    }
    static func badRequest(_ code: ProblemCode, _ detail: String) -> Problem {
        Problem(code, "Bad request", detail: detail)
    }
    static func kafkaUnavailable(_ detail: String) -> Problem {
        Problem(.kafkaUnavailable, "Kafka is unavailable; nothing was acknowledged", detail: detail, retryAfter: 5)
    }
    static func inProgress(retryAfter: Int) -> Problem {
        Problem(.inProgress, "Being written by an earlier request", detail:
            "an earlier request with the same content may still be waiting for Kafka; retry after \(retryAfter) s for its receipt",
            retryAfter: retryAfter)
    }
    static func databaseUnavailable(_ detail: String) -> Problem {
        Problem(.databaseUnavailable, "PostgreSQL is unavailable; nothing was written", detail: detail, retryAfter: 5)
    }
    static func bodyTooLarge(_ detail: String) -> Problem { Problem(.bodyTooLarge, "Body too large", detail: detail) }
    static func unsupportedMediaType(_ detail: String) -> Problem {
        Problem(.unsupportedMediaType, "Unsupported media type", detail: detail)
    }
}

/// The answer to a batch: how many events were accepted, ignored as replays, refused, why, and the receipts.
public struct ImportSummary: Sendable {
    public var accepted = 0
    public var ignored = 0
    public var refused = 0
    public var conflicts: [Conflict] = []
    public var receipts: [JSONValue] = []
    /// For a signed batch: the one signed receipt, and each event's placement with its proof (instead of `receipts`).
    public var batchReceipt: JSONValue?
    public var placements: [JSONValue] = []

    /// An empty summary; `refused` for a batch refused whole.
    public init(refused: Int = 0) {
        self.refused = refused
    }

    /// `accepted`, or `partial` (some refused): a 200 answer's `status`. A batch with nothing accepted is a problem
    /// document, whose `status` is the HTTP status (RFC 9457).
    var status: String { refused == 0 ? "accepted" : "partial" }

    /// The counts and the receipts, as a 200 answer and a batch's problem document both carry them.
    var counts: [(String, JSONValue)] {
        var counts: [(String, JSONValue)] = [
            ("accepted", .number(Double(accepted))), ("ignored", .number(Double(ignored))),
            ("refused", .number(Double(refused))), ("receipts", .array(receipts)),
        ]
        if let batchReceipt { counts += [("batchReceipt", batchReceipt), ("placements", .array(placements))] }
        return counts
    }

    var json: JSONValue {
        .object(JSONObject([("status", .string(status))] + counts + [("conflicts", .array(conflicts.map(\.json)))]))
    }
}

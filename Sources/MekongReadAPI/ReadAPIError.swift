import MekongAccess
import MekongEvents

/// A refused or failed read: the module's one error, answered as RFC 9457 `application/problem+json` with a
/// stable code (docs/read-api.md lists them) that names the parameter at fault.
public struct ReadAPIError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    /// Stable code, also the last segment of `type`.
    public let code: String
    public let title: String
    public let detail: String
    /// The query parameter at fault, if one is.
    public var parameter: String?
    /// Seconds, for 429 and 503.
    public var retryAfter: Int?

    public init(_ status: Int, _ code: String, _ title: String, detail: String, parameter: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.parameter = parameter
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(code): \(detail)" }

    public static let typeBase = "https://mekong.gso.gov.vn/problems/"

    var json: JSONValue {
        var object: JSONObject = [
            "type": .string(Self.typeBase + code), "title": .string(title), "status": .number(Double(status)),
            "detail": .string(detail), "code": .string(code),
        ]
        if let parameter { object["parameter"] = .string(parameter) }
        return .object(object)
    }

    static func invalidParameter(_ name: String, _ detail: String) -> ReadAPIError {
        ReadAPIError(400, "invalid-parameter", "Bad request", detail: detail, parameter: name)
    }
    static func notFound(_ detail: String) -> ReadAPIError { ReadAPIError(404, "not-found", "Not found", detail: detail) }
    static func notReady(_ detail: String) -> ReadAPIError {
        ReadAPIError(503, "not-ready", "The statistics projection is not readable", detail: detail, retryAfter: 30)
    }
    static func unauthenticated(_ detail: String) -> ReadAPIError {
        ReadAPIError(401, "unauthenticated", "Unauthenticated", detail: detail)
    }
    static func quotaExceeded(_ decision: Quotas.Decision) -> ReadAPIError {
        ReadAPIError(
            429, "quota-exceeded", "Too many requests",
            detail: decision.dayRemaining == 0
                ? "the quota of \(decision.limits.perDay) requests a day is used up"
                : "the quota of \(decision.limits.perHour) requests an hour is used up",
            retryAfter: decision.retryAfter)
    }
    static func databaseUnavailable(_ detail: String) -> ReadAPIError {
        ReadAPIError(503, "database-unavailable", "PostgreSQL is unavailable", detail: detail, retryAfter: 5)
    }
}

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An RFC 3339 date-time such as `2025-07-01T08:30:00Z` or `2025-07-01T15:30:00.250+07:00`.
///
/// The text is kept exactly as given (it is what the canonical JSON and the event hash cover).
/// Equality compares the text; ordering compares the instant first and the text second, so two
/// spellings of one instant are ordered but not equal. Leap seconds (`:60`) are not accepted.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The RFC 3339 text as given.
    public let text: String
    /// Whole seconds since 1970-01-01T00:00:00Z.
    public let epochSeconds: Int64
    /// Nanoseconds within the second (fraction digits beyond nine are truncated).
    public let nanoseconds: Int32

    /// Parses an RFC 3339 `date-time`; `nil` when the syntax or a field range is wrong.
    public init?(rfc3339 text: String) {
        guard let parsed = RFC3339.withUTF8(text, { RFC3339.parseDateTime($0) }) else { return nil }
        self.text = text
        self.epochSeconds = parsed.seconds
        self.nanoseconds = parsed.nanoseconds
    }

    /// Formats `date` as UTC with millisecond precision, e.g. `2025-07-01T08:30:00.123Z`
    /// (rounded to the nearest millisecond; dates outside years 0000-9999 are clamped to that range).
    public init(date: Date) {
        let scaled = (date.timeIntervalSince1970 * 1000).rounded()
        let milliseconds: Int64 =
            scaled.isNaN ? 0 : Int64(min(max(scaled, Self.earliestMilliseconds), Self.latestMilliseconds))
        let seconds = milliseconds.floorDivided(by: 1000)
        let millisecond = milliseconds - seconds * 1000
        self.text = RFC3339.format(epochSeconds: seconds, fraction: millisecond, digits: 3)
        self.epochSeconds = seconds
        self.nanoseconds = Int32(millisecond * 1_000_000)
    }

    /// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z, the range RFC 3339 can write.
    private static let earliestMilliseconds: Double = -62_167_219_200_000
    private static let latestMilliseconds: Double = 253_402_300_799_999

    /// The instant in UTC to the microsecond (truncated, as PostgreSQL stores times), e.g.
    /// `2025-07-01T01:30:00.250000Z` for `2025-07-01T08:30:00.25+07:00`: a spelling PostgreSQL always accepts
    /// (it refuses offsets beyond ±15:59, which RFC 3339 allows).
    public var utcMicroseconds: String {
        RFC3339.format(epochSeconds: epochSeconds, fraction: Int64(nanoseconds / 1000), digits: 6)
    }

    /// The instant as a `Date` (sub-microsecond precision may be lost).
    public var date: Date { Date(timeIntervalSince1970: secondsSinceEpoch) }

    /// Seconds since 1970-01-01T00:00:00Z, with the fraction.
    public var secondsSinceEpoch: Double { Double(epochSeconds) + Double(nanoseconds) / 1e9 }

    /// RFC 9110's IMF-fixdate of the whole second `epochSeconds` (since 1970, UTC), e.g. `Fri, 04 Dec 2026 18:30:00
    /// GMT`: HTTP's `Last-Modified`, `Date` and `Retry-After` times.
    public static func imfFixdate(epochSeconds: Int64) -> String {
        RFC3339.imfFixdate(epochSeconds: epochSeconds)
    }

    /// The day (`YYYY-MM-DD`) this instant falls on in Vietnam (UTC+07:00, no daylight saving time): the calendar of
    /// the master data's validity dates.
    public var vietnameseDate: String { RFC3339.fullDate(epochSeconds: epochSeconds, offsetSeconds: 7 * 3600) }

    public var description: String { text }

    /// Earlier instants first; the same instant spelled differently is ordered by its text.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        if lhs.epochSeconds != rhs.epochSeconds { return lhs.epochSeconds < rhs.epochSeconds }
        if lhs.nanoseconds != rhs.nanoseconds { return lhs.nanoseconds < rhs.nanoseconds }
        return lhs.text < rhs.text
    }

    public static func == (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.text == rhs.text }

    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

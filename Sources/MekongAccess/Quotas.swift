import Foundation
import Synchronization

/// Requests per hour and per day for each client (a reader's key, or an anonymous address), counted in fixed UTC
/// windows: the hour from :00 and the day from 00:00 UTC. A refused request is not counted.
///
/// The counts live in this process: two read API processes behind one address each allow the quota. The clock is
/// injected, so tests drive the windows without waiting.
public final class Quotas: Sendable {
    /// How many requests a client may make.
    public struct Limits: Sendable, Equatable {
        public var perHour: Int
        public var perDay: Int

        public init(perHour: Int, perDay: Int) {
            self.perHour = perHour
            self.perDay = perDay
        }
    }

    /// What a request may do, and what to tell the client (the `X-Quota-*` headers, `Retry-After`).
    public struct Decision: Sendable, Equatable {
        public var allowed: Bool
        public var limits: Limits
        /// Requests left in the current hour and day, after this one.
        public var hourRemaining: Int
        public var dayRemaining: Int
        /// Refused: whole seconds until the window that is used up ends.
        public var retryAfter: Int?
    }

    private struct Usage {
        var hour: Int64
        var hourCount: Int
        var day: Int64
        var dayCount: Int
    }

    private let usage = Mutex<[String: Usage]>([:])
    private let now: @Sendable () -> Date
    /// Past this many clients, those whose day is over are forgotten.
    private let pruneAbove: Int

    public init(now: @escaping @Sendable () -> Date = { Date() }, pruneAbove: Int = 100_000) {
        self.now = now
        self.pruneAbove = pruneAbove
    }

    /// Counts one request of `client` against `limits`, unless that would exceed them.
    public func take(_ client: String, _ limits: Limits) -> Decision {
        let seconds = max(0, Int64(now().timeIntervalSince1970.rounded(.down)))
        let hour = seconds / 3600
        let day = seconds / 86_400
        return usage.withLock { usage in
            var used = usage[client] ?? Usage(hour: hour, hourCount: 0, day: day, dayCount: 0)
            if used.hour != hour { used.hour = hour; used.hourCount = 0 }
            if used.day != day { used.day = day; used.dayCount = 0 }
            let hourFull = used.hourCount >= limits.perHour
            let dayFull = used.dayCount >= limits.perDay
            var decision = Decision(
                allowed: !hourFull && !dayFull, limits: limits,
                hourRemaining: max(0, limits.perHour - used.hourCount), dayRemaining: max(0, limits.perDay - used.dayCount))
            if decision.allowed {
                used.hourCount += 1
                used.dayCount += 1
                decision.hourRemaining -= 1
                decision.dayRemaining -= 1
            } else {
                let untilHourEnds = (hour + 1) * 3600 - seconds
                let untilDayEnds = (day + 1) * 86_400 - seconds
                decision.retryAfter = Int(dayFull ? untilDayEnds : untilHourEnds)
            }
            if usage.count >= pruneAbove, usage[client] == nil {
                usage = usage.filter { $0.value.day == day }
            }
            usage[client] = used
            return decision
        }
    }
}

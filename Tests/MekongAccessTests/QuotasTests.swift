import Foundation
import Synchronization
import Testing

@testable import MekongAccess

/// The quota state machine, on a clock the test moves.
@Suite struct QuotasTests {
    final class Clock: Sendable {
        private let seconds = Mutex<Double>(0)
        init(_ start: Double) { seconds.withLock { $0 = start } }
        func advance(_ by: Double) { seconds.withLock { $0 += by } }
        var now: Date { Date(timeIntervalSince1970: seconds.withLock { $0 }) }
    }

    @Test func theHourRunsOutThenResetsOnTheHourAndTheDayOnTheDay() {
        // 2026-12-04T10:59:00Z
        let clock = Clock(1_796_554_740)
        let quotas = Quotas(now: { clock.now })
        let limits = Quotas.Limits(perHour: 3, perDay: 5)
        let first = quotas.take("a", limits)
        #expect(first.allowed && first.hourRemaining == 2 && first.dayRemaining == 4)
        _ = quotas.take("a", limits)
        let third = quotas.take("a", limits)
        #expect(third.allowed && third.hourRemaining == 0 && third.dayRemaining == 2)
        let refused = quotas.take("a", limits)
        #expect(!refused.allowed && refused.retryAfter == 60 && refused.hourRemaining == 0 && refused.dayRemaining == 2)
        // Another client has its own count.
        #expect(quotas.take("b", limits).allowed)
        // 11:00: a new hour; the day has 2 left.
        clock.advance(60)
        #expect(quotas.take("a", limits).allowed)
        #expect(quotas.take("a", limits).allowed)
        let dayOver = quotas.take("a", limits)
        #expect(!dayOver.allowed && dayOver.dayRemaining == 0 && dayOver.retryAfter == 13 * 3600)
        // Midnight UTC.
        clock.advance(13 * 3600)
        #expect(quotas.take("a", limits).dayRemaining == 4)
    }

    /// Randomized: over any sequence of requests and clock moves, a client never gets more than its limits in one
    /// hour or one day, and is refused only when a window is full.
    @Test func noWindowEverAllowsMoreThanItsLimit() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let clock = Clock(Double(Int.random(in: 1_700_000_000...1_800_000_000, using: &random)))
            let quotas = Quotas(now: { clock.now })
            let limits = Quotas.Limits(perHour: Int.random(in: 1...20, using: &random), perDay: Int.random(in: 1...60, using: &random))
            var perHour: [Int: Int] = [:]
            var perDay: [Int: Int] = [:]
            for _ in 0..<400 {
                clock.advance(Double(Int.random(in: 0...900, using: &random)))
                let seconds = Int(clock.now.timeIntervalSince1970)
                let decision = quotas.take("client", limits)
                let (hour, day) = (seconds / 3600, seconds / 86_400)
                if decision.allowed {
                    perHour[hour, default: 0] += 1
                    perDay[day, default: 0] += 1
                } else {
                    #expect(perHour[hour, default: 0] == limits.perHour || perDay[day, default: 0] == limits.perDay)
                    #expect((decision.retryAfter ?? 0) > 0)
                }
                #expect(decision.hourRemaining == limits.perHour - perHour[hour, default: 0] || decision.dayRemaining == 0)
            }
            #expect(perHour.values.allSatisfy { $0 <= limits.perHour })
            #expect(perDay.values.allSatisfy { $0 <= limits.perDay })
        }
    }

    @Test func keysAreLongRandomAndStoredAsTheirHash() {
        let key = APIKey.generate()
        #expect(key.hasPrefix("mk_") && key.count == 46)
        #expect(key != APIKey.generate())
        #expect(APIKey.sha256(key).count == 64 && APIKey.sha256(key) == APIKey.sha256(key))
        #expect(APIKey.bearer("Bearer \(key)") == key)
        #expect(APIKey.bearer("Basic abc") == nil && APIKey.bearer(nil) == nil && APIKey.bearer("Bearer ") == nil)
    }
}

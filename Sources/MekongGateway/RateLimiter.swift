import Synchronization

/// Per-source token buckets: a source may send `eventsPerSecond` events per second on average, in bursts of up to
/// twice that. Refusals say how long to wait (the `Retry-After` of a 429).
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let buckets = Mutex<[String: Bucket]>([:])
    private let clock = ContinuousClock()

    /// Takes `count` tokens from `source`'s bucket; nil if allowed, else the whole seconds to wait.
    func take(_ count: Int, source: String, eventsPerSecond: Int) -> Int? {
        let rate = Double(eventsPerSecond)
        let capacity = rate * 2
        let now = clock.now
        return buckets.withLock { buckets in
            var bucket = buckets[source] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = bucket.updated.duration(to: now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(capacity, bucket.tokens + seconds * rate)
            bucket.updated = now
            defer { buckets[source] = bucket }
            let needed = Double(count)
            // A request larger than the burst goes through on a full bucket and leaves it in debt.
            if needed <= bucket.tokens || bucket.tokens >= capacity {
                bucket.tokens -= needed
                return nil
            }
            let missing = min(needed, capacity) - bucket.tokens
            return max(1, Int((missing / rate).rounded(.up)))
        }
    }
}

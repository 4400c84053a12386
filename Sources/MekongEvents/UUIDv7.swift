import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Time-ordered UUIDs, version 7 (RFC 9562 §5.7): event ids that sort by creation time.
public enum UUIDv7 {
    /// A new lowercase version-7 UUID: 48-bit Unix milliseconds, then 74 random bits.
    ///
    /// Ids from one process are strictly increasing (RFC 9562 §6.2 method 2): within a millisecond,
    /// or if the clock steps back, the previous id's random part is incremented instead of redrawn.
    public static func generate() -> String {
        let now = UInt64(max(0, (Date().timeIntervalSince1970 * 1000).rounded(.down)))
        let (milliseconds, high, low) = state.withLock { $0.next(now: now) }
        return format(milliseconds: milliseconds, randomHigh: high, randomLow: low)
    }

    /// A version-7 UUID for a given time and a caller's counter instead of random bits: for reproducible
    /// generated data (the demo), never for events from sources.
    public static func deterministic(milliseconds: UInt64, sequence: UInt64) -> String {
        format(milliseconds: milliseconds, randomHigh: UInt16(truncatingIfNeeded: sequence >> 62), randomLow: sequence)
    }

    /// A version-7 UUID for a given time whose 74 other bits are the first of SHA-256(`name`) (`rand_a` its first 12
    /// bits, `rand_b` the next 62): the same name and time always give the same id, so a client can derive it.
    public static func named(milliseconds: UInt64, name: [UInt8]) -> String {
        let digest = EventHash.sha256(name).bytes
        var first: UInt64 = 0
        for byte in digest[0..<8] { first = first << 8 | UInt64(byte) }
        var second: UInt64 = 0
        for byte in digest[8..<16] { second = second << 8 | UInt64(byte) }
        // rand_a: bits 0-11 of the digest; rand_b: bits 12-73.
        return format(
            milliseconds: milliseconds, randomHigh: UInt16(first >> 52), randomLow: (first << 12 | second >> 52) >> 2)
    }

    /// Whether `text` is a UUID in 8-4-4-4-12 hex form (either case) with version 7 and the
    /// RFC 9562 variant.
    public static func isValid(_ text: String) -> Bool {
        var count = 0
        for (index, byte) in text.utf8.enumerated() {
            count += 1
            switch index {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return false }
            case 14:
                guard byte == UInt8(ascii: "7") else { return false }
            case 19:
                switch byte {
                case UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b"),
                    UInt8(ascii: "A"), UInt8(ascii: "B"):
                    break
                default: return false
                }
            case 36...: return false
            default:
                guard Hex.value(of: byte) != nil else { return false }
            }
        }
        return count == 36
    }

    /// The Unix millisecond timestamp in a valid version-7 UUID.
    public static func milliseconds(of text: String) -> UInt64? {
        guard isValid(text) else { return nil }
        var value: UInt64 = 0
        for byte in text.utf8.prefix(13) where byte != UInt8(ascii: "-") {
            guard let digit = Hex.value(of: byte) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    // MARK: - Generator state

    /// The last id handed out: its timestamp and 74-bit random part (12 bits `rand_a`, 62 bits `rand_b`).
    struct State {
        var milliseconds: UInt64 = 0
        var randomHigh: UInt16 = 0  // 12 bits
        var randomLow: UInt64 = 0  // 62 bits

        mutating func next(now: UInt64) -> (UInt64, UInt16, UInt64) {
            if now > milliseconds {
                var generator = SystemRandomNumberGenerator()
                milliseconds = now
                // The top bit of rand_a starts clear, leaving room to increment within the millisecond.
                randomHigh = UInt16.random(in: 0...0x7FF, using: &generator)
                randomLow = UInt64.random(in: 0...((1 << 62) - 1), using: &generator)
            } else if randomLow < (1 << 62) - 1 {
                randomLow += 1
            } else if randomHigh < 0xFFF {
                randomHigh += 1
                randomLow = 0
            } else {
                // The random part is exhausted: borrow the next millisecond.
                milliseconds += 1
                randomHigh = 0
                randomLow = 0
            }
            return (milliseconds, randomHigh, randomLow)
        }
    }

    private static let state = Mutex(State())

    static func format(milliseconds: UInt64, randomHigh: UInt16, randomLow: UInt64) -> String {
        // 128 bits: unix_ts_ms(48) ver(4)=7 rand_a(12) var(2)=0b10 rand_b(62).
        let upper = (milliseconds & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | UInt64(randomHigh & 0x0FFF)
        let lower = 0x8000_0000_0000_0000 | (randomLow & 0x3FFF_FFFF_FFFF_FFFF)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, word) in [upper, lower].enumerated() {
            for nibbleIndex in 0..<16 {
                let position = index * 16 + nibbleIndex
                if position == 8 || position == 12 || position == 16 || position == 20 {
                    text.append(UInt8(ascii: "-"))
                }
                let nibble = Int(word >> UInt64(60 - 4 * nibbleIndex) & 0xF)
                text.append(Hex.digits[nibble])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}

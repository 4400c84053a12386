import Foundation

/// Conversion between `Date` and PostgreSQL timestamp text, at microsecond resolution, in UTC.
///
/// Works on integer microseconds and the proleptic Gregorian calendar directly (no `DateFormatter`), so it
/// is exact, thread-safe and independent of the process's locale and time zone.
enum PostgresTimestamp {
    /// Microseconds between 1970-01-01 and 2001-01-01 (Foundation's reference date).
    private static let referenceMicros: Int64 = 978_307_200 * 1_000_000
    private static let microsPerDay: Int64 = 86_400 * 1_000_000

    /// `2025-07-01T08:30:00.123456Z`; years before 1 AD get PostgreSQL's ` BC` suffix. Dates too far out
    /// for PostgreSQL give text the server rejects instead of a wrong value.
    static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSinceReferenceDate
        if interval == .infinity { return "infinity" }
        if interval == -.infinity { return "-infinity" }
        let micros = (interval * 1_000_000).rounded()
        guard micros.isFinite, abs(micros) < 9.0e18 else { return "out-of-range timestamp" }
        let (unixMicros, overflow) = Int64(micros).addingReportingOverflow(referenceMicros)
        guard !overflow else { return "out-of-range timestamp" }

        let days = floorDivide(unixMicros, microsPerDay)
        var rest = unixMicros - days * microsPerDay
        let (year, month, day) = civil(fromDays: days)
        let hour = rest / 3_600_000_000
        rest %= 3_600_000_000
        let minute = rest / 60_000_000
        rest %= 60_000_000
        let second = rest / 1_000_000
        let fraction = rest % 1_000_000

        let era = year <= 0 ? " BC" : ""
        let shownYear = year <= 0 ? 1 - year : year
        return "\(pad(shownYear, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):"
            + "\(pad(second, 2)).\(pad(fraction, 6))Z\(era)"
    }

    /// Parses `timestamptz` output (`2025-07-01 08:30:00.123456+07`, `+05:30`, `+05:30:15`), `timestamp`
    /// output without offset (taken as UTC) and `date` output, in ISO DateStyle, with optional ` BC`.
    /// Returns nil for anything else, including `infinity`.
    static func parse(_ text: String) -> Date? {
        var scanner = Scanner(Array(text.utf8))
        var isBC = false
        if scanner.bytes.count > 3, scanner.bytes.suffix(3) == Array(" BC".utf8) {
            isBC = true
            scanner.bytes.removeLast(3)
        }
        guard var year = scanner.number(minDigits: 4, maxDigits: 7), scanner.take("-"),
            let month = scanner.number(minDigits: 2, maxDigits: 2), scanner.take("-"),
            let day = scanner.number(minDigits: 2, maxDigits: 2)
        else { return nil }
        if isBC {
            guard year >= 1 else { return nil }
            year = 1 - year
        }
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        guard civil(fromDays: days) == (year, month, day) else { return nil }  // e.g. February 30

        var micros: Int64 = 0
        if scanner.take(" ") || scanner.take("T") {
            guard let hour = scanner.number(minDigits: 2, maxDigits: 2), scanner.take(":"),
                let minute = scanner.number(minDigits: 2, maxDigits: 2), scanner.take(":"),
                let second = scanner.number(minDigits: 2, maxDigits: 2),
                hour <= 24, minute <= 59, second <= 60
            else { return nil }
            micros = ((hour * 60 + minute) * 60 + second) * 1_000_000
            if scanner.take(".") {
                let start = scanner.position
                guard let digits = scanner.number(minDigits: 1, maxDigits: 6) else { return nil }
                var fraction = digits
                for _ in 0..<(6 - (scanner.position - start)) { fraction *= 10 }
                micros += fraction
            }
            if scanner.take("Z") {
                // UTC
            } else if let sign = scanner.sign() {
                guard let hours = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                var offset = hours * 3600
                if scanner.take(":") {
                    guard let minutes = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                    offset += minutes * 60
                    if scanner.take(":") {
                        guard let seconds = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                        offset += seconds
                    }
                }
                micros -= sign * offset * 1_000_000
            }
        }
        guard scanner.atEnd else { return nil }
        let unixMicros = days * microsPerDay + micros
        return Date(timeIntervalSinceReferenceDate: Double(unixMicros - referenceMicros) / 1_000_000)
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, day 0 = 1970-01-01; year 0 = 1 BC)

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// A cursor over ASCII bytes.
    private struct Scanner {
        var bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { position == bytes.count }

        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
            position += 1
            return true
        }

        mutating func sign() -> Int64? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }

        mutating func number(minDigits: Int, maxDigits: Int) -> Int64? {
            var value: Int64 = 0
            var count = 0
            while position < bytes.count, count < maxDigits,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position])
            {
                value = value * 10 + Int64(bytes[position] - UInt8(ascii: "0"))
                position += 1
                count += 1
            }
            return count >= minDigits ? value : nil
        }
    }
}

/// RFC 3339 `full-date` and `date-time` syntax and calendar arithmetic (proleptic Gregorian, UTC).
public enum RFC3339 {
    /// Whether `text` is an RFC 3339 `full-date` (`YYYY-MM-DD`) naming a real day.
    public static func isValidDate(_ text: String) -> Bool {
        withUTF8(text) { $0.count == 10 && parseDate($0, at: 0) != nil }
    }

    /// Whether `text` is an RFC 3339 `date-time`.
    public static func isValidDateTime(_ text: String) -> Bool {
        withUTF8(text) { parseDateTime($0) != nil }
    }

    /// Runs `body` on the UTF-8 bytes of `text` without copying native strings.
    static func withUTF8<Result>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var text = text
        return text.withUTF8(body)
    }

    /// Parses `YYYY-MM-DD` at `start`; returns days since 1970-01-01.
    static func parseDate(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Int64? {
        guard bytes.count >= start + 10,
            let year = number(bytes, start, 4), bytes[start + 4] == UInt8(ascii: "-"),
            let month = number(bytes, start + 5, 2), bytes[start + 7] == UInt8(ascii: "-"),
            let day = number(bytes, start + 8, 2),
            (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month)
        else { return nil }
        return daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
    }

    /// Parses `full-date "T" partial-time time-offset`; returns the instant.
    static func parseDateTime(_ bytes: UnsafeBufferPointer<UInt8>) -> (seconds: Int64, nanoseconds: Int32)? {
        guard bytes.count >= 20, let days = parseDate(bytes, at: 0),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
            let hour = number(bytes, 11, 2), bytes[13] == UInt8(ascii: ":"),
            let minute = number(bytes, 14, 2), bytes[16] == UInt8(ascii: ":"),
            let second = number(bytes, 17, 2),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var index = 19
        var nanoseconds: Int32 = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var fractionDigits = 0
            while index < bytes.count, let digit = digitValue(bytes[index]) {
                if fractionDigits < 9 { nanoseconds = nanoseconds * 10 + Int32(digit) }
                fractionDigits += 1
                index += 1
            }
            guard fractionDigits > 0 else { return nil }
            for _ in min(fractionDigits, 9)..<9 { nanoseconds *= 10 }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds: Int64 = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard bytes.count == index + 6,
                let offsetHour = number(bytes, index + 1, 2), bytes[index + 3] == UInt8(ascii: ":"),
                let offsetMinute = number(bytes, index + 4, 2),
                offsetHour <= 23, offsetMinute <= 59
            else { return nil }
            offsetSeconds = Int64(offsetHour * 3600 + offsetMinute * 60)
            if bytes[index] == UInt8(ascii: "-") { offsetSeconds = -offsetSeconds }
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - offsetSeconds
        return (seconds, nanoseconds)
    }

    /// `YYYY-MM-DDThh:mm:ss.<fraction>Z` in UTC, the fraction written with `digits` digits.
    static func format(epochSeconds: Int64, fraction: Int64, digits: Int) -> String {
        let (days, secondOfDay) = split(epochSeconds)
        let (year, month, day) = civilFromDays(days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + clock(secondOfDay)
            + "." + pad(fraction, digits) + "Z"
    }

    /// `YYYY-MM-DD`, the day an instant falls on at a UTC offset of `offsetSeconds`.
    static func fullDate(epochSeconds: Int64, offsetSeconds: Int64) -> String {
        let (year, month, day) = civilFromDays(split(epochSeconds + offsetSeconds).days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    /// `Fri, 04 Dec 2026 18:30:00 GMT` (RFC 9110's IMF-fixdate).
    static func imfFixdate(epochSeconds: Int64) -> String {
        let (days, secondOfDay) = split(epochSeconds)
        let (year, month, day) = civilFromDays(days)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday
        return weekdays[weekday] + ", " + pad(day, 2) + " " + months[Int(month) - 1] + " " + pad(year, 4) + " "
            + clock(secondOfDay) + " GMT"
    }

    /// Days since 1970-01-01 and the second within the day (0 ..< 86 400), for an instant before 1970 too.
    private static func split(_ epochSeconds: Int64) -> (days: Int64, secondOfDay: Int64) {
        let days = epochSeconds / 86_400
        let secondOfDay = epochSeconds % 86_400
        return secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
    }

    /// `hh:mm:ss` of a second within the day.
    private static func clock(_ secondOfDay: Int64) -> String {
        pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        guard start + count <= bytes.count else { return nil }
        var value = 0
        for index in start..<(start + count) {
            guard let digit = digitValue(bytes[index]) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

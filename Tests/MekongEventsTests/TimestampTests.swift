import Foundation
import Testing

@testable import MekongEvents

@Suite("Timestamp")
struct TimestampTests {
    @Test func parsesUTCAndOffsets() throws {
        let utc = try #require(Timestamp(rfc3339: "2025-07-01T08:30:00Z"))
        let hanoi = try #require(Timestamp(rfc3339: "2025-07-01T15:30:00+07:00"))
        let west = try #require(Timestamp(rfc3339: "2025-06-30T23:30:00-09:00"))
        #expect(utc.epochSeconds == 1_751_358_600)
        #expect(hanoi.secondsSinceEpoch == utc.secondsSinceEpoch)
        #expect(west.secondsSinceEpoch == utc.secondsSinceEpoch)
        #expect(hanoi.text == "2025-07-01T15:30:00+07:00")
        #expect(hanoi != utc)  // same instant, different text: the hash differs, so equality does too
        #expect(utc.date == Date(timeIntervalSince1970: 1_751_358_600))
    }

    @Test func parsesFractions() throws {
        let value = try #require(Timestamp(rfc3339: "1969-12-31T23:59:59.5Z"))
        #expect(value.epochSeconds == -1)
        #expect(value.nanoseconds == 500_000_000)
        #expect(value.secondsSinceEpoch == -0.5)
        let long = try #require(Timestamp(rfc3339: "2025-07-01T08:30:00.1234567891234Z"))
        #expect(long.nanoseconds == 123_456_789)
    }

    @Test(arguments: [
        "2024-02-29T00:00:00Z", "2000-02-29T12:00:00+00:00", "2025-12-31T23:59:59.999-00:00", "0001-01-01T00:00:00Z",
    ])
    func acceptsValidDates(text: String) {
        #expect(Timestamp(rfc3339: text) != nil)
    }

    @Test(arguments: [
        "", "2025-07-01", "2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z", "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-07-01T25:00:00Z", "2025-07-01T08:60:00Z",
        "2025-07-01T08:30:60Z", "2025-07-01T08:30:00", "2025-07-01T08:30:00+0700", "2025-07-01T08:30:00+24:00",
        "2025-07-01T08:30:00.Z", "2025-07-01T08:30Z", " 2025-07-01T08:30:00Z", "2025-07-01T08:30:00Z ",
        "2025-07-01X08:30:00Z", "２０２５-07-01T08:30:00Z",
    ])
    func rejectsInvalidText(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func formatsDatesAsUTCMilliseconds() throws {
        #expect(Timestamp(date: Date(timeIntervalSince1970: 1_751_358_600.123)).text == "2025-07-01T08:30:00.123Z")
        #expect(Timestamp(date: Date(timeIntervalSince1970: 0)).text == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(date: Date(timeIntervalSince1970: -1.5)).text == "1969-12-31T23:59:58.500Z")
        #expect(Timestamp(date: Date(timeIntervalSince1970: 951_782_400)).text == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp(date: Date(timeIntervalSince1970: .infinity)).text == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp(date: Date(timeIntervalSince1970: -.infinity)).text == "0000-01-01T00:00:00.000Z")
        #expect(Timestamp(rfc3339: Timestamp(date: .distantPast).text) != nil)
        let now = Timestamp(date: Date())
        let reparsed = try #require(Timestamp(rfc3339: now.text))
        #expect(reparsed == now)
        #expect(abs(reparsed.date.timeIntervalSinceNow) < 5)
    }

    @Test func ordersByInstantThenText() throws {
        let early = try #require(Timestamp(rfc3339: "2025-07-01T08:30:00Z"))
        let sameInstant = try #require(Timestamp(rfc3339: "2025-07-01T15:30:00+07:00"))
        let later = try #require(Timestamp(rfc3339: "2025-07-01T08:30:00.001Z"))
        #expect(early < later)
        #expect(sameInstant < later)
        #expect([later, sameInstant, early].sorted() == [early, sameInstant, later])  // "T08" sorts before "T15"
        #expect(RFC3339.isValidDate("2024-02-29"))
        #expect(!RFC3339.isValidDate("2025-02-29"))
        #expect(!RFC3339.isValidDate("2025-02-28T00:00:00Z"))
    }

    /// Any RFC 3339 spelling, whatever its offset (RFC 3339 allows ±23:59, PostgreSQL only ±15:59) and fraction,
    /// comes out as the same instant in UTC, truncated to the microsecond.
    @Test func utcMicrosecondsIsTheSameInstantInUTC() throws {
        #expect(Timestamp(rfc3339: "2960-01-08T09:05:13+23:06")?.utcMicroseconds == "2960-01-07T09:59:13.000000Z")
        #expect(Timestamp(rfc3339: "2025-07-01T08:30:00.2509999-00:30")?.utcMicroseconds == "2025-07-01T09:00:00.250999Z")
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let seconds = Int64.random(in: 86_400...(253_402_300_799 - 86_400), using: &random)
            let minutes = Int.random(in: -(23 * 60 + 59)...(23 * 60 + 59), using: &random)
            let digits = Int.random(in: 0...9, using: &random)
            let fraction = digits == 0 ? "" : "." + String((0..<digits).map { _ in "0123456789".randomElement(using: &random)! })
            let local = String(RFC3339.format(epochSeconds: seconds + Int64(minutes) * 60, fraction: 0, digits: 1).dropLast(3))
            let offset = (minutes < 0 ? "-" : "+") + String(format: "%02d:%02d", abs(minutes) / 60, abs(minutes) % 60)
            let text = local + fraction + offset
            let time = try #require(Timestamp(rfc3339: text), "\(text)")
            let utc = try #require(Timestamp(rfc3339: time.utcMicroseconds), "\(time.utcMicroseconds)")
            #expect(utc.epochSeconds == seconds, "\(text)")
            #expect(utc.epochSeconds == time.epochSeconds && utc.nanoseconds == time.nanoseconds / 1000 * 1000, "\(text)")
            #expect(time.utcMicroseconds.hasSuffix("Z") && time.utcMicroseconds.count == 27, "\(text)")
        }
    }

    /// HTTP's IMF-fixdate agrees with Foundation's formatter on random whole seconds between years 1600 and 9999
    /// (Foundation's calendar is Julian before 1582, HTTP's proleptic Gregorian) and on the days around 1970, where
    /// the weekday arithmetic turns negative.
    @Test func imfFixdateAgreesWithFoundation() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var seconds: [Int64] = (-10...10).map { Int64($0) * 86_400 + 3_723 }
        seconds += (0..<2_000).map { _ in Int64.random(in: -11_676_096_000...253_402_300_799) }
        for second in seconds {
            let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(second)))
            #expect(Timestamp.imfFixdate(epochSeconds: second) == expected, "epoch second \(second)")
        }
        #expect(Timestamp.imfFixdate(epochSeconds: 1_796_408_200) == "Fri, 04 Dec 2026 18:16:40 GMT")
    }
}

import Foundation
import MekongPostgres
import MekongTestSupport
import Testing

@Suite struct DecodingTests {
    @Test func decodingErrorsNameTheColumn() throws {
        try withDatabase { _, connection in
            let row = try connection.query(
                "SELECT 'abc'::text AS province_code, NULL::int AS population, 3000000000::bigint AS big")[0]

            let wrongType = #expect(throws: PostgresError.self) { try row.decode(Int.self, named: "province_code") }
            #expect(wrongType?.code == .decodeFailed)
            #expect(wrongType?.message.contains("\"province_code\"") == true)
            #expect(wrongType?.message.contains("abc") == true)

            let null = #expect(throws: PostgresError.self) { try row.decode(Int.self, at: 1) }
            #expect(null?.code == .decodeFailed)
            #expect(null?.message.contains("\"population\"") == true)
            #expect(null?.message.contains("NULL") == true)
            #expect(try row.decode(Int?.self, named: "population") == nil)

            let overflow = #expect(throws: PostgresError.self) { try row.decode(Int32.self, named: "big") }
            #expect(overflow?.message.contains("\"big\"") == true)
            #expect(try row.decode(Int?.self, named: "big") == 3_000_000_000)

            let missing = #expect(throws: PostgresError.self) { try row.decode(Int.self, named: "area") }
            #expect(missing?.code == .decodeFailed)
            #expect(missing?.message.contains("\"area\"") == true)
            #expect(throws: PostgresError.self) { try row.decode(Int.self, at: 3) }
        }
    }

    @Test func booleansAndSpecialFloats() throws {
        try withDatabase { _, connection in
            let row = try connection.query(
                """
                SELECT true, false, 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float8, '-0'::float8,
                       1.25::numeric, 1e300::float8
                """)[0]
            #expect(try row.decode(Bool.self, at: 0) == true)
            #expect(try row.decode(Bool.self, at: 1) == false)
            #expect(try row.decode(Double.self, at: 2).isNaN)
            #expect(try row.decode(Double.self, at: 3) == .infinity)
            #expect(try row.decode(Double.self, at: 4) == -.infinity)
            #expect(try row.decode(Double.self, at: 5).sign == .minus)
            #expect(try row.decode(Double.self, at: 6) == 1.25)
            #expect(try row.decode(Double.self, at: 7) == 1e300)
            #expect(throws: PostgresError.self) { try row.decode(Bool.self, at: 6) }
        }
    }

    /// The session is set to UTC, but decoding must not depend on it: whatever offset the server prints
    /// (including historical ones with seconds) gives the same instant.
    @Test(arguments: ["UTC", "Asia/Ho_Chi_Minh", "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati"])
    func timestampsDecodeInAnySessionTimeZone(zone: String) throws {
        try withDatabase { _, connection in
            try connection.execute("SELECT set_config('TimeZone', $1, false)", [zone])
            let instants = [
                "2025-07-01 08:30:00.123456+00", "1975-04-30 11:30:00+07", "1900-01-01 00:00:00.5+00",
                "2000-02-29 23:59:59.999999+00", "1969-12-31 23:59:59.000001+00", "0044-03-15 12:00:00+00 BC",
            ]
            for instant in instants {
                let row = try connection.query(
                    """
                    SELECT $1::timestamptz, $1::timestamptz::text,
                           (extract(epoch FROM $1::timestamptz) * 1000000)::bigint
                    """,
                    [instant])[0]
                let decoded = try row.decode(Date.self, at: 0)
                let expected = PostgresTestDates.date(unixMicros: try row.decode(Int64.self, at: 2))
                let printed = try row.decode(String.self, at: 1)
                #expect(decoded == expected, "\(instant) printed as \(printed) in \(zone)")
            }
        }
    }

    @Test func datesBindAndRoundTripAtMicrosecondPrecision() throws {
        try withDatabase { _, connection in
            // Far from 2001 a Date (a Double of seconds) cannot hold every microsecond; whole seconds there.
            let unixMicros: [Int64] = [
                0, 1_751_358_600_123_456, -2_208_988_800_000_000, 951_868_799_999_999, -1, 253_402_300_799_000_000,
                -62_135_596_800_000_000, -64_000_000_000_000_000,
            ]
            for micros in unixMicros {
                let date = PostgresTestDates.date(unixMicros: micros)
                let row = try connection.query(
                    "SELECT $1::timestamptz, (extract(epoch FROM $1::timestamptz) * 1000000)::bigint", [date])[0]
                #expect(try row.decode(Date.self, at: 0) == date, "\(micros)")
                #expect(try row.decode(Int64.self, at: 1) == micros, "\(micros) sent as \(date.postgresText)")
            }
            let fixed = PostgresTestDates.date(unixMicros: 1_751_358_600_123_456)
            #expect(fixed.postgresText == "2025-07-01T08:30:00.123456Z")
            #expect(
                try scalar(
                    connection, "SELECT $1::timestamptz = '2025-07-01 15:30:00.123456+07'::timestamptz", [fixed],
                    as: Bool.self))
        }
    }

    @Test func timestampWithoutZoneAndDateReadAsUTC() throws {
        try withDatabase { _, connection in
            let row = try connection.query(
                "SELECT '2025-07-01 08:30:00.25'::timestamp, '2025-07-01'::date, 'infinity'::timestamptz")[0]
            #expect(try row.decode(Date.self, at: 0) == PostgresTestDates.date(unixMicros: 1_751_358_600_250_000))
            #expect(try row.decode(Date.self, at: 1) == PostgresTestDates.date(unixMicros: 1_751_328_000_000_000))
            let infinite = #expect(throws: PostgresError.self) { try row.decode(Date.self, at: 2) }
            #expect(infinite?.code == .decodeFailed)
        }
    }

    @Test func uuidsAndTextOfOtherTypes() throws {
        try withDatabase { _, connection in
            let row = try connection.query(
                "SELECT gen_random_uuid(), '{\"a\": [1, 2]}'::jsonb, 12.50::numeric(5,2), ARRAY[1,2]")[0]
            #expect(try row.decode(UUID?.self, at: 0) != nil)
            #expect(try row.decode(String.self, at: 1) == "{\"a\": [1, 2]}")
            #expect(try row.decode(String.self, at: 2) == "12.50")
            #expect(try row.decode(String.self, at: 3) == "{1,2}")
        }
    }
}

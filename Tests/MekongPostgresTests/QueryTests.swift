import Foundation
import MekongPostgres
import MekongTestSupport
import Testing

@Suite struct QueryTests {
    static let strings = [
        "",
        "plain",
        "Phường Phúc Xá, Quận Ba Đình, Hà Nội",
        "Thành phố Hồ Chí Minh — Đồng bằng sông Cửu Long",
        "O'Reilly said \"hi\"",
        "back\\slash \\N \\. \\x00",
        "tab\there\nnewline\r\ncrlf",
        "emoji 🇻🇳 👩🏽‍🌾 and CJK 越南",
        "$1 $2 ? %s :name",
        "'; DROP TABLE t; --",
    ]

    @Test(arguments: strings)
    func stringsRoundTrip(value: String) throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE t (id int PRIMARY KEY, value text NOT NULL)")
            #expect(try connection.execute("INSERT INTO t VALUES ($1, $2)", [1, value]) == 1)
            let row = try connection.query(
                "SELECT value, length(value), octet_length(value) FROM t WHERE id = $1", [1])[0]
            #expect(try row.decode(String.self, at: 0) == value)
            // The server sees the same characters and the same UTF-8 bytes as Swift.
            #expect(try row.decode(Int.self, at: 1) == value.unicodeScalars.count)
            #expect(try row.decode(Int.self, at: 2) == value.utf8.count)
        }
    }

    @Test func vietnameseTextMatchesAServerSideLiteral() throws {
        try withDatabase { _, connection in
            let equal = try scalar(
                connection, "SELECT $1::text = 'Phường Phúc Xá'", ["Phường Phúc Xá"], as: Bool.self)
            #expect(equal)
            let upper = try scalar(connection, "SELECT upper($1)", ["phường phúc xá"], as: String.self)
            #expect(upper == "PHƯỜNG PHÚC XÁ")
        }
    }

    @Test func everyBindableTypeRoundTripsInOneStatement() throws {
        try withDatabase { _, connection in
            let date = Date(timeIntervalSince1970: 1_751_358_600.123456)
            let bytes: [UInt8] = Array(0...255)
            let uuid = UUID()
            let row = try connection.query(
                """
                SELECT $1::text, $2::bigint, $3::integer, $4::bigint, $5::float8, $6::boolean, $7::timestamptz,
                       $8::bytea, $9::text, $10::uuid, $11::boolean
                """,
                [
                    "Hà Nội", Int.max, Int32.min, Int64.min, 0.1, true, date, bytes, nil, uuid, false,
                ])[0]
            #expect(try row.decode(String.self, at: 0) == "Hà Nội")
            #expect(try row.decode(Int.self, at: 1) == Int.max)
            #expect(try row.decode(Int32.self, at: 2) == Int32.min)
            #expect(try row.decode(Int64.self, at: 3) == Int64.min)
            #expect(try row.decode(Double.self, at: 4) == 0.1)
            #expect(try row.decode(Bool.self, at: 5) == true)
            #expect(try row.decode(Date.self, at: 6) == PostgresTestDates.roundedToMicroseconds(date))
            #expect(try row.decode([UInt8].self, at: 7) == bytes)
            #expect(row.isNull(at: 8))
            #expect(try row.decode(String?.self, at: 8) == nil)
            #expect(try row.decode(UUID.self, at: 9) == uuid)
            #expect(try row.decode(Bool.self, at: 10) == false)
        }
    }

    @Test(arguments: [
        0.0, -0.0, 0.1, -1.5, 1.0 / 3.0, 1e-5, 1e16, 123_456_789.123_456_78, .pi, Double.greatestFiniteMagnitude,
        -Double.greatestFiniteMagnitude, Double.leastNormalMagnitude, Double.leastNonzeroMagnitude, .infinity,
        -.infinity,
    ])
    func doublesRoundTripExactly(value: Double) throws {
        try withDatabase { _, connection in
            let back = try scalar(connection, "SELECT $1::float8", [value], as: Double.self)
            #expect(back == value)
            #expect(back.sign == value.sign)
        }
    }

    @Test func nanRoundTrips() throws {
        try withDatabase { _, connection throws in
            #expect(try scalar(connection, "SELECT $1::float8", [Double.nan], as: Double.self).isNaN)
            #expect(try scalar(connection, "SELECT $1::float8 = 'NaN'::float8", [Double.nan], as: Bool.self))
        }
    }

    @Test func integersAtTheirLimits() throws {
        try withDatabase { _, connection throws in
            for value in [Int.min, -1, 0, 1, Int.max] {
                #expect(try scalar(connection, "SELECT $1::bigint", [value], as: Int.self) == value)
            }
            for value in [Int32.min, Int32.max] {
                #expect(try scalar(connection, "SELECT $1::integer", [value], as: Int32.self) == value)
            }
            for value in [Int64.min, Int64.max] {
                #expect(try scalar(connection, "SELECT $1::bigint", [value], as: Int64.self) == value)
            }
        }
    }

    @Test func byteaRoundTripsEveryByteAndEmpty() throws {
        try withDatabase { _, connection throws in
            let all: [UInt8] = (0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            #expect(try scalar(connection, "SELECT $1::bytea", [all], as: [UInt8].self) == all)
            #expect(try scalar(connection, "SELECT octet_length($1::bytea)", [all], as: Int.self) == all.count)
            #expect(try scalar(connection, "SELECT $1::bytea", [[UInt8]()], as: [UInt8].self) == [])
            #expect(try scalar(connection, "SELECT '\\xDEADbeef'::bytea", as: [UInt8].self) == [0xDE, 0xAD, 0xBE, 0xEF])
        }
    }

    @Test func nullParametersAreSQLNull() throws {
        try withDatabase { _, connection in
            let missing: String? = nil
            let row = try connection.query("SELECT $1::text IS NULL, $2::int IS NULL, $3::text", [missing, nil, ""])[0]
            #expect(try row.decode(Bool.self, at: 0))
            #expect(try row.decode(Bool.self, at: 1))
            #expect(!row.isNull(at: 2))
            #expect(try row.decode(String.self, at: 2) == "")
        }
    }

    @Test func injectionThroughAParameterStaysALiteral() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE people (name text NOT NULL)")
            let attack = "x'); DROP TABLE people; --"
            try connection.execute("INSERT INTO people (name) VALUES ($1)", [attack])
            #expect(try scalar(connection, "SELECT name FROM people", as: String.self) == attack)
            let matches = try scalar(
                connection, "SELECT count(*) FROM people WHERE name = $1", ["' OR '1'='1"], as: Int.self)
            #expect(matches == 0)
            #expect(try scalar(connection, "SELECT to_regclass('people') IS NOT NULL", as: Bool.self))
        }
    }

    @Test func rowsAffectedAndColumns() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE n (i int)")
            #expect(try connection.execute("INSERT INTO n SELECT generate_series(1, $1::int)", [25]) == 25)
            #expect(try connection.execute("UPDATE n SET i = i + 1 WHERE i > $1", [20]) == 5)
            #expect(try connection.execute("DELETE FROM n WHERE i <= $1", [3]) == 3)
            let result = try connection.query("SELECT i AS value, i * 2 AS doubled FROM n ORDER BY i LIMIT 3")
            #expect(result.columns == ["value", "doubled"])
            #expect(result.count == 3)
            #expect(result.rowsAffected == 3)
            #expect(try result.map { try $0.decode(Int.self, named: "doubled") } == [8, 10, 12])
            #expect(try connection.execute("CREATE INDEX ON n (i)") == 0)
        }
    }

    @Test func runScriptRunsSeveralStatements() throws {
        try withDatabase { _, connection in
            try connection.runScript(
                """
                CREATE TABLE a (x int);
                INSERT INTO a VALUES (1), (2);
                -- a comment
                INSERT INTO a SELECT x + 10 FROM a;
                """)
            #expect(try scalar(connection, "SELECT sum(x) FROM a", as: Int.self) == 26)
            try connection.runScript("")
            let error = #expect(throws: PostgresError.self) {
                try connection.runScript("INSERT INTO a VALUES (100); SELEC 1;")
            }
            #expect(error?.code == .queryFailed)
            #expect(error?.sqlState == "42601")
            // One implicit transaction: the INSERT before the error is gone too.
            #expect(try scalar(connection, "SELECT count(*) FROM a", as: Int.self) == 4)
        }
    }

    @Test func nulCharactersAreRefusedNotTruncated() throws {
        try withDatabase { _, connection throws in
            let error = #expect(throws: PostgresError.self) { try connection.query("SELECT $1::text", ["a\u{0}b"]) }
            #expect(error?.code == .misuse)
            #expect(error?.message.contains("$1") == true)
            #expect(throws: PostgresError.self) { try connection.query("SELECT 1\u{0}; DROP TABLE x") }
            #expect(try scalar(connection, "SELECT 1", as: Int.self) == 1)
        }
    }

    @Test func copyThroughQueryIsRefusedAndTheConnectionStaysUsable() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE c (x int)")
            let error = #expect(throws: PostgresError.self) { try connection.execute("COPY c FROM STDIN") }
            #expect(error?.code == .misuse)
            #expect(throws: PostgresError.self) { try connection.query("COPY (SELECT 1) TO STDOUT") }
            #expect(try scalar(connection, "SELECT count(*) FROM c", as: Int.self) == 0)
        }
    }
}

enum PostgresTestDates {
    /// `date` rounded to whole microseconds, as PostgreSQL stores it.
    static func roundedToMicroseconds(_ date: Date) -> Date {
        let micros = (date.timeIntervalSinceReferenceDate * 1_000_000).rounded()
        return Date(timeIntervalSinceReferenceDate: micros / 1_000_000)
    }

    /// A date from whole microseconds since 1970.
    static func date(unixMicros: Int64) -> Date {
        Date(timeIntervalSinceReferenceDate: Double(unixMicros - 978_307_200_000_000) / 1_000_000)
    }
}

import Foundation
import MekongTestSupport
import Testing

@testable import MekongPostgres

private struct ReceiverFull: Error {}

@Suite struct CopyTests {
    /// Values that need every kind of escaping, plus look-alikes of the NULL and end-of-data markers.
    static let tricky = [
        "plain", "", "tab\tinside", "new\nline", "carriage\rreturn", "crlf\r\n", "back\\slash", "\\N", "\\.",
        "\\", "trailing\\", "Phường Phúc Xá", "🇻🇳", "\t\n\r\\", "N", ".",
    ]

    static func row(_ i: Int) -> [String?] {
        let a = tricky[i % tricky.count] + (i % 3 == 0 ? " #\(i)" : "")
        let b: String? = i % 7 == 0 ? nil : tricky[(i / 7) % tricky.count]
        let c: String? = i % 11 == 0 ? nil : String(i * 3)
        return [String(i), a, b, c]
    }

    @Test func hundredThousandRowsRoundTripExactly() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE staging (id bigint PRIMARY KEY, a text NOT NULL, b text, c int)")
            let count = 100_000
            let copied = try connection.copyIn(
                "COPY staging (id, a, b, c) FROM STDIN", rows: (0..<count).lazy.map(Self.row))
            #expect(copied == count)

            let result = try connection.query("SELECT id, a, b, c FROM staging ORDER BY id")
            #expect(result.count == count)
            var mismatches = 0
            for (i, row) in result.enumerated() {
                let expected = Self.row(i)
                let actual: [String?] = [
                    String(try row.decode(Int.self, at: 0)), try row.decode(String.self, at: 1),
                    try row.decode(String?.self, at: 2), try row.decode(Int?.self, at: 3).map(String.init),
                ]
                if actual != expected {
                    mismatches += 1
                    if mismatches <= 5 { Issue.record("row \(i): \(actual) != \(expected)") }
                }
            }
            #expect(mismatches == 0)
            let nulls = try scalar(connection, "SELECT count(*) FROM staging WHERE b IS NULL", as: Int.self)
            #expect(nulls == (count + 6) / 7)
            #expect(try scalar(connection, "SELECT count(*) FROM staging WHERE a = $1", ["\\N"], as: Int.self) > 0)
        }
    }

    @Test func aBadRowReportsTheServerErrorAndLeavesTheTableEmpty() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE staging (id bigint PRIMARY KEY, a text NOT NULL, b text, c int)")
            let rows = (0..<20_000).lazy.map { i -> [String?] in
                i == 12_345 ? [String(i), "bad", nil, "not a number"] : Self.row(i)
            }
            let error = #expect(throws: PostgresError.self) {
                try connection.copyIn("COPY staging (id, a, b, c) FROM STDIN", rows: rows)
            }
            #expect(error?.code == .copyFailed)
            #expect(error?.sqlState == "22P02")
            #expect(error?.message.contains("not a number") == true)
            #expect(error?.context?.contains("line 12346") == true, "\(String(describing: error?.context))")
            #expect(error?.isTransient == false)
            #expect(try scalar(connection, "SELECT count(*) FROM staging", as: Int.self) == 0)
            // The connection is back to normal.
            #expect(try connection.copyIn("COPY staging (id, a) FROM STDIN", rows: [["1", "ok"]]) == 1)
        }
    }

    @Test func copyInsideATransactionRollsBackWithIt() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE staging (id int)")
            #expect(throws: TransactionTests.Boom()) {
                try connection.transaction { tx in
                    #expect(try tx.copyIn("COPY staging FROM STDIN", rows: [["1"], ["2"], [nil]]) == 3)
                    throw TransactionTests.Boom()
                }
            }
            #expect(try scalar(connection, "SELECT count(*) FROM staging", as: Int.self) == 0)
        }
    }

    @Test func statementErrorsAndMisuse() throws {
        try withDatabase { _, connection in
            let missing = #expect(throws: PostgresError.self) {
                try connection.copyIn("COPY nowhere FROM STDIN", rows: [["1"]])
            }
            #expect(missing?.code == .copyFailed)
            #expect(missing?.sqlState == "42P01")

            let notCopy = #expect(throws: PostgresError.self) { try connection.copyIn("SELECT 1", rows: [["1"]]) }
            #expect(notCopy?.code == .misuse)

            try connection.execute("CREATE TABLE staging (id int)")
            let binary = #expect(throws: PostgresError.self) {
                try connection.copyIn("COPY staging FROM STDIN (FORMAT binary)", rows: [["1"]])
            }
            #expect(binary?.code == .misuse)
            #expect(try connection.copyIn("COPY staging FROM STDIN", rows: [[String?]]()) == 0)
            #expect(try scalar(connection, "SELECT count(*) FROM staging", as: Int.self) == 0)
        }
    }

    @Test func copyTextEscapesAndEncodes() {
        var text = CopyText()
        text.append(["a\tb", nil, "c\\d\ne\rf", "", "Xá"])
        #expect(String(decoding: text.bytes, as: UTF8.self) == "a\\tb\t\\N\tc\\\\d\\ne\\rf\t\tXá\n")

        // Fields built apart (e.g. in parallel) continue a row; bytea is hex with the backslash escaped.
        var prefix = CopyText()
        prefix.integer(-42)
        prefix.text("x")
        var row = CopyText()
        row.append(fields: prefix)
        row.bytea([0x00, 0xAB, 0xFF])
        row.null()
        row.endRow()
        #expect(String(decoding: row.bytes, as: UTF8.self) == "-42\tx\t\\\\x00abff\t\\N\n")
    }

    @Test func copyTextRoundTripsThroughTheServer() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE typed (n bigint, t text, b bytea)")
            var text = CopyText()
            for i in 0..<1_000 {
                text.integer(Int64(i))
                text.text(i % 2 == 0 ? "tab\there\\" : nil)
                text.bytea([UInt8(i & 0xFF), 0x5C, 0x0A])
                text.endRow()
            }
            #expect(try connection.copyIn("COPY typed FROM STDIN", text: text) == 1_000)
            let row = try connection.query("SELECT t, b FROM typed WHERE n = 258")[0]
            #expect(try row.decode(String.self, at: 0) == "tab\there\\")
            #expect(try row.decode([UInt8].self, at: 1) == [0x02, 0x5C, 0x0A])
            #expect(try connection.query("SELECT count(*) FROM typed WHERE t IS NULL")[0].decode(Int.self, at: 0) == 500)
        }
    }

    @Test func copyBinaryRoundTripsEveryTypeThroughTheServer() throws {
        try withDatabase { _, connection in
            try connection.execute(
                """
                CREATE TABLE typed (i4 integer, i8 bigint, f8 double precision, ok boolean, t text, b bytea,
                                    at timestamptz, d date, PRIMARY KEY (i8))
                """)
            let allBytes = (0...255).map(UInt8.init)
            var rows = CopyBinary()
            for i in 0..<1_000 {
                var prefix = CopyBinary()  // fields built apart, as a decoder running in parallel does
                prefix.integer32(Int32(-i))
                prefix.integer64(Int64(i) << 33)
                rows.append(fields: prefix)
                rows.double(Double(i) / 3)
                rows.boolean(i % 2 == 0)
                if i % 5 == 0 { rows.null() } else { rows.text(Self.tricky[i % Self.tricky.count]) }
                rows.bytea(allBytes)
                // 2025-07-01T01:30:00Z plus i seconds; .0000015 rounds to 2 µs (ties to even), .0000025 to 2 µs.
                rows.timestamp(epochSeconds: 1_751_333_400 + Int64(i), nanoseconds: i % 2 == 0 ? 1_500 : 2_500)
                rows.date(daysSince2000: Int32(i))
                rows.endRow()
            }
            #expect(try connection.copyIn("COPY typed FROM STDIN (FORMAT binary)", binary: rows) == 1_000)

            let row = try connection.query(
                """
                SELECT i4, f8::text, ok, t, b, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), d::text
                FROM typed WHERE i8 = $1
                """, [Int64(7) << 33])[0]
            #expect(try row.decode(Int.self, at: 0) == -7)
            #expect(try row.decode(String.self, at: 1) == "2.3333333333333335")
            #expect(try row.decode(Bool.self, at: 2) == false)
            #expect(try row.decode(String.self, at: 3) == Self.tricky[7])
            #expect(try row.decode([UInt8].self, at: 4) == allBytes)
            #expect(try row.decode(String.self, at: 5) == "2025-07-01 01:30:07.000002")
            #expect(try row.decode(String.self, at: 6) == "2000-01-08")
            #expect(try scalar(connection, "SELECT count(*) FROM typed WHERE t IS NULL", as: Int.self) == 200)
            // The same instant as text, parsed by the server, is the same value.
            #expect(
                try scalar(
                    connection, "SELECT count(*) FROM typed WHERE i8 = 0 AND at = '2025-07-01T08:30:00.000002+07:00'",
                    as: Int.self) == 1)
        }
    }

    @Test func copyBinaryWithAWrongTypeIsRefusedAndWritesNothing() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE staging (id integer, name text)")
            var good = CopyBinary()
            good.integer32(1)
            good.text("one")
            good.endRow()
            var wrong = CopyBinary()
            wrong.integer64(2)  // bigint bytes for an integer column
            wrong.text("two")
            wrong.endRow()
            good.append(contentsOf: wrong)
            let refused = #expect(throws: PostgresError.self) {
                try connection.copyIn("COPY staging FROM STDIN (FORMAT binary)", binary: good)
            }
            #expect(refused?.code == .copyFailed)
            #expect(refused?.sqlState == "22P03")
            #expect(try scalar(connection, "SELECT count(*) FROM staging", as: Int.self) == 0)

            let textStatement = #expect(throws: PostgresError.self) {
                try connection.copyIn("COPY staging FROM STDIN", binary: CopyBinary())
            }
            #expect(textStatement?.code == .misuse)
            #expect(try connection.query("SELECT 1").count == 1)  // the connection is still usable
        }
    }

    @Test func copyOutStreamsEveryRowAsTheServerFormatsIt() throws {
        try withDatabase { _, connection in
            try connection.execute("CREATE TABLE source (id bigint PRIMARY KEY, a text, b text)")
            let rows = (0..<20_000).map { i in [String(i), Self.tricky[i % Self.tricky.count] + ",\"q\"", i % 5 == 0 ? nil : "x"] }
            _ = try connection.copyIn("COPY source FROM STDIN", rows: rows)
            var text: [UInt8] = []
            var calls = 0
            let count = try connection.copyOut("COPY (SELECT id, a, b FROM source ORDER BY id) TO STDOUT") { bytes in
                calls += 1
                text.append(contentsOf: bytes)
            }
            #expect(count == 20_000)
            #expect(calls == 20_000, "one call per row")
            // Text format back through the same escaping the copyIn side writes.
            var expected = CopyText()
            for row in rows { expected.append(row) }
            #expect(text == expected.bytes)
            // CSV: RFC 4180 quoting of commas and quotes, NULL as an empty field.
            var csv = ""
            try connection.copyOut("COPY (SELECT id, a, b FROM source WHERE id IN (0, 1) ORDER BY id) TO STDOUT (FORMAT csv)") {
                csv += String(decoding: $0, as: UTF8.self)
            }
            #expect(csv == "0,\"plain,\"\"q\"\"\",\n1,\",\"\"q\"\"\",x\n")
        }
    }

    @Test func copyOutReportsAFailureMidStreamAndLeavesTheConnectionUsable() throws {
        try withDatabase { (_: TestDatabase, connection: PostgresConnection) throws in
            var received = 0
            let failed = #expect(throws: PostgresError.self) {
                try connection.copyOut("COPY (SELECT 1 / (5000 - i) FROM generate_series(1, 10000) i) TO STDOUT") { _ in received += 1 }
            }
            #expect(failed?.code == .copyFailed)
            #expect(failed?.sqlState == "22012")
            #expect(received < 10_000)
            #expect(try connection.query("SELECT 1").count == 1)

            #expect(throws: ReceiverFull.self) {
                try connection.copyOut("COPY (SELECT i FROM generate_series(1, 1000) i) TO STDOUT") { _ in throw ReceiverFull() }
            }
            #expect(try connection.query("SELECT 2").count == 1)

            let notCopy = #expect(throws: PostgresError.self) { try connection.copyOut("SELECT 1") { _ in } }
            #expect(notCopy?.code == .misuse)
            let wrongWay = #expect(throws: PostgresError.self) { try connection.copyOut("COPY (SELECT 1) TO STDOUT WITH (FORMAT nonsense)") { _ in } }
            #expect(wrongWay?.code == .copyFailed)
            #expect(try connection.query("SELECT 3").count == 1)
        }
    }
}

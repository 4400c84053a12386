import Foundation
import MekongTestSupport
import Testing

@testable import MekongPostgres

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
}

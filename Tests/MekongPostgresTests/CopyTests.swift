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

    @Test func encoderEscapesAndChunks() {
        var encoder = CopyEncoder()
        encoder.append(["a\tb", nil, "c\\d\ne\rf", "", "Xá"])
        #expect(String(decoding: encoder.buffer, as: UTF8.self) == "a\\tb\t\\N\tc\\\\d\\ne\\rf\t\tXá\n")

        // Chunks sent by copyIn are ~64 KiB: the buffer crosses the threshold by at most one row.
        var chunked = CopyEncoder()
        var chunks: [Int] = []
        for i in 0..<100_000 {
            chunked.append(Self.row(i))
            if chunked.buffer.count >= CopyEncoder.chunkSize {
                chunks.append(chunked.buffer.count)
                chunked.buffer.removeAll(keepingCapacity: true)
            }
        }
        #expect(chunks.count > 10)
        #expect(chunks.allSatisfy { $0 >= CopyEncoder.chunkSize && $0 < CopyEncoder.chunkSize + 200 })
    }
}

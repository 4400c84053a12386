import Foundation
import MekongKafka
import MekongPostgres
import MekongTestSupport
import Testing

@testable import MekongIndicatorQueries

/// The CSV answers are made line by line in SQL (`IndicatorExport.csvQuoted`); they must be byte for byte what
/// PostgreSQL's own `COPY … (FORMAT csv)` writes, for any text: random texts over the characters that matter
/// (comma, quote, CR, LF, spaces, backslash, Vietnamese letters), the empty text and NULL.
@Suite struct CSVLineTests {
    static func randomText(_ random: inout SeededRandom) -> String? {
        let alphabet: [Character] = [",", "\"", "\r", "\n", " ", "\\", ".", "a", "Z", "0", "ư", "Đ", "ồ", ";", "'"]
        switch random.next() % 8 {
        case 0: return nil
        case 1: return ""
        default: return String((0..<Int(random.next() % 7)).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
        }
    }

    @Test func linesMadeInSQLAreWhatCOPYWrites() throws {
        let database = try TestDatabase.create()
        defer { database.drop() }
        let db = try database.connect()
        try db.execute("CREATE TABLE fields (id int PRIMARY KEY, a text, b text, c text)")
        var random = SeededRandom(seed: 2026)
        for id in 0..<600 {
            try db.execute("INSERT INTO fields VALUES ($1, $2, $3, $4)",
                           [id, Self.randomText(&random), Self.randomText(&random), Self.randomText(&random)])
        }
        var copied: [String] = []
        try db.copyOut("COPY (SELECT a, b, c FROM fields ORDER BY id) TO STDOUT (FORMAT csv)") {
            copied.append(String(decoding: $0, as: UTF8.self))
        }
        var made: [String] = []
        let line = ["a", "b", "c"].map { IndicatorExport.csvQuoted("fields.\($0)") }.joined(separator: " || ',' || ")
        try db.streamPrepared("SELECT \(line) || e'\\n' FROM fields ORDER BY id") { made.append(String(decoding: $0, as: UTF8.self)) }
        #expect(made.count == 600)
        for (index, (ours, theirs)) in zip(made, copied).enumerated() where ours != theirs {
            Issue.record("row \(index): \(ours.debugDescription) but COPY writes \(theirs.debugDescription)")
        }
        // The sample reaches every case: NULL, empty, and texts that need quotes and that do not.
        #expect(copied.contains { $0.hasPrefix(",") } && copied.contains { $0.hasPrefix("\"\",") })
        #expect(copied.contains { $0.contains("\"\"\"") } && copied.contains { $0.contains("\r") })
    }
}

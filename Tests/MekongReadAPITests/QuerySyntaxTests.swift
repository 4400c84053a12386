import MekongIndicatorQueries
import MekongKafka
import Testing

@testable import MekongReadAPI

/// The query string's syntax checks are written byte by byte (a `Regex` literal is parsed again at every use);
/// they must accept exactly what the documented patterns (openapi.yaml) accept. Random strings over the characters
/// that matter, near-misses included, are held to the patterns as `Regex` (the oracle).
@Suite struct QuerySyntaxTests {
    /// A random string: mostly shaped like the thing checked (so that both answers occur often), with random
    /// characters swapped in, dropped or repeated.
    static func candidate(_ shapes: [String], _ alphabet: [Character], _ random: inout SeededRandom) -> String {
        var characters = Array(shapes[Int(random.next() % UInt64(shapes.count))])
        for _ in 0..<Int(random.next() % 3) {
            let position = characters.isEmpty ? 0 : Int(random.next() % UInt64(characters.count + 1))
            switch random.next() % 3 {
            case 0: characters.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
            case 1: if position < characters.count { characters.remove(at: position) }
            default: if position < characters.count { characters[position] = alphabet[Int(random.next() % UInt64(alphabet.count))] }
            }
        }
        return String(characters)
    }

    @Test func periodsCodesAndFiltersAreWhatThePatternsSay() {
        let period = #/^[1-9][0-9]{3}(-(H[12]|Q[1-4]|M(0[1-9]|1[0-2])))?$/#
        let code = #/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/#
        let filter = #/^c\[([A-Za-z][A-Za-z0-9_]{0,31})\]$/#
        var random = SeededRandom(seed: 17)
        let alphabet: [Character] = Array("0129-HQMSc[]_.aZ ") + ["ư", "\n"]
        var accepted = (period: 0, code: 0, filter: 0)
        for _ in 0..<20_000 {
            let p = Self.candidate(["2025", "2025-H1", "2025-Q4", "2025-M07", "2025-M12", "0999", "2025-M13"], alphabet, &random)
            let periodOracle = (try? period.wholeMatch(in: p)) != nil
            #expect(IndicatorSelection.isPeriod(p) == periodOracle, "period \(p.debugDescription)")
            if periodOracle { accepted.period += 1 }

            let c = Self.candidate(["IND.00", "C111", "vn-admin-units", "a", String(repeating: "x", count: 32), "_x"], alphabet, &random)
            let codeOracle = (try? code.wholeMatch(in: c)) != nil
            #expect(DataQuery.isCode(c) == codeOracle, "code \(c.debugDescription)")
            if codeOracle { accepted.code += 1 }

            let f = Self.candidate(["c[SEX]", "c[age_group]", "c[A1]", "c[" + String(repeating: "z", count: 32) + "]", "c[]"], alphabet, &random)
            let match = try? filter.wholeMatch(in: f)
            #expect(DataQuery.dimensionFilter(f) == match.map { String($0.1) }, "filter \(f.debugDescription)")
            if match != nil { accepted.filter += 1 }
        }
        // Both answers are common for each check, so the comparison means something.
        for count in [accepted.period, accepted.code, accepted.filter] { #expect((2_000...18_000).contains(count), "\(accepted)") }
    }
}

/// The validators name the question by `IndicatorSelection.key` and `Disclosure.key`: equal keys exactly when the
/// questions are equal, on random pairs that differ in one field or none; and the key covers every stored field
/// (a field added to the selection without a place in the key makes this fail).
@Suite struct SelectionKeyTests {
    @Test func keysAreEqualExactlyWhenTheQuestionsAre() {
        #expect(Mirror(reflecting: IndicatorSelection(code: "X")).children.count == 12, "a new field: put it in the key")
        var random = SeededRandom(seed: 99)
        func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
        func selection() -> IndicatorSelection {
            IndicatorSelection(
                code: pick(["POP", "RATE"]), knownAt: pick(["infinity", "2025-01-01T00:00:00.000000Z"]),
                version: pick([nil, "2025"]), period: pick([nil, "2025-M01"]), areas: pick([[], ["a"], ["a", "b"], ["a,b"]]),
                parent: pick([nil, "P1"]), startPeriod: pick([nil, "2024"]), endPeriod: pick([nil, "2025"]),
                updatedAfter: pick([nil, "2025-01-01T00:00:00.000000Z"]),
                dimensionFilters: pick([[:], ["sex": ["F"]], ["sex": ["F", "M"]], ["age": ["F"]]]), includeHistory: pick([false, true]))
        }
        var equalPairs = 0
        for _ in 0..<5_000 {
            let a = selection()
            var b = Bool.random(using: &random) ? a : selection()
            if Bool.random(using: &random) { b.historyMomentsPerAnswer = pick([24, 6]) }
            #expect((a == b) == (a.key == b.key), "\(a) / \(b)")
            if a == b { equalPairs += 1 }
        }
        #expect(equalPairs > 500)
        let disclosures: [Disclosure] = [.full, .published, .fullWithin(areas: []), .fullWithin(areas: ["a"]), .fullWithin(areas: ["a", "b"])]
        for a in disclosures { for b in disclosures { #expect((a == b) == (a.key == b.key)) } }
    }
}

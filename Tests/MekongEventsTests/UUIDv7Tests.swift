import Foundation
import Testing

@testable import MekongEvents

@Suite("UUIDv7")
struct UUIDv7Tests {
    @Test func generatesValidLowercaseVersion7Ids() throws {
        let id = UUIDv7.generate()
        #expect(UUIDv7.isValid(id))
        #expect(id == id.lowercased())
        #expect(id.count == 36)
        let characters = Array(id)
        #expect(characters[14] == "7")
        #expect("89ab".contains(characters[19]))
        let milliseconds = try #require(UUIDv7.milliseconds(of: id))
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        #expect(milliseconds <= now && now - milliseconds < 5_000)
    }

    @Test func idsAreUniqueAndStrictlyIncreasing() {
        let ids = (0..<20_000).map { _ in UUIDv7.generate() }
        #expect(Set(ids).count == ids.count)
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func concurrentGenerationStaysUnique() async {
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { (0..<2_000).map { _ in UUIDv7.generate() } } }
            var all: [String] = []
            for await batch in group { all += batch }
            return all
        }
        #expect(Set(ids).count == 8_000)
    }

    @Test(arguments: [
        ("01978a1c-6f40-7a3b-9c1d-2e4f5a6b7c8d", true),
        ("01978A1C-6F40-7A3B-BC1D-2E4F5A6B7C8D", true),
        ("4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", false),  // version 4
        ("01978a1c-6f40-7a3b-cc1d-2e4f5a6b7c8d", false),  // variant 110
        ("01978a1c-6f40-7a3b-9c1d-2e4f5a6b7c8", false),
        ("01978a1c-6f40-7a3b-9c1d-2e4f5a6b7c8d0", false),
        ("01978a1c-6f40-7a3b-9c1d_2e4f5a6b7c8d", false),
        ("01978a1g-6f40-7a3b-9c1d-2e4f5a6b7c8d", false),
        ("{01978a1c-6f40-7a3b-9c1d-2e4f5a6b7c8d}", false),
        ("", false),
    ])
    func validity(text: String, valid: Bool) {
        #expect(UUIDv7.isValid(text) == valid)
    }

    @Test func stateStaysMonotonicWhenTheClockStallsOrStepsBack() {
        var state = UUIDv7.State()
        var previous = ""
        for now: UInt64 in [1_000, 1_000, 1_000, 999, 500, 1_001, 1_001] {
            let (milliseconds, high, low) = state.next(now: now)
            let id = UUIDv7.format(milliseconds: milliseconds, randomHigh: high, randomLow: low)
            #expect(UUIDv7.isValid(id))
            #expect(id > previous)
            previous = id
        }
        #expect(UUIDv7.milliseconds(of: previous) == 1_001)
    }

    @Test func exhaustedRandomPartBorrowsTheNextMillisecond() {
        var state = UUIDv7.State(milliseconds: 7, randomHigh: 0xFFF, randomLow: (1 << 62) - 1)
        let (milliseconds, high, low) = state.next(now: 7)
        #expect(milliseconds == 8)
        #expect(high == 0 && low == 0)
        #expect(UUIDv7.format(milliseconds: 8, randomHigh: 0, randomLow: 0) == "00000000-0008-7000-8000-000000000000")
    }
}

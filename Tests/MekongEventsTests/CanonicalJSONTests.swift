import Foundation
import Testing

@testable import MekongEvents

@Suite("Canonical JSON (RFC 8785)")
struct CanonicalJSONTests {
    /// RFC 8785 Appendix B, plus the examples of §3.2.2.3.
    @Test(
        arguments: [
            (0x0000_0000_0000_0000, "0"), (0x8000_0000_0000_0000, "0"),
            (0x0000_0000_0000_0001, "5e-324"), (0x8000_0000_0000_0001, "-5e-324"),
            (0x7FEF_FFFF_FFFF_FFFF, "1.7976931348623157e+308"), (0xFFEF_FFFF_FFFF_FFFF, "-1.7976931348623157e+308"),
            (0x4340_0000_0000_0000, "9007199254740992"), (0xC340_0000_0000_0000, "-9007199254740992"),
            (0x4430_0000_0000_0000, "295147905179352830000"),
            (0x44B5_2D02_C7E1_4AF5, "9.999999999999997e+22"), (0x44B5_2D02_C7E1_4AF6, "1e+23"),
            (0x44B5_2D02_C7E1_4AF7, "1.0000000000000001e+23"),
            (0x444B_1AE4_D6E2_EF4E, "999999999999999700000"), (0x444B_1AE4_D6E2_EF4F, "999999999999999900000"),
            (0x444B_1AE4_D6E2_EF50, "1e+21"),
            (0x3EB0_C6F7_A0B5_ED8C, "9.999999999999997e-7"), (0x3EB0_C6F7_A0B5_ED8D, "0.000001"),
            (0x41B3_DE43_5555_5553, "333333333.3333332"), (0x41B3_DE43_5555_5554, "333333333.33333325"),
            (0x41B3_DE43_5555_5555, "333333333.3333333"), (0x41B3_DE43_5555_5556, "333333333.3333334"),
            (0x41B3_DE43_5555_5557, "333333333.33333343"),
            (0xBECB_F647_612F_3696, "-0.0000033333333333333333"),
            (0x4314_3FF3_C1CB_0959, "1424953923781206.2"),
        ] as [(UInt64, String)])
    func appendixBNumbers(bits: UInt64, expected: String) {
        #expect(CanonicalJSON.string(.number(Double(bitPattern: bits))) == expected)
    }

    @Test(
        arguments: [
            (1e21, "1e+21"), (1e-7, "1e-7"), (0.000001, "0.000001"), (1.2345678901234568e20, "123456789012345680000"),
            (4.5, "4.5"), (2e-3, "0.002"), (-0.0, "0"), (Double.leastNonzeroMagnitude, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"), (1e30, "1e+30"), (1e-27, "1e-27"),
            (100, "100"), (-1.5, "-1.5"), (0.1, "0.1"), (123e-20, "1.23e-18"), (1e20, "100000000000000000000"),
            (12.34e20, "1.234e+21"), (1.5e-6, "0.0000015"), (-1e-7, "-1e-7"),
            (9_007_199_254_740_994, "9007199254740994"),
        ] as [(Double, String)])
    func ecmaScriptNumberForms(value: Double, expected: String) {
        #expect(CanonicalJSON.string(.number(value)) == expected)
    }

    @Test func nonFiniteNumbersBecomeNull() {
        #expect(CanonicalJSON.string([.number(.nan), .number(.infinity)]) == "[null,null]")
    }

    /// RFC 8785 §3.2.2 example (input text parsed, then canonicalised).
    @Test func rfcSerializationExample() throws {
        let input = #"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50,
                          2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let expected =
            #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        #expect(CanonicalJSON.string(try JSON.parse(input)) == expected)
    }

    /// RFC 8785 §3.2.3: keys sorted by UTF-16 code units, so U+1F600 (D83D DE00) sorts before U+FB33.
    @Test func rfcSortingExample() throws {
        let input = #"""
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """#
        let canonical = CanonicalJSON.string(try JSON.parse(input))
        let reparsed = try #require(try JSON.parse(canonical).objectValue)
        #expect(
            reparsed.map(\.value) == [
                "Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign",
                "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh",
            ])
        #expect(canonical.hasPrefix(#"{"\r":"Carriage Return","1":"One","\#u{80}":"Control","ö":"#))
    }

    @Test func keyOrderComparesUTF16CodeUnits() {
        #expect(CanonicalJSON.precedes("a", "b"))
        #expect(CanonicalJSON.precedes("a", "aa"))
        #expect(!CanonicalJSON.precedes("aa", "a"))
        #expect(!CanonicalJSON.precedes("a", "a"))
        #expect(CanonicalJSON.precedes("Z", "a"))
        #expect(CanonicalJSON.precedes("z", "é"))
        #expect(CanonicalJSON.precedes("\u{1F600}", "\u{FB33}"))  // code point order would say the opposite
        #expect(!CanonicalJSON.precedes("\u{FB33}", "\u{1F600}"))
    }

    @Test func stringsEscapeOnlyQuoteBackslashAndControls() {
        let text = "\"\\/\u{08}\u{09}\u{0A}\u{0C}\u{0D}\u{00}\u{1F}\u{7F}é€😀"
        #expect(CanonicalJSON.string(.string(text)) == #""\"\\/\b\t\n\f\r\u0000\u001f"# + "\u{7F}é€😀\"")
    }

    @Test func nestedObjectsAreSortedAndCompact() throws {
        let value = try JSON.parse(#"{ "b": [ {"y": 1, "x": 2} ], "a": { "d": null, "c": "" } }"#)
        #expect(CanonicalJSON.string(value) == #"{"a":{"c":"","d":null},"b":[{"x":2,"y":1}]}"#)
        #expect(JSON.serialize(value) == #"{"b":[{"y":1,"x":2}],"a":{"d":null,"c":""}}"#)
    }

    @Test func canonicalFormIsAFixedPoint() throws {
        let value = try JSON.parse(#"{"n": [1.0, 1e2, -0, 0.50], "s": "\u00e9", "o": {"b": 1, "a": 2}}"#)
        let once = CanonicalJSON.encode(value)
        #expect(CanonicalJSON.encode(try JSON.parse(once)) == once)
        #expect(String(decoding: once, as: UTF8.self) == #"{"n":[1,100,0,0.5],"o":{"a":2,"b":1},"s":"é"}"#)
    }
}

/// `CloudEvent.canonicalJSON(_:id:recordedtime:)` against encoding the event with its recordedtime, on random events
/// whose data repeats the top-level `"id"` member (the last occurrence must be the one taken).
@Suite struct RecordedTimeSpliceTests {
    @Test func theSplicedBytesAreTheEncodedOnesForRandomEvents() throws {
        var random = SplitMix64(seed: 20_261_207)
        for round in 0..<500 {
            let id = UUIDv7.generate()
            var data: JSONObject = ["n": .number(Double(round))]
            if round % 2 == 0 { data["id"] = .string(id) }
            if round % 3 == 0 { data["nested"] = .object(["id": .string(id), "x": .string(",\"id\":\"\(id)\"")]) }
            var event = CloudEvent(
                id: id, source: "urn:test:\(random.next() % 100)", type: "vn.gso.report.submitted",
                time: Timestamp(rfc3339: "2025-07-01T08:30:00+07:00")!, subject: "s/\(random.next() % 1000)",
                dataschema: "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v2.schema.json", data: .object(data))
            if random.next() % 2 == 0 { event.signature = "c2ln" ; event.signingkey = "k\(random.next() % 7)" }
            if random.next() % 2 == 0 { event.sourcesequence = Int64(random.next() % 1000) }
            if random.next() % 2 == 0 { event.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
            let time = Timestamp(date: Date(timeIntervalSince1970: Double(random.next() % 2_000_000_000) + 0.123456))
            let submitted = event.canonicalJSON()
            var recorded = event
            recorded.recordedtime = time
            #expect(CloudEvent.canonicalJSON(submitted, id: id, recordedtime: time) == recorded.canonicalJSON(), "round \(round)")
        }
        #expect(CloudEvent.canonicalJSON(Array("{}".utf8), id: UUIDv7.generate(), recordedtime: Timestamp(date: Date())) == nil)
    }
}

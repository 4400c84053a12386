import Testing

@testable import MekongEvents

@Suite("Event hash")
struct EventHashTests {
    @Test func sha256KnownAnswers() {
        #expect(
            EventHash.sha256(Array("abc".utf8)).hex
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(EventHash.sha256([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(EventHash.sha256("abc".utf8.lazy.map { $0 }) == EventHash.sha256(Array("abc".utf8)))
    }

    @Test func chainingHashesTheConcatenation() {
        let a = EventHash.sha256(Array("a".utf8))
        let b = EventHash.sha256(Array("b".utf8))
        #expect(a.chained(with: b).hex == "e5a01fee14e0ed5c48714f22180f25ad8365b53f9779f79dc4a3d7e93963f94a")
        #expect(a.chained(with: b) != b.chained(with: a))
        #expect(EventHash.zero.bytes == [UInt8](repeating: 0, count: 32))
        #expect(EventHash.zero.chained(with: a) == EventHash.sha256(EventHash.zero.bytes + a.bytes))
    }

    @Test func hexRoundTripsAndRejectsGarbage() throws {
        let hash = EventHash.sha256(Array("mekong".utf8))
        #expect(EventHash(hex: hash.hex) == hash)
        #expect(EventHash(hex: hash.hex.uppercased()) == hash)
        #expect(hash.description == hash.hex)
        #expect(EventHash(hex: String(hash.hex.dropLast())) == nil)
        #expect(EventHash(hex: String(hash.hex.dropLast()) + "g") == nil)
        #expect(EventHash(hex: "") == nil)
        #expect(EventHash(bytes: hash.bytes) == hash)
        #expect(EventHash(bytes: [1, 2, 3]) == nil)
    }

    @Test func semanticallyEqualJSONHashesEqually() throws {
        let compact = #"{"a":1,"b":[true,{"d":"x","c":null}],"e":0.5}"#
        let spaced = """
            {
              "e" : 5e-1,
              "b" : [ true , { "c" : null , "d" : "\\u0078" } ],
              "a" : 1.0
            }
            """
        let first = try JSON.parse(compact)
        let second = try JSON.parse(spaced)
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(EventHash.sha256(CanonicalJSON.encode(first)) == EventHash.sha256(CanonicalJSON.encode(second)))
        let different = try JSON.parse(#"{"a":1,"b":[true,{"d":"x","c":null}],"e":0.25}"#)
        #expect(EventHash.sha256(CanonicalJSON.encode(first)) != EventHash.sha256(CanonicalJSON.encode(different)))
    }
}

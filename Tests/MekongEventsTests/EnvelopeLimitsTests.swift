import Testing

@testable import MekongEvents

@Suite("Envelope limits")
struct EnvelopeLimitsTests {
    /// A string attribute, its limit, and a valid value of exactly `n` UTF-8 bytes (n ≥ `minimum`).
    struct Attribute: CustomTestStringConvertible, Sendable {
        let name: String
        let limit: Int
        let minimum: Int
        let value: @Sendable (Int) -> String
        var testDescription: String { name }
    }

    static let attributes: [Attribute] = [
        Attribute(name: "source", limit: CloudEvent.Limits.source, minimum: 5) { "urn:" + String(repeating: "s", count: $0 - 4) },
        Attribute(name: "type", limit: CloudEvent.Limits.type, minimum: 8) { "vn.gso." + String(repeating: "t", count: $0 - 7) },
        Attribute(name: "subject", limit: CloudEvent.Limits.subject, minimum: 1) { String(repeating: "u", count: $0) },
        Attribute(name: "dataschema", limit: CloudEvent.Limits.dataschema, minimum: 11) {
            "https://x/" + String(repeating: "d", count: $0 - 10)
        },
        Attribute(name: "signature", limit: CloudEvent.Limits.signature, minimum: 1) { String(repeating: "A", count: $0) },
        Attribute(name: "signingkey", limit: CloudEvent.Limits.signingkey, minimum: 1) { String(repeating: "k", count: $0) },
    ]

    static func event(_ name: String, _ value: String) throws -> JSONObject {
        var object = try Fixtures.eventObject()
        object[name] = .string(value)
        return object
    }

    /// The envelope error for `object`, or nil when it is accepted.
    static func error(_ object: JSONObject) -> EnvelopeError? {
        do {
            _ = try CloudEvent(json: .object(object))
            return nil
        } catch {
            return error
        }
    }

    @Test("each string attribute is accepted at its limit and refused one byte over, by name, size and limit", arguments: attributes)
    func atAndOverTheLimit(_ attribute: Attribute) throws {
        #expect(Self.error(try Self.event(attribute.name, attribute.value(attribute.limit))) == nil)
        let over = try #require(Self.error(try Self.event(attribute.name, attribute.value(attribute.limit + 1))))
        #expect(over.code == .tooLarge)
        #expect(over.attribute == attribute.name)
        #expect(over.message == "attribute '\(attribute.name)' is \(attribute.limit + 1) bytes long, over the limit of \(attribute.limit) bytes (UTF-8)")
    }

    @Test("random lengths: an attribute is refused for its size exactly when it is over its limit", arguments: attributes)
    func randomLengths(_ attribute: Attribute) throws {
        var random = SplitMix64(seed: UInt64(attribute.limit) &* 7919 &+ UInt64(attribute.name.utf8.count))
        for _ in 0..<200 {
            let length = attribute.minimum + Int(random.next() % UInt64(2 * attribute.limit))
            let error = Self.error(try Self.event(attribute.name, attribute.value(length)))
            if length <= attribute.limit {
                #expect(error == nil, "\(attribute.name) of \(length) bytes: \(String(describing: error))")
            } else {
                #expect(error?.code == .tooLarge && error?.attribute == attribute.name, "\(attribute.name) of \(length) bytes")
            }
        }
    }

    @Test("limits count UTF-8 bytes, not characters")
    func bytesNotCharacters() throws {
        let twoByte = String(repeating: "é", count: CloudEvent.Limits.subject / 2)
        #expect(Self.error(try Self.event("subject", twoByte)) == nil)
        let over = Self.error(try Self.event("subject", twoByte + "a"))
        #expect(over?.code == .tooLarge && over?.message.contains("513 bytes long") == true, "257 characters, 513 bytes")
    }

    @Test("id, traceparent, time and recordedtime: fixed or bounded text")
    func fixedLengths() throws {
        let id = try #require(Self.error(try Self.event("id", "01978a1c-6f40-7a3b-9c1d-2e4f5a6b7c8d0")))
        #expect(id.code == .tooLarge && id.attribute == "id" && id.message.contains("37 bytes long, over the limit of 36"))
        let trace = try #require(Self.error(try Self.event("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011")))
        #expect(trace.code == .tooLarge && trace.attribute == "traceparent")
        for name in ["time", "recordedtime"] {
            #expect(Self.error(try Self.event(name, "2025-07-01T15:30:00.123456789+07:00")) == nil, "35 bytes: nine fraction digits")
            let long = try #require(Self.error(try Self.event(name, "2025-07-01T15:30:00.1234567891+07:00")))
            #expect(long.code == .tooLarge && long.attribute == name && long.message.contains("36 bytes long, over the limit of 35"))
        }
    }

    @Test("the whole event: accepted at 1 MiB of canonical JSON, refused one byte over, with its size")
    func wholeEvent() throws {
        var event = try CloudEvent(json: .object(try Fixtures.eventObject()))
        event.data = .object(JSONObject([("padding", .string(""))]))
        let base = event.canonicalJSON().count
        event.data = .object(JSONObject([("padding", .string(String(repeating: "x", count: CloudEvent.Limits.eventBytes - base)))]))
        #expect(event.canonicalJSON().count == CloudEvent.Limits.eventBytes)
        try event.validateSize()
        #expect(try event.checkedCanonicalJSON() == event.canonicalJSON())
        event.data = .object(JSONObject([("padding", .string(String(repeating: "x", count: CloudEvent.Limits.eventBytes - base + 1)))]))
        let error = #expect(throws: EnvelopeError.self) { try event.validateSize() }
        #expect(error?.code == .tooLarge && error?.attribute == nil)
        #expect(error?.message == "the event is 1048577 bytes long as canonical JSON, over the limit of 1048576 bytes")
    }

    @Test("messages never echo a huge value in full")
    func messagesAreShort() throws {
        let huge = String(repeating: "z", count: 6_000)
        var unknown = try Fixtures.eventObject()
        unknown[huge] = .string("x")
        var cases: [JSONObject] = [
            try Self.event("datacontenttype", huge), try Self.event("specversion", huge), try Self.event("time", huge),
            try Self.event("source", huge), try Self.event("id", huge), unknown,
        ]
        cases.append(try Self.event("type", "bad type " + huge.prefix(200)))
        for object in cases {
            let error = try #require(Self.error(object))
            #expect(error.message.count < 400, "\(error.message.prefix(200))")
            #expect((error.attribute?.count ?? 0) <= EnvelopeError.quotedCharacters + 1)
        }
        let content = Self.error(try Self.event("datacontenttype", huge))
        #expect(content?.message == "attribute 'datacontenttype' must be 'application/json', got '\(huge.prefix(80))…' (6000 bytes)")
        #expect(EnvelopeError.quoted(String(repeating: "a", count: 80)) == "'" + String(repeating: "a", count: 80) + "'")
    }
}

/// A small deterministic generator (SplitMix64), so random-length tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

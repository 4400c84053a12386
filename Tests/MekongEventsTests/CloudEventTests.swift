import Testing

@testable import MekongEvents

@Suite("CloudEvent envelope")
struct CloudEventTests {
    /// Decodes `object` as an event and returns the envelope error, or records an issue if accepted.
    private func refusal(_ object: JSONObject, sourceLocation: SourceLocation = #_sourceLocation) -> EnvelopeError? {
        do {
            let event = try CloudEvent(json: .object(object))
            Issue.record("accepted \(event.id)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func decodesAValidEvent() throws {
        let event = try CloudEvent(decoding: Array(Fixtures.eventText.utf8))
        #expect(event.id == "01978a1c-6f40-7a3b-9c1d-2e4f5a6b7c8d")
        #expect(event.source == "urn:vn:gso:reporting-portal:province:01")
        #expect(event.type == "vn.gso.report.submitted")
        #expect(event.time.text == "2025-07-01T15:30:00+07:00")
        #expect(event.time.epochSeconds == 1_751_358_600)
        #expect(event.subject == "0100100001/DN-01/2025-Q2")
        #expect(event.datacontenttype == "application/json")
        #expect(event.recordedtime?.text == "2025-07-01T08:30:01.250Z")
        #expect(event.sourcesequence == 42)
        #expect(event.signature == nil)
        #expect(event.data["observations"]?.arrayValue?.first?["value"] == 1250.5)
        #expect(event.headers.map(\.name) == ["ce_type", "ce_id", "ce_source"])
        #expect(event.headers.map(\.value) == [event.type, event.id, event.source])
    }

    @Test func jsonRoundTripsWithSpecversionFirst() throws {
        let event = try CloudEvent(decoding: Array(Fixtures.eventText.utf8))
        let object = try #require(event.json.objectValue)
        #expect(object.keys.first == "specversion")
        #expect(object.keys.last == "data")
        #expect(object == (try Fixtures.eventObject()))
        #expect(try CloudEvent(json: event.json) == event)
        #expect(JSON.serialize(event.json).hasPrefix(#"{"specversion":"1.0","id":"#))
    }

    @Test func hashCoversTheCanonicalForm() throws {
        let event = try CloudEvent(decoding: Array(Fixtures.eventText.utf8))
        // The same event with members reordered and respaced.
        var reordered = JSONObject()
        for (key, value) in try Fixtures.eventObject().reversed() { reordered[key] = value }
        let again = try CloudEvent(decoding: Array(JSON.serialize(.object(reordered)).utf8))
        #expect(again == event)
        #expect(again.hash == event.hash)
        #expect(event.hash == EventHash.sha256(event.canonicalJSON()))
        #expect(String(decoding: event.canonicalJSON(), as: UTF8.self).hasPrefix(#"{"data":{"action":"merge","#))

        var changed = event
        changed.data = ["reportingUnit": "0100100002"]
        #expect(changed.hash != event.hash)
    }

    @Test func signingFormOmitsOnlyTheSignatureAndRecordedTime() throws {
        var event = try CloudEvent(decoding: Array(Fixtures.eventText.utf8))
        event.recordedtime = nil
        let unsigned = event.canonicalJSONForSigning()
        #expect(unsigned == event.canonicalJSON())
        event.signature = "c2lnbmF0dXJl"
        event.signingkey = "province-01-2025"
        let signed = event.canonicalJSONForSigning()
        let signedText = String(decoding: signed, as: UTF8.self)
        #expect(!signedText.contains("signature"))
        #expect(signedText.contains(#""signingkey":"province-01-2025""#))
        #expect(String(decoding: event.canonicalJSON(), as: UTF8.self).contains(#""signature":"c2lnbmF0dXJl""#))
        event.signature = "b3RoZXI="
        #expect(event.canonicalJSONForSigning() == signed)
        event.recordedtime = Timestamp(rfc3339: "2026-11-25T03:00:00Z")
        #expect(event.canonicalJSONForSigning() == signed)
        #expect(String(decoding: event.canonicalJSON(), as: UTF8.self).contains("recordedtime"))
    }

    @Test(arguments: [
        "specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema", "data",
    ])
    func namesEachMissingAttribute(attribute: String) throws {
        var object = try Fixtures.eventObject()
        object[attribute] = nil
        let error = refusal(object)
        #expect(error?.code == .missingAttribute)
        #expect(error?.attribute == attribute)
        #expect(error?.message == "missing attribute '\(attribute)'")
    }

    @Test(
        arguments: [
            ("specversion", 1.0, "attribute 'specversion' must be a string (\"1.0\"), got number"),
            ("id", 7, "attribute 'id' must be a string (UUIDv7), got number"),
            ("source", nil, "attribute 'source' must be a string (URI-reference), got null"),
            ("type", ["vn.gso.report.submitted"], "attribute 'type' must be a string, got array"),
            ("time", 1_751_358_600, "attribute 'time' must be a string (RFC 3339 date-time), got number"),
            ("subject", true, "attribute 'subject' must be a string, got boolean"),
            ("dataschema", ["$ref": "x"], "attribute 'dataschema' must be a string (absolute URI), got object"),
            ("data", "{}", "attribute 'data' must be an object, got string"),
            ("data", [1, 2], "attribute 'data' must be an object, got array"),
            ("recordedtime", 5, "attribute 'recordedtime' must be a string (RFC 3339 date-time), got number"),
            ("sourcesequence", "42", "attribute 'sourcesequence' must be an integer, got string"),
            ("traceparent", false, "attribute 'traceparent' must be a string (W3C traceparent), got boolean"),
        ] as [(String, JSONValue, String)])
    func namesWrongTypes(attribute: String, value: JSONValue, message: String) throws {
        var object = try Fixtures.eventObject()
        object[attribute] = value
        let error = refusal(object)
        #expect(error?.code == .wrongType)
        #expect(error?.attribute == attribute)
        #expect(error?.message == message)
    }

    @Test(
        arguments: [
            ("id", "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),  // version 4
            ("id", "01978a1c-6f40-7a3b-1c1d-2e4f5a6b7c8d"),  // wrong variant
            ("id", "01978a1c6f407a3b9c1d2e4f5a6b7c8d"),  // no hyphens
            ("id", ""),
            ("source", ""), ("source", "urn:has space"),
            ("type", ""), ("type", "vn.gso report"),
            ("subject", ""),
            ("datacontenttype", "text/plain"), ("datacontenttype", "application/json; charset=utf-8"),
            ("dataschema", "/schemas/v1.json"), ("dataschema", "https://example.org/a b"), ("dataschema", "1http://x"),
            ("time", "2025-02-29T00:00:00Z"), ("time", "2025-07-01 08:30:00Z"), ("time", "2025-07-01T08:30:00"),
            ("time", "2025-07-01T24:00:00Z"), ("time", "2025-07-01T08:30:60Z"), ("time", "2025-07-01T08:30:00.Z"),
            ("time", "2025-7-1T08:30:00Z"), ("time", "2025-07-01T08:30:00+7:00"), ("recordedtime", "yesterday"),
            ("sourcesequence", -1), ("sourcesequence", 1.5),
            ("signature", ""), ("signingkey", ""),
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"),
            ("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            ("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            ("traceparent", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ] as [(String, JSONValue)])
    func refusesInvalidValues(attribute: String, value: JSONValue) throws {
        var object = try Fixtures.eventObject()
        object[attribute] = value
        let error = refusal(object)
        #expect(error?.code == .invalidValue)
        #expect(error?.attribute == attribute)
        #expect(error?.message.hasPrefix("attribute '\(attribute)' ") == true)
    }

    @Test func acceptsUppercaseIdsAndOffsetTimes() throws {
        var object = try Fixtures.eventObject()
        object["id"] = "01978A1C-6F40-7A3B-9C1D-2E4F5A6B7C8D"
        object["time"] = "2025-07-01t08:30:00.123456789z"
        let event = try CloudEvent(json: .object(object))
        #expect(event.id == "01978A1C-6F40-7A3B-9C1D-2E4F5A6B7C8D")
        #expect(event.time.nanoseconds == 123_456_789)
    }

    @Test func refusesUnsupportedSpecVersion() throws {
        var object = try Fixtures.eventObject()
        object["specversion"] = "0.3"
        object["schemaurl"] = "https://example.org/old"  // a 0.3 attribute: the version is reported first
        let error = refusal(object)
        #expect(error?.code == .unsupportedSpecVersion)
        #expect(error?.attribute == "specversion")
        #expect(error?.message == "unsupported specversion '0.3' (only '1.0' is supported)")
    }

    @Test(arguments: ["comexampleextension", "data_base64", "Subject"])
    func refusesUnknownAttributes(name: String) throws {
        var object = try Fixtures.eventObject()
        object[name] = "x"
        let error = refusal(object)
        #expect(error?.code == .unknownAttribute)
        #expect(error?.attribute == name)
        #expect(error?.message.hasPrefix("unknown attribute '\(name)'") == true)
    }

    @Test func refusesBadJSONWithPosition() {
        let bytes = Array(#"{"specversion": "1.0",, "id": "x"}"#.utf8)
        do {
            _ = try CloudEvent(decoding: bytes)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .invalidJSON)
            #expect(error.attribute == nil)
            #expect(error.message.hasPrefix("invalid JSON at line 1, column 23: "))
        }
    }

    @Test func refusesNonObjects() {
        let error = #expect(throws: EnvelopeError.self) { try CloudEvent(decoding: Array("[1]".utf8)) }
        #expect(error?.code == .notAnObject)
        #expect(error?.description == "a CloudEvent must be a JSON object, got array")
    }

    @Test func memberwiseEventsValidateBeforePublishing() throws {
        let time = try #require(Timestamp(rfc3339: "2025-07-01T08:30:00Z"))
        var event = CloudEvent(
            id: UUIDv7.generate(), source: "urn:vn:gso:test", type: "vn.gso.test.happened", time: time,
            subject: "unit-1", dataschema: "https://schemas.mekong.gso.gov.vn/vn.gso.test.happened/v1.schema.json",
            data: ["a": 1])
        try event.validate()
        #expect(try CloudEvent(decoding: event.canonicalJSON()) == event)

        event.sourcesequence = -5
        #expect(throws: EnvelopeError.self) { try event.validate() }
        event.sourcesequence = 5
        event.data = [1, 2]
        let error = #expect(throws: EnvelopeError.self) { try event.validate() }
        #expect(error?.code == .wrongType)
        #expect(error?.attribute == "data")
    }
}

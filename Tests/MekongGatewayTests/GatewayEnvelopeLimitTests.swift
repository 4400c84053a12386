import Foundation
import MekongEvents
import MekongGateway
import MekongTestSupport
import Testing

@Suite("Gateway envelope limits", .serialized)
struct GatewayEnvelopeLimitTests {
    @Test("a 6,000-character source is refused with 422 naming /source, alone or in a batch, and nothing is written")
    func longSourceIsRefused() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let long = "urn:test:prov-a:" + String(repeating: "x", count: 6_000 - 16)
        let event = fixture.report(source: long)
        #expect(event.source.utf8.count == 6_000)

        let answer = try await fixture.clientA.post(event)
        let body = String(decoding: answer.body, as: UTF8.self)
        #expect(answer.status == 422, "\(body.prefix(500))")
        #expect(answer.headers["content-type"] == "application/problem+json")
        #expect(answer.json?["code"]?.stringValue == "invalid-event")
        #expect(answer.json?["conflicts"]?.arrayValue?.first?["pointer"]?.stringValue == "/source")
        #expect(body.contains("attribute 'source' is 6000 bytes long, over the limit of 512 bytes"), "\(body.prefix(500))")
        #expect(answer.body.count < 2_000, "the value is not echoed")

        let batch = try await fixture.clientA.publish([fixture.report(unit: "U101"), event])
        #expect(batch.status == 422)
        let conflict = batch.json?["conflicts"]?.arrayValue?.first
        #expect(conflict?["index"]?.integerValue == 1 && conflict?["pointer"]?.stringValue == "/source")

        #expect(try fixture.recordCount("reports") == 0)
        #expect(try fixture.rows("SELECT count(*) FROM gateway.receipts") == [["0"]])
    }

    @Test("the size limit counts the recordedtime the gateway adds: an event that fits only without it is refused")
    func wholeEventWithRecordedTime() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        var event = fixture.report()
        event.data = .object(JSONObject([("padding", .string(""))]))
        let base = event.signed(by: fixture.keyA).canonicalJSON().count
        // 10 bytes under the limit as sent; the gateway's recordedtime adds 42.
        event.data = .object(JSONObject([("padding", .string(String(repeating: "x", count: CloudEvent.Limits.eventBytes - 10 - base)))]))
        let signed = event.signed(by: fixture.keyA)
        #expect(signed.canonicalJSON().count == CloudEvent.Limits.eventBytes - 10)
        let answer = try await fixture.clientA.post(signed)
        let body = String(decoding: answer.body, as: UTF8.self)
        #expect(answer.status == 422, "\(body.prefix(500))")
        #expect(answer.json?["code"]?.stringValue == "invalid-event")
        #expect(body.contains("over the limit of 1048576 bytes (with the recordedtime the gateway adds)"), "\(body.prefix(500))")
        #expect(try fixture.recordCount("reports") == 0)
    }

    @Test("a source whose URI is over the limit cannot be registered")
    func longSourceURICannotBeRegistered() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let connection = try fixture.database.connect()
        defer { connection.close() }
        let error = #expect(throws: SourceRegistryError.self) {
            try SourceRegistry(connection: connection).add(
                id: "prov-long", uri: "urn:" + String(repeating: "u", count: 600), key: fixture.keyB.verifyingKey,
                eventTypes: ["vn.gso.report.submitted"], units: [], areas: [], eventsPerSecond: 10)
        }
        #expect(error?.description.contains("604 bytes long") == true, "\(String(describing: error))")
    }
}

@Suite("OpenAPI envelope limits")
struct OpenAPIEnvelopeLimitTests {
    @Test("the CloudEvent schema's maxLength values are the envelope's limits")
    func maxLengthsMatch() throws {
        let text = try String(
            contentsOf: MekongBinary.repositoryRoot.appendingPathComponent("Sources/MekongGateway/openapi.yaml"),
            encoding: .utf8)
        // The properties of components.schemas.CloudEvent and EventTime: "        name:" then "          maxLength: N".
        var found: [String: Int] = [:]
        var schema = "", property = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                schema = String(line.dropFirst(4).dropLast())
            } else if line.hasPrefix("        "), !line.hasPrefix("         "), line.hasSuffix(":") {
                property = String(line.dropFirst(8).dropLast())
            } else if let range = line.range(of: "maxLength: ") {
                let value = Int(line[range.upperBound...])
                if schema == "CloudEvent" { found[property] = value }
                if schema == "EventTime" { found["EventTime"] = value }
            }
        }
        #expect(found == [
            "id": CloudEvent.Limits.id, "source": CloudEvent.Limits.source, "type": CloudEvent.Limits.type,
            "subject": CloudEvent.Limits.subject, "dataschema": CloudEvent.Limits.dataschema,
            "signature": CloudEvent.Limits.signature, "signingkey": CloudEvent.Limits.signingkey,
            "traceparent": CloudEvent.Limits.traceparent, "EventTime": CloudEvent.Limits.time,
        ])
        #expect(text.contains("at most \(CloudEvent.Limits.eventBytes) bytes"))
    }
}

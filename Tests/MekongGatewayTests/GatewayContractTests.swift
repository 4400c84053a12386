import Foundation
import MekongEvents
import MekongEvidence
@testable import MekongGateway
import MekongMetrics
import MekongTestSupport
import Testing

/// The contract kept to the letter (issue 15): what docs/gateway.md and openapi.yaml say is what the server does.
/// Answers are checked against openapi.yaml's own schemas by `contract_check.py` (jsonschema, a validator
/// independent of the server), and the document's lists against the server's.
@Suite(.serialized) struct GatewayContractTests {
    /// `openapi.yaml` and docs/gateway.md, as shipped.
    static let openAPI = MekongBinary.repositoryRoot.appendingPathComponent("Sources/MekongGateway/openapi.yaml").path
    static let guide = MekongBinary.repositoryRoot.appendingPathComponent("docs/gateway.md").path

    /// Checks `answer`'s body against the response openapi.yaml declares for `operation` and its status (and media
    /// type); fails the test with the validator's words.
    static func conforms(_ answer: GatewayClient.Answer, _ method: String, _ path: String,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("answer-\(UUIDv7.generate()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(answer.body).write(to: file)
        let check = try await run("/usr/bin/env", [
            "python3", MekongBinary.repositoryRoot.appendingPathComponent("Tests/MekongGatewayTests/contract_check.py").path,
            "response", openAPI, method, path, String(answer.status), answer.headers["content-type"] ?? "", file.path,
        ])
        #expect(check.status == 0, "\(method) \(path) \(answer.status): \(check.output)\(check.errors)", sourceLocation: sourceLocation)
    }

    /// A value openapi.yaml holds, by a path of keys (python's yaml reads it), as JSON.
    static func specification(_ keys: [String]) async throws -> JSONValue {
        let output = try await runPython([
            MekongBinary.repositoryRoot.appendingPathComponent("Tests/MekongGatewayTests/contract_check.py").path,
            "value", openAPI,
        ] + keys)
        return try JSON.parse(output)
    }

    @Test func theDocumentedReportBodyIsAcceptedAndItsAnswerCarriesTheEventItsReceiptSigns() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        // docs/gateway.md's body, with the fixture's unit, form, indicator and area: `"supersedes": null` included.
        let body = Array("""
            {"submissionId":"HN-2025-03-POP-1","reportingUnit":"U100","form":"F1","period":"2025-M03",
             "action":"merge","revision":1,"supersedes":null,"submittedAt":"2025-04-01T08:00:00.123+07:00",
             "observations":[{"indicator":"POP","dimensions":{"area":"P1"},"value":12.5,"unitMultiplier":3,
               "status":"normal","confidentiality":"free","comment":"Số liệu chính thức"}]}
            """.utf8)
        let signature = fixture.keyA.sign(EventHash.sha256(body).bytes)
        func submit() async throws -> GatewayClient.Answer {
            try await fixture.clientA.send("POST", "v1/reports", contentType: "application/json", headers: [
                "Mekong-Signing-Key": fixture.keyA.keyId, "Mekong-Signature": signature,
            ], body: body)
        }
        let answer = try await submit()
        #expect(answer.status == 201, "\(String(decoding: answer.body, as: UTF8.self))")
        try await Self.conforms(answer, "post", "/v1/reports")
        let json = try #require(answer.json)
        let receipt = try Receipt(json: json)
        #expect(receipt.isValid(signedBy: fixture.gatewayKey.verifyingKey))
        // The event the receipt's hash covers: its canonical JSON hashes to eventHash, the gateway signed it, its id
        // is derived as documented, its data is the body less submissionId, submittedAt and the null supersedes.
        let event = try CloudEvent(json: try #require(json["event"]))
        #expect(event.submittedHash == receipt.eventHash)
        #expect(EventHash.sha256(CanonicalJSON.encode(event.json)) == receipt.eventHash)
        #expect(event.hasValidSignature(by: fixture.gatewayKey.verifyingKey))
        #expect(event.id == receipt.eventId)
        #expect(event.recordedtime == nil)
        let digest = EventHash.sha256(Array("prov-a\nHN-2025-03-POP-1".utf8)).bytes
        let randA = (UInt16(digest[0]) << 4 | UInt16(digest[1]) >> 4)
        #expect(event.id.hasPrefix(String(1_743_469_200_123, radix: 16, uppercase: false).leftPadded(12).inserting("-", at: 8)))
        #expect(event.id.dropFirst(14).prefix(4) == "7" + String(randA, radix: 16).leftPadded(3))
        #expect(event.id == Gateway.reportEventID(
            source: "prov-a", submissionId: "HN-2025-03-POP-1", time: Timestamp(rfc3339: "2025-04-01T08:00:00.123+07:00")!))
        var expected = try #require(JSON.parse(body).objectValue)
        for name in ["submissionId", "submittedAt", "supersedes"] { expected[name] = nil }
        #expect(event.data == .object(expected))
        // A replay and GET /v1/receipts answer the same, event included.
        let replay = try await submit()
        #expect(replay.status == 200 && replay.json == json)
        let fetched = try await fixture.clientA.send("GET", "v1/receipts/\(event.id)")
        #expect(fetched.status == 200 && fetched.json == json)
        try await Self.conforms(fetched, "get", "/v1/receipts/{eventId}")
    }

    @Test func classificationItemsWithoutAsOfAreTodaysAndConformAndUnknownClassificationsAre404Everywhere() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let client = fixture.clientA
        let today = Timestamp(date: Date()).vietnameseDate
        let items = try await client.send("GET", "v1/classifications/vn-admin-units/items")
        #expect(items.status == 200, "\(String(decoding: items.body, as: UTF8.self))")
        #expect(items.json?["asOf"]?.stringValue == today)
        #expect(items.json?["items"]?.arrayValue?.compactMap { $0["code"]?.stringValue } == ["VN", "P1", "P3"])
        try await Self.conforms(items, "get", "/v1/classifications/{id}/items")
        // Percent-encoded path parameters are decoded.
        let encoded = try await client.send("GET", "v1/classifications/vn%2Dadmin%2Dunits/items?asOf=2025-01-01")
        #expect(encoded.status == 200 && encoded.json?["classification"]?.stringValue == "vn-admin-units")
        #expect(encoded.json?["items"]?.arrayValue?.compactMap { $0["code"]?.stringValue } == ["VN", "P1", "P2"])
        let validated = try await client.send(
            "POST", "v1/classifications/vn%2Dadmin%2Dunits/validate", contentType: "application/json",
            body: Array(#"{"date":"2025-08-01","codes":["P1","P2"]}"#.utf8))
        #expect(validated.json?["results"]?.arrayValue?.compactMap { $0["valid"]?.boolValue } == [true, false])
        try await Self.conforms(validated, "post", "/v1/classifications/{id}/validate")
        // An unknown classification is 404 on both routes; a date that is no day is named.
        for answer in [
            try await client.send("GET", "v1/classifications/nace/items?asOf=2025-01-01"),
            try await client.send("POST", "v1/classifications/nace/validate", contentType: "application/json",
                                  body: Array(#"{"date":"2025-08-01","codes":["01"]}"#.utf8)),
        ] {
            #expect(answer.status == 404 && answer.json?["code"]?.stringValue == "not-found")
        }
        let badDay = try await client.send("GET", "v1/classifications/vn-admin-units/items?asOf=2025-02-30")
        #expect(badDay.status == 400 && badDay.json?["code"]?.stringValue == "invalid-parameter")
        try await Self.conforms(badDay, "get", "/v1/classifications/{id}/items")
        let badDate = try await client.send("POST", "v1/classifications/vn-admin-units/validate", contentType: "application/json",
                                            body: Array(#"{"date":"2025-02-30","codes":["P1"]}"#.utf8))
        #expect(badDate.status == 422 && badDate.json?["conflicts"]?.arrayValue?.first?["pointer"]?.stringValue == "/date")
        try await Self.conforms(badDate, "post", "/v1/classifications/{id}/validate")
    }

    @Test func undeclaredMethodsAre405WithAllowAndUnknownPaths404AsProblems() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        for (method, path, allow) in [
            ("TRACE", "healthz", "GET, HEAD"), ("PUT", "v1/events", "POST"), ("DELETE", "v1/receipts/x", "GET, HEAD"),
            ("GET", "v1/reports", "POST"),
        ] {
            let answer = try await fixture.clientA.send(method, path)
            #expect(answer.status == 405, "\(method) /\(path)")
            #expect(answer.headers["allow"] == allow, "\(method) /\(path)")
            #expect(answer.headers["content-type"] == "application/problem+json")
            #expect(answer.json?["code"]?.stringValue == "method-not-allowed" && answer.json?["status"]?.integerValue == 405)
        }
        let missing = try await fixture.clientA.send("GET", "v1/nothing-here")
        #expect(missing.status == 404 && missing.json?["code"]?.stringValue == "not-found")
        #expect(missing.headers["content-type"] == "application/problem+json")
        // The server's routes are openapi.yaml's paths with its methods.
        let paths = try #require(try await Self.specification(["paths"]).objectValue)
        var declared: [String: [String]] = [:]
        for (path, operations) in paths {
            declared[path] = (operations.objectValue?.keys ?? []).map { $0.uppercased() }.sorted()
        }
        var served: [String: [String]] = [:]
        for route in GatewayServer.declaredRoutes.routes { served[route.path] = route.methods.map(\.rawValue).sorted() }
        #expect(served == declared)
    }

    @Test func everyProblemCodeIsInTheSpecificationAndTheGuideAndNoOther() async throws {
        let codes = Set(ProblemCode.allCases.map(\.rawValue))
        let specified = try await Self.specification(["components", "schemas", "ProblemCode", "enum"])
        #expect(Set(specified.arrayValue?.compactMap(\.stringValue) ?? []) == codes)
        // docs/gateway.md's table: one row per code, with the code's status.
        let guide = try String(contentsOfFile: Self.guide, encoding: .utf8)
        var documented: [String: Int] = [:]
        for line in guide.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, let status = Int(cells[1]) else { continue }
            documented[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = status
        }
        #expect(documented == Dictionary(uniqueKeysWithValues: ProblemCode.allCases.map { ($0.rawValue, $0.status) }))
        // Every document the specification points to exists.
        let text = try String(contentsOfFile: Self.openAPI, encoding: .utf8)
        for match in text.matches(of: #/docs/[a-z-]+\.md/#) {
            #expect(FileManager.default.fileExists(
                atPath: MekongBinary.repositoryRoot.appendingPathComponent(String(match.output)).path), "\(match.output)")
        }
    }

    @Test func batchRefusalsAreRFC9457ProblemsThatNameEveryFault() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let client = fixture.clientA
        let taken = fixture.report(unit: "U101")
        #expect(try await client.post(taken).status == 201)
        var reused = taken
        reused.data = fixture.report(unit: "U101", value: 7).data
        reused = reused.signed(by: fixture.keyA)
        func batch(_ events: [CloudEvent]) async throws -> GatewayClient.Answer {
            try await client.send("POST", "v1/events", contentType: "application/cloudevents-batch+json",
                                  body: JSON.serializeBytes(.array(events.map(\.json))))
        }
        // [an id taken by other content, an area outside the scope]: both named, every event refused.
        let both = try await batch([reused, fixture.report(unit: "U102", area: "VN")])
        #expect(both.status == 422, "\(String(decoding: both.body, as: UTF8.self))")
        #expect(both.json?["status"]?.integerValue == 422 && both.json?["code"]?.stringValue == "batch-refused")
        #expect(both.json?["refused"]?.integerValue == 2 && both.json?["accepted"]?.integerValue == 0)
        let conflicts = both.json?["conflicts"]?.arrayValue ?? []
        #expect(conflicts.map { "\($0["index"]?.integerValue ?? -1) \($0["code"]?.stringValue ?? "")" } == ["0 conflict", "1 out-of-scope"])
        try await Self.conforms(both, "post", "/v1/events")
        // Only a taken id: 409, a conflict problem with the counts.
        let onlyTaken = try await batch([fixture.report(unit: "U103"), reused])
        #expect(onlyTaken.status == 409 && onlyTaken.json?["status"]?.integerValue == 409)
        #expect(onlyTaken.json?["code"]?.stringValue == "conflict" && onlyTaken.json?["refused"]?.integerValue == 2)
        #expect(onlyTaken.json?["conflicts"]?.arrayValue?.compactMap { $0["index"]?.integerValue } == [1])
        try await Self.conforms(onlyTaken, "post", "/v1/events")
        // Nothing of either was written.
        #expect(try fixture.recordCount("reports") == 1)
        // A single event outside the scope is 403.
        let outside = try await client.post(fixture.report(unit: "U200"))
        #expect(outside.status == 403 && outside.json?["code"]?.stringValue == "out-of-scope")
        try await Self.conforms(outside, "post", "/v1/events")
        // I-JSON: an integer beyond ±2^53 is refused as invalid-json.
        let huge = try await client.send("POST", "v1/events", contentType: "application/cloudevents+json",
                                         body: Array(#"{"sourcesequence": 9007199254740993}"#.utf8))
        #expect(huge.status == 400 && huge.json?["code"]?.stringValue == "invalid-json")
        // A string holding U+0000 (found by Schemathesis: a report's submissionId with one was a 500, the database's
        // text cannot hold it) is refused before anything is reserved, naming where it is.
        let report = try #require(JSON.parse(Array(#"{"submissionId":"a\u0000b","reportingUnit":"U100","form":"F1","period":"2025-M03","action":"merge","revision":1,"observations":[]}"#.utf8)).objectValue)
        let body = JSON.serializeBytes(.object(report))
        let nul = try await client.send("POST", "v1/reports", contentType: "application/json", headers: [
            "Mekong-Signing-Key": fixture.keyA.keyId, "Mekong-Signature": fixture.keyA.sign(EventHash.sha256(body).bytes),
        ], body: body)
        #expect(nul.status == 400 && nul.json?["code"]?.stringValue == "invalid-json", "\(String(decoding: nul.body, as: UTF8.self))")
        #expect(nul.json?["detail"]?.stringValue?.contains("/submissionId") == true)
        let rows = Array("rowId,weight,area,note\nr1,1,P1,a\u{0}b\n".utf8)
        let survey = try await client.send(
            "POST", "v1/surveys/LFS/batches?wave=1&period=2025-M03&batchId=b1", contentType: "text/csv",
            headers: ["Mekong-Signing-Key": fixture.keyA.keyId, "Mekong-Signature": fixture.keyA.sign(EventHash.sha256(rows).bytes)],
            body: rows)
        #expect(survey.status == 422 && survey.json?["conflicts"]?.arrayValue?.first?["code"]?.stringValue == "invalid-row")
        #expect(try fixture.recordCount("reports") == 1 && fixture.recordCount("survey-uploads") == 0)
    }

    @Test func reconciliationWindowsTakeEveryRFC3339TimeAndAnEmptyWindow() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        #expect(try await fixture.clientA.post(fixture.report()).status == 201)
        // Found by Schemathesis: an offset beyond PostgreSQL's ±15:59 and a year before 1970 were a 500.
        for (from, to, count) in [
            ("0116-10-18T11:51:08.610%2B19:23", "2264-03-22T02:01:39.3Z", 1), ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", 0),
            ("0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59%2B23:59", 1),
        ] {
            let answer = try await fixture.clientA.send("GET", "v1/reconciliation?source=prov-a&from=\(from)&to=\(to)")
            #expect(answer.status == 200 && answer.json?["count"]?.integerValue == Int64(count), "\(from) \(to): \(String(decoding: answer.body, as: UTF8.self))")
            try await Self.conforms(answer, "get", "/v1/reconciliation")
        }
        let reversed = try await fixture.clientA.send("GET", "v1/reconciliation?source=prov-a&from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z")
        #expect(reversed.status == 400 && reversed.json?["code"]?.stringValue == "invalid-parameter")
    }

    @Test func surveyWavesStartAtOneInTheSpecificationAsInTheServer() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let wave = try await Self.specification(["paths", "/v1/surveys/{survey}/batches", "post", "parameters"])
        let schema = wave.arrayValue?.first { $0["name"]?.stringValue == "wave" }?["schema"]
        #expect(schema?["minimum"]?.integerValue == 1)
        let body = Array("rowId,weight,area\nr1,1,P1\n".utf8)
        let answer = try await fixture.clientA.send(
            "POST", "v1/surveys/LFS/batches?wave=0&period=2025-M03&batchId=b1", contentType: "text/csv",
            headers: ["Mekong-Signing-Key": fixture.keyA.keyId, "Mekong-Signature": fixture.keyA.sign(EventHash.sha256(body).bytes)],
            body: body)
        #expect(answer.status == 422 && answer.json?["conflicts"]?.arrayValue?.first?["message"]?.stringValue?.contains("wave") == true)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }

    fileprivate func inserting(_ text: String, at offset: Int) -> String {
        String(prefix(offset)) + text + String(dropFirst(offset))
    }
}

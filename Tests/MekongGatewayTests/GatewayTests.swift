import Foundation
import MekongEvents
import MekongEvidence
import MekongGateway
import MekongStatistics
import MekongTestSupport
import Testing

@Suite(.serialized) struct GatewayTests {
    @Test func batchGoesIntoKafkaAndTheProjectionWithVerifiableReceiptsAndReconciliation() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let reports = (0..<3).map { fixture.report(unit: "U10\($0)", value: Double(100 + $0)) }
        let answer = try await fixture.clientA.publish(reports)
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        let summary = try #require(answer.json)
        #expect(summary["accepted"]?.integerValue == 3 && summary["ignored"]?.integerValue == 0)
        let receipts = try (summary["receipts"]?.arrayValue ?? []).map { try Receipt(json: $0) }
        let gatewayKey = try await fixture.clientA.gatewayKey()
        #expect(receipts.count == 3)
        for (receipt, event) in zip(receipts, reports) {
            #expect(receipt.isValid(signedBy: gatewayKey))
            #expect(receipt.eventId == event.id && receipt.eventHash == event.submittedHash)
            #expect(receipt.topic == "reports" && receipt.source == "prov-a")
        }
        #expect(try fixture.recordCount("reports") == 3)

        // A retry of the same batch returns the original receipts and writes nothing.
        let again = try await fixture.clientA.publish(reports)
        #expect(again.json?["ignored"]?.integerValue == 3 && again.json?["accepted"]?.integerValue == 0)
        #expect(try (again.json?["receipts"]?.arrayValue ?? []).map { try Receipt(json: $0) } == receipts)
        #expect(try fixture.recordCount("reports") == 3)

        // The projection sees the gateway's recordedtime and the events as written.
        _ = try await fixture.project(StatisticsProjection())
        let stored = try fixture.rows(
            "SELECT event_id, to_char(recorded_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
                + "FROM statistics_v2.submissions ORDER BY event_id")
        #expect(stored.map { $0[0]! } == reports.map(\.id).sorted())
        #expect(Set(stored.map { $0[1]! }) == Set(receipts.map(\.recordedTime.text)))

        // GET one receipt; another source cannot see it.
        let single = try await fixture.clientA.send("GET", "v1/receipts/\(reports[0].id)")
        #expect(single.status == 200)
        #expect(try Receipt(json: try #require(single.json)) == receipts[0])
        #expect(try await fixture.clientB.send("GET", "v1/receipts/\(reports[0].id)").status == 404)

        // Reconciliation: count, ordered ids and hashes, a Merkle root over the whole window, pages.
        let window = "source=prov-a&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
        let first = try #require(try await fixture.clientA.send("GET", "v1/reconciliation?\(window)&pageSize=2").json)
        #expect(first["count"]?.integerValue == 3)
        let token = try #require(first["nextPageToken"]?.stringValue)
        let second = try #require(try await fixture.clientA.send(
            "GET", "v1/reconciliation?\(window)&pageSize=2&pageToken=\(token)").json)
        let listed = ((first["events"]?.arrayValue ?? []) + (second["events"]?.arrayValue ?? []))
        #expect(second["nextPageToken"]?.isNull == true)
        #expect(Set(listed.compactMap { $0["eventId"]?.stringValue }) == Set(reports.map(\.id)))
        let root = MerkleTree.root(of: listed.compactMap { $0["eventHash"]?.stringValue.flatMap(EventHash.init(hex:)) })
        #expect(first["merkleRoot"]?.stringValue == root.hex)
        let local = receipts.map { LoggedEvent(eventId: $0.eventId, eventHash: $0.eventHash) }
        #expect(ReconciliationReport(local: local, gateway: listed.map {
            LoggedEvent(eventId: $0["eventId"]!.stringValue!, eventHash: EventHash(hex: $0["eventHash"]!.stringValue!)!)
        }).agrees)
        #expect(try await fixture.clientB.send("GET", "v1/reconciliation?\(window)").status == 403)
    }

    @Test func everyRefusalNamesItsErrorAndWritesNothing() async throws {
        let fixture = try await GatewayFixture.start { $0.maxEventsBodyBytes = 64 * 1024 }
        defer { Task { await fixture.stop() } }
        let client = fixture.clientA
        func refused(_ event: CloudEvent, _ status: Int, _ code: String, pointer: String? = nil,
                     mentioning text: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let answer = try await client.post(event)
            let problem = answer.json
            #expect(answer.status == status, "\(String(decoding: answer.body, as: UTF8.self))", sourceLocation: sourceLocation)
            #expect(answer.headers["content-type"] == "application/problem+json", sourceLocation: sourceLocation)
            #expect(problem?["code"]?.stringValue == code, sourceLocation: sourceLocation)
            if let pointer {
                #expect(problem?["conflicts"]?.arrayValue?.first?["pointer"]?.stringValue == pointer,
                        sourceLocation: sourceLocation)
            }
            if let text {
                #expect(String(decoding: answer.body, as: UTF8.self).contains(text), sourceLocation: sourceLocation)
            }
        }
        // Forged: the data changed after signing.
        var forged = fixture.report()
        forged.data = fixture.report(value: 999).data
        try await refused(forged, 422, "invalid-signature", pointer: "/signature")
        // Signed with another source's key.
        try await refused(fixture.report(key: fixture.keyB), 422, "unknown-signing-key", pointer: "/signingkey")
        // Another source's URI; a reporting unit outside the scope; an area outside the scope: 403, as for any
        // request outside the source's scope.
        try await refused(fixture.report(source: "urn:test:prov-b"), 403, "out-of-scope", pointer: "/source")
        try await refused(fixture.report(unit: "U200"), 403, "out-of-scope", pointer: "/data/reportingUnit")
        try await refused(fixture.report(area: "VN"), 403, "out-of-scope", pointer: "/data/observations/0/dimensions/area")
        // An unknown code; a code not yet valid at the period; a closed code.
        try await refused(fixture.report(area: "P9"), 422, "master-data", pointer: "/data/observations/0/dimensions/area",
                          mentioning: "code P9 is not in classification vn-admin-units")
        try await refused(fixture.report(area: "P3", period: "2025-M03"), 422, "master-data",
                          pointer: "/data/observations/0/dimensions/area", mentioning: "from 2025-07-01")
        try await refused(fixture.report(area: "P2", period: "2025-M08"), 422, "master-data",
                          mentioning: "from 2024-01-01 to 2025-07-01")
        // A period that is not of the indicator's periodicity.
        try await refused(fixture.report(period: "2025-Q3"), 422, "invalid-period", pointer: "/data/period")
        // The gateway's attribute, sent by a source.
        var stamped = fixture.report()
        stamped.recordedtime = Timestamp(date: Date())
        try await refused(stamped.signed(by: fixture.keyA).withRecordedTime(), 422, "invalid-event", pointer: "/recordedtime")

        // Accepted once; then the same id with altered (properly signed) content is a conflict.
        let original = fixture.report()
        #expect(try await client.post(original).status == 201)
        var altered = original
        altered.data = fixture.report(value: 101).data
        try await refused(altered.signed(by: fixture.keyA), 409, "conflict")

        // Oversized body, deep JSON, not JSON, no key, wrong media type.
        let big = try await client.send(
            "POST", "v1/events", contentType: "application/cloudevents+json",
            body: Array(repeating: UInt8(ascii: " "), count: 70 * 1024) + JSON.serializeBytes(original.json))
        #expect(big.status == 413 && big.json?["code"]?.stringValue == "body-too-large")
        let deep = try await client.send(
            "POST", "v1/events", contentType: "application/cloudevents+json",
            body: Array((String(repeating: "[", count: 40) + String(repeating: "]", count: 40)).utf8))
        #expect(deep.status == 400 && deep.json?["code"]?.stringValue == "too-deep")
        let garbage = try await client.send("POST", "v1/events", contentType: "application/cloudevents+json",
                                            body: Array("{\"id\": ".utf8))
        #expect(garbage.status == 400 && garbage.json?["code"]?.stringValue == "invalid-json")
        let anonymous = GatewayClient(baseURL: fixture.baseURL, apiKey: nil)
        #expect(try await anonymous.post(original).status == 401)
        #expect(try await GatewayClient(baseURL: fixture.baseURL, apiKey: "mk_forged").post(original).status == 401)
        #expect(try await client.send("POST", "v1/events", contentType: "text/plain", body: [1]).status == 415)

        // A batch with one bad event is refused whole, naming the event's index; with ?partial=true the rest goes in.
        let good = fixture.report(unit: "U111")
        let batch = [good, fixture.report(area: "P9")]
        let whole = try await client.publish(batch)
        #expect(whole.status == 422 && whole.json?["status"]?.integerValue == 422)
        #expect(whole.json?["code"]?.stringValue == "batch-refused" && whole.json?["refused"]?.integerValue == 2)
        #expect(whole.json?["conflicts"]?.arrayValue?.first?["index"]?.integerValue == 1)
        #expect(try fixture.recordCount("reports") == 1)
        let partial = try await client.send(
            "POST", "v1/events?partial=true", contentType: "application/cloudevents-batch+json",
            body: JSON.serializeBytes(.array(batch.map(\.json))))
        #expect(partial.status == 200 && partial.json?["status"]?.stringValue == "partial")
        #expect(partial.json?["accepted"]?.integerValue == 1 && partial.json?["refused"]?.integerValue == 1)
        #expect(try fixture.recordCount("reports") == 2)
    }

    /// 100 clients at once, each its own connection and session: Python threads with `requests`, a client stack
    /// independent of the gateway's own. (This test found PostgreSQL JIT-compiling the master-data check, 2.7 s per
    /// request; the check now reads an in-memory snapshot, and the snapshot loads with `jit = off`.)
    @Test func aHundredConcurrentClientsEachGetTheirOwnReceipt() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let events = (0..<100).map { fixture.report(unit: "U1\($0)", value: Double($0)) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("concurrent-\(UUIDv7.generate())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("events.ndjson")
        try Data(events.map { JSON.serialize($0.json) }.joined(separator: "\n").utf8).write(to: input)
        let script = """
            import json, sys, requests
            from concurrent.futures import ThreadPoolExecutor
            url, key, path = sys.argv[1], sys.argv[2], sys.argv[3]
            bodies = [line for line in open(path, encoding="utf-8").read().split("\\n") if line]
            def post(body):
                with requests.Session() as session:
                    r = session.post(url + "v1/events", data=body.encode(), timeout=60, headers={
                        "Authorization": "Bearer " + key, "Content-Type": "application/cloudevents+json"})
                    return r.status_code, r.text
            with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
                for status, text in pool.map(post, bodies):
                    print(json.dumps({"status": status, "body": text}))
            """
        let output = try await runPython(["-c", script, fixture.baseURL.absoluteString, fixture.apiKeyA, input.path])
        let answers = try output.split(separator: "\n").map { try JSON.parse(String($0)) }
        #expect(answers.count == 100)
        #expect(answers.allSatisfy { $0["status"]?.integerValue == 201 }, "\(output.prefix(2000))")
        let receipts = try answers.map { try Receipt(json: try JSON.parse($0["body"]?.stringValue ?? "")) }
        #expect(Set(receipts.map(\.eventId)) == Set(events.map(\.id)))
        #expect(Set(receipts.map { (receipt: Receipt) in "\(receipt.partition)@\(receipt.offset)" }).count == 100)
        #expect(receipts.allSatisfy { $0.isValid(signedBy: fixture.gatewayKey.verifyingKey) })
        #expect(try fixture.recordCount("reports") == 100)
    }

    @Test func brokersDownIs503WithRetryAfterAndTheSameRequestSucceedsAfterwardWithoutDuplicates() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let batch = (0..<5).map { fixture.report(unit: "U1\($0)") }
        try fixture.cluster.setBroker(1, up: false)
        let down = try await fixture.clientA.publish(batch, maxAttempts: 1)
        #expect(down.status == 503)
        #expect(down.json?["code"]?.stringValue == "kafka-unavailable")
        #expect(down.retryAfter != nil)
        #expect(down.json?["accepted"]?.integerValue == 0)
        try fixture.cluster.setBroker(1, up: true)
        let up = try await fixture.clientA.publish(batch, maxAttempts: 5)
        #expect(up.status == 200, "\(String(decoding: up.body, as: UTF8.self))")
        #expect(up.json?["accepted"]?.integerValue == 5)
        #expect(try fixture.recordCount("reports") == 5)
        let replay = try await fixture.clientA.publish(batch)
        #expect(replay.json?["ignored"]?.integerValue == 5)
        #expect(try fixture.recordCount("reports") == 5)
    }

    @Test func plainReportAndStreamedSurveyBatchGetOneSignedReceiptEach() async throws {
        let fixture = try await GatewayFixture.start { $0.surveyRowsPerChunk = 400 }
        defer { Task { await fixture.stop() } }
        let client = fixture.clientA
        let report = Array("""
            {"submissionId":"A-2025-03-1","reportingUnit":"U100","form":"F1","period":"2025-M03","action":"merge",
             "revision":1,"observations":[{"indicator":"POP","dimensions":{"area":"P1"},"value":5,"status":"normal",
             "confidentiality":"free"}]}
            """.utf8)
        func signed(_ body: [UInt8], key: SigningKey) -> [String: String] {
            ["Mekong-Signing-Key": key.keyId, "Mekong-Signature": BodySignature.sign(body, with: key)]
        }
        let created = try await client.send("POST", "v1/reports", contentType: "application/json",
                                            headers: signed(report, key: fixture.keyA), body: report)
        #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        let receipt = try Receipt(json: try #require(created.json))
        #expect(receipt.requestHash == EventHash.sha256(report))
        #expect(receipt.isValid(signedBy: fixture.gatewayKey.verifyingKey))
        let replay = try await client.send("POST", "v1/reports", contentType: "application/json",
                                           headers: signed(report, key: fixture.keyA), body: report)
        #expect(replay.status == 200)
        #expect(try Receipt(json: try #require(replay.json)) == receipt)
        let forged = try await client.send("POST", "v1/reports", contentType: "application/json",
                                           headers: signed(Array("{}".utf8), key: fixture.keyA), body: report)
        #expect(forged.status == 422 && forged.json?["code"]?.stringValue == "invalid-signature")

        // 1 000 CSV rows (quoted fields included) become 3 chunks of ≤ 400 and a completion event.
        var csv = "rowId,weight,area,age,note\n"
        for row in 1...1_000 { csv += "R\(row),\(1 + row % 7).5,\(row % 2 == 0 ? "P1" : "P3"),\(20 + row % 50),\"a, \"\"b\"\"\"\n" }
        let body = Array(csv.utf8)
        let path = "v1/surveys/LFS/batches?wave=3&period=2025-Q3&batchId=B1"
        let batch = try await client.send("POST", path, contentType: "text/csv", headers: signed(body, key: fixture.keyA),
                                          body: body)
        #expect(batch.status == 201, "\(String(decoding: batch.body, as: UTF8.self))")
        let batchReceipt = try Receipt(json: try #require(batch.json))
        #expect(batchReceipt.contains.count == 3 && batchReceipt.topic == "survey-uploads")
        #expect(try fixture.recordCount("survey-uploads") == 4)
        _ = try await fixture.project(SurveysProjection(version: 1))
        #expect(try fixture.rows("SELECT count(*), sum(weight) FROM surveys_v1.rows")[0][0] == "1000")
        #expect(try fixture.rows("SELECT \"values\"->>'note' FROM surveys_v1.rows WHERE row_id = 'R1'")[0][0] == "a, \"b\"")

        // A bad row refuses the whole batch, naming the row; an area not valid at the period too.
        let bad = Array("rowId,weight,area\nR1,2,P1\nR2,-1,P1\nR3,2,P2\n".utf8)
        let refused = try await client.send("POST", "v1/surveys/LFS/batches?wave=3&period=2025-Q3&batchId=B2",
                                             contentType: "text/csv", headers: signed(bad, key: fixture.keyA), body: bad)
        #expect(refused.status == 422)
        #expect(refused.json?["conflicts"]?.arrayValue?.first?["row"]?.integerValue == 2)
        let closed = Array("rowId,weight,area\nR1,2,P1\nR3,2,P2\n".utf8)
        let invalidArea = try await client.send("POST", "v1/surveys/LFS/batches?wave=3&period=2025-Q3&batchId=B3",
                                                contentType: "text/csv", headers: signed(closed, key: fixture.keyA), body: closed)
        #expect(invalidArea.status == 422 && invalidArea.json?["code"]?.stringValue == "master-data")
        #expect(invalidArea.json?["conflicts"]?.arrayValue?.first?["row"]?.integerValue == 2)
        #expect(try fixture.recordCount("survey-uploads") == 4)
    }

    @Test func masterDataIsServedAndValidatedWithReasons() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let items = try #require(try await fixture.clientA.send(
            "GET", "v1/classifications/vn-admin-units/items?asOf=2025-08-01").json)
        #expect(items["items"]?.arrayValue?.compactMap { $0["code"]?.stringValue } == ["VN", "P1", "P3"])
        let body = Array(#"{"date":"2025-03-31","codes":["P1","P3","P9"]}"#.utf8)
        let checked = try #require(try await fixture.clientA.send(
            "POST", "v1/classifications/vn-admin-units/validate", contentType: "application/json", body: body).json)
        let results = checked["results"]?.arrayValue ?? []
        #expect(results.map { $0["valid"]?.boolValue } == [true, false, false])
        #expect(results[1]["reason"]?.stringValue?.contains("not yet valid") == true)
        #expect(results[2]["reason"]?.stringValue?.contains("not a code") == true)
        let impossibleDay = Array(#"{"date":"2025-02-30","codes":["P1"]}"#.utf8)
        let refusedDay = try await fixture.clientA.send(
            "POST", "v1/classifications/vn-admin-units/validate", contentType: "application/json", body: impossibleDay)
        // A body field that is no day: 422 naming the field, as every refused body is.
        #expect(refusedDay.status == 422 && refusedDay.json?["code"]?.stringValue == "schema")
        #expect(try await fixture.clientA.send("GET", "v1/classifications/nope/items?asOf=2025-08-01").status == 404)

        // The gateway follows master data that changes while it runs: P4 opens on 2025-08-01.
        let beforeOpening = try await fixture.clientA.post(fixture.report(area: "P4", period: "2025-M08"))
        #expect(beforeOpening.status == 422)
        #expect(beforeOpening.json?["detail"]?.stringValue?.contains("code P4 is not in classification") == true)
        try await fixture.publishMasterData([fixture.events.itemsChanged(
            "vn-admin-units", version: "2025", effectiveDate: "2025-08-01",
            changes: [.open(code: "P4", parent: "VN", level: 2, nameVi: "Tỉnh Bốn")], at: Timestamp(date: Date()))])
        let afterOpening = try await fixture.clientA.post(fixture.report(area: "P4", period: "2025-M08"))
        #expect(afterOpening.status == 201, "\(String(decoding: afterOpening.body, as: UTF8.self))")
        let tooEarly = try await fixture.clientA.post(fixture.report(area: "P4", period: "2025-M07"))
        #expect(tooEarly.status == 422)
        #expect(tooEarly.json?["detail"]?.stringValue?.contains("it is valid from 2025-08-01") == true)
        #expect(try await fixture.clientA.send("GET", "readyz").status == 200)
        let metrics = try await fixture.clientA.send("GET", "metrics")
        #expect(metrics.status == 200 && String(decoding: metrics.body, as: UTF8.self).contains("mekong_gateway_requests_total"))
    }

    @Test func revokedAndRotatedCredentialsStopWorkingAtOnce() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let connection = try fixture.database.connect()
        defer { connection.close() }
        let registry = SourceRegistry(connection: connection)
        let newKey = SigningKey(generatingWithID: "prov-a-2")
        let newAPIKey = try registry.rotate(id: "prov-a", signingKey: newKey.verifyingKey)
        #expect(try await fixture.clientA.post(fixture.report()).status == 401)
        let rotated = GatewayClient(baseURL: fixture.baseURL, apiKey: newAPIKey)
        #expect(try await rotated.post(fixture.report()).json?["code"]?.stringValue == "unknown-signing-key")
        #expect(try await rotated.post(fixture.report(key: newKey)).status == 201)
        try registry.revoke(id: "prov-a")
        #expect(try await rotated.post(fixture.report(key: newKey)).status == 401)
        #expect(try registry.list().first { $0.id == "prov-a" }?.revokedAt != nil)
    }

    /// Schemathesis with every check, `API_FUZZ_EXAMPLES` generated cases per operation (500 unless set) and the
    /// signing hooks (ops/api_fuzz_hooks.py): generated events, reports and survey batches are signed with prov-a's
    /// key, so they pass the signature checks and reach the schemas, scope, master data, Kafka and receipts.
    @Test func theServerHoldsToItsOpenAPIContractUnderPropertyBasedTesting() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUIDv7.generate())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = try fixture.keyA.write(to: directory)
        let examples = ProcessInfo.processInfo.environment["API_FUZZ_EXAMPLES"] ?? "500"
        let script = MekongBinary.repositoryRoot.appendingPathComponent("ops/api-fuzz.sh").path
        let child = try ChildProcess(
            URL(fileURLWithPath: "/bin/bash"), [script, fixture.baseURL.absoluteString.trimmingSuffix("/"), fixture.apiKeyA, examples],
            environment: [
                "API_FUZZ_SIGNING_KEY": files.privateFile.path, "API_FUZZ_SOURCE_URI": "urn:test:prov-a",
                "API_FUZZ_SOURCE_ID": "prov-a", "API_FUZZ_UNIT": "U100", "API_FUZZ_AREA": "P1",
            ])
        let status = try await onThread { try child.wait(timeout: .seconds(1_800)) }
        #expect(status == 0, "\(child.standardOutput)\n\(child.standardError)")
        // The signed requests got through: the log holds events and reports that the generator made.
        #expect(try fixture.recordCount("reports") > 0, "\(child.standardOutput)")
    }

    @Test func thePythonExampleClientPublishesAndVerifiesItsReceipts() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("py-\(UUIDv7.generate())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = try fixture.keyA.write(to: directory)
        let apiKeyFile = directory.appendingPathComponent("api-key")
        try Data(fixture.apiKeyA.utf8).write(to: apiKeyFile)
        let receipts = directory.appendingPathComponent("receipts.jsonl")
        let client = try await run("/usr/bin/env", [
            "python3", MekongBinary.repositoryRoot.appendingPathComponent("examples/python/mekong_client.py").path,
            "publish", "--url", fixture.baseURL.absoluteString, "--api-key-file", apiKeyFile.path,
            "--key", files.privateFile.path, "--source-uri", "urn:test:prov-a", "--reporting-unit", "U150",
            "--indicator", "POP", "--area", "P1", "--period", "2025-M04", "--count", "5", "--receipts", receipts.path,
        ])
        #expect(client.status == 0, "\(client.output)\n\(client.errors)")
        let lines = try String(contentsOf: receipts, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        for line in lines {
            #expect(try Receipt(json: try JSON.parse(String(line))).isValid(signedBy: fixture.gatewayKey.verifyingKey))
        }
        #expect(try fixture.recordCount("reports") == 5)

        // The same client signing each batch once (its own Merkle tree and proofs, written from docs/gateway.md):
        // the gateway takes the batches as signed batches, and each event's evidence verifies on both sides.
        let batchReceipts = directory.appendingPathComponent("batch-receipts.jsonl")
        let batched = try await run("/usr/bin/env", [
            "python3", MekongBinary.repositoryRoot.appendingPathComponent("examples/python/mekong_client.py").path,
            "publish", "--url", fixture.baseURL.absoluteString, "--api-key-file", apiKeyFile.path,
            "--key", files.privateFile.path, "--source-uri", "urn:test:prov-a", "--reporting-unit", "U151",
            "--indicator", "POP", "--area", "P1", "--period", "2025-M04", "--count", "7", "--batch-size", "4",
            "--sign-batches", "--receipts", batchReceipts.path,
        ])
        #expect(batched.status == 0 && batched.output.contains("each signed once"), "\(batched.output)\n\(batched.errors)")
        let inclusions = try String(contentsOf: batchReceipts, encoding: .utf8).split(separator: "\n")
            .map { try EventInclusion(json: try JSON.parse(String($0))) }
        #expect(inclusions.count == 7 && Set(inclusions.map(\.batchReceipt.batchRoot)).count == 2)
        for inclusion in inclusions {
            #expect(inclusion.problems(gatewayKey: fixture.gatewayKey.verifyingKey).isEmpty)
            #expect(inclusion.batchReceipt.hasValidSourceSignature(by: fixture.keyA.verifyingKey))
        }
        #expect(try fixture.rows("SELECT count(*) FROM gateway.batch_receipts") == [["2"]])
        #expect(try fixture.recordCount("reports") == 12)
    }
}

/// Runs a program to completion (waiting on a thread of its own); its exit status, standard output and error.
func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
    let child = try ChildProcess(URL(fileURLWithPath: executable), arguments)
    let status = try await onThread { try child.wait(timeout: .seconds(600)) }
    return (status, child.standardOutput, child.standardError)
}

/// Runs python3 with `arguments`; its standard output, or a failure with everything it printed.
func runPython(_ arguments: [String]) async throws -> String {
    let python = try await run("/usr/bin/env", ["python3"] + arguments)
    guard python.status == 0 else {
        throw EvidenceError(.invalidReceipt, "python3", "exit \(python.status): \(python.output)\n\(python.errors)")
    }
    return python.output
}

extension CloudEvent {
    /// The event as a source that wrongly sets the gateway's attribute would send it.
    fileprivate func withRecordedTime() -> CloudEvent {
        var event = self
        event.recordedtime = Timestamp(date: Date())
        return event
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}

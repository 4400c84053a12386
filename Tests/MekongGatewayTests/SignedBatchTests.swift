import Foundation
import MekongEvents
import MekongEvidence
import MekongGateway
import MekongTestSupport
import Testing

/// Batches signed once (docs/gateway.md, "Signed batches"): one signature from the source, one receipt from the gateway,
/// and every event provable alone.
@Suite(.serialized) struct SignedBatchTests {
    /// Reports of prov-a signed as one batch.
    static func signedBatch(_ fixture: GatewayFixture, _ count: Int, label: String) -> [CloudEvent] {
        let reports = (0..<count).map { fixture.report(unit: "\(label)\($0)", value: Double($0)) }
        return BatchSignature.sign(reports, with: fixture.keyA).events
    }

    @Test func oneBatchReceiptProvesEveryEventAloneAndARetryGetsItBack() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let gatewayKey = try await fixture.clientA.gatewayKey()
        let events = Self.signedBatch(fixture, 9, label: "U1B")
        let answer = try await fixture.clientA.publish(events)
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        try await GatewayContractTests.conforms(answer, "post", "/v1/events")
        let summary = try #require(answer.json)
        #expect(summary["accepted"]?.integerValue == 9 && summary["receipts"]?.arrayValue?.isEmpty == true)
        let receipt = try BatchReceipt(json: try #require(summary["batchReceipt"]))
        #expect(receipt.count == 9 && receipt.source == "prov-a" && receipt.isValid(signedBy: gatewayKey))
        #expect(receipt.hasValidSourceSignature(by: fixture.keyA.verifyingKey))
        let placements = try #require(summary["placements"]?.arrayValue)
        #expect(placements.count == 9)
        for (event, placement) in zip(events, placements) {
            guard case .object(var object) = placement else { Issue.record("placement is not an object"); continue }
            object["batchReceipt"] = receipt.json
            let inclusion = try EventInclusion(json: .object(object))
            #expect(inclusion.problems(gatewayKey: gatewayKey, event: event, sourceKey: fixture.keyA.verifyingKey).isEmpty)
            // The event's own receipt lookup answers the same evidence.
            let single = try await fixture.clientA.send("GET", "v1/receipts/\(event.id)")
            #expect(single.status == 200)
            if event.id == events[0].id { try await GatewayContractTests.conforms(single, "get", "/v1/receipts/{eventId}") }
            #expect(try EventInclusion(json: try #require(single.json)) == inclusion)
        }
        #expect(try fixture.recordCount("reports") == 9)
        #expect(try fixture.rows("SELECT count(*) FROM gateway.batch_receipts") == [["1"]])
        #expect(try fixture.rows("SELECT count(*) FROM gateway.receipts WHERE receipt IS NULL AND batch IS NOT NULL") == [["9"]])

        // The events in Kafka carry the batch signature and their proofs: each verifies alone from the log.
        let logged = try fixture.loggedEvents("reports")
        #expect(Set(logged.map(\.id)) == Set(events.map(\.id)))
        #expect(logged.allSatisfy { $0.hasValidSignature(by: fixture.keyA.verifyingKey) })

        // A retry of the same batch: the stored receipt, nothing written.
        let again = try await fixture.clientA.publish(events)
        #expect(again.json?["ignored"]?.integerValue == 9 && again.json?["accepted"]?.integerValue == 0)
        try await GatewayContractTests.conforms(again, "post", "/v1/events")
        // One of them alone: its replay is its inclusion.
        let replayed = try await fixture.clientA.post(events[4])
        #expect(replayed.status == 200 && replayed.json?["batchReceipt"] != nil)
        try await GatewayContractTests.conforms(replayed, "post", "/v1/events")
        #expect(try BatchReceipt(json: try #require(again.json?["batchReceipt"])) == receipt)
        #expect(again.json?["placements"] == summary["placements"])
        #expect(try fixture.recordCount("reports") == 9)

        // Reconciliation counts them like any event, by the hash the source can compute.
        let window = "source=prov-a&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
        let reconciliation = try #require(try await fixture.clientA.send("GET", "v1/reconciliation?\(window)").json)
        #expect(reconciliation["count"]?.integerValue == 9)
        let listed = Set((reconciliation["events"]?.arrayValue ?? []).compactMap { $0["eventHash"]?.stringValue })
        #expect(listed == Set(events.map(\.submittedHash.hex)))

        // One event of a signed batch, sent alone, is checked alone (its proof, the batch signature) and gets a
        // receipt of its own; a batch holding already-written events covers them with their first placement.
        let more = Self.signedBatch(fixture, 3, label: "U1C")
        let alone = try await fixture.clientA.post(more[1])
        #expect(alone.status == 201, "\(String(decoding: alone.body, as: UTF8.self))")
        #expect(try Receipt(json: try #require(alone.json)).isValid(signedBy: gatewayKey))
        let mixed = try await fixture.clientA.publish(more)
        #expect(mixed.json?["accepted"]?.integerValue == 2 && mixed.json?["ignored"]?.integerValue == 1)
        let mixedReceipt = try BatchReceipt(json: try #require(mixed.json?["batchReceipt"]))
        let aloneReceipt = try Receipt(json: try #require(alone.json))
        let middle = try #require(mixed.json?["placements"]?.arrayValue?[1])
        #expect(middle["partition"]?.integerValue == Int64(aloneReceipt.partition)
                && middle["offset"]?.integerValue == aloneReceipt.offset)
        #expect(mixedReceipt.count == 3 && mixedReceipt.isValid(signedBy: gatewayKey))
        #expect(try fixture.recordCount("reports") == 12)
    }

    @Test func aBatchWhoseSignatureOrProofsDoNotHoldIsRefusedWholeAndWritesNothing() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let events = Self.signedBatch(fixture, 5, label: "U1X")

        // One event changed after signing: its proof no longer leads to the signed root.
        var altered = events
        altered[2].data = fixture.report(unit: "U1X2", value: 99).data
        let answer = try await fixture.clientA.publish(altered)
        #expect(answer.status == 422, "\(String(decoding: answer.body, as: UTF8.self))")
        try await GatewayContractTests.conforms(answer, "post", "/v1/events")
        let conflicts = try #require(answer.json?["conflicts"]?.arrayValue)
        #expect(conflicts.count == 1)
        #expect(conflicts.first?["index"]?.integerValue == 2 && conflicts.first?["code"]?.stringValue == "invalid-signature")
        #expect(conflicts.first?["pointer"]?.stringValue == "/signatureproof")

        // A signature by another key of the same id: every event is refused.
        let forged = BatchSignature.sign(events, with: SigningKey(generatingWithID: fixture.keyA.keyId)).events
        let refused = try await fixture.clientA.publish(forged)
        #expect(refused.status == 422)
        #expect(refused.json?["conflicts"]?.arrayValue?.count == 5)
        #expect(refused.json?["conflicts"]?.arrayValue?.first?["pointer"]?.stringValue == "/signature")

        #expect(try fixture.recordCount("reports") == 0)
        #expect(try fixture.rows("SELECT count(*) FROM gateway.receipts") == [["0"]])
        #expect(try fixture.rows("SELECT count(*) FROM gateway.batch_receipts") == [["0"]])

        // Two events swapped: no longer the signed batch in its order, but each event still proves itself (its proof
        // and the batch signature), so they are taken event by event, with a receipt each.
        var swapped = events
        swapped.swapAt(0, 1)
        let swappedAnswer = try await fixture.clientA.publish(swapped)
        #expect(swappedAnswer.status == 200, "\(String(decoding: swappedAnswer.body, as: UTF8.self))")
        #expect(swappedAnswer.json?["receipts"]?.arrayValue?.count == 5 && swappedAnswer.json?["batchReceipt"] == nil)
        #expect(try fixture.recordCount("reports") == 5)
        #expect(try fixture.rows("SELECT count(*) FROM gateway.batch_receipts") == [["0"]])
    }

    /// `mekong publish --via --sign-batches`, then `mekong receipt verify` and `mekong reconcile` on the event
    /// inclusions it stored.
    @Test func theCommandLineSignsBatchesAndChecksAndReconcilesTheirEvidence() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("signed-cli-\(UUIDv7.generate())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let sourceKey = try fixture.keyA.write(to: directory)
        let gatewayKey = try fixture.gatewayKey.write(to: directory.appendingPathComponent("gateway")).publicFile.path
        let apiKeyFile = directory.appendingPathComponent("api-key").path
        try Data(fixture.apiKeyA.utf8).write(to: URL(fileURLWithPath: apiKeyFile))
        let eventsFile = directory.appendingPathComponent("events.ndjson").path
        let events = (0..<5).map { fixture.report(unit: "U1L\($0)") }
        try Data((events.map { JSON.serialize($0.json) }.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: eventsFile))
        let receipts = directory.appendingPathComponent("receipts.jsonl").path
        let from = Timestamp(date: Date().addingTimeInterval(-60)).text

        let published = try await ChildProcess.runOffPool([
            "publish", "--via", fixture.baseURL.absoluteString, "--api-key-file", apiKeyFile,
            "--key", sourceKey.privateFile.path, "--sign-batches", "--batch-size", "3", "--receipts", receipts, eventsFile,
        ])
        #expect(published.status == 0 && published.output.contains("published 5 new events"), "\(published.output)\(published.errors)")
        #expect(try fixture.rows("SELECT count(*) FROM gateway.batch_receipts") == [["2"]])

        let verified = try await ChildProcess.runOffPool([
            "receipt", "verify", "--gateway-key", gatewayKey, "--source-key", sourceKey.publicFile.path, receipts,
        ])
        #expect(verified.status == 0 && verified.output.contains("5 of 5 receipts verified"), "\(verified.output)\(verified.errors)")

        let to = Timestamp(date: Date().addingTimeInterval(60)).text
        let reconciled = try await ChildProcess.runOffPool([
            "reconcile", "--via", fixture.baseURL.absoluteString, "--api-key-file", apiKeyFile, "--source", "prov-a",
            "--from", from, "--to", to, "--local", receipts,
        ])
        #expect(reconciled.status == 0 && reconciled.output.contains("5 matching, 0 missing at gateway, 0 missing at source, 0 different"),
                "\(reconciled.output)\(reconciled.errors)")

        // One placement moved: its proof no longer leads to the signed placements root.
        var lines = try String(contentsOfFile: receipts, encoding: .utf8).split(separator: "\n").map(String.init)
        guard case .object(var first) = try JSON.parse(lines[0]) else { Issue.record("not an object"); return }
        first["offset"] = .number(Double((first["offset"]?.integerValue ?? 0) + 1))
        lines[0] = JSON.serialize(.object(first))
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: receipts))
        let tampered = try await ChildProcess.runOffPool(["receipt", "verify", "--gateway-key", gatewayKey, receipts])
        #expect(tampered.status == 1 && tampered.output.contains("FAIL") && tampered.output.contains("placementsRoot"),
                "\(tampered.output)\(tampered.errors)")
    }
}

import Foundation
import MekongEvents
import MekongEvidence
import MekongGateway
import MekongTestSupport
import Testing

/// The two places where a crash could put an event into the log twice (docs/gateway.md, "Crashes and retries"): a
/// `mekong gateway` process of its own stops itself there (`MEKONG_GATEWAY_CRASH_AT`), another takes over, and the
/// source retries. The log must hold each event once, and the retry must get a receipt for the record it holds.
@Suite(.serialized) struct CrashRecoveryTests {
    /// A delivery timeout of 1 s: an attempt is presumed dead 6 s after its reservation.
    static let presumedDead: Duration = .seconds(7)

    /// `mekong gateway` on the fixture's cluster and database with its receipt key, stopping at `crashAt` if given.
    static func gateway(_ fixture: GatewayFixture, keys: URL, crashAt: String? = nil) async throws -> (ChildProcess, GatewayClient) {
        let child = try ChildProcess(MekongBinary.url, [
            "gateway", "--port", "0", "--kafka", fixture.cluster.bootstrapServers, "--postgres", fixture.database.url,
            "--key", keys.appendingPathComponent("\(fixture.gatewayKey.keyId).key").path, "--delivery-timeout", "1",
        ], environment: crashAt.map { ["MEKONG_GATEWAY_CRASH_AT": $0] } ?? [:])
        return (child, GatewayClient(baseURL: try await child.listeningURL(), apiKey: fixture.apiKeyA))
    }

    static func keyDirectory(_ fixture: GatewayFixture) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-crash-\(UUID())")
        _ = try fixture.gatewayKey.write(to: directory)
        return directory
    }

    /// Sends `body` to a gateway that stops itself while writing it: no answer, and the process exits with 70.
    static func crash(_ child: ChildProcess, _ send: () async throws -> GatewayClient.Answer) async throws {
        let answer = try? await send()
        #expect(answer == nil, "the gateway answered \(answer?.status ?? 0) instead of stopping")
        let status = try await onThread { try child.wait(timeout: .seconds(30)) }
        #expect(status == 70, "\(child.standardError.suffix(2000))")
    }

    static func batch(_ events: [CloudEvent], _ client: GatewayClient) async throws -> GatewayClient.Answer {
        try await client.send("POST", "v1/events", contentType: "application/cloudevents-batch+json",
                              body: JSON.serializeBytes(.array(events.map(\.json))))
    }

    @Test func aCrashAfterKafkaConfirmedIsRecoveredFromTheLogWithoutWritingAgain() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let keys = try Self.keyDirectory(fixture)
        defer { try? FileManager.default.removeItem(at: keys) }
        let single = fixture.report(unit: "U1C1")
        let events = (2...4).map { fixture.report(unit: "U1C\($0)") }

        // Two gateways stop after Kafka confirmed their writes, before storing the receipts.
        let (first, firstClient) = try await Self.gateway(fixture, keys: keys, crashAt: "after-delivery")
        try await Self.crash(first) { try await firstClient.post(single) }
        let (second, secondClient) = try await Self.gateway(fixture, keys: keys, crashAt: "after-delivery")
        try await Self.crash(second) { try await Self.batch(events, secondClient) }
        #expect(try fixture.recordCount("reports") == 4)
        #expect(try fixture.rows("SELECT count(*) FROM gateway.receipts WHERE state = 'pending'") == [["4"]])

        // (A retry while an attempt could still be alive gets 503 in-progress: ReservationTests.)
        let (survivor, client) = try await Self.gateway(fixture, keys: keys)
        defer { survivor.signal(SIGTERM); _ = try? survivor.wait(timeout: .seconds(30)) }

        // Once they are presumed dead: the receipts of the records Kafka holds, and nothing written again.
        try await Task.sleep(for: Self.presumedDead)
        let gatewayKey = try await client.gatewayKey()
        let answer = try await client.post(single)
        #expect(answer.status == 201, "\(String(decoding: answer.body, as: UTF8.self))")
        let receipt = try Receipt(json: try #require(answer.json))
        #expect(receipt.isValid(signedBy: gatewayKey) && receipt.eventHash == single.submittedHash)
        let batchAnswer = try await Self.batch(events, client)
        #expect(batchAnswer.status == 200 && batchAnswer.json?["accepted"]?.integerValue == 3,
                "\(String(decoding: batchAnswer.body, as: UTF8.self))")
        #expect(try fixture.recordCount("reports") == 4)
        let logged = try fixture.loggedEvents("reports")
        #expect(logged.map(\.id).sorted() == ([single] + events).map(\.id).sorted())
        let record = try #require(logged.first { $0.id == single.id })
        #expect(record.recordedtime == receipt.recordedTime, "the receipt names the record the dead attempt wrote")
        #expect(try fixture.rows("SELECT count(*) FROM gateway.receipts WHERE state = 'written'") == [["4"]])
    }

    @Test func aCrashBeforeKafkaIsWrittenOnceByTheRetry() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        let keys = try Self.keyDirectory(fixture)
        defer { try? FileManager.default.removeItem(at: keys) }
        let event = fixture.report(unit: "U1C5")

        let (crashing, crashingClient) = try await Self.gateway(fixture, keys: keys, crashAt: "after-reservation")
        try await Self.crash(crashing) { try await crashingClient.post(event) }
        #expect(try fixture.recordCount("reports") == 0)
        #expect(try fixture.rows("SELECT count(*) FROM gateway.receipts WHERE state = 'pending'") == [["1"]])

        let (survivor, client) = try await Self.gateway(fixture, keys: keys)
        defer { survivor.signal(SIGTERM); _ = try? survivor.wait(timeout: .seconds(30)) }
        try await Task.sleep(for: Self.presumedDead)
        let answer = try await client.post(event)
        #expect(answer.status == 201, "\(String(decoding: answer.body, as: UTF8.self))")
        #expect(try fixture.recordCount("reports") == 1)
        let again = try await client.post(event)
        #expect(again.status == 200 && again.json == answer.json)
        #expect(try fixture.loggedEvents("reports").map(\.id) == [event.id])
    }
}

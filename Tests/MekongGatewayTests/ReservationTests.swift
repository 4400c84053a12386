import Foundation
import MekongEvents
@testable import MekongGateway
import MekongKafka
import Testing

/// The reservation state machine (``Reservation/decide(_:source:)``) without a database, then the duplicate window
/// it closes, on the real gateway with a broker down.
@Suite struct ReservationTests {
    let unit = Reservation(key: "report:prov-a:S1", eventId: "01a250ce-9add-7981-9157-ddefc82409c9", contentHash: "aa")

    func stored(owner: String = "prov-a", hash: String = "aa", receipt: JSONValue? = nil, takenOver: Bool = false) -> Arrival {
        .found(StoredReservation(owner: owner, contentHash: hash, eventId: "01a250ce-0000-7000-8000-000000000000",
                                 receipt: receipt, takenOver: takenOver))
    }

    @Test func everyArrivalHasOneOutcome() {
        #expect(unit.decide(.inserted, source: "prov-a") == .fresh)
        #expect(unit.decide(stored(receipt: .object(["offset": .number(4)])), source: "prov-a") == .replay(receipt: .object(["offset": .number(4)])))
        // Pending: in progress while its attempt may live; taken over once it cannot, under the stored id.
        #expect(unit.decide(stored(), source: "prov-a") == .inProgress)
        #expect(unit.decide(stored(takenOver: true), source: "prov-a") == .unconfirmed(eventId: "01a250ce-0000-7000-8000-000000000000", since: 0))
        // Another source's key, or other content: a conflict whatever the state.
        for arrival in [stored(owner: "prov-b"), stored(owner: "prov-b", receipt: .null), stored(hash: "bb", takenOver: true)] {
            guard case .conflict = unit.decide(arrival, source: "prov-a") else {
                Issue.record("\(arrival) is not a conflict")
                continue
            }
        }
        guard case .conflict = unit.decide(.vanished, source: "prov-a") else { Issue.record("vanished"); return }
    }

    /// `/readyz` asks Kafka for metadata, which waits up to 2 s for a cluster that does not answer: on a thread of its
    /// own, not one of the concurrency pool's (as many as cores).
    @Test func readinessChecksWaitingForKafkaHoldNoThreadOfTheConcurrencyPool() async throws {
        let fixture = try await GatewayFixture.start()
        defer { Task { await fixture.stop() } }
        try fixture.cluster.setBroker(1, up: false)
        let gateway = fixture.server.gateway
        let started = ContinuousClock.now
        let checks = (0..<(ProcessInfo.processInfo.activeProcessorCount * 8)).map { _ in
            Task.detached { await gateway.readiness() }
        }
        // This task resumes on the pool too: while every check waits, it still resumes on time. With the checks on the
        // pool's threads (8 per thread, 2 s each) it resumes about 16 s late; the whole suite's load on two cores
        // has made it up to 2.3 s late without them, hence the bound.
        try await Task.sleep(for: .milliseconds(300))
        let late = ContinuousClock.now - started - .milliseconds(300)
        for check in checks { #expect(await check.value.ready == false) }
        #expect(ContinuousClock.now - started > .seconds(1), "the checks did not wait for Kafka: the test shows nothing")
        #expect(late < .seconds(6), "a task on the pool resumed \(late) late behind the readiness checks")
    }

    @Test func aRetryWhileTheFirstAttemptWaitsForKafkaWritesNothingAndGetsInProgress() async throws {
        // A delivery timeout far longer than the test: the first attempt waits until the broker is back, however
        // loaded the machine (4 s and 15 s both ran out under the whole suite's load on CI).
        let fixture = try await GatewayFixture.start { $0.deliveryTimeout = .seconds(300) }
        defer { Task { await fixture.stop() } }
        let event = fixture.report(unit: "U150")
        let batchmate = fixture.report(unit: "U151")
        try fixture.cluster.setBroker(1, up: false)
        // The first attempt waits for Kafka; once its reservation is stored, retries find it in progress.
        let first = Task { try await fixture.clientA.post(event) }
        while try fixture.rows("SELECT count(*) FROM gateway.receipts WHERE state = 'pending'")[0][0] != "1" {
            try await Task.sleep(for: .milliseconds(100))
        }
        let retry = try await fixture.clientA.post(event)
        #expect(retry.status == 503 && retry.json?["code"]?.stringValue == "in-progress", "\(String(decoding: retry.body, as: UTF8.self))")
        #expect(retry.retryAfter == 300)
        // A batch holding it writes none of its events; with ?partial=true it names it.
        let batch = try await fixture.clientA.publish([batchmate, event], maxAttempts: 1)
        #expect(batch.status == 503 && batch.json?["code"]?.stringValue == "in-progress")
        let partial = try await fixture.clientA.send(
            "POST", "v1/events?partial=true", contentType: "application/cloudevents-batch+json",
            body: JSON.serializeBytes(.array([event.json])))
        #expect(partial.status == 422 && partial.json?["conflicts"]?.arrayValue?.first?["code"]?.stringValue == "in-progress")
        // The broker comes back: the first attempt is written, and a retry gets its receipt; nothing twice.
        try fixture.cluster.setBroker(1, up: true)
        #expect(try await first.value.status == 201)
        #expect(try await fixture.clientA.post(event).status == 200)
        #expect(try await fixture.clientA.post(batchmate).status == 201)
        #expect(try fixture.recordCount("reports") == 2)
    }
}

import Dispatch
import NIOCore
import Synchronization
import Testing

@testable import MekongReadAPI

/// The stream between a database thread and a response, driven without either.
@Suite struct AnswerStreamTests {
    static func chunk(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Runs `body` on a thread of its own, as the database pool's threads run the producer.
    static func producer(_ body: @escaping @Sendable () -> Void) {
        DispatchQueue.global().async(execute: body)
    }

    @Test func everyChunkArrivesInOrderAndTheProducerWaitsWhenTheConsumerIsSlow() async throws {
        let stream = AnswerStream<String>(capacity: 2)
        let written = Counter()
        Self.producer {
            stream.begin("head")
            for index in 0..<50 {
                try? stream.put(Self.chunk("\(index);"))
                written.add()
            }
            stream.finish()
        }
        #expect(try await stream.head() == "head")
        // Without a reader the producer stops once the slots are full.
        try await Task.sleep(for: .milliseconds(200))
        #expect(written.value <= 2)
        var text = ""
        while let chunk = try await stream.next() { text += String(buffer: chunk) }
        #expect(text == (0..<50).map { "\($0);" }.joined())
        #expect(written.value == 50)
    }

    @Test func aFailureBeforeTheHeadIsTheAnswerAndAfterItBreaksTheStreamOffAfterWhatWasSent() async throws {
        struct Refused: Error {}
        let refused = AnswerStream<String>()
        Self.producer { refused.fail(Refused()) }
        await #expect(throws: Refused.self) { try await refused.head() }

        let broken = AnswerStream<String>()
        Self.producer {
            broken.begin("head")
            try? broken.put(Self.chunk("a"))
            broken.fail(Refused())
        }
        _ = try await broken.head()
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await broken.next().map { String(buffer: $0) } == "a")
        await #expect(throws: Refused.self) { try await broken.next() }
    }

    @Test func aConsumerThatGoesAwayOrStallsReleasesTheProducer() async throws {
        for cancels in [true, false] {
            let stream = AnswerStream<String>(capacity: 1, stallLimit: .milliseconds(300))
            let outcome = Outcome()
            Self.producer {
                stream.begin("head")
                do {
                    for _ in 0..<10 { try stream.put(Self.chunk("x")) }
                    outcome.set("finished")
                } catch {
                    outcome.set("cancelled")
                }
            }
            _ = try await stream.head()
            if cancels { stream.cancel() }
            // Cancelled at once, or released by the stall limit; nothing reads, so it can never finish.
            let deadline = ContinuousClock.now + .seconds(10)
            while outcome.value.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(outcome.value == "cancelled", "cancels: \(cancels)")
        }
    }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

private final class Outcome: Sendable {
    private let text = Mutex("")
    func set(_ value: String) { text.withLock { $0 = value } }
    var value: String { text.withLock { $0 } }
}

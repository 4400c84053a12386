import Foundation
import MekongEvents
import MekongKafka
import Synchronization

/// A live tail of one topic for the console's server-sent events: a consumer without a group, assigned every
/// partition a few records before its end, polled on a thread of its own (never the concurrency pool) until the
/// client goes away. Records are filtered by their `ce_type` and `ce_source` headers and summarised as JSON.
final class TopicTail: Sendable {
    /// Records shown from before the tail opened, per partition.
    static let backlog: Int64 = 5

    private let stopped = Atomic<Bool>(false)

    /// The summaries, as they arrive, and `.null` after 15 s without one (a heartbeat: writing it is how the
    /// server learns that a client went away); finishes when the tail is stopped or the log cannot be read.
    let summaries: AsyncStream<JSONValue>

    init(topic: String, type: String?, source: String?, configuration: KafkaConfiguration) throws {
        var configuration = configuration
        configuration["fetch.wait.max.ms"] = "50"
        let consumer = try Consumer(configuration: configuration)
        do {
            var positions: [TopicPartition: Int64] = [:]
            for index in 0..<(try consumer.partitionCount(of: topic, timeout: .seconds(5))) {
                let partition = TopicPartition(topic: topic, partition: Int32(index))
                let (low, high) = try consumer.watermarks(of: partition, timeout: .seconds(5))
                positions[partition] = max(low, high - Self.backlog)
            }
            try consumer.assign(positions)
        } catch {
            consumer.close()
            throw error
        }
        let (stream, continuation) = AsyncStream.makeStream(of: JSONValue.self, bufferingPolicy: .bufferingNewest(1_000))
        summaries = stream
        let box = ConsumerBox(consumer)
        // The thread holds the tail until `stop()`, which the response calls when its client goes away.
        Thread { [self] in
            defer {
                box.consumer.close()
                continuation.finish()
            }
            var lastSent = ContinuousClock.now
            while !self.stopped.load(ordering: .relaxed) {
                guard let messages = try? box.consumer.poll(maxMessages: 200, timeout: .milliseconds(100)) else { return }
                for message in messages {
                    if let type, message.header("ce_type") != type { continue }
                    if let source, message.header("ce_source") != source { continue }
                    continuation.yield(Self.summary(message))
                    lastSent = ContinuousClock.now
                }
                if ContinuousClock.now - lastSent > .seconds(15) {
                    continuation.yield(.null)
                    lastSent = ContinuousClock.now
                }
            }
        }.start()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    static func summary(_ message: ConsumedMessage) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("topic", .string(message.topic)), ("partition", .number(Double(message.partition))),
            ("offset", .number(Double(message.offset))),
        ]
        if let event = try? CloudEvent(decoding: message.value) {
            pairs += [("id", .string(event.id)), ("type", .string(event.type)), ("source", .string(event.source)),
                      ("subject", .string(event.subject)), ("time", .string(event.time.text))]
        } else {
            pairs.append(("problem", .string("not a valid event")))
        }
        return .object(JSONObject(pairs))
    }
}

/// The consumer, handed to the tail's own thread, which alone uses it from then on.
private final class ConsumerBox: @unchecked Sendable {
    let consumer: Consumer
    init(_ consumer: Consumer) { self.consumer = consumer }
}

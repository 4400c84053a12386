import MekongEvents
import MekongKafka

/// Publishes events as Kafka records: value = the event's canonical JSON (structured mode), key = `subject`,
/// headers `ce_type`, `ce_id`, `ce_source`.
public struct EventPublisher: Sendable {
    private let producer: Producer

    public init(producer: Producer) {
        self.producer = producer
    }

    /// The record for an event on a topic.
    public static func record(for event: CloudEvent, topic: String) -> OutgoingMessage {
        record(for: event, canonicalJSON: event.canonicalJSON(), topic: topic)
    }

    /// The record for `event` whose canonical JSON the caller already has (`value`).
    public static func record(for event: CloudEvent, canonicalJSON value: [UInt8], topic: String) -> OutgoingMessage {
        OutgoingMessage(
            topic: topic, key: Array(event.subject.utf8), value: value,
            headers: event.headers.map { KafkaHeader(name: $0.name, string: $0.value) })
    }

    /// Sends the events in order and returns each one's delivery report or error, in the same order.
    public func publish(_ events: [CloudEvent], topic: String) async -> [Result<DeliveryReport, KafkaError>] {
        await producer.send(events.map { Self.record(for: $0, topic: topic) })
    }
}

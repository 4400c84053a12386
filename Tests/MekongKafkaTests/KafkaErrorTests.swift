import Testing

@testable import MekongKafka

/// Which failures an engine may wait out: librdkafka flags few local operations as retriable (a seek that timed out
/// while the mock cluster was slow was `_TIMED_OUT` but not "retriable", and stopped a projector in CI); every
/// transient code counts, a fatal error never does.
@Suite struct KafkaErrorTests {
    @Test func transientCodesAreRetriableWhateverLibrdkafkaFlags() {
        #expect(KafkaError.isRetriable(.timedOut, librdkafkaSays: false, fatal: false))
        #expect(KafkaError.isRetriable(.allBrokersDown, librdkafkaSays: false, fatal: false))
        #expect(KafkaError.isRetriable(.invalidArgument, librdkafkaSays: true, fatal: false))
        #expect(!KafkaError.isRetriable(.invalidArgument, librdkafkaSays: false, fatal: false))
        #expect(!KafkaError.isRetriable(.timedOut, librdkafkaSays: true, fatal: true))
    }
}

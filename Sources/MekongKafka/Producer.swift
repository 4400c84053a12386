import CRdKafka
import Foundation
import Synchronization

/// Produces records through librdkafka with Mekong's safe defaults (`acks=all`, idempotence, lz4).
///
/// `send` returns only when the cluster's delivery report is in, so a caller that acknowledges its own client after
/// `send` returns never acknowledges anything that is not written. At most `maxInFlight` messages wait for their
/// report at once; further sends wait for room.
public final class Producer: Sendable {
    private let handle: ClientHandle
    private let limit: InFlightLimit
    private let poller: PollLoop
    private let closed = Atomic<Bool>(false)

    /// - Parameters:
    ///   - configuration: librdkafka properties; `KafkaConfiguration.producerDefaults` apply where not set.
    ///   - maxInFlight: messages enqueued but not yet reported, before `send` waits.
    /// - Throws: `KafkaError` `.configuration` for a property librdkafka refuses, and for a `partitioner` other than
    ///   ``KafkaConfiguration/partitioner`` (every producer of a topic must agree where a key goes).
    public init(configuration: KafkaConfiguration, maxInFlight: Int = 100_000) throws(KafkaError) {
        if let partitioner = configuration.properties["partitioner"], partitioner != KafkaConfiguration.partitioner {
            throw KafkaError(
                kind: .configuration, code: .invalidArgument,
                message: "property 'partitioner' = '\(partitioner)': Mekong's producers all use \(KafkaConfiguration.partitioner) "
                    + "(Java's murmur2), so that every producer of a topic puts a subject on the same partition")
        }
        handle = try ClientHandle(
            type: RD_KAFKA_PRODUCER, configuration: configuration, defaults: KafkaConfiguration.producerDefaults
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, producerDeliveryCallback)
        }
        limit = InFlightLimit(maximum: maxInFlight)
        poller = PollLoop(handle: handle)
    }

    deinit {
        shutDown(flushTimeout: .seconds(10))
    }

    /// Sends one record and waits for its delivery report.
    public func send(_ message: OutgoingMessage) async throws(KafkaError) -> DeliveryReport {
        try await send([message])[0].get()
    }

    /// Sends records in order and waits until each has a delivery report or an error. librdkafka batches them
    /// per partition; records with the same key keep their relative order.
    public func send(_ messages: [OutgoingMessage]) async -> [Result<DeliveryReport, KafkaError>] {
        let batch = DeliveryBatch(count: messages.count)
        for (index, message) in messages.enumerated() {
            await limit.acquire()
            if closed.load(ordering: .acquiring) {
                limit.release()
                batch.complete(
                    index,
                    .failure(KafkaError(kind: .closed, code: .invalidArgument, message: "producer is closed",
                                        topic: message.topic)))
                continue
            }
            let ticket = Unmanaged.passRetained(DeliveryTicket(batch: batch, index: index, limit: limit))
            var err = enqueue(message, opaque: ticket.toOpaque())
            while err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                // librdkafka's own queue bound was hit before ours: wait for deliveries to drain it.
                try? await Task.sleep(for: .milliseconds(2))
                err = enqueue(message, opaque: ticket.toOpaque())
            }
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                ticket.release()
                limit.release()
                let code = KafkaErrorCode(err)
                let fatal = handle.fatalError()
                batch.complete(
                    index,
                    .failure(KafkaError(kind: .send, code: fatal?.0 ?? code, message: fatal?.1 ?? code.text,
                                        persistence: .notPersisted, isFatal: fatal != nil, topic: message.topic,
                                        partition: message.partition)))
            }
        }
        return await batch.results()
    }

    private func enqueue(_ message: OutgoingMessage, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer? = nil
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                header.value.withUnsafeBytes { value in
                    _ = rd_kafka_header_add(headers, header.name, -1, value.baseAddress, value.count)
                }
            }
        }
        let partition = message.partition ?? RD_KAFKA_PARTITION_UA
        let err = message.value.withUnsafeBytes { value in
            withOptionalBytes(message.key) { key in
                mekong_produce(
                    handle.pointer, message.topic, partition, key?.baseAddress, key?.count ?? 0, value.baseAddress,
                    value.count, headers, message.timestampMilliseconds ?? 0, opaque)
            }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers {
            rd_kafka_headers_destroy(headers)
        }
        return err
    }

    /// Waits until every enqueued record has its delivery report.
    public func flush(timeout: Duration) throws(KafkaError) {
        let err = rd_kafka_flush(handle.pointer, timeout.kafkaMilliseconds)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(
                kind: .delivery, code: KafkaErrorCode(err),
                message: "\(rd_kafka_outq_len(handle.pointer)) records still waiting for delivery after \(timeout)",
                persistence: .possiblyPersisted)
        }
    }

    /// Flushes what is queued (up to `flushTimeout`), fails whatever could not be delivered, and stops.
    /// Idempotent.
    public func close(flushTimeout: Duration = .seconds(30)) {
        shutDown(flushTimeout: flushTimeout)
    }

    /// ``close(flushTimeout:)`` on a thread of its own: the flush waits up to `flushTimeout` without holding a thread
    /// of the concurrency pool.
    public func close(flushTimeout: Duration = .seconds(30)) async {
        await OwnThread.run { [self] () throws(Never) in shutDown(flushTimeout: flushTimeout) }
    }

    private func shutDown(flushTimeout: Duration) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = rd_kafka_flush(handle.pointer, flushTimeout.kafkaMilliseconds)
        // Whatever is left gets a delivery report with a purge error, so no sender waits forever.
        _ = rd_kafka_purge(handle.pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        poller.stop()
        _ = rd_kafka_poll(handle.pointer, 0)
    }

    /// How many records are waiting for delivery.
    public var outstanding: Int { Int(rd_kafka_outq_len(handle.pointer)) }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

/// Runs on the poll thread: turns librdkafka's delivery report into a `Result` for the waiting sender.
private let producerDeliveryCallback:
    @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
        rk, message, _ in
        guard let message, let opaque = mekong_message_opaque(message) else { return }
        let ticket = Unmanaged<DeliveryTicket>.fromOpaque(opaque).takeRetainedValue()
        let m = message.pointee
        let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
        let result: Result<DeliveryReport, KafkaError>
        if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            result = .success(DeliveryReport(topic: topic, partition: m.partition, offset: m.offset))
        } else {
            let persistence: Persistence
            switch rd_kafka_message_status(message) {
            case RD_KAFKA_MSG_STATUS_NOT_PERSISTED: persistence = .notPersisted
            case RD_KAFKA_MSG_STATUS_PERSISTED: persistence = .persisted
            default: persistence = .possiblyPersisted
            }
            var code = KafkaErrorCode(m.err)
            // Not rd_kafka_message_errstr: on a delivery report the message's payload is the record's value, which
            // it returns as the "error string" (no terminating NUL: reading it ran past the value, and logged it).
            var text = String(cString: rd_kafka_err2str(m.err))
            var fatal = false
            if m.err == RD_KAFKA_RESP_ERR__FATAL, let rk {
                var errstr = [CChar](repeating: 0, count: 512)
                code = KafkaErrorCode(rd_kafka_fatal_error(rk, &errstr, errstr.count))
                text = String(errorBuffer: errstr)
                fatal = true
            }
            result = .failure(
                KafkaError(kind: .delivery, code: code, message: text, persistence: persistence, isFatal: fatal,
                           topic: topic, partition: m.partition))
        }
        ticket.batch.complete(ticket.index, result)
        ticket.limit.release()
    }

/// A thread that serves a client's callbacks (`rd_kafka_poll`) until stopped.
final class PollLoop: Sendable {
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)

    init(handle: ClientHandle) {
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) {
                rd_kafka_poll(handle.pointer, 50)
            }
            finished.signal()
        }
        thread.name = "mekong-kafka-poll"
        thread.start()
    }

    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }
}

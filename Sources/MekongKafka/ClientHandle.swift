import CRdKafka
import Logging

/// librdkafka's own log lines and global errors, forwarded to swift-log.
let librdkafkaLogger = Logger(label: "mekong.librdkafka")

/// An `rd_kafka_t` instance: created from Mekong defaults plus the caller's properties, destroyed on deinit.
/// librdkafka handles are thread-safe, so the handle may be shared.
final class ClientHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    /// - Parameter prepare: last chance to install callbacks or the opaque on the `rd_kafka_conf_t`.
    init(
        type: rd_kafka_type_t, configuration: KafkaConfiguration, defaults: [String: String],
        prepare: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(kind: .configuration, code: .invalidArgument, message: "rd_kafka_conf_new failed")
        }
        var properties = defaults
        properties.merge(configuration.properties) { _, given in given }
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            var errstr = [CChar](repeating: 0, count: 512)
            if rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let shown = KafkaConfiguration.secretNames.contains(name) ? "***" : value
                throw KafkaError(
                    kind: .configuration, code: .invalidArgument,
                    message: "property '\(name)' = '\(shown)': \(String(errorBuffer: errstr))")
            }
        }
        rd_kafka_conf_set_log_cb(conf) { _, level, facility, text in
            let message = "\(facility.map { String(cString: $0) } ?? "?"): \(text.map { String(cString: $0) } ?? "")"
            librdkafkaLogger.log(level: logLevel(syslog: level), "\(message)")
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, _ in
            let code = KafkaErrorCode(rawValue: err)
            let text = reason.map { String(cString: $0) } ?? ""
            librdkafkaLogger.warning("\(code.name): \(text)")
        }
        prepare(conf)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            // On failure the configuration object is still ours.
            rd_kafka_conf_destroy(conf)
            throw KafkaError(kind: .clientCreation, code: .invalidArgument, message: String(errorBuffer: errstr))
        }
        pointer = rk
    }

    deinit {
        rd_kafka_destroy(pointer)
    }

    /// The instance's fatal error, if it has raised one (idempotent producers do on unrecoverable sequence loss).
    func fatalError() -> (KafkaErrorCode, String)? {
        var errstr = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(pointer, &errstr, errstr.count)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : (KafkaErrorCode(err), String(errorBuffer: errstr))
    }

}

/// Maps librdkafka's syslog levels onto swift-log's.
func logLevel(syslog level: Int32) -> Logger.Level {
    switch level {
    case ...3: return .error
    case 4: return .warning
    case 5, 6: return .info
    default: return .debug
    }
}

extension String {
    /// Text from a NUL-terminated C error buffer.
    init(errorBuffer buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self.init(decoding: bytes, as: UTF8.self)
    }
}

extension Duration {
    /// Whole milliseconds, clamped to what librdkafka's `int` timeouts take.
    var kafkaMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }
}

// A load generator for the gateway benchmark: blocking HTTP/1.1 keep-alive connections on plain threads, so that the
// client adds as little as possible to the machine's load and every latency is measured from the request's
// scheduled time (an open loop: a slow answer does not delay the schedule, so queueing shows in the figures).
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One keep-alive HTTP/1.1 connection to 127.0.0.1. Answers carry Content-Length (the gateway's) or are chunked
/// (the read API's streamed answers).
final class HTTPConnection {
    private let socketDescriptor: Int32
    private var received: [UInt8] = []

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(port: Int) throws {
        socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var noDelay: Int32 = 1
        setsockopt(socketDescriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socketDescriptor)
            throw Failure(description: "connect to port \(port): errno \(errno)")
        }
    }

    deinit { close(socketDescriptor) }

    /// A request's bytes, ready to send many times.
    static func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// Sends a request and reads its answer: status and body.
    func exchange(_ request: [UInt8]) throws -> (status: Int, body: [UInt8]) {
        try request.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let n = Glibc.send(socketDescriptor, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw Failure(description: "send: errno \(errno)") }
                sent += n
            }
        }
        var headEnd = 0
        while true {
            if let end = Self.endOfHead(received) { headEnd = end; break }
            try receiveMore()
        }
        let head = String(decoding: received[..<headEnd], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.count >= 12, let status = Int(statusLine.dropFirst(9).prefix(3)) else {
            throw Failure(description: "not an HTTP answer: \(head.prefix(80))")
        }
        if lines.contains(where: { $0.lowercased() == "transfer-encoding: chunked" }) {
            received.removeFirst(headEnd + 4)
            return (status, try chunkedBody())
        }
        guard let lengthLine = lines.first(where: { $0.lowercased().hasPrefix("content-length:") }),
              let length = Int(lengthLine.dropFirst(15).trimmingCharacters(in: .whitespaces))
        else { throw Failure(description: "an answer without Content-Length: \(head.prefix(200))") }
        while received.count < headEnd + 4 + length { try receiveMore() }
        let body = Array(received[(headEnd + 4)..<(headEnd + 4 + length)])
        received.removeFirst(headEnd + 4 + length)
        return (status, body)
    }

    /// A chunked body (RFC 9112 §7.1) from the start of `received`, without trailers.
    private func chunkedBody() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            var lineEnd: Int?
            while lineEnd == nil {
                lineEnd = received.indices.dropLast().first { received[$0] == 13 && received[$0 + 1] == 10 }
                if lineEnd == nil { try receiveMore() }
            }
            let sizeText = String(decoding: received[..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw Failure(description: "a malformed chunk size: \(sizeText)")
            }
            let start = lineEnd! + 2
            while received.count < start + size + 2 { try receiveMore() }
            body += received[start..<(start + size)]
            received.removeFirst(start + size + 2)
            if size == 0 { return body }
        }
    }

    private func receiveMore() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(socketDescriptor, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw Failure(description: n == 0 ? "the server closed the connection" : "recv: errno \(errno)") }
        received += chunk[..<n]
    }

    private static func endOfHead(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }
}

/// Runs blocking work on a thread of its own and waits for it without holding one of Swift's cooperative threads
/// (there are as many as cores; the gateway under test runs on them in the same process).
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// Runs `body(worker)` on `count` plain threads and waits for all of them; the first error thrown is rethrown.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    let failure = Mutex<(any Error)?>(nil)
    let group = DispatchGroup()
    var threads: [Thread] = []
    for worker in 0..<count {
        group.enter()
        let thread = Thread {
            do { try body(worker) } catch { failure.withLock { if $0 == nil { $0 = error } } }
            group.leave()
        }
        thread.stackSize = 1 << 20
        threads.append(thread)
    }
    for thread in threads { thread.start() }
    group.wait()
    if let error = failure.withLock({ $0 }) { throw error }
}

/// Latency figures in milliseconds.
struct LatencySummary {
    let p50: Double
    let p99: Double
    let max: Double
    let achievedRate: Double

    init(latencies: [Double], seconds: Double) {
        let sorted = latencies.sorted()
        p50 = sorted[sorted.count / 2] * 1000
        p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)] * 1000
        max = sorted.last! * 1000
        achievedRate = Double(sorted.count) / seconds
    }
}

/// Sends `requests` at a fixed `rate` (requests/s) over `connections` connections, each request at its scheduled
/// time (or as soon as its connection is free); a latency runs from the scheduled time to the end of the answer.
/// `check` refuses an answer that is not what the benchmark expects.
func openLoop(
    port: Int, requests: [[UInt8]], rate: Double, connections: Int,
    check: @escaping @Sendable (Int, [UInt8]) -> String?
) async throws -> LatencySummary {
    try await offThePool { try openLoopOnThreads(port: port, requests: requests, rate: rate, connections: connections, check: check) }
}

private func openLoopOnThreads(
    port: Int, requests: [[UInt8]], rate: Double, connections: Int,
    check: @escaping @Sendable (Int, [UInt8]) -> String?
) throws -> LatencySummary {
    let latencies = Mutex<[Double]>([])
    let requestsCopy = requests
    let start = DispatchTime.now().uptimeNanoseconds + 50_000_000
    try onThreads(connections) { worker in
        let connection = try HTTPConnection(port: port)
        var mine: [Double] = []
        for index in stride(from: worker, to: requestsCopy.count, by: connections) {
            let scheduled = start + UInt64(Double(index) / rate * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if scheduled > now { usleep(UInt32((scheduled - now) / 1000)) }
            let (status, body) = try connection.exchange(requestsCopy[index])
            if let problem = check(status, body) {
                throw HTTPConnection.Failure(description: "request \(index): \(problem)")
            }
            mine.append(Double(DispatchTime.now().uptimeNanoseconds - scheduled) / 1e9)
        }
        latencies.withLock { $0 += mine }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return LatencySummary(latencies: latencies.withLock { $0 }, seconds: seconds)
}

/// Sends every request as fast as `connections` connections allow; returns the seconds taken.
func closedLoop(
    port: Int, requests: [[UInt8]], connections: Int, check: @escaping @Sendable (Int, [UInt8]) -> String?
) async throws -> Double {
    try await offThePool { try closedLoopOnThreads(port: port, requests: requests, connections: connections, check: check) }
}

private func closedLoopOnThreads(
    port: Int, requests: [[UInt8]], connections: Int, check: @escaping @Sendable (Int, [UInt8]) -> String?
) throws -> Double {
    let next = Atomic<Int>(0)
    let requestsCopy = requests
    let start = DispatchTime.now().uptimeNanoseconds
    try onThreads(connections) { _ in
        let connection = try HTTPConnection(port: port)
        while true {
            let index = next.add(1, ordering: .relaxed).oldValue
            guard index < requestsCopy.count else { return }
            let (status, body) = try connection.exchange(requestsCopy[index])
            if let problem = check(status, body) {
                throw HTTPConnection.Failure(description: "request \(index): \(problem)")
            }
        }
    }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

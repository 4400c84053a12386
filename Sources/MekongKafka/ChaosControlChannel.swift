import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The control channel of `mekong dev`: a Unix domain socket (mode 0600: only its owner may use it) served by one
/// plain thread. A client connects, sends one line (a `ChaosAction`'s text) and reads one line back, `ok[ DETAIL]`
/// or `error MESSAGE`; then the connection closes. Lines are served one at a time, so actions never overlap.
public final class ChaosControlServer: Sendable {
    /// The socket's path.
    public let path: String
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds `path` (a stale socket file there is replaced) and starts serving `answer` for each line.
    public init(path: String, answer: @escaping @Sendable (String) -> String) throws(ChaosChannelError) {
        self.path = path
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ChaosChannelError(path: path, "socket(): \(String(cString: strerror(errno)))") }
        do throws(ChaosChannelError) {
            var address = try Self.address(path)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw ChaosChannelError(path: path, "bind(): \(String(cString: strerror(errno)))") }
            chmod(path, 0o600)
            guard listen(fd, 16) == 0 else {
                throw ChaosChannelError(path: path, "listen(): \(String(cString: strerror(errno)))")
            }
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        listener = fd
        let thread = Thread { [self] in
            serve(answer)
            finished.signal()
        }
        thread.name = "mekong-chaos-control"
        thread.start()
    }

    /// Stops serving (after the line being served, if any), closes and removes the socket.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
        close(listener)
        unlink(path)
    }

    private func serve(_ answer: @Sendable (String) -> String) {
        while !stopped.load(ordering: .acquiring) {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            defer { close(connection) }
            guard let line = ChaosSocket.readLine(connection, timeoutMilliseconds: 5_000) else { continue }
            ChaosSocket.write(connection, answer(line) + "\n")
        }
    }

    static func address(_ path: String) throws(ChaosChannelError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw ChaosChannelError(path: path, "a Unix socket path holds at most \(capacity - 1) bytes, this one has \(bytes.count)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        return address
    }
}

/// The client side: sends one line to a `ChaosControlServer` and returns its answer line.
public enum ChaosControlClient {
    /// Sends `line`, waits up to `timeoutMilliseconds` for the answer (an action such as moving every leader can take
    /// a moment: the mock serves its commands on its own thread).
    public static func send(_ line: String, to path: String, timeoutMilliseconds: Int32 = 30_000) throws(ChaosChannelError)
        -> String
    {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ChaosChannelError(path: path, "socket(): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = try ChaosControlServer.address(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            throw ChaosChannelError(path: path, "cannot connect: \(String(cString: strerror(errno))) (is `mekong dev` running?)")
        }
        ChaosSocket.write(fd, line + "\n")
        guard let answer = ChaosSocket.readLine(fd, timeoutMilliseconds: timeoutMilliseconds) else {
            throw ChaosChannelError(path: path, "no answer to '\(line)'")
        }
        return answer
    }
}

/// A control channel that could not be opened or used.
public struct ChaosChannelError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    init(path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "control socket \(path): \(reason)" }
}

enum ChaosSocket {
    /// A peer that went away must not kill the process with SIGPIPE.
    #if os(Linux)
        static let noSignal = Int32(MSG_NOSIGNAL)
    #else
        static let noSignal: Int32 = 0
    #endif

    /// Reads up to a newline (at most 64 KiB, waiting at most the timeout in all); nil on end, error or timeout.
    static func readLine(_ fd: Int32, timeoutMilliseconds: Int32) -> String? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMilliseconds))
        while bytes.count < 65_536 {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(left.components.seconds * 1_000 + left.components.attoseconds / 1_000_000_000_000_000 + 1))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            bytes += chunk[..<count]
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                return String(decoding: bytes[..<newline], as: UTF8.self)
            }
        }
        return nil
    }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, noSignal) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}

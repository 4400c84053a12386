import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A reply read by ``TestConnection/readReply()``.
struct HTTPReply: Sendable {
    let status: Int
    /// Header fields by lowercased name.
    let headers: [String: String]
    let body: String
}

struct HTTPTestError: Error, CustomStringConvertible {
    let description: String
}

/// Sends one HTTP/1.1 request with `Connection: close` to 127.0.0.1:`port` and reads the reply. Throws when the
/// connection is refused.
func httpRequest(_ method: String = "GET", port: Int, path: String) throws -> HTTPReply {
    let connection = try TestConnection(port: port)
    try connection.write("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
    return try connection.readReply()
}

/// A blocking TCP connection to 127.0.0.1, with a 10-second receive timeout: a minimal HTTP/1.1 client.
final class TestConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        // The descriptor is stored only once connected: a class whose initializer throws after initializing every
        // property is deinitialized, and closing the number twice could close a socket the server just accepted.
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw HTTPTestError(description: "socket() failed: errno \(errno)") }

        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            close(fd)
            throw HTTPTestError(description: "connect to 127.0.0.1:\(port) failed: errno \(error)")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    func write(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw HTTPTestError(description: "send failed: errno \(errno)") }
            sent += n
        }
    }

    /// Reads one reply: its head, then `Content-Length` bytes of body, or the rest of the stream without one.
    func readReply() throws -> HTTPReply {
        let separator = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            headEnd = buffer.indices.dropLast(3).first { buffer[$0..<$0 + 4].elementsEqual(separator) }
            if headEnd == nil, try !receive() {
                throw HTTPTestError(description: "connection closed before a complete response head")
            }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd! + 4)

        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw HTTPTestError(description: "bad status line: \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] =
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }

        let body: [UInt8]
        if let length = headers["content-length"].flatMap({ Int($0) }) {
            while buffer.count < length {
                guard try receive() else { throw HTTPTestError(description: "connection closed within the body") }
            }
            body = Array(buffer[..<length])
            buffer.removeFirst(length)
        } else {
            while try receive() {}
            body = buffer
            buffer = []
        }
        return HTTPReply(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    /// Whether the server closed the connection (end of stream) with no further bytes.
    func isClosedByPeer() throws -> Bool {
        try buffer.isEmpty && !receive()
    }

    /// Appends what arrives to `buffer`; false at the end of the stream.
    private func receive() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw HTTPTestError(description: "recv failed: errno \(errno)") }
        buffer.append(contentsOf: chunk[..<n])
        return n > 0
    }
}

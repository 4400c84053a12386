import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A reply read by ``httpRequest(_:port:path:)``.
struct HTTPReply {
    let status: Int
    /// Header fields by lowercased name.
    let headers: [String: String]
    let body: String
}

struct HTTPTestError: Error, CustomStringConvertible {
    let description: String
}

/// Sends one HTTP/1.1 request to 127.0.0.1:`port` over a blocking socket with `Connection: close` and reads the
/// reply to the end of the stream (10-second receive timeout). Throws when the connection is refused.
func httpRequest(_ method: String = "GET", port: Int, path: String) throws -> HTTPReply {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw HTTPTestError(description: "socket() failed: errno \(errno)") }
    defer { close(fd) }

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
        throw HTTPTestError(description: "connect to 127.0.0.1:\(port) failed: errno \(errno)")
    }

    let request = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw HTTPTestError(description: "send failed: errno \(errno)") }
        sent += n
    }

    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16_384)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { break }
        guard n > 0 else { throw HTTPTestError(description: "recv failed: errno \(errno)") }
        received.append(contentsOf: chunk[..<n])
    }

    let text = String(decoding: received, as: UTF8.self)
    guard let headEnd = text.range(of: "\r\n\r\n") else {
        throw HTTPTestError(description: "no complete response head in \(received.count) bytes")
    }
    let headLines = text[..<headEnd.lowerBound].split(separator: "\r\n", omittingEmptySubsequences: false)
    let statusParts = headLines.first?.split(separator: " ") ?? []
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
        throw HTTPTestError(description: "bad status line: \(headLines.first ?? "")")
    }
    var headers: [String: String] = [:]
    for line in headLines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let name = line[..<colon].lowercased()
        headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return HTTPReply(status: status, headers: headers, body: String(text[headEnd.upperBound...]))
}

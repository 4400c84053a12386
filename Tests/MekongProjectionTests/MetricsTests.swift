import Foundation
import MekongMetrics
import MekongProjection
import MekongTestSupport
import Testing

@Suite("Projection metrics")
struct ProjectionMetricsTests {
    @Test("a run is visible on /metrics: events applied, batch sizes, apply latency, lag per partition, dead letters")
    func metricsOfARun() async throws {
        let fixture = try ProjectionFixture(partitions: 2)
        var events = (0..<40).map { report(unit: "unit-\($0 % 5)", value: Double($0), index: $0) }
        events.append(report(unit: "unit-1", value: -1, index: 99))  // violates the CHECK constraint
        try await fixture.publish(events)
        let registry = MetricsExporter.bootstrap()
        let server = try await onThread { try MetricsServer.start(port: 0, registry: registry) }
        defer { Thread.detachNewThread { server.stop() } }
        let database = try fixture.database()
        let summary = try await fixture.runToEnd(database, version: 3, batchSize: 1_000)
        #expect(summary.applied == 40)
        let body = try await onThread { try scrape(port: server.port) }
        let labels = #"projection="report-log",version="3""#
        #expect(body.contains("# TYPE mekong_projection_events_applied_total counter"))
        #expect(body.contains("mekong_projection_events_applied_total{\(labels)} 40"), "\(body)")
        #expect(body.contains(#"mekong_projection_dead_letters_total{"# + labels + #",stage="apply"} 1"#))
        #expect(body.contains("mekong_projection_batch_size_events_bucket{\(labels),le="))
        #expect(body.contains("mekong_projection_apply_duration_seconds_bucket{\(labels),le="))
        #expect(body.contains(#"mekong_projection_lag_events{"# + labels + #",topic="reports",partition="0"} 0"#))
        #expect(body.contains(#"mekong_projection_lag_events{"# + labels + #",topic="reports",partition="1"} 0"#))
    }
}

/// GET /metrics over a plain socket (`Connection: close`, so the server closes when done; 10 s receive timeout).
func scrape(port: Int) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    let request = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    return String(decoding: response, as: UTF8.self)
}

import Dispatch
import Foundation
import MekongMetrics
import Metrics
import Prometheus
import Synchronization
import Testing

/// Each test uses metric names of its own: the registry is process-wide and the tests run in parallel.
@Suite struct MetricsServerTests {
    init() {
        MetricsExporter.bootstrap()
    }

    @Test func servesSwiftMetricsAsPrometheusText() throws {
        let server = try MetricsServer.start(port: 0)
        defer { server.stop() }
        #expect(server.host == "127.0.0.1")
        #expect(server.port > 0)

        Counter(label: "mekong_test_events_total", dimensions: [("topic", "reports")]).increment(by: 3)
        Timer(label: "mekong_test_batch_duration_seconds").recordMilliseconds(3)
        Recorder(label: "mekong_test_batch_size").record(300)

        let reply = try httpRequest(port: server.port, path: "/metrics")
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let lines = Set(reply.body.split(separator: "\n").map(String.init))

        #expect(lines.contains("# TYPE mekong_test_events_total counter"))
        #expect(lines.contains(#"mekong_test_events_total{topic="reports"} 3"#))

        // 3 ms: above the 2.5 ms bucket, within the 5 ms one; the sum is in seconds.
        #expect(lines.contains("# TYPE mekong_test_batch_duration_seconds histogram"))
        #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="0.0025"} 0"#))
        #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="0.005"} 1"#))
        #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="10.0"} 1"#))
        #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="+Inf"} 1"#))
        #expect(lines.contains("mekong_test_batch_duration_seconds_sum 0.003"))
        #expect(lines.contains("mekong_test_batch_duration_seconds_count 1"))
        let durationBuckets = lines.filter { $0.hasPrefix("mekong_test_batch_duration_seconds_bucket{") }
        #expect(durationBuckets.count == MetricsExporter.durationBuckets.count + 1)
        #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="0.0005"} 0"#))

        // 300: above the 200 bucket, within the 500 one.
        #expect(lines.contains("# TYPE mekong_test_batch_size histogram"))
        #expect(lines.contains(#"mekong_test_batch_size_bucket{le="200.0"} 0"#))
        #expect(lines.contains(#"mekong_test_batch_size_bucket{le="500.0"} 1"#))
        #expect(lines.contains(#"mekong_test_batch_size_bucket{le="100000.0"} 1"#))
        #expect(lines.contains("mekong_test_batch_size_sum 300.0"))
        let sizeBuckets = lines.filter { $0.hasPrefix("mekong_test_batch_size_bucket{") }
        #expect(sizeBuckets.count == MetricsExporter.valueBuckets.count + 1)

        // A scrape sees later updates.
        Counter(label: "mekong_test_events_total", dimensions: [("topic", "reports")]).increment(by: 2)
        let again = try httpRequest(port: server.port, path: "/metrics")
        #expect(again.body.contains(#"mekong_test_events_total{topic="reports"} 5"# + "\n"))
    }

    @Test func answers404ToAnythingButGetMetrics() throws {
        let server = try MetricsServer.start()
        defer { server.stop() }

        #expect(try httpRequest(port: server.port, path: "/other").status == 404)
        #expect(try httpRequest(port: server.port, path: "/").status == 404)
        #expect(try httpRequest(port: server.port, path: "/metrics/extra").status == 404)
        #expect(try httpRequest("POST", port: server.port, path: "/metrics").status == 404)
        #expect(try httpRequest("DELETE", port: server.port, path: "/metrics").status == 404)
        #expect(try httpRequest(port: server.port, path: "/metrics").status == 200)
    }

    @Test func secondServerOnTheSamePortFailsWithItsAddress() throws {
        let first = try MetricsServer.start()
        defer { first.stop() }

        let error = #expect(throws: MetricsServerError.self) {
            let second = try MetricsServer.start(host: "127.0.0.1", port: first.port)
            second.stop()
        }
        #expect(error?.host == "127.0.0.1")
        #expect(error?.port == first.port)
        #expect(error?.description.hasPrefix("metrics server cannot listen on 127.0.0.1:\(first.port): ") == true)
        #expect(error?.reason.localizedLowercase.contains("address already in use") == true)

        // The failed start leaves the first server serving.
        #expect(try httpRequest(port: first.port, path: "/metrics").status == 200)
    }

    @Test func rejectsAnInvalidPortOrHost() {
        let badPort = #expect(throws: MetricsServerError.self) { try MetricsServer.start(port: 70_000) }
        #expect(badPort?.description == "metrics server cannot listen on 127.0.0.1:70000: port must be in 0...65535")

        let badHost = #expect(throws: MetricsServerError.self) {
            try MetricsServer.start(host: "no-such-host.invalid", port: 0).stop()
        }
        #expect(badHost?.host == "no-such-host.invalid")
    }

    @Test func stopClosesThePortAndIsIdempotent() throws {
        let server = try MetricsServer.start()
        let port = server.port
        #expect(try httpRequest(port: port, path: "/metrics").status == 200)

        server.stop()
        #expect(throws: HTTPTestError.self) { try httpRequest(port: port, path: "/metrics") }
        server.stop()

        // The port is free again.
        let again = try MetricsServer.start(port: port)
        defer { again.stop() }
        #expect(again.port == port)
        #expect(try httpRequest(port: port, path: "/metrics").status == 200)
    }

    @Test func startsAndStopsFromPlainThreadsWhileThePoolIsBlocked() async throws {
        // Occupy every thread of the cooperative pool with a blocking wait: the server must not need one.
        let release = DispatchSemaphore(value: 0)
        let blockers = (0..<16).map { _ in
            Task.detached { release.wait() }
        }
        defer {
            for _ in blockers { release.signal() }
        }

        let server = try MetricsServer.start()
        Counter(label: "mekong_test_pool_blocked_total").increment()
        let reply = try httpRequest(port: server.port, path: "/metrics")
        server.stop()
        #expect(reply.status == 200)
        #expect(reply.body.contains("mekong_test_pool_blocked_total 1\n"))
    }
}

@Suite struct MetricsExporterTests {
    @Test func bootstrapIsIdempotentAcrossThreads() {
        let first = MetricsExporter.bootstrap()
        let others = (0..<8).map { _ in
            let box = ResultBox()
            let thread = Thread { box.set(MetricsExporter.bootstrap()) }
            thread.start()
            return box
        }
        for box in others {
            #expect(box.get() === first)
        }
        #expect(MetricsExporter.bootstrap() === first)

        Counter(label: "mekong_test_direct_total").increment(by: 7)
        #expect(first.emitToString().contains("mekong_test_direct_total 7\n"))
    }

    @Test func bucketsCoverBatchLatenciesAndSizes() {
        #expect(MetricsExporter.durationBuckets.first == .microseconds(500))
        #expect(MetricsExporter.durationBuckets.last == .seconds(10))
        #expect(MetricsExporter.durationBuckets == MetricsExporter.durationBuckets.sorted())
        #expect(MetricsExporter.valueBuckets.first == 1)
        #expect(MetricsExporter.valueBuckets.last == 100_000)
        #expect(MetricsExporter.valueBuckets == MetricsExporter.valueBuckets.sorted())
    }
}

/// Hands one value from a thread to the test.
private final class ResultBox: Sendable {
    private let value = Mutex<PrometheusCollectorRegistry?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func set(_ registry: PrometheusCollectorRegistry) {
        value.withLock { $0 = registry }
        ready.signal()
    }

    func get() -> PrometheusCollectorRegistry? {
        guard ready.wait(timeout: .now() + .seconds(10)) == .success else { return nil }
        return value.withLock { $0 }
    }
}

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

    @Test func servesSwiftMetricsAsPrometheusText() async throws {
        try await withMetricsServer { server in
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
            #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="0.0005"} 0"#))
            #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="0.0025"} 0"#))
            #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="0.005"} 1"#))
            #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="10.0"} 1"#))
            #expect(lines.contains(#"mekong_test_batch_duration_seconds_bucket{le="+Inf"} 1"#))
            #expect(lines.contains("mekong_test_batch_duration_seconds_sum 0.003"))
            #expect(lines.contains("mekong_test_batch_duration_seconds_count 1"))
            let durationBuckets = lines.filter { $0.hasPrefix("mekong_test_batch_duration_seconds_bucket{") }
            #expect(durationBuckets.count == MetricsExporter.durationBuckets.count + 1)

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
    }

    @Test func answers404ToAnythingButGetMetrics() async throws {
        try await withMetricsServer { server in
            let statuses = try [
                ("GET", "/other"), ("GET", "/"), ("GET", "/metrics/extra"), ("POST", "/metrics"),
                ("DELETE", "/metrics"), ("GET", "/metrics"),
            ].map { try httpRequest($0, port: server.port, path: $1).status }
            #expect(statuses == [404, 404, 404, 404, 404, 200])
        }
    }

    @Test func secondServerOnTheSamePortFailsWithItsAddress() async throws {
        try await withMetricsServer { first in
            let port = first.port
            let outcome = try await onPlainThread { () -> MetricsServerError? in
                do throws(MetricsServerError) {
                    try MetricsServer.start(host: "127.0.0.1", port: port).stop()
                    return nil
                } catch {
                    return error
                }
            }
            let error = try #require(outcome, "a second server started on port \(port)")
            #expect(error.host == "127.0.0.1")
            #expect(error.port == port)
            #expect(error.description.hasPrefix("metrics server cannot listen on 127.0.0.1:\(port): "))
            #expect(error.reason.localizedLowercase.contains("address already in use"))

            // The failed start leaves the first server serving.
            let reply = try httpRequest(port: port, path: "/metrics")
            #expect(reply.status == 200)
        }
    }

    @Test func rejectsAnInvalidPortOrHost() async throws {
        let badPort = #expect(throws: MetricsServerError.self) { try MetricsServer.start(port: 70_000) }
        #expect(badPort?.description == "metrics server cannot listen on 127.0.0.1:70000: port must be in 0...65535")

        let badHost = try await onPlainThread { () -> MetricsServerError? in
            do throws(MetricsServerError) {
                try MetricsServer.start(host: "no-such-host.invalid", port: 0).stop()
                return nil
            } catch {
                return error
            }
        }
        #expect(badHost?.host == "no-such-host.invalid")
        #expect(badHost?.description.hasPrefix("metrics server cannot listen on no-such-host.invalid:0: ") == true)
    }

    @Test func stopClosesThePortAndIsIdempotent() async throws {
        let server = try await onPlainThread { try MetricsServer.start() }
        let port = server.port
        #expect(try httpRequest(port: port, path: "/metrics").status == 200)

        try await onPlainThread { server.stop() }
        #expect(throws: HTTPTestError.self) { try httpRequest(port: port, path: "/metrics") }
        try await onPlainThread { server.stop() }

        // The port is free again.
        try await withMetricsServer(port: port) { again in
            let reply = try httpRequest(port: port, path: "/metrics")
            #expect(again.port == port)
            #expect(reply.status == 200)
        }
    }

    @Test func stopClosesIdleKeepAliveConnectionsPromptly() async throws {
        let server = try await onPlainThread { try MetricsServer.start() }
        let connection = try TestConnection(port: server.port)
        for _ in 0..<2 {
            try connection.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try connection.readReply().status == 200)
        }

        let elapsed = try await onPlainThread { ContinuousClock().measure { server.stop() } }
        // An idle keep-alive connection must not hold stop() open: it returns within the 5 s grace period plus
        // cancellation. (Usually well under a second; on a loaded 2-core machine the graceful close has been seen to
        // use the whole grace period, so the bound is the design's, not a speed figure.)
        #expect(elapsed < .seconds(20), "stop() waited on the idle connection beyond its grace period")
        #expect(try connection.isClosedByPeer())
    }

    @Test func startsAndServesWhileTheCooperativePoolIsBlocked() async throws {
        // Occupy every thread of Swift's cooperative pool with a blocking wait: starting and serving must not need
        // one. Stopping does (see MetricsServer), so the pool is released first. A watchdog releases it after 10 s
        // so that a server needing the pool makes this test fail (too slow) rather than hang.
        let blockers = 16
        let running = DispatchSemaphore(value: 0)
        let release = Release(blockers)
        for _ in 0..<blockers {
            Task.detached {
                running.signal()
                release.wait()
            }
        }
        Thread {
            Thread.sleep(forTimeInterval: 10)
            release.releaseAll()
        }.start()

        let (server, reply, elapsed) = try await onPlainThread {
            defer { release.releaseAll() }
            // The pool has one thread per core, and this test's own is free while it waits here. A blocker that
            // does not start within the deadline finds the pool saturated by other tests running in parallel.
            let deadline = DispatchTime.now() + .seconds(5)
            for _ in 0..<min(ProcessInfo.processInfo.activeProcessorCount, blockers) {
                guard running.wait(timeout: deadline) == .success else { break }
            }
            let clock = ContinuousClock()
            let begin = clock.now
            let server = try MetricsServer.start()
            Counter(label: "mekong_test_pool_blocked_total").increment()
            let reply = try httpRequest(port: server.port, path: "/metrics")
            return (server, reply, clock.now - begin)
        }
        try await onPlainThread { server.stop() }
        #expect(elapsed < .seconds(5), "the server waited for a thread of the cooperative pool")
        #expect(reply.status == 200)
        #expect(reply.body.contains("mekong_test_pool_blocked_total 1\n"))
    }
}

/// Blocks the blocker tasks until released, once, by whichever comes first.
private final class Release: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let count: Int
    private let released = Mutex(false)

    init(_ count: Int) { self.count = count }

    func wait() { semaphore.wait() }

    func releaseAll() {
        guard released.withLock({ released in defer { released = true }; return !released }) else { return }
        for _ in 0..<count { semaphore.signal() }
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

import MekongMetrics

/// `--metrics-host`/`--metrics-port`: Prometheus text on http://HOST:PORT/metrics while a projector runs.
enum MetricsEndpoint {
    /// Starts the endpoint, or returns nil when `port` is 0 (off).
    static func start(host: String, port: Int) throws -> MetricsServer? {
        guard port != 0 else { return nil }
        let server = try MetricsServer.start(host: host, port: port, registry: MetricsExporter.bootstrap())
        printError("metrics: http://\(server.host):\(server.port)/metrics")
        return server
    }
}

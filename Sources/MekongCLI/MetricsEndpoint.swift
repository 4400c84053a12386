import MekongMetrics

/// `--metrics-port`: Prometheus text on http://127.0.0.1:PORT/metrics while a projector runs.
enum MetricsEndpoint {
    /// Starts the endpoint, or returns nil when `port` is 0 (off).
    static func start(port: Int) throws -> MetricsServer? {
        guard port != 0 else { return nil }
        let server = try MetricsServer.start(host: "127.0.0.1", port: port, registry: MetricsExporter.bootstrap())
        printError("metrics: http://\(server.host):\(server.port)/metrics")
        return server
    }
}

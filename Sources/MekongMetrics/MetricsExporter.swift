import Metrics
import Prometheus

/// Routes the process's swift-metrics (`Counter`, `Timer`, `Recorder`, `Gauge`, `Meter`) into one Prometheus
/// registry, which ``MetricsServer`` serves as text.
///
/// Histogram buckets are fixed for the whole process: every `Timer` uses ``durationBuckets`` and every aggregating
/// `Recorder` uses ``valueBuckets``.
public enum MetricsExporter {
    /// Bucket upper bounds of every `Timer` histogram, exposed in seconds: 0.5 ms to 10 s in a 1-2.5-5 series, for
    /// batch latencies. A slower observation is only counted in the implicit `+Inf` bucket.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2_500), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500),
        .seconds(5), .seconds(10),
    ]

    /// Bucket upper bounds of every aggregating `Recorder` histogram: 1 to 100 000 in a 1-2-5 series, for batch
    /// sizes (records, events, rows). Record byte counts with a `Recorder` only if they fit this range.
    public static let valueBuckets: [Double] = [
        1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000,
    ]

    /// Bootstraps `MetricsSystem` on first use; `swift_once` makes this thread-safe and run at most once.
    private static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        factory.defaultValueHistogramBuckets = valueBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Bootstraps swift-metrics' `MetricsSystem` with a Prometheus factory and returns the registry that collects
    /// every metric of the process.
    ///
    /// Idempotent and thread-safe: the first call bootstraps, every call (from any thread) returns the same
    /// registry. Call it before creating any metric: metrics created earlier stay no-ops. Nothing else in the
    /// process may call `MetricsSystem.bootstrap`, which traps when called a second time.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        registry
    }
}

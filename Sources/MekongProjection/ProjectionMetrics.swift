import Metrics
import MekongKafka

/// The engine's metrics, through swift-metrics (exported by whatever backend the process bootstraps; `mekong`
/// serves them as Prometheus text on `/metrics`). Every series carries `projection` and `version` labels.
struct ProjectionMetrics {
    private let labels: [(String, String)]
    let applied: Counter
    let batches: Counter
    let batchSize: Recorder
    let applyDuration: Metrics.Timer
    let transientFaults: Counter
    let rebuildRemaining: Gauge
    let rebuildProgress: Gauge
    private var deadLetters: [Refusal.Stage: Counter] = [:]
    private var lag: [TopicPartition: Gauge] = [:]

    init(_ identity: ProjectionIdentity) {
        labels = [("projection", identity.name), ("version", String(identity.version))]
        applied = Counter(label: "mekong_projection_events_applied_total", dimensions: labels)
        batches = Counter(label: "mekong_projection_batches_total", dimensions: labels)
        batchSize = Recorder(label: "mekong_projection_batch_size_events", dimensions: labels, aggregate: true)
        applyDuration = Metrics.Timer(label: "mekong_projection_apply_duration_seconds", dimensions: labels)
        transientFaults = Counter(label: "mekong_projection_transient_faults_total", dimensions: labels)
        rebuildRemaining = Gauge(label: "mekong_projection_rebuild_remaining_events", dimensions: labels)
        rebuildProgress = Gauge(label: "mekong_projection_rebuild_progress_ratio", dimensions: labels)
        for stage in Refusal.Stage.allCases {
            deadLetters[stage] = Counter(
                label: "mekong_projection_dead_letters_total", dimensions: labels + [("stage", stage.rawValue)])
        }
    }

    func deadLettered(_ stage: Refusal.Stage) {
        deadLetters[stage]?.increment()
    }

    /// Records of `partition` not yet applied: the high watermark minus the next offset to apply.
    mutating func lag(_ partition: TopicPartition, _ events: Int64) {
        let gauge = lag[partition] ?? Gauge(
            label: "mekong_projection_lag_events",
            dimensions: labels + [("topic", partition.topic), ("partition", String(partition.partition))])
        lag[partition] = gauge
        gauge.record(events)
    }
}

import CRdKafka

/// An `rd_kafka_topic_partition_list_t`, owned (destroyed on deinit) or borrowed from a callback.
final class TopicPartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    private let owned: Bool

    init(_ partitions: [TopicPartition]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))
        owned = true
        for tp in partitions {
            rd_kafka_topic_partition_list_add(pointer, tp.topic, tp.partition)
        }
    }

    init(owning pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        self.pointer = pointer
        owned = true
    }

    init(borrowing pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        self.pointer = pointer
        owned = false
    }

    deinit {
        if owned { rd_kafka_topic_partition_list_destroy(pointer) }
    }

    func setOffset(_ offset: Int64, for tp: TopicPartition) {
        _ = rd_kafka_topic_partition_list_set_offset(pointer, tp.topic, tp.partition, offset)
    }

    /// Each entry with its per-partition error.
    var entries: [(TopicPartition, KafkaErrorCode)] {
        let list = pointer.pointee
        return (0..<Int(list.cnt)).compactMap { i in
            let e = list.elems[i]
            guard let topic = e.topic else { return nil }
            return (TopicPartition(topic: String(cString: topic), partition: e.partition), KafkaErrorCode(e.err))
        }
    }
}

import Foundation
import MekongEvents
import MekongKafka

/// `mekong archive restore`: republishes an archive into a cluster whose partitions are empty (a new cluster after
/// `mekong topics apply`), partition by partition in offset order, with each record's key, value, headers and
/// timestamp. Every record must land at its archived offset, so that receipts, checkpoints and the audit trail
/// keep naming the same places; the first that does not stops the restore.
///
/// Before writing anything it verifies the whole archive and checks that every target partition exists and is
/// empty: a corrupt archive or a used cluster writes nothing.
public struct ArchiveRestorer: Sendable {
    public let directory: URL
    public let configuration: KafkaConfiguration
    /// Records in flight per round trip.
    public var chunk = 1_000

    public init(directory: URL, configuration: KafkaConfiguration) {
        self.directory = directory
        self.configuration = configuration
    }

    public struct Summary: Sendable, Equatable {
        public var partitions = 0
        public var records = 0
    }

    public func restore(only topics: Set<String>? = nil) async throws -> Summary {
        let plan = try await OwnThread.run { () throws -> [ArchiveManifest.Partition] in
            try ArchiveVerifier(directory: directory).verify(only: topics)
            guard let manifest = try ArchiveManifest.read(from: directory) else { return [] }
            let partitions = manifest.partitions.filter { topics?.contains($0.topic) ?? true }
            try checkTargets(partitions)
            return partitions
        }
        let producer = try Producer(configuration: configuration)
        var summary = Summary()
        for partition in plan {
            var batch: [ArchiveRecord] = []
            // Segments are read again, a chunk at a time: memory stays flat whatever the archive's size.
            try await forEachRecord(of: partition) { record in
                batch.append(record)
                if batch.count == chunk {
                    try await write(batch, to: partition, with: producer)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            try await write(batch, to: partition, with: producer)
            summary.partitions += 1
            summary.records += partition.records
        }
        await producer.close(flushTimeout: .seconds(30))
        return summary
    }

    private func write(_ records: [ArchiveRecord], to partition: ArchiveManifest.Partition, with producer: Producer)
        async throws
    {
        guard !records.isEmpty else { return }
        let reports = await producer.send(records.map { $0.outgoing(topic: partition.topic, partition: partition.partition) })
        for (record, report) in zip(records, reports) {
            let placed: DeliveryReport
            do {
                placed = try report.get()
            } catch {
                throw ArchiveError(.kafka, "\(partition.topicPartition) offset \(record.offset): \(error)")
            }
            guard placed.offset == record.offset else {
                throw ArchiveError(.offsetMismatch, """
                    \(partition.topicPartition): the record archived at offset \(record.offset) was written at \
                    \(placed.offset); a restore keeps offsets only into an empty partition, from an archive that \
                    starts at the log's first offset and has no gaps
                    """)
            }
        }
    }

    /// Every target partition exists and holds no record.
    private func checkTargets(_ partitions: [ArchiveManifest.Partition]) throws {
        let consumer = try Consumer(configuration: configuration)
        defer { consumer.close() }
        for partition in partitions {
            let marks: (low: Int64, high: Int64)
            do {
                marks = try consumer.watermarks(of: partition.topicPartition)
            } catch {
                throw ArchiveError(.targetNotEmpty, "\(partition.topicPartition) does not exist in the target cluster (\(error)); run mekong topics apply first")
            }
            guard marks.high == 0 else {
                throw ArchiveError(.targetNotEmpty, "\(partition.topicPartition) already holds records up to offset \(marks.high - 1); restore writes only into empty partitions")
            }
            if let first = partition.segments.first, first.firstOffset != 0 {
                throw ArchiveError(.offsetMismatch, "\(partition.topicPartition): the archive starts at offset \(first.firstOffset), so its records cannot keep their offsets in a new partition")
            }
        }
    }

    /// The partition's records in order, read on a thread of their own a segment chunk at a time.
    private func forEachRecord(
        of partition: ArchiveManifest.Partition, _ body: (ArchiveRecord) async throws -> Void
    ) async throws {
        for segment in partition.segments {
            let reader = try SegmentReader(directory.appendingPathComponent(segment.file))
            while true {
                let lines = try await OwnThread.run { () throws -> [ArchiveRecord] in
                    var records: [ArchiveRecord] = []
                    while records.count < chunk, let line = try reader.nextLine() {
                        records.append(try ArchiveRecord(line: line, place: "\(segment.file) line \(reader.lineNumber)"))
                    }
                    return records
                }
                if lines.isEmpty { break }
                for record in lines { try await body(record) }
            }
        }
    }
}

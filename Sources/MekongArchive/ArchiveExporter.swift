import Foundation
import MekongEvents
import MekongKafka

/// `mekong archive export`: copies partitions of the log to segment files in a directory, incrementally. Each run
/// continues every partition from the manifest's `nextOffset` up to the high watermark it finds, in segments of at
/// most `segmentRecords` records; the manifest is replaced after each segment, so an interrupted run loses at most
/// the segment it was writing and the next run starts that segment again.
///
/// Blocking (file and Kafka I/O): call it from a thread of its own, not from the concurrency pool.
public struct ArchiveExporter: Sendable {
    public let directory: URL
    public let configuration: KafkaConfiguration
    public var segmentRecords = 100_000
    /// How long a read may wait for a record the high watermark promises.
    public var idleTimeout: Duration = .seconds(30)

    public init(directory: URL, configuration: KafkaConfiguration) {
        self.directory = directory
        self.configuration = configuration
    }

    /// What one run added.
    public struct Summary: Sendable, Equatable {
        public var partitions = 0
        public var segments = 0
        public var records = 0
        public var bytes = 0
        /// Set when the archive came from another cluster and continues here (a restored cluster).
        public var adoptedCluster: String?
    }

    public func export(_ partitions: [TopicPartition]) throws -> Summary {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ArchiveError(.io, "cannot create \(directory.path): \(error.localizedDescription)")
        }
        let reader = try PartitionLogReader(configuration: configuration, idleTimeout: idleTimeout)
        defer { reader.close() }
        let cluster = try reader.clusterID()
        var summary = Summary()
        var manifest = try ArchiveManifest.read(from: directory) ?? ArchiveManifest(cluster: cluster)
        if manifest.cluster != cluster {
            try checkContinuity(of: manifest, in: reader, cluster: cluster)
            manifest.cluster = cluster
            summary.adoptedCluster = cluster
            try manifest.write(to: directory)
        }
        for partition in partitions.sorted() {
            guard let log = try reader.open(partition, from: manifest[partition]?.nextOffset) else {
                throw ArchiveError(.kafka, "the cluster has no partition \(partition): apply the topics first (mekong topics apply)")
            }
            var entry = manifest[partition] ?? ArchiveManifest.Partition(
                topic: partition.topic, partition: partition.partition, nextOffset: log.low, segments: [])
            if entry.nextOffset < log.low {
                throw ArchiveError(.recordsLost, """
                    \(partition): the log starts at offset \(log.low) but the archive holds records only up to \
                    \(entry.nextOffset - 1); offsets \(entry.nextOffset)…\(log.low - 1) were deleted before they were exported
                    """)
            }
            summary.partitions += 1
            while entry.nextOffset < log.high {
                let segment = try writeSegment(of: log, startingAt: entry.nextOffset)
                guard let segment else { break }
                entry.segments.append(segment.segment)
                entry.nextOffset = segment.segment.lastOffset + 1
                entry.lastValueHash = segment.lastValueHash
                manifest.set(entry)
                try manifest.write(to: directory)
                summary.segments += 1
                summary.records += segment.segment.records
                summary.bytes += segment.segment.bytes
            }
            if manifest[partition] == nil {
                manifest.set(entry)
                try manifest.write(to: directory)
            }
        }
        return summary
    }

    /// Writes the partition's next records (up to `segmentRecords`, below the high watermark) to a new segment.
    private func writeSegment(of log: PartitionLog, startingAt first: Int64) throws
        -> (segment: ArchiveManifest.Segment, lastValueHash: EventHash)?
    {
        guard let head = try log.peek() else { return nil }
        let file = "\(log.partition.topic)/\(log.partition.partition)/\(String(format: "%020lld", head.offset)).ndjson"
        let url = directory.appendingPathComponent(file)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw ArchiveError(.io, "cannot create \(url.deletingLastPathComponent().path): \(error.localizedDescription)")
        }
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        let writer = try SegmentWriter(partial)
        var count = 0
        var last = head.offset
        var lastHash = EventHash.zero
        var pending: [UInt8] = []
        while count < segmentRecords, let record = try log.peek() {
            let archived = ArchiveRecord(record)
            pending += archived.line
            pending.append(0x0A)
            if pending.count >= 1 << 20 {
                try writer.write(pending)
                pending.removeAll(keepingCapacity: true)
            }
            last = record.offset
            lastHash = archived.valueHash
            count += 1
            _ = try log.take(at: record.offset)
        }
        try writer.write(pending)
        let hash = try writer.finish()
        try ArchiveFiles.rename(partial, to: url)
        return (ArchiveManifest.Segment(
            file: file, firstOffset: head.offset, lastOffset: last, records: count, bytes: writer.bytes, sha256: hash),
                lastHash)
    }

    /// An archive made from another cluster continues here only if this cluster holds, at the offset before every
    /// partition's `nextOffset`, the very record the archive ends with (a cluster restored from this archive).
    private func checkContinuity(of manifest: ArchiveManifest, in reader: PartitionLogReader, cluster: String) throws {
        for entry in manifest.partitions where entry.nextOffset > 0 {
            let record = try reader.open(entry.topicPartition, from: entry.nextOffset - 1)?.peek()
            guard let record, record.offset == entry.nextOffset - 1,
                EventHash.sha256(record.value) == entry.lastValueHash
            else {
                throw ArchiveError(.invalidManifest, """
                    \(directory.path) was exported from cluster \(manifest.cluster), and cluster \(cluster) does not \
                    continue it: its \(entry.topicPartition) at offset \(entry.nextOffset - 1) is not the archive's \
                    last record. Export a different cluster to a new directory.
                    """)
            }
        }
    }
}

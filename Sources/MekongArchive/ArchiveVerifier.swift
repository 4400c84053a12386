import Foundation
import MekongEvents
import MekongKafka

/// `mekong archive verify`: reads every segment the manifest lists and checks the file's size and SHA-256, every
/// record's value against its `sha256`, the offsets (increasing, within the segment's bounds, segments in order and
/// below `nextOffset`) and the record count. Throws at the first fault, naming the file and line.
///
/// Blocking (file I/O): call it from a thread of its own.
public struct ArchiveVerifier: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public struct Summary: Sendable, Equatable {
        public var partitions = 0
        public var segments = 0
        public var records = 0
        public var bytes = 0
    }

    /// Verifies the whole archive; `visit` sees each record once it has been checked, partition by partition in
    /// offset order (the audit comparison, a restore).
    @discardableResult
    public func verify(
        only topics: Set<String>? = nil,
        visit: (ArchiveManifest.Partition, ArchiveRecord) throws -> Void = { _, _ in }
    ) throws -> Summary {
        guard let manifest = try ArchiveManifest.read(from: directory) else {
            throw ArchiveError(.invalidManifest, "\(directory.path) holds no \(ArchiveManifest.fileName)")
        }
        var summary = Summary()
        for partition in manifest.partitions where topics?.contains(partition.topic) ?? true {
            summary.partitions += 1
            var previous: Int64 = -1
            var lastHash = EventHash.zero
            for segment in partition.segments {
                guard segment.firstOffset > previous else {
                    throw ArchiveError(.corrupt, "\(segment.file): starts at offset \(segment.firstOffset), not after \(previous)")
                }
                let reader = try SegmentReader(directory.appendingPathComponent(segment.file))
                var count = 0
                while let line = try reader.nextLine() {
                    let place = "\(segment.file) line \(reader.lineNumber)"
                    let record = try ArchiveRecord(line: line, place: place)
                    guard record.offset > previous, record.offset >= segment.firstOffset, record.offset <= segment.lastOffset else {
                        throw ArchiveError(.corrupt, "\(place): offset \(record.offset) is out of order or outside \(segment.firstOffset)…\(segment.lastOffset)")
                    }
                    try visit(partition, record)
                    previous = record.offset
                    lastHash = record.valueHash
                    count += 1
                }
                guard count == segment.records, previous == segment.lastOffset else {
                    throw ArchiveError(.corrupt, "\(segment.file): \(count) records ending at \(previous); the manifest says \(segment.records) ending at \(segment.lastOffset)")
                }
                guard reader.bytes == segment.bytes, reader.hasher.finalize() == segment.sha256 else {
                    throw ArchiveError(.corrupt, "\(segment.file): \(reader.bytes) bytes with SHA-256 \(reader.hasher.finalize().hex); the manifest says \(segment.bytes) bytes, \(segment.sha256.hex)")
                }
                summary.segments += 1
                summary.records += count
                summary.bytes += reader.bytes
            }
            guard previous < partition.nextOffset, partition.segments.isEmpty || lastHash == partition.lastValueHash else {
                throw ArchiveError(.corrupt, "\(partition.topicPartition): the last record (offset \(previous)) disagrees with the manifest's nextOffset \(partition.nextOffset) or lastValueSha256")
            }
        }
        return summary
    }
}

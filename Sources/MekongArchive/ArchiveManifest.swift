import Foundation
import MekongEvents
import MekongKafka

/// `manifest.json` of an archive directory: every partition exported, its segments with their SHA-256, and the
/// next offset to export. Written whole and renamed into place after each segment, so that a crash leaves the
/// previous manifest and at most a segment file it does not list.
public struct ArchiveManifest: Sendable, Equatable {
    public static let format = "mekong-archive/1"
    public static let fileName = "manifest.json"

    /// One segment file: the records of one partition from `firstOffset` to `lastOffset`.
    public struct Segment: Sendable, Equatable {
        /// Relative to the archive directory: `TOPIC/PARTITION/FIRSTOFFSET.ndjson`.
        public let file: String
        public let firstOffset: Int64
        public let lastOffset: Int64
        public let records: Int
        public let bytes: Int
        public let sha256: EventHash
    }

    /// One partition: its segments in offset order and where the next export starts.
    public struct Partition: Sendable, Equatable {
        public let topic: String
        public let partition: Int32
        public var nextOffset: Int64
        public var segments: [Segment]
        /// SHA-256 of the last archived record's value: a cluster restored from the archive must hold it at
        /// `nextOffset - 1` for a later export to continue there.
        public var lastValueHash: EventHash = .zero

        public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
        public var records: Int { segments.reduce(0) { $0 + $1.records } }
    }

    /// The cluster the records were read from (its id), at the last export.
    public var cluster: String
    public var partitions: [Partition]

    public init(cluster: String, partitions: [Partition] = []) {
        self.cluster = cluster
        self.partitions = partitions
    }

    public subscript(partition: TopicPartition) -> Partition? {
        partitions.first { $0.topicPartition == partition }
    }

    /// Adds or replaces the entry of `partition.topicPartition`.
    mutating func set(_ partition: Partition) {
        if let index = partitions.firstIndex(where: { $0.topicPartition == partition.topicPartition }) {
            partitions[index] = partition
        } else {
            partitions.append(partition)
        }
    }

    var json: JSONValue {
        .object(JSONObject([
            ("format", .string(Self.format)),
            ("cluster", .string(cluster)),
            ("partitions", .array(partitions.sorted { $0.topicPartition < $1.topicPartition }.map { partition in
                .object(JSONObject([
                    ("topic", .string(partition.topic)), ("partition", .number(Double(partition.partition))),
                    ("nextOffset", .number(Double(partition.nextOffset))),
                    ("lastValueSha256", .string(partition.lastValueHash.hex)),
                    ("segments", .array(partition.segments.map { segment in
                        .object(JSONObject([
                            ("file", .string(segment.file)), ("firstOffset", .number(Double(segment.firstOffset))),
                            ("lastOffset", .number(Double(segment.lastOffset))),
                            ("records", .number(Double(segment.records))), ("bytes", .number(Double(segment.bytes))),
                            ("sha256", .string(segment.sha256.hex)),
                        ]))
                    })),
                ]))
            })),
        ]))
    }

    /// Reads `DIR/manifest.json`; nil when the directory has none (a new archive).
    public static func read(from directory: URL) throws(ArchiveError) -> ArchiveManifest? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        func bad(_ why: String) -> ArchiveError { ArchiveError(.invalidManifest, "\(url.path): \(why)") }
        guard let data = try? Data(contentsOf: url), let json = try? JSON.parse([UInt8](data)) else {
            throw bad("not readable JSON")
        }
        guard json["format"]?.stringValue == format else {
            throw bad("format is \(json["format"].map(JSON.serialize) ?? "missing"), expected \"\(format)\"")
        }
        guard let cluster = json["cluster"]?.stringValue, case .array(let items)? = json["partitions"] else {
            throw bad("cluster or partitions missing")
        }
        var partitions: [Partition] = []
        for (index, item) in items.enumerated() {
            guard let topic = item["topic"]?.stringValue, let partition = item["partition"]?.integerValue,
                let next = item["nextOffset"]?.integerValue, case .array(let segmentItems)? = item["segments"],
                let lastHex = item["lastValueSha256"]?.stringValue, let lastValueHash = EventHash(hex: lastHex)
            else { throw bad("partitions[\(index)] lacks topic, partition, nextOffset, lastValueSha256 or segments") }
            var segments: [Segment] = []
            for (number, segment) in segmentItems.enumerated() {
                guard let file = segment["file"]?.stringValue, !file.hasPrefix("/"), !file.contains(".."),
                    let first = segment["firstOffset"]?.integerValue, let last = segment["lastOffset"]?.integerValue,
                    let records = segment["records"]?.integerValue, let bytes = segment["bytes"]?.integerValue,
                    let hex = segment["sha256"]?.stringValue, let hash = EventHash(hex: hex)
                else { throw bad("partitions[\(index)].segments[\(number)] is incomplete or names a file outside the archive") }
                segments.append(Segment(file: file, firstOffset: first, lastOffset: last, records: Int(records),
                                        bytes: Int(bytes), sha256: hash))
            }
            partitions.append(Partition(
                topic: topic, partition: Int32(partition), nextOffset: next, segments: segments, lastValueHash: lastValueHash))
        }
        return ArchiveManifest(cluster: cluster, partitions: partitions)
    }

    /// Replaces `DIR/manifest.json` whole (written beside it, flushed, renamed).
    func write(to directory: URL) throws(ArchiveError) {
        try ArchiveFiles.replace(directory.appendingPathComponent(Self.fileName), with: JSON.serializeBytes(json) + [0x0A])
    }
}

/// File operations an archive needs to survive a crash: write beside, flush to disk, rename into place.
enum ArchiveFiles {
    static func replace(_ url: URL, with bytes: [UInt8]) throws(ArchiveError) {
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        let writer = try SegmentWriter(partial)
        try writer.write(bytes)
        try writer.finish()
        try rename(partial, to: url)
    }

    static func rename(_ from: URL, to: URL) throws(ArchiveError) {
        guard Foundation.rename(from.path, to.path) == 0 else {
            throw ArchiveError(.io, "cannot rename \(from.path) to \(to.path): \(String(cString: strerror(errno)))")
        }
        // The rename itself is durable once the directory is flushed.
        let directory = open(to.deletingLastPathComponent().path, O_RDONLY)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}

/// Appends bytes to a new file, hashing them; `finish` flushes it to disk.
final class SegmentWriter {
    private let descriptor: Int32
    let url: URL
    private(set) var hasher = EventHash.Hasher()
    private(set) var bytes = 0

    init(_ url: URL) throws(ArchiveError) {
        self.url = url
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            throw ArchiveError(.io, "cannot create \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    func write(_ chunk: [UInt8]) throws(ArchiveError) {
        hasher.update(chunk)
        bytes += chunk.count
        var written = 0
        while written < chunk.count {
            let count = chunk.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            guard count > 0 else {
                if count < 0 && errno == EINTR { continue }
                throw ArchiveError(.io, "cannot write \(url.path): \(String(cString: strerror(errno)))")
            }
            written += count
        }
    }

    /// Flushes the file to disk and closes it; returns its SHA-256.
    func finish() throws(ArchiveError) -> EventHash {
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw ArchiveError(.io, "cannot flush \(url.path): \(String(cString: strerror(errno)))")
        }
        return hasher.finalize()
    }
}

/// Reads a segment file line by line, a chunk at a time (memory stays flat whatever the file's size), hashing
/// every byte. One reader at a time: a restore hands it from thread to thread, never to two at once.
final class SegmentReader: @unchecked Sendable {
    private let handle: FileHandle
    let url: URL
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    private(set) var hasher = EventHash.Hasher()
    private(set) var bytes = 0
    /// 1-based number of the line `nextLine` returned last.
    private(set) var lineNumber = 0

    init(_ url: URL) throws(ArchiveError) {
        self.url = url
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw ArchiveError(.corrupt, "cannot open \(url.path): \(error.localizedDescription)")
        }
    }

    deinit { try? handle.close() }

    /// The next line without its newline; nil at the end of the file.
    func nextLine() throws(ArchiveError) -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = buffer[start..<newline]
                start = newline + 1
                lineNumber += 1
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                throw ArchiveError(.corrupt, "\(url.path): the last line has no newline (a cut file)")
            }
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: 1 << 20)
            } catch {
                throw ArchiveError(.io, "cannot read \(url.path): \(error.localizedDescription)")
            }
            buffer.removeFirst(start)
            start = 0
            guard let chunk, !chunk.isEmpty else {
                atEnd = true
                continue
            }
            let bytes = [UInt8](chunk)
            hasher.update(bytes)
            self.bytes += bytes.count
            buffer.append(contentsOf: bytes)
        }
    }
}

import Foundation
import MekongArchive
import MekongEvents
import MekongKafka
import MekongTestSupport
import Testing

/// `mekong archive`: the log copied to files, checked, and put back into a new cluster, on librdkafka's mock cluster.
@Suite struct ArchiveTests {
    let topic = "events"
    let partitions = (0..<3).map { TopicPartition(topic: "events", partition: Int32($0)) }

    /// A cluster with the topic, and `count` records of random keys (some null), values (any bytes), headers and
    /// timestamps, spread over the partitions by key. The generator's seed is printed with any failure.
    func cluster(with count: Int, seed: UInt64, into existing: MockCluster? = nil) async throws -> MockCluster {
        let cluster: MockCluster
        if let existing {
            cluster = existing
        } else {
            cluster = try MockCluster(brokers: 1)
            try cluster.createTopic(topic, partitions: partitions.count, replicationFactor: 1)
        }
        var random = SeededRandom(seed: seed)
        let producer = try Producer(configuration: cluster.configuration())
        let records = (0..<count).map { _ in
            OutgoingMessage(
                topic: topic, partition: Int32(random.next() % 3),
                key: random.next() % 5 == 0 ? nil : random.bytes(1 + Int(random.next() % 20)),
                value: random.bytes(Int(random.next() % 300)),
                headers: (0..<Int(random.next() % 3)).map { KafkaHeader(name: "h\($0)", value: random.bytes(Int(random.next() % 8))) },
                timestampMilliseconds: 1_600_000_000_000 + Int64(random.next() % 100_000_000_000))
        }
        for result in await producer.send(records) { _ = try result.get() }
        await producer.close()
        return cluster
    }

    /// Every record of the topic, per partition, as the archive keeps it.
    func records(in cluster: MockCluster) throws -> [TopicPartition: [ArchiveRecord]] {
        let reader = try PartitionLogReader(configuration: cluster.configuration(), idleTimeout: .seconds(10))
        defer { reader.close() }
        var all: [TopicPartition: [ArchiveRecord]] = [:]
        for partition in partitions {
            var list: [ArchiveRecord] = []
            if let log = try reader.open(partition) {
                try log.consume(below: log.high) { list.append(ArchiveRecord($0)) }
            }
            all[partition] = list
        }
        return all
    }

    func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-archive-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func exportThenRestoreGivesANewClusterEveryRecordAtItsOffset(seed: UInt64) async throws {
        let source = try await cluster(with: 120, seed: seed)
        let archive = try directory()
        defer { try? FileManager.default.removeItem(at: archive) }
        var exporter = ArchiveExporter(directory: archive, configuration: source.configuration())
        exporter.segmentRecords = 1 + Int(seed * 7)
        let first = try await OwnThread.run { [exporter] in try exporter.export(partitions) }
        #expect(first.records == 120, "seed \(seed)")
        // More records, then an incremental export: only the new ones are written.
        _ = try await cluster(with: 45, seed: seed + 100, into: source)
        let second = try await OwnThread.run { [exporter] in try exporter.export(partitions) }
        #expect(second.records == 45, "seed \(seed)")
        let verified = try await onThread { try ArchiveVerifier(directory: archive).verify() }
        #expect(verified.records == 165 && verified.partitions == 3)

        let target = try MockCluster(brokers: 1)
        try target.createTopic(topic, partitions: partitions.count, replicationFactor: 1)
        let restored = try await ArchiveRestorer(directory: archive, configuration: target.configuration()).restore()
        #expect(restored.records == 165)
        let original = try await onThread { try records(in: source) }
        let copy = try await onThread { try records(in: target) }
        for partition in partitions {
            let (restored, archived) = (copy[partition] ?? [], original[partition] ?? [])
            let firstDifference = zip(restored, archived).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(restored.count == archived.count && firstDifference == nil,
                    "seed \(seed): \(partition) differs after the restore (\(restored.count) records against \(archived.count), first difference at index \(String(describing: firstDifference)))")
        }
        #expect(original.values.reduce(0) { $0 + $1.count } == 165)
    }

    @Test func aChangedByteACutFileOrAnEditedManifestIsFoundAndNamed() async throws {
        let source = try await cluster(with: 30, seed: 9)
        let archive = try directory()
        defer { try? FileManager.default.removeItem(at: archive) }
        var exporter = ArchiveExporter(directory: archive, configuration: source.configuration())
        exporter.segmentRecords = 4
        _ = try await OwnThread.run { [exporter] in try exporter.export(partitions) }
        guard let manifest = try ArchiveManifest.read(from: archive),
            let segment = manifest.partitions.first(where: { $0.segments.count > 1 })?.segments[1]
        else {
            Issue.record("no partition with two segments")
            return
        }
        let file = archive.appendingPathComponent(segment.file)
        let original = try Data(contentsOf: file)
        // Verification reads files: on a thread of its own, never the concurrency pool's.
        func failure() async -> ArchiveError? {
            await Self.verificationFailure(archive)
        }
        #expect(await failure() == nil)

        // A record's value changed: its line names it.
        var lines = String(decoding: original, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var record = try ArchiveRecord(line: Array(lines[1].utf8), place: "test")
        let forged = ArchiveRecord(offset: record.offset, timestamp: record.timestamp, key: record.key,
                                   headers: record.headers, value: record.value + [0x21])
        let json = String(decoding: forged.line, as: UTF8.self)
        // The value and its sha256 both changed (the line is consistent): the file's hash finds it.
        lines[1] = json
        try Data(lines.joined(separator: "\n").utf8).write(to: file)
        let rewritten = await failure()
        #expect(rewritten?.code == .corrupt && rewritten?.message.contains(segment.file) == true, "\(String(describing: rewritten))")
        // Only the value changed: the line's own hash finds it, by line number.
        record = try ArchiveRecord(line: Array(String(decoding: original, as: UTF8.self).split(separator: "\n")[1].utf8), place: "test")
        lines = String(decoding: original, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[1] = lines[1].replacingOccurrences(
            of: Data(record.value).base64EncodedString(), with: Data(record.value.reversed() + [1]).base64EncodedString())
        try Data(lines.joined(separator: "\n").utf8).write(to: file)
        let changed = await failure()
        #expect(changed?.code == .corrupt && changed?.message.contains("\(segment.file) line 2") == true, "\(String(describing: changed))")
        // A cut file: the last line has no newline.
        try original.dropLast(5).write(to: file)
        #expect(await failure()?.code == .corrupt)
        try original.write(to: file)
        #expect(await failure() == nil)
        // The manifest says another count.
        let manifestURL = archive.appendingPathComponent(ArchiveManifest.fileName)
        let manifestText = try String(contentsOf: manifestURL, encoding: .utf8)
        try manifestText.replacingOccurrences(of: "\"records\":\(segment.records),", with: "\"records\":\(segment.records + 1),")
            .write(to: manifestURL, atomically: true, encoding: .utf8)
        #expect(await failure()?.code == .corrupt)
    }

    @Test func restoreWritesNothingIntoAUsedClusterOrFromACorruptArchive() async throws {
        let source = try await cluster(with: 20, seed: 4)
        let archive = try directory()
        defer { try? FileManager.default.removeItem(at: archive) }
        _ = try await OwnThread.run { try ArchiveExporter(directory: archive, configuration: source.configuration()).export(partitions) }

        // One partition of the target is in use: refused before anything is written anywhere.
        let used = try MockCluster(brokers: 1)
        try used.createTopic(topic, partitions: 3, replicationFactor: 1)
        let producer = try Producer(configuration: used.configuration())
        _ = try await producer.send(OutgoingMessage(topic: topic, partition: 1, key: nil, value: [1]))
        await producer.close()
        await #expect(throws: ArchiveError.self) {
            _ = try await ArchiveRestorer(directory: archive, configuration: used.configuration()).restore()
        }
        let after = try await onThread { try records(in: used) }
        #expect(after[partitions[0]]?.isEmpty == true && after[partitions[2]]?.isEmpty == true && after[partitions[1]]?.count == 1)

        // A corrupt archive: nothing written to an empty cluster.
        let manifest = try #require(try ArchiveManifest.read(from: archive))
        let segment = try #require(manifest.partitions.last?.segments.first)
        let file = archive.appendingPathComponent(segment.file)
        var bytes = [UInt8](try Data(contentsOf: file))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: file)
        let empty = try MockCluster(brokers: 1)
        try empty.createTopic(topic, partitions: 3, replicationFactor: 1)
        await #expect(throws: ArchiveError.self) {
            _ = try await ArchiveRestorer(directory: archive, configuration: empty.configuration()).restore()
        }
        #expect(try await onThread { try records(in: empty) }.values.allSatisfy(\.isEmpty))
    }

    /// A crash mid-export leaves a partial segment (and perhaps a whole one the manifest does not list yet): the
    /// next run writes those records again, once, and the archive verifies.
    @Test func anInterruptedExportLosesNothingAndRepeatsNothing() async throws {
        let source = try await cluster(with: 40, seed: 5)
        let archive = try directory()
        defer { try? FileManager.default.removeItem(at: archive) }
        var exporter = ArchiveExporter(directory: archive, configuration: source.configuration())
        exporter.segmentRecords = 5
        _ = try await OwnThread.run { [exporter] in try exporter.export(partitions) }
        // Roll the manifest back one segment of partition 0, as if the run died after renaming that segment.
        let manifestURL = archive.appendingPathComponent(ArchiveManifest.fileName)
        let complete = try Data(contentsOf: manifestURL)
        let manifest = try #require(try ArchiveManifest.read(from: archive))
        let zero = try #require(manifest[partitions[0]])
        let dropped = try #require(zero.segments.last)
        var json = String(decoding: complete, as: UTF8.self)
        let segmentJSON = try #require(json.range(of: ",{\"file\":\"\(dropped.file)\"") ?? json.range(of: "{\"file\":\"\(dropped.file)\""))
        let end = try #require(json[segmentJSON.upperBound...].firstIndex(of: "}"))
        json.removeSubrange(segmentJSON.lowerBound...end)
        json = json.replacingOccurrences(of: "\"nextOffset\":\(zero.nextOffset),\"lastValueSha256\":\"\(zero.lastValueHash.hex)\"",
                                         with: "\"nextOffset\":\(dropped.firstOffset),\"lastValueSha256\":\"\(EventHash.zero.hex)\"")
        try json.write(to: manifestURL, atomically: true, encoding: .utf8)
        try Data("{\"half\":".utf8).write(to: archive.appendingPathComponent("events/1/.00000000000000000099.ndjson.partial"))

        let again = try await OwnThread.run { [exporter] in try exporter.export(partitions) }
        #expect(again.records == dropped.records)
        let verified = try await onThread { try ArchiveVerifier(directory: archive).verify() }
        #expect(verified.records == 40)
        #expect(try Data(contentsOf: manifestURL) == complete)
    }

    @Test func anArchiveContinuesOnTheClusterRestoredFromItAndOnNoOther() async throws {
        let source = try await cluster(with: 25, seed: 6)
        let archive = try directory()
        defer { try? FileManager.default.removeItem(at: archive) }
        _ = try await OwnThread.run { try ArchiveExporter(directory: archive, configuration: source.configuration()).export(partitions) }
        let restored = try MockCluster(brokers: 1)
        try restored.createTopic(topic, partitions: 3, replicationFactor: 1)
        _ = try await ArchiveRestorer(directory: archive, configuration: restored.configuration()).restore()
        _ = try await cluster(with: 10, seed: 60, into: restored)
        let continued = try await OwnThread.run {
            try ArchiveExporter(directory: archive, configuration: restored.configuration()).export(partitions)
        }
        #expect(continued.records == 10 && continued.adoptedCluster != nil)
        #expect(try await onThread { try ArchiveVerifier(directory: archive).verify() }.records == 35)

        let other = try await cluster(with: 25, seed: 7)
        await #expect(throws: ArchiveError.self) {
            _ = try await OwnThread.run { try ArchiveExporter(directory: archive, configuration: other.configuration()).export(partitions) }
        }
    }
}

extension ArchiveTests {
    /// ops/archive-verify.py, written from docs/archive.md alone, accepts what the exporter writes and names the
    /// same fault as `ArchiveVerifier`: the format page says what the code does.
    @Test func theIndependentCheckerFromTheFormatPageAgrees() async throws {
        let source = try await cluster(with: 50, seed: 11)
        let archive = try directory()
        defer { try? FileManager.default.removeItem(at: archive) }
        var exporter = ArchiveExporter(directory: archive, configuration: source.configuration())
        exporter.segmentRecords = 6
        _ = try await OwnThread.run { [exporter] in try exporter.export(partitions) }
        @Sendable func check() throws -> (status: Int32, output: String) {
            let child = try ChildProcess(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["python3", MekongBinary.repositoryRoot.appendingPathComponent("ops/archive-verify.py").path, archive.path])
            let status = try child.wait(timeout: .seconds(60))
            return (status, child.standardOutput + child.standardError)
        }
        let intact = try await onThread { try check() }
        #expect(intact.status == 0 && intact.output.contains("archive intact: 50 records"), "\(intact.output)")

        let manifest = try #require(try ArchiveManifest.read(from: archive))
        let segment = try #require(manifest.partitions.first { !$0.segments.isEmpty }?.segments.first)
        let file = archive.appendingPathComponent(segment.file)
        var lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let record = try ArchiveRecord(line: Array(lines[0].utf8), place: "test")
        lines[0] = lines[0].replacingOccurrences(
            of: Data(record.value).base64EncodedString(), with: Data(record.value + [7]).base64EncodedString())
        let text = lines.joined(separator: "\n") + "\n"
        try text.write(to: file, atomically: true, encoding: .utf8)
        // Size and hash of the file updated too: only the line's own hash can find it.
        let data = Data(text.utf8)
        try String(contentsOf: archive.appendingPathComponent(ArchiveManifest.fileName), encoding: .utf8)
            .replacingOccurrences(of: segment.sha256.hex, with: EventHash.sha256([UInt8](data)).hex)
            .replacingOccurrences(of: "\"bytes\":\(segment.bytes),", with: "\"bytes\":\(data.count),")
            .write(to: archive.appendingPathComponent(ArchiveManifest.fileName), atomically: true, encoding: .utf8)
        let broken = try await onThread { try check() }
        #expect(broken.status == 1 && broken.output.contains("\(segment.file) line 1"), "\(broken.output)")
        let failure = await Self.verificationFailure(archive)
        #expect(failure?.message.contains("\(segment.file) line 1") == true, "\(String(describing: failure))")
    }
}

extension ArchiveTests {
    /// Why `ArchiveVerifier` refuses the archive, or nil; run on a thread of its own.
    static func verificationFailure(_ archive: URL) async -> ArchiveError? {
        do {
            _ = try await onThread { try ArchiveVerifier(directory: archive).verify() }
            return nil
        } catch {
            return error as? ArchiveError
        }
    }
}

extension SeededRandom {
    /// `count` random bytes.
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

import Foundation
@testable import MekongReadAPI
import MekongTestSupport
import Testing

/// gzip content coding: streamed answers of many chunks decode (with gzip(1), not our code) to exactly the identity
/// answer; the coded representation has an ETag of its own; a client that does not ask for gzip never gets it.
@Suite(.serialized) struct GzipTests {
    @Test(arguments: [
        ("gzip", true), ("GZIP;q=0.5", true), ("br, gzip", true), ("x-gzip", true), ("*", true), ("deflate, *;q=0.1", true),
        ("gzip;q=0", false), ("*;q=1, gzip;q=0", false), ("identity", false), ("br", false), ("", false), ("*;q=0", false),
    ])
    func acceptEncoding(header: String, accepted: Bool) {
        #expect(GzipStream.isAccepted(by: header) == accepted)
    }

    @Test func noAcceptEncodingNoGzip() {
        #expect(!GzipStream.isAccepted(by: nil))
    }

    /// Runs curl with `arguments`; its standard output.
    static func curl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-s"] + arguments)
        let status = try await onThread { try child.wait(timeout: .seconds(120)) }
        return (status, child.standardOutput)
    }

    @Test func aStreamedAnswerIsGzipCodedChunkByChunkAndDecodesToTheSameBytes() async throws {
        // 20 000 rows (about 3 MB of JSON, dozens of 64 KiB chunks).
        let fixture = try await StreamingMemoryTests.bigAnswer(areas: 200)
        let server = try ChildProcess(MekongBinary.url, ["serve", "--port", "0", "--database-threads", "2", "--postgres", fixture.database.url])
        defer { server.signal(SIGTERM); _ = try? server.wait(timeout: .seconds(30)) }
        let base = try await server.listeningURL()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-gzip-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (identityFile, codedFile) = (directory.appendingPathComponent("identity"), directory.appendingPathComponent("coded.gz"))

        for path in ["/v1/data/BIG?format=json", "/v1/data/BIG?format=sdmx-csv", "/v1/indicators"] {
            let plain = try await Self.curl(["-D", "-", "-o", identityFile.path, "\(base)\(path)"])
            let coded = try await Self.curl(["-D", "-", "-o", codedFile.path, "-H", "Accept-Encoding: gzip", "\(base)\(path)"])
            #expect(plain.status == 0 && coded.status == 0)
            #expect(!plain.output.lowercased().contains("content-encoding"), "\(path): \(plain.output)")
            #expect(coded.output.lowercased().contains("content-encoding: gzip"), "\(path): \(coded.output)")
            let identity = try Data(contentsOf: identityFile)
            let compressed = try Data(contentsOf: codedFile)
            #expect(compressed.prefix(2) == Data([0x1f, 0x8b]), "\(path)")
            let gunzip = try ChildProcess(URL(fileURLWithPath: "/bin/gzip"), ["-dc", codedFile.path])
            #expect(try await onThread { try gunzip.wait(timeout: .seconds(60)) } == 0, "\(gunzip.standardError)")
            #expect(Data(gunzip.standardOutput.utf8) == identity, "\(path): \(gunzip.standardOutput.utf8.count) bytes decoded, \(identity.count) sent plain")
            if path.hasPrefix("/v1/data") {
                #expect(identity.count > 1_000_000 && compressed.count * 5 < identity.count, "\(path): \(compressed.count) of \(identity.count)")
                // Each representation has its own strong ETag; If-None-Match names one representation only.
                func etag(_ headers: String) -> String {
                    headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }.map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) } ?? ""
                }
                let (plainTag, codedTag) = (etag(plain.output), etag(coded.output))
                #expect(!plainTag.isEmpty && plainTag != codedTag)
                let revalidated = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "Accept-Encoding: gzip", "-H", "If-None-Match: \(codedTag)", "\(base)\(path)"])
                #expect(revalidated.output == "304")
                let other = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: \(codedTag)", "\(base)\(path)"])
                #expect(other.output == "200")
            }
        }
    }
}

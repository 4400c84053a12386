import Foundation
import MekongStatisticalEvents
import MekongTestSupport
import Testing

/// A million-row answer through `mekong serve` as a process of its own: its resident memory while curl downloads
/// the answer must stay far below the answer's size.
@Suite(.serialized) struct StreamingMemoryTests {
    /// The resident set of a process, in bytes (`VmRSS` of /proc/<pid>/status).
    static func residentBytes(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }

    /// A fixture with the indicator BIG (not aggregated) and `areas` × 100 months of current values written straight
    /// into the projection's table (projecting a million observations through Kafka would take minutes).
    static func bigAnswer(areas: Int) async throws -> StatisticsFixture {
        let fixture = try StatisticsFixture()
        let e = fixture.events
        try await fixture.publish([
            e.indicatorDefined("BIG", nameVi: "Lớn", nameEn: "Big", unit: "unit", periodicities: ["month"], aggregated: false, at: at(1)),
        ])
        _ = try await fixture.project()
        let db = try fixture.database.connect()
        defer { db.close() }
        try db.execute(
            """
            INSERT INTO statistics_v2.observations_current
            SELECT 'BIG', to_char(2001 + m / 12, 'FM0000') || '-M' || to_char(m % 12 + 1, 'FM00'),
                   'A' || to_char(a, 'FM00000'), '{}', a * 100 + m, 'normal', 'free', NULL, 'e-' || a || '-' || m,
                   'U', 'F', 1, now(), 4, NULL
            FROM generate_series(0, $1::int - 1) a, generate_series(0, 99) m
            """, [areas])
        return fixture
    }

    @Test func aMillionRowAnswerStreamsInBoundedMemory() async throws {
        // 10 000 areas × 100 months.
        let fixture = try await Self.bigAnswer(areas: 10_000)
        let server = try ChildProcess(MekongBinary.url, ["serve", "--port", "0", "--database-threads", "2", "--postgres", fixture.database.url])
        defer { server.signal(SIGTERM); _ = try? server.wait(timeout: .seconds(30)) }
        let base = try await server.listeningURL()
        let pid = server.processIdentifier
        // Warm: the first answer's allocations (connections, pools) are not the stream's.
        let warm = try ChildProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "-o", "/dev/null", "\(base)/v1/data/BIG?area=A00000"])
        _ = try await onThread { try warm.wait(timeout: .seconds(60)) }
        let before = Self.residentBytes(pid)
        let download = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/curl"),
            ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "--limit-rate", "40M",
             "\(base)/v1/data/BIG?format=json"])
        var peak = before
        let sampler = Task {
            var highest = 0
            while !Task.isCancelled {
                highest = max(highest, Self.residentBytes(pid))
                try? await Task.sleep(for: .milliseconds(10))
            }
            return highest
        }
        let status = try await onThread { try download.wait(timeout: .seconds(300)) }
        sampler.cancel()
        peak = max(peak, await sampler.value)
        #expect(status == 0)
        let parts = download.standardOutput.split(separator: " ")
        #expect(parts.first == "200", "\(download.standardOutput)")
        let size = Int(parts.last ?? "") ?? 0
        // A million observations of about 150 bytes each.
        #expect(size > 120_000_000, "\(size) bytes")
        let grew = peak - before
        #expect(grew < 64 * 1024 * 1024, "the server grew by \(grew / 1_048_576) MiB while streaming \(size / 1_048_576) MiB")
        print("streamed \(size / 1_048_576) MiB; the server's resident memory grew by \(grew / 1_048_576) MiB (from \(before / 1_048_576) MiB)")
    }
}

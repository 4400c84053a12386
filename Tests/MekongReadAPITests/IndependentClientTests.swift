import Foundation
import MekongReadAPI
import MekongTestSupport
import Testing

/// The read API as clients that are not ours see it, on the published events of ``DataEndpointTests/scenario(_:)``:
/// Schemathesis generates requests from `openapi.yaml` and checks every answer against it; sdmx1 reads the
/// SDMX-CSV answers. Both are installed by `ops/setup.sh` (PyPI); a machine without them fails these tests.
@Suite(.serialized) struct IndependentClientTests {
    static func withServer(_ body: (URL) async throws -> Void) async throws {
        let fixture = try StatisticsFixture()
        try await DataEndpointTests.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        do {
            try await body(URL(string: "http://127.0.0.1:\(server.port)")!)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Runs `executable` off the concurrency pool (the server it talks to runs on the pool).
    static func run(_ executable: String, _ arguments: [String], in directory: URL) async throws -> (Int32, String) {
        try await onThread {
            let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [executable] + arguments, directory: directory)
            let status = try child.wait(timeout: .seconds(600))
            return (status, child.standardOutput + child.standardError)
        }
    }

    /// Property-based: requests generated from the contract (valid and invalid parameters, other methods) get no
    /// server error, only documented status codes and content types, and bodies that match their schemas.
    @Test func schemathesisFindsNoServerErrorAndNoAnswerOutsideTheContract() async throws {
        try await Self.withServer { base in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-schemathesis-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            // The path names a defined indicator, so that the generated queries reach the tables.
            try Data("[parameters]\n\"path.indicator\" = \"POP\"\n".utf8).write(to: directory.appendingPathComponent("schemathesis.toml"))
            let seed = UInt32.random(in: 1...UInt32.max)
            let (status, output) = try await Self.run(
                "schemathesis",
                ["run", base.appendingPathComponent("openapi.yaml").absoluteString, "--checks", "all", "--max-examples", "150",
                 "--seed", String(seed), "--workers", "1", "--no-color", "--generation-database", "none"],
                in: directory)
            #expect(status == 0, "schemathesis (seed \(seed)):\n\(output.suffix(6000))")
            #expect(output.contains("No issues found"), "seed \(seed)")
        }
    }

    /// sdmx1 reads the SDMX-CSV answers and finds, observation by observation, what the JSON answer says.
    @Test func sdmx1ReadsTheSDMXCSVAnswers() async throws {
        try await Self.withServer { base in
            let script = MekongBinary.repositoryRoot.appendingPathComponent("Tests/MekongReadAPITests/sdmx_check.py").path
            for (indicator, query, count) in [
                ("POP", "", 20), ("RATE", "parent=P1", 4), ("POP", "asOf=2024-01-01T00:25:00Z&area=C121,P1,VN", 6),
                ("POP", "classificationVersion=2024&startPeriod=2024-M02", 10),
            ] {
                let (status, output) = try await Self.run("python3", [script, base.absoluteString, indicator, query], in: MekongBinary.repositoryRoot)
                #expect(status == 0, "\(indicator)?\(query): \(output.suffix(3000))")
                #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == String(count), "\(indicator)?\(query): \(output)")
            }
        }
    }
}

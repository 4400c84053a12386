import Foundation
import MekongTestSupport
import Testing

/// The read API as clients that are not ours see it, on the published events of ``DataEndpointTests/scenario(_:)``:
/// Schemathesis generates requests from `openapi.yaml` and checks every answer against it; sdmx1 reads the
/// SDMX-CSV answers. Both are installed by `ops/setup.sh` (PyPI); a machine without them fails these tests.
@Suite(.serialized) struct IndependentClientTests {
    /// `mekong serve` as a process of its own, as it is deployed: its answers do not wait for this process's
    /// concurrency pool, which other tests running beside these keep busy. The anonymous quota is lifted so that
    /// the generated requests are answered, not refused with 429.
    static func withServer(_ body: (URL) async throws -> Void) async throws {
        let fixture = try StatisticsFixture()
        try await DataEndpointTests.scenario(fixture)
        let server = try ChildProcess(MekongBinary.url, [
            "serve", "--port", "0", "--database-threads", "2", "--anonymous-per-hour", "1000000",
            "--anonymous-per-day", "1000000", "--postgres", fixture.database.url,
        ])
        defer { server.signal(SIGTERM); _ = try? server.wait(timeout: .seconds(30)) }
        try await body(try await server.listeningURL())
    }

    /// Runs `executable` to completion, waiting on a thread of its own (never on the concurrency pool).
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
            // The paths name a defined indicator, a published version and a dataflow, so that the generated
            // queries reach the tables.
            try Data("""
                [parameters]
                "path.indicator" = "POP"

                [[operations]]
                include-path-regex = "^/v1/classifications/"
                parameters = { "path.classification" = "vn-admin-units", "path.version" = "2024" }

                [[operations]]
                include-path-regex = "^/v1/structure/"
                parameters = { "path.agency" = "VN_GSO", "path.dataflow" = "DF_POP", "path.version" = "1.0" }

                """.utf8).write(to: directory.appendingPathComponent("schemathesis.toml"))
            let seed = UInt32.random(in: 1...UInt32.max)
            let (status, output) = try await Self.run(
                "schemathesis",
                ["run", base.appendingPathComponent("openapi.yaml").absoluteString, "--checks", "all", "--max-examples", "150",
                 "--seed", String(seed), "--workers", "1", "--no-color", "--generation-database", "none"],
                in: directory)
            #expect(status == 0, "schemathesis (seed \(seed)):\n\(output.suffix(6000))")
            // Warnings (e.g. "missing test data" when most generated versions are unpublished: 404) leave the exit
            // status at 0 and are not failures; a run that tested nothing is.
            #expect(output.contains("generated") && !output.contains("Empty test suite") && !output.contains("No checks ran"),
                    "seed \(seed): \(output.suffix(2000))")
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

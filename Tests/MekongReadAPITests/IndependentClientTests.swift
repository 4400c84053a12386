import Foundation
import MekongReadAPI
import MekongTestSupport
import Testing

/// The read API as clients that are not ours see it, on the published events of ``DataEndpointTests/scenario(_:)``:
/// Schemathesis generates requests from `openapi.yaml` and checks every answer against it (ops/api-fuzz.sh installs
/// it on first use); sdmx1 reads the SDMX-CSV answers (installed by `ops/setup.sh`). Both come from PyPI; a machine
/// without it fails these tests.
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
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:]
    ) async throws -> (Int32, String) {
        try await onThread {
            let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), [executable] + arguments, environment: environment)
            let status = try child.wait(timeout: .seconds(600))
            return (status, child.standardOutput + child.standardError)
        }
    }

    /// Property-based (ops/api-fuzz.sh, as for the gateway): requests generated from the contract (valid and
    /// invalid parameters, other methods) get no server error, only documented status codes and content types,
    /// and bodies that match their schemas. Every check, anonymously, on a random seed the failure names.
    @Test func schemathesisFindsNoServerErrorAndNoAnswerOutsideTheContract() async throws {
        try await Self.withServer { base in
            let script = MekongBinary.repositoryRoot.appendingPathComponent("ops/api-fuzz.sh").path
            let seed = UInt32.random(in: 1...UInt32.max)
            let (status, output) = try await Self.run(
                "bash", [script, base.absoluteString, "-", "150"],
                // The path names a defined indicator, so that the generated queries reach the tables.
                environment: ["API_FUZZ_CHECKS": "all", "API_FUZZ_SEED": String(seed),
                              "API_FUZZ_PARAMETERS": "\"path.indicator\" = \"POP\""])
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
                let (status, output) = try await Self.run("python3", [script, base.absoluteString, indicator, query])
                #expect(status == 0, "\(indicator)?\(query): \(output.suffix(3000))")
                #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == String(count), "\(indicator)?\(query): \(output)")
            }
        }
    }
}

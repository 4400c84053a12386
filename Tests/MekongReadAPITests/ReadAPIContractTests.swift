import Foundation
import MekongGateway
import MekongTestSupport
import Testing

@testable import MekongReadAPI

/// `openapi.yaml` and the code that answers it say the same thing.
@Suite struct ReadAPIContractTests {
    static let document = String(decoding: OpenAPIDocument.bytes, as: UTF8.self)

    /// The `- name:` entries of a path's parameters, read from the YAML text (one operation per path here).
    static func parameterNames(of path: String) -> [String] {
        let lines = document.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(of: "  \(path):"[...]) else { return [] }
        var names: [String] = []
        for line in lines[(start + 1)...] {
            if line.hasPrefix("  "), !line.hasPrefix("   ") { break }  // the next path
            if line.hasPrefix("components:") { break }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("- name: ") { names.append(String(trimmed.dropFirst("- name: ".count))) }
        }
        return names
    }

    @Test func theShippedDocumentIsTheOneInTheRepository() throws {
        let file = try String(
            contentsOf: MekongBinary.repositoryRoot.appendingPathComponent("Sources/MekongReadAPI/openapi.yaml"), encoding: .utf8)
        #expect(Self.document == file)
        #expect(Self.document.hasPrefix("openapi: 3.1.0\n"))
    }

    @Test func theDataRouteTakesExactlyTheDocumentedParametersAndFormats() {
        // `c` is the deepObject of the component filters c[DIMENSION].
        #expect(Set(Self.parameterNames(of: "/v1/data/{indicator}")) == DataQuery.parameters.union(["indicator", "If-None-Match", "c"]))
        let formats = DataQuery.Format.allCases.map(\.rawValue).joined(separator: ", ")
        #expect(Self.document.contains("schema: {type: string, enum: [\(formats)]}"))
        for format in DataQuery.Format.allCases {
            // Each format's media type (less its charset) is one of the documented 200 answers.
            let type = format.mediaType.replacingOccurrences(of: "; charset=utf-8", with: "")
            #expect(Self.document.contains("            \(type):"), "\(type) is not documented")
        }
    }

    /// docs/read-api.md's parameter table names exactly the parameters the route takes.
    @Test func theGuideDocumentsExactlyTheParameters() throws {
        let guide = try String(contentsOf: MekongBinary.repositoryRoot.appendingPathComponent("docs/read-api.md"), encoding: .utf8)
        let section = try #require(guide.components(separatedBy: "### Data: `GET /v1/data/{indicator}`").last?
            .components(separatedBy: "\n### ").first)
        let names = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.flatMap { line in
            line.split(separator: "|")[0].matches(of: /`([^`]+)`/).map { String($0.1) }
        }
        #expect(Set(names) == DataQuery.parameters.union(["c[DIMENSION]"]), "\(names)")
    }

    /// Every documented path has a route (no database needed: an unreachable one gives 503s, not 404s), and an
    /// undocumented one has none.
    @Test func everyDocumentedPathIsServed() async throws {
        let paths = Self.document.split(separator: "\n").filter { $0.hasPrefix("  /") }.map { String($0.dropFirst(2).dropLast()) }
        #expect(paths == [
            "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/v1/data/{indicator}", "/v1/indicators",
            "/v1/indicators/{indicator}", "/v1/classifications", "/v1/classifications/{classification}/versions/{version}/codes",
            "/v1/correspondences", "/v1/structure/dataflow/{agency}/{dataflow}/{version}",
        ])
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(
            port: 0, postgres: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", databaseThreads: 1))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)
        for path in paths {
            var concrete = path
            for (placeholder, value) in [("{indicator}", "POP"), ("{classification}", "vn-admin-units"), ("{version}", "1.0"),
                                         ("{agency}", "VN_GSO"), ("{dataflow}", "DF_POP")] {
                concrete = concrete.replacingOccurrences(of: placeholder, with: value)
            }
            let answer = try await client.send("GET", concrete)
            #expect(answer.status != 404, "\(path)")
        }
        #expect(try await client.send("GET", "/readyz").status == 503)
        #expect(try await client.send("GET", "/v1/data/POP").status == 503)
        #expect(try await client.send("GET", "/v1/nothing").status == 404)
        for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "QUERY"] {
            let refused = try await client.send(method, "/v1/data/POP")
            #expect(refused.status == 405, "\(method)")
            #expect(refused.headers["allow"] == "GET, HEAD", "\(method)")
        }
        await server.stop()
    }

    /// The server answers while every thread of Swift's concurrency pool is held by blocking work (as a test
    /// runner's synchronous tests hold them): its tasks prefer the event loops (``EventLoopTaskExecutor``). A
    /// blocker gives up after 10 s, so a server that needed the pool makes this fail by its timeout, not hang.
    @Test func answersWhileTheConcurrencyPoolIsHeld() async throws {
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(
            port: 0, postgres: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", databaseThreads: 1))
        let blockers = 16
        let running = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        for _ in 0..<blockers {
            Task.detached {
                running.signal()
                _ = release.wait(timeout: .now() + 10)
            }
        }
        let answers = try await onThread { () -> [String] in
            defer { for _ in 0..<blockers { release.signal() } }
            // The pool has one thread per core; those blockers hold it once as many have started (others may be
            // held by tests running beside this one already).
            let deadline = DispatchTime.now() + .seconds(5)
            for _ in 0..<ProcessInfo.processInfo.activeProcessorCount { _ = running.wait(timeout: deadline) }
            return try ["/healthz", "/v1/data/POP", "/v1/indicators"].map { path in
                let curl = try ChildProcess(URL(fileURLWithPath: "/usr/bin/curl"), [
                    "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "http://127.0.0.1:\(server.port)\(path)",
                ])
                _ = try curl.wait(timeout: .seconds(10))
                return curl.standardOutput
            }
        }
        // 503: no database behind it, which the server finds out on its own threads, not the pool's.
        #expect(answers == ["200", "503", "503"])
        await server.stop()
    }
}

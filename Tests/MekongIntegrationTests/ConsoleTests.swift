import Foundation
import MekongEvents
import MekongKafka
import MekongStatisticalEvents
import MekongTestSupport
import Testing

/// `mekong console` in headless Chromium (console_check.py drives it over the DevTools protocol): the page loads and
/// shows the projections, a dead letter with its reason and a registered source, and an event published while it
/// is open appears in the live tail within a second.
@Suite struct ConsoleTests {
    @Test func thePageShowsProjectionsADeadLetterAndAnEventPublishedWhileItIsOpen() async throws {
        let cluster = try MockCluster(brokers: 3)
        try cluster.createCatalogTopics()
        let database = try TestDatabase.create()
        defer { database.drop() }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let environment = ["MEKONG_KAFKA": cluster.bootstrapServers, "MEKONG_POSTGRES": database.url,
                           "XDG_STATE_HOME": scratch.appendingPathComponent("state").path]
        func mekong(_ arguments: [String]) async throws {
            let result = try await ChildProcess.runOffPool(arguments, environment: environment)
            guard result.status == 0 else {
                throw DeploymentTests.DeploymentFileError(message: "mekong \(arguments.joined(separator: " ")): \(result.errors)")
            }
        }
        let events = StatisticalEvents()
        // Master data, and a report on an indicator nobody defined: the statistics projection dead-letters it.
        let file = scratch.appendingPathComponent("events.ndjson")
        let undefined = events.reportSubmitted(
            unit: "CTK01", form: "BC-DS", period: "2025-Q3",
            observations: [.init(indicator: "NOT.DEFINED", area: "01", value: 1)], source: "urn:vn:gso:province:01",
            at: Timestamp(rfc3339: "2025-10-10T01:00:00Z")!)
        try (String(decoding: undefined.canonicalJSON(), as: UTF8.self) + "\n").write(to: file, atomically: true, encoding: .utf8)
        try await mekong(["publish", "--topic", "master-data", MekongBinary.repositoryRoot.appendingPathComponent("ops/samples/master-data.ndjson").path])
        try await mekong(["publish", "--topic", "reports", file.path])
        try await mekong(["project", "statistics", "--stop-when-caught-up"])
        try await mekong(["keys", "generate", "--id", "ctk01-2026", "--out", scratch.path])
        try await mekong(["sources", "add", "ctk01", "--uri", "urn:vn:gso:province:01",
                          "--public-key", scratch.appendingPathComponent("ctk01-2026.pub").path,
                          "--type", "vn.gso.report.submitted", "--unit", "CTK01*"])

        let port = try freeTCPPort()
        let console = try ChildProcess(MekongBinary.url, ["console", "--port", String(port)], environment: environment)
        defer {
            console.signal(SIGTERM)
            _ = try? console.wait(timeout: .seconds(30))
        }
        try await DeploymentTests.waitUntilAnswering(
            URL(string: "http://127.0.0.1:\(port)/healthz")!, child: console, origin: "mekong console")

        // The event published while the page is open.
        let fresh = events.reportSubmitted(
            unit: "CTK02", form: "BC-DS", period: "2025-Q3",
            observations: [.init(indicator: "POP.TOTAL", area: "02", value: 2)], source: "urn:vn:gso:province:02",
            at: Timestamp(rfc3339: "2025-10-11T01:00:00Z")!)
        let freshFile = scratch.appendingPathComponent("fresh.ndjson")
        try (String(decoding: fresh.canonicalJSON(), as: UTF8.self) + "\n").write(to: freshFile, atomically: true, encoding: .utf8)
        var publishEnvironment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        publishEnvironment["PATH"] = publishEnvironment["PATH"] ?? "/usr/bin:/bin"
        let publish = ["/usr/bin/env"] + environment.map { "\($0.key)=\($0.value)" }.sorted()
            + [MekongBinary.url.path, "publish", "--topic", "reports", freshFile.path]
        let check = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", MekongBinary.repositoryRoot.appendingPathComponent("Tests/MekongIntegrationTests/console_check.py").path,
             "http://127.0.0.1:\(port)/?topic=reports",
             "--expect", "statistics v2", "--expect", "NOT.DEFINED", "--expect", "ctk01",
             "--publish", JSON.serialize(.array(publish.map(JSONValue.string))), "--event-id", fresh.id])
        let status = try await onThread { try check.wait(timeout: .seconds(120)) }
        #expect(status == 0, "\(check.standardOutput)\(check.standardError)")
        #expect(check.standardOutput.contains("appeared after"), "\(check.standardOutput)")
        print("console: the published event \(check.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    /// Deny by default: an address others can reach needs mutual TLS.
    @Test func theConsoleRefusesAReachableAddressWithoutClientCertificates() async throws {
        let refused = try await ChildProcess.runOffPool(
            ["console", "--host", "0.0.0.0", "--port", "0", "--kafka", "127.0.0.1:1", "--postgres", "postgresql://nobody@127.0.0.1:1/none"])
        #expect(refused.status != 0)
        #expect(refused.errors.contains("loopback") && refused.errors.contains("--tls-client-ca"), "\(refused.errors)")
    }
}

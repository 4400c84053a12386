import Foundation
import MekongEvents
import MekongKafka
import MekongStatisticalEvents
import MekongTestSupport
import Testing

/// The whole disaster, as docs/operations.md's drill runs it: the log archived and the non-derivable database state
/// dumped; then the Kafka cluster and the database are lost; a new cluster gets the archive back, a new database
/// the dump; every projection is rebuilt from the restored log and comes out with the same checksum, and the audit
/// trail verifies against the restored log.
@Suite struct DisasterRecoveryTests {
    static let projections = ["statistics", "audit", "registers", "surveys"]

    @Test func aLostClusterAndDatabaseComeBackFromTheArchiveAndTheDumpWithTheSameProjections() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-dr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let archive = scratch.appendingPathComponent("archive")
        let dump = scratch.appendingPathComponent("mekong-state.dump")
        // The audit key is kept apart from both (docs/audit-trail.md): the same key signs the rebuilt heads.
        let keys = ["MEKONG_AUDIT_KEY": scratch.appendingPathComponent("audit-heads.key").path,
                    "XDG_STATE_HOME": scratch.appendingPathComponent("state").path]
        let apiKey = scratch.appendingPathComponent("ctk01.api-key")
        let receipts = scratch.appendingPathComponent("receipts.jsonl")
        let report = scratch.appendingPathComponent("report.ndjson")
        try (String(decoding: StatisticalEvents().reportSubmitted(
            unit: "CTK01", form: "BC-DS", period: "2025-Q3",
            observations: [.init(indicator: "POP.TOTAL", area: "01", value: 2_869_904)], source: "urn:vn:gso:province:01",
            at: Timestamp(rfc3339: "2025-10-10T01:00:00Z")!
        ).canonicalJSON(), as: UTF8.self) + "\n").write(to: report, atomically: true, encoding: .utf8)

        // Before: a cluster and a database in use.
        var before: [String: String] = [:]
        var receiptsBefore = ""
        // librdkafka names a mock cluster after its address: the lost one is kept (unused) so that the new one
        // cannot reuse its address and its id, as two real clusters never share one.
        let lostCluster = try MockCluster(brokers: 3)
        do {
            let cluster = lostCluster
            try cluster.createCatalogTopics()
            let database = try TestDatabase.create()
            defer { database.drop() }
            let site = Site(kafka: cluster.bootstrapServers, postgres: database.url, environment: keys)
            try await site.mekong(["topics", "apply", "--timeout", "5"])
            for file in ["master-data", "reports", "admin-records", "survey-uploads"] {
                try await site.mekong(["publish", "--topic", file, MekongBinary.repositoryRoot.appendingPathComponent("ops/samples/\(file).ndjson").path])
            }
            let indicator = scratch.appendingPathComponent("indicator.ndjson")
            try (String(decoding: StatisticalEvents().indicatorDefined(
                "POP.TOTAL", nameVi: "Dân số", nameEn: "Population", unit: "person", periodicities: ["quarter"],
                at: Timestamp(rfc3339: "2025-01-01T00:00:00Z")!
            ).canonicalJSON(), as: UTF8.self) + "\n").write(to: indicator, atomically: true, encoding: .utf8)
            try await site.mekong(["publish", "--topic", "master-data", indicator.path])
            // Non-derivable state: a source and a reader.
            try await site.mekong(["keys", "generate", "--id", "ctk01-2026", "--out", scratch.appendingPathComponent("keys").path])
            try await site.mekong(["sources", "add", "ctk01", "--uri", "urn:vn:gso:province:01",
                                   "--public-key", scratch.appendingPathComponent("keys/ctk01-2026.pub").path,
                                   "--type", "vn.gso.report.submitted", "--unit", "CTK01*", "--area", "01",
                                   "--api-key-out", apiKey.path])
            try await site.mekong(["readers", "add", "ministry-of-finance", "--indicator", "POP.TOTAL", "--area", "01"])
            try await site.mekong(["project", "statistics", "--stop-when-caught-up"])
            // A source's submission through the gateway: receipts, the state a source relies on.
            try await site.withGateway { gateway in
                try await site.mekong(["publish", "--via", gateway, "--api-key-file", apiKey.path,
                                       "--key", scratch.appendingPathComponent("keys/ctk01-2026.key").path, "--sign-batches",
                                       "--receipts", receipts.path, report.path])
            }
            for name in Self.projections {
                try await site.mekong(["project", name, "--stop-when-caught-up"])
                before[name] = try await site.mekong(["projection", "checksum", name]).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            receiptsBefore = try site.state()
            try await site.mekong(["archive", "export", "--out", archive.path, "--segment-records", "7"])
            let verified = try await site.mekong(["archive", "verify", archive.path, "--audit"])
            #expect(verified.contains("archive intact") && !verified.contains(" 0 records agree"), "\(verified)")
            let backup = try DeploymentTests.run(
                "/usr/bin/env", ["pg_dump", "--format=custom", "--data-only", "--schema=gateway", "--schema=readers",
                                 "--file", dump.path, "--dbname", database.url], directory: scratch)
            #expect(backup.status == 0, "pg_dump: \(backup.errors)")
        }
        // The cluster and the database are gone (dropped above). A new cluster and a new database:
        let cluster = try MockCluster(brokers: 3)
        try cluster.createCatalogTopics()
        let database = try TestDatabase.create()
        defer { database.drop() }
        let site = Site(kafka: cluster.bootstrapServers, postgres: database.url, environment: keys)
        try await site.mekong(["topics", "apply", "--timeout", "5"])
        let restored = try await site.mekong(["archive", "restore", archive.path])
        #expect(restored.contains("each at its archived offset"), "\(restored)")
        // The gateway's and the readers' schemas at this version, then their rows from the dump.
        try await site.mekong(["sources", "list"])
        try await site.mekong(["readers", "list"])
        let load = try DeploymentTests.run(
            "/usr/bin/env", ["pg_restore", "--data-only", "--dbname", database.url, dump.path], directory: scratch)
        #expect(load.status == 0, "pg_restore: \(load.errors)")
        #expect(try site.state() == receiptsBefore)
        for name in Self.projections {
            try await site.mekong(["project", name, "--stop-when-caught-up"])
            let checksum = try await site.mekong(["projection", "checksum", name]).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(checksum == before[name], "\(name): \(checksum) after the restore, \(before[name] ?? "none") before")
        }
        // The source's receipts hold against the restored gateway: what it sent is what the gateway says it received.
        try await site.withGateway { gateway in
            let reconciled = try await site.mekong([
                "reconcile", "--via", gateway, "--api-key-file", apiKey.path, "--source", "ctk01",
                "--from", "2020-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "--local", receipts.path])
            #expect(reconciled.contains("1"), "\(reconciled)")
        }
        let audit = try await site.mekong(["audit", "verify", "--log"])
        #expect(audit.contains("intact"), "\(audit)")
        // The archive agrees with the rebuilt trail too, and continues on the new cluster.
        let again = try await site.mekong(["archive", "verify", archive.path, "--audit"])
        #expect(again.contains("archive intact"), "\(again)")
        let continued = try await site.mekong(["archive", "export", "--out", archive.path])
        // (It exports what the rebuild added: the projectors' dead letters, published again to the new cluster.)
        #expect(continued.contains("continues on cluster"), "\(continued)")
        #expect(try await site.mekong(["archive", "verify", archive.path]).contains("archive intact"))
        withExtendedLifetime(lostCluster) {}
    }

    /// One installation: its cluster, its database, the environment every command gets.
    struct Site {
        let kafka: String
        let postgres: String
        let environment: [String: String]

        @discardableResult
        func mekong(_ arguments: [String]) async throws -> String {
            let result = try await ChildProcess.runOffPool(
                arguments, environment: environment.merging(["MEKONG_KAFKA": kafka, "MEKONG_POSTGRES": postgres]) { $1 })
            guard result.status == 0 else {
                throw DeploymentTests.DeploymentFileError(
                    message: "mekong \(arguments.joined(separator: " ")) exited \(result.status): \(result.output)\(result.errors)")
            }
            return result.output
        }

        /// Runs `body` with a gateway of this site listening (its receipt key kept in XDG_STATE_HOME).
        func withGateway(_ body: (String) async throws -> Void) async throws {
            let port = try freeTCPPort()
            let gateway = try ChildProcess(
                MekongBinary.url, ["gateway", "--port", String(port)],
                environment: environment.merging(["MEKONG_KAFKA": kafka, "MEKONG_POSTGRES": postgres]) { $1 })
            defer {
                gateway.signal(SIGTERM)
                _ = try? gateway.wait(timeout: .seconds(30))
            }
            let base = "http://127.0.0.1:\(port)"
            try await DeploymentTests.waitUntilAnswering(URL(string: base + "/healthz")!, child: gateway, origin: "gateway")
            try await body(base)
        }

        /// The non-derivable rows, as text: sources, source keys, readers, receipts.
        func state() throws -> String {
            let result = try DeploymentTests.run("/usr/bin/env", [
                "psql", "--no-psqlrc", "--tuples-only", "--dbname", postgres, "--command",
                """
                SELECT 'sources', id, uri, api_key_sha256 FROM gateway.sources
                UNION ALL SELECT 'keys', source, key_id, public_key FROM gateway.source_keys
                UNION ALL SELECT 'receipts', idempotency_key, event_id, state FROM gateway.receipts
                UNION ALL SELECT 'readers', id, '', '' FROM readers.readers
                ORDER BY 1, 2
                """,
            ], directory: FileManager.default.temporaryDirectory)
            guard result.status == 0 else { throw DeploymentTests.DeploymentFileError(message: "psql: \(result.errors)") }
            return result.output
        }
    }
}

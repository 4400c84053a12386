import Foundation
import MekongKafka
import MekongTestSupport
import Testing

/// docs/operations.md's runnable blocks (`<!-- runbook: NAME -->` before a sh block), run as the page says: in
/// document order, in one bash with `-euo pipefail`, in an empty directory, against a mock cluster and a throwaway
/// database, with the built `mekong` on PATH. A command the page shows that fails, or no longer exists, fails this.
@Suite struct OperationsRunbookTests {
    /// The runnable blocks of a Markdown page, in order, with their names.
    static func runnableBlocks(of page: String) -> [(name: String, script: String)] {
        var blocks: [(String, String)] = []
        var pending: String?
        var current: [Substring]?
        for line in page.split(separator: "\n", omittingEmptySubsequences: false) {
            if var lines = current {
                if line.hasPrefix("```") {
                    blocks.append((pending ?? "?", lines.joined(separator: "\n")))
                    current = nil
                    pending = nil
                } else {
                    lines.append(line)
                    current = lines
                }
            } else if let match = line.firstMatch(of: #/^<!-- runbook: ([a-z0-9-]+) -->$/#) {
                pending = String(match.1)
            } else if pending != nil, line.hasPrefix("```sh") {
                current = []
            } else if pending != nil, !line.trimmingCharacters(in: .whitespaces).isEmpty {
                pending = nil  // a marker not followed by a block
            }
        }
        return blocks
    }

    @Test func theOperationsGuidesRunnableBlocksRunInOrder() async throws {
        let page = try String(contentsOf: MekongBinary.repositoryRoot.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        let blocks = Self.runnableBlocks(of: page)
        let names = blocks.map(\.name)
        let markers = page.split(separator: "\n").filter { $0.hasPrefix("<!-- runbook: ") }.count
        #expect(markers == blocks.count, "a marker without its block")
        for required in ["first-deployment-topics", "adding-a-source", "rotating-source-key", "replay", "dead-letters",
                         "pg-backup", "archive"] {
            #expect(names.contains(required), "docs/operations.md has no runnable block \(required)")
        }
        let cluster = try MockCluster(brokers: 3)
        try cluster.createCatalogTopics()
        let database = try TestDatabase.create()
        defer { database.drop() }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-runbook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let script = "set -euo pipefail\n" + blocks.map { "echo '== runbook: \($0.name)' >&2\n\($0.script)" }
            .joined(separator: "\n")
        try script.write(to: scratch.appendingPathComponent("runbooks.sh"), atomically: true, encoding: .utf8)
        let path = MekongBinary.url.deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let child = try ChildProcess(
            URL(fileURLWithPath: "/bin/bash"), ["runbooks.sh"],
            environment: ["MEKONG_KAFKA": cluster.bootstrapServers, "MEKONG_POSTGRES": database.url,
                          "MEKONG_REPO": MekongBinary.repositoryRoot.path, "PATH": path],
            directory: scratch)
        let status = try await onThread { try child.wait(timeout: .seconds(900)) }
        let lastBlock = child.standardError.matches(of: #/== runbook: ([a-z0-9-]+)/#).last.map { String($0.1) } ?? "none"
        #expect(status == 0, "docs/operations.md, block \(lastBlock), exit \(status):\n\(child.standardOutput.suffix(3000))\n\(child.standardError.suffix(3000))")
        #expect(lastBlock == names.last, "stopped at \(lastBlock)")
    }
}

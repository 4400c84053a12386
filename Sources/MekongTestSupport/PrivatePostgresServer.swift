import Foundation

/// A PostgreSQL server of the test's own (initdb in a temporary directory, its own port), for tests that stop and
/// restart the server, which must not disturb the shared development server other tests use at the same time.
///
/// PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (via `runuser`).
public final class PrivatePostgresServer: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    private static let bin = "/usr/lib/postgresql/15/bin"

    /// The URL of database `postgres` as superuser `mekong` (trust authentication on loopback only).
    public var url: String { "postgresql://mekong@127.0.0.1:\(port)/postgres?application_name=mekong-test-admin" }

    public init() throws {
        port = Int.random(in: 25_000...29_000)
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mekong-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try run(["/bin/chown", "postgres:postgres", directory.path]) }
        try runAsServerUser([
            "\(Self.bin)/initdb", "-D", directory.appendingPathComponent("data").path, "-U", "mekong", "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale", "C",
        ])
        try start()
    }

    deinit {
        try? stop(mode: "immediate")
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        try runAsServerUser([
            "\(Self.bin)/pg_ctl", "-D", directory.appendingPathComponent("data").path, "-w", "-s",
            "-l", directory.appendingPathComponent("server.log").path,
            "-o", "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ])
    }

    /// Stops the server: `fast` (sessions are terminated, then a clean shutdown) or `immediate` (like a crash).
    public func stop(mode: String = "fast") throws {
        try runAsServerUser([
            "\(Self.bin)/pg_ctl", "-D", directory.appendingPathComponent("data").path, "-w", "-s", "-m", mode, "stop",
        ])
    }

    private func runAsServerUser(_ words: [String]) throws {
        try run(getuid() == 0 ? ["/sbin/runuser", "-u", "postgres", "--"] + words : words)
    }

    /// posix_spawn and waitpid, not Foundation.Process (see TestDatabase).
    private func run(_ words: [String]) throws {
        var pid: pid_t = 0
        var arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        let spawned = posix_spawn(&pid, words[0], nil, nil, &arguments, environ)
        guard spawned == 0 else {
            throw PrivatePostgresError(message: "could not start \(words[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        guard status == 0 else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            throw PrivatePostgresError(message: "\(words.joined(separator: " ")) exited with status \(status)\n\(log.suffix(2_000))")
        }
    }
}

public struct PrivatePostgresError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

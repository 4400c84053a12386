import Foundation

/// The `mekong` executable built alongside the tests.
public enum MekongBinary {
    /// `$MEKONG_BINARY`, else `mekong` next to the test bundle (both live in the same build directory).
    public static var url: URL {
        if let path = ProcessInfo.processInfo.environment["MEKONG_BINARY"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("mekong")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("mekong")
    }

    /// The repository root (where Topics/ and Projections/ are).
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
}

/// A child process with captured output, for tests that run `mekong` as operators would (and kill it).
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private let outputBuffer = LockedBuffer()
    private let errorBuffer = LockedBuffer()
    /// Left by each reader thread at the end of its pipe.
    private let readers = DispatchGroup()

    /// Starts `executable` with `arguments`; `environment` is added to this process's environment.
    public init(_ executable: URL = MekongBinary.url, _ arguments: [String], environment: [String: String] = [:],
                directory: URL = MekongBinary.repositoryRoot) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.currentDirectoryURL = directory
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // One plain thread per pipe, reading until end of file. (FileHandle's readabilityHandler runs on a dispatch
        // source that can outlive the descriptor it watches; a CI run crashed in libdispatch's event loop with it.)
        for (pipe, buffer) in [(output, outputBuffer), (errors, errorBuffer)] {
            readers.enter()
            let handle = pipe.fileHandleForReading
            let readers = self.readers
            let thread = Thread {
                var chunk = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                    if count > 0 {
                        buffer.append(Data(chunk[..<count]))
                    } else if count == 0 || errno != EINTR {
                        break
                    }
                }
                readers.leave()
            }
            thread.start()
        }
    }

    /// Runs to completion and returns exit status and output.
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120))
        throws -> (status: Int32, output: String, errors: String)
    {
        let child = try ChildProcess(MekongBinary.url, arguments, environment: environment)
        let status = try child.wait(timeout: timeout)
        return (status, child.standardOutput, child.standardError)
    }

    /// ``run(_:environment:timeout:)`` waited for on a thread of its own, never on one of the concurrency pool's
    /// (as few as the cores): servers under test in this process answer on the pool while the child runs.
    public static func runOffPool(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120))
        async throws -> (status: Int32, output: String, errors: String)
    {
        try await onThread { try run(arguments, environment: environment, timeout: timeout) }
    }

    /// Waits for exit; kills the child and throws if it takes longer than `timeout`.
    @discardableResult
    public func wait(timeout: Duration = .seconds(120)) throws -> Int32 {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while process.isRunning {
            if clock.now > end {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw TimedOut(arguments: process.arguments ?? [], output: standardOutput, errors: standardError)
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.waitUntilExit()
        // The rest of the output; a grandchild that inherited the pipes could keep them open, hence the bound.
        _ = readers.wait(timeout: .now() + 10)
        return process.terminationStatus
    }

    /// The base URL a server child (`mekong serve`, `mekong gateway` with `--port 0`) prints once it listens
    /// ("listening on http://127.0.0.1:PORT"). Throws with its output if it exits or takes longer than `timeout`.
    public func listeningURL(timeout: Duration = .seconds(60)) async throws -> URL {
        let end = ContinuousClock.now + timeout
        while true {
            if let match = standardError.firstMatch(of: #/listening on (http://127\.0\.0\.1:[0-9]+)/#) {
                return URL(string: String(match.1))!
            }
            guard process.isRunning, ContinuousClock.now < end else {
                throw TimedOut(arguments: process.arguments ?? [], output: standardOutput, errors: standardError)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The child's process id (to read /proc/<pid>, say).
    public var processIdentifier: Int32 { process.processIdentifier }

    public func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    public var standardOutput: String { outputBuffer.text }
    public var standardError: String { errorBuffer.text }

    public struct TimedOut: Error, CustomStringConvertible {
        public let arguments: [String]
        public let output: String
        public let errors: String
        public var description: String { "mekong \(arguments.joined(separator: " ")) timed out\n\(output)\n\(errors)" }
    }
}

final class LockedBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) {
        lock.lock()
        data.append(more)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

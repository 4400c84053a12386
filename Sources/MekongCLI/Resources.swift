import ArgumentParser
import Dispatch
import Foundation
import MekongProjection
import MekongCatalog
import MekongEvidence
import MekongPostgres

/// The topic catalog (Topics/) and projection SQL (Projections/) of this installation.
enum Resources {
    static func catalog() throws -> Catalog {
        guard let directory = Catalog.locate(startingAt: nil) else {
            throw ValidationError("cannot find the Topics/ catalog: run from the repository or set MEKONG_TOPICS")
        }
        do {
            return try Catalog(directory: directory)
        } catch {
            throw ValidationError("topic catalog: \(error)")
        }
    }

    static func migrations() throws -> MigrationRunner {
        guard let directory = MigrationRunner.locate() else {
            throw ValidationError("cannot find Projections/: run from the repository or set MEKONG_PROJECTIONS")
        }
        return MigrationRunner(directory: directory)
    }

    /// A file or directory of the repository (found beside Projections/), e.g. `data/vn-admin-units`.
    static func repositoryFile(_ path: String) throws -> URL {
        let root = try migrations().directory.deletingLastPathComponent()
        let url = root.appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationError("cannot find \(path) in \(root.path)")
        }
        return url
    }
}

/// SIGINT and SIGTERM set the stop signal instead of killing the process, so the current batch finishes.
enum Signals {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func stopOnTermination(_ stop: StopSignal, then action: @escaping @Sendable () -> Void = {}) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                stop.stop()
                action()
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// Standard error, for diagnostics that must not mix with a command's output.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Pushes buffered standard output out now (for output read by another process while this one runs).
func flushStandardOutput() {
    try? FileHandle.standardOutput.synchronize()
    fflush(nil)
}

/// The installation's own keys: the gateway's receipt key and the audit trail's tree-head key.
enum Keys {
    /// `$XDG_STATE_HOME/mekong` (default `~/.local/state/mekong`).
    static var stateDirectory: String {
        (ProcessInfo.processInfo.environment["XDG_STATE_HOME"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/state").path) + "/mekong"
    }

    /// The audit key: `MEKONG_AUDIT_KEY`, else `<state>/audit/audit-heads.key`.
    static var auditKeyPath: String {
        ProcessInfo.processInfo.environment["MEKONG_AUDIT_KEY"] ?? stateDirectory + "/audit/audit-heads.key"
    }

    /// The key at `path`, created (with its .pub beside it) if missing; its key id is the file's name.
    static func loadOrCreate(at path: String, role: String) throws -> SigningKey {
        let url = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: path) { return try SigningKey(contentsOf: url) }
        let key = SigningKey(generatingWithID: url.deletingPathExtension().lastPathComponent)
        let files = try key.write(to: url.deletingLastPathComponent())
        printError("\(role): created \(files.privateFile.path) (public: \(files.publicFile.path))")
        return key
    }
}

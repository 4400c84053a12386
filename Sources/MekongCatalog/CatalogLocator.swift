import Foundation

extension Catalog {
    /// The environment variable that names the catalog directory explicitly.
    public static let environmentVariable = "MEKONG_TOPICS"

    /// Finds the catalog directory:
    /// 1. `$MEKONG_TOPICS` if set (returned only if it is a directory; no fallback, so a wrong
    ///    setting is noticed);
    /// 2. else a `Topics` directory holding at least one `<topic>/topic.json` in `startingAt`
    ///    (default: the current directory) or one of its ancestors;
    /// 3. else the same search upwards from the running executable's directory.
    /// Returns `nil` when none is found.
    public static func locate(startingAt start: URL? = nil) -> URL? {
        locate(
            startingAt: start, environment: ProcessInfo.processInfo.environment,
            currentDirectory: FileManager.default.currentDirectoryPath, executable: executablePath())
    }

    static func locate(
        startingAt start: URL?, environment: [String: String], currentDirectory: String, executable: String?
    ) -> URL? {
        if let explicit = environment[environmentVariable], !explicit.isEmpty {
            return isDirectory(explicit) ? URL(fileURLWithPath: explicit, isDirectory: true) : nil
        }
        if let found = searchUpwards(from: start?.path ?? currentDirectory) { return found }
        if let executable {
            return searchUpwards(from: URL(fileURLWithPath: executable).deletingLastPathComponent().path)
        }
        return nil
    }

    private static func searchUpwards(from path: String) -> URL? {
        var directory = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        while true {
            let candidate = directory.appendingPathComponent("Topics", isDirectory: true)
            if looksLikeCatalog(candidate.path) { return candidate }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path || directory.path == "/" { return nil }
            directory = parent
        }
    }

    private static func looksLikeCatalog(_ path: String) -> Bool {
        guard isDirectory(path), let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            return false
        }
        return names.contains { FileManager.default.fileExists(atPath: "\(path)/\($0)/topic.json") }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }

    private static func executablePath() -> String? {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        return CommandLine.arguments.first
    }
}

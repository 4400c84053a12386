import Foundation
import MekongEvents

/// Reads a `Topics/` directory, refusing anything it does not understand.
struct CatalogLoader {
    /// The directory of example events, which the loader skips (tests validate them).
    static let examplesDirectory = "examples"

    let directory: URL
    private let files = FileManager.default

    init(directory: URL) {
        self.directory = directory
    }

    func load() throws(CatalogError) -> (topics: [TopicDefinition], schemas: [EventSchema]) {
        let root = directory.lastPathComponent
        var topics: [TopicDefinition] = []
        var schemas: [EventSchema] = []
        var ownerOfType: [String: String] = [:]
        for entry in try entries(of: directory.path, display: root) {
            let display = "\(root)/\(entry.name)"
            if !entry.isDirectory {
                guard entry.name.hasSuffix(".md") else {
                    throw CatalogError(
                        file: display, message: "unexpected file (only topic directories and *.md belong here)")
                }
                continue
            }
            if entry.name == Self.examplesDirectory { continue }
            let (topic, topicSchemas) = try loadTopic(
                at: "\(directory.path)/\(entry.name)", display: display, directoryName: entry.name)
            for type in topic.eventTypes {
                if let other = ownerOfType[type] {
                    throw CatalogError(
                        file: "\(display)/topic.json",
                        message:
                            "event type '\(type)' is already carried by topic '\(other)'; each event type belongs to one topic"
                    )
                }
                ownerOfType[type] = topic.name
            }
            topics.append(topic)
            schemas += topicSchemas
        }
        guard !topics.isEmpty else {
            throw CatalogError(file: root, message: "no topic directories (Topics/<topic>/topic.json)")
        }
        return (topics, schemas)
    }

    private func loadTopic(at path: String, display: String, directoryName: String) throws(CatalogError)
        -> (TopicDefinition, [EventSchema])
    {
        let entries = try entries(of: path, display: display)
        guard entries.contains(where: { $0.name == "topic.json" && !$0.isDirectory }) else {
            throw CatalogError(file: display, message: "missing topic.json")
        }
        for entry in entries {
            let allowed =
                (entry.name == "topic.json" && !entry.isDirectory) || (entry.name == "schemas" && entry.isDirectory)
                || (entry.name.hasSuffix(".md") && !entry.isDirectory)
            guard allowed else {
                throw CatalogError(
                    file: "\(display)/\(entry.name)",
                    message: "unexpected entry (a topic holds topic.json, schemas/ and *.md)")
            }
        }
        let topicFile = "\(display)/topic.json"
        let topic = try TopicDefinition(
            json: try readJSON(at: "\(path)/topic.json", display: topicFile), file: topicFile)
        guard topic.name == directoryName else {
            throw CatalogError(
                file: topicFile, message: "'name' \"\(topic.name)\" must match its directory \"\(directoryName)\"")
        }

        var schemas: [EventSchema] = []
        if entries.contains(where: { $0.name == "schemas" }) {
            for entry in try self.entries(of: "\(path)/schemas", display: "\(display)/schemas") {
                let typeDisplay = "\(display)/schemas/\(entry.name)"
                guard entry.isDirectory else {
                    guard entry.name.hasSuffix(".md") else {
                        throw CatalogError(
                            file: typeDisplay, message: "unexpected file (schemas/ holds one directory per event type)")
                    }
                    continue
                }
                guard topic.eventTypes.contains(entry.name) else {
                    throw CatalogError(
                        file: typeDisplay,
                        message:
                            "schemas for event type '\(entry.name)', which topic '\(topic.name)' does not list in eventTypes"
                    )
                }
                schemas += try loadSchemas(
                    eventType: entry.name, at: "\(path)/schemas/\(entry.name)", display: typeDisplay)
            }
        }
        for type in topic.eventTypes where !schemas.contains(where: { $0.eventType == type }) {
            throw CatalogError(
                file: topicFile, message: "event type '\(type)' has no schema (expected schemas/\(type)/v1.schema.json)"
            )
        }
        return (topic, schemas)
    }

    private func loadSchemas(eventType: String, at path: String, display: String) throws(CatalogError) -> [EventSchema]
    {
        var schemas: [EventSchema] = []
        for entry in try entries(of: path, display: display) {
            let file = "\(display)/\(entry.name)"
            if !entry.isDirectory, entry.name.hasSuffix(".md") { continue }
            guard !entry.isDirectory, let version = Self.version(fromFileName: entry.name) else {
                throw CatalogError(
                    file: file, message: "unexpected entry (schema files are named v<N>.schema.json, N >= 1)")
            }
            let json = try readJSON(at: "\(path)/\(entry.name)", display: file)
            let expectedID = EventSchema.dataSchemaURI(eventType: eventType, version: version)
            guard json["$id"] == .string(expectedID) else {
                throw CatalogError(
                    file: file,
                    message: "'$id' must be \"\(expectedID)\", got \(json["$id"].map(JSON.serialize) ?? "nothing")")
            }
            guard json["x-event-type"] == .string(eventType) else {
                throw CatalogError(
                    file: file,
                    message:
                        "'x-event-type' must be \"\(eventType)\", got \(json["x-event-type"].map(JSON.serialize) ?? "nothing")"
                )
            }
            guard json["x-version"]?.integerValue == Int64(version) else {
                throw CatalogError(
                    file: file,
                    message: "'x-version' must be \(version), got \(json["x-version"].map(JSON.serialize) ?? "nothing")"
                )
            }
            guard json["type"] == "object" else {
                throw CatalogError(
                    file: file, message: "the root schema must declare \"type\": \"object\" (event data is an object)")
            }
            let schema = try JSONSchema(json, file: file)
            schemas.append(
                EventSchema(eventType: eventType, version: version, id: expectedID, schema: schema, file: file))
        }
        schemas.sort { $0.version < $1.version }
        for (position, schema) in schemas.enumerated() where schema.version != position + 1 {
            throw CatalogError(
                file: display, message: "schema versions must run 1, 2, 3... without gaps; v\(position + 1) is missing")
        }
        return schemas
    }

    /// "v12.schema.json" → 12; no leading zeros.
    static func version(fromFileName name: String) -> Int? {
        guard name.hasPrefix("v"), name.hasSuffix(".schema.json") else { return nil }
        let digits = name.dropFirst().dropLast(".schema.json".count)
        guard let first = digits.first, first != "0", digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        return Int(digits)
    }

    // MARK: - Files

    struct Entry {
        let name: String
        let isDirectory: Bool
    }

    /// The non-hidden entries of a directory, sorted by name.
    private func entries(of path: String, display: String) throws(CatalogError) -> [Entry] {
        var isDirectory: ObjCBool = false
        guard files.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CatalogError(file: display, message: "not a directory")
        }
        let names: [String]
        do {
            names = try files.contentsOfDirectory(atPath: path)
        } catch {
            throw CatalogError(file: display, message: "cannot list directory: \(error)")
        }
        return names.filter { !$0.hasPrefix(".") }.sorted().map { name in
            var entryIsDirectory: ObjCBool = false
            _ = files.fileExists(atPath: "\(path)/\(name)", isDirectory: &entryIsDirectory)
            return Entry(name: name, isDirectory: entryIsDirectory.boolValue)
        }
    }

    private func readJSON(at path: String, display: String) throws(CatalogError) -> JSONValue {
        guard let data = files.contents(atPath: path) else {
            throw CatalogError(file: display, message: "cannot read file")
        }
        do {
            return try JSON.parse(data)
        } catch {
            throw CatalogError(
                file: display, message: "invalid JSON at line \(error.line), column \(error.column): \(error.message)")
        }
    }
}

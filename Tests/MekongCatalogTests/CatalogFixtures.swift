import Foundation
import MekongCatalog
import MekongEvents

/// Paths and throwaway catalogs for the catalog tests.
enum CatalogFixtures {
    /// The repository's Topics/ directory, found relative to this source file.
    static let topicsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // MekongCatalogTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("Topics", isDirectory: true)

    static func realCatalog() throws -> Catalog {
        try Catalog(directory: topicsDirectory)
    }

    /// The example event of `eventType`, version 1, as a JSON object.
    static func example(_ eventType: String) throws -> JSONObject {
        let url = topicsDirectory.appendingPathComponent("examples/\(eventType).v1.json")
        let data = try Data(contentsOf: url)
        guard let object = try JSON.parse(data).objectValue else { throw FixtureError.notAnObject }
        return object
    }

    enum FixtureError: Error { case notAnObject }

    /// A fresh empty directory under the temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mekong-catalog-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ text: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    static let minimalTopic = """
        {
          "name": "things", "description": "Test topic.", "kind": "events", "partitions": 1,
          "replicationFactor": 1, "retentionMs": -1, "cleanupPolicy": "delete", "key": "<thing>",
          "eventTypes": ["vn.test.thing.happened"], "config": {}
        }
        """

    static let minimalSchema = """
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "https://schemas.mekong.gso.gov.vn/vn.test.thing.happened/v1.schema.json",
          "x-event-type": "vn.test.thing.happened", "x-version": 1,
          "type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}
        }
        """

    /// Writes a one-topic catalog (`Topics/things/...`) into a temporary directory, applying
    /// `topic` and `schema` text, and returns the Topics directory.
    static func makeCatalog(
        topic: String = minimalTopic, schema: String = minimalSchema,
        schemaFile: String = "v1.schema.json", extraFiles: [String: String] = [:]
    ) throws -> URL {
        let topics = try temporaryDirectory().appendingPathComponent("Topics", isDirectory: true)
        try write(topic, to: topics.appendingPathComponent("things/topic.json"))
        try write(schema, to: topics.appendingPathComponent("things/schemas/vn.test.thing.happened/\(schemaFile)"))
        for (path, text) in extraFiles { try write(text, to: topics.appendingPathComponent(path)) }
        return topics
    }

    /// The error loading `directory` throws, or nil if it loads.
    static func loadError(_ directory: URL) -> CatalogError? {
        do {
            _ = try Catalog(directory: directory)
            return nil
        } catch {
            return error
        }
    }
}

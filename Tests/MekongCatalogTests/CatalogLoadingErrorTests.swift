import Foundation
import Testing

@testable import MekongCatalog

@Suite("Catalog: refusing bad catalogs")
struct CatalogLoadingErrorTests {
    @Test func minimalCatalogLoads() throws {
        let catalog = try Catalog(directory: try CatalogFixtures.makeCatalog())
        #expect(catalog.topics.map(\.name) == ["things"])
        #expect(catalog.schemas(forEventType: "vn.test.thing.happened").count == 1)
    }

    @Test func unknownSchemaKeywordIsRejected() throws {
        let schema = CatalogFixtures.minimalSchema.replacingOccurrences(
            of: #"{"n": {"type": "integer"}}"#, with: #"{"n": {"type": "integer", "multipleOf": 5}}"#)
        let error = try #require(CatalogFixtures.loadError(try CatalogFixtures.makeCatalog(schema: schema)))
        #expect(error.file == "Topics/things/schemas/vn.test.thing.happened/v1.schema.json")
        #expect(error.message.hasPrefix("unsupported JSON Schema keyword 'multipleOf'"))
        #expect(error.message.hasSuffix("at #/properties/n"))
    }

    @Test func eventsTopicWithFiniteRetentionIsRejected() throws {
        let topic = CatalogFixtures.minimalTopic.replacingOccurrences(
            of: #""retentionMs": -1"#, with: #""retentionMs": 604800000"#)
        let error = try #require(CatalogFixtures.loadError(try CatalogFixtures.makeCatalog(topic: topic)))
        #expect(error.file == "Topics/things/topic.json")
        #expect(
            error.message
                == "events topic 'things' must keep every event forever: 'retentionMs' must be -1, got 604800000")
    }

    @Test func deadLetterTopicMayExpire() throws {
        let topic = CatalogFixtures.minimalTopic
            .replacingOccurrences(of: #""retentionMs": -1"#, with: #""retentionMs": 604800000"#)
            .replacingOccurrences(of: #""kind": "events""#, with: #""kind": "dead-letters""#)
        let catalog = try Catalog(directory: try CatalogFixtures.makeCatalog(topic: topic))
        #expect(catalog.eventTopics.isEmpty)
        #expect(catalog.topics.first?.kafkaConfig["retention.ms"] == "604800000")
    }

    @Test(arguments: [
        (#""cleanupPolicy": "delete""#, #""cleanupPolicy": "compact""#, "must not be compacted"),
        (#""retentionMs": -1"#, #""retentionMs": 0"#, "'retentionMs' must be -1 (keep forever) or positive"),
        (#""partitions": 1"#, #""partitions": 0"#, "'partitions' must be between 1 and 10000"),
        (#""partitions": 1"#, #""partitions": 1.5"#, "'partitions' must be an integer"),
        (#""kind": "events""#, #""kind": "stream""#, "'kind' must be"),
        (#""name": "things""#, #""name": "other""#, "must match its directory"),
        (#""config": {}"#, #""config": {"retention.ms": "1"}"#, "must not set 'retention.ms'"),
        (
            #""config": {}"#, #""config": {"min.insync.replicas": "2"}"#,
            "'min.insync.replicas' must be an integer between 1 and replicationFactor (1)"
        ),
        (#""config": {}"#, #""config": {"segment.ms": 5}"#, "must be a string"),
        (#""config": {}"#, #""config": {}, "owner": "x""#, "unknown field 'owner'"),
        (#", "config": {}"#, "", "missing field 'config'"),
        (
            #"["vn.test.thing.happened"]"#, #"["vn.test.thing.happened", "vn.test.other"]"#,
            "event type 'vn.test.other' has no schema"
        ),
        (#"["vn.test.thing.happened"]"#, #"["Thing Happened"]"#, "is not an event type"),
        (#""key": "<thing>","#, #""key": "<thing>",,"#, "invalid JSON at line 3, column"),
    ])
    func topicProblemsAreRejected(original: String, replacement: String, fragment: String) throws {
        let topic = CatalogFixtures.minimalTopic.replacingOccurrences(of: original, with: replacement)
        #expect(topic != CatalogFixtures.minimalTopic)
        let error = try #require(CatalogFixtures.loadError(try CatalogFixtures.makeCatalog(topic: topic)))
        #expect(error.message.contains(fragment), "\(error)")
        #expect(error.file == "Topics/things/topic.json")
    }

    @Test(arguments: [
        (
            "v1.schema.json", "$id\": \"https://schemas.mekong.gso.gov.vn/vn.test.thing.happened/v1",
            "$id\": \"https://schemas.mekong.gso.gov.vn/vn.test.thing.happened/v2", "'$id' must be"
        ),
        ("v1.schema.json", "\"x-version\": 1", "\"x-version\": 2", "'x-version' must be 1"),
        (
            "v1.schema.json", "\"x-event-type\": \"vn.test.thing.happened\"", "\"x-event-type\": \"vn.test.other\"",
            "'x-event-type' must be"
        ),
        ("v1.schema.json", "\"type\": \"object\", ", "", "must declare \"type\": \"object\""),
        ("v01.schema.json", "", "", "schema files are named v<N>.schema.json"),
        ("v2.schema.json", "v1.schema.json\"", "v2.schema.json\"", "without gaps; v1 is missing"),
    ])
    func schemaFileProblemsAreRejected(file: String, original: String, replacement: String, fragment: String) throws {
        var schema = CatalogFixtures.minimalSchema.replacingOccurrences(of: original, with: replacement)
        if file == "v2.schema.json" {
            schema = schema.replacingOccurrences(of: "\"x-version\": 1", with: "\"x-version\": 2")
        }
        let error = try #require(
            CatalogFixtures.loadError(try CatalogFixtures.makeCatalog(schema: schema, schemaFile: file)))
        #expect(error.message.contains(fragment), "\(error)")
    }

    @Test func strayFilesAndDirectoriesAreRejected() throws {
        let stray = try #require(
            CatalogFixtures.loadError(try CatalogFixtures.makeCatalog(extraFiles: ["things/topic.yaml": "x"])))
        #expect(stray.file == "Topics/things/topic.yaml")
        let noTopic = try #require(
            CatalogFixtures.loadError(try CatalogFixtures.makeCatalog(extraFiles: ["misc/notes.txt": "x"])))
        #expect(noTopic.file == "Topics/misc")
        #expect(noTopic.message == "missing topic.json")
        let foreignType = try #require(
            CatalogFixtures.loadError(
                try CatalogFixtures.makeCatalog(extraFiles: ["things/schemas/vn.test.other/v1.schema.json": "{}"])))
        #expect(foreignType.message.contains("does not list in eventTypes"))
        // Documentation and examples are allowed.
        _ = try Catalog(
            directory: try CatalogFixtures.makeCatalog(extraFiles: [
                "README.md": "docs", "things/NOTES.md": "docs", "examples/vn.test.thing.happened.v1.json": "{}",
            ]))
    }

    @Test func eventTypeOnTwoTopicsIsRejected() throws {
        let second = CatalogFixtures.minimalTopic.replacingOccurrences(
            of: #""name": "things""#, with: #""name": "zthings""#)
        let directory = try CatalogFixtures.makeCatalog(extraFiles: [
            "zthings/topic.json": second,
            "zthings/schemas/vn.test.thing.happened/v1.schema.json": CatalogFixtures.minimalSchema,
        ])
        let error = try #require(CatalogFixtures.loadError(directory))
        #expect(error.file == "Topics/zthings/topic.json")
        #expect(error.message.contains("already carried by topic 'things'"))
    }

    @Test func missingDirectoryIsRejected() throws {
        let missing = try CatalogFixtures.temporaryDirectory().appendingPathComponent("Topics")
        #expect(CatalogFixtures.loadError(missing)?.message == "not a directory")
        let empty = try CatalogFixtures.temporaryDirectory()
        #expect(CatalogFixtures.loadError(empty)?.message.hasPrefix("no topic directories") == true)
    }
}

import Foundation
import MekongEvents
import Testing

@testable import MekongCatalog

@Suite("Catalog: the real Topics directory")
struct CatalogTests {
    @Test func loadsAllTopics() throws {
        let catalog = try CatalogFixtures.realCatalog()
        #expect(
            catalog.topics.map(\.name) == ["admin-records", "audit-heads", "dead-letters", "master-data", "reports", "survey-uploads"])
        #expect(catalog.eventTopics.map(\.name) == ["admin-records", "master-data", "reports", "survey-uploads"])
        let reports = try #require(catalog.topic(named: "reports"))
        #expect(reports.partitions == 6)
        #expect(reports.replicationFactor == 3)
        #expect(reports.eventTypes == ["vn.gso.report.submitted"])
        #expect(reports.kafkaConfig["retention.ms"] == "-1")
        #expect(reports.kafkaConfig["cleanup.policy"] == "delete")
        #expect(reports.kafkaConfig["min.insync.replicas"] == "2")
        #expect(catalog.topic(named: "master-data")?.partitions == 3)
        #expect(catalog.topic(named: "dead-letters")?.kind == .deadLetters)
        #expect(catalog.topic(named: "dead-letters")?.retentionMs == -1)
        #expect(catalog.topic(named: "nope") == nil)
        for topic in catalog.eventTopics {
            #expect(topic.retentionMs == -1)
            #expect(topic.cleanupPolicy == "delete")
        }
    }

    @Test func findsSchemasByURIAndType() throws {
        let catalog = try CatalogFixtures.realCatalog()
        let uri = "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v1.schema.json"
        let schema = try #require(catalog.schema(forDataSchema: uri))
        #expect(schema.eventType == "vn.gso.report.submitted")
        #expect(schema.version == 1)
        #expect(schema.id == uri)
        #expect(schema.file == "Topics/reports/schemas/vn.gso.report.submitted/v1.schema.json")
        #expect(catalog.schemas(forEventType: "vn.gso.report.submitted").map(\.version) == [1, 2])
        #expect(catalog.schemas(forEventType: "vn.gso.unknown").isEmpty)
        #expect(catalog.topic(carrying: "vn.gso.classification.published")?.name == "master-data")
        #expect(
            catalog.schema(forDataSchema: "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v2.schema.json")?.version
                == 2)
        #expect(
            catalog.schema(forDataSchema: "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v3.schema.json")
                == nil)
    }

    @Test func everyExampleValidatesAndEveryTypeHasOne() throws {
        let catalog = try CatalogFixtures.realCatalog()
        let examples = CatalogFixtures.topicsDirectory.appendingPathComponent("examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".json") }
            .sorted()
        var covered: Set<String> = []
        for file in files {
            let event = try CloudEvent(decoding: Data(contentsOf: examples.appendingPathComponent(file)))
            let topic = try #require(catalog.topic(carrying: event.type), "no topic for \(file)")
            #expect(catalog.validate(event, topic: topic.name) == [], "\(file)")
            #expect(UUIDv7.isValid(event.id))
            let schema = try #require(catalog.schema(forDataSchema: event.dataschema))
            #expect(file == "\(event.type).v\(schema.version).json")
            covered.insert(event.dataschema)
        }
        let allSchemas = catalog.topics.flatMap(\.eventTypes).flatMap { catalog.schemas(forEventType: $0) }.map(\.id)
        #expect(Set(allSchemas) == covered)
        #expect(files.count == allSchemas.count)
    }

    @Test func mutatedExampleReportsExactPaths() throws {
        let catalog = try CatalogFixtures.realCatalog()
        var object = try CatalogFixtures.example("vn.gso.report.submitted")
        var data = try #require(object["data"]?.objectValue)
        var observations = try #require(data["observations"]?.arrayValue)
        var first = try #require(observations[0].objectValue)
        first["value"] = "1250.5"
        observations[0] = .object(first)
        var second = try #require(observations[1].objectValue)
        second["dimensions"] = ["sex": "F"]
        second["unit"] = "persons"
        observations[1] = .object(second)
        data["observations"] = .array(observations)
        data["period"] = "2025-Q5"
        object["data"] = .object(data)
        let event = try CloudEvent(json: .object(object))

        let problems = catalog.validate(event, topic: "reports")
        #expect(
            problems.contains(
                EventProblem(field: "data/observations/0/value", message: "must be number or null, got string")))
        #expect(
            problems.contains {
                $0.field == "data/observations/0" && $0.message.hasPrefix("must match at least one anyOf alternative")
            })
        #expect(
            problems.contains(
                EventProblem(field: "data/observations/1/dimensions", message: "missing required property 'area'")))
        #expect(
            problems.contains(
                EventProblem(field: "data/observations/1/unit", message: "property 'unit' is not allowed")))
        #expect(problems.contains { $0.field == "data/period" && $0.message.hasPrefix("must match the pattern") })
        #expect(problems.count == 5, "\(problems)")
    }

    @Test func missingValueMustBeFlaggedMissing() throws {
        let catalog = try CatalogFixtures.realCatalog()
        var object = try CatalogFixtures.example("vn.gso.report.submitted")
        var data = try #require(object["data"]?.objectValue)
        var observations = try #require(data["observations"]?.arrayValue)
        var third = try #require(observations[2].objectValue)
        third["status"] = "normal"  // value is null
        observations[2] = .object(third)
        data["observations"] = .array(observations)
        object["data"] = .object(data)
        let problems = catalog.validate(try CloudEvent(json: .object(object)), topic: "reports")
        #expect(problems.map(\.field) == ["data/observations/2"])
    }

    @Test func deleteMustNotListObservations() throws {
        let catalog = try CatalogFixtures.realCatalog()
        var object = try CatalogFixtures.example("vn.gso.report.submitted")
        var data = try #require(object["data"]?.objectValue)
        data["action"] = "delete"
        object["data"] = .object(data)
        let problems = catalog.validate(try CloudEvent(json: .object(object)), topic: "reports")
        #expect(problems.map(\.field) == ["data"])
        data["observations"] = []
        object["data"] = .object(data)
        #expect(catalog.validate(try CloudEvent(json: .object(object)), topic: "reports") == [])
    }

    @Test func refusesEventsThatDoNotFitTheTopic() throws {
        let catalog = try CatalogFixtures.realCatalog()
        let event = try CloudEvent(json: .object(try CatalogFixtures.example("vn.gso.report.submitted")))

        let unknownTopic = catalog.validate(event, topic: "report")
        #expect(unknownTopic.map(\.field) == ["topic"])
        #expect(unknownTopic.first?.message.hasPrefix("unknown topic 'report'") == true)

        let wrongTopic = catalog.validate(event, topic: "admin-records")
        #expect(wrongTopic.map(\.field) == ["type"])
        #expect(wrongTopic.first?.message.contains("it belongs on 'reports'") == true)

        var unknownSchema = event
        unknownSchema.dataschema = "https://schemas.mekong.gso.gov.vn/vn.gso.report.submitted/v9.schema.json"
        let unknown = catalog.validate(unknownSchema, topic: "reports")
        #expect(unknown.map(\.field) == ["dataschema"])
        #expect(unknown.first?.message.hasPrefix("unknown dataschema") == true)

        var foreignSchema = event
        foreignSchema.dataschema = "https://schemas.mekong.gso.gov.vn/vn.gso.survey.batch-uploaded/v1.schema.json"
        let foreign = catalog.validate(foreignSchema, topic: "reports")
        #expect(foreign.map(\.field) == ["dataschema"])
        #expect(foreign.first?.message.contains("belongs to event type 'vn.gso.survey.batch-uploaded'") == true)
    }
}

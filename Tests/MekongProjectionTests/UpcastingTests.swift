import Foundation
import MekongCatalog
import MekongEvents
import MekongKafka
import MekongProjection
import MekongPublishing
import MekongTestSupport
import Testing

/// A copy of Topics/ where `vn.gso.report.submitted` has versions 2 (`reportingUnit` renamed `reporter`) and
/// 3 (a required `channel` added), with examples.
struct EvolvedCatalog {
    static let type = "vn.gso.report.submitted"
    let directory: URL

    init(versions: Int = 3, compatibleV2: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-topics-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: MekongBinary.repositoryRoot.appendingPathComponent("Topics"), to: directory)
        let schemas = directory.appendingPathComponent("reports/schemas/\(Self.type)")
        var schema = try JSON.parse(String(contentsOf: schemas.appendingPathComponent("v1.schema.json"), encoding: .utf8)).objectValue!
        var example = try JSON.parse(String(contentsOf: directory.appendingPathComponent("examples/\(Self.type).v1.json"), encoding: .utf8)).objectValue!
        for version in 2...max(2, versions) where version <= versions {
            var properties = schema["properties"]!.objectValue!
            var required = schema["required"]!.arrayValue!
            var data = example["data"]!.objectValue!
            if version == 2 && !compatibleV2 {
                properties["reporter"] = properties["reportingUnit"]
                properties["reportingUnit"] = nil
                required = required.map { $0 == "reportingUnit" ? "reporter" : $0 }
                data = Self.v1ToV2(data)
            }
            if version == 2 && compatibleV2 {
                schema["x-compatible-with"] = 1
            } else {
                schema["x-compatible-with"] = nil
            }
            if version == 3 {
                properties["channel"] = .object(JSONObject([("enum", .array(["web", "file", "unknown"]))]))
                required.append("channel")
                data["channel"] = "web"
            }
            schema["properties"] = .object(properties)
            schema["required"] = .array(required)
            schema["$id"] = .string(EventSchema.dataSchemaURI(eventType: Self.type, version: version))
            schema["x-version"] = .number(Double(version))
            try JSON.serialize(.object(schema)).write(
                to: schemas.appendingPathComponent("v\(version).schema.json"), atomically: true, encoding: .utf8)
            example["data"] = .object(data)
            example["dataschema"] = .string(EventSchema.dataSchemaURI(eventType: Self.type, version: version))
            try JSON.serialize(.object(example)).write(
                to: directory.appendingPathComponent("examples/\(Self.type).v\(version).json"), atomically: true, encoding: .utf8)
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    func catalog() throws -> Catalog { try Catalog(directory: directory) }

    static func v1ToV2(_ data: JSONObject) -> JSONObject {
        var data = data
        data["reporter"] = data["reportingUnit"]
        data["reportingUnit"] = nil
        return data
    }

    static let upcasters = [
        Upcaster(eventType: type, from: 1) { data in .object(v1ToV2(data.objectValue!)) },
        Upcaster(eventType: type, from: 2) { data in
            var object = data.objectValue!
            object["channel"] = "unknown"
            return .object(object)
        },
    ]

    /// A report written in `version`.
    static func event(unit: String, version: Int, index: Int) -> CloudEvent {
        var event = report(unit: unit, value: Double(index), index: index)
        var data = event.data.objectValue!
        data["revision"] = nil  // this catalog evolves the repository's v1, which has no revision
        if version >= 2 { data = v1ToV2(data) }
        if version >= 3 { data["channel"] = "file" }
        event.data = .object(data)
        event.dataschema = EventSchema.dataSchemaURI(eventType: type, version: version)
        return event
    }
}

@Suite("Upcasting and schema evolution", .serialized)
struct UpcastingTests {
    @Test("events written in v1, v2 and v3 reach the projection as v3 through the upcaster chain; a missing step dead-letters")
    func upcasterChain() async throws {
        let evolved = try EvolvedCatalog()
        defer { evolved.remove() }
        let catalog = try evolved.catalog()
        let fixture = try ProjectionFixture()
        let events = (0..<30).map { EvolvedCatalog.event(unit: "unit-\($0 % 5)", version: 1 + $0 % 3, index: $0) }
        try await fixture.publish(events)

        let database = try fixture.database()
        let reader = EventReader(catalog: catalog, upcasters: Upcasters(EvolvedCatalog.upcasters))
        let summary = try await fixture.runToEnd(database, reader: reader)
        #expect(summary.applied == 30)
        #expect(summary.deadLettered == 0)
        let rows = try database.connect().query(
            "SELECT written_version, data FROM report_log_v1.events ORDER BY event_id")
        #expect(Set(try rows.map { try $0.decode(Int.self, at: 0) }) == [1, 2, 3])
        for row in rows {
            let data = try JSON.parse(try row.decode(String.self, at: 1))
            #expect(data["reporter"]?.stringValue?.hasPrefix("unit-") == true)
            #expect(data["reportingUnit"] == nil)
            let written = try row.decode(Int.self, at: 0)
            #expect(data["channel"]?.stringValue == (written == 3 ? "file" : "unknown"))
        }

        // Without the v2 → v3 upcaster, events written in v1 and v2 have no path: dead-lettered, v3 ones applied.
        let partial = try fixture.database("partial")
        let missing = EventReader(catalog: catalog, upcasters: Upcasters([EvolvedCatalog.upcasters[0]]))
        let partialSummary = try await fixture.runToEnd(partial, reader: missing)
        #expect(partialSummary.applied == 10)
        #expect(partialSummary.deadLettered == 20)
        let reasons = Set(try fixture.query(partial, "SELECT stage || ': ' || reason FROM mekong.dead_letters", String.self))
        #expect(reasons == ["upcast: no upcaster from vn.gso.report.submitted v2 to v3"])
    }

    @Test("schemas check: a new version needs an upcaster or a declared compatible change that really is compatible")
    func schemaEvolution() throws {
        let renamed = try EvolvedCatalog(versions: 2)
        defer { renamed.remove() }
        let withoutUpcaster = SchemaEvolution(catalog: try renamed.catalog(), upcasters: Upcasters()).check()
        #expect(withoutUpcaster.map(\.description) == [
            "vn.gso.report.submitted v2: no upcaster from v1 and no \"x-compatible-with\": 1 in Topics/reports/schemas/vn.gso.report.submitted/v2.schema.json; events written in v1 could not be read",
        ].map { $0.replacingOccurrences(of: "Topics/", with: renamed.directory.lastPathComponent + "/") })
        #expect(SchemaEvolution(catalog: try renamed.catalog(), upcasters: Upcasters([EvolvedCatalog.upcasters[0]])).check().isEmpty)

        // Declared compatible, and it is (v2 = v1 here): passes. Declared compatible but it adds a required field: fails.
        let compatible = try EvolvedCatalog(versions: 2, compatibleV2: true)
        defer { compatible.remove() }
        #expect(SchemaEvolution(catalog: try compatible.catalog(), upcasters: Upcasters()).check().isEmpty)
        let lying = try EvolvedCatalog(versions: 3, compatibleV2: true)
        defer { lying.remove() }
        let v3 = lying.directory.appendingPathComponent("reports/schemas/vn.gso.report.submitted/v3.schema.json")
        var schema = try JSON.parse(String(contentsOf: v3, encoding: .utf8)).objectValue!
        schema["x-compatible-with"] = 2
        try JSON.serialize(.object(schema)).write(to: v3, atomically: true, encoding: .utf8)
        let findings = SchemaEvolution(catalog: try lying.catalog(), upcasters: Upcasters()).check()
        #expect(findings.count == 1)
        #expect(findings.first?.description.contains("the v2 example, unchanged, does not fit: data: ") == true, "\(findings)")
        #expect(findings.first?.description.contains("channel") == true, "\(findings)")
        // The repository's own catalog is checked with the installation's upcasters in MekongStatisticsTests.
    }
}

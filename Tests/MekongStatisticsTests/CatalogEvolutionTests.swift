import Foundation
import MekongCatalog
import MekongEvents
import MekongKafka
import MekongProjection
import MekongStatistics
import MekongTestSupport
import Testing

@Suite struct CatalogEvolutionTests {
    static let catalog = Result { try Catalog(directory: MekongBinary.repositoryRoot.appendingPathComponent("Topics")) }

    @Test func theRepositoryCatalogPassesSchemasCheckWithTheInstallationsUpcasters() throws {
        let catalog = try Self.catalog.get()
        #expect(SchemaEvolution(catalog: catalog, upcasters: StatisticsUpcasters.all).check().isEmpty)
        // Without the report upcaster, report v2 has no path from v1: the check must say so.
        let findings = SchemaEvolution(catalog: catalog, upcasters: Upcasters()).check()
        #expect(findings.map(\.description).joined().contains("vn.gso.report.submitted v2: no upcaster from v1"))
    }

    @Test func aVersion1ReportIsReadAsRevision1AndAVersion1ClassificationAsItIs() throws {
        let reader = EventReader(catalog: try Self.catalog.get(), upcasters: StatisticsUpcasters.all)
        for (topic, type) in [("reports", "vn.gso.report.submitted"), ("master-data", "vn.gso.classification.published")] {
            let url = MekongBinary.repositoryRoot.appendingPathComponent("Topics/examples/\(type).v1.json")
            let event = try CloudEvent(decoding: Array(try Data(contentsOf: url)))
            let projected = try reader.read(event, topic: topic)
            #expect(projected.writtenVersion == 1)
            #expect(projected.event.dataschema.hasSuffix("/v2.schema.json"))
            if type == "vn.gso.report.submitted" {
                #expect(projected.event.data["revision"] == .number(1))
            } else {
                #expect(projected.event.data == event.data)  // declared compatible: unchanged
            }
        }
    }
}

@Suite struct EventDocumentationTests {
    /// docs/events.md shows the data of the newest example of every event type; each block must equal its file.
    @Test func docsEventsShowsEveryNewestExampleUnchanged() throws {
        let root = MekongBinary.repositoryRoot
        let page = try String(contentsOf: root.appendingPathComponent("docs/events.md"), encoding: .utf8)
        let catalog = try CatalogEvolutionTests.catalog.get()
        var shown = 0
        for type in Set(catalog.topics.flatMap(\.eventTypes)).sorted() {
            guard let newest = catalog.schemas(forEventType: type).last else { continue }
            let file = "Topics/examples/\(type).v\(newest.version).json"
            let example = try JSON.parse(try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8))
            guard let heading = page.range(of: "### `\(type)` v\(newest.version)\n"),
                let open = page.range(of: "```json\n", range: heading.upperBound..<page.endIndex),
                let close = page.range(of: "\n```", range: open.upperBound..<page.endIndex)
            else {
                Issue.record("docs/events.md has no example block for \(type) v\(newest.version)")
                continue
            }
            #expect(try JSON.parse(String(page[open.upperBound..<close.lowerBound])) == example["data"], "\(type)")
            shown += 1
        }
        #expect(shown == 12)
    }
}

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

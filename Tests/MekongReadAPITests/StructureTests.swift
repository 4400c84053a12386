import Foundation
import MekongEvents
import MekongGateway
import MekongIndicatorQueries
import MekongReadAPI
import MekongStatisticalEvents
import MekongTestSupport
import Testing

/// The structure routes on ``DataEndpointTests/scenario(_:)`` and a 2025 version of the units with its
/// correspondence: what they say equals the master-data tables, as known now and at an earlier time.
@Suite(.serialized) struct StructureTests {
    static func scenario(_ fixture: StatisticsFixture) async throws {
        try await DataEndpointTests.scenario(fixture)
        let e = fixture.events
        try await fixture.publish([
            e.classificationPublished(
                "vn-admin-units", version: "2025", validFrom: "2025-07-01",
                items: [Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
                        Item(code: "P8", parent: "VN", level: 2, nameVi: "Tỉnh Tám"),
                        Item(code: "P9", parent: "VN", level: 2, nameVi: "Tỉnh Chín & Mười")], at: at(70)),
            e.correspondencePublished(
                "vn-admin-units", from: "2024", to: "2025",
                mappings: [("P1", "P9", .whole), ("P2", "P8", .part(weight: 0.5, exact: true)),
                           ("P2", "P9", .part(weight: 0.5, exact: true))], at: at(71)),
        ])
        let summary = try await fixture.project()
        let reasons = try fixture.deadLetterReasons()
        #expect(summary.deadLettered == 0, "\(reasons)")
    }

    @Test func indicatorsClassificationsCodesAndCorrespondences() async throws {
        let fixture = try StatisticsFixture()
        try await Self.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)

        let indicators = try #require(try await client.send("GET", "/v1/indicators").json?.objectValue?["indicators"]?.arrayValue)
        #expect(indicators.compactMap { $0.objectValue?["code"]?.stringValue } == ["POP", "RATE"])
        let rate = try #require(try await client.send("GET", "/v1/indicators/RATE").json?.objectValue)
        #expect(rate["aggregation"]?.stringValue == "weighted-mean" && rate["weightIndicator"]?.stringValue == "POP")
        #expect(rate["unit"]?.stringValue == "percent" && rate["periodicities"]?.arrayValue == [.string("month")])
        #expect(rate["dimensions"]?.objectValue?["area"]?.stringValue == "vn-admin-units")
        // The dataflow named here is the one the data messages carry.
        let sdmx = String(decoding: try await client.send("GET", "/v1/data/RATE?format=sdmx-csv&area=VN").body, as: UTF8.self)
        #expect(sdmx.split(separator: "\n").dropFirst().allSatisfy { $0.hasPrefix("dataflow,\(rate["dataflow"]?.stringValue ?? "?"),") })
        #expect(try await client.send("GET", "/v1/indicators/GDP").status == 404)
        // As known before RATE was defined (at(2)).
        let early = try await client.send("GET", "/v1/indicators?asOf=2024-01-01T00:01:30Z")
        #expect(early.json?.objectValue?["indicators"]?.arrayValue?.compactMap { $0.objectValue?["code"]?.stringValue } == ["POP"])

        let classifications = try await client.send("GET", "/v1/classifications")
        #expect(JSON.serialize(try #require(classifications.json)) == """
            {"classifications":[{"id":"vn-admin-units","versions":[{"version":"2024","validFrom":"2024-01-01","validTo":null},\
            {"version":"2025","validFrom":"2025-07-01","validTo":null}]}]}
            """)
        let codes = try #require(try await client.send("GET", "/v1/classifications/vn-admin-units/versions/2024/codes").json?.objectValue)
        let items = (codes["codes"]?.arrayValue ?? []).compactMap { $0.objectValue }
        #expect(items.count == 10)
        let c121 = try #require(items.first { $0["code"]?.stringValue == "C121" })
        #expect(c121["parent"]?.stringValue == "D12" && c121["level"]?.numberValue == 4 && c121["name"]?.stringValue == "Xã 121")
        // Version 2024 lasts until 2025's first day.
        #expect(c121["validFrom"]?.stringValue == "2024-01-01" && c121["validTo"]?.stringValue == "2025-07-01")
        let names = try await client.send("GET", "/v1/classifications/vn-admin-units/versions/2025/codes")
        #expect(names.json?.objectValue?["codes"]?.arrayValue?.dropFirst().first?.objectValue?["name"]?.stringValue == "Tỉnh Chín & Mười")
        #expect(try await client.send("GET", "/v1/classifications/vn-admin-units/versions/2025/codes?asOf=2024-01-01T01:00:00Z").status == 404)
        #expect(try await client.send("GET", "/v1/classifications/sex/versions/1/codes").status == 404)

        let correspondences = try await client.send("GET", "/v1/correspondences?source=vn-admin-units")
        let serialized = JSON.serialize(try #require(correspondences.json))
        #expect(serialized == """
            {"correspondences":[{"sourceClassification":"vn-admin-units","sourceVersion":"2024","targetClassification":"vn-admin-units",\
            "targetVersion":"2025","mappings":[{"source":"P1","target":"P9","relation":"whole","weight":null,"exact":false},\
            {"source":"P2","target":"P8","relation":"part","weight":0.5,"exact":true},\
            {"source":"P2","target":"P9","relation":"part","weight":0.5,"exact":true}]}]}
            """, "\(serialized)")
        let none = try await client.send("GET", "/v1/correspondences?asOf=2024-01-01T01:00:00Z")
        #expect(JSON.serialize(try #require(none.json)) == #"{"correspondences":[]}"#)
        for (path, parameter) in [("/v1/indicators?area=VN", "area"), ("/v1/correspondences?source=a,b", "source"),
                                  ("/v1/classifications?asOf=soon", "asOf")] {
            let refused = try await client.send("GET", path)
            #expect(refused.status == 400 && refused.json?["parameter"]?.stringValue == parameter, "\(path)")
        }
        await server.stop()
    }

    /// The dataflow's structure message names the data structure whose components are the SDMX-CSV columns.
    @Test func eachIndicatorsDataflowComesWithItsDataStructure() async throws {
        let fixture = try StatisticsFixture()
        try await Self.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)
        let message = try await client.send("GET", "/v1/structure/dataflow/VN_GSO/DF_POP/1.0")
        #expect(message.status == 200)
        #expect(message.headers["content-type"] == "application/vnd.sdmx.structure+xml; version=2.1")
        let xml = String(decoding: message.body, as: UTF8.self)
        #expect(xml.contains(#"<str:Dataflow id="DF_POP" agencyID="VN_GSO" version="1.0""#))
        #expect(xml.contains(#"<str:Structure><Ref id="DSD_POP" version="1.0" agencyID="VN_GSO""#))
        // REF_AREA takes its codes from the code list of vn-admin-units: every code any version had, once, each
        // with its latest version's names and parent (XML-escaped).
        #expect(xml.contains(#"<str:Dimension id="REF_AREA" position="1""#))
        #expect(xml.contains(#"<str:Enumeration><Ref id="CL_vn-admin-units" version="1.0" agencyID="VN_GSO" package="codelist" class="Codelist"/></str:Enumeration>"#))
        let listed = xml.matches(of: #/<str:Code id="([^"]+)" urn="urn:sdmx:org\.sdmx\.infomodel\.codelist\.Code=VN_GSO:CL_vn-admin-units/#).map { String($0.output.1) }
        let db = try fixture.database.connect()
        defer { db.close() }
        let everCoded = try db.query(
            "SELECT code FROM statistics.items WHERE classification = 'vn-admin-units' GROUP BY code ORDER BY code COLLATE \"C\""
        ).map { try $0.decode(String.self, at: 0) }
        #expect(listed == everCoded && listed.contains("P1") && listed.contains("P9"))
        #expect(xml.contains(#"<str:Code id="P9" urn="urn:sdmx:org.sdmx.infomodel.codelist.Code=VN_GSO:CL_vn-admin-units(1.0).P9"><com:Name xml:lang="vi">Tỉnh Chín &amp; Mười</com:Name><str:Parent><Ref id="VN"/></str:Parent></str:Code>"#))
        // As known before the 2025 version, its codes are not in the list.
        let earlier = String(decoding: try await client.send("GET", "/v1/structure/dataflow/VN_GSO/DF_POP/1.0?asOf=\(at(69))").body, as: UTF8.self)
        #expect(earlier.contains(#"<str:Code id="P1""#) && !earlier.contains(#"<str:Code id="P9""#))
        #expect(try await client.send("GET", "/v1/structure/dataflow/VN_GSO/DF_POP/latest").status == 200)
        for path in ["/v1/structure/dataflow/ECB/DF_POP/1.0", "/v1/structure/dataflow/VN_GSO/DF_GDP/1.0",
                     "/v1/structure/dataflow/VN_GSO/POP/1.0", "/v1/structure/dataflow/VN_GSO/DF_POP/2.0"] {
            #expect(try await client.send("GET", path).status == 404, "\(path)")
        }
        await server.stop()
    }

    /// The same structures as SDMX-JSON 2.0, by `Accept` or `format`: the same dimensions, code lists and codes as the
    /// SDMX-ML message; an `Accept` the route has no format for is 406, an unknown `format` 400.
    @Test func theDataflowsStructureComesAsSDMXJSONToo() async throws {
        let fixture = try StatisticsFixture()
        try await Self.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)
        let path = "/v1/structure/dataflow/VN_GSO/DF_POP/1.0"
        let xml = String(decoding: try await client.send("GET", path).body, as: UTF8.self)
        let answer = try await client.send("GET", path, headers: ["Accept": "application/vnd.sdmx.structure+json"])
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "application/vnd.sdmx.structure+json; version=2.0.0")
        let data = try #require(answer.json?.objectValue?["data"]?.objectValue)
        #expect(data["dataflows"]?.arrayValue?.first?.objectValue?["structure"]?.stringValue
            == "urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=VN_GSO:DSD_POP(1.0)")
        let components = try #require(data["dataStructures"]?.arrayValue?.first?.objectValue?["dataStructureComponents"]?.objectValue)
        let dimensions = components["dimensionList"]?.objectValue?["dimensions"]?.arrayValue ?? []
        #expect(dimensions.compactMap { $0.objectValue?["id"]?.stringValue } == ["REF_AREA"])
        #expect(dimensions.first?.objectValue?["localRepresentation"]?.objectValue?["enumeration"]?.stringValue
            == "urn:sdmx:org.sdmx.infomodel.codelist.Codelist=VN_GSO:CL_vn-admin-units(1.0)")
        // Every code list of the SDMX-ML message, with the same codes in the same order.
        let lists = data["codelists"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(lists.compactMap { $0["id"]?.stringValue } == ["CL_OBS_STATUS", "CL_CONF_STATUS", "CL_vn-admin-units"])
        for list in lists {
            let id = list["id"]?.stringValue ?? ""
            let codes = list["codes"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue } ?? []
            let inXML = xml.matches(of: #/<str:Code id="([^"]+)" urn="urn:sdmx:org\.sdmx\.infomodel\.codelist\.Code=VN_GSO:([^(]+)\(/#)
                .filter { $0.output.2 == id }.map { String($0.output.1) }
            #expect(!codes.isEmpty && codes == inXML, "\(id)")
        }
        let p9 = lists.last?["codes"]?.arrayValue?.compactMap(\.objectValue).first { $0["id"]?.stringValue == "P9" }
        #expect(p9?["parent"]?.stringValue == "VN" && p9?["names"]?.objectValue?["vi"]?.stringValue == "Tỉnh Chín & Mười")
        #expect(try await client.send("GET", path + "?format=sdmx-json").headers["content-type"]
            == "application/vnd.sdmx.structure+json; version=2.0.0")
        #expect(try await client.send("GET", path + "?format=sdmx-ml", headers: ["Accept": "application/json"]).headers["content-type"]
            == "application/vnd.sdmx.structure+xml; version=2.1")
        #expect(try await client.send("GET", path, headers: ["Accept": "text/csv"]).status == 406)
        let refused = try await client.send("GET", path + "?format=xml")
        #expect(refused.status == 400 && refused.json?["parameter"]?.stringValue == "format")
        await server.stop()
    }
}

import Foundation
import MekongEvents
import MekongGateway
import MekongReadAPI
import MekongStatisticalEvents
import MekongTestSupport
import Testing

/// Published events → the statistics projection on the engine → `mekong serve`'s `/v1/data` over HTTP, against
/// the same tables read with SQL and with `mekong query`.
@Suite(.serialized) struct DataEndpointTests {
    /// VN → P1 (D11: C111, C112; D12: C121), P2 (D21: C211); POP (sum) and RATE (mean weighted by POP) for
    /// 2024-M01 and 2024-M02. C121's population is confidential, so D12, P1 and VN carry it as an input; in
    /// 2024-M01 the province P1 also reports its own population, as free: P1 − D11 would give C121's value.
    static func scenario(_ fixture: StatisticsFixture) async throws {
        let e = fixture.events
        let units = e.classificationPublished(
            "vn-admin-units", version: "2024", validFrom: "2024-01-01",
            items: [
                Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam"),
                Item(code: "P1", parent: "VN", level: 2, nameVi: "Tỉnh Một"),
                Item(code: "P2", parent: "VN", level: 2, nameVi: "Tỉnh Hai"),
                Item(code: "D11", parent: "P1", level: 3, nameVi: "Huyện 11"),
                Item(code: "D12", parent: "P1", level: 3, nameVi: "Huyện 12"),
                Item(code: "D21", parent: "P2", level: 3, nameVi: "Huyện 21"),
                Item(code: "C111", parent: "D11", level: 4, nameVi: "Xã 111"),
                Item(code: "C112", parent: "D11", level: 4, nameVi: "Xã 112"),
                Item(code: "C121", parent: "D12", level: 4, nameVi: "Xã 121"),
                Item(code: "C211", parent: "D21", level: 4, nameVi: "Xã 211"),
            ], at: at(0))
        let indicators = [
            e.indicatorDefined("POP", nameVi: "Dân số", nameEn: "Population", unit: "person", periodicities: ["month"], at: at(1)),
            e.indicatorDefined("RATE", nameVi: "Tỷ lệ", nameEn: "Rate", unit: "percent", periodicities: ["month"], weight: "POP", at: at(2)),
        ]
        let communes: [(String, Double, String, String, Double)] = [
            ("C111", 100, "normal", "free", 10), ("C112", 50, "provisional", "free", 20),
            ("C121", 37, "normal", "confidential", 30), ("C211", 20, "normal", "free", 40),
        ]
        var reports: [CloudEvent] = []
        for (month, period) in ["2024-M01", "2024-M02"].enumerated() {
            for (index, (area, population, status, confidentiality, rate)) in communes.enumerated() {
                reports.append(e.reportSubmitted(
                    unit: "U-\(area)", form: "F1", period: period,
                    observations: [
                        Observation(indicator: "POP", area: area, value: population + Double(month), status: status,
                                    confidentiality: confidentiality),
                        Observation(indicator: "RATE", area: area, value: rate),
                    ], source: "urn:test", at: at(10 + month * 10 + index)))
            }
        }
        reports.append(e.reportSubmitted(
            unit: "U-P1", form: "F1", period: "2024-M01",
            observations: [Observation(indicator: "POP", area: "P1", value: 187)], source: "urn:test", at: at(40)))
        try await fixture.publish([units] + indicators + reports)
        let summary = try await fixture.project()
        let reasons = try fixture.deadLetterReasons()
        #expect(summary.deadLettered == 0, "\(reasons)")
    }

    @Test func dataAnswersEqualTheTablesAndWithholdWhatIsNotFree() async throws {
        let fixture = try StatisticsFixture()
        try await Self.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)

        // JSON: every row of the table, in series order; values that are not free come without a value.
        let table = try fixture.rows(
            """
            SELECT period, area, value::text, status, confidentiality, origin FROM statistics.indicator_table
            WHERE indicator = 'POP' ORDER BY area, period, dimensions
            """)
        let answer = try await client.send("GET", "/v1/data/POP")
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "application/json")
        let message = try #require(answer.json?.objectValue)
        #expect(message["dataflow"]?.stringValue == "VN_GSO:DF_POP(1.0)")
        #expect(message["aggregation"]?.stringValue == "sum")
        let observations = try #require(message["observations"]?.arrayValue)
        #expect(observations.count == table.count)
        #expect(table.count == 2 * 10)
        // C121's value is confidential; every value above it (D12, P1 and VN), reported or aggregated, is withheld
        // too, so no published total contains it: P1's own report of 187 is withheld as `secondary`.
        let above: Set<String> = ["D12", "P1", "VN"]
        var withheld = 0
        for (observation, row) in zip(observations, table) {
            let object = try #require(observation.objectValue)
            let confidentiality = row[4] == "free" && above.contains(row[1]!) ? "secondary" : row[4]
            #expect(object["period"]?.stringValue == row[0])
            #expect(object["area"]?.stringValue == row[1])
            #expect(object["status"]?.stringValue == row[3])
            #expect(object["confidentiality"]?.stringValue == confidentiality, "\(object)")
            #expect(object["origin"]?.stringValue == row[5])
            if confidentiality == "free" {
                #expect(object["value"]?.numberValue == Double(row[2]!), "\(object)")
            } else {
                #expect(object["value"] == .null, "a \(confidentiality!) value was sent: \(object)")
                withheld += 1
            }
        }
        // C121, D12, P1 and VN in both months; P1's report in January is the only free one of them.
        #expect(withheld == 8)
        #expect(table.filter { $0[1] == "P1" && $0[0] == "2024-M01" }.map { $0[4] } == ["free"])
        let body = String(decoding: answer.body, as: UTF8.self)
        #expect(!body.contains("37") && !body.contains("38") && !body.contains("187"), "a withheld population leaked")
        // Asked for by area, alone and with others: the same observations as in the whole answer, withheld alike
        // (an answer that names its areas first checks whether any of them lies above a withheld value).
        let areas = Array(Set(table.map { $0[1]! })).sorted()
        for asked in areas.map({ [$0] }) + [["C111", "P1"], ["C112", "D11"], ["VN", "C121", "P2"]] {
            let part = try #require(try await client.send("GET", "/v1/data/POP?area=\(asked.joined(separator: ","))").json?.objectValue)
            #expect(part["observations"]?.arrayValue == observations.filter { asked.contains($0.objectValue?["area"]?.stringValue ?? "") },
                    "area=\(asked)")
        }

        // SDMX-CSV 2.0 by content negotiation, CSV by parameter: the same rows as `mekong query`, less the
        // withheld values.
        let sdmx = try await client.send("GET", "/v1/data/POP?area=C111,C121&startPeriod=2024-M02", headers: ["Accept": "application/vnd.sdmx.data+csv"])
        #expect(sdmx.status == 200)
        #expect(String(decoding: sdmx.body, as: UTF8.self) == """
            STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS
            dataflow,VN_GSO:DF_POP(1.0),I,C111,2024-M02,101,A,F
            dataflow,VN_GSO:DF_POP(1.0),I,C121,2024-M02,,A,C

            """)
        let csv = try await client.send("GET", "/v1/data/RATE?format=csv&parent=P1")
        #expect(csv.status == 200)
        let query = try await ChildProcess.runOffPool(["query", "indicator", "RATE", "--format", "csv", "--parent", "P1", "--postgres", fixture.database.url])
        #expect(query.status == 0, "\(query.errors)")
        #expect(query.output.split(separator: "\n").count == 1 + 4)
        let expected = query.output.split(separator: "\n").map { line in
            // RATE's aggregates over C121 take its confidentiality from the weight.
            line.contains(",confidential,") ? line.replacingOccurrences(of: #",[0-9.]+,percent,"#, with: ",,percent,", options: .regularExpression) : String(line)
        }
        #expect(String(decoding: csv.body, as: UTF8.self).split(separator: "\n").map(String.init) == expected)

        // As known before P1's own report (the query-time functions), and in the codes of version 2024 (the
        // re-expression function: P1's report counts): `mekong query`'s rows, published by the same rule.
        for (parameters, options) in [
            ("asOf=\(at(25).text)", ["--as-of", at(25).text]), ("classificationVersion=2024", ["--classification-version", "2024"]),
            ("classificationVersion=2024&parent=P1", ["--classification-version", "2024", "--parent", "P1"]),
        ] {
            let answer = try await client.send("GET", "/v1/data/POP?format=csv&\(parameters)")
            #expect(answer.status == 200, "\(parameters): \(String(decoding: answer.body, as: UTF8.self))")
            let query = try await ChildProcess.runOffPool(["query", "indicator", "POP", "--format", "csv", "--postgres", fixture.database.url] + options)
            #expect(query.status == 0, "\(query.errors)")
            let published = query.output.split(separator: "\n").enumerated().map { index, line -> String in
                var fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard index > 0, fields.count == 8 else { return String(line) }
                if fields[6] == "free", above.contains(fields[2]) { fields[6] = "secondary" }
                if fields[6] != "free" { fields[3] = "" }
                return fields.joined(separator: ",")
            }
            #expect(String(decoding: answer.body, as: UTF8.self).split(separator: "\n").map(String.init) == published, "\(parameters)")
            #expect(published.contains { $0.contains(",secondary,") } == (parameters == "classificationVersion=2024"))
            #expect(published.count == (parameters.hasSuffix("P1") ? 1 + 4 : 1 + 20), "\(parameters)")
        }

        await server.stop()
    }

    @Test func refusalsNameTheParameter() async throws {
        let fixture = try StatisticsFixture()
        try await Self.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)
        let cases: [(String, [String: String], Int, String, String?)] = [
            ("/v1/data/POP?areas=C111", [:], 400, "invalid-parameter", "areas"),
            ("/v1/data/POP?startPeriod=2024-13", [:], 400, "invalid-parameter", "startPeriod"),
            ("/v1/data/POP?endPeriod=0000", [:], 400, "invalid-parameter", "endPeriod"),
            ("/v1/data/POP?classificationVersion=2031", [:], 404, "not-found", "classificationVersion"),
            ("/v1/data/POP?area=C111,,C112", [:], 400, "invalid-parameter", "area"),
            ("/v1/data/POP?format=xml", [:], 400, "invalid-parameter", "format"),
            ("/v1/data/POP?asOf=", [:], 400, "invalid-parameter", "asOf"),
            ("/v1/data/POP", ["Accept": "application/xml"], 406, "not-acceptable", nil),
            ("/v1/data/GDP", [:], 404, "not-found", nil),
            ("/v1/data/POP?c[SEX]=F", [:], 404, "not-found", "c[SEX]"),
            ("/v1/data/POP?c[area]=P1", [:], 400, "invalid-parameter", "c[area]"),
            ("/v1/data/POP?c[sex]=F,,M", [:], 400, "invalid-parameter", "c[sex]"),
        ]
        for (path, headers, status, code, parameter) in cases {
            let answer = try await client.send("GET", path, headers: headers)
            #expect(answer.status == status, "\(path): \(String(decoding: answer.body, as: UTF8.self))")
            #expect(answer.headers["content-type"] == "application/problem+json", "\(path)")
            let problem = answer.json?.objectValue
            #expect(problem?["code"]?.stringValue == code, "\(path)")
            #expect(problem?["parameter"]?.stringValue == parameter, "\(path)")
        }
        let ready = try await client.send("GET", "/readyz")
        #expect(ready.status == 200)
        let openapi = try await client.send("GET", "/openapi.yaml")
        #expect(String(decoding: openapi.body, as: UTF8.self).hasPrefix("openapi: 3.1.0"))
        await server.stop()
    }

    /// SDMX component filters on a dimension besides area, `c[SEX]=F` or `c[sex]=F,M`: the rows of those codes,
    /// reported and rolled up, as `mekong query --dimension` gives them.
    @Test func componentFiltersSelectTheCodesOfADimension() async throws {
        let fixture = try StatisticsFixture()
        try await Self.scenario(fixture)
        let e = fixture.events
        try await fixture.publish([
            e.classificationPublished(
                "sex", version: "1", validFrom: "2000-01-01",
                items: [Item(code: "F", parent: nil, level: 1, nameVi: "Nữ"), Item(code: "M", parent: nil, level: 1, nameVi: "Nam")],
                at: at(60)),
            e.indicatorDefined("LD.EMP", nameVi: "Lao động", nameEn: "Employed", unit: "person", periodicities: ["month"],
                               dimensions: [("sex", "sex")], at: at(61)),
            e.reportSubmitted(
                unit: "U-E", form: "LD", period: "2024-M01",
                observations: [
                    Observation(indicator: "LD.EMP", area: "C111", otherDimensions: [("sex", "F")], value: 30),
                    Observation(indicator: "LD.EMP", area: "C111", otherDimensions: [("sex", "M")], value: 25),
                    Observation(indicator: "LD.EMP", area: "C211", otherDimensions: [("sex", "F")], value: 7),
                ], source: "urn:test", at: at(62)),
        ])
        let summary = try await fixture.project()
        #expect(summary.deadLettered == 0)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)
        let women = String(decoding: try await client.send("GET", "/v1/data/LD.EMP?format=csv&c[SEX]=F&area=C111,C211,VN").body, as: UTF8.self)
        #expect(women == """
            indicator,period,area,sex,value,unit,status,confidentiality,origin
            LD.EMP,2024-M01,C111,F,30,person,normal,free,reported
            LD.EMP,2024-M01,C211,F,7,person,normal,free,reported
            LD.EMP,2024-M01,VN,F,37,person,normal,free,aggregated

            """)
        let query = try await ChildProcess.runOffPool(
            ["query", "indicator", "LD.EMP", "--format", "csv", "--dimension", "sex=F", "--area", "VN", "--postgres", fixture.database.url])
        #expect(query.status == 0, "\(query.errors)")
        #expect(query.output.hasSuffix("LD.EMP,2024-M01,VN,F,37,person,normal,free,aggregated\n"), "\(query.output)")
        let both = try await client.send("GET", "/v1/data/LD.EMP?c[sex]=F,M&area=VN")
        #expect(both.json?.objectValue?["observations"]?.arrayValue?.compactMap { $0.objectValue?["value"]?.numberValue } == [37, 25])
        // SDMX-JSON of an indicator whose code has a dot: ids are SDMX ids (the dot written @), the sex codes a
        // dimension of their own.
        let message = try #require(try await client.send("GET", "/v1/data/LD.EMP?format=sdmx-json&area=VN").json?.objectValue)
        let meta = message["meta"]?.objectValue?["id"]?.stringValue ?? ""
        #expect(meta.hasPrefix("DF_LD@EMP-") && (try? #/^[A-Za-z0-9_@$-]+$/#.wholeMatch(in: meta)) != nil, "\(meta)")
        let dimensions = message["data"]?.objectValue?["structures"]?.arrayValue?.first?.objectValue?["dimensions"]?.objectValue?["observation"]?.arrayValue
        #expect(dimensions?.compactMap { $0.objectValue?["id"]?.stringValue } == ["REF_AREA", "SEX", "TIME_PERIOD"])
        #expect(dimensions?[1].objectValue?["values"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } == ["Nữ", "Nam"])
        // `mekong query --format sdmx-json` writes the same message (its values all free here, so in full too).
        let cli = try await ChildProcess.runOffPool(
            ["query", "indicator", "LD.EMP", "--format", "sdmx-json", "--area", "VN", "--postgres", fixture.database.url])
        #expect(cli.status == 0, "\(cli.errors)")
        let printed = try JSON.parse(cli.output).objectValue?["data"]
        #expect(printed != nil && printed == message["data"], "\(cli.output)")
        let none = try await client.send("GET", "/v1/data/LD.EMP?c[sex]=X")
        #expect(none.status == 200 && none.json?.objectValue?["observations"]?.arrayValue?.isEmpty == true)
        await server.stop()
    }
}

import Foundation
import MekongGateway
import MekongReadAPI
import MekongStatisticalEvents
import MekongTestSupport
import Testing

/// ETag, If-None-Match and Last-Modified on the data and structure routes, against the projection moving underneath.
@Suite(.serialized) struct CachingTests {
    @Test func anUnchangedAnswerIs304AndABatchOrAnotherQuestionChangesTheETag() async throws {
        let fixture = try StatisticsFixture()
        try await DataEndpointTests.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)

        let first = try await client.send("GET", "/v1/data/POP?area=C111")
        let etag = try #require(first.headers["etag"])
        #expect(etag.count == 34 && etag.hasPrefix("\"") && etag.hasSuffix("\""))
        let lastModified = try #require(first.headers["last-modified"])
        #expect(lastModified.hasSuffix(" GMT") && lastModified.count == 29, "\(lastModified)")
        // The same question again: the same validators; named in If-None-Match (also weakly, or in a list): 304.
        let again = try await client.send("GET", "/v1/data/POP?area=C111")
        #expect(again.headers["etag"] == etag && again.body == first.body)
        for header in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
            let cached = try await client.send("GET", "/v1/data/POP?area=C111", headers: ["If-None-Match": header])
            #expect(cached.status == 304, "\(header)")
            #expect(cached.body.isEmpty && cached.headers["etag"] == etag, "\(header)")
        }
        #expect(try await client.send("GET", "/v1/data/POP?area=C111", headers: ["If-None-Match": "\"other\""]).status == 200)
        // Another format or another question: another ETag.
        let csv = try await client.send("GET", "/v1/data/POP?area=C111&format=csv")
        let other = try await client.send("GET", "/v1/data/POP?area=C112")
        #expect(Set([etag, csv.headers["etag"], other.headers["etag"]]).count == 3)

        // A batch lands (C111 revised): the old ETag no longer matches, and the answer is the new one.
        try await fixture.publish([fixture.events.reportSubmitted(
            unit: "U-C111", form: "F1", period: "2024-M01", revision: 2,
            observations: [Observation(indicator: "POP", area: "C111", value: 111)], source: "urn:test", at: at(60))])
        _ = try await fixture.project()
        let revised = try await client.send("GET", "/v1/data/POP?area=C111", headers: ["If-None-Match": etag])
        #expect(revised.status == 200)
        #expect(revised.headers["etag"] != etag)
        #expect(String(decoding: revised.body, as: UTF8.self).contains("\"value\" : 111"))
        // An SDMX-JSON message says when it was prepared: its ETag is weak, and still revalidates.
        let message = try await client.send("GET", "/v1/data/POP?area=C111&format=sdmx-json")
        let weak = try #require(message.headers["etag"])
        #expect(weak.hasPrefix("W/\"") && weak.count == 36)
        #expect(try await client.send("GET", "/v1/data/POP?area=C111&format=sdmx-json", headers: ["If-None-Match": weak]).status == 304)
        await server.stop()
    }

    /// Structure answers have weak validators read in their own snapshot: 304 while the master data stands, another
    /// ETag for another representation, and a new one once a batch lands.
    @Test func structureAnswersRevalidateUntilABatchLands() async throws {
        let fixture = try StatisticsFixture()
        try await DataEndpointTests.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)
        let paths = ["/v1/indicators", "/v1/classifications", "/v1/structure/dataflow/VN_GSO/DF_POP/1.0"]
        var tags: [String: String] = [:]
        for path in paths {
            let first = try await client.send("GET", path)
            let etag = try #require(first.headers["etag"])
            #expect(etag.hasPrefix("W/\"") && first.headers["last-modified"] != nil, "\(path)")
            let cached = try await client.send("GET", path, headers: ["If-None-Match": etag])
            #expect(cached.status == 304 && cached.body.isEmpty && cached.headers["etag"] == etag, "\(path)")
            tags[path] = etag
        }
        #expect(Set(tags.values).count == paths.count)
        let json = try await client.send("GET", "/v1/structure/dataflow/VN_GSO/DF_POP/1.0?format=sdmx-json")
        #expect(json.headers["etag"] != tags["/v1/structure/dataflow/VN_GSO/DF_POP/1.0"])

        try await fixture.publish([fixture.events.reportSubmitted(
            unit: "U-C111", form: "F1", period: "2024-M01", revision: 2,
            observations: [Observation(indicator: "POP", area: "C111", value: 111)], source: "urn:test", at: at(60))])
        _ = try await fixture.project()
        for path in paths {
            let after = try await client.send("GET", path, headers: ["If-None-Match": tags[path] ?? ""])
            #expect(after.status == 200 && after.headers["etag"] != tags[path], "\(path)")
        }
        await server.stop()
    }
}

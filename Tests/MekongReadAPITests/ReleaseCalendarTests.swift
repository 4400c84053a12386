import Foundation
import MekongEvents
import MekongGateway
import MekongReadAPI
import MekongStatisticalEvents
import MekongTestSupport
import Synchronization
import Testing

/// The release calendar over HTTP, on a clock the test moves, and a sweep of every route, format and parameter
/// for values anonymous readers must not get.
@Suite(.serialized) struct ReleaseCalendarTests {
    /// ``DataEndpointTests/scenario(_:)`` and February 2024 of POP scheduled for release at 2026-12-05T02:00:00Z.
    static let release = Timestamp(rfc3339: "2026-12-05T02:00:00Z")!

    static func scenario(_ fixture: StatisticsFixture) async throws {
        try await DataEndpointTests.scenario(fixture)
        try await fixture.publish([fixture.events.releaseScheduled("POP", period: "2024-M02", releaseTime: release, at: at(50))])
        _ = try await fixture.project()
        #expect(try fixture.rows("SELECT period, release_time::text FROM statistics.releases") == [["2024-M02", "2026-12-05 02:00:00+00"]])
    }

    static func periods(_ answer: GatewayClient.Answer) -> Set<String> {
        Set((answer.json?.objectValue?["observations"]?.arrayValue ?? []).compactMap { $0.objectValue?["period"]?.stringValue })
    }

    @Test func aPeriodIsInvisibleUntilItsReleaseTimeThenAppearsWithoutAnythingRepublished() async throws {
        let fixture = try StatisticsFixture()
        try await Self.scenario(fixture)
        let clock = Mutex<Double>(Self.release.secondsSinceEpoch - 60)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(
            port: 0, postgres: fixture.database.url, databaseThreads: 2,
            now: { Date(timeIntervalSince1970: clock.withLock { $0 }) }))
        let base = URL(string: "http://127.0.0.1:\(server.port)")!
        let added = try await ChildProcess.runOffPool(["readers", "add", "nso", "--indicator", "*", "--area", "*", "--postgres", fixture.database.url])
        let full = GatewayClient(baseURL: base, apiKey: try #require(added.output.split(separator: "\n").last.map(String.init)))
        let embargoed = try await ChildProcess.runOffPool(
            ["readers", "add", "press-office", "--indicator", "POP", "--area", "*", "--embargo", "--postgres", fixture.database.url])
        let pressOffice = GatewayClient(baseURL: base, apiKey: try #require(embargoed.output.split(separator: "\n").last.map(String.init)))
        let anonymous = GatewayClient(baseURL: base, apiKey: nil)

        // A minute before: February is invisible to anonymous readers and to a key without the embargo scope, in
        // reported values and aggregates alike; RATE has no release scheduled.
        #expect(Self.periods(try await anonymous.send("GET", "/v1/data/POP")) == ["2024-M01"])
        #expect(Self.periods(try await full.send("GET", "/v1/data/POP")) == ["2024-M01"])
        #expect(Self.periods(try await pressOffice.send("GET", "/v1/data/POP")) == ["2024-M01", "2024-M02"])
        #expect(Self.periods(try await anonymous.send("GET", "/v1/data/RATE")) == ["2024-M01", "2024-M02"])
        // At the release time it is there, for everyone, as published data.
        clock.withLock { $0 = Self.release.secondsSinceEpoch }
        let released = try await anonymous.send("GET", "/v1/data/POP?startPeriod=2024-M02&area=C111")
        #expect(Self.periods(released) == ["2024-M02"])
        #expect(released.json?.objectValue?["observations"]?.arrayValue?.first?.objectValue?["value"]?.numberValue == 101)
        await server.stop()
    }

    /// Every route, format and parameter combination, anonymously, before the release: no confidential value
    /// (C121's 37 and 38, P1's own 187 and everything above them), and nothing of February.
    @Test func noWithheldOrEmbargoedValueLeavesThroughAnyRouteOrFormat() async throws {
        let fixture = try StatisticsFixture()
        try await Self.scenario(fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(
            port: 0, postgres: fixture.database.url, databaseThreads: 2,
            now: { Date(timeIntervalSince1970: Self.release.secondsSinceEpoch - 1) }))
        let anonymous = GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil)
        // January's withheld values, as the table holds them (C121, D12, P1's report, P1 and VN).
        let secret = try fixture.rows(
            """
            SELECT value::text FROM statistics.indicator_table
            WHERE indicator = 'POP' AND period = '2024-M01' AND area IN ('C121', 'D12', 'P1', 'VN')
            """).compactMap { $0[0] }
        #expect(Set(secret) == ["37", "187", "207"])
        let queries = ["", "area=C121", "area=P1,VN", "parent=P1", "parent=VN", "startPeriod=2024-M01", "endPeriod=2024-M02",
                       "asOf=2030-01-01", "asOf=2024-01-01T00:25:00Z", "classificationVersion=2024",
                       "classificationVersion=2024&parent=P1", "updatedAfter=2024-01-01", "updatedAfter=2024-01-01T00:25:00Z",
                       "updatedAfter=2024-01-01&parent=P1", "updatedAfter=2024-01-01&classificationVersion=2024",
                       "updatedAfter=2024-01-01&asOf=2030-01-01"]
        var answers = 0
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml", "/v1/indicators", "/v1/indicators/POP",
                     "/v1/classifications", "/v1/classifications/vn-admin-units/versions/2024/codes", "/v1/correspondences",
                     "/v1/structure/dataflow/VN_GSO/DF_POP/1.0"] {
            let body = String(decoding: try await anonymous.send("GET", path).body, as: UTF8.self)
            #expect(!body.contains("2024-M02"), "\(path)")
        }
        for indicator in ["POP", "RATE"] {
            for query in queries {
                for format in ["json", "sdmx-json", "csv", "sdmx-csv"] {
                    let path = "/v1/data/\(indicator)?format=\(format)" + (query.isEmpty ? "" : "&\(query)")
                    let answer = try await anonymous.send("GET", path)
                    #expect(answer.status == 200, "\(path)")
                    let body = String(decoding: answer.body, as: UTF8.self)
                    let fields = Set(body.split(whereSeparator: { ",:{}[]\"\n ".contains($0) }).map(String.init))
                    if indicator == "POP" {
                        #expect(fields.isDisjoint(with: secret), "\(path): \(fields.intersection(secret))")
                        #expect(!body.contains("2024-M02"), "\(path) shows the embargoed period")
                    }
                    answers += 1
                }
            }
        }
        #expect(answers == 2 * queries.count * 4)
        await server.stop()
    }
}

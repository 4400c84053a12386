import Foundation
import MekongAccess
import MekongGateway
import MekongReadAPI
import MekongTestSupport
import Synchronization
import Testing

/// Readers with keys, their scopes and quotas, on the events of ``DataEndpointTests/scenario(_:)`` (C121's
/// population confidential, P1's own January report free).
@Suite(.serialized) struct ReadersTests {
    /// `mekong readers add …`: the key it prints once.
    static func addReader(_ arguments: [String], _ fixture: StatisticsFixture) async throws -> String {
        let added = try await ChildProcess.runOffPool(["readers", "add"] + arguments + ["--postgres", fixture.database.url])
        #expect(added.status == 0, "\(added.errors)")
        return try #require(added.output.split(separator: "\n").last.map(String.init), "\(added.output)")
    }

    /// Each JSON observation as "area period value confidentiality".
    static func observations(_ answer: GatewayClient.Answer) throws -> [String] {
        try #require(answer.json?.objectValue?["observations"]?.arrayValue).map { observation in
            let object = observation.objectValue ?? [:]
            let value = object["value"]?.numberValue.map { String(Int($0)) } ?? "-"
            return [object["area"]?.stringValue, object["period"]?.stringValue, value, object["confidentiality"]?.stringValue]
                .map { $0 ?? "?" }.joined(separator: " ")
        }
    }

    @Test func aKeyOpensItsScopeInFullAndNothingElse() async throws {
        let fixture = try StatisticsFixture()
        try await DataEndpointTests.scenario(fixture)
        let province = try await Self.addReader(["p1-office", "--indicator", "POP", "--area", "P1"], fixture)
        let everything = try await Self.addReader(["nso", "--indicator", "*", "--area", "*"], fixture)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        let base = URL(string: "http://127.0.0.1:\(server.port)")!
        let anonymous = GatewayClient(baseURL: base, apiKey: nil)
        let p1 = GatewayClient(baseURL: base, apiKey: province)
        let nso = GatewayClient(baseURL: base, apiKey: everything)

        let january = "/v1/data/POP?endPeriod=2024-M01"
        #expect(try Self.observations(try await anonymous.send("GET", january)) == [
            "C111 2024-M01 100 free", "C112 2024-M01 50 free", "C121 2024-M01 - confidential", "C211 2024-M01 20 free",
            "D11 2024-M01 150 free", "D12 2024-M01 - confidential", "D21 2024-M01 20 free", "P1 2024-M01 - secondary",
            "P2 2024-M01 20 free", "VN 2024-M01 - secondary",
        ])
        // P1 and everything below it in full; VN is outside the scope and stays withheld (it lies above C121).
        let scoped = try await p1.send("GET", january)
        #expect(scoped.headers["cache-control"] == "private, no-cache")
        #expect(try Self.observations(scoped) == [
            "C111 2024-M01 100 free", "C112 2024-M01 50 free", "C121 2024-M01 37 confidential", "C211 2024-M01 20 free",
            "D11 2024-M01 150 free", "D12 2024-M01 37 confidential", "D21 2024-M01 20 free", "P1 2024-M01 187 free",
            "P2 2024-M01 20 free", "VN 2024-M01 - secondary",
        ])
        // The scope is POP only: RATE is published data for this key, as for anyone.
        let rate = "/v1/data/RATE?format=csv"
        #expect(try await p1.send("GET", rate).body == (try await anonymous.send("GET", rate)).body)
        // Every indicator and area: exactly what `mekong query` reads on the database.
        for indicator in ["POP", "RATE"] {
            let query = try await ChildProcess.runOffPool(["query", "indicator", indicator, "--format", "csv", "--postgres", fixture.database.url])
            let answer = try await nso.send("GET", "/v1/data/\(indicator)?format=csv")
            #expect(String(decoding: answer.body, as: UTF8.self) == query.output, "\(indicator)")
        }

        // An unknown key is refused, never read as anonymous; revoking and rotating take effect at once.
        let stranger = GatewayClient(baseURL: base, apiKey: APIKey.generate())
        #expect(try await stranger.send("GET", january).status == 401)
        let rotated = try await ChildProcess.runOffPool(["readers", "rotate-key", "p1-office", "--postgres", fixture.database.url])
        let newKey = try #require(rotated.output.split(separator: "\n").last.map(String.init))
        #expect(try await p1.send("GET", january).status == 401)
        #expect(try await GatewayClient(baseURL: base, apiKey: newKey).send("GET", january).status == 200)
        #expect(try await ChildProcess.runOffPool(["readers", "revoke", "p1-office", "--postgres", fixture.database.url]).status == 0)
        #expect(try await GatewayClient(baseURL: base, apiKey: newKey).send("GET", january).status == 401)
        let list = try await ChildProcess.runOffPool(["readers", "list", "--postgres", fixture.database.url])
        #expect(list.output.contains("nso\tactive") && list.output.contains("p1-office\tREVOKED"), "\(list.output)")
        #expect(list.output.contains("indicators: POP  areas: P1  quota: 10000/hour, 100000/day"), "\(list.output)")
        await server.stop()
    }

    @Test func quotasRefuseWithRetryAfterAndResetWithTheirWindow() async throws {
        let fixture = try StatisticsFixture()
        try await DataEndpointTests.scenario(fixture)
        let key = try await Self.addReader(["tight", "--indicator", "POP", "--area", "*", "--per-hour", "2", "--per-day", "3"], fixture)
        let clock = Mutex<Double>(1_796_554_740)  // 2026-12-04T10:59:00Z
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(
            port: 0, postgres: fixture.database.url, databaseThreads: 2,
            anonymousQuota: Quotas.Limits(perHour: 3, perDay: 100),
            now: { Date(timeIntervalSince1970: clock.withLock { $0 }) }))
        let base = URL(string: "http://127.0.0.1:\(server.port)")!
        let anonymous = GatewayClient(baseURL: base, apiKey: nil)
        let reader = GatewayClient(baseURL: base, apiKey: key)
        for remaining in [2, 1, 0] {
            let answer = try await anonymous.send("GET", "/v1/data/POP?area=VN")
            #expect(answer.status == 200)
            #expect(answer.headers["x-quota-hour-limit"] == "3" && answer.headers["x-quota-hour-remaining"] == String(remaining))
            #expect(answer.headers["x-quota-day-limit"] == "100")
        }
        // Refusals count too: a malformed request uses the quota like any other.
        let refused = try await anonymous.send("GET", "/v1/data/POP?area=,")
        #expect(refused.status == 429)
        #expect(refused.headers["retry-after"] == "60")
        #expect(refused.json?.objectValue?["code"]?.stringValue == "quota-exceeded")
        // The reader's key has its own quota.
        #expect(try await reader.send("GET", "/v1/data/POP").status == 200)
        #expect(try await reader.send("GET", "/v1/data/POP").status == 200)
        #expect(try await reader.send("GET", "/v1/data/POP").status == 429)
        // 11:00: a new hour for both; the reader's day allows one more.
        clock.withLock { $0 += 60 }
        #expect(try await anonymous.send("GET", "/v1/data/POP?area=VN").status == 200)
        #expect(try await reader.send("GET", "/v1/data/POP").status == 200)
        let dayOver = try await reader.send("GET", "/v1/data/POP")
        #expect(dayOver.status == 429 && dayOver.headers["retry-after"] == String(13 * 3600))
        // Health and the contract are not counted.
        for _ in 0..<5 { #expect(try await anonymous.send("GET", "/healthz").status == 200) }
        await server.stop()
    }
}

import Foundation
import MekongEvents
import MekongGateway
import MekongIndicatorQueries
import MekongReadAPI
import MekongTestSupport
import Synchronization
import Testing

/// `includeHistory`: an answer's disseminations, each the rows that changed at one recorded time. Replaying them in
/// order (following the pages) must rebuild exactly today's answer, every dissemination must change something the
/// reader sees, and for a reader whose answers depend on no clock (the embargo scope: no release calendar) the replay
/// up to any dissemination must equal the `asOf` answer at that time. The changes are random
/// (``UpdatedAfterTests/changes``); each seed asks about every area or about three.
@Suite(.serialized) struct HistoryTests {
    typealias Row = UpdatedAfterTests.Row

    /// Every page of a history (following `Link: rel="next"`), as (validFrom, key, row, action) in order.
    static func history(_ client: GatewayClient, _ path: String) async throws -> (rows: [(time: String, key: String, row: Row, action: String)], pages: Int) {
        var rows: [(time: String, key: String, row: Row, action: String)] = []
        var next: String? = path
        var pages = 0
        while let page = next {
            let answer = try await client.send("GET", page)
            #expect(answer.status == 200, "\(page): \(String(decoding: answer.body, as: UTF8.self))")
            let observations = try #require(answer.json?.objectValue?["observations"]?.arrayValue)
            for (item, parsed) in zip(observations, try UpdatedAfterTests.rows(answer)) {
                rows.append((try #require(item.objectValue?["validFrom"]?.stringValue), parsed.key, parsed.row, parsed.action ?? ""))
            }
            let history = try #require(answer.json?.objectValue?["history"]?.objectValue, "\(page): no history in the head")
            #expect(history["disseminations"]?.numberValue.map(Int.init) == Set(observations.compactMap { $0.objectValue?["validFrom"]?.stringValue }).count)
            next = answer.headers["link"].flatMap { link in
                link.firstMatch(of: #/^<([^>]+)>; rel="next"$/#).map { String($0.1) }
            }
            #expect((next != nil) == (history["next"]?.stringValue != nil), "\(page): the Link header and the head disagree")
            pages += 1
        }
        return (rows, pages)
    }

    /// Applies disseminations to `start`, checking each changes something; returns the answer after each time.
    static func replay(
        _ rows: [(time: String, key: String, row: Row, action: String)], from start: [String: Row], label: String
    ) -> [(time: String, answer: [String: Row])] {
        var answer = start
        var states: [(time: String, answer: [String: Row])] = []
        var index = 0
        while index < rows.count {
            let time = rows[index].time
            if let last = states.last { #expect(last.time < time, "\(label): disseminations out of order at \(time)") }
            let before = answer
            while index < rows.count && rows[index].time == time {
                let change = rows[index]
                switch change.action {
                case "D":
                    #expect(before[change.key] != nil, "\(label): \(change.key) deleted at \(time) but was not there")
                    #expect(change.row.value == nil, "\(label): \(change.key) deleted with a value")
                    answer[change.key] = nil
                case "I":
                    #expect(before[change.key] != change.row, "\(label): \(change.key) sent at \(time) though unchanged")
                    answer[change.key] = change.row
                default:
                    Issue.record("\(label): action \(change.action)")
                }
                index += 1
            }
            states.append((time, answer))
        }
        return states
    }

    @Test("replaying an answer's disseminations rebuilds it, and each one is the answer as of its time", arguments: [6, 23] as [UInt64])
    func replayedHistoryIsTheAnswer(seed: UInt64) async throws {
        let fixture = try StatisticsFixture("history_\(seed)")
        try await DataEndpointTests.scenario(fixture)
        try await fixture.publish(UpdatedAfterTests.changes(fixture, seed: seed, from: 101))
        let summary = try await fixture.project()
        let reasons = try fixture.deadLetterReasons()
        #expect(summary.deadLettered == 0, "\(reasons)")
        let clock = Mutex<Double>(at(200).secondsSinceEpoch)  // past 2024-M03's release, before RATE 2024-M02's
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(
            port: 0, postgres: fixture.database.url, databaseThreads: 2,
            anonymousQuota: .init(perHour: 100_000, perDay: 100_000),
            now: { Date(timeIntervalSince1970: clock.withLock { $0 }) }, historyMomentsPerAnswer: 6))
        let base = URL(string: "http://127.0.0.1:\(server.port)")!
        var readers: [(String, GatewayClient)] = [("anonymous", GatewayClient(baseURL: base, apiKey: nil))]
        for (name, scope) in [("province", ["--indicator", "*", "--area", "P1"]), ("nso", ["--indicator", "*", "--area", "*"]),
                              ("press-office", ["--indicator", "*", "--area", "*", "--embargo"])] {
            let added = try await ChildProcess.runOffPool(["readers", "add", name] + scope + ["--postgres", fixture.database.url])
            readers.append((name, GatewayClient(baseURL: base, apiKey: try #require(added.output.split(separator: "\n").last.map(String.init)))))
        }
        var disseminations = 0
        var pages = 0
        for (name, client) in readers {
            for indicator in ["POP", "RATE"] {
                for question in [seed % 2 == 0 ? "" : "area=C121,D12,P1"] {
                    let label = "seed \(seed), \(name) \(indicator) ?\(question)"
                    let today = Dictionary(uniqueKeysWithValues: try UpdatedAfterTests.rows(
                        try await client.send("GET", "/v1/data/\(indicator)?\(question)")).map { ($0.key, $0.row) })
                    let history = try await Self.history(client, "/v1/data/\(indicator)?\(question.isEmpty ? "" : question + "&")includeHistory=true")
                    let states = Self.replay(history.rows, from: [:], label: label)
                    #expect(states.last?.answer ?? [:] == today, "\(label): the replay differs from today's answer")
                    disseminations += states.count
                    pages += history.pages
                    // Without a clock in the answer, each state is the answer as known at its time. (The other
                    // readers' asOf answers release by the clock now, while the history releases by each time.)
                    if name == "press-office" {
                        for state in states {
                            let asOf = Dictionary(uniqueKeysWithValues: try UpdatedAfterTests.rows(
                                try await client.send("GET", "/v1/data/\(indicator)?\(question.isEmpty ? "" : question + "&")asOf=\(state.time)"))
                                .map { ($0.key, $0.row) })
                            #expect(state.answer == asOf, "\(label): the replay up to \(state.time) differs from asOf")
                        }
                    }
                    // After T1: the disseminations since then, replayed on the answer at T1.
                    let t1 = at(100).text
                    let atT1 = Dictionary(uniqueKeysWithValues: try UpdatedAfterTests.rows(
                        try await client.send("GET", "/v1/data/\(indicator)?\(question.isEmpty ? "" : question + "&")asOf=\(t1)"))
                        .map { ($0.key, $0.row) })
                    let since = try await Self.history(client, "/v1/data/\(indicator)?\(question.isEmpty ? "" : question + "&")includeHistory=true&updatedAfter=\(t1)")
                    #expect(since.rows.allSatisfy { $0.time > t1 }, "\(label): a dissemination before updatedAfter")
                    if name == "press-office" {
                        #expect(Self.replay(since.rows, from: atT1, label: label + " since T1").last?.answer ?? atT1 == today,
                                "\(label): the replay since T1 differs from today's answer")
                    }
                }
            }
        }
        // Histories are not all empty, and pages of 6 moments are followed.
        #expect(disseminations > 0)
        #expect(pages > readers.count * 2)
        await server.stop()
    }

    /// The other formats: SDMX-CSV and CSV carry each row's time in a last column; SDMX-JSON has a data set per
    /// dissemination and action, each with its `validFrom`, in the order of the JSON answer's rows.
    @Test func everyFormatCarriesTheDisseminations() async throws {
        let (fixture, server, client) = try await UpdatedAfterTests.scenarioWithAWithdrawal()
        defer { withExtendedLifetime(fixture) {} }  // its database outlives the server
        let question = "/v1/data/POP?area=C111&includeHistory=true"
        let sdmx = String(decoding: try await client.send("GET", question + "&format=sdmx-csv").body, as: UTF8.self)
        // C111's two months as first reported, then February's report withdrawn at 00:60.
        #expect(sdmx == """
            STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS,VALID_FROM
            dataflow,VN_GSO:DF_POP(1.0),I,C111,2024-M01,100,A,F,\(at(10).utcMicroseconds)
            dataflow,VN_GSO:DF_POP(1.0),I,C111,2024-M02,101,A,F,\(at(20).utcMicroseconds)
            dataflow,VN_GSO:DF_POP(1.0),D,C111,2024-M02,,A,F,\(at(60).utcMicroseconds)

            """)
        let csv = String(decoding: try await client.send("GET", question + "&format=csv").body, as: UTF8.self)
        #expect(csv.hasPrefix("indicator,period,area,value,unit,status,confidentiality,origin,action,valid_from\n"))
        #expect(csv.split(separator: "\n").count == 4)
        let message = try #require(try await client.send("GET", "/v1/data/POP?area=C111,D11&includeHistory=true&format=sdmx-json").json?.objectValue)
        let dataSets = message["data"]?.objectValue?["dataSets"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let plain = try await Self.history(client, "/v1/data/POP?area=C111,D11&includeHistory=true")
        var groups: [String] = []
        for row in plain.rows where groups.last != "\(row.time) \(row.action)" { groups.append("\(row.time) \(row.action)") }
        #expect(dataSets.map { "\($0["validFrom"]?.stringValue ?? "") \($0["action"]?.stringValue == "Delete" ? "D" : "I")" } == groups)
        #expect(dataSets.map { $0["observations"]?.objectValue?.count ?? 0 }.reduce(0, +) == plain.rows.count)
        let refused = try await client.send("GET", "/v1/data/POP?includeHistory=yes")
        #expect(refused.status == 400 && refused.json?["parameter"]?.stringValue == "includeHistory")
        await server.stop()
    }
}

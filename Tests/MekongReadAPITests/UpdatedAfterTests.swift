import Foundation
import MekongEvents
import MekongGateway
import MekongKafka
import MekongReadAPI
import MekongStatisticalEvents
import MekongTestSupport
import Synchronization
import Testing

/// `updatedAfter` as a mirroring system uses it: it read the whole answer at T1; later it asks what changed after
/// T1 and applies that. On randomized changes after T1 (revisions with new values, statuses and
/// confidentialities, replace and delete actions, a new period, a release inside the window and one after it),
/// for every kind of reader, the mirror must end up with exactly today's answer, and the changes must be exactly
/// the rows that differ. A period under embargo now is invisible in the changes as in every answer.
@Suite(.serialized) struct UpdatedAfterTests {
    /// A row of a JSON answer: its key (area, period, dimensions) and what it shows.
    struct Row: Equatable, CustomStringConvertible {
        var value: Double?
        var status: String
        var confidentiality: String
        var origin: String
        var description: String { "\(value.map { String($0) } ?? "–") \(status) \(confidentiality) \(origin)" }
    }

    static func rows(_ answer: GatewayClient.Answer) throws -> [(key: String, row: Row, action: String?)] {
        let observations = try #require(answer.json?.objectValue?["observations"]?.arrayValue, "\(String(decoding: answer.body, as: UTF8.self))")
        return observations.map { item in
            let o = item.objectValue!
            let key = [o["area"]?.stringValue ?? "", o["period"]?.stringValue ?? "", JSON.serialize(o["dimensions"] ?? .null)]
                .joined(separator: "|")
            let row = Row(value: o["value"]?.numberValue, status: o["status"]?.stringValue ?? "",
                          confidentiality: o["confidentiality"]?.stringValue ?? "", origin: o["origin"]?.stringValue ?? "")
            return (key, row, o["action"]?.stringValue)
        }
    }

    /// What is changed after T1: random revisions, replacements and deletions of the communes' reports for the
    /// scenario's months and a third, P1's own report revised, and releases scheduled for 2024-M03 (inside the
    /// window) and 2024-M02 (after it).
    static func changes(_ fixture: StatisticsFixture, seed: UInt64, from start: Int) -> [CloudEvent] {
        var random = SeededRandom(seed: seed)
        let e = fixture.events
        var events: [CloudEvent] = [
            e.releaseScheduled("POP", period: "2024-M03", releaseTime: at(start + 50), at: at(start)),
            e.releaseScheduled("RATE", period: "2024-M02", releaseTime: at(start + 500), at: at(start + 1)),
        ]
        var revision: [String: Int] = [:]
        let statuses = ["normal", "provisional", "estimated"]
        let confidentialities = ["free", "free", "confidential", "not-for-publication"]
        for minute in 2..<(2 + Int.random(in: 6...14, using: &random)) {
            let area = ["C111", "C112", "C121", "C211"].randomElement(using: &random)!
            let period = ["2024-M01", "2024-M02", "2024-M03"].randomElement(using: &random)!
            let report = "U-\(area)|\(period)"
            revision[report, default: 1] += 1
            let action = ["merge", "merge", "replace", "delete"].randomElement(using: &random)!
            var observations: [Observation] = []
            if action != "delete" {
                if Bool.random(using: &random) || action == "merge" {
                    observations.append(Observation(
                        indicator: "POP", area: area, value: Double(Int.random(in: 10...200, using: &random)),
                        status: statuses.randomElement(using: &random)!,
                        confidentiality: confidentialities.randomElement(using: &random)!))
                }
                if Bool.random(using: &random) {
                    observations.append(Observation(indicator: "RATE", area: area, value: Double(Int.random(in: 1...90, using: &random))))
                }
            }
            events.append(e.reportSubmitted(
                unit: "U-\(area)", form: "F1", period: period, action: action, revision: revision[report]!,
                observations: observations, source: "urn:test", at: at(start + minute)))
        }
        if Bool.random(using: &random) {
            events.append(e.reportSubmitted(
                unit: "U-P1", form: "F1", period: "2024-M01", revision: 2,
                observations: [Observation(indicator: "POP", area: "P1", value: 190, confidentiality: "confidential")],
                source: "urn:test", at: at(start + 30)))
        }
        return events
    }

    @Test("a mirror that applies the changes after T1 to its answer of T1 holds today's answer", arguments: [3, 17, 29] as [UInt64])
    func changesAfterAnEarlierAnswerAreExactlyWhatDiffers(seed: UInt64) async throws {
        let fixture = try StatisticsFixture("updated_after_\(seed)")
        try await DataEndpointTests.scenario(fixture)  // recorded before at(41)
        let t1 = at(100)
        let clock = Mutex<Double>(t1.secondsSinceEpoch)
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(
            port: 0, postgres: fixture.database.url, databaseThreads: 2,
            anonymousQuota: .init(perHour: 100_000, perDay: 100_000),
            now: { Date(timeIntervalSince1970: clock.withLock { $0 }) }))
        let base = URL(string: "http://127.0.0.1:\(server.port)")!
        var readers: [(String, GatewayClient)] = [("anonymous", GatewayClient(baseURL: base, apiKey: nil))]
        for (name, scope) in [("province", ["--indicator", "*", "--area", "P1"]), ("nso", ["--indicator", "*", "--area", "*"]),
                              ("press-office", ["--indicator", "*", "--area", "*", "--embargo"])] {
            let added = try await ChildProcess.runOffPool(["readers", "add", name] + scope + ["--postgres", fixture.database.url])
            readers.append((name, GatewayClient(baseURL: base, apiKey: try #require(added.output.split(separator: "\n").last.map(String.init)))))
        }
        let questions = ["", "parent=P1", "area=C121,D12,P1,VN", "startPeriod=2024-M02"]
        var before: [String: [(key: String, row: Row, action: String?)]] = [:]
        for (name, client) in readers {
            for indicator in ["POP", "RATE"] {
                for question in questions {
                    before["\(name) \(indicator) \(question)"] = try Self.rows(try await client.send("GET", "/v1/data/\(indicator)?\(question)"))
                }
            }
        }

        try await fixture.publish(Self.changes(fixture, seed: seed, from: 101))
        let summary = try await fixture.project()
        let reasons = try fixture.deadLetterReasons()
        #expect(summary.deadLettered == 0, "\(reasons)")
        clock.withLock { $0 = at(200).secondsSinceEpoch }  // past 2024-M03's release, before RATE 2024-M02's

        var changed = 0
        for (name, client) in readers {
            for indicator in ["POP", "RATE"] {
                for question in questions {
                    let label = "seed \(seed), \(name) \(indicator) ?\(question)"
                    let now = try Self.rows(try await client.send("GET", "/v1/data/\(indicator)?\(question)"))
                    let answer = try await client.send("GET", "/v1/data/\(indicator)?\(question.isEmpty ? "" : question + "&")updatedAfter=\(t1.text)")
                    #expect(answer.status == 200, "\(label): \(String(decoding: answer.body, as: UTF8.self))")
                    let changes = try Self.rows(answer)
                    var mirror = Dictionary(uniqueKeysWithValues: before["\(name) \(indicator) \(question)"]!.map { ($0.key, $0.row) })
                    let earlier = mirror
                    for change in changes {
                        switch change.action {
                        case "D":
                            #expect(earlier[change.key] != nil, "\(label): \(change.key) deleted but the mirror never had it")
                            #expect(change.row.value == nil, "\(label): \(change.key) deleted with a value")
                            mirror[change.key] = nil
                        case "I":
                            #expect(earlier[change.key] != change.row, "\(label): \(change.key) sent though unchanged")
                            mirror[change.key] = change.row
                        case let other:
                            Issue.record("\(label): action \(other ?? "")")
                        }
                    }
                    // RATE's 2024-M02 was put under embargo after T1 (its release is after T2): for readers without
                    // the embargo scope it is invisible, in the changes too, so the mirror keeps what it had then.
                    if indicator == "RATE" && name != "press-office" {
                        #expect(!changes.contains { $0.key.contains("|2024-M02|") }, "\(label): the embargoed period is in the changes")
                        mirror = mirror.filter { !$0.key.contains("|2024-M02|") }
                    }
                    let today = Dictionary(uniqueKeysWithValues: now.map { ($0.key, $0.row) })
                    #expect(mirror == today, "\(label): the mirror differs at \(Set(mirror.keys).union(today.keys).filter { mirror[$0] != today[$0] }.sorted())")
                    #expect(Set(changes.map(\.key)).count == changes.count, "\(label): a key sent twice")
                    changed += changes.count
                }
            }
        }
        // The changes are not all empty (a test that passes on an API returning nothing would be no test).
        #expect(changed > 0)
        // The release inside the window brings 2024-M03 to anonymous readers as new rows.
        let released = try Self.rows(try await readers[0].1.send("GET", "/v1/data/POP?updatedAfter=\(t1.text)&startPeriod=2024-M03"))
        let march = try Self.rows(try await readers[0].1.send("GET", "/v1/data/POP?startPeriod=2024-M03"))
        #expect(released.map(\.key) == march.map(\.key))
        await server.stop()
    }

    /// The scenario, then C111's February report withdrawn at 00:60; a read API over it and an anonymous client.
    static func scenarioWithAWithdrawal(_ label: String = #function) async throws -> (StatisticsFixture, ReadAPIServer, GatewayClient) {
        let fixture = try StatisticsFixture(label)
        try await DataEndpointTests.scenario(fixture)
        let e = fixture.events
        try await fixture.publish([
            e.reportSubmitted(unit: "U-C111", form: "F1", period: "2024-M02", action: "delete", revision: 2, observations: [],
                              source: "urn:test", at: at(60)),
        ])
        _ = try await fixture.project()
        let server = try await ReadAPIServer.start(ReadAPIConfiguration(port: 0, postgres: fixture.database.url, databaseThreads: 2))
        return (fixture, server, GatewayClient(baseURL: URL(string: "http://127.0.0.1:\(server.port)")!, apiKey: nil))
    }

    /// The other formats carry the action: SDMX-CSV's ACTION column (I or D), CSV's last column `action`.
    @Test func sdmxCSVAndCSVSayWhatBecameOfEachRow() async throws {
        let (fixture, server, client) = try await Self.scenarioWithAWithdrawal()
        defer { withExtendedLifetime(fixture) {} }  // its database outlives the server
        let since = at(50).text
        let sdmx = String(decoding: try await client.send("GET", "/v1/data/RATE?format=sdmx-csv&updatedAfter=\(since)&area=C111,D11").body, as: UTF8.self)
        // C111's February report is withdrawn: its rate is gone; D11's mean is now C112's alone.
        #expect(sdmx == """
            STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS
            dataflow,VN_GSO:DF_RATE(1.0),D,C111,2024-M02,,A,F
            dataflow,VN_GSO:DF_RATE(1.0),I,D11,2024-M02,20.0000000000000000,A,F

            """)
        let csv = String(decoding: try await client.send("GET", "/v1/data/POP?format=csv&updatedAfter=\(since)&area=C111").body, as: UTF8.self)
        #expect(csv == """
            indicator,period,area,value,unit,status,confidentiality,origin,action
            POP,2024-M02,C111,,person,normal,free,reported,D

            """)
        // SDMX-JSON: the changed rows in an Information data set, the gone ones in a Delete data set.
        let message = try #require(try await client.send("GET", "/v1/data/POP?format=sdmx-json&updatedAfter=\(since)&area=C111,D11").json?.objectValue)
        let data = try #require(message["data"]?.objectValue)
        let dataSets = data["dataSets"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(dataSets.map { $0["action"]?.stringValue } == ["Information", "Delete"])
        let areas = data["structures"]?.arrayValue?.first?.objectValue?["dimensions"]?.objectValue?["observation"]?.arrayValue?
            .first?.objectValue?["values"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue }
        #expect(areas == ["C111", "D11"])
        #expect(dataSets.first?["observations"]?.objectValue?.keys == ["1:0"])  // D11 in February, now C112's 51 alone
        #expect(dataSets.last?["observations"]?.objectValue?.keys == ["0:0"])  // C111 in February, gone
        let refused = try await client.send("GET", "/v1/data/POP?updatedAfter=yesterday")
        #expect(refused.status == 400 && refused.json?["parameter"]?.stringValue == "updatedAfter")
        // Nothing changed after a time later than the answer's own.
        let reversed = try await client.send("GET", "/v1/data/POP?asOf=2024-01-01T00:30:00Z&updatedAfter=2024-02-01&format=csv")
        #expect(String(decoding: reversed.body, as: UTF8.self) == "indicator,period,area,value,unit,status,confidentiality,origin,action\n")
        // Between two recorded times: P1's own January report (00:40) replaces its aggregate, withheld both times.
        let window = try await client.send("GET", "/v1/data/POP?asOf=2024-01-01T00:45:00Z&updatedAfter=2024-01-01T00:30:00Z&format=csv&area=P1,C111")
        #expect(String(decoding: window.body, as: UTF8.self) == """
            indicator,period,area,value,unit,status,confidentiality,origin,action
            POP,2024-M01,P1,,person,normal,secondary,reported,I

            """)
        await server.stop()
    }
}

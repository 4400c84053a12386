import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongStatisticalEvents
import MekongTestSupport
import Testing

/// Runs the built `mekong` executable as an operator would, against a mock cluster in this process and a
/// throwaway database on the real server.
final class CommandLineFixture: @unchecked Sendable {
    let cluster: MockCluster
    let database: TestDatabase
    let directory: URL

    init(label: String = #function) throws {
        cluster = try MockCluster(brokers: 3)
        for (topic, partitions) in [("reports", 6), ("admin-records", 6), ("survey-uploads", 6), ("master-data", 3), ("dead-letters", 3)] {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 3)
        }
        database = try TestDatabase.create(label)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        database.drop()
        try? FileManager.default.removeItem(at: directory)
    }

    var connection: [String] { ["--kafka", cluster.bootstrapServers, "--postgres", database.url] }

    func file(_ name: String, _ contents: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func mekong(_ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        try await onThread { try ChildProcess.run(arguments) }
    }

    /// Total records in a topic (sum of high watermarks).
    func recordCount(_ topic: String, partitions: Int) throws -> Int64 {
        let consumer = try Consumer(configuration: cluster.configuration())
        defer { consumer.close() }
        return try (0..<partitions).reduce(0) { sum, p in
            sum + (try consumer.watermarks(of: TopicPartition(topic: topic, partition: Int32(p)))).high
        }
    }

    func auditCount() throws -> Int {
        let db = try database.connect()
        defer { db.close() }
        return try db.query("SELECT count(*) FROM audit_v4.events")[0].decode(Int.self, at: 0)
    }
}

@Suite("mekong command line", .serialized)
struct CommandLineTests {
    @Test("publish with one invalid line publishes nothing and names the line and the reason")
    func invalidLinePublishesNothing() async throws {
        let fixture = try CommandLineFixture()
        var lines = SampleEvents.reportFile(20).split(separator: "\n").map(String.init)
        lines[6] = lines[6].replacingOccurrences(of: "\"subject\":", with: "\"subjekt\":")
        lines[12] = "{\"specversion\": \"1.0\", truncated"
        let path = try fixture.file("bad.ndjson", lines.joined(separator: "\n"))
        let run = try await fixture.mekong(["publish", "--topic", "reports", path] + fixture.connection)
        #expect(run.status == 1)
        #expect(run.errors.contains("line 7"), "\(run.errors)")
        #expect(run.errors.contains("subject"))
        #expect(run.errors.contains("line 13: invalid JSON at column 24"), "\(run.errors)")
        #expect(run.errors.contains("nothing was published"))
        #expect(try fixture.recordCount("reports", partitions: 6) == 0)
    }

    @Test("publish --skip-invalid publishes the valid lines and reports the rest")
    func skipInvalid() async throws {
        let fixture = try CommandLineFixture()
        var lines = SampleEvents.reportFile(20).split(separator: "\n").map(String.init)
        lines[3] = lines[3].replacingOccurrences(of: "\"period\":\"2025-Q3\"", with: "\"period\":42")
        let path = try fixture.file("some-bad.ndjson", lines.joined(separator: "\n"))
        let run = try await fixture.mekong(["publish", "--skip-invalid", "--topic", "reports", path] + fixture.connection)
        #expect(run.status == 1, "a skipped line still makes the exit code non-zero")
        #expect(run.errors.contains("line 4"), "\(run.errors)")
        #expect(run.output.contains("published 19 of 19"), "\(run.output)")
        #expect(try fixture.recordCount("reports", partitions: 6) == 19)
    }

    @Test("publish, project, verify; tamper; verify names the row")
    func endToEnd() async throws {
        let fixture = try CommandLineFixture()
        let path = try fixture.file("reports.ndjson", SampleEvents.reportFile(250))
        let publish = try await fixture.mekong(["publish", "--topic", "reports", path] + fixture.connection)
        #expect(publish.status == 0, "\(publish.errors)")
        #expect(publish.output.contains("published 250 of 250"))
        #expect(publish.output.contains("reports[0]"))

        let project = try await fixture.mekong(["project", "audit", "--stop-when-caught-up"] + fixture.connection)
        #expect(project.status == 0, "\(project.errors)")
        #expect(project.output.contains("applied 250 events"), "\(project.output)")
        let verify = try await fixture.mekong(["audit", "verify"] + fixture.connection)
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")
        #expect(verify.output.contains("250 events"))
        #expect(verify.output.contains("21 checkpoints agree"), "\(verify.output)")
        let withLog = try await fixture.mekong(["audit", "verify", "--log"] + fixture.connection)
        #expect(withLog.status == 0, "\(withLog.output)\(withLog.errors)")
        #expect(withLog.output.contains("250 log records compared"), "\(withLog.output)")

        // With libpq's PG* variables and no --postgres, the same database is found through them.
        let url = try #require(URLComponents(string: fixture.database.url))
        let environment = [
            "PGHOST": url.host ?? "localhost", "PGPORT": String(url.port ?? 5432), "PGUSER": url.user ?? "",
            "PGPASSWORD": url.password ?? "", "PGDATABASE": String(url.path.dropFirst()),
        ]
        let viaEnvironment = try await onThread { try ChildProcess.run(["audit", "verify"], environment: environment) }
        #expect(viaEnvironment.status == 0, "\(viaEnvironment.errors)")
        #expect(viaEnvironment.output.contains("250 events"))

        let db = try fixture.database.connect()
        try db.execute("UPDATE audit_v4.events SET source = 'urn:forged' WHERE topic = 'reports' AND partition = 3 AND kafka_offset = 2")
        db.close()
        let broken = try await fixture.mekong(["audit", "verify"] + fixture.connection)
        #expect(broken.status == 1)
        #expect(broken.output.contains("reports[3]@2"), "\(broken.output)")
        #expect(broken.output.contains("source"))

        // The newest row of a partition cut off together with its chain head and checkpoint: the trail agrees with
        // itself, and the log shows the record as not yet recorded (the projector records it again when it runs).
        let cut = try fixture.database.connect()
        try cut.execute(
            """
            UPDATE audit_v4.events SET source = convert_from(event_bytes, 'UTF8')::jsonb ->> 'source'
            WHERE topic = 'reports' AND partition = 3 AND kafka_offset = 2
            """)
        let last = try cut.query(
            "SELECT max(kafka_offset) FROM audit_v4.events WHERE topic = 'reports' AND partition = 5")[0].decode(Int64.self, at: 0)
        try cut.execute("DELETE FROM audit_v4.events WHERE topic = 'reports' AND partition = 5 AND kafka_offset = $1", [last])
        try cut.execute(
            """
            UPDATE audit_v4.chain_heads h SET last_offset = e.kafka_offset, chain_hash = e.chain_hash FROM audit_v4.events e
            WHERE h.topic = 'reports' AND h.partition = 5 AND e.topic = 'reports' AND e.partition = 5 AND e.kafka_offset = $1
            """, [last - 1])
        try cut.execute(
            "UPDATE mekong.checkpoints SET next_offset = $1 WHERE projection = 'audit' AND version = 4 AND topic = 'reports' AND partition = 5",
            [last])
        cut.close()
        let consistent = try await fixture.mekong(["audit", "verify"] + fixture.connection)
        #expect(consistent.status == 0, "\(consistent.output)")
        let lagging = try await fixture.mekong(["audit", "verify", "--log"] + fixture.connection)
        #expect(lagging.status == 0, "a record beyond the checkpoint is lag, not a finding: \(lagging.output)")
        #expect(lagging.output.contains("249 log records compared, 1 not yet recorded (lag)"), "\(lagging.output)")
    }

    @Test("tail prints one line per event and filters by type and source")
    func tail() async throws {
        let fixture = try CommandLineFixture()
        let path = try fixture.file("reports.ndjson", SampleEvents.reportFile(40))
        _ = try await fixture.mekong(["publish", "--topic", "reports", path] + fixture.connection)
        let all = try await fixture.mekong(["tail", "reports", "--from-beginning"] + fixture.connection)
        #expect(all.status == 0, "\(all.errors)")
        let lines = all.output.split(separator: "\n")
        #expect(lines.count == 40)
        #expect(lines.allSatisfy { $0.contains("vn.gso.report.submitted") && $0.contains("/B01/2025-Q3") })
        let filtered = try await fixture.mekong(
            ["tail", "reports", "--from-beginning", "--source", "urn:gso:province:5"] + fixture.connection)
        #expect(filtered.output.split(separator: "\n").count == 1)
        let none = try await fixture.mekong(
            ["tail", "reports", "--from-beginning", "--type", "vn.gso.other"] + fixture.connection)
        #expect(none.output.isEmpty)
        let json = try await fixture.mekong(["tail", "reports", "--from-beginning", "--json"] + fixture.connection)
        let first = try #require(json.output.split(separator: "\n").first)
        #expect(try CloudEvent(decoding: Array(first.utf8)).type == "vn.gso.report.submitted")
    }

    @Test("SIGTERM finishes the current batch and exits cleanly; the restart completes the trail")
    func sigtermIsClean() async throws {
        let fixture = try CommandLineFixture()
        let path = try fixture.file("reports.ndjson", SampleEvents.reportFile(3_000))
        _ = try await fixture.mekong(["publish", "--topic", "reports", path] + fixture.connection)
        let child = try ChildProcess(MekongBinary.url, ["project", "audit", "--batch-size", "20"] + fixture.connection)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while (try? fixture.auditCount()) ?? 0 == 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        child.signal(SIGTERM)
        let status = try await onThread { try child.wait(timeout: .seconds(30)) }
        #expect(status == 0, "\(child.standardError)")
        #expect(child.standardOutput.contains("projector audit v4: applied"))
        let rest = try await fixture.mekong(["project", "audit", "--stop-when-caught-up"] + fixture.connection)
        #expect(rest.status == 0)
        #expect(try fixture.auditCount() == 3_000)
        #expect(try await fixture.mekong(["audit", "verify", "--log"] + fixture.connection).status == 0)
    }

    @Test("killed with SIGKILL at 20 random moments, the projector ends with the checksum of a clean single run")
    func sigkillAtRandomMoments() async throws {
        let fixture = try CommandLineFixture()
        let path = try fixture.file("reports.ndjson", SampleEvents.reportFile(4_000))
        _ = try await fixture.mekong(["publish", "--topic", "reports", path] + fixture.connection)
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        for _ in 0..<20 {
            let child = try ChildProcess(
                MekongBinary.url, ["project", "audit", "--batch-size", "37", "--batch-wait-ms", "20"] + fixture.connection)
            try await Task.sleep(for: .milliseconds(Int.random(in: 200...1_500, using: &generator)))
            if child.process.isRunning { kills += 1 }
            child.signal(SIGKILL)
            _ = try await onThread { try child.wait(timeout: .seconds(30)) }
        }
        #expect(kills >= 15, "most kills must land while the projector runs")
        let finish = try await fixture.mekong(["project", "audit", "--stop-when-caught-up"] + fixture.connection)
        #expect(finish.status == 0, "\(finish.errors)")
        #expect(try fixture.auditCount() == 4_000)
        let db = try fixture.database.connect()
        defer { db.close() }
        #expect(try db.query("SELECT count(DISTINCT event_id) FROM audit_v4.events")[0].decode(Int.self, at: 0) == 4_000)
        let verify = try await fixture.mekong(["audit", "verify"] + fixture.connection)
        #expect(verify.status == 0, "\(verify.output)")

        // A clean single run over the same log, into another database, has the same content.
        let clean = try TestDatabase.create("sigkill_clean")
        let cleanConnection = ["--kafka", fixture.cluster.bootstrapServers, "--postgres", clean.url]
        #expect(try await fixture.mekong(["project", "audit", "--stop-when-caught-up"] + cleanConnection).status == 0)
        let killed = try await fixture.mekong(["projection", "checksum", "audit"] + fixture.connection)
        let single = try await fixture.mekong(["projection", "checksum", "audit"] + cleanConnection)
        #expect(killed.status == 0 && single.status == 0, "\(killed.errors) \(single.errors)")
        #expect(killed.output.count == 65)
        #expect(killed.output == single.output)
    }

    @Test("projection status, rebuild, checksum, drop; dlq list, show, redrive; schemas check")
    func operatorCommands() async throws {
        let fixture = try CommandLineFixture()
        let path = try fixture.file("reports.ndjson", SampleEvents.reportFile(300))
        _ = try await fixture.mekong(["publish", "--topic", "reports", path] + fixture.connection)
        #expect(try await fixture.mekong(["project", "audit", "--stop-when-caught-up"] + fixture.connection).status == 0)
        let status = try await fixture.mekong(["projection", "status"] + fixture.connection)
        #expect(status.output.contains("audit v4  active"), "\(status.output)")
        #expect(status.output.contains("lag 0"))
        let before = try await fixture.mekong(["projection", "checksum", "audit"] + fixture.connection).output

        let rebuild = try await fixture.mekong(["projection", "rebuild", "audit", "--version", "2"] + fixture.connection)
        #expect(rebuild.status == 0, "\(rebuild.errors)")
        #expect(rebuild.output.contains("rebuilt audit v2: applied 300 events"), "\(rebuild.output)")
        #expect(rebuild.errors.contains("remaining"), "progress is shown")
        let after = try await fixture.mekong(["projection", "status"] + fixture.connection)
        #expect(after.output.contains("audit v2  active"))
        #expect(after.output.contains("audit v4  retired"))
        let v2 = try await fixture.mekong(["projection", "checksum", "audit", "--version", "2"] + fixture.connection).output
        #expect(v2.count == 65 && v2 != before, "v4 links cover more than v2's: other chain hashes, another checksum")
        // v1 and v2 differ only in an index: the same rows, the same checksum.
        #expect(try await fixture.mekong(["project", "audit", "--version", "1", "--stop-when-caught-up"] + fixture.connection).status == 0)
        #expect(try await fixture.mekong(["projection", "checksum", "audit", "--version", "1"] + fixture.connection).output == v2)
        let dropActive = try await fixture.mekong(["projection", "drop", "audit", "--version", "2"] + fixture.connection)
        #expect(dropActive.status != 0)
        #expect(dropActive.errors.contains("is the active version"))
        #expect(try await fixture.mekong(["projection", "drop", "audit", "--version", "4"] + fixture.connection).status == 0)
        #expect(try await fixture.mekong(["audit", "verify"] + fixture.connection).output.contains("audit trail v2 intact: 300 events"))

        // Dead letters: none for the audit trail; `dlq list` says so, `dlq show` of an unknown id fails by name.
        let list = try await fixture.mekong(["dlq", "list"] + fixture.connection)
        #expect(list.status == 0)
        #expect(list.errors.contains("0 dead letter(s)"))
        let show = try await fixture.mekong(["dlq", "show", "12345"] + fixture.connection)
        #expect(show.status != 0)
        #expect(show.errors.contains("no dead letter 12345"))

        #expect(try await fixture.mekong(["schemas", "check"]).output.contains("schemas OK"))
    }
}

@Suite("mekong dev, topics and configuration", .serialized)
struct DevAndConfigurationTests {
    @Test("mekong dev records its address; topics list and apply find it without options")
    func devClusterIsFoundWithoutOptions() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-dev-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: state) }
        let environment = ["MEKONG_DEV_STATE": state.path]
        let dev = try ChildProcess(MekongBinary.url, ["dev"], environment: environment)
        defer {
            dev.signal(SIGTERM)
            _ = try? dev.wait(timeout: .seconds(20))
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: state.path), clock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(FileManager.default.fileExists(atPath: state.path), "\(dev.standardError)")
        #expect(dev.standardOutput.contains("ephemeral"))

        let list = try await onThread { try ChildProcess.run(["topics", "list"], environment: environment) }
        #expect(list.status == 0, "\(list.errors)")
        for topic in ["reports", "admin-records", "survey-uploads", "master-data", "dead-letters", "audit-heads"] {
            #expect(list.output.contains(topic))
        }
        #expect(!list.output.contains("absent"))
        let apply = try await onThread { try ChildProcess.run(["topics", "apply"], environment: environment) }
        #expect(apply.status == 0, "\(apply.output)\(apply.errors)")
        #expect(apply.output.split(separator: "\n").filter { $0.contains("up to date") }.count == 6)

        dev.signal(SIGTERM)
        #expect(try await onThread { try dev.wait(timeout: .seconds(20)) } == 0)
        #expect(!FileManager.default.fileExists(atPath: state.path), "the record is removed on exit")
        let after = try await onThread { try ChildProcess.run(["topics", "list"], environment: environment) }
        #expect(after.status != 0)
        #expect(after.errors.contains("mekong dev"))
    }

    @Test("topics apply reports a topic the cluster lacks and cannot create, and fails")
    func applyReportsMissingTopic() async throws {
        let cluster = try MockCluster(brokers: 3)
        for topic in ["reports", "admin-records", "survey-uploads", "master-data"] {
            try cluster.createTopic(topic, partitions: topic == "master-data" ? 3 : 6, replicationFactor: 3)
        }
        let apply = try await onThread { try ChildProcess.run(["topics", "apply", "--timeout", "3", "--kafka", cluster.bootstrapServers]) }
        #expect(apply.status == 1)
        #expect(apply.output.contains("dead-letters     NOT created"), "\(apply.output)")
        #expect(apply.output.contains("reports          up to date"))
    }

    @Test("demo refuses --kafka, naming it: it runs on its own cluster and publishes to no other")
    func demoRefusesKafka() async throws {
        let demo = try await onThread { try ChildProcess.run(["demo", "--kafka", "localhost:9092"]) }
        #expect(demo.status != 0)
        #expect(demo.errors.contains("--kafka") && demo.errors.contains("in-process"), "\(demo.errors)")
        #expect(!demo.output.contains("== database"), "it started: \(demo.output)")
    }

    @Test("a configuration file supplies the cluster and database; the environment overrides the file")
    func configurationFile() async throws {
        let fixture = try CommandLineFixture()
        let path = try fixture.file("reports.ndjson", SampleEvents.reportFile(30))
        let config = try fixture.file(
            "config.json",
            #"{"kafka": {"bootstrap.servers": "\#(fixture.cluster.bootstrapServers)", "client.id": "from-config"}, "postgres": "\#(fixture.database.url)"}"#)
        let publish = try await onThread { try ChildProcess.run(["publish", "--config", config, "--topic", "reports", path]) }
        #expect(publish.status == 0, "\(publish.errors)")
        let project = try await onThread {
            try ChildProcess.run(["project", "audit", "--stop-when-caught-up"], environment: ["MEKONG_CONFIG": config])
        }
        #expect(project.status == 0, "\(project.errors)")
        #expect(try fixture.auditCount() == 30)
        #expect(!project.errors.contains("mekong:mekong@"), "the password is not printed")

        let overridden = try await onThread {
            try ChildProcess.run(
                ["audit", "verify", "--config", config],
                environment: ["MEKONG_POSTGRES": "postgresql://mekong:mekong@localhost:1/none?connect_timeout=2"])
        }
        #expect(overridden.status != 0, "MEKONG_POSTGRES wins over the file")
        #expect(!overridden.errors.contains("mekong:mekong@"), "\(overridden.errors)")

        let typo = try fixture.file("typo.json", #"{"postgress": "postgresql://elsewhere/db"}"#)
        let refused = try await onThread { try ChildProcess.run(["audit", "verify", "--config", typo]) }
        #expect(refused.status != 0)
        #expect(refused.errors.contains("unknown key(s) postgress"), "\(refused.errors)")
    }

    @Test("projecting into a database whose checkpoints belong to another cluster is refused")
    func otherClusterRefused() async throws {
        let fixture = try CommandLineFixture()
        let path = try fixture.file("reports.ndjson", SampleEvents.reportFile(10))
        _ = try await fixture.mekong(["publish", "--topic", "reports", path] + fixture.connection)
        #expect(try await fixture.mekong(["project", "audit", "--stop-when-caught-up"] + fixture.connection).status == 0)
        let other = try MockCluster(brokers: 1)
        for topic in ["reports", "admin-records", "survey-uploads", "master-data"] {
            try other.createTopic(topic, partitions: 1, replicationFactor: 1)
        }
        let refused = try await fixture.mekong(
            ["project", "audit", "--stop-when-caught-up", "--kafka", other.bootstrapServers, "--postgres", fixture.database.url])
        #expect(refused.status != 0)
        #expect(refused.errors.contains("holds positions in Kafka cluster"), "\(refused.errors)")
        #expect(try fixture.auditCount() == 10)
    }
}

/// The statistics projection's materialized tables under SIGKILL, as `mekong project statistics` runs.
@Suite("statistics projector under SIGKILL", .serialized)
struct StatisticsCrashTests {
    /// VN → P1, P2 → four districts → twelve communes; two indicators (a sum and a mean weighted by it); monthly
    /// reports of every commune for six months, a tenth of them revised later (replace, revision 2).
    static func events() -> (master: [CloudEvent], reports: [CloudEvent]) {
        let e = StatisticalEvents(deterministicFrom: 1_700_000_000_000)
        let day = { (minutes: Int) in Timestamp(date: Date(timeIntervalSince1970: 1_704_067_200 + Double(minutes) * 60)) }
        var items = [StatisticalEvents.Item(code: "VN", parent: nil, level: 1, nameVi: "Việt Nam")]
        var communes: [String] = []
        for p in 1...2 {
            items.append(.init(code: "P\(p)", parent: "VN", level: 2, nameVi: "P\(p)"))
            for d in 1...2 {
                items.append(.init(code: "D\(p)\(d)", parent: "P\(p)", level: 3, nameVi: "D\(p)\(d)"))
                for c in 1...3 {
                    items.append(.init(code: "C\(p)\(d)\(c)", parent: "D\(p)\(d)", level: 4, nameVi: "C\(p)\(d)\(c)"))
                    communes.append("C\(p)\(d)\(c)")
                }
            }
        }
        let master = [
            e.classificationPublished("vn-admin-units", version: "2024", validFrom: "2024-01-01", items: items, at: day(0)),
            e.indicatorDefined("POP", nameVi: "Dân số", nameEn: "Population", unit: "person", periodicities: ["month"], at: day(1)),
            e.indicatorDefined(
                "RATE", nameVi: "Tỷ lệ", nameEn: "Rate", unit: "percent", periodicities: ["month"], weight: "POP", at: day(2)),
        ]
        var reports: [CloudEvent] = []
        for month in 1...6 {
            for (index, commune) in communes.enumerated() {
                for unit in 0..<20 {
                    let observations = { (scale: Double) in [
                        StatisticalEvents.Observation(indicator: "POP", area: commune, value: Double(100 + index + unit) * scale),
                        StatisticalEvents.Observation(indicator: "RATE", area: commune, value: Double(unit % 7) + 0.5),
                    ] }
                    // Twenty reporting units per commune, each for its own form: every observation has 20 reports,
                    // the latest recorded counts.
                    let first = e.reportSubmitted(
                        unit: "U\(unit)", form: "F\(commune)", period: String(format: "2024-M%02d", month),
                        observations: observations(1), source: "urn:test", at: day(100 + month * 1_000 + index * 20 + unit))
                    reports.append(first)
                    if (index + unit + month) % 10 == 0 {
                        reports.append(e.reportSubmitted(
                            unit: "U\(unit)", form: "F\(commune)", period: String(format: "2024-M%02d", month),
                            action: "replace", revision: 2, supersedes: first.id, observations: observations(1.1),
                            source: "urn:test", at: day(90_000 + month * 1_000 + index * 20 + unit)))
                    }
                }
            }
        }
        return (master, reports)
    }

    @Test("killed with SIGKILL at random moments, while catching up and while live, the statistics projector ends with the tables of a clean run")
    func sigkillAtRandomMoments() async throws {
        let fixture = try CommandLineFixture()
        let (master, reports) = Self.events()
        let ndjson = { (events: [CloudEvent]) in
            events.map { String(decoding: $0.canonicalJSON(), as: UTF8.self) }.joined(separator: "\n") + "\n"
        }
        func publish(_ topic: String, _ events: ArraySlice<CloudEvent>) async throws {
            let path = try fixture.file("\(topic)-\(events.startIndex).ndjson", ndjson(Array(events)))
            let published = try await fixture.mekong(["publish", "--topic", topic, path] + fixture.connection)
            #expect(published.status == 0, "\(published.errors)")
        }
        var generator = SystemRandomNumberGenerator()
        func killRepeatedly() async throws -> Int {
            var kills = 0
            for _ in 0..<8 {
                let child = try ChildProcess(
                    MekongBinary.url,
                    ["project", "statistics", "--batch-size", "23", "--batch-wait-ms", "20"] + fixture.connection)
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_500, using: &generator)))
                if child.process.isRunning { kills += 1 }
                child.signal(SIGKILL)
                _ = try await onThread { try child.wait(timeout: .seconds(30)) }
            }
            let finish = try await fixture.mekong(["project", "statistics", "--stop-when-caught-up"] + fixture.connection)
            #expect(finish.status == 0, "\(finish.errors)")
            return kills
        }
        // First half: the version catches up (vintages only, then the tables derived in one pass) under kills.
        let half = reports.count / 2
        try await publish("master-data", master[...])
        try await publish("reports", reports[..<half])
        #expect(try await killRepeatedly() >= 6, "most kills must land while the projector catches up")
        // Second half: the version is active and maintains its tables batch by batch, under kills.
        try await publish("reports", reports[half...])
        #expect(try await killRepeatedly() >= 6, "most kills must land while the projector runs live")
        let db = try fixture.database.connect()
        defer { db.close() }
        #expect(try db.query("SELECT count(*) FROM statistics_v2.submissions")[0].decode(Int.self, at: 0) == reports.count)

        // A clean single run over the same log, into another database, has the same tables, table by table.
        let clean = try TestDatabase.create("statistics_sigkill_clean")
        let cleanConnection = ["--kafka", fixture.cluster.bootstrapServers, "--postgres", clean.url]
        #expect(try await fixture.mekong(["project", "statistics", "--stop-when-caught-up"] + cleanConnection).status == 0)
        let killed = try await fixture.mekong(["projection", "checksum", "statistics", "--tables"] + fixture.connection)
        let single = try await fixture.mekong(["projection", "checksum", "statistics", "--tables"] + cleanConnection)
        #expect(killed.status == 0 && single.status == 0, "\(killed.errors) \(single.errors)")
        #expect(killed.output.contains("indicator_rollups") && killed.output.contains("observations_current"))
        #expect(killed.output == single.output)
    }
}

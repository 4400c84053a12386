import Foundation
import MekongEvents
import MekongKafka
import MekongStatisticalEvents
import MekongTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The deployment files (docker/, ops/systemd/, ops/prometheus/, ops/grafana/) checked as far as this machine can:
/// there is no Docker engine here and no Kafka broker besides librdkafka's mock cluster. Every Mekong service the
/// compose files and the systemd units define is run here with its own command line, against the mock cluster and
/// PostgreSQL, as a first deployment would use them; then every metric the alert rules and the dashboard name must
/// be one those processes export.
@Suite(.serialized) struct DeploymentTests {
    static let root = MekongBinary.repositoryRoot
    static let composeFiles = ["docker/compose.yaml", "docker/compose.single-node.yaml"]

    // MARK: - Static checks

    @Test func composeAndSystemdSetOnlyVariablesTheBinaryReads() throws {
        let readable = try Self.variablesTheBinaryReads()
        var checked = 0
        for service in try Self.mekongServices() {
            for name in service.environment.keys {
                #expect(readable.contains(name) || Self.isLibpqVariable(name),
                        "\(service.origin) sets \(name), which mekong does not read")
                checked += 1
            }
        }
        // The environment file the units read.
        let example = try String(contentsOf: Self.root.appendingPathComponent("ops/systemd/mekong.env.example"), encoding: .utf8)
        for line in example.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
            let name = String(line.prefix { $0 != "=" }).trimmingCharacters(in: .whitespaces)
            #expect(readable.contains(name) || Self.isLibpqVariable(name), "mekong.env.example sets \(name), which mekong does not read")
            checked += 1
        }
        #expect(checked > 10)
    }

    @Test func composeKeepsSecretsInFilesAndStateInVolumes() throws {
        for file in Self.composeFiles {
            let compose = try Self.yaml(file)
            let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
            // No secret value in the file: passwords and keys come from secrets.
            for forbidden in ["POSTGRES_PASSWORD:", "GF_SECURITY_ADMIN_PASSWORD:", "PGPASSWORD", "sasl.password"] {
                #expect(!text.contains(forbidden), "\(file) holds \(forbidden)")
            }
            guard case .object(let services)? = compose["services"] else {
                Issue.record("\(file) has no services")
                continue
            }
            for (name, service) in services {
                #expect(service["restart"] != nil, "\(file): service \(name) has no restart policy")
                let oneShot = service["restart"]?.stringValue == "no"
                if !oneShot {
                    #expect(service["healthcheck"] != nil, "\(file): service \(name) has no health check")
                }
            }
            for stateful in ["postgres", "prometheus", "grafana"] {
                #expect(services[stateful]?["volumes"] != nil, "\(file): \(stateful) keeps its state in no volume")
            }
            for (name, service) in services where name.hasPrefix("kafka") {
                #expect(service["volumes"] != nil, "\(file): \(name) keeps its log in no volume")
                #expect(service["image"]?.stringValue?.hasPrefix("apache/kafka:") == true && service["image"]?.stringValue?.hasSuffix(":latest") == false,
                        "\(file): \(name) is not the official apache/kafka image pinned by version")
            }
        }
        let kraft = try Self.yaml(Self.composeFiles[0])
        guard case .object(let services)? = kraft["services"] else { return }
        let brokers = services.filter { $0.key.hasPrefix("kafka") }
        #expect(brokers.count == 3)
        for (name, broker) in brokers {
            let environment = Self.environment(broker["environment"])
            #expect(environment["KAFKA_PROCESS_ROLES"]?.contains("controller") == true, "\(name) is not a KRaft controller")
            #expect(environment["KAFKA_MIN_INSYNC_REPLICAS"] == "2", "\(name): min.insync.replicas")
            #expect(environment["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3", "\(name): replication")
        }
    }

    /// The servers read their resources (openapi.yaml, the console's page) from bundles beside the binary: the image
    /// and the plain-server install copy every bundle the build makes.
    @Test func theImageAndTheInstallStepsCopyEveryResourceBundle() throws {
        let bundles = try FileManager.default.contentsOfDirectory(atPath: MekongBinary.url.deletingLastPathComponent().path)
            .filter { $0.hasPrefix("Mekong_") && $0.hasSuffix(".resources") }
        #expect(bundles.count >= 3, "\(bundles)")
        let dockerfile = try String(contentsOf: Self.root.appendingPathComponent("docker/Dockerfile"), encoding: .utf8)
        let install = try String(contentsOf: Self.root.appendingPathComponent("ops/systemd/README.md"), encoding: .utf8)
        for bundle in bundles {
            #expect(dockerfile.contains("COPY --from=build /out/\(bundle) /usr/local/bin/\(bundle)"), "docker/Dockerfile lacks \(bundle)")
            #expect(install.contains(bundle), "ops/systemd/README.md does not install \(bundle)")
        }
    }

    @Test func systemdUnitsPassSystemdAnalyzeVerify() throws {
        let directory = try Self.temporaryDirectory("systemd")
        defer { try? FileManager.default.removeItem(at: directory) }
        let units = try Self.systemdUnitFiles()
        #expect(units.count >= 6)
        for unit in units {
            // The units name the installed binary; here it is the one built for the tests.
            let text = try String(contentsOf: unit, encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/mekong", with: MekongBinary.url.path)
            try text.write(to: directory.appendingPathComponent(unit.lastPathComponent), atomically: true, encoding: .utf8)
            for hardening in ["NoNewPrivileges=yes", "ProtectSystem=strict", "User=mekong"] where unit.pathExtension == "service" {
                #expect(text.contains(hardening), "\(unit.lastPathComponent) lacks \(hardening)")
            }
            if unit.pathExtension == "service", !text.contains("Type=oneshot") {
                #expect(text.contains("Restart=on-failure"), "\(unit.lastPathComponent) is not restarted on failure")
            }
        }
        let names = units.map { directory.appendingPathComponent($0.lastPathComponent).path }
        let result = try Self.run("/usr/bin/systemd-analyze", ["verify", "--man=no"] + names, directory: directory)
        // systemd-analyze also reports on units these depend on that this machine lacks; only the unit files count.
        let complaints = (result.output + result.errors).split(separator: "\n")
            .filter { line in units.contains { line.contains($0.lastPathComponent) } }
        #expect(complaints.isEmpty, "systemd-analyze verify: \(complaints.joined(separator: "\n"))")
    }

    @Test func alertRulesPassPromtoolAndTheirOwnUnitTests() throws {
        let promtool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: promtool) else {
            Issue.record("promtool is missing: install Debian's prometheus package (ops/setup.sh does)")
            return
        }
        let directory = Self.root.appendingPathComponent("ops/prometheus")
        for arguments in [["check", "rules", "rules.yml"], ["test", "rules", "rules.test.yml"],
                          ["check", "config", "--syntax-only", "prometheus.yml"]] {
            let result = try Self.run(promtool, arguments, directory: directory)
            #expect(result.status == 0, "promtool \(arguments.joined(separator: " ")): \(result.output)\(result.errors)")
        }
    }

    // MARK: - Every service run here

    /// Runs every Mekong service of both compose files and of the systemd units once, with its own arguments (ports
    /// moved to free ones, paths under /run/secrets and /var/lib into a scratch directory, the Kafka and PostgreSQL
    /// addresses to the mock cluster and a throwaway database), takes a first deployment through them (topics,
    /// master data, a source, a signed batch through the gateway, a read, the audit verification), and checks that
    /// every `mekong_*` metric `ops/prometheus/rules.yml` and `ops/grafana/dashboards/mekong.json` name is exported
    /// by one of them.
    @Test func everyServiceRunsHereAndExportsEveryMetricTheAlertsAndDashboardName() async throws {
        let cluster = try MockCluster(brokers: 3)
        // The mock cluster does not answer CreateTopics: the topics service then finds them up to date.
        try cluster.createCatalogTopics()
        let database = try TestDatabase.create()
        let scratch = try Self.temporaryDirectory("deployment")
        var children: [ChildProcess] = []
        defer {
            for child in children { child.signal(SIGKILL) }
            database.drop()
            try? FileManager.default.removeItem(at: scratch)
        }
        // A libpq password file, as the secret `pgpass` holds it.
        let pgpass = scratch.appendingPathComponent("pgpass")
        try "localhost:*:*:mekong:mekong\n127.0.0.1:*:*:mekong:mekong\n".write(to: pgpass, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: pgpass.path)
        let config = scratch.appendingPathComponent("kafka-client.json")
        try #"{"kafka": {}}"#.write(to: config, atomically: true, encoding: .utf8)

        let services = try Self.mekongServices()
        let runs = Self.distinct(services)
        #expect(runs.contains { $0.arguments.first == "gateway" })
        #expect(runs.contains { $0.arguments.first == "serve" })
        for name in ["statistics", "audit", "registers", "surveys"] {
            #expect(runs.contains { Array($0.arguments.prefix(2)) == ["project", name] }, "no service runs the \(name) projector")
        }
        #expect(runs.contains { Array($0.arguments.prefix(2)) == ["topics", "apply"] })
        #expect(runs.contains { Array($0.arguments.prefix(2)) == ["audit", "verify"] && $0.arguments.contains("--metrics-file") })

        func local(_ service: MekongService) throws -> (arguments: [String], environment: [String: String], port: Int?) {
            var arguments: [String] = []
            var port: Int?
            var index = 0
            while index < service.arguments.count {
                let argument = service.arguments[index]
                if ["--port", "--metrics-port"].contains(argument), index + 1 < service.arguments.count {
                    let free = try freeTCPPort()
                    arguments += [argument, String(free)]
                    port = free
                    index += 2
                    continue
                }
                arguments.append(Self.localPath(argument, scratch: scratch))
                index += 1
            }
            var environment = ["XDG_STATE_HOME": scratch.appendingPathComponent("state").path]
            for (name, value) in service.environment {
                switch name {
                case "MEKONG_KAFKA": environment[name] = cluster.bootstrapServers
                case "MEKONG_POSTGRES": environment[name] = database.url
                case "PGPASSFILE": environment[name] = pgpass.path
                case "MEKONG_CONFIG": environment[name] = config.path
                case "MEKONG_TOPICS", "MEKONG_PROJECTIONS": break  // the image's copies; here the repository's
                default: environment[name] = Self.localPath(value, scratch: scratch)
                }
            }
            return (arguments, environment, port)
        }

        // 1. The one-shot topics service, as compose runs it first.
        for run in runs where Array(run.arguments.prefix(2)) == ["topics", "apply"] {
            let (arguments, environment, _) = try local(run)
            let result = try await ChildProcess.runOffPool(arguments, environment: environment)
            #expect(result.status == 0, "\(run.origin): \(result.output)\(result.errors)")
        }
        // 2. Every long-running service, all at once as compose starts them.
        var endpoints: [(origin: String, metrics: URL)] = []
        var gateway: URL?
        var readAPI: URL?
        var environmentOfAll: [String: String] = [:]
        for run in runs where ["gateway", "serve", "project"].contains(run.arguments.first ?? "") {
            let (arguments, environment, port) = try local(run)
            environmentOfAll.merge(environment) { old, _ in old }
            let child = try ChildProcess(MekongBinary.url, arguments, environment: environment)
            children.append(child)
            guard let port else {
                Issue.record("\(run.origin) serves no metrics: \(arguments)")
                continue
            }
            let base = URL(string: "http://127.0.0.1:\(port)")!
            endpoints.append((run.origin, base.appendingPathComponent("metrics")))
            if run.arguments.first == "gateway", gateway == nil { gateway = base }
            if run.arguments.first == "serve", readAPI == nil { readAPI = base }
        }
        for (index, endpoint) in endpoints.enumerated() {
            try await Self.waitUntilAnswering(endpoint.metrics, child: children[index], origin: endpoint.origin)
        }
        let common = ["MEKONG_KAFKA": cluster.bootstrapServers, "MEKONG_POSTGRES": database.url,
                      "PGPASSFILE": pgpass.path, "XDG_STATE_HOME": scratch.appendingPathComponent("state").path]

        // 3. A first deployment's traffic: master data, a source, a signed batch through the gateway, a read.
        let events = StatisticalEvents()
        let at = Timestamp(rfc3339: "2025-01-01T00:00:00Z")!
        let samples = try String(contentsOf: Self.root.appendingPathComponent("ops/samples/master-data.ndjson"), encoding: .utf8)
        let masterData = scratch.appendingPathComponent("master-data.ndjson")
        try (samples + String(decoding: events.indicatorDefined(
            "POP.TOTAL", nameVi: "Dân số", nameEn: "Population", unit: "person", periodicities: ["quarter"], at: at
        ).canonicalJSON(), as: UTF8.self) + "\n").write(to: masterData, atomically: true, encoding: .utf8)
        try await Self.mekong(["publish", "--topic", "master-data", masterData.path], common)
        let keys = scratch.appendingPathComponent("keys")
        try await Self.mekong(["keys", "generate", "--id", "ctk01-2026", "--out", keys.path], common)
        try await Self.mekong(
            ["sources", "add", "ctk01", "--uri", "urn:vn:gso:province:01", "--public-key", keys.appendingPathComponent("ctk01-2026.pub").path,
             "--type", "vn.gso.report.submitted", "--unit", "CTK01*", "--area", "01",
             "--api-key-out", keys.appendingPathComponent("ctk01.api-key").path], common)
        let reports = scratch.appendingPathComponent("reports.ndjson")
        try (String(decoding: events.reportSubmitted(
            unit: "CTK01", form: "BC-DS", period: "2025-Q3",
            observations: [.init(indicator: "POP.TOTAL", area: "01", value: 2_869_904)], source: "urn:vn:gso:province:01",
            at: Timestamp(rfc3339: "2025-10-10T01:00:00Z")!
        ).canonicalJSON(), as: UTF8.self) + "\n").write(to: reports, atomically: true, encoding: .utf8)
        guard let gateway, let readAPI else { return }
        // The statistics projector (one of the services) must hold the master data before the gateway accepts codes.
        var published = false
        for _ in 0..<150 where !published {
            let result = try await ChildProcess.runOffPool(
                ["publish", "--via", gateway.absoluteString, "--api-key-file", keys.appendingPathComponent("ctk01.api-key").path,
                 "--key", keys.appendingPathComponent("ctk01-2026.key").path, "--sign-batches",
                 "--receipts", scratch.appendingPathComponent("receipts.jsonl").path, reports.path], environment: common)
            published = result.status == 0
            if !published { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(published, "the gateway never accepted the report")
        // A request without credentials: a problem answer, counted by type.
        var refused = URLRequest(url: gateway.appendingPathComponent("v1/events"))
        refused.httpMethod = "POST"
        refused.httpBody = Data("[]".utf8)
        let (_, refusal) = try await URLSession.shared.data(for: refused)
        #expect((refusal as? HTTPURLResponse)?.statusCode == 401)
        _ = try await URLSession.shared.data(from: readAPI.appendingPathComponent("v1/indicators"))

        // 4. The scheduled jobs (audit verification, tree heads to Kafka, the archive), once the audit projector has
        // recorded the events.
        let scheduled = runs.filter { ["audit", "archive"].contains($0.arguments.first ?? "") }
        #expect(scheduled.contains { Array($0.arguments.prefix(2)) == ["audit", "publish-heads"] })
        #expect(scheduled.contains { Array($0.arguments.prefix(2)) == ["archive", "export"] })
        var metricsFiles: [URL] = []
        for run in scheduled {
            var (arguments, environment, _) = try local(run)
            environment.merge(environmentOfAll) { mine, _ in mine }
            var result = try await ChildProcess.runOffPool(arguments, environment: environment)
            for _ in 0..<50 where result.status != 0 {
                try await Task.sleep(for: .milliseconds(200))
                result = try await ChildProcess.runOffPool(arguments, environment: environment)
            }
            #expect(result.status == 0, "\(run.origin): \(result.output)\(result.errors)")
            if let index = arguments.firstIndex(of: "--metrics-file") {
                let file = URL(fileURLWithPath: arguments[index + 1])
                metricsFiles.append(file)
                let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
                #expect(text.contains("mekong_audit_verify_ok{version=\"4\"} 1"), "\(run.origin) wrote: \(text)")
            }
        }

        // 5. What they export against what the rules and the dashboard name.
        var exported: Set<String> = []
        for endpoint in endpoints {
            let (body, _) = try await URLSession.shared.data(from: endpoint.metrics)
            exported.formUnion(Self.metricNames(exposition: String(decoding: body, as: UTF8.self)))
        }
        for file in metricsFiles {
            exported.formUnion(Self.metricNames(exposition: try String(contentsOf: file, encoding: .utf8)))
        }
        for (name, file) in [("alert rules", "ops/prometheus/rules.yml"), ("dashboard", "ops/grafana/dashboards/mekong.json")] {
            let named = Self.metricNames(referencedIn: try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8))
            #expect(named.count >= 5, "\(file) names only \(named.sorted())")
            for metric in named.sorted() {
                #expect(exported.contains(metric), "the \(name) (\(file)) name \(metric), which no process exports")
            }
        }
        for child in children { child.signal(SIGTERM) }
        for child in children { _ = try? await onThread { try child.wait(timeout: .seconds(30)) } }
        children = []
    }

    // MARK: - Reading the files

    /// A Mekong service of a compose file or a systemd unit: its `mekong` arguments and environment.
    struct MekongService: Sendable {
        let origin: String
        let arguments: [String]
        let environment: [String: String]
    }

    /// Every service running the `mekong` image (compose) or binary (systemd).
    static func mekongServices() throws -> [MekongService] {
        var services: [MekongService] = []
        for file in composeFiles {
            guard case .object(let all)? = try yaml(file)["services"] else { continue }
            for (name, service) in all {
                let image = service["image"]?.stringValue ?? ""
                let built = service["build"] != nil
                guard image.hasPrefix("mekong") || built else { continue }
                let environment = environment(service["environment"])
                let command = strings(service["command"])
                let entrypoint = strings(service["entrypoint"])
                if entrypoint.isEmpty || entrypoint.last?.hasSuffix("mekong") == true {
                    services.append(MekongService(origin: "\(file): \(name)", arguments: command, environment: environment))
                } else {
                    // A shell loop around mekong (a schedule): each `mekong …` command in it.
                    let script = (entrypoint + command).joined(separator: " ")
                    for match in script.matches(of: #/(?:^|[;&|\s])(?:\S*/)?mekong\s+([^;&|]+)/#) {
                        let arguments = match.1.split(separator: " ").map(String.init).filter { !$0.isEmpty }
                        services.append(MekongService(origin: "\(file): \(name)", arguments: arguments, environment: environment))
                    }
                }
            }
        }
        for unit in try systemdUnitFiles() where unit.pathExtension == "service" {
            let text = try String(contentsOf: unit, encoding: .utf8)
            var environment: [String: String] = [:]
            // The installation's environment file, as ops/systemd/mekong.env.example shows it.
            if text.contains("EnvironmentFile=/etc/mekong/mekong.env") {
                let example = try String(contentsOf: root.appendingPathComponent("ops/systemd/mekong.env.example"), encoding: .utf8)
                for line in example.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
                    let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                    environment[parts[0].trimmingCharacters(in: .whitespaces)] = parts.count == 2 ? parts[1] : ""
                }
            }
            for line in text.split(separator: "\n") where line.hasPrefix("Environment=") {
                for assignment in line.dropFirst("Environment=".count).split(separator: " ") {
                    let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2 { environment[parts[0].trimmingCharacters(in: CharacterSet(charactersIn: "\""))] = parts[1] }
                }
            }
            for line in text.split(separator: "\n") where line.hasPrefix("ExecStart=") {
                let words = line.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
                guard words.first?.hasSuffix("/mekong") == true else { continue }
                services.append(MekongService(
                    origin: "ops/systemd/\(unit.lastPathComponent)", arguments: Array(words.dropFirst()), environment: environment))
            }
        }
        return services
    }

    /// One run per distinct command (ports and listening addresses aside): compose and systemd start the same
    /// programs in different places.
    static func distinct(_ services: [MekongService]) -> [MekongService] {
        var seen: Set<[String]> = []
        return services.filter { service in
            var key: [String] = []
            var skip = false
            for (index, argument) in service.arguments.enumerated() {
                if skip { skip = false; continue }
                if ["--port", "--metrics-port", "--host", "--metrics-host"].contains(argument) {
                    skip = true
                    continue
                }
                if index > 0, service.arguments[index - 1] == "--metrics-file" || argument.contains("/") {
                    key.append("PATH")
                } else {
                    key.append(argument)
                }
            }
            return seen.insert(key).inserted
        }
    }

    static func systemdUnitFiles() throws -> [URL] {
        let directory = root.appendingPathComponent("ops/systemd")
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { ["service", "timer"].contains($0.pathExtension) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// A compose file as JSON (PyYAML, which the contract tests use too).
    static func yaml(_ file: String) throws -> JSONValue {
        let result = try run("/usr/bin/env", [
            "python3", "-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
            root.appendingPathComponent(file).path,
        ], directory: root)
        guard result.status == 0 else { throw DeploymentFileError(message: "\(file) does not parse: \(result.errors)") }
        return try JSON.parse(result.output)
    }

    /// The environment variables `mekong` reads: named in its sources as `environment["…"]`.
    static func variablesTheBinaryReads() throws -> Set<String> {
        var names: Set<String> = []
        let sources = root.appendingPathComponent("Sources")
        let enumerator = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let file = enumerator?.nextObject() as? URL {
            guard file.pathExtension == "swift", !file.path.contains("MekongTestSupport"),
                !file.path.contains("MekongBenchmarks")
            else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            // Read as `environment["NAME"]`, or through a constant holding the name (CatalogLocator's MEKONG_TOPICS).
            for match in text.matches(of: #/"((?:MEKONG|XDG)_[A-Z_]+)"/#) { names.insert(String(match.1)) }
        }
        return names.subtracting(["MEKONG_GATEWAY_CRASH_AT"])  // crash tests only, never in a deployment
    }

    /// libpq's own environment variables (PostgreSQL manual, 34.15), read by every connection mekong opens.
    static func isLibpqVariable(_ name: String) -> Bool {
        ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGSERVICE",
         "PGSERVICEFILE", "PGOPTIONS", "PGAPPNAME", "PGSSLMODE", "PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT", "PGSSLCRL",
         "PGSSLCRLDIR", "PGSSLSNI", "PGREQUIRESSL", "PGCONNECT_TIMEOUT", "PGTARGETSESSIONATTRS", "PGTZ", "PGDATESTYLE",
         "PGCLIENTENCODING", "PGCHANNELBINDING", "PGSSLMINPROTOCOLVERSION", "PGSSLMAXPROTOCOLVERSION", "PGKRBSRVNAME",
         "PGGSSENCMODE", "PGGSSLIB"].contains(name)
    }

    /// Metric family names in a Prometheus text exposition, with a histogram's series names.
    static func metricNames(exposition: String) -> Set<String> {
        var names: Set<String> = []
        for line in exposition.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let words = line.split(separator: " ")
            guard words.count == 4 else { continue }
            let name = String(words[2])
            names.insert(name)
            if words[3] == "histogram" { names.formUnion([name + "_bucket", name + "_sum", name + "_count"]) }
        }
        return names
    }

    /// The `mekong_*` series names a rules file or a dashboard uses.
    static func metricNames(referencedIn text: String) -> Set<String> {
        Set(text.matches(of: #/\bmekong_[a-z0-9_]+\b/#).map { String($0.0) })
    }

    /// A compose path (secret, state) as a path in the scratch directory.
    static func localPath(_ value: String, scratch: URL) -> String {
        for prefix in ["/run/secrets/", "/var/lib/", "/var/backups/", "${CREDENTIALS_DIRECTORY}/", "$CREDENTIALS_DIRECTORY/",
                       "%d/", "/etc/mekong/"]
        where value.hasPrefix(prefix) {
            let local = scratch.appendingPathComponent(String(value.dropFirst(prefix.count)))
            try? FileManager.default.createDirectory(at: local.deletingLastPathComponent(), withIntermediateDirectories: true)
            return local.path
        }
        return value
    }

    /// A compose `environment`, as a map or as a list of `NAME=value`.
    static func environment(_ value: JSONValue?) -> [String: String] {
        var variables: [String: String] = [:]
        switch value {
        case .object(let map)?:
            for (key, value) in map { variables[key] = text(value) ?? "" }
        case .array(let list)?:
            for item in list.compactMap(text) {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                variables[parts[0]] = parts.count == 2 ? parts[1] : ""
            }
        default: break
        }
        return variables
    }

    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): text
        case .number(let number): number.rounded() == number ? String(Int64(number)) : String(number)
        case .bool(let flag): String(flag)
        default: nil
        }
    }

    static func strings(_ value: JSONValue?) -> [String] {
        switch value {
        case .array(let items)?: items.compactMap(text)
        case .string(let line)?: line.split(separator: " ").map(String.init)
        default: []
        }
    }

    static func waitUntilAnswering(_ url: URL, child: ChildProcess, origin: String) async throws {
        let end = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < end {
            if let (_, response) = try? await URLSession.shared.data(from: url),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            guard child.process.isRunning else {
                throw DeploymentFileError(message: "\(origin) stopped: \(child.standardError)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DeploymentFileError(message: "\(origin) never answered at \(url): \(child.standardError)")
    }

    @discardableResult
    static func mekong(_ arguments: [String], _ environment: [String: String]) async throws -> String {
        let result = try await ChildProcess.runOffPool(arguments, environment: environment)
        guard result.status == 0 else {
            throw DeploymentFileError(message: "mekong \(arguments.joined(separator: " ")): \(result.output)\(result.errors)")
        }
        return result.output
    }

    static func run(_ executable: String, _ arguments: [String], directory: URL) throws
        -> (status: Int32, output: String, errors: String)
    {
        let child = try ChildProcess(URL(fileURLWithPath: executable), arguments, directory: directory)
        let status = try child.wait(timeout: .seconds(120))
        return (status, child.standardOutput, child.standardError)
    }

    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mekong-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    struct DeploymentFileError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}

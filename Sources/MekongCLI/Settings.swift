import ArgumentParser
import Foundation
import MekongKafka

/// Where Kafka and PostgreSQL are, from (highest first) command-line options, environment variables
/// (`MEKONG_KAFKA`, `MEKONG_POSTGRES`), a configuration file (`--config`, `MEKONG_CONFIG`, or
/// `~/.config/mekong/config.json`), and the development defaults.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Kafka bootstrap servers (host:port,...). Default: the running `mekong dev` cluster.")
    var kafka: String?

    @Option(
        name: .long,
        help: "PostgreSQL URL or conninfo. Default: libpq's PG* variables if set, else postgresql://mekong@localhost:5432/mekong.")
    var postgres: String?

    @Option(name: .long, help: "JSON configuration file: {\"kafka\": {librdkafka properties}, \"postgres\": URL}.")
    var config: String?

    func resolve() throws -> Settings {
        try Settings.resolve(options: self, environment: ProcessInfo.processInfo.environment)
    }
}

struct Settings {
    static let defaultPostgres = "postgresql://mekong@localhost:5432/mekong"

    /// librdkafka properties from the file and options; `bootstrap.servers` may still be missing.
    var kafkaProperties: [String: String]
    var postgres: String

    /// The Kafka client configuration; without a configured cluster, the running `mekong dev` cluster.
    func kafka() throws -> KafkaConfiguration {
        let servers = try kafkaProperties["bootstrap.servers"] ?? DevClusterRecord.read().bootstrapServers
        return KafkaConfiguration(bootstrapServers: servers, properties: kafkaProperties)
    }

    /// The configuration file's shape.
    struct File: Decodable {
        var kafka: [String: String]?
        var postgres: String?
    }

    static func resolve(options: ConnectionOptions, environment: [String: String]) throws -> Settings {
        var file = File()
        let explicitPath = options.config ?? environment["MEKONG_CONFIG"]
        let path = explicitPath ?? (NSHomeDirectory() + "/.config/mekong/config.json")
        if explicitPath != nil || FileManager.default.fileExists(atPath: path) {
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                // Deny by default: a misspelt key would otherwise be ignored and a default used in its place.
                if let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
                    let unknown = Set(object.keys).subtracting(["kafka", "postgres"])
                    if !unknown.isEmpty {
                        throw ValidationError(
                            "configuration file \(path): unknown key(s) \(unknown.sorted().joined(separator: ", ")) (known: kafka, postgres)")
                    }
                }
                file = try JSONDecoder().decode(File.self, from: data)
            } catch let error as ValidationError {
                throw error
            } catch {
                throw ValidationError("configuration file \(path): \(error)")
            }
        }
        var properties = file.kafka ?? [:]
        if let servers = options.kafka ?? environment["MEKONG_KAFKA"] {
            properties["bootstrap.servers"] = servers
        }
        // With libpq's own PG* variables set, an empty conninfo lets libpq take everything from them.
        let libpqEnvironment = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"]
            .contains { environment[$0] != nil }
        let postgres = options.postgres ?? environment["MEKONG_POSTGRES"] ?? file.postgres
            ?? (libpqEnvironment ? "" : defaultPostgres)
        return Settings(kafkaProperties: properties, postgres: postgres)
    }
}

/// The address of the running `mekong dev` cluster, recorded so that other commands find it without options.
struct DevClusterRecord: Codable {
    var bootstrapServers: String
    var pid: Int32
    /// The Unix socket of the cluster's chaos control channel (`mekong dev chaos`); absent in records written by
    /// versions before it, which still read.
    var controlSocket: String?

    static var url: URL {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["MEKONG_DEV_STATE"] { return URL(fileURLWithPath: path) }
        let base = environment["XDG_STATE_HOME"] ?? (NSHomeDirectory() + "/.local/state")
        return URL(fileURLWithPath: base).appendingPathComponent("mekong/dev-cluster.json")
    }

    static func read() throws -> DevClusterRecord {
        guard let data = try? Data(contentsOf: url),
            let record = try? JSONDecoder().decode(DevClusterRecord.self, from: data)
        else {
            throw ValidationError(
                "no Kafka cluster given: pass --kafka, set MEKONG_KAFKA, or start one with `mekong dev` (none is recorded at \(url.path))")
        }
        guard kill(record.pid, 0) == 0 else {
            throw ValidationError(
                "the dev cluster recorded at \(url.path) (pid \(record.pid)) is no longer running: start it with `mekong dev`")
        }
        return record
    }

    func write() throws {
        try FileManager.default.createDirectory(
            at: Self.url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONEncoder().encode(self).write(to: Self.url, options: .atomic)
    }

    static func remove(ifOwnedBy pid: Int32) {
        if let record = try? read(), record.pid == pid {
            try? FileManager.default.removeItem(at: url)
        }
    }
}

import ArgumentParser
import Dispatch
import Foundation
import MekongProjection
import MekongKafka

struct DevCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run an in-process mock Kafka cluster with the catalog's topics (ephemeral: all data is lost on exit).",
        discussion: """
            Starts librdkafka's mock cluster, which speaks the real Kafka protocol on localhost ports, creates every \
            topic of Topics/, prints the bootstrap address and records it so that other mekong commands use it \
            without --kafka. Nothing is written to disk; stopping the command (Ctrl-C) discards every event. \
            For development and demos only, never for real data. While it runs, `mekong dev chaos …` takes its \
            brokers down and up, moves leaders and makes requests fail, through a Unix socket recorded beside the \
            cluster's address.
            """,
        subcommands: [ChaosCommand.self])

    @Option(help: "Number of mock brokers (the catalog's replication factor needs up to 3).")
    var brokers = 3

    @Option(help: "Seed of the pattern of failed requests under `mekong dev chaos errors`.")
    var errorSeed: UInt64 = 1

    func run() throws {
        let catalog = try Resources.catalog()
        let cluster = try MockCluster(brokers: brokers)
        for topic in catalog.topics {
            try cluster.createTopic(
                topic.name, partitions: topic.partitions, replicationFactor: min(topic.replicationFactor, brokers))
        }
        let controller = ChaosController(
            cluster: cluster, topics: catalog.topics.map { .init(name: $0.name, partitions: $0.partitions) },
            seed: errorSeed)
        let control = try ChaosControlServer(path: DevClusterRecord.controlSocketPath(pid: getpid())) { line in
            let answer: String
            do {
                let detail = try controller.perform(try ChaosAction(parsing: line))
                answer = detail.isEmpty ? "ok" : "ok \(detail)"
            } catch {
                answer = "error \(error)"
            }
            if line != "status" {
                print("chaos: \(line) -> \(answer)")
                flushStandardOutput()
            }
            return answer
        }
        try DevClusterRecord(bootstrapServers: cluster.bootstrapServers, pid: getpid(), controlSocket: control.path)
            .write()
        print("mekong dev: mock Kafka cluster of \(brokers) brokers at \(cluster.bootstrapServers)")
        print("topics: " + catalog.topics.map { "\($0.name) (\($0.partitions))" }.joined(separator: ", "))
        print("recorded in \(DevClusterRecord.url.path); ephemeral: everything is lost when this stops (Ctrl-C)")
        print("chaos control: \(control.path) (mekong dev chaos --help)")
        flushStandardOutput()
        let stop = StopSignal()
        let stopped = DispatchSemaphore(value: 0)
        Signals.stopOnTermination(stop) { stopped.signal() }
        stopped.wait()
        control.stop()
        controller.stop()
        DevClusterRecord.remove(ifOwnedBy: getpid())
        print("mekong dev: stopped")
        withExtendedLifetime(cluster) {}
    }
}

extension DevClusterRecord {
    /// Beside the state file (`dev-cluster.sock`), unless that path is too long for a Unix socket (107 bytes).
    static func controlSocketPath(pid: Int32) -> String {
        let beside = url.deletingPathExtension().appendingPathExtension("sock").path
        if beside.utf8.count < 100 { return beside }
        return URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("mekong-dev-\(pid).sock").path
    }
}

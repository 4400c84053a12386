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
            For development and demos only, never for real data.
            """)

    @Option(help: "Number of mock brokers (the catalog's replication factor needs up to 3).")
    var brokers = 3

    func run() throws {
        let catalog = try Resources.catalog()
        let cluster = try MockCluster(brokers: brokers)
        for topic in catalog.topics {
            try cluster.createTopic(
                topic.name, partitions: topic.partitions, replicationFactor: min(topic.replicationFactor, brokers))
        }
        try DevClusterRecord(bootstrapServers: cluster.bootstrapServers, pid: getpid()).write()
        print("mekong dev: mock Kafka cluster of \(brokers) brokers at \(cluster.bootstrapServers)")
        print("topics: " + catalog.topics.map { "\($0.name) (\($0.partitions))" }.joined(separator: ", "))
        print("recorded in \(DevClusterRecord.url.path); ephemeral: everything is lost when this stops (Ctrl-C)")
        flushStandardOutput()
        let stop = StopSignal()
        let stopped = DispatchSemaphore(value: 0)
        Signals.stopOnTermination(stop) { stopped.signal() }
        stopped.wait()
        DevClusterRecord.remove(ifOwnedBy: getpid())
        print("mekong dev: stopped")
        withExtendedLifetime(cluster) {}
    }
}

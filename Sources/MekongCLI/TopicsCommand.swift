import ArgumentParser
import MekongCatalog
import MekongKafka

struct TopicsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics", abstract: "Create and inspect the catalog's topics on a cluster.",
        subcommands: [Apply.self, List.self])

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create every catalog topic the cluster lacks; report topics that differ from the catalog.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Seconds to wait for the cluster to create the topics.") var timeout = 30

        func run() throws {
            let catalog = try Resources.catalog()
            let admin = try KafkaAdmin(configuration: try connection.resolve().kafka())
            let existing = try admin.describeTopics(catalog.topics.map(\.name))
            var missing: [TopicDefinition] = []
            var failed = false
            for (topic, found) in zip(catalog.topics, existing) {
                if found.error != nil || found.partitions.isEmpty {
                    missing.append(topic)
                    continue
                }
                let differences = compare(topic, found)
                if differences.isEmpty {
                    print("\(pad(topic.name)) up to date: \(found.partitions.count) partitions, replication \(found.replicationFactor)")
                } else {
                    failed = true
                    print("\(pad(topic.name)) DIFFERS: " + differences.joined(separator: "; "))
                }
            }
            if !missing.isEmpty {
                let outcome: [String: Result<Void, KafkaError>]
                do {
                    outcome = try admin.createTopics(
                        missing.map {
                            NewTopic(name: $0.name, partitions: $0.partitions, replicationFactor: $0.replicationFactor,
                                     config: $0.kafkaConfig)
                        }, timeout: .seconds(timeout))
                } catch {
                    // The request as a whole failed (e.g. the cluster does not implement CreateTopics).
                    outcome = Dictionary(uniqueKeysWithValues: missing.map { ($0.name, .failure(error)) })
                }
                for topic in missing {
                    switch outcome[topic.name] {
                    case .success?:
                        print("\(pad(topic.name)) created: \(topic.partitions) partitions, replication \(topic.replicationFactor)")
                    case .failure(let error)?:
                        failed = true
                        print("\(pad(topic.name)) NOT created: \(error)")
                    case nil:
                        failed = true
                        print("\(pad(topic.name)) NOT created: the cluster gave no answer for it")
                    }
                }
            }
            if failed { throw ExitCode.failure }
        }

        private func compare(_ topic: TopicDefinition, _ found: TopicDescription) -> [String] {
            var differences: [String] = []
            if found.partitions.count != topic.partitions {
                differences.append("\(found.partitions.count) partitions, catalog says \(topic.partitions)")
            }
            if found.replicationFactor != topic.replicationFactor {
                differences.append("replication \(found.replicationFactor), catalog says \(topic.replicationFactor)")
            }
            return differences
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the catalog's topics and their state on the cluster.")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            let catalog = try Resources.catalog()
            let admin = try KafkaAdmin(configuration: try connection.resolve().kafka())
            let found = try admin.describeTopics(catalog.topics.map(\.name))
            print("\(pad("TOPIC")) \(pad("KIND", 12)) \(pad("PARTITIONS", 11)) \(pad("REPLICATION", 12)) \(pad("RETENTION", 10)) EVENT TYPES")
            for (topic, state) in zip(catalog.topics, found) {
                let partitions = state.error == nil ? "\(state.partitions.count)/\(topic.partitions)" : "absent"
                let replication = state.error == nil ? "\(state.replicationFactor)/\(topic.replicationFactor)" : "-"
                let retention = topic.retentionMs < 0 ? "forever" : "\(topic.retentionMs) ms"
                print("\(pad(topic.name)) \(pad(topic.kind.rawValue, 12)) \(pad(partitions, 11)) \(pad(replication, 12)) \(pad(retention, 10)) \(topic.eventTypes.joined(separator: ", "))")
            }
        }
    }
}

func pad(_ text: String, _ width: Int = 16) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

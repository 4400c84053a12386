import ArgumentParser
import Foundation
import MekongKafka
import MekongPublishing

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a file of newline-delimited CloudEvents to a topic, all or nothing.",
        discussion: """
            Every line is checked against the CloudEvents envelope and the catalog's JSON Schema for its type \
            before anything is sent. If any line is invalid, nothing is published and every bad line is reported \
            with its number and reason (exit code 1), unless --skip-invalid is given. Each event is acknowledged \
            only by Kafka's delivery report (acks=all).
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The topic to publish to (must be in the catalog).") var topic: String
    @Flag(help: "Publish the valid lines and report the invalid ones instead of publishing nothing.")
    var skipInvalid = false
    @Argument(help: "Newline-delimited CloudEvents JSON file.") var file: String

    func run() async throws {
        let catalog = try Resources.catalog()
        let eventFile: EventFile
        do {
            eventFile = try EventFile(url: URL(fileURLWithPath: file), topic: topic, catalog: catalog)
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        for problem in eventFile.problems { printError("\(file): \(problem)") }
        if !eventFile.isValid && !skipInvalid {
            let lines = Set(eventFile.problems.map(\.line)).count
            printError("\(file): \(lines) invalid line(s); nothing was published (use --skip-invalid to publish the \(eventFile.events.count) valid ones)")
            throw ExitCode.failure
        }
        guard !eventFile.events.isEmpty else {
            print("nothing to publish")
            return
        }
        let settings = try connection.resolve()
        let producer = try Producer(configuration: settings.kafka())
        defer { producer.close() }
        let results = await EventPublisher(producer: producer).publish(eventFile.events.map(\.event), topic: topic)
        var perPartition: [Int32: (count: Int, first: Int64, last: Int64)] = [:]
        var failures = 0
        for (line, result) in zip(eventFile.events, results) {
            switch result {
            case .success(let report):
                let entry = perPartition[report.partition]
                perPartition[report.partition] = (
                    (entry?.count ?? 0) + 1, min(entry?.first ?? .max, report.offset), max(entry?.last ?? -1, report.offset)
                )
            case .failure(let error):
                failures += 1
                printError("\(file): line \(line.line): event \(line.event.id) NOT acknowledged: \(error)")
            }
        }
        let published = results.count - failures
        print("published \(published) of \(eventFile.events.count) events to \(topic)"
              + (eventFile.problems.isEmpty ? "" : "; skipped \(Set(eventFile.problems.map(\.line)).count) invalid line(s)"))
        for (partition, entry) in perPartition.sorted(by: { $0.key < $1.key }) {
            print("  \(topic)[\(partition)]: \(entry.count) events at offsets \(entry.first)...\(entry.last)")
        }
        if failures > 0 || !eventFile.isValid { throw ExitCode.failure }
    }
}

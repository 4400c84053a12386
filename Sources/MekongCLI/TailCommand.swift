import ArgumentParser
import Foundation
import MekongProjection
import MekongEvents
import MekongKafka

struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print a topic's events, one line each: position, time, type, source, subject.",
        discussion: """
            Without --from-beginning, reading starts at the end of each partition. Without --follow, it stops at \
            the end of the log as it was when the command started. Filters use the ce_type and ce_source record \
            headers, so filtered-out records are not parsed.
            """)

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The topic to read.") var topic: String
    @Flag(help: "Start at the oldest record of each partition.") var fromBeginning = false
    @Flag(help: "Keep waiting for new records until interrupted.") var follow = false
    @Option(help: "Only events of this type.") var type: String?
    @Option(help: "Only events from this source.") var source: String?
    @Flag(help: "Print each event's JSON instead of a summary line.") var json = false

    func run() throws {
        let settings = try connection.resolve()
        let consumer = try Consumer(configuration: settings.kafka())
        defer { consumer.close() }
        let count = try consumer.partitionCount(of: topic)
        let partitions = (0..<count).map { TopicPartition(topic: topic, partition: Int32($0)) }
        var ends: [TopicPartition: Int64] = [:]
        var positions: [TopicPartition: Int64] = [:]
        for tp in partitions {
            let (low, high) = try consumer.watermarks(of: tp)
            ends[tp] = high
            positions[tp] = fromBeginning ? low : high
        }
        try consumer.assign(positions)
        let stop = StopSignal()
        Signals.stopOnTermination(stop)
        var done = Set(partitions.filter { positions[$0]! >= ends[$0]! })
        while !stop.isStopped, follow || done.count < partitions.count {
            for message in try consumer.poll(maxMessages: 500, timeout: .milliseconds(200)) {
                if message.offset + 1 >= ends[message.topicPartition]! { done.insert(message.topicPartition) }
                if let type, message.header("ce_type") != type { continue }
                if let source, message.header("ce_source") != source { continue }
                print(json ? String(decoding: message.value, as: UTF8.self) : Self.summary(message))
            }
            flushStandardOutput()
        }
    }

    static func summary(_ message: ConsumedMessage) -> String {
        let position = "\(message.topic)[\(message.partition)]@\(message.offset)"
        do {
            let event = try CloudEvent(decoding: message.value)
            return [position, event.time.text, event.type, event.source, event.subject].joined(separator: "  ")
        } catch {
            return "\(position)  (not a valid event: \(error))"
        }
    }
}

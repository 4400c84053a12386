import ArgumentParser
import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection

struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect and redrive dead letters: records a projection could not decode, upcast, validate or apply.",
        subcommands: [List.self, Show.self, Redrive.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters not yet redriven, oldest first.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only this projection's.") var projection: String?
        @Flag(help: "Include redriven ones.") var all = false

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let letters = try DeadLetterStore(db: db).list(projection: projection, includeRedriven: all)
            for letter in letters {
                let redriven = letter.redrivenTo.map { "  redriven to \($0)" } ?? ""
                print("\(letter.id)  \(letter.projection.name) v\(letter.projection.version)  \(letter.position)  \(letter.stage)  \(oneLine(letter.reason, limit: 160))\(redriven)")
            }
            printError("\(letters.count) dead letter(s)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter in full, with its original record.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The dead letter's id (from `mekong dlq list`).") var id: Int64

        func run() throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            guard let letter = try DeadLetterStore(db: db).find(id) else {
                throw ValidationError("no dead letter \(id)")
            }
            print("id:             \(letter.id)")
            print("projection:     \(letter.projection)")
            print("position:       \(letter.position)")
            print("stage:          \(letter.stage)")
            print("reason:         \(letter.reason)")
            print("event id:       \(letter.eventID ?? "-")")
            print("event type:     \(letter.eventType ?? "-")")
            print("dead-lettered:  \(Timestamp(date: letter.deadLetteredAt).text)")
            print("redriven:       \(letter.redrivenTo.map { "to \($0) at \(Timestamp(date: letter.redrivenAt!).text)" } ?? "no")")
            print("key:            \(letter.key.map { String(decoding: $0, as: UTF8.self) } ?? "-")")
            print("headers:        \(letter.headersJSON)")
            print("value (\(letter.value.count) bytes):")
            let text = String(decoding: letter.value.prefix(4_096), as: UTF8.self)
            print(text + (letter.value.count > 4_096 ? "\n… (\(letter.value.count - 4_096) more bytes)" : ""))
        }
    }

    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-publish dead letters' original records to their topics, to be applied again after a fix.",
            discussion: """
                Each record is published as it was (key, value, headers) with a mekong_redriven_from header naming \
                its old position, and the dead letter is marked with its new position. Fix the cause first (an \
                upcaster, master data, the projection), or the copy is dead-lettered again.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Dead letter ids.") var ids: [Int64] = []
        @Flag(help: "Every dead letter not yet redriven (of --projection, if given).") var allPending = false
        @Option(help: "With --all-pending: only this projection's.") var projection: String?

        func validate() throws {
            guard ids.isEmpty != !allPending else {
                throw ValidationError("give dead letter ids, or --all-pending (not both)")
            }
        }

        func run() async throws {
            let settings = try connection.resolve()
            let db = try PostgresConnection(url: settings.postgres)
            defer { db.close() }
            let store = DeadLetterStore(db: db)
            let chosen = allPending ? try store.list(projection: projection).map(\.id) : ids
            let producer = try Producer(configuration: settings.kafka())
            defer { producer.close() }
            for (letter, report) in try await store.redrive(chosen, producer: producer) {
                print("redrove \(letter.id): \(letter.position) → \(report)")
            }
            printError("\(chosen.count) dead letter(s) redriven")
        }
    }
}

func oneLine(_ text: String, limit: Int) -> String {
    let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
    return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
}

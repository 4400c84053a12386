import ArgumentParser
import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection

struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect, redrive and close dead letters: records a projection could not decode, upcast, validate or apply.",
        subcommands: [List.self, Show.self, Redrive.self, Close.self])

    /// Connects and brings the core tables up to date when they exist (a database whose projectors have not been
    /// restarted since an upgrade may lack the newest dead-letter columns). Without a Projections/ directory, the
    /// database is used as it is.
    static func connect(_ connection: ConnectionOptions) throws -> PostgresConnection {
        let settings = try connection.resolve()
        let db = try PostgresConnection(url: settings.postgres)
        do {
            if try db.query("SELECT to_regclass('mekong.dead_letters') IS NOT NULL")[0].decode(Bool.self, at: 0),
                let directory = MigrationRunner.locate()
            {
                try MigrationRunner(directory: directory).apply(projection: "core", version: 1, on: db)
            }
        } catch {
            db.close()
            throw error
        }
        return db
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List pending dead letters (neither redriven nor closed), oldest first.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only this projection's.") var projection: String?
        @Flag(help: "Include redriven and closed ones.") var all = false

        func run() throws {
            let db = try DeadLetterCommand.connect(connection)
            defer { db.close() }
            let letters = try DeadLetterStore(db: db).list(projection: projection, includeRedriven: all)
            for letter in letters {
                let state =
                    letter.redrivenTo.map { "  redriven to \($0)" }
                    ?? letter.closeReason.map { "  closed: \(oneLine($0, limit: 120))" } ?? ""
                print("\(letter.id)  \(letter.projection.name) v\(letter.projection.version)  \(letter.position)  \(letter.stage)  \(oneLine(letter.reason, limit: 160))\(state)")
            }
            printError("\(letters.count) dead letter(s)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter in full, with its original record.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The dead letter's id (from `mekong dlq list`).") var id: Int64

        func run() throws {
            let db = try DeadLetterCommand.connect(connection)
            defer { db.close() }
            guard let letter = try DeadLetterStore(db: db).find(id) else {
                throw ValidationError("no dead letter \(id)")
            }
            let recordTime = letter.recordTimestampMilliseconds.map {
                "\(Timestamp(date: Date(timeIntervalSince1970: Double($0) / 1_000)).text) (\($0) ms)"
            }
            print("id:             \(letter.id)")
            print("projection:     \(letter.projection)")
            print("position:       \(letter.position)")
            print("record time:    \(recordTime ?? "-")")
            print("stage:          \(letter.stage)")
            print("reason:         \(letter.reason)")
            print("event id:       \(letter.eventID ?? "-")")
            print("event type:     \(letter.eventType ?? "-")")
            print("dead-lettered:  \(Timestamp(date: letter.deadLetteredAt).text)")
            print("redriven:       \(letter.redrivenTo.map { "to \($0) at \(Timestamp(date: letter.redrivenAt!).text)" } ?? "no")")
            print("closed:         \(letter.closeReason.map { "at \(Timestamp(date: letter.closedAt!).text): \($0)" } ?? "no")")
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
                Each record is published as it was (key, value, headers) with headers naming its first origin \
                (mekong_redriven_from: topic[partition]@offset, mekong_original_timestamp: milliseconds), and the \
                dead letter is marked with its new position. Fix the cause first (an upcaster, master data, the \
                projection), or the copy is dead-lettered again. Each dead letter is claimed under a row lock, so \
                two commands never both publish it. A record over the size projections accept (1 MiB) is refused; \
                close it with `mekong dlq close`. With ids, nothing is published if any of them is refused; with \
                --all-pending, those are skipped and listed.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Dead letter ids.") var ids: [Int64] = []
        @Flag(help: "Every pending dead letter (of --projection, if given); those that cannot be redriven are skipped.")
        var allPending = false
        @Option(help: "With --all-pending: only this projection's.") var projection: String?

        func validate() throws {
            guard ids.isEmpty != !allPending else {
                throw ValidationError("give dead letter ids, or --all-pending (not both)")
            }
        }

        func run() async throws {
            let settings = try connection.resolve()
            let db = try DeadLetterCommand.connect(connection)
            defer { db.close() }
            let store = DeadLetterStore(db: db)
            var seen = Set<Int64>()
            let chosen = allPending ? try store.list(projection: projection).map(\.id) : ids.filter { seen.insert($0).inserted }
            let refusals = try store.redriveRefusals(chosen)
            if !refusals.isEmpty, !allPending {
                for refusal in refusals { printError(refusal.message) }
                printError("nothing was redriven")
                throw ExitCode.failure
            }
            var kafka = try settings.kafka()
            // A record up to the 1 MiB projections accept, with its key and headers, must not be refused by
            // librdkafka's own default (message.max.bytes 1 000 000); the broker still applies the topic's limit.
            if kafka["message.max.bytes"] == nil {
                kafka["message.max.bytes"] = String(2 * DeadLetterStore.maximumRedriveBytes)
            }
            let producer = try Producer(configuration: kafka)
            defer { producer.close() }
            var skipped = refusals
            var redriven = 0
            for id in chosen where !refusals.contains(where: { $0.id == id }) {
                switch try await store.redrive(id, producer: producer) {
                case .success(let done):
                    print("redrove \(id): \(done.letter.position) → \(done.report)")
                    redriven += 1
                case .failure(let refusal):
                    // Redriven or closed by another command since the check above.
                    skipped.append(refusal)
                }
            }
            for refusal in skipped { printError("skipped: \(refusal.message)") }
            printError("\(redriven) dead letter(s) redriven" + (skipped.isEmpty ? "" : ", \(skipped.count) skipped"))
            // Ids given by hand that were not all redriven fail the command; --all-pending reports and succeeds.
            if !allPending, !skipped.isEmpty { throw ExitCode.failure }
        }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close dead letters that will never be redriven, with a reason; they are no longer pending.",
            discussion: """
                For a record that cannot be redriven (e.g. over the size projections accept) or need not be. \
                Closing is final and all-or-nothing: if any id is missing, redriven or closed already, none is \
                closed. `mekong dlq list --all` and `mekong dlq show` show closed dead letters with their reason.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Dead letter ids.") var ids: [Int64]
        @Option(help: "Why (required; kept with the dead letter).") var reason: String

        func validate() throws {
            guard !ids.isEmpty else { throw ValidationError("give the ids of the dead letters to close") }
            guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ValidationError("--reason must not be empty")
            }
        }

        func run() throws {
            let db = try DeadLetterCommand.connect(connection)
            defer { db.close() }
            for letter in try DeadLetterStore(db: db).close(ids, reason: reason) {
                print("closed \(letter.id): \(letter.position)")
            }
            printError("\(Set(ids).count) dead letter(s) closed")
        }
    }
}

func oneLine(_ text: String, limit: Int) -> String {
    let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
    return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
}

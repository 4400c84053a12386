import ArgumentParser
import Foundation
import MekongKafka
import MekongProjection

struct ChaosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Break the running `mekong dev` cluster on purpose: brokers down and up, leaders moved, requests failed.",
        discussion: """
            Talks to `mekong dev` through its control socket (recorded in its state file). Every action prints one \
            line: `TIME +ELAPSED ACTION -> ok[ DETAIL]` or `… -> error MESSAGE` (TIME in UTC with milliseconds, \
            ELAPSED in seconds since the command started); the exit code is 1 if an action failed. A broker taken \
            down keeps leading its partitions: clients wait for it (or for `leader`) and retry. `errors` makes each \
            produce/fetch/… request fail with a retriable error with the given probability (docs/projections.md, \
            "Chaos testing"). `schedule` does random actions from a seed for a while, then heals.
            """,
        subcommands: [
            Status.self, BrokerDown.self, BrokerUp.self, Leader.self, Leaders.self, Errors.self, Heal.self,
            Schedule.self,
        ])

    struct Channel: ParsableArguments {
        @Option(help: "The control socket (default: the one the running `mekong dev` recorded).") var socket: String?

        func path() throws -> String {
            if let socket { return socket }
            let record = try DevClusterRecord.read()
            guard let path = record.controlSocket else {
                throw ValidationError(
                    "the dev cluster (pid \(record.pid)) has no control socket: it was started by an older mekong; restart `mekong dev`")
            }
            return path
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one line: brokers, which are down, topics, the error setting and requests counted.",
            discussion: """
                brokers=1,2,3 down=none topics=NAME:PARTITIONS,… errors=off|RATE requests=none|produce,… \
                counted=none|REQUEST:COUNTED/FAILED,… dry-refills=N queued=N
                """)
        @OptionGroup var channel: Channel
        func run() throws {
            let answer = try ChaosControlClient.send("status", to: try channel.path())
            guard answer.hasPrefix("ok ") else { throw ValidationError(answer) }
            print(answer.dropFirst(3))
        }
    }

    struct BrokerDown: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "broker-down", abstract: "Close a broker's connections and refuse new ones.")
        @OptionGroup var channel: Channel
        @Argument(help: "Broker id (1…brokers).") var id: Int32
        func run() throws { try ChaosLog().perform(.brokerDown(id), channel: channel.path()) }
    }

    struct BrokerUp: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "broker-up", abstract: "Let a broker accept connections again.")
        @OptionGroup var channel: Channel
        @Argument(help: "Broker id (1…brokers).") var id: Int32
        func run() throws { try ChaosLog().perform(.brokerUp(id), channel: channel.path()) }
    }

    struct Leader: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move one partition's leadership to a broker.")
        @OptionGroup var channel: Channel
        @Argument var topic: String
        @Argument var partition: Int32
        @Argument(help: "Broker id.") var broker: Int32
        func run() throws {
            try ChaosLog().perform(.leader(topic: topic, partition: partition, broker: broker), channel: channel.path())
        }
    }

    struct Leaders: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move the leadership of every partition (of --topic, or of every topic) to a broker.")
        @OptionGroup var channel: Channel
        @Argument(help: "Broker id.") var broker: Int32
        @Option(help: "Only this topic's partitions.") var topic: String?
        func run() throws { try ChaosLog().perform(.leaders(broker: broker, topic: topic), channel: channel.path()) }
    }

    struct Errors: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make each request of some types fail with a retriable error with a probability; `errors off` stops.",
            discussion: """
                Requests: produce, fetch, list-offsets, offset-commit, offset-fetch, find-coordinator, join-group, \
                heartbeat, leave-group, sync-group, init-producer-id (librdkafka 2.0.2's mock cannot fail metadata). \
                `off` stops new errors; answers already queued at the brokers (a few dozen) still apply. Producers \
                should set max.in.flight.requests.per.connection=1: the mock does not check idempotent sequence \
                numbers, and with more in flight librdkafka reports records delivered that the mock never stored \
                (docs/projections.md, "Chaos testing").
                """)
        @OptionGroup var channel: Channel
        @Argument(help: "`off` to stop.") var off: String?
        @Option(help: "Probability that a request fails, above 0 and below 1.") var rate: Double?
        @Option(help: "Comma-separated request types.") var requests = "produce,fetch"

        func validate() throws {
            if let off, off != "off" { throw ValidationError("unexpected '\(off)': give --rate R, or `off`") }
            if (off == nil) == (rate == nil) { throw ValidationError("give either --rate R or `off`") }
        }

        func run() throws {
            let action: ChaosAction
            if let rate {
                guard rate > 0, rate < 1 else { throw ValidationError("--rate must be above 0 and below 1") }
                action = .errors(rate: rate, requests: try parseRequests(requests))
            } else {
                action = .errorsOff
            }
            try ChaosLog().perform(action, channel: channel.path())
        }
    }

    struct Heal: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every broker up and errors off (leaders stay where they are).")
        @OptionGroup var channel: Channel
        func run() throws { try ChaosLog().perform(.heal, channel: channel.path()) }
    }

    struct Schedule: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Do random chaos actions, drawn from a seed, for a while; then heal.",
            discussion: """
                Prints a header `chaos schedule seed=N duration=S steps=K …`, then one line per action as it is \
                done, then `chaos schedule done: steps=K failed=F` and the status line (requests counted and \
                failed). The same seed and cluster give the same actions at the same offsets. Errors are on from \
                the start (--error-rate 0 for none); every --gap one of: a broker down (one at a time, back up \
                after --downtime), one partition's leader moved, every leader moved to one broker. SIGINT/SIGTERM \
                heal the cluster and stop.
                """)
        @OptionGroup var channel: Channel
        @Option(help: "Seed (default: drawn now and printed).") var seed: UInt64?
        @Option(help: "How long: e.g. 60s, 90000ms, 2m.") var duration = "60s"
        @Option(help: "Probability that a request fails (0: no errors).") var errorRate = 0.1
        @Option(help: "Request types to fail.") var requests = "produce,fetch"
        @Option(help: "Time between actions, LOW-HIGH.") var gap = "1s-4s"
        @Option(help: "How long a broker stays down, LOW-HIGH.") var downtime = "2s-6s"
        @Flag(help: "Print the actions with their offsets and do nothing.") var dryRun = false

        func run() throws {
            let path = try channel.path()
            let answer = try ChaosControlClient.send("status", to: path)
            guard answer.hasPrefix("ok "), let status = ChaosStatus(parsing: String(answer.dropFirst(3))) else {
                throw ValidationError("unexpected status answer: \(answer)")
            }
            guard let milliseconds = ChaosDuration.milliseconds(duration), milliseconds > 0 else {
                throw ValidationError("--duration \(duration) is not a duration (e.g. 60s, 1500ms, 2m)")
            }
            guard let gaps = ChaosDuration.range(gap), let downtimes = ChaosDuration.range(downtime) else {
                throw ValidationError("--gap and --downtime are LOW-HIGH durations, e.g. 1s-4s")
            }
            var parameters = ChaosSchedule.Parameters(
                seed: seed ?? UInt64.random(in: 1...999_999), durationMilliseconds: milliseconds,
                brokers: status.brokers, topics: status.topics)
            parameters.errorRate = errorRate
            parameters.errorRequests = try parseRequests(requests)
            parameters.gapMilliseconds = gaps
            parameters.downtimeMilliseconds = downtimes
            let schedule: ChaosSchedule
            do { schedule = try ChaosSchedule(parameters) } catch { throw ValidationError("\(error)") }
            print("chaos schedule seed=\(parameters.seed) duration=\(ChaosDuration.seconds(milliseconds))s "
                  + "steps=\(schedule.steps.count) brokers=\(status.brokers.map(String.init).joined(separator: ",")) "
                  + "error-rate=\(errorRate) requests=\(parameters.errorRequests.map(\.name).joined(separator: ",")) "
                  + "gap=\(gap) downtime=\(downtime)")
            if dryRun {
                for step in schedule.steps { print("+\(ChaosDuration.seconds(step.atMilliseconds)) \(step.action.text)") }
                return
            }
            flushStandardOutput()
            let stop = StopSignal()
            Signals.stopOnTermination(stop)
            let log = ChaosLog()
            var failed = 0
            for step in schedule.steps {
                while log.elapsedMilliseconds < step.atMilliseconds && !stop.isStopped {
                    Thread.sleep(forTimeInterval: min(0.05, Double(step.atMilliseconds - log.elapsedMilliseconds) / 1_000))
                }
                if stop.isStopped { break }
                if !log.attempt(step.action, channel: path) { failed += 1 }
            }
            if stop.isStopped {
                _ = log.attempt(.heal, channel: path)
                print("chaos schedule interrupted: healed")
                throw ExitCode.failure
            }
            let final = try ChaosControlClient.send("status", to: path)
            print("chaos schedule done: steps=\(schedule.steps.count) failed=\(failed)")
            print(final.hasPrefix("ok ") ? String(final.dropFirst(3)) : final)
            if failed > 0 { throw ExitCode.failure }
        }
    }
}

private func parseRequests(_ list: String) throws -> [KafkaRequest] {
    do { return try ChaosAction.requests(list) } catch { throw ValidationError("--requests: \(error.reason)") }
}

/// Sends actions and prints one line for each: `TIME +ELAPSED ACTION -> ANSWER`.
struct ChaosLog {
    let start = ContinuousClock.now

    var elapsedMilliseconds: Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1_000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Performs `action`; exit code 1 if it failed.
    func perform(_ action: ChaosAction, channel path: String) throws {
        if !attempt(action, channel: path) { throw ExitCode.failure }
    }

    /// Performs `action`; false if it failed.
    func attempt(_ action: ChaosAction, channel path: String) -> Bool {
        let answer: String
        do { answer = try ChaosControlClient.send(action.text, to: path) } catch { answer = "error \(error)" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        print("\(formatter.string(from: Date())) +\(ChaosDuration.seconds(elapsedMilliseconds)) \(action.text) -> \(answer)")
        flushStandardOutput()
        return answer == "ok" || answer.hasPrefix("ok ")
    }
}

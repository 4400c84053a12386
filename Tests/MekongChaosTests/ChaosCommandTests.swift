import Foundation
import MekongTestSupport
import Testing

/// `mekong dev chaos` as an operator types it: the line formats docs/projections.md documents, exit codes, and the
/// dev state file of older versions.
@Suite("mekong dev chaos commands", .serialized)
struct ChaosCommandTests {
    /// A state file in a directory of its own, so that no other `mekong dev` is touched.
    final class DevState: @unchecked Sendable {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-cli-\(UUID().uuidString.prefix(8))")
        var environment: [String: String] { ["MEKONG_DEV_STATE": directory.appendingPathComponent("dev.json").path] }
        init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: directory) }

        func mekong(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
            try ChildProcess.run(arguments, environment: environment, timeout: .seconds(60))
        }
    }

    @Test("one line per action, errors named with exit code 1; a dry-run schedule is the same for the same seed")
    func lines() throws {
        let state = try DevState()
        let dev = try ChildProcess(MekongBinary.url, ["dev"], environment: state.environment)
        defer {
            dev.signal(SIGTERM)
            _ = try? dev.wait(timeout: .seconds(30))
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while !dev.standardOutput.contains("chaos control: ") {
            guard dev.process.isRunning, ContinuousClock.now < deadline else {
                Issue.record("mekong dev did not start: \(dev.standardError)")
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }

        let down = try state.mekong(["dev", "chaos", "broker-down", "2"])
        #expect(down.status == 0, "\(down.errors)")
        #expect(down.output.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \+\d+\.\d{3} broker-down 2 -> ok\n/) != nil,
                "\(down.output)")
        let status = try state.mekong(["dev", "chaos", "status"])
        #expect(status.output.hasPrefix("brokers=1,2,3 down=2 topics="), "\(status.output)")
        let wrong = try state.mekong(["dev", "chaos", "broker-up", "9"])
        #expect(wrong.status == 1)
        #expect(wrong.output.contains(" broker-up 9 -> error no broker 9 (brokers: 1, 2, 3)"), "\(wrong.output)")
        let heal = try state.mekong(["dev", "chaos", "heal"])
        #expect(heal.output.contains(" heal -> ok"))
        #expect(try state.mekong(["dev", "chaos", "status"]).output.contains(" down=none "))
        let metadata = try state.mekong(["dev", "chaos", "errors", "--rate", "0.1", "--requests", "metadata"])
        #expect(metadata.status != 0 && metadata.errors.contains("cannot fail metadata"), "\(metadata.errors)")

        let plan = ["dev", "chaos", "schedule", "--seed", "42", "--duration", "20s", "--dry-run"]
        let first = try state.mekong(plan)
        let second = try state.mekong(plan)
        #expect(first.status == 0, "\(first.errors)")
        #expect(first.output == second.output)
        let planLines = first.output.split(separator: "\n")
        #expect(planLines.first?.hasPrefix("chaos schedule seed=42 duration=20.000s steps=") == true)
        #expect(planLines.dropFirst().allSatisfy { $0.wholeMatch(of: /\+\d+\.\d{3} [a-z-]+( [^ ]+)*/) != nil }, "\(first.output)")
        #expect(planLines.last == "+20.000 errors off")
        #expect(dev.standardOutput.contains("chaos: broker-down 2 -> ok"), "the dev process logs each action")
    }

    @Test("a state file from before the control socket still reads: the error says to restart mekong dev")
    func oldRecord() throws {
        let state = try DevState()
        // As written by an older `mekong dev` (no controlSocket), naming a live process: this test's.
        let record = #"{"bootstrapServers":"127.0.0.1:1","pid":\#(getpid())}"#
        try record.write(to: state.directory.appendingPathComponent("dev.json"), atomically: true, encoding: .utf8)
        let run = try state.mekong(["dev", "chaos", "status"])
        #expect(run.status != 0)
        #expect(run.errors.contains("has no control socket: it was started by an older mekong; restart `mekong dev`"),
                "\(run.errors)")
    }
}

import MekongKafka
import Testing

/// The pure half of `mekong dev chaos`: action lines, durations, status lines and the seeded schedule. No Kafka.
@Suite("chaos schedule and protocol")
struct ChaosScheduleTests {
    static let topics = [ChaosSchedule.Topic(name: "reports", partitions: 6), .init(name: "master-data", partitions: 3)]

    func parameters(seed: UInt64, duration: Int = 60_000) -> ChaosSchedule.Parameters {
        ChaosSchedule.Parameters(seed: seed, durationMilliseconds: duration, brokers: [1, 2, 3], topics: Self.topics)
    }

    @Test("the same seed gives the same schedule; another seed another one")
    func deterministic() throws {
        let a = try ChaosSchedule(parameters(seed: 42))
        let b = try ChaosSchedule(parameters(seed: 42))
        let c = try ChaosSchedule(parameters(seed: 43))
        #expect(a.steps == b.steps)
        #expect(a.steps != c.steps)
        #expect(a.steps.count > 10)
        // Pinned: a seed printed by a run must mean the same actions on every machine and Swift version.
        #expect(a.steps.prefix(3).map { "\($0.atMilliseconds) \($0.action.text)" } == [
            "0 errors 0.1 produce,fetch", "2434 leaders 1", "4795 leader reports 1 3",
        ])
    }

    @Test("over 300 seeds: ordered, one broker down at most, every broker back up, leaders only to brokers that are up")
    func invariants() throws {
        for seed in UInt64(1)...300 {
            let schedule = try ChaosSchedule(parameters(seed: seed, duration: 45_000))
            let steps = schedule.steps
            #expect(steps.first?.action == .errors(rate: 0.1, requests: [.produce, .fetch]))
            #expect(steps.first?.atMilliseconds == 0)
            #expect(steps.last?.action == .errorsOff)
            #expect(steps.last?.atMilliseconds == 45_000)
            var down: Int32?
            var last = 0
            var downs = 0
            for step in steps {
                #expect(step.atMilliseconds >= last, "seed \(seed): out of order at \(step.atMilliseconds)")
                #expect((0...45_000).contains(step.atMilliseconds))
                last = step.atMilliseconds
                switch step.action {
                case .brokerDown(let id):
                    #expect(down == nil, "seed \(seed): broker \(id) down while \(down ?? 0) is down")
                    down = id
                    downs += 1
                case .brokerUp(let id):
                    #expect(down == id, "seed \(seed): broker \(id) up but \(String(describing: down)) was down")
                    down = nil
                case .leader(let topic, let partition, let broker):
                    #expect(broker != down && (1...3).contains(broker))
                    let count = try #require(Self.topics.first { $0.name == topic }).partitions
                    #expect(partition >= 0 && Int(partition) < count)
                case .leaders(let broker, let topic):
                    #expect(broker != down && topic == nil)
                case .errors, .errorsOff:
                    break
                case .heal, .status:
                    Issue.record("seed \(seed): a schedule never heals or asks for status")
                }
            }
            #expect(down == nil, "seed \(seed): broker \(down ?? 0) left down")
            #expect(downs > 0, "seed \(seed): no broker went down in 45 s")
        }
    }

    @Test("errors off: no error steps; one broker: never down")
    func variants() throws {
        var quiet = parameters(seed: 5)
        quiet.errorRate = 0
        #expect(try ChaosSchedule(quiet).steps.allSatisfy {
            if case .errors = $0.action { return false }
            return $0.action != .errorsOff
        })
        var single = parameters(seed: 5)
        single.brokers = [1]
        #expect(try ChaosSchedule(single).steps.allSatisfy {
            if case .brokerDown = $0.action { return false }
            return true
        })
        var empty = parameters(seed: 5)
        empty.brokers = []
        #expect(throws: ChaosScheduleError.self) { try ChaosSchedule(empty) }
    }

    @Test("action lines read back as the same action; bad lines name the fault")
    func actionLines() throws {
        let actions: [ChaosAction] = [
            .brokerDown(2), .brokerUp(3), .leader(topic: "reports", partition: 5, broker: 1),
            .leaders(broker: 2, topic: nil), .leaders(broker: 2, topic: "reports"),
            .errors(rate: 0.1, requests: [.produce, .fetch]), .errors(rate: 0.25, requests: [.listOffsets]),
            .errorsOff, .heal, .status,
        ]
        for action in actions {
            #expect(try ChaosAction(parsing: action.text) == action, "\(action.text)")
        }
        #expect(ChaosAction.leader(topic: "reports", partition: 5, broker: 1).text == "leader reports 5 1")
        for (line, fault) in [
            ("explode 1", "unknown action 'explode'"), ("broker-down zero", "broker id 'zero'"),
            ("broker-down 0", "broker id '0'"), ("errors 1.5 produce", "rate '1.5'"),
            ("errors 0.1 metadata", "cannot fail metadata"), ("errors 0.1 produce,bogus", "unknown request 'bogus'"),
            ("leader reports -1 2", "partition '-1'"), ("leader reports", "usage: leader TOPIC PARTITION BROKER"),
            ("", "empty line"),
        ] {
            #expect(throws: ChaosActionError.self) { try ChaosAction(parsing: line) }
            do { _ = try ChaosAction(parsing: line) } catch {
                #expect(error.reason.contains(fault), "\(line): \(error.reason)")
            }
        }
    }

    @Test("durations and ranges")
    func durations() {
        #expect(ChaosDuration.milliseconds("60s") == 60_000)
        #expect(ChaosDuration.milliseconds("1500ms") == 1_500)
        #expect(ChaosDuration.milliseconds("2m") == 120_000)
        #expect(ChaosDuration.milliseconds("2.5") == 2_500)
        #expect(ChaosDuration.milliseconds("soon") == nil)
        #expect(ChaosDuration.milliseconds("-1s") == nil)
        #expect(ChaosDuration.range("1s-4s") == 1_000...4_000)
        #expect(ChaosDuration.range("500ms") == 500...500)
        #expect(ChaosDuration.range("4s-1s") == nil)
        #expect(ChaosDuration.seconds(12_345) == "12.345")
        #expect(ChaosDuration.seconds(7) == "0.007")
    }

    @Test("status lines read back")
    func statusLines() throws {
        let status = ChaosStatus(
            brokers: [1, 2, 3], down: [2], topics: Self.topics, errorRate: 0.1, errorRequests: [.produce, .fetch],
            counts: [.produce: .init(requests: 1200, failed: 118), .fetch: .init(requests: 40, failed: 3)],
            dryRefills: 1, queued: 96, problem: nil)
        #expect(status.line == "brokers=1,2,3 down=2 topics=reports:6,master-data:3 errors=0.1 requests=produce,fetch "
                + "counted=produce:1200/118,fetch:40/3 dry-refills=1 queued=96")
        #expect(ChaosStatus(parsing: status.line) == status)
        var calm = status
        calm.down = []
        calm.errorRate = 0
        calm.errorRequests = []
        calm.counts = [:]
        calm.problem = "broker 4 unknown"
        #expect(calm.line.contains("down=none") && calm.line.contains("errors=off requests=none counted=none"))
        #expect(ChaosStatus(parsing: calm.line) == calm)
        #expect(ChaosStatus(parsing: "brokers=1 nonsense") == nil)
    }
}

import Foundation
import MekongEvents
import MekongKafka
import MekongPostgres
import MekongProjection
import MekongPublishing
import MekongTestSupport
import Testing

@Suite("Redrive headers")
struct RedriveOriginTests {
    static func headers(_ pairs: [(String, String)]) -> [KafkaHeader] {
        pairs.map { KafkaHeader(name: $0.0, string: $0.1) }
    }

    @Test("a well-formed origin is read back, with or without its timestamp, and written as it was read")
    func wellFormed() throws {
        let full = try #require(
            RedriveOrigin(headers: Self.headers([
                ("ce_id", "x"), (RedriveHeaders.from, "reports[3]@1234"),
                (RedriveHeaders.originalTimestamp, "1700000000123"),
            ])))
        #expect(full.position == RecordPosition(topic: "reports", partition: 3, offset: 1234))
        #expect(full.timestampMilliseconds == 1_700_000_000_123)
        #expect(RedriveOrigin(headers: full.headers) == full)
        #expect(full.headers.map(\.name) == [RedriveHeaders.from, RedriveHeaders.originalTimestamp])

        let bare = try #require(RedriveOrigin(headers: Self.headers([(RedriveHeaders.from, "a.b_c-D9[0]@0")])))
        #expect(bare.position == RecordPosition(topic: "a.b_c-D9", partition: 0, offset: 0))
        #expect(bare.timestampMilliseconds == nil)
        #expect(bare.headers.count == 1)
        let largest = try #require(
            RedriveOrigin(headers: Self.headers([(RedriveHeaders.from, "t[2147483647]@9223372036854775807")])))
        #expect(largest.position.partition == Int32.max && largest.position.offset == Int64.max)
        #expect(RedriveOrigin(headers: []) == nil, "not a redriven copy")
    }

    @Test(
        "a malformed position is refused",
        arguments: [
            "", "reports", "reports[0]", "reports[0]@", "reports[]@1", "[0]@1", "reports[0]1", "reports[0]@1 ",
            " reports[0]@1", "reports[-1]@1", "reports[+1]@1", "reports[01]@1", "reports[0]@01", "reports[0]@-5",
            "reports[0]@1.5", "reports[0]@1e3", "reports[2147483648]@1", "reports[0]@9223372036854775808",
            "rep orts[0]@1", "reports/x[0]@1", "a[1]b[0]@7", ".[0]@1", "..[0]@1", "reports[0]@@1", "reports[0x1]@1",
            "reports[٣]@1", String(repeating: "t", count: 250) + "[0]@1",
        ])
    func malformedPosition(_ text: String) {
        #expect(RedriveOrigin(headers: Self.headers([(RedriveHeaders.from, text)])) == nil, "\(text)")
    }

    @Test("a malformed or ambiguous header set is refused")
    func malformedHeaders() {
        let from = (RedriveHeaders.from, "reports[0]@1")
        for timestamp in ["", "-1", "+1", "01", "1.0", "abc", "9223372036854775808", " 1"] {
            #expect(RedriveOrigin(headers: Self.headers([from, (RedriveHeaders.originalTimestamp, timestamp)])) == nil, "\(timestamp)")
        }
        #expect(RedriveOrigin(headers: Self.headers([from, from])) == nil, "two origins")
        #expect(
            RedriveOrigin(headers: Self.headers([
                from, (RedriveHeaders.originalTimestamp, "1"), (RedriveHeaders.originalTimestamp, "2"),
            ])) == nil, "two timestamps")
        #expect(RedriveOrigin(headers: Self.headers([(RedriveHeaders.originalTimestamp, "1")])) == nil, "no position")
        #expect(RedriveOrigin(headers: [KafkaHeader(name: RedriveHeaders.from, value: [0xff, 0xfe])]) == nil, "not UTF-8")
        #expect(RedriveOrigin(headers: Self.headers([(RedriveHeaders.originalTimestamp, "0"), from]))?.timestampMilliseconds == 0)
    }
}

@Suite("Dead letter store", .serialized)
struct DeadLetterStoreTests {
    /// Inserts a dead letter of report-log v1 at `reports[0]@offset` holding `record`, and returns its id.
    static func insert(
        _ record: OutgoingMessage, offset: Int64, timestamp: Int64? = nil, on db: PostgresConnection
    ) throws -> Int64 {
        let headers = JSON.serialize(
            .array(record.headers.map { header in
                .object(JSONObject([
                    ("name", .string(header.name)), ("valueBase64", .string(Data(header.value).base64EncodedString())),
                ]))
            }))
        return try db.query(
            """
            INSERT INTO mekong.dead_letters (projection, version, topic, partition, kafka_offset, stage, reason,
                                             record_key, record_value, record_headers, record_timestamp_ms)
            VALUES ('report-log', 1, 'reports', 0, $1, 'apply', 'test', $2, $3, $4::jsonb, $5) RETURNING id
            """, [offset, record.key, record.value, headers, timestamp])[0].decode(Int64.self, at: 0)
    }

    /// A new report record (each call makes a new event id).
    static func record(_ index: Int = 0) -> OutgoingMessage {
        EventPublisher.record(for: report(unit: "unit-1", value: 1, index: index), topic: "reports")
    }

    /// Every record of `reports` (one partition), read with a consumer from the start to the end.
    static func reportsRecords(_ fixture: ProjectionFixture) throws -> [ConsumedMessage] {
        let consumer = try Consumer(configuration: fixture.cluster.configuration())
        defer { consumer.close() }
        let partition = TopicPartition(topic: "reports", partition: 0)
        let (low, high) = try consumer.watermarks(of: partition)
        try consumer.assign([partition: low])
        var records: [ConsumedMessage] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while records.count < Int(high - low), ContinuousClock.now < deadline {
            records += try consumer.poll(maxMessages: 100, timeout: .milliseconds(200))
        }
        return records
    }

    @Test("two concurrent redrives of one dead letter publish it once; the second is refused as already redriven")
    func concurrentRedrive() async throws {
        let fixture = try ProjectionFixture(partitions: 1)
        let database = try fixture.database()
        let holder = try database.connect()
        defer { holder.close() }
        let id = try Self.insert(Self.record(), offset: 7, on: holder)

        // Hold the dead letter's row lock while both commands start, so that both are under way before either
        // can finish: each must be waiting on that lock (the claim, or — without one — the final UPDATE).
        try holder.execute("BEGIN")
        try holder.execute("SELECT id FROM mekong.dead_letters WHERE id = $1 FOR UPDATE", [id])
        let configuration = fixture.cluster.configuration()
        let url = database.url
        let redrive: @Sendable () async throws -> RedriveResult = {
            let db = try PostgresConnection(url: url)
            defer { db.close() }
            let producer = try Producer(configuration: configuration)
            defer { producer.close() }
            return try await DeadLetterStore(db: db).redrive([id], producer: producer)
        }
        async let first = redrive()
        async let second = redrive()
        // Watched from a thread of its own (code that blocked the concurrency pool while waiting for the lock must
        // make this test fail, not hang), and outside the holder's transaction, whose pg_stat_activity would keep
        // its first snapshot.
        nonisolated(unsafe) let lockHolder = holder
        let waiting = try await onThread {
            let monitor = try PostgresConnection(url: url)
            defer { monitor.close() }
            // Generous: beside 280 other tests on 2 cores the two redrive tasks can wait long for a pool thread.
            let deadline = ContinuousClock.now + .seconds(120)
            var waiting = 0
            while waiting < 2, ContinuousClock.now < deadline {
                waiting = try monitor.query(
                    "SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )[0].decode(Int.self, at: 0)
                if waiting < 2 { Thread.sleep(forTimeInterval: 0.02) }
            }
            try lockHolder.execute("COMMIT")
            return waiting
        }
        #expect(waiting == 2, "both redrives wait for the row lock")
        let results = try await [first, second]

        #expect(results.map(\.redriven.count).sorted() == [0, 1])
        let refusals = results.flatMap(\.refused)
        #expect(refusals.count == 1)
        #expect(refusals.first?.kind == .alreadyRedriven(to: results.flatMap(\.redriven).first?.report.description ?? "?"))
        #expect(refusals.first?.message.contains("dead letter \(id) was already redriven") == true, "\(refusals)")
        let copies = try Self.reportsRecords(fixture).filter { $0.header(RedriveHeaders.from) == "reports[0]@7" }
        #expect(copies.count == 1, "published exactly once")
        let stored = try #require(try DeadLetterStore(db: holder).find(id))
        #expect(stored.redrivenTo == copies.first.map { "reports[0]@\($0.offset)" })
    }

    @Test("a copy carries its first origin and the original timestamp; a copy of a copy keeps the first origin")
    func originHeaders() async throws {
        let fixture = try ProjectionFixture(partitions: 1)
        let database = try fixture.database()
        let db = try database.connect()
        defer { db.close() }
        let (first, second) = (Self.record(1), Self.record(2))
        let plain = try Self.insert(first, offset: 7, timestamp: 1_700_000_000_123, on: db)
        let noTimestamp = try Self.insert(second, offset: 8, on: db)
        var copy = Self.record(3)
        copy.headers += [
            KafkaHeader(name: RedriveHeaders.from, string: "reports[0]@3"),
            KafkaHeader(name: RedriveHeaders.originalTimestamp, string: "1600000000000"),
        ]
        let chained = try Self.insert(copy, offset: 9, timestamp: 1_700_000_999_999, on: db)
        var forged = Self.record(4)
        forged.headers.append(KafkaHeader(name: RedriveHeaders.from, string: "reports[0]@-1"))
        let malformed = try Self.insert(forged, offset: 10, timestamp: 5, on: db)

        let producer = try Producer(configuration: fixture.cluster.configuration())
        defer { producer.close() }
        let result = try await DeadLetterStore(db: db).redrive([plain, noTimestamp, chained, malformed], producer: producer)
        #expect(result.redriven.count == 4 && result.refused.isEmpty)

        let copies = try Self.reportsRecords(fixture)
        #expect(copies.count == 4)
        func origin(_ index: Int) -> RedriveOrigin? { copies.count == 4 ? RedriveOrigin(headers: copies[index].headers) : nil }
        #expect(origin(0) == RedriveOrigin(position: RecordPosition(topic: "reports", partition: 0, offset: 7), timestampMilliseconds: 1_700_000_000_123))
        #expect(origin(1) == RedriveOrigin(position: RecordPosition(topic: "reports", partition: 0, offset: 8), timestampMilliseconds: nil))
        #expect(origin(2) == RedriveOrigin(position: RecordPosition(topic: "reports", partition: 0, offset: 3), timestampMilliseconds: 1_600_000_000_000))
        #expect(origin(3) == RedriveOrigin(position: RecordPosition(topic: "reports", partition: 0, offset: 10), timestampMilliseconds: 5))
        for (record, original) in zip(copies, [first, second, copy, forged]) {
            #expect(record.value == original.value && record.key == original.key)
            // The event's own headers are kept as they were, and the redrive headers appear once each.
            #expect(record.headers.filter { !RedriveHeaders.all.contains($0.name) } == original.headers.filter { !RedriveHeaders.all.contains($0.name) })
            #expect(record.headers.filter { $0.name == RedriveHeaders.from }.count == 1)
        }
    }

    @Test("the engine stores a dead letter's Kafka timestamp")
    func engineStoresTimestamp() async throws {
        let fixture = try ProjectionFixture(partitions: 1)
        try await fixture.publish([report(unit: "unit-unknown", value: 1)])
        let database = try fixture.database()
        _ = try await fixture.runToEnd(database)
        let records = try Self.reportsRecords(fixture)
        let timestamp = try #require(records.first?.timestampMilliseconds)
        let db = try database.connect()
        defer { db.close() }
        let letters = try DeadLetterStore(db: db).list()
        #expect(letters.count == 1)
        #expect(letters.first?.recordTimestampMilliseconds == timestamp)
    }

    @Test("a record over the limit is refused up front, named with its size; it can be closed, and closing is checked")
    func tooLargeAndClose() async throws {
        let fixture = try ProjectionFixture(partitions: 1)
        let database = try fixture.database()
        let db = try database.connect()
        defer { db.close() }
        var huge = Self.record(1)
        huge.value = Array(#"{"padding":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: 2_400_000) + Array(#""}"#.utf8)
        var atLimit = Self.record(2)
        atLimit.value = Array(repeating: UInt8(ascii: " "), count: EventReader.defaultMaximumRecordBytes)
        let big = try Self.insert(huge, offset: 1, on: db)
        let small = try Self.insert(Self.record(3), offset: 2, on: db)
        let limit = try Self.insert(atLimit, offset: 3, on: db)
        let store = DeadLetterStore(db: db)
        var configuration = fixture.cluster.configuration()
        configuration["message.max.bytes"] = "4000000"
        let producer = try Producer(configuration: configuration)
        defer { producer.close() }

        // By id: refused before anything is published, naming the id, the size, the limit and what to do.
        let error = await #expect(throws: ProjectionStateError.self) {
            _ = try await store.redrive([small, big], producer: producer)
        }
        let message = error?.message ?? ""
        #expect(message.contains("dead letter \(big) holds a record of 2400014 bytes"), "\(message)")
        #expect(message.contains("over the limit of 1048576 bytes"), "\(message)")
        #expect(message.contains("mekong dlq close \(big) --reason"), "\(message)")
        #expect(try Self.reportsRecords(fixture).isEmpty, "nothing published")
        #expect(try store.redriveRefusals([small, big, limit, 999]).map(\.kind) == [
            .tooLarge(bytes: 2_400_014, limit: 1_048_576), .missing,
        ])

        // All pending: the others are redriven (one at exactly the limit), the big one is reported.
        let pending = try await store.redrive(try store.list().map(\.id), producer: producer, skippingRefused: true)
        #expect(pending.redriven.map(\.letter.id) == [small, limit])
        #expect(pending.refused.map(\.id) == [big])
        #expect(try Self.reportsRecords(fixture).count == 2)
        #expect(try store.list().map(\.id) == [big], "still pending")

        // Close: a reason is required; a redriven letter cannot be closed, and nothing is closed with it.
        #expect(throws: ProjectionStateError.self) { try store.close([big], reason: "  ") }
        let mixed = #expect(throws: ProjectionStateError.self) { try store.close([big, small], reason: "too large") }
        #expect(mixed?.message.contains("dead letter \(small) was already redriven") == true, "\(String(describing: mixed))")
        #expect(try store.list().map(\.id) == [big])
        let closed = try store.close([big], reason: "2.4 MB export by mistake; resubmitted in parts")
        #expect(closed.first?.closeReason == "2.4 MB export by mistake; resubmitted in parts")
        #expect(closed.first?.closedAt != nil && closed.first?.isPending == false)
        #expect(try store.list().isEmpty, "no longer pending")
        let all = try store.list(includeRedriven: true)
        #expect(all.map(\.id) == [big, small, limit])
        #expect(all.first?.closeReason == "2.4 MB export by mistake; resubmitted in parts")
        let again = #expect(throws: ProjectionStateError.self) { try store.close([big], reason: "again") }
        #expect(again?.message.contains("dead letter \(big) is already closed (2.4 MB export") == true)
        #expect(try store.redriveRefusals([big]).map(\.kind) == [.closed(reason: "2.4 MB export by mistake; resubmitted in parts")])
        // The database itself refuses a letter both redriven and closed.
        #expect(throws: PostgresError.self) {
            try db.execute("UPDATE mekong.dead_letters SET closed_at = now(), close_reason = 'x' WHERE id = $1", [small])
        }
    }
}
